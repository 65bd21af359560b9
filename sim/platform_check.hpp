// Reads a platform XML without SimGrid, with Boost.PropertyTree: checks it before SimGrid sees it
// (SimGrid 3.32 crashes, not throws, on some bad input, e.g. a GPU pair with no route in a Full
// zone), and lists its GPUs for what needs no simulation (`moesim schedule`).
#pragma once
#include <string>
#include <vector>

namespace moesim {

// Throws InputError naming the file, the line where known, the element and the fix, when the file
// is not well-formed XML, a <link_ctn> names no declared link, or (Full zones) a pair of GPU hosts
// gpuI/gpuJ has no route.
void check_platform_xml(const std::string& file);

// The GPUs as moesim reads them: the zone property moesim.gpus = N and hosts gpu0..gpuN-1, each
// with its mem_bytes property (bytes). Checks the file first (check_platform_xml); throws
// InputError naming the file and the missing or malformed element as Platform does.
struct XmlGpu {
  std::string name;
  double mem_bytes = 0;
};
std::vector<XmlGpu> platform_gpus_from_xml(const std::string& file);

} // namespace moesim
