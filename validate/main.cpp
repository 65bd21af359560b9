// moesim-validate: the GPU side of moesim.
//   --info                  this machine's CUDA devices, driver, runtime and NCCL versions, as JSON
//   --check-schedule FILE   what replaying FILE would need, per rank (no GPU needed)
//   run SCHEDULE.json --out TIMELINE.json [--graph] [--iters N] [--warmup N] [--seed S] [--platform NAME]
//                           replays the schedule on the first `world` GPUs and writes the measured
//                           Timeline (validate/runner.hpp)
//   bench-kernels [--iters N] [--warmup N] [--seed S] [--shard I/N] [--dry-run] --json FILE SCHEDULE.json...
//                           the kernel calibration micro-benchmark (kernel_bench.hpp)
//   bench-host [-g GPUS] [-t THREADS] [-n REPS] [--json FILE]
//                           host time per API call, GPU busy and idle, 1..THREADS threads (host_bench.hpp)
//   bench-ops --json FILE [--budget S] [--shard I/N] [--dry-run] [--list] [--only FAMILY,...] [--iters N]
//             [--warmup N] [--seed S] [--gpu NAME]
//                           model-independent grid benches of every op, as moesim-op-bench-1 records
//                           (op_bench.hpp); --dry-run prints the plan and its time estimate, no GPU needed
//   bench-ops --from-log OPS_TXT --system SYSTEM_JSON --date YYYY-MM-DD --json FILE
//                           the records of a run rebuilt from its text log (op_bench_log.hpp), no GPU needed
//   bench-collectives --op OP [-b MIN] [-e MAX] [-f FACTOR] [-g GPUS] [-n ITERS] [-w WARMUP] [--timing host|events] [--json FILE]
//                           the calibration micro-benchmark in nccl-tests' layout (collectives_bench.hpp)
// NCCL_NVLS_ENABLE is set to 0 before NCCL starts (nccl_env.hpp), and run / bench-collectives print
// the NCCL environment they ran with.
// Exit status: 0 done, 2 bad input (one line naming the file, the key and the fix: a missing file,
// too few GPUs, not enough memory), 1 anything else (#wrong elements in bench-collectives too).
// No CLI11 here: it belongs to cli/, and the GPU machines build without it.
#include "core/error.hpp"
#include "core/schedule_json.hpp"
#include "validate/collectives_bench.hpp"
#include "validate/comm_plan.hpp"
#include "validate/device_info.hpp"
#include "validate/host_bench.hpp"
#include "validate/kernel_bench.hpp"
#include "validate/nccl_env.hpp"
#include "validate/op_bench.hpp"
#include "validate/op_bench_log.hpp"
#include "validate/options.hpp"
#include "validate/runner.hpp"
#include "validate/runner_plan.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace moesim;

namespace {

const char* const usage =
    "usage: moesim-validate --info\n"
    "       moesim-validate --check-schedule FILE\n"
    "       moesim-validate run SCHEDULE.json --out TIMELINE.json [--graph] [--iters N] [--warmup N] [--seed S]\n"
    "                           [--platform NAME]\n"
    "       moesim-validate bench-kernels [--iters N] [--warmup N] [--seed S] [--shard I/N] [--dry-run] --json FILE\n"
    "                           SCHEDULE.json...\n"
    "       moesim-validate bench-host [-g GPUS] [-t THREADS] [-n REPS] [--json FILE]\n"
    "       moesim-validate bench-ops --json FILE [--budget SECONDS] [--shard I/N] [--dry-run] [--list]\n"
    "                           [--only FAMILY,...] [--iters N] [--warmup N] [--seed S] [--gpu h200|h100|a100|b200]\n"
    "       moesim-validate bench-ops --from-log OPS_TXT --system SYSTEM_JSON --date YYYY-MM-DD --json FILE\n"
    "       moesim-validate bench-collectives --op all_reduce|all_gather|reduce_scatter|all_to_all|sendrecv\n"
    "                           [-b 1K] [-e 256M] [-f 2] [-g GPUS] [-n ITERS] [-w WARMUP] [--timing host|events] [--json FILE]\n";

void check_schedule(const std::string& path)
{
  const Schedule s = load_schedule_file(path);
  const validate::CommPlan plan = validate::plan_communicators(s, path);
  std::printf("schedule %s: model %s, plan %s, %s batch %d, world %d\n", path.c_str(), s.model.c_str(),
              s.layout.plan.name.c_str(), to_string(s.step.phase), s.step.batch, s.layout.world);
  std::printf("communicators: %zu\n", plan.comms.size());
  for (std::size_t c = 0; c < plan.comms.size(); c++) {
    const validate::CommSpec& cs = plan.comms[c];
    const std::string groups = cs.groups.empty() ? "" : " (groups " + validate::join(cs.groups) + ")";
    std::printf("  comm %zu: %s%s, ranks %s\n", c, cs.kind.c_str(), groups.c_str(), validate::join(cs.ranks).c_str());
  }
  std::printf("%5s %6s %8s %11s %5s %5s  %s\n", "rank", "ops", "compute", "collective", "p2p", "host", "comms");
  for (const RankSchedule& r : s.ranks) {
    std::array<int, 4> n{}; // by OpClass
    for (const Op& op : r.ops)
      n[static_cast<int>(op_class(op.kind))]++;
    std::printf("%5d %6zu %8d %11d %5d %5d  %s\n", r.rank, r.ops.size(), n[static_cast<int>(OpClass::compute)],
                n[static_cast<int>(OpClass::collective)], n[static_cast<int>(OpClass::p2p)],
                n[static_cast<int>(OpClass::host)], validate::join(plan.rank_comms[r.rank]).c_str());
  }
}

void write_json(const std::string& path, const nlohmann::json& j)
{
  std::ofstream out(path);
  if (!out)
    throw InputError(path, "", "cannot write the file", "check that its folder exists and is writable");
  out << j.dump(1) << "\n";
  if (!out)
    throw InputError(path, "", "writing failed", "check the free space");
}

int run(const std::vector<std::string>& args)
{
  const validate::RunOptions o = validate::parse_run_options(args);
  const Schedule s = load_schedule_file(o.schedule);
  const validate::SystemInfo sys = validate::query_system_info();
  std::printf("moesim-validate run %s: model %s, plan %s, %s batch %d, world %d, %s, %d iterations after %d warm-up\n",
              o.schedule.c_str(), s.model.c_str(), s.layout.plan.name.c_str(), to_string(s.step.phase), s.step.batch,
              s.layout.world, o.graph ? "CUDA graph" : "eager", o.iters, o.warmup);
  std::printf("nccl %s, cuda runtime %s, driver %s; %s\n", validate::nccl_version_string(sys.nccl_version).c_str(),
              validate::cuda_version_string(sys.runtime_version).c_str(), sys.driver_build.c_str(),
              validate::describe_nccl_env().c_str());
  std::fflush(stdout);
  const validate::RunConfig cfg{o.graph, o.iters, o.warmup, o.seed};
  validate::Measurement m = validate::run_schedule(s, o.schedule, cfg);
  m.timeline.platform = validate::platform_name(o, s, sys);
  write_json(o.out, validate::measurement_to_json(m, o, s, sys));
  std::printf("platform %s; per-op times: %s\n", m.timeline.platform.c_str(), m.op_times.c_str());
  if (!m.executor_notes.empty() && !m.executor_notes[0].empty())
    std::printf("rank 0's op executor: %s\n", m.executor_notes[0].c_str());
  std::fputs(validate::summary_table(m.timeline, m.step_times, m.mode).c_str(), stdout);
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}

int bench(const std::vector<std::string>& args)
{
  const validate::BenchOptions o = validate::parse_bench_options(args);
  const std::vector<validate::BenchRow> rows = validate::run_collectives_bench(o, stdout);
  std::size_t wrong = 0;
  for (const auto& r : rows)
    wrong += r.wrong;
  if (!o.json.empty())
    write_json(o.json, validate::bench_json(o, rows, validate::query_system_info()));
  if (wrong) {
    std::fprintf(stderr, "moesim-validate: error: %zu wrong elements in %s results\n", wrong,
                 validate::bench_op_name(o.op));
    return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
      std::fputs(usage, stdout);
      return 0;
    }
    if (args.size() == 1 && args[0] == "--info") {
      std::cout << validate::to_json(validate::query_system_info()).dump(1) << "\n";
      return 0;
    }
    if (args.size() == 2 && args[0] == "--check-schedule") {
      check_schedule(args[1]);
      return 0;
    }
    if (args.size() == 1 && args[0] == "--check-schedule")
      throw InputError("command line", "--check-schedule", "needs a FILE", "pass the schedule written by `moesim schedule`");
    if (!args.empty() && args[0] == "bench-ops") {
      const validate::OpBenchOptions o = validate::parse_op_bench_options({args.begin() + 1, args.end()});
      if (!o.from_log.empty())
        return validate::opbench::recover_from_log_files(o.from_log, o.system, o.date, o.json, stdout);
      if (!o.dry_run) // before NCCL starts (the host family's one-rank communicators)
        if (const std::string note = validate::force_nvls_off(); !note.empty())
          std::fprintf(stderr, "moesim-validate: note: %s\n", note.c_str());
      return validate::run_op_bench(o, stdout);
    }
    if (!args.empty() && args[0] == "bench-host") {
      const validate::HostBenchOptions o = validate::parse_host_bench_options({args.begin() + 1, args.end()});
      if (const std::string note = validate::force_nvls_off(); !note.empty())
        std::fprintf(stderr, "moesim-validate: note: %s\n", note.c_str());
      const auto rows = validate::run_host_bench(o, stdout);
      if (!o.json.empty())
        write_json(o.json, validate::host_bench_json(o, rows, validate::query_system_info()));
      return 0;
    }
    if (!args.empty() && args[0] == "bench-kernels") {
      validate::run_kernel_bench(validate::parse_kernel_bench_options({args.begin() + 1, args.end()}), stdout);
      return 0;
    }
    if (!args.empty() && (args[0] == "run" || args[0] == "bench-collectives")) {
      // Before NCCL starts: NVLink multicast stays off (nccl_env.hpp).
      if (const std::string note = validate::force_nvls_off(); !note.empty())
        std::fprintf(stderr, "moesim-validate: note: %s\n", note.c_str());
      const std::vector<std::string> rest(args.begin() + 1, args.end());
      return args[0] == "run" ? run(rest) : bench(rest);
    }
    std::fputs(usage, stderr);
    return 2;
  } catch (const InputError& e) {
    std::fprintf(stderr, "moesim-validate: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moesim-validate: internal error: %s\n", e.what());
    return 1;
  }
}
