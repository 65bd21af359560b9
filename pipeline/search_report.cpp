#include "pipeline/search_report.hpp"

#include "report/render.hpp"
#include "report/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace moesim {
namespace {

std::string csv_field(const std::string& s)
{
  if (s.find_first_of(",\"\n") == std::string::npos)
    return s;
  std::string o = "\"";
  for (char c : s)
    o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::string slo_text(const SearchSetup& s)
{
  if (s.slo.metric.empty())
    return "no SLO";
  return s.slo.metric + " <= " + fmt_value("%g", s.slo.seconds * 1e3) + " ms";
}

std::string row_line(const SearchRow& r, const std::string& rank)
{
  char b[256];
  std::snprintf(b, sizeof b, "%-40s %9.1f %11.1f %10.3f", r.label().c_str(), r.user(rank), r.per_gpu(rank), r.step(rank) * 1e3);
  return b;
}

} // namespace

std::string render_search_text(const SearchResult& r)
{
  const SearchSetup& s = r.setup;
  const SearchAnalysis& a = r.analysis;
  std::ostringstream o;
  o << "search: " << s.model << ", " << (s.phase == Phase::decode ? "decode" : "prefill") << ", context " << s.context;
  if (s.phase == Phase::prefill)
    o << ", prompt " << s.prompt;
  o << ", routing " << s.routing << ", " << s.seeds << (s.seeds == 1 ? " seed" : " seeds") << ", ranked by " << s.rank
    << ", " << slo_text(s) << "\n";
  for (size_t p = 0; p < s.platforms.size(); p++)
    o << "platform " << s.platforms[p] << ": " << s.gpus[p] << " GPUs\n";
  o << "candidates: " << s.candidates;
  if (s.shard.count > 1)
    o << " (shard " << s.shard.index << "/" << s.shard.count << ": " << r.rows.size() << ")";
  o << "; pruned before simulating:";
  if (a.pruned.empty())
    o << " none";
  for (const auto& [why, n] : a.pruned)
    o << " " << n << " by " << why;
  o << "; simulated: " << a.simulated << "\n\n";
  o << "Pareto front (" << s.rank << "): tok/s/user against tok/s/GPU\n";
  o << "plan @ platform, batch, launch           tok/s/user   tok/s/GPU    step ms\n";
  for (size_t i : a.pareto)
    o << row_line(r.rows[i], s.rank) << "\n";
  o << "\n";
  if (!a.best) {
    o << "no simulated plan meets " << slo_text(s) << "\n";
    return o.str();
  }
  o << "best under " << slo_text(s) << " (" << a.meeting_slo << " of " << a.simulated << " meet it): "
    << r.rows[*a.best].label() << "\n";
  o << "  " << r.rows[*a.best].layout << "\n";
  o << "  " << a.why << "\n";
  return o.str();
}

std::string render_search_csv(const SearchResult& r)
{
  std::ostringstream o;
  o << "key,platform,gpus,plan,layout,pp,batch,cuda_graphs,pruned,why_pruned,memory_gib,capacity_gib,seeds,"
       "step_ms_p50,step_ms_p90,tok_s_user_p50,tok_s_user_p90,tok_s_per_gpu_p50,tok_s_per_gpu_p90,pareto,best\n";
  std::vector<bool> front(r.rows.size(), false);
  for (size_t i : r.analysis.pareto)
    front[i] = true;
  const double gib = 1073741824.0;
  for (size_t i = 0; i < r.rows.size(); i++) {
    const SearchRow& w = r.rows[i];
    o << w.key << "," << csv_field(w.platform) << "," << w.gpus << "," << csv_field(w.plan) << "," << csv_field(w.layout)
      << "," << w.pp << "," << w.batch << "," << (w.cuda_graphs ? "on" : "off") << "," << w.pruned << ","
      << csv_field(w.why_pruned) << "," << fmt_value("%.3f", w.memory / gib) << "," << fmt_value("%.3f", w.capacity / gib) << ",";
    if (w.pruned.empty())
      o << w.band.seeds << "," << fmt_value("%.6g", w.band.step_time.p50 * 1e3) << "," << fmt_value("%.6g", w.band.step_time.p90 * 1e3)
        << "," << fmt_value("%.6g", w.band.tok_s_user.p50) << "," << fmt_value("%.6g", w.band.tok_s_user.p90) << ","
        << fmt_value("%.6g", w.band.tok_s_per_gpu.p50) << "," << fmt_value("%.6g", w.band.tok_s_per_gpu.p90);
    else
      o << ",,,,,,";
    o << "," << (front[i] ? "yes" : "") << "," << (r.analysis.best == i ? "yes" : "") << "\n";
  }
  return o.str();
}

std::string render_search_svg(const SearchResult& r)
{
  const SearchSetup& s = r.setup;
  const SearchAnalysis& a = r.analysis;
  const double W = 820, H = 520, left = 80, top = 50, pw = 520, ph = 380;
  double xmax = 0, ymax = 0;
  for (const SearchRow& w : r.rows)
    if (w.pruned.empty())
      xmax = std::max(xmax, w.user(s.rank)), ymax = std::max(ymax, w.per_gpu(s.rank));
  auto axis_top = [](double v) {
    const std::vector<double> t = svg::ticks(std::max(v, 1e-9), 5);
    const double step = t.size() > 1 ? t[1] - t[0] : std::max(v, 1e-9);
    return std::max(step, std::ceil(v / step - 1e-9) * step);
  };
  const double xt = axis_top(xmax), yt = axis_top(ymax);
  auto px = [&](double v) { return left + pw * v / xt; };
  auto py = [&](double v) { return top + ph * (1 - v / yt); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << svg::num(W) << "\" height=\"" << svg::num(H)
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<text x=\"10\" y=\"22\" font-size=\"15\">" << svg::esc(s.model) << ": plans on "
    << svg::esc(s.platforms.size() == 1 ? s.platforms[0] : std::to_string(s.platforms.size()) + " platforms") << " ("
    << s.rank << ", " << svg::esc(slo_text(s)) << ")</text>\n";
  o << "<rect x=\"" << svg::num(left) << "\" y=\"" << svg::num(top) << "\" width=\"" << svg::num(pw) << "\" height=\""
    << svg::num(ph) << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (double v : svg::ticks(xt, 5)) {
    o << "<line x1=\"" << svg::num(px(v)) << "\" y1=\"" << svg::num(top) << "\" x2=\"" << svg::num(px(v)) << "\" y2=\""
      << svg::num(top + ph) << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << svg::num(px(v)) << "\" y=\"" << svg::num(top + ph + 16) << "\" text-anchor=\"middle\">"
      << fmt_value("%g", v) << "</text>\n";
  }
  for (double v : svg::ticks(yt, 5)) {
    o << "<line x1=\"" << svg::num(left) << "\" y1=\"" << svg::num(py(v)) << "\" x2=\"" << svg::num(left + pw) << "\" y2=\""
      << svg::num(py(v)) << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << svg::num(left - 6) << "\" y=\"" << svg::num(py(v) + 4) << "\" text-anchor=\"end\">" << fmt_value("%g", v)
      << "</text>\n";
  }
  o << "<text x=\"" << svg::num(left + pw / 2) << "\" y=\"" << svg::num(top + ph + 36)
    << "\" text-anchor=\"middle\">tok/s per user</text>\n";
  o << "<text x=\"20\" y=\"" << svg::num(top + ph / 2) << "\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
    << svg::num(top + ph / 2) << ")\">tok/s per GPU</text>\n";
  if (s.slo.metric == "tpot" && s.phase == Phase::decode && 1 / s.slo.seconds <= xt) {
    // Decode: tok/s/user = 1 / step, so tpot <= T is tok/s/user >= 1 / T: a vertical line.
    const double x = px(1 / s.slo.seconds);
    o << "<line x1=\"" << svg::num(x) << "\" y1=\"" << svg::num(top) << "\" x2=\"" << svg::num(x) << "\" y2=\""
      << svg::num(top + ph) << "\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>\n";
    o << "<text x=\"" << svg::num(x + 4) << "\" y=\"" << svg::num(top + 14) << "\" fill=\"#d62728\">" << svg::esc(slo_text(s))
      << "</text>\n";
  }
  for (const SearchRow& w : r.rows)
    if (w.pruned.empty())
      o << "<circle cx=\"" << svg::num(px(w.user(s.rank))) << "\" cy=\"" << svg::num(py(w.per_gpu(s.rank)))
        << "\" r=\"2.5\" fill=\"#bbb\"><title>" << svg::esc(w.label()) << "</title></circle>\n";
  std::string points;
  for (size_t i : a.pareto)
    points += (points.empty() ? "" : " ") + svg::num(px(r.rows[i].user(s.rank))) + "," + svg::num(py(r.rows[i].per_gpu(s.rank)));
  o << "<polyline points=\"" << points << "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n";
  for (size_t k = 0; k < a.pareto.size(); k++) {
    const SearchRow& w = r.rows[a.pareto[k]];
    const double x = px(w.user(s.rank)), y = py(w.per_gpu(s.rank));
    o << "<circle cx=\"" << svg::num(x) << "\" cy=\"" << svg::num(y) << "\" r=\"4\" fill=\"#1f77b4\"><title>"
      << svg::esc(w.label()) << "</title></circle>\n";
    o << "<text x=\"" << svg::num(left + pw + 12) << "\" y=\"" << svg::num(top + 12 + 15 * static_cast<double>(k))
      << "\" fill=\"#1f77b4\">" << svg::esc(w.label()) << "</text>\n";
  }
  if (a.best) {
    const SearchRow& w = r.rows[*a.best];
    o << "<circle cx=\"" << svg::num(px(w.user(s.rank))) << "\" cy=\"" << svg::num(py(w.per_gpu(s.rank)))
      << "\" r=\"8\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n";
    o << "<text x=\"" << svg::num(left) << "\" y=\"" << svg::num(H - 10) << "\" fill=\"#d62728\">best: "
      << svg::esc(w.label()) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

} // namespace moesim
