// bench-ops: decode and prefill attention through kernels::attention, with the key splits it picks
// for this GPU. Each instance has a KV cache of its own (about 1 GiB of caches in all, at most 8), so
// that every launch reads cold memory as a step's layers do. Checked first against the CPU reference
// (ref::attention_row, tolerance ref::attention_tolerance) on sampled sequences, queries and heads.
#include "kernels/check.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference.hpp"
#include "validate/op_bench_family.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::validate::opbench {

namespace {

namespace ref = kernels::ref;
using kernels::bf16_t;

// The kernel's arguments for a point, the cache of instance 0 at `kv` (K then V for GQA; the latent
// rows for MLA decode).
kernels::AttentionArgs args_for(const AttnPoint& p, const bf16_t* q, const bf16_t* kv, bf16_t* out)
{
  const float scale = 1.0f / std::sqrt(static_cast<float>(p.qk));
  if (p.decode && p.mla)
    return kernels::attention_mla_decode(q, kv, out, p.batch, p.q_heads, static_cast<int>(p.context), p.kv_lora, p.rope,
                                         scale);
  const int q_len = p.decode ? 1 : static_cast<int>(p.prompt);
  const int kv_len = p.decode ? static_cast<int>(p.context) : static_cast<int>(p.cached + p.prompt);
  const bf16_t* v = kv + std::size_t(p.batch) * kv_len * p.kv_heads * p.qk;
  kernels::AttentionArgs a =
      kernels::attention_gqa(q, kv, v, out, p.batch, q_len, p.q_heads, p.kv_heads, kv_len, p.qk, p.v, scale);
  a.window = p.window;
  return a;
}

std::size_t cache_elems(const AttnPoint& p)
{
  if (p.decode && p.mla)
    return std::size_t(p.batch) * p.context * p.qk;
  const long kv_len = p.decode ? p.context : p.cached + p.prompt;
  return std::size_t(p.batch) * kv_len * p.kv_heads * (p.qk + p.v);
}

} // namespace

void bench_attention(BenchContext& ctx, const AttnPoint& p)
{
  const int q_len = p.decode ? 1 : static_cast<int>(p.prompt);
  const std::size_t rows = std::size_t(p.batch) * q_len * p.q_heads;
  const int inst = instances_for(p, ctx.rates);
  const std::size_t cache = cache_elems(p);
  DevMem q(rows * p.qk * 2), kv(cache * 2 * inst), out(rows * p.v * 2, true);
  cudaStream_t st = ctx.timer.stream();
  // q in [-3, 3]: the softmax is peaked enough that a wrong key or value shows.
  kernels::fill_uniform_bf16(q.as<bf16_t>(), std::int64_t(rows) * p.qk, -3, 3, ctx.next_seed(), st);
  kernels::fill_uniform_bf16(kv.as<bf16_t>(), std::int64_t(cache) * inst, -1, 1, ctx.next_seed(), st);
  int sms = 0, dev = 0;
  MOESIM_CHECK(cudaGetDevice(&dev));
  MOESIM_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  const kernels::AttentionArgs a0 = args_for(p, q.as<bf16_t>(), kv.as<bf16_t>(), out.as<bf16_t>());
  const int splits = kernels::attention_splits(a0, sms);
  const std::size_t ws_bytes = std::max<std::size_t>(kernels::attention_workspace_bytes(a0, splits), 256);
  DevMem ws(ws_bytes);
  auto launch = [&](int i, cudaStream_t s) {
    const kernels::AttentionArgs a = args_for(p, q.as<bf16_t>(), kv.as<bf16_t>() + std::size_t(i) * cache, out.as<bf16_t>());
    kernels::attention(a, splits, ws.get(), ws_bytes, s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));

  ref::AttentionDims d;
  d.q_len = a0.q_len, d.q_heads = a0.q_heads, d.kv_heads = a0.kv_heads, d.kv_len = a0.kv_len;
  d.qk_dim = a0.qk_dim, d.v_dim = a0.v_dim, d.scale = a0.scale, d.window = a0.window;
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  const bool long_context = d.kv_len > 16384; // the CPU reference is slow there: fewer rows
  for (long b : sample_indices(p.batch, 2, rng)) {
    const std::size_t kseq = std::size_t(d.kv_len) * d.kv_heads * d.qk_dim, vseq = std::size_t(d.kv_len) * d.kv_heads * d.v_dim;
    const auto k = download<bf16_t>(a0.k + b * a0.k_batch_stride, kseq);
    std::vector<bf16_t> v;
    if (p.decode && p.mla) { // the values are each latent row's first v_dim elements
      v.resize(vseq);
      for (long j = 0; j < d.kv_len; j++)
        std::copy_n(k.begin() + j * d.qk_dim, d.v_dim, v.begin() + j * d.v_dim);
    } else {
      v = download<bf16_t>(a0.v + b * a0.v_batch_stride, vseq);
    }
    for (long i : sample_indices(q_len, long_context ? 1 : 3, rng))
      for (long h : sample_indices(p.q_heads, long_context ? 2 : 4, rng)) {
        const std::size_t row = (std::size_t(b) * q_len + i) * p.q_heads + h;
        const auto qr = download<bf16_t>(q.as<bf16_t>() + row * p.qk, std::size_t(p.qk));
        const auto got = download<bf16_t>(out.as<bf16_t>() + row * p.v, std::size_t(p.v));
        std::vector<double> want(static_cast<std::size_t>(p.v)), abs(static_cast<std::size_t>(p.v));
        const double eps = ref::attention_row(qr, k, v, d, static_cast<int>(i), static_cast<int>(h), want, abs);
        for (int e = 0; e < p.v; e++)
          c.add(ref::bf16_to_float(got[std::size_t(e)]), want[std::size_t(e)],
                ref::attention_tolerance(want[std::size_t(e)], abs[std::size_t(e)], eps, d.kv_len),
                "[seq " + std::to_string(b) + ", query " + std::to_string(i) + ", head " + std::to_string(h) + ", dim " +
                    std::to_string(e) + "]");
      }
  }
  c.finish();
  int smem = 0;
  MOESIM_CHECK(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  const kernels::AttentionTiling tiling = kernels::attention_tiling(a0, static_cast<std::size_t>(smem));
  const Timing t = ctx.timer.time(inst, splits > 1 ? 2 : 1, launch);
  ctx.add_timed(t, [&](const Measured& m) { return attention_record(p, m); },
                {{"point", describe(p)},
                 {"kernels", splits > 1 ? 2 : 1},
                 {"splits", splits},
                 {"instances", inst},
                 {"tiles", std::string(tiling.shape) + " " + std::to_string(tiling.rows_per_block) + "x" +
                               std::to_string(tiling.keys_per_tile)}});
}

} // namespace moesim::validate::opbench
