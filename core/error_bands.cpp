#include "core/error_bands.hpp"

#include "core/yaml_reader.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace moesim {

const ErrorBand* ErrorBands::find(perf::Provenance p, int gpus, bool graph, const std::string& card) const
{
  const ErrorBand* best = nullptr;
  auto count_rank = [&](const ErrorBand& b) {
    if (b.gpus == gpus)
      return 0;
    if (b.gpus == 0)
      return 1;
    return 2 + 2 * std::abs(b.gpus - gpus) + (b.gpus > gpus);
  };
  auto rank = [&](const ErrorBand& b) {
    const bool same_card = card.empty() || !b.validated || b.card == card;
    return std::pair{same_card ? 0 : 1, count_rank(b)};
  };
  for (const ErrorBand& b : bands) {
    if (b.provenance != p || b.scope != "step" || (b.launch != "any" && b.launch != (graph ? "graph" : "eager")))
      continue;
    if (!best || rank(b) < rank(*best))
      best = &b;
  }
  return best;
}

ErrorBands load_error_bands(const std::string& path)
{
  YAML::Node root = load_yaml_file(path);
  Fields f(path, root, "");
  ErrorBands out;
  YAML::Node list = f.node("bands");
  if (!list.IsSequence())
    f.fail("bands", "expected a list", "write a list of entries (see the file's header)");
  for (const auto& n : list) {
    Fields e(path, n, "bands[]");
    ErrorBand b;
    const std::string p = e.str("provenance");
    bool known = false;
    for (perf::Provenance q : {perf::Provenance::measured, perf::Provenance::interpolated,
                               perf::Provenance::extrapolated, perf::Provenance::specs})
      if (p == perf::to_string(q))
        b.provenance = q, known = true;
    if (!known)
      e.fail("provenance", "unknown provenance '" + p + "'", "write measured, interpolated, extrapolated or specs");
    b.scope = e.str("scope");
    b.gpus = e.integer("gpus");
    b.launch = e.str("launch");
    if (b.launch != "eager" && b.launch != "graph" && b.launch != "any")
      e.fail("launch", "unknown launch '" + b.launch + "'", "write eager, graph or any");
    if (e.has("status")) {
      if (e.str("status") != "not yet validated")
        e.fail("status", "the only status is 'not yet validated'", "give runs, median, worst, card, date and file instead");
      for (const char* k : {"runs", "median", "worst", "card", "date", "file", "what"})
        if (e.has(k))
          e.fail(k, "an entry not yet validated has no numbers", "drop the status or the numbers");
    } else {
      b.validated = true;
      b.runs = e.integer("runs");
      b.median = e.num("median");
      b.worst = e.num("worst");
      b.card = e.str("card");
      b.date = e.str("date");
      b.file = e.str("file");
      b.what = e.str("what");
      if (b.runs < 1 || !(b.median >= 0) || !(b.worst >= b.median))
        e.fail("median", "needs runs >= 1 and 0 <= median <= worst", "copy them from the result file");
    }
    e.finish();
    out.bands.push_back(b);
  }
  f.finish();
  return out;
}

std::string describe_band(const ErrorBand* b, perf::Provenance p, const std::string& card)
{
  if (!b || !b->validated)
    return "not yet validated";
  char buf[512];
  (void)p;
  std::snprintf(buf, sizeof buf, "median %.1f%%, worst %.1f%% (%s, %d runs on %dx %s, %s, %s, %s)", b->median * 100,
                b->worst * 100, b->what.c_str(), b->runs, b->gpus, b->card.c_str(), b->launch.c_str(), b->date.c_str(),
                b->file.c_str());
  std::string out = buf;
  if (!card.empty() && b->card != card)
    out += "; another card's: none validated on " + card + " yet";
  return out;
}

} // namespace moesim
