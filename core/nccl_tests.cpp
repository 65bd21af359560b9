#include "core/nccl_tests.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_whole.hpp"
#include "core/limits.hpp"
#include "core/numbers.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace moesim {

OpKind nccl_tests_op(const std::string& raw)
{
  std::string s = raw.substr(raw.find_last_of('/') + 1);
  if (s.size() > 5 && s.ends_with("_perf"))
    s = s.substr(0, s.size() - 5);
  if (s == "all_reduce")
    return OpKind::all_reduce;
  if (s == "all_gather")
    return OpKind::all_gather;
  if (s == "reduce_scatter")
    return OpKind::reduce_scatter;
  if (s == "alltoall" || s == "all_to_all")
    return OpKind::all_to_all;
  if (s == "sendrecv")
    return OpKind::send;
  throw std::invalid_argument("unknown nccl-tests collective '" + raw +
                              "'; use all_reduce, all_gather, reduce_scatter, alltoall or sendrecv");
}

std::string nccl_tests_binary(OpKind kind)
{
  switch (kind) {
    case OpKind::all_reduce: return "all_reduce_perf";
    case OpKind::all_gather: return "all_gather_perf";
    case OpKind::reduce_scatter: return "reduce_scatter_perf";
    case OpKind::all_to_all: return "alltoall_perf";
    default: return "sendrecv_perf";
  }
}

// The collective: what the log says, else --op. A --op that contradicts the log is refused (it
// would relabel an all_reduce log as alltoall).
static OpKind collective_of(const std::string& path, const std::string& logged, const std::string& hint)
{
  try {
    if (logged.empty() && hint.empty())
      throw InputError(path, "", "the log does not say which collective it measured",
                       "pass --op all_reduce (or all_gather, reduce_scatter, alltoall, sendrecv)");
    const OpKind k = nccl_tests_op(logged.empty() ? hint : logged);
    if (!logged.empty() && !hint.empty() && nccl_tests_op(hint) != k)
      throw InputError(path, "--op", "--op " + hint + " but the log measured " + nccl_tests_binary(k),
                       "drop --op (the log says its collective), or pass the log of " + hint);
    return k;
  } catch (const std::invalid_argument& e) {
    throw InputError(path, "--op", e.what(), "pass --op");
  }
}

// A time or size from a log: finite and not negative.
static bool sane(double v)
{
  return std::isfinite(v) && v >= 0;
}

static NcclTestsLog parse_json(const std::string& path, const nlohmann::json& j, const std::string& hint)
{
  NcclTestsLog log;
  try {
    std::string op;
    if (j.contains("args") && j["args"].is_array() && !j["args"].empty() && j["args"][0].is_string()) {
      op = j["args"][0].get<std::string>();
      if (const auto slash = op.rfind('/'); slash != std::string::npos)
        op = op.substr(slash + 1); // "/path/to/alltoall_perf"
    }
    log.kind = collective_of(path, op, hint);
    if (j.contains("nccl_version"))
      log.nccl_version = std::to_string(json_whole<int>(j["nccl_version"]));
    log.ranks = j.contains("devices") ? static_cast<int>(j["devices"].size()) : 0;
    if (log.ranks > 0)
      log.devices = j["devices"][0].value("device_info", "");
    // nccl-tests 2.19's -J report (version 3): config {nthreads, ngpus, devices} of this process;
    // without MPI one process drives every rank, nthreads x ngpus of them.
    if (j.contains("config") && j["config"].is_object()) {
      const auto& cfg = j["config"];
      // Read wide and bounded: a rank count never exceeds a million, and the product must not overflow.
      const long long threads = std::clamp(json_whole_or<long long>(cfg, "nthreads", 1), 0LL, 1000000LL);
      const long long per_gpu = std::clamp(json_whole_or<long long>(cfg, "ngpus", 1), 0LL, 1000000LL);
      const int per_process = static_cast<int>(std::min(threads * per_gpu, 1000000LL));
      int listed = 0;
      if (cfg.contains("devices") && cfg["devices"].is_array() && !cfg["devices"].empty()) {
        listed = static_cast<int>(cfg["devices"].size());
        if (log.devices.empty())
          log.devices = cfg["devices"][0].value("device_info", "");
      }
      log.ranks = std::max({log.ranks, per_process, listed});
    }
    if (j.at("results").size() > static_cast<size_t>(limits::log_rows))
      throw InputError(path, "results", "more than " + std::to_string(limits::log_rows) + " rows",
                       "pass the report of one nccl-tests run");
    size_t i = 0;
    for (const auto& r : j.at("results")) {
      const std::string at = "results[" + std::to_string(i++) + "]";
      if (!r.contains("out_of_place") || r["out_of_place"].is_null())
        continue;
      const double size = r.at("size").get<double>(), us = r["out_of_place"].at("time").get<double>();
      if (!sane(size) || !sane(us) || (size > 0 && !(us > 0)))
        throw InputError(path, at, "size " + std::to_string(size) + " B in " + std::to_string(us) +
                                       " us: sizes are not negative and times are positive",
                         "pass the report nccl-tests wrote, unedited");
      log.rows.push_back({size, us * 1e-6});
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "results", std::string("not an nccl-tests JSON report: ") + e.what(),
                     "pass the file nccl-tests wrote with -J");
  }
  return log;
}

NcclTestsLog parse_nccl_tests_log(const std::string& path, const std::string& hint)
{
  const std::string text = read_input_file(path, limits::text_bytes);
  const size_t first = text.find_first_not_of(" \t\r\n");
  NcclTestsLog log;
  if (first != std::string::npos && text[first] == '{') {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded())
      throw InputError(path, "", "malformed JSON", "pass an nccl-tests log or its -J JSON report");
    log = parse_json(path, j, hint);
  } else {
    std::istringstream lines(text);
    std::string line, op;
    int lineno = 0;
    while (std::getline(lines, line)) {
      lineno++;
      if (line.rfind("# Collective test starting:", 0) == 0 && op.empty()) {
        std::istringstream w(line.substr(27)); // the prefix's length: the line may end there
        w >> op;
      } else if (line.rfind("#  Rank", 0) == 0) {
        log.ranks++;
        if (log.devices.empty())
          if (auto nv = line.find("NVIDIA"); nv != std::string::npos)
            log.devices = line.substr(nv);
      } else if (line.rfind("#", 0) == 0 && line.find("nccl-library=") != std::string::npos) {
        std::istringstream w(line.substr(line.find("nccl-library=") + 13));
        w >> log.nccl_version;
      } else if (!line.empty() && line[0] != '#') {
        // A result row starts with its size (a whole number); other lines (NCCL's INFO lines,
        // warnings) are not results. A row is read whole: size count type redop root time algbw
        // busbw #wrong, then the in-place columns; a field that is not a number refuses the file.
        std::istringstream w(line);
        std::string f[8];
        w >> f[0];
        const std::optional<double> size = parse_number(f[0]);
        if (!size)
          continue;
        for (int k = 1; k < 8; k++)
          w >> f[k];
        const std::optional<double> count = parse_number(f[1]), us = parse_number(f[5]);
        const std::optional<double> algbw = parse_number(f[6]), busbw = parse_number(f[7]);
        const auto where = path + ":" + std::to_string(lineno);
        if (*size != std::floor(*size))
          throw InputError(where, "", "a result row whose size is '" + f[0] + "' (not a whole number of bytes)",
                           "pass the log nccl-tests printed, unedited");
        if (!count || !us || f[7].empty())
          throw InputError(where, "", "a result row whose time is '" + f[5] + "'",
                           "pass the log nccl-tests printed, unedited (size count type redop root time algbw busbw ...)");
        // algbw and busbw are not read (they follow from size and time), but a row where they are not
        // numbers was edited or cut: it is not what nccl-tests printed.
        if (!algbw || !busbw || *algbw < 0 || *busbw < 0)
          throw InputError(where, "", "a result row whose algbw/busbw are '" + f[6] + "'/'" + f[7] + "'",
                           "pass the log nccl-tests printed, unedited (size count type redop root time algbw busbw ...)");
        if (!sane(*size) || !sane(*us) || (*size > 0 && !(*us > 0)))
          throw InputError(where, "", "size " + f[0] + " B in " + f[5] + " us: sizes are not negative and times are positive",
                           "pass the log nccl-tests printed, unedited");
        if (log.rows.size() >= static_cast<size_t>(limits::log_rows))
          throw InputError(where, "", "more than " + std::to_string(limits::log_rows) + " result rows",
                           "pass the log of one nccl-tests run");
        log.rows.push_back({*size, *us * 1e-6});
      }
    }
    log.kind = collective_of(path, op, hint);
  }
  if (log.rows.empty())
    throw InputError(path, "", "no result rows found", "pass the output of an nccl-tests binary (e.g. all_reduce_perf)");
  if (log.ranks < 2)
    throw InputError(path, "", "cannot tell how many ranks took part (no \"#  Rank\" lines / devices)",
                     "pass a complete log of a run on 2 or more GPUs");
  return log;
}

std::string format_nccl_tests_table(OpKind kind, int ranks, const std::vector<NcclTestsTableRow>& rows)
{
  std::ostringstream o;
  char buf[256];
  const bool reduce = kind == OpKind::all_reduce || kind == OpKind::reduce_scatter;
  std::snprintf(buf, sizeof buf, "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place\n",
                "", "", "", "", "");
  o << buf;
  std::snprintf(buf, sizeof buf, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size",
                "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
                "#wrong");
  o << buf;
  std::snprintf(buf, sizeof buf, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)",
                "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  o << buf;
  double bus_sum = 0;
  for (const auto& r : rows) {
    const double us = r.seconds * 1e6;
    const double algbw = r.bytes / r.seconds / 1e9, busbw = algbw * busbw_factor(kind, ranks);
    bus_sum += busbw;
    std::snprintf(buf, sizeof buf, "%12.0f  %12.0f  %8s  %6s  %6d  %7.2f  %6.2f  %6.2f  %6s  %7.2f  %6.2f  %6.2f  %6s\n",
                  r.bytes, r.count, "bfloat16", reduce ? "sum" : "none", -1, us, algbw, busbw, "N/A", us, algbw,
                  busbw, "N/A");
    o << buf;
  }
  std::snprintf(buf, sizeof buf, "# Avg bus bandwidth    : %g \n", rows.empty() ? 0.0 : bus_sum / rows.size());
  o << buf;
  return o.str();
}

} // namespace moesim
