#include "validate/spin.hpp"

#include "kernels/check.hpp"

#include <cstdint>

namespace moesim::validate {

namespace {

__global__ void spin_kernel(std::uint64_t nanoseconds)
{
  std::uint64_t start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < nanoseconds);
}

} // namespace

void spin_gpu(cudaStream_t stream, double seconds)
{
  const auto ns = static_cast<std::uint64_t>(seconds > 0 ? seconds * 1e9 : 0);
  spin_kernel<<<1, 1, 0, stream>>>(ns);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::validate
