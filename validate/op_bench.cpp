#include "validate/op_bench.hpp"

#include "core/error.hpp"
#include "core/op_bench.hpp"
#include "core/text_file.hpp"
#include "kernels/check.hpp"
#include "validate/op_bench_family.hpp"
#include "validate/op_bench_points.hpp"
#include "validate/options.hpp"
#include "validate/spin.hpp"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

namespace moesim::validate {

namespace {

const char* const where = "command line";

double seconds_option(const std::vector<std::string>& args, std::size_t& i)
{
  const std::string option = args[i];
  if (i + 1 >= args.size())
    throw InputError(where, option, "needs a value", "write e.g. " + option + " 480");
  const std::string& v = args[++i];
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || !(x >= 10) || x > 86400)
    throw InputError(where, option, "'" + v + "' is not a number of seconds from 10 to 86400", "write e.g. " + option + " 480");
  return x;
}

std::string today()
{
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char s[16];
  std::strftime(s, sizeof s, "%Y-%m-%d", &tm);
  return s;
}

int attr(cudaDeviceAttr a, int dev)
{
  int v = 0;
  MOESIM_CHECK(cudaDeviceGetAttribute(&v, a, dev));
  return v;
}

opbench::DeviceRates device_rates(const SystemInfo& sys)
{
  const DeviceInfo& d = sys.devices[0];
  return opbench::rates_for_device(d.name, d.cc_major * 10 + d.cc_minor, d.sm_count, double(d.memory_bytes),
                                   double(attr(cudaDevAttrL2CacheSize, 0)), sys.device_count);
}

// A CUDA error that leaves the context unusable (an illegal address, a launch failure): nothing
// after it can be measured.
bool context_broken()
{
  const cudaError_t e = cudaDeviceSynchronize();
  return e != cudaSuccess && e != cudaErrorMemoryAllocation;
}

// The points earlier runs timed, from their side files' extras[].point (--skip-measured).
std::set<std::string> measured_points(const std::vector<std::string>& files)
{
  std::set<std::string> out;
  for (const std::string& f : files) {
    const std::string text = read_text_file(f, "an earlier bench-ops run's side file");
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("extras") || !j["extras"].is_array())
      throw InputError(f, "extras", "not a bench-ops side file (no extras list; a .gz must be unpacked first)",
                       "pass the FILE.run.json that bench-ops --json FILE wrote, uncompressed");
    for (const nlohmann::json& e : j["extras"])
      if (e.is_object() && e.contains("point") && e["point"].is_string())
        out.insert(e["point"].get<std::string>());
  }
  return out;
}

} // namespace

OpBenchOptions parse_op_bench_options(const std::vector<std::string>& args)
{
  OpBenchOptions o;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--json") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write --json FILE");
      o.json = args[++i];
    } else if (a == "--budget")
      o.budget_s = seconds_option(args, i);
    else if (a == "--shard")
      std::tie(o.shard, o.shards) = shard_option(args, i);
    else if (a == "--dry-run")
      o.dry_run = true;
    else if (a == "--list")
      o.list = true;
    else if (a == "--iters")
      o.iters = count_option(args, i, 1, 1000);
    else if (a == "--warmup")
      o.warmup = count_option(args, i, 0, 1000);
    else if (a == "--seed")
      o.seed = static_cast<std::uint64_t>(count_option(args, i, 0, 2147483647));
    else if (a == "--gpu") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write --gpu h200 (h200, h100, a100, b200)");
      o.gpu = args[++i];
      (void)opbench::preset_rates(o.gpu); // refuses an unknown name here
    } else if (a == "--from-log" || a == "--system" || a == "--date") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value",
                         "write --from-log OPS_TXT --system SYSTEM_JSON --date YYYY-MM-DD --json FILE");
      (a == "--from-log" ? o.from_log : a == "--system" ? o.system : o.date) = args[++i];
    } else if (a == "--points") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write --points FILE (one point per line, as bench-ops prints them)");
      o.points = args[++i];
    } else if (a == "--skip-measured") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write --skip-measured OPS.json.run.json (an earlier run's side file)");
      o.skip_measured.push_back(args[++i]);
    } else if (a == "--only") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write e.g. --only gemm,grouped_gemm");
      std::stringstream list(args[++i]);
      for (std::string f; std::getline(list, f, ',');) {
        try {
          o.only.push_back(opbench::parse_family(f));
        } catch (const std::invalid_argument& e) {
          throw InputError(where, "--only", e.what(), "name families from that list, separated by commas");
        }
      }
    } else
      throw InputError(where, a, "unknown option",
                       "use --json, --budget, --shard, --dry-run, --list, --only, --iters, --warmup, --seed, --gpu, "
                       "--skip-measured, --points, --from-log, --system, --date");
  }
  if (!o.points.empty() && (!o.only.empty() || o.shards > 1))
    throw InputError(where, o.only.empty() ? "--shard" : "--only", "does not go with --points (the file names every point)",
                     "leave it out, or drop --points for the grid");
  if (o.list)
    o.dry_run = true;
  if (o.from_log.empty() != o.system.empty() || o.from_log.empty() != o.date.empty() || (!o.from_log.empty() && o.dry_run))
    throw InputError(where, o.from_log.empty() ? (o.system.empty() ? "--date" : "--system") : "--from-log",
                     "--from-log, --system and --date go together, without --dry-run",
                     "write --from-log OPS_TXT --system SYSTEM_JSON --date YYYY-MM-DD --json FILE");
  if (o.json.empty() && !o.dry_run)
    throw InputError(where, "--json", "missing", "write --json FILE: the op-performance fit reads it");
  return o;
}

nlohmann::json op_bench_system(const SystemInfo& sys)
{
  nlohmann::json s;
  s["driver"] = sys.driver_build;
  s["cuda"] = cuda_version_string(sys.runtime_version);
  s["nccl"] = nccl_version_string(sys.nccl_version);
  const std::size_t lt = cublasLtGetVersion(); // 130100 -> 13.1.0
  s["cublas"] = std::to_string(lt / 10000) + "." + std::to_string(lt / 100 % 100) + "." + std::to_string(lt % 100);
  s["date"] = today();
  if (sys.devices.empty())
    return s;
  const DeviceInfo& d = sys.devices[0];
  s["gpu"] = d.name;
  s["sms"] = d.sm_count;
  s["cc"] = std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor);
  s["sm_clock_mhz"] = attr(cudaDevAttrClockRate, d.index) / 1000.0;
  const double mem_khz = attr(cudaDevAttrMemoryClockRate, d.index);
  s["mem_clock_mhz"] = mem_khz / 1000.0;
  // Double data rate: two transfers per clock over the bus.
  s["mem_bw"] = 2.0 * mem_khz * 1e3 * attr(cudaDevAttrGlobalMemoryBusWidth, d.index) / 8.0;
  s["l2_bytes"] = attr(cudaDevAttrL2CacheSize, d.index);
  return s;
}

int run_op_bench(const OpBenchOptions& o, std::FILE* out)
{
  const SystemInfo sys = query_system_info();
  opbench::DeviceRates rates = !o.gpu.empty() || sys.device_count < 1 ? opbench::preset_rates(o.gpu.empty() ? "h200" : o.gpu)
                                                                     : device_rates(sys);
  const opbench::CostModel cost{o.iters, o.warmup};
  const std::set<std::string> measured = measured_points(o.skip_measured);
  opbench::Plan plan;
  if (o.points.empty())
    plan = opbench::make_plan(rates, o.budget_s, cost, o.only, o.shard, o.shards, measured);
  else {
    std::vector<opbench::Point> named;
    std::size_t left_out = 0;
    for (opbench::Point& p : opbench::read_points_file(o.points))
      if (measured.count(opbench::describe(p)) == 0)
        named.push_back(std::move(p));
      else
        left_out++;
    plan = opbench::points_plan(named, rates, cost, o.budget_s);
    plan.measured = left_out;
  }
  std::fprintf(out, "# moesim-validate bench-ops: %s (cc %d.%d, %d SMs; estimates from %.0f TFLOP/s bf16, %.0f fp8, %.2f TB/s), "
                    "budget %.0f s, shard %d/%d, %d timed repetitions after %d warm-up; %s\n",
               rates.name.c_str(), rates.cc / 10, rates.cc % 10, rates.sms, rates.bf16_flops / 1e12,
               rates.fp8_flops / 1e12, rates.mem_bw / 1e12, o.budget_s, o.shard, o.shards, o.iters, o.warmup, opbench::cold_inputs_words);
  std::fputs(opbench::plan_text(plan).c_str(), out);
  if (!o.skip_measured.empty())
    std::fprintf(out, "# %zu candidates left out: timed by the runs of --skip-measured\n", plan.measured);
  if (rates.fp4_flops > 0)
    std::fprintf(out, "# this GPU has FP4 tensor cores; the harness has no FP4 GEMM yet: no fp4 points\n");
  if (o.dry_run) {
    if (o.list)
      for (const opbench::FamilyPlan& f : plan.families)
        for (std::size_t i = 0; i < f.points.size(); i++)
          std::fprintf(out, "%9.3f s  %s\n", f.estimates[i], opbench::describe(f.points[i]).c_str());
    return 0;
  }
  if (sys.device_count < 1)
    throw InputError(where, "bench-ops", "no CUDA device here (" + sys.no_device + ")",
                     "run it on a GPU machine, or pass --dry-run for the plan");
  MOESIM_CHECK(cudaSetDevice(0));
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&]() { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  BenchTimer timer(o.iters, o.warmup);
  GemmPlanner planner;
  opbench::BenchContext ctx{timer, planner, rates, o.seed};
  nlohmann::json host = {{"sync_s", timer.sync_seconds()},
                         {"graph_launch_s", timer.graph_launch_seconds()},
                         {"event_record_s", timer.event_record_seconds()}};
  const nlohmann::json system = op_bench_system(sys);
  nlohmann::json families = nlohmann::json::array(), failures = nlohmann::json::array(),
                 skipped = nlohmann::json::array();
  bool broken = false;
  auto write = [&](bool complete) {
    opbench::write_json_file(o.json, opbench::op_bench_document(kHarnessOpBenchSource, system, ctx.records));
    opbench::write_json_file(o.json + ".run.json",
                             {{"tool", "moesim-validate bench-ops"},
                              {"complete", complete},
                              {"budget_s", o.budget_s},
                              {"estimate_s", plan.estimate_s},
                              {"elapsed_s", elapsed()},
                              {"shard", std::to_string(o.shard) + "/" + std::to_string(o.shards)},
                              {"iters", o.iters},
                              {"warmup", o.warmup},
                              {"seed", o.seed},
                              {"l2_flush_bytes", timer.flush_bytes()},
                              {"host", host},
                              {"families", families},
                              {"failures", failures},
                              {"skipped", skipped},
                              {"extras", ctx.extras},
                              {"graph_gaps", ctx.stream_gaps}});
  };
  const double end = o.budget_s - 3; // leave time to write the files
  double slack = 0;                  // what earlier families left of their budgets
  for (const opbench::FamilyPlan& f : plan.families) {
    const double start = elapsed();
    const double deadline = std::min(end, start + f.budget_s + slack);
    int ran = 0, failed = 0, not_run = 0;
    std::fprintf(out, "# %s: %zu points, %.1f s estimated, until %.0f s\n", to_string(f.family), f.points.size(),
                 f.estimate_s, deadline);
    std::fflush(out);
    for (std::size_t i = 0; i < f.points.size(); i++) {
      const std::string what = opbench::describe(f.points[i]);
      if (broken || elapsed() + std::min(f.estimates[i], 1.0) > deadline) {
        not_run++;
        skipped.push_back({{"point", what}, {"why", broken ? "the CUDA context failed earlier" : "deadline"}});
        continue;
      }
      const std::size_t before = ctx.records.size();
      const auto point_start = std::chrono::steady_clock::now();
      try {
        std::visit([&](const auto& p) {
          using P = std::decay_t<decltype(p)>;
          if constexpr (std::is_same_v<P, opbench::GemmPoint>)
            opbench::bench_gemm(ctx, p);
          else if constexpr (std::is_same_v<P, opbench::GroupedPoint>)
            opbench::bench_grouped(ctx, p);
          else if constexpr (std::is_same_v<P, opbench::AttnPoint>)
            opbench::bench_attention(ctx, p);
          else if constexpr (std::is_same_v<P, opbench::SmallPoint>)
            opbench::bench_small(ctx, p);
          else if constexpr (std::is_same_v<P, opbench::GapPoint>)
            opbench::bench_gap(ctx, p);
          else
            opbench::bench_host(ctx, p);
        }, f.points[i]);
        ran++;
      } catch (const opbench::Unsupported& e) {
        not_run++;
        skipped.push_back({{"point", what}, {"why", e.what()}});
      } catch (const std::exception& e) {
        failed++;
        failures.push_back({{"point", what}, {"error", e.what()}});
        std::fprintf(out, "FAILED %s: %s\n", what.c_str(), e.what());
        (void)cudaGetLastError();
        broken = context_broken();
      }
      // FP8 plans are tried on scratch buffers the size of the GEMM: do not keep gigabytes of them.
      if (planner.device_bytes() > (std::size_t(2) << 30))
        planner.free_scratch();
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - point_start).count();
      for (std::size_t r = before; r < ctx.records.size() && r < ctx.extras.size(); r++)
        ctx.extras[r]["wall_s"] = wall; // the whole point: set-up, check, both launch modes
      for (std::size_t r = before; r < ctx.records.size(); r++) {
        const nlohmann::json& rec = ctx.records[r];
        std::fprintf(out, "%-6s %12.3f us  %s\n", rec.value("launch", rec.value("gpu_state", "")).c_str(),
                     rec["seconds"].get<double>() * 1e6, what.c_str());
      }
      std::fflush(out);
    }
    const double used = elapsed() - start;
    slack = std::max(0.0, start + f.budget_s + slack - elapsed());
    families.push_back({{"family", to_string(f.family)},
                        {"planned", f.points.size()},
                        {"candidates", f.candidates},
                        {"ran", ran},
                        {"failed", failed},
                        {"not_run", not_run},
                        {"budget_s", f.budget_s},
                        {"estimate_s", f.estimate_s},
                        {"seconds", used}});
    std::fprintf(out, "# %s: %d ran, %d failed, %d not run, %.1f s (estimated %.1f)\n", to_string(f.family), ran,
                 failed, not_run, used, f.estimate_s);
    std::fflush(out);
    write(false);
  }
  write(!broken);
  std::fprintf(out, "# %s\n", opbench::release_kept_blocks().c_str());
  std::fprintf(out, "# %zu records in %s (%.1f s); %zu failures, %zu points not run\n", ctx.records.size(), o.json.c_str(),
               elapsed(), failures.size(), skipped.size());
  return failures.empty() ? 0 : 1;
}

} // namespace moesim::validate
