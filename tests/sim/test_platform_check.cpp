// The XML pre-check (sim/platform_check.*): what SimGrid would abort on, or silently take, is
// refused with the file, the line and the fix. Pure text in, no engine.
#include "core/error.hpp"
#include "sim/platform_check.hpp"
#include "sim/xml_scanner.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace moesim;
using Catch::Matchers::Contains;

namespace {

// Two GPUs on one SPLITDUPLEX link each; `zone`, `host0` and `route` are spliced in.
std::string platform(const std::string& zone_extra = "", const std::string& host0 = "speed=\"1Tf\"",
                     const std::string& link0 = "bandwidth=\"50GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"",
                     const std::string& route = "<link_ctn id=\"l0\" direction=\"UP\"/><link_ctn id=\"l1\" direction=\"DOWN\"/>")
{
  return "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
         "<platform version=\"4.1\">\n"                                                      // 3
         "<zone id=\"t\" routing=\"Full\">\n"                                                // 4
         "<prop id=\"moesim.gpus\" value=\"2\"/>\n" + zone_extra +                           // 5
         "<host id=\"gpu0\" " + host0 + "><prop id=\"flops_eff\" value=\"0.75\"/></host>\n"  // 6
         "<host id=\"gpu1\" speed=\"1Tf\"/>\n"                                               // 7
         "<link id=\"l0\" " + link0 + "/>\n"                                                 // 8
         "<link id=\"l1\" bandwidth=\"50GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"/>\n" // 9
         "<route src=\"gpu0\" dst=\"gpu1\">" + route + "</route>\n"                          // 10
         "</zone>\n</platform>\n";
}

std::string error_of(const std::string& xml)
{
  try {
    check_platform_xml_text(xml, "p.xml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("the platform pre-check accepts the documented form", "[quick][sim][robust]")
{
  CHECK(error_of(platform()) == "");
  // Comments, entities and single quotes are XML; they are read.
  CHECK(error_of(platform("<!-- a &amp; b -->\n<prop id='moesim.description' value='a &lt; b &#x263A;'/>\n")) == "");
  // The NCCL release the collective model follows: major.minor.patch.
  CHECK(error_of(platform("<prop id=\"moesim.nccl_version\" value=\"2.27.3\"/>\n")) == "");
  CHECK_THAT(error_of(platform("<prop id=\"moesim.nccl_version\" value=\"2.27\"/>\n")),
             Contains("p.xml:6") && Contains("'2.27' is not an NCCL version"));
}

TEST_CASE("the platform pre-check refuses what SimGrid aborts on, with the line", "[quick][sim][robust]")
{
  CHECK_THAT(error_of(platform("<zone id=\"z\" routing=\"Full\"></zone>\n")), Contains("p.xml:6") && Contains("<zone>"));
  std::string bogus = platform();
  bogus.replace(bogus.find("Full"), 4, "Bogus");
  CHECK_THAT(error_of(bogus), Contains("p.xml:4") && Contains("routing=\"Bogus\""));
  CHECK_THAT(error_of(platform("<link id=\"l1\" bandwidth=\"1GBps\" latency=\"0\"/>\n")),
             Contains("p.xml:10") && Contains("declared twice"));
  CHECK_THAT(error_of(platform("", "core=\"0\" speed=\"1Tf\"")), Contains("p.xml:6") && Contains("core"));
  CHECK_THAT(error_of(platform("", "speed=\"inf\"")), Contains("p.xml:6") && Contains("host gpu0.speed"));
  CHECK_THAT(error_of(platform("", "speed=\"1Tf,2Tf\"")), Contains("power states"));
  CHECK_THAT(error_of(platform("", "speed=\"1Tf\"", "bandwidth=\"1e400GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"")),
             Contains("p.xml:8") && Contains("l0.bandwidth"));
  CHECK_THAT(error_of(platform("", "speed=\"1Tf\"", "bandwidth=\"0GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"")),
             Contains("no bandwidth"));
  CHECK_THAT(error_of(platform("", "speed=\"1Tf\"", "bandwidth=\"50\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"")),
             Contains("no unit"));
  CHECK_THAT(error_of(platform("", "speed=\"1Tf\"", "bandwidth=\"50GBps\" latency=\"-1us\" sharing_policy=\"SPLITDUPLEX\"")),
             Contains("negative"));
  CHECK_THAT(error_of(platform("", "speed=\"1Tf\"", "bandwidth=\"50GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"",
                               "<link_ctn id=\"l0\"/><link_ctn id=\"l1\" direction=\"DOWN\"/>")),
             Contains("p.xml:10") && Contains("without a direction"));
  CHECK_THAT(error_of(platform("", "speed=\"1Tf\"", "bandwidth=\"50GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"",
                               "<link_ctn id=\"nope\" direction=\"UP\"/>")),
             Contains("not declared"));
  CHECK_THAT(error_of(platform("<prop id=\"moesim.gpus\" value=\"3\"/>\n")), Contains("declared twice"));
  std::string frac = platform();
  frac.replace(frac.find("value=\"2\""), 9, "value=\"3.7\"");
  CHECK_THAT(error_of(frac), Contains("p.xml:5") && Contains("whole number"));
  std::string eff = platform();
  eff.replace(eff.find("value=\"0.75\""), 12, "value=\"7\"");
  CHECK_THAT(error_of(eff), Contains("p.xml:6") && Contains("flops_eff"));
  CHECK_THAT(error_of(platform("<prop id=\"moesim.gpu\" value=\"2\"/>\n")), Contains("unknown moesim property"));
  // A second route for a pair already routed both ways.
  std::string twice = platform();
  twice.insert(twice.find("</zone>"), "<route src=\"gpu1\" dst=\"gpu0\"><link_ctn id=\"l1\" direction=\"UP\"/></route>\n");
  CHECK_THAT(error_of(twice), Contains("p.xml:11") && Contains("second route"));
}

TEST_CASE("the platform pre-check reads XML without recursion and refuses what is not XML", "[quick][sim][robust]")
{
  // 100,000 nested elements: the scanner stops at its depth limit (a recursive parser would have
  // to hold them all on the stack).
  std::string deep;
  for (int i = 0; i < 100000; i++)
    deep += "<a>";
  XmlScanner scan(deep, "d.xml", 8);
  XmlTag tag;
  int tags = 0;
  CHECK_THROWS_WITH([&] { while (scan.next(tag)) tags++; }(), Contains("d.xml:1") && Contains("nested deeper than 8"));
  CHECK(tags == 8);
  CHECK_THAT(error_of("<platform version=\"4.1\">\n<zone id=\"t\" routing=\"Full\">\n"), Contains("p.xml:3") && Contains("ends inside"));
  CHECK_THAT(error_of("<platform version='4.1'>text</platform>"), Contains("text between tags"));
  CHECK_THAT(error_of("<platform version='4.1' version='4.1'/>"), Contains("given twice"));
  CHECK_THAT(error_of("<platform version='&bogus;'/>"), Contains("unknown entity"));
  CHECK_THAT(error_of("<!DOCTYPE platform [<!ENTITY x 'y'>]><platform version='4.1'/>"), Contains("internal subset"));
  CHECK_THAT(error_of(std::string("<platform version='4.1'/>\0", 26)), Contains("NUL"));
  CHECK_THAT(error_of("<platform version='4.1'></zone>"), Contains("closes <platform>"));
  CHECK_THAT(error_of("<platform/><platform/>"), Contains("version"));
  CHECK_THAT(error_of("<platform version='4.1'/><platform version='4.1'/>"), Contains("second root"));
  CHECK_THAT(error_of(""), Contains("no element"));
}

TEST_CASE("the platform pre-check reads moesim.nodes as Platform does", "[quick][sim][robust]")
{
  // 2 GPUs: one node of 2, or 2 nodes of 1 (moesim.gpus_per_node may be left out; it is 2 / 2).
  CHECK(error_of(platform("<prop id=\"moesim.nodes\" value=\"1\"/>\n")) == "");
  CHECK(error_of(platform("<prop id=\"moesim.nodes\" value=\"2\"/>\n<prop id=\"moesim.gpus_per_node\" value=\"1\"/>\n")) == "");
  // 3 nodes cannot share 2 GPUs; 2 nodes of 2 are 4 GPUs, not 2. The line is moesim.nodes'.
  CHECK_THAT(error_of(platform("<prop id=\"moesim.nodes\" value=\"3\"/>\n")),
             Contains("p.xml:6") && Contains("moesim.nodes") && Contains("3 does not divide moesim.gpus (2)"));
  CHECK_THAT(error_of(platform("<prop id=\"moesim.nodes\" value=\"2\"/>\n<prop id=\"moesim.gpus_per_node\" value=\"2\"/>\n")),
             Contains("p.xml:6") && Contains("2 nodes x moesim.gpus_per_node 2 is not moesim.gpus (2)"));
}
