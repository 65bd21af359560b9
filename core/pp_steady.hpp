// PP steady state: several decode steps of one schedule run back to back, so that a pipeline
// keeps every stage busy the way a serving engine does. One step (Schedule) starts from an empty
// pipeline: stage 1 waits while stage 0 runs the first microbatch, and the last microbatch drains
// through the last stage while stage 0 idles (fill and drain). In an engine with PP = p and M >= p
// microbatches in flight, microbatch m's next step starts on stage 0 as soon as its sampled tokens
// come back from the last stage, while the other stages work on other microbatches.
//
// steady_schedule() concatenates `steps` copies of the step on every rank (op ids, dependencies,
// collective ids and pipeline tags renumbered per copy) and adds, for every microbatch of every
// step but the last, the sampled token ids going back: a send on the last stage (stream 1, after
// the microbatch's last op there) and a receive on stage 0 (stream 0, before the microbatch's first
// op of the next step). Ops keep their stage's program order: stage 0 runs mb0, mb1, ... of step k,
// then mb0 of step k + 1. The replay is the ordinary one (sim/), so the sends between stages take
// the platform's links as in one step. Cost: `steps` times the step's ops, plus 2 x M x stage size.
//
// steady_state() reads the replay: step k ends when its last microbatch's last op ends on the last
// stage (the token feedback sends are not counted). The first `warmup` steps fill the pipeline;
// the steady interval is the mean over the others, (end[K-1] - end[warmup-1]) / (K - warmup): the
// time between two tokens of one sequence (TPOT) once the pipeline is full.
#pragma once
#include "core/schedule.hpp"
#include "core/timeline.hpp"

#include <vector>

namespace moesim {

// Bytes of one sampled token id sent back to stage 0 (int64, as vLLM and SGLang hold token ids).
inline constexpr double token_id_bytes = 8;

struct SteadySchedule {
  Schedule schedule;
  int steps = 0;
  // first_op[r][k]: the index of step k's first op on rank r; first_op[r][steps] is the op count.
  std::vector<std::vector<int>> first_op;
};

// `one`: a decode step with PP >= 2; `steps` >= 1. Throws std::invalid_argument otherwise, or when
// the renumbered tags would not fit an int.
SteadySchedule steady_schedule(const Schedule& one, int steps);

struct SteadyState {
  int steps = 0;                 // steps simulated
  int warmup = 0;                // of which the first `warmup` are not measured
  std::vector<double> step_end;  // per step: when its last token came out of the last stage
  double interval = 0;           // steady seconds per step (= TPOT): mean over the measured steps
};

// `t`: the replay of `s.schedule`. Needs 1 <= warmup < s.steps (std::invalid_argument otherwise).
SteadyState steady_state(const SteadySchedule& s, const Timeline& t, int warmup);

} // namespace moesim
