// The schedule builder: conservation laws a correct split must obey (FLOPs, weights, bytes), and
// the structure every plan needs (matched collectives, matched pipeline sends, host syncs).
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace moesim;

namespace {

Model load(const std::string& name)
{
  return load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/" + name + ".yaml").model;
}

Schedule build(const Model& m, const std::string& plan, int gpus, int batch, bool graphs = false, int context = 1024)
{
  Layout L = make_layout(Plan::parse(plan), m, gpus);
  BuildOptions opt;
  opt.engine.cuda_graphs = graphs;
  return build_schedule(m, L, StepShape{Phase::decode, batch, context, 0}, opt);
}

double gemm_flops(const Schedule& s)
{
  double f = 0;
  for (const auto& r : s.ranks)
    for (const Op& o : r.ops)
      if (o.kind == OpKind::gemm || o.kind == OpKind::grouped_gemm)
        f += o.flops;
  return f;
}

// Mixtral-8x7B: h 4096, 32 layers, 8 experts top-2 of width 14336, GQA 32/8 x 128, vocab 32000.
constexpr double h = 4096, L = 32, E = 8, k = 2, I = 14336, V = 32000;
// attention projections per layer: h*(32+2*8)*128 + 32*128*h = 25165824 + 16777216
constexpr double attn = 41943040;

} // namespace

TEST_CASE("TP4 splits every GEMM without losing or duplicating FLOPs (router replicated)", "[quick][schedule]")
{
  // Summed over the 4 ranks, T = 8 tokens:
  //   attention  2 T attn            (heads split 4 ways)
  //   router     4 * 2 T E h         (every rank routes every token)
  //   experts    6 T k h I           (each rank: T k token-expert pairs at width I/4; up 2x, down 1x)
  //   LM head    2 T V h             (vocab split 4 ways)
  const Model m = load("mixtral-8x7b");
  const double T = 8;
  const double expected = T * (L * (2 * attn + 4 * 2 * E * h + 6 * k * h * I) + 2 * V * h);
  CHECK(gemm_flops(build(m, "tp4", 4, 8)) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("EP4 routes each token once and computes each expert pair once", "[quick][schedule]")
{
  // Same as TP4 but the router runs on each rank's slice of the tokens: 2 T E h in total; experts:
  // each rank holds 2 of the 8 experts at full width, receiving T k / 4 token-expert pairs.
  const Model m = load("mixtral-8x7b");
  const double T = 8;
  const double expected = T * (L * (2 * attn + 2 * E * h + 6 * k * h * I) + 2 * V * h);
  CHECK(gemm_flops(build(m, "ep4", 4, 8)) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("every collective is called by exactly its group, with one size", "[quick][schedule]")
{
  const Model m = load("qwen3-30b-a3b");
  for (const char* plan : {"tp4", "ep4", "tp2xep2", "dp4xep4", "dp4xtp4", "dp2xep4", "tp2xpp2", "ep2xpp2"}) {
    INFO(plan);
    Schedule s = build(m, plan, 4, 16);
    std::map<int, std::set<int>> members;
    std::map<int, std::pair<OpKind, double>> sig;
    for (const auto& r : s.ranks)
      for (const Op& o : r.ops) {
        if (op_class(o.kind) != OpClass::collective)
          continue;
        REQUIRE(o.coll >= 0);
        REQUIRE(o.coll < s.collectives);
        CHECK(members[o.coll].insert(r.rank).second); // once per rank
        CHECK(s.layout.group(o.group).index_of(r.rank) >= 0);
        if (o.kind != OpKind::all_to_all) {
          auto [it, fresh] = sig.try_emplace(o.coll, o.kind, o.comm_bytes);
          CHECK(it->second.first == o.kind);
          CHECK(it->second.second == o.comm_bytes);
        }
      }
    CHECK(static_cast<int>(members.size()) == s.collectives);
    for (const auto& r : s.ranks)
      for (const Op& o : r.ops)
        if (op_class(o.kind) == OpClass::collective) {
          const auto& g = s.layout.group(o.group).ranks;
          CHECK(members[o.coll] == std::set<int>(g.begin(), g.end()));
        }
  }
}

TEST_CASE("all-to-all combine returns exactly what dispatch sent", "[quick][schedule]")
{
  const Model m = load("qwen3-30b-a3b");
  Layout lay = make_layout(Plan::parse("ep4"), m, 4);
  BuildOptions opt;
  opt.routing = RoutingSpec{RoutingKind::zipf, 3, 1.2};
  Schedule s = build_schedule(m, lay, StepShape{Phase::decode, 64, 512, 0}, opt);
  // dispatch on rank i sends peer_bytes[j] to j; combine on rank j must send the same back to i.
  std::map<std::pair<int, OpRole>, std::vector<std::vector<double>>> rows; // (layer, role) -> per rank
  for (const auto& r : s.ranks)
    for (const Op& o : r.ops)
      if (o.kind == OpKind::all_to_all && o.role != OpRole::counts)
        rows[{o.layer, o.role}].push_back(o.peer_bytes.dense());
  REQUIRE(rows.size() == 2 * 48); // 48 MoE layers
  for (int l = 0; l < 48; l++) {
    auto& d = rows[{l, OpRole::dispatch}];
    auto& c = rows[{l, OpRole::combine}];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++)
        CHECK(d[i][j] == c[j][i]);
  }
}

TEST_CASE("eager all-to-all-v syncs with the host once per MoE layer, graphs never", "[quick][schedule]")
{
  const Model m = load("qwen3-30b-a3b"); // 48 MoE layers
  auto syncs = [](const Schedule& s) {
    int n = 0;
    for (const Op& o : s.ranks[0].ops)
      n += o.kind == OpKind::host_sync;
    return n;
  };
  CHECK(syncs(build(m, "ep4", 4, 4, false)) == 48);
  CHECK(syncs(build(m, "ep4", 4, 4, true)) == 0);
  CHECK(syncs(build(m, "tp4", 4, 4, false)) == 0);
}

TEST_CASE("pipeline sends and receives pair up", "[quick][schedule]")
{
  const Model m = load("qwen3-30b-a3b");
  Schedule s = build(m, "tp2xpp2", 4, 8); // 2 stages x 2 microbatches
  std::map<int, std::pair<int, double>> sends, recvs; // tag -> (rank, bytes)
  for (const auto& r : s.ranks)
    for (const Op& o : r.ops) {
      if (o.kind == OpKind::send) {
        CHECK(o.stream == 1);
        CHECK(o.deps.size() == 1);
        sends[o.tag] = {r.rank, o.comm_bytes};
      }
      if (o.kind == OpKind::recv)
        recvs[o.tag] = {o.peer, o.comm_bytes};
    }
  // 2 microbatches x 2 ranks per stage cross the one stage boundary; each carries the 4 tokens of its
  // microbatch (replicated in the stage's attention TP group): 4 * 2048 * 2 bytes.
  REQUIRE(sends.size() == 4);
  CHECK(sends == recvs);
  for (const auto& [tag, v] : sends)
    CHECK(v.second == 4 * 2048 * 2);
}

TEST_CASE("an idle attention-DP replica reads no attention weights", "[quick][schedule]")
{
  // dp4xep4 at batch 1: replica 0 holds the only sequence; ranks 1-3 run empty attention GEMMs.
  const Model m = load("qwen3-30b-a3b");
  Schedule s = build(m, "dp4xep4", 4, 1);
  for (int r = 0; r < 4; r++) {
    double attn_bytes = 0;
    for (const Op& o : s.ranks[r].ops)
      if (o.kind == OpKind::gemm && o.family == OpFamily::attention)
        attn_bytes += o.bytes;
    if (r == 0)
      CHECK(attn_bytes > 0);
    else
      CHECK(attn_bytes == 0);
  }
}

TEST_CASE("memory per rank adds up to the model, with replicas counted", "[quick][schedule]")
{
  // TP4 on Mixtral: every weight is split 4 ways except the router (h x E per layer), which each
  // rank holds whole: the sum over ranks is the model's bytes + 3 extra router copies.
  const Model m = load("mixtral-8x7b");
  Layout lay = make_layout(Plan::parse("tp4"), m, 4);
  StepShape st{Phase::decode, 4, 1023, 0};
  double sum = 0;
  for (int r = 0; r < 4; r++)
    sum += memory_per_rank(m, lay, st, r).weights;
  CHECK(sum == Approx(m.weight_bytes() + 3 * L * h * E * 2).epsilon(1e-12));
  // KV cache per rank: 4 sequences x 1024 positions x K and V x 2 local KV heads x 128 x 2 bytes x 32 layers.
  CHECK(memory_per_rank(m, lay, st, 0).kv_cache == Approx(4.0 * 1024 * 2 * 2 * 128 * 2 * 32).epsilon(1e-12));
}

TEST_CASE("per-expert grouped GEMMs launch once per expert with tokens", "[quick][schedule]")
{
  // Mixtral-8x7B, EP4: each rank holds 2 of the 8 experts. Sampled routing at batch 64 (128
  // token-expert pairs over 8 experts) leaves no expert without tokens, so every grouped GEMM
  // launches 2 kernels per rank; fused, 1.
  const Model m = load("mixtral-8x7b");
  Layout lay = make_layout(Plan::parse("ep4"), m, 4);
  BuildOptions opt;
  opt.routing = RoutingSpec{RoutingKind::sampled, 1, 1.0};
  opt.engine.grouped_gemm_per_expert = true;
  Schedule per = build_schedule(m, lay, StepShape{Phase::decode, 64, 128, 0}, opt);
  opt.engine.grouped_gemm_per_expert = false;
  Schedule fused = build_schedule(m, lay, StepShape{Phase::decode, 64, 128, 0}, opt);
  for (int r = 0; r < 4; r++)
    for (size_t i = 0; i < per.ranks[r].ops.size(); i++) {
      const Op& a = per.ranks[r].ops[i];
      if (a.kind != OpKind::grouped_gemm)
        continue;
      int with_rows = 0;
      for (double x : a.grouped().rows)
        with_rows += x >= 0.5;
      CHECK(a.kernels == with_rows);
      CHECK(fused.ranks[r].ops[i].kernels == 1);
      CHECK(a.bytes == fused.ranks[r].ops[i].bytes); // the same work, only the launches differ
    }
}

TEST_CASE("an fp8 KV cache halves the decode attention's cache read and the KV memory", "[quick][schedule]")
{
  // Qwen3-30B-A3B (48 layers, GQA 32 / 4 heads of 128) at TP1, 8 sequences at 1,023 cached tokens:
  // the decode step's new token makes 1,024 positions. The cache per layer is 8 x 1,024 x K and V x
  // 4 heads x 128 = 8,388,608 elements: 16,777,216 B in bf16 (x 48 layers = 805,306,368 B of KV
  // memory). fp8, the dtype NVIDIA's NVFP4 Qwen3 checkpoints keep, counts 1 + 4 / (128 x 128) bytes
  // an element (core/dtype: one fp32 scale per 128 x 128 block): 48 x 8,388,608 x 1.000244140625 =
  // 402,751,488 B.
  Model m = load("qwen3-30b-a3b");
  auto kv_read = [](const Schedule& s) {
    double b = 0, ops = 0;
    for (const Op& o : s.ranks[0].ops)
      if (o.kind == OpKind::attention_decode) {
        b += o.bytes;
        ops++;
      }
    return std::pair{b, ops};
  };
  const Layout lay = make_layout(Plan::parse("tp1"), m, 1);
  const StepShape st{Phase::decode, 8, 1023, 0};
  const auto [bf16_bytes, n_bf16] = kv_read(build(m, "tp1", 1, 8, false, 1023));
  const double bf16_mem = memory_per_rank(m, lay, st, 0).kv_cache;
  m.dtypes.kv_cache = Dtype::fp8;
  const Schedule s8 = build(m, "tp1", 1, 8, false, 1023);
  const auto [fp8_bytes, n_fp8] = kv_read(s8);
  REQUIRE(n_bf16 == 48);
  REQUIRE(n_fp8 == 48);
  for (const Op& o : s8.ranks[0].ops)
    if (o.kind == OpKind::attention_decode)
      CHECK(o.attention().kv_dtype == Dtype::fp8);
  CHECK(bf16_mem == Approx(805306368.0).epsilon(1e-12));
  CHECK(memory_per_rank(m, lay, st, 0).kv_cache == Approx(402751488.0).epsilon(1e-12));
  // Each attention op reads the 8 x 1,024 cached positions, writes the 8 new tokens' K and V (both
  // in the cache's dtype) and moves its queries and outputs in bf16: 2 - 1.000244140625 bytes less
  // per cache element, 48 layers x (8,192 + 8) positions x 2 x 4 x 128 = 403,046,400 elements, so
  // 403,046,400 x 0.999755859375 = 402,948,000 B less in fp8.
  CHECK(bf16_bytes - fp8_bytes == Approx(402948000.0).epsilon(1e-9));
}

TEST_CASE("a speculative verify packs its tokens as query heads of one decode per sequence", "[quick][schedule]")
{
  // DeepSeek-V3 (MLA, 128 heads, 61 layers) under DP2 attention, 4 sequences at 4,095 cached
  // tokens, each running 1 + 3 tokens (an MTP verify with 3 drafts). Each rank's verify attention is
  // one decode over its 2 sequences' caches with 128 x 4 = 512 query rows against the one latent KV
  // head; the 3 draft passes that follow run the MTP layer one token per sequence: 128 heads.
  const Model m = load("deepseek-v3");
  Layout lay = make_layout(Plan::parse("dp2xep2"), m, 2);
  BuildOptions opt;
  opt.mech.draft_tokens = 3;
  StepShape st{Phase::decode, 4, 4095, 0};
  st.tokens_per_seq = 4;
  const Schedule s = build_schedule(m, lay, st, opt);
  std::map<int, int> heads; // q_heads -> decode attention ops on rank 0
  double verify_pairs_bytes = -1;
  for (const Op& o : s.ranks[0].ops)
    if (o.kind == OpKind::attention_decode) {
      const AttentionShape& a = o.attention();
      CHECK(a.batch == 2);
      CHECK(a.context() == 4096);
      heads[a.q_heads]++;
      if (a.q_heads == 512 && verify_pairs_bytes < 0)
        verify_pairs_bytes = o.bytes;
    }
  // 61 verify layers at 512 rows; 3 draft passes of the 1 MTP layer at 128.
  CHECK(heads.size() == 2);
  CHECK(heads[512] == 61);
  CHECK(heads[128] == 3);
  // The verify still reads each cache once: 2 x 4,096 positions x 576 latent elements x 2 B
  // (9,437,184 B), plus the 8 new tokens' latents (8 x 576 x 2 = 9,216 B) and 8 tokens x 128 heads
  // x (2 x 512 + 64) elements of queries and outputs in bf16 (2,228,224 B): 11,674,624 B.
  CHECK(verify_pairs_bytes == Approx(11674624.0).epsilon(1e-12));
}

TEST_CASE("DeepEP normal mode across nodes: once per node over the network, forwarded over NVLink", "[quick][schedule]")
{
  // Qwen3-30B-A3B: hidden 2048, 128 experts top-8, bf16 activations. dp4xep4 decode of 64: 16 tokens on
  // each GPU; 32 experts per GPU. Uniform routing: a token reaches a GPU unless its 8 picks all miss
  // that GPU's 32 experts: 1 - C(96,8)/C(128,8) = 1 - 0.0927473 = 0.9072527; it reaches a node of two
  // GPUs (64 experts) with 1 - C(64,8)/C(128,8) = 1 - 0.0030959 = 0.9969041.
  Model m = load("qwen3-30b-a3b");
  const Layout lay = make_layout(Plan::parse("dp4xep4"), m, 4);
  auto rows = [&](int gpus_per_node, OpRole role) {
    BuildOptions opt;
    opt.engine.cuda_graphs = true;
    opt.mech.dispatch = Dispatch::deepep_normal;
    opt.mech.traits = PlatformTraits{4, gpus_per_node, true, true};
    const Schedule s = build_schedule(m, lay, StepShape{Phase::decode, 64, 512, 0}, opt);
    for (const Op& o : s.ranks[0].ops)
      if (o.kind == OpKind::all_to_all && o.role == role && o.layer == 0)
        return o.peer_bytes.dense();
    return std::vector<double>{};
  };
  // One node of 4: rank 0 sends each other GPU its own tokens once: 16 x 0.9072527 x 4096 B = 59,457.7 B.
  const auto one = rows(4, OpRole::dispatch);
  REQUIRE(one.size() == 4);
  CHECK(one[0] == 0);
  for (int j = 1; j < 4; j++)
    CHECK(one[j] == Approx(59457.71498579068).epsilon(1e-9));
  // Two nodes of 2 (ranks 0-1, 2-3): rank 0 (node 0, lane 0) sends rank 1 its own tokens and those of
  // rank 2 (lane 0 of node 1) that it forwards: 32 x 0.9072527 x 4096 = 118,915.4 B; rank 2, its lane
  // in node 1, every token bound for node 1 once: 16 x 0.9969041 x 4096 = 65,333.1 B; rank 3 nothing.
  const auto two = rows(2, OpRole::dispatch);
  REQUIRE(two.size() == 4);
  CHECK(two[1] == Approx(118915.42997158135).epsilon(1e-9));
  CHECK(two[2] == Approx(65333.10943875615).epsilon(1e-9));
  CHECK(two[3] == 0);
  // Combine runs the same paths back (here the same bytes by symmetry).
  const auto back = rows(2, OpRole::combine);
  CHECK(back[1] == Approx(118915.42997158135).epsilon(1e-9));
  CHECK(back[2] == Approx(65333.10943875615).epsilon(1e-9));
  CHECK(back[3] == 0);
  // FP8 experts: dispatch carries 1 B a value plus a 4-byte scale per 128 (1.03125 B), combine stays
  // bf16: 32 x 0.9072527 x 2048 x 1.03125 = 61,315.8 B and 16 x 0.9969041 x 2048 x 1.03125 = 33,687.4 B.
  m.dtypes.expert_weights = Dtype::fp8;
  const auto fp8 = rows(2, OpRole::dispatch);
  CHECK(fp8[1] == Approx(61315.768579096635).epsilon(1e-9));
  CHECK(fp8[2] == Approx(33687.38455435864).epsilon(1e-9));
  CHECK(rows(2, OpRole::combine)[2] == Approx(65333.10943875615).epsilon(1e-9));
}
