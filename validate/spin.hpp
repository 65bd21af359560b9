// A GPU-side wait, for timing with CUDA events: a kernel that holds `stream` for `seconds` by the
// GPU's global timer. Enqueued before a batch of timed launches, it lets the host queue the whole
// batch while the GPU is still busy, so that the events around each launch time the GPU's work and
// not the host's launch cost (the simulator charges that separately).
#pragma once
#include <cuda_runtime_api.h>

namespace moesim::validate {

// Enqueues the wait on `stream` (the current device's); never synchronises. Launch errors are
// thrown as std::runtime_error (kernels/check.hpp).
void spin_gpu(cudaStream_t stream, double seconds);

} // namespace moesim::validate
