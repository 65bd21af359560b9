#include "topology/route_table.hpp"

namespace moesim {

const RouteTable::Piece& RouteTable::piece(int s, int d) const
{
  if (s / block_gpus == d / block_gpus)
    return block.at(static_cast<size_t>(s) * block_gpus + d % block_gpus);
  return head.at(static_cast<size_t>(s) * rails + rail_of.at(d % per_node));
}

void RouteTable::hops(int s, int d, std::vector<Hop>& out) const
{
  out.clear();
  auto put = [&](const Piece& p) { out.insert(out.end(), pool.begin() + p.first, pool.begin() + p.first + p.count); };
  if (s / block_gpus == d / block_gpus) {
    put(block[static_cast<size_t>(s) * block_gpus + d % block_gpus]);
    return;
  }
  // route_policy's network(): the sender's part, the fabric between the NICs, the receiver's part.
  const int rail = rail_of[d % per_node];
  const size_t h = static_cast<size_t>(s) * rails + rail;
  put(head[h]);
  const size_t a = static_cast<size_t>(s / per_node) * rails + src_nic[h];
  const size_t b = static_cast<size_t>(d / per_node) * rails + rail;
  out.push_back({nic_link[a], Dir::up});
  if (nic_leaf[a] != nic_leaf[b]) {
    if (leaf_up[nic_leaf[a]] >= 0)
      out.push_back({leaf_up[nic_leaf[a]], Dir::up});
    if (leaf_up[nic_leaf[b]] >= 0)
      out.push_back({leaf_up[nic_leaf[b]], Dir::down});
  }
  out.push_back({nic_link[b], Dir::down});
  put(tail[d]);
}

GpuRoute RouteTable::route(int s, int d) const
{
  GpuRoute r;
  hops(s, d, r.hops);
  if (s != d) {
    r.kind = kind(s, d);
    r.detail = detail(s, d);
  }
  return r;
}

bool RouteTable::symmetric(int s, int d, std::vector<Hop>& a, std::vector<Hop>& b) const
{
  hops(s, d, a);
  hops(d, s, b);
  return mirrored(a, b);
}

} // namespace moesim
