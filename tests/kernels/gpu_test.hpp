// What the GPU tests share: skipping without a device, device buffers that start poisoned, seeded
// inputs, and comparisons that count the wrong elements (nccl-tests' #wrong) and show the first.
#pragma once
#include "core/routing.hpp" // Rng
#include "kernels/check.hpp"
#include "kernels/reference.hpp"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace moesim::test {

using kernels::bf16_t;
using kernels::ref::bf16_to_float;
using kernels::ref::float_to_bf16;

// Call first in every [gpu] test case. Without a usable CUDA device it prints why and ends the
// process with status 77, which CTest reports as "Skipped" (SKIP_RETURN_CODE in
// tests/kernels/CMakeLists.txt and tests/validate/CMakeLists.txt): Catch2 v2 has no skip, and a test that returned early would pass
// silently. Ending the process is acceptable only because catch_discover_tests runs every test case
// in a process of its own; run by hand, the binary stops at the first [gpu] test, so select with
// `moesim_kernels_tests "[quick]"` or `moesim_validate_tests "[quick]"` there.
inline void require_gpu()
{
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    std::printf("SKIPPED: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "device count 0");
    std::fflush(stdout);
    std::exit(77);
  }
}

// `n` elements of device memory, filled with 0xff bytes until written: bf16 0xffff and fp32
// 0xffffffff are NaN and int32 is -1, so an element a kernel forgot to write shows up as wrong.
template <class T>
class DeviceBuffer {
public:
  explicit DeviceBuffer(std::size_t n) : n_(n)
  {
    MOESIM_CHECK(cudaMalloc(&p_, bytes() ? bytes() : 1));
    MOESIM_CHECK(cudaMemset(p_, 0xff, bytes()));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size())
  {
    MOESIM_CHECK(cudaMemcpy(p_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(p_); }

  T* get() const { return p_; }
  // Waits for the device, then copies everything back.
  std::vector<T> download() const
  {
    MOESIM_CHECK(cudaDeviceSynchronize());
    std::vector<T> host(n_);
    MOESIM_CHECK(cudaMemcpy(host.data(), p_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

private:
  std::size_t bytes() const { return n_ * sizeof(T); }
  T* p_ = nullptr;
  std::size_t n_;
};

// Uniform in [lo, hi), then rounded to bf16.
inline std::vector<bf16_t> random_bf16(Rng& rng, std::size_t n, float lo, float hi)
{
  std::vector<bf16_t> v(n);
  for (auto& x : v)
    x = float_to_bf16(lo + (hi - lo) * static_cast<float>(rng.uniform()));
  return v;
}

inline std::vector<float> random_floats(Rng& rng, std::size_t n, float lo, float hi)
{
  std::vector<float> v(n);
  for (auto& x : v)
    x = lo + (hi - lo) * static_cast<float>(rng.uniform());
  return v;
}

// Uniform integers in [lo, hi].
inline std::vector<std::int32_t> random_ints(Rng& rng, std::size_t n, int lo, int hi)
{
  std::vector<std::int32_t> v(n);
  for (auto& x : v)
    x = lo + static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(hi - lo + 1));
  return v;
}

// How many elements are wrong, and a description of the first few, for INFO().
struct Mismatch {
  std::size_t wrong = 0;
  std::string first;
  void add(std::size_t i, const std::string& got, const std::string& want)
  {
    if (wrong++ < 5)
      first += "[" + std::to_string(i) + "] got " + got + ", want " + want + "; ";
  }
};

inline std::string show_bf16(bf16_t b)
{
  char s[48];
  std::snprintf(s, sizeof s, "%.6g (0x%04x)", bf16_to_float(b), b);
  return s;
}

// The distance between two bf16 values in units in the last place: how many representable values
// apart they are (+0 and -0 are the same point). NaN is infinitely far from everything.
inline long bf16_ulps(bf16_t a, bf16_t b)
{
  auto nan = [](bf16_t x) { return (x & 0x7fff) > 0x7f80; };
  if (nan(a) || nan(b))
    return 1L << 30;
  auto line = [](bf16_t x) { return (x & 0x8000) ? -static_cast<long>(x & 0x7fff) : static_cast<long>(x); };
  return std::labs(line(a) - line(b));
}

inline Mismatch compare_bf16(const std::vector<bf16_t>& got, const std::vector<bf16_t>& want, long max_ulps)
{
  Mismatch m;
  if (got.size() != want.size())
    m.add(0, std::to_string(got.size()) + " elements", std::to_string(want.size()));
  for (std::size_t i = 0; i < got.size() && i < want.size(); i++)
    if (bf16_ulps(got[i], want[i]) > max_ulps)
      m.add(i, show_bf16(got[i]), show_bf16(want[i]));
  return m;
}

// Bit-for-bit equality (for floats too: NaN only matches the same NaN).
template <class T>
Mismatch compare_exact(const std::vector<T>& got, const std::vector<T>& want)
{
  Mismatch m;
  if (got.size() != want.size())
    m.add(0, std::to_string(got.size()) + " elements", std::to_string(want.size()));
  auto show = [](const T& x) {
    std::ostringstream s;
    if constexpr (std::is_same_v<T, bf16_t>)
      return show_bf16(x);
    else
      s << x;
    return s.str();
  };
  for (std::size_t i = 0; i < got.size() && i < want.size(); i++)
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0)
      m.add(i, show(got[i]), show(want[i]));
  return m;
}

// |got - want| <= rel * |want| elementwise.
inline Mismatch compare_relative(const std::vector<float>& got, const std::vector<float>& want, double rel)
{
  Mismatch m;
  if (got.size() != want.size())
    m.add(0, std::to_string(got.size()) + " elements", std::to_string(want.size()));
  for (std::size_t i = 0; i < got.size() && i < want.size(); i++)
    if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= rel * std::fabs(want[i])))
      m.add(i, std::to_string(got[i]), std::to_string(want[i]));
  return m;
}

} // namespace moesim::test
