#include "validate/op_bench_points.hpp"

#include "core/error.hpp"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace moesim::validate::opbench {

namespace {

// "key=value" words after the leading ones; each key once.
struct Words {
  std::vector<std::string> bare;
  std::map<std::string, std::string> kv;
};

Words split(const std::string& text)
{
  std::string t = text;
  if (const auto paren = t.find(" ("); paren != std::string::npos && t.back() == ')')
    t = t.substr(0, paren); // describe()'s "(N active)"
  Words w;
  std::istringstream in(t);
  for (std::string word; in >> word;) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) {
      w.bare.push_back(word);
      continue;
    }
    const std::string key = word.substr(0, eq);
    if (!w.kv.emplace(key, word.substr(eq + 1)).second)
      throw std::invalid_argument("'" + key + "=' given twice");
  }
  return w;
}

long number(Words& w, const std::string& key, long lo, long hi, bool required = true)
{
  const auto it = w.kv.find(key);
  if (it == w.kv.end()) {
    if (required)
      throw std::invalid_argument("'" + key + "=' missing");
    return 0;
  }
  std::size_t used = 0;
  long v = 0;
  try {
    v = std::stol(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != it->second.size() || v < lo || v > hi)
    throw std::invalid_argument("'" + key + "=" + it->second + "' is not a whole number in " + std::to_string(lo) +
                                ".." + std::to_string(hi));
  w.kv.erase(it);
  return v;
}

// "a/b" as two numbers.
std::pair<int, int> pair_of(Words& w, const std::string& key)
{
  const auto it = w.kv.find(key);
  if (it == w.kv.end())
    throw std::invalid_argument("'" + key + "=' missing");
  const std::string v = it->second;
  const auto slash = v.find('/');
  Words a, b;
  a.kv[key] = v.substr(0, slash == std::string::npos ? 0 : slash);
  b.kv[key] = slash == std::string::npos ? "" : v.substr(slash + 1);
  try {
    const int x = static_cast<int>(number(a, key, 1, 1 << 20)), y = static_cast<int>(number(b, key, 1, 1 << 20));
    w.kv.erase(key);
    return {x, y};
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("'" + key + "=" + v + "' is not two whole numbers A/B");
  }
}

void no_leftovers(const Words& w, std::size_t bare_expected)
{
  if (!w.kv.empty())
    throw std::invalid_argument("unknown key '" + w.kv.begin()->first + "='");
  if (w.bare.size() != bare_expected)
    throw std::invalid_argument("unexpected word '" + w.bare.back() + "'");
}

Dtype dtype_word(const Words& w)
{
  if (w.bare.size() < 2)
    throw std::invalid_argument("a dtype (bf16, fp8) after the family is missing");
  try {
    return parse_dtype(w.bare[1]);
  } catch (const std::exception&) {
    throw std::invalid_argument("'" + w.bare[1] + "' is not a dtype (bf16, fp8)");
  }
}

} // namespace

Point parse_point(const std::string& text)
{
  Words w = split(text);
  if (w.bare.empty())
    throw std::invalid_argument("no family (gemm, grouped_gemm, attention_decode, attention_prefill, graph_gap)");
  const std::string& fam = w.bare[0];
  if (fam == "gemm") {
    GemmPoint g;
    g.dtype = dtype_word(w);
    g.m = number(w, "m", 1, 1L << 24), g.n = number(w, "n", 1, 1L << 24), g.k = number(w, "k", 1, 1L << 24);
    no_leftovers(w, 2);
    return g;
  }
  if (fam == "grouped_gemm") {
    GroupedPoint g;
    g.dtype = dtype_word(w);
    if (w.bare.size() < 4)
      throw std::invalid_argument("write 'fused' or 'loop' after the dtype, and a distribution (uniform, zipf, sparse) last");
    if (w.bare[2] != "fused" && w.bare[2] != "loop")
      throw std::invalid_argument("'" + w.bare[2] + "' is neither fused nor loop");
    g.fused = w.bare[2] == "fused";
    g.n = static_cast<int>(number(w, "n", 1, 1 << 20)), g.k = static_cast<int>(number(w, "k", 1, 1 << 20));
    g.experts = static_cast<int>(number(w, "experts", 1, 4096));
    g.tokens = number(w, "tokens", 0, 1L << 24);
    g.dist = w.bare[3];
    no_leftovers(w, 4);
    g.rows = expert_rows(g.tokens, g.experts, g.dist); // refuses an unknown distribution
    return g;
  }
  if (fam == "attention_decode" || fam == "attention_prefill") {
    AttnPoint a;
    a.decode = fam == "attention_decode";
    if (w.bare.size() < 2 || (w.bare[1] != "gqa" && w.bare[1] != "mla"))
      throw std::invalid_argument("write gqa or mla after the family");
    a.mla = w.bare[1] == "mla";
    if (a.mla && !a.decode)
      throw std::invalid_argument("prefill attention is timed as gqa (MLA prefill runs as multi-head attention)");
    a.batch = static_cast<int>(number(w, "batch", 1, 1 << 20));
    std::tie(a.q_heads, a.kv_heads) = pair_of(w, "heads");
    std::tie(a.qk, a.v) = pair_of(w, "dims");
    if (a.q_heads % a.kv_heads != 0)
      throw std::invalid_argument("heads=" + std::to_string(a.q_heads) + "/" + std::to_string(a.kv_heads) +
                                  ": query heads must be a multiple of KV heads");
    if (a.mla) {
      if (a.kv_heads != 1 || a.qk <= a.v)
        throw std::invalid_argument("mla takes heads=H/1 and dims=(kv_lora + rope)/kv_lora");
      a.kv_lora = a.v, a.rope = a.qk - a.v;
    }
    if (a.decode)
      a.context = number(w, "context", 1, 1L << 24);
    else
      a.prompt = number(w, "prompt", 1, 1L << 24), a.cached = number(w, "cached", 0, 1L << 24);
    a.window = static_cast<int>(number(w, "window", 1, 1 << 24, false));
    no_leftovers(w, 2);
    return a;
  }
  // The launch family: "graph_gap kernels=16 distinct=4", "graph_gap kernels=16 events=16",
  // "graph_gap kernels=0 events=16" (check_gap_point says which combinations are points).
  if (fam == "graph_gap") {
    GapPoint g;
    g.kernels = static_cast<int>(number(w, "kernels", 0, kGapMost));
    g.distinct = static_cast<int>(number(w, "distinct", 1, kGapDistinctMost, false));
    if (g.distinct == 0) // left out
      g.distinct = 1;
    g.events = static_cast<int>(number(w, "events", 0, kGapMost, false));
    no_leftovers(w, 1);
    check_gap_point(g);
    return g;
  }
  // The small kernels, by op: "sample rows=16 vocab=131072", "embedding rows=256 width=1024 vocab=32768"
  // (describe() leaves out a width of 0 or 1: residual_add's is 1, sample's 0), "rmsnorm rows=66
  // width=4096 inputs=cold" (inputs of its own per instance; inputs=warm is the plain point).
  static const std::set<std::string> small = {"rmsnorm", "silu_mul", "residual_add", "topk",   "permute",
                                              "unpermute", "embedding", "sample",     "router"};
  if (small.count(fam)) {
    SmallPoint sp;
    sp.op = fam;
    sp.rows = number(w, "rows", 1, 1L << 30);
    sp.width = number(w, "width", 2, 1L << 24, false);
    if (sp.width == 0 && fam == "residual_add")
      sp.width = 1;
    sp.k = static_cast<int>(number(w, "k", 1, 4096, false));
    sp.experts = static_cast<int>(number(w, "experts", 1, 4096, false));
    sp.vocab = number(w, "vocab", 1, 1L << 24, false);
    if (const auto in = w.kv.find("inputs"); in != w.kv.end()) {
      // Sample and embedding read inputs of their own always: the key would say nothing there.
      if (fam == "sample" || fam == "embedding")
        throw std::invalid_argument("'inputs=' on " + fam + ": its instances read inputs of their own always; leave the key out");
      if (in->second != "cold" && in->second != "warm")
        throw std::invalid_argument("'inputs=" + in->second + "' is neither cold (inputs of its own per instance) nor warm");
      sp.cold_inputs = in->second == "cold";
      w.kv.erase(in);
    }
    no_leftovers(w, 1);
    if ((fam == "sample" || fam == "embedding") && sp.vocab == 0)
      throw std::invalid_argument("'vocab=' missing");
    if (fam != "sample" && fam != "residual_add" && sp.width == 0)
      throw std::invalid_argument("'width=' missing");
    return sp;
  }
  throw std::invalid_argument("'" + fam + "' is not a family or small kernel --points takes (gemm, grouped_gemm, "
                              "attention_decode, attention_prefill, graph_gap, or a small kernel: rmsnorm, silu_mul, "
                              "residual_add, topk, permute, unpermute, embedding, sample, router)");
}

std::vector<Point> read_points_file(const std::string& path)
{
  std::ifstream in(path);
  if (!in)
    throw InputError(path, "--points", "cannot be read", "pass a text file of points, one per line");
  std::vector<Point> out;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    line_no++;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#')
      continue;
    try {
      out.push_back(parse_point(line.substr(first)));
    } catch (const std::invalid_argument& e) {
      throw InputError(path + ":" + std::to_string(line_no), "point", e.what(),
                       "write the point as bench-ops prints it, e.g. 'grouped_gemm bf16 fused n=16384 k=4096 "
                       "experts=8 tokens=160 uniform'");
    }
  }
  if (out.empty())
    throw InputError(path, "--points", "holds no point", "write one point per line, as bench-ops prints them");
  return out;
}

Plan points_plan(const std::vector<Point>& points, const DeviceRates& d, const CostModel& c, double budget_s)
{
  Plan plan;
  plan.budget_s = budget_s;
  for (const Point& p : points) {
    const Family f = family_of(p);
    if (plan.families.empty() || plan.families.back().family != f) {
      plan.families.push_back({});
      plan.families.back().family = f;
      plan.families.back().budget_s = budget_s;
    }
    FamilyPlan& fp = plan.families.back();
    fp.points.push_back(p);
    fp.estimates.push_back(estimate_seconds(p, d, c));
    fp.estimate_s += fp.estimates.back();
    fp.candidates++;
    plan.estimate_s += fp.estimates.back();
  }
  return plan;
}

} // namespace moesim::validate::opbench
