#include "core/timeline.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace moesim {

namespace {

void add_event(Breakdown& b, const TimelineEvent& e)
{
  switch (op_class(e.kind)) {
    case OpClass::compute:
      b.compute += e.end - e.start;
      b.host += e.start - e.ready;
      break;
    case OpClass::collective:
    case OpClass::p2p:
      b.comm += e.end - e.sync;
      b.host += e.start - e.ready;
      b.idle += e.sync - e.start;
      break;
    case OpClass::host: b.host += e.end - e.ready; break;
  }
}

// Idle is what is left; clamp the rounding residue of the sum so that it never prints as -0%.
void close_idle(Breakdown& b, double step_time) { b.idle = std::max(0.0, step_time - b.compute - b.comm - b.host); }

} // namespace

Breakdown breakdown_of_rank(const Timeline& t, int rank)
{
  Breakdown b;
  for (const TimelineEvent& e : t.events)
    if (e.rank == rank && e.stream == 0)
      add_event(b, e);
  close_idle(b, t.step_time);
  return b;
}

std::vector<Breakdown> breakdown_of_ranks(const Timeline& t)
{
  int world = t.world;
  for (const TimelineEvent& e : t.events)
    world = std::max(world, e.rank + 1);
  std::vector<Breakdown> out(static_cast<size_t>(std::max(world, 0)));
  for (const TimelineEvent& e : t.events)
    if (e.stream == 0 && e.rank >= 0)
      add_event(out[e.rank], e);
  for (Breakdown& b : out)
    close_idle(b, t.step_time);
  return out;
}

nlohmann::json timeline_to_json(const Timeline& t)
{
  nlohmann::json j;
  j["format"] = "moesim-timeline-1";
  j["source"] = t.source;
  j["platform"] = t.platform;
  j["plan"] = t.plan;
  j["world"] = t.world;
  j["step_time"] = t.step_time;
  nlohmann::json ev = nlohmann::json::array();
  for (const TimelineEvent& e : t.events) {
    nlohmann::json je = {{"rank", e.rank},   {"op", e.op},       {"stream", e.stream}, {"layer", e.layer},
                         {"name", e.name},   {"kind", to_string(e.kind)}, {"ready", e.ready},
                         {"start", e.start}, {"sync", e.sync},   {"end", e.end}};
    if (e.microbatch)
      je["microbatch"] = e.microbatch;
    if (!e.detail.empty())
      je["detail"] = e.detail;
    if (!e.shape.empty())
      je["shape"] = e.shape;
    if (e.bytes > 0)
      je["bytes"] = e.bytes;
    if (e.fixed > 0)
      je["fixed"] = e.fixed;
    ev.push_back(std::move(je));
  }
  j["events"] = std::move(ev);
  if (!t.link_capacity.empty())
    j["link_capacity"] = t.link_capacity;
  if (!t.link_traffic.empty()) {
    nlohmann::json lt = nlohmann::json::array();
    for (const LinkTraffic& l : t.link_traffic)
      lt.push_back({{"class", l.link_class}, {"start", l.start}, {"end", l.end}, {"bytes", l.bytes}});
    j["link_traffic"] = std::move(lt);
  }
  return j;
}

Timeline timeline_from_json(const nlohmann::json& j, const std::string& file)
{
  if (!j.is_object() || j.value("format", "") != "moesim-timeline-1")
    throw InputError(file, "format", "not a moesim timeline (expected format moesim-timeline-1)",
                     "pass a file written by `moesim run --timeline` or by validate/");
  Timeline t;
  try {
    t.source = j.at("source").get<std::string>();
    t.platform = j.at("platform").get<std::string>();
    t.plan = j.at("plan").get<std::string>();
    t.world = j.at("world").get<int>();
    t.step_time = j.at("step_time").get<double>();
    for (const auto& je : j.at("events")) {
      TimelineEvent e;
      e.rank = je.at("rank").get<int>();
      e.op = je.at("op").get<int>();
      e.stream = je.at("stream").get<int>();
      e.layer = je.at("layer").get<int>();
      e.microbatch = je.value("microbatch", 0);
      e.name = je.at("name").get<std::string>();
      e.kind = parse_op_kind(je.at("kind").get<std::string>());
      e.ready = je.at("ready").get<double>();
      e.start = je.at("start").get<double>();
      e.sync = je.at("sync").get<double>();
      e.end = je.at("end").get<double>();
      e.detail = je.value("detail", "");
      if (je.contains("shape"))
        e.shape = je.at("shape").get<std::vector<double>>();
      e.bytes = je.value("bytes", 0.0);
      e.fixed = je.value("fixed", 0.0);
      t.events.push_back(std::move(e));
    }
    if (j.contains("link_capacity"))
      t.link_capacity = j.at("link_capacity").get<std::map<std::string, double>>();
    if (j.contains("link_traffic"))
      for (const auto& jl : j.at("link_traffic"))
        t.link_traffic.push_back({jl.at("class").get<std::string>(), jl.at("start").get<double>(),
                                  jl.at("end").get<double>(), jl.at("bytes").get<double>()});
  } catch (const std::exception& ex) {
    throw InputError(file, "events", std::string("malformed timeline: ") + ex.what(), "regenerate the file");
  }
  return t;
}

} // namespace moesim
