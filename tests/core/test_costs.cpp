// Roofline and NCCL cost model: pure functions, expected numbers derived by hand.
#include "core/calibration.hpp"
#include "core/costs.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace moesim;

namespace {
GpuSpec gpu()
{
  GpuSpec g;
  g.model = "test";
  g.mem_bw = 2e12;
  g.flops[Dtype::bf16] = 1e15;
  g.flops[Dtype::fp8] = 2e15;
  return g;
}
} // namespace

TEST_CASE("a decode GEMM is memory bound", "[quick][costs]")
{
  // y[1, 4096] = x[1, 4096] W[4096, 4096], bf16: bytes = 4096*4096*2 + 1*(4096+4096)*2 = 33570816,
  // flops = 2*4096*4096 = 33554432. Memory: 33570816 / 2e12 = 16.785408 us; math: 33.55 ns.
  const double t = roofline_seconds(gpu(), 2.0 * 4096 * 4096, 4096.0 * 4096 * 2 + 8192 * 2, Dtype::bf16, 1);
  CHECK(t == Approx(33570816 / 2e12).epsilon(1e-12));
}

TEST_CASE("a prefill GEMM is compute bound", "[quick][costs]")
{
  // m = n = k = 8192 bf16: flops = 2*8192^3 = 1099511627776 -> 1.099511627776 ms at 1e15;
  // bytes = 8192^2*2 + 8192*16384*2 = 402653184 -> 0.201 ms. The time is the math.
  const double f = 2.0 * 8192 * 8192 * 8192, b = 8192.0 * 8192 * 2 + 8192.0 * 16384 * 2;
  CHECK(roofline_seconds(gpu(), f, b, Dtype::bf16, 1) == Approx(f / 1e15).epsilon(1e-12));
  // FP8 has its own rate: half the time.
  CHECK(roofline_seconds(gpu(), f, b, Dtype::fp8, 1) == Approx(f / 2e15).epsilon(1e-12));
  // NVFP4 is not native on this GPU: the math runs at the bf16 rate.
  CHECK(roofline_seconds(gpu(), f, b, Dtype::nvfp4, 1) == Approx(f / 1e15).epsilon(1e-12));
}

TEST_CASE("efficiencies and kernel overhead enter the roofline", "[quick][costs]")
{
  // 3 kernels * 2 us + max(1e12 / (1e15 * 0.5), 1e9 / (2e12 * 0.8)) = 6 us + max(2 ms, 0.625 ms).
  GpuSpec g = gpu();
  g.flops_eff = 0.5;
  g.mem_bw_eff = 0.8;
  g.kernel_overhead = 2e-6;
  CHECK(roofline_seconds(g, 1e12, 1e9, Dtype::bf16, 3) == Approx(6e-6 + 2e-3).epsilon(1e-12));
}

TEST_CASE("storage cost of quantised formats includes their scales", "[quick][costs]")
{
  CHECK(bytes_per_element(Dtype::nvfp4) == 0.5625);    // 4 bits + an fp8 scale per 16
  CHECK(bytes_per_element(Dtype::mxfp4) == 0.53125);   // 4 bits + an e8m0 scale per 32
  CHECK(bytes_per_element(Dtype::fp8) == 1.0 + 4.0 / 16384);
  CHECK_THROWS_WITH(parse_dtype("int3"), Catch::Matchers::Contains("nvfp4"));
}

namespace {

// n members all reached the same way, NCCL seeing `gbs` per path, PCIe links of `pcie` GB/s.
CommShape uniform_shape(int n, Transport t, double gbs, double pcie, int sm = 90)
{
  CommShape s;
  s.transport.assign(n, std::vector<Transport>(n, t));
  s.path_gbs.assign(n, std::vector<double>(n, gbs));
  s.pcie_gbs.assign(n, pcie);
  s.nccl.ranks = n;
  s.nccl.sm = sm;
  s.nccl.nvlink = t == Transport::nvlink;
  s.nccl.graph = nccl_ring_search(sm, gbs, gbs);
  return s;
}

} // namespace

TEST_CASE("collective costs: NCCL's pick, its latency and the flows' rate", "[quick][costs]")
{
  // 8 H100s on NVSwitch: NCCL sees 18 x 20.6 = 370.8 GB/s; its ring search gives 12 channels of
  // 30 GB/s (test_nccl_model.cpp), bus bandwidth 360.
  const CommShape h100 = uniform_shape(8, Transport::nvlink, 370.8, 53);
  // 256 MiB all-reduce: ring/Simple (56 + 1304.9 us beats LL128's 40.6 + 1418.4 us). A member
  // sends 14/8 of the buffer at NCCL's algorithm bandwidth 360 x 8/14, i.e. 360 GB/s, times the
  // measured fraction 0.95 for rings of more than two: 342 GB/s, X = 469762048 / 342e9 = 1373.6 us.
  // alpha = NCCL's base 8.4 us, Hopper's -1.73 us a collective call (nvlink_latency), plus what the
  // Simple pipeline exposes beyond X (Hopper: 7.95 us a step): max(14 x 7.95 + X x 15/28, X) - X =
  // 0, the steps hidden under the transfer: 8.4 - 1.73 = 6.67 us.
  CollChoice big = choose_collective(h100, OpKind::all_reduce, 268435456);
  CHECK(big.algo == CollAlgo::ring);
  CHECK(big.proto == Proto::simple);
  CHECK(big.alpha == Approx(6.67e-6));
  CHECK(big.rate == Approx(342e9));
  CHECK(big.wire_factor == 1.0);
  CHECK(big.shm_rate == 0);
  // 8 KiB: ring/LL (NCCL's table: LL's bus bandwidth min(141, 360 / 2) = 141 GB/s), alpha 6.6 +
  // 14 x 0.6 = 15 us, and Hopper's -1.73 + 14 x 0.334 = 2.946: 17.946 us (NVIDIA measured 15.96 on
  // H100 and 16.67 on H200, held-out cells, where NCCL's table was 6% and 10% fast and this is 12%
  // and 8% slow: 8 GPUs alone fit less per step, fit_nvlink_latency.sh). The flows move what the kernel's blocks stream: 24
  // channels (the graph's 12 doubled) x 8.75 GB/s x 14 steps / 15 calls = 196 GB/s of payload, 392
  // on the wire (its lines are half flags); no measured fraction for LL.
  CollChoice small = choose_collective(h100, OpKind::all_reduce, 8192);
  CHECK(small.proto == Proto::ll);
  CHECK(small.alpha == Approx(17.946e-6));
  CHECK(small.rate == Approx(392e9));
  CHECK(small.wire_factor == 2.0);
  // Two ranks: the pair fraction. All-gather of 256 MiB on 2: Simple, one step, which a one-step
  // pipeline never hides: max(7.95 + X x 2/2, X) - X = 7.95, alpha 8.4 - 1.73 + 7.95 = 14.62 us;
  // rate 360 x 0.66 = 237.6 GB/s.
  const CommShape pair = uniform_shape(2, Transport::nvlink, 370.8, 53);
  CollChoice ag = choose_collective(pair, OpKind::all_gather, 268435456);
  CHECK(ag.alpha == Approx(14.62e-6));
  CHECK(ag.rate == Approx(360e9 * 0.66));
}

TEST_CASE("collective costs through host memory (SHM)", "[quick][costs]")
{
  // 4 GPUs without P2P on Gen5 x16 (53 GB/s): NCCL sees 48 GB/s, 40 after its Intel overhead; the
  // search gives 2 channels of 20 GB/s (test_nccl_model.cpp), bus bandwidth 40.
  const CommShape shm = uniform_shape(4, Transport::shm, 40, 53);
  // 256 MiB all-reduce: Simple. NCCL's table charges 8.4 + 6 x 5.7 = 42.6 us, and each of the 6
  // steps a host-memory round trip (every ring hop is SHM): 6 x 0.917 = 5.502 us more. The ring runs
  // them as a pipeline of 6 steps of 5.7 + 0.917 = 6.617 us: the transfer X (6/4 of the buffer at the
  // 23.85 GB/s a receiver reads from host memory: 16882.7 us) hides them, alpha = the base 8.4 us.
  CollChoice c = choose_collective(shm, OpKind::all_reduce, 268435456);
  CHECK(c.proto == Proto::simple);
  CHECK(c.alpha == Approx(8.4e-6));
  // The flows: NCCL's 40 GB/s x 0.95 = 38 (the ring's 4 channels, 2 graph channels doubled, would
  // each read 11.43 GB/s through host memory: 45.72); a receiver reads host memory at 0.45 x 53 =
  // 23.85 GB/s, which the flows meet in the simulation.
  CHECK(c.rate == Approx(38e9));
  CHECK(c.shm_rate == Approx(23.85e9));
  // 1 MiB: Simple (NCCL: 42.6 + 1048576 / 26667 = 81.9 us against LL's 12.6 + 78.6 = 91.2).
  // X = 1048576 x 6/4 / 23.85e3 = 65.948 us; the pipeline 6 x 6.617 + X x 7/12 = 39.702 + 38.470 =
  // 78.172 us, above X: alpha = 8.4 + 78.172 - 65.948 = 20.624 us where NCCL's table says 49.8.
  CollChoice mid = choose_collective(shm, OpKind::all_reduce, 1048576);
  CHECK(mid.proto == Proto::simple);
  CHECK(mid.alpha == Approx(20.624e-6).epsilon(1e-3));
  // 64 KiB: LL (6.6 + 6 x 1.0 = 12.6 us + 6 x 0.917 = 18.102). The host read rate is on the wire:
  // LL's payload gets half of it.
  CollChoice ll = choose_collective(shm, OpKind::all_reduce, 65536);
  CHECK(ll.proto == Proto::ll);
  CHECK(ll.alpha == Approx(18.102e-6));
  CHECK(ll.shm_rate == Approx(23.85e9));
}

TEST_CASE("SHM's per-hop term: the call without P2P above NCCL's PCI estimate, less the call with P2P above its NVLink estimate", "[quick][costs]")
{
  // This project's 4x H200, the same all-reduce of 1 KiB on 4 GPUs (6 ring steps, LL), the same
  // NCCL and event timing, with and without P2P.
  const Calibration on = load_calibration_file(std::string(MOESIM_SOURCE_DIR) + "/platforms/calibration/nvswitch-4x-h200.yaml");
  const Calibration off =
      load_calibration_file(std::string(MOESIM_SOURCE_DIR) + "/platforms/calibration/nvswitch-4x-h200-nop2p.yaml");
  const double t_on = on.find(OpKind::all_reduce, 4)->time_at(1024) * 1e6;
  const double t_off = off.find(OpKind::all_reduce, 4)->time_at(1024) * 1e6;
  // The measured points: 11.46 and 19.36 us.
  CHECK(t_on == Approx(11.46).epsilon(1e-3));
  CHECK(t_off == Approx(19.36).epsilon(1e-3));
  // NCCL's estimates (tuning.cc, ring LL): NVLink 6.6 + 6 x 0.6 = 10.2 us, PCI 6.6 + 6 x 1.0 = 12.6 us.
  const double base = nccl_base_latency_us(CollAlgo::ring, Proto::ll);
  const double nvl = base + 6 * nccl_hop_latency_us(Transport::nvlink, CollAlgo::ring, Proto::ll);
  const double pci = base + 6 * nccl_hop_latency_us(Transport::shm, CollAlgo::ring, Proto::ll);
  CHECK(nvl == Approx(10.2));
  CHECK(pci == Approx(12.6));
  // Without P2P 6.76 us above NCCL, with it 1.26 (the timing and NCCL's base, whatever the
  // transport): the hops through host memory add (6.76 - 1.26) / 6 = 0.9167 us each.
  CHECK(TransportTerms{}.shm_hop_us == Approx(((t_off - pci) - (t_on - nvl)) / 6).epsilon(1e-3));
}

TEST_CASE("all-to-all and sends take NCCL's p2p path", "[quick][costs]")
{
  const CommShape h100 = uniform_shape(4, Transport::nvlink, 370.8, 53);
  // 8 KiB per peer: one channel (a part is 512 KiB / 8 = 64 KiB), LL (<= 16 KiB per channel);
  // alpha = ring LL base 6.6 + one NVLink hop 0.6 = 7.2 us.
  CollChoice small = choose_collective(h100, OpKind::all_to_all, 3 * 8192);
  CHECK(small.algo == CollAlgo::direct);
  CHECK(small.proto == Proto::ll);
  CHECK(small.alpha == Approx(7.2e-6));
  // 1 MiB per peer: Simple, on 8 channels (4 ranks x 8 = the call's 32), 128 KiB each. alpha =
  // 8.4 + 3.4 = 11.8 us, plus the last p2p chunk's exposed part (here the whole 128 KiB, under
  // the 512 KiB chunk): 0.32 x 131072 / 17.89e3 B/us = 2.3445 us -> 14.1445 us. A sender moves
  // 0.81 of NCCL's 370.8 GB/s (its 3 x 8 channels x 17.89 = 429.4 would allow more).
  CollChoice big = choose_collective(h100, OpKind::all_to_all, 3 * 1048576.0);
  CHECK(big.proto == Proto::simple);
  CHECK(big.alpha == Approx(14.1445e-6).epsilon(1e-4));
  CHECK(big.rate == Approx(0.81 * 370.8e9));
  // A platform or calibration that sets the p2p fixed cost overrides it.
  CommShape fixed = h100;
  fixed.p2p_alpha = 5e-6;
  CHECK(choose_collective(fixed, OpKind::send, 1048576).alpha == 5e-6);
  // Through host memory on PCIe: PCI row and a host-memory hop, 6.6 + 1.0 + 0.917 = 8.517 us for LL
  // (8 KiB: two parts of 16 KiB -> 2 channels, 8 KiB <= 32 KiB).
  const CommShape shm = uniform_shape(2, Transport::shm, 40, 53);
  CollChoice s = choose_collective(shm, OpKind::send, 8192);
  CHECK(s.proto == Proto::ll);
  CHECK(s.alpha == Approx(8.517e-6));
  CHECK(s.shm_rate == Approx(0.45 * 53e9));
}

TEST_CASE("all-to-all flow rates: senders share out, SHM receivers read at their rate", "[quick][costs]")
{
  // 3 members; member 0 sends 1 and 3 bytes to 1 and 2, member 1 sends 2 to 0, member 2 nothing.
  // Send rates 8 each: 0 -> 1 gets 8 x 1/4 = 2, 0 -> 2 gets 6, 1 -> 0 gets 8. Flows into 2 are
  // through host memory with a read rate of 3: 0 -> 2 is held to 3 (the only staged flow into 2).
  const std::vector<std::vector<double>> bytes = {{0, 1, 3}, {2, 0, 0}, {0, 0, 0}};
  const std::vector<std::vector<bool>> shm = {{false, false, true}, {false, false, true}, {true, true, false}};
  const auto r = direct_flow_rates(bytes, {8, 8, 8}, shm, {3, 3, 3});
  CHECK(r[0][1] == Approx(2));
  CHECK(r[0][2] == Approx(3));
  CHECK(r[1][0] == Approx(8));
  CHECK(r[2][0] == 0);
}

TEST_CASE("NVLink3 Hopper and NVLink5 calls cost what those generations measure beyond NCCL's table", "[quick][costs]")
{
  // Hopper's collectives (fitted on H100/H200 at 2 and 4 GPUs): 1.73 us less a call, 0.334 more a
  // step; its sends keep NCCL's table, as Hopper's send terms were fitted with it.
  CHECK(nvlink_latency(90).call_us == -1.73);
  CHECK(nvlink_latency(90).hop_us == 0.334);
  CHECK(nvlink_latency(90, /*p2p=*/true).call_us == 0);
  CHECK(nvlink_latency(90, /*p2p=*/true).hop_us == 0);
  // The others' terms are the same for a send.
  CHECK(nvlink_latency(100, true).call_us == nvlink_latency(100).call_us);
  CHECK(nvlink_latency(80, true).hop_us == nvlink_latency(80).hop_us);
  // 2 H100s, reduce_scatter of 8 KiB: ring LL, NCCL's 6.6 + 0.6 = 7.2 us, less 1.73, plus 0.334:
  // 5.804 us (NVIDIA measured 5.81 on H100 and 5.63 on H200, fit cells, where NCCL's 7.2 was 24% and
  // 28% above). An
  // all-to-all on the same pair keeps NCCL's send latency, 6.6 + 0.6 = 7.2 us.
  const CommShape h100 = uniform_shape(2, Transport::nvlink, 370.8, 53);
  CHECK(choose_collective(h100, OpKind::reduce_scatter, 8192).alpha == Approx(5.804e-6));
  CHECK(choose_collective(h100, OpKind::all_to_all, 8192).alpha == Approx(7.2e-6));
  // 8 B200s on NVSwitch: NCCL sees 18 x 40.1 = 721.8 GB/s, 16 channels of 45 GB/s. 8 KiB
  // all-reduce: ring LL as on Hopper, NCCL's 6.6 + 14 x 0.6 = 15 us, plus NVLink5's 1.30 per call
  // and 0.68 per step: 15 + 1.30 + 14 x 0.68 = 25.82 us (NVIDIA measured 26.0, a cell left out of
  // the fit).
  const CommShape b200 = uniform_shape(8, Transport::nvlink, 721.8, 53, 100);
  const CollChoice ar = choose_collective(b200, OpKind::all_reduce, 8192);
  CHECK(ar.proto == Proto::ll);
  CHECK(ar.alpha == Approx(25.82e-6));
  // All-gather of 8 KiB: 7 steps: 6.6 + 7 x 0.6 + 1.30 + 7 x 0.68 = 16.86 us.
  CHECK(choose_collective(b200, OpKind::all_gather, 8192).alpha == Approx(16.86e-6));
  // An all-to-all's one hop: 6.6 + 0.6 + 1.30 + 0.68 = 9.18 us.
  CHECK(choose_collective(b200, OpKind::all_to_all, 7 * 8192).alpha == Approx(9.18e-6));
  // 8 A100s: 12 x 20 = 240 GB/s, 12 channels of 20. 8 KiB all-reduce: 15 + 2.68 + 14 x 0.415 =
  // 23.49 us.
  const CommShape a100 = uniform_shape(8, Transport::nvlink, 240, 26.5, 80);
  CHECK(choose_collective(a100, OpKind::all_reduce, 8192).alpha == Approx(23.49e-6));
  // A Blackwell GPU on PCIe (RTX PRO 6000, sm120) keeps NCCL's PCI row: 2-GPU 8 KiB all-reduce
  // 6.6 + 2 x 1.0 = 8.6 us.
  const CommShape pcie = uniform_shape(2, Transport::p2p, 48, 53, 120);
  CHECK(choose_collective(pcie, OpKind::all_reduce, 8192).alpha == Approx(8.6e-6));
}

TEST_CASE("over PCIe, Simple channels bound what an all-to-all moves", "[quick][costs]")
{
  // 2 GPUs under one PCIe Gen5 switch (NCCL sees 48 GB/s): the sm100 speed ladder gives 2 channels
  // of 24 GB/s, so the communicator runs 4 and its sends share 4. One peer takes 2 channels (PCIe),
  // each moving at most 12.84 GB/s: 25.68 GB/s, below the 0.81 x 48 = 38.88 of NCCL's view.
  const CommShape pair = uniform_shape(2, Transport::p2p, 48, 53, 120);
  CHECK(nccl_p2p_comm_channels(pair.nccl) == 4);
  const CollChoice two = choose_collective(pair, OpKind::all_to_all, 268435456);
  CHECK(two.proto == Proto::simple);
  CHECK(two.channels == 2);
  CHECK(two.rate == Approx(2 * 12.84e9));
  // A send of 256 MiB between them: the same 2 channels.
  CHECK(choose_collective(pair, OpKind::send, 268435456).rate == Approx(2 * 12.84e9));
  // 8 GPUs through host memory (NCCL sees 40 GB/s: 2 channels of 20, 4 run): a peer starts on 1
  // channel (2 halved while 8 x 2 > 4), 64 MiB a peer is 2 parts (above 32 x 128 KiB), and round d
  // takes channels reverseBits(d) and the next: rounds 1-7 on {2,3} {1,2} {3,0} {0,1} {2,3} {1,2}
  // {3,0}. Channels 2 and 3 carry 4 halves each: a sender moves 7 peers' bytes in the time one
  // channel moves 2 at 8.06 GB/s: 3.5 x 8.06 = 28.21 GB/s, below 0.81 x 40 = 32.4.
  const CommShape shm = uniform_shape(8, Transport::shm, 40, 53, 120);
  CHECK(choose_collective(shm, OpKind::all_to_all, 7 * 67108864.0).rate == Approx(3.5 * 8.06e9));
  // LL is not bounded this way: 8 KiB per peer stays at 0.81 x 40 x 2 (LL's wire factor).
  CHECK(choose_collective(shm, OpKind::all_to_all, 7 * 8192.0).rate == Approx(0.81 * 40e9 * 2));
  // NVLink is not bounded either (test above: 0.81 x 370.8).
}

TEST_CASE("over PCIe, one operation per root rank gets a share of the ring's channels", "[quick][costs]")
{
  // 2 GPUs under one PCIe Gen5 switch (test above: 2 channels of 24 GB/s, 4 run). A 256 MiB
  // all-gather: ring/Simple, NCCL's bus bandwidth 2 x 24 = 48 GB/s, a member's flow 48 GB/s x the
  // pair fraction 0.66 = 31.68 GB/s, below its 4 channels x 12.84 = 51.36.
  const CommShape pair = uniform_shape(2, Transport::p2p, 48, 53, 120);
  const CollChoice ring = choose_collective(pair, OpKind::all_gather, 268435456);
  CHECK(ring.proto == Proto::simple);
  CHECK(ring.channels == 4);
  CHECK(ring.rate == Approx(48e9 * 0.66));
  // Per root rank (TensorRT-LLM's all-gather with sizes: two broadcasts in one group): each takes 2
  // of the 4 channels for its root's half, so the cap is 4 x 12.84 x (2-1)/2 = 25.68 GB/s, below
  // 31.68; the latency stays the ring's.
  const CollChoice roots = choose_collective(pair, OpKind::all_gather, 268435456, std::nullopt, {}, true);
  CHECK(roots.rate == Approx(4 * 12.84e9 / 2));
  CHECK(roots.alpha == Approx(ring.alpha));
  // The reduce-scatter (one reduce per root) alike.
  CHECK(choose_collective(pair, OpKind::reduce_scatter, 268435456, std::nullopt, {}, true).rate ==
        Approx(4 * 12.84e9 / 2));
  // An all-reduce has no per-root form: unchanged.
  CHECK(choose_collective(pair, OpKind::all_reduce, 268435456, std::nullopt, {}, true).rate ==
        Approx(choose_collective(pair, OpKind::all_reduce, 268435456).rate));
  // Over NVLink no channel cap binds a ring: a pair stays at 360 x 0.66 = 237.6 GB/s.
  const CommShape nv = uniform_shape(2, Transport::nvlink, 370.8, 53);
  CHECK(choose_collective(nv, OpKind::all_gather, 268435456, std::nullopt, {}, true).rate == Approx(360e9 * 0.66));
}

namespace {

// The 8x RTX PRO 6000 server as NCCL sees it: GPU pairs (0,1) (2,3) (4,5) (6,7) under one PCIe
// switch each (P2P, 48 GB/s), every other pair through host memory (SHM: 40 GB/s on one socket, the
// CPU link's 22 across); the ring search on that view gives 1 channel of 20 GB/s, on the links alone
// 2 (test_nccl_model.cpp, sim/test_network_analytic.cpp).
CommShape rtx_server()
{
  CommShape s = uniform_shape(8, Transport::shm, 40, 53, 120);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 8; j++)
      if (i != j && i / 2 == j / 2) {
        s.transport[i][j] = Transport::p2p;
        s.path_gbs[i][j] = 48;
      } else if (i != j && i / 4 != j / 4)
        s.path_gbs[i][j] = 22;
  s.nccl.graph = {1, 20};
  s.link_graph = NcclGraph{2, 20};
  return s;
}

} // namespace

TEST_CASE("across CPU sockets NCCL's ring graph has one channel, and it switches to Simple sooner", "[quick][costs]")
{
  const CommShape rtx = rtx_server();
  // NCCL's estimates for an all-reduce on 8 (14 steps; PCI row: LL 6.6 + 14 x 1.0 = 20.6 us,
  // Simple 8.4 + 14 x 5.7 = 88.2): its bus bandwidth is 1 x 20, LL half of it; the algorithm
  // bandwidth x 8/14: LL 5.714, Simple 11.43 GB/s. 512 KiB: LL 20.6 + 91.75 = 112.35 against
  // 88.2 + 45.87 = 134.07; 1 MiB: LL 204.1 against Simple 179.95: Simple from 1 MiB, as the
  // published sweep switches (156 us at 512 KiB, 131.5 at 1 MiB).
  CHECK(choose_collective(rtx, OpKind::all_reduce, 524288).proto == Proto::ll);
  const CollChoice c = choose_collective(rtx, OpKind::all_reduce, 1048576);
  CHECK(c.proto == Proto::simple);
  // Seen on the links alone (2 channels of 20: LL 10 x 8/14 x 2 = 11.43, Simple 22.86 GB/s) NCCL
  // would keep LL at 1 MiB: 20.6 + 91.75 = 112.35 against 88.2 + 45.87 = 134.07.
  CommShape links = rtx;
  links.nccl.graph = {2, 20};
  CHECK(choose_collective(links, OpKind::all_reduce, 1048576).proto == Proto::ll);
  // The flows: the links' graph's 40 GB/s x 0.95 = 38, held to the call's 2 channels through host
  // memory at 11.43 GB/s each: 22.86 GB/s (below the 23.85 a receiver reads from host memory).
  CHECK(c.channels == 2);
  CHECK(c.rate == Approx(2 * 11.43e9));
  // The pipeline: 4 of the 8 ring hops go through host memory, a step 5.7 + 4/8 x 0.917 = 6.1585 us;
  // X = 1048576 x 14/8 / 22.86e3 = 80.272 us; 14 x 6.1585 + X x 15/28 = 86.219 + 43.003 = 129.222 us,
  // above X. alpha = 8.4 + 129.222 - 80.272 = 57.350 us; the call 137.62 us (published: 131.5).
  CHECK(c.alpha == Approx(57.350e-6).epsilon(1e-3));
  CHECK(c.alpha + 1048576 * 14.0 / 8 / c.rate == Approx(137.62e-6).epsilon(1e-3));
  // LL at 512 KiB runs on NCCL's graph: 20 x 0.5 = 10 GB/s of payload, 20 on the wire.
  CHECK(choose_collective(rtx, OpKind::all_reduce, 524288).rate == Approx(20e9));
}

TEST_CASE("over PCIe an all-to-all's peers share channels as NCCL maps its rounds", "[quick][costs]")
{
  // The 8-GPU server: 2 p2p channels (1 graph channel, doubled), a peer starting on 1 (2 halved
  // while 8 x 2 > 2). Rounds map to channel d mod 2 (one bit reversed is itself): member 0 sends on
  // channel 1 to 1 (P2P, 12.84 GB/s a channel), 3, 5 and 7 (SHM, 8.06), on channel 0 to 2, 4, 6.
  // 1 MiB a peer (one part): channel 1 takes 1/12.84 + 3/8.06 = 0.45009 s per GB a peer, so a
  // sender moves 7 / 0.45009 = 15.552 GB/s (published, 8 MiB in all: 14.65).
  const CommShape rtx = rtx_server();
  const CollChoice one = choose_collective(rtx, OpKind::all_to_all, 7 * 1048576.0);
  CHECK(one.proto == Proto::simple);
  CHECK(one.channels == 1);
  CHECK(one.rate == Approx(15.552e9).epsilon(1e-4));
  // 8 MiB a peer: 2 parts, every round on both channels: each takes (1/12.84 + 6/8.06) / 2 =
  // 0.41115: 7 / 0.41115 = 17.025 GB/s (published, 64-256 MiB in all: 15.4-18.4).
  const CollChoice two = choose_collective(rtx, OpKind::all_to_all, 7 * 8388608.0);
  CHECK(two.channels == 2);
  CHECK(two.rate == Approx(17.025e9).epsilon(1e-4));
  // Evenly shared, the 2 channels would give 2 x 8.06 = 16.12 at both sizes; the map is what makes
  // the smaller one slower.
  CHECK(one.rate < two.rate);
}

TEST_CASE("a Simple ring on NVLink pays its pipeline's per-step latency", "[quick][costs]")
{
  // The pipeline: max(steps x step + X (steps + 1) / (2 steps), X). 6 steps of 11.05 us: at X = 12
  // us, 66.3 + 7 = 73.3; at X = 1000 us the transfer alone (66.3 + 583.3 < 1000); one step never
  // overlaps (7.2 + 50).
  CHECK(simple_pipeline_us(6, 11.05, 12) == Approx(73.3));
  CHECK(simple_pipeline_us(6, 11.05, 1000) == Approx(1000));
  CHECK(simple_pipeline_us(1, 7.2, 50) == Approx(57.2));
  // 4 B200s (NCCL: 721.8 GB/s, 16 channels of 45). All-reduce of 8 MiB: NCCL's table picks ring
  // Simple (28.8 + 8388608 / 480e3 = 46.28 us, beating LL128's 25.4 + 22.8 = 48.2). A member sends
  // 6/4 of the buffer at 480 x 6/4 x 0.95 = 684 GB/s: X = 12582912 / 684e9 = 18.396 us. The
  // pipeline: 6 x 11.05 + 18.396 x 7/12 = 77.031 us, above X. alpha = 8.4 (NCCL's base) + 1.30
  // (NVLink5 per call) + 77.031 - 18.396 = 68.335 us; the call takes 68.335 + 18.396 = 86.73 us
  // (NVIDIA measured 84.9 us, a cell out of the fit; NCCL's own estimate is 46.3).
  const CommShape b200 = uniform_shape(4, Transport::nvlink, 721.8, 53, 100);
  const CollChoice ar = choose_collective(b200, OpKind::all_reduce, 8388608);
  CHECK(ar.algo == CollAlgo::ring);
  CHECK(ar.proto == Proto::simple);
  CHECK(ar.rate == Approx(684e9));
  CHECK(ar.alpha == Approx(68.335e-6).epsilon(1e-4));
  CHECK(ar.alpha + 8388608 * 1.5 / ar.rate == Approx(86.73e-6).epsilon(1e-4));
  // Through PCIe and host memory the ring runs the same pipeline with NCCL's PCI step (tests above).
}

TEST_CASE("an A100 Simple ring pays a fill per call and its own step", "[quick][costs]")
{
  // 4 A100s (NCCL: 12 x 20 = 240 GB/s, 12 channels of 20), reduce_scatter of 2 MiB. NCCL's table:
  // LL 8.4 + 2097152 / (87.7 x 4/3 = 116.93e3 B/us) = 26.335 us, LL128 19.7 + 2097152 / 294.4e3 =
  // 26.823, Simple 8.4 + 3 x 3.4 = 18.6 + 2097152 / 320e3 = 25.154: ring Simple. A member sends 3/4
  // of the buffer at 240 x 0.85 = 204 GB/s: X = 1572864 / 204e9 = 7.7101 us. The call: NCCL's base
  // 8.4 + NVLink3's 2.68 per call + the fill 7.6 + the pipeline max(3 x 11.65 + X x 4/6, X) =
  // 40.0901, i.e. 58.7701 us (NVIDIA measured 48.69, a held-out cell; with the 2-GPU step of 16.5
  // and no fill it was 65.72). alpha = 58.7701 - X = 51.0600 us.
  const CommShape a100 = uniform_shape(4, Transport::nvlink, 240, 26.5, 80);
  const CollChoice rs = choose_collective(a100, OpKind::reduce_scatter, 2097152);
  CHECK(rs.algo == CollAlgo::ring);
  CHECK(rs.proto == Proto::simple);
  CHECK(rs.rate == Approx(204e9));
  CHECK(rs.alpha == Approx(51.0600e-6).epsilon(1e-4));
  CHECK(rs.alpha + 1572864 / rs.rate == Approx(58.7701e-6).epsilon(1e-4));
  // The fill is NVLink3's alone: Hopper and Blackwell have none.
  CHECK(nvlink_simple_call_us(80) == 7.6);
  CHECK(nvlink_simple_call_us(90) == 0);
  CHECK(nvlink_simple_call_us(100) == 0);
  // An LL call is not a Simple ring: no fill. 1 MiB: LL 8.4 + 1048576 / 116.93e3 = 17.368 us beats
  // Simple's 18.6 + 3.277; alpha = 8.4 + 2.68 + 3 x 0.415 = 12.325 us.
  const CollChoice ll = choose_collective(a100, OpKind::reduce_scatter, 1048576);
  CHECK(ll.proto == Proto::ll);
  CHECK(ll.alpha == Approx(12.325e-6));
}

TEST_CASE("an LL ring on NVLink moves what its channels' blocks stream, calls x chunk each", "[quick][costs]")
{
  // NCCL's LL ring kernel makes n primitive calls per chunk for reduce-scatter and all-gather
  // (send, n - 2 recv-reduce-send, recv-reduce-copy), 2n - 1 for all-reduce.
  CHECK(ll_ring_calls(OpKind::reduce_scatter, 8) == 8);
  CHECK(ll_ring_calls(OpKind::all_gather, 2) == 2);
  CHECK(ll_ring_calls(OpKind::all_reduce, 8) == 15);
  // 8 H100s, reduce_scatter of 2 MiB (NVIDIA measured 17.90 us; NCCL's table: LL 6.6 + 7 x 0.6 +
  // 2097152 / (141 x 8/7 x 1000) = 10.8 + 13.015 = 23.815 us, moesim's time before, +33%). The 24
  // channels each run 8 calls on a chunk of 2097152 / (8 x 24) = 10922.7 B at 8.75 GB/s: 8 x 10922.7 /
  // 8750 = 9.9864 us. As flows: 7/8 of the buffer at 24 x 8.75 x 7/8 = 183.75 GB/s of payload,
  // 367.5 on the wire; alpha NCCL's 10.8 us, less Hopper's 1.73 a call, plus 7 x 0.334:
  // 11.408 us; 21.394 us (+19.5%).
  const CommShape h100 = uniform_shape(8, Transport::nvlink, 370.8, 53);
  const CollChoice rs = choose_collective(h100, OpKind::reduce_scatter, 2097152);
  CHECK(rs.algo == CollAlgo::ring);
  CHECK(rs.proto == Proto::ll);
  CHECK(rs.alpha == Approx(11.408e-6));
  CHECK(rs.rate == Approx(367.5e9));
  const double t_us = (rs.alpha + 2097152.0 * 7 / 8 * rs.wire_factor / rs.rate) * 1e6;
  CHECK(t_us == Approx(11.408 + 8 * (2097152.0 / (8 * 24)) / 8750).epsilon(1e-9));
  CHECK(t_us == Approx(21.394).epsilon(1e-4));
  // The same box's all_gather of 4 MiB, the worst cell from 1 MiB of nccl-comparison.md: NCCL keeps
  // LL (10.8 + 4194304 / 161.14e3 = 36.83 us against LL128's 14 + 7 x 1.9 + 4194304 / 378.5e3 =
  // 38.38). 8 calls on 4194304 / (8 x 24) = 21845.3 B: 8 x 21845.3 / 8750 = 19.973 us after 11.408:
  // 31.381 us; NVIDIA measured 33.41 on H100 (-6.1%), 41.31 on H200 (-24.0%; with NCCL's latency
  // and 9.62 GB/s, 28.97 us: -13.3% and -29.9%).
  const CollChoice ag8 = choose_collective(h100, OpKind::all_gather, 4194304);
  CHECK(ag8.proto == Proto::ll);
  const double ag8_us = (ag8.alpha + 4194304.0 * 7 / 8 * ag8.wire_factor / ag8.rate) * 1e6;
  CHECK(ag8_us == Approx(31.381).epsilon(1e-4));
  CHECK(ag8_us / 41.31 - 1 == Approx(-0.2404).margin(5e-4));
  // 2 B200s, all_gather of 4 MiB (measured 23.21 us): NCCL keeps LL (7.2 + 4194304 / 564000 = 14.64
  // us against Simple's 14.71). 32 channels x 10.78 GB/s x 1 step / 2 calls = 172.48 GB/s of payload;
  // 2 MiB of flows at that rate, 12.159 us, after alpha 6.6 + 0.6 + NVLink5's 1.30 + 0.68 = 9.18 us:
  // 21.339 us (-8%; NCCL's llMaxBw gave 16.62, -28%).
  const CommShape b200 = uniform_shape(2, Transport::nvlink, 721.8, 53, 100);
  const CollChoice ag = choose_collective(b200, OpKind::all_gather, 4194304);
  CHECK(ag.proto == Proto::ll);
  CHECK(ag.alpha == Approx(9.18e-6));
  CHECK(ag.rate == Approx(2 * 172.48e9));
  CHECK((ag.alpha + 4194304.0 / 2 * 2 / ag.rate) * 1e6 == Approx(21.339).epsilon(1e-4));
  // Not over PCIe or host memory: there NCCL's llMaxBw stays (here 40 / 2 = 20 GB/s, x2 on the wire).
  const CommShape shm = uniform_shape(4, Transport::shm, 40, 53);
  const CollChoice p = choose_collective(shm, OpKind::all_gather, 65536);
  CHECK(p.proto == Proto::ll);
  CHECK(p.rate == Approx(40e9));
}

TEST_CASE("over NVLink, an LL send moves what its one channel streams", "[quick][costs]")
{
  // 4 H100s, 8 KiB per peer: LL on one channel (a part is 64 KiB, 8 KiB <= 16 KiB), each of the 3
  // peers' channels moving 7.23 GB/s of payload, 14.46 on the wire: a sender's 43.38 GB/s on the
  // wire (NVLink's 2 x 0.81 x 370.8 = 600.7 would allow more). 7.2 + 3 x 8192 x 2 / 43.38e3 B/us =
  // 7.2 + 1.1331 = 8.3331 us (NVIDIA measured 8.8, alltoall of 32 KiB, a fit cell).
  const CommShape h100 = uniform_shape(4, Transport::nvlink, 370.8, 53);
  const CollChoice h = choose_collective(h100, OpKind::all_to_all, 3 * 8192);
  CHECK(h.proto == Proto::ll);
  CHECK(h.channels == 1);
  CHECK(h.rate == Approx(3 * 7.23e9 * 2));
  CHECK(h.alpha + 3 * 8192 * 2 / h.rate == Approx(8.3331e-6).epsilon(1e-4));
  // 8 A100s, 16 KiB per peer (nccl-tests' 128 KiB), NCCL 2.29: one channel, 10.295 us (6.6 + 0.6 +
  // NVLink3's 2.68 + 0.415) + 16384 / 2.51e3 B/us = 6.5275 -> 16.8225 us. NVIDIA measured 16.6 with
  // NCCL 2.27.3, which runs it on 2 channels (one per 8 KiB): 10.295 + 3.2637 = 13.5587 us.
  CommShape a100 = uniform_shape(8, Transport::nvlink, 240, 32, 80);
  const CollChoice a = choose_collective(a100, OpKind::all_to_all, 7 * 16384);
  CHECK(a.proto == Proto::ll);
  CHECK(a.channels == 1);
  CHECK(a.rate == Approx(7 * 2.51e9 * 2));
  CHECK(a.alpha + 7 * 16384 * 2 / a.rate == Approx(16.8225e-6).epsilon(1e-4));
  a100.nccl.version = 22703;
  const CollChoice a27 = choose_collective(a100, OpKind::all_to_all, 7 * 16384);
  CHECK(a27.proto == Proto::ll);
  CHECK(a27.channels == 2);
  CHECK(a27.alpha + 7 * 16384 * 2 / a27.rate == Approx(13.5587e-6).epsilon(1e-4));
  // A send of 16 KiB between 2 B200s: one channel, 4.40 GB/s: 9.18 + 3.7236 = 12.9036 us.
  const CommShape b200 = uniform_shape(2, Transport::nvlink, 721.8, 53, 100);
  const CollChoice b = choose_collective(b200, OpKind::send, 16384);
  CHECK(b.rate == Approx(4.40e9 * 2));
  CHECK(b.alpha + 16384 * 2 / b.rate == Approx(12.9036e-6).epsilon(1e-4));
  // 32 KiB per peer is Simple: the LL term does not apply (the channel-bound Simple rate, 3 peers
  // x 8 channels x 17.89 = 429.4 GB/s, above NVLink's 0.81 x 370.8 = 300.35).
  CHECK(choose_collective(h100, OpKind::all_to_all, 3 * 32768).rate == Approx(0.81 * 370.8e9));
  // Before sm80 nothing bounds it: NVLink's rate, twice on the wire.
  CHECK(nvlink_p2p_ll_channel_gbs(70) == 0);
  const CommShape v100 = uniform_shape(4, Transport::nvlink, 150, 16, 70);
  CHECK(choose_collective(v100, OpKind::all_to_all, 3 * 8192).rate == Approx(0.81 * 150e9 * 2));
}

TEST_CASE("before NCCL 2.29 an all-to-all sends LL up to a peer's channels x 16 KiB", "[quick][costs]")
{
  // 8 A100s, nccl-tests' 4 MiB: 512 KiB to each of 7 peers. NCCL 2.27.3 (the A100 sweep's) takes LL
  // up to the peer's 32 channels x 16 KiB = 512 KiB, on one channel per 8 KiB held to the 4 a peer
  // gets on 8 ranks (32 / 8). A sender streams 7 x 4 x 2.51 = 70.28 GB/s of payload (140.56 on the
  // wire, below NVLink's 2 x 0.81 x 240 = 388.8): 10.295 us + 7 x 524288 / 70.28e3 B/us = 52.2199
  // -> 62.5149 us (NVIDIA measured 64.34, out of sample). NCCL 2.29 sends it Simple on 4 channels:
  // 8.4 + 3.4 + 2.68 + 0.415 + the last chunk's 0.32 x 131072 / 10.13e3 B/us = 4.1405 -> 19.0355
  // us, then 7 x 524288 at NVLink's 0.81 x 240 = 194.4 GB/s (the channels' 7 x 4 x 10.13 = 283.64
  // would allow more): 18.8787 us -> 37.9142 us.
  CommShape a100 = uniform_shape(8, Transport::nvlink, 240, 32, 80);
  const double bytes = 7 * 524288.0;
  const CollChoice simple = choose_collective(a100, OpKind::all_to_all, bytes);
  CHECK(simple.proto == Proto::simple);
  CHECK(simple.rate == Approx(0.81 * 240e9));
  CHECK(simple.alpha + bytes / simple.rate == Approx(37.9142e-6).epsilon(1e-4));
  a100.nccl.version = 22703;
  const CollChoice ll = choose_collective(a100, OpKind::all_to_all, bytes);
  CHECK(ll.proto == Proto::ll);
  CHECK(ll.channels == 4);
  CHECK(ll.rate == Approx(7 * 4 * 2.51e9 * 2));
  CHECK(ll.alpha + bytes * 2 / ll.rate == Approx(62.5149e-6).epsilon(1e-4));
  // Twice the size, 1 MiB a peer: above 512 KiB, Simple under either version, the same time.
  const CollChoice big27 = choose_collective(a100, OpKind::all_to_all, 2 * bytes);
  a100.nccl.version = nccl_version_modelled;
  const CollChoice big29 = choose_collective(a100, OpKind::all_to_all, 2 * bytes);
  CHECK(big27.proto == Proto::simple);
  CHECK(big27.alpha == big29.alpha);
  CHECK(big27.rate == big29.rate);
}

TEST_CASE("over NVLink, a peer's channels bound what an all-to-all moves", "[quick][costs]")
{
  // 2 B200s: a peer gets 16 of the call's 32 p2p channels (2 ranks x 32 > 32: halved once), each
  // moving 20.95 GB/s with Simple: 335.2 GB/s, below 0.81 x 721.8 = 584.66 of NCCL's view. 128 MiB
  // to the peer, 8 MiB a channel: the last 512 KiB chunk shows 0.32 x 524288 / 20.95e3 B/us =
  // 8.0082 us; alpha = 8.4 + 3.4 + 1.30 + 0.68 (NVLink5) + 8.0082 = 21.7882 us. The call takes
  // 21.788 + 134217728 / 335.2e9 = 422.2 us (NVIDIA measured 420.8, a cell out of the fit).
  const CommShape b200 = uniform_shape(2, Transport::nvlink, 721.8, 53, 100);
  const CollChoice two = choose_collective(b200, OpKind::all_to_all, 134217728);
  CHECK(two.proto == Proto::simple);
  CHECK(two.channels == 16);
  CHECK(two.rate == Approx(16 * 20.95e9));
  CHECK(two.alpha == Approx(21.7882e-6).epsilon(1e-4));
  CHECK(two.alpha + 134217728 / two.rate == Approx(422.2e-6).epsilon(1e-3));
  // 2 H100s: 16 x 17.89 = 286.24 GB/s, below 0.81 x 370.8 = 300.35.
  const CommShape h100 = uniform_shape(2, Transport::nvlink, 370.8, 53);
  CHECK(choose_collective(h100, OpKind::all_to_all, 134217728).rate == Approx(16 * 17.89e9));
  // 8 H100s, 32 MiB to each of 7 peers: 4 channels each (8 x 4 = 32), 28 in all: 28 x 17.89 =
  // 500.9 GB/s, above NVLink's 300.35: the link binds, as before.
  const CommShape h8 = uniform_shape(8, Transport::nvlink, 370.8, 53);
  const CollChoice eight = choose_collective(h8, OpKind::all_to_all, 7 * 33554432.0);
  CHECK(eight.channels == 4);
  CHECK(eight.rate == Approx(0.81 * 370.8e9));
  // The exposed part grows with a channel's share up to one chunk, then stays: 0.32 x 64 KiB and
  // 0.32 x 512 KiB (for 512 KiB and for 8 MiB) at 17.89 GB/s.
  CHECK(nvlink_p2p_tail_us(90, 65536) == Approx(0.32 * 65536 / 17.89e3));
  CHECK(nvlink_p2p_tail_us(90, 524288) == Approx(0.32 * 524288 / 17.89e3));
  CHECK(nvlink_p2p_tail_us(90, 8388608) == Approx(0.32 * 524288 / 17.89e3));
  CHECK(nvlink_p2p_tail_us(70, 524288) == 0);
}
