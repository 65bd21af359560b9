// `moesim published`: every row of validate/public/published.yaml simulated with its engine
// profile, set against the published figure, written as a Markdown table with the error per row.
#pragma once
#include <string>

namespace moesim {

// Simulates the rows of `file` (scenarios in child processes, `jobs` at a time) and writes the
// comparison to `out` ("-": stdout). Throws InputError on a bad file.
void run_published(const std::string& root, const std::string& file, const std::string& out);

} // namespace moesim
