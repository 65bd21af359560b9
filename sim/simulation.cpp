#include "sim/simulation.hpp"

#include "core/error.hpp"
#include "core/fair_share.hpp"
#include "core/l2_reuse.hpp"
#include "core/moe_layer.hpp"
#include "core/op_time.hpp"
#include "sim/collective_planner.hpp"
#include "sim/collectives/algorithm.hpp"
#include "sim/platform_check.hpp"
#include "sim/routed_platform.hpp"

#include <xbt/log.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace moesim {
namespace {

constexpr double unset = -1.0;

// The kernel boundary inside a compute op's time is the GPU's wait before the kernel (boundary_gap):
// the kernel starts that much later and ends where the op's time ends.
void start_after_boundary(TimelineEvent& ev, double gap)
{
  if (gap <= 0)
    return;
  ev.start = std::min(ev.start + gap, ev.end);
  ev.sync = ev.start;
}

// State of one collective instance, shared by its members.
struct CollState {
  int arrived = 0;
  sg4::BarrierPtr barrier;
  CollectiveCall call;
  Phases phases;
  CollChoice choice;
  std::vector<const PeerBytes*> peer_rows; // each member's Op::peer_bytes
  // NCCL's size for the cost model: the largest member's (all-to-all-v sizes differ per member; the
  // largest sender finishes last), so that the plan does not depend on which member plans it.
  double size = 0;
  std::vector<double> key;   // the flows, flattened: identical keys give identical isolated durations
  double replay = -1;        // >= 0: duration taken from the cache instead of simulating the flows
  bool measure = false;      // isolated and not cached yet: store the duration when done
  std::map<std::string, double> class_bytes; // bytes over each link class (every member's flows)
  bool traffic_recorded = false;             // the first member to finish writes its LinkTraffic
  std::string detail;                        // every member's TimelineEvent::detail
  int finished = 0;                          // members past their flows (SimGrid-run collectives)
};

struct RankState {
  const RankSchedule* sched = nullptr;
  std::vector<double> done;        // end time per op, unset until finished
  std::vector<double> host_ready;  // when the host had launched the op
  int issued = 0;                  // ops the host has issued so far
  double host_time = 0;            // host clock in eager mode
  sg4::MutexPtr mutex;
  sg4::ConditionVariablePtr cv;
};

class Replay {
public:
  Replay(const Platform& p, const Schedule& s, SimOutput& out, bool exact, EventDetail detail)
      : p_(p), s_(s), out_(out), exact_(exact), described_(detail == EventDetail::described), planner_(p)
  {
    ranks_.resize(s.layout.world);
    for (int r = 0; r < s.layout.world; r++) {
      RankState& st = ranks_[r];
      st.sched = &s.ranks[r];
      st.done.assign(st.sched->ops.size(), unset);
      st.host_ready.assign(st.sched->ops.size(), unset);
      st.mutex = sg4::Mutex::create();
      st.cv = sg4::ConditionVariable::create();
      st.host_time = s.engine.cuda_graphs ? graph_launch_s() : 0.0;
    }
    // Ranks whose GPUs have equal specs share compute times: op_time reads the GPU only through its
    // GpuSpec, so the cache is keyed by the first such rank (1,024 identical GPUs: one entry per op
    // content, not one per rank and content).
    for (int r = 0; r < s.layout.world; r++) {
      int first = r;
      for (int q : gpu_classes_)
        if (p.gpu(q) == p.gpu(r)) {
          first = q;
          break;
        }
      if (first == r)
        gpu_classes_.push_back(r);
      gpu_class_.push_back(first);
    }
    colls_.resize(s.collectives);
    // One event per op, each written into its place (rank by rank, ops in order, as every consumer
    // reads them) when the op ends: no sort or permutation of a million events afterwards.
    first_event_.assign(s.ranks.size() + 1, 0);
    for (size_t r = 0; r < s.ranks.size(); r++)
      first_event_[r + 1] = first_event_[r] + s.ranks[r].ops.size();
    out_.timeline.events.resize(first_event_.back());
    // A collective over every rank of a single-stream schedule is isolated: while it runs, no other
    // flow can exist (every rank is inside it). Its duration then depends only on its flows, so
    // identical ones (same flows, e.g. every layer's dispatch under uniform routing) are simulated
    // once and replayed exactly. With pipeline sends on a second stream nothing is cached.
    for (int r = 0; r < s.layout.world; r++)
      inbox_.push_back(sg4::Mailbox::by_name("in" + std::to_string(r)));
    cache_ok_ = true;
    for (const RankSchedule& r : s.ranks)
      for (const Op& o : r.ops)
        cache_ok_ = cache_ok_ && o.stream == 0;
  }

  // Isolated collectives answered by the fluid model instead of SimGrid (SimOutput::fast_collectives).
  int fast_collectives() const { return fast_; }
  // Ops that ran (each wrote its event); fewer than the schedule's when the replay deadlocked.
  size_t events_placed() const { return placed_; }

  void start_actors()
  {
    for (int r = 0; r < s_.layout.world; r++) {
      int streams = 1;
      for (const Op& o : s_.ranks[r].ops)
        streams = std::max(streams, o.stream + 1);
      for (int st = 0; st < streams; st++)
        sg4::Actor::create("rank" + std::to_string(r) + "s" + std::to_string(st), p_.host(r),
                           [this, r, st] { run_stream(r, st); });
    }
  }

private:
  const Platform& p_;
  const Schedule& s_;
  SimOutput& out_;
  std::vector<RankState> ranks_;
  std::vector<CollState> colls_;
  bool cache_ok_ = false;   // one stream per rank: ops run in program order, world collectives are isolated
  bool exact_ = false;      // every collective through SimGrid, compute ops on SimGrid's clock
  bool described_ = true;   // events carry the op's name, shape and algorithm (EventDetail::described)
  CollectivePlanner planner_;
  int fast_ = 0;
  std::vector<size_t> first_event_; // per rank: the slot of its op 0 in the timeline's events
  size_t placed_ = 0;

  void place(TimelineEvent&& ev)
  {
    out_.timeline.events[first_event_[static_cast<size_t>(ev.rank)] + static_cast<size_t>(ev.op)] = std::move(ev);
    placed_++;
  }
  std::unordered_map<const sg4::Link*, int> link_index_; // for the fluid model of isolated collectives
  std::vector<double> link_capacity_;
  std::vector<int> link_class_index_;                    // per link index: its class in class_names_
  std::vector<std::string> class_names_;
  // A route's links as indices into link_capacity_, built on first use per GPU pair.
  struct RouteLinks {
    bool known = false;
    bool latency = false; // a link has a SimGrid latency: leave the flow to SimGrid
    std::vector<int> links;
  };
  std::vector<RouteLinks> route_links_; // [src * world + dst]
  std::vector<FluidFlow> fluid_flows_;  // isolated_duration's flows, reused across collectives
  std::vector<int> local_of_;           // isolated_duration: a link's index among the used ones, else -1
  std::vector<int> used_links_;
  std::vector<double> local_capacity_;

  const RouteLinks& route_links(int src, int dst)
  {
    const size_t world = static_cast<size_t>(s_.layout.world);
    if (route_links_.empty())
      route_links_.resize(world * world);
    RouteLinks& rl = route_links_[static_cast<size_t>(src) * world + static_cast<size_t>(dst)];
    if (rl.known)
      return rl;
    rl.known = true;
    for (sg4::Link* l : p_.route(src, dst).links) {
      auto [it, fresh] = link_index_.emplace(l, static_cast<int>(link_capacity_.size()));
      if (fresh) {
        link_capacity_.push_back(l->get_latency() > 0 ? -1.0 : l->get_bandwidth());
        const std::string& cls = p_.link_class(l);
        const auto c = std::find(class_names_.begin(), class_names_.end(), cls);
        link_class_index_.push_back(static_cast<int>(c - class_names_.begin()));
        if (c == class_names_.end())
          class_names_.push_back(cls);
      }
      rl.latency = rl.latency || link_capacity_[it->second] < 0;
      rl.links.push_back(it->second);
    }
    return rl;
  }
  std::vector<int> isolated_;                            // per group: -1 unknown, 0 no, 1 yes

  // Whether no flow of any other collective can share a link with this group's flows. Another
  // group's flows are alive only while all its members are inside it, and a rank is in one
  // collective at a time (single stream), so a group sharing a rank never overlaps; a group that
  // shares none must cross none of the links between this group's members. Decided once per group.
  bool isolated(int group)
  {
    if (isolated_.empty()) {
      isolated_.assign(s_.layout.groups.size(), -1);
      std::vector<bool> used(s_.layout.groups.size(), false);
      bool p2p = false; // a send's flow may cross anything at any time
      for (const RankSchedule& rs : s_.ranks)
        for (const Op& o : rs.ops) {
          if (op_class(o.kind) == OpClass::collective)
            used[o.group] = true;
          p2p = p2p || op_class(o.kind) == OpClass::p2p;
        }
      if (p2p)
        used.assign(used.size(), false);
      // Links between the members of each group that runs collectives, then which groups cross each
      // (links by their index in link_capacity_; `marked` says which group last listed a link).
      std::vector<std::vector<int>> crossers;
      std::vector<int> marked;
      for (size_t g = 0; g < used.size(); g++) {
        if (!used[g])
          continue;
        const std::vector<int>& m = s_.layout.groups[g].ranks;
        for (int a : m)
          for (int b : m)
            if (a != b)
              for (int l : route_links(a, b).links) {
                if (static_cast<size_t>(l) >= marked.size()) {
                  marked.resize(l + 1, -1);
                  crossers.resize(l + 1);
                }
                if (marked[l] != static_cast<int>(g)) {
                  marked[l] = static_cast<int>(g);
                  crossers[l].push_back(static_cast<int>(g));
                }
              }
      }
      std::vector<std::vector<bool>> member(used.size());
      auto shares_rank = [&](int a, int b) {
        if (member[a].empty()) {
          member[a].assign(s_.layout.world, false);
          for (int r : s_.layout.groups[a].ranks)
            member[a][r] = true;
        }
        for (int r : s_.layout.groups[b].ranks)
          if (member[a][r])
            return true;
        return false;
      };
      std::map<std::pair<int, int>, bool> apart; // (g, h), g < h: no shared rank
      for (size_t g = 0; g < used.size(); g++)
        if (used[g])
          isolated_[g] = 1;
      for (const std::vector<int>& gs : crossers)
        for (size_t i = 0; i < gs.size(); i++)
          for (size_t j = i + 1; j < gs.size(); j++) {
            if (!isolated_[gs[i]] && !isolated_[gs[j]])
              continue;
            auto [it, fresh] = apart.emplace(std::pair{gs[i], gs[j]}, false);
            if (fresh)
              it->second = !shares_rank(gs[i], gs[j]);
            if (it->second)
              isolated_[gs[i]] = isolated_[gs[j]] = 0;
          }
    }
    return isolated_.at(group) == 1;
  }
  std::vector<sg4::Mailbox*> inbox_; // per rank, for collective flows
  std::map<std::vector<double>, double> durations_; // isolated collective flows -> duration
  // A compute op's content as its cache key: equal keys hash equal (std::hash<double> of 0.0 and
  // -0.0 agree); only looked up, never iterated.
  struct KeyHash {
    size_t operator()(const std::vector<double>& k) const
    {
      size_t h = k.size();
      for (double x : k)
        h = h * 1000003u ^ std::hash<double>{}(x);
      return h;
    }
  };
  std::unordered_map<std::vector<double>, OpTime, KeyHash> compute_cache_; // compute_time per (GPU spec, op content)
  std::vector<double> compute_key_;                     // compute_time's key, built in place
  std::vector<int> gpu_class_;                          // per rank: the first rank with an equal GpuSpec
  std::vector<int> gpu_classes_;                        // those first ranks
  // Per rank, once asked: the MoE-layer ops a measured whole-layer curve times (moe_layer.hpp).
  std::vector<std::optional<std::map<int, MoeLayerTime>>> moe_layer_times_;
  // Per rank, once asked: each op's cold fraction (l2_reuse.hpp), where the calibration has cold models.
  std::vector<std::vector<double>> cold_;

  double cold_fraction_of(int r, const Op& op)
  {
    const Calibration* cal = p_.calibration();
    if (!cal || !(cal->op_models.l2_bytes > 0) || !cold_blends(op.kind))
      return 0;
    if (cold_.empty())
      cold_.resize(s_.ranks.size());
    std::vector<double>& f = cold_.at(r);
    if (f.empty())
      f = cold_fractions(s_.ranks.at(r), cal->op_models.l2_bytes);
    return op.id >= 0 && static_cast<size_t>(op.id) < f.size() ? f[op.id] : 0;
  }

  // Host costs: measured ones where the platform's calibration has them (host:), else the engine's.
  double sync_s() const
  {
    const Calibration* cal = p_.calibration();
    return cal && cal->host.sync_s ? *cal->host.sync_s : s_.engine.sync_s;
  }
  double graph_launch_s() const
  {
    const Calibration* cal = p_.calibration();
    return cal && cal->host.graph_launch_s ? *cal->host.graph_launch_s : s_.engine.graph_launch_s;
  }

  // Host side: issue ops in program order up to `id`; returns when the host launched op `id`.
  // `now`: the GPU's time on this rank (SimGrid's clock, or the rank's local clock).
  double host_issue(int r, int id, double now)
  {
    RankState& st = ranks_[r];
    const EngineParams& en = s_.engine;
    while (st.issued <= id) {
      const Op& o = st.sched->ops[st.issued];
      // The launch finds the GPU busy when the host is ahead of it (the GPU has not reached this op).
      const bool gpu_busy = st.host_time < now;
      if (!en.cuda_graphs && o.kind != OpKind::host_sync)
        st.host_time += Calibration::host_seconds(p_.calibration(), o, en, gpu_busy, s_.layout.world);
      st.host_ready[st.issued] = st.host_time;
      st.issued++;
    }
    return st.host_ready[id];
  }

  void wait_deps(int r, const Op& op, int prev_in_stream)
  {
    RankState& st = ranks_[r];
    std::unique_lock lock(*st.mutex);
    auto ready = [&] {
      if (prev_in_stream >= 0 && st.done[prev_in_stream] == unset)
        return false;
      for (int d : op.deps)
        if (st.done[d] == unset)
          return false;
      return true;
    };
    while (!ready())
      st.cv->wait(lock);
  }

  void finish(int r, int id, double t)
  {
    RankState& st = ranks_[r];
    std::unique_lock lock(*st.mutex);
    st.done[id] = t;
    st.cv->notify_all();
  }

  // With one stream per rank (cache_ok_), ops run in program order and only collectives meet other
  // ranks, so compute and host ops advance a local clock and SimGrid sees only communication: the
  // actor sleeps to its local time when it reaches a collective. The times are the same as sleeping
  // through each op (a sum in another order: the last bits may differ). --exact sleeps through each.
  void run_stream(int r, int stream)
  {
    const RankSchedule& rs = s_.ranks[r];
    const bool local = cache_ok_ && !exact_;
    double now = 0;
    int prev = -1;
    for (const Op& op : rs.ops) {
      if (op.stream != stream)
        continue;
      if (local) {
        run_local(r, op, now);
        prev = op.id;
        continue;
      }
      wait_deps(r, op, prev);
      TimelineEvent ev = event_of(r, op);
      ev.ready = sg4::Engine::get_clock();
      const double launched = host_issue(r, op.id, ev.ready);
      if (launched > ev.ready)
        sg4::this_actor::sleep_until(launched);
      ev.start = sg4::Engine::get_clock();
      ev.sync = ev.start;
      double lead = 0; // the kernel boundary inside a compute op's time (boundary_gap)
      switch (op_class(op.kind)) {
        case OpClass::compute: {
          const OpTime t = compute_time(r, op, shape_of(op, ev));
          out_.compute_by_provenance[t.provenance] += t.seconds;
          lead = boundary_gap(p_.calibration(), t, s_.engine.cuda_graphs);
          sg4::this_actor::sleep_for(t.seconds);
          break;
        }
        case OpClass::host: {
          // The host waits for the GPU to get here, then pays the round trip; later launches
          // start from there, so the GPU idles until they arrive.
          RankState& st = ranks_[r];
          st.host_time = std::max(st.host_time, ev.start) + sync_s();
          sg4::this_actor::sleep_until(st.host_time);
          break;
        }
        case OpClass::collective: collective(r, op, ev); break;
        case OpClass::p2p: p2p(r, op, ev); break;
      }
      ev.end = sg4::Engine::get_clock();
      start_after_boundary(ev, lead);
      const double end = ev.end;
      place(std::move(ev));
      finish(r, op.id, end);
      prev = op.id;
    }
  }

  // The event of op `op` on rank `r`, before its times are known.
  TimelineEvent event_of(int r, const Op& op) const
  {
    TimelineEvent ev;
    ev.rank = r;
    ev.op = op.id;
    ev.stream = op.stream;
    ev.layer = op.layer;
    ev.microbatch = op.microbatch;
    ev.kind = op.kind;
    ev.family = op.family;
    ev.role = op.role;
    if (described_) {
      ev.name = op.name;
      ev.shape = kernel_key(op); // the numbers calibration tables index it by
    }
    ev.bytes = op.is_comm() ? op.comm_bytes : op.bytes;
    return ev;
  }

  // The op's kernel_key: the event's copy when events are described, else made into key_.
  const std::vector<double>& shape_of(const Op& op, const TimelineEvent& ev)
  {
    if (described_)
      return ev.shape;
    key_ = kernel_key(op);
    return key_;
  }
  std::vector<double> key_;

  // One op of a single-stream rank whose clock reads `now` (its previous op's end), as run_stream does
  // it on SimGrid's clock; `now` becomes the op's end.
  void run_local(int r, const Op& op, double& now)
  {
    TimelineEvent ev = event_of(r, op);
    ev.ready = now;
    ev.start = std::max(now, host_issue(r, op.id, now));
    ev.sync = ev.start;
    switch (op_class(op.kind)) {
      case OpClass::compute: {
        const OpTime t = compute_time(r, op, shape_of(op, ev));
        out_.compute_by_provenance[t.provenance] += t.seconds;
        ev.end = ev.start + t.seconds;
        start_after_boundary(ev, boundary_gap(p_.calibration(), t, s_.engine.cuda_graphs));
        break;
      }
      case OpClass::host: {
        RankState& st = ranks_[r];
        st.host_time = std::max(st.host_time, ev.start) + sync_s();
        ev.end = std::max(ev.start, st.host_time);
        break;
      }
      case OpClass::collective:
      case OpClass::p2p:
        if (ev.start > sg4::Engine::get_clock())
          sg4::this_actor::sleep_until(ev.start);
        if (op_class(op.kind) == OpClass::collective)
          collective(r, op, ev);
        else
          p2p(r, op, ev);
        ev.end = sg4::Engine::get_clock();
        break;
    }
    ranks_[r].done[op.id] = ev.end;
    now = ev.end;
    place(std::move(ev));
  }

  // The op's time from the calibration's op models or kernel tables, else the roofline (op_time.hpp),
  // remembered per GPU spec and op content: layers and ranks repeat the same ops. `base`: kernel_key(op),
  // its event holds it (or shape_of made it).
  OpTime compute_time(int r, const Op& op, const std::vector<double>& base)
  {
    // A MoE layer that a whole-layer measurement covers takes its time from it, shared out over
    // the layer's ops (moe_layer.hpp); every other op, and such a layer's ops' own estimates, below.
    const Calibration* cal = p_.calibration();
    if (op.family == OpFamily::moe && cal && !cal->op_models.moe_layers.empty()) {
      if (moe_layer_times_.empty())
        moe_layer_times_.resize(s_.ranks.size());
      std::optional<std::map<int, MoeLayerTime>>& times = moe_layer_times_.at(r);
      if (!times)
        times = moe_layer_times(cal->op_models.moe_layers, s_, r, s_.engine.cuda_graphs, [&](const Op& o) {
          const OpTime t = own_time(r, o, kernel_key(o));
          return MoeLayerTime{t.seconds, t.provenance};
        });
      if (auto it = times->find(op.id); it != times->end())
        return OpTime{it->second.seconds, it->second.provenance};
    }
    return own_time(r, op, base);
  }

  OpTime own_time(int r, const Op& op, const std::vector<double>& base)
  {
    // kernel_key holds every field the op models and tables read, but a grouped GEMM's split of its
    // rows over experts, whether attention is MLA and its sliding window (a windowed prefill layer
    // and a full one share their kernel_key, not their time). The key is built in compute_key_ (reused:
    // most lookups hit, and need no new allocation).
    std::vector<double>& key = compute_key_;
    key.assign(base.begin(), base.end());
    if (const auto* g = std::get_if<GroupedGemmShape>(&op.shape))
      key.insert(key.end(), g->rows.begin(), g->rows.end());
    const auto* a = std::get_if<AttentionShape>(&op.shape);
    const double cold = cold_fraction_of(r, op);
    key.insert(key.end(), {double(gpu_class_[r]), double(op.kind), double(op.dtype), double(op.kernels), double(a && a->mla),
                           double(a ? a->sliding_window : 0), double(base.size()), op.flops, op.bytes, cold});
    auto it = compute_cache_.find(key);
    if (it == compute_cache_.end()) {
      OpTime t = op_time(p_.calibration(), p_.gpu(r), op, s_.engine.cuda_graphs, cold);
      // An engine's published kernel bandwidth (and, for its MoE kernel, tensor rate) replaces the
      // platform's placeholder for its family, where nothing measured answers (the time is the
      // datasheet roofline's).
      const double fraction = op.kind == OpKind::attention_decode ? s_.engine.attention_bw_fraction
                              : op.kind == OpKind::grouped_gemm   ? s_.engine.moe_bw_fraction
                                                                  : 0.0;
      const double flops_fraction = op.kind == OpKind::grouped_gemm ? s_.engine.moe_flops_fraction : 0.0;
      if ((fraction > 0 || flops_fraction > 0) && t.provenance == perf::Provenance::specs) {
        GpuSpec g = p_.gpu(r);
        if (fraction > 0)
          g.mem_bw_eff = fraction;
        if (flops_fraction > 0)
          g.flops_eff = flops_fraction;
        t.seconds = roofline_seconds(g, op);
      }
      it = compute_cache_.emplace(key, t).first;
    }
    return it->second;
  }

  // This rank's part of one phase: post every send (to the receiver's inbox) and every receive, then
  // wait for all. A rank is in one collective at a time, so its inbox holds only this phase's flows.
  // (Mailboxes, not Comm::sendto_async, whose bookkeeping is linear per comm: docs/simgrid-and-nccl.md,
  // "sendto_async is slow at scale".)
  void run_flows(const std::vector<Flow>& flows, int self)
  {
    static int payload = 0;
    std::vector<sg4::CommPtr> comms;
    size_t incoming = 0;
    for (const Flow& f : flows)
      incoming += f.dst == self && f.bytes >= 0.5;
    std::vector<int*> slots(incoming, nullptr); // written at completion: must outlive wait_all
    size_t k = 0;
    for (const Flow& f : flows) {
      // SimGrid payloads are whole bytes; round rather than truncate fractional (expected-value) sizes.
      const double bytes = std::round(f.bytes);
      if (bytes <= 0)
        continue;
      if (f.src == self) {
        sg4::CommPtr c = inbox_[f.dst]->put_init(&payload, static_cast<uint64_t>(bytes));
        if (f.rate > 0)
          c->set_rate(f.rate);
        comms.push_back(c->start());
      }
      if (f.dst == self)
        comms.push_back(inbox_[self]->get_async<int>(&slots[k++]));
    }
    sg4::Comm::wait_all(comms);
  }

  // How long `phases` take when nothing else is on the network, from the fluid max-min model that
  // SimGrid solves (steady_finish_time), where that answer is provably exact; -1 otherwise (then
  // SimGrid runs the flows). Flows are whole bytes, as run_flows sends them; a link with a SimGrid
  // latency is left to SimGrid.
  double isolated_duration(const Phases& phases)
  {
    double total = 0;
    std::vector<FluidFlow>& ff = fluid_flows_; // reused: the flows' link lists keep their capacity
    for (const auto& flows : phases) {
      size_t k = 0;
      for (const Flow& f : flows) {
        const double bytes = std::round(f.bytes);
        if (bytes <= 0)
          continue;
        const RouteLinks& rl = route_links(f.src, f.dst);
        if (rl.latency)
          return -1;
        if (k == ff.size())
          ff.emplace_back();
        ff[k].bytes = bytes;
        ff[k].bound = f.rate;
        ff[k].uses.assign(rl.links.begin(), rl.links.end());
        k++;
      }
      ff.resize(k);
      // Only the links these flows cross, numbered in the order of their global index (so that the
      // solver breaks ties as it would over every link): its work then grows with the flows, not
      // with the platform (an 8-rank all-reduce on 1,024 GPUs crosses a few dozen of 4,000 links).
      local_of_.resize(link_capacity_.size(), -1);
      used_links_.clear();
      for (const FluidFlow& x : ff)
        for (int l : x.uses)
          if (local_of_[l] < 0) {
            local_of_[l] = 0;
            used_links_.push_back(l);
          }
      std::sort(used_links_.begin(), used_links_.end());
      local_capacity_.resize(used_links_.size());
      for (size_t i = 0; i < used_links_.size(); i++) {
        local_of_[used_links_[i]] = static_cast<int>(i);
        local_capacity_[i] = link_capacity_[used_links_[i]];
      }
      for (FluidFlow& x : ff)
        for (int& l : x.uses)
          l = local_of_[l];
      for (int l : used_links_)
        local_of_[l] = -1;
      const double t = steady_finish_time(local_capacity_, ff);
      if (t < 0)
        return -1;
      total += t;
    }
    return total;
  }

  // Bytes per link class that `phases` carry (a flow counts on every link it crosses), added to the
  // step's totals.
  std::map<std::string, double> count_link_bytes(const Phases& phases)
  {
    // Summed per class in flow order, as a map keyed by class would: only the lookups are indexed.
    std::vector<double> sums(class_names_.size(), 0.0);
    std::vector<bool> crossed(class_names_.size(), false);
    for (const auto& flows : phases)
      for (const Flow& f : flows)
        if (f.bytes > 0)
          for (int l : route_links(f.src, f.dst).links) {
            const int c = link_class_index_[l];
            if (static_cast<size_t>(c) >= sums.size()) {
              sums.resize(class_names_.size(), 0.0);
              crossed.resize(class_names_.size(), false);
            }
            sums[c] += f.bytes;
            crossed[c] = true;
          }
    std::map<std::string, double> by_class;
    for (size_t c = 0; c < sums.size(); c++)
      if (crossed[c])
        by_class[class_names_[c]] = sums[c];
    for (const auto& [cls, b] : by_class)
      out_.link_bytes[cls] += b;
    return by_class;
  }

  void record_traffic(const std::map<std::string, double>& by_class, double start, double end)
  {
    for (const auto& [cls, b] : by_class)
      out_.timeline.link_traffic.push_back({cls, start, end, b});
  }

  void collective(int r, const Op& op, TimelineEvent& ev)
  {
    CollState& c = colls_.at(op.coll);
    const Group& g = s_.layout.group(op.group);
    const int n = static_cast<int>(g.ranks.size());
    if (!c.barrier) {
      c.barrier = sg4::Barrier::create(n);
      c.peer_rows.assign(n, nullptr);
    }
    c.peer_rows[g.index_of(r)] = &op.peer_bytes;
    c.size = std::max(c.size, op.comm_bytes);
    c.arrived++;
    c.barrier->wait();
    // Not before the op's start: a rank on its local clock slept until `ev.start`, and SimGrid's
    // clock can land a few ulps short of it (now + (t - now) rounds).
    ev.sync = std::max(ev.start, sg4::Engine::get_clock());
    if (c.phases.empty() && c.arrived == n) {
      // First member past the barrier plans the collective for everyone.
      c.call.kind = op.kind;
      c.call.ranks = g.ranks;
      c.call.bytes = c.size;
      c.call.peer_bytes = std::move(c.peer_rows); // every member has written its row
      if (op.kind == OpKind::all_reduce && op.ar_impl != AllReduceImpl::nccl) {
        // An engine's custom kernel: its own fixed cost, the bytes it moves, no NCCL protocol.
        c.choice = CollChoice{};
        c.choice.algo = op.ar_impl == AllReduceImpl::one_shot ? CollAlgo::one_shot : CollAlgo::two_shot;
        c.choice.alpha = op.ar_fixed_s;
      } else {
        c.choice = planner_.choose(op.kind, g.ranks, c.size, 0, op.per_root);
      }
      c.choice.alpha += planner_.wire_latency(op.kind, c.choice.algo, g.ranks);
      const CommShape& sh = planner_.shape(g.ranks);
      c.call.wire_factor = c.choice.wire_factor;
      c.call.rate = c.choice.rate;
      c.call.shm_rate = c.choice.shm_rate;
      c.call.shm.assign(n, std::vector<bool>(n, false));
      for (int i = 0; i < n; i++) {
        c.call.node.push_back(sh.node[i]);
        for (int j = 0; j < n; j++)
          c.call.shm[i][j] = i != j && sh.transport[i][j] == Transport::shm;
      }
      c.call.rings = c.choice.calibrated ? 1 : sh.rings;
      c.phases = find_algorithm(op.kind, c.choice.algo)(c.call);
      if (c.choice.calibrated)
        planner_.hold_to_measurement(c.phases);
      c.arrived = n + 1; // planned
      const bool custom = c.choice.algo == CollAlgo::one_shot || c.choice.algo == CollAlgo::two_shot;
      out_.algorithms[std::string(to_string(op.kind)) + " " + to_string(c.choice.algo) + "/" +
                      (custom ? "custom" : c.choice.calibrated ? "calibrated" : to_string(c.choice.proto))]++;
      c.class_bytes = count_link_bytes(c.phases);
      if (cache_ok_ && !exact_ && isolated(op.group))
        c.replay = isolated_duration(c.phases);
      if (c.replay >= 0)
        fast_++;
      else if (cache_ok_ && n == s_.layout.world) {
        for (const auto& flows : c.phases) {
          for (const Flow& f : flows)
            c.key.insert(c.key.end(), {double(f.src), double(f.dst), std::round(f.bytes), f.rate});
          c.key.push_back(-1); // phase separator
        }
        if (auto it = durations_.find(c.key); it != durations_.end())
          c.replay = it->second;
        else
          c.measure = true;
      }
      // What planning needed is not read again; a timed collective needs no flows either. Freed
      // here, not with the replay: at 1,024 GPUs each all-to-all holds a million flows.
      c.call = CollectiveCall{};
      if (c.replay >= 0)
        Phases().swap(c.phases);
      if (!c.measure)
        std::vector<double>().swap(c.key);
    }
    if (described_ && c.detail.empty()) {
      std::ostringstream d;
      d << to_string(c.choice.algo) << "/" << (c.choice.calibrated ? "calibrated" : to_string(c.choice.proto))
        << " alpha=" << c.choice.alpha * 1e6 << "us";
      c.detail = d.str();
    }
    if (described_)
      ev.detail = c.detail;
    ev.fixed = c.choice.alpha;
    sg4::this_actor::sleep_for(c.choice.alpha);
    const double flows_start = sg4::Engine::get_clock();
    if (c.replay >= 0) {
      sg4::this_actor::sleep_for(c.replay);
    } else {
      for (size_t ph = 0; ph < c.phases.size(); ph++) {
        run_flows(c.phases[ph], r);
        c.barrier->wait(); // the phase (and with it the collective) ends on every member together
      }
      if (c.measure) {
        durations_.emplace(std::move(c.key), sg4::Engine::get_clock() - flows_start);
        c.measure = false;
      }
      if (++c.finished == n) // the last member out: the flows are not run again
        Phases().swap(c.phases);
    }
    if (!c.traffic_recorded) {
      c.traffic_recorded = true;
      record_traffic(c.class_bytes, flows_start, sg4::Engine::get_clock());
    }
  }

  void p2p(int r, const Op& op, TimelineEvent& ev)
  {
    sg4::Mailbox* mb = sg4::Mailbox::by_name("pp" + std::to_string(op.tag));
    static int payload = 0;
    // NCCL's p2p path between the two ranks (LL or Simple by size), or the platform's measured
    // sendrecv curve for the group the op belongs to (nccl-tests' sendrecv ring), else for two ranks.
    const int src = op.kind == OpKind::send ? r : op.peer, dst = op.kind == OpKind::send ? op.peer : r;
    const int curve_ranks = op.group >= 0 ? static_cast<int>(s_.layout.group(op.group).ranks.size()) : 2;
    const CollChoice ch = planner_.choose(OpKind::send, {src, dst}, op.comm_bytes, curve_ranks);
    const Route& route = p_.route(src, dst);
    ev.fixed = ch.alpha + route.latency;
    if (op.kind == OpKind::send) {
      sg4::this_actor::sleep_for(ch.alpha + route.latency);
      std::map<std::string, double> by_class;
      for (sg4::Link* l : route.links)
        by_class[p_.link_class(l)] += op.comm_bytes;
      for (const auto& [cls, b] : by_class)
        out_.link_bytes[cls] += b;
      sg4::CommPtr c = mb->put_init(&payload, std::max(std::round(op.comm_bytes * ch.wire_factor), 1.0));
      double rate = ch.rate;
      if (route.transport == Transport::shm && ch.shm_rate > 0)
        rate = rate > 0 ? std::min(rate, ch.shm_rate) : ch.shm_rate;
      if (rate > 0)
        c->set_rate(rate);
      c->start();
      c->wait();
      ev.sync = std::max(ev.start, c->get_start_time());
      record_traffic(by_class, ev.sync, sg4::Engine::get_clock());
    } else {
      int* slot = nullptr; // written at completion: must outlive the wait
      sg4::CommPtr c = mb->get_async<int>(&slot);
      c->wait();
      ev.sync = std::max(ev.start, c->get_start_time() - ch.alpha - route.latency);
    }
  }
};

} // namespace

namespace {

// The engine, with moesim's exact network model and small actor stacks, before a platform is loaded.
std::unique_ptr<sg4::Engine> make_engine()
{
  static int argc = 1;
  static char arg0[] = "moesim";
  static char* argv[] = {arg0, nullptr};
  auto engine = std::make_unique<sg4::Engine>(&argc, argv);
  xbt_log_control_set("root.thresh:critical");
  configure_exact_network();
  // One actor per GPU stream, each on its own stack: SimGrid's default 8 MiB each would ask for 8 GiB
  // of address space at 1,024 GPUs. Actors run only the replay loop (no recursion, data on the heap):
  // every test and study ran with 16 KiB, so 64 KiB leaves four times that. The stacks come from the
  // heap, whose pages are huge (core/heap_tuning) and so backed and zeroed whole: 256 KiB each
  // was 264 MB at 1,024 GPUs. Sanitizers' frames are several times larger.
#if defined(__has_feature)
#define MOESIM_ASAN __has_feature(address_sanitizer)
#elif defined(__SANITIZE_ADDRESS__)
#define MOESIM_ASAN 1
#else
#define MOESIM_ASAN 0
#endif
#if MOESIM_ASAN
  sg4::Engine::set_config("contexts/stack-size:256");
#else
  sg4::Engine::set_config("contexts/stack-size:64");
#endif
  return engine;
}

} // namespace

Simulation::Simulation(const std::string& platform_file, std::shared_ptr<const Calibration> calibration)
{
  if (!std::filesystem::exists(platform_file))
    throw InputError(platform_file, "platform", "file not found", "check the path or pick one from platforms/");
  check_platform_xml(platform_file);
  engine_ = make_engine();
  try {
    engine_->load_platform(platform_file);
  } catch (const std::exception& e) {
    throw InputError(platform_file, "", std::string("cannot load platform: ") + e.what(),
                     "fix the XML (see platforms/README.md)");
  }
  platform_ = std::make_unique<Platform>(*engine_, platform_file, std::move(calibration));
}

Simulation::Simulation(const RoutedTopology& routed, const std::string& name,
                       std::shared_ptr<const Calibration> calibration)
{
  engine_ = make_engine();
  const LoadedLinks loaded = load_routed_platform(routed);
  platform_ = std::make_unique<Platform>(*engine_, name, std::move(calibration), [&](int s, int d, std::vector<sg4::Link*>& links) {
    return routed_links(routed, loaded, s, d, links);
  });
}

Simulation::~Simulation() = default;

SimOutput Simulation::run(const Schedule& s, bool exact, EventDetail detail)
{
  if (ran_)
    throw std::logic_error("Simulation::run called twice: SimGrid allows one simulation per process");
  ran_ = true;
  if (s.layout.world != platform_->gpus())
    throw InputError(platform_->file(), "moesim.gpus",
                     "the plan '" + s.layout.plan.name + "' needs " + std::to_string(s.layout.world) +
                         " GPUs but the platform has " + std::to_string(platform_->gpus()),
                     "pick a platform with " + std::to_string(s.layout.world) + " GPUs or a plan for " +
                         std::to_string(platform_->gpus()));
  SimOutput out;
  Replay replay(*platform_, s, out, exact, detail);
  replay.start_actors();
  engine_->run();
  out.fast_collectives = replay.fast_collectives();
  Timeline& t = out.timeline;
  t.source = "sim";
  t.platform = platform_->file();
  t.plan = s.layout.plan.name;
  t.world = s.layout.world;
  for (const TimelineEvent& e : t.events)
    t.step_time = std::max(t.step_time, e.end);
  std::stable_sort(t.link_traffic.begin(), t.link_traffic.end(), [](const LinkTraffic& a, const LinkTraffic& b) {
    return a.start != b.start ? a.start < b.start : a.link_class < b.link_class;
  });
  t.link_capacity = platform_->class_capacity();
  if (replay.events_placed() != t.events.size())
    throw std::runtime_error("simulation deadlocked: " + std::to_string(replay.events_placed()) + " of " +
                             std::to_string(t.events.size()) + " ops ran (schedule collectives or sends do not match)");
  return out;
}

} // namespace moesim
