// The committed platform files are exactly what their topology YAMLs generate, byte for byte, and
// generation is deterministic. Regenerate after editing a YAML:
//   for f in platforms/*.yaml; do n=$(basename $f .yaml); [ $n = gpus ] ||
//     build/cli/moesim platform build $f -o platforms/$n.xml; done
#include "fixtures.hpp"
#include "topology/xml_writer.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace moesim;
using namespace moesim::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p)
{
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<fs::path> platform_files(const std::string& ext)
{
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(MOESIM_SOURCE_DIR) / "platforms"))
    if (e.path().extension() == ext && e.path().stem() != "gpus")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("every committed platform XML is its YAML regenerated, byte for byte", "[quick][topology]")
{
  const auto yamls = platform_files(".yaml");
  REQUIRE(yamls.size() >= 17);
  for (const fs::path& y : yamls) {
    INFO(y.filename().string());
    const fs::path xml = fs::path(y).replace_extension(".xml");
    REQUIRE(fs::exists(xml));
    const std::string made = platform_xml(route_topology(load_topology(y.string(), catalog())));
    CHECK(made == slurp(xml));
  }
}

TEST_CASE("every platform XML comes from a topology YAML", "[quick][topology]")
{
  for (const fs::path& x : platform_files(".xml")) {
    INFO(x.filename().string());
    CHECK(fs::exists(fs::path(x).replace_extension(".yaml")));
  }
}

TEST_CASE("the same topology gives the same bytes, and the zoo keeps the names studies use", "[quick][topology]")
{
  const std::string y = std::string(MOESIM_SOURCE_DIR) + "/platforms/cluster-4x8-h100-ib400.yaml";
  const auto a = platform_xml(route_topology(load_topology(y, catalog())));
  const auto b = platform_xml(route_topology(load_topology(y, catalog())));
  CHECK(a == b);
  for (const char* n : {"ws-4x-rtxpro6000-pcie5-p2p", "ws-4x-rtxpro6000-pcie5-nop2p", "nvswitch-1x-h100", "nvswitch-2x-h100",
                        "nvswitch-4x-h100", "nvswitch-4x-h100-nop2p", "nvswitch-4x-h200", "nvswitch-1x-h200",
                        "nvswitch-2x-h200", "hgx-8x-h100", "hgx-8x-h200", "hgx-8x-h100-nop2p", "hgx-8x-h200-nop2p", "hgx-8x-b200", "hgx-4x-a100-nvlink",
                        "pcie4-4x-a100", "server-8x-rtxpro6000-pcie-switches", "gb200-nvl72", "cluster-4x8-h100-ib400"})
    CHECK(fs::exists(fs::path(MOESIM_SOURCE_DIR) / "platforms" / (std::string(n) + ".yaml")));
}

TEST_CASE("generated XML follows the conventions platforms/README.md states", "[quick][topology]")
{
  const std::string x = slurp(fs::path(MOESIM_SOURCE_DIR) / "platforms/cluster-4x8-h100-ib400.xml");
  // One Full zone, the zone props first, latency 0 everywhere, a class on every link.
  CHECK(x.find("<zone id=\"cluster_4x8_h100_ib400\" routing=\"Full\">\n    <prop id=\"moesim.gpus\" value=\"32\"/>") !=
        std::string::npos);
  // Every GPU says its compute capability (it picks NCCL's tables): 32 H100s, sm 90.
  size_t sms = 0;
  for (size_t p = 0; (p = x.find("<prop id=\"sm\" value=\"90\"/>", p)) != std::string::npos; p++)
    sms++;
  CHECK(sms == 32);
  CHECK(x.find("<prop id=\"moesim.nodes\" value=\"4\"/>") != std::string::npos);
  size_t links = 0, classes = 0;
  for (size_t p = 0; (p = x.find("<link id=", p)) != std::string::npos; p++) {
    links++;
    const std::string line = x.substr(p, x.find('\n', p) - p);
    CHECK(line.find("latency=\"0\"") != std::string::npos);
    classes += line.find("<prop id=\"class\"") != std::string::npos;
  }
  CHECK(links == 96);
  CHECK(classes == links);
  // NIC bandwidth in bits, as written in the YAML.
  CHECK(x.find("<link id=\"n0_nic0\" bandwidth=\"400Gbps\"") != std::string::npos);
  // PXN routes differ from their reverse: both directions, symmetrical="NO".
  CHECK(x.find("<route src=\"gpu0\" dst=\"gpu9\" symmetrical=\"NO\">") != std::string::npos);
  CHECK(x.find("<route src=\"gpu9\" dst=\"gpu0\" symmetrical=\"NO\">") != std::string::npos);
  CHECK(x.find("<route src=\"gpu0\" dst=\"gpu8\" symmetrical=\"YES\">") != std::string::npos);
  // XML comments may not hold "--".
  const auto c0 = x.find("<!--"), c1 = x.find("-->");
  CHECK(x.substr(c0 + 4, c1 - c0 - 4).find("--") == std::string::npos);
}
