// Known data for the collectives micro-benchmark, written and checked on the device (the buffers
// reach hundreds of MB per GPU, too many to check on the host at every size). Every value is a
// small integer, exact in bf16, and so is every sum of up to `ranks` of them: element i of rank
// r's input is ((7 r + i) mod m) + 1 with m = pattern_modulus(ranks), so that the sum over all
// ranks never passes 256, the last integer bf16 holds exactly. All-to-all chunks add the
// destination: ((7 r + 3 q + j) mod m) + 1 for element j of the chunk rank r sends to rank q.
// Launchers enqueue on `stream` and never synchronise; `wrong` is a device counter they add to.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace moesim::validate::check {

using bf16_t = std::uint16_t;

int pattern_modulus(int ranks); // min(29, 256 / ranks), at least 1
// The same values on the host, for tests: v(rank, i) and w(rank, dest, j).
float rank_value(int rank, std::size_t i, int modulus);
float chunk_value(int rank, int dest, std::size_t j, int modulus);

// p[i] = v(rank, i), i < n
void fill_rank(bf16_t* p, std::size_t n, int rank, int modulus, cudaStream_t stream);
// p[q * per + j] = w(rank, q, j), q < peers, j < per
void fill_chunks(bf16_t* p, std::size_t per, int peers, int rank, int modulus, cudaStream_t stream);

// Count the elements that differ from the expected value:
// p[i] == sum over r < ranks of v(r, first + i), i < n (all-reduce: first 0; reduce-scatter:
// first = rank x n)
void check_sum(const bf16_t* p, std::size_t n, std::size_t first, int ranks, int modulus,
               unsigned long long* wrong, cudaStream_t stream);
// p[c * per + j] == v(c, j), c < ranks (all-gather output)
void check_gather(const bf16_t* p, std::size_t per, int ranks, int modulus, unsigned long long* wrong,
                  cudaStream_t stream);
// p[s * per + j] == w(s, me, j), s < ranks (all-to-all output of rank `me`)
void check_chunks(const bf16_t* p, std::size_t per, int ranks, int me, int modulus, unsigned long long* wrong,
                  cudaStream_t stream);
// p[i] == v(src, i) (what a receive from `src` holds)
void check_copy(const bf16_t* p, std::size_t n, int src, int modulus, unsigned long long* wrong,
                cudaStream_t stream);

} // namespace moesim::validate::check
