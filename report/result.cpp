#include "report/result.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace moesim {

perf::Provenance dominant_provenance(const std::map<std::string, double>& shares)
{
  perf::Provenance best = perf::Provenance::specs;
  double most = 0;
  for (perf::Provenance p : {perf::Provenance::measured, perf::Provenance::interpolated,
                             perf::Provenance::extrapolated, perf::Provenance::specs})
    if (auto it = shares.find(perf::to_string(p)); it != shares.end() && it->second > most)
      most = it->second, best = p;
  return best;
}

void attach_error_bands(std::vector<ScenarioResult>& results, const ErrorBands& bands)
{
  for (ScenarioResult& r : results) {
    if (r.refused)
      continue;
    const perf::Provenance p = dominant_provenance(r.compute_provenance);
    r.error_band = std::string(perf::to_string(p)) + ": " +
                   describe_band(bands.find(p, r.gpus, r.cuda_graphs, r.gpu_model), p, r.gpu_model);
  }
}

std::string ScenarioResult::key() const
{
  return plan + " @ " + platform + " b=" + std::to_string(batch);
}

static nlohmann::json breakdown_json(const Breakdown& b)
{
  return {{"compute", b.compute}, {"comm", b.comm}, {"host", b.host}, {"idle", b.idle}};
}
static Breakdown breakdown_from(const nlohmann::json& j)
{
  return {j.at("compute").get<double>(), j.at("comm").get<double>(), j.at("host").get<double>(),
          j.at("idle").get<double>()};
}

nlohmann::json result_to_json(const ScenarioResult& r)
{
  nlohmann::json j;
  j["plan"] = r.plan;
  j["plan_layout"] = r.plan_layout;
  j["platform"] = r.platform;
  j["platform_description"] = r.platform_description;
  j["calibration"] = r.calibration;
  j["calibration_file"] = r.calibration_file;
  j["gpu_model"] = r.gpu_model;
  j["gpus"] = r.gpus;
  j["phase"] = to_string(r.phase);
  j["batch"] = r.batch;
  j["context"] = r.context;
  j["prompt"] = r.prompt;
  j["cuda_graphs"] = r.cuda_graphs;
  if (!r.software_paths.empty())
    j["software_paths"] = r.software_paths;
  j["refused"] = r.refused;
  j["refusal"] = r.refusal;
  j["step_time"] = r.step_time;
  j["tok_s_user"] = r.tok_s_user;
  j["tok_s_total"] = r.tok_s_total;
  j["tok_s_per_gpu"] = r.tok_s_per_gpu;
  j["tok_s_pipelined"] = r.tok_s_pipelined;
  if (r.steady_steps > 0)
    j["steady"] = {{"steps", r.steady_steps}, {"warmup", r.steady_warmup},
                   {"microbatches", r.steady_microbatches}, {"interval", r.steady_interval},
                   {"tok_s", r.tok_s_steady}};
  j["pp"] = r.pp;
  j["mean"] = breakdown_json(r.mean);
  j["slowest"] = breakdown_json(r.slowest);
  j["slowest_rank"] = r.slowest_rank;
  j["compute_imbalance"] = r.compute_imbalance;
  j["expert_imbalance"] = r.expert_imbalance;
  j["host_syncs"] = r.host_syncs;
  j["kernels"] = r.kernels;
  j["collectives"] = r.collectives;
  j["link_bytes"] = r.link_bytes;
  j["comm_time_by_kind"] = r.comm_time_by_kind;
  j["calls_by_kind"] = r.calls_by_kind;
  j["fixed_by_kind"] = r.fixed_by_kind;
  j["algorithms"] = r.algorithms;
  j["compute_provenance"] = r.compute_provenance;
  j["error_band"] = r.error_band;
  j["memory"] = {{"weights", r.memory.weights}, {"kv_cache", r.memory.kv_cache},
                 {"activations", r.memory.activations}, {"capacity", r.memory_capacity}};
  return j;
}

ScenarioResult result_from_json(const nlohmann::json& j)
{
  ScenarioResult r;
  r.plan = j.at("plan");
  r.plan_layout = j.at("plan_layout");
  r.platform = j.at("platform");
  r.platform_description = j.at("platform_description");
  r.calibration = j.value("calibration", "");
  r.calibration_file = j.value("calibration_file", "");
  r.gpu_model = j.at("gpu_model");
  r.gpus = j.at("gpus");
  r.phase = j.at("phase") == "decode" ? Phase::decode : Phase::prefill;
  r.batch = j.at("batch");
  r.context = j.at("context");
  r.prompt = j.at("prompt");
  r.cuda_graphs = j.at("cuda_graphs");
  r.software_paths = j.value("software_paths", std::string());
  r.refused = j.at("refused");
  r.refusal = j.at("refusal");
  r.step_time = j.at("step_time");
  r.tok_s_user = j.at("tok_s_user");
  r.tok_s_total = j.at("tok_s_total");
  r.tok_s_per_gpu = j.at("tok_s_per_gpu");
  r.tok_s_pipelined = j.at("tok_s_pipelined");
  if (j.contains("steady")) {
    const auto& st = j["steady"];
    r.steady_steps = st.at("steps");
    r.steady_warmup = st.at("warmup");
    r.steady_microbatches = st.at("microbatches");
    r.steady_interval = st.at("interval");
    r.tok_s_steady = st.at("tok_s");
  }
  r.pp = j.at("pp");
  r.mean = breakdown_from(j.at("mean"));
  r.slowest = breakdown_from(j.at("slowest"));
  r.slowest_rank = j.at("slowest_rank");
  r.compute_imbalance = j.at("compute_imbalance");
  r.expert_imbalance = j.at("expert_imbalance");
  r.host_syncs = j.at("host_syncs");
  r.kernels = j.at("kernels");
  r.collectives = j.at("collectives");
  r.link_bytes = j.at("link_bytes").get<std::map<std::string, double>>();
  r.comm_time_by_kind = j.at("comm_time_by_kind").get<std::map<std::string, double>>();
  r.calls_by_kind = j.at("calls_by_kind").get<std::map<std::string, double>>();
  r.fixed_by_kind = j.at("fixed_by_kind").get<std::map<std::string, double>>();
  r.algorithms = j.at("algorithms").get<std::map<std::string, int>>();
  r.compute_provenance = j.value("compute_provenance", std::map<std::string, double>{});
  r.error_band = j.value("error_band", "");
  const auto& m = j.at("memory");
  r.memory = {m.at("weights"), m.at("kv_cache"), m.at("activations")};
  r.memory_capacity = m.at("capacity");
  return r;
}

void summarise(ScenarioResult& r, const Schedule& s, const Timeline& t)
{
  const int world = s.layout.world;
  r.step_time = t.step_time;
  const double tokens = s.step.tokens();
  r.tok_s_total = tokens / t.step_time;
  r.tok_s_user = s.step.phase == Phase::decode ? 1.0 / t.step_time : s.step.prompt / t.step_time;
  r.tok_s_per_gpu = r.tok_s_total / world;
  double max_compute = -1, sum_compute = 0, max_busy = 0;
  r.pp = s.layout.plan.pp;
  r.mean = {};
  const std::vector<Breakdown> per_rank_breakdown = breakdown_of_ranks(t);
  for (int rank = 0; rank < world; rank++) {
    const Breakdown b = rank < static_cast<int>(per_rank_breakdown.size()) ? per_rank_breakdown[rank] : Breakdown{};
    r.mean.compute += b.compute / world;
    r.mean.comm += b.comm / world;
    r.mean.host += b.host / world;
    r.mean.idle += b.idle / world;
    sum_compute += b.compute;
    max_busy = std::max(max_busy, b.compute + b.comm + b.host);
    if (b.compute > max_compute) {
      max_compute = b.compute;
      r.slowest = b;
      r.slowest_rank = rank;
    }
  }
  r.tok_s_pipelined = max_busy > 0 ? tokens / max_busy : r.tok_s_total;
  r.compute_imbalance = sum_compute > 0 ? max_compute / (sum_compute / world) : 1.0;
  // Expert GEMM time per (layer, microbatch): slowest rank against the mean.
  std::map<std::pair<int, int>, std::pair<double, double>> experts; // -> (sum over ranks, max)
  std::map<std::tuple<int, int, int>, double> per_rank;              // (layer, mb, rank) -> time
  for (const TimelineEvent& e : t.events)
    if (e.kind == OpKind::grouped_gemm)
      per_rank[{e.layer, e.microbatch, e.rank}] += e.end - e.start;
  for (const auto& [k, v] : per_rank) {
    auto& [sum, mx] = experts[{std::get<0>(k), std::get<1>(k)}];
    sum += v;
    mx = std::max(mx, v);
  }
  std::map<std::pair<int, int>, int> members_of; // (layer, mb) -> ranks that ran expert GEMMs in it
  for (const auto& [pk, pv] : per_rank)
    members_of[{std::get<0>(pk), std::get<1>(pk)}]++;
  double sum_max = 0, sum_mean = 0;
  for (const auto& [k, v] : experts) {
    const int members = members_of[k];
    sum_max += v.second;
    sum_mean += v.first / members;
  }
  r.expert_imbalance = sum_mean > 0 ? sum_max / sum_mean : 1.0;
  r.comm_time_by_kind.clear();
  r.calls_by_kind.clear();
  r.fixed_by_kind.clear();
  for (const TimelineEvent& e : t.events)
    if (e.stream == 0 && op_class(e.kind) != OpClass::compute && op_class(e.kind) != OpClass::host) {
      r.comm_time_by_kind[to_string(e.kind)] += (e.end - e.sync) / world;
      r.calls_by_kind[to_string(e.kind)] += 1.0 / world;
      r.fixed_by_kind[to_string(e.kind)] += e.fixed / world;
    }
  r.host_syncs = r.kernels = r.collectives = 0;
  for (const RankSchedule& rs : s.ranks) {
    int syncs = 0, kernels = 0, colls = 0;
    for (const Op& o : rs.ops) {
      syncs += o.kind == OpKind::host_sync;
      colls += op_class(o.kind) == OpClass::collective;
      kernels += op_class(o.kind) == OpClass::compute ? o.kernels : (o.is_comm() ? 1 : 0);
    }
    r.host_syncs = std::max(r.host_syncs, syncs);
    r.kernels = std::max(r.kernels, kernels);
    r.collectives = std::max(r.collectives, colls);
  }
}

} // namespace moesim
