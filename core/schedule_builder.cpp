#include "core/schedule_builder.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>

namespace moesim {
namespace {

// Per-rank slice of the model (widths after tensor parallel splitting).
struct Shard {
  int q_heads = 0;    // attention heads on this rank
  int kv_heads = 0;   // KV heads on this rank (replicated when TP exceeds the KV head count)
  int dense_inter = 0;
  int expert_inter = 0;
  int experts = 0;     // local routed experts
  int first_expert = 0;
};

Shard shard_of(const Model& m, const Layout& L, int rank)
{
  const Plan& p = L.plan;
  const RankCoord& c = L.ranks[rank];
  Shard s;
  s.q_heads = m.attn.q_heads / p.attn_tp;
  s.kv_heads = m.attn.kind == AttentionKind::mla ? s.q_heads : std::max(1, m.attn.kv_heads / p.attn_tp);
  s.dense_inter = m.dense_intermediate / p.attn_tp;
  if (m.moe.experts > 0) {
    s.expert_inter = m.moe.expert_intermediate / p.moe_tp;
    s.experts = m.moe.experts / p.ep;
    s.first_expert = c.ep * s.experts;
  }
  return s;
}

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
  int tokens(int r, int mb) const { return st_.phase == Phase::decode ? seqs(r, mb) : seqs(r, mb) * st_.prompt; }
  // Tokens this rank holds now (its slice when sliced, else all of its replica's tokens).
  int held(int r, int mb) const
  {
    int t = tokens(r, mb);
    return sliced_ ? split_even(t, L_.plan.attn_tp)[L_.ranks[r].attn_tp] : t;
  }
  int max_slice(int r, int mb) const { return (tokens(r, mb) + L_.plan.attn_tp - 1) / L_.plan.attn_tp; }

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
  // read once, activations read and written.
  void gemm(int r, int layer, int mb, OpFamily f, OpRole role, double mrows, double n, double k, Dtype w,
            double batch = 1, Dtype out = Dtype::bf16)
  {
    // A rank with no tokens (an idle attention-DP replica) still launches the kernel but reads nothing.
    double flops = 2.0 * batch * mrows * n * k;
    double bytes = mrows > 0 ? batch * (k * n * bytes_per_element(w) + mrows * (k + n) * a_) : 0.0;
    compute(r, layer, mb, OpKind::gemm, f, role, flops, bytes, w,
            GemmShape{whole(mrows), whole(n), whole(k), whole(batch), out});
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
    for (int layer = L_.stage_layers[s].first; layer < L_.stage_layers[s].second; layer++)
      build_layer(ranks, layer, mb);
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
    }
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
    const double h = m_.hidden, T = tokens(r, mb), B = seqs(r, mb);
    const Dtype w = m_.dtypes.dense_weights;
    const double kvb = bytes_per_element(m_.dtypes.kv_cache);
    const double ctx = context_for(layer);
    const bool decode = st_.phase == Phase::decode;
    const double S = st_.prompt;
    // Causal prefill: query i sees ctx + i + 1 keys; summed over the prompt, S*ctx + S(S+1)/2.
    const double pairs = decode ? B * ctx : B * (S * ctx + S * (S + 1) / 2);
    // Decode: one new token per sequence, which the cache holds already (ctx counts it); prefill:
    // the prompt after ctx cached tokens.
    AttentionShape core;
    core.batch = whole(B);
    core.q_heads = sh.q_heads;
    core.kv_heads = sh.kv_heads;
    core.prompt = decode ? 1 : st_.prompt;
    core.cached = whole(decode ? ctx - 1 : ctx);
    core.causal = true;
    core.sliding_window = windowed(layer) ? at.sliding_window : 0;
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
        gemm(r, layer, mb, A, OpRole::q_absorb, T, lat, nope, w, H);
        double flops = 2.0 * T * H * ctx * (lat + rope) + 2.0 * T * H * ctx * lat;
        double bytes = pairs * (lat + rope) * kvb + T * (lat + rope) * kvb + T * H * (2 * lat + rope) * a_;
        compute(r, layer, mb, core_kind, A, OpRole::core, flops, bytes, m_.dtypes.activations, core);
        gemm(r, layer, mb, A, OpRole::v_absorb, T, v, lat, w, H);
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
      double flops = 2.0 * 2.0 * qh * hd * pairs;
      double bytes = pairs * 2 * kvh * hd * kvb + T * 2 * kvh * hd * kvb + 2 * T * qh * hd * a_;
      compute(r, layer, mb, core_kind, A, OpRole::core, flops, bytes, m_.dtypes.activations, core);
    } else {
      double flops = 2.0 * 2.0 * qh * hd * pairs;
      double bytes = T * (2 * qh + 2 * kvh) * hd * a_ + T * 2 * kvh * hd * kvb + B * ctx * 2 * kvh * hd * kvb;
      compute(r, layer, mb, core_kind, A, OpRole::core, flops, bytes, m_.dtypes.activations, core);
    }
    gemm(r, layer, mb, A, OpRole::o, T, h, qh * hd, w);
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

  // Grouped expert GEMMs over the local experts; weights are read only for experts that got tokens.
  void experts(int r, int layer, int mb, const RoutingResult& rt)
  {
    const Shard sh = shard_of(m_, L_, r);
    const double h = m_.hidden, I = sh.expert_inter;
    const Dtype w = m_.dtypes.expert_weights;
    const double wb = bytes_per_element(w);
    double tok = 0, active = 0;
    std::vector<double> rows;
    for (int e = sh.first_expert; e < sh.first_expert + sh.experts; e++) {
      tok += rt.expert_tokens[e];
      active += rt.expert_active[e];
      rows.push_back(rt.expert_tokens[e]);
    }
    // Launches: one fused kernel, or one GEMM per expert with rows (as the replay rounds them).
    int launches = 1;
    if (sched_.engine.grouped_gemm_per_expert) {
      launches = 0;
      for (double x : rows)
        launches += std::lround(x) > 0;
      launches = std::max(launches, 1);
    }
    const OpFamily M = OpFamily::moe;
    compute(r, layer, mb, OpKind::grouped_gemm, M, OpRole::experts_up, 2.0 * tok * h * 2 * I,
            active * h * 2 * I * wb + tok * (h + 2 * I) * a_, w,
            GroupedGemmShape{sh.experts, sh.first_expert, rows, whole(2 * I), whole(h)}, launches);
    rowwise(r, layer, mb, OpKind::silu_mul, M, OpRole::experts_act, tok, I, 2);
    compute(r, layer, mb, OpKind::grouped_gemm, M, OpRole::experts_down, 2.0 * tok * I * h,
            active * I * h * wb + tok * (I + h) * a_, w,
            GroupedGemmShape{sh.experts, sh.first_expert, rows, whole(h), whole(I)}, launches);
  }

  void moe_block(const std::vector<int>& ranks, int layer, int mb)
  {
    const Plan& p = L_.plan;
    const double h = m_.hidden, E = m_.moe.experts, k = m_.moe.top_k;
    const Dtype dw = m_.dtypes.dense_weights, ew = m_.dtypes.expert_weights;
    const std::uint64_t stream = static_cast<std::uint64_t>(layer) * 1000003ULL + mb;
    const double shared_inter = double(m_.moe.shared_intermediate) * m_.moe.shared_experts;
    const OpFamily M = OpFamily::moe;
    auto router = [&](int r, double T) {
      gemm(r, layer, mb, M, OpRole::router, T, E, h, dw, 1, Dtype::fp32);
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
      RoutingResult rt = route_tokens(o_.routing, held_v, m_.moe.experts, m_.moe.top_k, p.ep, p.moe_tp, stream);
      const bool eager = !sched_.engine.cuda_graphs;
      for (int r : ranks) {
        const double T = held(r, mb);
        router(r, T);
        compute(r, layer, mb, OpKind::permute, M, OpRole::permute, 0, 2 * T * k * h * a_, m_.dtypes.activations,
                permute_shape(r, T));
      }
      const int S = p.stage_size();
      if (eager) {
        // Eager all-to-all-v: per-expert counts are exchanged first and copied to the host, which
        // blocks until they arrive to size the receive buffers.
        collective(ranks, L_.stage_group, OpKind::all_to_all, layer, mb, M, OpRole::counts, [&](int) {
          return double(S - 1) * (E / p.ep) * 4;
        });
        for (auto& [r, op] : last_ops(ranks))
          op->peer_bytes.assign(S, (E / p.ep) * 4), op->peer_bytes[L_.ranks[r].local] = 0;
        for (int r : ranks)
          push(r, make_op(layer, mb, OpKind::host_sync, M, OpRole::counts_sync));
      }
      a2a(ranks, layer, mb, OpRole::dispatch, [&](int i, int j) { return rt.rank_tokens[i][j] * h * a_; });
      for (int r : ranks)
        experts(r, layer, mb, rt);
      a2a(ranks, layer, mb, OpRole::combine, [&](int i, int j) { return rt.rank_tokens[j][i] * h * a_; });
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
      padded_collective(ranks, L_.stage_group, OpKind::all_gather, layer, mb, M, OpRole::allgather,
                        [&](int) { return maxheld[0] * p.stage_size() * h * a_; });
    } else {
      total = tokens(ranks.front(), mb);
    }
    RoutingResult rt = route_tokens(o_.routing, {static_cast<int>(std::lround(total))}, m_.moe.experts,
                                    m_.moe.top_k, p.ep, p.moe_tp, stream);
    for (int r : ranks) {
      router(r, total);
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
    } else {
      collective(ranks, L_.stage_group, OpKind::all_reduce, layer, mb, M, OpRole::allreduce,
                 [&](int) { return total * h * a_; });
    }
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
    collective(ranks, L_.stage_group, OpKind::all_to_all, layer, mb, OpFamily::moe, role, [&](int r) {
      const int i = L_.ranks[r].local;
      double sum = 0;
      for (int j = 0; j < S; j++)
        if (j != i)
          sum += bytes_ij(i, j);
      return sum;
    });
    if (S < 2)
      return;
    for (auto& [r, op] : last_ops(ranks)) {
      const int i = L_.ranks[r].local;
      op->peer_bytes.assign(S, 0.0);
      for (int j = 0; j < S; j++)
        op->peer_bytes[j] = j == i ? 0.0 : bytes_ij(i, j); // the local share is a copy inside permute
    }
  }

  void build_head(const std::vector<int>& ranks, int mb)
  {
    const Plan& p = L_.plan;
    const double h = m_.hidden;
    gather_slices(ranks, -1, mb, OpFamily::head);
    const double vocab_local = std::ceil(double(m_.vocab) / p.attn_tp);
    for (int r : ranks) {
      // Decode samples every sequence; prefill only the last prompt position of each.
      const double rows = st_.phase == Phase::decode ? tokens(r, mb) : seqs(r, mb);
      rowwise(r, -1, mb, OpKind::rmsnorm, OpFamily::head, OpRole::norm, rows, h, 1);
      gemm(r, -1, mb, OpFamily::head, OpRole::lm_head, rows, vocab_local, h, m_.dtypes.embeddings);
    }
    if (p.attn_tp > 1)
      collective(ranks, L_.attn_tp_group, OpKind::all_gather, -1, mb, OpFamily::head, OpRole::logits_allgather,
                 [&](int r) {
        const double rows = st_.phase == Phase::decode ? tokens(r, mb) : seqs(r, mb);
        return rows * vocab_local * p.attn_tp * a_;
      });
    for (int r : ranks) {
      const double rows = st_.phase == Phase::decode ? tokens(r, mb) : seqs(r, mb);
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

MemoryUse memory_per_rank(const Model& m, const Layout& L, const StepShape& st, int rank)
{
  const Plan& p = L.plan;
  const RankCoord& c = L.ranks[rank];
  const Shard sh = shard_of(m, L, rank);
  const Attention& at = m.attn;
  const double h = m.hidden;
  const double dw = bytes_per_element(m.dtypes.dense_weights), ew = bytes_per_element(m.dtypes.expert_weights);
  const double eb = bytes_per_element(m.dtypes.embeddings), a = bytes_per_element(m.dtypes.activations);
  const double kvb = bytes_per_element(m.dtypes.kv_cache);
  MemoryUse u;
  const auto [first, last] = L.stage_layers[c.stage];
  double attn_w;
  double kv_per_token_layer; // elements
  if (at.kind == AttentionKind::mla) {
    const double H = sh.q_heads, nope = at.qk_nope_head_dim, rope = at.qk_rope_head_dim, v = at.v_head_dim;
    double q = at.q_lora_rank > 0 ? h * at.q_lora_rank + at.q_lora_rank * H * (nope + rope) : h * H * (nope + rope);
    attn_w = q + h * (at.kv_lora_rank + rope) + at.kv_lora_rank * H * (nope + v) + H * v * h;
    kv_per_token_layer = at.kv_lora_rank + rope; // the latent cache is replicated on every TP rank
  } else {
    attn_w = h * (sh.q_heads + 2.0 * sh.kv_heads) * at.head_dim + sh.q_heads * at.head_dim * h;
    kv_per_token_layer = 2.0 * sh.kv_heads * at.head_dim;
  }
  int seq = split_even(st.batch, p.attn_dp)[c.attn_dp];
  const double ctx = st.phase == Phase::decode ? st.context + 1.0 : double(st.context) + st.prompt;
  for (int l = first; l < last; l++) {
    u.weights += attn_w * dw;
    double lctx = ctx;
    if (at.sliding_window > 0 && at.sliding_every > 0 && l % at.sliding_every == 0)
      lctx = std::min(lctx, double(at.sliding_window));
    u.kv_cache += seq * lctx * kv_per_token_layer * kvb;
    if (m.is_moe_layer(l)) {
      u.weights += sh.experts * 3.0 * h * sh.expert_inter * ew;
      const double shared = 3.0 * h * m.moe.shared_intermediate * m.moe.shared_experts;
      u.weights += (p.expert_comm == ExpertComm::all_to_all ? shared : shared / p.stage_size()) * ew;
      u.weights += h * m.moe.experts * dw; // router, replicated
    } else {
      u.weights += 3.0 * h * sh.dense_inter * dw;
    }
  }
  const double vocab_local = std::ceil(double(m.vocab) / p.attn_tp);
  const bool first_stage = c.stage == 0, last_stage = c.stage == p.pp - 1;
  if (first_stage)
    u.weights += vocab_local * h * eb;
  if (last_stage && !(m.tied_embeddings && first_stage))
    u.weights += vocab_local * h * eb;
  // Activations: the largest live set of one microbatch: residual stream, attention projections,
  // the permuted top-k copies of the tokens through the expert MLP, and the logits.
  const double T = std::ceil(double(st.phase == Phase::decode ? seq : seq * st.prompt) / p.microbatches);
  const double T_stage = T * p.attn_dp;
  double widest = std::max({2.0 * (sh.q_heads + 2.0 * sh.kv_heads) * std::max(at.head_dim, at.v_head_dim),
                            2.0 * sh.dense_inter, 4.0 * h});
  double act = T * widest * a;
  if (m.moe.experts > 0)
    act = std::max(act, T_stage * m.moe.top_k * (2.0 * h + 2.0 * sh.expert_inter) * a);
  if (last_stage)
    act = std::max(act, T * vocab_local * 4.0);
  u.activations = act * std::max(1, p.microbatches > 1 ? 2 : 1) + T * h * a * 2;
  return u;
}

} // namespace moesim
