// Checks a platform XML before SimGrid sees it: SimGrid 3.32 crashes (not throws) on some bad input,
// e.g. a GPU pair with no route in a Full zone. Reads the file with Boost.PropertyTree.
#pragma once
#include <string>

namespace moesim {

// Throws InputError naming the file, the line where known, the element and the fix, when the file
// is not well-formed XML, a <link_ctn> names no declared link, or (Full zones) a pair of GPU hosts
// gpuI/gpuJ has no route.
void check_platform_xml(const std::string& file);

} // namespace moesim
