// GPU-side helpers for timing with CUDA events. A busy wait on every SM (the clocks stay up): a kernel that holds `stream` for `seconds` by the
// GPU's global timer. Enqueued before a batch of timed launches, it lets the host queue the whole
// batch while the GPU is still busy, so that the events around each launch time the GPU's work and
// not the host's launch cost (the simulator charges that separately).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

namespace moesim::validate {

// Enqueues the wait on `stream` (the current device's); never synchronises. Launch errors are
// thrown as std::runtime_error (kernels/check.hpp).
void spin_gpu(cudaStream_t stream, double seconds);

// The host's steady clock in seconds, for host-side costs (launch, enqueue, synchronise).
double host_now();

// Enqueues a read of `bytes` of `buffer` (device memory of the current device) on `stream`: read
// only, so that what it leaves in the L2 cache is clean and the next kernel's loads evict it at no
// cost (a memset would leave dirty lines whose write-back the next kernel pays). Twice the L2 size
// evicts everything a timed kernel could find there.
void flush_l2(const void* buffer, std::size_t bytes, cudaStream_t stream);

// Enqueues one block of 32 threads doing `iters` dependent fused multiply-adds each (about 4 clock
// cycles apiece): a kernel whose GPU time is known from the same kernel with other counts (the
// per-kernel gap bench). `sink` (device, 4 bytes) is written only if the result is an impossible
// value, so the work stays. `variant` (0 .. kFixedWorkVariants - 1) picks one of as many kernels of
// identical work, each a function (symbol and code) of its own: a chain cycling through them crosses
// boundaries between different kernels, as a step does. Variant 0 is the kernel of earlier runs.
inline constexpr int kFixedWorkVariants = 8;
void fixed_work(cudaStream_t stream, int iters, float* sink, int variant = 0);

// One event of an op's bracket, recorded as the replay's runner records them (runner.cpp): from a
// stream a plain cudaEventRecord, in a stream capture an event record node
// (cudaEventRecordExternal), so that the event is timed on each replay of the graph. The event is
// created with cudaEventCreate's default flags (timing on).
void record_bracket_event(cudaEvent_t event, cudaStream_t stream, bool capturing);

// Stream capture, shared by the replay and the kernel bench. finish_capture ends the capture begun on
// `stream`, instantiates the graph and uploads it; abandon_capture ends a capture that failed midway
// (without it, nothing on that stream, NCCL's abort included, works again) and clears the error.
cudaGraphExec_t finish_capture(cudaStream_t stream);
void abandon_capture(cudaStream_t stream);

} // namespace moesim::validate
