#include "core/l2_reuse.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace moesim {

bool cold_blends(OpKind kind)
{
  switch (kind) {
    case OpKind::rmsnorm:
    case OpKind::silu_mul:
    case OpKind::residual_add:
    case OpKind::topk:
    case OpKind::permute:
    case OpKind::unpermute: return true;
    default: return false;
  }
}

double cold_fraction(double moved_bytes, double l2_bytes)
{
  if (!(moved_bytes > 0) || !(l2_bytes > 0))
    return 0;
  return std::clamp(std::log2(moved_bytes / (0.5 * l2_bytes)) / 2, 0.0, 1.0);
}

std::vector<double> cold_fractions(const RankSchedule& rank, double l2_bytes)
{
  const std::vector<Op>& ops = rank.ops;
  int most = -1;
  for (const Op& op : ops)
    most = std::max(most, op.id);
  std::vector<double> f(static_cast<size_t>(most + 1), 0.0);
  // before[i]: bytes moved by ops[0..i), in schedule order.
  std::vector<double> before(ops.size() + 1, 0.0);
  for (size_t i = 0; i < ops.size(); i++)
    before[i + 1] = before[i] + (ops[i].is_comm() ? ops[i].comm_bytes : ops[i].bytes);
  const double step = before.back();
  std::map<OpKind, size_t> last; // the kind's last position in the step
  for (size_t i = 0; i < ops.size(); i++)
    if (cold_blends(ops[i].kind))
      last[ops[i].kind] = i;
  std::map<OpKind, size_t> prev;
  for (size_t i = 0; i < ops.size(); i++) {
    const OpKind k = ops[i].kind;
    if (!cold_blends(k))
      continue;
    const auto p = prev.find(k);
    // Strictly between: after the previous one ends, before this one starts.
    const double moved = p != prev.end() ? before[i] - before[p->second + 1]
                                         : (step - before[last.at(k) + 1]) + before[i];
    f.at(static_cast<size_t>(ops[i].id)) = cold_fraction(moved, l2_bytes);
    prev[k] = i;
  }
  return f;
}

} // namespace moesim
