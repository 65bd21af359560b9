// Reading a whole input file into memory, inflating it first when it is gzip-compressed (the
// derived tables under platforms/public/ are stored as .json.gz).
#pragma once
#include <string>

namespace moesim {

// Throws InputError naming the file when it is missing, unreadable or a damaged gzip stream;
// `what` says what the file should be ("an op-bench records file").
std::string read_text_file(const std::string& path, const std::string& what);

} // namespace moesim
