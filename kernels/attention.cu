// attention: the launcher of the flash-attention kernel (attention_kernel.cuh says how it works), the
// choice of its tiles, and the combine kernel for key splits.
//
// Head dims are run-time values: any qk_dim and v_dim that are multiples of 16 from 16 to 576,
// independently. How the tiles depend on them:
//  * qk_dim sets only loop counts and shared-memory strides (Q and K tiles of qk_dim + 8 elements a
//    row); it costs no registers. Shared memory grows with it: where a 64-key tile does not fit the
//    device (qk_dim near 576 with wide values, or an A100's 163 KB), a 32-key variant is taken.
//  * v_dim sets the register width of the output accumulator, so it is rounded up to a bucket
//    (64, 128, 192, 256, 384, 512, 576) and each bucket is a compiled configuration; fragments past
//    v_dim are skipped, so the rounding costs registers, never loads or tensor-core work.
//  * The shape of the work picks the warp layout:
//      decode    (at most 16 rows per KV head: the query heads of a group, q_len 1): 16 rows, 4 warps
//                splitting each 64-key tile and the value columns;
//      prefill   (more rows): 64 rows with one warp per 16 rows owning whole rows (softmax in
//                registers) up to v_dim 256; above that 32 rows with 4 warps over the value columns;
//      latent    (values inside the keys: MLA decode over the latent cache): 32 rows, 32-key tiles.
//    So the zoo's dims keep the tiles they were tuned with: GQA decode (64, 64) and (128, 128) on
//    16 x 64 tiles, MLA prefill (192, 128) on 64 x 64 in registers, MLA decode (576, 512) on 32 x 32.
//
// Efficiency, honestly (measured on an H200, 4.8 TB/s, after 3 warm-up launches, mean of 20, with the
// compile-time head dims this kernel had before; the run-time dims change only loop bounds):
//  * GQA decode is memory-bound and close to the bandwidth: batch 64, 64/8 heads, context 4096,
//    head_dim 128: 3.9 TB/s (0.28 ms); head_dim 64, batch 32, context 8192: 3.2 TB/s; batch 1 of 4096
//    keys takes 19 us (launch- and latency-bound, 0.9 TB/s).
//  * MLA decode with many heads is compute-bound, and mma.sync reaches far less than Hopper's wgmma:
//    128 heads, batch 64, context 4096: 119 TFLOP/s (0.61 ms), where FlashMLA reports 4-5x that on
//    H800; 32 heads (TP 4): 87 TFLOP/s, 1.5 TB/s. Expect MLA decode timings to be pessimistic at
//    TP 1-2; the latent cache is read once per 32 heads (through L2 after the first).
//  * Prefill is compute-bound: 123 TFLOP/s causal at 4096 tokens, 64/8 heads, head_dim 128, and
//    146 TFLOP/s for MLA's (192, 128): perhaps a third of FlashAttention-2's rate and a quarter of
//    FlashAttention-3's on these GPUs. Prefill attention timings are therefore pessimistic.
#include "kernels/attention_kernel.cuh"

#include <climits>
#include <cstdint>

namespace moesim::kernels {

namespace {

using attn::Params;
using attn::Shape;
using attn::Variant;

// One block per output row: weights 2^(m_s - M) of the splits in shared memory, then each thread
// sums its columns over the splits in split order.
__global__ void combine_kernel(const float* part_o, const float* part_ml, bf16_t* out, std::int64_t rows_total,
                               int splits, int dv)
{
  __shared__ float w[max_attention_splits];
  __shared__ float inv_l;
  for (std::int64_t row = blockIdx.x; row < rows_total; row += gridDim.x) {
    if (threadIdx.x == 0) {
      float M = -INFINITY;
      for (int s = 0; s < splits; s++)
        M = fmaxf(M, part_ml[(s * rows_total + row) * 2]);
      float L = 0.0f;
      for (int s = 0; s < splits; s++) {
        const float m = part_ml[(s * rows_total + row) * 2];
        w[s] = m == -INFINITY ? 0.0f : exp2f(m - M);
        L += w[s] * part_ml[(s * rows_total + row) * 2 + 1];
      }
      inv_l = L > 0.0f ? 1.0f / L : 0.0f;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < dv; d += blockDim.x) {
      float acc = 0.0f;
      for (int s = 0; s < splits; s++)
        if (w[s] != 0.0f)
          acc += w[s] * part_o[(s * rows_total + row) * dv + d];
      out[row * dv + d] = detail::float_to_bf16_bits(acc * inv_l);
    }
    __syncthreads(); // w and inv_l are rewritten for the next row
  }
}

bool v_in_k(const AttentionArgs& a)
{
  return a.v == a.k && a.v_batch_stride == a.k_batch_stride && a.v_row_stride == a.k_row_stride &&
         a.v_head_stride == a.k_head_stride;
}

constexpr int value_buckets[] = {64, 128, 192, 256, 384, 512, 576};

int value_bucket(int v_dim)
{
  for (int b : value_buckets)
    if (v_dim <= b)
      return b;
  return 0; // refused by check_attention before this is reached
}

Shape shape_of(const AttentionArgs& a)
{
  if (v_in_k(a))
    return Shape::latent;
  const long rows = static_cast<long>(a.q_len) * (a.q_heads / a.kv_heads);
  return rows <= 16 ? Shape::decode : Shape::prefill;
}

const char* shape_name(Shape s)
{
  return s == Shape::decode ? "decode" : s == Shape::prefill ? "prefill" : "latent";
}

// The first configuration of the right shape and bucket whose shared memory fits `max_smem`.
const Variant& pick(const AttentionArgs& a, std::size_t max_smem)
{
  const Shape shape = shape_of(a);
  const int bucket = value_bucket(a.v_dim);
  const attn::VariantList list = shape == Shape::latent ? attn::mla_variants() : attn::gqa_variants();
  std::size_t least = 0;
  for (int i = 0; i < list.size; i++) {
    const Variant& v = list.data[i];
    if (v.shape != shape || v.dv_pad != bucket)
      continue;
    const std::size_t need = v.smem(a.qk_dim, a.v_dim);
    if (need <= max_smem)
      return v;
    least = least ? std::min(least, need) : need;
  }
  throw std::invalid_argument("kernels::attention: (qk_dim, v_dim) = (" + std::to_string(a.qk_dim) + ", " +
                              std::to_string(a.v_dim) + ") " + shape_name(shape) + " needs " + std::to_string(least) +
                              " bytes of shared memory per block; this device allows " + std::to_string(max_smem));
}

std::size_t device_max_smem()
{
  int dev = 0, bytes = 0;
  MOESIM_CHECK(cudaGetDevice(&dev));
  MOESIM_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return static_cast<std::size_t>(bytes);
}

int row_tiles(const AttentionArgs& a, int bm)
{
  const long rows = static_cast<long>(a.q_len) * (a.q_heads / a.kv_heads);
  return static_cast<int>((rows + bm - 1) / bm);
}

// The first key any query sees: with a window, query 0 (position kv_len - q_len) reaches back
// window - 1 keys.
int key_lo(const AttentionArgs& a)
{
  return a.window > 0 ? std::max(0, a.kv_len - a.q_len - a.window + 1) : 0;
}

void check_args(const AttentionArgs& a)
{
  detail::check_attention(a.batch, a.q_len, a.q_heads, a.kv_heads, a.kv_len, a.qk_dim, a.v_dim);
  const char* op = "attention";
  detail::require(a.window >= 0, op, "window must be >= 0 (0: no sliding window), got " + std::to_string(a.window));
  if (v_in_k(a))
    detail::require(a.v_dim <= a.qk_dim, op,
                    "values inside the keys (v = k, MLA's latent cache) need v_dim <= qk_dim, got (" +
                        std::to_string(a.qk_dim) + ", " + std::to_string(a.v_dim) + ")");
  for (std::int64_t s : {a.k_batch_stride, a.k_row_stride, a.k_head_stride, a.v_batch_stride, a.v_row_stride,
                         a.v_head_stride})
    detail::require(s >= 0 && s % 8 == 0, op, "strides must be non-negative multiples of 8 elements, got " +
                                                  std::to_string(s));
}

} // namespace

AttentionArgs attention_gqa(const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out, int batch, int q_len,
                            int q_heads, int kv_heads, int kv_len, int qk_dim, int v_dim, float scale)
{
  AttentionArgs a;
  a.q = q, a.k = k, a.v = v, a.out = out;
  a.batch = batch, a.q_len = q_len, a.q_heads = q_heads, a.kv_heads = kv_heads, a.kv_len = kv_len;
  a.qk_dim = qk_dim, a.v_dim = v_dim, a.scale = scale;
  a.k_head_stride = qk_dim;
  a.k_row_stride = static_cast<std::int64_t>(kv_heads) * qk_dim;
  a.k_batch_stride = a.k_row_stride * kv_len;
  a.v_head_stride = v_dim;
  a.v_row_stride = static_cast<std::int64_t>(kv_heads) * v_dim;
  a.v_batch_stride = a.v_row_stride * kv_len;
  return a;
}

AttentionArgs attention_mla_decode(const bf16_t* q, const bf16_t* latent, bf16_t* out, int batch, int heads,
                                   int kv_len, int kv_lora, int rope, float scale)
{
  AttentionArgs a;
  a.q = q, a.k = latent, a.v = latent, a.out = out;
  a.batch = batch, a.q_len = 1, a.q_heads = heads, a.kv_heads = 1, a.kv_len = kv_len;
  a.qk_dim = kv_lora + rope, a.v_dim = kv_lora, a.scale = scale;
  a.k_head_stride = a.v_head_stride = 0;
  a.k_row_stride = a.v_row_stride = kv_lora + rope;
  a.k_batch_stride = a.v_batch_stride = static_cast<std::int64_t>(kv_len) * (kv_lora + rope);
  return a;
}

bool attention_supported(int qk_dim, int v_dim)
{
  return detail::attention_dims_supported(qk_dim, v_dim);
}

AttentionTiling attention_tiling(const AttentionArgs& a, std::size_t max_smem_bytes)
{
  check_args(a);
  const Variant& v = pick(a, max_smem_bytes);
  AttentionTiling t;
  t.shape = shape_name(v.shape);
  t.rows_per_block = v.bm;
  t.keys_per_tile = v.bn;
  t.threads = v.threads;
  t.value_bucket = v.dv_pad;
  t.smem_bytes = v.smem(a.qk_dim, a.v_dim);
  return t;
}

int attention_splits(const AttentionArgs& a, int sm_count)
{
  check_args(a);
  if (a.batch == 0)
    return 1;
  // The rows per block depend on the shape and the value bucket only, not on which key tile fits the
  // device's shared memory: no device query here.
  const Variant& v = pick(a, SIZE_MAX);
  const long base = static_cast<long>(row_tiles(a, v.bm)) * a.kv_heads * a.batch;
  const long keys = static_cast<long>(a.kv_len) - key_lo(a); // the keys some query sees
  constexpr int min_keys = 256;
  // Decode reads each key once: blocks in flight are what hides memory latency, so aim for 4 per
  // multiprocessor (a block of one split moves 16-37 KB per tile).
  if (base >= 2L * sm_count || keys <= min_keys)
    return 1;
  long s = (4L * sm_count + base - 1) / base;
  s = std::min<long>(s, (keys + min_keys - 1) / min_keys);
  s = std::min<long>(s, 64);
  return static_cast<int>(std::max<long>(s, 1));
}

std::size_t attention_workspace_bytes(const AttentionArgs& a, int splits)
{
  if (splits <= 1 || a.batch == 0)
    return 0;
  const std::size_t rows = static_cast<std::size_t>(a.batch) * a.q_len * a.q_heads;
  return static_cast<std::size_t>(splits) * rows * (a.v_dim + 2) * sizeof(float);
}

void attention(const AttentionArgs& a, int splits, void* workspace, std::size_t workspace_bytes, cudaStream_t stream)
{
  check_args(a);
  const char* op = "attention";
  detail::require(splits >= 1 && splits <= max_attention_splits, op,
                  "splits must be in [1, " + std::to_string(max_attention_splits) + "], got " + std::to_string(splits));
  detail::require(workspace_bytes >= attention_workspace_bytes(a, splits), op,
                  "the workspace holds " + std::to_string(workspace_bytes) + " bytes, " + std::to_string(splits) +
                      " splits need " + std::to_string(attention_workspace_bytes(a, splits)));
  if (a.batch == 0)
    return;
  detail::require(detail::aligned16(a.q) && detail::aligned16(a.k) && detail::aligned16(a.v) &&
                      detail::aligned16(a.out) && (splits == 1 || detail::aligned16(workspace)),
                  op, "q, k, v, out and the workspace must be 16-byte aligned");

  const Variant& v = pick(a, device_max_smem());
  const std::size_t smem = v.smem(a.qk_dim, a.v_dim);
  Params p{};
  p.q = a.q, p.k = a.k, p.v = a.v, p.out = a.out;
  p.batch = a.batch, p.q_len = a.q_len, p.q_heads = a.q_heads, p.kv_heads = a.kv_heads, p.kv_len = a.kv_len;
  p.qk_dim = a.qk_dim, p.v_dim = a.v_dim, p.window = a.window, p.key_lo = key_lo(a);
  p.kbs = a.k_batch_stride, p.krs = a.k_row_stride, p.khs = a.k_head_stride;
  p.vbs = a.v_batch_stride, p.vrs = a.v_row_stride, p.vhs = a.v_head_stride;
  p.scale_log2 = a.scale * 1.4426950408889634f;
  p.row_tiles = row_tiles(a, v.bm);
  p.rows_total = static_cast<std::int64_t>(a.batch) * a.q_len * a.q_heads;
  // Chunks of whole tiles over the keys some query sees; a split past the last key has nothing to
  // do and says so (m = -inf).
  const long keys = static_cast<long>(a.kv_len) - p.key_lo;
  const long per_split = (keys + splits - 1) / splits;
  p.chunk = static_cast<int>((per_split + v.bn - 1) / v.bn * v.bn);
  p.splits = splits;
  if (splits > 1) {
    p.part_o = static_cast<float*>(workspace);
    p.part_ml = p.part_o + static_cast<std::size_t>(splits) * p.rows_total * a.v_dim;
  }
  const long blocks_x = static_cast<long>(p.row_tiles) * splits;
  detail::require(blocks_x <= INT_MAX, op, "too many row tiles");
  MOESIM_CHECK(cudaFuncSetAttribute(v.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  v.kernel<<<dim3(static_cast<unsigned>(blocks_x), a.kv_heads, a.batch), v.threads, smem, stream>>>(p);
  MOESIM_CHECK(cudaGetLastError());
  if (splits > 1) {
    combine_kernel<<<detail::grid_for(p.rows_total, 1), 128, 0, stream>>>(p.part_o, p.part_ml, a.out, p.rows_total,
                                                                          splits, a.v_dim);
    MOESIM_CHECK(cudaGetLastError());
  }
}

} // namespace moesim::kernels
