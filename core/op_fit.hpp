// Fitting op-performance models from op-bench files, with the checks that say how far to trust
// them: the form's in-sample error on the records it was fitted to, and, for records held out of
// the fit (by shape values or by a model family's shapes), the error of the whole model (grid and
// form) split by whether the held-out shape fell inside the grid (interpolated) or outside it
// (extrapolated). `moesim calibrate --op-bench` calls this; the report goes to docs/perf-models.md.
#pragma once
#include "core/op_measurements.hpp"
#include "core/op_models.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

// Decode attention's form when calibrate is not told: decode_tiles where every bench is the
// harness's own (kHarnessOpBenchSource), the kernel that form follows launch by launch, and
// decode_splitk, the generic flash-decoding form, where any bench timed another kernel (imported
// engine tables). docs/perf-models.md gives the blind scores behind the choice.
perf::FormKind default_decode_form(const std::vector<OpMeasurements>& benches);

struct FitQuality {
  std::string model;           // describe(key) of the model (loop records: "grouped_gemm loop ... (sum of gemm)")
  std::string kernels;         // the kernels its records name, comma-separated ("" when none does)
  size_t fitted = 0;           // records the model was fitted to
  perf::ErrorStats in_sample;  // the form alone on those records
  perf::ErrorStats held_interpolated, held_extrapolated; // the whole model on held-out records
};

struct OpBenchFit {
  OpModels models;
  std::vector<HostApiCost> host;     // host API costs (medians per api, state and threads)
  std::vector<FitQuality> quality;   // per model, sorted by model
  size_t held_out = 0;               // records held out of the fit
  size_t excluded = 0;               // of those, the ones a model family's shapes excluded
  size_t superseded = 0;             // sample/embedding records that re-read one buffer, left out where their
                                     // model has records with cold inputs (superseded_by_cold)
  std::map<std::string, size_t> unmodelled; // records read but not modelled, by op
  std::vector<std::string> incomplete;      // files whose bench-ops side file says the run was cut
};

// Drops from `train` the sample and embedding records that re-read one buffer (no "inputs": "cold")
// where records of the same model (kind, dtype, launch) read cold inputs; returns how many it dropped.
// A step reads those inputs cold, so cold records replace the others (docs/op-bench-format.md).
size_t superseded_by_cold(std::vector<OpRecord>& train);

// Merges the benches (they must be of one GPU: same system.gpu and sms, else InputError naming the
// second file), fits on every record that is neither held out nor excluded, and checks on those
// that are. `files` names each bench in errors.
// The GPU's SM count: `sms` > 0 (calibrate --sms) overrides; else the benches' system.sms; else
// `catalogue_sms` of their system.gpu (platforms/gpus.yaml's sms, 0 when it has no entry).
// The GPU's L2 (the grouped GEMM form's re-read rule): the benches' system.l2_bytes, else
// `catalogue_l2` of their system.gpu (gpus.yaml's l2), else unknown (0).
// Decode attention takes `decode_form` (none: default_decode_form); decode_tiles takes the SM's limits from the benches'
// system.cc (compute capability) and falls back to decode_splitk where the records do not give it.
// Prefill attention takes `prefill_form` (default prefill_tiles; prefill_kernel_tiles follows the harness kernel).
OpBenchFit fit_op_benches(const std::vector<OpMeasurements>& benches, const std::vector<std::string>& files,
                          const HoldOut& hold_out, const std::function<bool(const OpRecord&)>& exclude,
                          double sms = 0, const std::function<double(const std::string&)>& catalogue_sms = {},
                          const std::function<double(const std::string&)>& catalogue_l2 = {},
                          std::optional<perf::FormKind> decode_form = std::nullopt,
                          perf::FormKind prefill_form = perf::FormKind::prefill_tiles);

// The same from files: `hold_out` as DIM=V1,V2 rules (e.g. n=4096,7168), `exclude_models` as model
// names or paths under `models_dir` whose shapes (family_shapes.hpp) leave the fit. InputError for
// a bad rule (naming --hold-out), a missing model or a bad file.
OpBenchFit fit_op_bench_files(const std::vector<std::string>& files, const std::vector<std::string>& hold_out,
                              const std::vector<std::string>& exclude_models, const std::string& models_dir,
                              double sms = 0, const std::function<double(const std::string&)>& catalogue_sms = {},
                              const std::function<double(const std::string&)>& catalogue_l2 = {},
                          std::optional<perf::FormKind> decode_form = std::nullopt,
                          perf::FormKind prefill_form = perf::FormKind::prefill_tiles);

// The quality table in Markdown: in-sample form error, held-out error inside and outside the grid.
std::string fit_quality_markdown(const OpBenchFit& fit);

} // namespace moesim
