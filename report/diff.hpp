// Comparing two timelines of the same schedule (simulated vs measured, or two simulations): the
// step-time error, the error per op class and per layer, and the ops that contribute most.
#pragma once
#include "core/timeline.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moesim {

struct DiffRow {
  std::string name;     // op class, layer ("L12") or op label, all layers together ("attn.qkv": op_label)
  double predicted = 0; // seconds, summed over the ops in the row, averaged over ranks
  double measured = 0;
  double error() const { return measured > 0 ? (predicted - measured) / measured : 0.0; }
};

struct TimelineDiff {
  double predicted_step = 0;
  double measured_step = 0;
  int matched_ops = 0;
  std::vector<DiffRow> by_class;        // GEMM, attention, other compute, each collective kind, p2p, host
  std::vector<DiffRow> by_layer;        // in layer order; "head/embed" for step-level ops
  std::vector<DiffRow> top_contributors; // by |predicted - measured|, largest first
  double step_error() const { return measured_step > 0 ? (predicted_step - measured_step) / measured_step : 0.0; }
};

// Matches ops by (rank, op id) and checks their names agree; throws InputError naming `measured_file`
// when the timelines are of different schedules.
TimelineDiff diff_timelines(const Timeline& predicted, const Timeline& measured, const std::string& measured_file,
                            int top = 10);
std::string render_diff(const TimelineDiff& d, const Timeline& predicted, const Timeline& measured);
nlohmann::json diff_to_json(const TimelineDiff& d);

} // namespace moesim
