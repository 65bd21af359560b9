// The shapes a model family's schedules contain, so that a fit can leave them out
// (leave-one-family-out: nothing used to calibrate shares the predicted model's shapes). GEMMs are
// matched on (n, k) whatever m (the batch sets m), attention on its per-GPU head counts and head
// dims whatever the batch and context. Memory-bound kernels are not matched.
#pragma once
#include "core/model.hpp"
#include "core/op_models.hpp"

#include <set>
#include <utility>
#include <vector>

namespace moesim {

struct FamilyShapes {
  std::set<std::pair<double, double>> gemm_nk; // (n, k) of dense GEMMs and of expert GEMMs
  std::set<std::vector<double>> attention;     // {kind, mla, d_qk, d_v, kv_heads, q_heads}

  // Adds a schedule op's shapes (through the op adapter, op_time.hpp).
  void add(const Op& op);
  // True when the record's GEMM (n, k) or attention heads and dims are among these shapes.
  bool covers(const OpRecord& r) const;
};

// The shapes of `models` under every plan of 1, 2, 4 and 8 GPUs that divides them (attention TP
// 1-8, MoE TP x EP 1-8), decode and prefill.
FamilyShapes family_shapes(const std::vector<Model>& models);

} // namespace moesim
