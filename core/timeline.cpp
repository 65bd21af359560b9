#include "core/timeline.hpp"

#include "core/error.hpp"
#include "core/json_whole.hpp"
#include "core/limits.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
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
    if (e.family)
      je["family"] = to_string(*e.family);
    if (e.role)
      je["role"] = to_string(*e.role);
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

namespace {

// Every key is used or refused (a misspelt key would otherwise read as a default).
void known_keys(const nlohmann::json& j, std::initializer_list<const char*> keys, const std::string& file,
                const std::string& where)
{
  for (const auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* x : keys)
      ok = ok || k == x;
    if (!ok)
      throw InputError(file, where + k, "unknown key", "regenerate the file with `moesim run --timeline` or validate/");
  }
}

double finite(const nlohmann::json& j, const char* key)
{
  const double v = j.at(key).get<double>();
  if (!std::isfinite(v))
    throw std::invalid_argument(std::string(key) + " is not a finite number");
  return v;
}

} // namespace

Timeline timeline_from_json(const nlohmann::json& j, const std::string& file)
{
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string() || j["format"] != "moesim-timeline-1")
    throw InputError(file, "format", "not a moesim timeline (expected format moesim-timeline-1)",
                     "pass a file written by `moesim run --timeline` or by validate/");
  known_keys(j, {"format", "source", "platform", "plan", "world", "step_time", "events", "link_capacity", "link_traffic",
                 "measurement"},
             file, "");
  Timeline t;
  size_t i = 0;
  std::set<std::pair<int, int>> seen;
  try {
    t.source = j.at("source").get<std::string>();
    t.platform = j.at("platform").get<std::string>();
    t.plan = j.at("plan").get<std::string>();
    t.world = json_whole<int>(j.at("world"));
    if (t.world < 1 || t.world > limits::gpus)
      throw InputError(file, "world", std::to_string(t.world) + " ranks", "a timeline has 1 to " + std::to_string(limits::gpus) + " ranks");
    t.step_time = finite(j, "step_time");
    if (!(t.step_time > 0))
      throw InputError(file, "step_time", "a step of " + std::to_string(t.step_time) + " s", "a measured or simulated step takes a positive time; regenerate the file");
    for (const auto& je : j.at("events")) {
      const std::string at = "events[" + std::to_string(i++) + "].";
      if (!je.is_object())
        throw InputError(file, at, "not an object", "regenerate the file");
      known_keys(je, {"rank", "op", "stream", "layer", "microbatch", "name", "kind", "family", "role", "ready", "start",
                      "sync", "end", "detail", "shape", "bytes", "fixed"},
                 file, at);
      TimelineEvent e;
      e.rank = json_whole<int>(je.at("rank"));
      e.op = json_whole<int>(je.at("op"));
      e.stream = json_whole<int>(je.at("stream"));
      e.layer = json_whole<int>(je.at("layer"));
      e.microbatch = json_whole_or<int>(je, "microbatch", 0);
      e.name = je.at("name").get<std::string>();
      e.kind = parse_op_kind(je.at("kind").get<std::string>());
      if (je.contains("family"))
        e.family = parse_op_family(je.at("family").get<std::string>());
      if (je.contains("role"))
        e.role = parse_op_role(je.at("role").get<std::string>());
      e.ready = finite(je, "ready");
      e.start = finite(je, "start");
      e.sync = finite(je, "sync");
      e.end = finite(je, "end");
      e.detail = je.value("detail", "");
      if (je.contains("shape"))
        e.shape = je.at("shape").get<std::vector<double>>();
      e.bytes = je.value("bytes", 0.0);
      if (!std::isfinite(e.bytes) || e.bytes < 0)
        throw InputError(file, at + "bytes", "not a finite, non-negative number of bytes", "regenerate the file");
      e.fixed = je.value("fixed", 0.0);
      if (!std::isfinite(e.fixed) || e.fixed < 0)
        throw InputError(file, at + "fixed", "not a finite, non-negative time", "regenerate the file");
      if (e.rank < 0 || e.rank >= t.world || e.op < 0 || e.stream < 0 || e.layer < -1 || e.microbatch < 0)
        throw InputError(file, at + "rank", "rank " + std::to_string(e.rank) + ", op " + std::to_string(e.op) +
                                                " is not an op of a rank below world " + std::to_string(t.world),
                         "regenerate the file");
      if (!seen.insert({e.rank, e.op}).second)
        throw InputError(file, at + "op", "op " + std::to_string(e.op) + " of rank " + std::to_string(e.rank) + " appears twice",
                         "regenerate the file");
      // 0 <= ready <= start <= sync <= end <= step: an op never ends before it starts, nor after
      // the step (validate/ scales a graph's events to its step time: a few ulps of slack).
      if (!(0 <= e.ready && e.ready <= e.start && e.start <= e.sync && e.sync <= e.end &&
            e.end <= t.step_time * (1 + 1e-9)))
        throw InputError(file, at + "end", "op '" + e.name + "' has ready " + std::to_string(e.ready) + ", start " +
                                               std::to_string(e.start) + ", sync " + std::to_string(e.sync) + ", end " +
                                               std::to_string(e.end) + ", step " + std::to_string(t.step_time) + ": not in that order",
                         "times run from 0 and never decrease from ready to end to the step time; regenerate the file");
      t.events.push_back(std::move(e));
    }
    if (j.contains("link_capacity"))
      t.link_capacity = j.at("link_capacity").get<std::map<std::string, double>>();
    for (const auto& [cls, cap] : t.link_capacity)
      if (!std::isfinite(cap) || !(cap > 0))
        throw InputError(file, "link_capacity." + cls, "not a positive finite bandwidth", "regenerate the file");
    if (j.contains("link_traffic"))
      for (const auto& jl : j.at("link_traffic")) {
        known_keys(jl, {"class", "start", "end", "bytes"}, file, "link_traffic[].");
        const LinkTraffic l{jl.at("class").get<std::string>(), finite(jl, "start"), finite(jl, "end"), finite(jl, "bytes")};
        if (!(0 <= l.start && l.start <= l.end && l.bytes >= 0))
          throw InputError(file, "link_traffic[]", "traffic of " + l.link_class + " from " + std::to_string(l.start) +
                                                      " to " + std::to_string(l.end) + " s: times out of order or bytes negative",
                           "regenerate the file");
        t.link_traffic.push_back(l);
      }
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& ex) {
    throw InputError(file, "events", std::string("malformed timeline: ") + ex.what(), "regenerate the file");
  }
  return t;
}

} // namespace moesim
