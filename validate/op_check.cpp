#include "validate/op_check.hpp"

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

void check_replayable(const Schedule& s, const std::string& file, bool graph)
{
  const CommPlan plan = plan_communicators(s, file);
  (void)plan_comm_calls(s, plan, file);
  if (graph)
    check_graph_capturable(s, file);
  for (const RankSchedule& r : s.ranks)
    for (const Op& op : r.ops)
      check_op(s, r.rank, op, file);
}

} // namespace moesim::validate
