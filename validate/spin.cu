#include "validate/spin.hpp"

#include "kernels/check.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace moesim::validate {

namespace {

// Every block busy-waits (no sleep): the GPU stays loaded, so its clocks are those of a GPU at work
// when the timed kernels start, not those of an idle one.
__global__ void spin_kernel(std::uint64_t nanoseconds)
{
  std::uint64_t start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < nanoseconds);
}

// Reads 16-byte words; a thread writes only when its sum hits a value no input produces (every byte
// of the buffer is set to 1 first), which the compiler cannot rule out, so the reads stay.
__global__ void flush_kernel(const uint4* p, std::size_t n, unsigned* sink)
{
  unsigned acc = 0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    const uint4 v = p[i];
    acc += v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0xdeadbeefu)
    *sink = acc;
}

// Variant V adds (V + 1) x 1e-7 per step: the same work, and an immediate of its own in its code, so
// that no two variants can be folded into one function.
template <int V>
__global__ void fixed_work_kernel(int iters, float* sink)
{
  float a = 1.0f + threadIdx.x * 1e-7f;
  for (int i = 0; i < iters; i++)
    a = fmaf(a, 0.999999f, 1e-7f * (V + 1));
  if (a == -1.0f) // never: a stays near 1
    *sink = a;
}

template <int V>
void launch_fixed_work(cudaStream_t stream, int iters, float* sink)
{
  fixed_work_kernel<V><<<1, 32, 0, stream>>>(iters, sink);
}

} // namespace

void fixed_work(cudaStream_t stream, int iters, float* sink, int variant)
{
  static_assert(kFixedWorkVariants == 8, "one case per variant below");
  switch (variant) {
    case 0: launch_fixed_work<0>(stream, iters, sink); break;
    case 1: launch_fixed_work<1>(stream, iters, sink); break;
    case 2: launch_fixed_work<2>(stream, iters, sink); break;
    case 3: launch_fixed_work<3>(stream, iters, sink); break;
    case 4: launch_fixed_work<4>(stream, iters, sink); break;
    case 5: launch_fixed_work<5>(stream, iters, sink); break;
    case 6: launch_fixed_work<6>(stream, iters, sink); break;
    case 7: launch_fixed_work<7>(stream, iters, sink); break;
    default: throw std::invalid_argument("fixed_work: variant " + std::to_string(variant) + " (0 .. 7)");
  }
  MOESIM_CHECK(cudaGetLastError());
}

void record_bracket_event(cudaEvent_t event, cudaStream_t stream, bool capturing)
{
  if (capturing)
    MOESIM_CHECK(cudaEventRecordWithFlags(event, stream, cudaEventRecordExternal));
  else
    MOESIM_CHECK(cudaEventRecord(event, stream));
}

void flush_l2(const void* buffer, std::size_t bytes, cudaStream_t stream)
{
  const std::size_t n = bytes / sizeof(uint4);
  // The last 4 bytes are the sink: never part of what is read.
  unsigned* sink = reinterpret_cast<unsigned*>(static_cast<char*>(const_cast<void*>(buffer)) + bytes - sizeof(unsigned));
  flush_kernel<<<1024, 256, 0, stream>>>(static_cast<const uint4*>(buffer), n > 0 ? n - 1 : 0, sink);
  MOESIM_CHECK(cudaGetLastError());
}

cudaGraphExec_t finish_capture(cudaStream_t stream)
{
  cudaGraph_t graph = nullptr;
  MOESIM_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  (void)cudaGraphDestroy(graph);
  MOESIM_CHECK(e);
  MOESIM_CHECK(cudaGraphUpload(exec, stream));
  return exec;
}

void abandon_capture(cudaStream_t stream)
{
  cudaGraph_t broken = nullptr;
  (void)cudaStreamEndCapture(stream, &broken);
  if (broken)
    (void)cudaGraphDestroy(broken);
  (void)cudaGetLastError();
}

double host_now()
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void spin_gpu(cudaStream_t stream, double seconds)
{
  const auto ns = static_cast<std::uint64_t>(seconds > 0 ? seconds * 1e9 : 0);
  int device = 0, sms = 1;
  MOESIM_CHECK(cudaGetDevice(&device));
  MOESIM_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  spin_kernel<<<sms, 128, 0, stream>>>(ns);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::validate
