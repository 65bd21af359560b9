// Timeline: what happened to every op of every rank in one step. Simulated and measured timelines
// share this schema (and its JSON), so they can be compared op by op.
#pragma once
#include "core/schedule.hpp"

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct TimelineEvent {
  int rank = 0;
  int op = 0;
  int stream = 0;
  int layer = -1;
  int microbatch = 0;
  std::string name;
  OpKind kind = OpKind::gemm;
  // The op's family and role; absent in timelines written before schedule format 2 (reports that
  // group ops by them take them from the other timeline, or refuse).
  std::optional<OpFamily> family;
  std::optional<OpRole> role;
  double ready = 0; // stream free and dependencies done
  double start = 0; // host had launched it too: the op begins (collectives: this rank arrived)
  double sync = 0;  // collectives / recv: every peer had arrived; compute: = start
  double end = 0;
  std::string detail; // collectives: "ring/Simple alpha=12.3us"; empty otherwise
  // What the op was, for people reading the timeline (the simulator fills them; measured timelines
  // may leave them empty): the op's shape as numbers (kernel_key, core/calibration.hpp) and its
  // bytes, device memory read and written for compute, NCCL's size (Op::comm_bytes) for
  // communication.
  std::vector<double> shape;
  double bytes = 0;
  double fixed = 0;   // collectives and sends: the fixed cost charged (NCCL's latency and the transport's), s
};

// Bytes that one collective instance or pipeline send moved over one link class, spread evenly
// over its transfer: from the end of its fixed latency until its last flow finished.
struct LinkTraffic {
  std::string link_class; // "pcie", "nvlink", "host_memory", "cpu_interconnect", "nic"
  double start = 0;
  double end = 0;
  double bytes = 0;       // summed over every link of the class its flows cross (as SimOutput::link_bytes)
};

struct Timeline {
  std::string source; // "sim" or "measured"
  std::string platform;
  std::string plan;
  int world = 0;
  double step_time = 0;
  std::vector<TimelineEvent> events; // sorted by rank, then op id
  // Link load (simulated timelines): per link class, the summed bandwidth (B/s) of the distinct
  // links that GPU-to-GPU routes cross, and the traffic, sorted by start then class.
  std::map<std::string, double> link_capacity;
  std::vector<LinkTraffic> link_traffic;
};

// Seconds a rank spent in each state over the step (they add up to the step time).
struct Breakdown {
  double compute = 0; // compute kernels on the main stream
  double comm = 0;    // collective / p2p transfer and fixed latency on the main stream (exposed)
  double host = 0;    // GPU waiting for the host: launches after a sync, the sync round trips
  double idle = 0;    // waiting for peers (imbalance, pipeline bubbles) and the tail after finishing
};
Breakdown breakdown_of_rank(const Timeline& t, int rank);
// Every rank's breakdown (index = rank, t.world of them) in one pass over the events; each equals
// breakdown_of_rank's bit for bit.
std::vector<Breakdown> breakdown_of_ranks(const Timeline& t);

nlohmann::json timeline_to_json(const Timeline& t);
Timeline timeline_from_json(const nlohmann::json& j, const std::string& file);

} // namespace moesim
