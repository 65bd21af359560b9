// Reading a file a user named, whole, with a size limit: a folder, a missing file, a device or a
// socket is refused, and so is a file larger than the limit (checked while reading, so neither a
// FIFO nor /dev/zero can exhaust memory). A FIFO is read (`moesim run <(generate-study)`).
#pragma once
#include <cstdint>
#include <string>

namespace moesim {

// Throws InputError naming `path` (and `key`, when the path came from a key or a flag).
std::string read_input_file(const std::string& path, std::uintmax_t limit, const std::string& key = "");

} // namespace moesim
