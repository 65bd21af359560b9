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

namespace {

pt::ptree read_platform(const std::string& file)
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
  return *platform;
}

// The value of <prop id="id"> directly under `n`, or "".
std::string prop(const pt::ptree& n, const std::string& id)
{
  for (const auto& [tag, child] : n)
    if (tag == "prop" && attr(child, "id") == id)
      return attr(child, "value");
  return "";
}

// Every <host> under `n`, at any depth, by id.
void collect_hosts(const pt::ptree& n, std::map<std::string, const pt::ptree*>& hosts)
{
  for (const auto& [tag, child] : n) {
    if (tag == "host")
      hosts.emplace(attr(child, "id"), &child);
    else if (tag == "zone" || tag == "cluster")
      collect_hosts(child, hosts);
  }
}

} // namespace

void check_platform_xml(const std::string& file)
{
  (void)read_platform(file);
}

std::vector<XmlGpu> platform_gpus_from_xml(const std::string& file)
{
  const pt::ptree platform = read_platform(file);
  // moesim.gpus on the top zone, or on the one zone inside it (as Platform reads it).
  std::string n;
  for (const auto& [tag, zone] : platform) {
    if (tag != "zone")
      continue;
    n = prop(zone, "moesim.gpus");
    if (n.empty()) {
      int zones = 0;
      const pt::ptree* only = nullptr;
      for (const auto& [ctag, child] : zone)
        if (ctag == "zone")
          zones++, only = &child;
      if (zones == 1)
        n = prop(*only, "moesim.gpus");
    }
    break;
  }
  if (n.empty())
    throw InputError(file, "moesim.gpus", "missing zone property", "add <prop id=\"moesim.gpus\" value=\"N\"/> to the zone");
  auto number = [&](const std::string& v, const std::string& key) {
    try {
      size_t pos = 0;
      const double d = std::stod(v, &pos);
      if (pos == v.size() && d >= 0)
        return d;
    } catch (const std::exception&) {
    }
    throw InputError(file, key, "'" + v + "' is not a non-negative number", "write a plain number, e.g. 3.35e12");
  };
  const double count = number(n, "zone.moesim.gpus");
  if (count < 1 || count != static_cast<double>(static_cast<int>(count)))
    throw InputError(file, "moesim.gpus", "must be a whole number of at least 1", "set it to the number of gpuN hosts");
  std::map<std::string, const pt::ptree*> hosts;
  collect_hosts(platform, hosts);
  std::vector<XmlGpu> gpus;
  for (int r = 0; r < static_cast<int>(count); r++) {
    const std::string name = "gpu" + std::to_string(r);
    const auto it = hosts.find(name);
    if (it == hosts.end())
      throw InputError(file, name, "no host named " + name + " although moesim.gpus is " + n,
                       "name the GPU hosts gpu0..gpu" + std::to_string(static_cast<int>(count) - 1));
    const std::string mem = prop(*it->second, "mem_bytes");
    if (mem.empty())
      throw InputError(file, name + ".mem_bytes", "missing property",
                       "add <prop id=\"mem_bytes\" value=\"...\"/> (see platforms/README.md)");
    gpus.push_back({name, number(mem, name + ".mem_bytes")});
  }
  return gpus;
}

} // namespace moesim
