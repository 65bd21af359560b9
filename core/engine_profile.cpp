#include "core/engine_profile.hpp"

#include "core/input_file.hpp"

#include "core/error.hpp"
#include "core/yaml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

namespace moesim {

const char* to_string(Dispatch d)
{
  switch (d) {
    case Dispatch::all_reduce: return "all_reduce";
    case Dispatch::allgather: return "allgather";
    case Dispatch::nccl_a2a: return "nccl_a2a";
    case Dispatch::deepep_normal: return "deepep_normal";
    case Dispatch::deepep_ll: return "deepep_ll";
  }
  return "?";
}

std::optional<Dispatch> parse_dispatch(const std::string& s)
{
  for (Dispatch d : {Dispatch::all_reduce, Dispatch::allgather, Dispatch::nccl_a2a, Dispatch::deepep_normal,
                     Dispatch::deepep_ll})
    if (s == to_string(d))
      return d;
  return std::nullopt;
}

const char* to_string(MoeKernel k)
{
  switch (k) {
    case MoeKernel::fused: return "fused";
    case MoeKernel::per_expert: return "per_expert";
    case MoeKernel::per_expert_sync: return "per_expert_sync";
    case MoeKernel::dequant: return "dequant";
  }
  return "?";
}

std::optional<MoeKernel> parse_moe_kernel(const std::string& s)
{
  for (MoeKernel k : {MoeKernel::fused, MoeKernel::per_expert, MoeKernel::per_expert_sync, MoeKernel::dequant})
    if (s == to_string(k))
      return k;
  return std::nullopt;
}

const char* to_string(MoeBackend b)
{
  switch (b) {
    case MoeBackend::fastest: return "fastest";
    case MoeBackend::cutlass: return "cutlass";
    case MoeBackend::trtllm: return "trtllm";
  }
  return "?";
}

std::optional<MoeBackend> parse_moe_backend(const std::string& s)
{
  for (MoeBackend b : {MoeBackend::fastest, MoeBackend::cutlass, MoeBackend::trtllm})
    if (s == to_string(b))
      return b;
  return std::nullopt;
}

const char* to_string(Speculative s)
{
  switch (s) {
    case Speculative::none: return "none";
    case Speculative::mtp: return "mtp";
    case Speculative::eagle: return "eagle";
  }
  return "?";
}

namespace {

// One value, read and checked: every reader throws with `where`, the key and the fix.
struct Reader {
  const std::string& key;
  const YAML::Node& v;
  const std::string& where;

  [[noreturn]] void bad(const std::string& what, const std::string& fix) const
  {
    throw InputError(where, key, what, fix);
  }
  std::string scalar() const
  {
    if (!v.IsScalar())
      bad("expected a single value", "write `" + key + ": <value>`");
    return v.Scalar();
  }
  bool boolean() const
  {
    const std::string s = scalar();
    if (s == "true" || s == "yes" || s == "on")
      return true;
    if (s == "false" || s == "no" || s == "off")
      return false;
    bad("'" + s + "' is not a boolean", "write true or false");
  }
  // A fact of two named values: false for `first`, true for `second`; anything else is refused
  // naming `what` ("unknown <what> 'x'", fix "use <first> or <second>").
  bool either(const std::string& first, const std::string& second, const std::string& what) const
  {
    const std::string s = scalar();
    if (s != first && s != second)
      bad("unknown " + what + " '" + s + "'", "use " + first + " or " + second);
    return s == second;
  }
  static std::optional<double> number_of(const std::string& s)
  {
    try {
      size_t pos = 0;
      const double d = std::stod(s, &pos);
      if (pos != s.size() || !std::isfinite(d))
        return std::nullopt;
      return d;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  double number(double lo, double hi) const
  {
    const std::string s = scalar();
    const auto d = number_of(s);
    if (!d || *d < lo || *d > hi)
      bad("'" + s + "' is not a number in [" + fmt(lo) + ", " + fmt(hi) + "]", "write a number in that range");
    return *d;
  }
  int integer(int lo, int hi) const
  {
    const double d = number(lo, hi);
    if (d != std::floor(d))
      bad("'" + scalar() + "' is not a whole number", "write a whole number");
    return static_cast<int>(d);
  }
  std::optional<double> optional_number(double lo, double hi) const
  {
    if (v.IsNull() || (v.IsScalar() && (v.Scalar() == "null" || v.Scalar() == "~")))
      return std::nullopt;
    return number(lo, hi);
  }
  std::vector<std::string> scalars() const
  {
    if (!v.IsSequence())
      bad("expected a list", "write `" + key + ": [a, b]` (or [] for none)");
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.IsScalar())
        bad("list entries must be single values", "write `" + key + ": [a, b]`");
      out.push_back(e.Scalar());
    }
    return out;
  }
  std::vector<int> sizes() const
  {
    std::vector<int> out;
    for (const std::string& s : scalars()) {
      const auto d = number_of(s);
      if (!d || *d < 1 || *d > 1e6 || *d != std::floor(*d))
        bad("'" + s + "' is not a batch size from 1 to 1000000", "write whole numbers, e.g. [1, 2, 4, 8]");
      out.push_back(static_cast<int>(*d));
    }
    if (!std::is_sorted(out.begin(), out.end()) || std::adjacent_find(out.begin(), out.end()) != out.end())
      bad("sizes must rise strictly", "list each size once, smallest first");
    return out;
  }
  std::vector<Dispatch> dispatches() const
  {
    std::vector<Dispatch> out;
    for (const std::string& s : scalars()) {
      const auto d = parse_dispatch(s);
      if (!d)
        bad("unknown dispatch path '" + s + "'", dispatch_fix());
      out.push_back(*d);
    }
    return out;
  }
  Dispatch dispatch() const
  {
    const std::string s = scalar();
    const auto d = parse_dispatch(s);
    if (!d)
      bad("unknown dispatch path '" + s + "'", dispatch_fix());
    return *d;
  }
  // {ranks: value}: ranks from 2 to 1024, values in [lo, hi].
  std::map<int, double> per_rank_count(double lo, double hi, double scale) const
  {
    if (!v.IsMap())
      bad("expected a map of rank counts", "write `" + key + ": {4: value, 8: value}` (or {} for none)");
    std::map<int, double> out;
    for (const auto& kv : v) {
      const auto r = number_of(kv.first.Scalar());
      if (!r || *r < 2 || *r > 1024 || *r != std::floor(*r))
        bad("'" + kv.first.Scalar() + "' is not a rank count from 2 to 1024", "key the map by rank counts");
      const auto d = kv.second.IsScalar() ? number_of(kv.second.Scalar()) : std::nullopt;
      if (!d || *d < lo || *d > hi)
        bad("the value for " + kv.first.Scalar() + " ranks is not a number in [" + fmt(lo) + ", " + fmt(hi) + "]",
            "write numbers in that range");
      out[static_cast<int>(*r)] = *d * scale;
    }
    return out;
  }
  static std::string dispatch_fix()
  {
    return "use all_reduce, allgather, nccl_a2a, deepep_normal or deepep_ll";
  }
  static std::string fmt(double d)
  {
    char b[32];
    std::snprintf(b, sizeof b, "%g", d);
    return b;
  }
};

struct Fact {
  const char* key;
  const char* what;
  std::function<void(EngineProfile&, const Reader&)> set;
};

const std::vector<Fact>& facts()
{
  static const std::vector<Fact> table = {
      {"cuda_graphs", "decode steps replay CUDA graphs (true) or launch every op (false)",
       [](EngineProfile& p, const Reader& r) { p.cuda_graphs = r.boolean(); }},
      {"capture_sizes", "batch sizes captured as graphs, rising", [](EngineProfile& p, const Reader& r) {
         p.capture_sizes = r.sizes();
       }},
      {"graph_padding", "a batch runs as the next captured size (true), or eagerly unless captured exactly",
       [](EngineProfile& p, const Reader& r) { p.graph_padding = r.boolean(); }},
      {"graph_breaks", "dispatch paths that cannot be captured, e.g. [deepep_normal]",
       [](EngineProfile& p, const Reader& r) { p.graph_breaks = r.dispatches(); }},
      {"custom_all_reduce", "a custom (IPC) all-reduce kernel replaces NCCL where it applies",
       [](EngineProfile& p, const Reader& r) { p.custom_all_reduce = r.boolean(); }},
      {"custom_all_reduce_max_pcie_ranks", "the most ranks the custom all-reduce serves without NVLink",
       [](EngineProfile& p, const Reader& r) { p.custom_ar_max_pcie_ranks = r.integer(0, 1024); }},
      {"custom_all_reduce_needs_p2p", "the custom all-reduce needs GPU peer-to-peer access",
       [](EngineProfile& p, const Reader& r) { p.custom_ar_needs_p2p = r.boolean(); }},
      {"custom_all_reduce_max_bytes", "largest message the custom all-reduce takes (bytes)",
       [](EngineProfile& p, const Reader& r) { p.custom_ar_max_bytes = r.number(0, 1e12); }},
      {"one_shot_max_bytes", "{ranks: bytes}: one-shot below, two-shot from there (2 ranks: always one shot)",
       [](EngineProfile& p, const Reader& r) { p.one_shot_max_bytes = r.per_rank_count(0, 1e12, 1); }},
      {"custom_all_reduce_us", "{ranks: us}: fixed cost of one custom all-reduce call",
       [](EngineProfile& p, const Reader& r) { p.custom_ar_s = r.per_rank_count(0, 1e6, 1e-6); }},
      {"ep_dispatch_tp_attention", "how tokens reach experts under attention TP",
       [](EngineProfile& p, const Reader& r) { p.ep_tp_attention = r.dispatch(); }},
      {"ep_dispatch_dp_attention", "how tokens reach experts under attention DP",
       [](EngineProfile& p, const Reader& r) { p.ep_dp_attention = r.dispatch(); }},
      {"nvlink_only_dispatch", "dispatch paths that need NVLink within a node",
       [](EngineProfile& p, const Reader& r) { p.nvlink_only = r.dispatches(); }},
      {"moe_kernel", "fused, per_expert, per_expert_sync or dequant", [](EngineProfile& p, const Reader& r) {
         const auto k = parse_moe_kernel(r.scalar());
         if (!k)
           r.bad("unknown MoE kernel '" + r.scalar() + "'", "use fused, per_expert, per_expert_sync or dequant");
         p.moe_kernel = *k;
       }},
      {"moe_backend", "fastest, cutlass or trtllm: whose measured MoE layers are read",
       [](EngineProfile& p, const Reader& r) {
         const auto b = parse_moe_backend(r.scalar());
         if (!b)
           r.bad("unknown MoE backend '" + r.scalar() + "'", "use fastest, cutlass or trtllm");
         p.moe_backend = *b;
       }},
      {"moe_bandwidth_fraction", "fraction of datasheet memory bandwidth the MoE kernel reaches (null: platform's)",
       [](EngineProfile& p, const Reader& r) { p.moe_bw_fraction = r.optional_number(0.01, 1); }},
      {"moe_flops_fraction", "fraction of datasheet tensor rate the MoE kernel reaches (null: platform's)",
       [](EngineProfile& p, const Reader& r) { p.moe_flops_fraction = r.optional_number(0.01, 1); }},
      {"attention_backend", "attention kernels, by name", [](EngineProfile& p, const Reader& r) {
         p.attention_backend = r.scalar();
       }},
      {"attention_bandwidth_fraction", "fraction of datasheet bandwidth decode attention reaches (null: platform's)",
       [](EngineProfile& p, const Reader& r) { p.attention_bw_fraction = r.optional_number(0.01, 1); }},
      {"launch_us", "host time per op in eager mode (us)",
       [](EngineProfile& p, const Reader& r) { p.launch_s = r.number(0, 1e6) * 1e-6; }},
      {"sync_us", "host round trip of a device-to-host sync (us)",
       [](EngineProfile& p, const Reader& r) { p.sync_s = r.number(0, 1e6) * 1e-6; }},
      {"graph_launch_us", "host time to launch a step's graph (us)",
       [](EngineProfile& p, const Reader& r) { p.graph_launch_s = r.number(0, 1e6) * 1e-6; }},
      {"step_us", "host time per step outside the model: scheduler, inputs, outputs (us)",
       [](EngineProfile& p, const Reader& r) { p.step_s = r.number(0, 1e8) * 1e-6; }},
      {"step_us_per_seq", "more host time per step for each running sequence (us)",
       [](EngineProfile& p, const Reader& r) { p.step_seq_s = r.number(0, 1e6) * 1e-6; }},
      {"overlap_scheduler", "step_us runs while the GPU works on the previous step",
       [](EngineProfile& p, const Reader& r) { p.overlap_scheduler = r.boolean(); }},
      {"sampler", "sampling implementation, by name", [](EngineProfile& p, const Reader& r) {
         p.sampler = r.scalar();
       }},
      {"dp_padding", "max (replicas run the largest token count) or none", [](EngineProfile& p, const Reader& r) {
         const std::string s = r.scalar();
         if (s != "max" && s != "none")
           r.bad("unknown padding '" + s + "'", "use max or none");
         p.dp_pad_to_max = s == "max";
       }},
      {"dp_gather_post_quant",
       "under attention DP, tokens are routed and quantized to the experts' input format before the all-gather",
       [](EngineProfile& p, const Reader& r) { p.dp_gather_post_quant = r.boolean(); }},
      {"dp_gather_per_root",
       "under attention DP, the MoE all-gather and reduce-scatter run as one NCCL broadcast or reduce per root rank "
       "(each rank's own token count)",
       [](EngineProfile& p, const Reader& r) { p.dp_gather_per_root = r.boolean(); }},
      {"dp_sync_us", "host agreement between attention-DP replicas per step (us)",
       [](EngineProfile& p, const Reader& r) { p.dp_sync_s = r.number(0, 1e6) * 1e-6; }},
      {"redundant_experts", "extra expert slots (EPLB replicas)",
       [](EngineProfile& p, const Reader& r) { p.redundant_experts = r.integer(0, 1 << 20); }},
      {"speculative", "none, mtp or eagle", [](EngineProfile& p, const Reader& r) {
         const std::string s = r.scalar();
         if (s == "none")
           p.speculative = Speculative::none;
         else if (s == "mtp")
           p.speculative = Speculative::mtp;
         else if (s == "eagle")
           p.speculative = Speculative::eagle;
         else
           r.bad("unknown method '" + s + "'", "use none, mtp or eagle");
       }},
      {"draft_tokens", "tokens drafted per step", [](EngineProfile& p, const Reader& r) {
         p.draft_tokens = r.integer(0, 64);
       }},
      {"acceptance_length", "tokens emitted per step on average (1 + accepted drafts)",
       [](EngineProfile& p, const Reader& r) { p.acceptance_length = r.number(1, 65); }},
      {"max_num_seqs", "most sequences in a step", [](EngineProfile& p, const Reader& r) {
         p.max_num_seqs = r.integer(1, 1 << 24);
       }},
      {"max_num_batched_tokens", "most tokens in a step (chunked prefill budget)",
       [](EngineProfile& p, const Reader& r) { p.max_num_batched_tokens = r.integer(1, 1 << 24); }},
      {"kv_output_share", "share of a request's output its KV is counted for at admission (1: reserved up front)",
       [](EngineProfile& p, const Reader& r) { p.kv_output_share = r.number(0, 1); }},
      {"sliding_window_kv", "KV cache of sliding-window layers: window (only the window held) or full (the whole sequence)",
       [](EngineProfile& p, const Reader& r) { p.sliding_kv_full = r.either("window", "full", "KV allocation"); }},
      {"mixed_step_graphs", "a step with prompt tokens beside decodes replays the decode graph (true) or runs eagerly",
       [](EngineProfile& p, const Reader& r) { p.mixed_step_graphs = r.boolean(); }},
      {"chunked_prefill", "prompts are split to fill a step's token budget (true) or taken whole only (false)",
       [](EngineProfile& p, const Reader& r) { p.chunked_prefill = r.boolean(); }},
      {"batch_limits", "max_num_seqs and max_num_batched_tokens: fixed (as given) or trtllm_bench (its heuristic)",
       [](EngineProfile& p, const Reader& r) {
         p.bench_batch_limits = r.either("fixed", "trtllm_bench", "batch limit rule");
       }},
      {"kv_cache_memory",
       "KV cache size: of_total (the usable fraction of memory less weights and activations) or of_free (that "
       "fraction of the memory a profiling step leaves)",
       [](EngineProfile& p, const Reader& r) { p.kv_of_free_memory = r.either("of_total", "of_free", "KV memory rule"); }},
  };
  return table;
}

const Fact* find_fact(const std::string& key)
{
  for (const Fact& f : facts())
    if (key == f.key)
      return &f;
  return nullptr;
}

std::string fact_list()
{
  std::string s;
  for (const Fact& f : facts())
    s += (s.empty() ? "" : ", ") + std::string(f.key);
  return s;
}

} // namespace

const std::vector<EngineFactDoc>& engine_fact_docs()
{
  static const std::vector<EngineFactDoc> docs = [] {
    std::vector<EngineFactDoc> d;
    for (const Fact& f : facts())
      d.push_back({f.key, f.what});
    return d;
  }();
  return docs;
}

bool is_engine_fact(const std::string& key)
{
  return find_fact(key) != nullptr;
}

void set_engine_fact(EngineProfile& p, const std::string& key, const YAML::Node& value, const std::string& where,
                     const std::string& source)
{
  const Fact* f = find_fact(key);
  if (!f)
    throw InputError(where, key, "unknown engine fact", "use one of: " + fact_list());
  f->set(p, Reader{key, value, where});
  p.sources[key] = source;
}

void set_engine_fact(EngineProfile& p, const std::string& key, const std::string& value, const std::string& where,
                     const std::string& source)
{
  YAML::Node n;
  try {
    n = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw InputError(where, key, "'" + value + "' is not a value: " + e.msg, "write e.g. true, 22, [1, 2] or {4: 5}");
  }
  set_engine_fact(p, key, n, where, source);
}

EngineProfile load_engine_profile_file(const std::string& path)
{
  YAML::Node doc = load_yaml_file(path);
  Fields f(path, doc, "");
  EngineProfile p;
  p.file = path;
  p.name = f.str("name");
  const std::string stem = std::filesystem::path(path).stem().string();
  if (p.name != stem)
    f.fail("name", "'" + p.name + "' differs from the file name '" + stem + "'", "name the file NAME.yaml");
  p.engine = f.str("engine");
  p.version = f.str("version");
  YAML::Node facts_node = f.node("facts");
  Fields ff(path, facts_node, "facts");
  for (const Fact& fact : facts()) {
    YAML::Node entry = ff.node(fact.key);
    Fields ef(path, entry, std::string("facts.") + fact.key);
    const std::string source = ef.str("source");
    if (source.empty())
      ef.fail("source", "a fact needs its source", "name the file and commit, the page, or say 'assumption: why'");
    YAML::Node value = ef.node_or_null("value");
    set_engine_fact(p, fact.key, value, ef.location(value.IsDefined() ? value : entry), source);
    ef.finish();
  }
  ff.finish();
  f.finish();
  if (p.cuda_graphs && p.capture_sizes.empty())
    throw InputError(path, "facts.capture_sizes", "CUDA graphs are on but no size is captured",
                     "list the captured batch sizes or set cuda_graphs false");
  return p;
}

std::string resolve_engine_path(const std::string& n, const std::string& root)
{
  namespace fs = std::filesystem;
  if (n.find('/') != std::string::npos || n.ends_with(".yaml")) {
    if (!path_exists(n))
      throw InputError(n, "engine", "engine profile file not found", "check the path");
    return n;
  }
  const fs::path dir = fs::path(root) / "workloads" / "engines";
  const fs::path p = dir / (n + ".yaml");
  if (path_exists(p))
    return p.string();
  std::set<std::string> names;
  if (is_folder(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".yaml")
        names.insert(e.path().stem().string());
  std::string list;
  for (const auto& s : names)
    list += (list.empty() ? "" : ", ") + s;
  throw InputError(p.string(), "engine", "unknown engine profile '" + n + "'",
                   list.empty() ? "give a path" : "use one of: " + list);
}

} // namespace moesim
