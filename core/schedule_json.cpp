#include "core/schedule_json.hpp"

#include "core/error.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

namespace moesim {

using nlohmann::json;

json schedule_to_json(const Schedule& s)
{
  const Plan& p = s.layout.plan;
  json j;
  j["format"] = "moesim-schedule-1";
  j["model"] = s.model;
  j["routing"] = s.routing;
  j["step"] = {{"phase", to_string(s.step.phase)},
               {"batch", s.step.batch},
               {"context", s.step.context},
               {"prompt", s.step.prompt}};
  j["engine"] = {{"cuda_graphs", s.engine.cuda_graphs},
                 {"launch_s", s.engine.launch_s},
                 {"sync_s", s.engine.sync_s},
                 {"graph_launch_s", s.engine.graph_launch_s},
                 {"grouped_gemm", s.engine.grouped_gemm_per_expert ? "per_expert" : "fused"},
                 {"timed_ops", s.engine.timed_ops}};
  j["plan"] = {{"name", p.name},       {"attn_tp", p.attn_tp}, {"attn_dp", p.attn_dp},
               {"moe_tp", p.moe_tp},   {"ep", p.ep},           {"pp", p.pp},
               {"microbatches", p.microbatches}, {"expert_comm", to_string(p.expert_comm)}};
  j["world"] = s.layout.world;
  j["collectives"] = s.collectives;
  json groups = json::array();
  for (const Group& g : s.layout.groups)
    groups.push_back({{"id", g.id}, {"kind", to_string(g.kind)}, {"ranks", g.ranks}});
  j["groups"] = groups;
  json ranks = json::array();
  for (const RankSchedule& r : s.ranks) {
    json ops = json::array();
    for (const Op& o : r.ops) {
      json jo = {{"id", o.id}, {"name", o.name}, {"kind", to_string(o.kind)}, {"layer", o.layer}};
      if (o.microbatch)
        jo["microbatch"] = o.microbatch;
      if (o.stream)
        jo["stream"] = o.stream;
      if (!o.deps.empty())
        jo["deps"] = o.deps;
      switch (op_class(o.kind)) {
        case OpClass::compute:
          jo["flops"] = o.flops;
          jo["bytes"] = o.bytes;
          jo["dtype"] = to_string(o.dtype);
          jo["shape"] = o.shape;
          if (!o.group_rows.empty())
            jo["group_rows"] = o.group_rows;
          if (o.mla)
            jo["mla"] = true;
          jo["kernels"] = o.kernels;
          break;
        case OpClass::collective:
          jo["group"] = o.group;
          jo["coll"] = o.coll;
          jo["bytes"] = o.comm_bytes;
          jo["dtype"] = to_string(o.dtype);
          if (!o.peer_bytes.empty())
            jo["peer_bytes"] = o.peer_bytes;
          break;
        case OpClass::p2p:
          jo["peer"] = o.peer;
          jo["tag"] = o.tag;
          jo["bytes"] = o.comm_bytes;
          break;
        case OpClass::host: break;
      }
      ops.push_back(std::move(jo));
    }
    ranks.push_back({{"rank", r.rank}, {"ops", std::move(ops)}});
  }
  j["ranks"] = std::move(ranks);
  return j;
}

namespace {

template <class T>
T get(const json& j, const char* key, const std::string& file, const std::string& where)
{
  if (!j.contains(key))
    throw InputError(file, where + key, "missing key", "regenerate the file with `moesim schedule`");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw InputError(file, where + key, std::string("wrong type: ") + e.what(),
                     "regenerate the file with `moesim schedule`");
  }
}

} // namespace

static Schedule parse_schedule(const json& j, const std::string& file);

Schedule schedule_from_json(const json& j, const std::string& file)
{
  try {
    return parse_schedule(j, file);
  } catch (const json::exception& e) {
    // A whole section missing or of the wrong type (the per-key checks cover the rest).
    throw InputError(file, "", std::string("malformed schedule: ") + e.what(), "regenerate it with `moesim schedule`");
  } catch (const std::invalid_argument& e) {
    // A name the core's parsers refuse (an unknown dtype or op kind); the message lists the accepted ones.
    throw InputError(file, "", std::string("malformed schedule: ") + e.what(), "regenerate it with `moesim schedule`");
  }
}

static Schedule parse_schedule(const json& j, const std::string& file)
{
  if (!j.is_object() || j.value("format", "") != "moesim-schedule-1")
    throw InputError(file, "format", "not a moesim schedule (expected format moesim-schedule-1)",
                     "pass a file written by `moesim schedule`");
  Schedule s;
  s.model = get<std::string>(j, "model", file, "");
  s.routing = get<std::string>(j, "routing", file, "");
  const json& st = j.at("step");
  std::string phase = get<std::string>(st, "phase", file, "step.");
  if (phase != "decode" && phase != "prefill")
    throw InputError(file, "step.phase", "unknown phase '" + phase + "'", "use decode or prefill");
  s.step.phase = phase == "decode" ? Phase::decode : Phase::prefill;
  s.step.batch = get<int>(st, "batch", file, "step.");
  s.step.context = get<int>(st, "context", file, "step.");
  s.step.prompt = get<int>(st, "prompt", file, "step.");
  const json& en = j.at("engine");
  s.engine.cuda_graphs = get<bool>(en, "cuda_graphs", file, "engine.");
  s.engine.launch_s = get<double>(en, "launch_s", file, "engine.");
  s.engine.sync_s = get<double>(en, "sync_s", file, "engine.");
  s.engine.graph_launch_s = get<double>(en, "graph_launch_s", file, "engine.");
  s.engine.grouped_gemm_per_expert = en.value("grouped_gemm", "fused") == "per_expert";
  s.engine.timed_ops = en.value("timed_ops", false);
  const json& pj = j.at("plan");
  Plan& p = s.layout.plan;
  p.name = get<std::string>(pj, "name", file, "plan.");
  p.attn_tp = get<int>(pj, "attn_tp", file, "plan.");
  p.attn_dp = get<int>(pj, "attn_dp", file, "plan.");
  p.moe_tp = get<int>(pj, "moe_tp", file, "plan.");
  p.ep = get<int>(pj, "ep", file, "plan.");
  p.pp = get<int>(pj, "pp", file, "plan.");
  p.microbatches = get<int>(pj, "microbatches", file, "plan.");
  std::string ec = get<std::string>(pj, "expert_comm", file, "plan.");
  if (ec == "all_to_all")
    p.expert_comm = ExpertComm::all_to_all;
  else if (ec == "all_reduce")
    p.expert_comm = ExpertComm::all_reduce;
  else if (ec == "allgather")
    p.expert_comm = ExpertComm::allgather;
  else
    throw InputError(file, "plan.expert_comm", "unknown value '" + ec + "'", "use all_to_all, all_reduce or allgather");
  s.layout.world = get<int>(j, "world", file, "");
  s.collectives = get<int>(j, "collectives", file, "");
  for (const json& g : j.at("groups")) {
    Group gr;
    gr.id = get<int>(g, "id", file, "groups[].");
    gr.ranks = get<std::vector<int>>(g, "ranks", file, "groups[].");
    std::string kind = get<std::string>(g, "kind", file, "groups[].");
    for (GroupKind k : {GroupKind::attn_tp, GroupKind::moe_tp, GroupKind::ep, GroupKind::stage, GroupKind::dp})
      if (kind == to_string(k))
        gr.kind = k;
    if (gr.id != static_cast<int>(s.layout.groups.size()))
      throw InputError(file, "groups[].id", "group ids must be 0, 1, 2, ... in order", "regenerate the file");
    s.layout.groups.push_back(std::move(gr));
  }
  for (const json& rj : j.at("ranks")) {
    RankSchedule r;
    r.rank = get<int>(rj, "rank", file, "ranks[].");
    for (const json& oj : rj.at("ops")) {
      Op o;
      const std::string w = "ranks[" + std::to_string(r.rank) + "].ops[].";
      o.id = get<int>(oj, "id", file, w);
      o.name = get<std::string>(oj, "name", file, w);
      try {
        o.kind = parse_op_kind(get<std::string>(oj, "kind", file, w));
      } catch (const std::invalid_argument& e) {
        throw InputError(file, w + "kind", e.what(), "regenerate the file with `moesim schedule`");
      }
      o.layer = get<int>(oj, "layer", file, w);
      o.microbatch = oj.value("microbatch", 0);
      o.stream = oj.value("stream", 0);
      if (oj.contains("deps"))
        o.deps = get<std::vector<int>>(oj, "deps", file, w);
      switch (op_class(o.kind)) {
        case OpClass::compute:
          o.flops = get<double>(oj, "flops", file, w);
          o.bytes = get<double>(oj, "bytes", file, w);
          o.dtype = parse_dtype(get<std::string>(oj, "dtype", file, w));
          o.shape = get<std::vector<double>>(oj, "shape", file, w);
          if (oj.contains("group_rows"))
            o.group_rows = get<std::vector<double>>(oj, "group_rows", file, w);
          o.mla = oj.value("mla", false);
          o.kernels = get<int>(oj, "kernels", file, w);
          break;
        case OpClass::collective:
          o.group = get<int>(oj, "group", file, w);
          o.coll = get<int>(oj, "coll", file, w);
          o.comm_bytes = get<double>(oj, "bytes", file, w);
          o.dtype = parse_dtype(get<std::string>(oj, "dtype", file, w));
          if (oj.contains("peer_bytes"))
            o.peer_bytes = get<std::vector<double>>(oj, "peer_bytes", file, w);
          if (o.group < 0 || o.group >= static_cast<int>(s.layout.groups.size()))
            throw InputError(file, w + "group", "group " + std::to_string(o.group) + " does not exist",
                             "regenerate the file");
          break;
        case OpClass::p2p:
          o.peer = get<int>(oj, "peer", file, w);
          o.tag = get<int>(oj, "tag", file, w);
          o.comm_bytes = get<double>(oj, "bytes", file, w);
          break;
        case OpClass::host: break;
      }
      if (o.id != static_cast<int>(r.ops.size()))
        throw InputError(file, w + "id", "op ids must be 0, 1, 2, ... in order", "regenerate the file");
      r.ops.push_back(std::move(o));
    }
    s.ranks.push_back(std::move(r));
  }
  if (static_cast<int>(s.ranks.size()) != s.layout.world)
    throw InputError(file, "ranks", "has " + std::to_string(s.ranks.size()) + " ranks but world is " +
                                        std::to_string(s.layout.world),
                     "regenerate the file");
  return s;
}

Schedule load_schedule_file(const std::string& path)
{
  std::ifstream in(path);
  if (!in)
    throw InputError(path, "", "file not found or unreadable", "check the path");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) { // parse errors, and numbers past double's range (out_of_range 406)
    throw InputError(path, "", std::string("malformed JSON: ") + e.what(), "regenerate it with `moesim schedule`");
  }
  return schedule_from_json(j, path);
}

} // namespace moesim
