#include "topology/route_policy.hpp"
#include "topology/route_table.hpp"

#include "core/error.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/connected_components.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

namespace moesim {

bool mirrored(const std::vector<Hop>& a, const std::vector<Hop>& b)
{
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); i++) {
    Hop h = a[i];
    h.dir = h.dir == Dir::up ? Dir::down : h.dir == Dir::down ? Dir::up : Dir::none;
    if (!(b[a.size() - 1 - i] == h))
      return false;
  }
  return true;
}

bool RoutedTopology::symmetric(int s, int d) const
{
  return mirrored(route(s, d).hops, route(d, s).hops);
}

std::string describe_hops(const RoutedTopology& rt, const std::vector<Hop>& hops)
{
  std::string s;
  for (const Hop& h : hops)
    s += (s.empty() ? "" : ", ") + rt.links.at(h.link).name +
         (h.dir == Dir::up ? " UP" : h.dir == Dir::down ? " DOWN" : "");
  return s;
}

namespace {

enum class VKind { gpu, socket, pswitch, nic, nvswitch, leaf, spine };
enum class Tag : unsigned { pcie = 1, cpu = 2, nvlink = 4, net = 8 };

struct VProps {
  std::string name;
  VKind kind = VKind::gpu;
  int node = -1;
};
struct EProps {
  int link = -1;   // -1: an ideal connection (switch internals), never in a route
  size_t lower = 0; // the vertex an UP traversal starts from
  Tag tag = Tag::pcie;
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, VProps, EProps>;
using Vertex = Graph::vertex_descriptor;
using Edge = Graph::edge_descriptor;

// A shortest path: its vertices and the edges between them (one fewer).
struct Path {
  std::vector<Vertex> vs;
  std::vector<const EProps*> es;
  bool empty() const { return vs.empty(); }
};

// One vertex a breadth-first search reached, with the vertex and edge it was reached from.
struct Reached {
  Vertex v = 0, pred = 0;
  const EProps* edge = nullptr;
};
struct Search {
  std::vector<Reached> reached; // sorted by vertex
};

constexpr unsigned pcie_tags = static_cast<unsigned>(Tag::pcie) | static_cast<unsigned>(Tag::cpu);

Dir flip(Dir d)
{
  return d == Dir::up ? Dir::down : d == Dir::down ? Dir::up : Dir::none;
}

std::vector<Hop> reversed(const std::vector<Hop>& hops)
{
  std::vector<Hop> out(hops.rbegin(), hops.rend());
  for (Hop& h : out)
    h.dir = flip(h.dir);
  return out;
}

void append(std::vector<Hop>& to, const std::vector<Hop>& from)
{
  to.insert(to.end(), from.begin(), from.end());
}

// What route_topology keeps of a sender's way to its NIC over one rail (Builder::sender_part).
struct SenderPart {
  bool known = false;
  std::vector<Hop> hops;
  int src_nic = 0;
  std::string kind, detail;
};

class Builder {
public:
  explicit Builder(const Topology& t) : t_(t) {}

  // Every ordered GPU pair's route, handed to `visit(s, d, route)` as it is made (hops number
  // links_); returns which links some route used (0, else -1).
  template <class Visit>
  std::vector<int> each(Visit&& visit)
  {
    build();
    check_connected();
    const int n = t_.total_gpus();
    std::vector<int> used(links_.size(), -1);
    for (int s = 0; s < n; s++) {
      if (s % t_.gpus == 0)
        forget_wide_searches();
      for (int d = 0; d < n; d++)
        if (s != d) {
          GpuRoute r = route(s, d);
          for (const Hop& h : r.hops)
            used[h.link] = 0;
          visit(s, d, std::move(r));
        }
    }
    return used;
  }

  const std::vector<TopoLink>& all_links() const { return links_; }

  RoutedTopology run()
  {
    std::vector<std::vector<GpuRoute>> routes(t_.total_gpus(), std::vector<GpuRoute>(t_.total_gpus()));
    std::vector<int> remap = each([&](int s, int d, GpuRoute&& r) { routes[s][d] = std::move(r); });
    RoutedTopology rt = finish(remap);
    for (auto& row : routes)
      for (GpuRoute& r : row)
        for (Hop& h : r.hops)
          h.link = remap[h.link];
    rt.routes = std::move(routes);
    return rt;
  }

  // The routes held per rail (route_table.hpp): the same pairs in the same order as each(), so the
  // same checks and the same first error; pairs of one block are routed whole, pairs across blocks
  // take the sender's and receiver's parts network() takes and the fabric tree between the NICs.
  RoutedTopology table(RouteTable& tb)
  {
    build();
    check_connected();
    const int n = t_.total_gpus();
    const int nics = t_.network ? static_cast<int>(t_.network->nics_at.size()) : 0;
    tb = RouteTable{};
    tb.gpus = n;
    tb.per_node = t_.gpus;
    tb.block_gpus = std::min(n, t_.gpus * (t_.nvlink == NvlinkKind::nvswitch ? t_.nvlink_domain_nodes : 1));
    tb.rails = nics;
    tb.block.resize(static_cast<size_t>(n) * tb.block_gpus);
    tb.head.resize(static_cast<size_t>(n) * nics);
    tb.src_nic.resize(static_cast<size_t>(n) * nics, 0);
    tb.tail.resize(static_cast<size_t>(n));
    for (int g = 0; g < t_.gpus; g++)
      tb.rail_of.push_back(nics ? t_.nic_of(g) : 0);
    std::vector<int> used(links_.size(), -1);
    std::map<std::string, int> kinds;
    std::unordered_map<std::string, int> details;
    auto intern = [](auto& ids, std::vector<std::string>& names, const std::string& s) {
      auto [it, fresh] = ids.emplace(s, static_cast<int>(names.size()));
      if (fresh)
        names.push_back(s);
      return it->second;
    };
    auto keep = [&](const std::vector<Hop>& hops, const std::string& kind, const std::string& detail) {
      RouteTable::Piece p;
      p.first = static_cast<std::uint32_t>(tb.pool.size());
      p.count = static_cast<std::uint32_t>(hops.size());
      for (const Hop& h : hops) {
        tb.pool.push_back(h);
        used[h.link] = 0;
      }
      if (!kind.empty()) {
        p.kind = intern(kinds, tb.kinds, kind);
        p.detail = intern(details, tb.details, detail);
      }
      return p;
    };
    std::vector<char> have_head(tb.head.size(), 0), have_tail(tb.tail.size(), 0);
    for (int s = 0; s < n; s++) {
      if (s % t_.gpus == 0)
        forget_wide_searches();
      for (int d = 0; d < n; d++) {
        if (s == d)
          continue;
        if (s / tb.block_gpus == d / tb.block_gpus) {
          const GpuRoute r = route(s, d);
          tb.block[static_cast<size_t>(s) * tb.block_gpus + d % tb.block_gpus] = keep(r.hops, r.kind, r.detail);
          continue;
        }
        if (!t_.network)
          no_route(s, d, "the GPUs are on different nodes and there is no network", "nodes", "add a network section");
        const int rail = t_.nic_of(d % t_.gpus);
        const size_t h = static_cast<size_t>(s) * nics + rail;
        if (!have_head[h]) {
          const SenderPart& sp = sender_part(s, d, rail);
          tb.head[h] = keep(sp.hops, sp.kind, sp.detail);
          tb.src_nic[h] = sp.src_nic;
          have_head[h] = 1;
        }
        if (!have_tail[d]) {
          tb.tail[d] = keep(receiver_part(s, d, rail), "", "");
          have_tail[d] = 1;
        }
        // The fabric is a tree (a NIC on one leaf, the leaves on one spine): its one path.
        const size_t a = static_cast<size_t>(node_of(s)) * nics + tb.src_nic[h];
        const size_t b = static_cast<size_t>(node_of(d)) * nics + rail;
        used[nic_link_[a]] = used[nic_link_[b]] = 0;
        if (nic_leaf_[a] != nic_leaf_[b])
          for (size_t x : {a, b})
            if (const int up = leaf_up_.at(nic_leaf_[x]); up >= 0)
              used[up] = 0;
      }
    }
    RoutedTopology rt = finish(used);
    for (Hop& h : tb.pool)
      h.link = used[h.link];
    std::map<Vertex, int> leaf_index;
    for (size_t i = 0; i < nic_link_.size(); i++) {
      tb.nic_link.push_back(used[nic_link_[i]]);
      auto [it, fresh] = leaf_index.emplace(nic_leaf_[i], static_cast<int>(tb.leaf_up.size()));
      if (fresh) {
        auto up = leaf_up_.find(nic_leaf_[i]);
        tb.leaf_up.push_back(up == leaf_up_.end() || up->second < 0 ? -1 : used[up->second]);
      }
      tb.nic_leaf.push_back(it->second);
    }
    return rt;
  }

  // The topology with the links some route used, in declaration order, without routes; `used`
  // (from each) becomes each link's index there.
  RoutedTopology finish(std::vector<int>& used) const
  {
    RoutedTopology rt;
    rt.topo = t_;
    for (size_t i = 0; i < links_.size(); i++)
      if (used[i] == 0) {
        used[i] = static_cast<int>(rt.links.size());
        rt.links.push_back(links_[i]);
      }
    bool nv = t_.p2p && t_.nvlink != NvlinkKind::none;
    if (nv && t_.nvlink == NvlinkKind::mesh)
      for (int g = 0; g < t_.gpus; g++) {
        bool has = false;
        for (const NvlinkPair& p : t_.nvlink_pairs)
          has = has || p.a == g || p.b == g;
        nv = nv && (has || t_.gpus == 1);
      }
    rt.nccl_intra = nv ? "nvlink" : "pci";
    return rt;
  }

private:
  const Topology& t_;
  Graph g_;
  std::vector<TopoLink> links_;
  std::vector<Vertex> gpu_;
  std::vector<std::vector<Vertex>> socket_;
  std::vector<std::vector<int>> dram_;
  std::vector<std::vector<Vertex>> nic_;
  std::map<int, Vertex> nvswitch_;                 // per NVLink domain
  std::map<std::pair<int, int>, Vertex> leaf_;     // (rail or -1, leaf group)
  std::optional<Vertex> spine_;
  std::map<Vertex, int> leaf_up_;                  // leaf -> its uplink to the spine (-1: none)
  std::vector<Vertex> nic_leaf_;                   // [node * NICs + nic]: the leaf it hangs off
  std::vector<int> nic_link_;                      // [node * NICs + nic]: its link to the leaf
  mutable std::map<std::pair<Vertex, unsigned>, Search> searches_; // (source, tags) -> what it reached
  mutable std::vector<bool> seen_;
  mutable std::vector<SenderPart> sender_;                   // [gpu * NICs per node + rail]
  mutable std::vector<std::optional<std::vector<Hop>>> receiver_; // [gpu]

  std::string prefix(int node) const { return t_.nodes > 1 ? "n" + std::to_string(node) + "_" : ""; }
  int node_of(int gpu) const { return gpu / t_.gpus; }

  int add_link(std::string name, std::string cls, Quantity bw, Sharing sh, std::string what)
  {
    links_.push_back({std::move(name), std::move(cls), bw, sh, std::move(what)});
    return static_cast<int>(links_.size()) - 1;
  }
  Vertex add_vertex(std::string name, VKind k, int node) { return boost::add_vertex(VProps{std::move(name), k, node}, g_); }
  void add_edge(Vertex u, Vertex v, int link, Vertex lower, Tag tag) { boost::add_edge(u, v, EProps{link, lower, tag}, g_); }

  Vertex leaf(int node, int nic)
  {
    const Network& net = *t_.network;
    const int group = node / net.nodes_per_leaf;
    const int groups = t_.nodes / net.nodes_per_leaf;
    const int rail = net.fabric == Fabric::rail ? nic : -1;
    auto key = std::pair{rail, group};
    if (auto it = leaf_.find(key); it != leaf_.end())
      return it->second;
    std::string name = net.fabric == Fabric::rail ? "rail" + std::to_string(rail) : "leaf" + std::to_string(group);
    if (net.fabric == Fabric::rail && groups > 1)
      name += "_leaf" + std::to_string(group);
    Vertex v = add_vertex(name, VKind::leaf, -1);
    leaf_[key] = v;
    const int leaves = (net.fabric == Fabric::rail ? net.rails : 1) * groups;
    if (leaves > 1) {
      if (!spine_)
        spine_ = add_vertex("spine", VKind::spine, -1);
      int link = -1;
      if (net.oversubscription > 1) {
        const int ports = net.nodes_per_leaf * (net.fabric == Fabric::rail ? 1 : static_cast<int>(net.nics_at.size()));
        link = add_link(name + "_up", "fabric", net.nic.scaled(ports / net.oversubscription), Sharing::splitduplex,
                        name + " uplinks to the spine (" + shortest(net.oversubscription) + ":1)");
      }
      add_edge(v, *spine_, link, v, Tag::net);
      leaf_up_[v] = link;
    }
    return v;
  }

  void build()
  {
    for (int n = 0; n < t_.nodes; n++) {
      const std::string p = prefix(n), on = t_.nodes > 1 ? " (node " + std::to_string(n) + ")" : "";
      socket_.emplace_back();
      dram_.emplace_back();
      std::map<std::string, Vertex> point;
      for (int c = 0; c < t_.sockets; c++)
        socket_[n].push_back(point["cpu" + std::to_string(c)] = add_vertex(p + "cpu" + std::to_string(c), VKind::socket, n));
      for (const PcieSwitch& s : t_.switches)
        point[s.name] = add_vertex(p + s.name, VKind::pswitch, n);
      // Links in the order the platform file declares them: GPU links, switch uplinks, CPU
      // interconnect, host memory, then NVLink and NICs below.
      for (int i = 0; i < t_.gpus; i++) {
        const int gid = n * t_.gpus + i;
        const std::string name = "gpu" + std::to_string(gid);
        Vertex v = add_vertex(name, VKind::gpu, n);
        gpu_.push_back(v);
        if (!t_.gpus_at.empty())
          add_edge(v, point.at(t_.gpus_at[i]),
                   add_link(t_.gpu_link_class + "_" + name, t_.gpu_link_class, t_.gpu_link, Sharing::splitduplex,
                            name + "'s " + t_.gpu_link_class + " link to " + t_.gpus_at[i]),
                   v, Tag::pcie);
      }
      for (const PcieSwitch& s : t_.switches)
        add_edge(point[s.name], point[s.parent],
                 add_link(p + "up_" + s.name, t_.gpu_link_class, s.uplink, Sharing::splitduplex,
                          s.name + " uplink to " + s.parent + on),
                 point[s.name], Tag::pcie);
      if (t_.interconnect)
        for (int a = 0; a < t_.sockets; a++)
          for (int b = a + 1; b < t_.sockets; b++) {
            const std::string name = "cpu" + std::to_string(a) + "_cpu" + std::to_string(b);
            add_edge(socket_[n][a], socket_[n][b],
                     add_link(p + name, "cpu_interconnect", *t_.interconnect, Sharing::splitduplex,
                              "CPU interconnect cpu" + std::to_string(a) + " - cpu" + std::to_string(b) + on),
                     socket_[n][a], Tag::cpu);
          }
      for (int c = 0; c < t_.sockets; c++) {
        const std::string cpu = "cpu" + std::to_string(c);
        dram_[n].push_back(t_.memory.unit.empty()
                               ? -1
                               : add_link(p + (t_.sockets == 1 ? "dram" : "dram_" + cpu), "host_memory", t_.memory,
                                          Sharing::shared, "host memory of " + cpu + on));
      }
      if (t_.nvlink == NvlinkKind::nvswitch) {
        const int domain = n / t_.nvlink_domain_nodes;
        if (!nvswitch_.count(domain))
          nvswitch_[domain] = add_vertex("nvswitch" + std::to_string(domain), VKind::nvswitch, -1);
        for (int i = 0; i < t_.gpus; i++) {
          const int gid = n * t_.gpus + i;
          add_edge(gpu_[gid], nvswitch_[domain],
                   add_link("nvlink_gpu" + std::to_string(gid), "nvlink", t_.nvlink_bw, Sharing::splitduplex,
                            "gpu" + std::to_string(gid) + "'s NVLink into the NVSwitch fabric"),
                   gpu_[gid], Tag::nvlink);
        }
      } else if (t_.nvlink == NvlinkKind::mesh) {
        for (const NvlinkPair& pr : t_.nvlink_pairs) {
          const int a = n * t_.gpus + pr.a, b = n * t_.gpus + pr.b;
          const std::string name = "nvlink_gpu" + std::to_string(a) + "_gpu" + std::to_string(b);
          add_edge(gpu_[a], gpu_[b],
                   add_link(name, "nvlink", pr.bw ? *pr.bw : t_.nvlink_bw, Sharing::splitduplex,
                            "NVLink between gpu" + std::to_string(a) + " and gpu" + std::to_string(b)),
                   gpu_[a], Tag::nvlink);
        }
      }
      nic_.emplace_back();
      if (t_.network)
        for (size_t k = 0; k < t_.network->nics_at.size(); k++) {
          const std::string name = "nic" + std::to_string(k);
          Vertex v = add_vertex(p + name, VKind::nic, n);
          nic_[n].push_back(v);
          add_edge(v, point.at(t_.network->nics_at[k]), -1, v, Tag::pcie);
          const Vertex to = leaf(n, static_cast<int>(k));
          nic_leaf_.push_back(to);
          nic_link_.push_back(static_cast<int>(links_.size()));
          add_edge(v, to,
                   add_link(p + name, "nic", t_.network->nic, Sharing::splitduplex,
                            name + " on " + t_.network->nics_at[k] + on +
                                (t_.network->fabric == Fabric::rail ? ", rail " + std::to_string(k) : "")),
                   v, Tag::net);
        }
    }
  }

  void check_connected() const
  {
    std::vector<int> comp(boost::num_vertices(g_));
    boost::connected_components(g_, comp.data());
    for (int gid = 1; gid < t_.total_gpus(); gid++) {
      if (comp[gpu_[gid]] == comp[gpu_[0]])
        continue;
      const std::string who = "gpu" + std::to_string(gid) + (t_.nodes > 1 ? " (node " + std::to_string(node_of(gid)) + ")" : "");
      const bool same_domain = t_.nvlink == NvlinkKind::nvswitch && node_of(gid) / t_.nvlink_domain_nodes == 0;
      if (node_of(gid) != 0 && !t_.network && !same_domain)
        throw InputError(t_.where("nodes"), "network",
                         who + " has no path to gpu0: nodes: " + std::to_string(t_.nodes) + " but no network",
                         "add a network section (nic, nics_at, fabric, rails) or set nodes: 1");
      if (t_.gpus_at.empty() && t_.nvlink == NvlinkKind::none)
        throw InputError(t_.where("gpus"), "pcie.gpu_link", who + " has no path to gpu0: the GPUs have no PCIe link and no NVLink",
                         "add pcie: {gpu_link: 53GBps} or an nvlink section");
      if (t_.sockets > 1 && !t_.interconnect)
        throw InputError(t_.where("host.sockets"), "host.interconnect",
                         who + " has no path to gpu0: the " + std::to_string(t_.sockets) + " sockets are not connected",
                         "add host.interconnect (socket-to-socket bandwidth per direction)");
      throw InputError(t_.file, "gpu" + std::to_string(gid), who + " has no path to gpu0",
                       "connect it through pcie.gpus_at, nvlink or the network");
    }
  }

  // Shortest path (in hops) from a to b over edges with `tags`, never through a GPU other than a and
  // b; empty when there is none. One breadth-first search per (a, tags) answers every b: it visits
  // vertices and edges in the order a search on the graph filtered for (a, b) would, and a GPU other
  // than a is reached but never left, so b's predecessor is the one that search finds.
  Path path(Vertex a, Vertex b, unsigned tags) const
  {
    if (a == b)
      return {{a}, {}};
    const Search& sr = search(a, tags);
    auto at = [&](Vertex v) {
      auto it = std::lower_bound(sr.reached.begin(), sr.reached.end(), v,
                                 [](const Reached& r, Vertex x) { return r.v < x; });
      return it != sr.reached.end() && it->v == v ? &*it : nullptr;
    };
    const Reached* r = at(b);
    if (!r)
      return {};
    Path out;
    out.vs.push_back(b);
    while (r->v != a) {
      out.es.push_back(r->edge);
      out.vs.push_back(r->pred);
      r = at(r->pred);
    }
    std::reverse(out.vs.begin(), out.vs.end());
    std::reverse(out.es.begin(), out.es.end());
    return out;
  }

  const Search& search(Vertex a, unsigned tags) const
  {
    const auto key = std::pair{a, tags};
    if (auto it = searches_.find(key); it != searches_.end())
      return it->second;
    const Vertex none = boost::graph_traits<Graph>::null_vertex();
    std::vector<Reached> order{{a, none, nullptr}};
    seen_.resize(boost::num_vertices(g_), false);
    seen_[a] = true;
    for (size_t head = 0; head < order.size(); head++) {
      const Vertex u = order[head].v;
      if (u != a && g_[u].kind == VKind::gpu)
        continue;
      for (auto [it, end] = boost::out_edges(u, g_); it != end; ++it) {
        const Vertex v = boost::target(*it, g_);
        if (!(tags & static_cast<unsigned>(g_[*it].tag)) || seen_[v])
          continue;
        seen_[v] = true;
        order.push_back({v, u, &g_[*it]});
      }
    }
    for (const Reached& r : order)
      seen_[r.v] = false;
    std::sort(order.begin(), order.end(), [](const Reached& x, const Reached& y) { return x.v < y.v; });
    return searches_.emplace(key, Search{std::move(order)}).first->second;
  }

  // Searches that reach much of the graph (from a NIC into the fabric) are kept only while the
  // sources of one node are routed, so that memory stays linear in the GPUs.
  void forget_wide_searches() const
  {
    for (auto it = searches_.begin(); it != searches_.end();)
      it = it->second.reached.size() > 64 ? searches_.erase(it) : std::next(it);
  }

  std::vector<Hop> hops(const Path& p) const
  {
    std::vector<Hop> out;
    for (size_t i = 0; i < p.es.size(); i++) {
      const EProps& e = *p.es[i];
      if (e.link >= 0)
        out.push_back({e.link, e.lower == p.vs[i] ? Dir::up : Dir::down});
    }
    return out;
  }

  // NCCL's path class of a PCIe path between two devices.
  PathLevel level(const Path& p) const
  {
    int switches = 0;
    bool socket = false, cross = false;
    for (size_t i = 1; i + 1 < p.vs.size(); i++) {
      switches += g_[p.vs[i]].kind == VKind::pswitch;
      socket = socket || g_[p.vs[i]].kind == VKind::socket;
    }
    for (const EProps* e : p.es)
      cross = cross || e->tag == Tag::cpu;
    return cross ? PathLevel::sys : socket ? PathLevel::phb : switches >= 2 ? PathLevel::pxb : PathLevel::pix;
  }

  // The socket whose root complex a PCIe device hangs off, following the UP edges.
  std::optional<Vertex> socket_of(Vertex v) const
  {
    for (size_t guard = 0; guard <= boost::num_vertices(g_); guard++) {
      if (g_[v].kind == VKind::socket)
        return v;
      bool moved = false;
      for (auto [it, end] = boost::out_edges(v, g_); it != end && !moved; ++it)
        if (g_[*it].tag == Tag::pcie && g_[*it].lower == v) {
          v = boost::target(*it, g_);
          moved = true;
        }
      if (!moved)
        return std::nullopt;
    }
    return std::nullopt;
  }

  [[noreturn]] void no_route(int s, int d, const std::string& why, const std::string& key, const std::string& fix) const
  {
    throw InputError(t_.where(key), "gpu" + std::to_string(s) + " -> gpu" + std::to_string(d), "no route: " + why, fix);
  }

  std::optional<std::vector<Hop>> nvlink(int s, int d) const
  {
    if (t_.nvlink == NvlinkKind::none)
      return std::nullopt;
    if (t_.nvlink == NvlinkKind::mesh && node_of(s) != node_of(d))
      return std::nullopt;
    if (t_.nvlink == NvlinkKind::nvswitch && node_of(s) / t_.nvlink_domain_nodes != node_of(d) / t_.nvlink_domain_nodes)
      return std::nullopt;
    auto p = path(gpu_[s], gpu_[d], static_cast<unsigned>(Tag::nvlink));
    if (p.empty())
      return std::nullopt;
    return hops(p);
  }

  // `from` -> host memory -> `to`: the memory of the receiver's socket between two GPUs (NCCL's SHM
  // buffer lives on the receiving side, shm.cc NCCL_SHM_LOCALITY), of the GPU's own socket between a
  // GPU and a NIC (the proxy's bounce buffer, paths.cc).
  std::vector<Hop> staged(int s, int d, Vertex from, Vertex to, int node, bool at_receiver = false) const
  {
    auto sock = socket_of(at_receiver ? to : from);
    if (!sock)
      no_route(s, d, "staging through host memory needs a PCIe link to a socket", "pcie",
               "attach the GPUs with pcie.gpu_link / gpus_at");
    int c = 0;
    while (socket_[node][c] != *sock)
      c++;
    if (dram_[node][c] < 0)
      no_route(s, d, "without P2P or NVLink the data is staged through host memory, but host.memory is not given", "p2p",
               "add host: {memory: <bandwidth>} or turn p2p on");
    auto up = path(from, *sock, pcie_tags);
    auto down = path(*sock, to, pcie_tags);
    if (down.empty())
      no_route(s, d, "staging reaches cpu" + std::to_string(c) + " but not the destination", "host.sockets",
               "add host.interconnect between the sockets");
    std::vector<Hop> h = hops(up);
    h.push_back({dram_[node][c], Dir::none});
    h.push_back({dram_[node][c], Dir::none});
    append(h, hops(down));
    return h;
  }

  std::vector<Hop> gpu_to_nic(int s, int d, int g, Vertex nic) const
  {
    auto p = path(gpu_[g], nic, pcie_tags);
    if (p.empty())
      no_route(s, d, "gpu" + std::to_string(g) + " cannot reach its NIC over PCIe", "network.nics_at",
               "attach the NICs where the GPUs can reach them, or add host.interconnect");
    if (t_.network->gpudirect && level(p) <= t_.network->gdr_level)
      return hops(p);
    return staged(s, d, gpu_[g], nic, node_of(g));
  }

  // The sender's part of a route to another node over `rail`: to its NIC, through a PXN peer when
  // that is on the rail, with the route's kind and detail; and the receiver's part, from its NIC.
  // Each depends on one GPU and the rail only, so it is worked out once (`s`, `d`: the first pair
  // that needs it, for errors) and reused for every node on the other side.
  const SenderPart& sender_part(int s, int d, int rail) const
  {
    if (sender_.empty())
      sender_.resize(static_cast<size_t>(t_.total_gpus()) * static_cast<size_t>(t_.network->nics_at.size()));
    SenderPart& sp = sender_[static_cast<size_t>(s) * t_.network->nics_at.size() + static_cast<size_t>(rail)];
    if (sp.known)
      return sp;
    const int ns = node_of(s), own = t_.nic_of(s % t_.gpus);
    int via = -1;
    if (own != rail && t_.network->pxn && t_.p2p)
      for (int i = 0; i < t_.gpus && via < 0; i++) {
        const int p = ns * t_.gpus + i;
        if (p != s && t_.nic_of(i) == rail && nvlink(s, p))
          via = p;
      }
    sp.src_nic = via >= 0 || own == rail ? rail : own;
    if (via >= 0) {
      sp.hops = *nvlink(s, via);
      append(sp.hops, gpu_to_nic(s, d, via, nic_[ns][sp.src_nic]));
      sp.kind = "pxn";
      sp.detail = "PXN: NVLink to gpu" + std::to_string(via) + ", its NIC on rail " + std::to_string(rail);
    } else {
      sp.hops = gpu_to_nic(s, d, s, nic_[ns][sp.src_nic]);
      sp.kind = own == rail ? "rail" : "cross_rail";
      sp.detail = own == rail ? "network on rail " + std::to_string(rail)
                              : "network from rail " + std::to_string(own) + " to rail " + std::to_string(rail);
    }
    sp.known = true;
    return sp;
  }
  const std::vector<Hop>& receiver_part(int s, int d, int rail) const
  {
    if (receiver_.empty())
      receiver_.resize(static_cast<size_t>(t_.total_gpus()));
    std::optional<std::vector<Hop>>& rp = receiver_[static_cast<size_t>(d)];
    if (!rp)
      rp = reversed(gpu_to_nic(d, s, d, nic_[node_of(d)][rail]));
    return *rp;
  }

  GpuRoute network(int s, int d) const
  {
    if (!t_.network)
      no_route(s, d, "the GPUs are on different nodes and there is no network", "nodes", "add a network section");
    const int ns = node_of(s), nd = node_of(d);
    const int rail = t_.nic_of(d % t_.gpus);
    const SenderPart& sp = sender_part(s, d, rail);
    GpuRoute r;
    r.hops = sp.hops;
    r.kind = sp.kind;
    r.detail = sp.detail;
    auto fabric = path(nic_[ns][sp.src_nic], nic_[nd][rail], static_cast<unsigned>(Tag::net));
    if (fabric.empty())
      no_route(s, d, "the fabric does not connect the two NICs", "network", "check network.fabric");
    append(r.hops, hops(fabric));
    append(r.hops, receiver_part(s, d, rail));
    return r;
  }

  GpuRoute route(int s, int d) const
  {
    const bool same_node = node_of(s) == node_of(d);
    GpuRoute r;
    if (t_.p2p) {
      if (auto nv = nvlink(s, d)) {
        r.hops = *nv;
        r.kind = "nvlink";
        r.detail = t_.nvlink == NvlinkKind::nvswitch ? "NVLink through NVSwitch" : "NVLink, direct";
        return r;
      }
      if (same_node) {
        auto p = path(gpu_[s], gpu_[d], pcie_tags);
        if (!p.empty() && level(p) <= t_.p2p_level) {
          const PathLevel l = level(p);
          r.hops = hops(p);
          r.kind = to_string(l);
          r.detail = l == PathLevel::pix   ? "PCIe P2P through one switch (PIX)"
                     : l == PathLevel::pxb ? "PCIe P2P through several switches (PXB)"
                     : l == PathLevel::phb ? "PCIe P2P through the root complex (PHB)"
                                           : "PCIe P2P across CPU sockets (SYS)";
          return r;
        }
      }
    }
    if (same_node) {
      r.hops = staged(s, d, gpu_[s], gpu_[d], node_of(s), true);
      bool cross = false;
      for (const Hop& h : r.hops)
        cross = cross || links_[h.link].cls == "cpu_interconnect";
      r.kind = cross ? "staged_sys" : "staged";
      r.detail = std::string(cross ? "across the CPU interconnect, then " : "") + "staged through the receiver's host memory" +
                 (t_.p2p ? " (P2P not allowed beyond " + std::string(to_string(t_.p2p_level)) + ")" : " (P2P off)");
      return r;
    }
    return network(s, d);
  }
};

} // namespace

RoutedTopology route_topology(const Topology& t)
{
  return Builder(t).run();
}

RoutedTopology route_table(const Topology& t, RouteTable& table)
{
  return Builder(t).table(table);
}

RoutedTopology route_each(const Topology& t, const RouteVisitor& visit, std::vector<int>& link_index)
{
  Builder b(t);
  link_index = b.each([&](int s, int d, GpuRoute&& r) { visit(s, d, r, b.all_links()); });
  return b.finish(link_index);
}

} // namespace moesim
