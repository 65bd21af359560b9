// Across nodes: NCCL's network terms (latency row, network overhead, the ring's plateau, the
// inter-node speed ladder) and channels that leave every node through different NICs.
#include "core/error.hpp"
#include "fixtures.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {

// 2 nodes x 2 GPUs. Inside a node: NVLink links of 100 GB/s into a switch. Across nodes: every GPU
// has its own NIC of 12.5 GB/s (100 Gb/s); gpuA -> gpuB leaves through A's NIC and enters through B's.
std::string two_nodes(const std::string& name, const std::string& extra_zone_props = "")
{
  std::filesystem::path p = std::filesystem::temp_directory_path() / ("moesim_test_multinode_" + name + ".xml");
  std::ofstream f(p);
  f << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
    << "<platform version=\"4.1\">\n<zone id=\"t\" routing=\"Full\">\n"
    << "<prop id=\"moesim.gpus\" value=\"4\"/><prop id=\"moesim.gpus_per_node\" value=\"2\"/>\n"
    << extra_zone_props;
  for (int i = 0; i < 4; i++)
    f << "<host id=\"gpu" << i << "\" speed=\"1e15f\"><prop id=\"gpu_model\" value=\"test\"/><prop id=\"sm\" value=\"90\"/>"
      << "<prop id=\"mem_bytes\" value=\"8e10\"/><prop id=\"mem_bw\" value=\"2e12\"/>"
      << "<prop id=\"mem_bw_eff\" value=\"1\"/><prop id=\"flops_eff\" value=\"1\"/>"
      << "<prop id=\"kernel_overhead\" value=\"0\"/></host>\n"
      << "<link id=\"nvl" << i << "\" bandwidth=\"100GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\">"
      << "<prop id=\"class\" value=\"nvlink\"/></link>\n"
      << "<link id=\"nic" << i << "\" bandwidth=\"100Gbps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\">"
      << "<prop id=\"class\" value=\"nic\"/></link>\n";
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++) {
      const char* l = i / 2 == j / 2 ? "nvl" : "nic";
      f << "<route src=\"gpu" << i << "\" dst=\"gpu" << j << "\"><link_ctn id=\"" << l << i
        << "\" direction=\"UP\"/><link_ctn id=\"" << l << j << "\" direction=\"DOWN\"/></route>\n";
    }
  f << "</zone>\n</platform>\n";
  return p.string();
}

} // namespace

TEST_CASE("a ring all-reduce across two nodes", "[quick][sim]")
{
  // NCCL: 4 ranks on 2 nodes, NVLink inside (NVLINK row). Rings: node 0's GPUs reach node 1 through
  // 2 NICs, so 2 rings; capacity min(82.4 NVLink, 2 x 12.5) = 25 GB/s, one channel at most 12.5:
  // the inter-node ladder gives 12 (2 channels = 24), 6 (4 = 24, not more), stop at 3: 2 x 12,
  // not doubled (12 < 25): bus bandwidth 24.
  // All-reduce of S = 64 MiB, ring/Simple: 6 steps, 2 of them across nodes:
  //   latency 8.4 + 4 x max(3.4, network overhead 1 x 3) + 2 x 14 (NET row) = 50 us, x 1.4 (the
  //   multi-node ring's plateau: S / (4 channels x 4 ranks) >= 64) = 70 us;
  //   estimate 70 + S / (1000 x 24 x 4/6) = 4264 us, against LL128 29.6 + S / 14720 = 4589 us,
  //   LL 16 + S / 8000, tree Simple 44.4 + S / 8832, tree LL128 33.5 + S / 9315.
  // Flows: ring 0 visits 0 1 2 3, ring 1 visits 1 0 3 2; every flow carries 1.5 S / 2 at half of
  // 24 x 0.95 = 22.8 GB/s, i.e. 11.4 GB/s; every link direction carries exactly one flow (NIC 12.5,
  // NVLink 100: neither binds). The NVLink GPUs are sm90: Hopper's latency beyond NCCL's table
  // (core/costs.hpp nvlink_latency), -1.73 us a call and 0.334 per NVLink step, 4 of the 6:
  // 70 - 1.73 + 4 x 0.334 = 69.606 us. Expected: 69.606e-6 + 1.5 S / 22.8e9.
  const double S = 64.0 * 1024 * 1024;
  Simulation sim(two_nodes("ring"));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, S);
  SimOutput out = sim.run(s);
  CHECK(out.algorithms.at("all_reduce ring/Simple") == 1);
  CHECK(out.timeline.step_time == Approx(69.606e-6 + 1.5 * S / 22.8e9).epsilon(1e-9));
  // Each NIC direction carried one ring's share of the node crossings: 4 NICs x 2 directions x
  // 1.5 S / 2.
  CHECK(out.link_bytes.at("nic") == Approx(8 * 1.5 * S / 2).epsilon(1e-9));
}

namespace {

// One all-to-all of 4 ranks, `bytes` from each rank to each of the 3 others.
Schedule all_to_all_of_4(double bytes)
{
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_to_all, 3 * bytes);
  for (int r = 0; r < 4; r++) {
    s.ranks[r].ops[0].peer_bytes.assign(4, bytes);
    s.ranks[r].ops[0].peer_bytes.set(r, 0);
  }
  return s;
}

} // namespace

TEST_CASE("an all-to-all across two nodes takes the network's p2p latency", "[quick][sim]")
{
  // 1 MiB to each of the 3 others: p2p Simple (per peer 1 MiB > 2 channels x 16 KiB), alpha = ring
  // Simple base + one hop of the slowest transport, the network: 8.4 + 14 = 22.4 us. A sender moves
  // 0.81 x NCCL's view of its fastest path (NVLink, 82.4 GB/s) = 66.744 GB/s in all, a third to each
  // peer; its NIC carries the two off-node shares, 44.5 GB/s against 12.5: the NIC binds, 6.25 GB/s
  // each (max-min: the on-node share keeps its 22.248). The off-node flows end at 1 MiB / 6.25e9.
  const double S = 1048576;
  Simulation sim(two_nodes("a2a"));
  SimOutput out = sim.run(all_to_all_of_4(S));
  CHECK(out.timeline.step_time == Approx(22.4e-6 + S / 6.25e9).epsilon(1e-9));
}

TEST_CASE("an all-to-all across nodes pays the network's own latency once per send", "[quick][sim]")
{
  // As above with moesim.latency.nic = 2 us, NCCL's latencyInter: a send crossing the network is one
  // network step, charged that latency and, Simple, once more for the receive flush (tuning.cc
  // charges a collective's network step so): alpha 22.4 + 2 x 2 = 26.4 us.
  const double S = 1048576;
  Simulation sim(two_nodes("a2a_nic", "<prop id=\"moesim.latency.nic\" value=\"2e-6\"/>\n"));
  SimOutput out = sim.run(all_to_all_of_4(S));
  CHECK(out.timeline.step_time == Approx(26.4e-6 + S / 6.25e9).epsilon(1e-9));
}

TEST_CASE("an NVLink domain across hosts is one NCCL node", "[quick][sim]")
{
  // 4 GPUs on one NVLink fabric (100 GB/s each), written as 2 nodes of 2 (moesim.nodes alone gives
  // moesim.gpus_per_node = 4 / 2). No route crosses a NIC, so NCCL sees one node, as it does with
  // MNNVL (one topology for the clique, one ring graph): the NVLink rows, no network step.
  // NCCL's view: 4 links x 20.6 = 82.4 GB/s, ring search 4 x 20 = 80 bus. All-reduce of 4 KiB:
  // ring LL 6.6 + 6 x 0.6 = 10.2 us + 4096 / (1000 x min(141, 80 / 2) x 4 / 6) = 10.354 us, against
  // tree LL 6.8 + 2 x 3 x 0.6 = 10.4 us + 4096 / (1000 x 73.6 / 3.8 / 2 x 0.7) = 11.00 us: ring LL.
  // (Counted as 2 nodes it would pay 6.6 + 4 x max(0.6, 1) + 2 x 2.7 = 16 us.) Flows: each member
  // sends 6/4 of the buffer, in LL lines (x2); one NVLink node's LL ring moves what its 8 channels
  // stream, 7 calls a chunk for 6 steps (nvlink_ring_ll_channel_gbs): 8 x 8.75 x 6/7 = 60 GB/s,
  // 120 on the wire, so the 100 GB/s links bind (as one node, not two: across nodes NCCL's
  // llMaxBw would stay). alpha NCCL's 10.2 us, less Hopper's 1.73 a call, plus 6 x 0.334 a step
  // (core/costs.hpp nvlink_latency): 10.474 us.
  Simulation sim(star_platform("nvl_domain", 4, 100e9, "nvlink", {}, "<prop id=\"moesim.nodes\" value=\"2\"/>\n"));
  CHECK(sim.platform().gpus_per_node() == 2);
  CHECK(sim.platform().comm_shape({0, 1, 2, 3}).nccl.nodes == 1);
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, 4096);
  SimOutput out = sim.run(s);
  CHECK(out.algorithms.at("all_reduce ring/LL") == 1);
  CHECK(out.timeline.step_time == Approx(10.474e-6 + 1.5 * 4096 * 2 / 100e9).epsilon(1e-9));
}

TEST_CASE("moesim.nodes must give whole nodes", "[quick][sim][robust]")
{
  // 4 GPUs do not split into 3 nodes: refused, naming the property.
  try {
    Simulation sim(star_platform("bad_nodes", 4, 100e9, "nvlink", {}, "<prop id=\"moesim.nodes\" value=\"3\"/>\n"));
    FAIL("accepted 3 nodes of 4 GPUs");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("moesim.nodes") && Catch::Matchers::Contains("moesim.gpus (4)"));
  }
}

TEST_CASE("more nodes never make a collective faster at fixed bytes per GPU", "[quick][sim]")
{
  // The shipped 4 x 8 H100 cluster (8 NICs of 400 Gb/s a node, rails, PXN): the same collective on
  // node 0 (8 GPUs), nodes 0-1 (16) and all 4 (32), one after the other, at the same bytes per GPU
  // (the all-reduce's buffer; the all-gather's and reduce-scatter's share, their size ranks x
  // share). NCCL's estimate grows with the nodes (tests/core/test_nccl_model.cpp: network steps,
  // ranks, per-node caps), and so must the simulated call: from its last member's arrival to its
  // last member's end.
  Simulation sim(std::string(MOESIM_SOURCE_DIR) + "/platforms/cluster-4x8-h100-ib400.xml");
  Schedule s = empty_schedule(32);
  s.layout.groups.clear();
  const std::vector<int> sizes = {8, 16, 32};
  for (int g = 0; g < 3; g++) {
    Group grp;
    grp.id = g;
    for (int r = 0; r < sizes[g]; r++)
      grp.ranks.push_back(r);
    s.layout.groups.push_back(grp);
  }
  struct Call {
    OpKind kind;
    double share;
    int group;
  };
  std::vector<Call> calls;
  for (OpKind kind : {OpKind::all_reduce, OpKind::all_gather, OpKind::reduce_scatter})
    for (double share : {1024.0, 32768.0, 1048576.0, 33554432.0})
      for (int g = 0; g < 3; g++) {
        const int coll = static_cast<int>(calls.size());
        calls.push_back({kind, share, g});
        for (int r = 0; r < sizes[g]; r++) {
          Op op;
          op.kind = kind;
          op.group = g;
          op.coll = coll;
          op.comm_bytes = kind == OpKind::all_reduce ? share : share * sizes[g];
          op.name = "c" + std::to_string(coll);
          add_op(s, r, op);
        }
      }
  s.collectives = static_cast<int>(calls.size());
  const SimOutput out = sim.run(s);
  std::vector<double> start(calls.size(), 0), end(calls.size(), 0);
  for (const TimelineEvent& e : out.timeline.events) {
    const int c = s.ranks[e.rank].ops[e.op].coll;
    start[c] = std::max(start[c], e.start);
    end[c] = std::max(end[c], e.end);
  }
  for (size_t c = 0; c + 2 < calls.size(); c += 3) {
    const double t8 = end[c] - start[c], t16 = end[c + 1] - start[c + 1], t32 = end[c + 2] - start[c + 2];
    INFO(to_string(calls[c].kind) << " of " << calls[c].share << " B a GPU: " << t8 * 1e6 << " / " << t16 * 1e6 << " / "
                                  << t32 * 1e6 << " us on 1 / 2 / 4 nodes");
    CHECK(t8 > 0);
    CHECK(t16 >= t8);
    CHECK(t32 >= t16);
  }
}
