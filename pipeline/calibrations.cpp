#include "pipeline/calibrations.hpp"

namespace moesim {

std::shared_ptr<const Calibration> Calibrations::get(const std::string& file)
{
  if (file.empty())
    return nullptr;
  auto it = loaded_.find(file);
  if (it == loaded_.end())
    it = loaded_.emplace(file, std::make_shared<const Calibration>(load_calibration_file(file))).first;
  return it->second;
}

} // namespace moesim
