#include "cli/tools.hpp"

#include "core/error.hpp"
#include "core/nccl_tests.hpp"
#include "report/diff.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

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

  NcclTestsRequest& n = t.nccl_request;
  t.nccl = app.add_subcommand("nccl-tests", "simulate an nccl-tests run and print its table (size, time, algbw, busbw)");
  t.nccl->add_option("--platform", n.platform, "platform name or path")->required();
  t.nccl->add_option("--op", n.op, "all_reduce, all_gather, reduce_scatter, alltoall or sendrecv")->capture_default_str();
  t.nccl->add_option("-b,--minbytes", n.min_bytes, "smallest size (K, M, G suffixes: powers of 1024)")->capture_default_str();
  t.nccl->add_option("-e,--maxbytes", n.max_bytes, "largest size")->capture_default_str();
  t.nccl->add_option("-f,--stepfactor", n.factor, "size multiplier (whole, at least 2)")->capture_default_str();
  t.nccl->add_option("-g,--ngpus", n.gpus, "GPUs taking part (default: all of the platform's)");
  t.nccl->add_option("--calibration", n.calibration,
                     "calibration YAML; 'auto' = platforms/calibration/<platform>.yaml if it exists, 'none' (or '') = none")
      ->capture_default_str();
  t.nccl->fallthrough();

  CalibrateRequest& c = t.cal_request;
  t.calibrate = app.add_subcommand("calibrate", "fit a platform's calibration: collective curves from nccl-tests "
                                                "logs, kernel tables and host costs from moesim-validate bench-kernels");
  t.calibrate->add_option("--nccl-tests", c.nccl_tests,
                          "nccl-tests output files (plain text or -J JSON; moesim-validate bench-collectives writes the same)");
  t.calibrate->add_option("--bench-kernels", c.kernel_benches, "moesim-validate bench-kernels --json files");
  t.calibrate->add_option("--platform", c.platform, "the platform name the logs were measured on")->required();
  t.calibrate->add_option("-o,--output", t.cal_out, "calibration YAML to write (e.g. platforms/calibration/NAME.yaml)")
      ->required();
  t.calibrate->add_option("--op", c.op_hint, "the collective, for logs that do not say (old nccl-tests)");
  t.calibrate->add_option("--measured-on", c.measured_on,
                          "card, driver, CUDA, NCCL, date and environment of the measurement (default: from the logs)");
  t.calibrate->fallthrough();
}

bool run_tool_commands(ToolCommands& t, const std::function<std::string()>& root)
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
  if (t.nccl && *t.nccl) {
    t.nccl_request.root = root();
    const NcclTestsRun run = simulate_nccl_tests(t.nccl_request);
    std::cout << "# moesim simulation of " << nccl_tests_binary(run.kind) << " on " << run.platform << ", " << run.ranks
              << " GPUs\n";
    // The file as the data root names it, so that the line is the same on every machine.
    std::string shown = std::filesystem::path(run.calibration).lexically_relative(t.nccl_request.root).string();
    if (shown.empty() || shown.starts_with(".."))
      shown = run.calibration;
    std::cout << "# calibration: "
              << (run.calibration.empty() ? "none (NCCL's cost model on the platform's links)"
                                          : shown + " (measured on " + run.measured_on + ")")
              << "\n";
    std::cout << format_nccl_tests_table(run.kind, run.ranks, run.rows);
    return true;
  }
  if (t.calibrate && *t.calibrate) {
    const Calibration c = fit_calibration(t.cal_request);
    std::ofstream o(t.cal_out + ".tmp");
    o << calibration_to_yaml(c);
    o.close();
    if (!o)
      throw InputError(t.cal_out, "-o", "cannot write", "check the folder exists and is writable");
    std::filesystem::rename(t.cal_out + ".tmp", t.cal_out);
    std::cout << "wrote " << t.cal_out << ": " << c.collectives.size() << " collective curves, " << c.kernels.size()
              << " kernel tables" << (c.host.empty() ? "" : ", host costs") << "\n";
    return true;
  }
  return false;
}

} // namespace moesim
