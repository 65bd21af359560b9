// `moesim published`: every row of validate/public/published.yaml simulated with its engine
// profile (each row a one-plan, one-platform study, run through the scenario runner) and set
// against the published figure; rendered as a Markdown table with the error per row.
#pragma once
#include "core/calibration.hpp"
#include "core/op_models.hpp"
#include "core/published.hpp"

#include <map>
#include <string>
#include <vector>

namespace moesim {

// One row's simulation: moesim's figure in the row's metric, or why it was not simulated.
struct PublishedOutcome {
  bool simulated = false;
  double value = 0;
  std::string why;   // not simulated: the reason
  std::string paths; // the engine's software paths of the decode step
  std::string batch; // the batch simulated, for serve rows
  std::string compute; // rows with op_records: where the decode step's compute times came from
};

// The calibration of a published row that names public per-op records (`op_records`, a path under
// `root`): op models fitted from them as `moesim calibrate --op-bench FILE` fits them, the SM count
// and L2 from the GPU catalogue entry of the records' GPU. Throws InputError for unreadable records.
Calibration calibration_from_op_records(const std::string& root, const std::string& records);

// A row's `gemm_records`: the dense GEMM models of `from` (fitted from public records) that `to` (the
// platform's own calibration, or none) has no model of, added to `to`, kept sorted by key; every
// other model of either is left as it is. Returns how many were added.
int add_gemm_models(OpModels& to, const OpModels& from);
// The same for the models of any one op kind (add_gemm_models: kind gemm).
int add_models(OpModels& to, const OpModels& from, OpKind kind);

// Whether a decode attention record took less time than reading its KV cache once ((d_qk + d_v) x
// KV heads x batch x context elements of its kv_dtype) at `hbm_bytes_per_s`: the cache stayed in L2
// across the collector's repeats, so the record times no read from memory. Other kinds: false.
bool below_hbm_read(const OpRecord& r, double hbm_bytes_per_s);

// A row's `attention_records`: the GQA decode attention models fitted from `records` (relative to
// `root`) without the records below_hbm_read at the HBM peak of the records' GPU (platforms/gpus.yaml
// mem_bw); SM count and L2 from the same entry. Empty when no such record is left. Throws
// InputError for unreadable records or a GPU the catalogue lacks.
OpModels gqa_decode_models(const std::string& root, const std::string& records);

// What published.md prints for such a row: the records' file name and the share of the decode
// step's time whose compute each provenance gave (ScenarioResult::compute_provenance), e.g.
// "compute from b200_sxm.trtllm-1.3.0rc20.json.gz: measured 2%, interpolated 40%, extrapolated 9%;
// specs 21% of the step".
std::string describe_compute_sources(const std::string& records, const std::map<std::string, double>& shares);

struct PublishedRun {
  std::vector<PublishedRow> rows;
  std::vector<PublishedOutcome> outcomes; // one per row, in order
};

// Simulates the rows of `file` (each scenario in a child process) with the models, platforms,
// engine profiles and calibrations under `root`. Throws InputError on a bad file.
PublishedRun run_published(const std::string& root, const std::string& file);

// The comparison as Markdown: summary, per category, one line per row. `rows_name` is how the header
// names the rows file (relative to the root where it lies under it); the regenerate command it prints
// writes the same name with .md for .yaml.
std::string render_published(const PublishedRun& run,
                             const std::string& rows_name = "validate/public/published.yaml");

} // namespace moesim
