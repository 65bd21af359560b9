#include "sim/platform_check.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/nccl_model.hpp"
#include "core/numbers.hpp"
#include "sim/xml_scanner.hpp"
#include "topology/units.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

namespace moesim {
namespace {

const char* readme = "platforms/README.md";

class Checker {
public:
  Checker(const std::string& text, const std::string& file) : xml_(text, file, limits::xml_depth), file_(file) {}

  void run()
  {
    XmlTag t;
    while (xml_.next(t)) {
      if (t.end)
        end(t);
      else
        start(t);
    }
    if (!zone_seen_)
      fail(1, "platform", "no <zone>", "put the hosts, links and routes in one <zone id=\"...\" routing=\"Full\">");
    check_nodes();
    check_gpu_routes();
  }

  // After run(): the GPUs as Platform reads them, moesim.gpus = N and hosts gpu0..gpuN-1, each
  // with its mem_bytes.
  std::vector<XmlGpu> gpus() const
  {
    if (gpus_ == 0)
      throw InputError(file_, "moesim.gpus", "missing zone property",
                       "add <prop id=\"moesim.gpus\" value=\"N\"/> to the zone");
    std::vector<XmlGpu> out;
    for (int r = 0; r < gpus_; r++) {
      const std::string name = "gpu" + std::to_string(r);
      if (!hosts_.count(name))
        throw InputError(file_, name, "no host named " + name + " although moesim.gpus is " + std::to_string(gpus_),
                         "name the GPU hosts gpu0..gpu" + std::to_string(gpus_ - 1));
      const auto mem = mem_.find(name);
      if (mem == mem_.end())
        throw InputError(file_, name + ".mem_bytes", "missing property",
                         "add <prop id=\"mem_bytes\" value=\"...\"/> (see platforms/README.md)");
      out.push_back({name, mem->second});
    }
    return out;
  }

  // After run(): what an engine's path choices read (platform_traits in sim/platform.hpp reads the
  // same from SimGrid's routes): GPUs per node, NVLink between every GPU pair of a node (a route
  // with an nvlink link and no PCIe or host memory), peer access (no route through host memory).
  PlatformTraits traits() const
  {
    PlatformTraits t;
    t.gpus = static_cast<int>(gpus().size());
    t.gpus_per_node = gpus_per_node_ > 0 ? gpus_per_node_ : t.gpus;
    t.nvlink = true;
    t.p2p = true;
    for (int a = 0; a < t.gpus; a++)
      for (int b = 0; b < t.gpus; b++) {
        if (a == b || a / t.gpus_per_node != b / t.gpus_per_node)
          continue;
        bool nvlink = false, pcie = false, host = false;
        const auto route = route_links_.find({hosts_.at("gpu" + std::to_string(a)), hosts_.at("gpu" + std::to_string(b))});
        if (route != route_links_.end())
          for (const std::string& id : route->second) {
            const auto c = link_class_.find(id);
            const std::string cls = c == link_class_.end() ? "" : c->second;
            nvlink = nvlink || cls == "nvlink";
            pcie = pcie || cls == "pcie";
            host = host || cls == "host_memory" || cls == "cpu_interconnect";
          }
        t.nvlink = t.nvlink && nvlink && !pcie && !host;
        t.p2p = t.p2p && !host;
      }
    return t;
  }

private:
  struct Link {
    bool split = false;
  };

  [[noreturn]] void fail(int line, const std::string& key, const std::string& what, const std::string& fix) const
  {
    throw InputError(file_ + ":" + std::to_string(line), key, what, fix);
  }

  const std::string* attr(const XmlTag& t, const char* name) const
  {
    for (const auto& [n, v] : t.attrs)
      if (n == name)
        return &v;
    return nullptr;
  }
  const std::string& need(const XmlTag& t, const char* name, const std::string& key) const
  {
    const std::string* v = attr(t, name);
    if (!v)
      fail(t.line, key, "<" + t.name + "> without " + name + "=\"...\"", "add it (see " + std::string(readme) + ")");
    return *v;
  }
  void only(const XmlTag& t, std::initializer_list<const char*> allowed, const std::string& key) const
  {
    for (const auto& [n, v] : t.attrs) {
      bool ok = false;
      for (const char* a : allowed)
        ok = ok || n == a;
      if (!ok) {
        std::string list;
        for (const char* a : allowed)
          list += (list.empty() ? "" : ", ") + std::string(a);
        fail(t.line, key, "attribute " + n + " is not used by moesim platforms", "remove it (<" + t.name + "> takes " + list + ")");
      }
    }
  }

  // A quantity with a unit (0 may go without), finite, in the dimension's range.
  double quantity(const XmlTag& t, const std::string& text, Dimension d, const std::string& key) const
  {
    try {
      return parse_quantity(text, d).value();
    } catch (const std::invalid_argument& e) {
      fail(t.line, key, e.what(), "write e.g. " + std::string(d == Dimension::bandwidth ? "450GBps" : d == Dimension::flops ? "989.4Tf" : "0"));
    }
  }

  double number(int line, const std::string& text, const Bounds& b, const std::string& key, const char* example) const
  {
    const std::optional<double> v = parse_number(text);
    if (!v)
      fail(line, key, "'" + text + "' is not a finite number", std::string("write a plain number, e.g. ") + example);
    if (!b.contains(*v))
      fail(line, key, number_text(*v) + " is out of range", "write a value " + b.text());
    return *v;
  }

  void check_zone_prop(int line, const std::string& id, const std::string& v)
  {
    const std::string key = "zone prop " + id;
    if (id == "moesim.gpus" || id == "moesim.nodes" || id == "moesim.gpus_per_node") {
      const double n = number(line, v, Bounds{1, double(limits::gpus)}, key, "4");
      if (!whole_in(n, Bounds{1, double(limits::gpus)}))
        fail(line, key, v + " is not a whole number", "write the number of GPUs, e.g. 4");
      if (id == "moesim.gpus")
        gpus_ = static_cast<int>(n);
      if (id == "moesim.gpus_per_node")
        gpus_per_node_ = static_cast<int>(n);
      if (id == "moesim.nodes") {
        nodes_ = static_cast<int>(n);
        nodes_line_ = line;
      }
    } else if (id == "moesim.nccl_intra") {
      if (v != "nvlink" && v != "pci")
        fail(line, key, "'" + v + "' is not nvlink or pci", "write nvlink for NVLink machines, pci otherwise");
    } else if (id == "moesim.p2p") {
      if (v != "yes" && v != "no")
        fail(line, key, "'" + v + "' is not yes or no", "write yes or no");
    } else if (id == "moesim.nccl_algo") {
      if (v != "ring" && v != "tree" && v != "auto")
        fail(line, key, "unknown value '" + v + "'", "use ring, tree or auto");
    } else if (id == "moesim.nccl_version") {
      if (!parse_nccl_version(v))
        fail(line, key, "'" + v + "' is not an NCCL version", "write major.minor.patch, e.g. 2.27.3");
    } else if (id == "moesim.p2p_alpha" || id.rfind("moesim.latency.", 0) == 0) {
      number(line, v, non_negative(1), key, "1.2e-5 (seconds)");
    } else if (id != "moesim.description" && id.rfind("moesim.", 0) == 0) {
      fail(line, key, "unknown moesim property", "use moesim.gpus, moesim.nccl_intra, moesim.p2p, moesim.description, "
                                                 "moesim.nodes, moesim.gpus_per_node, moesim.p2p_alpha, moesim.nccl_algo, "
                                                 "moesim.nccl_version or moesim.latency.<class>");
    }
  }

  void check_host_prop(int line, const std::string& host, const std::string& id, const std::string& v)
  {
    const std::string key = "host " + host + " prop " + id;
    if (id == "gpu_model") {
      if (v.empty())
        fail(line, key, "empty", "write the name nvidia-smi prints");
    } else if (id == "mem_bytes") {
      mem_[host] = number(line, v, positive(largest(Dimension::size)), key, "85520809984");
    } else if (id == "mem_bw") {
      number(line, v, positive(largest(Dimension::bandwidth)), key, "3.35e12");
    } else if (id == "mem_bw_eff" || id == "flops_eff") {
      number(line, v, fraction(), key, "0.85");
    } else if (id.rfind("flops_", 0) == 0) {
      number(line, v, positive(largest(Dimension::flops)), key, "989.4e12");
    } else if (id == "kernel_overhead") {
      number(line, v, non_negative(1), key, "2e-6 (seconds)");
    } else if (id == "sm") { // the same rule as platforms/gpus.yaml's sm (topology/gpu_catalog.cpp)
      const double sm = number(line, v, Bounds{30, 999}, key, "90 (major*10+minor)");
      if (sm != std::floor(sm))
        fail(line, key, "'" + v + "' is not a compute capability", "write major*10+minor, e.g. 90 for Hopper");
    }
  }

  void add_id(std::set<std::string>& ids, const std::string& id, int line, const std::string& key, const char* what)
  {
    if (id.empty())
      fail(line, key, std::string("an empty ") + what + " id", "give it a name");
    if (!ids.insert(id).second)
      fail(line, key, std::string(what) + " '" + id + "' is declared twice", "give each " + std::string(what) + " its own id");
  }

  void start(const XmlTag& t)
  {
    const std::string parent = stack_.empty() ? "" : stack_.back();
    stack_.push_back(t.name);
    if (t.depth == 1) {
      if (t.name != "platform")
        fail(t.line, t.name, "the root element is <" + t.name + ">, not <platform>", "write a SimGrid platform (see " + std::string(readme) + ")");
      only(t, {"version"}, "platform");
      const std::string* v = attr(t, "version");
      if (!v || *v != "4.1")
        fail(t.line, "platform.version", "must be version=\"4.1\" (SimGrid 3.32's platform format)", "write <platform version=\"4.1\">");
      return;
    }
    if (parent == "platform") {
      if (t.name != "zone")
        fail(t.line, t.name, "<" + t.name + "> is not used by moesim platforms", "put everything in one <zone routing=\"Full\"> (see " + std::string(readme) + ")");
      if (zone_seen_)
        fail(t.line, "zone", "a second <zone>", "put every host, link and route in one zone");
      zone_seen_ = true;
      only(t, {"id", "routing"}, "zone");
      if (need(t, "id", "zone").empty())
        fail(t.line, "zone", "an empty zone id", "give the zone a name");
      if (need(t, "routing", "zone") != "Full")
        fail(t.line, "zone.routing", "routing=\"" + *attr(t, "routing") + "\": moesim platforms list every route",
             "write routing=\"Full\" and one <route> per GPU pair");
      return;
    }
    if (parent == "zone") {
      if (++zone_children_ > limits::xml_zone_children)
        fail(t.line, "zone", "more than " + std::to_string(limits::xml_zone_children) + " elements", "describe a smaller platform");
      if (t.name == "prop") {
        only(t, {"id", "value"}, "zone prop");
        const std::string& id = need(t, "id", "zone prop");
        add_id(zone_props_, id, t.line, "zone prop " + id, "property");
        check_zone_prop(t.line, id, need(t, "value", "zone prop " + id));
      } else if (t.name == "host") {
        only(t, {"id", "speed"}, "host");
        const std::string& id = need(t, "id", "host");
        add_id(names_, id, t.line, "host " + id, "host");
        if (static_cast<int>(hosts_.size()) >= limits::gpus)
          fail(t.line, "host " + id, "more than " + std::to_string(limits::gpus) + " hosts",
               "a platform may have at most " + std::to_string(limits::gpus) + " GPUs");
        const std::string& speed = need(t, "speed", "host " + id);
        if (speed.find(',') != std::string::npos)
          fail(t.line, "host " + id + ".speed", "several power states", "give one speed, the dense BF16 rate");
        if (!(quantity(t, speed, Dimension::flops, "host " + id + ".speed") > 0))
          fail(t.line, "host " + id + ".speed", "a GPU with no speed", "write its dense BF16 rate, e.g. 989.4Tf");
        hosts_.emplace(id, static_cast<int>(hosts_.size()));
        current_ = id;
        props_.clear();
      } else if (t.name == "link") {
        only(t, {"id", "bandwidth", "latency", "sharing_policy"}, "link");
        const std::string& id = need(t, "id", "link");
        const std::string key = "link " + id;
        const std::string* sp = attr(t, "sharing_policy");
        if (sp && *sp != "SHARED" && *sp != "SPLITDUPLEX" && *sp != "FATPIPE")
          fail(t.line, key + ".sharing_policy", "unknown policy '" + *sp + "'", "use SHARED, SPLITDUPLEX or FATPIPE");
        const bool split = sp && *sp == "SPLITDUPLEX";
        add_id(link_names_, id, t.line, key, "link");
        if (split) {
          add_id(link_names_, id + "_UP", t.line, key, "link");
          add_id(link_names_, id + "_DOWN", t.line, key, "link");
        }
        if (!(quantity(t, need(t, "bandwidth", key), Dimension::bandwidth, key + ".bandwidth") > 0))
          fail(t.line, key + ".bandwidth", "a link with no bandwidth", "give it a positive bandwidth, e.g. 450GBps");
        quantity(t, need(t, "latency", key), Dimension::time, key + ".latency");
        links_[id] = {split};
        current_ = id;
        props_.clear();
      } else if (t.name == "route") {
        only(t, {"src", "dst", "symmetrical"}, "route");
        const std::string& src = need(t, "src", "route"), &dst = need(t, "dst", "route");
        const std::string key = "route " + src + "->" + dst;
        const std::string* sym = attr(t, "symmetrical");
        if (sym && *sym != "YES" && *sym != "NO" && *sym != "yes" && *sym != "no")
          fail(t.line, key + ".symmetrical", "'" + *sym + "' is not YES or NO", "write YES or NO");
        auto host = [&](const std::string& h) {
          auto it = hosts_.find(h);
          if (it == hosts_.end())
            fail(t.line, key, "no host '" + h + "' is declared before this route", "declare <host id=\"" + h + "\" .../> first, or fix the name");
          return it->second;
        };
        const int a = host(src), b = host(dst);
        if (a == b)
          fail(t.line, key, "a route from a host to itself", "remove it");
        const bool both = !sym || *sym == "YES" || *sym == "yes";
        route_pairs_.clear();
        for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
          if (x == b && !both)
            break;
          route_pairs_.push_back({x, y});
          if (!routes_.insert({x, y}).second)
            fail(t.line, key, "a second route between these hosts" + std::string(x == b ? " (the first was symmetrical)" : ""),
                 "give each ordered pair one route");
        }
      } else {
        fail(t.line, t.name, "<" + t.name + "> is not used by moesim platforms",
             "use <prop>, <host>, <link> and <route> (see " + std::string(readme) + ")");
      }
      return;
    }
    if (parent == "host" || parent == "link") {
      if (t.name != "prop")
        fail(t.line, parent + " " + current_, "<" + t.name + "> inside <" + parent + ">", "a " + parent + " holds only <prop>s");
      only(t, {"id", "value"}, parent + " " + current_ + " prop");
      const std::string& id = need(t, "id", parent + " " + current_ + " prop");
      add_id(props_, id, t.line, parent + " " + current_ + " prop " + id, "property");
      const std::string& v = need(t, "value", parent + " " + current_ + " prop " + id);
      if (parent == "host")
        check_host_prop(t.line, current_, id, v);
      else if (id == "class" && v.empty())
        fail(t.line, "link " + current_ + " prop class", "empty", "write nvlink, pcie, host_memory, cpu_interconnect, nic, fabric or c2c");
      else if (id == "class")
        link_class_[current_] = v;
      return;
    }
    if (parent == "route") {
      if (t.name != "link_ctn")
        fail(t.line, t.name, "<" + t.name + "> inside <route>", "a route holds only <link_ctn id=\"...\"/>");
      only(t, {"id", "direction"}, "link_ctn");
      const std::string& id = need(t, "id", "link_ctn");
      auto it = links_.find(id);
      if (it == links_.end())
        fail(t.line, "link_ctn " + id, "link_ctn names link '" + id + "', which is not declared before it in this zone",
             "declare <link id=\"" + id + "\" .../> first, or fix the name");
      const std::string* dir = attr(t, "direction");
      if (dir && *dir != "UP" && *dir != "DOWN" && *dir != "NONE")
        fail(t.line, "link_ctn " + id + ".direction", "'" + *dir + "' is not UP or DOWN", "write UP or DOWN");
      const bool directed = dir && *dir != "NONE";
      if (it->second.split && !directed)
        fail(t.line, "link_ctn " + id, "a SPLITDUPLEX link crossed without a direction", "add direction=\"UP\" or \"DOWN\"");
      if (!it->second.split && directed)
        fail(t.line, "link_ctn " + id, "a direction on a link that is not SPLITDUPLEX", "remove direction, or make the link SPLITDUPLEX");
      for (const auto& pair : route_pairs_)
        route_links_[pair].push_back(id);
      return;
    }
    fail(t.line, t.name, "<" + t.name + "> inside <" + parent + ">", "see " + std::string(readme) + " for the elements moesim platforms use");
  }

  void end(const XmlTag& t)
  {
    stack_.pop_back();
    (void)t;
  }

  // In a Full zone SimGrid crashes on a GPU pair without a route; refuse it here.
  void check_gpu_routes() const
  {
    std::vector<std::pair<std::string, int>> gpus;
    for (const auto& [name, index] : hosts_)
      if (name.rfind("gpu", 0) == 0)
        gpus.push_back({name, index});
    std::sort(gpus.begin(), gpus.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
    for (const auto& [a, ia] : gpus)
      for (const auto& [b, ib] : gpus)
        if (ia != ib && !routes_.count({ia, ib}))
          throw InputError(file_, "route " + a + "->" + b, "the GPUs are not connected (no <route> in a Full zone)",
                           "add <route src=\"" + a + "\" dst=\"" + b + "\"> with the links between them");
    (void)gpus_;
  }

  XmlScanner xml_;
  std::string file_;
  std::vector<std::string> stack_;
  bool zone_seen_ = false;
  long zone_children_ = 0;
  int gpus_ = 0;
  int gpus_per_node_ = 0; // moesim.gpus_per_node (0: absent)
  int nodes_ = 0;         // moesim.nodes (0: absent)
  int nodes_line_ = 0;

  // moesim.nodes, as Platform reads it: it divides moesim.gpus, into moesim.gpus_per_node GPUs
  // when that is given (which it stands for when absent).
  void check_nodes()
  {
    if (nodes_ == 0 || gpus_ == 0)
      return;
    if (gpus_ % nodes_ != 0)
      fail(nodes_line_, "zone prop moesim.nodes",
           std::to_string(nodes_) + " does not divide moesim.gpus (" + std::to_string(gpus_) + ")",
           "write the number of identical nodes");
    if (gpus_per_node_ == 0)
      gpus_per_node_ = gpus_ / nodes_;
    else if (gpus_per_node_ * nodes_ != gpus_)
      fail(nodes_line_, "zone prop moesim.nodes",
           std::to_string(nodes_) + " nodes x moesim.gpus_per_node " + std::to_string(gpus_per_node_) +
               " is not moesim.gpus (" + std::to_string(gpus_) + ")",
           "write nodes x GPUs per node = GPUs");
  }
  std::string current_; // the host or link whose props are being read
  std::set<std::string> zone_props_, props_, names_, link_names_;
  std::unordered_map<std::string, int> hosts_; // id -> order of declaration
  std::map<std::string, double> mem_;          // host id -> mem_bytes
  std::map<std::string, Link> links_;
  std::set<std::pair<int, int>> routes_;
  std::vector<std::pair<int, int>> route_pairs_;                    // the ordered pairs of the route being read
  std::map<std::pair<int, int>, std::vector<std::string>> route_links_; // host indices -> link ids in order
  std::map<std::string, std::string> link_class_;                   // link id -> its class prop
};

} // namespace

void check_platform_xml_text(const std::string& text, const std::string& file)
{
  Checker(text, file).run();
}

void check_platform_xml(const std::string& file)
{
  check_platform_xml_text(read_input_file(file, limits::xml_bytes, "platform"), file);
}

std::vector<XmlGpu> platform_gpus_from_xml(const std::string& file)
{
  // The scanner holds a reference to the text: it must outlive the Checker.
  const std::string text = read_input_file(file, limits::xml_bytes, "platform");
  Checker c(text, file);
  c.run();
  return c.gpus();
}

PlatformTraits platform_traits_from_xml(const std::string& file)
{
  const std::string text = read_input_file(file, limits::xml_bytes, "platform");
  Checker c(text, file);
  c.run();
  return c.traits();
}

std::pair<std::vector<XmlGpu>, PlatformTraits> platform_facts_from_xml_text(const std::string& text,
                                                                            const std::string& file)
{
  Checker c(text, file);
  c.run();
  return {c.gpus(), c.traits()};
}

} // namespace moesim
