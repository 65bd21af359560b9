// attention: one flash-attention kernel for decode and causal prefill, GQA and MLA, on the tensor
// cores (mma.sync m16n8k16, bf16 operands, fp32 accumulators), plus a combine kernel for key splits.
//
// Work decomposition. Rows are (query position i, head g of the KV head's group), r = i * G + g,
// so that a decode step's G heads that share a KV head share one pass over its cache. A block owns
// BM = 16 * WM rows of one (sequence, KV head) and a range of keys (all of them, or one of `splits`
// chunks); it walks the keys in tiles of BN:
//   1. cp.async brings the K tile (and the V tile) into shared memory; the Q tile arrived first.
//   2. S = Q K^T: warp (wm, wn) computes rows wm*16.. and keys wn*BN/WN.. with ldmatrix + mma; it
//      scales by scale*log2(e), masks (causal, past the range, padding rows) and stores S in fp32.
//   3. Online softmax per row (2*WN threads per row): running max m and sum l, P = exp2(S - m) as
//      bf16, alpha = exp2(m_old - m_new) to rescale what was accumulated. When a warp owns whole rows
//      (WN = 1, the prefill configuration) S, P, m and l never leave its registers (FA2's layout).
//   4. O = O * alpha + P V: warp (wm, wn) owns rows wm*16.. and value columns wn*DV/WN.. in registers.
// With one split the block writes O / l in bf16; with several it writes O, m and l in fp32 and
// combine_kernel merges the splits: out = sum_s 2^(m_s - M) O_s / sum_s 2^(m_s - M) l_s.
//
// Configurations (see pick()): decode (few rows) BM 16 x 4 warps over the columns; MLA decode
// BM 32 (2 x 4 warps), BN 32, values read from the K tile (the latent row's first 512 elements);
// prefill BM 64 (4 warps over the rows), BN 64.
//
// Efficiency, honestly (measured on an H200, 4.8 TB/s, after 3 warm-up launches, mean of 20):
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
// K and V tiles come in with 16-byte cp.async; the next K tile overlaps the softmax and P V of the
// current one (not for MLA decode, whose values live in the K tile); S and P go through shared
// memory when warps split a row's keys (decode), and stay in registers when a warp owns whole rows
// (prefill).
#include "kernels/device.cuh"

#include <climits>

namespace moesim::kernels {
namespace {

struct Params {
  const bf16_t* q;
  const bf16_t* k;
  const bf16_t* v;
  bf16_t* out;
  float* part_o;  // [splits][rows_total][v_dim] when splits > 1
  float* part_ml; // [splits][rows_total][2]: m (log2 domain), l
  int batch, q_len, q_heads, kv_heads, kv_len;
  std::int64_t kbs, krs, khs, vbs, vrs, vhs;
  float scale_log2;
  int row_tiles, splits, chunk;
  std::int64_t rows_total; // batch * q_len * q_heads
};

__device__ __forceinline__ unsigned smem_addr(const void* p)
{
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared; zero-filled when !valid (src is not read then, but must be a valid address).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid)
{
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit()
{
  asm volatile("cp.async.commit_group;\n" ::);
}
template <int N>
__device__ __forceinline__ void cp_async_wait()
{
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const bf16_t* p)
{
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], const bf16_t* p)
{
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned (&r)[2], const bf16_t* p)
{
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(p)));
}
// d += a b: a 16x16 (row), b 16x8 (col), d 16x8 fp32.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2])
{
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <int DQK, int DV, int WM, int WN, int BN, bool V_IN_K>
struct Config {
  static constexpr int BM = WM * 16;
  static constexpr int NT = WM * WN * 32;
  static constexpr int QS = DQK + 8; // shared row strides (elements): +16 bytes keeps ldmatrix conflict-free
  static constexpr int KS = DQK + 8;
  static constexpr int VS = V_IN_K ? KS : DV + 8;
  static constexpr int SS = BN + 4; // fp32
  static constexpr int PS = BN + 8; // bf16
  static constexpr int NFS = BN / WN / 8; // S n-fragments per warp
  static constexpr int NFO = DV / WN / 8; // O n-fragments per warp
  static constexpr int TPR = NT / BM;     // softmax threads per row
  // REG: one warp owns whole rows (WN 1), so S, P and the row statistics stay in its registers
  // (FlashAttention-2's way): no shared-memory round trip and no row-mapped softmax phase.
  static constexpr bool REG = WN == 1;
  static constexpr std::size_t q_bytes = std::size_t(BM) * QS * 2;
  static constexpr std::size_t k_bytes = std::size_t(BN) * KS * 2;
  static constexpr std::size_t v_bytes = V_IN_K ? 0 : std::size_t(BN) * VS * 2;
  static constexpr std::size_t s_bytes = REG ? 0 : std::size_t(BM) * SS * 4;
  static constexpr std::size_t p_bytes = REG ? 0 : std::size_t(BM) * PS * 2;
  static constexpr std::size_t stat_bytes = REG ? 0 : std::size_t(BM) * 3 * 4;
  static constexpr std::size_t smem = q_bytes + k_bytes + v_bytes + s_bytes + p_bytes + stat_bytes;
  static_assert(DQK % 16 == 0 && DV % (8 * WN) == 0 && BN % (8 * WN) == 0 && BN % 16 == 0, "tile shapes");
  static_assert(TPR >= 1 && TPR <= 32 && (TPR & (TPR - 1)) == 0, "softmax threads per row");
  static_assert(!V_IN_K || DV <= DQK, "values inside the keys");
};

template <int DQK, int DV, int WM, int WN, int BN, bool V_IN_K>
__global__ void __launch_bounds__(WM * WN * 32) attention_kernel(const Params p)
{
  using C = Config<DQK, DV, WM, WN, BN, V_IN_K>;
  constexpr int BM = C::BM, NT = C::NT;
  extern __shared__ __align__(16) unsigned char smem[];
  bf16_t* Qs = reinterpret_cast<bf16_t*>(smem);
  bf16_t* Ks = reinterpret_cast<bf16_t*>(smem + C::q_bytes);
  bf16_t* Vs = V_IN_K ? Ks : reinterpret_cast<bf16_t*>(smem + C::q_bytes + C::k_bytes);
  float* Ss = reinterpret_cast<float*>(smem + C::q_bytes + C::k_bytes + C::v_bytes);
  bf16_t* Ps = reinterpret_cast<bf16_t*>(smem + C::q_bytes + C::k_bytes + C::v_bytes + C::s_bytes);
  float* m_s = reinterpret_cast<float*>(smem + C::q_bytes + C::k_bytes + C::v_bytes + C::s_bytes + C::p_bytes);
  float* l_s = m_s + BM;
  float* alpha_s = l_s + BM;

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WN, wn = warp % WN;
  const int row_tile = static_cast<int>(blockIdx.x % p.row_tiles);
  const int split = static_cast<int>(blockIdx.x / p.row_tiles);
  const int kvh = blockIdx.y, b = blockIdx.z;
  const int G = p.q_heads / p.kv_heads;
  const int R = p.q_len * G;
  const int r0 = row_tile * BM;
  const int rows_valid = min(BM, R - r0);
  const int offset = p.kv_len - p.q_len; // query i sees keys j <= offset + i
  const int i_hi = (r0 + rows_valid - 1) / G;
  const int k_begin = split * p.chunk;
  const int k_end = min(min(p.kv_len, k_begin + p.chunk), offset + i_hi + 1);
  const int n_tiles = k_begin < k_end ? (k_end - k_begin + BN - 1) / BN : 0;

  const bf16_t* kbase = p.k + b * p.kbs + kvh * p.khs;
  const bf16_t* vbase = p.v + b * p.vbs + kvh * p.vhs;

  // Q tile: rows past the valid ones are zeros.
  for (int idx = tid; idx < BM * (DQK / 8); idx += NT) {
    const int r = idx / (DQK / 8), c = idx % (DQK / 8);
    const bool ok = r < rows_valid;
    const bf16_t* src = p.q;
    if (ok) {
      const int rg = r0 + r, i = rg / G, g = rg % G;
      src = p.q + ((static_cast<std::int64_t>(b) * p.q_len + i) * p.q_heads + kvh * G + g) * DQK + c * 8;
    }
    cp_async16(Qs + r * C::QS + c * 8, src, ok);
  }
  cp_async_commit();

  auto load_k = [&](int kt) {
    for (int idx = tid; idx < BN * (DQK / 8); idx += NT) {
      const int j = idx / (DQK / 8), c = idx % (DQK / 8);
      const bool ok = kt + j < k_end;
      cp_async16(Ks + j * C::KS + c * 8, ok ? kbase + (kt + j) * p.krs + c * 8 : p.k, ok);
    }
  };
  auto load_v = [&](int kt) {
    for (int idx = tid; idx < BN * (DV / 8); idx += NT) {
      const int j = idx / (DV / 8), c = idx % (DV / 8);
      const bool ok = kt + j < k_end;
      cp_async16(Vs + j * C::VS + c * 8, ok ? vbase + (kt + j) * p.vrs + c * 8 : p.v, ok);
    }
  };

  if constexpr (!C::REG)
    for (int r = tid; r < BM; r += NT) {
      m_s[r] = -INFINITY;
      l_s[r] = 0.0f;
    }
  // REG: this thread's rows lane / 4 and lane / 4 + 8 of its warp's 16 (a quad of lanes shares a row).
  float m_r[2] = {-INFINITY, -INFINITY}, l_r[2] = {0.0f, 0.0f};
  if (n_tiles > 0) {
    load_k(k_begin);
    cp_async_commit();
    if constexpr (!V_IN_K) {
      load_v(k_begin);
      cp_async_commit();
    }
  }
  __syncthreads();

  float o[C::NFO][4];
#pragma unroll
  for (int nf = 0; nf < C::NFO; nf++)
    o[nf][0] = o[nf][1] = o[nf][2] = o[nf][3] = 0.0f;

  for (int t = 0; t < n_tiles; t++) {
    const int kt = k_begin + t * BN;
    const bool has_next = t + 1 < n_tiles;
    // Pending groups here: [Q,] K_t[, V_t]. Wait for K_t (and Q).
    if constexpr (V_IN_K)
      cp_async_wait<0>();
    else
      cp_async_wait<1>();
    __syncthreads();

    // 2. S = Q K^T, scaled and masked, into shared memory (REG: kept in registers).
    float s[C::NFS][4];
    {
#pragma unroll
      for (int nf = 0; nf < C::NFS; nf++)
        s[nf][0] = s[nf][1] = s[nf][2] = s[nf][3] = 0.0f;
#pragma unroll 4
      for (int kk = 0; kk < DQK / 16; kk++) {
        unsigned a[4];
        ldmatrix_x4(a, Qs + (wm * 16 + lane % 16) * C::QS + kk * 16 + (lane / 16) * 8);
#pragma unroll
        for (int nf = 0; nf < C::NFS; nf++) {
          const int n0 = wn * (BN / WN) + nf * 8;
          unsigned bk[2];
          ldmatrix_x2(bk, Ks + (n0 + lane % 8) * C::KS + kk * 16 + ((lane / 8) % 2) * 8);
          mma_bf16(s[nf], a, bk);
        }
      }
#pragma unroll
      for (int nf = 0; nf < C::NFS; nf++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const int row = wm * 16 + lane / 4 + h * 8;
          const int col = wn * (BN / WN) + nf * 8 + (lane % 4) * 2;
          const int limit = row < rows_valid ? min(k_end, offset + (r0 + row) / G + 1) : INT_MIN;
#pragma unroll
          for (int e = 0; e < 2; e++) {
            const float v = kt + col + e < limit ? s[nf][h * 2 + e] * p.scale_log2 : -INFINITY;
            if constexpr (C::REG)
              s[nf][h * 2 + e] = v;
            else
              Ss[row * C::SS + col + e] = v;
          }
        }
    }
    float alpha_r[2] = {1.0f, 1.0f};
    if constexpr (C::REG) {
      // 3 (REG). Online softmax in registers: row maxima and sums over the quad's 4 lanes.
#pragma unroll
      for (int h = 0; h < 2; h++) {
        float mx = -INFINITY;
#pragma unroll
        for (int nf = 0; nf < C::NFS; nf++)
          mx = fmaxf(mx, fmaxf(s[nf][h * 2], s[nf][h * 2 + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(detail::full_mask, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(detail::full_mask, mx, 2));
        const float m_new = fmaxf(m_r[h], mx);
        float sum = 0.0f;
#pragma unroll
        for (int nf = 0; nf < C::NFS; nf++)
#pragma unroll
          for (int e = 0; e < 2; e++) {
            const float pj = m_new == -INFINITY ? 0.0f : exp2f(s[nf][h * 2 + e] - m_new);
            s[nf][h * 2 + e] = pj;
            sum += pj;
          }
        sum += __shfl_xor_sync(detail::full_mask, sum, 1);
        sum += __shfl_xor_sync(detail::full_mask, sum, 2);
        alpha_r[h] = m_new == -INFINITY ? 1.0f : exp2f(m_r[h] - m_new);
        l_r[h] = l_r[h] * alpha_r[h] + sum;
        m_r[h] = m_new;
      }
    }
    __syncthreads();
    if constexpr (!V_IN_K) {
      if (has_next) { // the K tile is free: fetch the next one during softmax and P V
        load_k(kt + BN);
        cp_async_commit();
      }
    }

    // 3. Online softmax, C::TPR consecutive threads per row.
    if constexpr (!C::REG) {
      const int row = tid / C::TPR, part = tid % C::TPR;
      float mx = -INFINITY;
      for (int j = part; j < BN; j += C::TPR)
        mx = fmaxf(mx, Ss[row * C::SS + j]);
#pragma unroll
      for (int o2 = C::TPR / 2; o2 > 0; o2 >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(detail::full_mask, mx, o2));
      const float m_old = m_s[row];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
      for (int j = part; j < BN; j += C::TPR) {
        const float pj = m_new == -INFINITY ? 0.0f : exp2f(Ss[row * C::SS + j] - m_new);
        sum += pj;
        Ps[row * C::PS + j] = detail::float_to_bf16_bits(pj);
      }
#pragma unroll
      for (int o2 = C::TPR / 2; o2 > 0; o2 >>= 1)
        sum += __shfl_xor_sync(detail::full_mask, sum, o2);
      __syncwarp();
      if (part == 0) {
        const float alpha = m_new == -INFINITY ? 1.0f : exp2f(m_old - m_new);
        alpha_s[row] = alpha;
        l_s[row] = l_s[row] * alpha + sum;
        m_s[row] = m_new;
      }
    }
    // Wait for V_t (the next K tile may stay in flight), and for P.
    if constexpr (V_IN_K) {
      cp_async_wait<0>();
    } else {
      if (has_next)
        cp_async_wait<1>();
      else
        cp_async_wait<0>();
    }
    __syncthreads();

    // 4. O = O * alpha + P V.
    {
      const float a_lo = C::REG ? alpha_r[0] : alpha_s[wm * 16 + lane / 4];
      const float a_hi = C::REG ? alpha_r[1] : alpha_s[wm * 16 + lane / 4 + 8];
#pragma unroll
      for (int nf = 0; nf < C::NFO; nf++) {
        o[nf][0] *= a_lo;
        o[nf][1] *= a_lo;
        o[nf][2] *= a_hi;
        o[nf][3] *= a_hi;
      }
#pragma unroll
      for (int kk = 0; kk < BN / 16; kk++) {
        unsigned a[4];
        if constexpr (C::REG) {
          // The accumulator layout of S's n-fragments 2kk and 2kk + 1 is the A-fragment layout of
          // P's 16 x 16 block kk: pack pairs to bf16x2 (lower column in the lower half).
          auto pack = [](float lo, float hi) {
            return static_cast<unsigned>(detail::float_to_bf16_bits(lo)) |
                   (static_cast<unsigned>(detail::float_to_bf16_bits(hi)) << 16);
          };
          a[0] = pack(s[2 * kk][0], s[2 * kk][1]);
          a[1] = pack(s[2 * kk][2], s[2 * kk][3]);
          a[2] = pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
          a[3] = pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
        } else {
          ldmatrix_x4(a, Ps + (wm * 16 + lane % 16) * C::PS + kk * 16 + (lane / 16) * 8);
        }
#pragma unroll
        for (int nf = 0; nf < C::NFO; nf++) {
          const int n0 = wn * (DV / WN) + nf * 8;
          unsigned bv[2];
          ldmatrix_x2_trans(bv, Vs + (kk * 16 + lane % 16) * C::VS + n0);
          mma_bf16(o[nf], a, bv);
        }
      }
    }
    __syncthreads();
    if (has_next) { // V (or, for MLA, the whole K tile) is free now
      if constexpr (V_IN_K)
        load_k(kt + BN);
      else
        load_v(kt + BN);
      cp_async_commit();
    }
  }

  cp_async_wait<0>(); // nothing may stay in flight at exit (the Q tile when there was no key)

  // Write this thread's rows: lane / 4 and lane / 4 + 8 of the warp's 16.
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int row = wm * 16 + lane / 4 + h * 8;
    if (row >= rows_valid)
      continue;
    const int rg = r0 + row, i = rg / G, g = rg % G;
    const std::int64_t out_row = (static_cast<std::int64_t>(b) * p.q_len + i) * p.q_heads + kvh * G + g;
    if (p.splits == 1) {
      const float l = C::REG ? l_r[h] : l_s[row];
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
      for (int nf = 0; nf < C::NFO; nf++) {
        const int col = wn * (DV / WN) + nf * 8 + (lane % 4) * 2;
        const unsigned lo = detail::float_to_bf16_bits(o[nf][h * 2] * inv);
        const unsigned hi = detail::float_to_bf16_bits(o[nf][h * 2 + 1] * inv);
        *reinterpret_cast<unsigned*>(p.out + out_row * DV + col) = lo | (hi << 16);
      }
    } else {
      const std::int64_t slot = static_cast<std::int64_t>(split) * p.rows_total + out_row;
#pragma unroll
      for (int nf = 0; nf < C::NFO; nf++) {
        const int col = wn * (DV / WN) + nf * 8 + (lane % 4) * 2;
        *reinterpret_cast<float2*>(p.part_o + slot * DV + col) = make_float2(o[nf][h * 2], o[nf][h * 2 + 1]);
      }
      if (wn == 0 && lane % 4 == 0) {
        p.part_ml[slot * 2] = C::REG ? m_r[h] : m_s[row];
        p.part_ml[slot * 2 + 1] = C::REG ? l_r[h] : l_s[row];
      }
    }
  }
}

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

// A kernel configuration: its launcher and its tile sizes.
struct Variant {
  void (*kernel)(Params);
  int bm, bn, threads;
  std::size_t smem;
};

template <int DQK, int DV, int WM, int WN, int BN, bool V_IN_K>
Variant variant()
{
  using C = Config<DQK, DV, WM, WN, BN, V_IN_K>;
  return {attention_kernel<DQK, DV, WM, WN, BN, V_IN_K>, C::BM, BN, C::NT, C::smem};
}

bool v_in_k(const AttentionArgs& a)
{
  return a.v == a.k && a.v_batch_stride == a.k_batch_stride && a.v_row_stride == a.k_row_stride &&
         a.v_head_stride == a.k_head_stride;
}

// decode-shaped (at most 16 rows per KV head) or prefill-shaped.
Variant pick(const AttentionArgs& a)
{
  const long rows = static_cast<long>(a.q_len) * (a.q_heads / a.kv_heads);
  const bool few = rows <= 16;
  if (a.qk_dim == 576 && a.v_dim == 512)
    return variant<576, 512, 2, 4, 32, true>();
  if (a.qk_dim == 64 && a.v_dim == 64)
    return few ? variant<64, 64, 1, 4, 64, false>() : variant<64, 64, 4, 1, 64, false>();
  if (a.qk_dim == 128 && a.v_dim == 128)
    return few ? variant<128, 128, 1, 4, 64, false>() : variant<128, 128, 4, 1, 64, false>();
  return variant<192, 128, 4, 1, 64, false>(); // (192, 128), checked by check_attention
}

int row_tiles(const AttentionArgs& a, const Variant& v)
{
  const long rows = static_cast<long>(a.q_len) * (a.q_heads / a.kv_heads);
  return static_cast<int>((rows + v.bm - 1) / v.bm);
}

void check_args(const AttentionArgs& a)
{
  detail::check_attention(a.batch, a.q_len, a.q_heads, a.kv_heads, a.kv_len, a.qk_dim, a.v_dim);
  const char* op = "attention";
  if (a.qk_dim == 576)
    detail::require(v_in_k(a), op, "(576, 512) (MLA decode) takes the values inside the keys: pass v = k with k's strides");
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

int attention_splits(const AttentionArgs& a, int sm_count)
{
  check_args(a);
  if (a.batch == 0)
    return 1;
  const Variant v = pick(a);
  const long base = static_cast<long>(row_tiles(a, v)) * a.kv_heads * a.batch;
  constexpr int min_keys = 256;
  // Decode reads each key once: blocks in flight are what hides memory latency, so aim for 4 per
  // multiprocessor (a block of one split moves 16-37 KB per tile).
  if (base >= 2L * sm_count || a.kv_len <= min_keys)
    return 1;
  long s = (4L * sm_count + base - 1) / base;
  s = std::min<long>(s, (a.kv_len + min_keys - 1) / min_keys);
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

  const Variant v = pick(a);
  Params p{};
  p.q = a.q, p.k = a.k, p.v = a.v, p.out = a.out;
  p.batch = a.batch, p.q_len = a.q_len, p.q_heads = a.q_heads, p.kv_heads = a.kv_heads, p.kv_len = a.kv_len;
  p.kbs = a.k_batch_stride, p.krs = a.k_row_stride, p.khs = a.k_head_stride;
  p.vbs = a.v_batch_stride, p.vrs = a.v_row_stride, p.vhs = a.v_head_stride;
  p.scale_log2 = a.scale * 1.4426950408889634f;
  p.row_tiles = row_tiles(a, v);
  p.rows_total = static_cast<std::int64_t>(a.batch) * a.q_len * a.q_heads;
  // Chunks of whole tiles; a split past the last key has nothing to do and says so (m = -inf).
  const long per_split = (static_cast<long>(a.kv_len) + splits - 1) / splits;
  p.chunk = static_cast<int>((per_split + v.bn - 1) / v.bn * v.bn);
  p.splits = splits;
  if (splits > 1) {
    p.part_o = static_cast<float*>(workspace);
    p.part_ml = p.part_o + static_cast<std::size_t>(splits) * p.rows_total * a.v_dim;
  }
  const long blocks_x = static_cast<long>(p.row_tiles) * splits;
  detail::require(blocks_x <= INT_MAX, op, "too many row tiles");
  MOESIM_CHECK(cudaFuncSetAttribute(v.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(v.smem)));
  v.kernel<<<dim3(static_cast<unsigned>(blocks_x), a.kv_heads, a.batch), v.threads, v.smem, stream>>>(p);
  MOESIM_CHECK(cudaGetLastError());
  if (splits > 1) {
    combine_kernel<<<detail::grid_for(p.rows_total, 1), 128, 0, stream>>>(p.part_o, p.part_ml, a.out, p.rows_total,
                                                                          splits, a.v_dim);
    MOESIM_CHECK(cudaGetLastError());
  }
}

} // namespace moesim::kernels
