#include "sim/platform_check.hpp"

#include "core/error.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <map>
#include <set>

namespace moesim {

namespace pt = boost::property_tree;

namespace {

std::string attr(const pt::ptree& n, const char* name)
{
  return n.get<std::string>(std::string("<xmlattr>.") + name, "");
}

void check_zone(const std::string& file, const pt::ptree& zone)
{
  std::set<std::string> links;
  std::vector<std::string> gpus;
  std::set<std::pair<std::string, std::string>> routes;
  for (const auto& [tag, child] : zone) {
    if (tag == "link" || tag == "backbone")
      links.insert(attr(child, "id"));
    else if (tag == "host" && attr(child, "id").rfind("gpu", 0) == 0)
      gpus.push_back(attr(child, "id"));
    else if (tag == "zone")
      check_zone(file, child);
  }
  for (const auto& [tag, child] : zone) {
    if (tag != "route")
      continue;
    const std::string src = attr(child, "src"), dst = attr(child, "dst");
    for (const auto& [ctag, ctn] : child)
      if (ctag == "link_ctn" && !links.count(attr(ctn, "id")))
        throw InputError(file, "route " + src + "->" + dst,
                         "link_ctn names link '" + attr(ctn, "id") + "', which is not declared in this zone",
                         "declare <link id=\"" + attr(ctn, "id") + "\" .../> or fix the name");
    routes.insert({src, dst});
    if (attr(child, "symmetrical") != "NO" && attr(child, "symmetrical") != "no")
      routes.insert({dst, src});
  }
  if (attr(zone, "routing") != "Full")
    return; // SimGrid computes the routes of other zone kinds itself
  for (const std::string& a : gpus)
    for (const std::string& b : gpus)
      if (a != b && !routes.count({a, b}))
        throw InputError(file, "route " + a + "->" + b, "the GPUs are not connected (no <route> in a Full zone)",
                         "add <route src=\"" + a + "\" dst=\"" + b + "\"> with the links between them");
}

} // namespace

void check_platform_xml(const std::string& file)
{
  pt::ptree tree;
  try {
    pt::read_xml(file, tree, pt::xml_parser::no_comments);
  } catch (const pt::xml_parser_error& e) {
    throw InputError(file + ":" + std::to_string(e.line()), "", "malformed XML: " + e.message(),
                     "fix the XML at that line");
  }
  auto platform = tree.get_child_optional("platform");
  if (!platform)
    throw InputError(file, "platform", "no <platform> element", "write a SimGrid platform (see platforms/README.md)");
  for (const auto& [tag, child] : *platform)
    if (tag == "zone")
      check_zone(file, child);
}

} // namespace moesim
