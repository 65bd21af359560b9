#include "validate/kernel_bench.hpp"

#include "core/error.hpp"
#include "core/schedule_json.hpp"
#include "core/stats.hpp"
#include "kernels/check.hpp"
#include "validate/bench_timer.hpp"
#include "validate/device_info.hpp"
#include "validate/op_executor.hpp"
#include "validate/options.hpp"
#include "validate/spin.hpp"

#include <cuda_runtime_api.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

namespace moesim::validate {

namespace {

const char* const where = "command line";

// What makes two compute ops the same configuration to time. Grouped GEMMs: not their rows per
// expert (the single-GEMM grid covers per-expert costs; one distribution per shape is timed whole).
using OpKey = std::tuple<OpKind, Dtype, bool, std::vector<double>>;
OpKey key_of(const Op& op)
{
  return {op.kind, op.dtype, op.mla, op.shape};
}

// The rank's ops that a bench keeps: step-level compute ops (layer -1) and every compute op of the
// first `layers_per_structure` layers of each distinct structure (its sequence of op base names),
// first microbatch only. Several layers give each configuration instances with weights of their
// own, timed back to back.
constexpr int layers_per_structure = 4;
std::vector<Op> reduce_rank(const RankSchedule& rs)
{
  std::map<int, std::vector<std::string>> structure;
  for (const Op& op : rs.ops)
    if (op.layer >= 0 && op_class(op.kind) == OpClass::compute && op.microbatch == 0)
      structure[op.layer].push_back(detail::base_name(op.name));
  std::map<std::vector<std::string>, int> seen;
  std::set<int> keep_layers;
  for (const auto& [layer, names] : structure)
    if (seen[names]++ < layers_per_structure)
      keep_layers.insert(layer);
  std::vector<Op> out;
  for (const Op& op : rs.ops) {
    if (op_class(op.kind) != OpClass::compute || op.microbatch != 0)
      continue;
    if (op.layer >= 0 && !keep_layers.count(op.layer))
      continue;
    Op o = op;
    o.id = static_cast<int>(out.size());
    o.deps.clear();
    o.stream = 0;
    out.push_back(std::move(o));
  }
  return out;
}

} // namespace

KernelBenchOptions parse_kernel_bench_options(const std::vector<std::string>& args)
{
  KernelBenchOptions o;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--iters")
      o.iters = count_option(args, i, 1, 100000);
    else if (a == "--warmup")
      o.warmup = count_option(args, i, 0, 100000);
    else if (a == "--seed")
      o.seed = static_cast<unsigned long long>(count_option(args, i, 0, 2147483647));
    else if (a == "--dry-run")
      o.dry_run = true;
    else if (a == "--shard")
      std::tie(o.shard, o.shards) = shard_option(args, i);
    else if (a == "--json") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write --json FILE");
      o.json = args[++i];
    } else if (!a.empty() && a[0] == '-')
      throw InputError(where, a, "unknown option", "use --iters, --warmup, --seed, --json and schedule files");
    else
      o.schedules.push_back(a);
  }
  if (o.schedules.empty())
    throw InputError(where, "SCHEDULE", "no schedule given",
                     "pass calibration schedules written by `validate/gpu_tool.py calibration-schedules` (or `moesim schedule`)");
  if (o.json.empty() && !o.dry_run)
    throw InputError(where, "--json", "missing", "write --json FILE: `moesim calibrate --bench-kernels` reads it");
  return o;
}

std::vector<long> expert_gemm_grid(long max_rows)
{
  std::vector<long> m;
  const long top = std::max(64L, max_rows);
  for (long v = 1; v <= 8; v++)
    m.push_back(v);
  double v = 8;
  while (m.back() < top) {
    v *= 1.25;
    long next = std::max(m.back() + 1, static_cast<long>(std::ceil(v / 2)) * 2); // even, increasing
    m.push_back(std::min(next, top));
  }
  return m;
}

std::vector<KernelBenchJob> plan_kernel_bench(const std::vector<std::pair<std::string, Schedule>>& schedules)
{
  std::vector<KernelBenchJob> jobs, expert_jobs;
  std::set<OpKey> seen;
  // (n, k, dtype) -> largest rows of one expert, and a schedule to borrow the model's facts from
  std::map<std::tuple<double, double, Dtype>, std::pair<long, const Schedule*>> expert_families;
  for (const auto& [file, s] : schedules) {
    for (const RankSchedule& rs : s.ranks) {
      std::vector<Op> ops = reduce_rank(rs);
      KernelBenchJob job;
      for (const Op& op : ops) {
        if (op.kind == OpKind::grouped_gemm && op.shape.size() == 4) {
          long most = 0;
          for (long r : round_group_rows(op.group_rows))
            most = std::max(most, r);
          auto& fam = expert_families[{op.shape[2], op.shape[3], op.dtype}];
          if (!fam.second || most > fam.first)
            fam = {std::max(fam.first, most), &s};
        }
      }
      // Every configuration not timed before, as all its instances, in order of first appearance.
      // Grouped GEMMs are not timed: the harness runs them as one GEMM per expert, which the
      // single-GEMM jobs below measure; a table for the whole op would be mistaken for a fused
      // kernel's. (They stay in the executor: the ops after them take their shapes from them.)
      std::map<OpKey, std::size_t> slot; // key -> position in job.ops
      for (const Op& op : ops) {
        if (op.kind == OpKind::grouped_gemm)
          continue;
        const OpKey key = key_of(op);
        if (auto it = slot.find(key); it != slot.end())
          job.ops[it->second].push_back(op.id);
        else if (seen.insert(key).second)
          slot.emplace(key, job.ops.size()), job.ops.push_back({op.id});
      }
      if (job.ops.empty())
        continue;
      job.label = file + " rank " + std::to_string(rs.rank);
      job.rank = rs.rank;
      job.schedule = s;
      job.schedule.ranks[static_cast<std::size_t>(rs.rank)].ops = std::move(ops);
      jobs.push_back(std::move(job));
    }
  }
  for (const auto& [fam, info] : expert_families) {
    const auto& [n, k, dtype] = fam;
    const auto& [most, src] = info;
    KernelBenchJob job;
    char label[128];
    std::snprintf(label, sizeof label, "expert GEMMs n=%.0f k=%.0f %s", n, k, to_string(dtype));
    job.label = label;
    job.schedule = *src; // the model's facts come from the other ranks and the copy of rank 0 below
    RankSchedule facts = job.schedule.ranks[0];
    facts.rank = static_cast<int>(job.schedule.ranks.size());
    std::vector<Op> ops;
    // Copies with weights of their own, timed back to back as a loop over experts runs them:
    // 16, fewer for big weights (at most about 1 GiB of copies per point), at least 2.
    const double weight_bytes = n * k * bytes_per_element(dtype);
    const int copies = static_cast<int>(std::clamp(std::floor(double(1u << 30) / weight_bytes), 2.0, 16.0));
    for (long m : expert_gemm_grid(most)) {
      std::vector<int> instances;
      for (int c = 0; c < copies; c++) {
        Op o;
        o.id = static_cast<int>(ops.size());
        o.layer = o.id; // own weights
        o.name = "L" + std::to_string(o.layer) + ".bench.expert_gemm";
        o.kind = OpKind::gemm;
        o.dtype = dtype;
        o.shape = {double(m), n, k};
        o.flops = 2.0 * m * n * k;
        instances.push_back(o.id);
        ops.push_back(std::move(o));
      }
      job.ops.push_back(std::move(instances));
    }
    job.schedule.ranks[0].ops = std::move(ops);
    job.schedule.ranks.push_back(std::move(facts));
    job.rank = 0;
    expert_jobs.push_back(std::move(job));
  }
  // The single expert GEMMs first: grouped GEMMs run per expert are most of a step.
  expert_jobs.insert(expert_jobs.end(), std::make_move_iterator(jobs.begin()), std::make_move_iterator(jobs.end()));
  return expert_jobs;
}

namespace {

std::string shape_text(const std::vector<double>& shape)
{
  std::string s = "{";
  for (std::size_t i = 0; i < shape.size(); i++) {
    char b[32];
    std::snprintf(b, sizeof b, "%s%.6g", i ? ", " : "", shape[i]);
    s += b;
  }
  return s + "}";
}

} // namespace

void run_kernel_bench(const KernelBenchOptions& o, std::FILE* out)
{
  std::vector<std::pair<std::string, Schedule>> schedules;
  for (const std::string& f : o.schedules)
    schedules.push_back({f, load_schedule_file(f)});
  std::vector<KernelBenchJob> jobs = plan_kernel_bench(schedules);
  if (o.shards > 1) {
    std::vector<KernelBenchJob> mine;
    for (std::size_t k = 0; k < jobs.size(); k++)
      if (static_cast<int>(k % o.shards) == o.shard - 1)
        mine.push_back(std::move(jobs[k]));
    jobs = std::move(mine);
  }
  if (o.dry_run) {
    std::size_t total = 0;
    for (const KernelBenchJob& j : jobs) {
      const std::vector<Op>& ops = j.schedule.ranks[static_cast<std::size_t>(j.rank)].ops;
      std::fprintf(out, "%s: %zu ops kept, %zu timed\n", j.label.c_str(), ops.size(), j.ops.size());
      for (const std::vector<int>& inst : j.ops) {
        const Op& op = ops[static_cast<std::size_t>(inst.front())];
        std::fprintf(out, "  %-17s %-5s %-40s x%zu\n", to_string(op.kind), to_string(op.dtype), shape_text(op.shape).c_str(),
                     inst.size());
      }
      total += j.ops.size();
    }
    std::fprintf(out, "%zu executors, %zu configurations to time\n", jobs.size(), total);
    return;
  }
  const SystemInfo sys = query_system_info();
  if (sys.device_count < 1)
    throw InputError(where, "bench-kernels", "no CUDA device here (" + sys.no_device + ")", "run it on a GPU machine");
  std::size_t total = 0;
  for (const auto& j : jobs)
    total += j.ops.size();
  std::fprintf(out, "# moesim-validate bench-kernels: %zu schedules, %zu executors, %zu configurations, GPU 0 (%s)\n",
               schedules.size(), jobs.size(), total, sys.devices[0].name.c_str());
  MOESIM_CHECK(cudaSetDevice(0));
  BenchTimer bench(o.iters, o.warmup);
  std::fprintf(out,
               "# %d timed repetitions after %d warm-up, each after a read-only L2 flush of %zu MiB: every instance of the "
               "configuration back to back between two events; median GPU time per instance\n",
               o.iters, o.warmup, bench.flush_bytes() >> 20);
  std::fprintf(out, "%-17s %-5s %-40s %8s %10s %10s %12s  %s\n", "kind", "dtype", "shape", "launches", "stream us",
               "graph us", "host us/lnch", "configuration");
  std::fflush(out);
  nlohmann::json ops = nlohmann::json::array();
  const auto t0 = host_now();
  const double sync_s = bench.sync_seconds();
  const double graph_s = bench.graph_launch_seconds();
  const double event_s = bench.event_record_seconds();
  std::fprintf(out, "# host: sync round trip %.2f us, graph launch to first node %.2f us, event record %.2f us\n",
               sync_s * 1e6, graph_s * 1e6, event_s * 1e6);
  // Rewritten after every executor (complete: false until the last), so that a run stopped at a
  // time limit still leaves what it measured.
  auto write = [&](bool complete) {
    nlohmann::json root = {{"tool", "moesim-validate bench-kernels"},
                           {"complete", complete},
                           {"system", to_json(sys)},
                           {"iters", o.iters},
                           {"warmup", o.warmup},
                           {"seed", o.seed},
                           {"l2_flush_bytes", bench.flush_bytes()},
                           {"schedules", o.schedules},
                           {"host", {{"sync_s", sync_s}, {"graph_launch_s", graph_s}, {"event_record_s", event_s}}},
                           {"ops", ops}};
    const std::string tmp = o.json + ".tmp";
    std::ofstream f(tmp);
    f << root.dump(1) << "\n";
    f.close();
    if (!f || std::rename(tmp.c_str(), o.json.c_str()) != 0)
      throw InputError(o.json, "--json", "cannot write the file", "check that its folder exists and is writable");
  };
  for (const KernelBenchJob& job : jobs) {
    std::fprintf(out, "# %s (%zu configurations)\n", job.label.c_str(), job.ops.size());
    std::fflush(out);
    OpExecutor ex(job.schedule, job.rank, o.seed);
    ex.verify(bench.stream());
    MOESIM_CHECK(cudaStreamSynchronize(bench.stream()));
    const std::vector<Op>& rank_ops = job.schedule.ranks[static_cast<std::size_t>(job.rank)].ops;
    for (const std::vector<int>& inst : job.ops) {
      const Op& op = rank_ops[static_cast<std::size_t>(inst.front())];
      const OpRunInfo& info = ex.info(op);
      if (info.launches == 0)
        continue; // nothing to run (no rows, no tokens)
      std::vector<const Op*> instances;
      for (int id : inst)
        instances.push_back(&rank_ops[static_cast<std::size_t>(id)]);
      const Timing t = bench.time(static_cast<int>(instances.size()), info.launches,
                                  [&](int i, cudaStream_t st) { ex.launch(*instances[static_cast<std::size_t>(i)], st); });
      std::fprintf(out, "%-17s %-5s %-40s %8d %10.2f %10.2f %12.2f  %s%s\n", to_string(op.kind), to_string(op.dtype),
                   shape_text(op.shape).c_str(), info.launches, t.seconds * 1e6, t.graph_seconds * 1e6,
                   t.host_seconds / info.launches * 1e6,
                   info.config.c_str(), info.substitution.empty() ? "" : (" [" + info.substitution + "]").c_str());
      nlohmann::json j = {{"kind", to_string(op.kind)},
                          {"dtype", to_string(op.dtype)},
                          {"mla", op.mla},
                          {"shape", op.shape},
                          {"launches", info.launches},
                          {"instances", instances.size()},
                          {"seconds", t.seconds},
                          {"graph_seconds", t.graph_seconds},
                          {"host_seconds", t.host_seconds},
                          {"config", info.config},
                          {"math", info.math},
                          {"substitution", info.substitution},
                          {"source", job.label + ": " + op.name}};
      if (op.kind == OpKind::grouped_gemm)
        j["group_rows"] = op.group_rows;
      if (t.spin_retries)
        j["spin_retries"] = t.spin_retries;
      ops.push_back(std::move(j));
    }
    write(false);
    std::fprintf(out, "# %.1f s so far\n", host_now() - t0);
    std::fflush(out);
  }
  write(true);
}

} // namespace moesim::validate
