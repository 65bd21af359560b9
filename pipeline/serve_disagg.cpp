#include "pipeline/serve_disagg.hpp"

#include "core/engine_step.hpp"
#include "core/serve_steps.hpp"
#include "report/render.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace moesim {

double DisaggServeRun::transfer_bytes(int input) const
{
  return prompt_kv_bytes(kv_model, decode_attn_tp, input);
}

double DisaggServeRun::transfer_seconds(int input) const
{
  return link.latency_s + transfer_bytes(input) / (link.gbs * 1e9 * streams);
}

namespace {

// GPUs that hold one request's KV: the plan's PP stages and TP ranks, not its attention-DP replicas.
int holders(const ServeRun& r, const Scenario& sc)
{
  return std::max(1, r.gpus / std::max(1, sc.plan.attn_dp));
}

std::string ms(double s)
{
  return fmt_value("%.1f", s * 1e3);
}

} // namespace

std::optional<KvLink> network_kv_link(const Topology* t, const std::string& platform)
{
  if (!t || !t->network || t->network->nics_at.empty())
    return std::nullopt;
  const Network& n = *t->network;
  KvLink link;
  link.gbs = n.nic.value() * static_cast<double>(n.nics_at.size()) / t->gpus / 1e9;
  const auto lat = t->latency.find("nic");
  link.latency_s = lat != t->latency.end() ? lat->second.value() : 0.0;
  link.source = platform + "'s network: " + n.nic.text() + " NICs, " + std::to_string(n.nics_at.size()) + " a node of " +
                std::to_string(t->gpus) + " GPUs" + (lat != t->latency.end() ? "" : ", no NIC latency given");
  return link;
}

DisaggServeRun run_serve_disagg(const Study& prefill_study, const Study& study, const Scenario& prefill_sc,
                                const Scenario& decode_sc, const ServeWorkload& w, int prefill_instances,
                                int decode_instances, const KvLink& link)
{
  DisaggServeRun out;
  out.prefill_instances = prefill_instances;
  out.decode_instances = decode_instances;
  out.link = link;
  out.prefill = prepare_serve(prefill_study, prefill_sc, w);
  if (!out.prefill.why.empty())
    return out.why = "the prefill plan " + prefill_sc.plan.name + " on " + prefill_sc.platform_name + " " +
                     out.prefill.why,
           out;
  out.decode = prepare_serve(study, decode_sc, w);
  if (!out.decode.why.empty())
    return out.why = "the decode plan " + decode_sc.plan.name + " on " + decode_sc.platform_name + " " +
                     out.decode.why,
           out;
  out.streams = std::min(holders(out.prefill, prefill_sc), holders(out.decode, decode_sc));
  out.kv_model = kv_allocation_model(study.model, *study.engine_profile);
  out.decode_attn_tp = std::max(1, decode_sc.plan.attn_tp);
  DisaggLimits lim;
  lim.prefill_instances = prefill_instances;
  lim.decode_instances = decode_instances;
  lim.prefill = out.prefill.limits;
  lim.decode = out.decode.limits;
  const ServeStepTable& pt = out.prefill.table;
  const ServeStepTable& dt = out.decode.table;
  out.result = simulate_disaggregated(
      out.decode.mix, lim, [&pt](const StepLoad& l) { return serve_step_seconds(pt, l); },
      [&dt](const StepLoad& l) { return serve_step_seconds(dt, l); },
      [&out](int input) { return out.transfer_seconds(input); });
  return out;
}

std::string render_serve_disagg(const Study& study, const Scenario& prefill_sc, const Scenario& decode_sc,
                                const ServeWorkload& w, const DisaggServeRun& r)
{
  std::ostringstream o;
  o << "moesim serve (disaggregated): " << study.name << " (" << study.model.name << ", engine "
    << study.engine_profile->name << "): prefill " << r.prefill_instances << " x " << prefill_sc.plan.name << " on "
    << prefill_sc.platform_name << ", decode " << r.decode_instances << " x " << decode_sc.plan.name << " on "
    << decode_sc.platform_name << ": " << serve_workload_text(w, r.decode.mean_input, r.decode.mean_output) << "\n\n";
  if (!r.why.empty()) {
    o << "not simulated: " << r.why << "\n";
    return o.str();
  }
  const DisaggResult& d = r.result;
  const ServingResult& s = d.serving;
  o << "| pool | plan | instances | GPUs | sequence limit an instance | KV tokens an instance | steps | busy | per step |\n"
       "|---|---|---|---|---|---|---|---|---|\n";
  o << "| prefill | " << prefill_sc.plan.name << " | " << r.prefill_instances << " | "
    << r.prefill_instances * r.prefill.gpus << " | " << r.prefill.limits.max_num_seqs << " | "
    << fmt_value("%.0f", r.prefill.kv_tokens) << " | " << d.prefill_steps << " | "
    << fmt_value("%.0f", 100 * d.prefill_busy) << "% | " << fmt_value("%.0f", d.mean_prefill_tokens)
    << " prompt tokens |\n";
  o << "| decode | " << decode_sc.plan.name << " | " << r.decode_instances << " | "
    << r.decode_instances * r.decode.gpus << " | " << r.decode.limits.max_num_seqs << " | "
    << fmt_value("%.0f", r.decode.kv_tokens) << " | " << d.decode_steps << " | "
    << fmt_value("%.0f", 100 * d.decode_busy) << "% | " << fmt_value("%.1f", s.mean_decode_batch)
    << " sequences |\n\n";
  o << "| GPUs | output tok/s | tok/s/GPU | TTFT p50/p99 ms | TPOT p50/p99 ms | wait for decode KV p50/p99 ms | KV "
       "transfer p50/p99 ms | wait for a decode slot p50/p99 ms |\n|---|---|---|---|---|---|---|---|\n";
  const bool decodes = r.decode.max_output > 1;
  o << "| " << r.gpus() << " | " << fmt_value("%.1f", s.output_tok_s) << " | " << fmt_value("%.1f", r.tok_s_per_gpu())
    << " | " << ms(s.ttft.p50) << " / " << ms(s.ttft.p99) << " | "
    << (decodes ? ms(s.tpot.p50) + " / " + ms(s.tpot.p99) : std::string("-")) << " | " << ms(d.kv_reserve_wait.p50)
    << " / " << ms(d.kv_reserve_wait.p99) << " | "
    << (decodes ? ms(d.kv_transfer.p50) + " / " + ms(d.kv_transfer.p99) : std::string("-")) << " | "
    << (decodes ? ms(d.decode_wait.p50) + " / " + ms(d.decode_wait.p99) : std::string("-")) << " |\n\n";
  char buf[600];
  const int mean_input = std::max(1, static_cast<int>(r.decode.mean_input + 0.5));
  std::snprintf(buf, sizeof buf,
                "KV link: %s GB/s a GPU over %d paths at once, %s us a transfer (%s); a request's KV at the mean "
                "input is %s MB: %s ms to send.\n",
                fmt_value("%.1f", r.link.gbs).c_str(), r.streams, fmt_value("%.1f", r.link.latency_s * 1e6).c_str(),
                r.link.source.c_str(), fmt_value("%.2f", r.transfer_bytes(mean_input) / 1e6).c_str(),
                fmt_value("%.2f", r.transfer_seconds(mean_input) * 1e3).c_str());
  o << buf;
  // Which pool bounds the run: the busier one; a pool far from busy has GPUs to give.
  const bool prefill_bound = d.prefill_busy > d.decode_busy;
  std::snprintf(buf, sizeof buf,
                "The %s pool is the busier (%.0f%% of its time in steps against %.0f%%)%s.\n",
                prefill_bound ? "prefill" : "decode", 100 * std::max(d.prefill_busy, d.decode_busy),
                100 * std::min(d.prefill_busy, d.decode_busy),
                prefill_bound ? ": more prefill instances cut TTFT and feed the decoders faster"
                              : ": more decode instances, or a decode plan that batches more, raise throughput");
  o << buf;
  if (!r.decode.paths.empty())
    o << "Software paths (decode step): " << r.decode.paths << "\n";
  return o.str();
}

nlohmann::json serve_disagg_to_json(const Study& study, const Scenario& prefill_sc, const Scenario& decode_sc,
                                    const ServeWorkload& w, const DisaggServeRun& r)
{
  using nlohmann::json;
  auto pool = [](const Scenario& sc, const ServeRun& p, int instances) {
    return json{{"plan", sc.plan.name}, {"platform", sc.platform_name}, {"instances", instances},
                {"gpus_per_instance", p.gpus}, {"seq_limit", p.limits.max_num_seqs}, {"kv_tokens", p.kv_tokens}};
  };
  json j = {{"study", study.name},
            {"model", study.model.name},
            {"engine", study.engine_profile ? study.engine_profile->name : ""},
            {"disaggregated", true},
            {"workload", {{"requests", w.requests}, {"input", w.input}, {"output", w.output}, {"concurrency", w.concurrency}}},
            {"simulated", r.why.empty()}};
  if (w.lengths.varied()) {
    j["workload"]["lengths"] = w.lengths.describe();
    j["workload"]["seed"] = w.lengths.seed;
  }
  if (!r.why.empty()) {
    j["why"] = r.why;
    return j;
  }
  const DisaggResult& d = r.result;
  const ServingResult& s = d.serving;
  j["prefill"] = pool(prefill_sc, r.prefill, r.prefill_instances);
  j["prefill"]["step_table"] = step_table_json(r.prefill.table);
  j["prefill"]["steps"] = d.prefill_steps;
  j["prefill"]["busy"] = d.prefill_busy;
  j["prefill"]["mean_prompt_tokens_per_step"] = d.mean_prefill_tokens;
  j["decode"] = pool(decode_sc, r.decode, r.decode_instances);
  j["decode"]["step_table"] = step_table_json(r.decode.table);
  j["decode"]["steps"] = d.decode_steps;
  j["decode"]["busy"] = d.decode_busy;
  j["decode"]["mean_decode_batch"] = s.mean_decode_batch;
  j["kv_link"] = {{"gbs_per_gpu", r.link.gbs}, {"latency_s", r.link.latency_s}, {"source", r.link.source},
                  {"streams", r.streams}, {"decode_attn_tp", r.decode_attn_tp}};
  j["gpus"] = r.gpus();
  j["output_tok_s"] = s.output_tok_s;
  j["tok_s_per_gpu"] = r.tok_s_per_gpu();
  j["request_s"] = s.request_s;
  j["makespan_s"] = s.makespan;
  j["ttft_s"] = percentiles_json(s.ttft);
  j["tpot_s"] = percentiles_json(s.tpot);
  j["e2e_s"] = percentiles_json(s.e2e);
  j["kv_transfer_s"] = percentiles_json(d.kv_transfer);
  j["decode_wait_s"] = percentiles_json(d.decode_wait);
  j["kv_reserve_wait_s"] = percentiles_json(d.kv_reserve_wait);
  return j;
}

} // namespace moesim
