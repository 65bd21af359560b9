#include "core/family_shapes.hpp"

#include "core/op_time.hpp"
#include "core/schedule_builder.hpp"

#include <stdexcept>

namespace moesim {
namespace {

std::vector<double> attention_signature(const OpModelKey& k, const std::vector<double>& dims)
{
  return {double(k.kind), k.variant == "mla" ? 1.0 : 0.0, dims[0], dims[1], dims[2], dims[3]};
}

} // namespace

void FamilyShapes::add(const Op& op)
{
  const std::optional<OpQuery> q = query_of(op);
  if (!q)
    return;
  switch (op.kind) {
    case OpKind::gemm: gemm_nk.insert({q->dims[2], q->dims[3]}); break;
    case OpKind::grouped_gemm: gemm_nk.insert({q->dims[0], q->dims[1]}); break;
    case OpKind::attention_decode:
    case OpKind::attention_prefill: attention.insert(attention_signature(q->key, q->dims)); break;
    default: break;
  }
}

bool FamilyShapes::covers(const OpRecord& r) const
{
  switch (r.key.kind) {
    case OpKind::gemm: return gemm_nk.count({r.dims[2], r.dims[3]}) > 0;
    case OpKind::grouped_gemm: return gemm_nk.count({r.dims[0], r.dims[1]}) > 0;
    case OpKind::attention_decode:
    case OpKind::attention_prefill: return attention.count(attention_signature(r.key, r.dims)) > 0;
    default: return false;
  }
}

FamilyShapes family_shapes(const std::vector<Model>& models)
{
  FamilyShapes s;
  const char* const plans[] = {"tp1",     "tp2",     "tp4",     "tp8",     "ep2",
                               "ep4",     "ep8",     "tp2xep2", "tp2xep4", "tp4xep2"};
  for (const Model& m : models)
    for (const char* spec : plans) {
      const Plan plan = Plan::parse(spec);
      Layout layout;
      try {
        layout = make_layout(plan, m, plan.world());
      } catch (const std::invalid_argument&) {
        continue; // heads or experts do not divide: no such shapes
      }
      for (const StepShape& st : {StepShape{Phase::decode, 1, 16, 0}, StepShape{Phase::prefill, 1, 0, 16}}) {
        const Schedule sched = build_schedule(m, layout, st, BuildOptions{});
        for (const RankSchedule& r : sched.ranks)
          for (const Op& op : r.ops)
            s.add(op);
      }
    }
  return s;
}

} // namespace moesim
