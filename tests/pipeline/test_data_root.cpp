// The data root (pipeline/data_root.hpp): --root, then $MOESIM_ROOT, then ../share/moesim beside the
// executable. This test binary lives in build/tests/, so the last rule finds build/share/moesim,
// the build tree's links to the source folders, as an installed bin/moesim finds share/moesim.
#include "core/error.hpp"
#include "pipeline/data_root.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>

using namespace moesim;
namespace fs = std::filesystem;

TEST_CASE("data root: --root, then MOESIM_ROOT, then beside the executable", "[quick][pipeline]")
{
  test::TempDir dir("moesim_test_data_root");
  fs::create_directories(dir.path / "workloads");
  fs::create_directories(dir.path / "platforms");
  const std::string other = dir.path.string();
  unsetenv("MOESIM_ROOT");
  // Beside the executable: <bin>/../share/moesim, which holds the source tree's data.
  const std::string beside = find_data_root("");
  CHECK(fs::path(beside) == (executable_dir() / ".." / "share" / "moesim").lexically_normal());
  CHECK(fs::equivalent(fs::path(beside) / "workloads", fs::path(MOESIM_SOURCE_DIR) / "workloads"));
  // The environment overrides it, and --root overrides both.
  setenv("MOESIM_ROOT", MOESIM_SOURCE_DIR, 1);
  CHECK(find_data_root("") == MOESIM_SOURCE_DIR);
  CHECK(find_data_root(other) == other);
  // A folder without the data is refused, naming where it looked and the fix.
  CHECK_THROWS_WITH(find_data_root((dir.path / "workloads").string()),
                    Catch::Contains("--root: has no workloads/ and platforms/ folders"));
  setenv("MOESIM_ROOT", (dir.path / "platforms").string().c_str(), 1);
  CHECK_THROWS_WITH(find_data_root(""), Catch::Contains("MOESIM_ROOT: has no workloads/ and platforms/"));
  unsetenv("MOESIM_ROOT");
}

TEST_CASE("data root: moesim list's names", "[quick][pipeline]")
{
  const DataListing l = list_data(MOESIM_SOURCE_DIR);
  CHECK(std::count(l.models.begin(), l.models.end(), "deepseek-v3") == 1);
  CHECK(std::count(l.platforms.begin(), l.platforms.end(), "nvswitch-4x-h200") == 1); // .yaml and .xml: once
  CHECK(std::count(l.platforms.begin(), l.platforms.end(), "gpus") == 0);             // the GPU catalogue
  CHECK(std::count(l.studies.begin(), l.studies.end(), "default") == 1);
  CHECK(std::is_sorted(l.models.begin(), l.models.end()));
}
