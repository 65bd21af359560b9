#include "pipeline/scenario_runner.hpp"

#include "core/engine_step.hpp"
#include "core/error.hpp"
#include "core/pp_steady.hpp"
#include "core/temp_paths.hpp"
#include "core/schedule_builder.hpp"
#include "pipeline/memory_fit.hpp"
#include "sim/simulation.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace moesim {
namespace fs = std::filesystem;

namespace {

// The PP steady state of schedule `one` (core/pp_steady.hpp): `steps` steps replayed back to back on
// `sim`, in a child process, since SimGrid runs one simulation per process and `sim` is still
// needed for the single step. Returns the steady interval in seconds.
double simulate_steady(Simulation& sim, const Schedule& one, int steps, bool exact)
{
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0)
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL); // the scenario's process stopped: so does this one
    int code = 1;
    try {
      const SteadySchedule ss = steady_schedule(one, steps);
      const SimOutput o = sim.run(ss.schedule, exact);
      const double interval = steady_state(ss, o.timeline, pp_steady_warmup).interval;
      code = write(fds[1], &interval, sizeof interval) == sizeof interval ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "moesim: steady-state simulation: %s\n", e.what());
    }
    _exit(code);
  }
  register_child(pid);
  close(fds[1]);
  double interval = 0;
  ssize_t got = 0;
  while ((got = read(fds[0], &interval, sizeof interval)) < 0 && errno == EINTR) {
  }
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  unregister_child(pid);
  if (got != sizeof interval || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    throw std::runtime_error("the steady-state simulation of " + std::to_string(steps) + " steps failed");
  return interval;
}

} // namespace

ScenarioOutcome run_scenario(const Study& study, const Scenario& sc, bool keep_timeline)
{
  const std::unique_ptr<Simulation> sim_ptr = open_simulation(sc.platform_path, sc.routed.get(), sc.calibration);
  Simulation& sim = *sim_ptr;
  const Platform& P = sim.platform();
  // An engine profile decides the step's paths (dispatch, graphs, all-reduce, speculative tokens).
  const ScenarioStep ss = scenario_step(study, sc, platform_traits(P));
  const std::optional<EngineStep>& es = ss.engine_step;
  Scenario run = sc;
  run.plan = ss.plan;
  const StepShape& st = ss.step;
  Layout L = check_layout(study, run, P.gpus());
  ScenarioOutcome out;
  ScenarioResult& r = out.result;
  r.plan = sc.plan.name;
  r.plan_layout = sc.plan.describe();
  r.platform = sc.platform_name;
  r.platform_description = P.description();
  r.gpu_model = P.gpu(0).model;
  if (const Calibration* cal = P.calibration()) {
    std::string parts;
    auto add = [&](bool has, const std::string& what) {
      if (has)
        parts += (parts.empty() ? "" : ", ") + what;
    };
    add(!cal->kernels.empty(), std::to_string(cal->kernels.size()) + " kernel tables");
    add(!cal->collectives.empty(), std::to_string(cal->collectives.size()) + " collective curves");
    add(!cal->op_models.models.empty(), std::to_string(cal->op_models.models.size()) + " op models");
    add(!cal->host.empty(), "host costs");
    add(cal->mem_bw_eff || cal->flops_eff || cal->kernel_overhead || cal->p2p_alpha, "compute efficiencies");
    r.calibration = parts + "; measured on " + cal->measured_on;
    r.calibration_file = sc.calibration_file;
  }
  r.gpus = P.gpus();
  r.phase = st.phase;
  r.batch = st.batch;
  r.context = st.context;
  r.prompt = st.prompt;
  r.cuda_graphs = ss.engine.cuda_graphs;
  if (es)
    r.software_paths = es->paths.line();
  std::vector<double> gpu_mem;
  for (int g = 0; g < P.gpus(); g++)
    gpu_mem.push_back(P.gpu(g).mem_bytes);
  const MemoryFit fit = check_memory_fit(study.model, L, st, gpu_mem, study.gpu_memory_utilization);
  r.memory = fit.busiest;
  r.memory_capacity = fit.capacity;
  if (!fit.fits) {
    r.refused = true;
    r.refusal = fit.refusal;
    return out;
  }
  BuildOptions opt;
  opt.routing = study.routing;
  opt.engine = ss.engine;
  opt.mech = ss.mech;
  Schedule s = build_schedule(study.model, L, st, opt);
  // PP decode: the steady state first (in a child, on the same loaded platform), then the one step.
  // A schedule the platform cannot run is left to the one step, whose replay refuses it (exit 2).
  double steady = 0;
  if (L.plan.pp > 1 && st.phase == Phase::decode && study.pp_steady_steps > 0 && s.layout.world == P.gpus())
    steady = simulate_steady(sim, s, study.pp_steady_steps, sc.exact);
  // The events' names, shapes and algorithms only where the timeline is kept (the summary reads neither).
  SimOutput so = sim.run(s, sc.exact, keep_timeline ? EventDetail::described : EventDetail::timed);
  summarise(r, s, so.timeline);
  if (steady > 0) {
    r.steady_steps = study.pp_steady_steps;
    r.steady_warmup = pp_steady_warmup;
    std::set<int> mbs;
    for (const Op& o : s.ranks[0].ops)
      mbs.insert(o.microbatch);
    r.steady_microbatches = static_cast<int>(mbs.size());
    r.steady_interval = steady;
    r.tok_s_steady = s.step.tokens() / steady;
  }
  for (const auto& [p, seconds] : so.compute_by_provenance)
    if (r.step_time > 0)
      r.compute_provenance[perf::to_string(p)] = seconds / (r.gpus * r.step_time);
  if (es && r.step_time > 0) {
    // The engine's host time per step, and the tokens a sequence gains per step.
    // Speculative decoding: a sequence runs 1 + drafts tokens a step but keeps the accepted ones.
    const int seqs = (st.batch + std::max(1, run.plan.attn_dp) - 1) / std::max(1, run.plan.attn_dp);
    const double t = engine_step_seconds(*study.engine_profile, run.plan, r.step_time, seqs);
    const double gain = r.step_time / t * (st.phase == Phase::decode ? es->tokens_per_step / st.tokens_per_seq : 1.0);
    r.step_time = t;
    r.tok_s_user = st.phase == Phase::decode ? es->tokens_per_step / t : r.tok_s_user * gain;
    r.tok_s_total *= gain;
    r.tok_s_per_gpu *= gain;
    r.tok_s_pipelined *= gain;
    if (r.steady_interval > 0) {
      // The same engine rule on the steady interval: its host work per step, its accepted tokens.
      const double ts = engine_step_seconds(*study.engine_profile, run.plan, r.steady_interval, seqs);
      r.tok_s_steady = st.batch * es->tokens_per_step / ts;
      r.steady_interval = ts;
    }
  }
  r.link_bytes = so.link_bytes;
  r.algorithms = so.algorithms;
  if (keep_timeline) {
    so.timeline.platform = sc.platform_name;
    out.timeline = std::move(so.timeline);
  }
  return out;
}

namespace {

struct Child {
  pid_t pid = -1;
  size_t index = 0;
};

void child_main(const Study& study, const Scenario& sc, bool keep_timeline, const std::string& out_path)
{
  nlohmann::json j;
  int code = 0;
  try {
    ScenarioOutcome o = run_scenario(study, sc, keep_timeline);
    j["result"] = result_to_json(o.result);
    if (o.timeline)
      j["timeline"] = timeline_to_json(*o.timeline);
  } catch (const InputError& e) {
    j["input_error"] = {{"file", e.file()}, {"key", e.key()}, {"message", e.what()}, {"fix", e.fix()}};
  } catch (const std::exception& e) {
    j["internal_error"] = e.what();
    code = 1;
  }
  std::ofstream f(out_path);
  f << j.dump();
  f.close();
  std::fflush(nullptr);
  _exit(f ? code : 1);
}

} // namespace

std::vector<ScenarioOutcome> run_scenarios(const Study& study, const std::vector<Scenario>& scenarios, int jobs,
                                           bool keep_timelines, const std::function<void(size_t)>& on_done)
{
  const TempDir tmp("moesim"); // removed on every way out, signals included (core/temp_paths.hpp)
  const fs::path dir = tmp.path();
  auto out_path = [&](size_t i) { return (dir / ("scenario" + std::to_string(i) + ".json")).string(); };
  std::map<pid_t, size_t> running;
  // If this function throws while scenarios run, they are stopped, not orphaned.
  struct Reaper {
    std::map<pid_t, size_t>& running;
    ~Reaper()
    {
      for (const auto& [pid, i] : running) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        unregister_child(pid);
      }
    }
  } reaper{running};
  std::vector<int> status(scenarios.size(), 0);
  size_t next = 0;
  std::fflush(nullptr);
  while (next < scenarios.size() || !running.empty()) {
    while (next < scenarios.size() && static_cast<int>(running.size()) < std::max(1, jobs)) {
      pid_t pid = fork();
      if (pid < 0)
        throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
      if (pid == 0)
        child_main(study, scenarios[next], keep_timelines, out_path(next));
      register_child(pid);
      running[pid] = next++;
    }
    int st = 0;
    pid_t done = waitpid(-1, &st, 0);
    if (done < 0 && errno == EINTR)
      continue;
    if (done < 0)
      throw std::runtime_error(std::string("waitpid failed: ") + std::strerror(errno));
    unregister_child(done);
    if (auto it = running.find(done); it != running.end()) {
      status[it->second] = st;
      const size_t index = it->second;
      running.erase(it);
      if (on_done)
        on_done(index);
    }
  }
  std::vector<ScenarioOutcome> outcomes(scenarios.size());
  std::string failure;
  std::optional<InputError> input_error;
  for (size_t i = 0; i < scenarios.size(); i++) {
    const std::string what = scenarios[i].plan.name + " on " + scenarios[i].platform_name + " at batch " +
                             std::to_string(scenarios[i].batch);
    std::ifstream f(out_path(i));
    nlohmann::json j;
    if (f)
      j = nlohmann::json::parse(f, nullptr, false);
    if (!f || j.is_discarded()) {
      if (failure.empty())
        failure = "simulation of " + what + " died" +
                  (WIFSIGNALED(status[i]) ? " with signal " + std::to_string(WTERMSIG(status[i])) : "");
      continue;
    }
    if (j.contains("input_error")) {
      if (!input_error) {
        const auto& e = j["input_error"];
        input_error = InputError::preformatted(e["file"], e["key"], e["message"], e["fix"]);
      }
      continue;
    }
    if (j.contains("internal_error")) {
      if (failure.empty())
        failure = "simulation of " + what + " failed: " + j["internal_error"].get<std::string>();
      continue;
    }
    outcomes[i].result = result_from_json(j["result"]);
    if (j.contains("timeline"))
      outcomes[i].timeline = timeline_from_json(j["timeline"], out_path(i));
  }
  if (input_error)
    throw *input_error;
  if (!failure.empty())
    throw std::runtime_error(failure);
  return outcomes;
}

} // namespace moesim
