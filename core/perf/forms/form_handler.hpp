// One form: its seconds function and what the fitter may change. Each forms/*.cpp defines one;
// forms.cpp holds the table.
#pragma once
#include "core/perf/forms.hpp"

#include <utility>
#include <vector>

namespace moesim::perf {

struct FormHandler {
  FormKind kind;
  const char* name;
  std::size_t dims; // 0: any number
  double (*seconds)(const FormParams& p, const std::vector<double>& dims, const std::vector<double>& rows);
  std::vector<double FormParams::*> fitted;                                  // positive, fitted in log space
  std::vector<std::pair<double FormParams::*, std::vector<double>>> choices; // discrete, searched
  // A fitted term the form also fits without (held at nested_off, where it does not matter); the
  // fitter keeps whichever fits best, so the term never makes a fit worse (none: nullptr).
  double FormParams::*nested = nullptr;
  double nested_off = 0;
  // Rates the data may leave unbounded (a term that never binds on the records): after the fit each is
  // lowered to the least value that fits as well (mean |log error| within 1e-4), so a calibration never
  // holds an unphysical rate and a term that did not bind in the records binds no sooner than they allow.
  std::vector<double FormParams::*> least = {};
  // Nelder-Mead restarts from the fit's best point, at most (0: none).
  int restarts = 0;
  // A staged fit (none: empty `staged`). Terms that only some points carry (decode_tiles: the combine's
  // serial split loop, on the points whose context splits) are fitted last, so that the points without
  // them predict exactly as the form without them does: first every other fitted term as if `staged`
  // were not in the form (held at 0, so the fit is the one the form had before them), then `staged`
  // together with `restaged` (terms that also apply only to those points, fitted again beside them) on
  // the points where `stage_point` holds, every other term held.
  std::vector<double FormParams::*> staged = {};
  std::vector<double FormParams::*> restaged = {};
  bool (*stage_point)(const FormParams& p, const std::vector<double>& dims, const std::vector<double>& rows) = nullptr;
  double staged_start = 0.1e-6; // the staged terms' starting value (split_s: about one dependent global load)
};

const FormHandler& gemm_tiles_form();
const FormHandler& grouped_tiles_form();
const FormHandler& decode_splitk_form();
const FormHandler& decode_tiles_form();
const FormHandler& decode_tiles_staggered_form();
const FormHandler& prefill_tiles_form();
const FormHandler& prefill_kernel_tiles_form();
const FormHandler& floor_bandwidth_form();

} // namespace moesim::perf
