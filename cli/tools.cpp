#include "cli/tools.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/numbers.hpp"
#include "core/output_files.hpp"
#include "core/nccl_tests.hpp"
#include "pipeline/published_run.hpp"
#include "report/diff.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace moesim {

static Timeline load_timeline(const std::string& path)
{
  const std::string text = read_input_file(path, limits::json_bytes);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) { // also a number past double's range (out_of_range 406)
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

  NcclTestsRequest& n = t.nccl_request;
  t.nccl = app.add_subcommand("nccl-tests", "simulate an nccl-tests run and print its table (size, time, algbw, busbw)");
  t.nccl->add_option("--platform", n.platform, "platform name or path")->required();
  t.nccl->add_option("--op", n.op, "all_reduce, all_gather, reduce_scatter, alltoall or sendrecv")->capture_default_str();
  t.nccl->add_option("-b,--minbytes", n.min_bytes, "smallest size (K, M, G suffixes: powers of 1024)")->capture_default_str();
  t.nccl->add_option("-e,--maxbytes", n.max_bytes, "largest size")->capture_default_str();
  t.nccl->add_option("-f,--stepfactor", n.factor, "size multiplier (whole, at least 2)")->capture_default_str();
  t.nccl->add_option("-g,--ngpus", n.gpus, "GPUs taking part (default: all of the platform's)")
      ->check(CLI::Range(2, limits::gpus));
  t.nccl->add_option("--calibration", n.calibration,
                     "calibration YAML; 'auto' = platforms/calibration/<platform>.yaml if it exists, 'none' (or '') = none")
      ->capture_default_str();
  t.nccl->add_option("--nccl-version", n.nccl_version,
                     "the NCCL release whose rules to follow, e.g. 2.27.3 (default: the platform's, else 2.29.2)");
  t.nccl->fallthrough();

  CalibrateRequest& c = t.cal_request;
  t.calibrate = app.add_subcommand("calibrate", "fit a platform's calibration: collective curves from nccl-tests "
                                                "logs, kernel tables and host costs from moesim-validate bench-kernels");
  t.calibrate->add_option("--nccl-tests", c.nccl_tests,
                          "nccl-tests output files (plain text or -J JSON; moesim-validate bench-collectives writes the same)");
  t.calibrate->add_option("--bench-kernels", c.kernel_benches, "moesim-validate bench-kernels --json files");
  t.calibrate->add_option("--platform", c.platform, "the platform name the logs were measured on")->required();
  t.calibrate->add_option("--op-bench", c.op_benches,
                          "moesim-op-bench-1 JSON files: op-performance models over every shape dimension");
  t.calibrate->add_option("--hold-out", c.hold_out, "with --op-bench: leave records with DIM=V1,V2,... out of the fit "
                                                    "and check the models on them (e.g. n=4096,7168)");
  t.calibrate->add_option("--exclude-model", c.exclude_models,
                          "with --op-bench: leave out every record sharing this model's GEMM or attention shapes");
  t.calibrate->add_option("--sms", c.sms, "with --op-bench: the GPU's SM count, where the records do not give it")
      ->check(CLI::PositiveNumber);
  t.calibrate->add_option("--decode-attention-form", c.decode_form,
                          "with --op-bench: decode attention's form, decode_splitk, decode_tiles or decode_tiles_staggered "
                          "(its partial last round staggered; docs/perf-models.md)")
      ->check(CLI::IsMember({"decode_splitk", "decode_tiles", "decode_tiles_staggered"}));
  t.calibrate->add_option("--prefill-attention-form", c.prefill_form,
                          "with --op-bench: prefill attention's form, prefill_tiles (default) or prefill_kernel_tiles "
                          "(the harness kernel's row tiles; docs/perf-models.md)")
      ->check(CLI::IsMember({"prefill_tiles", "prefill_kernel_tiles"}));
  t.calibrate->add_option("--bracket-runs", c.bracket_runs,
                          "with --op-bench: measured runs (moesim-validate run JSON, one GPU) whose mean gap between "
                          "event brackets, per launch mode, is the kernel boundary (docs/perf-models.md)");
  t.calibrate->add_option("--fit-report", t.fit_report, "with --op-bench: write the fit quality (Markdown) to FILE");
  t.calibrate->add_option("-o,--output", t.cal_out, "calibration YAML to write (e.g. platforms/calibration/NAME.yaml)")
      ->required();
  t.calibrate->add_option("--op", c.op_hint, "the collective, for logs that do not say (old nccl-tests)");
  t.calibrate->add_option("--measured-on", c.measured_on,
                          "card, driver, CUDA, NCCL, date and environment of the measurement (default: from the logs)");
  t.calibrate->fallthrough();
}

bool run_tool_commands(ToolCommands& t, const std::function<std::string()>& root)
{
  if (t.published && *t.published) {
    check_output_paths({{t.published_out, "--output"}}, {t.published_file});
    const std::string r = root();
    const std::string file = t.published_file.empty() ? r + "/validate/public/published.yaml" : t.published_file;
    // The header names the rows file relative to the root where it lies under it, as given otherwise.
    std::string name = t.published_file.empty() ? "validate/public/published.yaml" : t.published_file;
    std::error_code ec;
    const std::filesystem::path rel =
        std::filesystem::relative(std::filesystem::absolute(file, ec), std::filesystem::absolute(r, ec), ec);
    if (!ec && !rel.empty() && *rel.begin() != "..")
      name = rel.generic_string();
    write_outputs({{t.published_out, "--output", render_published(run_published(r, file), name)}});
    return true;
  }
  if (t.diff && *t.diff) {
    check_output_paths({{t.json_out, "--json"}}, {t.predicted, t.measured});
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
    t.cal_request.root = root();
    t.cal_request.fit_report = !t.fit_report.empty();
    std::vector<std::string> cal_inputs = t.cal_request.nccl_tests;
    for (const auto* v : {&t.cal_request.kernel_benches, &t.cal_request.op_benches})
      cal_inputs.insert(cal_inputs.end(), v->begin(), v->end());
    check_output_paths({{t.cal_out, "-o"}, {t.fit_report, "--fit-report"}}, cal_inputs);
    const CalibrateResult fit = fit_calibration(t.cal_request);
    const Calibration& c = fit.calibration;
    for (const std::string& f : fit.incomplete)
      std::cerr << "note: " << f << ".run.json says the run was cut (complete: false); fitting the records it wrote\n";
    std::vector<OutputFile> files = {{t.cal_out, "-o", calibration_to_yaml(c)}};
    if (!t.fit_report.empty())
      files.push_back({t.fit_report, "--fit-report", fit.fit_report});
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
