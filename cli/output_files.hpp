// Output files of the CLI commands: checked before any work, written only once everything has
// succeeded, each through a temporary name, and renamed into place together.
#pragma once
#include <string>
#include <vector>

namespace moesim {

struct PendingFile {
  std::string path; // "-" = stdout
  std::string content;
};

// Refuses a folder given as a file, or a file in a folder that does not exist (InputError naming `flag`).
void check_writable(const std::string& path, const std::string& flag);
// Every file through a temporary name first; only when all are written are they renamed into place
// and stdout printed, so a file that cannot be written leaves nothing behind.
void write_all(const std::vector<PendingFile>& files);

} // namespace moesim
