// A search's JSON (what --json writes and --merge reads) and the merge of shards.
#include "core/error.hpp"
#include "core/json_whole.hpp"
#include "pipeline/search.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace moesim {
namespace {

using nlohmann::json;

json band_json(const Band& b)
{
  return {{"p50", b.p50}, {"p90", b.p90}};
}

Band band_from(const json& j)
{
  return {j.at("p50").get<double>(), j.at("p90").get<double>()};
}

json setup_json(const SearchSetup& s)
{
  return {{"model", s.model},
          {"platforms", s.platforms},
          {"gpus", s.gpus},
          {"batches", s.batches},
          {"phase", s.phase == Phase::decode ? "decode" : "prefill"},
          {"context", s.context},
          {"prompt", s.prompt},
          {"routing", s.routing},
          {"graphs", s.graphs},
          {"slo", s.slo.metric.empty() ? json(nullptr) : json{{"metric", s.slo.metric}, {"seconds", s.slo.seconds}}},
          {"rank", s.rank},
          {"seeds", s.seeds},
          {"candidates", s.candidates},
          {"shard", std::to_string(s.shard.index) + "/" + std::to_string(s.shard.count)}};
}

SearchSetup setup_from(const json& j)
{
  SearchSetup s;
  s.model = j.at("model");
  s.platforms = j.at("platforms").get<std::vector<std::string>>();
  s.gpus = json_whole_list<int>(j.at("gpus"));
  s.batches = json_whole_list<int>(j.at("batches"));
  s.phase = j.at("phase") == "decode" ? Phase::decode : Phase::prefill;
  s.context = json_whole<int>(j.at("context"));
  s.prompt = json_whole<int>(j.at("prompt"));
  s.routing = j.at("routing");
  s.graphs = j.at("graphs");
  if (!j.at("slo").is_null())
    s.slo = {j["slo"].at("metric"), j["slo"].at("seconds")};
  s.rank = j.at("rank");
  s.seeds = json_whole<int>(j.at("seeds"));
  s.candidates = json_whole<size_t>(j.at("candidates"));
  s.shard = parse_shard(j.at("shard"));
  return s;
}

json row_json(const SearchRow& r)
{
  json j = {{"key", r.key},         {"platform", r.platform}, {"plan", r.plan},   {"layout", r.layout},
            {"gpus", r.gpus},       {"pp", r.pp},             {"batch", r.batch}, {"cuda_graphs", r.cuda_graphs},
            {"memory_bytes", r.memory}, {"capacity_bytes", r.capacity}};
  if (!r.pruned.empty()) {
    j["pruned"] = r.pruned;
    j["why_pruned"] = r.why_pruned;
    return j;
  }
  j["seeds"] = r.band.seeds;
  j["median_seed"] = r.band.median_seed;
  j["step_time_s"] = band_json(r.band.step_time);
  j["tok_s_user"] = band_json(r.band.tok_s_user);
  j["tok_s_per_gpu"] = band_json(r.band.tok_s_per_gpu);
  j["mean_s"] = {{"compute", r.mean.compute}, {"comm", r.mean.comm}, {"host", r.mean.host}, {"idle", r.mean.idle}};
  j["comm_s_by_kind"] = r.comm_by_kind;
  return j;
}

SearchRow row_from(const json& j)
{
  SearchRow r;
  r.key = json_whole<size_t>(j.at("key"));
  r.platform = j.at("platform");
  r.plan = j.at("plan");
  r.layout = j.at("layout");
  r.gpus = json_whole<int>(j.at("gpus"));
  r.pp = json_whole<int>(j.at("pp"));
  r.batch = json_whole<int>(j.at("batch"));
  r.cuda_graphs = j.at("cuda_graphs");
  r.memory = j.at("memory_bytes");
  r.capacity = j.at("capacity_bytes");
  if (j.contains("pruned")) {
    r.pruned = j["pruned"];
    r.why_pruned = j.at("why_pruned");
    return r;
  }
  r.band.seeds = json_whole<int>(j.at("seeds"));
  r.band.median_seed = json_whole<size_t>(j.at("median_seed"));
  r.band.step_time = band_from(j.at("step_time_s"));
  r.band.tok_s_user = band_from(j.at("tok_s_user"));
  r.band.tok_s_per_gpu = band_from(j.at("tok_s_per_gpu"));
  const json& m = j.at("mean_s");
  r.mean = {m.at("compute"), m.at("comm"), m.at("host"), m.at("idle")};
  r.comm_by_kind = j.at("comm_s_by_kind").get<std::map<std::string, double>>();
  return r;
}

} // namespace

std::string search_to_json(const SearchResult& r)
{
  json rows = json::array();
  for (const SearchRow& row : r.rows)
    rows.push_back(row_json(row));
  const SearchAnalysis& a = r.analysis;
  json pareto = json::array();
  for (size_t i : a.pareto)
    pareto.push_back(r.rows[i].key);
  json analysis = {{"simulated", a.simulated}, {"pruned", a.pruned}, {"pareto_keys", pareto}, {"meeting_slo", a.meeting_slo}};
  analysis["best_key"] = a.best ? json(r.rows[*a.best].key) : json(nullptr);
  analysis["runner_up_key"] = a.runner_up ? json(r.rows[*a.runner_up].key) : json(nullptr);
  analysis["why"] = a.why;
  json j = {{"moesim_search", 1}, {"setup", setup_json(r.setup)}, {"rows", rows}, {"analysis", analysis}};
  return j.dump(1) + "\n";
}

SearchResult search_from_json(const std::string& text, const std::string& file)
{
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("moesim_search"))
    throw InputError(file, "--merge", "not the JSON of a moesim search", "pass files written by moesim search --json");
  SearchResult r;
  try {
    r.setup = setup_from(j.at("setup"));
    for (const json& row : j.at("rows"))
      r.rows.push_back(row_from(row));
  } catch (const json::exception& e) {
    throw InputError(file, "--merge", std::string("malformed search JSON: ") + e.what(), "pass files written by moesim search --json");
  }
  r.analysis = analyse(r.setup, r.rows);
  return r;
}

SearchResult merge_search(const std::vector<std::pair<std::string, SearchResult>>& shards)
{
  if (shards.empty())
    throw InputError("command line", "--merge", "no files given", "pass the shards' JSON files");
  SearchResult out;
  out.setup = shards[0].second.setup;
  out.setup.shard = {1, 1};
  const json want = setup_json(out.setup);
  std::vector<std::string> owner(out.setup.candidates);
  for (const auto& [file, s] : shards) {
    SearchSetup su = s.setup;
    su.shard = {1, 1};
    if (setup_json(su) != want)
      throw InputError(file, "--merge", "its search differs from " + shards[0].first + "'s (model, platforms, batches, SLO, rank or seeds)",
                       "merge only the shards of one search");
    for (const SearchRow& r : s.rows) {
      if (r.key >= owner.size())
        throw InputError(file, "--merge", "candidate " + std::to_string(r.key) + " is beyond the search's " +
                                              std::to_string(owner.size()), "merge only the shards of one search");
      if (!owner[r.key].empty())
        throw InputError(file, "--merge", "candidate " + std::to_string(r.key) + " is also in " + owner[r.key],
                         "pass each shard once");
      owner[r.key] = file;
      out.rows.push_back(r);
    }
  }
  for (size_t k = 0; k < owner.size(); k++)
    if (owner[k].empty())
      throw InputError("command line", "--merge", "candidate " + std::to_string(k) + " of " + std::to_string(owner.size()) +
                                                      " is in none of the files (a shard is missing)",
                       "pass every shard's JSON");
  std::sort(out.rows.begin(), out.rows.end(), [](const SearchRow& a, const SearchRow& b) { return a.key < b.key; });
  out.analysis = analyse(out.setup, out.rows);
  return out;
}

} // namespace moesim
