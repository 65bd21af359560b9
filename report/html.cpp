#include "report/html.hpp"

#include "report/lesson.hpp"
#include "report/render.hpp"
#include "report/svg.hpp"
#include "report/svg_gantt.hpp"
#include "report/svg_links.hpp"
#include "report/svg_memory.hpp"
#include "report/svg_steps.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace moesim {
using svg::esc;
using svg::num;

Fidelity fidelity_of(const ScenarioResult& r)
{
  Fidelity f;
  f.calibration = r.calibration;
  f.error_band = r.error_band; // attach_error_bands: the band of the dominant compute provenance
  return f;
}

namespace {

const char* css = R"css(
:root{--ink:#1b1b1b;--muted:#555;--line:#d9d9d9}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
header{padding:18px 28px 10px;border-bottom:1px solid var(--line);background:#f7f7f7}
header p{margin:3px 0;max-width:1100px}
h1{font-size:30px;margin:0 0 4px}
h2{font-size:25px;margin:8px 0 4px}
h3{font-size:19px;margin:22px 0 6px}
h4{font-size:19px;margin:0 0 2px}
main{padding:0 28px 40px;max-width:1560px}
nav{margin-top:8px;font-size:15px}
nav a{margin-right:14px;white-space:nowrap}
a{color:#0b5cad}
section{margin-top:26px}
section.group{border-top:4px solid #333;padding-top:4px}
.muted,.platform,.fidelity{color:var(--muted)}
.platform,.fidelity{margin:2px 0}
.plan{display:grid;grid-template-columns:minmax(0,1fr) 380px;gap:20px;align-items:start;padding:10px 0;border-bottom:1px solid var(--line)}
.plan svg{width:100%;height:auto;display:block}
.plan .layout{font-size:14px;color:var(--muted);margin:0 0 4px}
.verdict{font-weight:600;margin:0 0 2px}
.fastest .verdict{color:#00704a}
.slower .verdict{color:#b33c00}
.plan ul{margin:6px 0 0 18px;padding:0;font-size:15px}
.plan li{margin-bottom:3px}
svg.steps,svg.memory,svg.bytes{width:100%;max-width:1160px;height:auto;display:block}
svg.legend{max-width:100%;height:auto;display:block;margin:4px 0}
table{border-collapse:collapse;font-size:15px}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right;vertical-align:middle}
th:first-child,td:first-child{text-align:left}
thead th{font-weight:600;font-size:14px;vertical-align:bottom}
.board td{min-width:110px;position:relative}
.board .bar{position:absolute;left:4px;top:5px;bottom:5px;background:#dbe8f5;z-index:0}
.board .v{position:relative;z-index:1}
.board td.best{font-weight:700}
.board td.best .bar{background:#a9d6b8}
.lesson{max-width:1060px;font-size:17px}
.lesson p{margin:10px 0}
pre{font-size:13px;background:#f7f7f7;padding:10px;overflow-x:auto}
rect.hover,path.hover{stroke:#000;stroke-width:1.5}
#tip{position:fixed;left:0;top:0;pointer-events:none;background:#fffff2;border:1px solid #888;padding:6px 9px;font-size:14px;white-space:pre-line;max-width:480px;box-shadow:0 2px 8px rgba(0,0,0,.25);z-index:10}
@media (max-width:1150px){.plan{grid-template-columns:1fr}}
)css";

// Hover details: each <title> becomes the element's data-tip, shown in one box that follows the
// pointer (without scripts the browser shows the titles itself). data-ready marks a clean run.
const char* script = R"js(
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  var titles = document.querySelectorAll("svg title");
  for (var i = 0; i < titles.length; i++) {
    var t = titles[i];
    t.parentNode.setAttribute("data-tip", t.textContent);
    t.parentNode.removeChild(t);
  }
  var current = null;
  function hide() {
    tip.hidden = true;
    if (current) { current.classList.remove("hover"); current = null; }
  }
  document.addEventListener("mousemove", function (ev) {
    var el = ev.target;
    if (!el || !el.getAttribute || !el.getAttribute("data-tip")) { hide(); return; }
    if (el !== current) {
      hide();
      current = el;
      el.classList.add("hover");
      tip.textContent = el.getAttribute("data-tip");
      tip.hidden = false;
    }
    var x = ev.clientX + 16, y = ev.clientY + 16;
    if (x + tip.offsetWidth > window.innerWidth - 8) x = ev.clientX - tip.offsetWidth - 16;
    if (y + tip.offsetHeight > window.innerHeight - 8) y = ev.clientY - tip.offsetHeight - 16;
    tip.style.left = Math.max(0, x) + "px";
    tip.style.top = Math.max(0, y) + "px";
  });
  document.addEventListener("mouseleave", hide);
  document.documentElement.setAttribute("data-ready", "yes");
})();
)js";


std::string page_start(const std::string& title)
{
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         esc(title) + "</title>\n<style>" + css + "</style>\n</head>\n<body>\n";
}

std::string page_end()
{
  return "<div id=\"tip\" hidden></div>\n<script>" + std::string(script) + "</script>\n</body>\n</html>\n";
}

std::string study_line(const Study& s)
{
  std::string o = s.model.name + ", " + to_string(s.phase);
  o += s.phase == Phase::decode ? " with " + std::to_string(s.context) + " tokens of context"
                                : " of " + std::to_string(s.prompt) + "-token prompts";
  return o + ", routing " + s.routing.describe() + ", " + (s.engine.cuda_graphs ? "CUDA graphs" : "eager launches");
}

// A platform and batch: its scenarios in study order.
struct Block {
  std::string platform;
  int batch = 0;
  std::vector<size_t> rows;
};

std::vector<Block> groups_of(const std::vector<ScenarioResult>& rs)
{
  std::vector<Block> out;
  for (size_t i = 0; i < rs.size(); i++) {
    auto g = std::find_if(out.begin(), out.end(),
                          [&](const Block& x) { return x.platform == rs[i].platform && x.batch == rs[i].batch; });
    if (g == out.end())
      g = out.insert(out.end(), Block{rs[i].platform, rs[i].batch, {}});
    g->rows.push_back(i);
  }
  return out;
}

std::string group_id(size_t g)
{
  return "g" + std::to_string(g + 1);
}

bool decode_of(const ScenarioResult& r)
{
  return r.phase == Phase::decode;
}

// Per user: decode tok/s (higher is better), prefill time to first token (lower is better); the
// bar is the share of the best.
std::string board(const std::vector<ScenarioResult>& rs, const std::vector<Block>& groups)
{
  std::vector<std::string> plans;
  for (const ScenarioResult& r : rs)
    if (std::find(plans.begin(), plans.end(), r.plan) == plans.end())
      plans.push_back(r.plan);
  const bool decode = !rs.empty() && decode_of(rs[0]);
  std::ostringstream o;
  o << "<table class=\"board\"><thead><tr><th>plan</th>";
  for (size_t g = 0; g < groups.size(); g++)
    o << "<th><a href=\"#" << group_id(g) << "\">" << esc(groups[g].platform) << "</a><br>batch " << groups[g].batch
      << "</th>";
  o << "</tr></thead><tbody>\n";
  for (const std::string& p : plans) {
    o << "<tr><th>" << esc(p) << "</th>";
    for (const Block& g : groups) {
      const ScenarioResult* cell = nullptr;
      double best = 0;
      for (size_t i : g.rows) {
        if (rs[i].plan == p)
          cell = &rs[i];
        if (!rs[i].refused)
          best = std::max(best, decode ? rs[i].tok_s_user : 1 / rs[i].step_time);
      }
      if (!cell || cell->refused) {
        o << "<td class=\"muted\">" << (cell ? "refused" : "") << "</td>";
        continue;
      }
      const double v = decode ? cell->tok_s_user : 1 / cell->step_time;
      const double share = best > 0 ? v / best : 0;
      o << "<td" << (share >= 1 - 1e-12 ? " class=\"best\"" : "") << "><span class=\"bar\" style=\"width:"
        << fmt_value("%.0f", share * 92) << "%\"></span><span class=\"v\">"
        << (decode ? fmt_value("%.1f", cell->tok_s_user) : esc(fmt_time(cell->step_time))) << "</span></td>";
    }
    o << "</tr>\n";
  }
  o << "</tbody></table>\n<p class=\"muted\">"
    << (decode ? "Decode tokens per second each user sees" : "Time to the first token") << " per plan, platform "
    << "and batch; the bar is the share of the best in its column, which is in bold.</p>\n";
  return o.str();
}

// compute / communication / host / idle of the mean GPU, as a 240-pixel bar.
std::string breakdown_bar(const ScenarioResult& r)
{
  struct P {
    const char* label;
    const char* fill;
    double s;
  };
  const P parts[] = {{"compute", svg::style_of(svg::DrawClass::gemm).fill, r.mean.compute},
                     {"communication", svg::style_of(svg::DrawClass::communication).fill, r.mean.comm},
                     {"host", svg::style_of(svg::DrawClass::host_wait).fill, r.mean.host},
                     {"idle", svg::style_of(svg::DrawClass::peer_wait).fill, r.mean.idle}};
  std::ostringstream o;
  o << "<svg class=\"split\" viewBox=\"0 0 240 16\" width=\"240\" height=\"16\">";
  double x = 0;
  for (const P& p : parts) {
    const double w = r.step_time > 0 ? 240 * p.s / r.step_time : 0;
    o << "<rect x=\"" << num(x) << "\" y=\"0\" width=\"" << num(w) << "\" height=\"16\" fill=\"" << p.fill
      << "\"><title>" << p.label << ": " << esc(fmt_time(p.s)) << " ("
      << fmt_value("%.0f%%", r.step_time > 0 ? 100 * p.s / r.step_time : 0) << " of the step, mean GPU)</title></rect>";
    x += w;
  }
  return o.str() + "</svg>";
}

std::string summary_table(const std::vector<ScenarioResult>& rs, const Block& g)
{
  const bool decode = decode_of(rs[g.rows[0]]);
  std::ostringstream o;
  o << svg::legend({{"compute", svg::style_of(svg::DrawClass::gemm).fill},
                    {"communication", svg::style_of(svg::DrawClass::communication).fill},
                    {"host", svg::style_of(svg::DrawClass::host_wait).fill},
                    {"idle", svg::style_of(svg::DrawClass::peer_wait).fill}},
                   520);
  o << "<table class=\"summary\"><thead><tr><th>plan</th><th>step</th><th>"
    << (decode ? "tok/s per user" : "TTFT") << "</th><th>tok/s</th><th>where the mean GPU's step goes</th>"
    << "<th>link bytes</th></tr></thead><tbody>\n";
  for (size_t i : g.rows) {
    const ScenarioResult& r = rs[i];
    o << "<tr><td><a href=\"#s" << i + 1 << "\">" << esc(r.plan) << "</a></td>";
    if (r.refused) {
      o << "<td colspan=\"5\" class=\"muted\">refused: " << esc(r.refusal) << "</td></tr>\n";
      continue;
    }
    double link = 0;
    for (const auto& [c, b] : r.link_bytes)
      link += b;
    o << "<td>" << esc(fmt_time(r.step_time)) << "</td><td>"
      << (decode ? fmt_value("%.1f", r.tok_s_user) : esc(fmt_time(r.step_time))) << "</td><td>" << fmt_value("%.1f", r.tok_s_total)
      << "</td><td>" << breakdown_bar(r) << "</td><td>" << esc(fmt_bytes(link)) << "</td></tr>\n";
  }
  return o.str() + "</tbody></table>\n";
}

std::string fidelity_line(const ScenarioResult& r)
{
  const Fidelity f = fidelity_of(r);
  std::string o = "<p class=\"fidelity\"><b>Calibration:</b> ";
  o += f.calibration.empty() ? "none. Kernel times come from a roofline with placeholder efficiencies and collectives "
                               "from NCCL's latency table: a model, not a measurement."
                             : "measured (" + esc(f.calibration) + ").";
  o += " <b>Error band:</b> ";
  o += f.error_band.empty() ? "not in these results yet; the README's Accuracy section gives the validated error "
                              "where a platform was measured."
                            : esc(f.error_band) + ".";
  return o + "</p>\n";
}

std::string gantt_legend()
{
  std::vector<svg::LegendItem> items;
  for (const svg::DrawStyle& s : svg::draw_styles())
    items.push_back({s.label, s.fill});
  return svg::legend(items, 900);
}

std::string plan_block(const std::vector<ScenarioResult>& rs, const std::vector<const Timeline*>& tls, size_t i,
                       const ScenarioResult& fastest, const TimeWindow* w, double scale)
{
  const ScenarioResult& r = rs[i];
  const bool best = &r == &fastest;
  std::ostringstream o;
  o << "<div class=\"plan " << (r.refused ? "refused" : best ? "fastest" : "slower") << "\" id=\"s" << i + 1
    << "\">\n<div class=\"pic\">";
  if (w)
    o << svg_gantt(*tls[i], *w, scale, r.key());
  else
    o << "<p class=\"muted\">" << (r.refused ? "No timeline: the plan does not fit." : "No timeline.") << "</p>";
  o << "</div>\n<div class=\"text\"><h4>" << esc(r.plan) << "</h4><p class=\"layout\">" << esc(r.plan_layout)
    << "</p>";
  if (r.refused) {
    o << "<p class=\"verdict\">refused</p><p>" << esc(r.refusal) << "</p></div>\n</div>\n";
    return o.str();
  }
  if (best)
    o << "<p class=\"verdict\">fastest: " << esc(fmt_time(r.step_time)) << " per step</p>";
  else
    o << "<p class=\"verdict\">" << fmt_value("%.2fx", r.step_time / fastest.step_time) << " slower: "
      << esc(fmt_time(r.step_time)) << " per step</p><p>"
      << esc(differences_text(step_differences(fastest, r))) << " per GPU against " << esc(fastest.plan) << ".</p>";
  o << "<ul>";
  if (w) {
    const int rank = active_rank(*tls[i], w->layer, w->microbatch);
    o << "<li>" << esc(w->name()) << " takes " << esc(fmt_time(w->length())) << "; GPU " << rank << " runs "
      << esc(inventory_text(comm_inventory(*tls[i], rank, w->layer, w->microbatch))) << " in it</li>";
  }
  for (const std::string& f : plan_facts(r))
    o << "<li>" << esc(f) << "</li>";
  o << "</ul></div>\n</div>\n";
  return o.str();
}

std::string group_section(const Study& study, const std::vector<ScenarioResult>& rs,
                          const std::vector<const Timeline*>& tls, const Block& g, size_t gi)
{
  const ScenarioResult& any = rs[g.rows[0]];
  std::vector<TimeWindow> windows(rs.size());
  std::vector<bool> drawn(rs.size(), false);
  double longest = 0, longest_step = 0;
  const ScenarioResult* fastest = nullptr;
  std::vector<const ScenarioResult*> fitting;
  for (size_t i : g.rows) {
    if (rs[i].refused)
      continue;
    fitting.push_back(&rs[i]);
    if (!fastest || rs[i].step_time < fastest->step_time)
      fastest = &rs[i];
    if (!tls[i])
      continue;
    try {
      windows[i] = representative_layer(*tls[i]);
    } catch (const std::invalid_argument&) {
      windows[i] = whole_step(*tls[i]);
    }
    drawn[i] = true;
    longest = std::max(longest, windows[i].length());
    longest_step = std::max(longest_step, tls[i]->step_time);
  }
  // One scale for every plan of the group: the longest window fills the plot.
  const double scale = longest > 0 ? GanttGeometry::plot / longest : 1;
  std::ostringstream o;
  o << "<section class=\"group\" id=\"" << group_id(gi) << "\">\n<h2>" << esc(g.platform) << " &middot; batch "
    << g.batch << "</h2>\n<p class=\"platform\">" << any.gpus << "x " << esc(any.gpu_model)
    << (any.platform_description.empty() ? "" : ": " + esc(any.platform_description)) << "</p>\n"
    << fidelity_line(any) << summary_table(rs, g);
  std::string layer_name;
  for (size_t i : g.rows)
    if (drawn[i] && layer_name.empty())
      layer_name = windows[i].name();
  o << "<h3>One layer (" << esc(layer_name) << "), every plan on the same time axis</h3>\n"
    << "<p class=\"muted\">One row per GPU (and its pipeline-send stream), time from left to right; the dashed line "
       "is where the plan's layer ends. Under the GPUs, the load of each link class: the row's height is every "
       "link of the class busy. Hover for the op, its shape, bytes and times.</p>\n"
    << gantt_legend() << "\n";
  for (size_t i : g.rows)
    o << plan_block(rs, tls, i, fastest ? *fastest : rs[i], drawn[i] ? &windows[i] : nullptr, scale);
  std::vector<StepStrip> strips;
  for (size_t i : g.rows)
    if (drawn[i])
      strips.push_back({rs[i].plan, tls[i], windows[i]});
  if (!strips.empty())
    o << "<h3>The whole step</h3>\n<p class=\"muted\">Every GPU's step, plans on one axis. Each 4-pixel column is "
         "split by how its time was spent; the box is the layer drawn above.</p>\n"
      << svg_steps(strips, longest_step) << "\n";
  if (!fitting.empty())
    o << "<h3>Bytes over links in the step</h3>\n" << svg_link_bytes(fitting) << "\n";
  std::vector<const ScenarioResult*> all;
  for (size_t i : g.rows)
    all.push_back(&rs[i]);
  o << "<h3>Memory per GPU</h3>\n" << svg_memory(study, all) << "\n</section>\n";
  return o.str();
}

} // namespace

std::string render_html(const Study& study, const std::vector<ScenarioResult>& results,
                        const std::vector<const Timeline*>& timelines)
{
  const std::vector<Block> groups = groups_of(results);
  const std::string lesson = lesson_html(study, results, timelines);
  std::ostringstream o;
  o << page_start("moesim: " + study.name) << "<header>\n<h1>moesim &middot; " << esc(study.name) << "</h1>\n<p>"
    << esc(study_line(study)) << "</p>\n";
  if (!study.description.empty())
    o << "<p class=\"muted\">" << esc(study.description) << "</p>\n";
  o << "<nav><a href=\"#overview\">At a glance</a>";
  for (size_t g = 0; g < groups.size(); g++)
    o << "\n<a href=\"#" << group_id(g) << "\">" << esc(groups[g].platform) << ", batch " << groups[g].batch << "</a>";
  if (!lesson.empty())
    o << "\n<a href=\"#lesson\">What this study shows</a>";
  o << "</nav>\n</header>\n<main>\n<section id=\"overview\">\n<h2>At a glance</h2>\n"
    << "<p>Every plan below is simulated on every platform: one step of " << esc(to_string(study.phase))
    << " for every GPU, op by op. Each platform and batch has its own section: every plan's layer drawn on the same "
       "time axis beside why it takes that long, then the whole step, the bytes over links and the memory per GPU."
    << "</p>\n"
    << board(results, groups) << "</section>\n";
  for (size_t g = 0; g < groups.size(); g++)
    o << group_section(study, results, timelines, groups[g], g);
  if (!lesson.empty())
    o << "<section id=\"lesson\" class=\"lesson\">\n<h2>What this study shows</h2>\n" << lesson << "</section>\n";
  o << "</main>\n" << page_end();
  return o.str();
}

std::string render_sweep_html(const Study& study, const std::string& sweep_text, const std::string& sweep_svg)
{
  std::ostringstream o;
  o << page_start("moesim sweep: " + study.name) << "<header>\n<h1>moesim sweep &middot; " << esc(study.name)
    << "</h1>\n<p>" << esc(study_line(study)) << "</p>\n</header>\n<main>\n<section id=\"sweep\">\n"
    << "<h2>Tokens per second against the swept value</h2>\n<div class=\"chart\">" << sweep_svg
    << "</div>\n<h3>The table, the fastest plan at each value and where plans cross</h3>\n<pre>" << esc(sweep_text)
    << "</pre>\n</section>\n</main>\n"
    << page_end();
  return o.str();
}

} // namespace moesim
