// Reading a file a user named, whole, with a size limit: a folder, a missing file, a device or a
// socket is refused, and so is a file larger than the limit (checked while reading, so neither a
// FIFO nor /dev/zero can exhaust memory). A FIFO is read (`moesim run <(generate-study)`).
#pragma once
#include <cstdint>
#include <string>

namespace moesim {

// Throws InputError naming `path` (and `key`, when the path came from a key or a flag).
std::string read_input_file(const std::string& path, std::uintmax_t limit, const std::string& key = "");

// Whether a path names something we can look at. std::filesystem::exists and is_directory throw on
// errors other than "not found" (a name past NAME_MAX, a component that is not a folder): a path we
// cannot look at is one we cannot use, so these answer false and the caller's "not found" names it.
bool path_exists(const std::string& path);
bool is_folder(const std::string& path);

} // namespace moesim
