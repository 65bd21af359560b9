#include "report/lesson.hpp"

#include "report/render.hpp"
#include "report/svg.hpp"
#include "report/svg_gantt.hpp"
#include "report/svg_links.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace moesim {

namespace {

// Kinds as people say them.
std::string kind_words(const std::string& kind)
{
  return kind == "all_reduce"       ? "all-reduce"
         : kind == "all_to_all"     ? "all-to-all"
         : kind == "all_gather"     ? "all-gather"
         : kind == "reduce_scatter" ? "reduce-scatter"
         : kind == "host_sync"      ? "host sync"
                                    : kind;
}

} // namespace

TpEpPair find_tp_ep_pair(const Study& study)
{
  auto pure_tp = [](const Plan& p) {
    return p.pp == 1 && p.attn_dp == 1 && p.ep == 1 && p.attn_tp > 1 && p.moe_tp == p.attn_tp;
  };
  auto pure_ep = [](const Plan& p) { return p.pp == 1 && p.moe_tp == 1 && p.ep > 1 && p.ep == p.stage_size(); };
  for (const Plan& tp : study.plans)
    if (pure_tp(tp))
      for (const Plan& ep : study.plans)
        if (pure_ep(ep) && ep.world() == tp.world())
          return {tp.name, ep.name};
  return {};
}

int active_rank(const Timeline& t, int layer, int microbatch)
{
  int rank = -1;
  for (const TimelineEvent& e : t.events)
    if (e.layer == layer && e.microbatch == microbatch && (rank < 0 || e.rank < rank))
      rank = e.rank;
  return std::max(rank, 0);
}

std::vector<std::pair<std::string, int>> comm_inventory(const Timeline& t, int rank, int layer, int microbatch)
{
  std::vector<std::pair<std::string, int>> inv;
  for (const TimelineEvent& e : t.events) {
    if (e.rank != rank || e.layer != layer || e.microbatch != microbatch || op_class(e.kind) == OpClass::compute)
      continue;
    const std::string k = to_string(e.kind);
    auto it = std::find_if(inv.begin(), inv.end(), [&](const auto& p) { return p.first == k; });
    if (it == inv.end())
      inv.push_back({k, 1});
    else
      it->second++;
  }
  return inv;
}

std::string inventory_text(const std::vector<std::pair<std::string, int>>& inv)
{
  auto words = [](const std::string& kind, int n) { return std::to_string(n) + " " + kind_words(kind) + (n > 1 ? "s" : ""); };
  std::vector<std::string> parts;
  for (const auto& [k, n] : inv)
    parts.push_back(words(k, n));
  if (parts.empty())
    return "no collective";
  std::string o;
  for (size_t i = 0; i < parts.size(); i++)
    o += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return o;
}

namespace {

std::string ratio_text(double r)
{
  return fmt_value(r >= 0.995 && r < 1.005 ? "%.3fx" : "%.2fx", r);
}

std::string pct(double part, double whole)
{
  return whole > 0 ? fmt_value(part / whole >= 0.1 ? "%.0f%%" : "%.1f%%", 100 * part / whole) : "-";
}

struct Lookup {
  const std::vector<ScenarioResult>& results;
  const std::vector<const Timeline*>& timelines;
  int find(const std::string& plan, const std::string& platform, int batch) const
  {
    for (size_t i = 0; i < results.size(); i++)
      if (!results[i].refused && results[i].plan == plan && results[i].platform == platform &&
          results[i].batch == batch)
        return static_cast<int>(i);
    return -1;
  }
};

// The busiest link class over a window, and its mean utilisation there.
std::pair<std::string, double> busiest_link(const Timeline& t, const TimeWindow& w)
{
  std::pair<std::string, double> best{"", 0.0};
  for (const std::string& cls : busy_link_classes(t)) {
    const double u = link_utilisation(t, cls, w.t0, w.t1, 1)[0];
    if (best.first.empty() || u > best.second)
      best = {cls, u};
  }
  return best;
}

// "2.56 ms more in exposed communication and 1.55 ms more in host overhead"
std::string more_less(const std::vector<StepDifference>& parts)
{
  std::string o;
  for (size_t i = 0; i < parts.size(); i++)
    o += std::string(i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + fmt_time(std::abs(parts[i].delta)) +
         (parts[i].delta > 0 ? " more in " : " less in ") + parts[i].what;
  return o.empty() ? "about the same time in every component" : o;
}

std::string link_label(const std::string& cls)
{
  const svg::LinkStyle& s = svg::link_style(cls);
  return *s.label ? s.label : cls;
}

// EP behind mostly by fixed costs: its largest extra is exposed communication or host overhead.
bool fixed_costs(const std::vector<StepDifference>& d)
{
  return !d.empty() && d[0].delta > 0 && (d[0].part == StepDifference::comm || d[0].part == StepDifference::host);
}

// Time one rank spent in grouped (expert) GEMMs over the step.
double expert_gemm_time(const Timeline& t, int rank)
{
  double s = 0;
  for (const TimelineEvent& e : t.events)
    if (e.rank == rank && e.kind == OpKind::grouped_gemm)
      s += e.end - e.start;
  return s;
}

} // namespace

std::string lesson_html(const Study& study, const std::vector<ScenarioResult>& results,
                        const std::vector<const Timeline*>& timelines)
{
  const TpEpPair pair = find_tp_ep_pair(study);
  if (pair.tp.empty())
    return "";
  const Lookup look{results, timelines};
  std::vector<std::string> platforms;
  std::vector<int> batches;
  for (const ScenarioResult& r : results) {
    if (std::find(platforms.begin(), platforms.end(), r.platform) == platforms.end())
      platforms.push_back(r.platform);
    if (std::find(batches.begin(), batches.end(), r.batch) == batches.end())
      batches.push_back(r.batch);
  }
  std::sort(batches.begin(), batches.end());
  // The platform the study's references were measured on, else its first.
  std::string seed = platforms.empty() ? "" : platforms[0];
  for (const Reference& ref : study.references)
    if (ref.plan == pair.ep && std::find(platforms.begin(), platforms.end(), ref.platform) != platforms.end())
      seed = ref.platform;
  const int small = batches.empty() ? 0 : batches.front(), large = batches.empty() ? 0 : batches.back();
  const int it = look.find(pair.tp, seed, small), ie = look.find(pair.ep, seed, small);
  if (it < 0 || ie < 0 || !timelines[it] || !timelines[ie])
    return "";
  const ScenarioResult &tp = results[it], &ep = results[ie];
  const Timeline &ttp = *timelines[it], &tep = *timelines[ie];
  const std::string TP = svg::esc(pair.tp), EP = svg::esc(pair.ep);
  const bool decode = study.phase == Phase::decode;
  auto rate = [&](const ScenarioResult& r) {
    return decode ? " (" + fmt_value("%.1f tokens/s per user", r.tok_s_user) + ")" : std::string();
  };
  std::ostringstream o;

  // 1. The contrast at the smallest batch, and what the layer picture shows.
  const double ratio = ep.step_time / tp.step_time;
  const TimeWindow w = representative_layer(tep);
  o << "<p><b>" << TP << " against " << EP << " on " << svg::esc(seed) << ", batch " << small << ".</b> " << TP
    << " takes " << fmt_time(tp.step_time) << " per step" << rate(tp) << ", " << EP << " " << fmt_time(ep.step_time)
    << rate(ep) << ": " << EP << " is "
    << (ratio >= 1 ? ratio_text(ratio) + " slower" : ratio_text(1 / ratio) + " faster") << ". In "
    << svg::esc(w.name()) << " above, each GPU runs " << inventory_text(comm_inventory(ttp, 0, w.layer, w.microbatch))
    << " under " << TP << ", and " << inventory_text(comm_inventory(tep, 0, w.layer, w.microbatch)) << " under " << EP
    << ". Over the whole step each GPU under " << EP << " spends " << more_less(step_differences(tp, ep)) << " than under "
    << TP << ".</p>\n";

  // 2. Why. Each claim only where its numbers hold: "little" is under 1 MiB per call, links "not
  // what limits" below 20% busy over the layer, calls "alike" within 25% of each other.
  const std::vector<StepDifference> diffs = step_differences(tp, ep);
  const bool fixed = ratio > 1 && fixed_costs(diffs);
  double largest = 0;
  std::string largest_kind;
  for (const TimelineEvent& e : tep.events)
    if (e.rank == 0 && e.layer == w.layer && e.microbatch == w.microbatch && op_class(e.kind) != OpClass::compute &&
        e.bytes > largest) {
      largest = e.bytes;
      largest_kind = to_string(e.kind);
    }
  const auto [cls, util] = busiest_link(tep, w);
  const TimeWindow wt = representative_layer(ttp);
  const double util_tp = cls.empty() ? 0 : link_utilisation(ttp, cls, wt.t0, wt.t1, 1)[0];
  const bool links_idle = !cls.empty() && util < 0.2;
  if (fixed || (ratio > 1 && !diffs.empty() && diffs[0].part == StepDifference::idle))
    o << "<p><b>Why.</b> "; // otherwise the components above are all there is to say
  if (fixed) {
    if (largest > 0 && largest < 1048576)
      o << "At batch " << small << " these calls carry little: the largest in " << EP << "'s layer, an "
        << kind_words(largest_kind) << ", moves " << fmt_bytes(largest) << ". ";
    if (!cls.empty())
      o << (links_idle ? "The links are not what limits them: over" : "Over") << " the layer the "
        << svg::esc(link_label(cls)) << " links carry " << pct(util, 1) << " of what they could under " << EP << " ("
        << pct(util_tp, 1) << " under " << TP << "). ";
    if (ep.collectives > tp.collectives && tp.collectives > 0) {
      const double per_ep = ep.mean.comm / ep.collectives, per_tp = tp.mean.comm / tp.collectives;
      const bool alike = std::max(per_ep, per_tp) < 1.25 * std::min(per_ep, per_tp);
      o << (alike ? "What costs is the number of calls: " : "") << EP << " makes " << ep.collectives
        << " collective calls per step against " << tp.collectives << ", each costing "
        << (alike ? "about the same whatever it carries, " : "on average ") << fmt_time(per_ep) << " of exposed time under "
        << EP << " and " << fmt_time(per_tp) << " under " << TP << ". ";
    }
    if (ep.host_syncs > 0 && ep.mean.host > tp.mean.host)
      o << "On top of that, each of " << EP << "'s " << ep.host_syncs
        << " host syncs (an all-to-all-v needs every expert's token count on the host to size its buffers) makes "
           "the host wait for the GPU, after which the next kernels start only as fast as the host launches them. "
           "Waiting for the host (pink) takes "
        << fmt_time(ep.mean.host) << " per step under " << EP << ", " << fmt_time(tp.mean.host) << " under " << TP
        << ". ";
  } else if (ratio > 1 && !diffs.empty() && diffs[0].part == StepDifference::idle) {
    o << "Most of the difference is waiting for peers (grey). ";
    if (ep.expert_imbalance > 1.05)
      o << "In each MoE layer the GPU whose experts received the most tokens spends " << fmt_value("%.2f", ep.expert_imbalance)
        << "x the mean time in expert GEMMs under " << EP << ", and the others wait for it at the combine; under "
        << TP << ", where every GPU holds a slice of every expert, that ratio is " << fmt_value("%.2f", tp.expert_imbalance)
        << ". ";
  }
  if (fixed || (ratio > 1 && !diffs.empty() && diffs[0].part == StepDifference::idle))
    o << "</p>\n";

  // 3. The largest batch on the same platform. "Computing" is at least 70% of the step.
  const int jt = look.find(pair.tp, seed, large), je = look.find(pair.ep, seed, large);
  bool converge = false;
  if (large != small && jt >= 0 && je >= 0 && timelines[jt]) {
    const ScenarioResult &tl = results[jt], &el = results[je];
    const double r2 = el.step_time / tl.step_time;
    const bool computing = tl.mean.compute >= 0.7 * tl.step_time;
    converge = computing && std::abs(r2 - 1) < 0.1;
    o << "<p><b>At batch " << large << "</b> the two are "
      << (std::abs(r2 - 1) < 0.01 ? "within " + fmt_value("%.1f%%", 100 * std::abs(r2 - 1)) + " of each other"
                                  : ratio_text(std::max(r2, 1 / r2)) + " apart")
      << " (" << TP << " " << fmt_time(tl.step_time) << ", " << EP << " " << fmt_time(el.step_time) << "). Compute is "
      << pct(tl.mean.compute, tl.step_time) << " of " << TP << "'s step, expert GEMMs alone "
      << pct(expert_gemm_time(*timelines[jt], 0), tl.step_time) << " on GPU 0";
    if (computing)
      o << ": the GPUs spend the step computing"
        << (fixed && std::abs(r2 - 1) < std::abs(ratio - 1)
                ? ", and the fixed costs that separated the plans at batch " + std::to_string(small) +
                      " are a small share of it"
                : std::string());
    o << ".</p>\n";
  }

  // 4. The other platforms at the smallest batch.
  std::vector<std::string> others;
  bool behind_everywhere = ratio > 1, fixed_everywhere = fixed;
  for (const std::string& p : platforms) {
    const int a = look.find(pair.tp, p, small), b = look.find(pair.ep, p, small);
    if (p == seed || a < 0 || b < 0)
      continue;
    const ScenarioResult &x = results[a], &y = results[b];
    const double r = y.step_time / x.step_time;
    const std::vector<StepDifference> d = step_differences(x, y);
    behind_everywhere = behind_everywhere && r > 1;
    fixed_everywhere = fixed_everywhere && r > 1 && fixed_costs(d);
    others.push_back(svg::esc(p) + " " + EP + " is " + (r >= 1 ? ratio_text(r) + " slower" : ratio_text(1 / r) + " faster") +
                     " (" + fmt_time(y.step_time) + " against " + fmt_time(x.step_time) + ": " +
                     svg::esc(differences_text(d)) + ")");
  }
  if (!others.empty()) {
    o << "<p><b>Other platforms, batch " << small << ".</b> ";
    for (size_t i = 0; i < others.size(); i++)
      o << (i ? "; on " : "On ") << others[i];
    o << ".";
    if (fixed_everywhere)
      o << " Faster links and GPUs shrink both plans' compute, but the per-call and per-sync costs remain, so " << EP
        << " stays behind.";
    o << "</p>\n";
  }

  // 5. Against the measured references.
  const Reference *rt = nullptr, *re = nullptr;
  for (const Reference& ref : study.references) {
    if (ref.platform != seed || ref.batch != small)
      continue;
    if (ref.plan == pair.tp)
      rt = &ref;
    if (ref.plan == pair.ep)
      re = &ref;
  }
  if (rt && re && decode) {
    const double measured_ratio = rt->tok_s / re->tok_s;
    o << "<p><b>Against measurement.</b> Measured (" << svg::esc(re->source) << "): " << TP << " at "
      << fmt_value("%.3g", rt->tok_s) << " and " << EP << " at " << fmt_value("%.3g", re->tok_s) << " tokens/s per user on this "
      << "machine, " << fmt_value("%.0fx", measured_ratio) << " apart. moesim puts them " << ratio_text(ratio) << " apart";
    o << (measured_ratio > 2 * ratio ? " and does not reproduce that collapse. " : ". ");
    const double missing = 1.0 / re->tok_s - ep.step_time;
    if (missing > 0 && ep.collectives > 0)
      o << "The measured " << EP << " step is " << fmt_time(missing) << " longer than everything the model contains "
        << "(links, NCCL latencies, launches, host syncs): " << fmt_time(missing / ep.collectives)
        << " per collective call, against " << fmt_time(ep.mean.comm / ep.collectives) << " simulated. ";
    if (ep.tok_s_user / re->tok_s > 10)
      o << "No link or latency in the model comes close, so the collapse must come from a software path the model "
           "does not contain (a fallback all-to-all, for example). ";
    const double tp_ratio = tp.tok_s_user / rt->tok_s;
    o << "The measured " << TP << " is "
      << (tp_ratio >= 1 ? ratio_text(tp_ratio) + " below" : ratio_text(1 / tp_ratio) + " above")
      << " the simulation.</p>\n";
  }

  // 6. What to take away, where the numbers above said so.
  if ((fixed_everywhere && links_idle) || converge) {
    o << "<p><b>To take away.</b> ";
    if (fixed_everywhere && links_idle)
      o << "At batch " << small << ", " << TP << " beats " << EP << " on every platform here: " << EP
        << " pays for its extra collectives" << (ep.host_syncs ? " and host syncs" : "")
        << " in fixed time per layer, which more bandwidth does not buy back while the links sit mostly idle. ";
    if (converge)
      o << "At batch " << large << " the choice matters far less ("
        << fmt_value("%.1f%%", 100 * std::abs(results[je].step_time / results[jt].step_time - 1)) << " apart on "
        << svg::esc(seed) << "), because the step is spent computing.";
    o << "</p>\n";
  }
  return o.str();
}

} // namespace moesim
