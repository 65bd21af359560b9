// Simulation: replays one Schedule on one SimGrid platform. Owns the engine; SimGrid allows one
// engine per process, so a Simulation is made once per process (the CLI forks one per scenario).
#pragma once
#include "core/perf/provenance.hpp"
#include "core/schedule.hpp"
#include "core/timeline.hpp"
#include "sim/platform.hpp"
#include "topology/route_policy.hpp"

#include <map>
#include <memory>
#include <string>

namespace moesim {

struct SimOutput {
  Timeline timeline;
  std::map<std::string, double> link_bytes; // bytes carried per link class (a flow counts on every link it crosses)
  std::map<std::string, int> algorithms;    // "all_reduce ring/LL" -> calls (per collective instance)
  int fast_collectives = 0;                 // collective instances timed by the fluid model, not SimGrid
  // Compute time summed over ranks, by where it came from (measured, interpolated, extrapolated, specs).
  std::map<perf::Provenance, double> compute_by_provenance;
};

// What each timeline event holds besides its times. `described`: also the op's name, its shape
// (kernel_key) and a collective's algorithm (TimelineEvent::name, shape, detail), for timelines that
// people read or that are written out. `timed`: those three left empty; what `summarise` reads
// (rank, op, stream, layer, microbatch, kind, family, role, times, bytes, fixed) is the same. At
// 1,024 GPUs the three are ~2.5 million small heap blocks made, touched and freed for nothing when
// only the summary is wanted.
enum class EventDetail { described, timed };

class Simulation {
public:
  // Creates the engine, sets the exact network model and loads the platform file. `calibration`:
  // the measured calibration to apply (null: none). Which one applies is the caller's choice
  // (core/calibration_choice.hpp); scenarios forked from one run share one loaded copy.
  explicit Simulation(const std::string& platform_file, std::shared_ptr<const Calibration> calibration = nullptr);
  // The same on a routed topology loaded straight into SimGrid (sim/routed_platform.hpp): the
  // platform its XML would declare, without the text. `name` stands for the file in errors and in
  // the timeline.
  Simulation(const RoutedTopology& routed, const std::string& name,
             std::shared_ptr<const Calibration> calibration = nullptr);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  const Platform& platform() const { return *platform_; }
  // The NCCL release the collective model follows, in place of the platform's (Platform::nccl_version).
  void set_nccl_version(int code) { platform_->set_nccl_version(code); }
  // Runs the schedule to completion. Throws InputError if it does not fit the platform. `exact`:
  // every op on SimGrid's clock and every collective's flows through SimGrid; otherwise (the
  // default, same results to about 1e-12 relative) compute ops of single-stream schedules run on
  // each rank's own clock and isolated collectives take the fluid model's time where it is exact.
  // `detail`: what the events hold besides their times (EventDetail); the times are the same.
  SimOutput run(const Schedule& schedule, bool exact = false, EventDetail detail = EventDetail::described);

private:
  std::unique_ptr<sg4::Engine> engine_;
  std::unique_ptr<Platform> platform_;
  bool ran_ = false;
};

} // namespace moesim
