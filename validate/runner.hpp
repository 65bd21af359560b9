// `moesim-validate run`: replays a schedule on real GPUs, one host thread per rank (rank r on
// device r), and measures it.
//
//   * Communicators: one per CommSpec of plan_communicators, created by the member threads
//     (ncclCommInitRank inside ncclGroupStart/End), after every rank has built its op executor,
//     so that a refusal there (memory) ends every thread before NCCL waits for it.
//   * Streams: one per stream index of the schedule (0: compute and collectives, 1: pipeline
//     sends). A dependency on another stream's op is a cudaStreamWaitEvent on that op's "after"
//     event; ops of one stream keep their order.
//   * Ops: compute through OpExecutor::launch; collectives through NCCL in bf16 with the counts of
//     plan_comm_calls (all-to-all-v: grouped ncclSend/ncclRecv per peer); send/recv on the
//     point-to-point communicator; host_sync: a small device-to-host copy of the counts the last
//     all-to-all received, then the host waits for the stream (polling, so that a failure on
//     another rank can abort it), as an engine sizes its receive buffers.
//   * Before timing: OpExecutor::verify (every kernel against its CPU reference) and one
//     all-reduce of known values on every communicator.
//   * Eager: each iteration starts with a host barrier across the rank threads, then every rank
//     records its start event and launches its ops in schedule order with an event before and
//     after each; warm-up iterations first, then the timed ones (runner_plan.hpp says how the
//     times become a Timeline).
//   * Graph (--graph): after one eager step (NCCL connects peers at their first use, which a
//     capture does not allow), each rank captures its whole step (its streams forked from and
//     joined into stream 0) into a CUDA graph, twice: plain, and with event record nodes around
//     every op.
//     Iterations alternate between the two after the warm-up; the plain one gives the step
//     times, the other the per-op times (Measurement::op_times). A schedule with host_sync ops is
//     refused: a graph cannot hold one, and the simulator's graph-mode schedules have none.
//
// Errors: InputError, first for everything `moesim-validate --check-schedule` refuses, with the
// same message (check_replayable, op_check.hpp: before any GPU is touched); then when fewer GPUs are
// visible than the world, or when something does not fit in memory (the executor's message, or the
// communication buffers'); std::runtime_error (MOESIM_CHECK) for CUDA and NCCL failures. A failure
// on one rank aborts the others' communicators, so that no thread waits forever. With
// MOESIM_VALIDATE_TRACE set in the environment every rank says on stderr where it is.
#pragma once
#include "core/schedule.hpp"
#include "validate/runner_plan.hpp"

#include <cstdint>
#include <string>

namespace moesim::validate {

struct RunConfig {
  bool graph = false;
  int iters = 10;
  int warmup = 3;
  std::uint64_t seed = 1;
};

// `file` names the schedule in error messages.
Measurement run_schedule(const Schedule& s, const std::string& file, const RunConfig& c);

} // namespace moesim::validate
