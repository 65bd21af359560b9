#include "core/bracket_gaps.hpp"

#include "core/error.hpp"
#include "core/json_whole.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <utility>

namespace moesim {

RunGaps run_gaps(const nlohmann::json& run, const std::string& file)
{
  const auto fix = "pass the JSON `moesim-validate run` writes for one GPU (runs/<schedule>.p2p-on.<mode>.json)";
  if (!run.is_object() || !run.contains("measurement") || !run["measurement"].is_object())
    throw InputError(file, "measurement", "missing: not a measured run", fix);
  const nlohmann::json& m = run["measurement"];
  if (!m.contains("event_scale") || !m["event_scale"].is_number() || !(m["event_scale"].get<double>() > 0))
    throw InputError(file, "measurement.event_scale", "missing or not positive: no per-op event times", fix);
  if (!m.contains("mode") || !m["mode"].is_string() || (m["mode"] != "eager" && m["mode"] != "graph"))
    throw InputError(file, "measurement.mode", "missing or neither eager nor graph", fix);
  if (!run.contains("events") || !run["events"].is_array() || run["events"].empty())
    throw InputError(file, "events", "missing or empty", fix);
  const double scale = m["event_scale"].get<double>();
  std::vector<std::pair<int, double>> gaps; // (op, gap)
  std::set<std::pair<int, int>> lanes;      // (rank, stream)
  for (const nlohmann::json& e : run["events"]) {
    if (!e.is_object() || !e.contains("op") || !e.contains("ready") || !e.contains("start") ||
        !e["ready"].is_number() || !e["start"].is_number())
      throw InputError(file, "events", "an event without op, or without numeric ready and start", fix);
    int op = 0;
    try { // json_whole: a float outside int's range is refused, not cast
      op = json_whole<int>(e["op"]);
      lanes.insert({json_whole_or<int>(e, "rank", 0), json_whole_or<int>(e, "stream", 0)});
    } catch (const nlohmann::json::exception&) {
      throw InputError(file, "events", "an event whose op, rank or stream is not a whole number", fix);
    }
    gaps.push_back({op, (e["start"].get<double>() - e["ready"].get<double>()) / scale});
  }
  if (lanes.size() != 1)
    throw InputError(file, "events", "spans " + std::to_string(lanes.size()) + " ranks or streams",
                     "pass runs of one rank on one stream: their gaps are the brackets' alone");
  std::sort(gaps.begin(), gaps.end());
  RunGaps out;
  out.graph = m["mode"] == "graph";
  out.first_s = gaps[0].second;
  for (std::size_t i = 1; i < gaps.size(); i++)
    out.seconds.push_back(gaps[i].second);
  return out;
}

BracketGaps bracket_gaps(const std::vector<RunGaps>& runs)
{
  double eager = 0, graph = 0, first = 0;
  BracketGaps b;
  for (const RunGaps& r : runs) {
    for (double g : r.seconds) {
      (r.graph ? graph : eager) += g;
      (r.graph ? b.graph_ops : b.eager_ops)++;
    }
    if (r.graph) {
      first += r.first_s;
      b.graph_runs++;
    }
  }
  if (b.eager_ops > 0)
    b.eager_s = eager / static_cast<double>(b.eager_ops);
  if (b.graph_ops > 0) {
    b.graph_s = graph / static_cast<double>(b.graph_ops);
    b.graph_launch_s = std::max(0.0, first / static_cast<double>(b.graph_runs) - *b.graph_s);
  }
  return b;
}

} // namespace moesim
