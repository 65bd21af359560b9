// The tensor-core building blocks the attention and grouped-GEMM kernels share (Ampere and newer,
// PTX ISA 7.0+): 16-byte cp.async copies into shared memory, ldmatrix fragment loads and mma.sync.
// Internal to kernels/.
//
// Fragments (PTX ISA, "Matrix fragments for mma.m16n8k16" and "mma.m16n8k32"): in a warp, lane l
// belongs to group g = l / 4 and has index t = l % 4 inside it. The 16 x 16-byte-wide A tile (16
// bf16 or 32 e4m3 values per row) is four 8 x 8 b16 matrices; ldmatrix_x4 with lane l pointing at
// row l % 16, byte 16 * (l / 16) of the tile gives a[0..3] in the order mma wants. The B operand is
// stored n-major ([n][k], k contiguous, as a K cache or an nn.Linear weight stores it): ldmatrix_x2
// with lane l pointing at row l % 8, byte 16 * ((l / 8) % 2) gives b[0..1]. Both layouts are the same
// bytes for bf16 (m16n8k16) and e4m3 (m16n8k32): only the mma instruction differs.
#pragma once
#include <cstdint>

namespace moesim::kernels::detail {

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

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p)
{
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], const void* p)
{
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned (&r)[2], const void* p)
{
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(p)));
}

// d += a b: a 16x16 bf16 (row), b 16x8 bf16 (col), d 16x8 fp32.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2])
{
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d += a b: a 16x32 e4m3 (row), b 32x8 e4m3 (col), d 16x8 fp32. sm_89 and newer; on older GPUs the
// launcher refuses FP8 before any kernel runs, and this traps if reached anyway.
__device__ __forceinline__ void mma_e4m3(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2])
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  (void)d, (void)a, (void)b;
  __trap();
#endif
}

} // namespace moesim::kernels::detail
