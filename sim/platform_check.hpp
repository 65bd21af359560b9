// Checks a platform XML before SimGrid sees it. SimGrid 3.32 aborts the process (or corrupts its
// heap) on some bad input instead of throwing: an unknown routing, a link declared twice, a host
// with no core, deeply nested zones, infinite values, a GPU pair with no route in a Full zone. So
// moesim accepts only the form its platforms are documented in (platforms/README.md), and checks
// every value in it:
//   <platform version="4.1"> holding one <zone id routing="Full"> (no nesting), which holds
//   <prop id value>, <host id speed> (with <prop>s), <link id bandwidth latency [sharing_policy]>
//   (with <prop>s) and <route src dst [symmetrical]> of <link_ctn id [direction]>.
// Ids are unique; routes name hosts and links declared before them, once per direction; a
// SPLITDUPLEX link is crossed UP or DOWN, other links without a direction; every number is
// finite, in range and (bandwidth, speed, non-zero latency) has a unit; the moesim.* and GPU props
// have the types and ranges sim/platform.* reads; there are at most limits::gpus hosts.
// It also lists a platform's GPUs for what needs no simulation (`moesim schedule`).
#pragma once
#include "core/software_paths.hpp"

#include <string>
#include <utility>
#include <vector>

namespace moesim {

// Throws InputError naming the file, the line, the element and the fix. The file is read with
// limits::xml_bytes at most.
void check_platform_xml(const std::string& file);
// The same on text already read (`file` names it in errors).
void check_platform_xml_text(const std::string& text, const std::string& file);

// The GPUs as moesim reads them: the zone property moesim.gpus = N and hosts gpu0..gpuN-1, each
// with its mem_bytes property (bytes). Checks the file first (check_platform_xml); throws
// InputError naming the file and the missing or malformed element as Platform does.
struct XmlGpu {
  std::string name;
  double mem_bytes = 0;
};
std::vector<XmlGpu> platform_gpus_from_xml(const std::string& file);

// What an engine profile's path choices read of the platform (GPUs per node, NVLink, peer access),
// from the XML alone; equal to platform_traits (sim/platform.hpp) on the loaded platform.
PlatformTraits platform_traits_from_xml(const std::string& file);

// Both from XML text already in memory (`file` names it in errors), checked once.
std::pair<std::vector<XmlGpu>, PlatformTraits> platform_facts_from_xml_text(const std::string& text,
                                                                            const std::string& file);

} // namespace moesim
