// nccl-tests' sizes: what its binaries read from -b/-e/-f and how each collective rounds a size into
// element counts. One rule for the simulator (`moesim nccl-tests`) and the harness
// (`moesim-validate bench-collectives`), so that a simulated row and a measured row of the same
// size are the same call.
//
// As NVIDIA/nccl-tests 2.19.6 computes it (src/common.cu: parsesize, the size loop of TimeTest and
// setupArgs; src/<collective>.cu: <Collective>GetCollByteCount), for element size E and n ranks:
//   count = size / E (whole elements)
//   all_reduce, sendrecv   send = recv = count;                           call count = count
//   all_gather             base = (count / n) rounded down to 16 bytes;    send = base, recv = n base
//   reduce_scatter         base as all_gather;                            send = n base, recv = base
//   alltoall               base (per peer) as all_gather;                 send = recv = n base
// and the call count printed in the "count" column is `base` for the last three. The "size" column
// is max(send, recv) x E. The 16-byte rounding keeps every rank's chunk aligned for any n: with 3
// ranks, alltoall -b 1024 is 3 chunks of 168 bf16 elements, 1008 B.
#pragma once
#include "core/schedule.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace moesim {

// Both moesim tools run bfloat16 data.
constexpr std::size_t nccl_tests_element_bytes = 2;

struct NcclTestsShape {
  std::size_t bytes = 0;         // the "size" column; 0 when the size is too small to give a rank an element
  std::size_t count = 0;         // the "count" column: elements per call (per rank or per peer, see above)
  std::size_t send_elements = 0; // this rank's send buffer
  std::size_t recv_elements = 0; // this rank's receive buffer
};

// The shape of one call of `op` (all_reduce, all_gather, reduce_scatter, all_to_all, or send for
// sendrecv) at a requested size on `ranks` ranks. Throws std::invalid_argument for other kinds or
// ranks < 1.
NcclTestsShape nccl_tests_shape(OpKind op, std::size_t requested_bytes, int ranks,
                                std::size_t element_bytes = nccl_tests_element_bytes);

// A size as nccl-tests reads -b and -e: a number (decimals allowed) with an optional K, M or G
// (either case, powers of 1024), truncated to whole bytes: "8", "1K", "0.5M", "256M". Throws
// InputError naming "command line" and `option` otherwise.
std::size_t parse_nccl_tests_size(const std::string& text, const std::string& option);

// The sizes nccl-tests steps through: min, min x factor, min x factor^2, ... up to max inclusive
// (factor >= 2; an empty list when min > max or min is 0).
std::vector<std::size_t> nccl_tests_sizes(std::size_t min_bytes, std::size_t max_bytes, std::size_t factor);

} // namespace moesim
