#include "core/op_models_yaml.hpp"

#include "core/l2_reuse.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace moesim {
namespace {

std::string num(double v)
{
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

perf::FormParams read_form(const std::string& file, const YAML::Node& n, const std::string& where)
{
  Fields f(file, n, where);
  perf::FormParams p;
  try {
    p.kind = perf::parse_form_kind(f.str("kind"));
  } catch (const std::invalid_argument& e) {
    f.fail("kind", e.what(), "write the form the fitter wrote");
  }
  for (const auto& [name, field] : perf::form_fields())
    p.*field = f.num(name);
  for (const auto& [name, field] : perf::optional_form_fields())
    p.*field = f.num(name, 0.0);
  p.size_dims = f.integer("size_dims", 0);
  p.shared_kv = f.boolean("shared_kv", false);
  p.l2_bytes = f.num("l2_bytes", 0.0);
  try {
    perf::check_form(p);
  } catch (const std::invalid_argument& e) {
    f.fail("kind", e.what(), "refit with moesim calibrate --op-bench");
  }
  f.finish();
  return p;
}

} // namespace

OpModels read_op_models(const Fields& parent, const YAML::Node& node)
{
  const std::string& file = parent.file();
  Fields f(file, node, parent.path("op_models"));
  OpModels m;
  m.source = f.str("source");
  m.system = f.str("system");
  m.sms = f.num("sms");
  if (!(m.sms > 0))
    f.fail("sms", "must be positive", "give the GPU's SM count");
  if (f.has("graph_gap_us")) {
    const double g = f.num("graph_gap_us");
    if (!(g >= 0))
      f.fail("graph_gap_us", "must not be negative", "remove it or give the measured gap");
    m.graph_gap_s = g * 1e-6;
  } else {
    f.maybe("graph_gap_us");
  }
  for (auto [key, dst] : {std::pair{"bracket_gap_eager_us", &m.bracket_gap_eager_s},
                          std::pair{"bracket_gap_graph_us", &m.bracket_gap_graph_s}}) {
    if (!f.has(key)) {
      f.maybe(key);
      continue;
    }
    const double g = f.num(key);
    if (!(g >= 0))
      f.fail(key, "must not be negative", "remove it or give the measured gap");
    *dst = g * 1e-6;
  }
  if (f.has("l2_bytes")) {
    m.l2_bytes = f.num("l2_bytes");
    if (!(m.l2_bytes > 0))
      f.fail("l2_bytes", "must be positive", "give the GPU's L2 size in bytes, or remove it with the cold models");
  } else {
    f.maybe("l2_bytes");
  }
  if (auto models = f.maybe("models")) {
    if (!models->IsSequence())
      f.fail("models", "expected a list", "write a list of {op, dtype, launch, form, dims, points}");
    for (const auto& n : *models) {
      Fields mf(file, n, f.path("models[]"));
      KeyedOpModel km;
      OpModelKey& k = km.key;
      try {
        k.kind = parse_op_kind(mf.str("op"));
        k.dtype = parse_dtype(mf.str("dtype"));
        k.kv_dtype = mf.has("kv_dtype") ? parse_dtype(mf.str("kv_dtype")) : k.dtype;
      } catch (const std::invalid_argument& e) {
        mf.fail("op", e.what(), "write an op kind and dtypes as moesim spells them");
      }
      mf.maybe("kv_dtype");
      if (op_class(k.kind) != OpClass::compute)
        mf.fail("op", "is not a compute op", "op models are for compute ops");
      k.variant = mf.str("variant", "");
      if (k.variant == "cold" && !cold_blends(k.kind))
        mf.fail("variant", "cold is for the small kernels whose inputs a step may read cold",
                "use it on rmsnorm, silu_mul, residual_add, topk, permute or unpermute, or remove it");
      if (k.variant == "cold" && !(m.l2_bytes > 0))
        mf.fail("variant", "cold needs the GPU's L2 size", "give l2_bytes under op_models");
      k.window = mf.integer("window", 0);
      const std::string launch = mf.str("launch");
      if (launch != "stream" && launch != "graph")
        mf.fail("launch", "unknown value '" + launch + "'", "write stream or graph");
      k.graph = launch == "graph";
      km.model.form = read_form(file, mf.node("form"), mf.path("form"));
      if (auto fit = mf.maybe("fit")) {
        Fields ff(file, *fit, mf.path("fit"));
        km.fit.count = static_cast<size_t>(ff.integer("records"));
        km.fit.median = ff.num("median");
        km.fit.p90 = ff.num("p90");
        km.fit.worst = ff.num("worst");
        ff.finish();
      }
      const std::vector<std::string> names = op_dims::grid_names(k.kind);
      std::vector<std::string> dims = mf.str_list("dims");
      if (k.kind == OpKind::grouped_gemm && dims == op_dims::names(k.kind))
        mf.fail("dims", "are total rows, and grouped_gemm grids are now keyed by rows per expert",
                "refit with moesim calibrate --op-bench (the grid's dims: [n, k, active, rows_per_expert])");
      if (dims != names) {
        std::string want;
        for (const std::string& s : names)
          want += (want.empty() ? "" : ", ") + s;
        mf.fail("dims", "are not this op's dims", "write dims: [" + want + "]");
      }
      YAML::Node pts = mf.node("points");
      if (!pts.IsScalar())
        mf.fail("points", "expected a block of lines", "write points: | then one line per measured shape");
      std::istringstream lines(pts.as<std::string>());
      std::string line;
      std::vector<perf::GridPoint> grid;
      int row = 0;
      const size_t want = names.size() + 2;
      while (std::getline(lines, line)) {
        row++;
        std::vector<double> v;
        const char* c = line.c_str();
        char* end = nullptr;
        while (true) {
          const double x = std::strtod(c, &end);
          if (end == c)
            break;
          v.push_back(x);
          c = end;
        }
        while (*c == ' ' || *c == '\t' || *c == '\r')
          c++;
        if (v.empty() && *c == 0)
          continue;
        if (*c != 0 || v.size() != want)
          throw InputError(file, mf.path("points"),
                           "line " + std::to_string(pts.Mark().line + 1 + row) + ": expected " + std::to_string(want) +
                               " numbers (dims, seconds, form seconds)",
                           "write each point as its dims, then the measured and the form's seconds");
        grid.push_back({std::vector<double>(v.begin(), v.end() - 2), v[want - 2], v[want - 1]});
      }
      try {
        km.model.grid = perf::ShapeGrid(std::move(grid));
      } catch (const std::invalid_argument& e) {
        mf.fail("points", e.what(), "refit with moesim calibrate --op-bench");
      }
      mf.finish();
      m.models.push_back(std::move(km));
    }
  }
  f.finish();
  std::stable_sort(m.models.begin(), m.models.end(),
                   [](const KeyedOpModel& a, const KeyedOpModel& b) { return a.key < b.key; });
  for (size_t i = 1; i < m.models.size(); i++)
    if (m.models[i].key == m.models[i - 1].key)
      f.fail("models", "two models for " + describe(m.models[i].key), "keep one");
  return m;
}

void write_op_models(std::ostream& o, const OpModels& m)
{
  o << "op_models:  # op-performance models: measured grids with fitted forms (docs/perf-models.md)\n";
  o << "  source: \"" << m.source << "\"\n";
  o << "  system: \"" << m.system << "\"\n";
  o << "  sms: " << num(m.sms) << "\n";
  if (m.graph_gap_s)
    o << "  graph_gap_us: " << num(*m.graph_gap_s * 1e6) << "\n";
  if (m.bracket_gap_eager_s)
    o << "  bracket_gap_eager_us: " << num(*m.bracket_gap_eager_s * 1e6) << "  # between event brackets, eager\n";
  if (m.bracket_gap_graph_s)
    o << "  bracket_gap_graph_us: " << num(*m.bracket_gap_graph_s * 1e6) << "  # between event brackets, CUDA graph\n";
  if (m.l2_bytes > 0)
    o << "  l2_bytes: " << num(m.l2_bytes) << "  # the GPU's L2: when a small kernel's inputs are cold (l2_reuse.hpp)\n";
  if (m.models.empty())
    return;
  o << "  models:\n";
  for (const KeyedOpModel& km : m.models) {
    const OpModelKey& k = km.key;
    o << "    - op: " << to_string(k.kind) << "\n";
    if (!k.variant.empty())
      o << "      variant: " << k.variant << "\n";
    o << "      dtype: " << to_string(k.dtype) << "\n";
    if (k.kv_dtype != k.dtype)
      o << "      kv_dtype: " << to_string(k.kv_dtype) << "\n";
    if (k.window > 0)
      o << "      window: " << k.window << "\n";
    o << "      launch: " << (k.graph ? "graph" : "stream") << "\n";
    const perf::FormParams& p = km.model.form;
    o << "      form: {kind: " << perf::to_string(p.kind);
    for (const auto& [name, field] : perf::form_fields())
      o << ", " << name << ": " << num(p.*field);
    for (const auto& [name, field] : perf::optional_form_fields())
      if (p.*field != 0)
        o << ", " << name << ": " << num(p.*field);
    o << ", size_dims: " << p.size_dims << ", shared_kv: " << (p.shared_kv ? "true" : "false");
    if (p.l2_bytes > 0)
      o << ", l2_bytes: " << num(p.l2_bytes);
    o << "}\n";
    if (km.fit.count > 0)
      o << "      fit: {records: " << km.fit.count << ", median: " << num(km.fit.median) << ", p90: " << num(km.fit.p90)
        << ", worst: " << num(km.fit.worst) << "}  # in-sample |error| of the form alone\n";
    o << "      dims: [";
    const std::vector<std::string> names = op_dims::grid_names(k.kind);
    for (size_t i = 0; i < names.size(); i++)
      o << (i ? ", " : "") << names[i];
    o << "]\n      points: |  # dims, measured seconds, form seconds\n";
    for (const perf::GridPoint& g : km.model.grid.points()) {
      o << "       ";
      for (double d : g.dims)
        o << " " << num(d);
      o << " " << num(g.seconds) << " " << num(g.form_seconds) << "\n";
    }
  }
}

} // namespace moesim
