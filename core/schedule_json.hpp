// Schedule <-> JSON. The JSON is what `moesim schedule` writes and validate/ reads.
#pragma once
#include "core/schedule.hpp"

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace moesim {

nlohmann::json schedule_to_json(const Schedule& s);
// Throws InputError naming `file` and the offending key.
Schedule schedule_from_json(const nlohmann::json& j, const std::string& file);
Schedule load_schedule_file(const std::string& path);

} // namespace moesim
