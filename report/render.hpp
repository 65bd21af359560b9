// Renders scenario results for people (aligned tables and a plain-words explanation) and for
// machines (CSV, JSON, Chrome-trace/Perfetto timelines). Output is deterministic.
#pragma once
#include "core/study.hpp"
#include "report/result.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moesim {

std::string render_table(const Study& study, const std::vector<ScenarioResult>& results);
std::string render_explanation(const Study& study, const std::vector<ScenarioResult>& results);
std::string render_csv(const std::vector<ScenarioResult>& results);
nlohmann::json render_json(const Study& study, const std::vector<ScenarioResult>& results);

// One process per (scenario, rank), one thread per stream; times in microseconds.
struct NamedTimeline {
  std::string label;
  Timeline timeline;
};
nlohmann::json chrome_trace(const std::vector<NamedTimeline>& timelines);

// Human units: "12.3 ms", "4.56 GB".
std::string fmt_time(double s);
std::string fmt_bytes(double b);

} // namespace moesim
