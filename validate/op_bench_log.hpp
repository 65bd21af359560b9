// Rebuilding bench-ops' records from its text log (no GPU needed), for a run whose JSON was lost.
// The log prints one line per record after the point's description:
//   "stream       44.942 us  permute rows=16384 width=1024 k=1 experts=8"
//   "busy          4.301 us  host threads=1"      (host: the APIs in host_apis() order, busy then idle)
//   "              0.972 us  graph_gap kernels=16" (graph_gap: no launch word)
//   "graph         1.310 us  graph_gap kernels=16 distinct=4" (graph_gap's other points: a launch word)
// and the grid is deterministic: every family's candidates (op_bench_grid.hpp) for the device of the
// log's header are enumerated and each description is mapped back to its point, whose record is
// written by the same functions a run uses (op_bench_record.hpp). What the log does not hold: the
// spread of the repetitions (written 0; the side file says "spread": "not logged"), the clocks,
// bandwidth, L2 and cuBLAS version of the system block (left out), and the per-record extras. The
// launch family's points off the grid (distinct chains, event points: a --points run) are read from
// their text.
//
//   moesim-validate bench-ops --from-log OPS_TXT --system SYSTEM_JSON --date YYYY-MM-DD --json OUT
//
// SYSTEM_JSON is `moesim-validate --info`'s output on the machine that ran the log (driver, CUDA,
// NCCL, the device's memory). A line that is not a record, a comment or a FAILED line, a description
// that matches no grid point, a host line out of the APIs' order, or a record count other than the
// one the log's last line states is refused (InputError naming OPS_TXT:line); nothing is written.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdio>
#include <istream>
#include <string>

namespace moesim::validate::opbench {

struct Recovered {
  nlohmann::json document; // the moesim-op-bench-1 file
  nlohmann::json run;      // its side file (<json>.run.json)
};

// Parses the log read from `in` (`path` names it in errors). `system_info` is --info's JSON, read
// from `system_path` (named in errors).
Recovered recover_from_log(std::istream& in, const std::string& path, const nlohmann::json& system_info,
                           const std::string& system_path, const std::string& date);

// The command: reads the files, writes OUT and OUT.run.json, prints one summary line. Returns 0.
int recover_from_log_files(const std::string& log, const std::string& system, const std::string& date,
                           const std::string& json, std::FILE* out);

} // namespace moesim::validate::opbench
