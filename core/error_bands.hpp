// Validated error bands (validate/results/error-bands.yaml): per provenance of the compute time,
// how far simulated step times were from measured ones out of sample, with the card, date and
// result file each number comes from; or "not yet validated".
#pragma once
#include "core/perf/provenance.hpp"

#include <string>
#include <vector>

namespace moesim {

struct ErrorBand {
  perf::Provenance provenance = perf::Provenance::specs;
  std::string scope = "step";   // step, or an op class
  int gpus = 0;                 // 0: any
  std::string launch = "any";   // eager, graph or any
  bool validated = false;       // false: "not yet validated"
  int runs = 0;
  double median = 0, worst = 0; // |relative error|
  std::string card, date, file, what;
};

struct ErrorBands {
  std::vector<ErrorBand> bands;

  // The step band for compute mostly of provenance `p`, on `gpus` GPUs of the card named `card`
  // (gpus.yaml's name; "" for any), in graph or eager mode: among the entries of that provenance and
  // scope "step" whose launch matches (or is any), one measured on the same card before any other
  // card's (an entry not yet validated names no card and counts as the same); then the one of the
  // same GPU count, else of any count, else of the nearest count (fewer first). nullptr when there
  // is none.
  const ErrorBand* find(perf::Provenance p, int gpus, bool graph, const std::string& card = "") const;
};

// Strict YAML; InputError with file:line and key for anything else.
ErrorBands load_error_bands(const std::string& path);

// "median 74.7%, worst 93.8% (blind predictions, 70 runs on 4x NVIDIA H200, eager, 2026-11-27,
// validate/results/measured-4xh200-2026-11-27.json)", or "not yet validated" for an entry without
// numbers or no entry. When `card` is given and the band was measured on another card, it adds
// "; another card's: none validated on <card> yet".
std::string describe_band(const ErrorBand* b, perf::Provenance p, const std::string& card = "");

} // namespace moesim
