#include "validate/runner_plan.hpp"

#include "core/error.hpp"
#include "validate/nccl_env.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

namespace moesim::validate {

namespace {

const char* const fix = "regenerate the file with `moesim schedule`";

std::string where(int rank, const Op& op)
{
  return "ranks[" + std::to_string(rank) + "].ops[" + std::to_string(op.id) + "] (" + op.name + ")";
}

// Members' ops of every collective instance: coll id -> (global rank -> op).
std::map<int, std::map<int, const Op*>> collective_members(const Schedule& s)
{
  std::map<int, std::map<int, const Op*>> m;
  for (const RankSchedule& r : s.ranks)
    for (const Op& op : r.ops)
      if (op_class(op.kind) == OpClass::collective)
        m[op.coll][r.rank] = &op;
  return m;
}

// The bytes rank `from` (at group index `from_index`) sends to group index `to` in its all-to-all.
double a2a_bytes(const Op& op, int to, int members)
{
  if (op.peer_bytes.empty())
    return op.comm_bytes / members;
  return op.peer_bytes.at(static_cast<std::size_t>(to));
}

// Sends and receives matched one for one: (from, to, tag) -> the k-th op of each side, as
// (rank, op id).
using P2pKey = std::tuple<int, int, int>;
struct P2pSides {
  std::vector<std::pair<int, int>> sends, recvs;
};

std::map<P2pKey, P2pSides> match_p2p(const Schedule& s)
{
  std::map<P2pKey, P2pSides> m;
  for (const RankSchedule& r : s.ranks)
    for (const Op& op : r.ops) {
      if (op.kind == OpKind::send)
        m[{r.rank, op.peer, op.tag}].sends.emplace_back(r.rank, op.id);
      else if (op.kind == OpKind::recv)
        m[{op.peer, r.rank, op.tag}].recvs.emplace_back(r.rank, op.id);
    }
  return m;
}

std::string fmt(const char* format, double v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string describe_call(const CommCall& c, const CommPlan& plan)
{
  std::string d = "nccl comm " + std::to_string(c.comm) + " (" + plan.comms[c.comm].kind + ", " +
                  std::to_string(c.comm_size) + " ranks) bf16";
  if (c.kind == OpKind::all_to_all) {
    d += " sends " + std::to_string(c.sends.size()) + "x/" + std::to_string(c.send_elements) + " elements, recvs " +
         std::to_string(c.recvs.size()) + "x/" + std::to_string(c.recv_elements);
  } else {
    d += " count " + std::to_string(c.count);
    if (!c.sends.empty())
      d += " to " + std::to_string(c.sends[0].peer);
    if (!c.recvs.empty())
      d += " from " + std::to_string(c.recvs[0].peer);
  }
  return d;
}

} // namespace

std::size_t bf16_elements(double bytes)
{
  if (!(bytes > 0))
    return 0;
  return static_cast<std::size_t>(std::llround(bytes / 2.0));
}

std::vector<std::vector<CommCall>> plan_comm_calls(const Schedule& s, const CommPlan& plan, const std::string& file)
{
  std::vector<int> comm_of(s.layout.groups.size(), -1);
  int p2p_comm = -1;
  for (std::size_t c = 0; c < plan.comms.size(); c++) {
    for (int g : plan.comms[c].groups)
      comm_of.at(static_cast<std::size_t>(g)) = static_cast<int>(c);
    if (plan.comms[c].kind == "p2p")
      p2p_comm = static_cast<int>(c);
  }
  const auto members = collective_members(s);

  std::vector<std::vector<CommCall>> calls(s.ranks.size());
  for (const RankSchedule& r : s.ranks) {
    auto& out = calls[static_cast<std::size_t>(r.rank)];
    out.resize(r.ops.size());
    for (std::size_t i = 0; i < r.ops.size(); i++) {
      const Op& op = r.ops[i];
      if (op.id != static_cast<int>(i))
        throw InputError(file, where(r.rank, op) + ".id", "is " + std::to_string(op.id) + " at index " +
                                                              std::to_string(i) + " (ids must be the op's index)",
                         fix);
      for (int d : op.deps)
        if (d < 0 || d >= static_cast<int>(i))
          throw InputError(file, where(r.rank, op) + ".deps",
                           "names op " + std::to_string(d) + ", which is not an earlier op of the rank", fix);
      CommCall& c = out[i];
      c.kind = op.kind;
      const OpClass cls = op_class(op.kind);
      if (cls == OpClass::p2p) {
        if (p2p_comm < 0)
          throw std::logic_error("plan_comm_calls: a send or receive but no p2p communicator (plan_communicators first)");
        c.comm = p2p_comm;
        c.comm_size = static_cast<int>(plan.comms[p2p_comm].ranks.size());
        c.count = bf16_elements(op.comm_bytes);
        const PeerCount pc{op.peer, c.count}; // the p2p communicator spans the world: NCCL rank = global rank
        (op.kind == OpKind::send ? c.sends : c.recvs).push_back(pc);
        (op.kind == OpKind::send ? c.send_elements : c.recv_elements) = c.count;
        continue;
      }
      if (cls != OpClass::collective)
        continue;
      c.comm = comm_of.at(static_cast<std::size_t>(op.group));
      const Group& g = s.layout.group(op.group);
      const int n = static_cast<int>(g.ranks.size());
      c.comm_size = n;
      switch (op.kind) {
        case OpKind::all_reduce:
          c.count = bf16_elements(op.comm_bytes);
          c.send_elements = c.recv_elements = c.count;
          break;
        case OpKind::all_gather:
          c.count = bf16_elements(op.comm_bytes / n);
          c.send_elements = c.count;
          c.recv_elements = c.count * n;
          break;
        case OpKind::reduce_scatter:
          c.count = bf16_elements(op.comm_bytes / n);
          c.send_elements = c.count * n;
          c.recv_elements = c.count;
          break;
        case OpKind::all_to_all: {
          const int me = g.index_of(r.rank);
          const auto& ops = members.at(op.coll);
          for (int j = 0; j < n; j++) {
            const std::size_t out_count = bf16_elements(a2a_bytes(op, j, n));
            auto it = ops.find(g.ranks[j]);
            if (it == ops.end())
              throw InputError(file, where(r.rank, op),
                               "rank " + std::to_string(g.ranks[j]) + " of its group has no op of collective " +
                                   std::to_string(op.coll),
                               fix);
            const std::size_t in_count = bf16_elements(a2a_bytes(*it->second, me, n));
            if (out_count)
              c.sends.push_back({j, out_count});
            if (in_count)
              c.recvs.push_back({j, in_count});
            c.send_elements += out_count;
            c.recv_elements += in_count;
          }
          break;
        }
        default: break;
      }
    }
  }
  return calls;
}

void check_graph_capturable(const Schedule& s, const std::string& file)
{
  for (const RankSchedule& r : s.ranks)
    for (const Op& op : r.ops)
      if (op.kind == OpKind::host_sync)
        throw InputError(file, where(r.rank, op),
                         "is a host synchronisation, which a CUDA graph cannot hold (the schedule was made for eager "
                         "launches)",
                         "run it without --graph, or write a graph-mode schedule with `moesim schedule ... "
                         "--cuda-graphs`");
}

void check_gpu_count(const Schedule& s, int visible, const std::string& file)
{
  if (visible >= s.layout.world)
    return;
  throw InputError(file, "world",
                   "the plan '" + s.layout.plan.name + "' needs " + std::to_string(s.layout.world) +
                       " GPUs, one per rank, but " + std::to_string(visible) + " CUDA device" +
                       (visible == 1 ? " is" : "s are") + " visible",
                   "run on a machine with " + std::to_string(s.layout.world) + " GPUs (check CUDA_VISIBLE_DEVICES)" +
                       (visible > 0 ? ", or schedule a plan for " + std::to_string(visible) : std::string()));
}

std::vector<double> start_offsets(const IterationTimes& it)
{
  double first = std::numeric_limits<double>::infinity();
  for (const RankTimes& r : it)
    first = std::min(first, r.host_start);
  std::vector<double> off;
  for (const RankTimes& r : it)
    off.push_back(r.host_start - first);
  return off;
}

double step_span(const IterationTimes& it)
{
  const std::vector<double> off = start_offsets(it);
  double span = 0;
  for (std::size_t r = 0; r < it.size(); r++) {
    double last = it[r].last;
    for (double e : it[r].end)
      last = std::max(last, e);
    span = std::max(span, off[r] + last);
  }
  return span;
}

std::size_t median_index(const std::vector<double>& v)
{
  if (v.empty())
    throw std::invalid_argument("median_index of nothing");
  std::vector<std::size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), std::size_t(0));
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  return idx[(v.size() - 1) / 2];
}

Timeline assemble_timeline(const Schedule& s, const std::vector<std::vector<CommCall>>& calls,
                           const CommPlan& plan, const IterationTimes& it)
{
  const std::vector<double> off = start_offsets(it);
  auto start_of = [&](int rank, int op) { return it.at(rank).start.at(op) + off[rank]; };
  auto end_of = [&](int rank, int op) { return it.at(rank).end.at(op) + off[rank]; };

  // Arrival of every member: the latest start per collective instance.
  std::map<int, double> arrived;
  for (const RankSchedule& r : s.ranks)
    for (const Op& op : r.ops)
      if (op_class(op.kind) == OpClass::collective) {
        auto [pos, fresh] = arrived.try_emplace(op.coll, start_of(r.rank, op.id));
        if (!fresh)
          pos->second = std::max(pos->second, start_of(r.rank, op.id));
      }
  // Send/recv pairs: the later start of the two sides, keyed by (rank, op id).
  std::map<std::pair<int, int>, double> paired;
  for (const auto& [key, sides] : match_p2p(s))
    for (std::size_t k = 0; k < std::min(sides.sends.size(), sides.recvs.size()); k++) {
      const auto [sr, so] = sides.sends[k];
      const auto [rr, ro] = sides.recvs[k];
      const double both = std::max(start_of(sr, so), start_of(rr, ro));
      paired[{sr, so}] = both;
      paired[{rr, ro}] = both;
    }

  Timeline t;
  t.world = s.layout.world;
  t.plan = s.layout.plan.name;
  for (const RankSchedule& r : s.ranks) {
    std::map<int, int> prev_in_stream; // stream -> last op id
    for (const Op& op : r.ops) {
      TimelineEvent e;
      e.rank = r.rank;
      e.op = op.id;
      e.stream = op.stream;
      e.layer = op.layer;
      e.microbatch = op.microbatch;
      e.name = op.name;
      e.kind = op.kind;
      e.family = op.family;
      e.role = op.role;
      e.start = start_of(r.rank, op.id);
      e.end = end_of(r.rank, op.id);
      e.ready = off[r.rank];
      if (auto p = prev_in_stream.find(op.stream); p != prev_in_stream.end())
        e.ready = std::max(e.ready, end_of(r.rank, p->second));
      for (int d : op.deps)
        e.ready = std::max(e.ready, end_of(r.rank, d));
      e.ready = std::min(e.ready, e.start); // event timestamps have ~0.5 us resolution
      e.sync = e.start;
      switch (op_class(op.kind)) {
        case OpClass::collective: e.sync = arrived.at(op.coll); break;
        case OpClass::p2p:
          if (auto p = paired.find({r.rank, op.id}); p != paired.end())
            e.sync = p->second;
          break;
        default: break;
      }
      e.sync = std::clamp(e.sync, e.start, std::max(e.start, e.end));
      const CommCall& c = calls.at(r.rank).at(op.id);
      if (c.comm >= 0)
        e.detail = describe_call(c, plan);
      else if (op.kind == OpKind::host_sync)
        e.detail = "host wait " + fmt("%.1f", it.at(r.rank).host_wait.at(op.id) * 1e6) + " us";
      t.events.push_back(std::move(e));
      prev_in_stream[op.stream] = op.id;
    }
  }
  t.step_time = step_span(it);
  return t;
}

namespace {

// The steps from the plain runs; the per-op times from the median instrumented run, scaled so that
// its step is the plain median.
Measurement scaled_measurement(const Schedule& s, const std::vector<std::vector<CommCall>>& calls,
                               const CommPlan& plan, const std::vector<IterationTimes>& plain,
                               const std::vector<IterationTimes>& with_events)
{
  Measurement m;
  for (const IterationTimes& it : plain)
    m.step_times.push_back(step_span(it));
  m.median_iteration = median_index(m.step_times);
  for (const IterationTimes& it : with_events)
    m.event_step_times.push_back(step_span(it));
  const std::size_t e = median_index(m.event_step_times);
  Timeline t = assemble_timeline(s, calls, plan, with_events[e]);
  const double step = m.step_times[m.median_iteration];
  m.event_scale = t.step_time > 0 ? step / t.step_time : 1.0;
  for (TimelineEvent& ev : t.events) {
    ev.ready *= m.event_scale;
    ev.start *= m.event_scale;
    ev.sync *= m.event_scale;
    ev.end *= m.event_scale;
  }
  t.step_time = step;
  m.timeline = std::move(t);
  return m;
}

} // namespace

Measurement eager_measurement(const Schedule& s, const std::vector<std::vector<CommCall>>& calls,
                              const CommPlan& plan, const std::vector<IterationTimes>& plain,
                              const std::vector<IterationTimes>& with_events)
{
  Measurement m = scaled_measurement(s, calls, plan, plain, with_events);
  m.mode = "eager";
  m.op_times = "events";
  m.timeline.source = "measured";
  return m;
}

Measurement graph_measurement(const Schedule& s, const std::vector<std::vector<CommCall>>& calls,
                              const CommPlan& plan, const std::vector<IterationTimes>& plain,
                              const std::vector<IterationTimes>& with_events)
{
  Measurement m = scaled_measurement(s, calls, plan, plain, with_events);
  m.mode = "graph";
  m.op_times = "graph-events";
  m.timeline.source = "measured-graph";
  return m;
}

std::string platform_name(const RunOptions& o, const Schedule& s, const SystemInfo& sys)
{
  if (!o.platform.empty())
    return o.platform;
  return std::to_string(s.layout.world) + "x " + (sys.devices.empty() ? std::string("unknown GPU") : sys.devices[0].name);
}

nlohmann::json measurement_to_json(const Measurement& m, const RunOptions& o, const Schedule& s,
                                   const SystemInfo& sys)
{
  nlohmann::json j = timeline_to_json(m.timeline);
  nlohmann::json x;
  x["tool"] = "moesim-validate run";
  x["schedule"] = o.schedule;
  x["model"] = s.model;
  x["step"] = {{"phase", to_string(s.step.phase)}, {"batch", s.step.batch}, {"context", s.step.context},
               {"prompt", s.step.prompt}};
  x["schedule_cuda_graphs"] = s.engine.cuda_graphs;
  x["mode"] = m.mode;
  x["iters"] = o.iters;
  x["warmup"] = o.warmup;
  x["seed"] = o.seed;
  x["step_times"] = m.step_times;
  x["median_iteration"] = m.median_iteration;
  x["step_time_median"] = m.step_times.empty() ? 0.0 : m.step_times[m.median_iteration];
  x["op_times"] = m.op_times;
  x["event_step_times"] = m.event_step_times;
  x["event_scale"] = m.event_scale;
  x["time_base"] = "each rank's start event, recorded after a host barrier; ranks aligned by the host clock at "
                   "that record; sync = latest start among a collective's members (send/recv: of the pair)";
  x["device_bytes"] = m.device_bytes;
  x["executor_notes"] = m.executor_notes;
  x["system"] = to_json(sys);
  x["nccl_env"] = nccl_env_json();
  j["measurement"] = std::move(x);
  return j;
}

std::array<ClassTotal, 4> class_totals(const Timeline& t)
{
  std::array<ClassTotal, 4> c{};
  for (const TimelineEvent& e : t.events) {
    ClassTotal& ct = c[static_cast<std::size_t>(op_class(e.kind))];
    ct.ops++;
    ct.busy += e.end - e.start;
  }
  return c;
}

std::string summary_table(const Timeline& t, const std::vector<double>& step_times, const std::string& mode)
{
  std::string s;
  auto line = [&](const std::string& l) { s += l + "\n"; };
  const double ms = 1e3;
  if (!step_times.empty()) {
    const auto [lo, hi] = std::minmax_element(step_times.begin(), step_times.end());
    line("step (" + mode + "): median " + fmt("%.3f", step_times[median_index(step_times)] * ms) + " ms over " +
         std::to_string(step_times.size()) + " iterations (min " + fmt("%.3f", *lo * ms) + ", max " +
         fmt("%.3f", *hi * ms) + " ms); the timeline holds the median iteration, " +
         fmt("%.3f", t.step_time * ms) + " ms");
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "%6s %10s %10s %10s %10s   (ms per rank, as the simulator splits a step)", "rank",
                "compute", "comm", "host", "idle");
  line(buf);
  for (int r = 0; r < t.world; r++) {
    const Breakdown b = breakdown_of_rank(t, r);
    std::snprintf(buf, sizeof buf, "%6d %10.3f %10.3f %10.3f %10.3f", r, b.compute * ms, b.comm * ms, b.host * ms,
                  b.idle * ms);
    line(buf);
  }
  const auto totals = class_totals(t);
  std::snprintf(buf, sizeof buf, "%-11s %8s %14s   (busy = end - start, summed over ranks)", "op class", "ops",
                "busy ms");
  line(buf);
  for (OpClass c : {OpClass::compute, OpClass::collective, OpClass::p2p, OpClass::host}) {
    const ClassTotal& ct = totals[static_cast<std::size_t>(c)];
    if (ct.ops == 0)
      continue;
    std::snprintf(buf, sizeof buf, "%-11s %8d %14.3f", to_string(c), ct.ops, ct.busy * ms);
    line(buf);
  }
  std::map<std::string, ClassTotal> kinds; // sorted by name: deterministic
  for (const TimelineEvent& e : t.events) {
    ClassTotal& k = kinds[to_string(e.kind)];
    k.ops++;
    k.busy += e.end - e.start;
  }
  std::snprintf(buf, sizeof buf, "%-18s %8s %14s %12s", "op kind", "ops", "busy ms", "mean us");
  line(buf);
  for (const auto& [name, k] : kinds) {
    std::snprintf(buf, sizeof buf, "%-18s %8d %14.3f %12.2f", name.c_str(), k.ops, k.busy * ms, k.busy / k.ops * 1e6);
    line(buf);
  }
  return s;
}

} // namespace moesim::validate
