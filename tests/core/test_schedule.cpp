// Schedule format v2: what each op says about itself (kind, family, role, typed shape), names
// composed from labels and never read back, the JSON reader's refusals, and the rounding of
// expected rows per expert.
#include "core/calibration.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "core/schedule_json.hpp"
#include "core/text_file.hpp"
#include "../temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#ifdef MOESIM_HAVE_ZLIB
#include <zlib.h>
#endif
#include <set>

using namespace moesim;

namespace {

Model load(const std::string& name, int layers = 0)
{
  Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/" + name + ".yaml").model;
  if (layers > 0) {
    m.layers = layers;
    m.dense_layers = std::min(m.dense_layers, layers);
  }
  return m;
}

Schedule build(const Model& m, const std::string& plan, int gpus, StepShape st)
{
  return build_schedule(m, make_layout(Plan::parse(plan), m, gpus), st, BuildOptions{});
}

// The first op of rank `r` with this layer, family and role.
const Op& find(const Schedule& s, int r, int layer, OpFamily f, OpRole role)
{
  for (const Op& o : s.ranks[r].ops)
    if (o.layer == layer && o.family == f && o.role == role)
      return o;
  FAIL("no op " << op_label(f, role) << " in layer " << layer);
  throw std::logic_error("unreachable");
}

std::string refusal(const nlohmann::json& j)
{
  try {
    schedule_from_json(j, "s.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}

} // namespace

TEST_CASE("op labels: the family's prefix and the role's name", "[quick][schedule]")
{
  CHECK(op_label(OpFamily::embedding, OpRole::lookup) == "embed");
  CHECK(op_label(OpFamily::attention, OpRole::qkv) == "attn.qkv");
  CHECK(op_label(OpFamily::moe, OpRole::experts_up) == "moe.experts.up");
  CHECK(op_label(OpFamily::moe, OpRole::shared_act) == "moe.shared.act");
  CHECK(op_label(OpFamily::head, OpRole::logits_allgather) == "head.logits.allgather");
  CHECK(op_label(OpFamily::pipeline, OpRole::send) == "pp.send");
  CHECK(parse_op_role("experts_up") == OpRole::experts_up);
  CHECK(parse_op_family("pipeline") == OpFamily::pipeline);
  CHECK_THROWS_AS(parse_op_role("experts.up"), std::invalid_argument); // labels are not role names
  CHECK_THROWS_AS(parse_op_family("attn"), std::invalid_argument);
}

TEST_CASE("every op's name is made of its layer, label and microbatch", "[quick][schedule]")
{
  // tp2xpp2 with 2 microbatches on Mixtral (2 layers): layer ops "L<l>.<label>@mb<m>", the others
  // "<label>@mb<m>".
  const Schedule s = build(load("mixtral-8x7b", 2), "tp2xpp2", 4, StepShape{Phase::decode, 4, 100, 0});
  int checked = 0;
  for (const RankSchedule& r : s.ranks)
    for (const Op& o : r.ops) {
      const std::string want = (o.layer >= 0 ? "L" + std::to_string(o.layer) + "." : std::string()) +
                               op_label(o.family, o.role) + "@mb" + std::to_string(o.microbatch);
      CHECK(o.name == want);
      CHECK(shape_fits(o.kind, o.shape));
      checked++;
    }
  CHECK(checked > 50);
}

TEST_CASE("typed shapes: MLA attention, latent norms, the fp32 router, expert widths", "[quick][schedule]")
{
  // DeepSeek-V3 (3 dense layers, then MoE), tp4, decode, batch 8, context 1000 on rank 1.
  // Heads per GPU 128 / 4 = 32; MLA's KV heads are the query heads. Decode: one query per sequence,
  // the cache holds context + 1 = 1001 keys, so 1000 cached before it.
  const Model m = load("deepseek-v3", 4);
  const Schedule s = build(m, "tp4", 4, StepShape{Phase::decode, 8, 1000, 0});
  const Op& core = find(s, 1, 0, OpFamily::attention, OpRole::core);
  CHECK(core.kind == OpKind::attention_decode);
  const AttentionShape& a = core.attention();
  CHECK((a.batch == 8 && a.q_heads == 32 && a.kv_heads == 32));
  CHECK((a.head_dim_qk == 128 + 64 && a.head_dim_v == 128)); // nope + rope, v
  CHECK((a.prompt == 1 && a.cached == 1000 && a.context() == 1001 && a.causal && a.sliding_window == 0));
  CHECK((a.mla && a.kv_lora_rank == 512 && a.rope_dim == 64));
  // The calibration tables' order for absorbed MLA decode: {batch, heads, context, kv_lora, rope}.
  CHECK(kernel_key(core) == std::vector<double>{8, 32, 1001, 512, 64});
  // q_norm: 8 rows of the q LoRA rank 1536; kv_norm: 8 rows of the KV LoRA rank 512.
  const RowsShape& qn = find(s, 1, 0, OpFamily::attention, OpRole::q_norm).rows();
  CHECK((qn.rows == 8 && qn.width == 1536));
  CHECK(find(s, 1, 0, OpFamily::attention, OpRole::kv_norm).rows().width == 512);
  // q_absorb: per head (batch 32), y[8, 512] = x[8, 128] W[128, 512], fp8 weights, bf16 out.
  const Op& qa = find(s, 1, 0, OpFamily::attention, OpRole::q_absorb);
  CHECK((qa.gemm().m == 8 && qa.gemm().n == 512 && qa.gemm().k == 128 && qa.gemm().batch == 32));
  CHECK((qa.dtype == Dtype::fp8 && qa.gemm().out == Dtype::bf16));
  // Layer 3 is MoE: the router writes fp32 logits over 256 experts; tp4 splits each expert's 2048
  // wide MLP 4 ways (up: n = 2 x 512), and the SiLU's width is 512.
  const Op& router = find(s, 1, 3, OpFamily::moe, OpRole::router);
  CHECK((router.gemm().n == 256 && router.gemm().k == 7168 && router.gemm().out == Dtype::fp32));
  // Its weights stay bf16 while the projections are fp8 (quantized checkpoints leave the gate out):
  // 7168 x 256 x 2 B = 3,670,016 B of weights, plus m rows of bf16 input and output (m x (7168 + 256) x 2).
  CHECK(router.dtype == Dtype::bf16);
  CHECK(router.bytes == Approx(7168.0 * 256 * 2 + router.gemm().m * (7168.0 + 256) * 2));
  const Op& up = find(s, 1, 3, OpFamily::moe, OpRole::experts_up);
  CHECK((up.grouped().n == 1024 && up.grouped().k == 7168 && up.grouped().experts == 256));
  CHECK(find(s, 1, 3, OpFamily::moe, OpRole::experts_act).rows().width == 512);
  // The dense FFN of layer 0: 18432 / 4 = 4608 per GPU.
  CHECK(find(s, 1, 0, OpFamily::ffn, OpRole::act).rows().width == 4608);
  // The model's facts travel with the schedule.
  CHECK((s.facts.hidden == 7168 && s.facts.vocab == 129280 && s.facts.attn.kv_lora_rank == 512));
  CHECK(s.facts.moe.experts == 256);
}

TEST_CASE("typed shapes: MLA prefill, sliding windows, embedding shards, expert ranges", "[quick][schedule]")
{
  // DeepSeek-V3 prefill, 2 sequences of 100 tokens after 50 cached: MLA prefill attends with the
  // heads' up-projected K and V: kernel_key {batch, heads, prompt, cached, qk 192, v 128}.
  const Schedule p = build(load("deepseek-v3", 1), "tp4", 4, StepShape{Phase::prefill, 2, 50, 100});
  const Op& core = find(p, 0, 0, OpFamily::attention, OpRole::core);
  CHECK(core.kind == OpKind::attention_prefill);
  CHECK(kernel_key(core) == std::vector<double>{2, 32, 100, 50, 192, 128});

  // gpt-oss-20b: every other layer (0, 2, ...) sees at most 128 tokens. Decode at context 1000:
  // layer 0 holds min(1001, 128) = 128 keys (127 cached before the new one), layer 1 all 1001.
  const Schedule g = build(load("gpt-oss-20b", 2), "tp1", 1, StepShape{Phase::decode, 3, 1000, 0});
  const AttentionShape& w0 = find(g, 0, 0, OpFamily::attention, OpRole::core).attention();
  const AttentionShape& w1 = find(g, 0, 1, OpFamily::attention, OpRole::core).attention();
  CHECK((w0.sliding_window == 128 && w0.cached == 127 && w0.head_dim_qk == 64 && w0.kv_heads == 8));
  CHECK((w1.sliding_window == 0 && w1.cached == 1000));

  // Mixtral tp2xep2 with replicated tokens (all-reduce): attention TP 4 splits the vocabulary
  // 32000 into 8000 rows each (rank r's shard from id 8000 x its TP index); MoE TP 2 x EP 2 splits
  // the 8 experts in 2 shards: rank r permutes the slots of its 4 experts, from 4 x its EP index.
  const Model mx = load("mixtral-8x7b", 1);
  const Layout L = make_layout(Plan::parse("tp2xep2:allreduce"), mx, 4);
  const Schedule e = build_schedule(mx, L, StepShape{Phase::decode, 4, 100, 0}, BuildOptions{});
  std::set<int> firsts;
  for (int r = 0; r < 4; r++) {
    const EmbeddingShape& emb = find(e, r, -1, OpFamily::embedding, OpRole::lookup).embedding();
    CHECK((emb.vocab == 32000 && emb.table_rows == 8000 && emb.first_id == 8000 * L.ranks[r].attn_tp));
    const PermuteShape& pm = find(e, r, 0, OpFamily::moe, OpRole::permute).permute();
    CHECK((pm.experts == 4 && pm.first_expert == 4 * L.ranks[r].ep && pm.k == 2 && pm.hidden == 4096));
    CHECK(find(e, r, 0, OpFamily::moe, OpRole::experts_up).grouped().first_expert == pm.first_expert);
    firsts.insert(pm.first_expert);
  }
  CHECK(firsts == std::set<int>{0, 4}); // both shards
  // Tokens exchanged by all-to-all: every expert's slots are kept.
  const Schedule a = build(mx, "ep4", 4, StepShape{Phase::decode, 4, 100, 0});
  const PermuteShape& all = find(a, 2, 0, OpFamily::moe, OpRole::permute).permute();
  CHECK((all.first_expert == 0 && all.experts == 8));
}

TEST_CASE("block-scaled fp8 GEMMs and the KV cache's dtype travel with the ops, through JSON", "[quick][schedule]")
{
  // DeepSeek-V3's checkpoint is fp8 with 128x128 block scales (its model file: fp8_scales: block);
  // here with an fp8 KV cache. Its fp8 GEMMs (q_a: fp8 dense weights) say they run block-scaled
  // kernels, and its attention that the cache it reads is fp8.
  Model m = load("deepseek-v3", 4);
  REQUIRE(m.dtypes.fp8_block_scales);
  m.dtypes.kv_cache = Dtype::fp8;
  const Schedule s = build(m, "tp4", 4, StepShape{Phase::decode, 8, 1000, 0});
  const Op& qa = find(s, 1, 0, OpFamily::attention, OpRole::q_a);
  CHECK((qa.dtype == Dtype::fp8 && qa.gemm().block_scales));
  const Op& core = find(s, 1, 0, OpFamily::attention, OpRole::core);
  CHECK((core.dtype == Dtype::bf16 && core.attention().kv_dtype == Dtype::fp8));
  // Written, the GEMM says block_scales and the attention kv_dtype (it differs from the op's bf16);
  // read back, nothing is lost.
  const nlohmann::json j = schedule_to_json(s);
  CHECK(schedule_to_json(schedule_from_json(j, "s.json")) == j);
  const Schedule back = schedule_from_json(j, "s.json");
  CHECK(find(back, 1, 0, OpFamily::attention, OpRole::q_a).gemm().block_scales);
  CHECK(find(back, 1, 0, OpFamily::attention, OpRole::core).attention().kv_dtype == Dtype::fp8);
  // Per-tensor fp8 (fp8_scales: tensor): no block scales; a bf16 cache: no kv_dtype written, and
  // read as the op's own dtype.
  m.dtypes.fp8_block_scales = false;
  m.dtypes.kv_cache = Dtype::bf16;
  const Schedule t = build(m, "tp4", 4, StepShape{Phase::decode, 8, 1000, 0});
  CHECK_FALSE(find(t, 1, 0, OpFamily::attention, OpRole::q_a).gemm().block_scales);
  const nlohmann::json tj = schedule_to_json(t);
  CHECK(schedule_from_json(tj, "s.json").ranks[1].ops.size() == t.ranks[1].ops.size());
  CHECK(tj.dump().find("block_scales") == std::string::npos);
  CHECK(tj.dump().find("kv_dtype") == std::string::npos);
  CHECK(find(schedule_from_json(tj, "s.json"), 1, 0, OpFamily::attention, OpRole::core).attention().kv_dtype ==
        Dtype::bf16);
}

TEST_CASE("schedule JSON: block scales on a GEMM whose weights are not fp8 are refused", "[quick][schedule]")
{
  const Schedule s = build(load("qwen3-30b-a3b", 2), "tp2", 2, StepShape{Phase::decode, 2, 10, 0});
  nlohmann::json j = schedule_to_json(s);
  for (auto& op : j["ranks"][0]["ops"])
    if (op["kind"] == "gemm") { // the first GEMM: bf16 weights
      op["shape"]["block_scales"] = true;
      break;
    }
  CHECK_THAT(refusal(j), Catch::Contains("shape.block_scales: block scales are for fp8 weights, the op's are bf16"));
}

TEST_CASE("schedule JSON: a per-root all-gather travels, and an all-reduce per root is refused", "[quick][schedule]")
{
  // dp2xep2: the MoE layers gather and scatter over both ranks. Mark them per root (as TensorRT-LLM's
  // profile does, dp_gather_per_root) and read the JSON back.
  const Model m = load("qwen3-30b-a3b", 2);
  Layout layout = make_layout(Plan::parse("dp2xep2"), m, 2);
  layout.plan.expert_comm = ExpertComm::allgather; // TensorRT-LLM's EP under attention DP
  BuildOptions opt;
  opt.mech.dp_gather_per_root = true;
  const StepShape st{Phase::decode, 8, 10, 0};
  const Schedule s = build_schedule(m, layout, st, opt);
  CHECK(find(s, 0, 0, OpFamily::moe, OpRole::allgather).per_root);
  CHECK(find(s, 0, 0, OpFamily::moe, OpRole::reducescatter).per_root);
  const nlohmann::json j = schedule_to_json(s);
  CHECK(schedule_to_json(schedule_from_json(j, "s.json")) == j);
  CHECK(find(schedule_from_json(j, "s.json"), 1, 1, OpFamily::moe, OpRole::reducescatter).per_root);
  // Without the mechanism the key is not written.
  const Schedule plain = build_schedule(m, layout, st, BuildOptions{});
  CHECK_FALSE(find(plain, 0, 0, OpFamily::moe, OpRole::allgather).per_root);
  CHECK(schedule_to_json(plain).dump().find("per_root") == std::string::npos);
  // per_root on an op with no per-root form is refused.
  nlohmann::json bad = j;
  for (auto& op : bad["ranks"][0]["ops"])
    if (op["kind"] == "all_gather") {
      op["kind"] = "all_reduce";
      break;
    }
  CHECK_THAT(refusal(bad), Catch::Contains("per_root: only an all_gather or a reduce_scatter runs per root rank"));
}

TEST_CASE("schedule JSON: written, read back, and refused with the fix", "[quick][schedule]")
{
  const Schedule s = build(load("qwen3-30b-a3b", 2), "tp2xpp2", 4, StepShape{Phase::prefill, 2, 10, 20});
  const nlohmann::json j = schedule_to_json(s);
  CHECK(j["format"] == "moesim-schedule-2");
  CHECK(schedule_to_json(schedule_from_json(j, "s.json")) == j); // nothing lost
  const Schedule back = schedule_from_json(j, "s.json");
  CHECK(back.ranks[3].ops.size() == s.ranks[3].ops.size());
  CHECK(back.facts.moe.top_k == 8);

  nlohmann::json v1 = j;
  v1["format"] = "moesim-schedule-1";
  CHECK(refusal(v1) == "s.json: format: is moesim-schedule-1, which this version no longer reads (it reads "
                       "moesim-schedule-2) (fix: regenerate it with `moesim schedule`)");
  nlohmann::json other = j;
  other["format"] = "something-else";
  CHECK_THAT(refusal(other), Catch::Contains("not a moesim schedule"));
  nlohmann::json bad = j;
  bad["ranks"][0]["ops"][0]["shape"]["bogus"] = 1; // rank 0's first op: the embedding
  CHECK(refusal(bad) == "s.json: ranks[0].ops[0].shape.bogus: unknown key (fix: regenerate it with `moesim schedule`)");
  bad = j;
  bad["ranks"][0]["ops"][0]["shape"]["hidden"] = 2048.5;
  CHECK_THAT(refusal(bad), Catch::Contains("ranks[0].ops[0].shape.hidden: expected a whole number"));
  bad = j;
  bad["ranks"][0]["ops"][0]["family"] = "attn";
  CHECK_THAT(refusal(bad), Catch::Contains("ranks[0].ops[0].family: unknown op family 'attn'"));
  bad = j;
  bad["ranks"][0]["ops"][0].erase("role");
  CHECK_THAT(refusal(bad), Catch::Contains("ranks[0].ops[0].role: missing key"));
  bad = j;
  bad["model_facts"]["attention"].erase("head_dim");
  CHECK_THAT(refusal(bad), Catch::Contains("model_facts.attention.head_dim: missing key"));
}

TEST_CASE("an all-to-all's row keeps only the members it sends to, and reads as the whole row", "[quick][schedule]")
{
  // The row 0, 480, 0, 70000 over 4 members: two entries (members 1 and 3), read back as 4 values.
  const PeerBytes row = std::vector<double>{0, 480, 0, 70000};
  CHECK(row.size() == 4);
  REQUIRE(row.entries().size() == 2);
  CHECK(row.entries()[0] == PeerBytes::Entry{1, 480});
  CHECK(row.entries()[1] == PeerBytes::Entry{3, 70000});
  CHECK(row[0] == 0);
  CHECK(row[3] == 70000);
  CHECK(row.dense() == std::vector<double>{0, 480, 0, 70000});
  CHECK(row.sum() == 70480);
  CHECK_THROWS_AS(row.at(4), std::out_of_range);
  // The same value to everyone, then one member's changed or cleared: 5 x 8 bytes, member 2 set to
  // 0 (removed) and member 4 to 9, sum 8 + 8 + 8 + 9 = 33.
  PeerBytes every;
  every.assign(5, 8);
  every.set(2, 0);
  every.set(4, 9);
  CHECK(every.dense() == std::vector<double>{8, 8, 0, 8, 9});
  CHECK(every.entries().size() == 4);
  CHECK(every.sum() == 33);
  every.set(2, 1); // back in, in member order
  CHECK(every.entries()[2] == PeerBytes::Entry{2, 1});
  CHECK_THROWS_AS(every.set(5, 1), std::out_of_range);
  CHECK(PeerBytes{}.empty());
}

TEST_CASE("schedule JSON: an all-to-all's row per member round-trips, and a wrong row is refused", "[quick][schedule]")
{
  // EP4 under skewed routing: every MoE layer has a dispatch and a combine whose rows differ per rank.
  Model m = load("qwen3-30b-a3b", 2);
  BuildOptions opt;
  opt.routing = RoutingSpec{RoutingKind::zipf, 3, 1.2};
  const Schedule s = build_schedule(m, make_layout(Plan::parse("ep4"), m, 4), StepShape{Phase::decode, 16, 256, 0}, opt);
  const nlohmann::json j = schedule_to_json(s);
  const Schedule back = schedule_from_json(j, "s.json");
  int rows = 0;
  for (size_t r = 0; r < s.ranks.size(); r++)
    for (size_t i = 0; i < s.ranks[r].ops.size(); i++)
      if (!s.ranks[r].ops[i].peer_bytes.empty()) {
        rows++;
        CHECK(back.ranks[r].ops[i].peer_bytes == s.ranks[r].ops[i].peer_bytes);
      }
  // 4 ranks x 2 MoE layers x 3: eager (BuildOptions' default) exchanges the per-expert counts before
  // dispatch and combine.
  CHECK(rows == 4 * 2 * 3);
  // The first all-to-all of rank 0, its row written densely (4 members, its own entry 0).
  size_t a2a = 0;
  while (s.ranks[0].ops[a2a].kind != OpKind::all_to_all)
    a2a++;
  const std::string at = "s.json: ranks[0].ops[" + std::to_string(a2a) + "].peer_bytes";
  nlohmann::json bad = j;
  CHECK(bad["ranks"][0]["ops"][a2a]["peer_bytes"].size() == 4);
  bad["ranks"][0]["ops"][a2a]["peer_bytes"].push_back(1);
  CHECK(refusal(bad) == at + ": has 5 entries for a group of 4 members (fix: regenerate it with `moesim schedule`)");
  bad = j;
  bad["ranks"][0]["ops"][a2a]["peer_bytes"][2] = -1;
  CHECK(refusal(bad) == at + "[2]: must be a finite byte count, 0 or more (fix: regenerate it with `moesim schedule`)");
  bad = j;
  bad["ranks"][0]["ops"][0]["peer_bytes"] = {1, 2, 3, 4}; // the embedding is no collective: unknown key
  CHECK_THAT(refusal(bad), Catch::Contains("ranks[0].ops[0].peer_bytes"));
}

#ifdef MOESIM_HAVE_ZLIB
namespace {
std::string gzipped(const std::string& text)
{
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
} // namespace

TEST_CASE("schedule files: plain or gzip-compressed read the same, a damaged or oversized stream is refused", "[quick][schedule]")
{
  test::TempDir d("moesim_schedule_gz");
  const Schedule s = build(load("qwen3-30b-a3b", 2), "tp2", 2, StepShape{Phase::decode, 4, 64, 0});
  const std::string text = schedule_to_json(s).dump();
  const std::string gz = gzipped(text);
  REQUIRE(gz.size() < text.size()); // it really is compressed: the loader must inflate it
  const std::string plain = d.write("s.json", text), packed = d.write("s.json.gz", gz);
  CHECK(schedule_to_json(load_schedule_file(packed)) == schedule_to_json(load_schedule_file(plain)));
  // Cut after half its bytes: zlib runs out of input before the stream's end (truncated, or damaged
  // where the cut falls mid-block).
  const std::string cut = d.write("cut.json.gz", gz.substr(0, gz.size() / 2));
  CHECK_THROWS_WITH(load_schedule_file(cut), Catch::Contains(cut) && Catch::Contains("gzip stream"));
  // A stream that inflates past the limit stops at the limit (a gzip bomb): 1 MiB of zeros, limit
  // 64 KiB; the same stream under a 2 MiB limit comes back whole.
  const std::string zeros(1u << 20, '0');
  CHECK_THROWS_WITH(inflate_if_gzip(gzipped(zeros), "z.gz", 64u << 10), Catch::Contains("z.gz") && Catch::Contains("once inflated"));
  CHECK(inflate_if_gzip(gzipped(zeros), "z.gz", 2u << 20) == zeros);
  CHECK(inflate_if_gzip("not gzip", "p", 4) == "not gzip"); // plain bytes pass as they are, whatever the limit
}
#endif

TEST_CASE("rounding expected rows per expert keeps the total", "[quick][schedule]")
{
  // 4 experts with 0.5 rows each: total 2; the two largest remainders (ties: lower index) get a row.
  CHECK(round_group_rows({0.5, 0.5, 0.5, 0.5}) == std::vector<long>{1, 1, 0, 0});
  // floors 1 + 2 + 0 = 3 of round(4.0) = 4: the largest remainder (0.7) gets the extra row.
  CHECK(round_group_rows({1.2, 2.7, 0.1}) == std::vector<long>{1, 3, 0});
  CHECK(round_group_rows({3.0, -1.0, 0.0}) == std::vector<long>{3, 0, 0});
  CHECK(round_group_rows({}).empty());
  // 128 experts at 64 * 8 / 128 = 4 rows each: unchanged.
  const auto even = round_group_rows(std::vector<double>(128, 4.0));
  CHECK(std::all_of(even.begin(), even.end(), [](long r) { return r == 4; }));
}

TEST_CASE("the engine's MoE backend travels through JSON, absent when it is the fastest kernel's", "[quick][schedule]")
{
  // A schedule built for TensorRT-LLM's CUTLASS MoE backend writes engine.moe_backend: cutlass and
  // reads it back; the default (fastest) writes nothing; an unknown backend is refused with its key.
  const Model m = load("qwen3-30b-a3b", 2);
  BuildOptions opt;
  opt.engine.moe_backend = MoeBackend::cutlass;
  const StepShape st{Phase::decode, 8, 100, 0};
  const Schedule s = build_schedule(m, make_layout(Plan::parse("ep2"), m, 2), st, opt);
  nlohmann::json j = schedule_to_json(s);
  CHECK(j["engine"]["moe_backend"] == "cutlass");
  CHECK(schedule_from_json(j, "s.json").engine.moe_backend == MoeBackend::cutlass);
  CHECK(schedule_to_json(schedule_from_json(j, "s.json")) == j);
  CHECK_FALSE(schedule_to_json(build(m, "ep2", 2, st))["engine"].contains("moe_backend"));
  j["engine"]["moe_backend"] = "magic";
  CHECK_THAT(refusal(j), Catch::Contains("s.json") && Catch::Contains("engine.moe_backend"));
}
