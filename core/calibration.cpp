#include "core/calibration.hpp"

#include "core/limits.hpp"
#include "core/op_models_yaml.hpp"
#include "core/yaml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace moesim {

double busbw_factor(OpKind kind, int n)
{
  switch (kind) {
    case OpKind::all_reduce: return 2.0 * (n - 1) / n;
    case OpKind::all_gather:
    case OpKind::reduce_scatter:
    case OpKind::all_to_all: return double(n - 1) / n;
    default: return 1.0; // sendrecv
  }
}

double CollectiveCurve::time_at(double bytes) const
{
  if (points.empty())
    return 0;
  if (bytes <= points.front().first)
    return points.front().second;
  if (bytes >= points.back().first)
    return points.back().second + (bytes - points.back().first) * busbw_factor(kind, ranks) / bus_bandwidth();
  auto hi = std::upper_bound(points.begin(), points.end(), bytes,
                             [](double b, const std::pair<double, double>& p) { return b < p.first; });
  auto lo = hi - 1;
  const double f = (std::log(bytes) - std::log(lo->first)) / (std::log(hi->first) - std::log(lo->first));
  return std::exp(std::log(lo->second) + f * (std::log(hi->second) - std::log(lo->second)));
}

double CollectiveCurve::bus_bandwidth() const
{
  double best = 0;
  for (const auto& [b, t] : points)
    if (t > 0)
      best = std::max(best, b * busbw_factor(kind, ranks) / t);
  return best;
}

double CollectiveCurve::alpha_at(double bytes) const
{
  return std::max(0.0, time_at(bytes) - bytes * busbw_factor(kind, ranks) / bus_bandwidth());
}

namespace {

struct KeyOf {
  OpKind kind;
  std::vector<double> operator()(const std::monostate&) const { return {}; }
  std::vector<double> operator()(const GemmShape& s) const
  {
    std::vector<double> k = {double(s.m), double(s.n), double(s.k)};
    if (s.batch != 1)
      k.push_back(double(s.batch));
    return k;
  }
  std::vector<double> operator()(const GroupedGemmShape& s) const
  {
    return {double(s.experts), s.total_rows(), double(s.n), double(s.k)};
  }
  std::vector<double> operator()(const AttentionShape& s) const
  {
    const double b = double(s.batch), h = double(s.q_heads), kvh = double(s.kv_heads);
    if (kind == OpKind::attention_decode)
      return s.mla ? std::vector<double>{b, h, double(s.context()), double(s.kv_lora_rank), double(s.rope_dim)}
                   : std::vector<double>{b, h, kvh, double(s.context()), double(s.head_dim_qk)};
    return s.mla ? std::vector<double>{b, h, double(s.prompt), double(s.cached), double(s.head_dim_qk),
                                       double(s.head_dim_v)}
                 : std::vector<double>{b, h, kvh, double(s.prompt), double(s.cached), double(s.head_dim_qk)};
  }
  std::vector<double> operator()(const RowsShape& s) const { return {s.elements()}; }
  std::vector<double> operator()(const ElementsShape& s) const { return {s.elements}; }
  std::vector<double> operator()(const TopkShape& s) const
  {
    return {double(s.tokens), double(s.experts), double(s.k)};
  }
  std::vector<double> operator()(const PermuteShape& s) const
  {
    return {double(s.tokens), double(s.k), double(s.hidden)};
  }
  std::vector<double> operator()(const EmbeddingShape& s) const { return {double(s.tokens), double(s.hidden)}; }
  std::vector<double> operator()(const SampleShape& s) const { return {double(s.rows), double(s.vocab)}; }
};

} // namespace

std::vector<double> kernel_key(const Op& op)
{
  return std::visit(KeyOf{op.kind}, op.shape);
}

std::optional<double> KernelCurve::time_of(const Op& op, bool* exact) const
{
  if (op.kind != kind || op.dtype != dtype)
    return std::nullopt;
  return time_of(kernel_key(op), exact);
}

std::optional<double> KernelCurve::time_of(const std::vector<double>& key, bool* exact) const
{
  if (key.size() != shape.size() || points.empty())
    return std::nullopt;
  for (size_t i = 0; i < shape.size(); i++)
    if (static_cast<int>(i) != vary && key[i] != shape[i])
      return std::nullopt;
  const double x = key[vary];
  if (x < points.front().first || x > points.back().first)
    return std::nullopt;
  auto hi = std::lower_bound(points.begin(), points.end(), x,
                             [](const std::pair<double, double>& p, double v) { return p.first < v; });
  if (exact)
    *exact = hi->first == x;
  if (hi->first == x)
    return hi->second;
  auto lo = hi - 1;
  return lo->second + (x - lo->first) / (hi->first - lo->first) * (hi->second - lo->second);
}

std::optional<double> Calibration::kernel_time(const Op& op, bool graph, bool* exact) const
{
  if (exact)
    *exact = true;
  // One pass over the curves of (kind, dtype) measured one way (graph or stream).
  auto lookup = [&](OpKind kind, const std::vector<double>& key, bool g) -> std::optional<double> {
    for (const KernelCurve& k : kernels)
      if (k.graph == g && k.kind == kind && k.dtype == op.dtype) {
        bool at_point = false;
        if (auto t = k.time_of(key, &at_point)) {
          if (exact)
            *exact = *exact && at_point;
          return t;
        }
      }
    return std::nullopt;
  };
  auto either = [&](OpKind kind, const std::vector<double>& key) -> std::optional<double> {
    if (graph)
      if (auto t = lookup(kind, key, true))
        return t;
    return lookup(kind, key, false);
  };
  if (op.kind == OpKind::grouped_gemm && op.kernels > 1 && !op.grouped().rows.empty()) {
    const GroupedGemmShape& gs = op.grouped();
    std::vector<double> key = {0, double(gs.n), double(gs.k)}; // one expert's GEMM {rows, n, k}
    double sum = 0;
    bool covered = true;
    for (long rows : round_group_rows(gs.rows)) {
      if (rows <= 0)
        continue;
      key[0] = static_cast<double>(rows);
      const std::optional<double> t = either(OpKind::gemm, key);
      if (!t) {
        covered = false;
        break;
      }
      sum += *t;
    }
    if (covered)
      return sum;
  }
  return either(op.kind, kernel_key(op));
}

std::optional<double> HostCosts::api_seconds(const std::string& name, bool busy, int threads) const
{
  for (bool state : {busy, !busy}) {
    const HostApiCost* lo = nullptr;
    const HostApiCost* hi = nullptr;
    for (const HostApiCost& a : api) // sorted by (api, busy, threads)
      if (a.api == name && a.busy == state) {
        if (a.threads <= threads)
          lo = &a;
        else if (!hi)
          hi = &a;
      }
    if (lo && hi)
      return lo->seconds + (hi->seconds - lo->seconds) * (threads - lo->threads) / double(hi->threads - lo->threads);
    if (lo || hi)
      return (lo ? lo : hi)->seconds;
  }
  return std::nullopt;
}

double Calibration::launch_seconds(const Op& op, double engine_launch_s, bool gpu_busy, int threads) const
{
  const char* api = op.is_comm() ? "nccl_call"
                    : op.kind == OpKind::gemm || op.kind == OpKind::grouped_gemm ? "cublaslt_call"
                                                                                 : "kernel_launch";
  if (auto t = host.api_seconds(api, gpu_busy, threads))
    return *t * (op.is_comm() ? 1 : op.kernels);
  const double base = host.launch_s.value_or(engine_launch_s);
  if (op.is_comm())
    return base;
  auto it = host.launch_s_by_kind.find(op.kind);
  return (it != host.launch_s_by_kind.end() ? it->second : base) * op.kernels;
}

double Calibration::host_seconds(const Calibration* cal, const Op& op, const EngineParams& engine, bool gpu_busy,
                                 int threads)
{
  double t = cal ? cal->launch_seconds(op, engine.launch_s, gpu_busy, threads)
                 : engine.launch_s * (op.is_comm() ? 1 : op.kernels);
  if (engine.timed_ops) {
    std::optional<double> ev = cal ? cal->host.api_seconds("event_record", gpu_busy, threads) : std::nullopt;
    if (!ev && cal)
      ev = cal->host.event_record_s;
    t += 2 * ev.value_or(engine.event_record_s);
  }
  return t;
}

const CollectiveCurve* Calibration::find(OpKind kind, int ranks) const
{
  for (const CollectiveCurve& c : collectives)
    if (c.kind == kind && c.ranks == ranks)
      return &c;
  return nullptr;
}

static Calibration parse_calibration(const std::string& path, const YAML::Node& root);

// One measured kernel or collective time is at most an hour; a dimension of a kernel's shape or
// point at most 1e12 (a GEMM side, a token count): past these a number is a typo, not a machine.
constexpr double measured_seconds_max = 3600;
constexpr double kernel_dim_max = 1e12;

Calibration load_calibration_file(const std::string& path)
{
  const YAML::Node root = load_yaml_file(path);
  try {
    return parse_calibration(path, root);
  } catch (const YAML::Exception& e) {
    // A value that is not what its key holds (text where a number goes): yaml-cpp's conversion
    // error, with the line it points at.
    throw InputError(path + ":" + std::to_string(e.mark.line + 1), "", "wrong type: " + e.msg,
                     "write numbers where numbers go (see platforms/calibration/*.yaml)");
  }
}

static Calibration parse_calibration(const std::string& path, const YAML::Node& root)
{
  Fields f(path, root, "");
  Calibration c;
  c.platform = f.str("platform");
  c.measured_on = f.str("measured_on");
  c.source = f.str("source");
  if (auto col = f.maybe("collectives")) {
    if (!col->IsSequence())
      f.fail("collectives", "expected a list", "write a list of {op, ranks, points}");
    for (const auto& n : *col) {
      Fields cf(path, n, "collectives[]");
      CollectiveCurve cv;
      const std::string op = cf.str("op");
      if (op == "all_reduce" || op == "all_gather" || op == "reduce_scatter" || op == "all_to_all")
        cv.kind = parse_op_kind(op);
      else if (op == "sendrecv")
        cv.kind = OpKind::send;
      else
        cf.fail("op", "unknown collective '" + op + "'", "use all_reduce, all_gather, reduce_scatter, all_to_all or sendrecv");
      cv.ranks = cf.integer("ranks");
      if (cv.ranks < 2)
        cf.fail("ranks", "must be at least 2", "give the group size the curve was measured on");
      YAML::Node pts = cf.node("points");
      if (!pts.IsSequence() || pts.size() == 0)
        cf.fail("points", "expected a non-empty list of [bytes, seconds]", "write e.g. [[1024, 1.2e-5], ...]");
      for (const auto& p : pts) {
        if (!p.IsSequence() || p.size() != 2)
          cf.fail("points", "each point is [bytes, seconds]", "write e.g. [1024, 1.2e-5]");
        const double b = cf.num_at(p[0], "points", positive(limits::nccl_tests_bytes));
        const double t = cf.num_at(p[1], "points", positive(measured_seconds_max));
        cv.points.push_back({b, t});
      }
      std::sort(cv.points.begin(), cv.points.end());
      for (size_t i = 1; i < cv.points.size(); i++)
        if (cv.points[i].first == cv.points[i - 1].first)
          cf.fail("points", "size " + std::to_string(cv.points[i].first) + " appears twice", "keep one time per size");
      cf.finish();
      c.collectives.push_back(std::move(cv));
    }
  }
  if (auto ker = f.maybe("kernels")) {
    if (!ker->IsSequence())
      f.fail("kernels", "expected a list", "write a list of {op, dtype, shape, vary, points}");
    for (const auto& n : *ker) {
      Fields kf(path, n, "kernels[]");
      KernelCurve k;
      try {
        k.kind = parse_op_kind(kf.str("op"));
      } catch (const std::invalid_argument& e) {
        kf.fail("op", e.what(), "use a compute op kind such as gemm or attention_decode");
      }
      if (op_class(k.kind) != OpClass::compute)
        kf.fail("op", "is not a compute op", "kernel curves are for compute ops; collectives go under collectives");
      try {
        k.dtype = parse_dtype(kf.str("dtype"));
      } catch (const std::invalid_argument& e) {
        kf.fail("dtype", e.what(), "write bf16, fp8, ...");
      }
      YAML::Node sh = kf.node("shape");
      if (!sh.IsSequence() || sh.size() == 0)
        kf.fail("shape", "expected a list of numbers",
                "write the ops' kernel_key (calibration.hpp), e.g. [0, 4096, 4096] for gemm {m, n, k}");
      for (const auto& d : sh)
        k.shape.push_back(kf.num_at(d, "shape", non_negative(kernel_dim_max)));
      k.vary = kf.integer("vary");
      if (kf.has("launch")) {
        const std::string l = kf.str("launch");
        if (l != "graph" && l != "stream")
          kf.fail("launch", "unknown value '" + l + "'", "write stream (launched one by one) or graph (captured in a CUDA graph)");
        k.graph = l == "graph";
      } else {
        kf.maybe("launch");
      }
      if (k.vary < 0 || k.vary >= static_cast<int>(k.shape.size()))
        kf.fail("vary", "is not an index into shape", "give the position of the dimension the points vary");
      YAML::Node pts = kf.node("points");
      if (!pts.IsSequence() || pts.size() == 0)
        kf.fail("points", "expected a non-empty list of [value, seconds]", "write e.g. [[1, 1.2e-5], [64, 2e-5]]");
      for (const auto& p : pts) {
        if (!p.IsSequence() || p.size() != 2)
          kf.fail("points", "each point is [value, seconds] with seconds > 0", "write e.g. [64, 2e-5]");
        k.points.push_back({kf.num_at(p[0], "points", non_negative(kernel_dim_max)),
                            kf.num_at(p[1], "points", positive(measured_seconds_max))});
      }
      std::sort(k.points.begin(), k.points.end());
      kf.finish();
      c.kernels.push_back(std::move(k));
    }
  }
  if (auto host = f.maybe("host")) {
    Fields hf(path, *host, "host");
    auto us = [&](const char* k, std::optional<double>& out) {
      if (hf.has(k)) {
        out = hf.num(k, positive(limits::engine_us)) * 1e-6;
      } else {
        hf.maybe(k);
      }
    };
    us("launch_us", c.host.launch_s);
    us("sync_us", c.host.sync_s);
    us("graph_launch_us", c.host.graph_launch_s);
    us("event_record_us", c.host.event_record_s);
    if (auto by = hf.maybe("launch_us_by_op")) {
      if (!by->IsMap())
        hf.fail("launch_us_by_op", "expected a map of op kind to microseconds", "write e.g. {gemm: 4.1, rmsnorm: 2.3}");
      for (const auto& kv : *by) {
        const std::string name = kv.first.as<std::string>();
        OpKind kind{};
        try {
          kind = parse_op_kind(name);
        } catch (const std::invalid_argument&) {
          hf.fail("launch_us_by_op", "unknown op kind '" + name + "'", "use compute op kinds such as gemm or rmsnorm");
        }
        if (op_class(kind) != OpClass::compute)
          hf.fail("launch_us_by_op", "'" + name + "' must be a compute op", "write e.g. {gemm: 4.1}");
        const double v = hf.num_at(kv.second, "launch_us_by_op." + name, positive(limits::engine_us));
        c.host.launch_s_by_kind[kind] = v * 1e-6;
      }
    }
    if (auto api = hf.maybe("api_us")) {
      if (!api->IsSequence())
        hf.fail("api_us", "expected a list of [api, gpu_state, threads, microseconds]",
                "write e.g. [[kernel_launch, busy, 1, 4.5]]");
      for (const auto& e : *api) {
        if (!e.IsSequence() || e.size() != 4)
          hf.fail("api_us", "each entry is [api, gpu_state, threads, microseconds]", "write e.g. [kernel_launch, idle, 4, 6.2]");
        HostApiCost a;
        a.api = e[0].as<std::string>();
        const std::string st = e[1].as<std::string>();
        const double threads = hf.num_at(e[2], "api_us", Bounds{1, 1024});
        a.threads = static_cast<int>(threads);
        a.seconds = hf.num_at(e[3], "api_us", positive(limits::engine_us)) * 1e-6;
        if ((st != "busy" && st != "idle") || a.threads != threads)
          hf.fail("api_us", "'" + a.api + "': the state is busy or idle, threads >= 1 and the time positive",
                  "write e.g. [kernel_launch, idle, 4, 6.2]");
        a.busy = st == "busy";
        c.host.api.push_back(a);
      }
      std::sort(c.host.api.begin(), c.host.api.end());
    }
    hf.finish();
  }
  if (auto om = f.maybe("op_models"))
    c.op_models = read_op_models(f, *om);
  if (auto comp = f.maybe("compute")) {
    Fields cf(path, *comp, "compute");
    auto opt = [&](const char* k, std::optional<double>& out, const Bounds& b) {
      if (cf.has(k))
        out = cf.num(k, b);
      else
        cf.maybe(k);
    };
    // Fractions of a peak, and fixed costs in seconds (a second per kernel or per message is
    // already far past any GPU's or NIC's).
    opt("mem_bw_eff", c.mem_bw_eff, fraction());
    opt("flops_eff", c.flops_eff, fraction());
    opt("kernel_overhead", c.kernel_overhead, positive(limits::engine_us * 1e-6));
    opt("p2p_alpha", c.p2p_alpha, positive(limits::engine_us * 1e-6));
    cf.finish();
  }
  f.finish();
  return c;
}

std::string calibration_to_yaml(const Calibration& c)
{
  std::ostringstream o;
  char buf[96];
  o << "# moesim calibration: what was measured on a real machine. Collective times (nccl-tests size\n"
    << "# convention) per group size give each collective's fixed cost and sustained bandwidth; kernel\n"
    << "# tables give compute-op times by shape (the roofline outside them); host costs replace the\n"
    << "# engine's launch, sync and graph-launch times.\n";
  o << "platform: " << c.platform << "\n";
  o << "measured_on: \"" << c.measured_on << "\"\n";
  o << "source: \"" << c.source << "\"\n";
  if (c.mem_bw_eff || c.flops_eff || c.kernel_overhead || c.p2p_alpha) {
    o << "compute:\n";
    if (c.mem_bw_eff)
      o << "  mem_bw_eff: " << *c.mem_bw_eff << "\n";
    if (c.flops_eff)
      o << "  flops_eff: " << *c.flops_eff << "\n";
    if (c.kernel_overhead)
      o << "  kernel_overhead: " << *c.kernel_overhead << "\n";
    if (c.p2p_alpha)
      o << "  p2p_alpha: " << *c.p2p_alpha << "\n";
  }
  if (!c.host.empty()) {
    o << "host:  # microseconds\n";
    auto line = [&](const char* k, const std::optional<double>& v) {
      if (v) {
        std::snprintf(buf, sizeof buf, "  %s: %.4g\n", k, *v * 1e6);
        o << buf;
      }
    };
    line("launch_us", c.host.launch_s);
    line("sync_us", c.host.sync_s);
    line("graph_launch_us", c.host.graph_launch_s);
    line("event_record_us", c.host.event_record_s);
    if (!c.host.launch_s_by_kind.empty()) {
      o << "  launch_us_by_op:\n";
      for (const auto& [k, v] : c.host.launch_s_by_kind) {
        std::snprintf(buf, sizeof buf, "    %s: %.4g\n", to_string(k), v * 1e6);
        o << buf;
      }
    }
    if (!c.host.api.empty()) {
      o << "  api_us:  # [api, gpu_state, threads, microseconds per call]\n";
      for (const HostApiCost& a : c.host.api) {
        std::snprintf(buf, sizeof buf, "    - [%s, %s, %d, %.4g]\n", a.api.c_str(), a.busy ? "busy" : "idle", a.threads,
                      a.seconds * 1e6);
        o << buf;
      }
    }
  }
  // Whole MoE layers (op_models.moe_layers) are not written yet: only the fitted models and gaps.
  if (!c.op_models.models.empty() || c.op_models.graph_gap_s || c.op_models.bracket_gap_eager_s ||
      c.op_models.bracket_gap_graph_s)
    write_op_models(o, c.op_models);
  if (!c.kernels.empty()) {
    o << "kernels:\n";
    for (const KernelCurve& k : c.kernels) {
      o << "  - op: " << to_string(k.kind) << "\n    dtype: " << to_string(k.dtype) << "\n    shape: [";
      for (size_t i = 0; i < k.shape.size(); i++) {
        std::snprintf(buf, sizeof buf, "%s%.17g", i ? ", " : "", k.shape[i]);
        o << buf;
      }
      o << "]\n    vary: " << k.vary << "\n";
      if (k.graph)
        o << "    launch: graph\n";
      o << "    points:  # [value, seconds]\n";
      for (const auto& [x, t] : k.points) {
        std::snprintf(buf, sizeof buf, "      - [%.6g, %.6g]\n", x, t);
        o << buf;
      }
    }
  }
  if (!c.collectives.empty())
    o << "collectives:\n";
  for (const CollectiveCurve& cv : c.collectives) {
    o << "  - op: " << (cv.kind == OpKind::send ? "sendrecv" : to_string(cv.kind)) << "\n";
    o << "    ranks: " << cv.ranks << "\n";
    o << "    points:  # [bytes, seconds]\n";
    for (const auto& [b, t] : cv.points) {
      std::snprintf(buf, sizeof buf, "      - [%.0f, %.6g]\n", b, t);
      o << buf;
    }
  }
  return o.str();
}

} // namespace moesim
