// MOESIM_CHECK(call): throws std::runtime_error naming file:line, the call, and the library's error
// name and text when a CUDA runtime, cuBLAS or NCCL call fails. Never exits: the caller decides.
//
//   MOESIM_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream));
//   MOESIM_CHECK(cublasGemmEx(...));
//   MOESIM_CHECK(ncclAllReduce(...));
//   -> "validate/replay.cpp:42: ncclAllReduce(...) failed: ncclUnhandledCudaError: unhandled cuda error ..."
//
// (Named MOESIM_CHECK, not CHECK, because Catch2 already defines CHECK and the tests use both.)
// The NCCL overload exists wherever <nccl.h> is on the include path; ncclInProgress, which a
// non-blocking communicator returns, counts as a failure here, so poll such calls yourself.
#pragma once
#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#if __has_include(<nccl.h>)
#include <nccl.h>
#define MOESIM_CHECK_HAS_NCCL 1
#endif

#define MOESIM_CHECK(call) ::moesim::kernels::check_status((call), #call, __FILE__, __LINE__)

namespace moesim::kernels {

[[noreturn]] inline void throw_status(const char* call, const char* file, int line, const char* name,
                                      const char* text)
{
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + name + ": " +
                           text);
}

inline void check_status(cudaError_t e, const char* call, const char* file, int line)
{
  if (e != cudaSuccess)
    throw_status(call, file, line, cudaGetErrorName(e), cudaGetErrorString(e));
}

inline void check_status(cublasStatus_t s, const char* call, const char* file, int line)
{
  if (s != CUBLAS_STATUS_SUCCESS)
    throw_status(call, file, line, cublasGetStatusName(s), cublasGetStatusString(s));
}

#ifdef MOESIM_CHECK_HAS_NCCL
inline const char* nccl_result_name(ncclResult_t r)
{
  switch (r) {
    case ncclSuccess: return "ncclSuccess";
    case ncclUnhandledCudaError: return "ncclUnhandledCudaError";
    case ncclSystemError: return "ncclSystemError";
    case ncclInternalError: return "ncclInternalError";
    case ncclInvalidArgument: return "ncclInvalidArgument";
    case ncclInvalidUsage: return "ncclInvalidUsage";
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
    case ncclRemoteError: return "ncclRemoteError";
    case ncclInProgress: return "ncclInProgress";
#endif
    default: return "ncclResult";
  }
}

inline void check_status(ncclResult_t r, const char* call, const char* file, int line)
{
  if (r != ncclSuccess)
    throw_status(call, file, line, nccl_result_name(r), ncclGetErrorString(r));
}
#endif

} // namespace moesim::kernels
