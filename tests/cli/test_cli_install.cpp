// `cmake --install` into a temporary prefix, then the installed moesim run from another folder,
// with no MOESIM_ROOT and no --root: it finds its data at PREFIX/share/moesim.
#include "cli_run.hpp"

#include <cstdlib>

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

// Runs a shell command line; stdout and stderr together, and the exit code.
Run shell_merged(const std::string& cmd)
{
  Run r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

} // namespace

TEST_CASE("an installed moesim runs from any folder and finds its data", "[quick][cli][install]")
{
  const fs::path prefix = scratch("install-prefix"), elsewhere = scratch("install-cwd");
  Run install = shell_merged(std::string(MOESIM_CMAKE) + " --install " + MOESIM_BUILD_DIR + " --prefix " + prefix.string());
  INFO(install.out);
  REQUIRE(install.code == 0);
  for (const char* f : {"bin/moesim", "share/moesim/workloads/models/deepseek-v3.yaml",
                        "share/moesim/workloads/studies/default.yaml", "share/moesim/platforms/gpus.yaml",
                        "share/moesim/platforms/nvswitch-4x-h200.xml", "share/moesim/platforms/nvswitch-4x-h200.yaml",
                        "share/moesim/platforms/README.md", "share/moesim/platforms/calibration/nvswitch-4x-h200.yaml",
                        "share/moesim/validate/matrix/val-qwen3-30b-a3b.yaml", "share/moesim/workloads/engines/vllm-0.11.yaml",
                        "share/moesim/validate/results/error-bands.yaml", "share/moesim/validate/public/published.yaml"}) {
    INFO(f);
    CHECK(fs::is_regular_file(prefix / f));
  }
#ifdef MOESIM_HAS_VALIDATE
  CHECK(fs::is_regular_file(prefix / "bin/moesim-validate"));
  Run v = shell_merged((prefix / "bin/moesim-validate").string() + " --version");
  CHECK(v.code == 0);
  CHECK_THAT(v.out, Contains("moesim-validate ") && Contains("(git "));
#endif
  // From another folder, no MOESIM_ROOT: the same report as the build's moesim on the source tree,
  // calibrated H200 included (the calibration is found beside the installed platforms).
  const std::string installed = "cd " + elsewhere.string() + " && env -u MOESIM_ROOT " + (prefix / "bin/moesim").string();
  const std::string sel = " run default --platform nvswitch-4x-h200,ws-4x-rtxpro6000-pcie5-nop2p --batch 1 --plan tp4,ep4";
  Run from_install = shell_merged(installed + sel);
  Run from_build = moesim(sel);
  REQUIRE(from_install.code == 0);
  CHECK(from_install.out == from_build.out);
  CHECK_THAT(from_install.out, Contains("calibrated: "));
  // The validated error band comes from the installed validate/results/error-bands.yaml.
  CHECK_THAT(from_install.out, Contains("validated step error, specs: median"));
  Run list = shell_merged(installed + " list");
  CHECK(list.code == 0);
  CHECK_THAT(list.out, Contains("workloads/models: deepseek-v2-lite deepseek-v3"));
  // --root and MOESIM_ROOT still override the installed data.
  const fs::path empty = scratch("install-empty-root");
  Run root = shell_merged(installed + " --root " + empty.string() + " list");
  CHECK(root.code == 2);
  CHECK_THAT(root.out, Contains("--root: has no workloads/ and platforms/"));
  Run env = shell_merged("cd " + elsewhere.string() + " && MOESIM_ROOT=" + empty.string() + " " +
                         (prefix / "bin/moesim").string() + " list");
  CHECK(env.code == 2);
  CHECK_THAT(env.out, Contains("MOESIM_ROOT: has no workloads/ and platforms/"));
  Run version = shell_merged(installed + " --version");
  CHECK(version.out == moesim("--version").out);
  fs::remove_all(prefix);
}
