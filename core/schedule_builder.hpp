// Builds the per-rank op DAG of one decode or prefill step from model x layout x step x routing.
#pragma once
#include "core/model.hpp"
#include "core/routing.hpp"
#include "core/schedule.hpp"

namespace moesim {

struct BuildOptions {
  RoutingSpec routing;
  EngineParams engine;
};

Schedule build_schedule(const Model& model, const Layout& layout, const StepShape& step, const BuildOptions& opt);

// Device memory one rank needs (bytes), by part.
struct MemoryUse {
  double weights = 0;
  double kv_cache = 0;
  double activations = 0;
  double total() const { return weights + kv_cache + activations; }
};
MemoryUse memory_per_rank(const Model& model, const Layout& layout, const StepShape& step, int rank);

} // namespace moesim
