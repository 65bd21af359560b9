#include "core/engine_options.hpp"

#include "core/limits.hpp"

#include <cmath>
#include <stdexcept>

namespace moesim {
namespace {

// One handler per key: reads the text into EngineParams, or says what is wrong.
using Setter = std::optional<EngineOptionProblem> (*)(EngineParams&, const std::string&);

std::optional<bool> boolean(const std::string& v)
{
  if (v == "true" || v == "yes" || v == "on")
    return true;
  if (v == "false" || v == "no" || v == "off")
    return false;
  return std::nullopt;
}

std::optional<double> number(const std::string& v)
{
  try {
    size_t pos = 0;
    const double d = std::stod(v, &pos);
    if (pos == v.size() && std::isfinite(d))
      return d;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::optional<EngineOptionProblem> set_bool(bool& out, const std::string& v)
{
  const auto b = boolean(v);
  if (!b)
    return EngineOptionProblem{"'" + v + "' is not a boolean", "write true or false"};
  out = *b;
  return std::nullopt;
}

std::optional<EngineOptionProblem> set_microseconds(double& seconds, const std::string& v)
{
  const auto d = number(v);
  if (!d)
    return EngineOptionProblem{"'" + v + "' is not a number", "write microseconds as a plain number, e.g. 5"};
  if (*d < 0)
    return EngineOptionProblem{"must not be negative", "write microseconds, e.g. 5"};
  if (*d > limits::engine_us)
    return EngineOptionProblem{"'" + v + "' is out of range", "write at most 1e6 microseconds (1 s), e.g. 5"};
  seconds = *d * 1e-6;
  return std::nullopt;
}

struct Entry {
  EngineOptionDoc doc;
  Setter set;
  bool microseconds;
};

const std::vector<Entry>& table()
{
  static const std::vector<Entry> t = {
      {{"cuda_graphs", "true|false: one CUDA graph launch per step instead of eager kernel launches"},
       [](EngineParams& e, const std::string& v) { return set_bool(e.cuda_graphs, v); }, false},
      {{"launch_us", "host cost of one kernel launch in eager mode, microseconds (default 5)"},
       [](EngineParams& e, const std::string& v) { return set_microseconds(e.launch_s, v); }, true},
      {{"sync_us", "host round trip of a device-to-host synchronisation, microseconds (default 20)"},
       [](EngineParams& e, const std::string& v) { return set_microseconds(e.sync_s, v); }, true},
      {{"graph_launch_us", "host cost of launching a step's CUDA graph, microseconds (default 10)"},
       [](EngineParams& e, const std::string& v) { return set_microseconds(e.graph_launch_s, v); }, true},
      {{"grouped_gemm", "fused (one kernel over the local experts, the default) or per_expert (one GEMM per expert)"},
       [](EngineParams& e, const std::string& v) -> std::optional<EngineOptionProblem> {
         if (v != "fused" && v != "per_expert")
           return EngineOptionProblem{"unknown value '" + v + "'",
                                      "use fused (one kernel) or per_expert (one GEMM per expert)"};
         e.grouped_gemm_per_expert = v == "per_expert";
         return std::nullopt;
       },
       false},
      {{"timed_ops", "true|false: two CUDA event records per op on the host, as the harness times eager ops"},
       [](EngineParams& e, const std::string& v) { return set_bool(e.timed_ops, v); }, false},
  };
  return t;
}

const Entry* find(const std::string& key)
{
  for (const Entry& e : table())
    if (key == e.doc.key)
      return &e;
  return nullptr;
}

} // namespace

const std::vector<EngineOptionDoc>& engine_option_docs()
{
  static const std::vector<EngineOptionDoc> docs = [] {
    std::vector<EngineOptionDoc> d;
    for (const Entry& e : table())
      d.push_back(e.doc);
    return d;
  }();
  return docs;
}

bool is_engine_option(const std::string& key)
{
  return find(key) != nullptr;
}

std::optional<EngineOptionProblem> set_engine_option(EngineParams& engine, const std::string& key, const std::string& value)
{
  const Entry* e = find(key);
  if (!e) {
    std::string keys;
    for (const Entry& k : table())
      keys += (keys.empty() ? "" : ", ") + std::string(k.doc.key);
    return EngineOptionProblem{"unknown engine option", "use one of " + keys};
  }
  EngineParams copy = engine;
  if (auto problem = e->set(copy, value))
    return problem;
  engine = copy;
  return std::nullopt;
}

std::optional<double> engine_option_number(const std::string& key, const std::string& value)
{
  const Entry* e = find(key);
  if (!e || !e->microseconds)
    return std::nullopt;
  const auto d = number(value);
  return d ? std::optional<double>(*d * 1e-6) : std::nullopt;
}

} // namespace moesim
