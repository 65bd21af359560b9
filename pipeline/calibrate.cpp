#include "pipeline/calibrate.hpp"

#include "core/bracket_gaps.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/nccl_tests.hpp"
#include "core/op_fit.hpp"
#include "topology/gpu_catalog.hpp"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace moesim {
namespace {

// --decode-attention-form: empty is the default (default_decode_form: by the records' source).
std::optional<perf::FormKind> decode_form(const std::string& name)
{
  if (name.empty())
    return std::nullopt;
  if (name != "decode_splitk" && name != "decode_tiles" && name != "decode_tiles_staggered")
    throw InputError("command line", "--decode-attention-form", "'" + name + "' is not a decode attention form",
                     "write decode_splitk, decode_tiles or decode_tiles_staggered");
  return perf::parse_form_kind(name);
}

// --prefill-attention-form: empty is prefill_tiles.
perf::FormKind prefill_form(const std::string& name)
{
  if (name.empty())
    return perf::FormKind::prefill_tiles;
  if (name != "prefill_tiles" && name != "prefill_kernel_tiles")
    throw InputError("command line", "--prefill-attention-form", "'" + name + "' is not a prefill attention form",
                     "write prefill_tiles or prefill_kernel_tiles");
  return perf::parse_form_kind(name);
}

} // namespace

CalibrateResult fit_calibration(const CalibrateRequest& q)
{
  CalibrateResult out;
  Calibration& c = out.calibration;
  c.platform = q.platform;
  if (q.nccl_tests.empty() && q.kernel_benches.empty() && q.op_benches.empty())
    throw InputError("command line", "calibrate", "nothing to fit",
                     "pass --nccl-tests LOG..., --bench-kernels JSON... and/or --op-bench JSON...");
  if (q.op_benches.empty() &&
      (!q.hold_out.empty() || !q.exclude_models.empty() || q.fit_report || !q.bracket_runs.empty()))
    throw InputError("command line", "--op-bench",
                     "--hold-out, --exclude-model, --fit-report and --bracket-runs need records",
                     "add --op-bench JSON...");
  c.source = "moesim calibrate";
  if (!q.nccl_tests.empty())
    c.source += " --nccl-tests";
  for (const std::string& path : q.nccl_tests) {
    NcclTestsLog log = parse_nccl_tests_log(path, q.op_hint);
    if (c.find(log.kind, log.ranks))
      throw InputError(path, "", "a second log of " + nccl_tests_binary(log.kind) + " on " + std::to_string(log.ranks) +
                                     " ranks",
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
  if (!q.kernel_benches.empty())
    c.source += " --bench-kernels";
  for (const std::string& path : q.kernel_benches) {
    add_kernel_bench(c, read_input_file(path, limits::json_bytes, "--bench-kernels"), path);
    c.source += " " + std::filesystem::path(path).filename().string();
  }
  if (!q.op_benches.empty()) {
    // Records without system.sms take the SM count of their GPU's catalogue entry (gpus.yaml sms).
    const std::string catalogue_file = q.root + "/platforms/gpus.yaml";
    const auto catalogue_sms = [&catalogue_file](const std::string& gpu) -> double {
      const GpuCatalog cat = load_gpu_catalog(catalogue_file);
      const GpuModel* g = find_gpu(cat, gpu);
      return g ? g->sms : 0;
    };
    const auto catalogue_l2 = [&catalogue_file](const std::string& gpu) -> double {
      const GpuCatalog cat = load_gpu_catalog(catalogue_file);
      const GpuModel* g = find_gpu(cat, gpu);
      return g ? g->l2.value() : 0;
    };
    const OpBenchFit fit = fit_op_bench_files(q.op_benches, q.hold_out, q.exclude_models,
                                               q.root + "/workloads/models", q.sms, catalogue_sms, catalogue_l2,
                                               decode_form(q.decode_form), prefill_form(q.prefill_form));
    c.op_models = fit.models;
    c.host.api = fit.host;
    c.source += " --op-bench";
    for (const std::string& path : q.op_benches)
      c.source += " " + std::filesystem::path(path).filename().string();
    if (c.measured_on.empty())
      c.measured_on = fit.models.system;
    if (q.fit_report)
      out.fit_report = fit_quality_markdown(fit);
    out.incomplete = fit.incomplete;
  }
  if (!q.bracket_runs.empty()) {
    // The kernel boundary as the measured runs' event brackets leave it (bracket_gaps.hpp).
    std::vector<RunGaps> runs;
    for (const std::string& path : q.bracket_runs) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(read_input_file(path, limits::json_bytes, "--bracket-runs"));
      } catch (const nlohmann::json::exception& e) {
        throw InputError(path, "", std::string("malformed JSON: ") + e.what(), "pass moesim-validate run's JSON");
      }
      runs.push_back(run_gaps(j, path));
    }
    const BracketGaps b = bracket_gaps(runs);
    c.op_models.bracket_gap_eager_s = b.eager_s;
    c.op_models.bracket_gap_graph_s = b.graph_s;
    if (b.graph_launch_s)
      c.host.graph_launch_s = b.graph_launch_s;
    c.source += " --bracket-runs (" + std::to_string(q.bracket_runs.size()) + " runs)";
  }
  if (!q.measured_on.empty())
    c.measured_on = q.measured_on;
  return out;
}

} // namespace moesim
