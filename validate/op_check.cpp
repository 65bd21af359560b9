#include "validate/op_check.hpp"

#include "core/error.hpp"

#include "validate/comm_plan.hpp"
#include "validate/op_handler.hpp"
#include "validate/runner_plan.hpp"

namespace moesim::validate {

void check_op(const Schedule& s, int rank, const Op& op, const std::string& file)
{
  if (op_class(op.kind) != OpClass::compute)
    return;
  const OpSite site{s, rank, file};
  handler_for(op.kind).check(op, site);
}

// The engine mechanisms an engine profile puts in a schedule that the harness has no kernel for:
// a custom (one-shot / two-shot) all-reduce over IPC buffers and a weight dequantisation pass.
// Replaying them as NCCL or a permute would measure something else under their name.
static void check_engine_ops(const Schedule& s, const std::string& file)
{
  const std::string fix = "write the schedule without an engine profile (engine: a map of launch_us, sync_us, ...) "
                          "or with one whose paths the harness runs";
  for (const RankSchedule& r : s.ranks)
    for (const Op& op : r.ops) {
      const std::string where = "rank " + std::to_string(r.rank) + " op " + op.name;
      if (op.kind == OpKind::all_reduce && op.ar_impl != AllReduceImpl::nccl)
        throw InputError(file, where, std::string("a ") + to_string(op.ar_impl) +
                                          " all-reduce (an engine's own kernel), which the harness does not have", fix);
      if (op.per_root)
        throw InputError(file, where,
                         std::string(to_string(op.kind)) +
                             " run as one NCCL broadcast or reduce per root rank (an engine's path), which the "
                             "harness does not replay",
                         fix);
      if (op.role == OpRole::dequant)
        throw InputError(file, where, "an expert-weight dequantisation pass, which the harness does not have", fix);
    }
}

void check_replayable(const Schedule& s, const std::string& file, bool graph)
{
  check_engine_ops(s, file);
  const CommPlan plan = plan_communicators(s, file);
  (void)plan_comm_calls(s, plan, file);
  if (graph)
    check_graph_capturable(s, file);
  for (const RankSchedule& r : s.ranks)
    for (const Op& op : r.ops)
      check_op(s, r.rank, op, file);
}

} // namespace moesim::validate
