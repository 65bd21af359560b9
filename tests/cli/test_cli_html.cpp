// moesim run --html as a user meets it: one self-contained page per run with a Gantt chart per
// scenario, the same bytes whatever the parallelism, a sweep's chart, and a bad path refused before
// anything runs.
#include "cli_run.hpp"

#include <catch2/catch.hpp>

namespace fs = std::filesystem;
using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

size_t count(const std::string& s, const std::string& what)
{
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
    n++;
  return n;
}

} // namespace

TEST_CASE("run --html writes one page with a Gantt chart per scenario", "[quick][cli]")
{
  fs::path d = scratch("html");
  Run r = moesim("run --plan tp4,ep4 --batch 1 --platform nvswitch-4x-h200 --html " + (d / "r.html").string());
  REQUIRE(r.code == 0);
  const std::string h = slurp(d / "r.html");
  CHECK(h.rfind("<!DOCTYPE html>", 0) == 0);
  // 2 plans x 1 platform x 1 batch.
  CHECK(count(h, "<svg class=\"gantt\"") == 2);
  CHECK_THAT(h, Contains("data-scenario=\"tp4 @ nvswitch-4x-h200 b=1\"") &&
                    Contains("data-scenario=\"ep4 @ nvswitch-4x-h200 b=1\""));
  // The platform is calibrated: its provenance is shown; the TP-vs-EP prose is there.
  CHECK_THAT(h, Contains("<b>Calibration:</b> measured (") && Contains("id=\"lesson\""));
  // NVLink carries the collectives: its load row is under each chart.
  CHECK(count(h, "data-class=\"nvlink\"") == 2);
  CHECK(h.find("http") == std::string::npos);
  // The table on stdout is unchanged by --html.
  Run plain = moesim("run --plan tp4,ep4 --batch 1 --platform nvswitch-4x-h200");
  CHECK(plain.out == r.out);
}

TEST_CASE("run --html: the same bytes whatever the parallelism", "[quick][cli]")
{
  fs::path d = scratch("html_determinism");
  const std::string sel = "run --plan tp4,pp4,ep4 --batch 1 --platform ws-4x-rtxpro6000-pcie5-nop2p --html ";
  Run a = moesim(sel + (d / "a.html").string() + " -j 1");
  Run b = moesim(sel + (d / "b.html").string() + " -j 3");
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  CHECK(slurp(d / "a.html") == slurp(d / "b.html"));
}

TEST_CASE("run --sweep --html embeds the sweep's chart and its crossovers", "[quick][cli]")
{
  fs::path d = scratch("html_sweep");
  Run r = moesim("run --plan tp4,ep4 --batch 1 --platform ws-4x-rtxpro6000-pcie5-nop2p --sweep "
                 "link.pcie.bandwidth=16GBps,64GBps --svg " +
                 (d / "s.svg").string() + " --html " + (d / "s.html").string());
  REQUIRE(r.code == 0);
  const std::string h = slurp(d / "s.html");
  // The chart --svg writes, inline as it is, and the table's crossover lines.
  const std::string svg = slurp(d / "s.svg");
  CHECK(h.find(svg) != std::string::npos);
  CHECK_THAT(h, Contains("never overtakes tp4") && Contains("fastest:"));
}

TEST_CASE("run --html into a folder that does not exist fails before simulating", "[quick][cli]")
{
  Run r = moesim("run --html /nonexistent/dir/r.html");
  expect_usage_error(r, "/nonexistent/dir/r.html");
  CHECK_THAT(r.err, Contains("--html") && Contains("/nonexistent/dir"));
}

TEST_CASE("run --html onto a folder or an unwritable file: one line, exit 2, nothing written", "[quick][cli]")
{
  const fs::path d = scratch("html_bad");
  Run folder = moesim("run --plan tp4 --batch 1 --platform nvswitch-4x-h200 --html " + d.string());
  expect_usage_error(folder, d.string() + ".tmp");
  CHECK_THAT(folder.err, Contains("--html: is a folder"));
  CHECK(fs::is_empty(d));
  // /proc takes no new files, even from root: the write fails after simulating, and still nothing is
  // printed or left behind.
  Run proc = moesim("run --plan tp4 --batch 1 --platform nvswitch-4x-h200 --html /proc/moesim-report.html --json " +
                    (d / "r.json").string());
  expect_usage_error(proc, "/proc/moesim-report.html.tmp");
  CHECK_THAT(proc.err, Contains("cannot write"));
  CHECK(fs::is_empty(d));
}
