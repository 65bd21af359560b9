// What the op handlers' verify functions share (op_handler.hpp): downloads, poisoning, samples of
// rows and columns, and the worst element of a comparison, reported with the op it belongs to.
#pragma once
#include "core/routing.hpp"
#include "kernels/check.hpp"
#include "kernels/kernels.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moesim::validate {

constexpr std::size_t scan_limit = 256u << 20; // full poison scans up to this many bytes

std::string fmt(double v); // "%.6g"

template <class T>
std::vector<T> download(const T* p, std::size_t n, cudaStream_t stream)
{
  std::vector<T> v(n);
  if (n) {
    MOESIM_CHECK(cudaMemcpyAsync(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
    MOESIM_CHECK(cudaStreamSynchronize(stream));
  }
  return v;
}

// Fills `bytes` with 0xff: bf16 0xffff and fp32 0xffffffff are NaN, int32 -1.
void poison(void* p, std::size_t bytes, cudaStream_t stream);

bool bf16_nan(kernels::bf16_t b);

// An element of a bf16 or fp8 e4m3 array given as bytes, widened to float (exactly).
float decode_in(const unsigned char* p, std::size_t i, bool fp8);

// The worst element of one check, as a ratio |got - want| / tolerance (1 = at the tolerance).
struct Worst {
  double ratio = 0;
  long bad = 0, compared = 0;
  std::string where, got, want, tol;
  void add(double got_v, double want_v, double tolerance, const std::string& at);
  void exact(double got_v, double want_v, const std::string& at) { add(got_v, want_v, 0, at); }
};

// One configuration's check: a seeded draw, the stream, and failures that name the op.
class Verifier {
public:
  Verifier(std::string op_name, std::string info, std::string math, std::uint64_t seed, cudaStream_t stream);
  cudaStream_t stream() const { return stream_; }
  std::uint64_t next_seed() { return salt_ += 0x9e3779b97f4a7c15ULL; }
  Rng& rng() { return rng_; }
  void sync() const;
  // Up to `want` indices in [0, n): the first, the last and random others, ascending.
  std::vector<long> sample(long n, int want);
  // "OpExecutor::verify: op NAME (info, math): what" (std::runtime_error).
  [[noreturn]] void mismatch(const std::string& what) const;
  // Throws mismatch when any compared element is outside its tolerance, naming the worst.
  void report(const Worst& w) const;
  // Every element written: no poison (bf16 0xffff is NaN) left in the first `n` outputs (up to
  // scan_limit bytes).
  void scan_bf16(const kernels::bf16_t* p, std::size_t n) const;

private:
  std::string name_, info_, math_;
  Rng rng_;
  std::uint64_t salt_;
  cudaStream_t stream_;
};

} // namespace moesim::validate
