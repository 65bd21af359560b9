// Reading a whole input file into memory, inflating it first when it is gzip-compressed (the
// derived tables under platforms/public/ are stored as .json.gz).
#pragma once
#include <cstdint>
#include <string>

namespace moesim {

// Throws InputError naming the file when it is missing, unreadable or a damaged gzip stream;
// `what` says what the file should be ("an op-bench records file").
std::string read_text_file(const std::string& path, const std::string& what);

// `bytes` as they are, or inflated when they are a gzip stream (its two magic bytes), refused with
// an InputError naming `path` when the inflated text would exceed `limit` bytes (a gzip bomb) or
// the stream is damaged. For bytes already read with read_input_file's own limit.
std::string inflate_if_gzip(std::string bytes, const std::string& path, std::uintmax_t limit);

} // namespace moesim
