#include "core/study.hpp"

#include "core/engine_options.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/model_loader.hpp"
#include "core/yaml_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

namespace moesim {
namespace fs = std::filesystem;

static std::string resolve(const std::string& name, const std::string& dir, const std::string& ext,
                           const std::string& what, const std::string& key)
{
  if (name.find('/') != std::string::npos || name.ends_with(ext)) {
    if (!path_exists(name))
      throw InputError(name, key, what + " file not found: " + name, "check the path");
    return name;
  }
  fs::path p = fs::path(dir) / (name + ext);
  if (path_exists(p))
    return p.string();
  std::vector<std::string> names;
  if (is_folder(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ext)
        names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  std::string list;
  for (const auto& n : names)
    list += (list.empty() ? "" : ", ") + n;
  throw InputError(p.string(), key, "unknown " + what + " '" + name + "'",
                   list.empty() ? "give a path" : "use one of: " + list);
}

std::string resolve_study_path(const std::string& n, const std::string& root)
{
  return resolve(n, root + "/workloads/studies", ".yaml", "study", "study");
}

std::string resolve_platform_path(const std::string& n, const std::string& root, bool prefer_yaml)
{
  // A path: taken as it is. A name: platforms/NAME.xml, else the topology platforms/NAME.yaml
  // (prefer_yaml: the other way round, for what-ifs that edit the topology).
  if (n.find('/') != std::string::npos || n.ends_with(".xml") || n.ends_with(".yaml")) {
    if (!path_exists(n))
      throw InputError(n, "platforms", "platform file not found: " + n, "check the path");
    return n;
  }
  const fs::path dir = fs::path(root) / "platforms";
  const fs::path xml = dir / (n + ".xml"), yaml = dir / (n + ".yaml");
  if (n != "gpus") { // platforms/gpus.yaml is the GPU catalogue, not a platform
    if (prefer_yaml && path_exists(yaml))
      return yaml.string();
    if (path_exists(xml))
      return xml.string();
    if (path_exists(yaml))
      return yaml.string();
  }
  std::set<std::string> names;
  if (is_folder(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if ((e.path().extension() == ".xml" || e.path().extension() == ".yaml") && e.path().stem() != "gpus")
        names.insert(e.path().stem().string());
  std::string list;
  for (const auto& name : names)
    list += (list.empty() ? "" : ", ") + name;
  throw InputError(xml.string(), "platforms", "unknown platform '" + n + "'",
                   list.empty() ? "give a path" : "use one of: " + list);
}

static void override_dtypes(Fields& f, ModelDtypes& d)
{
  auto one = [&](const char* key, Dtype& out) {
    if (f.has(key)) {
      std::string s = f.str(key);
      try {
        out = parse_dtype(s);
      } catch (const std::invalid_argument& e) {
        f.fail(key, e.what(), "write one of fp32, bf16, fp16, fp8, nvfp4, mxfp4, int4");
      }
    } else {
      f.maybe(key);
    }
  };
  one("expert_weights", d.expert_weights);
  one("dense_weights", d.dense_weights);
  one("embeddings", d.embeddings);
  one("activations", d.activations);
  one("kv_cache", d.kv_cache);
  f.finish();
}

void check_routing_work(const Study& s, const std::string& where)
{
  if (s.routing.kind == RoutingKind::uniform)
    return;
  for (int b : s.batches) {
    const double tokens = s.phase == Phase::decode ? b : double(b) * s.prompt;
    const double draws = tokens * s.model.moe.top_k * s.model.moe.experts * s.model.moe_layer_count();
    if (draws > limits::routing_draws)
      throw InputError(where, "batch",
                       "batch " + std::to_string(b) + " with " + std::string(s.routing.kind == RoutingKind::zipf ? "Zipf" : "sampled") + " routing draws " +
                           number_text(tokens) + " tokens x top " + std::to_string(s.model.moe.top_k) + " of " +
                           std::to_string(s.model.moe.experts) + " experts x " + std::to_string(s.model.moe_layer_count()) +
                           " MoE layers = " + number_text(draws) + " steps, more than the " +
                           number_text(limits::routing_draws) + " moesim takes per scenario",
                       "use routing: {kind: uniform} (expected counts) or a smaller batch");
  }
}

Study load_study_file(const std::string& path, const std::string& root)
{
  YAML::Node doc = load_yaml_file(path);
  Fields f(path, doc, "");
  Study s;
  s.file = path;
  s.name = f.str("name");
  s.description = f.str("description", "");
  {
    // A name that resolves to nothing is the study's mistake: blame its line, not the models folder.
    const std::string where = f.location(f.node("model"));
    std::string model_path;
    try {
      model_path = resolve_model_path(f.str("model"), root + "/workloads/models");
    } catch (const InputError& e) {
      throw e.with_file(where);
    }
    s.model = load_model_file(model_path).model;
  }
  if (auto d = f.maybe("dtypes")) {
    Fields df(path, *d, "dtypes");
    override_dtypes(df, s.model.dtypes);
  }
  // `layers: N` keeps the first N layers (validation runs "a few layers at full width").
  if (f.has("layers")) {
    const int n = f.integer_in("layers", 1, s.model.layers);
    s.model.layers = n;
    s.model.dense_layers = std::min(s.model.dense_layers, n);
    s.model.name += " (first " + std::to_string(n) + " layers)";
  } else {
    f.maybe("layers");
  }
  s.platforms = f.str_list("platforms", limits::list);
  for (size_t i = 0; i < s.platforms.size(); i++) {
    try {
      (void)resolve_platform_path(s.platforms[i], root);
    } catch (const InputError& e) {
      throw e.with_file(f.location(f.list_entry("platforms", i)));
    }
  }
  std::string phase = f.str("phase");
  if (phase == "decode")
    s.phase = Phase::decode;
  else if (phase == "prefill")
    s.phase = Phase::prefill;
  else
    f.fail("phase", "unknown phase '" + phase + "'", "use decode or prefill");
  s.batches = f.int_list("batch", 1, limits::batch, limits::list);
  s.context = f.integer_in("context", 0, limits::context);
  s.prompt = f.integer_in("prompt", 0, 0, limits::context);
  if (s.phase == Phase::prefill && s.prompt < 1)
    f.fail("prompt", "a prefill study needs a prompt length", "add `prompt: 2048`");
  if (s.phase == Phase::decode && s.prompt != 0)
    f.fail("prompt", "a decode study has no prompt", "remove it, or use phase: prefill");
  for (int b : s.batches)
    if (static_cast<long long>(b) * s.prompt > limits::step_tokens)
      f.fail("prompt", "batch " + std::to_string(b) + " x prompt " + std::to_string(s.prompt) + " is more than the " +
                           std::to_string(limits::step_tokens) + " tokens a step may have",
             "use a smaller batch or prompt");
  s.gpu_memory_utilization = f.num("gpu_memory_utilization", 0.9, fraction());
  s.pp_steady_steps = f.integer_in("pp_steady_steps", 6, 0, pp_steady_max_steps);
  if (s.pp_steady_steps > 0 && s.pp_steady_steps <= pp_steady_warmup)
    f.fail("pp_steady_steps",
           std::to_string(s.pp_steady_steps) + " steps leave none to measure after the " +
               std::to_string(pp_steady_warmup) + " warm-up steps",
           "use 0 (off) or " + std::to_string(pp_steady_warmup + 1) + " to " + std::to_string(pp_steady_max_steps));

  if (auto r = f.maybe("routing")) {
    Fields rf(path, *r, "routing");
    std::string kind = rf.str("kind");
    if (kind == "uniform")
      s.routing.kind = RoutingKind::uniform;
    else if (kind == "sampled")
      s.routing.kind = RoutingKind::sampled;
    else if (kind == "zipf")
      s.routing.kind = RoutingKind::zipf;
    else
      rf.fail("kind", "unknown routing '" + kind + "'", "use uniform, sampled or zipf");
    if (s.routing.kind != RoutingKind::uniform) {
      const std::optional<long long> seed = whole_in(rf.num("seed"), non_negative(9e15));
      if (!seed)
        rf.fail("seed", "must be a whole number between 0 and 9e15", "write e.g. `seed: 1`");
      s.routing.seed = static_cast<std::uint64_t>(*seed);
    }
    if (s.routing.kind == RoutingKind::zipf)
      s.routing.zipf_s = rf.num("s", non_negative(limits::zipf_s));
    rf.finish();
  }
  if (auto e = f.maybe("engine")) {
    EngineChoice c = read_engine_choice(path, *e, root, "engine");
    s.engine = c.params;
    s.engine_profile = std::move(c.profile);
  }
  YAML::Node plans = f.node("plans");
  if (!plans.IsSequence() || plans.size() == 0)
    f.fail("plans", "expected a non-empty list", "write e.g. `plans: [tp4, ep4]`");
  if (plans.size() > static_cast<size_t>(limits::list))
    f.fail("plans", "has " + std::to_string(plans.size()) + " plans, more than the " + std::to_string(limits::list) +
                        " moesim takes", "split the study into several");
  for (const auto& pn : plans) {
    if (pn.IsScalar()) {
      try {
        s.plans.push_back(Plan::parse(pn.Scalar()));
      } catch (const std::invalid_argument& e) {
        throw InputError(f.location(pn), "plans", e.what(), "fix the plan name");
      }
      s.plans.back().where = f.location(pn);
      continue;
    }
    Fields pf(path, pn, "plans[]");
    Plan p;
    p.where = f.location(pn);
    p.name = pf.str("name");
    p.attn_tp = pf.integer_in("attn_tp", 1, 1, limits::gpus);
    p.attn_dp = pf.integer_in("attn_dp", 1, 1, limits::gpus);
    p.moe_tp = pf.integer_in("moe_tp", 1, 1, limits::gpus);
    p.ep = pf.integer_in("ep", 1, 1, limits::gpus);
    p.pp = pf.integer_in("pp", 1, 1, limits::gpus);
    p.microbatches = pf.integer_in("microbatches", p.pp, 1, limits::batch);
    p.comm_explicit = pf.has("experts_via");
    std::string via = pf.str("experts_via", p.ep > 1 ? "all_to_all" : (p.attn_dp > 1 ? "allgather" : "all_reduce"));
    if (via == "all_to_all")
      p.expert_comm = ExpertComm::all_to_all;
    else if (via == "all_reduce")
      p.expert_comm = ExpertComm::all_reduce;
    else if (via == "allgather")
      p.expert_comm = ExpertComm::allgather;
    else
      pf.fail("experts_via", "unknown value '" + via + "'", "use all_to_all, all_reduce or allgather");
    pf.finish();
    s.plans.push_back(p);
  }
  if (auto refs = f.maybe("reference")) {
    if (!refs->IsSequence())
      f.fail("reference", "expected a list", "write a list of {plan, platform, batch, tok_s, source}");
    for (const auto& rn : *refs) {
      Fields rf(path, rn, "reference[]");
      Reference r;
      r.plan = rf.str("plan");
      r.platform = rf.str("platform");
      r.batch = rf.integer_in("batch", 1, limits::batch);
      r.tok_s = rf.num("tok_s", positive(1e12));
      r.source = rf.str("source");
      if (auto cands = rf.maybe("candidates")) {
        if (!cands->IsSequence())
          rf.fail("candidates", "expected a list", "write a list of {name, plan, engine}");
        for (const auto& cn : *cands) {
          Fields cf(path, cn, "reference[].candidates[]");
          Candidate c;
          c.name = cf.str("name");
          c.plan = cf.str("plan", "");
          if (!c.plan.empty()) {
            try {
              (void)Plan::parse(c.plan);
            } catch (const std::invalid_argument& e) {
              cf.fail("plan", e.what(), "fix the plan name");
            }
          }
          c.engine = read_engine_choice(path, cf.node("engine"), root, "reference[].candidates[].engine");
          cf.finish();
          r.candidates.push_back(std::move(c));
        }
      }
      rf.finish();
      s.references.push_back(r);
    }
  }
  f.finish();
  check_routing_work(s, f.location(f.node("batch")));
  return s;
}

EngineParams engine_params_of(const EngineProfile& p, EngineParams base)
{
  base.cuda_graphs = p.cuda_graphs;
  base.launch_s = p.launch_s;
  base.sync_s = p.sync_s;
  base.graph_launch_s = p.graph_launch_s;
  base.grouped_gemm_per_expert = base.grouped_gemm_per_expert || p.moe_kernel == MoeKernel::per_expert;
  base.attention_bw_fraction = p.attention_bw_fraction.value_or(0.0);
  base.moe_bw_fraction = p.moe_bw_fraction.value_or(0.0);
  base.moe_flops_fraction = p.moe_flops_fraction.value_or(0.0);
  base.moe_backend = p.moe_backend;
  return base;
}

// The generic engine's keys, one at a time through the table `--set engine.KEY=VALUE` uses too.
static void read_generic_engine(Fields& ef, EngineParams& en)
{
  // A host time the block leaves out keeps its default as this loader has always read it, through
  // microseconds and back (10e-6 s * 1e6 * 1e-6 = 9.999999999999999e-06 s): outputs stay
  // bit-identical to the results already committed.
  for (auto [key, seconds] : {std::pair{"launch_us", &en.launch_s}, {"sync_us", &en.sync_s},
                              {"graph_launch_us", &en.graph_launch_s}})
    if (!ef.has(key))
      *seconds = *seconds * 1e6 * 1e-6;
  for (const EngineOptionDoc& d : engine_option_docs()) {
    if (!ef.has(d.key)) {
      ef.maybe(d.key);
      continue;
    }
    if (auto problem = set_engine_option(en, d.key, ef.str(d.key)))
      ef.fail(d.key, problem->what, problem->fix);
  }
}

EngineChoice read_engine_choice(const std::string& file, const YAML::Node& node, const std::string& root,
                                const std::string& where)
{
  EngineChoice c;
  if (node.IsScalar()) {
    c.profile = load_engine_profile_file(resolve_engine_path(node.Scalar(), root));
    c.params = engine_params_of(*c.profile);
    return c;
  }
  Fields ef(file, node, where);
  if (!ef.has("profile")) {
    read_generic_engine(ef, c.params);
    ef.finish();
    return c;
  }
  c.profile = load_engine_profile_file(resolve_engine_path(ef.str("profile"), root));
  // Overrides: every other key is a fact of the profile (timed_ops and grouped_gemm keep their
  // generic meaning).
  for (const char* key : {"timed_ops", "grouped_gemm"}) {
    if (!ef.has(key)) {
      ef.maybe(key);
      continue;
    }
    if (auto problem = set_engine_option(c.params, key, ef.str(key)))
      ef.fail(key, problem->what, problem->fix);
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (key == "profile" || key == "timed_ops" || key == "grouped_gemm")
      continue;
    if (!is_engine_fact(key))
      ef.fail(key, "unknown engine fact", "use a key of workloads/engines/*.yaml facts, or timed_ops / grouped_gemm");
    (void)ef.maybe(key);
    set_engine_fact(*c.profile, key, kv.second, ef.location(kv.second), "study " + file);
  }
  ef.finish();
  c.params = engine_params_of(*c.profile, c.params);
  return c;
}

} // namespace moesim
