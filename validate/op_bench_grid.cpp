#include "validate/op_bench_grid.hpp"

#include "core/error.hpp"
#include "core/schedule.hpp" // round_group_rows

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace moesim::validate::opbench {

namespace {

constexpr double GiB = 1024.0 * 1024 * 1024;
constexpr double startup_s = 8; // CUDA context, cuBLAS handles, device queries, writing the files

// ---- presets: NVIDIA datasheet leads (dense tensor-core rates, HBM bandwidth) ----------------
struct Preset {
  const char* key;
  const char* match; // substring of the device name
  int cc, sms;
  double bf16, fp8, fp4, bw, l2, mem;
};
const Preset presets[] = {
    {"h200", "H200", 90, 132, 989e12, 1979e12, 0, 4.8e12, 60.0 * 1048576, 141e9}, // L2 as the device reports it
    {"h100", "H100", 90, 132, 989e12, 1979e12, 0, 3.35e12, 50.0 * 1048576, 80e9},
    {"a100", "A100", 80, 108, 312e12, 0, 0, 2.0e12, 40.0 * 1048576, 80e9},
    {"b200", "B200", 100, 148, 2250e12, 4500e12, 9000e12, 8.0e12, 126.0 * 1048576, 180e9},
};

DeviceRates from_preset(const Preset& p)
{
  DeviceRates d;
  d.name = std::string("NVIDIA ") + p.match;
  d.cc = p.cc, d.sms = p.sms;
  d.bf16_flops = p.bf16, d.fp8_flops = p.fp8, d.fp4_flops = p.fp4;
  d.mem_bw = p.bw, d.l2_bytes = p.l2, d.mem_bytes = p.mem;
  return d;
}

// ---- ranking: level, then a fixed hash ---------------------------------------------------------
std::uint64_t hash_of(const std::string& s)
{
  std::uint64_t h = 1469598103934665603ULL; // FNV-1a, then a splitmix64 finaliser
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ULL;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

struct Ranked {
  int level;
  std::uint64_t hash;
  std::string text;
  Point point;
};

// Axes of long values; `categorical` axes (dtypes, implementations) do not add levels.
struct Axis {
  std::vector<long> values;
  bool categorical = false;
};

// Every combination of the axes' values, through make (which may refuse one: nullopt-like false).
void grid(const std::vector<Axis>& axes, const std::function<bool(const std::vector<long>&, Point&)>& make,
          std::vector<Ranked>& out)
{
  std::vector<std::size_t> idx(axes.size(), 0);
  std::vector<long> v(axes.size());
  while (true) {
    int level = 0;
    for (std::size_t a = 0; a < axes.size(); a++) {
      v[a] = axes[a].values[idx[a]];
      if (!axes[a].categorical)
        level = std::max(level, axis_level(idx[a], axes[a].values.size()));
    }
    Point p;
    if (make(v, p)) {
      std::string t = describe(p);
      out.push_back({level, hash_of(t), std::move(t), std::move(p)});
    }
    std::size_t a = 0;
    for (; a < axes.size(); a++) {
      if (++idx[a] < axes[a].values.size())
        break;
      idx[a] = 0;
    }
    if (a == axes.size())
      return;
  }
}

std::vector<Point> ordered(std::vector<Ranked> r)
{
  std::stable_sort(r.begin(), r.end(), [](const Ranked& a, const Ranked& b) {
    if (a.level != b.level)
      return a.level < b.level;
    if (a.hash != b.hash)
      return a.hash < b.hash;
    return a.text < b.text;
  });
  std::vector<Point> out;
  out.reserve(r.size());
  for (Ranked& x : r)
    out.push_back(std::move(x.point));
  return out;
}

std::vector<long> indices(std::size_t n)
{
  std::vector<long> v(n);
  std::iota(v.begin(), v.end(), 0L);
  return v;
}

std::vector<long> powers(long from, long to, long factor)
{
  std::vector<long> v;
  for (long x = from; x <= to; x *= factor)
    v.push_back(x);
  return v;
}

double es_of(Dtype d)
{
  return d == Dtype::fp8 ? 1.0 : 2.0;
}

double tensor_rate(Dtype d, const DeviceRates& r)
{
  return d == Dtype::fp8 ? r.fp8_flops : r.bf16_flops;
}

std::vector<Dtype> gemm_dtypes(const DeviceRates& d)
{
  std::vector<Dtype> v = {Dtype::bf16};
  if (d.cc >= 89 && d.fp8_flops > 0)
    v.push_back(Dtype::fp8);
  return v;
}

// ---- candidate grids ----------------------------------------------------------------------------
std::vector<Point> gemm_candidates(const DeviceRates& d)
{
  const std::vector<Dtype> dts = gemm_dtypes(d);
  std::vector<Ranked> r;
  grid({{indices(dts.size()), true}, {powers(1, 16384, 2)}, {powers(128, 262144, 2)},
        {powers(128, 16384, 2)}},
       [&](const std::vector<long>& v, Point& p) {
         GemmPoint g{dts[static_cast<std::size_t>(v[0])], v[1], v[2], v[3]};
         const double flops = 2.0 * g.m * g.n * g.k;
         const double bytes = (double(g.m) * g.k + double(g.n) * g.k) * es_of(g.dtype) + double(g.m) * g.n * 2;
         if (flops > 1.2e13 || bytes > 12 * GiB) // prefill-sized and beyond: no step runs these
           return false;
         p = g;
         return true;
       },
       r);
  return ordered(std::move(r));
}

const std::vector<std::string> dists = {"uniform", "zipf", "sparse"};

std::vector<Point> grouped_candidates(const DeviceRates& d)
{
  const std::vector<Dtype> dts = gemm_dtypes(d);
  std::vector<Ranked> r;
  grid({{indices(dts.size()), true},
        {{0, 1}, true},
        {{0, 1, 2}, true},
        {powers(256, 32768, 2)}, // wide experts' fused gate+up: Mixtral-8x22B's 2 x 16,384
        {powers(512, 16384, 2)}, // and their down projection's k
        {powers(8, 256, 2)},
        {{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 131072}}},
       [&](const std::vector<long>& v, Point& p) {
         GroupedPoint g;
         g.dtype = dts[static_cast<std::size_t>(v[0])];
         g.fused = v[1] == 0;
         g.dist = dists[static_cast<std::size_t>(v[2])];
         g.n = static_cast<int>(v[3]), g.k = static_cast<int>(v[4]), g.experts = static_cast<int>(v[5]);
         g.tokens = v[6];
         const double weights = double(g.experts) * g.n * g.k * es_of(g.dtype);
         if (weights > 8 * GiB || 2.0 * g.tokens * g.n * g.k > 1.2e13)
           return false;
         g.rows = expert_rows(g.tokens, g.experts, g.dist);
         p = std::move(g);
         return true;
       },
       r);
  return ordered(std::move(r));
}

double kv_bytes(const AttnPoint& a)
{
  if (a.decode)
    return a.mla ? double(a.batch) * a.context * a.qk * 2 : double(a.batch) * a.context * a.kv_heads * (a.qk + a.v) * 2.0;
  return double(a.batch) * (a.cached + a.prompt) * a.kv_heads * (a.qk + a.v) * 2.0;
}

std::vector<Point> decode_candidates(const DeviceRates& d)
{
  std::vector<Ranked> r;
  const std::vector<long> batches = {1, 4, 16, 64, 256, 1024}, contexts = {128, 512, 2048, 8192, 32768, 131072};
  // GQA: query heads per GPU, group size (query heads per KV head), head dim.
  grid({{batches}, {contexts}, {{4, 8, 16, 32, 64, 128}}, {{1, 4, 8, 16}}, {{64, 96, 128, 192, 256}}},
       [&](const std::vector<long>& v, Point& p) {
         AttnPoint a;
         a.decode = true;
         a.batch = static_cast<int>(v[0]), a.context = v[1], a.q_heads = static_cast<int>(v[2]);
         if (a.q_heads % v[3] != 0)
           return false;
         a.kv_heads = static_cast<int>(a.q_heads / v[3]);
         a.qk = a.v = static_cast<int>(v[4]);
         if (kv_bytes(a) > std::min(16 * GiB, 0.25 * d.mem_bytes))
           return false;
         p = a;
         return true;
       },
       r);
  // MLA over the latent cache: heads per GPU, kv_lora_rank (rope 64).
  grid({{batches}, {contexts}, {{8, 16, 32, 64, 128}}, {{256, 384, 512}}},
       [&](const std::vector<long>& v, Point& p) {
         AttnPoint a;
         a.decode = true, a.mla = true;
         a.batch = static_cast<int>(v[0]), a.context = v[1], a.q_heads = static_cast<int>(v[2]), a.kv_heads = 1;
         a.kv_lora = static_cast<int>(v[3]), a.rope = 64;
         a.qk = a.kv_lora + a.rope, a.v = a.kv_lora;
         if (kv_bytes(a) > std::min(16 * GiB, 0.25 * d.mem_bytes))
           return false;
         p = a;
         return true;
       },
       r);
  return ordered(std::move(r));
}

std::vector<Point> prefill_candidates(const DeviceRates& d)
{
  std::vector<Ranked> r;
  // (qk, v): GQA head dims and MLA's nope + rope over v, run as multi-head attention.
  const std::vector<std::pair<int, int>> dims = {{64, 64}, {128, 128}, {192, 128}, {256, 256}, {96, 96}};
  grid({{{128, 512, 2048, 8192, 16384}}, {{1, 4}}, {{0, 1}}, {{8, 16, 32, 64}}, {{1, 8}}, {{0, 1, 2, 3, 4}}},
       [&](const std::vector<long>& v, Point& p) {
         AttnPoint a;
         a.decode = false;
         a.prompt = v[0], a.batch = static_cast<int>(v[1]);
         a.cached = v[2] ? a.prompt : 0; // a fresh prompt, or a second chunk after one as long
         a.q_heads = static_cast<int>(v[3]);
         a.kv_heads = static_cast<int>(a.q_heads / v[4]);
         a.qk = dims[static_cast<std::size_t>(v[5])].first, a.v = dims[static_cast<std::size_t>(v[5])].second;
         if (a.batch * a.prompt > 32768 || kv_bytes(a) > std::min(16 * GiB, 0.25 * d.mem_bytes))
           return false;
         p = a;
         return true;
       },
       r);
  return ordered(std::move(r));
}

std::vector<Point> small_candidates(const DeviceRates&)
{
  std::vector<Ranked> r;
  const std::vector<long> rows = powers(1, 16384, 4); // 1, 4, .. 16384
  auto add = [&](const std::string& op, const std::vector<Axis>& axes,
                 const std::function<void(const std::vector<long>&, SmallPoint&)>& set) {
    grid(axes,
         [&](const std::vector<long>& v, Point& p) {
           SmallPoint s;
           s.op = op;
           set(v, s);
           if (s.op == "topk" && s.k > s.experts)
             return false;
           p = s;
           return true;
         },
         r);
  };
  add("rmsnorm", {{rows}, {{512, 1024, 2048, 4096, 8192}}}, [](auto& v, SmallPoint& s) { s.rows = v[0], s.width = v[1]; });
  add("silu_mul", {{rows}, {{256, 1024, 4096, 16384}}}, [](auto& v, SmallPoint& s) { s.rows = v[0], s.width = v[1]; });
  add("residual_add", {{powers(1024, 268435456, 4)}}, [](auto& v, SmallPoint& s) { s.rows = v[0], s.width = 1; });
  add("topk", {{rows}, {{8, 32, 128, 256, 384}}, {{1, 2, 4, 8}}},
      [](auto& v, SmallPoint& s) { s.rows = v[0], s.width = v[1], s.experts = static_cast<int>(v[1]), s.k = static_cast<int>(v[2]); });
  add("permute", {{rows}, {{1024, 4096, 8192}}, {{1, 2, 4, 8}}, {{8, 128}}}, [](auto& v, SmallPoint& s) {
    s.rows = v[0], s.width = v[1], s.k = static_cast<int>(v[2]), s.experts = static_cast<int>(v[3]);
  });
  add("unpermute", {{rows}, {{1024, 4096, 8192}}, {{1, 2, 4, 8}}},
      [](auto& v, SmallPoint& s) { s.rows = v[0], s.width = v[1], s.k = static_cast<int>(v[2]); });
  add("embedding", {{rows}, {{1024, 4096, 8192}}},
      [](auto& v, SmallPoint& s) { s.rows = v[0], s.width = v[1], s.vocab = 32768; });
  add("sample", {{powers(1, 1024, 4)}, {{8192, 32768, 131072, 262144}}},
      [](auto& v, SmallPoint& s) { s.rows = v[0], s.vocab = v[1]; });
  add("router", {{rows}, {{1024, 4096, 8192}}, {{8, 64, 128, 256, 384}}},
      [](auto& v, SmallPoint& s) { s.rows = v[0], s.width = v[1], s.experts = static_cast<int>(v[2]); });
  return ordered(std::move(r));
}

std::vector<Point> gap_candidates()
{
  std::vector<Point> v;
  for (int n : {16, 64, 4, 128, 2, 32, 8}) // coarse first
    v.push_back(GapPoint{n});
  return v;
}

std::vector<Point> host_candidates(const DeviceRates& d)
{
  std::vector<Point> v;
  const int most = std::max(d.gpus, 4);
  for (int t = 1; t < most; t *= 2)
    v.push_back(HostPoint{t});
  v.push_back(HostPoint{most});
  return v;
}

// ---- costs ----------------------------------------------------------------------------------------
double flush_seconds(const DeviceRates& d)
{
  return std::max(2 * d.l2_bytes, 8.0 * 1048576) / d.mem_bw + 4e-6;
}

double gemm_op(Dtype dt, double m, double n, double k, bool f32_out, const DeviceRates& d)
{
  const double compute = 2 * m * n * k / (0.7 * tensor_rate(dt, d));
  const double bytes = (m * k + n * k) * es_of(dt) + m * n * (f32_out ? 4 : 2);
  return std::max(compute, bytes / (0.8 * d.mem_bw)) + 4e-6;
}

// Buffers a point's setup allocates and fills (bytes), and the instances timed back to back.
double weight_bytes(const Point& p)
{
  if (auto* g = std::get_if<GemmPoint>(&p))
    return double(g->n) * g->k * es_of(g->dtype);
  if (auto* g = std::get_if<GroupedPoint>(&p))
    return double(g->experts) * g->n * g->k * es_of(g->dtype);
  if (auto* a = std::get_if<AttnPoint>(&p))
    return kv_bytes(*a);
  // Greedy sampling's fp32 logits: each instance reads its own, cold, as a step's sample reads logits
  // no op of the step wrote just before (op_bench_small.cpp).
  if (auto* s = std::get_if<SmallPoint>(&p); s && s->op == "sample")
    return double(s->rows) * s->vocab * 4;
  return 0;
}

int launches_of(const Point& p)
{
  if (auto* g = std::get_if<GroupedPoint>(&p)) {
    if (g->fused)
      return 1;
    return static_cast<int>(std::count_if(g->rows.begin(), g->rows.end(), [](long r) { return r > 0; }));
  }
  if (auto* s = std::get_if<SmallPoint>(&p))
    return s->op == "permute" ? 2 : 1;
  if (auto* a = std::get_if<AttnPoint>(&p))
    return a->decode ? 2 : 1; // decode usually splits the keys: the attention and its combine
  return 1;
}

} // namespace

int instances_for(const Point& p, const DeviceRates& d)
{
  const double w = weight_bytes(p);
  const int cap = std::holds_alternative<AttnPoint>(p) ? 8 : 16;
  int n = w <= 0 ? 8 : static_cast<int>(std::clamp(std::floor(GiB / w), 1.0, double(cap)));
  n = std::min(n, std::max(1, 256 / std::max(1, launches_of(p))));
  const double op = op_seconds(p, d);
  if (op > 0)
    n = std::min(n, static_cast<int>(std::clamp(std::floor(2e-3 / op), 1.0, 16.0)));
  return n;
}

DeviceRates preset_rates(const std::string& key)
{
  for (const Preset& p : presets)
    if (key == p.key)
      return from_preset(p);
  throw InputError("command line", "--gpu", "unknown GPU '" + key + "'", "use h200, h100, a100 or b200");
}

DeviceRates rates_for_device(const std::string& name, int cc, int sms, double mem_bytes, double l2_bytes, int gpus)
{
  DeviceRates d;
  bool found = false;
  for (const Preset& p : presets)
    if (name.find(p.match) != std::string::npos) {
      d = from_preset(p);
      found = true;
      break;
    }
  if (!found) { // unknown: the H100's rates per SM, FP8 from compute capability 8.9
    d = from_preset(presets[1]);
    const double f = sms > 0 ? double(sms) / 132 : 1.0;
    d.bf16_flops *= f;
    d.fp8_flops = cc >= 89 ? d.fp8_flops * f : 0;
  }
  d.name = name;
  d.cc = cc;
  if (sms > 0)
    d.sms = sms;
  if (mem_bytes > 0)
    d.mem_bytes = mem_bytes;
  if (l2_bytes > 0)
    d.l2_bytes = l2_bytes;
  d.gpus = std::max(1, gpus);
  return d;
}

const char* to_string(Family f)
{
  switch (f) {
    case Family::gemm: return "gemm";
    case Family::grouped_gemm: return "grouped_gemm";
    case Family::attention_decode: return "attention_decode";
    case Family::attention_prefill: return "attention_prefill";
    case Family::small: return "small";
    case Family::graph_gap: return "graph_gap";
    case Family::host: return "host";
  }
  return "?";
}

const std::vector<Family>& all_families()
{
  // The cheap families first, so that a run cut short still has the floors, gaps and host costs.
  static const std::vector<Family> all = {Family::small, Family::graph_gap, Family::host, Family::gemm,
                                          Family::grouped_gemm, Family::attention_decode,
                                          Family::attention_prefill};
  return all;
}

Family parse_family(const std::string& s)
{
  for (Family f : all_families())
    if (s == to_string(f))
      return f;
  throw std::invalid_argument("unknown op family '" + s +
                              "' (use gemm, grouped_gemm, attention_decode, attention_prefill, small, graph_gap, host)");
}

double family_share(Family f)
{
  switch (f) {
    case Family::gemm: return 0.30;
    case Family::grouped_gemm: return 0.24;
    case Family::attention_decode: return 0.17;
    case Family::attention_prefill: return 0.08;
    case Family::small: return 0.13;
    case Family::graph_gap: return 0.03;
    case Family::host: return 0.05;
  }
  return 0;
}

Family family_of(const Point& p)
{
  if (std::holds_alternative<GemmPoint>(p))
    return Family::gemm;
  if (std::holds_alternative<GroupedPoint>(p))
    return Family::grouped_gemm;
  if (auto* a = std::get_if<AttnPoint>(&p))
    return a->decode ? Family::attention_decode : Family::attention_prefill;
  if (std::holds_alternative<SmallPoint>(p))
    return Family::small;
  if (std::holds_alternative<GapPoint>(p))
    return Family::graph_gap;
  return Family::host;
}

std::string describe(const Point& p)
{
  std::ostringstream o;
  if (auto* g = std::get_if<GemmPoint>(&p)) {
    o << "gemm " << to_string(g->dtype) << " m=" << g->m << " n=" << g->n << " k=" << g->k;
  } else if (auto* g = std::get_if<GroupedPoint>(&p)) {
    const long active = std::count_if(g->rows.begin(), g->rows.end(), [](long r) { return r > 0; });
    o << "grouped_gemm " << to_string(g->dtype) << " " << (g->fused ? "fused" : "loop") << " n=" << g->n << " k=" << g->k
      << " experts=" << g->experts << " tokens=" << g->tokens << " " << g->dist << " (" << active << " active)";
  } else if (auto* a = std::get_if<AttnPoint>(&p)) {
    o << (a->decode ? "attention_decode " : "attention_prefill ") << (a->mla ? "mla" : "gqa") << " batch=" << a->batch
      << " heads=" << a->q_heads << "/" << a->kv_heads << " dims=" << a->qk << "/" << a->v;
    if (a->decode)
      o << " context=" << a->context;
    else
      o << " prompt=" << a->prompt << " cached=" << a->cached;
    if (a->window)
      o << " window=" << a->window;
  } else if (auto* s = std::get_if<SmallPoint>(&p)) {
    o << s->op << " rows=" << s->rows;
    if (s->width > 1)
      o << " width=" << s->width;
    if (s->k)
      o << " k=" << s->k;
    if (s->experts)
      o << " experts=" << s->experts;
    if (s->vocab)
      o << " vocab=" << s->vocab;
    if (s->cold_inputs)
      o << " inputs=cold";
  } else if (auto* g = std::get_if<GapPoint>(&p)) {
    o << "graph_gap kernels=" << g->kernels; // a plain chain's text is that of every earlier run
    if (g->distinct != 1)
      o << " distinct=" << g->distinct;
    if (g->events)
      o << " events=" << g->events;
  } else if (auto* h = std::get_if<HostPoint>(&p)) {
    o << "host threads=" << h->threads;
  }
  return o.str();
}

double small_kernel_bytes(const SmallPoint& s)
{
  const double r = double(s.rows), w = double(s.width);
  if (s.op == "rmsnorm")
    return 2 * r * w * 2 + w * 2;
  if (s.op == "silu_mul")
    return r * w * 3 * 2;
  if (s.op == "residual_add")
    return 3 * r * 2;
  if (s.op == "topk")
    return r * w * 4 + r * s.k * 8;
  if (s.op == "permute")
    return r * w * 2 + r * s.k * w * 2 + r * s.k * 8;
  if (s.op == "unpermute")
    return r * s.k * w * 2 + r * w * 2 + r * s.k * 8;
  if (s.op == "embedding")
    return 2 * r * w * 2 + r * 4;
  if (s.op == "sample")
    return r * double(s.vocab) * 4 + r * 8;
  if (s.op == "router")
    return r * w * 2 + w * s.experts * 2 + r * s.experts * 4;
  return 0;
}

double small_kernel_elements(const SmallPoint& s)
{
  const double r = double(s.rows), w = double(s.width);
  if (s.op == "residual_add")
    return r;
  if (s.op == "permute" || s.op == "unpermute")
    return r * s.k * w;
  if (s.op == "sample")
    return r * double(s.vocab);
  return r * w; // rmsnorm, silu_mul, topk (width = experts), embedding, router
}

std::vector<long> expert_rows(long tokens, int experts, const std::string& dist)
{
  if (experts < 1 || tokens < 0)
    throw std::invalid_argument("expert_rows: needs experts >= 1 and tokens >= 0");
  std::vector<long> rows(static_cast<std::size_t>(experts), 0);
  if (dist == "uniform") {
    for (int e = 0; e < experts; e++)
      rows[static_cast<std::size_t>(e)] = tokens / experts + (e < tokens % experts ? 1 : 0);
  } else if (dist == "zipf") {
    std::vector<double> w(static_cast<std::size_t>(experts));
    double sum = 0;
    for (int e = 0; e < experts; e++)
      sum += (w[static_cast<std::size_t>(e)] = 1.0 / (e + 1));
    for (double& x : w)
      x = x * double(tokens) / sum;
    rows = round_group_rows(w);
  } else if (dist == "sparse") {
    const int active = (experts + 7) / 8;
    for (int j = 0; j < active; j++)
      rows[static_cast<std::size_t>(j) * 8] = tokens / active + (j < tokens % active ? 1 : 0);
  } else {
    throw std::invalid_argument("unknown distribution '" + dist + "' (use uniform, zipf or sparse)");
  }
  return rows;
}

int axis_level(std::size_t i, std::size_t n)
{
  if (i % 4 == 0 || i + 1 == n)
    return 0;
  return i % 2 == 0 ? 1 : 2;
}

std::vector<Point> candidates(Family f, const DeviceRates& d)
{
  switch (f) {
    case Family::gemm: return gemm_candidates(d);
    case Family::grouped_gemm: return grouped_candidates(d);
    case Family::attention_decode: return decode_candidates(d);
    case Family::attention_prefill: return prefill_candidates(d);
    case Family::small: return small_candidates(d);
    case Family::graph_gap: return gap_candidates();
    case Family::host: return host_candidates(d);
  }
  return {};
}

double op_seconds(const Point& p, const DeviceRates& d)
{
  if (auto* g = std::get_if<GemmPoint>(&p))
    return gemm_op(g->dtype, double(g->m), double(g->n), double(g->k), false, d);
  if (auto* g = std::get_if<GroupedPoint>(&p)) {
    if (!g->fused) {
      double t = 0;
      for (long r : g->rows)
        if (r > 0)
          t += gemm_op(g->dtype, double(r), g->n, g->k, false, d);
      return t;
    }
    const double active = double(std::count_if(g->rows.begin(), g->rows.end(), [](long r) { return r > 0; }));
    const double bytes = active * g->n * g->k * es_of(g->dtype) + double(g->tokens) * (g->k * es_of(g->dtype) + g->n * 2);
    const double compute = 2.0 * g->tokens * g->n * g->k / (0.5 * tensor_rate(g->dtype, d)); // mma.sync
    return std::max(bytes / (0.7 * d.mem_bw), compute) + 5e-6;
  }
  if (auto* a = std::get_if<AttnPoint>(&p)) {
    if (a->decode) {
      const double flops = 2.0 * a->batch * a->q_heads * a->context * (a->qk + a->v);
      const double eff = a->mla ? 0.12 : 0.15; // mma.sync flash attention (kernels/attention.cu)
      return std::max(kv_bytes(*a) / (0.75 * d.mem_bw), flops / (eff * d.bf16_flops)) + 8e-6;
    }
    const double keys = double(a->cached) + a->prompt / 2.0; // causal: half the prompt on average
    const double flops = 2.0 * a->batch * a->q_heads * a->prompt * keys * (a->qk + a->v);
    return std::max(kv_bytes(*a) / (0.75 * d.mem_bw), flops / (0.13 * d.bf16_flops)) + 10e-6;
  }
  if (auto* s = std::get_if<SmallPoint>(&p)) {
    double t = small_kernel_bytes(*s) / (0.7 * d.mem_bw) + 3e-6;
    if (s->op == "router")
      t = std::max(t, gemm_op(Dtype::bf16, double(s->rows), s->experts, double(s->width), true, d));
    return t;
  }
  // About 2 us a kernel plus its gap, 1 us an event record; event pairs alone follow a 20 us kernel.
  if (auto* g = std::get_if<GapPoint>(&p))
    return g->kernels * 3e-6 + g->events * 2e-6 + (g->kernels == 0 ? 20e-6 : 0);
  return 0;
}

void check_gap_point(const GapPoint& p)
{
  constexpr int most = kGapMost;
  auto word = [](const char* key, int v) { return std::string("'") + key + "=" + std::to_string(v) + "'"; };
  if (p.kernels < 0 || p.kernels > most)
    throw std::invalid_argument(word("kernels", p.kernels) + " is not a chain of 0 .. " + std::to_string(most) + " kernels");
  if (p.distinct < 1 || p.distinct > kGapDistinctMost)
    throw std::invalid_argument(word("distinct", p.distinct) + " is not 1 .. " + std::to_string(kGapDistinctMost) +
                                " kernel functions");
  if (p.events < 0 || p.events > most)
    throw std::invalid_argument(word("events", p.events) + " is not 0 .. " + std::to_string(most) + " event pairs");
  if (p.kernels == 0) {
    if (p.events < 2)
      throw std::invalid_argument(word("events", p.events) + ": a point of no kernels times at least 2 event pairs");
    if (p.distinct != 1)
      throw std::invalid_argument(word("distinct", p.distinct) + ": a point of no kernels has no kernel functions");
    return;
  }
  if (p.kernels < 2)
    throw std::invalid_argument(word("kernels", p.kernels) + ": a chain has at least 2 kernels (or 0, with events)");
  if (p.distinct > p.kernels)
    throw std::invalid_argument(word("distinct", p.distinct) + ": more kernel functions than the chain's " +
                                std::to_string(p.kernels) + " kernels");
  if (p.events != 0 && p.events != p.kernels)
    throw std::invalid_argument(word("events", p.events) + ": a chain's events bracket each kernel: events=" +
                                std::to_string(p.kernels) + ", or 0");
}

double estimate_seconds(const Point& p, const DeviceRates& d, const CostModel& c)
{
  if (auto* h = std::get_if<HostPoint>(&p)) // NCCL and cuBLAS setup per thread, 6 APIs x 2 states
    return 1.0 + 0.25 * h->threads;
  const double op = op_seconds(p, d);
  const int reps = c.iters + c.warmup;
  if (auto* g = std::get_if<GapPoint>(&p)) { // chains of 1 and N, captured and fused, 2 launch modes
    // Per timing of both launch modes, as for a plain chain: the chain and one kernel (2 timings),
    // a bracketed chain also with its events (3), N event pairs and one pair (2). The timing with
    // the events waits on the GPU while the host queues them (bench_timer.hpp: 25 us a call, 2 a
    // pair, each repetition), and event points run once more from a stream behind a 1 ms wait,
    // which reads each event pair's own span.
    if (g->events == 0) // a plain or distinct chain: the estimate of earlier runs
      return 2 * (2e-3 + reps * (2 * op + 2 * flush_seconds(d))) + 0.01;
    const double timing = 2e-3 + reps * (2 * op + 2 * flush_seconds(d)) + 0.005;
    return (g->kernels > 0 ? 3 : 2) * timing + reps * 25e-6 * 2 * g->events + 3e-3 + op;
  }
  const int inst = instances_for(p, d);
  const int launches = launches_of(p);
  const double work = reps * (flush_seconds(d) + inst * op);
  const double stream = 1e-3 + reps * (60e-6 + inst * 25e-6 * launches) + work;
  const double graph = 1e-3 + reps * 100e-6 + work + 100e-6 + 5e-6 * inst * launches;
  // Setup: allocate and fill (weights per instance, activations; a cold point's inputs per instance), plan.
  const auto* cold = std::get_if<SmallPoint>(&p);
  const double bytes = weight_bytes(p) * inst + (cold && cold->cold_inputs ? small_kernel_bytes(*cold) * inst : 0) + 64e6;
  const double setup = 3e-3 + bytes / (0.4 * d.mem_bw) + 1e-3;
  // Verification: one run, copies back, the CPU reference (about 1 GFLOP/s in double).
  double cpu_ops = 1e5;
  if (auto* g = std::get_if<GemmPoint>(&p))
    cpu_ops = 8.0 * 16 * 2 * g->k;
  else if (auto* g = std::get_if<GroupedPoint>(&p))
    cpu_ops = 8.0 * 2 * 16 * 2 * g->k;
  else if (auto* a = std::get_if<AttnPoint>(&p))
    cpu_ops = (a->decode ? 4.0 : 6.0) * 2 * double(a->decode ? a->context : a->cached + a->prompt) * (a->qk + a->v);
  const double verify = op + cpu_ops / 1e9 + 2e-3;
  return stream + graph + setup + verify;
}

Plan make_plan(const DeviceRates& d, double budget_s, const CostModel& c, const std::vector<Family>& families,
               int shard, int shards, const std::set<std::string>& measured)
{
  const std::vector<Family>& fams = families.empty() ? all_families() : families;
  Plan plan;
  plan.budget_s = budget_s;
  const double usable = std::max(0.0, budget_s - startup_s) * std::max(1, shards);
  double share_sum = 0;
  for (Family f : fams)
    share_sum += family_share(f);
  struct Work {
    std::vector<Point> cand;
    std::vector<double> est;
    std::size_t taken = 0;
    double used = 0, budget = 0;
  };
  std::vector<Work> work(fams.size());
  auto take = [](Work& w) { // the longest prefix that fits
    while (w.taken < w.cand.size() && w.used + w.est[w.taken] <= w.budget)
      w.used += w.est[w.taken++];
  };
  for (std::size_t i = 0; i < fams.size(); i++) {
    Work& w = work[i];
    for (Point& p : candidates(fams[i], d))
      if (measured.count(describe(p)) == 0)
        w.cand.push_back(std::move(p));
      else
        plan.measured++;
    for (const Point& p : w.cand)
      w.est.push_back(estimate_seconds(p, d, c));
    w.budget = share_sum > 0 ? usable * family_share(fams[i]) / share_sum : 0;
    take(w);
  }
  // What finished families leave goes to the cut ones, in proportion to their shares.
  double left = 0, cut_shares = 0;
  for (std::size_t i = 0; i < fams.size(); i++) {
    if (work[i].taken == work[i].cand.size()) {
      left += work[i].budget - work[i].used;
      work[i].budget = work[i].used;
    } else {
      cut_shares += family_share(fams[i]);
    }
  }
  if (cut_shares == 0) // every family whole: what is left stays unassigned
    left = 0;
  for (std::size_t i = 0; i < fams.size(); i++)
    if (work[i].taken < work[i].cand.size() && cut_shares > 0) {
      work[i].budget += left * family_share(fams[i]) / cut_shares;
      take(work[i]);
    }
  for (std::size_t i = 0; i < fams.size(); i++) {
    FamilyPlan fp;
    fp.family = fams[i];
    fp.candidates = work[i].cand.size();
    fp.budget_s = work[i].budget / std::max(1, shards);
    // The launch families use several GPUs or time the host: all of them in shard 1, alone.
    const bool whole = fams[i] == Family::host || fams[i] == Family::graph_gap;
    for (std::size_t j = 0; j < work[i].taken; j++)
      if (whole ? shard == 1 : static_cast<int>(j % std::max(1, shards)) == shard - 1) {
        fp.points.push_back(work[i].cand[j]);
        fp.estimates.push_back(work[i].est[j]);
        fp.estimate_s += work[i].est[j];
      }
    plan.estimate_s += fp.estimate_s;
    plan.families.push_back(std::move(fp));
  }
  plan.estimate_s += startup_s;
  return plan;
}

std::string plan_text(const Plan& p)
{
  std::ostringstream o;
  char line[200];
  std::snprintf(line, sizeof line, "%-18s %8s %11s %10s %10s\n", "family", "points", "candidates", "budget s",
                "estimate s");
  o << line;
  for (const FamilyPlan& f : p.families) {
    std::snprintf(line, sizeof line, "%-18s %8zu %11zu %10.1f %10.1f\n", to_string(f.family), f.points.size(),
                  f.candidates, f.budget_s, f.estimate_s);
    o << line;
  }
  std::snprintf(line, sizeof line, "%-18s %8s %11s %10.1f %10.1f  (with %.0f s of start-up)\n", "total", "", "",
                p.budget_s, p.estimate_s, startup_s);
  o << line;
  return o.str();
}

} // namespace moesim::validate::opbench
