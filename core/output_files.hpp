// The files one command writes, all or none. Paths are checked before any work is done
// (check_output_path), and the contents are written together at the end (write_outputs):
//   - a regular file (or a path that does not exist yet) is staged as a hidden temporary file
//     beside its target, and every staged file is renamed over its target only once all of them
//     are written, so a failure leaves every target as it was and no temporary file behind;
//   - a symlink is followed to its target, which is written as above: the link stays a link;
//   - a character device (/dev/null, a terminal) or a FIFO is written in place, never replaced;
//     a FIFO that no process reads is refused instead of waiting for a reader forever;
//   - a folder, a block device, a socket, a missing parent folder, or one file named by two
//     flags is refused in one line naming the flag.
// "-" is standard output, printed after every file is in place.
#pragma once
#include <string>
#include <vector>

namespace moesim {

struct OutputFile {
  std::string path; // "-" for standard output
  std::string flag; // --json, -o, ... for messages
  std::string content;
};

// Throws InputError naming `flag` when `path` cannot be an output (see above). Call it for every
// output before doing any work. Empty paths are ignored.
void check_output_path(const std::string& path, const std::string& flag);
// The same, for several outputs at once: also refuses one file named twice, and an output that is
// one of `inputs` (the same file, by this name or another: a link, a hard link), which the command
// would overwrite with what it read from it (`moesim run s.yaml --json s.yaml`).
void check_output_paths(const std::vector<std::pair<std::string, std::string>>& path_and_flag,
                        const std::vector<std::string>& inputs = {});

// Writes every file as described above. Throws InputError naming the file that failed; then no
// target has been changed by this call (except a device or FIFO already written, which cannot be
// taken back) and no temporary file is left.
void write_outputs(const std::vector<OutputFile>& files);

} // namespace moesim
