#include "pipeline/sweep_report.hpp"

#include "report/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace moesim {
namespace {

std::string pad(std::string s, size_t w, bool right = false)
{
  if (s.size() >= w)
    return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

// One (platform, batch) block: the scenario indices of its plans, in study order.
struct Block {
  std::string platform, description;
  int batch = 0;
  std::vector<size_t> rows;
};

std::vector<Block> blocks_of(const std::vector<ScenarioResult>& rs)
{
  std::vector<Block> out;
  for (size_t i = 0; i < rs.size(); i++) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const Block& b) { return b.platform == rs[i].platform && b.batch == rs[i].batch; });
    if (it == out.end()) {
      out.push_back({rs[i].platform, rs[i].platform_description, rs[i].batch, {}});
      it = out.end() - 1;
    }
    it->rows.push_back(i);
  }
  return out;
}

double rate(const ScenarioResult& r)
{
  return r.refused ? std::numeric_limits<double>::quiet_NaN() : r.tok_s_total;
}

std::vector<std::optional<double>> numbers(const SweepSpec& sw)
{
  std::vector<std::optional<double>> x;
  for (const std::string& v : sw.values)
    x.push_back(sweep_number(sw.key, v));
  return x;
}

const char* phase_word(const Study& s)
{
  return s.phase == Phase::prefill ? "prefill" : "decode";
}

// Which plan is fastest at each value; then, against the plan fastest at the most values, where
// every other plan overtakes it (or falls behind again), or how close it gets. Ratios within 0.1%
// count as ties, not as overtaking.
std::string crossovers(const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by, const Block& b,
                       const std::vector<std::optional<double>>& x)
{
  constexpr double tie = 1e-3;
  const size_t n = sw.values.size(), plans = b.rows.size();
  auto plan = [&](size_t k) { return by[0][b.rows[k]].plan; };
  std::vector<size_t> fastest(n, plans);
  std::vector<int> wins(plans, 0);
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < plans; k++) {
      const double v = rate(by[i][b.rows[k]]);
      if (!std::isnan(v) && (fastest[i] == plans || v > rate(by[i][b.rows[fastest[i]]])))
        fastest[i] = k;
    }
    if (fastest[i] < plans)
      wins[fastest[i]]++;
  }
  const size_t lead = static_cast<size_t>(std::max_element(wins.begin(), wins.end()) - wins.begin());
  if (wins[lead] == 0)
    return "  every plan is refused at every value\n";
  std::ostringstream o;
  o << "  fastest:";
  if (wins[lead] == static_cast<int>(n)) {
    o << " " << plan(lead) << " at every value\n";
  } else {
    // Runs of values with the same fastest plan: "ep4 at 0us, 5us; tp4 at 14us".
    for (size_t i = 0; i < n;) {
      size_t j = i;
      std::string vals = sw.values[i];
      while (j + 1 < n && fastest[j + 1] == fastest[i])
        vals += ", " + sw.values[++j];
      o << (i ? "; " : " ") << (fastest[i] < plans ? plan(fastest[i]) : std::string("none")) << " at " << vals;
      i = j + 1;
    }
    o << "\n";
  }
  const std::string L = plan(lead);
  for (size_t k = 0; k < plans; k++) {
    if (k == lead)
      continue;
    std::vector<double> r(n);
    std::vector<int> sign(n, 0); // +1 ahead of L, -1 behind, 0 tie or refused
    for (size_t i = 0; i < n; i++) {
      r[i] = rate(by[i][b.rows[k]]) / rate(by[i][b.rows[lead]]);
      sign[i] = std::isnan(r[i]) ? 0 : r[i] > 1 + tie ? 1 : r[i] < 1 - tie ? -1 : 0;
    }
    if (std::none_of(sign.begin(), sign.end(), [](int v) { return v > 0; })) {
      size_t best = n;
      for (size_t i = 0; i < n; i++)
        if (!std::isnan(r[i]) && (best == n || r[i] > r[best]))
          best = i;
      if (best == n)
        o << "    " << plan(k) << " is refused at every value.\n";
      else
        o << "    " << plan(k) << " never overtakes " << L << ": at best " << fmt_value(r[best] >= 0.995 ? "%.3f" : "%.2f", r[best])
          << "x of it (at " << sw.values[best] << (r[best] >= 1 - tie ? ", a tie within 0.1%" : "") << ").\n";
      continue;
    }
    // Each change between behind (-1) and ahead (+1), ties in between skipped.
    std::vector<std::string> events;
    size_t last = n; // last value with a definite sign
    for (size_t i = 0; i < n; i++) {
      if (sign[i] == 0)
        continue;
      if (last == n) {
        if (sign[i] > 0)
          events.push_back("is ahead of " + L + " at " + sw.values[i]);
      } else if (sign[i] != sign[last]) {
        std::string e = (sign[i] > 0 ? "overtakes " + L : "falls behind " + L + " again") + " between " + sw.values[last] +
                        " and " + sw.values[i];
        if (x[last] && x[i]) {
          const double at = *x[last] + (*x[i] - *x[last]) * (1 - r[last]) / (r[i] - r[last]);
          e += ", at about " + format_sweep_number(sw.key, at) + " (linear interpolation)";
        }
        events.push_back(e);
      }
      last = i;
    }
    o << "    " << plan(k);
    for (size_t e = 0; e < events.size(); e++)
      o << (e ? "; " : " ") << events[e];
    o << ".\n";
  }
  return o.str();
}

} // namespace

std::string render_sweep(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by)
{
  std::ostringstream o;
  o << "moesim sweep: " << s.name << " - " << s.model.name << ", " << phase_word(s) << " tok/s of all sequences per plan\n"
    << "against " << sw.key << " = ";
  for (size_t i = 0; i < sw.values.size(); i++)
    o << (i ? ", " : "") << sw.values[i];
  o << "\n";
  const auto x = numbers(sw);
  std::vector<size_t> width;
  for (const std::string& v : sw.values)
    width.push_back(std::max<size_t>(v.size(), 8));
  for (const Block& b : blocks_of(by.at(0))) {
    o << "\n" << b.platform << ", batch " << b.batch << ": " << b.description << "\n";
    o << "  " << pad("plan", 10);
    for (size_t i = 0; i < sw.values.size(); i++)
      o << "  " << pad(sw.values[i], width[i], true);
    o << "\n";
    for (size_t row : b.rows) {
      o << "  " << pad(by[0][row].plan, 10);
      for (size_t i = 0; i < sw.values.size(); i++) {
        const double v = rate(by[i][row]);
        o << "  " << pad(std::isnan(v) ? "refused" : fmt_value("%.1f", v), width[i], true);
      }
      o << "\n";
    }
    o << crossovers(sw, by, b, x);
  }
  return o.str();
}

std::string render_sweep_csv(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by)
{
  std::ostringstream o;
  o << "study,platform,batch,plan,key,value,value_si,refused,step_s,tok_s,tok_s_per_user\n";
  const auto x = numbers(sw);
  for (size_t i = 0; i < sw.values.size(); i++)
    for (const ScenarioResult& r : by[i])
      o << s.name << "," << r.platform << "," << r.batch << "," << r.plan << "," << sw.key << "," << sw.values[i] << ","
        << (x[i] ? fmt_value("%.9g", *x[i]) : "") << "," << (r.refused ? 1 : 0) << ","
        << (r.refused ? "" : fmt_value("%.9g", r.step_time)) << "," << (r.refused ? "" : fmt_value("%.9g", r.tok_s_total)) << ","
        << (r.refused ? "" : fmt_value("%.9g", r.tok_s_user)) << "\n";
  return o.str();
}

std::string render_sweep_svg(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by)
{
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  const auto x = numbers(sw);
  const size_t n = sw.values.size();
  bool numeric = true, positive = true;
  for (const auto& v : x) {
    numeric = numeric && v.has_value();
    positive = positive && v && *v > 0;
  }
  double lo = 0, hi = 1;
  bool logx = false;
  if (numeric) {
    lo = hi = *x[0];
    for (const auto& v : x) {
      lo = std::min(lo, *v);
      hi = std::max(hi, *v);
    }
    logx = positive && hi / lo >= 8;
  }
  // Position of value i in [0, 1].
  auto xpos = [&](size_t i) {
    if (!numeric || hi == lo)
      return n > 1 ? double(i) / double(n - 1) : 0.5;
    return logx ? std::log(*x[i] / lo) / std::log(hi / lo) : (*x[i] - lo) / (hi - lo);
  };
  const auto blocks = blocks_of(by.at(0));
  const double W = 760, ph = 300, left = 70, plot_w = 520, top = 40, plot_h = 200;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << fmt_value("%.0f", 50 + ph * blocks.size())
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<text x=\"10\" y=\"22\" font-size=\"15\">" << s.name << ": " << phase_word(s) << " tok/s (all sequences) against "
    << sw.key << (logx ? " (log scale)" : "") << "</text>\n";
  for (size_t bi = 0; bi < blocks.size(); bi++) {
    const Block& b = blocks[bi];
    const double y0 = 50 + ph * bi;
    double ymax = 0;
    for (size_t i = 0; i < n; i++)
      for (size_t row : b.rows)
        if (!std::isnan(rate(by[i][row])))
          ymax = std::max(ymax, rate(by[i][row]));
    // A round axis maximum: 1, 2 or 5 times a power of ten.
    double step = std::pow(10, std::floor(std::log10(std::max(ymax, 1e-9) / 4)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if (ymax / (step * m) <= 5) {
        step *= m;
        break;
      }
    const double ytop = std::max(step, std::ceil(ymax / step) * step);
    auto px = [&](size_t i) { return left + plot_w * xpos(i); };
    auto py = [&](double v) { return y0 + top + plot_h * (1 - v / ytop); };
    o << "<text x=\"10\" y=\"" << fmt_value("%.1f", y0 + 22) << "\" font-size=\"13\">" << b.platform << ", batch " << b.batch
      << "</text>\n";
    o << "<rect x=\"" << left << "\" y=\"" << fmt_value("%.1f", y0 + top) << "\" width=\"" << plot_w << "\" height=\"" << plot_h
      << "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (double v = 0; v <= ytop * (1 + 1e-9); v += step) {
      o << "<line x1=\"" << left << "\" y1=\"" << fmt_value("%.1f", py(v)) << "\" x2=\"" << left + plot_w << "\" y2=\""
        << fmt_value("%.1f", py(v)) << "\" stroke=\"#eee\"/>\n";
      o << "<text x=\"" << left - 6 << "\" y=\"" << fmt_value("%.1f", py(v) + 4) << "\" text-anchor=\"end\">" << fmt_value("%g", v)
        << "</text>\n";
    }
    double last_label = -1e9;
    for (size_t i = 0; i < n; i++) {
      if (px(i) - last_label < 7.0 * static_cast<double>(sw.values[i].size()))
        continue; // would overlap the previous label
      last_label = px(i);
      o << "<text x=\"" << fmt_value("%.1f", px(i)) << "\" y=\"" << fmt_value("%.1f", y0 + top + plot_h + 16)
        << "\" text-anchor=\"middle\">" << sw.values[i] << "</text>\n";
    }
    for (size_t k = 0; k < b.rows.size(); k++) {
      const char* c = colours[k % 8];
      std::string points;
      for (size_t i = 0; i < n; i++) {
        const double v = rate(by[i][b.rows[k]]);
        if (std::isnan(v))
          continue;
        points += (points.empty() ? "" : " ") + fmt_value("%.1f", px(i)) + "," + fmt_value("%.1f", py(v));
        o << "<circle cx=\"" << fmt_value("%.1f", px(i)) << "\" cy=\"" << fmt_value("%.1f", py(v)) << "\" r=\"3\" fill=\"" << c << "\"/>\n";
      }
      o << "<polyline points=\"" << points << "\" fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\"/>\n";
      o << "<text x=\"" << left + plot_w + 16 << "\" y=\"" << fmt_value("%.1f", y0 + top + 14 + 18 * k) << "\" fill=\"" << c
        << "\">" << by[0][b.rows[k]].plan << "</text>\n";
    }
  }
  o << "</svg>\n";
  return o.str();
}

} // namespace moesim
