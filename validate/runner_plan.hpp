// What `moesim-validate run` decides without a GPU: the NCCL calls each op of a schedule makes
// (counts, peers, buffer room), the refusals, and how the raw CUDA-event times of one iteration
// become a Timeline with the simulator's meanings (sim/simulation.cpp):
//   ready  the op's stream was free and its dependencies were done: the latest end among the
//          previous op on its stream and its deps (the rank's step start for a stream's first op)
//   start  the op began on the GPU: its "before" event, which fires once the stream reached it and
//          the host had launched it (collectives: this rank arrived)
//   sync   collectives: every member had arrived = the latest start among the members (the
//          simulator's arrival barrier); send/recv: both sides had arrived = the later start of
//          the pair; compute and host ops: = start
//   end    the op's "after" event; for a host_sync, recorded when the host came back from the
//          stream synchronisation, so the GPU's wait for the next launch belongs to the sync
// Every rank measures from its own start event (CUDA events of different GPUs cannot be
// compared), recorded right after a host barrier across the rank threads; the host clock at that
// record puts the ranks on one time base (the earliest rank's start event is 0).
#pragma once
#include "core/schedule.hpp"
#include "core/timeline.hpp"
#include "validate/comm_plan.hpp"
#include "validate/device_info.hpp"
#include "validate/options.hpp"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace moesim::validate {

// Collectives run in bf16: NCCL's element count for a byte size, rounded to the nearest element.
std::size_t bf16_elements(double bytes);

struct PeerCount {
  int peer = 0;           // NCCL rank in the call's communicator
  std::size_t count = 0;  // bf16 elements
  bool operator==(const PeerCount&) const = default;
};

// The NCCL calls of one op. For compute and host ops comm is -1 and nothing else is set.
struct CommCall {
  int comm = -1;            // index into CommPlan::comms
  OpKind kind = OpKind::gemm;
  int comm_size = 0;        // ranks in the communicator
  // all_reduce: elements of the buffer; all_gather: elements each rank sends (output = count x
  // comm_size); reduce_scatter: elements each rank receives (input = count x comm_size);
  // send/recv: elements of the payload; all_to_all: unused (see sends, recvs)
  std::size_t count = 0;
  // all_to_all: ncclSend / ncclRecv per peer with a non-zero count, packed in peer order in the
  // send and receive buffers; send/recv: the one peer
  std::vector<PeerCount> sends, recvs;
  std::size_t send_elements = 0, recv_elements = 0; // room the call needs in each buffer
};

// [rank][op id]. An all-to-all's sends are its own peer_bytes; what it receives from member j is
// peer_bytes[its own index] of member j's op with the same collective id (an all-to-all without
// peer_bytes sends comm_bytes / members to everyone). Throws InputError naming `file` when an op
// id is not its index or a member's op of a collective is missing; run plan_communicators first.
std::vector<std::vector<CommCall>> plan_comm_calls(const Schedule& s, const CommPlan& plan, const std::string& file);

// A graph cannot hold a host synchronisation: refuses (InputError) a schedule with host_sync ops.
void check_graph_capturable(const Schedule& s, const std::string& file);
// Refuses (InputError) when fewer CUDA devices are visible than the schedule's world.
void check_gpu_count(const Schedule& s, int visible, const std::string& file);

// One rank's raw times in one iteration, seconds since its own start event.
struct RankTimes {
  double host_start = 0;          // host clock (seconds, any origin common to all ranks) at the start event
  std::vector<double> start, end; // per op id
  std::vector<double> host_wait;  // per op id: host_sync ops, seconds the host waited; 0 otherwise
  double last = 0;                // when the rank's last stream finished
};
using IterationTimes = std::vector<RankTimes>; // per rank

// Each rank's shift onto the common base: host_start minus the earliest host_start.
std::vector<double> start_offsets(const IterationTimes& it);
// The whole step, end to end: the latest rank's finish on the common base (whose 0 is the earliest
// start), i.e. max end - min start over all ranks.
double step_span(const IterationTimes& it);
// The index of the median value: the lower one of an even count; equal values keep their order.
std::size_t median_index(const std::vector<double>& v);

// The Timeline of one iteration (source, platform left empty for the caller). step_time is
// step_span(it).
Timeline assemble_timeline(const Schedule& s, const std::vector<std::vector<CommCall>>& calls,
                           const CommPlan& plan, const IterationTimes& it);

// What `moesim-validate run` measured, ready to write.
struct Measurement {
  Timeline timeline;               // one iteration (see op_times), source "measured" or "measured-graph"
  std::string mode;                // "eager" or "graph"
  std::vector<double> step_times;  // every timed iteration, end to end across ranks, without per-op events
  std::size_t median_iteration = 0;
  // How the per-op times were taken:
  //   "events"        eager launches with a CUDA event before and after every op, a second run of
  //                   each iteration beside the plain one; its median iteration, scaled by
  //                   event_scale so that the step matches the plain median (two event records
  //                   per op cost the GPU about 4 us on an H200)
  //   "graph-events"  a second capture of the step with an event record node before and after
  //                   every op (cudaEventRecordExternal), timed the same way; its median
  //                   iteration, scaled by event_scale so that the step matches the plain graph's
  //                   median (the event nodes themselves cost a little)
  std::string op_times;
  std::vector<double> event_step_times; // the instrumented steps (eager: with events; graph: event nodes)
  double event_scale = 1;
  std::vector<double> device_bytes;     // per rank: what the op executor holds
  std::vector<std::string> executor_notes; // per rank: OpExecutor::notes() (memory layout, substitutions)
};

// Eager: the steps from `plain` (launched as an engine would, no per-op events), the per-op times
// from the median of `with_events` scaled by event_scale to the plain median step.
Measurement eager_measurement(const Schedule& s, const std::vector<std::vector<CommCall>>& calls,
                              const CommPlan& plan, const std::vector<IterationTimes>& plain,
                              const std::vector<IterationTimes>& with_events);
// Graph: step times from the plain graph's launches (only host_start and last are read), per-op
// times from the instrumented graph's median iteration, scaled to the plain median.
Measurement graph_measurement(const Schedule& s, const std::vector<std::vector<CommCall>>& calls,
                              const CommPlan& plan, const std::vector<IterationTimes>& plain,
                              const std::vector<IterationTimes>& with_events);

// The Timeline JSON (core's timeline_to_json) plus a "measurement" object: mode, iterations,
// step times, how per-op times were taken, the schedule, the machine (device_info), the NCCL
// environment. timeline_from_json reads it back (it ignores the extra object).
nlohmann::json measurement_to_json(const Measurement& m, const RunOptions& o, const Schedule& s,
                                   const SystemInfo& sys);
// "<world>x <device 0 name>", or o.platform when set.
std::string platform_name(const RunOptions& o, const Schedule& s, const SystemInfo& sys);

// Seconds each op class kept ops busy (end - start, summed over ranks), and how many ops.
struct ClassTotal {
  int ops = 0;
  double busy = 0;
};
std::array<ClassTotal, 4> class_totals(const Timeline& t); // indexed by OpClass

// The summary `moesim-validate run` prints: step time over the iterations, per-rank breakdown,
// per op class and per op kind.
std::string summary_table(const Timeline& t, const std::vector<double>& step_times, const std::string& mode);

} // namespace moesim::validate
