// grouped_gemm: every local expert's GEMM in one launch, as a serving engine's fused MoE kernel runs
// them (vLLM's fused_moe, SGLang's, TensorRT-LLM's grouped GEMMs): the experts' row counts live in
// device memory (row_offsets, as permute writes expert_offsets) and the grid covers an upper bound of
// the tiles, so the launch needs nothing from the host but the total rows.
//
// Work decomposition. A block owns BN = 128 output columns of BM rows of one expert. Block b takes
// column tile b % n_tiles of m-tile b / n_tiles, the m-tiles numbered expert after expert
// (ceil(rows_e / BM) each); warp 0 finds its expert by a prefix sum over row_offsets (32 experts a
// step), and blocks past the last tile exit. Consecutive blocks share their x rows (one m-tile) and
// sweep that expert's weight columns.
// The k dimension is walked in tiles of 128 bytes (64 bf16 or 128 e4m3 values) through a 3-stage
// cp.async pipeline; each warp computes (BM / WM) x (BN / WN) with ldmatrix + mma.sync m16n8k16
// (bf16) or m16n8k32 (e4m3): the two operand layouts are the same bytes (kernels/mma.cuh), so one
// kernel serves both. Rows past an expert's count and columns or k past the matrix are zero-filled
// by cp.async and never stored. The epilogue multiplies by the FP8 scales (as cuBLASLt's A and B
// scale pointers) and rounds once to bf16.
// Tiles: BM = 16 (4 warps over the columns) when experts average at most 24 rows (decode: the
// weights are streamed once, the few rows ride along), else BM = 64 (2 x 4 warps, 32 x 32 each).
// Efficiency: not measured yet (written without a GPU). mma.sync with a 3-stage pipeline should
// stream weights near the memory bandwidth at small rows; at large rows it reaches far less than
// Hopper's wgmma kernels (cuBLAS, CUTLASS): prefill grouped-GEMM timings will be pessimistic.
#include "kernels/device.cuh"
#include "kernels/mma.cuh"

#include <climits>

namespace moesim::kernels {

namespace {

constexpr int tile_n = 128;
constexpr int tile_k_bytes = 128;
constexpr int row_bytes = tile_k_bytes + 16; // shared row stride: an odd multiple of 16 bytes
constexpr int stages = 3;

struct GgParams {
  const unsigned char* x;
  const unsigned char* w;
  bf16_t* y;
  const std::int32_t* row_offsets;
  int experts, n, n_tiles;
  std::int64_t k_bytes;
  const float* scale_w;
  const float* scale_x;
};

template <int BM, int WM, int WN, bool FP8>
__global__ void __launch_bounds__(WM * WN * 32) grouped_gemm_kernel(const GgParams p)
{
  constexpr int NT = WM * WN * 32;
  constexpr int WTM = BM / WM, WTN = tile_n / WN; // a warp's tile
  constexpr int MF = WTM / 16, NF = WTN / 8;      // its mma fragments
  static_assert(MF >= 1 && NF >= 1 && WTM % 16 == 0 && WTN % 8 == 0, "warp tiles");
  extern __shared__ __align__(16) unsigned char smem[];
  unsigned char* As = smem;                                   // [stages][BM][row_bytes]
  unsigned char* Bs = smem + std::size_t(stages) * BM * row_bytes; // [stages][tile_n][row_bytes]
  __shared__ int s_expert, s_row0, s_rows;

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WN, wn = warp % WN;
  const int nt = static_cast<int>(blockIdx.x % p.n_tiles);
  const long mt = static_cast<long>(blockIdx.x / p.n_tiles);

  // Which expert's m-tile this is: a running count of tiles over the experts, 32 at a time.
  if (warp == 0) {
    long before = 0;
    bool found = false;
    for (int base = 0; base < p.experts && !found; base += 32) {
      const int e = base + lane;
      int r0 = 0, r1 = 0, tiles = 0;
      if (e < p.experts) {
        r0 = p.row_offsets[e];
        r1 = p.row_offsets[e + 1];
        tiles = r1 > r0 ? (r1 - r0 + BM - 1) / BM : 0;
      }
      int inclusive = tiles;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const int v = __shfl_up_sync(detail::full_mask, inclusive, o);
        if (lane >= o)
          inclusive += v;
      }
      const long first = before + inclusive - tiles;
      const bool mine = tiles > 0 && mt >= first && mt < first + tiles;
      const unsigned hit = __ballot_sync(detail::full_mask, mine);
      if (mine) { // one lane at most: the experts' tile ranges do not overlap
        s_expert = e;
        s_row0 = r0 + static_cast<int>(mt - first) * BM;
        s_rows = min(BM, r1 - s_row0);
      }
      found = hit != 0;
      before += __shfl_sync(detail::full_mask, inclusive, 31);
    }
    if (!found && lane == 0)
      s_expert = -1;
  }
  __syncthreads();
  const int expert = s_expert;
  if (expert < 0)
    return; // past the last tile of the bound the grid was sized for
  const int row0 = s_row0, rows = s_rows;
  const int n0 = nt * tile_n;
  const std::int64_t kb = p.k_bytes;
  const unsigned char* xb = p.x + static_cast<std::int64_t>(row0) * kb;
  const unsigned char* wb = p.w + (static_cast<std::int64_t>(expert) * p.n + n0) * kb;
  const int k_tiles = static_cast<int>((kb + tile_k_bytes - 1) / tile_k_bytes);

  auto load = [&](int stage, int kt) {
    unsigned char* a = As + std::size_t(stage) * BM * row_bytes;
    unsigned char* b = Bs + std::size_t(stage) * tile_n * row_bytes;
    const std::int64_t k0 = static_cast<std::int64_t>(kt) * tile_k_bytes;
    for (int c = tid; c < BM * 8; c += NT) {
      const int r = c / 8, ch = c % 8;
      const bool ok = r < rows && k0 + ch * 16 < kb;
      detail::cp_async16(a + r * row_bytes + ch * 16, ok ? xb + r * kb + k0 + ch * 16 : p.x, ok);
    }
    for (int c = tid; c < tile_n * 8; c += NT) {
      const int r = c / 8, ch = c % 8;
      const bool ok = n0 + r < p.n && k0 + ch * 16 < kb;
      detail::cp_async16(b + r * row_bytes + ch * 16, ok ? wb + r * kb + k0 + ch * 16 : p.w, ok);
    }
  };

  float acc[MF][NF][4];
#pragma unroll
  for (int i = 0; i < MF; i++)
#pragma unroll
    for (int j = 0; j < NF; j++)
      acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

#pragma unroll
  for (int s = 0; s < stages - 1; s++) {
    if (s < k_tiles)
      load(s, s);
    detail::cp_async_commit();
  }
  for (int kt = 0; kt < k_tiles; kt++) {
    detail::cp_async_wait<stages - 2>(); // tile kt has landed
    __syncthreads();                      // ... for every thread, and tile kt - 1 is consumed
    const int next = kt + stages - 1;
    if (next < k_tiles)
      load(next % stages, next);
    detail::cp_async_commit();
    const unsigned char* a = As + std::size_t(kt % stages) * BM * row_bytes;
    const unsigned char* b = Bs + std::size_t(kt % stages) * tile_n * row_bytes;
#pragma unroll
    for (int ks = 0; ks < tile_k_bytes / 32; ks++) {
      unsigned af[MF][4];
#pragma unroll
      for (int i = 0; i < MF; i++)
        detail::ldmatrix_x4(af[i], a + (wm * WTM + i * 16 + lane % 16) * row_bytes + ks * 32 + (lane / 16) * 16);
#pragma unroll
      for (int j = 0; j < NF; j++) {
        unsigned bf[2];
        detail::ldmatrix_x2(bf, b + (wn * WTN + j * 8 + lane % 8) * row_bytes + ks * 32 + ((lane / 8) % 2) * 16);
#pragma unroll
        for (int i = 0; i < MF; i++) {
          if constexpr (FP8)
            detail::mma_e4m3(acc[i][j], af[i], bf);
          else
            detail::mma_bf16(acc[i][j], af[i], bf);
        }
      }
    }
  }
  detail::cp_async_wait<0>();

  const float scale = FP8 ? p.scale_w[0] * p.scale_x[0] : 1.0f;
#pragma unroll
  for (int i = 0; i < MF; i++)
#pragma unroll
    for (int j = 0; j < NF; j++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int r = wm * WTM + i * 16 + lane / 4 + h * 8;
        const int col = n0 + wn * WTN + j * 8 + (lane % 4) * 2;
        if (r < rows && col < p.n) { // n is even: col + 1 < n too
          const unsigned lo = detail::float_to_bf16_bits(acc[i][j][h * 2] * scale);
          const unsigned hi = detail::float_to_bf16_bits(acc[i][j][h * 2 + 1] * scale);
          *reinterpret_cast<unsigned*>(p.y + static_cast<std::int64_t>(row0 + r) * p.n + col) = lo | (hi << 16);
        }
      }
}

struct GgVariant {
  void (*kernel)(GgParams);
  int bm, threads;
};

template <int BM, int WM, int WN, bool FP8>
GgVariant gg_variant()
{
  return {grouped_gemm_kernel<BM, WM, WN, FP8>, BM, WM * WN * 32};
}

std::size_t gg_smem(int bm)
{
  return std::size_t(stages) * (bm + tile_n) * row_bytes;
}

} // namespace

GroupedGemmTiling grouped_gemm_tiling(const GroupedGemmArgs& a)
{
  detail::check_grouped_gemm(a.experts, a.n, a.k, a.fp8, a.total_rows, a.active_experts);
  GroupedGemmTiling t;
  const bool small = a.total_rows <= 24L * std::max(1, a.active_experts);
  t.rows_per_tile = small ? 16 : 64;
  t.cols_per_tile = tile_n;
  t.threads = small ? 128 : 256;
  t.smem_bytes = gg_smem(t.rows_per_tile);
  t.n_tiles = (a.n + tile_n - 1) / tile_n;
  // sum_e ceil(rows_e / BM) <= total / BM + active, since each active expert adds at most one
  // partial tile.
  t.m_tiles = a.total_rows / t.rows_per_tile + a.active_experts;
  t.blocks = static_cast<std::int64_t>(t.n_tiles) * t.m_tiles;
  return t;
}

void grouped_gemm(const GroupedGemmArgs& a, cudaStream_t stream)
{
  const GroupedGemmTiling t = grouped_gemm_tiling(a);
  const char* op = "grouped_gemm";
  if (a.total_rows == 0)
    return;
  detail::require(a.x && a.w && a.y && a.row_offsets, op, "x, w, y and row_offsets must be device pointers");
  detail::require(detail::aligned16(a.x) && detail::aligned16(a.w) && detail::aligned16(a.y), op,
                  "x, w and y must be 16-byte aligned");
  if (a.fp8) {
    detail::require(a.scale_w && a.scale_x, op, "fp8 needs the scale_w and scale_x device pointers");
    int dev = 0, major = 0, minor = 0;
    MOESIM_CHECK(cudaGetDevice(&dev));
    MOESIM_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    MOESIM_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    detail::require(major * 10 + minor >= 89, op,
                    "fp8 needs compute capability 8.9 or newer, this device has " + std::to_string(major) + "." +
                        std::to_string(minor));
  }
  detail::require(t.blocks <= INT_MAX, op, "too many tiles for one launch");
  const GgVariant v = t.rows_per_tile == 16 ? (a.fp8 ? gg_variant<16, 1, 4, true>() : gg_variant<16, 1, 4, false>())
                                            : (a.fp8 ? gg_variant<64, 2, 4, true>() : gg_variant<64, 2, 4, false>());
  GgParams p{};
  p.x = static_cast<const unsigned char*>(a.x);
  p.w = static_cast<const unsigned char*>(a.w);
  p.y = a.y;
  p.row_offsets = a.row_offsets;
  p.experts = a.experts;
  p.n = a.n;
  p.n_tiles = t.n_tiles;
  p.k_bytes = static_cast<std::int64_t>(a.k) * (a.fp8 ? 1 : 2);
  p.scale_w = a.scale_w;
  p.scale_x = a.scale_x;
  MOESIM_CHECK(cudaFuncSetAttribute(v.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(t.smem_bytes)));
  v.kernel<<<static_cast<unsigned>(t.blocks), v.threads, t.smem_bytes, stream>>>(p);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
