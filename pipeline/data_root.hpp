// The data root: the folder holding workloads/ (models, studies), platforms/ (topologies, SimGrid
// platforms, gpus.yaml, calibration/) and validate/matrix. Found, in this order, from
//   1. --root DIR
//   2. $MOESIM_ROOT
//   3. <folder of the running executable>/../share/moesim: an installed bin/moesim finds
//      share/moesim beside it, and the build tree has the same layout (build/share/moesim links to
//      the source folders), so a binary works from any current folder.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

// The folder of the running executable (Linux: /proc/self/exe); empty when unknown.
std::filesystem::path executable_dir();

// The data root by the rules above (`root_option`: --root, "" when not given). Throws InputError
// when no rule gives a folder with workloads/ and platforms/, saying where it looked.
std::string find_data_root(const std::string& root_option);

// What a data root holds, for `moesim list`: file stems, sorted, each once (x.yaml and its
// generated x.xml are one platform; the GPU catalogue platforms/gpus.yaml is not a platform).
struct DataListing {
  std::vector<std::string> models, platforms, studies;
};
DataListing list_data(const std::string& root);

} // namespace moesim
