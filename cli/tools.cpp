#include "cli/tools.hpp"

#include "core/error.hpp"
#include "report/diff.hpp"

#include <fstream>
#include <iostream>

namespace moesim {

static Timeline load_timeline(const std::string& path)
{
  std::ifstream in(path);
  if (!in)
    throw InputError(path, "", "file not found or unreadable", "check the path");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, "", std::string("malformed JSON: ") + e.what(),
                     "pass a timeline written by `moesim run --timeline` or `moesim-validate run`");
  }
  return timeline_from_json(j, path);
}

void add_tool_commands(CLI::App& app, ToolCommands& t)
{
  t.diff = app.add_subcommand("diff", "compare two timelines of one schedule: step error, per op class, per layer");
  t.diff->add_option("predicted", t.predicted, "timeline JSON, e.g. from `moesim run --timeline`")->required();
  t.diff->add_option("measured", t.measured, "timeline JSON, e.g. from `moesim-validate run`")->required();
  t.diff->add_option("--json", t.json_out, "also write the comparison as JSON to FILE");
  t.diff->add_option("--top", t.top, "how many op families to list as largest contributors")->check(CLI::PositiveNumber);
  t.diff->fallthrough();
}

bool run_tool_commands(const ToolCommands& t)
{
  if (t.diff && *t.diff) {
    const Timeline p = load_timeline(t.predicted), m = load_timeline(t.measured);
    const TimelineDiff d = diff_timelines(p, m, t.measured, t.top);
    std::cout << render_diff(d, p, m);
    if (!t.json_out.empty()) {
      std::ofstream o(t.json_out);
      o << diff_to_json(d).dump(1) << "\n";
      if (!o)
        throw InputError(t.json_out, "--json", "cannot write", "check the folder exists and is writable");
    }
    return true;
  }
  return false;
}

} // namespace moesim
