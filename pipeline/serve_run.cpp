#include "pipeline/serve_run.hpp"

#include "core/bench_limits.hpp"
#include "core/engine_step.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"
#include "pipeline/scenario_runner.hpp"
#include "report/render.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <optional>
#include <sstream>
#include <tuple>

namespace moesim {

const char* to_string(SeqLimit l)
{
  switch (l) {
  case SeqLimit::requests: return "requests";
  case SeqLimit::concurrency: return "concurrency";
  case SeqLimit::max_num_seqs: return "max_num_seqs";
  case SeqLimit::kv_capacity: return "kv_capacity";
  case SeqLimit::activations: return "activations";
  }
  return "?";
}

ScenarioResult simulate_step(const Study& study, const Scenario& sc, Phase phase, int batch, int context, int prompt)
{
  Study s = study;
  s.phase = phase;
  s.context = context;
  s.prompt = prompt;
  Scenario one = sc;
  one.batch = batch;
  return run_scenarios(s, {one}, 1, false).at(0).result;
}

void check_serve_workload(const ServeWorkload& w, const std::string& where)
{
  // The serving loop keeps a record per request: 10^6 requests take ~2 s and ~130 MB, 10^7 ~8 s
  // and ~1 GB, 2^31 ran out of memory. Prompt and output are tokens of one sequence's context.
  constexpr int max_requests = 1'000'000;
  // Lengths a distribution or a list gives are checked here; --input / --output only where read.
  const bool listed = !w.lengths.pairs.empty();
  const bool input_read = !listed && w.lengths.input.kind == LengthKind::fixed;
  const bool output_read = !listed && w.lengths.output.kind == LengthKind::fixed;
  if (!listed) {
    if (!input_read)
      check_length_dist(w.lengths.input, where, "--input-dist", limits::context);
    if (!output_read)
      check_length_dist(w.lengths.output, where, "--output-dist", limits::context);
  }
  for (const auto& [v, flag, hi] : {std::tuple{w.requests, "--requests", max_requests},
                                   {input_read ? w.input : 1, "--input", limits::context},
                                   {output_read ? w.output : 1, "--output", limits::context}}) {
    if (v < 1)
      throw InputError(where, flag, std::to_string(v) + " is not positive", "pass a whole number of at least 1");
    if (v > hi)
      throw InputError(where, flag, std::to_string(v) + " is more than " + std::to_string(hi),
                       "pass a whole number between 1 and " + std::to_string(hi));
  }
  if (w.concurrency < 0)
    throw InputError(where, "--concurrency", std::to_string(w.concurrency) + " is negative",
                     "pass at least 1, or leave it out for every request at once");
}

ServeRun prepare_serve(const Study& study, const Scenario& sc, const ServeWorkload& w)
{
  auto decode_seconds = [](const ScenarioResult& r) { return r.steady_interval > 0 ? r.steady_interval : r.step_time; };
  if (!study.engine_profile)
    throw InputError(study.file, "engine", "names no engine profile, so there is no admission rule to serve with",
                     "set engine: vllm-0.11 (or {profile: NAME, ...}; profiles in workloads/engines)");
  check_serve_workload(w, study.file);
  ServeRun out;
  const EngineProfile& e = *study.engine_profile;
  const int dp = std::max(1, sc.plan.attn_dp);
  // Every request's lengths: drawn or listed when varied. The representative request (rounded mean
  // lengths) stands in where the engine sizes itself for one length (trtllm-bench's limits, the
  // memory profiling step, the prefill sample); the KV per request is the mean one for the limit
  // reported, and each request's own in the loop.
  const bool varied = w.lengths.varied();
  RequestLengths lengths;
  if (varied) {
    ServeLengths l = w.lengths;
    l.input.value = w.input;
    l.output.value = w.output;
    lengths = draw_request_lengths(l, w.requests);
  }
  out.mean_input = varied ? lengths.mean_input : w.input;
  out.mean_output = varied ? lengths.mean_output : w.output;
  out.max_input = varied ? lengths.max_input : w.input;
  out.max_output = varied ? lengths.max_output : w.output;
  const int input = varied ? std::max(1, static_cast<int>(std::lround(lengths.mean_input))) : w.input;
  const int output = varied ? std::max(1, static_cast<int>(std::lround(lengths.mean_output))) : w.output;
  const int longest = varied ? lengths.max_total : w.input + w.output;
  double lo = w.input, hi = w.input + w.output / 2.0;
  // KV capacity from one sequence per replica at the longest context, with the KV cache laid out as
  // the engine allocates it.
  Study alloc = study;
  alloc.model = kv_allocation_model(study.model, e);
  const ScenarioResult one = simulate_step(alloc, sc, Phase::decode, dp, longest, 0);
  out.gpus = one.gpus > 0 ? one.gpus : sc.plan.world();
  if (one.refused)
    return out.why = "does not fit: " + one.refusal, out;
  const double total_memory = one.memory_capacity / study.gpu_memory_utilization;
  const double per_request = out.mean_input + e.kv_output_share * out.mean_output;
  // The engine's own sequence and token limits per replica, or the max_batch_size and max_num_tokens
  // trtllm-bench derives for this model, these GPUs and these lengths. Each attention-DP rank runs
  // its own PyExecutor whose micro-batch scheduler takes both limits (NVIDIA/TensorRT-LLM
  // docs/source/torch/arch_overview.md: one PyExecutor per rank; docs/source/torch/scheduler.md:
  // BindMicroBatchScheduler(max_batch_size, max_num_tokens, ...)), so each rank admits that many
  // tokens a step. The token limit decides how many prompt tokens a step takes, so how many steps
  // mix prompts with decodes (eager where mixed_step_graphs is off); what a prompt token costs is
  // read off a prefill step of the profile's max_num_batched_tokens (below), the weights read once
  // over that many tokens, as a mixed step shares its weight reads with its decodes.
  int max_seqs = e.max_num_seqs;
  int step_tokens = e.max_num_batched_tokens;
  if (e.bench_batch_limits) {
    BenchLimitsInput b;
    b.model = study.model;
    b.gpu_mem_gib = total_memory / (1024.0 * 1024.0 * 1024.0);
    b.kv_fraction = study.gpu_memory_utilization; // --kv_cache_free_gpu_mem_fraction sets both
    b.pp = std::max(1, sc.plan.pp);
    b.tp = std::max(1, sc.plan.world() / b.pp);
    b.input_len = input;
    b.output_len = output;
    const BenchLimits bl = trtllm_bench_limits(b);
    if (bl.max_batch_size < 1)
      return out.why = "does not fit: trtllm-bench's KV estimate holds no request", out;
    max_seqs = bl.max_batch_size;
    step_tokens = bl.max_num_tokens;
  }
  // The KV cache: the usable memory less the weights and activations, or (kv_cache_memory: of_free)
  // the usable fraction of what the engine's profiling pass leaves, a prefill of step_tokens a
  // replica (TensorRT-LLM runs dummy context requests filling max_num_tokens on every rank, then
  // takes free_gpu_memory_fraction of the memory left; workloads/engines/trtllm-1.0.yaml).
  const double kv_sample_tokens = double(dp) * longest;
  if (e.kv_of_free_memory) {
    const int prompts = std::max(1, step_tokens / input);
    const ScenarioResult prof = simulate_step(alloc, sc, Phase::prefill, dp * prompts, 0, input);
    if (prof.refused)
      return out.why = "does not fit: the engine's memory profiling step (" + std::to_string(prompts) +
                       " prompts a replica): " + prof.refusal,
             out;
    out.profile_activations = prof.memory.activations;
    out.kv_tokens = kv_capacity_tokens_of_free(total_memory, study.gpu_memory_utilization, one.memory.weights,
                                               prof.memory.activations, one.memory.kv_cache, kv_sample_tokens);
  } else {
    out.kv_tokens = kv_capacity_tokens(one.memory_capacity, one.memory.weights, one.memory.activations,
                                       one.memory.kv_cache, kv_sample_tokens);
  }
  out.engine_seqs = max_seqs * dp;
  out.kv_seqs = static_cast<int>(std::min<double>(INT_MAX, out.kv_tokens / per_request));
  // The admission rule: the least of the requests in flight, the engine's sequences and the KV cache
  // (on a tie, the first named here).
  int limit = w.concurrency > 0 ? std::min(w.concurrency, w.requests) : w.requests;
  out.limited_by = w.concurrency > 0 && w.concurrency < w.requests ? SeqLimit::concurrency : SeqLimit::requests;
  if (out.engine_seqs < limit)
    limit = out.engine_seqs, out.limited_by = SeqLimit::max_num_seqs;
  if (out.kv_seqs < limit)
    limit = out.kv_seqs, out.limited_by = SeqLimit::kv_capacity;
  if (limit < 1)
    return out.why = "does not fit: one request's KV cache is larger than the memory left", out;
  // Varied lengths: the loop admits each request by its own KV, so up to the requests in flight and
  // the engine's sequences; the longest request must fit alone.
  int loop_limit = limit;
  if (varied) {
    double largest = 0;
    for (int i = 0; i < w.requests; i++)
      largest = std::max(largest, lengths.input[i] + e.kv_output_share * lengths.output[i]);
    if (largest > out.kv_tokens)
      return out.why = "does not fit: the largest request's KV cache (" + std::to_string(std::lround(largest)) +
                       " tokens) is larger than the memory left (" + std::to_string(std::lround(out.kv_tokens)) +
                       " tokens)",
             out;
    loop_limit = std::min(w.concurrency > 0 ? std::min(w.concurrency, w.requests) : w.requests, out.engine_seqs);
  }
  // Decode samples; a batch whose activations tip the memory over shrinks the limit by a tenth.
  ServeStepTable& t = out.table;
  // An engine whose steps with prompt tokens run eagerly: the same decode steps without graphs.
  // An engine that replays a graph only for a batch captured exactly (graph_padding off): the loop
  // decides step by step whether the decode batch has one (core/serve_steps replays_graph), so the
  // decode samples are the graphed steps (padded to the next captured size) and the eager extra is
  // sampled beside them. TensorRT-LLM 1.0's model engine (tensorrt_llm/_torch/pyexecutor/model_engine.py,
  // _get_padded_batch and _maybe_get_cuda_graph) pads only with padding enabled, and under attention
  // DP replays a graph only when every rank is generation-only with the same, captured batch.
  const bool mixed_eager = e.cuda_graphs && !e.mixed_step_graphs;
  const bool exact_graphs = e.cuda_graphs && !e.graph_padding;
  Study graphed = study;
  if (exact_graphs)
    graphed.engine_profile->graph_padding = true;
  std::optional<Study> eager;
  if (mixed_eager || exact_graphs) {
    eager = study;
    eager->engine_profile->cuda_graphs = false;
  }
  t.mixed_eager = mixed_eager;
  t.replicas = dp;
  if (exact_graphs)
    t.exact_graph_batches = e.capture_sizes;
  for (;;) {
    if (varied) {
      // From the shortest prompt to the mean request's context over its life (mean input + half the
      // mean output: the fixed lengths' pair when every request is alike). A full batch at that
      // context fits the KV cache as the fixed lengths' does; longer contexts come at smaller batches
      // (the tail), where the table extrapolates in context along its two samples.
      lo = lengths.min_input;
      hi = std::max(lo + 1, out.mean_input + out.mean_output / 2);
    }
    t.context_lo = lo;
    t.context_hi = hi;
    t.batches = serve_sample_batches(limit);
    t.seconds_lo.clear();
    t.seconds_hi.clear();
    t.eager_extra_seconds.clear();
    bool refused = false;
    for (int b : t.batches) {
      const ScenarioResult a = simulate_step(graphed, sc, Phase::decode, b, static_cast<int>(lo), 0);
      const ScenarioResult c = simulate_step(graphed, sc, Phase::decode, b, static_cast<int>(hi), 0);
      if (a.refused || c.refused) {
        refused = true;
        break;
      }
      // The loop applies the acceptance length itself: it takes the step's time, not its rate.
      // Under PP the batch's microbatches keep the pipeline full: a step costs the steady interval.
      t.seconds_lo.push_back(decode_seconds(a));
      t.seconds_hi.push_back(decode_seconds(c));
      if (eager) {
        const ScenarioResult g = simulate_step(*eager, sc, Phase::decode, b, static_cast<int>(lo), 0);
        if (g.refused) {
          refused = true;
          break;
        }
        t.eager_extra_seconds.push_back(decode_seconds(g) - decode_seconds(a));
      }
      out.paths = c.software_paths;
      out.compute_provenance = c.compute_provenance;
      out.gpus = c.gpus;
    }
    if (!refused)
      break;
    if (limit == 1)
      return out.why = "does not fit at batch 1 with the KV cache of one request", out;
    limit = std::max(1, limit - std::max(1, limit / 10));
    loop_limit = limit;
    out.limited_by = SeqLimit::activations;
  }
  // Whole prompts on every attention-DP replica alike (core/serve_steps serve_prefill_sample_seqs).
  const int pseqs = serve_prefill_sample_seqs(limit, dp, std::max(1, e.max_num_batched_tokens), std::max(1, input));
  const ScenarioResult p = simulate_step(study, sc, Phase::prefill, pseqs, 0, input);
  if (p.refused)
    return out.why = "prefill does not fit: " + p.refusal, out;
  t.prefill_tokens = pseqs * input;
  t.prefill_seconds = p.step_time;

  RequestMix& mix = out.mix;
  mix.requests = w.requests;
  mix.input_tokens = input;
  mix.output_tokens = output;
  mix.concurrency = w.concurrency;
  if (varied) {
    mix.inputs = lengths.input;
    mix.outputs = lengths.output;
  }
  ServingLimits& lim = out.limits;
  lim.max_num_seqs = loop_limit;
  lim.max_num_batched_tokens = std::max(step_tokens * dp, out.max_input);
  lim.kv_capacity_tokens = out.kv_tokens;
  lim.kv_output_share = e.kv_output_share;
  lim.replicas = dp;
  lim.chunked_prefill = e.chunked_prefill;
  const bool speculative = e.speculative != Speculative::none && e.draft_tokens > 0;
  lim.tokens_per_decode = speculative ? 1 + e.draft_tokens : 1;
  lim.acceptance_length = speculative ? e.acceptance_length : 1;
  out.step_tokens = lim.max_num_batched_tokens / dp;
  out.seq_limit = limit;
  return out;
}

ServeRun run_serve(const Study& study, const Scenario& sc, const ServeWorkload& w)
{
  ServeRun out = prepare_serve(study, sc, w);
  if (out.why.empty())
    out.result = simulate_serving(out.mix, out.limits,
                                  [&t = out.table](const StepLoad& l) { return serve_step_seconds(t, l); });
  return out;
}

namespace {

// The sentence on what bounds throughput.
std::string bound_sentence(const ServeWorkload& w, const ServeRun& r, int dp)
{
  char buf[400];
  const char* more = "; raise it to batch more";
  switch (r.limited_by) {
  case SeqLimit::requests:
    std::snprintf(buf, sizeof buf,
                  "Throughput is bounded by the requests: all %d run at once (the engine admits %d, the KV cache %d)",
                  w.requests, r.engine_seqs, r.kv_seqs);
    more = "";
    break;
  case SeqLimit::concurrency:
    std::snprintf(buf, sizeof buf,
                  "Throughput is bounded by the concurrency: %d in flight while the engine admits %d sequences and "
                  "the KV cache %d",
                  w.concurrency, r.engine_seqs, r.kv_seqs);
    more = "; raise --concurrency to batch more";
    break;
  case SeqLimit::max_num_seqs:
    std::snprintf(buf, sizeof buf,
                  "Throughput is bounded by the engine's max_num_seqs: %d per attention-DP replica x %d, while the "
                  "KV cache would admit %d",
                  r.engine_seqs / std::max(1, dp), dp, r.kv_seqs);
    more = "; raise it (engine.max_num_seqs) to batch more";
    break;
  case SeqLimit::kv_capacity:
    std::snprintf(buf, sizeof buf,
                  "Throughput is bounded by the KV cache: %.0f tokens hold %d requests of %.0f input + their output "
                  "share",
                  r.kv_tokens, r.kv_seqs, r.mean_input);
    more = "; more GPUs, a smaller KV dtype or shorter requests batch more";
    break;
  case SeqLimit::activations:
    std::snprintf(buf, sizeof buf,
                  "Throughput is bounded by memory: a decode batch above %d does not fit beside the weights and KV "
                  "cache",
                  r.seq_limit);
    more = "";
    break;
  }
  std::string s = buf;
  if (r.result.mean_decode_batch < 0.9 * r.seq_limit) {
    std::snprintf(buf, sizeof buf, "; the loop decoded %.1f sequences per step on average, below the limit of %d, as "
                                   "prefill and the tail of the run take steps",
                  r.result.mean_decode_batch, r.seq_limit);
    s += buf;
  } else {
    s += more;
  }
  return s + ".\n";
}

std::string ms(double s)
{
  return fmt_value("%.1f", s * 1e3);
}

} // namespace

std::string serve_workload_text(const ServeWorkload& w, double mean_input, double mean_output)
{
  std::ostringstream o;
  o << w.requests << " requests of ";
  if (w.lengths.varied())
    o << w.lengths.describe() << " (seed " << w.lengths.seed << "; mean " << fmt_value("%.1f", mean_input) << " input + "
      << fmt_value("%.1f", mean_output) << " output tokens), ";
  else
    o << w.input << " input + " << w.output << " output tokens, ";
  o << (w.concurrency > 0 ? "concurrency " + std::to_string(w.concurrency) : std::string("all at once"));
  return o.str();
}

nlohmann::json percentiles_json(const Percentiles& p)
{
  return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
}

std::string render_serve(const Study& study, const Scenario& sc, const ServeWorkload& w, const ServeRun& r)
{
  std::ostringstream o;
  o << "moesim serve: " << study.name << " (" << study.model.name << ", engine " << study.engine_profile->name << ") on "
    << sc.platform_name << ", plan " << sc.plan.name << ": " << serve_workload_text(w, r.mean_input, r.mean_output)
    << "\n\n";
  if (!r.why.empty()) {
    o << "not simulated: " << r.why << "\n";
    return o.str();
  }
  const ServingResult& s = r.result;
  o << "| plan | GPUs | sequence limit | limited by | mean decode batch | output tok/s | tok/s/GPU | TTFT p50/p99 ms "
       "| TPOT p50/p99 ms |\n|---|---|---|---|---|---|---|---|---|\n";
  o << "| " << sc.plan.name << " | " << r.gpus << " | " << r.seq_limit << " | " << to_string(r.limited_by) << " | "
    << fmt_value("%.1f", s.mean_decode_batch) << " | " << fmt_value("%.1f", s.output_tok_s) << " | "
    << fmt_value("%.1f", r.tok_s_per_gpu()) << " | " << ms(s.ttft.p50) << " / " << ms(s.ttft.p99) << " | "
    << (r.max_output > 1 ? ms(s.tpot.p50) + " / " + ms(s.tpot.p99) : std::string("-")) << " |\n\n";
  o << bound_sentence(w, r, std::max(1, sc.plan.attn_dp));
  if (!r.paths.empty())
    o << "Software paths (decode step): " << r.paths << "\n";
  return o.str();
}

nlohmann::json serve_to_json(const Study& study, const Scenario& sc, const ServeWorkload& w, const ServeRun& r)
{
  using nlohmann::json;
  const auto& pct = percentiles_json;
  json j = {{"study", study.name},
            {"model", study.model.name},
            {"engine", study.engine_profile ? study.engine_profile->name : ""},
            {"platform", sc.platform_name},
            {"plan", sc.plan.name},
            {"workload", {{"requests", w.requests}, {"input", w.input}, {"output", w.output}, {"concurrency", w.concurrency}}},
            {"simulated", r.why.empty()}};
  if (w.lengths.varied()) {
    j["workload"]["lengths"] = w.lengths.describe();
    j["workload"]["seed"] = w.lengths.seed;
    j["mean_input"] = r.mean_input;
    j["mean_output"] = r.mean_output;
  }
  if (!r.why.empty()) {
    j["why"] = r.why;
    return j;
  }
  const ServingResult& s = r.result;
  j["gpus"] = r.gpus;
  j["seq_limit"] = r.seq_limit;
  j["limited_by"] = to_string(r.limited_by);
  j["engine_seqs"] = r.engine_seqs;
  j["kv_seqs"] = r.kv_seqs;
  j["kv_tokens"] = r.kv_tokens;
  j["step_tokens"] = r.step_tokens;
  j["mean_decode_batch"] = s.mean_decode_batch;
  j["output_tok_s"] = s.output_tok_s;
  j["tok_s_per_gpu"] = r.tok_s_per_gpu();
  j["request_s"] = s.request_s;
  j["makespan_s"] = s.makespan;
  j["steps"] = s.steps;
  j["ttft_s"] = pct(s.ttft);
  j["tpot_s"] = pct(s.tpot);
  j["e2e_s"] = pct(s.e2e);
  j["software_paths"] = r.paths;
  j["step_table"] = step_table_json(r.table);
  return j;
}

nlohmann::json step_table_json(const ServeStepTable& t)
{
  return {{"batches", t.batches},         {"context_lo", t.context_lo},       {"context_hi", t.context_hi},
          {"seconds_lo", t.seconds_lo},   {"seconds_hi", t.seconds_hi},       {"prefill_tokens", t.prefill_tokens},
          {"prefill_seconds", t.prefill_seconds}, {"eager_extra_seconds", t.eager_extra_seconds}};
}

} // namespace moesim
