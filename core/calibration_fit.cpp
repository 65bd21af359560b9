// Kernel timing tables and host costs from `moesim-validate bench-kernels --json` (calibration.hpp).
#include "core/calibration.hpp"

#include "core/error.hpp"
#include "core/json_whole.hpp"
#include "core/stats.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <tuple>

namespace moesim {

void add_kernel_bench(Calibration& c, const std::string& json_text, const std::string& file)
{
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file, "", std::string("not JSON: ") + e.what(), "pass the file `moesim-validate bench-kernels --json` wrote");
  }
  if (!j.is_object() || j.value("tool", "") != "moesim-validate bench-kernels" || !j.contains("ops") ||
      !j["ops"].is_array())
    throw InputError(file, "tool", "not bench-kernels output (no tool \"moesim-validate bench-kernels\" with ops)",
                     "pass the file `moesim-validate bench-kernels --json` wrote");
  // (kind, dtype, shape with the varying dimension zeroed) -> value -> times
  using Key = std::tuple<bool, OpKind, Dtype, std::vector<double>>; // graph-measured first
  std::map<Key, std::map<double, std::vector<double>>> families;
  std::map<OpKind, std::vector<double>> launch_by_kind;
  std::vector<double> launch_all;
  size_t i = 0;
  for (const auto& o : j["ops"]) {
    const std::string at = "ops[" + std::to_string(i++) + "]";
    OpKind kind{};
    Dtype dtype{};
    std::vector<double> shape;
    double seconds = 0, host = 0, graph_seconds = 0;
    int launches = 0;
    try {
      kind = parse_op_kind(o.at("kind").get<std::string>());
      dtype = parse_dtype(o.at("dtype").get<std::string>());
      shape = o.at("shape").get<std::vector<double>>();
      seconds = o.at("seconds").get<double>();
      host = o.at("host_seconds").get<double>();
      launches = json_whole<int>(o.at("launches"));
      graph_seconds = o.value("graph_seconds", 0.0);
    } catch (const std::exception& e) {
      throw InputError(file, at, std::string("malformed entry: ") + e.what(),
                       "pass the file `moesim-validate bench-kernels --json` wrote");
    }
    if (op_class(kind) != OpClass::compute || shape.empty() || !(seconds > 0) || launches < 1)
      throw InputError(file, at, "needs a compute op kind, a shape, seconds > 0 and launches >= 1",
                       "pass the file `moesim-validate bench-kernels --json` wrote");
    const int vary = kind == OpKind::grouped_gemm ? 1 : 0;
    if (vary >= static_cast<int>(shape.size()))
      throw InputError(file, at + ".shape", "too short for its op kind", "pass bench-kernels output");
    const double x = shape[vary];
    shape[vary] = 0;
    families[{false, kind, dtype, shape}][x].push_back(seconds);
    if (graph_seconds > 0)
      families[{true, kind, dtype, shape}][x].push_back(graph_seconds);
    if (host > 0) {
      launch_by_kind[kind].push_back(host / launches);
      launch_all.push_back(host / launches);
    }
  }
  for (auto& [key, pts] : families) {
    KernelCurve k;
    std::tie(k.graph, k.kind, k.dtype, k.shape) = key;
    k.vary = k.kind == OpKind::grouped_gemm ? 1 : 0;
    for (auto& [x, ts] : pts) {
      double sum = 0;
      for (double t : ts)
        sum += t;
      k.points.push_back({x, sum / ts.size()});
    }
    c.kernels.push_back(std::move(k));
  }
  if (!launch_all.empty())
    c.host.launch_s = median(launch_all);
  for (auto& [kind, v] : launch_by_kind)
    c.host.launch_s_by_kind[kind] = median(v);
  if (c.measured_on.empty() && j.contains("system") && j["system"].contains("devices") &&
      !j["system"]["devices"].empty()) {
    const auto& sys = j["system"];
    c.measured_on = sys["devices"][0].value("name", "?") + " x" + std::to_string(json_whole_or<int>(sys, "device_count", 0)) +
                    ", driver " + sys.value("driver_build", "?") + ", CUDA " + sys.value("runtime_version", "?") +
                    ", NCCL " + sys.value("nccl_version", "?");
  }
  if (j.contains("host") && j["host"].is_object()) {
    const auto& h = j["host"];
    if (h.contains("sync_s") && h["sync_s"].is_number() && h["sync_s"].get<double>() > 0)
      c.host.sync_s = h["sync_s"].get<double>();
    if (h.contains("graph_launch_s") && h["graph_launch_s"].is_number() && h["graph_launch_s"].get<double>() > 0)
      c.host.graph_launch_s = h["graph_launch_s"].get<double>();
    if (h.contains("event_record_s") && h["event_record_s"].is_number() && h["event_record_s"].get<double>() > 0)
      c.host.event_record_s = h["event_record_s"].get<double>();
  }
}

} // namespace moesim
