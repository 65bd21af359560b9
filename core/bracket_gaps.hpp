// The gap a measured timeline's event brackets leave between two ops (docs/perf-models.md, "Kernel
// boundaries"). `moesim-validate run` times each op between a before- and an after-event and scales
// the event run to the plain step (measurement.event_scale); between one op's after-event and the
// next one's before-event the GPU processes the two records and, from an eager stream, fetches the
// commands that follow. That gap is what a comparison scores as host (validate/oos/oos.py, additive
// attribution: the gaps unscaled); it is not bench-ops's graph_gap (a kernel boundary without events).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

namespace moesim {

// One measured run's gaps: each op's start - ready over the event scale (the event run's own time),
// the step's first op apart (its gap holds the step's launch), the others in op order.
struct RunGaps {
  bool graph = false; // measurement.mode graph, else eager
  double first_s = 0; // the first op's: from the start event to its before-event
  std::vector<double> seconds;
};

// Throws InputError naming `file` for a run that is not one rank on one stream with an event scale.
RunGaps run_gaps(const nlohmann::json& run, const std::string& file);

// The mean gap per launch mode over every op of the runs (nullopt for a mode no run has), and a CUDA
// graph's launch: the graph runs' mean first gap (from the start event, recorded just before
// cudaGraphLaunch, to the first node's before-event) less the graph gap between brackets, which the
// simulator adds before the first kernel as before every other (0 at least). An eager run's first gap
// says nothing of the launch: its before-event is recorded ahead of the launch call, into an idle GPU.
struct BracketGaps {
  std::optional<double> eager_s, graph_s, graph_launch_s;
  long eager_ops = 0, graph_ops = 0, graph_runs = 0;
};
BracketGaps bracket_gaps(const std::vector<RunGaps>& runs);

} // namespace moesim
