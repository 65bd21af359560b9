// The transfer of measured op times to another GPU (core/transfer.hpp): demand, waves, the fixed-time
// fit and the prediction, each expected number derived by hand first.
#include "core/transfer.hpp"
#include "core/transfer_check.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace moesim;

namespace {

// A made-up GPU with round numbers: 100 SMs at 2 GHz, 1e15 bf16 and 2e15 fp8 FLOP/s, 2 TB/s, 40 MB L2.
TransferGpu gpu_a()
{
  TransferGpu g;
  g.name = "A";
  g.sms = 100;
  g.clock_hz = 2e9;
  g.mem_bw = 2e12;
  g.l2_bytes = 40e6;
  g.flops[Dtype::bf16] = 1e15;
  g.flops[Dtype::fp8] = 2e15;
  return g;
}

BenchRecord gemm(double m, double n, double k, double seconds, Dtype d = Dtype::bf16)
{
  BenchRecord r;
  r.op = BenchOp::gemm;
  r.dtype = d;
  r.dims = {{"m", m}, {"n", n}, {"k", k}, {"batch", 1}};
  r.seconds = seconds;
  return r;
}

BenchRecord attention(bool decode, const std::string& attn, double batch, double hq, double hkv, double dqk, double dv,
                   double len, double window = 0)
{
  BenchRecord r;
  r.op = decode ? BenchOp::attention_decode : BenchOp::attention_prefill;
  r.attn = attn;
  r.dtype = Dtype::bf16;
  r.dims = {{"batch", batch}, {"q_heads", hq}, {"kv_heads", hkv}, {"head_dim_qk", dqk}, {"head_dim_v", dv},
            {"kv_lora_rank", 0}, {"rope_dim", 0}, {"window", window}};
  if (decode)
    r.dims["context"] = len;
  else
    r.dims["prompt"] = len, r.dims["cached"] = 0;
  r.seconds = 1e-5;
  return r;
}

} // namespace

TEST_CASE("block-scaled fp8 GEMMs and fp8-KV attention are classes of their own, the cache read at its dtype",
          "[quick][transfer]")
{
  BenchRecord block = gemm(256, 6400, 1000, 1e-5, Dtype::fp8);
  block.scales = "block";
  CHECK(op_class(gemm(256, 6400, 1000, 1e-5, Dtype::fp8)) == "gemm fp8");
  CHECK(op_class(block) == "gemm fp8 block");
  // MLA-shaped decode, 8 sequences at 4,096 positions, 16 heads, one 576-wide latent head (d_v 512).
  BenchRecord bf16 = attention(true, "mla", 8, 16, 1, 576, 512, 4096), fp8 = bf16;
  fp8.kv_dtype = "fp8";
  CHECK(op_class(fp8) == "attention_decode mla bf16 kv fp8");
  // Bytes: the cache, 8 x 4,096 x 576 = 18,874,368 elements, at 2 bytes (bf16) or fp8's 1 + 4/16384
  // (core/dtype.hpp: 18,874,368 + 4,608 = 18,878,976 bytes), plus the queries and outputs,
  // 8 x 16 x (576 + 512) = 139,264 bf16 elements = 278,528 bytes:
  // bf16 37,748,736 + 278,528 = 38,027,264; fp8 18,878,976 + 278,528 = 19,157,504.
  CHECK(op_demand(bf16)->bytes == Approx(38027264).epsilon(1e-12));
  CHECK(op_demand(fp8)->bytes == Approx(19157504).epsilon(1e-12));
}

TEST_CASE("a GEMM's demand: FLOPs, bytes and 128 x 128 tiles", "[quick][transfer]")
{
  // m=256, n=6400, k=1000, bf16: flops = 2*256*6400*1000 = 3.2768e9;
  // bytes = (256*1000 + 6400*1000)*2 + 256*6400*2 = 13.312e6 + 3.2768e6 = 16.5888e6;
  // tiles = ceil(256/128) * ceil(6400/128) = 2 * 50 = 100, each 2*128*128*1000 = 32.768e6 FLOPs.
  const OpDemand d = *op_demand(gemm(256, 6400, 1000, 1e-5));
  CHECK(d.flops == Approx(3.2768e9).epsilon(1e-12));
  CHECK(d.bytes == Approx(16.5888e6).epsilon(1e-12));
  REQUIRE(d.tiles.size() == 1);
  CHECK(d.tiles[0].count == 100);
  CHECK(d.tiles[0].flops_each == Approx(32.768e6).epsilon(1e-12));
  // fp8 inputs are one byte plus the block scale (1 + 4/16384 B): (256e3 + 6.4e6) * (1 + 4/16384) + 3.2768e6.
  const OpDemand f = *op_demand(gemm(256, 6400, 1000, 1e-5, Dtype::fp8));
  CHECK(f.bytes == Approx(6.656e6 * (1 + 4.0 / 16384) + 3.2768e6).epsilon(1e-12));
  CHECK(f.math == Dtype::fp8);
}

TEST_CASE("compute time counts waves of tiles over the SMs", "[quick][transfer]")
{
  // 100 tiles of 32.768e6 FLOPs at 1e15 / 100 = 1e13 FLOP/s per SM.
  // 100 SMs: one wave, 32.768e6 / 1e13 = 3.2768 us (= all FLOPs / peak, no loss).
  // 99 SMs with the same per-SM rate (peak 0.99e15): two waves, 6.5536 us: one SM fewer doubles the time.
  const OpDemand d = *op_demand(gemm(256, 6400, 1000, 1e-5));
  TransferGpu g = gpu_a();
  CHECK(compute_seconds(d, g) == Approx(3.2768e-6).epsilon(1e-12));
  g.sms = 99;
  g.flops[Dtype::bf16] = 0.99e15;
  CHECK(compute_seconds(d, g) == Approx(6.5536e-6).epsilon(1e-12));
  // fp8 runs at its own rate (2e15): half the time; a dtype without tensor support (nvfp4 here)
  // runs at the bf16 rate.
  CHECK(compute_seconds(*op_demand(gemm(256, 6400, 1000, 1e-5, Dtype::fp8)), gpu_a()) == Approx(1.6384e-6).epsilon(1e-12));
  CHECK(compute_seconds(*op_demand(gemm(256, 6400, 1000, 1e-5, Dtype::nvfp4)), gpu_a()) == Approx(3.2768e-6).epsilon(1e-12));
}

TEST_CASE("memory time is DRAM bytes over bandwidth, or L2 bandwidth when the operands fit", "[quick][transfer]")
{
  // 16.5888e6 B / 2e12 B/s = 8.2944 us. With the L2 term the operands (16.6 MB) fit in half of
  // 40 MB, so they are read at 5120/108 B/clk/SM * 100 SMs * 2e9 Hz = 9.48148e12 B/s: 1.74960 us.
  const OpDemand d = *op_demand(gemm(256, 6400, 1000, 1e-5));
  CHECK(memory_seconds(d, gpu_a(), {}) == Approx(8.2944e-6).epsilon(1e-12));
  const double l2_bw = 5120.0 / 108 * 100 * 2e9;
  CHECK(memory_seconds(d, gpu_a(), {true}) == Approx(16.5888e6 / l2_bw).epsilon(1e-12));
  // 4x the L2: 30 MB of operands no longer fit in 20 MB.
  TransferGpu small = gpu_a();
  small.l2_bytes = 30e6;
  CHECK(memory_seconds(d, small, {true}) == Approx(8.2944e-6).epsilon(1e-12));
  CHECK(bound_seconds(d, gpu_a(), {}) == Approx(8.2944e-6).epsilon(1e-12)); // max(3.28 us, 8.29 us)
}

TEST_CASE("attention demand: decode reads the KV cache, prefill is causal", "[quick][transfer]")
{
  // GQA decode, batch 2, 32 q heads, 8 kv heads, d 128/128, context 1000:
  // flops = 2*2*32*1000*(128+128) = 32.768e6; bytes = 2 B * 2 * (1000*8*256 + 32*256) = 8.22477e6.
  const OpDemand g = *op_demand(attention(true, "gqa", 2, 32, 8, 128, 128, 1000));
  CHECK(g.flops == Approx(32.768e6).epsilon(1e-12));
  CHECK(g.bytes == Approx(2.0 * 2 * (1000 * 8 * 256 + 32 * 256)).epsilon(1e-12));
  CHECK(g.tiles.empty());
  // A window of 256 caps the context at 256 positions: 2*2*(256*2048 + 8192) B.
  CHECK(op_demand(attention(true, "gqa", 2, 32, 8, 128, 128, 1000, 256))->bytes ==
        Approx(2.0 * 2 * (256 * 2048 + 8192)).epsilon(1e-12));
  // MLA decode reads one 576-wide latent per position for keys and values alike:
  // bytes = 2 * 1 * (1000*576 + 16*(576+512)) = 1186816.
  const OpDemand m = *op_demand(attention(true, "mla", 1, 16, 1, 576, 512, 1000));
  CHECK(m.bytes == Approx(1186816).epsilon(1e-12));
  // Causal prefill of 1000 tokens: 1000*1001/2 = 500500 query-key pairs;
  // flops = 2*1*8*500500*256 = 2.050048e9; tiles = 8 heads * ceil(1000/128) = 64.
  const OpDemand p = *op_demand(attention(false, "gqa", 1, 8, 8, 128, 128, 1000));
  CHECK(p.flops == Approx(2.0 * 8 * 500500 * 256).epsilon(1e-12));
  REQUIRE(p.tiles.size() == 1);
  CHECK(p.tiles[0].count == 64);
  // Window 100: query i (1-based) sees min(i, 100) keys: 100*101/2 + 900*100 = 95050 pairs.
  CHECK(op_demand(attention(false, "gqa", 1, 8, 8, 128, 128, 1000, 100))->flops ==
        Approx(2.0 * 8 * 95050 * 256).epsilon(1e-12));
}

TEST_CASE("MoE demand: local assignments, active experts' weights, two grouped GEMMs", "[quick][transfer]")
{
  // 64 tokens, top-8 of 128 experts, hidden 2048, inter 768, tp 2, ep 2, balanced, bf16:
  // local inter = 384, local experts = 64, assignments = 64*8/2 = 256 -> min(64, 256) = 64 active.
  // flops = 6 * 256 * 2048 * 384 = 1207959552.
  // bytes = 64*3*2048*384*2 (weights) + 2*(2*64*2048 + 256*(4*2048 + 6*384)) = 301989888 + 5898240.
  // Rows per active expert = 4: gate+up 64 * 1 * ceil(768/128)=6 tiles of 2*4*128*2048 FLOPs,
  // down 64 * 1 * 16 tiles of 2*4*128*384.
  BenchRecord r;
  r.op = BenchOp::moe;
  r.dtype = Dtype::bf16;
  r.distribution = "balanced";
  r.dims = {{"tokens", 64}, {"hidden", 2048}, {"inter", 768}, {"topk", 8}, {"experts", 128}, {"moe_tp", 2}, {"moe_ep", 2}};
  r.seconds = 1e-4;
  const OpDemand d = *op_demand(r);
  CHECK(d.flops == Approx(1207959552.0).epsilon(1e-12));
  CHECK(d.bytes == Approx(301989888.0 + 5898240.0).epsilon(1e-12));
  REQUIRE(d.tiles.size() == 2);
  CHECK(d.tiles[0].count == 64 * 6);
  CHECK(d.tiles[0].flops_each == Approx(2.0 * 4 * 128 * 2048).epsilon(1e-12));
  CHECK(d.tiles[1].count == 64 * 16);
  CHECK(d.tiles[1].flops_each == Approx(2.0 * 4 * 128 * 384).epsilon(1e-12));
  // Uniform routing instead: each local expert is missed by all 64 tokens with probability
  // (1 - 8/128)^64, so 64 * (1 - 0.9375^64) = 63.0 are active.
  r.distribution = "power_law_1.01";
  const double active = 64 * (1 - std::pow(0.9375, 64));
  CHECK(op_demand(r)->bytes == Approx(active * 3 * 2048 * 384 * 2 + 5898240.0).epsilon(1e-12));
  // MXFP4 expert tables are weight-only: the math runs at the bf16 rate.
  r.dtype = Dtype::mxfp4;
  CHECK(op_demand(r)->math == Dtype::bf16);
}

TEST_CASE("ops without a throughput bound do not transfer", "[quick][transfer]")
{
  BenchRecord host;
  host.op = BenchOp::host;
  host.api = "kernel_launch";
  CHECK_FALSE(op_demand(host));
  BenchRecord norm;
  norm.op = BenchOp::rmsnorm;
  norm.dtype = Dtype::bf16;
  CHECK_FALSE(op_demand(norm)); // no bytes given
  norm.dims["bytes"] = 4e6;
  CHECK(op_demand(norm)->bytes == 4e6);
  CHECK_THROWS_WITH(op_demand(gemm(0, 10, 10, 1e-6)), Catch::Matchers::Contains("'m' must be positive"));
}

TEST_CASE("the fixed time is the intercept of a relative least-squares line, capped at the median", "[quick][transfer]")
{
  // Points exactly on t = 3 us + 1.25 * bound: any weighting gives the intercept 3 us
  // (median of the times 4.25, 5.5, 8 us is 5.5 us, above it).
  CHECK(fit_fixed_seconds({{1e-6, 4.25e-6}, {2e-6, 5.5e-6}, {4e-6, 8e-6}}) == Approx(3e-6).epsilon(1e-9));
  // On t = 10 us + 0.1 * bound (times 10.1, 10.2, 10.4 us) the intercept 10 us is below the
  // median time 10.2 us: kept.
  CHECK(fit_fixed_seconds({{1e-6, 10.1e-6}, {2e-6, 10.2e-6}, {4e-6, 10.4e-6}}) == Approx(10e-6).epsilon(1e-9));
  // A falling line t = 12 us - 1 * bound has intercept 12 us, above the median 10 us: capped to it.
  CHECK(fit_fixed_seconds({{1e-6, 11e-6}, {2e-6, 10e-6}, {4e-6, 8e-6}}) == Approx(10e-6).epsilon(1e-9));
  // A line through the origin gives 0; one distinct bound gives the smallest time.
  CHECK(fit_fixed_seconds({{1e-6, 2e-6}, {2e-6, 4e-6}}) == Approx(0).margin(1e-15));
  CHECK(fit_fixed_seconds({{1e-6, 2e-6}, {1e-6, 3e-6}}) == 2e-6);
  CHECK(fit_fixed_seconds({}) == 0);
}

TEST_CASE("one measured time moves by the bound ratio, its fixed part by the clock ratio", "[quick][transfer]")
{
  // t = 20 us, fixed 4 us: 4 us * 2 GHz / 1.6 GHz = 5 us, plus 16 us * (7 us / 10 us) = 11.2 us -> 16.2 us.
  CHECK(transfer_seconds(20e-6, 4e-6, 10e-6, 7e-6, 2e9, 1.6e9) == Approx(16.2e-6).epsilon(1e-12));
  // A time below the fixed part is all fixed: 3 us * 2 / 1.6 = 3.75 us.
  CHECK(transfer_seconds(3e-6, 4e-6, 10e-6, 7e-6, 2e9, 1.6e9) == Approx(3.75e-6).epsilon(1e-12));
}

TEST_CASE("a transfer between two GPUs that differ only in bandwidth", "[quick][transfer]")
{
  // Source A (2 TB/s) and target B = A with 3 TB/s. Records: two memory-bound decode GEMMs
  // m=1, k=4096, n = 4096 and 8192, bf16 (bytes (4096 + 4096n)*2 + 2n), measured 20 us and 38 us.
  // Bounds on A: 16.785408 us (33570816 B) and 33.56672 us (67133440 B); both memory-bound
  // (compute = 1 wave of 2*1*128*4096 FLOPs at 1e13 per SM: 0.1 us).
  // Fixed time: the line through (16.785408, 20) and (33.56672, 38): slope 18 / 16.781312 =
  // 1.072613, intercept 20 - 1.072613 * 16.785408 = 1.9956 us (below the median 29 us).
  // On B the bounds shrink by 2/3, the fixed part stays (same clock):
  // n = 4096: 1.9956 + (20 - 1.9956) * 2/3 = 13.9985 us.
  TransferGpu b = gpu_a();
  b.name = "B";
  b.mem_bw = 3e12;
  OpBench src;
  src.records = {gemm(1, 4096, 4096, 20e-6), gemm(1, 8192, 4096, 38e-6)};
  const Transfer t(src, gpu_a(), b);
  const double slope = 18e-6 / (33.56672e-6 - 16.785408e-6);
  const double fixed = 20e-6 - slope * 16.785408e-6;
  CHECK(t.fixed_seconds("gemm bf16") == Approx(fixed).epsilon(1e-9));
  std::optional<Prediction> p = t.predict(gemm(1, 4096, 4096, 1));
  REQUIRE(p);
  CHECK(p->exact);
  CHECK(p->seconds == Approx(fixed + (20e-6 - fixed) * 2 / 3).epsilon(1e-9));
  // A shape the source lacks takes the nearest record's fixed time and efficiency: n = 5000 is
  // nearest to n = 4096 (|log2(5001/4097)| = 0.29 < |log2(5001/8193)| = 0.71), so that record's
  // work (20 us - fixed) is scaled by bound_B(5000) / bound_A(4096) = (40978192 / 3e12) / (33570816 / 2e12).
  std::optional<Prediction> q = t.predict(gemm(1, 5000, 4096, 1));
  REQUIRE(q);
  CHECK_FALSE(q->exact);
  CHECK(q->from == &src.records[0]);
  CHECK(q->seconds == Approx(fixed + (20e-6 - fixed) * (40978192 / 3e12) / (33570816 / 2e12)).epsilon(1e-9));
  CHECK_FALSE(t.predict(gemm(1, 5000, 4096, 1), false)); // exact only
  // No fp8 record in the source: nothing to predict fp8 from.
  CHECK_FALSE(t.predict(gemm(1, 4096, 4096, 1, Dtype::fp8)));
  // predict_all: every record, on B.
  const OpBench all = t.predict_all();
  REQUIRE(all.records.size() == 2);
  CHECK(all.records[1].seconds == Approx(fixed + (38e-6 - fixed) * 2 / 3).epsilon(1e-9));
  CHECK(all.system.text.at("gpu") == "B");
}

TEST_CASE("a GPU without the numbers the transfer needs is refused", "[quick][transfer]")
{
  TransferGpu g = gpu_a();
  g.l2_bytes = 0;
  OpBench src;
  CHECK_THROWS_WITH(Transfer(src, g, gpu_a()), Catch::Matchers::Contains("L2 size"));
}

TEST_CASE("transfer errors per op class, against the source's own time", "[quick][transfer]")
{
  // Same GPU on both sides: the prediction is the source time. Measured 10% slower and 30% faster
  // than the two source records: errors 1/1.1 - 1 = -0.0909 and 1/0.7 - 1 = +0.4286; median
  // |error| = (0.0909 + 0.4286) / 2, p90 (nearest rank 2 of 2) = worst = 0.4286, signed median
  // (-0.0909 + 0.4286) / 2. The fp8 record has no source class: unpredicted.
  OpBench src, meas;
  src.records = {gemm(1, 4096, 4096, 20e-6), gemm(1, 8192, 4096, 38e-6)};
  meas.records = {gemm(1, 4096, 4096, 22e-6), gemm(1, 8192, 4096, 38e-6 * 0.7), gemm(1, 4096, 4096, 9e-6, Dtype::fp8)};
  const TransferCheck c = check_transfer(Transfer(src, gpu_a(), gpu_a()), meas, true);
  CHECK(c.unpredicted == 1);
  REQUIRE(c.classes.size() == 1);
  const ClassCheck& k = c.classes[0];
  CHECK(k.op_class == "gemm bf16");
  CHECK(k.measured == 2);
  CHECK(k.exact == 2);
  const double e1 = 1 / 1.1 - 1, e2 = 1 / 0.7 - 1;
  CHECK(k.transfer.median_abs == Approx((-e1 + e2) / 2).epsilon(1e-9));
  CHECK(k.transfer.p90_abs == Approx(e2).epsilon(1e-9));
  CHECK(k.transfer.worst_abs == Approx(e2).epsilon(1e-9));
  CHECK(k.transfer.median_signed == Approx((e1 + e2) / 2).epsilon(1e-9));
  CHECK(k.same_time.median_abs == Approx(k.transfer.median_abs).epsilon(1e-9));
  CHECK(k.worst == shape_key(meas.records[1]));
  // A measured shape the source lacks (n = 5000) counts as measured but is compared only when
  // nearest-shape predictions are allowed; it is then not exact and has no same-time baseline.
  meas.records.push_back(gemm(1, 5000, 4096, 25e-6));
  CHECK(check_transfer(Transfer(src, gpu_a(), gpu_a()), meas, true).classes[0].transfer.n == 2);
  const ClassCheck n = check_transfer(Transfer(src, gpu_a(), gpu_a()), meas, false).classes[0];
  CHECK(n.measured == 3);
  CHECK(n.transfer.n == 3);
  CHECK(n.exact == 2);
  CHECK(n.same_time.n == 2);
}

TEST_CASE("error statistics: nearest-rank p90", "[quick][transfer]")
{
  // Ten errors 0.01 .. 0.10 (half negative): p90 is the 9th smallest |e| = 0.09, median 0.055.
  std::vector<double> e;
  for (int i = 1; i <= 10; ++i)
    e.push_back((i % 2 ? -1 : 1) * 0.01 * i);
  const ErrorStats s = error_stats(e);
  CHECK(s.n == 10);
  CHECK(s.p90_abs == Approx(0.09));
  CHECK(s.median_abs == Approx(0.055));
  CHECK(s.worst_abs == Approx(0.10));
  // signed: -0.09 -0.07 -0.05 -0.03 -0.01 0.02 0.04 0.06 0.08 0.10 -> median (-0.01 + 0.02) / 2.
  CHECK(s.median_signed == Approx(0.005));
}

TEST_CASE("the achieved-rate rule keeps a slow op's rate and moves an op at the roof with the bandwidth",
          "[quick][transfer]")
{
  // Three rmsnorm records of 4 MB each on A (2 TB/s: bound 2 us each), measured 4, 8 and 12 us;
  // B is A with 3 TB/s. One bound for all three, so the fixed time is the smallest, 4 us, and the
  // variable times are 0, 4 and 8 us: fractions of A's bandwidth 2/4 = 0.5 and 2/8 = 0.25. The roof
  // is their 90th percentile, nearest rank ceil(0.9 x 2) = 2 of [0.25, 0.5]: 0.5.
  auto norm = [](double rows, double seconds) {
    BenchRecord r;
    r.op = BenchOp::rmsnorm;
    r.dtype = Dtype::bf16;
    r.dims = {{"bytes", 4e6}, {"rows", rows}};
    r.seconds = seconds;
    return r;
  };
  TransferGpu b = gpu_a();
  b.name = "B";
  b.mem_bw = 3e12;
  OpBench src;
  src.records = {norm(1000, 4e-6), norm(2000, 8e-6), norm(4000, 12e-6)};
  const Transfer achieved(src, gpu_a(), b, {false, true});
  const Transfer scaled(src, gpu_a(), b, {false, false});
  REQUIRE(achieved.fixed_seconds("rmsnorm bf16") == Approx(4e-6).epsilon(1e-12));
  // At the roof (8 us: 0.5): own limit (4^4 - (2 / 0.5)^4)^(1/4) = 0, memory 4 us x 2/3, so
  // 4 + 2.6667 = 6.6667 us, as the bound-ratio rule gives.
  CHECK(achieved.predict(norm(2000, 1))->seconds == Approx(4e-6 + 4e-6 * 2 / 3).epsilon(1e-9));
  CHECK(scaled.predict(norm(2000, 1))->seconds == Approx(4e-6 + 4e-6 * 2 / 3).epsilon(1e-9));
  // Below it (12 us: 0.25): memory at the roof 2 / 0.5 = 4 us, own limit (8^4 - 4^4)^(1/4) =
  // 3840^(1/4) = 7.8720 us (same SMs and clock: unchanged); on B the memory term is
  // (4e6 / 3e12) / 0.5 = 2.6667 us: (3840 + 2.6667^4)^(1/4) = 7.8978 us, 11.8978 us in all, where the
  // bound-ratio rule slows it by the bandwidth ratio: 4 + 8 x 2/3 = 9.3333 us.
  CHECK(achieved.predict(norm(4000, 1))->seconds == Approx(11.8978e-6).epsilon(1e-5));
  CHECK(scaled.predict(norm(4000, 1))->seconds == Approx(4e-6 + 8e-6 * 2 / 3).epsilon(1e-9));
  // To the same GPU every record keeps its time: own^4 + memory^4 = v^4 by construction.
  const Transfer same(src, gpu_a(), gpu_a(), {false, true});
  CHECK(same.predict(norm(4000, 1))->seconds == Approx(12e-6).epsilon(1e-12));
  CHECK(same.predict(norm(2000, 1))->seconds == Approx(8e-6).epsilon(1e-12));
  // An op whose source record sits above the roof (none here but the roof's own) keeps its own
  // fraction: the 4 us record has no variable time and moves by the clock ratio only (1 here).
  CHECK(achieved.predict(norm(1000, 1))->seconds == Approx(4e-6).epsilon(1e-12));
}
