// nccl-tests in both directions: reading its logs (plain text, or the JSON that -J writes) into
// collective curves, and writing a table in its own layout from simulated times.
#pragma once
#include "core/calibration.hpp"

#include <string>
#include <vector>

namespace moesim {

struct NcclTestsRow {
  double bytes = 0;     // "size" column
  double seconds = 0;   // out-of-place time
};

struct NcclTestsLog {
  OpKind kind = OpKind::all_reduce;
  int ranks = 0;
  std::string devices;  // the device names, as the log gives them
  std::string nccl_version;
  std::vector<NcclTestsRow> rows;
};

// `op_hint` ("" = from the log: "# Collective test starting: all_reduce_perf" or JSON args[0]).
// Throws InputError naming the file and the line for anything it cannot read.
NcclTestsLog parse_nccl_tests_log(const std::string& path, const std::string& op_hint = "");
// "all_reduce", "all_reduce_perf", "alltoall", "sendrecv" ... -> kind; throws std::invalid_argument.
OpKind nccl_tests_op(const std::string& name);
// The nccl-tests binary name of a collective ("all_reduce_perf").
std::string nccl_tests_binary(OpKind kind);

struct NcclTestsTableRow {
  double bytes = 0;
  double count = 0;   // elements
  double seconds = 0;
};
// Rows in nccl-tests' layout: size, count, type, redop, root, then time / algbw / busbw / #wrong for
// out-of-place and in-place (identical in simulation; #wrong is N/A).
std::string format_nccl_tests_table(OpKind kind, int ranks, const std::vector<NcclTestsTableRow>& rows);

} // namespace moesim
