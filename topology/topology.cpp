#include "topology/topology.hpp"

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/numbers.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

namespace moesim {

const char* to_string(PathLevel l)
{
  switch (l) {
    case PathLevel::pix: return "pix";
    case PathLevel::pxb: return "pxb";
    case PathLevel::phb: return "phb";
    case PathLevel::sys: return "sys";
  }
  return "?";
}

PathLevel parse_path_level(const std::string& s)
{
  for (PathLevel l : {PathLevel::pix, PathLevel::pxb, PathLevel::phb, PathLevel::sys})
    if (s == to_string(l))
      return l;
  throw std::invalid_argument("unknown path level '" + s + "'");
}

std::string Topology::where(const std::string& key) const
{
  auto it = lines.find(key);
  return it == lines.end() ? file : file + ":" + std::to_string(it->second);
}

int Topology::nic_of(int g) const
{
  const int nics = network ? static_cast<int>(network->nics_at.size()) : 0;
  return nics ? g * nics / gpus : -1;
}

namespace {

int line_of(const YAML::Node& n)
{
  return n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

// Reads a positive bandwidth (or size/time) and remembers its line under `lines[path]`.
Quantity positive(Fields& f, const std::string& key, Dimension d, Topology& t, const char* fix)
{
  YAML::Node n = f.node(key);
  t.lines[f.path(key)] = line_of(n);
  if (!n.IsScalar())
    f.fail(key, "expected a single value", fix);
  Quantity q;
  try {
    q = parse_quantity(n.Scalar(), d);
  } catch (const std::invalid_argument& e) {
    f.fail(key, e.what(), fix);
  }
  if (!(q.value() > 0))
    f.fail(key, d == Dimension::bandwidth ? "a link with no bandwidth" : "must be positive", fix);
  return q;
}

std::optional<Quantity> maybe_positive(Fields& f, const std::string& key, Dimension d, Topology& t, const char* fix)
{
  if (!f.has(key)) {
    f.maybe(key);
    return std::nullopt;
  }
  return positive(f, key, d, t, fix);
}

std::vector<std::string> names_list(Fields& f, const std::string& key, Topology& t)
{
  t.lines[f.path(key)] = line_of(f.node(key));
  return f.str_list(key);
}

void read_host(Fields& f, Topology& t)
{
  t.sockets = f.integer_in("sockets", 1, 1, 8);
  t.lines["host.sockets"] = f.has("sockets") ? line_of(f.node("sockets")) : 0;
  if (auto m = maybe_positive(f, "memory", Dimension::bandwidth, t, "write the effective host memory bandwidth per socket, e.g. 249.6GBps"))
    t.memory = *m;
  t.interconnect = maybe_positive(f, "interconnect", Dimension::bandwidth, t,
                                  "write the socket-to-socket bandwidth per direction, e.g. 128GBps");
  if (t.interconnect && t.sockets == 1)
    f.fail("interconnect", "a one-socket host has no CPU interconnect", "remove it or set sockets: 2");
  f.finish();
}

void read_pcie(Fields& f, Topology& t)
{
  if (auto l = maybe_positive(f, "gpu_link", Dimension::bandwidth, t, "write each GPU's PCIe link per direction, e.g. 53GBps"))
    t.gpu_link = *l;
  t.gpu_link_class = f.str("gpu_link_class", "pcie");
  if (t.gpu_link_class.empty() || t.gpu_link_class.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
    f.fail("gpu_link_class", "must be a lower-case word", "write pcie (the default) or e.g. c2c");
  if (auto sw = f.maybe("switches")) {
    if (!sw->IsSequence())
      f.fail("switches", "expected a list", "write `switches: [{name: sw0, parent: cpu0, uplink: 53GBps}]`");
    if (sw->size() > static_cast<size_t>(limits::pcie_switches))
      f.fail("switches", std::to_string(sw->size()) + " switches, more than the " +
                             std::to_string(limits::pcie_switches) + " moesim takes per node",
             "model the PCIe tree with fewer switches");
    for (const auto& n : *sw) {
      Fields sf(t.file, n, "pcie.switches[]");
      PcieSwitch s;
      s.line = line_of(n);
      s.name = sf.str("name");
      s.parent = sf.str("parent");
      s.uplink = positive(sf, "uplink", Dimension::bandwidth, t, "write the switch's uplink per direction, e.g. 53GBps");
      t.lines["pcie.switch." + s.name] = s.line;
      sf.finish();
      if (s.name.rfind("cpu", 0) == 0 || s.name.find_first_of(" \t\"<>&'") != std::string::npos)
        sf.fail("name", "'" + s.name + "' is not a switch name (cpuN names sockets)", "use names like sw0");
      for (const PcieSwitch& o : t.switches)
        if (o.name == s.name)
          sf.fail("name", "switch '" + s.name + "' is declared twice", "give each switch its own name");
      t.switches.push_back(s);
    }
  }
  if (f.has("gpus_at"))
    t.gpus_at = names_list(f, "gpus_at", t);
  else
    f.maybe("gpus_at");
  f.finish();
}

void read_nvlink(Fields& f, Topology& t)
{
  const bool sw = f.has("switch"), mesh = f.has("mesh");
  if (sw == mesh)
    f.fail(sw ? "mesh" : "switch", "give exactly one of switch or mesh",
           "write `switch: 450GBps` (NVSwitch, per GPU) or `mesh: 100GBps` with `pairs:` (point-to-point)");
  if (sw) {
    t.nvlink = NvlinkKind::nvswitch;
    t.nvlink_bw = positive(f, "switch", Dimension::bandwidth, t, "write the NVLink bandwidth per GPU per direction, e.g. 450GBps");
    f.maybe("mesh");
    t.nvlink_domain_nodes = f.integer_in("domain_nodes", 1, 1, limits::gpus);
    if (t.nodes % t.nvlink_domain_nodes)
      f.fail("domain_nodes", "must divide nodes (" + std::to_string(t.nodes) + ")",
             "write how many consecutive nodes share one NVSwitch fabric, e.g. 18 for a GB200 NVL72 rack");
    if (f.has("pairs"))
      f.fail("pairs", "pairs belong to a mesh, not to an NVSwitch", "remove pairs or write mesh instead of switch");
    f.maybe("pairs");
  } else {
    t.nvlink = NvlinkKind::mesh;
    t.nvlink_bw = positive(f, "mesh", Dimension::bandwidth, t, "write the NVLink bandwidth per GPU pair per direction, e.g. 100GBps");
    f.maybe("switch");
    if (f.has("domain_nodes"))
      f.fail("domain_nodes", "an NVLink mesh stays inside one node", "remove domain_nodes");
    f.maybe("domain_nodes");
    YAML::Node pairs = f.node("pairs");
    t.lines["nvlink.pairs"] = line_of(pairs);
    std::set<std::pair<int, int>> seen;
    auto add = [&](int a, int b, std::optional<Quantity> bw, const YAML::Node& at) {
      if (a < 0 || b < 0 || a >= t.gpus || b >= t.gpus || a == b)
        throw InputError(t.file + ":" + std::to_string(line_of(at)), "nvlink.pairs",
                         "pair [" + std::to_string(a) + ", " + std::to_string(b) + "] does not name two GPUs of the node",
                         "use local GPU indices 0.." + std::to_string(t.gpus - 1));
      if (!seen.insert({std::min(a, b), std::max(a, b)}).second)
        throw InputError(t.file + ":" + std::to_string(line_of(at)), "nvlink.pairs",
                         "pair [" + std::to_string(a) + ", " + std::to_string(b) + "] is listed twice", "list each pair once");
      t.nvlink_pairs.push_back({std::min(a, b), std::max(a, b), bw});
    };
    if (pairs.IsScalar() && pairs.Scalar() == "all") {
      for (int a = 0; a < t.gpus; a++)
        for (int b = a + 1; b < t.gpus; b++)
          add(a, b, std::nullopt, pairs);
    } else if (pairs.IsSequence()) {
      for (const auto& p : pairs) {
        if (!p.IsSequence() || p.size() < 2 || p.size() > 3)
          throw InputError(t.file + ":" + std::to_string(line_of(p)), "nvlink.pairs", "expected [a, b] or [a, b, bandwidth]",
                           "write e.g. `pairs: [[0, 1], [2, 3, 50GBps]]` or `pairs: all`");
        int a = -1, b = -1;
        for (auto [i, out] : {std::pair{0, &a}, {1, &b}}) {
          const std::optional<double> v = p[i].IsScalar() ? parse_number(p[i].Scalar()) : std::nullopt;
          // Whole numbers here; whether they name GPUs of the node is add()'s check.
          const std::optional<long long> w = v ? whole_in(*v, Bounds{-1e6, 1e6}) : std::nullopt;
          if (!w)
            throw InputError(t.file + ":" + std::to_string(line_of(p)), "nvlink.pairs", "GPU indices must be integers",
                             "write e.g. [0, 1]");
          *out = static_cast<int>(*w);
        }
        std::optional<Quantity> bw;
        if (p.size() == 3) {
          try {
            if (!p[2].IsScalar())
              throw std::invalid_argument("the bandwidth must be a single value");
            bw = parse_quantity(p[2].Scalar(), Dimension::bandwidth);
          } catch (const std::invalid_argument& e) {
            throw InputError(t.file + ":" + std::to_string(line_of(p)), "nvlink.pairs", e.what(), "write e.g. 50GBps");
          }
          if (!(bw->value() > 0))
            throw InputError(t.file + ":" + std::to_string(line_of(p)), "nvlink.pairs", "a link with no bandwidth",
                             "give the pair a positive bandwidth or leave it out");
        }
        add(a, b, bw, p);
      }
    } else {
      f.fail("pairs", "expected `all` or a list of pairs", "write `pairs: all` or `pairs: [[0, 1], [2, 3]]`");
    }
  }
  f.finish();
}

void read_network(Fields& f, Topology& t)
{
  Network n;
  n.nic = positive(f, "nic", Dimension::bandwidth, t, "write each NIC's line rate per direction, e.g. 400Gbps");
  n.nics_at = names_list(f, "nics_at", t);
  if (n.nics_at.size() > static_cast<size_t>(limits::nics))
    f.fail("nics_at", std::to_string(n.nics_at.size()) + " NICs per node, more than the " + std::to_string(limits::nics) +
                          " moesim takes", "list at most " + std::to_string(limits::nics));
  const std::string fabric = f.str("fabric", "rail");
  t.lines["network.fabric"] = f.has("fabric") ? line_of(f.node("fabric")) : 0;
  if (fabric == "rail")
    n.fabric = Fabric::rail;
  else if (fabric == "fat_tree")
    n.fabric = Fabric::fat_tree;
  else
    f.fail("fabric", "unknown fabric '" + fabric + "'", "use rail (rail-optimised) or fat_tree");
  if (n.fabric == Fabric::rail) {
    n.rails = f.integer_in("rails", 1, limits::nics);
    t.lines["network.rails"] = line_of(f.node("rails"));
    if (n.rails != static_cast<int>(n.nics_at.size()))
      f.fail("rails", "rails: " + std::to_string(n.rails) + " but " + std::to_string(n.nics_at.size()) +
                          " NICs per node in nics_at (rail r is NIC r of every node)",
             "set rails: " + std::to_string(n.nics_at.size()) + " or list one NIC per rail in nics_at");
  } else {
    if (f.has("rails"))
      f.fail("rails", "a fat tree has no rails", "remove rails or use fabric: rail");
    f.maybe("rails");
  }
  n.oversubscription = f.num("oversubscription", 1, Bounds{1, 1024});
  n.nodes_per_leaf = f.integer_in("nodes_per_leaf", t.nodes, 1, t.nodes);
  if (t.nodes % n.nodes_per_leaf)
    f.fail("nodes_per_leaf", "must divide nodes (" + std::to_string(t.nodes) + ")", "write e.g. " + std::to_string(t.nodes));
  if (n.fabric == Fabric::fat_tree && n.oversubscription > 1 && n.nodes_per_leaf == t.nodes)
    f.fail("oversubscription", "with every node under one leaf nothing crosses the oversubscribed uplinks",
           "set nodes_per_leaf below " + std::to_string(t.nodes) + ", or oversubscription: 1");
  n.pxn = f.boolean("pxn", true);
  n.gpudirect = f.boolean("gpudirect", true);
  if (f.has("gdr_level")) {
    try {
      n.gdr_level = parse_path_level(f.str("gdr_level"));
    } catch (const std::invalid_argument& e) {
      f.fail("gdr_level", e.what(), "use pix, pxb (NCCL's default), phb or sys");
    }
  } else {
    f.maybe("gdr_level");
  }
  f.finish();
  t.network = n;
}

std::optional<Quantity> time_value(Fields& f, const std::string& key)
{
  if (!f.has(key)) {
    f.maybe(key);
    return std::nullopt;
  }
  try {
    Quantity q = parse_quantity(f.str(key), Dimension::time);
    if (q.value() < 0)
      f.fail(key, "must not be negative", "write e.g. 2us");
    return q;
  } catch (const std::invalid_argument& e) {
    f.fail(key, e.what(), "write e.g. 2us");
  }
}

} // namespace

void validate_topology(const Topology& t, const std::string& source)
{
  auto bad = [&](const std::string& key, const std::string& what, const std::string& fix) {
    throw InputError(source, key, what, fix);
  };
  // Every quantity positive and at most its dimension's largest, also after an override scaled it.
  auto check = [&](const Quantity& q, Dimension d, const std::string& key, const char* what) {
    if (!(q.value() > 0))
      bad(key, what, "give a positive value");
    if (!(q.value() <= largest(d)))
      bad(key, q.text() + " is more than " + shortest(largest(d)) + " " + (d == Dimension::bandwidth ? "B/s" : d == Dimension::size ? "B" : "FLOP/s"),
          "give a smaller value");
  };
  check(t.gpu.mem_bw, Dimension::bandwidth, "gpu.mem_bw", "must be positive");
  check(t.gpu.memory, Dimension::size, "gpu.mem_bytes", "must be positive");
  for (const auto& [d, q] : t.gpu.flops)
    check(q, Dimension::flops, std::string("gpu.flops.") + to_string(d), "must be positive");
  if (!t.gpu_link.unit.empty())
    check(t.gpu_link, Dimension::bandwidth, "link." + t.gpu_link_class + ".bandwidth", "a link with no bandwidth");
  if (t.nvlink != NvlinkKind::none)
    check(t.nvlink_bw, Dimension::bandwidth, "link.nvlink.bandwidth", "a link with no bandwidth");
  for (const NvlinkPair& p : t.nvlink_pairs)
    if (p.bw)
      check(*p.bw, Dimension::bandwidth, "link.nvlink.bandwidth", "a link with no bandwidth");
  if (!t.memory.unit.empty())
    check(t.memory, Dimension::bandwidth, "link.host_memory.bandwidth", "a link with no bandwidth");
  if (t.interconnect)
    check(*t.interconnect, Dimension::bandwidth, "link.cpu_interconnect.bandwidth", "a link with no bandwidth");
  if (t.network)
    check(t.network->nic, Dimension::bandwidth, "link.nic.bandwidth", "a link with no bandwidth");
  if (t.network && !(t.network->oversubscription >= 1 && t.network->oversubscription <= 1024))
    bad("network.oversubscription", "must be between 1 and 1024", "write e.g. 2 for 2:1");
  for (const PcieSwitch& s : t.switches)
    check(s.uplink, Dimension::bandwidth, "link." + t.gpu_link_class + ".bandwidth", "a switch uplink with no bandwidth");
}

Topology load_topology(const std::string& path, const GpuCatalog& catalog, GpuLimit limit)
{
  YAML::Node doc = load_yaml_file(path);
  Fields f(path, doc, "");
  Topology t;
  t.file = path;
  t.name = f.str("name", std::filesystem::path(path).stem().string());
  if (t.name.empty() || t.name.find_first_of(" \t\"<>&'/") != std::string::npos)
    f.fail("name", "'" + t.name + "' is not a platform name", "use letters, digits, '-' and '_'");
  t.description = f.str("description");
  t.sources = f.str("sources", "");
  YAML::Node g = f.node("gpu");
  t.lines["gpu"] = line_of(g);
  if (g.IsScalar()) {
    const GpuModel* m = catalog.find(g.Scalar());
    if (!m) {
      std::string known;
      for (const std::string& n : catalog.names())
        known += (known.empty() ? "" : ", ") + n;
      f.fail("gpu", "unknown GPU model '" + g.Scalar() + "'",
             "use one of " + known + " (" + catalog.file() + "), or spell the spec out as a map");
    }
    t.gpu = *m;
  } else {
    Fields gf(path, g, "gpu");
    t.gpu = parse_gpu_model(gf, "inline");
  }
  t.nodes = f.integer_in("nodes", 1, 1, limit.gpus);
  t.lines["nodes"] = f.has("nodes") ? line_of(f.node("nodes")) : 0;
  t.gpus = f.integer_in("gpus", 1, limit.gpus);
  t.lines["gpus"] = line_of(f.node("gpus"));
  // Checked before anything is allocated per GPU (routes grow with the square of the count).
  if (static_cast<long long>(t.nodes) * t.gpus > limit.gpus)
    f.fail(f.has("nodes") ? "nodes" : "gpus",
           std::to_string(t.nodes) + " nodes x " + std::to_string(t.gpus) + " GPUs is more than the " +
               std::to_string(limit.gpus) + " GPUs " + limit.holder,
           "simulate a slice of the machine (fewer nodes) with at most " + std::to_string(limit.gpus) + " GPUs");
  t.p2p = f.boolean("p2p", true);
  t.lines["p2p"] = f.has("p2p") ? line_of(f.node("p2p")) : 0;
  if (f.has("p2p_level")) {
    try {
      t.p2p_level = parse_path_level(f.str("p2p_level"));
    } catch (const std::invalid_argument& e) {
      f.fail("p2p_level", e.what(),
             "use pix, pxb (NCCL's default on Intel CPUs), phb or sys (P2P wherever PCIe reaches)");
    }
  } else {
    f.maybe("p2p_level");
  }
  if (auto h = f.maybe("host")) {
    t.lines["host"] = line_of(*h);
    Fields hf(path, *h, "host");
    read_host(hf, t);
  }
  if (auto p = f.maybe("pcie")) {
    t.lines["pcie"] = line_of(*p);
    Fields pf(path, *p, "pcie");
    read_pcie(pf, t);
  }
  if (t.gpus_at.empty() && !t.gpu_link.unit.empty())
    t.gpus_at.assign(t.gpus, "cpu0");
  if (auto n = f.maybe("nvlink")) {
    Fields nf(path, *n, "nvlink");
    t.lines["nvlink"] = line_of(*n);
    read_nvlink(nf, t);
  }
  if (auto n = f.maybe("network")) {
    Fields nf(path, *n, "network");
    t.lines["network"] = line_of(*n);
    read_network(nf, t);
  }
  if (auto l = f.maybe("latency")) {
    Fields lf(path, *l, "latency");
    for (const auto& kv : *l) {
      const std::string cls = kv.first.Scalar();
      if (auto q = time_value(lf, cls))
        t.latency[cls] = *q;
    }
    lf.finish();
  }
  if (auto n = f.maybe("nccl")) {
    Fields nf(path, *n, "nccl");
    t.p2p_alpha = time_value(nf, "p2p_alpha");
    t.nccl_algo = nf.str("algo", "");
    if (!t.nccl_algo.empty() && t.nccl_algo != "ring" && t.nccl_algo != "tree" && t.nccl_algo != "auto")
      nf.fail("algo", "unknown algorithm '" + t.nccl_algo + "'", "use ring, tree or auto");
    nf.finish();
  }
  f.finish();

  // References between sections: every attach point must exist, switches must form a tree.
  auto known_points = [&] {
    std::string s;
    for (int c = 0; c < t.sockets; c++)
      s += (s.empty() ? "" : ", ") + ("cpu" + std::to_string(c));
    for (const PcieSwitch& sw : t.switches)
      s += ", " + sw.name;
    return s;
  };
  auto is_point = [&](const std::string& n) {
    for (int c = 0; c < t.sockets; c++)
      if (n == "cpu" + std::to_string(c))
        return true;
    return std::any_of(t.switches.begin(), t.switches.end(), [&](const PcieSwitch& s) { return s.name == n; });
  };
  for (const PcieSwitch& s : t.switches) {
    if (!is_point(s.parent) || s.parent == s.name)
      throw InputError(path + ":" + std::to_string(s.line), "pcie.switches." + s.name + ".parent",
                       "dangling reference '" + s.parent + "'", "name a socket or another switch: " + known_points());
    // Walk up: a cycle never reaches a socket.
    std::string at = s.parent;
    for (size_t hops = 0; at.rfind("cpu", 0) != 0; hops++) {
      if (hops > t.switches.size())
        throw InputError(path + ":" + std::to_string(s.line), "pcie.switches." + s.name + ".parent",
                         "the switches' parents form a loop", "make every chain of parents end at a socket (cpuN)");
      at = std::find_if(t.switches.begin(), t.switches.end(), [&](const PcieSwitch& o) { return o.name == at; })->parent;
    }
  }
  if (!t.switches.empty() && t.gpu_link.unit.empty())
    throw InputError(t.where("pcie"), "pcie.gpu_link", "switches are declared but the GPUs have no PCIe link",
                     "add `gpu_link: 53GBps` (each GPU's link, per direction)");
  if (!t.gpus_at.empty()) {
    if (t.gpu_link.unit.empty())
      throw InputError(t.where("pcie.gpus_at"), "pcie.gpu_link", "gpus_at is given but the GPUs have no PCIe link",
                       "add `gpu_link: 53GBps`");
    if (static_cast<int>(t.gpus_at.size()) != t.gpus)
      throw InputError(t.where("pcie.gpus_at"), "pcie.gpus_at",
                       std::to_string(t.gpus_at.size()) + " entries for " + std::to_string(t.gpus) + " GPUs per node",
                       "give one attach point per GPU");
    for (const std::string& a : t.gpus_at)
      if (!is_point(a))
        throw InputError(t.where("pcie.gpus_at"), "pcie.gpus_at", "dangling reference '" + a + "'",
                         "name a socket or a switch: " + known_points());
  }
  if (t.network) {
    for (const std::string& a : t.network->nics_at)
      if (!is_point(a))
        throw InputError(t.where("network.nics_at"), "network.nics_at", "dangling reference '" + a + "'",
                         "name a socket or a switch: " + known_points());
  }
  validate_topology(t, path);
  return t;
}

} // namespace moesim
