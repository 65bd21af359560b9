#include "topology/drawing.hpp"
#include "core/xml_escape.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>
#include <cstdio>
#include <map>
#include <sstream>

namespace moesim {
namespace {

// What hangs off an attach point (a socket or a switch), in YAML order.
struct Children {
  std::vector<const PcieSwitch*> switches;
  std::vector<int> gpus;
  std::vector<int> nics;
};

std::map<std::string, Children> children_of(const Topology& t)
{
  std::map<std::string, Children> c;
  for (const PcieSwitch& s : t.switches)
    c[s.parent].switches.push_back(&s);
  for (size_t i = 0; i < t.gpus_at.size(); i++)
    c[t.gpus_at[i]].gpus.push_back(static_cast<int>(i));
  if (t.network)
    for (size_t k = 0; k < t.network->nics_at.size(); k++)
      c[t.network->nics_at[k]].nics.push_back(static_cast<int>(k));
  return c;
}

std::string pad(std::string s, size_t w)
{
  if (s.size() < w)
    s += std::string(w - s.size(), ' ');
  return s;
}

std::string gpu_range(int first, int count)
{
  return count == 1 ? "gpu" + std::to_string(first)
                    : "gpu" + std::to_string(first) + "..gpu" + std::to_string(first + count - 1);
}

void tree(std::ostringstream& o, const Topology& t, const std::map<std::string, Children>& kids, const std::string& at,
          const std::string& indent)
{
  auto it = kids.find(at);
  if (it == kids.end())
    return;
  const Children& c = it->second;
  const size_t total = c.gpus.size() + c.nics.size() + c.switches.size();
  size_t k = 0;
  auto branch = [&] { return indent + (++k == total ? "`- " : "|- "); };
  for (int g : c.gpus)
    o << pad(branch() + "gpu" + std::to_string(g), 24) << t.gpu_link_class << " " << t.gpu_link.text() << "\n";
  for (int n : c.nics)
    o << pad(branch() + "nic" + std::to_string(n), 24) << "nic " << t.network->nic.text()
      << (t.network->fabric == Fabric::rail ? ", rail " + std::to_string(n) : "") << "\n";
  for (const PcieSwitch* s : c.switches) {
    const bool last = k + 1 == total;
    o << pad(branch() + s->name, 24) << "uplink " << s->uplink.text() << "\n";
    tree(o, t, kids, s->name, indent + (last ? "   " : "|  "));
  }
}

} // namespace

std::string draw_ascii(const RoutedTopology& rt)
{
  const Topology& t = rt.topo;
  std::ostringstream o;
  o << (t.nodes > 1 ? "node 0 of " + std::to_string(t.nodes) + ": " : "node: ") << t.sockets << " socket"
    << (t.sockets > 1 ? "s" : "") << ", " << t.gpus << "x " << t.gpu.name << " (" << gpu_range(0, t.gpus) << ")\n\n";
  const auto kids = children_of(t);
  for (int c = 0; c < t.sockets; c++) {
    const std::string cpu = "cpu" + std::to_string(c);
    o << "  " << pad(cpu, 22) << "root complex (non-blocking, not a link)";
    if (!t.memory.unit.empty())
      o << "; host memory " << t.memory.text() << " SHARED";
    o << "\n";
    tree(o, t, kids, cpu, "  ");
  }
  if (t.interconnect)
    o << "  cpu sockets linked pairwise: " << t.interconnect->text() << " per direction\n";
  if (t.gpus_at.empty())
    o << "  (the GPUs have no PCIe link in this model)\n";
  o << "\n";
  if (t.nvlink == NvlinkKind::nvswitch) {
    o << "  NVLink: NVSwitch fabric (non-blocking, not a link), each GPU " << t.nvlink_bw.text() << " per direction";
    if (t.nvlink_domain_nodes > 1)
      o << "; one fabric spans " << t.nvlink_domain_nodes << " nodes (" << gpu_range(0, t.nvlink_domain_nodes * t.gpus)
        << ")";
    o << "\n";
  } else if (t.nvlink == NvlinkKind::mesh) {
    o << "  NVLink: point-to-point pairs, per direction:";
    int col = 0;
    for (const NvlinkPair& p : t.nvlink_pairs) {
      if (col++ % 4 == 0)
        o << "\n   ";
      o << " gpu" << p.a << "=gpu" << p.b << " " << (p.bw ? *p.bw : t.nvlink_bw).text();
    }
    o << "\n";
  } else {
    o << "  NVLink: none\n";
  }
  o << "  P2P: ";
  if (!t.p2p)
    o << "off: every GPU pair without a network hop is staged through host memory\n";
  else if (t.nvlink != NvlinkKind::none && rt.nccl_intra == "nvlink" && t.nvlink == NvlinkKind::nvswitch)
    o << "on, over NVLink\n";
  else
    o << "on, NVLink first, then PCIe up to " << to_string(t.p2p_level) << ", else staged through host memory\n";
  if (t.network) {
    const Network& n = *t.network;
    o << "  network: " << n.nics_at.size() << " NICs per node at " << n.nic.text() << ", "
      << (n.fabric == Fabric::rail ? "rail-optimised (NIC r of every node on rail r)" : "fat tree") << ", "
      << (n.oversubscription > 1 ? shortest(n.oversubscription) + ":1 oversubscribed leaf uplinks"
                                 : "non-blocking (no fabric link in routes)")
      << (n.nodes_per_leaf < t.nodes ? ", " + std::to_string(n.nodes_per_leaf) + " nodes per leaf" : "")
      << "; PXN " << (n.pxn ? "on" : "off") << ", GPUDirect RDMA " << (n.gpudirect ? "up to " + std::string(to_string(n.gdr_level)) : "off")
      << "\n";
  }
  if (t.nodes > 1)
    o << "  nodes 1.." << t.nodes - 1 << ": the same (" << gpu_range(t.gpus, (t.nodes - 1) * t.gpus) << ")\n";
  std::string s = o.str();
  for (size_t p; (p = s.find("--")) != std::string::npos;)
    s.replace(p, 2, "- ");
  return s;
}

namespace {

struct Box {
  double x = 0, y = 0;
  std::string label, sub;
};

std::string esc(const std::string& s)
{
  return xml_escape(s, true);
}

std::string num(double v)
{
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

} // namespace

std::string draw_svg(const RoutedTopology& rt)
{
  const Topology& t = rt.topo;
  const auto kids = children_of(t);
  // Leaves (GPUs, NICs) get columns left to right in tree order; inner points sit above the middle
  // of their leaves, one row per depth.
  const double col_w = 110, row_h = 90, box_w = 96, box_h = 40, top = 60;
  std::vector<Box> boxes;
  std::vector<std::tuple<size_t, size_t, std::string>> edges; // parent box, child box, label
  std::map<int, double> gpu_x;
  int column = 0, max_depth = 0;
  std::function<size_t(const std::string&, const std::string&, int)> place;
  place = [&](const std::string& point, const std::string& sub, int depth) -> size_t {
    max_depth = std::max(max_depth, depth);
    const size_t me = boxes.size();
    boxes.push_back({0, top + depth * row_h, point, sub});
    std::vector<size_t> mine;
    auto it = kids.find(point);
    if (it != kids.end()) {
      for (int g : it->second.gpus) {
        gpu_x[g] = column * col_w;
        boxes.push_back({column++ * col_w, -1, "gpu" + std::to_string(g), ""});
        mine.push_back(boxes.size() - 1);
        edges.push_back({me, boxes.size() - 1, t.gpu_link.text()});
      }
      for (int n : it->second.nics) {
        boxes.push_back({column++ * col_w, -1, "nic" + std::to_string(n), t.network->nic.text()});
        mine.push_back(boxes.size() - 1);
        edges.push_back({me, boxes.size() - 1, t.network->nic.text()});
      }
      for (const PcieSwitch* s : it->second.switches) {
        const size_t c = place(s->name, "PCIe switch", depth + 1);
        mine.push_back(c);
        edges.push_back({me, c, s->uplink.text()});
      }
    }
    if (mine.empty())
      boxes[me].x = column++ * col_w;
    else
      boxes[me].x = (boxes[mine.front()].x + boxes[mine.back()].x) / 2;
    return me;
  };
  for (int c = 0; c < t.sockets; c++)
    place("cpu" + std::to_string(c), t.memory.unit.empty() ? "socket" : "DRAM " + t.memory.text(), 0);
  // Leaves go on the bottom row.
  const double leaf_y = top + (max_depth + 1) * row_h;
  for (Box& b : boxes)
    if (b.y < 0)
      b.y = leaf_y;
  const std::string title = t.name + ": " + t.description;
  const double width = std::max(std::max(3, column) * col_w + 40, 40 + 8.6 * static_cast<double>(title.size()));
  const double nv_y = leaf_y + box_h + 50;
  const double height = nv_y + (t.nvlink != NvlinkKind::none ? 80 : 20);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<text x=\"20\" y=\"24\" font-size=\"15\">" << esc(title) << "</text>\n";
  o << "<text x=\"20\" y=\"42\" fill=\"#555\">"
    << esc((t.nodes > 1 ? "node 0 of " + std::to_string(t.nodes) + ", " : "") + std::to_string(t.gpus) + "x " + t.gpu.name +
           (t.p2p ? ", P2P on" : ", P2P off"))
    << "</text>\n";
  const double ox = 20 + box_w / 2;
  for (const auto& [p, c, label] : edges) {
    const Box &a = boxes[p], &b = boxes[c];
    o << "<line x1=\"" << num(ox + a.x) << "\" y1=\"" << num(a.y + box_h) << "\" x2=\"" << num(ox + b.x) << "\" y2=\""
      << num(b.y) << "\" stroke=\"#666\"/>\n";
    // Labels sit near the child end, where sibling edges are furthest apart.
    o << "<text x=\"" << num(ox + a.x + 0.8 * (b.x - a.x)) << "\" y=\"" << num(a.y + box_h + 0.8 * (b.y - a.y - box_h) - 3)
      << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#36c\">" << esc(label) << "</text>\n";
  }
  // CPU interconnect: a dashed line between consecutive sockets.
  if (t.interconnect) {
    std::vector<const Box*> cpus;
    for (const Box& b : boxes)
      if (b.label.rfind("cpu", 0) == 0)
        cpus.push_back(&b);
    for (size_t i = 0; i + 1 < cpus.size(); i++) {
      const double y = cpus[i]->y + box_h / 2;
      o << "<line x1=\"" << num(20 + cpus[i]->x + box_w) << "\" y1=\"" << num(y) << "\" x2=\"" << num(20 + cpus[i + 1]->x)
        << "\" y2=\"" << num(y) << "\" stroke=\"#a50\" stroke-dasharray=\"6 4\"/>\n";
      o << "<text x=\"" << num(20 + (cpus[i]->x + box_w + cpus[i + 1]->x) / 2) << "\" y=\"" << num(y - 5)
        << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#a50\">" << esc("CPU interconnect " + t.interconnect->text())
        << "</text>\n";
    }
  }
  for (const Box& b : boxes) {
    o << "<rect x=\"" << num(20 + b.x) << "\" y=\"" << num(b.y) << "\" width=\"" << num(box_w) << "\" height=\""
      << num(box_h) << "\" rx=\"4\" fill=\"#f4f4f4\" stroke=\"#333\"/>\n";
    o << "<text x=\"" << num(ox + b.x) << "\" y=\"" << num(b.y + 17) << "\" text-anchor=\"middle\">" << esc(b.label)
      << "</text>\n";
    if (!b.sub.empty())
      o << "<text x=\"" << num(ox + b.x) << "\" y=\"" << num(b.y + 32) << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">"
        << esc(b.sub) << "</text>\n";
  }
  if (t.nvlink == NvlinkKind::nvswitch && !gpu_x.empty()) {
    const double x0 = gpu_x.begin()->second, x1 = gpu_x.rbegin()->second;
    o << "<rect x=\"" << num(20 + x0) << "\" y=\"" << num(nv_y) << "\" width=\"" << num(x1 - x0 + box_w)
      << "\" height=\"26\" fill=\"#7a5\" stroke=\"#333\"/>\n";
    o << "<text x=\"" << num(ox + (x0 + x1) / 2) << "\" y=\"" << num(nv_y + 17) << "\" text-anchor=\"middle\" fill=\"#fff\">"
      << esc("NVSwitch: " + t.nvlink_bw.text() + " per GPU per direction") << "</text>\n";
    for (const auto& [g, x] : gpu_x)
      o << "<line x1=\"" << num(ox + x) << "\" y1=\"" << num(leaf_y + box_h) << "\" x2=\"" << num(ox + x) << "\" y2=\""
        << num(nv_y) << "\" stroke=\"#7a5\" stroke-width=\"3\"/>\n";
  } else if (t.nvlink == NvlinkKind::mesh) {
    for (const NvlinkPair& p : t.nvlink_pairs) {
      if (!gpu_x.count(p.a) || !gpu_x.count(p.b))
        continue;
      const double xa = ox + gpu_x[p.a], xb = ox + gpu_x[p.b], y = leaf_y + box_h;
      const double dip = 20 + std::abs(xb - xa) / 6;
      o << "<path d=\"M" << num(xa) << "," << num(y) << " Q" << num((xa + xb) / 2) << "," << num(y + 2 * dip) << " "
        << num(xb) << "," << num(y) << "\" fill=\"none\" stroke=\"#7a5\" stroke-width=\"2\"/>\n";
    }
    o << "<text x=\"20\" y=\"" << num(height - 8) << "\" fill=\"#7a5\">"
      << esc("NVLink pairs: " + t.nvlink_bw.text() + " per direction") << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

} // namespace moesim
