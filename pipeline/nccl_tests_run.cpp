#include "pipeline/nccl_tests_run.hpp"

#include "core/calibration_choice.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/nccl_tests_shape.hpp"
#include "pipeline/calibrations.hpp"
#include "pipeline/platform_files.hpp"
#include "sim/platform_check.hpp"
#include "sim/simulation.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace moesim {

NcclTestsSchedule nccl_tests_schedule(OpKind kind, const std::vector<std::size_t>& sizes, int g, int world)
{
  if (g < 1 || g > world)
    throw std::invalid_argument("nccl_tests_schedule: " + std::to_string(g) + " ranks on a " + std::to_string(world) +
                                "-GPU platform");
  NcclTestsSchedule out;
  Schedule& s = out.schedule;
  s.layout.world = world;
  s.layout.plan.name = "nccl-tests";
  Group grp;
  for (int r = 0; r < g; r++)
    grp.ranks.push_back(r);
  s.layout.groups.push_back(grp);
  s.engine.cuda_graphs = true;
  s.engine.graph_launch_s = 0;
  s.ranks.resize(world);
  out.row_of_op.resize(world);
  for (int r = 0; r < world; r++)
    s.ranks[r].rank = r;
  auto add = [&](int r, Op op, int row) {
    op.id = static_cast<int>(s.ranks[r].ops.size());
    s.ranks[r].ops.push_back(op);
    out.row_of_op[r].push_back(row);
    return op.id;
  };
  for (std::size_t size : sizes) {
    const NcclTestsShape sh = nccl_tests_shape(kind, size, g);
    if (sh.bytes == 0)
      continue;
    const int row = static_cast<int>(out.rows.size());
    out.rows.push_back({static_cast<double>(sh.bytes), static_cast<double>(sh.count), 0});
    const double elem = static_cast<double>(nccl_tests_element_bytes);
    for (int r = 0; r < g; r++) {
      Op op;
      op.name = nccl_tests_binary(kind) + " " + std::to_string(sh.bytes) + " B";
      if (kind == OpKind::send) {
        // sendrecv_perf: every rank sends to the next and receives from the previous, all g ranks
        // of the communicator at once (group 0: the measured sendrecv curve of g ranks applies); the
        // send of one size waits for the receive of the size before.
        op.kind = OpKind::recv;
        op.group = 0;
        op.peer = (r + g - 1) % g;
        op.tag = row * g + op.peer;
        op.comm_bytes = static_cast<double>(sh.bytes);
        const int recv_id = add(r, op, row);
        Op snd = op;
        snd.kind = OpKind::send;
        snd.peer = (r + 1) % g;
        snd.tag = row * g + r;
        snd.stream = 1;
        if (recv_id > 0)
          snd.deps = {recv_id - 2 >= 0 ? recv_id - 2 : 0};
        add(r, snd, row);
        continue;
      }
      op.kind = kind;
      op.group = 0;
      op.coll = row;
      if (kind == OpKind::all_to_all) {
        // count elements to every peer; nothing crosses a link to itself.
        op.peer_bytes.assign(g, static_cast<double>(sh.count) * elem);
        op.peer_bytes.set(static_cast<std::size_t>(r), 0);
        op.comm_bytes = static_cast<double>(sh.count) * elem * (g - 1);
      } else {
        op.comm_bytes = static_cast<double>(sh.bytes); // the size column: NCCL's buffer, output or input
      }
      add(r, op, row);
    }
  }
  s.collectives = kind == OpKind::send ? 0 : static_cast<int>(out.rows.size());
  return out;
}

NcclTestsRun simulate_nccl_tests(const NcclTestsRequest& q)
{
  NcclTestsRun run;
  run.platform = q.platform;
  try {
    run.kind = nccl_tests_op(q.op);
  } catch (const std::invalid_argument& e) {
    throw InputError("command line", "--op", e.what(), "pass one of those");
  }
  long long factor = 0;
  const char* f_end = q.factor.data() + q.factor.size();
  if (const auto [end, ec] = std::from_chars(q.factor.data(), f_end, factor); ec != std::errc() || end != f_end || factor < 2)
    throw InputError("command line", "-f", "the step factor must be a whole number of at least 2, got '" + q.factor + "'",
                     "pass e.g. -f 2");
  const std::size_t lo = parse_nccl_tests_size(q.min_bytes, "-b"), hi = parse_nccl_tests_size(q.max_bytes, "-e");
  if (lo == 0)
    throw InputError("command line", "-b", "the smallest size must be at least 1 byte", "pass e.g. -b 8");
  if (lo > hi)
    throw InputError("command line", "-b", "larger than -e", "pass -b <= -e");
  if (!(static_cast<double>(hi) <= limits::nccl_tests_bytes))
    throw InputError("command line", "-e", "size '" + q.max_bytes + "' is more than 1 TiB, the largest moesim simulates",
                     "pass at most 1024G");
  std::optional<int> nccl_version;
  if (!q.nccl_version.empty() && !(nccl_version = parse_nccl_version(q.nccl_version)))
    throw InputError("command line", "--nccl-version", "'" + q.nccl_version + "' is not an NCCL version",
                     "pass major.minor.patch, e.g. 2.27.3");
  const CalibrationChoice choice = parse_calibration_choice(q.calibration, "--calibration");
  PlatformFiles files(q.root);
  const PlatformFile f = files.get(q.platform, {});
  // Every check before the engine starts (one per process): the GPU count from the routed topology
  // or the XML.
  const int world = f.routed ? f.routed->gpus() : static_cast<int>(platform_gpus_from_xml(f.xml).size());
  run.ranks = q.gpus ? q.gpus : world;
  // One rank moves nothing between GPUs: the network model has no time to give it.
  if (run.ranks < 2 || run.ranks > world)
    throw InputError(f.source, "-g", "needs between 2 and " + std::to_string(world) + " GPUs, got " + std::to_string(run.ranks),
                     "pass -g with at most the platform's GPU count");
  run.calibration = resolve_calibration_file(choice, f.source, f.edited);
  Calibrations calibrations;
  const std::shared_ptr<const Calibration> calibration = calibrations.get(run.calibration);
  if (calibration)
    run.measured_on = calibration->measured_on;
  const std::unique_ptr<Simulation> sim_ptr = open_simulation(f.xml, f.routed.get(), calibration);
  Simulation& sim = *sim_ptr;
  if (nccl_version)
    sim.set_nccl_version(*nccl_version);
  NcclTestsSchedule ns =
      nccl_tests_schedule(run.kind, nccl_tests_sizes(lo, hi, static_cast<std::size_t>(factor)), run.ranks, world);
  const SimOutput out = sim.run(ns.schedule);
  // Each size's time: from the first rank starting it to the last finishing it.
  std::vector<double> start(ns.rows.size(), 1e300), end(ns.rows.size(), 0);
  for (const TimelineEvent& e : out.timeline.events) {
    const int k = ns.row_of_op.at(e.rank).at(e.op);
    start[k] = std::min(start[k], e.start);
    end[k] = std::max(end[k], e.end);
  }
  run.rows = ns.rows;
  for (size_t k = 0; k < run.rows.size(); k++)
    run.rows[k].seconds = end[k] - start[k];
  return run;
}

} // namespace moesim
