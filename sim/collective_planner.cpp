#include "sim/collective_planner.hpp"

#include "core/fair_share.hpp"

#include <algorithm>
#include <cmath>

namespace moesim {

// The communicator over these ranks, as the cost model sees it (built once per member list).
const CommShape& CollectivePlanner::shape(const std::vector<int>& ranks)
{
  auto it = shapes_.find(ranks);
  if (it == shapes_.end())
    it = shapes_.emplace(ranks, p_.comm_shape(ranks)).first;
  return it->second;
}

// NCCL's choice from its cost model, or, where the platform is calibrated for this collective and
// group size, the measured curve: its fixed cost at this size and flows held to the measured bus
// bandwidth, so that an isolated call reproduces the measurement while concurrent traffic still
// shares the links. `ranks`: the communicator; `curve_ranks`: the group size whose measured curve
// applies (a send between two ranks of a larger sendrecv ring: the ring's).
CollChoice CollectivePlanner::choose(OpKind kind, const std::vector<int>& ranks, double bytes, int curve_ranks,
                                     bool per_root)
{
  const int n = static_cast<int>(ranks.size());
  if (const Calibration* cal = p_.calibration()) {
    const OpKind k = kind == OpKind::recv ? OpKind::send : kind;
    const int want = curve_ranks > 0 ? curve_ranks : n;
    const CollectiveCurve* cv = cal->find(k, want);
    if (!cv && k == OpKind::send)
      for (const CollectiveCurve& c : cal->collectives) // the nearest group size measured
        if (c.kind == OpKind::send && (!cv || std::abs(c.ranks - want) < std::abs(cv->ranks - want)))
          cv = &c;
    if (cv) {
      // nccl-tests sizes all-to-all by the whole send buffer, self chunk included.
      const double size = kind == OpKind::all_to_all ? bytes * n / (n - 1) : bytes;
      CollChoice c;
      c.algo = kind == OpKind::all_to_all ? CollAlgo::direct : k == OpKind::send ? CollAlgo::p2p : CollAlgo::ring;
      c.proto = Proto::simple;
      c.calibrated = true;
      c.alpha = cv->alpha_at(size);
      c.rate = cv->bus_bandwidth(); // every ring flow, every sender: bytes x busbw factor / busbw
      return c;
    }
  }
  return choose_collective(shape(ranks), kind, bytes, p_.allreduce_algo(), {}, per_root);
}

// A calibrated collective runs at the measured rate when alone. Where the platform's links cannot
// carry that (host memory shared by every staged flow, say), its flows carry proportionally fewer
// bytes, so that the isolated call still takes the measured time.
void CollectivePlanner::hold_to_measurement(Phases& phases) const
{
  std::map<const sg4::Link*, int> index;
  std::vector<double> capacity;
  double target = 0, fluid = 0;
  for (const auto& flows : phases) {
    std::vector<FluidFlow> ff;
    double alone = 0;
    for (const Flow& f : flows) {
      FluidFlow x{f.bytes, f.rate, {}};
      for (sg4::Link* l : p_.route(f.src, f.dst).links) {
        auto [it, fresh] = index.emplace(l, static_cast<int>(capacity.size()));
        if (fresh)
          capacity.push_back(l->get_bandwidth());
        x.uses.push_back(it->second);
      }
      if (f.rate > 0)
        alone = std::max(alone, f.bytes / f.rate);
      ff.push_back(std::move(x));
    }
    target += alone;
    fluid += fluid_finish_time(capacity, ff);
  }
  if (target > 0 && fluid > target * (1 + 1e-12))
    for (auto& flows : phases)
      for (Flow& f : flows)
        f.bytes *= target / fluid;
}

// Link latencies (zone props moesim.latency.<class>, 0 unless a platform or --set gives them):
// each sequential step of a collective pays its slowest route's latency; an all-to-all's peers
// run concurrently, so it pays the slowest route once.
double CollectivePlanner::wire_latency(OpKind kind, CollAlgo algo, const std::vector<int>& ranks) const
{
  const int n = static_cast<int>(ranks.size());
  double worst = 0;
  if (!p_.route_latency())
    return 0; // every route's latency is 0: so is the slowest's, and any multiple of it
  if (kind == OpKind::all_to_all) {
    for (int a : ranks)
      for (int b : ranks)
        if (a != b)
          worst = std::max(worst, p_.route(a, b).latency);
    return worst;
  }
  for (int i = 0; i < n && n > 1; i++)
    worst = std::max(worst, p_.route(ranks[i], ranks[(i + 1) % n]).latency);
  const int steps = kind == OpKind::all_reduce || algo == CollAlgo::tree ? 2 * (n - 1) : n - 1;
  return steps * worst;
}

} // namespace moesim
