#include "cli/tools.hpp"

#include "cli/published_cmd.hpp"
#include "cli/platform_files.hpp"
#include "core/calibration.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/numbers.hpp"
#include "core/output_files.hpp"
#include "core/nccl_tests.hpp"
#include "core/op_fit.hpp"
#include "core/study.hpp"
#include "report/diff.hpp"
#include "sim/simulation.hpp"
#include "topology/gpu_catalog.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

namespace moesim {

static Timeline load_timeline(const std::string& path)
{
  const std::string text = read_input_file(path, limits::json_bytes);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, "", std::string("malformed JSON: ") + e.what(),
                     "pass a timeline written by `moesim run --timeline` or `moesim-validate run`");
  }
  return timeline_from_json(j, path);
}

void add_tool_commands(CLI::App& app, ToolCommands& t)
{
  t.published = app.add_subcommand("published", "simulate every published serving figure (validate/public/published.yaml) "
                                                 "with its engine profile; write the table with the error per row");
  t.published->add_option("file", t.published_file, "the rows (default: validate/public/published.yaml under --root)");
  t.published->add_option("-o,--output", t.published_out, "Markdown output file (- for stdout)")->capture_default_str();
  t.diff = app.add_subcommand("diff", "compare two timelines of one schedule: step error, per op class, per layer");
  t.diff->add_option("predicted", t.predicted, "timeline JSON, e.g. from `moesim run --timeline`")->required();
  t.diff->add_option("measured", t.measured, "timeline JSON, e.g. from `moesim-validate run`")->required();
  t.diff->add_option("--json", t.json_out, "also write the comparison as JSON to FILE");
  t.diff->add_option("--top", t.top, "how many op families to list as largest contributors")->check(CLI::Range(1, 1000000));
  t.diff->fallthrough();

  t.nccl = app.add_subcommand("nccl-tests", "simulate an nccl-tests run and print its table (size, time, algbw, busbw)");
  t.nccl->add_option("--platform", t.platform, "platform name or path")->required();
  t.nccl->add_option("--op", t.op, "all_reduce, all_gather, reduce_scatter, alltoall or sendrecv")->capture_default_str();
  t.nccl->add_option("-b,--minbytes", t.min_bytes, "smallest size (K, M, G suffixes)")->capture_default_str();
  t.nccl->add_option("-e,--maxbytes", t.max_bytes, "largest size")->capture_default_str();
  t.nccl->add_option("-f,--stepfactor", t.factor, "size multiplier")->capture_default_str();
  t.nccl->add_option("-g,--ngpus", t.gpus, "GPUs taking part (default: all of the platform's)")->check(CLI::Range(2, limits::gpus));
  t.nccl->add_option("--calibration", t.calibration,
                     "calibration YAML; 'auto' = platforms/calibration/<platform>.yaml if it exists, 'none' (or '') = none")
      ->capture_default_str();
  t.nccl->fallthrough();

  t.calibrate = app.add_subcommand("calibrate", "fit a platform's calibration: collective curves from nccl-tests "
                                                "logs, kernel tables and host costs from moesim-validate bench-kernels");
  t.calibrate->add_option("--nccl-tests", t.logs,
                          "nccl-tests output files (plain text or -J JSON; moesim-validate bench-collectives writes the same)");
  t.calibrate->add_option("--bench-kernels", t.kernel_benches, "moesim-validate bench-kernels --json files");
  t.calibrate->add_option("--op-bench", t.op_benches,
                          "moesim-op-bench-1 JSON files: op-performance models over every shape dimension");
  t.calibrate->add_option("--hold-out", t.hold_out, "with --op-bench: leave records with DIM=V1,V2,... out of the fit "
                                                    "and check the models on them (e.g. n=4096,7168)");
  t.calibrate->add_option("--exclude-model", t.exclude_models,
                          "with --op-bench: leave out every record sharing this model's GEMM or attention shapes");
  t.calibrate->add_option("--sms", t.cal_sms, "with --op-bench: the GPU's SM count, where the records do not give it")
      ->check(CLI::PositiveNumber);
  t.calibrate->add_option("--fit-report", t.fit_report, "with --op-bench: write the fit quality (Markdown) to FILE");
  t.calibrate->add_option("--platform", t.cal_platform, "the platform name the logs were measured on")->required();
  t.calibrate->add_option("-o,--output", t.cal_out, "calibration YAML to write (e.g. platforms/calibration/NAME.yaml)")
      ->required();
  t.calibrate->add_option("--op", t.cal_op, "the collective, for logs that do not say (old nccl-tests)");
  t.calibrate->add_option("--measured-on", t.cal_measured_on,
                          "card, driver, CUDA, NCCL, date and environment of the measurement (default: from the logs)");
  t.calibrate->fallthrough();
}

double parse_size(const std::string& s, const std::string& flag)
{
  const size_t digits = s.find_last_of("0123456789.") == std::string::npos ? 0 : s.find_last_of("0123456789.") + 1;
  const std::string unit = s.substr(digits);
  const double mul = unit.empty() ? 1 : unit == "K" ? 1024.0 : unit == "M" ? 1048576.0 : unit == "G" ? 1073741824.0 : -1;
  const std::optional<double> v = parse_number(s.substr(0, digits));
  if (!v || mul < 0 || !(*v > 0))
    throw InputError("command line", flag, "cannot read size '" + s + "'", "write e.g. 8, 64K, 256M or 1G");
  if (!(*v * mul <= limits::nccl_tests_bytes))
    throw InputError("command line", flag, "size '" + s + "' is more than 1 TiB, the largest moesim simulates",
                     "pass at most 1024G");
  return *v * mul;
}

namespace {

// One op per size, back to back, on ranks 0..g-1; returns each size's simulated time and, in
// `calibration`, the calibration file that applied ("" for none). The platform may be a topology
// YAML; --calibration is 'auto' (the platform's own, when it has one), 'none' or a file.
std::vector<NcclTestsTableRow> simulate_nccl_tests(const ToolCommands& t, OpKind kind, int& g, std::string& calibration)
{
  PlatformFiles files(t.root);
  const PlatformFile f = files.get(t.platform, {});
  const std::string plat = f.xml;
  std::string chosen = f.calibration;
  if (t.calibration == "none" || t.calibration.empty())
    chosen = "";
  else if (t.calibration != "auto") {
    if (!std::filesystem::exists(t.calibration))
      throw InputError(t.calibration, "--calibration", "no such file", "pass a calibration YAML, 'auto' or 'none'");
    chosen = t.calibration;
  }
  calibration = resolve_calibration(plat, chosen);
  const std::unique_ptr<Simulation> sim_ptr = open_simulation(plat, f.routed.get(), chosen);
  Simulation& sim = *sim_ptr;
  const int world = sim.platform().gpus();
  g = t.gpus ? t.gpus : world;
  if (g < 2 || g > world)
    throw InputError(plat, "-g", "needs between 2 and " + std::to_string(world) + " GPUs, got " + std::to_string(g),
                     "pass -g with at most the platform's GPU count");
  if (!(t.factor > 1) || !std::isfinite(t.factor))
    throw InputError("command line", "-f", "the step factor must be above 1", "pass e.g. -f 2");
  Schedule s;
  s.layout.world = world;
  s.layout.plan.name = "nccl-tests";
  Group grp;
  for (int r = 0; r < g; r++)
    grp.ranks.push_back(r);
  s.layout.groups.push_back(grp);
  s.engine.cuda_graphs = true;
  s.engine.graph_launch_s = 0;
  s.ranks.resize(world);
  for (int r = 0; r < world; r++)
    s.ranks[r].rank = r;
  std::vector<NcclTestsTableRow> rows;
  const double lo = parse_size(t.min_bytes, "-b"), hi = parse_size(t.max_bytes, "-e");
  if (lo > hi)
    throw InputError("command line", "-b", "larger than -e", "pass -b <= -e");
  // Counted before anything is allocated: -b 8 -e 256M -f 1.0000001 would be 173 million sizes.
  if (const double sizes = std::floor(std::log(hi / lo) / std::log(t.factor)) + 1; !(sizes <= limits::nccl_tests_sizes))
    throw InputError("command line", "-f", "-b " + t.min_bytes + " to -e " + t.max_bytes + " by -f " + number_text(t.factor) +
                                               " is " + number_text(sizes) + " sizes, more than the " +
                                               std::to_string(limits::nccl_tests_sizes) + " one run simulates",
                     "pass a larger -f or a narrower -b .. -e");
  for (double size = lo; size <= hi * (1 + 1e-12); size *= t.factor) {
    // nccl-tests rounds the size down to whole elements per rank (bf16: 2 bytes).
    const double per = std::floor(size / (2.0 * g)) * 2.0 * g;
    const double bytes = (kind == OpKind::all_reduce || kind == OpKind::send) ? std::floor(size / 2) * 2 : per;
    if (bytes <= 0)
      continue;
    rows.push_back({bytes, kind == OpKind::all_gather || kind == OpKind::reduce_scatter ? bytes / 2 / g : bytes / 2, 0});
    const int coll = static_cast<int>(rows.size()) - 1;
    for (int r = 0; r < g; r++) {
      Op op;
      op.name = "size" + std::to_string(coll);
      if (kind == OpKind::send) {
        // sendrecv_perf: every rank sends to the next and receives from the previous, all g ranks
        // of the communicator at once (group 0: the measured sendrecv curve of g ranks applies).
        op.kind = OpKind::recv;
        op.group = 0;
        op.peer = (r + g - 1) % g;
        op.tag = coll * g + op.peer;
        op.comm_bytes = bytes;
        op.id = static_cast<int>(s.ranks[r].ops.size());
        const int recv_id = op.id;
        s.ranks[r].ops.push_back(op);
        Op snd = op;
        snd.kind = OpKind::send;
        snd.peer = (r + 1) % g;
        snd.tag = coll * g + r;
        snd.stream = 1;
        snd.id = recv_id + 1;
        if (recv_id > 0)
          snd.deps = {recv_id - 2 >= 0 ? recv_id - 2 : 0};
        s.ranks[r].ops.push_back(snd);
        continue;
      }
      op.kind = kind;
      op.group = 0;
      op.coll = coll;
      op.comm_bytes = kind == OpKind::all_to_all ? bytes * (g - 1) / g : bytes;
      if (kind == OpKind::all_to_all) {
        op.peer_bytes.assign(g, bytes / g);
        op.peer_bytes[r] = 0;
      }
      op.id = static_cast<int>(s.ranks[r].ops.size());
      s.ranks[r].ops.push_back(op);
    }
  }
  s.collectives = kind == OpKind::send ? 0 : static_cast<int>(rows.size());
  SimOutput out = sim.run(s);
  // Each size's time: from the first rank starting it to the last finishing it.
  std::vector<double> start(rows.size(), 1e300), end(rows.size(), 0);
  for (const TimelineEvent& e : out.timeline.events) {
    const int k = std::stoi(e.name.substr(4));
    start[k] = std::min(start[k], e.start);
    end[k] = std::max(end[k], e.end);
  }
  for (size_t k = 0; k < rows.size(); k++)
    rows[k].seconds = end[k] - start[k];
  return rows;
}

} // namespace

bool run_tool_commands(const ToolCommands& t)
{
  if (t.published && *t.published) {
    run_published(t.root, t.published_file.empty() ? t.root + "/validate/public/published.yaml" : t.published_file,
                  t.published_out);
    return true;
  }
  if (t.diff && *t.diff) {
    check_output_paths({{t.json_out, "--json"}});
    const Timeline p = load_timeline(t.predicted), m = load_timeline(t.measured);
    const TimelineDiff d = diff_timelines(p, m, t.measured, t.top);
    std::vector<OutputFile> out;
    if (!t.json_out.empty())
      out.push_back({t.json_out, "--json", diff_to_json(d).dump(1) + "\n"});
    out.push_back({"-", "", render_diff(d, p, m)});
    write_outputs(out);
    return true;
  }
  if (t.nccl && *t.nccl) {
    OpKind kind;
    try {
      kind = nccl_tests_op(t.op);
    } catch (const std::invalid_argument& e) {
      throw InputError("command line", "--op", e.what(), "pass one of those");
    }
    int g = 0;
    std::string calibration;
    std::vector<NcclTestsTableRow> rows = simulate_nccl_tests(t, kind, g, calibration);
    std::cout << "# moesim simulation of " << nccl_tests_binary(kind) << " on " << t.platform << ", " << g
              << " GPUs\n";
    // The file as the data root names it, so that the line is the same on every machine.
    std::string shown = std::filesystem::path(calibration).lexically_relative(t.root).string();
    if (shown.empty() || shown.starts_with(".."))
      shown = calibration;
    std::cout << "# calibration: "
              << (calibration.empty() ? "none (NCCL's cost model on the platform's links)"
                                      : shown + " (measured on " + cached_calibration(calibration).measured_on + ")")
              << "\n";
    std::cout << format_nccl_tests_table(kind, g, rows);
    return true;
  }
  if (t.calibrate && *t.calibrate) {
    check_output_paths({{t.cal_out, "-o"}});
    Calibration c;
    c.platform = t.cal_platform;
    if (t.logs.empty() && t.kernel_benches.empty() && t.op_benches.empty())
      throw InputError("command line", "calibrate", "nothing to fit",
                       "pass --nccl-tests LOG..., --bench-kernels JSON... and/or --op-bench JSON...");
    if (t.op_benches.empty() && (!t.hold_out.empty() || !t.exclude_models.empty() || !t.fit_report.empty()))
      throw InputError("command line", "--op-bench", "--hold-out, --exclude-model and --fit-report need records",
                       "add --op-bench JSON...");
    check_output_path(t.cal_out, "--output");
    if (!t.fit_report.empty())
      check_output_path(t.fit_report, "--fit-report");
    c.source = "moesim calibrate";
    if (!t.logs.empty())
      c.source += " --nccl-tests";
    for (const std::string& path : t.logs) {
      NcclTestsLog log = parse_nccl_tests_log(path, t.cal_op);
      if (c.find(log.kind, log.ranks))
        throw InputError(path, "", "a second log of " + nccl_tests_binary(log.kind) + " on " +
                                       std::to_string(log.ranks) + " ranks",
                         "pass one log per collective and GPU count");
      CollectiveCurve cv;
      cv.kind = log.kind;
      cv.ranks = log.ranks;
      for (const NcclTestsRow& r : log.rows)
        if (r.bytes > 0 && r.seconds > 0)
          cv.points.push_back({r.bytes, r.seconds});
      std::sort(cv.points.begin(), cv.points.end());
      c.collectives.push_back(cv);
      c.source += " " + std::filesystem::path(path).filename().string();
      if (c.measured_on.empty())
        c.measured_on = log.devices + (log.nccl_version.empty() ? "" : ", NCCL " + log.nccl_version);
    }
    if (!t.kernel_benches.empty())
      c.source += " --bench-kernels";
    for (const std::string& path : t.kernel_benches) {
      add_kernel_bench(c, read_input_file(path, limits::json_bytes, "--bench-kernels"), path);
      c.source += " " + std::filesystem::path(path).filename().string();
    }
    std::string report;
    if (!t.op_benches.empty()) {
      // Records without system.sms take the SM count of their GPU's catalogue entry (gpus.yaml sms).
      const std::string catalogue_file = t.root + "/platforms/gpus.yaml";
      const auto catalogue_sms = [&catalogue_file](const std::string& gpu) -> double {
        const GpuCatalog cat = load_gpu_catalog(catalogue_file);
        const GpuModel* g = find_gpu(cat, gpu);
        return g ? g->sms : 0;
      };
      const OpBenchFit fit = fit_op_bench_files(t.op_benches, t.hold_out, t.exclude_models,
                                                 t.root + "/workloads/models", t.cal_sms, catalogue_sms);
      c.op_models = fit.models;
      c.host.api = fit.host;
      c.source += " --op-bench";
      for (const std::string& path : t.op_benches)
        c.source += " " + std::filesystem::path(path).filename().string();
      if (c.measured_on.empty())
        c.measured_on = fit.models.system;
      report = fit_quality_markdown(fit);
      for (const std::string& f : fit.incomplete)
        std::cerr << "note: " << f << ".run.json says the run was cut (complete: false); fitting the records it wrote\n";
    }
    if (!t.cal_measured_on.empty())
      c.measured_on = t.cal_measured_on;
    std::vector<OutputFile> files = {{t.cal_out, "-o", calibration_to_yaml(c)}};
    if (!t.fit_report.empty())
      files.push_back({t.fit_report, "--fit-report", report});
    std::ostringstream said;
    said << "wrote " << t.cal_out << ": " << c.collectives.size() << " collective curves, " << c.kernels.size()
         << " kernel tables, " << c.op_models.models.size() << " op models" << (c.host.empty() ? "" : ", host costs")
         << "\n";
    files.push_back({"-", "", said.str()});
    write_outputs(files);
    return true;
  }
  return false;
}

} // namespace moesim
