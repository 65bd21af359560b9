// `moesim nccl-tests`: an nccl-tests run simulated on a platform, so that its table can be set
// beside a measured one. The sizes and counts are nccl-tests' own (core/nccl_tests_shape.hpp), the
// rule the harness's bench-collectives uses too.
#pragma once
#include "core/nccl_tests.hpp"
#include "core/schedule.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace moesim {

// One call per size, back to back, on ranks 0..ranks-1 of a `world`-GPU platform, as a CUDA-graph
// step with a free launch (nccl-tests times calls queued back to back, not the host). Sizes too
// small to give every rank an element are left out, as the harness leaves them out.
struct NcclTestsSchedule {
  Schedule schedule;
  std::vector<NcclTestsTableRow> rows;     // one per size that runs: bytes and count, seconds 0
  std::vector<std::vector<int>> row_of_op; // [rank][op id]: the row the op belongs to
};
// `op`: all_reduce, all_gather, reduce_scatter, all_to_all, or send for sendrecv (rank r sends to
// r + 1 and receives from r - 1). Throws std::invalid_argument for ranks outside 1..world.
NcclTestsSchedule nccl_tests_schedule(OpKind op, const std::vector<std::size_t>& sizes, int ranks, int world);

// The command line of `moesim nccl-tests`, as given.
struct NcclTestsRequest {
  std::string platform;             // name or path
  std::string root;                 // the data root
  std::string op = "all_reduce";    // all_reduce, all_gather, reduce_scatter, alltoall or sendrecv
  std::string min_bytes = "8", max_bytes = "256M";
  std::string factor = "2";         // -f: a whole number, at least 2 (nccl-tests reads an integer)
  int gpus = 0;                     // -g: 0 = all of the platform's
  std::string calibration = "auto"; // auto, none (or ""), or a file
  std::string nccl_version;         // e.g. 2.27.3: the NCCL whose rules apply ("" = the platform's)
};

struct NcclTestsRun {
  OpKind kind = OpKind::all_reduce;
  int ranks = 0;
  std::string platform; // as named
  std::string calibration; // the calibration file that applied, "" for none
  std::string measured_on; // the calibration's measured_on: the machine and date it was measured on
  std::vector<NcclTestsTableRow> rows; // each size's time: from the first rank starting it to the last finishing it
};
// Checks the request (InputError naming the option), builds the schedule and simulates it.
NcclTestsRun simulate_nccl_tests(const NcclTestsRequest& request);

} // namespace moesim
