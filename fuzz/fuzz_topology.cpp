// Topology YAML: loaded against the shipped GPU catalogue, then routed and written as SimGrid XML,
// as `moesim platform build` does.
#include "fuzz/fuzz_input.hpp"
#include "topology/gpu_catalog.hpp"
#include "topology/route_policy.hpp"
#include "topology/topology.hpp"
#include "topology/xml_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const moesim::GpuCatalog catalog = moesim::load_gpu_catalog(MOESIM_SOURCE_DIR "/platforms/gpus.yaml");
  return moesim::fuzz::run_loader(data, size, ".yaml", [](const std::string& p) {
    const moesim::Topology t = moesim::load_topology(p, catalog);
    (void)moesim::platform_xml(moesim::route_topology(t));
  });
}
