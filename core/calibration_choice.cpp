#include "core/calibration_choice.hpp"

#include "core/error.hpp"

#include <filesystem>

namespace moesim {
namespace fs = std::filesystem;

CalibrationChoice parse_calibration_choice(const std::string& text, const std::string& flag)
{
  if (text == "auto")
    return {CalibrationChoice::Mode::automatic, ""};
  if (text == "none" || text.empty())
    return {CalibrationChoice::Mode::none, ""};
  if (!fs::is_regular_file(text))
    throw InputError(text, flag, fs::exists(text) ? "is not a file" : "no such file",
                     "pass a calibration YAML, 'auto' or 'none'");
  return {CalibrationChoice::Mode::file, text};
}

std::string resolve_calibration_file(const CalibrationChoice& choice, const std::string& platform_file, bool edited)
{
  switch (choice.mode) {
    case CalibrationChoice::Mode::none: return "";
    case CalibrationChoice::Mode::file: return choice.file;
    case CalibrationChoice::Mode::automatic: break;
  }
  if (edited)
    return "";
  const fs::path p(platform_file);
  const fs::path c = p.parent_path() / "calibration" / (p.stem().string() + ".yaml");
  return fs::exists(c) ? c.string() : "";
}

} // namespace moesim
