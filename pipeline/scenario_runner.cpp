#include "pipeline/scenario_runner.hpp"

#include "core/error.hpp"
#include "core/schedule_builder.hpp"
#include "pipeline/memory_fit.hpp"
#include "sim/simulation.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace moesim {
namespace fs = std::filesystem;

ScenarioOutcome run_scenario(const Study& study, const Scenario& sc, bool keep_timeline)
{
  Simulation sim(sc.platform_path, sc.calibration);
  const Platform& P = sim.platform();
  Layout L = check_layout(study, sc, P.gpus());
  const StepShape st = step_of(study, sc.batch);
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
  r.cuda_graphs = sc.engine.cuda_graphs;
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
  opt.engine = sc.engine;
  Schedule s = build_schedule(study.model, L, st, opt);
  SimOutput so = sim.run(s);
  summarise(r, s, so.timeline);
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
  char tmpl[] = "/tmp/moesim.XXXXXX";
  if (!mkdtemp(tmpl))
    throw std::runtime_error(std::string("cannot create a temporary folder: ") + std::strerror(errno));
  const fs::path dir = tmpl;
  auto out_path = [&](size_t i) { return (dir / ("scenario" + std::to_string(i) + ".json")).string(); };
  std::map<pid_t, size_t> running;
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
      running[pid] = next++;
    }
    int st = 0;
    pid_t done = waitpid(-1, &st, 0);
    if (done < 0)
      throw std::runtime_error(std::string("waitpid failed: ") + std::strerror(errno));
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
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (input_error)
    throw *input_error;
  if (!failure.empty())
    throw std::runtime_error(failure);
  return outcomes;
}

} // namespace moesim
