#include "core/costs.hpp"

#include <algorithm>
#include <limits>

namespace moesim {

double GpuSpec::peak_flops(Dtype d) const
{
  if (auto it = flops.find(d); it != flops.end())
    return it->second;
  return flops.at(Dtype::bf16);
}

double roofline_seconds(const GpuSpec& gpu, double flops, double bytes, Dtype dtype, int kernels)
{
  const double t_math = flops > 0 ? flops / (gpu.peak_flops(dtype) * gpu.flops_eff) : 0.0;
  const double t_mem = bytes > 0 ? bytes / (gpu.mem_bw * gpu.mem_bw_eff) : 0.0;
  return kernels * gpu.kernel_overhead + std::max(t_math, t_mem);
}

double roofline_seconds(const GpuSpec& gpu, const Op& op)
{
  return roofline_seconds(gpu, op.flops, op.bytes, op.dtype, op.kernels);
}

const char* to_string(Proto p)
{
  switch (p) {
    case Proto::ll: return "LL";
    case Proto::ll128: return "LL128";
    case Proto::simple: return "Simple";
  }
  return "?";
}

double nccl_alpha(const NcclLatencies& t, OpKind kind, CollAlgo algo, Proto proto, int n, LinkClass link)
{
  const int p = static_cast<int>(proto), l = static_cast<int>(link);
  const int hops = kind == OpKind::all_reduce ? 2 * (n - 1) : n - 1;
  double us = algo == CollAlgo::tree ? t.base_tree[p] + hops * t.hw_tree[l][p] : t.base_ring[p] + hops * t.hw_ring[l][p];
  return us * 1e-6;
}

static double wire_factor(Proto p)
{
  switch (p) {
    case Proto::ll: return 2.0;            // 8-byte lines carry 4 bytes of data
    case Proto::ll128: return 128.0 / 120; // 128-byte lines carry 120 bytes
    case Proto::simple: return 1.0;
  }
  return 1.0;
}

CollChoice choose_collective(const NcclLatencies& t, OpKind kind, int n, double bytes, LinkClass link, double bus_bw,
                             double p2p_alpha, std::optional<CollAlgo> only)
{
  CollChoice best;
  if (kind == OpKind::all_to_all || kind == OpKind::send || kind == OpKind::recv) {
    best.algo = kind == OpKind::all_to_all ? CollAlgo::direct : CollAlgo::p2p;
    const double per_peer = kind == OpKind::all_to_all && n > 1 ? bytes / (n - 1) : bytes;
    best.proto = per_peer <= 16384 ? Proto::ll : Proto::simple;
    best.wire_factor = wire_factor(best.proto);
    best.alpha = p2p_alpha;
    return best;
  }
  // Bytes each rank puts on its link per payload byte: ring all-reduce 2(n-1)/n, all-gather and
  // reduce-scatter (n-1)/n of the full buffer; tree all-reduce sends the whole buffer up and down.
  double best_t = std::numeric_limits<double>::infinity();
  for (CollAlgo a : {CollAlgo::ring, CollAlgo::tree}) {
    if ((a == CollAlgo::tree && kind != OpKind::all_reduce) || (only && kind == OpKind::all_reduce && a != *only))
      continue;
    for (Proto p : {Proto::ll, Proto::ll128, Proto::simple}) {
      if (p == Proto::ll128 && link != LinkClass::nvlink)
        continue; // LL128 is off on PCIe-only systems
      double per_rank = a == CollAlgo::tree ? 2.0 * bytes
                        : kind == OpKind::all_reduce ? 2.0 * (n - 1) / n * bytes
                                                     : double(n - 1) / n * bytes;
      double tm = nccl_alpha(t, kind, a, p, n, link) + per_rank * wire_factor(p) / bus_bw;
      if (tm < best_t) {
        best_t = tm;
        best = {a, p, nccl_alpha(t, kind, a, p, n, link), wire_factor(p)};
      }
    }
  }
  return best;
}

} // namespace moesim
