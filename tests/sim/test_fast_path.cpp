// The default replay (compute on each rank's clock, isolated collectives timed by the fluid max-min
// model) against --exact (everything through SimGrid) on every scenario of the shipped studies:
// every op of every rank, collectives included, must start, sync and end at the same time to 1e-9
// of the step. Each replay runs in a child process (SimGrid allows one engine per process).
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "core/study.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace moesim;
namespace fs = std::filesystem;

namespace {

struct Replayed {
  bool ok = false;
  double fast = 0;                // collectives the fluid model timed
  std::vector<double> times;      // per event in (rank, op) order: ready, start, sync, end
  std::vector<double> collective; // per collective event: end - sync (its transfer)
};

bool write_all(int fd, const void* p, size_t n)
{
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = write(fd, c, n);
    if (w <= 0)
      return false;
    c += w, n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* p, size_t n)
{
  char* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = read(fd, c, n);
    if (r <= 0)
      return false;
    c += r, n -= static_cast<size_t>(r);
  }
  return true;
}

// Replays `s` on `platform` in a child process; an empty result if it could not.
Replayed replay(const std::string& platform, const Schedule& s, bool exact)
{
  int fd[2];
  if (pipe(fd) != 0)
    return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    std::vector<double> msg;
    try {
      Simulation sim(platform);
      const SimOutput out = sim.run(s, exact);
      msg.push_back(out.fast_collectives);
      for (const TimelineEvent& e : out.timeline.events)
        msg.insert(msg.end(), {double(op_class(e.kind) == OpClass::collective), e.ready, e.start, e.sync, e.end});
    } catch (...) {
      _exit(1);
    }
    const size_t n = msg.size();
    _exit(write_all(fd[1], &n, sizeof n) && write_all(fd[1], msg.data(), n * sizeof(double)) ? 0 : 1);
  }
  close(fd[1]);
  size_t n = 0;
  std::vector<double> msg;
  bool ok = read_all(fd[0], &n, sizeof n);
  if (ok) {
    msg.resize(n);
    ok = read_all(fd[0], msg.data(), n * sizeof(double));
  }
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  Replayed r;
  if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || msg.empty())
    return r;
  r.ok = true;
  r.fast = msg[0];
  for (size_t i = 1; i + 5 <= msg.size(); i += 5) {
    r.times.insert(r.times.end(), {msg[i + 1], msg[i + 2], msg[i + 3], msg[i + 4]});
    if (msg[i] > 0)
      r.collective.push_back(msg[i + 4] - msg[i + 3]);
  }
  return r;
}

} // namespace

TEST_CASE("the fast replay equals the exact one on every shipped study", "[slow][fast_path]")
{
  const std::string root = MOESIM_SOURCE_DIR;
  std::vector<fs::path> studies;
  for (const auto& e : fs::directory_iterator(root + "/workloads/studies"))
    if (e.path().extension() == ".yaml")
      studies.push_back(e.path());
  std::sort(studies.begin(), studies.end());
  REQUIRE(!studies.empty());
  int scenarios = 0;
  double fast = 0, collectives = 0;
  for (const fs::path& file : studies) {
    const Study study = load_study_file(file.string(), root);
    for (const std::string& pname : study.platforms) {
      const std::string platform = resolve_platform_path(pname, root);
      if (fs::path(platform).extension() != ".xml")
        continue; // a topology YAML's XML is generated; every shipped platform has its XML beside it
      int gpus = 0;
      {
        // The GPU count, as the platform file declares it (moesim.gpus), without loading SimGrid here.
        std::ifstream f(platform);
        const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        const size_t at = text.find("\"moesim.gpus\" value=\"");
        REQUIRE(at != std::string::npos);
        gpus = std::stoi(text.substr(at + 21));
      }
      for (const Plan& plan : study.plans)
        for (int batch : study.batches) {
          Layout layout;
          try {
            layout = make_layout(plan, study.model, gpus);
          } catch (const std::invalid_argument&) {
            continue; // the CLI refuses this plan on this platform before simulating
          }
          StepShape st{study.phase, batch, study.context, study.prompt};
          const Schedule s = build_schedule(study.model, layout, st, BuildOptions{study.routing, study.engine, {}});
          INFO(file.filename().string() << " " << pname << " " << plan.name << " batch " << batch);
          const Replayed quick = replay(platform, s, false), exact = replay(platform, s, true);
          REQUIRE(quick.ok);
          REQUIRE(exact.ok);
          CHECK(exact.fast == 0); // --exact sends every collective through SimGrid
          REQUIRE(quick.times.size() == exact.times.size());
          REQUIRE(quick.collective.size() == exact.collective.size());
          const double step = *std::max_element(exact.times.begin(), exact.times.end());
          for (size_t i = 0; i < quick.times.size(); i++) {
            INFO("event " << i / 4 << " time " << i % 4 << " (ready, start, sync, end)");
            REQUIRE(quick.times[i] == Approx(exact.times[i]).margin(1e-9 * step).epsilon(0));
          }
          // Each collective's transfer to 1e-9 of itself (a zero-byte one: to 1e-15 s).
          for (size_t i = 0; i < quick.collective.size(); i++)
            REQUIRE(quick.collective[i] == Approx(exact.collective[i]).epsilon(1e-9).margin(1e-15));
          scenarios++;
          fast += quick.fast;
          collectives += static_cast<double>(quick.collective.size());
        }
    }
  }
  // The comparison is only worth something where the fast path ran: it must have timed most of the
  // collective events (the shipped studies are single-stream except pipeline plans).
  CHECK(scenarios > 10);
  CHECK(fast > 0);
  WARN(scenarios << " scenarios, " << collectives << " collective events, " << fast << " collectives timed by the fluid model");
}
