#include "core/schedule_builder.hpp"

#include "core/eplb.hpp"
#include "core/shard.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

namespace moesim {
namespace {

// Sequences of attention-DP replica d in microbatch mb.
int sequences(const Layout& L, const StepShape& st, int d, int mb)
{
  int seq_d = split_even(st.batch, L.plan.attn_dp)[d];
  return split_even(seq_d, L.plan.microbatches)[mb];
}

class Builder {
public:
  Builder(const Model& m, const Layout& L, const StepShape& st, const BuildOptions& o)
      : m_(m), L_(L), st_(st), o_(o), a_(bytes_per_element(m.dtypes.activations))
  {
    sched_.model = m.name;
    sched_.facts = model_facts(m);
    sched_.routing = o.routing.describe();
    sched_.step = st;
    sched_.engine = o.engine;
    sched_.layout = L;
    sched_.ranks.resize(L.world);
    for (int r = 0; r < L.world; r++)
      sched_.ranks[r].rank = r;
    // Redundant experts: EPLB's placement of E + R slots for equal expected loads.
    if (m.moe.experts > 0 && L.plan.redundant_experts > 0)
      placement_ = place_experts(std::vector<double>(m.moe.experts, 1.0), L.plan.ep, L.plan.redundant_experts);
  }

  Schedule build()
  {
    const Plan& p = L_.plan;
    // A microbatch with no sequence in any replica (batch smaller than the microbatch count) is not run.
    for (int s = 0; s < p.pp; s++)
      for (int mb = 0; mb < p.microbatches; mb++)
        if (microbatch_sequences(mb) > 0)
          build_stage_microbatch(s, mb);
    sched_.collectives = next_coll_;
    return std::move(sched_);
  }

private:
  const Model& m_;
  const Layout& L_;
  const StepShape& st_;
  const BuildOptions& o_;
  const double a_; // activation bytes per element
  Schedule sched_;
  int next_coll_ = 0;
  bool sliced_ = false; // tokens partitioned within the attention TP group (else replicated)
  int qlen_ = std::max(1, st_.tokens_per_seq); // decode tokens per sequence (1 in draft passes)
  bool chunk_on_ = true;                       // the step's prefill chunk (off in draft passes)
  std::optional<ExpertPlacement> placement_;

  std::vector<int> stage_ranks(int s) const
  {
    std::vector<int> v(L_.plan.stage_size());
    std::iota(v.begin(), v.end(), s * L_.plan.stage_size());
    return v;
  }
  int microbatch_sequences(int mb) const
  {
    int n = 0;
    for (int d = 0; d < L_.plan.attn_dp; d++)
      n += sequences(L_, st_, d, mb);
    return n;
  }
  int seqs(int r, int mb) const { return sequences(L_, st_, L_.ranks[r].attn_dp, mb); }
  // The prefill chunk mixed into a decode step (microbatch 0 of every replica).
  int chunk(int mb) const { return st_.phase == Phase::decode && chunk_on_ && mb == 0 ? st_.chunk : 0; }
  // Decode query tokens of a rank's replica: each sequence runs qlen_ tokens.
  int query_tokens(int r, int mb) const { return seqs(r, mb) * qlen_; }
  int replica_tokens(int d, int mb) const
  {
    const int n = sequences(L_, st_, d, mb);
    return st_.phase == Phase::decode ? n * qlen_ + chunk(mb) : n * st_.prompt;
  }
  // Tokens through the GEMMs: the replica's own, or the largest replica's when padded to it.
  int tokens(int r, int mb) const
  {
    if (o_.mech.dp_pad_to_max && L_.plan.attn_dp > 1) {
      int mx = 0;
      for (int d = 0; d < L_.plan.attn_dp; d++)
        mx = std::max(mx, replica_tokens(d, mb));
      return mx;
    }
    return replica_tokens(L_.ranks[r].attn_dp, mb);
  }
  // Tokens this rank holds now (its slice when sliced, else all of its replica's tokens).
  int held(int r, int mb) const
  {
    int t = tokens(r, mb);
    return sliced_ ? split_even(t, L_.plan.attn_tp)[L_.ranks[r].attn_tp] : t;
  }
  int max_slice(int r, int mb) const { return (tokens(r, mb) + L_.plan.attn_tp - 1) / L_.plan.attn_tp; }
  double head_rows(int r, int mb) const
  {
    return st_.phase == Phase::decode ? query_tokens(r, mb) + (chunk(mb) > 0 ? 1 : 0) : seqs(r, mb);
  }

  Op& push(int r, Op op)
  {
    auto& ops = sched_.ranks[r].ops;
    op.id = static_cast<int>(ops.size());
    ops.push_back(std::move(op));
    return ops.back();
  }

  // The op's name, for people: "L<layer>." (layer ops) + its label + "@mb<mb>" (several microbatches).
  std::string name_of(int layer, OpFamily f, OpRole role, int mb) const
  {
    return (layer >= 0 ? "L" + std::to_string(layer) + "." : std::string()) + op_label(f, role) +
           (L_.plan.microbatches > 1 ? "@mb" + std::to_string(mb) : "");
  }
  Op make_op(int layer, int mb, OpKind k, OpFamily f, OpRole role) const
  {
    Op op;
    op.name = name_of(layer, f, role, mb);
    op.kind = k;
    op.family = f;
    op.role = role;
    op.layer = layer;
    op.microbatch = mb;
    return op;
  }

  void compute(int r, int layer, int mb, OpKind k, OpFamily f, OpRole role, double flops, double bytes, Dtype dt,
               OpShape shape, int kernels = 1)
  {
    Op op = make_op(layer, mb, k, f, role);
    op.flops = flops;
    op.bytes = bytes;
    op.dtype = dt;
    op.shape = std::move(shape);
    op.kernels = kernels;
    push(r, std::move(op));
  }

  // Sizes are whole numbers of elements; a fractional one is a builder bug.
  static long whole(double x)
  {
    const long v = std::lround(x);
    if (static_cast<double>(v) != x)
      throw std::logic_error("schedule builder: size " + std::to_string(x) + " is not a whole number");
    return v;
  }

  // y[m,n] = x[m,k] W[k,n], `batch` times with different weights (per-head batched GEMMs): weights
  // read once, activations read and written. fp8 weights of a block-scaled checkpoint run the
  // block-scaled kernel.
  void gemm(int r, int layer, int mb, OpFamily f, OpRole role, double mrows, double n, double k, Dtype w,
            double batch = 1, Dtype out = Dtype::bf16)
  {
    // A rank with no tokens (an idle attention-DP replica) still launches the kernel but reads nothing.
    double flops = 2.0 * batch * mrows * n * k;
    double bytes = mrows > 0 ? batch * (k * n * bytes_per_element(w) + mrows * (k + n) * a_) : 0.0;
    compute(r, layer, mb, OpKind::gemm, f, role, flops, bytes, w,
            GemmShape{whole(mrows), whole(n), whole(k), whole(batch), out,
                      w == Dtype::fp8 && m_.dtypes.fp8_block_scales});
  }
  // rmsnorm / silu_mul over `rows` rows of `width` (out) elements.
  void rowwise(int r, int layer, int mb, OpKind kind, OpFamily f, OpRole role, double rows, double width,
               double reads_per_elem)
  {
    const RowsShape sh{rows, whole(width)};
    const double elems = sh.elements();
    compute(r, layer, mb, kind, f, role, elems * reads_per_elem, elems * (reads_per_elem + 1) * a_,
            m_.dtypes.activations, sh);
  }
  void residual(int r, int layer, int mb, OpFamily f, double elems)
  {
    compute(r, layer, mb, OpKind::residual_add, f, OpRole::residual, elems * 2, elems * 3 * a_, m_.dtypes.activations,
            ElementsShape{elems});
  }

  // One collective over `kind` groups of every rank in `ranks`; bytes_of(r) gives NCCL's size.
  template <class BytesFn>
  void collective(const std::vector<int>& ranks, const std::vector<int>& group_of, OpKind kind, int layer, int mb,
                  OpFamily f, OpRole role, BytesFn bytes_of)
  {
    std::map<int, int> coll_of_group;
    for (int r : ranks) {
      int g = group_of[r];
      if (L_.group(g).ranks.size() < 2)
        continue;
      auto [it, fresh] = coll_of_group.try_emplace(g, next_coll_);
      if (fresh)
        next_coll_++;
      Op op = make_op(layer, mb, kind, f, role);
      op.group = g;
      op.coll = it->second;
      op.comm_bytes = bytes_of(r);
      op.dtype = m_.dtypes.activations;
      if (kind == OpKind::all_reduce && o_.mech.profile) {
        const AllReduceChoice c = choose_all_reduce(*o_.mech.profile, static_cast<int>(L_.group(g).ranks.size()),
                                                    op.comm_bytes, o_.mech.traits);
        op.ar_impl = c.impl;
        op.ar_fixed_s = c.fixed_s;
      }
      push(r, std::move(op));
    }
  }
  // Collective sizes must agree on every member: take the group maximum (NCCL pads to equal chunks).
  template <class BytesFn>
  void padded_collective(const std::vector<int>& ranks, const std::vector<int>& group_of, OpKind kind, int layer,
                         int mb, OpFamily f, OpRole role, BytesFn bytes_of)
  {
    std::map<int, double> size;
    for (int r : ranks)
      size[group_of[r]] = std::max(size[group_of[r]], bytes_of(r));
    collective(ranks, group_of, kind, layer, mb, f, role, [&](int r) { return size[group_of[r]]; });
  }

  void build_stage_microbatch(int s, int mb)
  {
    const Plan& p = L_.plan;
    const auto ranks = stage_ranks(s);
    const double h = m_.hidden;
    sliced_ = false;
    if (s == 0) {
      const long table_rows = whole(std::ceil(double(m_.vocab) / p.attn_tp));
      for (int r : ranks)
        compute(r, -1, mb, OpKind::embedding, OpFamily::embedding, OpRole::lookup, 0, 2.0 * tokens(r, mb) * h * a_,
                m_.dtypes.embeddings,
                EmbeddingShape{tokens(r, mb), m_.hidden, m_.vocab, L_.ranks[r].attn_tp * table_rows, table_rows});
      if (p.attn_tp > 1)
        collective(ranks, L_.attn_tp_group, OpKind::all_reduce, -1, mb, OpFamily::embedding, OpRole::allreduce,
                   [&](int r) { return tokens(r, mb) * h * a_; });
    } else {
      // Receive the hidden states this rank holds from the same position in the previous stage.
      sliced_ = ends_sliced(s - 1);
      for (int r : ranks) {
        Op op = make_op(-1, mb, OpKind::recv, OpFamily::pipeline, OpRole::recv);
        op.peer = r - p.stage_size();
        op.tag = tag(s - 1, mb, L_.ranks[r].local);
        op.comm_bytes = held(r, mb) * h * a_;
        push(r, std::move(op));
      }
    }
    for (int layer = L_.stage_layers[s].first; layer < L_.stage_layers[s].second; layer++) {
      const size_t before = sched_.ranks[ranks.front()].ops.size();
      build_layer(ranks, layer, mb);
      // Room for the layers left at this layer's count, so that op lists are not moved as they grow.
      const size_t more = (sched_.ranks[ranks.front()].ops.size() - before) * (L_.stage_layers[s].second - layer - 1);
      for (int r : ranks)
        if (more > 0 && sched_.ranks[r].ops.capacity() < sched_.ranks[r].ops.size() + more)
          sched_.ranks[r].ops.reserve(sched_.ranks[r].ops.size() + more + 64);
    }
    if (s + 1 < p.pp) {
      for (int r : ranks) {
        Op op = make_op(-1, mb, OpKind::send, OpFamily::pipeline, OpRole::send);
        op.stream = 1;
        op.peer = r + p.stage_size();
        op.tag = tag(s, mb, L_.ranks[r].local);
        op.comm_bytes = held(r, mb) * h * a_;
        op.deps = {static_cast<int>(sched_.ranks[r].ops.size()) - 1};
        push(r, std::move(op));
      }
    } else {
      build_head(ranks, mb);
      build_drafts(ranks, mb);
    }
  }

  // Speculative decoding: after the verify step, the draft (MTP) module proposes the next tokens
  // one at a time, each pass its layers and the LM head over one token per sequence.
  void build_drafts(const std::vector<int>& ranks, int mb)
  {
    if (st_.phase != Phase::decode || o_.mech.draft_tokens < 1)
      return;
    const int keep_qlen = qlen_;
    qlen_ = 1;
    chunk_on_ = false;
    for (int d = 0; d < o_.mech.draft_tokens; d++) {
      for (int l = 0; l < std::max(1, o_.mech.draft_layers); l++)
        build_layer(ranks, m_.layers + l, mb);
      build_head(ranks, mb);
    }
    qlen_ = keep_qlen;
    chunk_on_ = true;
  }

  int tag(int s, int mb, int local) const { return (s * L_.plan.microbatches + mb) * L_.plan.stage_size() + local; }

  // Whether tokens leave stage s partitioned (its last layer is MoE with partitioned tokens).
  bool ends_sliced(int s) const
  {
    int last = L_.stage_layers[s].second - 1;
    return L_.plan.attn_tp > 1 && m_.is_moe_layer(last) && L_.plan.expert_comm != ExpertComm::all_reduce;
  }

  void gather_slices(const std::vector<int>& ranks, int layer, int mb, OpFamily f)
  {
    if (!sliced_)
      return;
    padded_collective(ranks, L_.attn_tp_group, OpKind::all_gather, layer, mb, f, OpRole::allgather,
                      [&](int r) { return double(max_slice(r, mb)) * L_.plan.attn_tp * m_.hidden * a_; });
    sliced_ = false;
  }

  void build_layer(const std::vector<int>& ranks, int layer, int mb)
  {
    const Plan& p = L_.plan;
    const double h = m_.hidden;
    const bool moe = m_.is_moe_layer(layer);
    gather_slices(ranks, layer, mb, OpFamily::attention);
    for (int r : ranks) {
      rowwise(r, layer, mb, OpKind::rmsnorm, OpFamily::attention, OpRole::norm, tokens(r, mb), h, 1);
      attention(r, layer, mb);
    }
    const bool slice_after = moe && p.attn_tp > 1 && p.expert_comm != ExpertComm::all_reduce;
    if (p.attn_tp > 1) {
      if (slice_after) {
        padded_collective(ranks, L_.attn_tp_group, OpKind::reduce_scatter, layer, mb, OpFamily::attention,
                          OpRole::reducescatter,
                          [&](int r) { return max_slice(r, mb) * p.attn_tp * h * a_; });
        sliced_ = true;
      } else {
        collective(ranks, L_.attn_tp_group, OpKind::all_reduce, layer, mb, OpFamily::attention, OpRole::allreduce,
                   [&](int r) { return tokens(r, mb) * h * a_; });
      }
    }
    for (int r : ranks) {
      residual(r, layer, mb, OpFamily::attention, held(r, mb) * h);
      rowwise(r, layer, mb, OpKind::rmsnorm, OpFamily::ffn, OpRole::norm, held(r, mb), h, 1);
    }
    if (moe)
      moe_block(ranks, layer, mb);
    else
      dense_ffn(ranks, layer, mb);
    for (int r : ranks)
      residual(r, layer, mb, OpFamily::ffn, held(r, mb) * h);
  }

  bool windowed(int layer) const
  {
    const Attention& at = m_.attn;
    return at.sliding_window > 0 && at.sliding_every > 0 && layer % at.sliding_every == 0;
  }
  int context_for(int layer) const
  {
    int ctx = st_.phase == Phase::decode ? st_.context + 1 : st_.context;
    if (windowed(layer))
      ctx = std::min(ctx, m_.attn.sliding_window);
    return ctx;
  }

  void attention(int r, int layer, int mb)
  {
    const Attention& at = m_.attn;
    const Shard sh = shard_of(m_, L_, r);
    // T: tokens through the projections (padding and the prefill chunk included); Tq: the decode
    // queries (each sequence's qlen_ tokens) that attend to the KV cache.
    const double h = m_.hidden, T = tokens(r, mb), B = seqs(r, mb), Tq = query_tokens(r, mb);
    const Dtype w = m_.dtypes.dense_weights;
    const double kvb = bytes_per_element(m_.dtypes.kv_cache);
    const double ctx = context_for(layer);
    const bool decode = st_.phase == Phase::decode;
    const double S = st_.prompt;
    // Causal prefill: query i sees ctx + i + 1 keys; summed over the prompt, S*ctx + S(S+1)/2.
    // Decode reads each sequence's cache once, whatever its query count.
    const double pairs = decode ? B * ctx : B * (S * ctx + S * (S + 1) / 2);
    const double C = chunk(mb), Cctx = st_.chunk_context;
    const double chunk_pairs = C * Cctx + C * (C + 1) / 2;
    // Decode: one new token per sequence, which the cache holds already (ctx counts it); prefill:
    // the prompt after ctx cached tokens.
    AttentionShape core;
    core.batch = whole(B);
    // A decode step of qlen_ tokens per sequence (a speculative verify) runs one decode over each
    // cache with the tokens packed as extra query rows against the same KV heads: q_heads x qlen_
    // rows, the cache read once (FlashMLA's get_mla_metadata takes s_q * h_q // h_kv query rows per
    // KV head; FlashAttention-3's packed GQA does the same). So the kernel records, which measured one
    // token per sequence, answer it at q_heads x qlen_ heads, not as qlen_ times the sequences.
    core.q_heads = decode ? sh.q_heads * qlen_ : sh.q_heads;
    core.kv_heads = sh.kv_heads;
    core.prompt = decode ? 1 : st_.prompt;
    core.cached = whole(decode ? ctx - 1 : ctx);
    core.causal = true;
    core.sliding_window = windowed(layer) ? at.sliding_window : 0;
    core.kv_dtype = m_.dtypes.kv_cache;
    const OpKind core_kind = decode ? OpKind::attention_decode : OpKind::attention_prefill;
    const OpFamily A = OpFamily::attention;
    if (at.kind == AttentionKind::mla) {
      const double H = sh.q_heads, nope = at.qk_nope_head_dim, rope = at.qk_rope_head_dim, v = at.v_head_dim;
      const double lat = at.kv_lora_rank;
      if (at.q_lora_rank > 0) {
        gemm(r, layer, mb, A, OpRole::q_a, T, at.q_lora_rank, h, w);
        rowwise(r, layer, mb, OpKind::rmsnorm, A, OpRole::q_norm, T, at.q_lora_rank, 1);
        gemm(r, layer, mb, A, OpRole::q_b, T, H * (nope + rope), at.q_lora_rank, w);
      } else {
        gemm(r, layer, mb, A, OpRole::q, T, H * (nope + rope), h, w);
      }
      gemm(r, layer, mb, A, OpRole::kv_a, T, lat + rope, h, w);
      rowwise(r, layer, mb, OpKind::rmsnorm, A, OpRole::kv_norm, T, lat, 1);
      core.head_dim_qk = at.qk_nope_head_dim + at.qk_rope_head_dim;
      core.head_dim_v = at.v_head_dim;
      core.mla = true;
      core.kv_lora_rank = at.kv_lora_rank;
      core.rope_dim = at.qk_rope_head_dim;
      if (decode) {
        // Absorbed MLA: queries move into the latent space, attention reads only the latent cache.
        gemm(r, layer, mb, A, OpRole::q_absorb, Tq, lat, nope, w, H);
        double flops = 2.0 * Tq * H * ctx * (lat + rope) + 2.0 * Tq * H * ctx * lat;
        double bytes = pairs * (lat + rope) * kvb + Tq * (lat + rope) * kvb + Tq * H * (2 * lat + rope) * a_;
        compute(r, layer, mb, core_kind, A, OpRole::core, flops, bytes, m_.dtypes.activations, core);
        gemm(r, layer, mb, A, OpRole::v_absorb, Tq, v, lat, w, H);
        if (C > 0) {
          // The prefill chunk expands its prefix and itself through kv_b and attends causally.
          gemm(r, layer, mb, A, OpRole::chunk_kv_b, C + Cctx, H * (nope + v), lat, w);
          double cf = 2.0 * H * chunk_pairs * (nope + rope) + 2.0 * H * chunk_pairs * v;
          double cb = C * H * (nope + rope + nope + v + v) * a_ + (C + Cctx) * (lat + rope) * kvb;
          compute(r, layer, mb, OpKind::attention_prefill, A, OpRole::chunk, cf, cb, m_.dtypes.activations,
                  chunk_shape(core, sh.q_heads, C, Cctx));
        }
      } else {
        gemm(r, layer, mb, A, OpRole::kv_b, T, H * (nope + v), lat, w);
        double flops = 2.0 * H * pairs * (nope + rope) + 2.0 * H * pairs * v;
        double bytes = T * H * (nope + rope + nope + v + v) * a_ + T * (lat + rope) * kvb;
        compute(r, layer, mb, core_kind, A, OpRole::core, flops, bytes, m_.dtypes.activations, core);
      }
      gemm(r, layer, mb, A, OpRole::o, T, h, H * v, w);
      return;
    }
    const double qh = sh.q_heads, kvh = sh.kv_heads, hd = at.head_dim;
    core.head_dim_qk = core.head_dim_v = at.head_dim;
    gemm(r, layer, mb, A, OpRole::qkv, T, (qh + 2 * kvh) * hd, h, w);
    if (decode) {
      double flops = 2.0 * 2.0 * qh * hd * Tq * ctx;
      double bytes = pairs * 2 * kvh * hd * kvb + Tq * 2 * kvh * hd * kvb + 2 * Tq * qh * hd * a_;
      compute(r, layer, mb, core_kind, A, OpRole::core, flops, bytes, m_.dtypes.activations, core);
      if (C > 0) {
        double cf = 2.0 * 2.0 * qh * hd * chunk_pairs;
        double cb = C * (2 * qh + 2 * kvh) * hd * a_ + C * 2 * kvh * hd * kvb + Cctx * 2 * kvh * hd * kvb;
        compute(r, layer, mb, OpKind::attention_prefill, A, OpRole::chunk, cf, cb, m_.dtypes.activations,
                chunk_shape(core, sh.kv_heads, C, Cctx));
      }
    } else {
      double flops = 2.0 * 2.0 * qh * hd * pairs;
      double bytes = T * (2 * qh + 2 * kvh) * hd * a_ + T * 2 * kvh * hd * kvb + B * ctx * 2 * kvh * hd * kvb;
      compute(r, layer, mb, core_kind, A, OpRole::core, flops, bytes, m_.dtypes.activations, core);
    }
    gemm(r, layer, mb, A, OpRole::o, T, h, qh * hd, w);
  }

  // A decode step's prefill chunk: one sequence's `chunk` prompt tokens after `cached` of its prompt,
  // causal, unwindowed, with the decode core's heads and head dims (MLA: kv_heads = q_heads, the
  // latent cache up-projected).
  static AttentionShape chunk_shape(AttentionShape s, int kv_heads, double chunk, double cached)
  {
    s.batch = 1;
    s.kv_heads = kv_heads;
    s.prompt = whole(chunk);
    s.cached = whole(cached);
    s.causal = true;
    s.sliding_window = 0;
    return s;
  }

  // The MLP of a dense layer (family ffn) or the shared experts (family moe).
  void ffn(int r, int layer, int mb, bool shared, double T, double inter, Dtype w)
  {
    const OpFamily f = shared ? OpFamily::moe : OpFamily::ffn;
    gemm(r, layer, mb, f, shared ? OpRole::shared_up : OpRole::up, T, 2 * inter, m_.hidden, w);
    rowwise(r, layer, mb, OpKind::silu_mul, f, shared ? OpRole::shared_act : OpRole::act, T, inter, 2);
    gemm(r, layer, mb, f, shared ? OpRole::shared_down : OpRole::down, T, m_.hidden, inter, w);
  }

  void dense_ffn(const std::vector<int>& ranks, int layer, int mb)
  {
    for (int r : ranks)
      ffn(r, layer, mb, false, tokens(r, mb), shard_of(m_, L_, r).dense_inter, m_.dtypes.dense_weights);
    if (L_.plan.attn_tp > 1)
      collective(ranks, L_.attn_tp_group, OpKind::all_reduce, layer, mb, OpFamily::ffn, OpRole::allreduce,
                 [&](int r) { return double(tokens(r, mb)) * m_.hidden * a_; });
  }

  // The experts a rank holds, with each slot's expected tokens and activity: a contiguous shard, or
  // its EPLB slots, where a replicated expert's tokens split evenly over its replicas.
  struct LocalExperts {
    std::vector<double> rows;   // tokens per slot
    std::vector<double> active; // probability (or 0/1) that the slot got a token
    std::vector<int> ids;       // the expert each slot holds
  };
  LocalExperts local_experts(int r, const RoutingResult& rt) const
  {
    const Shard sh = shard_of(m_, L_, r);
    LocalExperts le;
    if (placement_) {
      for (int e : placement_->rank_slots[L_.ranks[r].ep]) {
        le.rows.push_back(rt.expert_tokens[e] / placement_->replicas[e]);
        le.active.push_back(rt.expert_active[e]);
        le.ids.push_back(e);
      }
      return le;
    }
    for (int e = sh.first_expert; e < sh.first_expert + sh.experts; e++) {
      le.rows.push_back(rt.expert_tokens[e]);
      le.active.push_back(rt.expert_active[e]);
      le.ids.push_back(e);
    }
    return le;
  }

  // Grouped expert GEMMs over the local experts; weights are read only for experts that got tokens.
  void experts(int r, int layer, int mb, const RoutingResult& rt)
  {
    const Shard sh = shard_of(m_, L_, r);
    const double h = m_.hidden, I = sh.expert_inter;
    Dtype w = m_.dtypes.expert_weights;
    double wb = bytes_per_element(w);
    const LocalExperts le = local_experts(r, rt);
    const std::vector<double>& rows = le.rows;
    const double tok = std::accumulate(rows.begin(), rows.end(), 0.0);
    const double active = std::accumulate(le.active.begin(), le.active.end(), 0.0);
    const MoeKernel kernel = o_.mech.moe_kernel;
    const OpFamily M = OpFamily::moe;
    if (kernel == MoeKernel::per_expert_sync) {
      // A host loop over every local expert: read its token count back (a sync), then, when it
      // has tokens, gather them, run gate/up, activation, down, scale and scatter-add (8 launches).
      for (size_t i = 0; i < rows.size(); i++) {
        push(r, make_op(layer, mb, OpKind::host_sync, M, OpRole::expert_count_sync));
        if (le.active[i] <= 0)
          continue;
        const double t = rows[i];
        compute(r, layer, mb, OpKind::grouped_gemm, M, OpRole::expert, 2.0 * t * h * 3 * I,
                le.active[i] * 3 * h * I * wb + t * (2 * h + 3 * I) * a_, w,
                GroupedGemmShape{1, le.ids[i], {t}, whole(3 * I), whole(h)}, 8);
      }
      return;
    }
    if (kernel == MoeKernel::dequant) {
      // Every local expert's weights dequantised to bf16 each step (read packed, write bf16): a
      // permute-like pass over `params` one-element rows (read packed, write bf16); the grouped
      // GEMMs then read bf16 weights and run at the bf16 rate.
      const double params = double(rows.size()) * 3 * h * I;
      compute(r, layer, mb, OpKind::permute, M, OpRole::dequant, params, params * (wb + 2.0), w,
              PermuteShape{whole(params), 1, 1, 0, 1});
      w = Dtype::bf16;
      wb = 2.0;
    }
    // Launches: one fused kernel, or one GEMM per expert with rows (as the replay rounds them).
    int launches = 1;
    if (sched_.engine.grouped_gemm_per_expert || kernel == MoeKernel::per_expert) {
      launches = 0;
      for (double x : rows)
        launches += std::lround(x) > 0;
      launches = std::max(launches, 1);
    }
    compute(r, layer, mb, OpKind::grouped_gemm, M, OpRole::experts_up, 2.0 * tok * h * 2 * I,
            active * h * 2 * I * wb + tok * (h + 2 * I) * a_, w,
            GroupedGemmShape{sh.experts, sh.first_expert, rows, whole(2 * I), whole(h)}, launches);
    rowwise(r, layer, mb, OpKind::silu_mul, M, OpRole::experts_act, tok, I, 2);
    compute(r, layer, mb, OpKind::grouped_gemm, M, OpRole::experts_down, 2.0 * tok * I * h,
            active * I * h * wb + tok * (I + h) * a_, w,
            GroupedGemmShape{sh.experts, sh.first_expert, rows, whole(h), whole(I)}, launches);
  }

  // With EPLB replicas, the chance that a token's k expert picks reach EP rank d: each pick lands
  // on d with q_d = sum over d's slots of 1 / (E x replicas), picks taken as independent.
  // With group_size > 0 also the chance that they reach a group of group_size consecutive ranks (a
  // node): the q of its ranks summed (a shard's TP slices hold the same experts: counted once).
  void replica_rank_tokens(const std::vector<int>& held_v, RoutingResult& rt, int group_size) const
  {
    const double E = m_.moe.experts, k = m_.moe.top_k;
    const int n = static_cast<int>(held_v.size());
    std::vector<double> q(n, 0.0), reach(n, 0.0);
    for (int d = 0; d < n; d++) {
      for (int e : placement_->rank_slots[L_.ranks[d].ep])
        q[d] += 1.0 / (E * placement_->replicas[e]);
      reach[d] = 1.0 - std::pow(1.0 - std::min(1.0, q[d]), k);
    }
    rt.rank_tokens.assign(n, std::vector<double>(n, 0.0));
    for (int i = 0; i < n; i++)
      for (int d = 0; d < n; d++)
        rt.rank_tokens[i][d] = held_v[i] * reach[d];
    if (group_size <= 0)
      return;
    const int groups = (n + group_size - 1) / group_size;
    rt.group_tokens.assign(n, std::vector<double>(groups, 0.0));
    for (int g = 0; g < groups; g++) {
      double qg = 0;
      for (int d = g * group_size; d < std::min(n, (g + 1) * group_size); d++)
        if (L_.ranks[d].moe_tp == 0)
          qg += q[d];
      const double reach_g = 1.0 - std::pow(1.0 - std::min(1.0, qg), k);
      for (int i = 0; i < n; i++)
        rt.group_tokens[i][g] = held_v[i] * reach_g;
    }
  }

  // DeepEP's normal kernels across nodes (DeepEP README, "normal kernels with NVLink and RDMA
  // forwarding"): a token crosses the network once per destination node, to the GPU of its own lane
  // (local index) there, which forwards it over NVLink to every GPU of that node its experts are on;
  // a GPU sends to its own node's GPUs directly. The tokens stage rank i sends stage rank j, both
  // directions counted where they travel: D[i][j]. Combine runs the same paths back (D transposed).
  // gpn: GPUs per node; the stage is whole nodes of consecutive ranks.
  static std::vector<std::vector<double>> deepep_internode_tokens(const RoutingResult& rt, int S, int gpn)
  {
    std::vector<std::vector<double>> D(S, std::vector<double>(S, 0.0));
    for (int i = 0; i < S; i++) {
      const int ni = i / gpn, li = i % gpn;
      for (int j = 0; j < S; j++) {
        if (j == i)
          continue;
        const int nj = j / gpn;
        if (nj != ni) {
          if (j % gpn == li)
            D[i][j] = rt.group_tokens[i][nj]; // the network hop, once per node
          continue;
        }
        double t = rt.rank_tokens[i][j]; // own tokens, directly over NVLink
        for (int n = 0; n < S / gpn; n++)  // tokens of lane li's remote GPUs that i forwards to j
          if (n != ni)
            t += rt.rank_tokens[n * gpn + li][j];
        D[i][j] = t;
      }
    }
    return D;
  }

  void moe_block(const std::vector<int>& ranks, int layer, int mb)
  {
    const Plan& p = L_.plan;
    const double h = m_.hidden, E = m_.moe.experts, k = m_.moe.top_k;
    const Dtype ew = m_.dtypes.expert_weights;
    const std::uint64_t stream = static_cast<std::uint64_t>(layer) * 1000003ULL + mb;
    const double shared_inter = double(m_.moe.shared_intermediate) * m_.moe.shared_experts;
    const OpFamily M = OpFamily::moe;
    // The router's weights stay unquantized whatever the dense layers' dtype: quantized checkpoints
    // leave the gate out (ModelOpt's NVFP4 export of Qwen3-235B-A22B lists every `mlp.gate` in
    // exclude_modules), and the engines run it in the model's own dtype (TensorRT-LLM's Qwen3Gate:
    // a cublas_mm over weights of config.torch_dtype; vLLM's gates are built with quant_config=None).
    auto router = [&](int r, double T) {
      gemm(r, layer, mb, M, OpRole::router, T, E, h, m_.dtypes.activations, 1, Dtype::fp32);
      compute(r, layer, mb, OpKind::topk, M, OpRole::topk, T * E * 4, T * E * 4 + T * k * 8, Dtype::fp32,
              TopkShape{whole(T), m_.moe.experts, m_.moe.top_k});
    };
    // The slots permute keeps: every expert's when tokens are exchanged, else the rank's shard.
    auto permute_shape = [&](int r, double T) {
      const Shard sh = shard_of(m_, L_, r);
      const bool all = p.expert_comm == ExpertComm::all_to_all;
      return PermuteShape{whole(T), m_.moe.top_k, m_.hidden, all ? 0 : sh.first_expert,
                          all ? m_.moe.experts : sh.experts};
    };

    if (p.expert_comm == ExpertComm::all_to_all) {
      std::vector<int> held_v;
      for (int r : ranks)
        held_v.push_back(held(r, mb));
      const bool eager = !sched_.engine.cuda_graphs;
      const Dispatch dispatch = o_.mech.dispatch;
      const int S = p.stage_size();
      // DeepEP normal mode over more than one node: forwarded through each node's lane GPUs.
      const int gpn = o_.mech.traits.gpus_per_node;
      const bool forwarded = dispatch == Dispatch::deepep_normal && gpn > 1 && S > gpn && S % gpn == 0 &&
                             ranks.front() % gpn == 0;
      RoutingResult rt = route_tokens(o_.routing, held_v, m_.moe.experts, m_.moe.top_k, p.ep, p.moe_tp, stream,
                                      forwarded ? gpn : 0);
      if (placement_)
        replica_rank_tokens(held_v, rt, forwarded ? gpn : 0);
      for (int r : ranks) {
        const double T = held(r, mb);
        router(r, T);
        compute(r, layer, mb, OpKind::permute, M, OpRole::permute, 0, 2 * T * k * h * a_, m_.dtypes.activations,
                permute_shape(r, T));
      }
      if (dispatch == Dispatch::nccl_a2a && eager) {
        // Eager all-to-all-v: per-expert counts are exchanged first and copied to the host, which
        // blocks until they arrive to size the receive buffers.
        collective(ranks, L_.stage_group, OpKind::all_to_all, layer, mb, M, OpRole::counts, [&](int) {
          return double(S - 1) * (E / p.ep) * 4;
        });
        for (auto& [r, op] : last_ops(ranks))
          op->peer_bytes.assign(S, (E / p.ep) * 4), op->peer_bytes.set(L_.ranks[r].local, 0);
      }
      if ((dispatch == Dispatch::nccl_a2a && eager) || dispatch == Dispatch::deepep_normal) {
        // The host waits for the counts (NCCL's exchange, or DeepEP normal mode's notify) to size
        // the receive buffers.
        for (int r : ranks)
          push(r, make_op(layer, mb, OpKind::host_sync, M, OpRole::counts_sync));
      }
      if (dispatch == Dispatch::deepep_ll) {
        // DeepEP low latency: one copy per (token, expert) pair, not per destination rank; dispatch
        // in FP8 with a 4-byte scale per 128 values, combine in the activation type.
        std::vector<double> share(S, 0.0);
        double slots = 0;
        for (int j = 0; j < S; j++)
          slots += (share[j] = shard_of(m_, L_, ranks[j]).experts);
        for (int j = 0; j < S; j++)
          share[j] /= slots * p.moe_tp;
        a2a(ranks, layer, mb, OpRole::dispatch,
            [&](int i, int j) { return held_v[i] * k * share[j] * h * (1 + 4.0 / 128); });
        for (int r : ranks)
          experts(r, layer, mb, rt);
        a2a(ranks, layer, mb, OpRole::combine, [&](int i, int j) { return held_v[j] * k * share[i] * h * a_; });
      } else {
        // DeepEP normal mode dispatches block-scaled FP8 (a 4-byte scale per 128 values) when the experts
        // run FP8 (SGLang's DeepEP dispatcher quantizes before dispatch for its DeepGEMM path); combine
        // returns the activation type.
        const double db = dispatch == Dispatch::deepep_normal && m_.dtypes.expert_weights == Dtype::fp8
                              ? 1 + 4.0 / 128
                              : a_;
        const std::vector<std::vector<double>> fw = forwarded ? deepep_internode_tokens(rt, S, gpn)
                                                               : std::vector<std::vector<double>>{};
        const auto& D = forwarded ? fw : rt.rank_tokens;
        a2a(ranks, layer, mb, OpRole::dispatch, [&](int i, int j) { return D[i][j] * h * db; });
        for (int r : ranks)
          experts(r, layer, mb, rt);
        a2a(ranks, layer, mb, OpRole::combine, [&](int i, int j) { return D[j][i] * h * a_; });
      }
      for (int r : ranks) {
        const double T = held(r, mb);
        compute(r, layer, mb, OpKind::unpermute, M, OpRole::unpermute, T * k * h, (T * k + T) * h * a_,
                m_.dtypes.activations, permute_shape(r, T));
        if (shared_inter > 0)
          ffn(r, layer, mb, true, T, shared_inter, ew);
      }
      return;
    }

    // Replicated tokens: every rank of the stage sees every token of the stage.
    const bool gather = p.expert_comm == ExpertComm::allgather;
    double total = 0;
    if (gather) {
      for (int r : ranks)
        total += held(r, mb);
      std::map<int, double> maxheld;
      for (int r : ranks)
        maxheld[0] = std::max(maxheld[0], double(held(r, mb)));
      const double per_token = dp_gather_token_bytes(m_.dtypes, h, m_.moe.top_k, o_.mech.dp_gather_post_quant);
      padded_collective(ranks, L_.stage_group, OpKind::all_gather, layer, mb, M, OpRole::allgather,
                        [&](int) { return maxheld[0] * p.stage_size() * per_token; });
      mark_per_root(ranks);
    } else {
      total = tokens(ranks.front(), mb);
    }
    RoutingResult rt = route_tokens(o_.routing, {static_cast<int>(std::lround(total))}, m_.moe.experts,
                                    m_.moe.top_k, p.ep, p.moe_tp, stream);
    for (int r : ranks) {
      // Post-quant gathering routes each rank's own tokens before the gather; otherwise all of them.
      router(r, gather && o_.mech.dp_gather_post_quant ? double(held(r, mb)) : total);
      compute(r, layer, mb, OpKind::permute, M, OpRole::permute, 0, 2 * total * k * h * a_, m_.dtypes.activations,
              permute_shape(r, total));
      experts(r, layer, mb, rt);
      compute(r, layer, mb, OpKind::unpermute, M, OpRole::unpermute, total * k * h, (total * k + total) * h * a_,
              m_.dtypes.activations, permute_shape(r, total));
      if (shared_inter > 0)
        ffn(r, layer, mb, true, total, shared_inter / p.stage_size(), ew);
    }
    if (gather) {
      double maxheld = 0;
      for (int r : ranks)
        maxheld = std::max(maxheld, double(held(r, mb)));
      padded_collective(ranks, L_.stage_group, OpKind::reduce_scatter, layer, mb, M, OpRole::reducescatter,
                        [&](int) { return maxheld * p.stage_size() * h * a_; });
      mark_per_root(ranks);
    } else {
      collective(ranks, L_.stage_group, OpKind::all_reduce, layer, mb, M, OpRole::allreduce,
                 [&](int) { return total * h * a_; });
    }
  }

  // The collective just added on these ranks runs per root rank where the engine says so
  // (BuildMechanisms::dp_gather_per_root).
  void mark_per_root(const std::vector<int>& ranks)
  {
    if (!o_.mech.dp_gather_per_root)
      return;
    for (auto& [r, op] : last_ops(ranks))
      op->per_root = true;
  }

  std::vector<std::pair<int, Op*>> last_ops(const std::vector<int>& ranks)
  {
    std::vector<std::pair<int, Op*>> v;
    for (int r : ranks)
      if (!sched_.ranks[r].ops.empty())
        v.push_back({r, &sched_.ranks[r].ops.back()});
    return v;
  }

  template <class BytesFn>
  void a2a(const std::vector<int>& ranks, int layer, int mb, OpRole role, BytesFn bytes_ij)
  {
    const int S = L_.plan.stage_size();
    // Each rank's row once (S x S values per layer: a million at 1,024 GPUs, of which a rank sends
    // to a few dozen under skewed routing; PeerBytes keeps those); NCCL's size is its sum.
    std::vector<PeerBytes> rows(L_.world);
    for (int r : ranks) {
      const int i = L_.ranks[r].local;
      PeerBytes& row = rows[r];
      for (int j = 0; j < S; j++)
        row.push_back(j == i ? 0.0 : bytes_ij(i, j)); // the local share is a copy inside permute
    }
    collective(ranks, L_.stage_group, OpKind::all_to_all, layer, mb, OpFamily::moe, role,
               [&](int r) { return rows[r].sum(); });
    if (S < 2)
      return;
    for (auto& [r, op] : last_ops(ranks))
      op->peer_bytes = std::move(rows[r]);
  }

  void build_head(const std::vector<int>& ranks, int mb)
  {
    const Plan& p = L_.plan;
    const double h = m_.hidden;
    gather_slices(ranks, -1, mb, OpFamily::head);
    const double vocab_local = std::ceil(double(m_.vocab) / p.attn_tp);
    for (int r : ranks) {
      // Decode samples every query token (verifying drafts too) and a chunk's last position;
      // prefill only the last prompt position of each sequence.
      const double rows = head_rows(r, mb);
      rowwise(r, -1, mb, OpKind::rmsnorm, OpFamily::head, OpRole::norm, rows, h, 1);
      gemm(r, -1, mb, OpFamily::head, OpRole::lm_head, rows, vocab_local, h, m_.dtypes.embeddings);
    }
    if (p.attn_tp > 1)
      collective(ranks, L_.attn_tp_group, OpKind::all_gather, -1, mb, OpFamily::head, OpRole::logits_allgather,
                 [&](int r) { return head_rows(r, mb) * vocab_local * p.attn_tp * a_; });
    for (int r : ranks) {
      const double rows = head_rows(r, mb);
      compute(r, -1, mb, OpKind::sample, OpFamily::head, OpRole::sample, rows * m_.vocab, rows * m_.vocab * a_,
              m_.dtypes.activations, SampleShape{whole(rows), m_.vocab});
    }
  }
};

} // namespace

Schedule build_schedule(const Model& model, const Layout& layout, const StepShape& step, const BuildOptions& opt)
{
  return Builder(model, layout, step, opt).build();
}

} // namespace moesim
