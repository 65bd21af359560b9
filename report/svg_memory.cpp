#include "report/svg_memory.hpp"

#include "report/svg.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace moesim {
using svg::num;

std::vector<MemoryUse> memory_by_gpu(const Study& study, const ScenarioResult& r)
{
  for (const Plan& p : study.plans) {
    if (p.name != r.plan)
      continue;
    try {
      const Layout L = make_layout(p, study.model, r.gpus);
      StepShape st;
      st.phase = r.phase;
      st.batch = r.batch;
      st.context = r.context;
      st.prompt = r.prompt;
      std::vector<MemoryUse> out;
      for (int rank = 0; rank < L.world; rank++)
        out.push_back(memory_per_rank(study.model, L, st, rank));
      return out;
    } catch (const std::invalid_argument&) {
      break; // not this study's GPU count: show what the result holds
    }
  }
  return {r.memory};
}

namespace {

std::string gib(double b)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", b / 1073741824.0);
  return buf;
}

struct Part {
  const char* label;
  const char* fill;
  double MemoryUse::*field;
};
const Part parts[] = {{"weights", "#4477aa", &MemoryUse::weights},
                      {"KV cache", "#ee6677", &MemoryUse::kv_cache},
                      {"activations", "#ccbb44", &MemoryUse::activations}};

} // namespace

std::string svg_memory(const Study& study, const std::vector<const ScenarioResult*>& rs)
{
  using M = MemoryGeometry;
  double full = 0;
  for (const ScenarioResult* r : rs)
    full = std::max(full, r->memory_capacity / study.gpu_memory_utilization);
  const double scale = full > 0 ? M::plot / full : 0; // px per byte
  std::ostringstream body;
  double y = 6;
  for (const ScenarioResult* r : rs) {
    const std::vector<MemoryUse> gpus = memory_by_gpu(study, *r);
    const double top = y;
    double most = 0;
    for (size_t g = 0; g < gpus.size(); g++) {
      double x = M::left;
      for (const Part& p : parts) {
        const double b = gpus[g].*p.field;
        body << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(b * scale) << "\" height=\""
             << num(M::bar) << "\" fill=\"" << p.fill << "\"><title>"
             << svg::esc(r->plan + ", GPU " + std::to_string(g) + ": " + p.label + " " + gib(b) + " (total " +
                         gib(gpus[g].total()) + ")")
             << "</title></rect>";
        x += b * scale;
      }
      most = std::max(most, gpus[g].total());
      body << "\n";
      y += M::bar + M::gap;
    }
    const double cap_x = M::left + r->memory_capacity * scale;
    body << "<text x=\"" << num(M::left - 6) << "\" y=\"" << num((top + y) / 2 + 3) << "\" text-anchor=\"end\">"
         << svg::esc(r->plan) << "</text>"
         << "<line x1=\"" << num(cap_x) << "\" y1=\"" << num(top - 3) << "\" x2=\"" << num(cap_x) << "\" y2=\""
         << num(y + 1) << "\" stroke=\"#c00\" stroke-width=\"2\"><title>"
         << svg::esc("usable: " + gib(r->memory_capacity)) << "</title></line>"
         << "<text x=\"" << num(M::left + M::plot + 10) << "\" y=\"" << num((top + y) / 2 + 3) << "\""
         << (r->refused ? " fill=\"#c00\"" : "") << ">"
         << svg::esc((gpus.size() > 1 ? "busiest GPU " : "GPU ") + gib(most) + " of " + gib(r->memory_capacity) +
                     " usable" + (r->refused ? ": does not fit" : ""))
         << "</text>\n";
    y += 8;
  }
  // Axis: GiB ticks up to the GPU's whole memory.
  char buf[64];
  body << "<g class=\"axis\"><line x1=\"" << num(M::left) << "\" y1=\"" << num(y) << "\" x2=\"" << num(M::left + M::plot)
       << "\" y2=\"" << num(y) << "\" stroke=\"#555\"/>";
  const std::vector<double> tk = svg::ticks(full / 1073741824.0, 6);
  for (double v : tk) {
    const double x = M::left + v * 1073741824.0 * scale;
    std::snprintf(buf, sizeof buf, "%g", v);
    body << "<line x1=\"" << num(x) << "\" y1=\"" << num(y) << "\" x2=\"" << num(x) << "\" y2=\"" << num(y + 4)
         << "\" stroke=\"#555\"/><text x=\"" << num(x) << "\" y=\"" << num(y + 16) << "\" text-anchor=\"middle\">"
         << buf << "</text>";
  }
  std::snprintf(buf, sizeof buf, "GiB per GPU; %.0f%% of its memory usable (red line)", study.gpu_memory_utilization * 100);
  body << "<text x=\"" << num(M::left) << "\" y=\"" << num(y + 31) << "\" fill=\"#555\">" << buf << "</text></g>\n";
  std::vector<svg::LegendItem> items;
  for (const Part& p : parts)
    items.push_back({p.label, p.fill});
  std::ostringstream o;
  o << svg::legend(items, M::width) << "<svg class=\"memory\" viewBox=\"0 0 " << num(M::width) << " " << num(y + 40)
    << "\" width=\"" << num(M::width) << "\" height=\"" << num(y + 40)
    << "\" font-size=\"12\" role=\"img\" aria-label=\"memory per GPU\">\n"
    << body.str() << "</svg>";
  return o.str();
}

} // namespace moesim
