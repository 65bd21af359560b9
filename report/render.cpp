#include "report/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace moesim {

std::string fmt_value(const char* f, double v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}


std::string fmt_time(double s)
{
  if (s >= 1)
    return fmt_value("%.3g s", s);
  if (s >= 1e-3)
    return fmt_value("%.3g ms", s * 1e3);
  return fmt_value("%.3g us", s * 1e6);
}

std::string fmt_bytes(double b)
{
  if (b >= 1e9)
    return fmt_value("%.3g GB", b / 1e9);
  if (b >= 1e6)
    return fmt_value("%.3g MB", b / 1e6);
  if (b >= 1e3)
    return fmt_value("%.3g kB", b / 1e3);
  return fmt_value("%.0f B", b);
}

static std::string pad(const std::string& s, size_t w, bool right = false)
{
  if (s.size() >= w)
    return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

static std::string pct(double part, double whole)
{
  return whole > 0 ? fmt_value("%.0f%%", 100 * part / whole) : "-";
}

static const Reference* reference_for(const Study& st, const ScenarioResult& r)
{
  for (const Reference& ref : st.references)
    if (ref.plan == r.plan && ref.platform == r.platform && ref.batch == r.batch)
      return &ref;
  return nullptr;
}

// One line per platform: the share of the step whose compute time came from each provenance (the
// range over the platform's rows) and the validated error band of the provenance that dominates.
static std::string provenance_line(const std::vector<ScenarioResult>& results, const std::string& plat)
{
  const char* const order[] = {"measured", "interpolated", "extrapolated", "specs"};
  std::map<std::string, std::pair<double, double>> range;
  std::map<std::string, double> total;
  std::vector<const ScenarioResult*> rows;
  for (const auto& r : results) {
    if (r.platform != plat || r.refused)
      continue;
    rows.push_back(&r);
    for (const char* p : order) {
      auto it = r.compute_provenance.find(p);
      const double v = it == r.compute_provenance.end() ? 0.0 : it->second;
      auto [lo, hi] = range.count(p) ? range[p] : std::make_pair(v, v);
      range[p] = {std::min(lo, v), std::max(hi, v)};
      total[p] += v;
    }
  }
  if (rows.empty())
    return "";
  std::string parts;
  for (const char* p : order) {
    const auto [lo, hi] = range[p];
    if (hi <= 0)
      continue;
    const std::string a = fmt_value("%.0f", lo * 100), b = fmt_value("%.0f", hi * 100);
    parts += (parts.empty() ? "" : ", ") + std::string(p) + " " + (a == b ? a : a + "-" + b) + "%";
  }
  const perf::Provenance dom = dominant_provenance(total);
  std::string band = std::string(perf::to_string(dom)) + ": not yet validated";
  for (const ScenarioResult* r : rows)
    if (dominant_provenance(r->compute_provenance) == dom && !r->error_band.empty()) {
      band = r->error_band;
      break;
    }
  return "  compute time from: " + (parts.empty() ? std::string("no compute") : parts) +
         " of the step; validated step error, " + band + "\n";
}

std::string render_table(const Study& study, const std::vector<ScenarioResult>& results)
{
  std::ostringstream o;
  const bool decode = study.phase == Phase::decode;
  o << "moesim: " << study.name << " - " << study.model.name << ", " << to_string(study.phase);
  if (decode)
    o << " with " << study.context << " tokens of context";
  else
    o << " of " << study.prompt << "-token prompts";
  o << ", routing " << study.routing.describe() << ", "
    << (study.engine.cuda_graphs ? "CUDA graphs" : "eager launches") << "\n";
  // One table per platform (in order of first appearance), rows by batch then plan.
  std::vector<std::string> platforms;
  for (const auto& r : results)
    if (std::find(platforms.begin(), platforms.end(), r.platform) == platforms.end())
      platforms.push_back(r.platform);
  const std::vector<std::string> head = {
      "batch", "plan", "step", decode ? "tok/s/user" : "TTFT", "tok/s", "tok/s/GPU", "compute", "comm", "host",
      "idle", "link bytes", "mem/GPU", "measured tok/s/user"};
  for (const std::string& plat : platforms) {
    const ScenarioResult* any = nullptr;
    for (const auto& r : results)
      if (r.platform == plat && !any)
        any = &r;
    o << "\n" << plat << ": " << any->gpus << "x " << any->gpu_model << "\n";
    if (!any->platform_description.empty())
      o << "  " << any->platform_description << "\n";
    if (!any->calibration.empty())
      o << "  calibrated: " << any->calibration << "\n";
    o << provenance_line(results, plat);
    std::vector<std::vector<std::string>> rows = {head};
    int last_batch = -1;
    for (const auto& r : results) {
      if (r.platform != plat)
        continue;
      const std::string batch = r.batch == last_batch ? "" : std::to_string(r.batch);
      last_batch = r.batch;
      const double mem = r.memory.total();
      std::string memcol = fmt_value("%.1f", mem / 1073741824.0) + "/" + fmt_value("%.0f GiB", r.memory_capacity / 1073741824.0);
      if (r.refused) {
        rows.push_back({batch, r.plan, "refused", "-", "-", "-", "-", "-", "-", "-", "-", memcol, ""});
        continue;
      }
      double link = 0;
      for (const auto& [cls, b] : r.link_bytes)
        link += b;
      const Reference* ref = reference_for(study, r);
      rows.push_back({batch, r.plan, fmt_time(r.step_time),
                      decode ? fmt_value("%.1f", r.tok_s_user) : fmt_time(r.step_time), fmt_value("%.1f", r.tok_s_total),
                      fmt_value("%.1f", r.tok_s_per_gpu), pct(r.mean.compute, r.step_time), pct(r.mean.comm, r.step_time),
                      pct(r.mean.host, r.step_time), pct(r.mean.idle, r.step_time), fmt_bytes(link), memcol,
                      ref ? fmt_value("%.3g", ref->tok_s) + " (" + ref->source + ")" : ""});
    }
    std::vector<size_t> w(head.size(), 0);
    for (const auto& row : rows)
      for (size_t i = 0; i < row.size(); i++)
        w[i] = std::max(w[i], row[i].size());
    for (const auto& row : rows) {
      std::string line = "  ";
      for (size_t i = 0; i < row.size(); i++)
        line += pad(row[i], w[i], i != 1 && i < 11) + (i + 1 < row.size() ? "  " : "");
      while (!line.empty() && line.back() == ' ')
        line.pop_back();
      o << line << "\n";
    }
  }
  bool any_refused = false;
  for (const auto& r : results)
    if (r.refused) {
      if (!any_refused)
        o << "\nrefused:\n";
      any_refused = true;
      o << "  " << r.key() << ": " << r.refusal << "\n";
    }
  return o.str();
}

std::vector<StepDifference> step_differences(const ScenarioResult& fast, const ScenarioResult& slow)
{
  std::vector<StepDifference> parts = {
      {StepDifference::compute, "compute", slow.mean.compute - fast.mean.compute},
      {StepDifference::comm, "exposed communication", slow.mean.comm - fast.mean.comm},
      {StepDifference::host, "host overhead", slow.mean.host - fast.mean.host},
      {StepDifference::idle, "idle (waiting for peers)", slow.mean.idle - fast.mean.idle}};
  std::stable_sort(parts.begin(), parts.end(),
                   [](const StepDifference& a, const StepDifference& b) { return std::abs(a.delta) > std::abs(b.delta); });
  const double dt = slow.step_time - fast.step_time;
  std::vector<StepDifference> out;
  for (const StepDifference& p : parts) {
    if (std::abs(p.delta) <= 0.02 * std::abs(dt) || out.size() == 3)
      break;
    out.push_back(p);
  }
  return out;
}

// Where a platform's extra communication time goes: the collective kind whose exposed time grew
// most, per call split into fixed cost (NCCL's latency and the transport's, e.g. hops through host
// memory) and moving the bytes; and the host-memory traffic when it differs.
static std::string where_comm_goes(const ScenarioResult& fast, const ScenarioResult& slow)
{
  const double dt = slow.step_time - fast.step_time;
  if (slow.mean.comm - fast.mean.comm <= 0.02 * dt)
    return "";
  std::string kind;
  double most = 0;
  for (const auto& [k, t] : slow.comm_time_by_kind) {
    auto f = fast.comm_time_by_kind.find(k);
    const double d = t - (f == fast.comm_time_by_kind.end() ? 0 : f->second);
    if (d > most) {
      most = d;
      kind = k;
    }
  }
  auto calls = [](const ScenarioResult& r, const std::string& k) {
    auto it = r.calls_by_kind.find(k);
    return it == r.calls_by_kind.end() ? 0.0 : it->second;
  };
  const double n_fast = calls(fast, kind), n_slow = calls(slow, kind);
  if (kind.empty() || n_fast <= 0 || n_slow <= 0 || std::abs(n_fast - n_slow) > 1e-9 * n_slow)
    return "";
  const double per_slow = slow.comm_time_by_kind.at(kind) / n_slow, per_fast = fast.comm_time_by_kind.at(kind) / n_fast;
  const double fixed_slow = slow.fixed_by_kind.at(kind) / n_slow, fixed_fast = fast.fixed_by_kind.at(kind) / n_fast;
  const double d_fixed = fixed_slow - fixed_fast, d_move = (per_slow - fixed_slow) - (per_fast - fixed_fast);
  std::ostringstream o;
  auto signed_time = [](double d) {
    return std::abs(d) < 1e-9 ? std::string("no change") : (d < 0 ? "-" : "+") + fmt_time(std::abs(d));
  };
  o << "    " << kind << ": " << fmt_value("%.0f", n_slow) << " calls per GPU at " << fmt_time(per_slow) << " each against "
    << fmt_time(per_fast) << ": " << signed_time(d_fixed) << " in fixed cost (NCCL's latency and the transport's hops), "
    << signed_time(d_move) << " in moving the bytes";
  auto staged = [](const ScenarioResult& r) {
    auto it = r.link_bytes.find("host_memory");
    return it == r.link_bytes.end() ? 0.0 : it->second;
  };
  if (staged(slow) != staged(fast))
    o << "; host memory carries " << fmt_bytes(staged(slow)) << " against " << fmt_bytes(staged(fast));
  o << ".\n";
  return o.str();
}

std::string differences_text(const std::vector<StepDifference>& parts)
{
  std::string o;
  for (const StepDifference& p : parts)
    o += (o.empty() ? "" : ", ") + std::string(p.delta > 0 ? "+" : "-") + fmt_time(std::abs(p.delta)) + " " + p.what;
  return o.empty() ? "no single component dominates" : o;
}

std::string attribute_difference(const ScenarioResult& fast, const ScenarioResult& slow)
{
  return "the step is " + fmt_time(slow.step_time - fast.step_time) + " longer: " +
         differences_text(step_differences(fast, slow));
}

std::vector<std::string> plan_facts(const ScenarioResult& r)
{
  std::vector<std::string> facts;
  std::vector<std::pair<double, std::string>> comm(r.comm_time_by_kind.size());
  std::transform(r.comm_time_by_kind.begin(), r.comm_time_by_kind.end(), comm.begin(),
                 [](const auto& kv) { return std::make_pair(kv.second, kv.first); });
  std::stable_sort(comm.begin(), comm.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string colls = std::to_string(r.collectives) + " collectives per GPU per step";
  if (!comm.empty() && comm[0].first > 0)
    colls += ", most time in " + comm[0].second + " (" + fmt_time(comm[0].first) + ")";
  facts.push_back(colls);
  if (r.host_syncs)
    facts.push_back(std::to_string(r.host_syncs) +
                    " host synchronisations (all-to-all-v sizes) each draining the launch queue");
  double link = 0;
  for (const auto& [c, b] : r.link_bytes)
    link += b;
  if (link > 0) {
    std::vector<std::pair<double, std::string>> cls;
    for (const auto& [c, b] : r.link_bytes)
      cls.push_back({b, c});
    std::stable_sort(cls.begin(), cls.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string f = fmt_bytes(link) + " over links (";
    for (size_t i = 0; i < cls.size(); i++)
      f += (i ? ", " : "") + cls[i].second + " " + fmt_bytes(cls[i].first);
    facts.push_back(f + ")");
  }
  if (r.expert_imbalance > 1.05)
    facts.push_back("in each MoE layer the GPU with the most routed tokens spends " + fmt_value("%.2f", r.expert_imbalance) +
                    "x the mean time in expert GEMMs while the others wait (routing imbalance)");
  if (r.pp > 1 && r.compute_imbalance > 1.05)
    facts.push_back("the busiest stage computes " + fmt_value("%.2f", r.compute_imbalance) + "x the mean (uneven stages)");
  if (r.pp > 1 && r.steady_steps > 0) {
    // The table's row is one step from an empty pipeline; the steady state is the engine's pace.
    const int mb = r.steady_microbatches;
    std::string f = "each GPU idles " + fmt_value("%.0f%%", 100 * r.mean.idle / r.step_time) +
                    " of the step in the table, which starts from an empty pipeline and ends with it drained; run "
                    "back to back (" + std::to_string(r.steady_steps) + " steps simulated, the last " +
                    std::to_string(r.steady_steps - r.steady_warmup) + " measured) with its " + std::to_string(mb) +
                    (mb == 1 ? " microbatch" : " microbatches") +
                    " in flight, each entering stage 0 again as its tokens leave the last stage, the pipeline "
                    "settles at one step every " + fmt_time(r.steady_interval) + " (the time per output token), " +
                    fmt_value("%.0f", r.tok_s_steady) + " tok/s in aggregate, " +
                    fmt_value("%.2f", r.step_time / r.steady_interval) + "x the step's rate";
    const double bubble = r.tok_s_pipelined > 0 ? 1 - r.tok_s_steady / r.tok_s_pipelined : 0;
    if (bubble > 0.01) {
      f += "; the bound of the busiest GPU's busy time (" + fmt_value("%.0f", r.tok_s_pipelined) +
           " tok/s) is not reached: " + fmt_value("%.0f%%", 100 * bubble) + " of each steady step is a bubble on that GPU";
      if (mb < r.pp)
        f += ", since " + std::to_string(mb) + (mb == 1 ? " microbatch" : " microbatches") + " for " +
             std::to_string(r.pp) + " stages" + (mb == 1 ? " keeps" : " keep") + " at most " + std::to_string(mb) + " stage" + (mb == 1 ? "" : "s") +
             " busy at once (more sequences or microbatches fill it)";
      else
        f += " (uneven stages, or a microbatch's trip around the pipeline taking longer than the others' work)";
    } else {
      f += "; that is the bound of the busiest GPU's busy time (" + fmt_value("%.0f", r.tok_s_pipelined) +
           " tok/s): no stage waits";
    }
    facts.push_back(f);
  } else if (r.pp > 1)
    facts.push_back("each GPU idles " + fmt_value("%.0f%%", 100 * r.mean.idle / r.step_time) +
                    " of the step waiting for its pipeline stage: kept full by other requests across steps, the "
                    "pipeline would reach at most " +
                    fmt_value("%.0f", r.tok_s_pipelined) + " tok/s in aggregate (tokens over the busiest GPU's busy "
                    "time, a bound: the steady state was not simulated)");
  return facts;
}

static std::string why(const ScenarioResult& r)
{
  std::string o = r.plan + ": ";
  const std::vector<std::string> facts = plan_facts(r);
  for (size_t i = 0; i < facts.size(); i++)
    o += (i ? "; " : "") + facts[i];
  return o;
}

std::string explain_plan(const ScenarioResult& r, const ScenarioResult& fastest)
{
  if (&r == &fastest)
    return why(r) + ".";
  return r.plan + " is " + fmt_value("%.2f", r.step_time / fastest.step_time) + "x slower: " +
         attribute_difference(fastest, r) + ". " + why(r) + ".";
}

std::string render_explanation(const Study& study, const std::vector<ScenarioResult>& results)
{
  std::ostringstream o;
  std::vector<std::pair<std::string, int>> groups;
  for (const auto& r : results)
    if (!r.refused && std::find(groups.begin(), groups.end(), std::make_pair(r.platform, r.batch)) == groups.end())
      groups.push_back({r.platform, r.batch});
  if (!groups.empty())
    o << "\nWhy the plans differ (each plan against the fastest on the same platform and batch)\n";
  for (const auto& [plat, batch] : groups) {
    std::vector<const ScenarioResult*> rs;
    for (const auto& r : results)
      if (!r.refused && r.platform == plat && r.batch == batch)
        rs.push_back(&r);
    std::stable_sort(rs.begin(), rs.end(), [](auto* a, auto* b) { return a->step_time < b->step_time; });
    const ScenarioResult& best = *rs.front();
    o << "  " << plat << ", batch " << batch << ": fastest " << best.plan << " at " << fmt_time(best.step_time)
      << " per step.\n";
    for (const ScenarioResult* r : rs)
      o << "    " << explain_plan(*r, best) << "\n";
  }
  // The same plan and batch across platforms: what the interconnect changes.
  std::vector<std::pair<std::string, int>> pb;
  for (const auto& r : results)
    if (!r.refused && std::find(pb.begin(), pb.end(), std::make_pair(r.plan, r.batch)) == pb.end())
      pb.push_back({r.plan, r.batch});
  bool header = false;
  for (const auto& [plan, batch] : pb) {
    const ScenarioResult *fast = nullptr, *slow = nullptr;
    int n = 0;
    for (const auto& r : results) {
      if (r.refused || r.plan != plan || r.batch != batch)
        continue;
      n++;
      if (!fast || r.step_time < fast->step_time)
        fast = &r;
      if (!slow || r.step_time > slow->step_time)
        slow = &r;
    }
    if (n < 2 || slow->step_time < 1.05 * fast->step_time)
      continue;
    if (!header)
      o << "\nWhat the platform changes (same plan and batch)\n";
    header = true;
    o << "  " << plan << " at batch " << batch << ": " << fmt_time(slow->step_time) << " on " << slow->platform
      << " vs " << fmt_time(fast->step_time) << " on " << fast->platform << " ("
      << fmt_value("%.2f", slow->step_time / fast->step_time) << "x); " << attribute_difference(*fast, *slow) << ".\n";
    o << where_comm_goes(*fast, *slow);
  }
  bool ref_header = false;
  for (const Reference& ref : study.references) {
    for (const auto& r : results) {
      if (r.refused || r.plan != ref.plan || r.platform != ref.platform || r.batch != ref.batch)
        continue;
      if (!ref_header)
        o << "\nAgainst measurement\n";
      ref_header = true;
      const double ratio = r.tok_s_user / ref.tok_s;
      o << "  measured (" << ref.source << ") " << ref.plan << " on " << ref.platform << " at batch " << ref.batch
        << ": " << fmt_value("%.3g", ref.tok_s) << " tok/s per user; simulated " << fmt_value("%.3g", r.tok_s_user) << " ("
        << fmt_value("%.2f", ratio) << "x the measurement)";
      if (ratio > 1.5) {
        // What the simulation does not contain: the time the measured step spent beyond the model.
        const double missing = 1.0 / ref.tok_s - r.step_time;
        o << ". The measured step is " << fmt_time(missing) << " longer than everything modelled (links, NCCL "
          << "latencies, launches, " << r.host_syncs << " host syncs)";
        if (r.collectives > 0)
          o << "; spread over its " << r.collectives << " collective calls that is " << fmt_time(missing / r.collectives)
            << " each, against " << fmt_time(r.mean.comm / r.collectives) << " simulated";
        if (ratio > 10)
          o << ": no link or latency in the model comes close, so the collapse lies in a software path (e.g. a "
               "fallback all-to-all) that the model does not contain";
      }
      o << ".\n";
    }
  }
  return o.str();
}

std::string render_candidates(const Study& study, const std::vector<CandidateRun>& runs)
{
  std::ostringstream o;
  int last = -1;
  for (const CandidateRun& c : runs) {
    const Reference& ref = study.references.at(c.reference);
    if (last < 0)
      o << "\nCandidate engine paths for the measured figures (within 1.25x: reproduces)\n";
    if (c.reference != last)
      o << "  measured (" << ref.source << ") " << ref.plan << " on " << ref.platform << " at batch " << ref.batch
        << ": " << fmt_value("%.3g", ref.tok_s) << " tok/s per user\n";
    last = c.reference;
    const ScenarioResult& r = c.result;
    o << "    " << c.name << (c.plan != ref.plan ? " (" + c.plan + ")" : std::string()) << ": ";
    if (r.refused) {
      o << "does not fit\n";
      continue;
    }
    const double ratio = r.tok_s_user / ref.tok_s;
    o << fmt_value("%.3g", r.tok_s_user) << " tok/s per user, " << fmt_value("%.2f", ratio) << "x"
      << (ratio <= 1.25 && ratio >= 0.8 ? ": reproduces" : "") << "\n      " << r.software_paths << "\n";
  }
  return o.str();
}

std::string render_csv(const std::vector<ScenarioResult>& results)
{
  std::ostringstream o;
  o << "plan,platform,gpus,gpu_model,phase,batch,context,prompt,cuda_graphs,refused,step_time_s,tok_s_user,"
       "tok_s_total,tok_s_per_gpu,tok_s_pipelined,compute_s,comm_s,host_s,idle_s,host_syncs,collectives,kernels,compute_imbalance,"
       "link_bytes,mem_weights_bytes,mem_kv_bytes,mem_act_bytes,mem_capacity_bytes,compute_measured,"
       "compute_interpolated,compute_extrapolated,compute_specs,error_band\n";
  for (const auto& r : results) {
    double link = 0;
    for (const auto& [c, b] : r.link_bytes)
      link += b;
    o << r.plan << "," << r.platform << "," << r.gpus << "," << r.gpu_model << "," << to_string(r.phase) << ","
      << r.batch << "," << r.context << "," << r.prompt << "," << (r.cuda_graphs ? 1 : 0) << "," << (r.refused ? 1 : 0)
      << "," << fmt_value("%.9g", r.step_time) << "," << fmt_value("%.6g", r.tok_s_user) << "," << fmt_value("%.6g", r.tok_s_total)
      << "," << fmt_value("%.6g", r.tok_s_per_gpu) << "," << fmt_value("%.6g", r.tok_s_pipelined) << ","
      << fmt_value("%.9g", r.mean.compute) << "," << fmt_value("%.9g", r.mean.comm)
      << "," << fmt_value("%.9g", r.mean.host) << "," << fmt_value("%.9g", r.mean.idle) << "," << r.host_syncs << ","
      << r.collectives << "," << r.kernels << "," << fmt_value("%.4f", r.compute_imbalance) << "," << fmt_value("%.0f", link)
      << "," << fmt_value("%.0f", r.memory.weights) << "," << fmt_value("%.0f", r.memory.kv_cache) << ","
      << fmt_value("%.0f", r.memory.activations) << "," << fmt_value("%.0f", r.memory_capacity);
    for (const char* p : {"measured", "interpolated", "extrapolated", "specs"}) {
      auto it = r.compute_provenance.find(p);
      o << "," << fmt_value("%.4f", it == r.compute_provenance.end() ? 0.0 : it->second);
    }
    std::string band = r.error_band;
    for (size_t q = band.find('"'); q != std::string::npos; q = band.find('"', q + 2))
      band.insert(q, "\"");
    o << ",\"" << band << "\"\n";
  }
  return o.str();
}

nlohmann::json render_json(const Study& study, const std::vector<ScenarioResult>& results)
{
  nlohmann::json j;
  j["study"] = study.name;
  j["model"] = study.model.name;
  j["phase"] = to_string(study.phase);
  j["context"] = study.context;
  j["prompt"] = study.prompt;
  j["routing"] = study.routing.describe();
  j["engine"] = {{"cuda_graphs", study.engine.cuda_graphs},
                 {"launch_s", study.engine.launch_s},
                 {"sync_s", study.engine.sync_s},
                 {"graph_launch_s", study.engine.graph_launch_s}};
  nlohmann::json rs = nlohmann::json::array();
  for (const auto& r : results)
    rs.push_back(result_to_json(r));
  j["results"] = rs;
  nlohmann::json refs = nlohmann::json::array();
  for (const Reference& r : study.references)
    refs.push_back({{"plan", r.plan}, {"platform", r.platform}, {"batch", r.batch}, {"tok_s", r.tok_s},
                    {"source", r.source}});
  j["references"] = refs;
  return j;
}

nlohmann::json chrome_trace(const std::vector<NamedTimeline>& timelines)
{
  nlohmann::json ev = nlohmann::json::array();
  for (size_t s = 0; s < timelines.size(); s++) {
    const Timeline& t = timelines[s].timeline;
    std::map<std::pair<int, int>, bool> named;
    for (const TimelineEvent& e : t.events) {
      const int pid = static_cast<int>(s) * 10000 + e.rank;
      if (!named.count({e.rank, -1})) {
        named[{e.rank, -1}] = true;
        ev.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", pid},
                      {"args", {{"name", timelines[s].label + " / gpu" + std::to_string(e.rank)}}}});
        ev.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", pid}, {"args", {{"sort_index", pid}}}});
      }
      if (!named.count({e.rank, e.stream})) {
        named[{e.rank, e.stream}] = true;
        ev.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", pid}, {"tid", e.stream},
                      {"args", {{"name", e.stream == 0 ? "compute+collectives" : "pipeline sends"}}}});
      }
      nlohmann::json args = {{"kind", to_string(e.kind)}, {"layer", e.layer}, {"op", e.op}};
      if (e.sync > e.start)
        args["wait_for_peers_us"] = (e.sync - e.start) * 1e6;
      if (e.start > e.ready)
        args["wait_for_host_us"] = (e.start - e.ready) * 1e6;
      if (!e.detail.empty())
        args["algorithm"] = e.detail;
      ev.push_back({{"ph", "X"}, {"name", e.name}, {"cat", to_string(op_class(e.kind))}, {"pid", pid},
                    {"tid", e.stream}, {"ts", e.start * 1e6}, {"dur", (e.end - e.start) * 1e6}, {"args", args}});
    }
  }
  return {{"traceEvents", ev}, {"displayTimeUnit", "ms"}};
}

} // namespace moesim
