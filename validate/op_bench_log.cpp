#include "validate/op_bench_log.hpp"

#include "core/error.hpp"
#include "core/json_whole.hpp"
#include "validate/host_bench.hpp"
#include "validate/op_bench_grid.hpp"
#include "validate/op_bench_points.hpp"
#include "validate/op_bench_record.hpp"

#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <utility>
#include <vector>

namespace moesim::validate::opbench {

namespace {

using json = nlohmann::json;

// What the log's first line says about the run.
struct Header {
  std::string gpu;
  int cc_major = 0, cc_minor = 0, sms = 0;
  double budget_s = 0;
  int shard = 1, shards = 1, iters = 0, warmup = 0;
  bool cold_inputs = false; // the header ends in cold_inputs_words: sample and embedding read inputs of their own
};

Header parse_header(const std::string& line, const std::string& where)
{
  static const std::regex re(R"(^# moesim-validate bench-ops: (.+) \(cc (\d+)\.(\d+), (\d+) SMs;.*\), budget ([0-9.]+) s, )"
                             R"(shard (\d+)/(\d+), (\d+) timed repetitions after (\d+) warm-up(; .*)?$)");
  std::smatch m;
  if (!std::regex_match(line, m, re))
    throw InputError(where, "header", "the first line is not bench-ops' header",
                     "pass the text log bench-ops printed (its stdout), from its first line");
  Header h;
  h.gpu = m[1];
  h.cc_major = std::stoi(m[2]);
  h.cc_minor = std::stoi(m[3]);
  h.sms = std::stoi(m[4]);
  h.budget_s = std::stod(m[5]);
  h.shard = std::stoi(m[6]);
  h.shards = std::stoi(m[7]);
  h.iters = std::stoi(m[8]);
  h.warmup = std::stoi(m[9]);
  h.cold_inputs = m[10].matched && m[10].str() == std::string("; ") + cold_inputs_words;
  return h;
}

// The facts of --info's JSON the records need.
struct SystemFacts {
  std::string gpu, driver, cuda, nccl;
  double memory_bytes = 0;
  int device_count = 1;
};

SystemFacts system_facts(const json& s, const std::string& path)
{
  try {
    const json& d = s.at("devices").at(0);
    return {d.at("name").get<std::string>(), s.at("driver_build").get<std::string>(),
            s.at("runtime_version").get<std::string>(), s.at("nccl_version").get<std::string>(),
            d.at("memory_bytes").get<double>(), json_whole<int>(s.at("device_count"))};
  } catch (const json::exception& e) {
    throw InputError(path, "devices[0], driver_build, runtime_version, nccl_version, device_count",
                     std::string("not --info's output: ") + e.what(),
                     "pass the system.json `moesim-validate --info` wrote on the machine that ran the log");
  }
}

// Every candidate of every family by its description. Two different points with one description
// would make the log ambiguous: such descriptions are kept apart and refused when a line names one.
struct Grid {
  std::map<std::string, Point> points;
  std::set<std::string> ambiguous;
};

Grid grid_for(const DeviceRates& rates)
{
  Grid g;
  for (Family f : all_families())
    for (const Point& p : candidates(f, rates)) {
      const std::string d = describe(p);
      auto [it, added] = g.points.emplace(d, p);
      if (!added && !(it->second == p))
        g.ambiguous.insert(d);
    }
  return g;
}

// The host family's records of one point, in the order bench-ops writes them.
std::vector<std::pair<std::string, bool>> host_sequence()
{
  std::vector<std::pair<std::string, bool>> seq;
  for (const std::string& api : host_apis())
    for (bool busy : {true, false})
      if (!(busy && api == "sync"))
        seq.emplace_back(api, busy);
  return seq;
}

} // namespace

Recovered recover_from_log(std::istream& in, const std::string& path, const json& system_info,
                           const std::string& system_path, const std::string& date)
{
  static const std::regex date_re(R"(^\d{4}-\d{2}-\d{2}$)");
  if (!std::regex_match(date, date_re))
    throw InputError("command line", "--date", "'" + date + "' is not YYYY-MM-DD", "write the day the log was run, e.g. --date 2026-12-04");
  const SystemFacts sys = system_facts(system_info, system_path);
  std::string line;
  if (!std::getline(in, line))
    throw InputError(path, "", "empty", "pass the text log bench-ops printed");
  const Header h = parse_header(line, path + ":1");
  if (h.gpu != sys.gpu)
    throw InputError(system_path, "devices[0].name", "'" + sys.gpu + "', the log's header says '" + h.gpu + "'",
                     "pass the --info output of the machine that ran the log");
  const DeviceRates rates =
      rates_for_device(h.gpu, h.cc_major * 10 + h.cc_minor, h.sms, sys.memory_bytes, 0, sys.device_count);
  const Grid grid = grid_for(rates);
  const auto host_seq = host_sequence();

  static const std::regex record_re(R"(^(stream|graph|busy|idle)?\s+([0-9]+\.[0-9]+) us  (.+)$)");
  static const std::regex family_re(R"(^# (\w+): (\d+) ran, (\d+) failed, (\d+) not run, ([0-9.]+) s \(estimated ([0-9.]+)\)$)");
  static const std::regex total_re(R"(^# (\d+) records in .* \([0-9.]+ s\); \d+ failures, \d+ points not run$)");
  json records = json::array(), families = json::array(), failures = json::array();
  bool in_plan = true; // the plan table after the header: its title, a row per family, the total
  auto plan_row = [](const std::string& l) {
    const std::string first = l.substr(0, l.find(' '));
    if (first == "family" || first == "total")
      return true;
    for (Family f : all_families())
      if (first == to_string(f))
        return true;
    return false;
  };
  long stated = -1;    // the record count the last line states
  std::string host_point;
  std::size_t host_index = 0, host_line = 0;
  auto close_host = [&](std::size_t at) {
    if (!host_point.empty() && host_index != host_seq.size())
      throw InputError(path + ":" + std::to_string(at), host_point,
                       std::to_string(host_index) + " of the " + std::to_string(host_seq.size()) + " host records",
                       "pass the whole log: every host point prints busy and idle for every API");
    host_point.clear();
    host_index = 0;
  };
  for (std::size_t n = 2; std::getline(in, line); n++) {
    const std::string where = path + ":" + std::to_string(n);
    std::smatch m;
    if (line.rfind("#", 0) == 0) {
      in_plan = false;
      if (std::regex_match(line, m, family_re))
        families.push_back({{"family", m[1]},
                            {"ran", std::stoi(m[2])},
                            {"failed", std::stoi(m[3])},
                            {"not_run", std::stoi(m[4])},
                            {"seconds", std::stod(m[5])},
                            {"estimate_s", std::stod(m[6])}});
      else if (std::regex_match(line, m, total_re))
        stated = std::stol(m[1]);
      continue;
    }
    if (line.empty() || (in_plan && plan_row(line)))
      continue;
    in_plan = false;
    if (line.rfind("FAILED ", 0) == 0) {
      const std::size_t colon = line.find(": ");
      failures.push_back({{"point", line.substr(7, colon == std::string::npos ? std::string::npos : colon - 7)},
                          {"error", colon == std::string::npos ? "" : line.substr(colon + 2)}});
      continue;
    }
    if (!std::regex_match(line, m, record_re))
      throw InputError(where, "", "neither a record, a comment nor a FAILED line",
                       "pass bench-ops' log unedited (lines: 'stream|graph|busy|idle  <t> us  <point>')");
    const std::string word = m[1], what = m[3];
    const double seconds = std::stod(m[2]) * 1e-6;
    const auto it = grid.points.find(what);
    // A launch-family point off the grid (a --points run's distinct chains and event points), or a
    // small kernel's with cold inputs (--points' inputs=cold, never on the grid): its text is the
    // whole point.
    std::optional<Point> named;
    const bool cold_small = what.size() > 12 && what.compare(what.size() - 12, 12, " inputs=cold") == 0;
    if (it == grid.points.end() && (what.rfind("graph_gap ", 0) == 0 || cold_small)) {
      try {
        named = parse_point(what);
        if (cold_small && !std::holds_alternative<SmallPoint>(*named))
          named.reset();
      } catch (const std::invalid_argument&) {
      }
    }
    if ((it == grid.points.end() && !named) || grid.ambiguous.count(what))
      throw InputError(where, what, it == grid.points.end() ? "matches no point of the grid" : "matches two grid points",
                       "recover with the moesim-validate whose bench-ops wrote the log (the grid changed since)");
    const Point& p = named ? *named : it->second;
    if (what != host_point)
      close_host(n);
    auto wrong_word = [&](const char* want) {
      return InputError(where, what, "launch word '" + word + "'", std::string("a ") + to_string(family_of(p)) +
                                                                       " record's line starts with " + want);
    };
    if (auto* g = std::get_if<GapPoint>(&p)) {
      if (g->plain()) {
        if (!word.empty())
          throw wrong_word("no word");
        records.push_back(gap_record(g->kernels, seconds));
      } else {
        if (word != "stream" && word != "graph")
          throw wrong_word("stream or graph (a distinct chain or an event point)");
        records.push_back(gap_record(*g, word == "graph", seconds));
      }
    } else if (auto* hp = std::get_if<HostPoint>(&p)) {
      if (host_index >= host_seq.size() || word != (host_seq[host_index].second ? "busy" : "idle"))
        throw wrong_word(host_index >= host_seq.size() ? "nothing: a host point has 11 records"
                                                       : host_seq[host_index].second ? "busy" : "idle");
      host_point = what;
      host_line = n;
      records.push_back(host_record(host_seq[host_index].first, host_seq[host_index].second, hp->threads, seconds));
      host_index++;
    } else {
      if (word != "stream" && word != "graph")
        throw wrong_word("stream or graph");
      const Measured ms{word == "graph", seconds, h.iters, 0.0};
      if (auto* q = std::get_if<GemmPoint>(&p))
        records.push_back(gemm_record(*q, ms));
      else if (auto* q = std::get_if<GroupedPoint>(&p))
        records.push_back(grouped_record(*q, ms));
      else if (auto* q = std::get_if<AttnPoint>(&p))
        records.push_back(attention_record(*q, ms));
      else
        records.push_back(small_record(std::get<SmallPoint>(p), ms, h.cold_inputs));
    }
  }
  close_host(host_line + 1);
  if (stated >= 0 && stated != long(records.size()))
    throw InputError(path, "records", "the log states " + std::to_string(stated) + " records, " +
                                          std::to_string(records.size()) + " were recovered",
                     "pass the whole, unedited log");
  const json system = {{"gpu", h.gpu},
                       {"sms", h.sms},
                       {"cc", std::to_string(h.cc_major) + "." + std::to_string(h.cc_minor)},
                       {"driver", sys.driver},
                       {"cuda", sys.cuda},
                       {"nccl", sys.nccl},
                       {"date", date}};
  Recovered r;
  r.document = op_bench_document("moesim-validate bench-ops --from-log", system, records);
  r.run = {{"tool", "moesim-validate bench-ops --from-log"},
           {"recovered_from_log", true},
           {"log", path},
           {"spread", "not logged"},
           {"system_not_logged", {"sm_clock_mhz", "mem_clock_mhz", "mem_bw", "l2_bytes", "cublas"}},
           {"extras", "not logged"},
           {"complete", stated >= 0},
           {"records", records.size()},
           {"budget_s", h.budget_s},
           {"shard", std::to_string(h.shard) + "/" + std::to_string(h.shards)},
           {"iters", h.iters},
           {"warmup", h.warmup},
           {"families", families},
           {"failures", failures}};
  return r;
}

int recover_from_log_files(const std::string& log, const std::string& system, const std::string& date,
                           const std::string& json_path, std::FILE* out)
{
  std::ifstream sf(system);
  if (!sf)
    throw InputError(system, "", "cannot read the file", "pass the system.json `moesim-validate --info` wrote");
  json info;
  try {
    info = json::parse(sf);
  } catch (const json::exception& e) {
    throw InputError(system, "", std::string("not JSON: ") + e.what(), "pass the system.json `moesim-validate --info` wrote");
  }
  std::ifstream lf(log);
  if (!lf)
    throw InputError(log, "", "cannot read the file", "pass bench-ops' text log (e.g. bench/ops.txt)");
  const Recovered r = recover_from_log(lf, log, info, system, date);
  write_json_file(json_path, r.document);
  write_json_file(json_path + ".run.json", r.run);
  std::fprintf(out, "# %zu records from %s in %s (spread not logged: written 0)\n", r.document["records"].size(),
               log.c_str(), json_path.c_str());
  return 0;
}

} // namespace moesim::validate::opbench
