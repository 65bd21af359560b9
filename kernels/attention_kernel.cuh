// The flash-attention kernel template behind kernels::attention (attention.cu has the launcher,
// the choice of tiles and the combine kernel; attention_gqa.cu and attention_mla.cu instantiate the
// tile configurations). Internal to kernels/.
//
// Work decomposition. Rows are (query position i, head g of the KV head's group), r = i * G + g,
// so that a decode step's G heads that share a KV head share one pass over its cache. A block owns
// BM = 16 * WM rows of one (sequence, KV head) and a range of keys (all it can see, or one of
// `splits` chunks); it walks the keys in tiles of BN:
//   1. cp.async brings the K tile (and the V tile) into shared memory; the Q tile arrived first.
//   2. S = Q K^T: warp (wm, wn) computes rows wm*16.. and keys wn*BN/WN.. with ldmatrix + mma over
//      qk_dim / 16 steps (qk_dim is a run-time value); it scales by scale*log2(e), masks (causal,
//      sliding window, past the range, padding rows) and keeps S.
//   3. Online softmax per row: running max m and sum l, P = exp2(S - m) as bf16, alpha =
//      exp2(m_old - m_new) to rescale what was accumulated. When a warp owns whole rows (WN = 1) S,
//      P, m and l never leave its registers (FlashAttention-2's layout); otherwise they go through
//      shared memory, 2*WN threads per row.
//   4. O = O * alpha + P V: warp (wm, wn) owns rows wm*16.. and value columns wn*DVP/WN.. in registers.
//      DVP, the register width of O, is v_dim rounded up to a bucket (attention.cu); the 8-column
//      fragments at or past v_dim are skipped, so they cost registers, never loads or mma.
// With one split the block writes O / l in bf16; with several it writes O, m and l in fp32 and the
// combine kernel merges the splits: out = sum_s 2^(m_s - M) O_s / sum_s 2^(m_s - M) l_s.
// K and V tiles come in with 16-byte cp.async; the next K tile overlaps the softmax and P V of the
// current one (not when the values live in the K tile: MLA's latent cache).
#pragma once
#include "kernels/device.cuh"
#include "kernels/mma.cuh"

#include <climits>
#include <cstddef>

namespace moesim::kernels::attn {

struct Params {
  const bf16_t* q;
  const bf16_t* k;
  const bf16_t* v;
  bf16_t* out;
  float* part_o;  // [splits][rows_total][v_dim] when splits > 1
  float* part_ml; // [splits][rows_total][2]: m (log2 domain), l
  int batch, q_len, q_heads, kv_heads, kv_len, qk_dim, v_dim;
  int window;     // > 0: query at position p sees keys p - window + 1 .. p
  int key_lo;     // the first key any query sees (0 without a window); splits chunk [key_lo, kv_len)
  std::int64_t kbs, krs, khs, vbs, vrs, vhs;
  float scale_log2;
  int row_tiles, splits, chunk;
  std::int64_t rows_total; // batch * q_len * q_heads
};

template <int DVP, int WM, int WN, int BN, bool V_IN_K>
struct Config {
  static constexpr int BM = WM * 16;
  static constexpr int KEYS = BN; // keys per tile
  static constexpr bool VK = V_IN_K;
  static constexpr int NT = WM * WN * 32;
  static constexpr int SS = BN + 4; // fp32 S row stride (elements)
  static constexpr int PS = BN + 8; // bf16 P row stride: +16 bytes keeps ldmatrix conflict-free
  static constexpr int NFS = BN / WN / 8;  // S n-fragments per warp
  static constexpr int NFO = DVP / WN / 8; // O n-fragments per warp
  static constexpr int TPR = NT / BM;      // softmax threads per row (shared-memory path)
  static constexpr bool REG = WN == 1;
  static_assert(DVP % (8 * WN) == 0 && BN % (8 * WN) == 0 && BN % 16 == 0, "tile shapes");
  static_assert(TPR >= 1 && TPR <= 32 && (TPR & (TPR - 1)) == 0, "softmax threads per row");
};

// Shared memory of one block for run-time head dims (multiples of 16). Row strides are the dims + 8
// elements: 16 * (dim / 8 + 1) bytes, an odd multiple of 16, so the 8 rows of an ldmatrix fall in
// 8 different 16-byte bank groups. Every part starts on a 16-byte boundary.
struct SmemLayout {
  int qs = 0, ks = 0, vs = 0; // row strides (elements)
  std::size_t q_off = 0, k_off = 0, v_off = 0, s_off = 0, p_off = 0, stat_off = 0, total = 0;
};

template <class C>
__host__ __device__ inline SmemLayout smem_layout(int qk_dim, int v_dim)
{
  SmemLayout L;
  L.qs = qk_dim + 8;
  L.ks = qk_dim + 8;
  L.vs = C::VK ? L.ks : v_dim + 8;
  L.q_off = 0;
  L.k_off = L.q_off + std::size_t(C::BM) * L.qs * 2;
  L.v_off = L.k_off + std::size_t(C::KEYS) * L.ks * 2;
  L.s_off = L.v_off + (C::VK ? 0 : std::size_t(C::KEYS) * L.vs * 2);
  L.p_off = L.s_off + (C::REG ? 0 : std::size_t(C::BM) * C::SS * 4);
  L.stat_off = L.p_off + (C::REG ? 0 : std::size_t(C::BM) * C::PS * 2);
  L.total = L.stat_off + (C::REG ? 0 : std::size_t(C::BM) * 3 * 4);
  return L;
}

template <int DVP, int WM, int WN, int BN, bool V_IN_K>
__global__ void __launch_bounds__(WM * WN * 32) attention_kernel(const Params p)
{
  using C = Config<DVP, WM, WN, BN, V_IN_K>;
  using detail::cp_async16;
  using detail::cp_async_commit;
  using detail::cp_async_wait;
  constexpr int BM = C::BM, NT = C::NT;
  const int qk = p.qk_dim, dv = p.v_dim;
  const int qk8 = qk / 8, v8 = dv / 8, qk16 = qk / 16;
  const SmemLayout L = smem_layout<C>(qk, dv);
  extern __shared__ __align__(16) unsigned char smem[];
  bf16_t* Qs = reinterpret_cast<bf16_t*>(smem + L.q_off);
  bf16_t* Ks = reinterpret_cast<bf16_t*>(smem + L.k_off);
  bf16_t* Vs = V_IN_K ? Ks : reinterpret_cast<bf16_t*>(smem + L.v_off);
  float* Ss = reinterpret_cast<float*>(smem + L.s_off);
  bf16_t* Ps = reinterpret_cast<bf16_t*>(smem + L.p_off);
  float* m_s = reinterpret_cast<float*>(smem + L.stat_off);
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
  const int i_lo = r0 / G, i_hi = (r0 + rows_valid - 1) / G;
  const int k_begin = p.key_lo + split * p.chunk;
  // This block's keys: its split's chunk, from the lowest key its first query's window reaches up to
  // its last query's position.
  const int k_start = p.window > 0 ? max(k_begin, offset + i_lo - p.window + 1) : k_begin;
  const int k_end = min(min(p.kv_len, k_begin + p.chunk), offset + i_hi + 1);
  const int n_tiles = k_start < k_end ? (k_end - k_start + BN - 1) / BN : 0;

  const bf16_t* kbase = p.k + b * p.kbs + kvh * p.khs;
  const bf16_t* vbase = p.v + b * p.vbs + kvh * p.vhs;

  // Q tile: rows past the valid ones are zeros.
  for (int idx = tid; idx < BM * qk8; idx += NT) {
    const int r = idx / qk8, c = idx % qk8;
    const bool ok = r < rows_valid;
    const bf16_t* src = p.q;
    if (ok) {
      const int rg = r0 + r, i = rg / G, g = rg % G;
      src = p.q + ((static_cast<std::int64_t>(b) * p.q_len + i) * p.q_heads + kvh * G + g) * qk + c * 8;
    }
    cp_async16(Qs + r * L.qs + c * 8, src, ok);
  }
  cp_async_commit();

  auto load_k = [&](int kt) {
    for (int idx = tid; idx < BN * qk8; idx += NT) {
      const int j = idx / qk8, c = idx % qk8;
      const bool ok = kt + j < k_end;
      cp_async16(Ks + j * L.ks + c * 8, ok ? kbase + (kt + j) * p.krs + c * 8 : p.k, ok);
    }
  };
  auto load_v = [&](int kt) {
    for (int idx = tid; idx < BN * v8; idx += NT) {
      const int j = idx / v8, c = idx % v8;
      const bool ok = kt + j < k_end;
      cp_async16(Vs + j * L.vs + c * 8, ok ? vbase + (kt + j) * p.vrs + c * 8 : p.v, ok);
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
    load_k(k_start);
    cp_async_commit();
    if constexpr (!V_IN_K) {
      load_v(k_start);
      cp_async_commit();
    }
  }
  __syncthreads();

  float o[C::NFO][4];
#pragma unroll
  for (int nf = 0; nf < C::NFO; nf++)
    o[nf][0] = o[nf][1] = o[nf][2] = o[nf][3] = 0.0f;

  for (int t = 0; t < n_tiles; t++) {
    const int kt = k_start + t * BN;
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
      for (int kk = 0; kk < qk16; kk++) {
        unsigned a[4];
        detail::ldmatrix_x4(a, Qs + (wm * 16 + lane % 16) * L.qs + kk * 16 + (lane / 16) * 8);
#pragma unroll
        for (int nf = 0; nf < C::NFS; nf++) {
          const int n0 = wn * (BN / WN) + nf * 8;
          unsigned bk[2];
          detail::ldmatrix_x2(bk, Ks + (n0 + lane % 8) * L.ks + kk * 16 + ((lane / 8) % 2) * 8);
          detail::mma_bf16(s[nf], a, bk);
        }
      }
#pragma unroll
      for (int nf = 0; nf < C::NFS; nf++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const int row = wm * 16 + lane / 4 + h * 8;
          const int col = wn * (BN / WN) + nf * 8 + (lane % 4) * 2;
          const int i = (r0 + row) / G;
          const int hi = row < rows_valid ? min(k_end, offset + i + 1) : INT_MIN;
          const int lo = p.window > 0 ? offset + i - p.window + 1 : INT_MIN;
#pragma unroll
          for (int e = 0; e < 2; e++) {
            const int key = kt + col + e;
            const float v = key < hi && key >= lo ? s[nf][h * 2 + e] * p.scale_log2 : -INFINITY;
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

    // 4. O = O * alpha + P V over the value columns below v_dim.
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
          detail::ldmatrix_x4(a, Ps + (wm * 16 + lane % 16) * C::PS + kk * 16 + (lane / 16) * 8);
        }
#pragma unroll
        for (int nf = 0; nf < C::NFO; nf++) {
          const int n0 = wn * (DVP / WN) + nf * 8;
          if (n0 < dv) {
            unsigned bv[2];
            detail::ldmatrix_x2_trans(bv, Vs + (kk * 16 + lane % 16) * L.vs + n0);
            detail::mma_bf16(o[nf], a, bv);
          }
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
        const int col = wn * (DVP / WN) + nf * 8 + (lane % 4) * 2;
        if (col < dv) {
          const unsigned lo = detail::float_to_bf16_bits(o[nf][h * 2] * inv);
          const unsigned hi = detail::float_to_bf16_bits(o[nf][h * 2 + 1] * inv);
          *reinterpret_cast<unsigned*>(p.out + out_row * dv + col) = lo | (hi << 16);
        }
      }
    } else {
      const std::int64_t slot = static_cast<std::int64_t>(split) * p.rows_total + out_row;
#pragma unroll
      for (int nf = 0; nf < C::NFO; nf++) {
        const int col = wn * (DVP / WN) + nf * 8 + (lane % 4) * 2;
        if (col < dv)
          *reinterpret_cast<float2*>(p.part_o + slot * dv + col) = make_float2(o[nf][h * 2], o[nf][h * 2 + 1]);
      }
      if (wn == 0 && lane % 4 == 0) {
        p.part_ml[slot * 2] = C::REG ? m_r[h] : m_s[row];
        p.part_ml[slot * 2 + 1] = C::REG ? l_r[h] : l_s[row];
      }
    }
  }
}

// How the value columns and keys of a block are tiled: what attention.cu's choice looks at.
enum class Shape { decode, prefill, latent };

// One instantiated configuration: the kernel and its tile sizes.
struct Variant {
  void (*kernel)(Params) = nullptr;
  Shape shape = Shape::decode;
  int dv_pad = 0; // DVP: v_dim rounds up to it
  int wm = 0, wn = 0, bm = 0, bn = 0, threads = 0;
  bool v_in_k = false;
  std::size_t (*smem)(int qk_dim, int v_dim) = nullptr;
};

template <int DVP, int WM, int WN, int BN, bool V_IN_K>
std::size_t variant_smem(int qk_dim, int v_dim)
{
  return smem_layout<Config<DVP, WM, WN, BN, V_IN_K>>(qk_dim, v_dim).total;
}

template <int DVP, int WM, int WN, int BN, bool V_IN_K>
Variant variant(Shape shape)
{
  using C = Config<DVP, WM, WN, BN, V_IN_K>;
  return {attention_kernel<DVP, WM, WN, BN, V_IN_K>, shape, DVP, WM, WN, C::BM, BN, C::NT, V_IN_K,
          variant_smem<DVP, WM, WN, BN, V_IN_K>};
}

// The instantiated configurations, in order of preference within a (shape, dv_pad): the first whose
// shared memory fits the device is taken. attention_gqa.cu: decode and prefill; attention_mla.cu:
// latent (values inside the keys).
struct VariantList {
  const Variant* data;
  int size;
};
VariantList gqa_variants();
VariantList mla_variants();

} // namespace moesim::kernels::attn
