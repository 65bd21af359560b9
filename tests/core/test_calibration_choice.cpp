// The one rule for which calibration file a platform gets (core/calibration_choice.hpp).
#include "core/calibration_choice.hpp"
#include "core/error.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace moesim;
namespace fs = std::filesystem;

TEST_CASE("calibration choice: auto takes calibration/<stem>.yaml beside an unedited platform", "[quick][calibration]")
{
  test::TempDir dir("moesim_test_calibration_choice");
  fs::create_directories(dir.path / "calibration");
  const std::string yaml = dir.write("box.yaml", "x"), xml = dir.write("box.xml", "x");
  const std::string other = dir.write("other.xml", "x");
  const std::string cal = dir.write("calibration/box.yaml", "platform: box\n");
  const CalibrationChoice autom = parse_calibration_choice("auto", "--calibration");
  // Both spellings of the machine (topology YAML, generated XML) find the same file.
  CHECK(resolve_calibration_file(autom, yaml, false) == cal);
  CHECK(resolve_calibration_file(autom, xml, false) == cal);
  // A machine edited by --set, or one nobody calibrated, gets none.
  CHECK(resolve_calibration_file(autom, yaml, true).empty());
  CHECK(resolve_calibration_file(autom, other, false).empty());
  // none: nothing, even where a file exists; FILE: that file for every platform, edited or not.
  for (const char* none : {"none", ""})
    CHECK(resolve_calibration_file(parse_calibration_choice(none, "--calibration"), yaml, false).empty());
  const CalibrationChoice file = parse_calibration_choice(cal, "--calibration");
  CHECK(resolve_calibration_file(file, other, false) == cal);
  CHECK(resolve_calibration_file(file, yaml, true) == cal);
}

TEST_CASE("calibration choice: a missing file is refused naming the flag", "[quick][calibration]")
{
  CHECK_THROWS_AS(parse_calibration_choice("/nonexistent/cal.yaml", "--calibration"), InputError);
  CHECK_THROWS_WITH(parse_calibration_choice("/nonexistent/cal.yaml", "--calibration"),
                    Catch::Contains("/nonexistent/cal.yaml: --calibration: no such file"));
  CHECK_THROWS_WITH(parse_calibration_choice("/tmp", "--calibration"), Catch::Contains("is not a file"));
}

TEST_CASE("calibration choice: the zoo's calibrated H200 machines", "[quick][calibration]")
{
  const fs::path platforms = fs::path(MOESIM_SOURCE_DIR) / "platforms";
  const CalibrationChoice autom = parse_calibration_choice("auto", "--calibration");
  for (const char* name : {"nvswitch-1x-h200", "nvswitch-2x-h200", "nvswitch-4x-h200", "nvswitch-4x-h200-nop2p"}) {
    INFO(name);
    const std::string expected = (platforms / "calibration" / (std::string(name) + ".yaml")).string();
    CHECK(resolve_calibration_file(autom, (platforms / (std::string(name) + ".yaml")).string(), false) == expected);
    CHECK(resolve_calibration_file(autom, (platforms / (std::string(name) + ".xml")).string(), false) == expected);
  }
  CHECK(resolve_calibration_file(autom, (platforms / "nvswitch-4x-h100.xml").string(), false).empty());
}
