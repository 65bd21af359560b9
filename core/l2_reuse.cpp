#include "core/l2_reuse.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

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

namespace {

// The elements of the activation `op` reads (its m x k operand for a GEMM); nullopt for a kind that
// reads none the same way.
std::optional<double> activation_read(const Op& op)
{
  if (op.kind == OpKind::gemm)
    return double(op.gemm().m) * double(op.gemm().batch) * double(op.gemm().k);
  if (op.kind == OpKind::grouped_gemm)
    return op.grouped().total_rows() * double(op.grouped().k);
  return std::nullopt;
}

} // namespace

std::vector<ColdInput> kernel_inputs(const Op& op, const Op* before)
{
  switch (op.kind) {
    case OpKind::rmsnorm:
      // Its weight, read in a pass of its own after the row's reduction, carries the whole penalty (the
      // row, just written or read, is warm); round 14's norms took all of it, not one trip's half.
      return {{"norm weight", 1.0, LastTouch::same_kind}};
    case OpKind::residual_add:
      // Two streams of equal size read side by side: the fresh output (warm) and the residual, written
      // a block ago (by the previous residual add): its bytes' half of the penalty.
      return {{"residual", 0.5, LastTouch::same_kind}};
    case OpKind::silu_mul: {
      // Its rows x 2 x width input. Where the op before it read a part of it (the harness's up GEMM reads
      // rows x k of the one activation buffer every op reads from its start), that part is warm, and the
      // rest was last read by the previous silu_mul. An engine's up GEMM writes all of it: no share.
      const double in = op.rows().rows * 2.0 * double(op.rows().width);
      const std::optional<double> read = before ? activation_read(*before) : std::nullopt;
      if (!read || !(in > 0))
        return {};
      const double share = 1.0 - std::clamp(*read / in, 0.0, 1.0);
      if (!(share > 0))
        return {};
      return {{"input beyond what the op before read", share, LastTouch::same_kind}};
    }
    case OpKind::topk:
      // The router's logits, written just before: warm.
      return {};
    case OpKind::permute: {
      // The routing ids (4 bytes per slot; the harness reads one fixed draw, so the previous permute
      // touched them last) beside the tokens' rows (2 bytes per element): their bytes' share (round
      // 14's permutes: not the half its place kernel, one of two, would give).
      const PermuteShape& p = op.permute();
      const double ids = 4.0 * p.k, rows = 2.0 * double(p.hidden);
      return {{"routing ids", ids / (ids + rows), LastTouch::same_kind}};
    }
    case OpKind::unpermute:
      // Each slot's row number (written by this layer's permute) and weight (the harness's fixed
      // draw: the previous unpermute), loaded together before the row they point at: every gather
      // waits for them, so they carry the whole penalty, cold when either is.
      return {{"slot rows and weights", 1.0, LastTouch::producer, OpKind::permute, true}};
    default: return {};
  }
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
  // The bytes strictly between the latest op of `kind` before position i (reaching back into the
  // previous step, the same schedule) and op i; nullopt where no op of the kind runs.
  auto since = [&](size_t i, OpKind kind) -> std::optional<double> {
    for (size_t j = i; j-- > 0;)
      if (ops[j].kind == kind)
        return before[i] - before[j + 1];
    for (size_t j = ops.size(); j-- > i;)
      if (ops[j].kind == kind)
        return (step - before[j + 1]) + before[i];
    return std::nullopt;
  };
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    if (!cold_blends(op.kind))
      continue;
    double sum = 0;
    for (const ColdInput& in : kernel_inputs(op, i > 0 ? &ops[i - 1] : nullptr)) {
      const bool kind_part = in.touch == LastTouch::same_kind || in.also_same_kind;
      double cold = 0;
      if (kind_part)
        cold = std::max(cold, cold_fraction(since(i, op.kind).value_or(0), l2_bytes));
      if (in.touch == LastTouch::producer)
        cold = std::max(cold, cold_fraction(since(i, in.producer).value_or(0), l2_bytes));
      sum += in.share * cold;
    }
    f.at(static_cast<size_t>(op.id)) = std::clamp(sum, 0.0, 1.0);
  }
  return f;
}

} // namespace moesim
