// Study: model + phase + batch + context + routing + engine + the plans and platforms to compare.
#pragma once
#include "core/engine_profile.hpp"
#include "core/model.hpp"
#include "core/plan.hpp"
#include "core/routing.hpp"
#include "core/schedule.hpp"

#include <optional>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace moesim {

// The engine a scenario runs on: moesim's generic engine (EngineParams alone), or a serving stack's
// profile (workloads/engines/NAME.yaml) with a study's overrides, from which EngineParams follow.
struct EngineChoice {
  std::optional<EngineProfile> profile;
  EngineParams params;
};

// One candidate explanation of a measured figure: the same plan, platform and batch on another
// engine path (a profile with overrides), simulated beside the study and set against the figure.
struct Candidate {
  std::string name;
  std::string plan; // "" = the reference's plan
  EngineChoice engine;
};

// A measured figure to print beside the simulated one.
struct Reference {
  std::string plan;
  std::string platform;
  int batch = 0;
  double tok_s = 0; // per user
  std::string source;
  std::vector<Candidate> candidates;
};

inline constexpr int pp_steady_warmup = 2;
inline constexpr int pp_steady_max_steps = 64;

struct Study {
  std::string name;
  std::string file;
  std::string description;
  Model model;
  std::vector<std::string> platforms; // names or paths as written; resolved by the caller
  Phase phase = Phase::decode;
  std::vector<int> batches;
  int context = 0;
  int prompt = 0;
  RoutingSpec routing;
  EngineParams engine;                       // the generic engine, or what the profile sets
  std::optional<EngineProfile> engine_profile;
  double gpu_memory_utilization = 0.9;
  // PP decode plans: steps simulated back to back for the steady state (core/pp_steady.hpp), the
  // first pp_steady_warmup of them not measured; 0 turns it off.
  int pp_steady_steps = 6;
  std::vector<Plan> plans;
  std::vector<Reference> references;
};

// Throws InputError naming `where` when a batch of the study would take sampled or Zipf routing
// more than limits::routing_draws steps to draw (load_study_file checks this; call it again after
// changing the batches).
void check_routing_work(const Study& s, const std::string& where);

// Paths: `root` is the repository (or install) root holding workloads/ and platforms/.
Study load_study_file(const std::string& path, const std::string& root);
std::string resolve_study_path(const std::string& name_or_path, const std::string& root);
// A platform name resolves to platforms/NAME.xml, else to the topology platforms/NAME.yaml; with
// prefer_yaml the YAML comes first. A path (with '/' or a .xml/.yaml suffix) is taken as it is.
std::string resolve_platform_path(const std::string& name_or_path, const std::string& root, bool prefer_yaml = false);

// EngineParams that follow from a profile (host costs, graphs on, grouped GEMM, kernel bandwidths).
EngineParams engine_params_of(const EngineProfile& p, EngineParams base = {});
// Reads an `engine:` value: a profile name, a map with `profile:` and overrides, or a map of the
// generic engine's keys. `where` names the study file (errors say file:line: engine.KEY).
EngineChoice read_engine_choice(const std::string& file, const YAML::Node& node, const std::string& root,
                                const std::string& where);

} // namespace moesim
