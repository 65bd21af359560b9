#include "core/perf/forms.hpp"

#include "core/perf/forms/form_handler.hpp"
#include "core/perf/minimize.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace moesim::perf {
namespace {

const std::vector<const FormHandler*>& table()
{
  static const std::vector<const FormHandler*> t = {&gemm_tiles_form(), &grouped_tiles_form(), &decode_splitk_form(),
                                                    &decode_tiles_form(), &decode_tiles_staggered_form(),
                                                    &prefill_tiles_form(), &prefill_kernel_tiles_form(), &floor_bandwidth_form()};
  return t;
}

const FormHandler& handler(FormKind k)
{
  for (const FormHandler* h : table())
    if (h->kind == k)
      return *h;
  throw std::logic_error("form without a handler");
}

// Mean |log(form / measured)| over the points.
double loss(const FormHandler& h, const FormParams& p, const std::vector<const FitPoint*>& pts)
{
  double sum = 0;
  for (const FitPoint* q : pts) {
    const double t = h.seconds(p, q->dims, q->rows);
    sum += t > 0 && std::isfinite(t) ? std::fabs(std::log(t / q->seconds)) : 1e3;
  }
  return sum / pts.size();
}

// Continuous fit from `start`: a coarse scan of factors around it, then Nelder-Mead in log space.
FormParams fit_continuous(const FormHandler& h, FormParams start, const std::vector<const FitPoint*>& pts, bool scan)
{
  const size_t n = h.fitted.size();
  auto with = [&](const std::vector<double>& logs) {
    FormParams p = start;
    for (size_t i = 0; i < n; i++)
      p.*h.fitted[i] = std::exp(logs[i]);
    return p;
  };
  std::vector<double> x(n);
  for (size_t i = 0; i < n; i++)
    x[i] = std::log(start.*h.fitted[i]);
  if (scan) {
    const double f[] = {0.1, 0.3, 1, 3, 10};
    std::vector<double> best = x;
    double best_loss = loss(h, with(x), pts);
    std::vector<int> idx(n, 0);
    while (true) {
      std::vector<double> y(n);
      for (size_t i = 0; i < n; i++)
        y[i] = x[i] + std::log(f[idx[i]]);
      const double l = loss(h, with(y), pts);
      if (l < best_loss)
        best_loss = l, best = y;
      size_t i = 0;
      while (i < n && ++idx[i] == 5)
        idx[i++] = 0;
      if (i == n)
        break;
    }
    x = best;
  }
  x = nelder_mead([&](const std::vector<double>& y) { return loss(h, with(y), pts); }, x, 0.5, 400, 1e-9);
  return with(x);
}

// fit_continuous with the scan, then a greedy pass (twice) over the discrete choices.
FormParams fit_scan_and_choices(const FormHandler& h, FormParams p, const std::vector<const FitPoint*>& pts)
{
  p = fit_continuous(h, p, pts, true);
  double best = loss(h, p, pts);
  for (int pass = 0; pass < 2; pass++)
    for (const auto& [field, values] : h.choices)
      for (double v : values) {
        if (v == p.*field)
          continue;
        FormParams q = p;
        q.*field = v;
        q = fit_continuous(h, q, pts, false);
        const double l = loss(h, q, pts);
        if (l < best - 1e-12)
          best = l, p = q;
      }
  return p;
}

} // namespace

const char* to_string(FormKind k) { return handler(k).name; }

FormKind parse_form_kind(const std::string& s)
{
  std::string names;
  for (const FormHandler* h : table()) {
    if (s == h->name)
      return h->kind;
    names += (names.empty() ? "" : ", ") + std::string(h->name);
  }
  throw std::invalid_argument("unknown form '" + s + "' (one of " + names + ")");
}

size_t form_dims(FormKind k) { return handler(k).dims; }

const std::vector<std::pair<const char*, double FormParams::*>>& form_fields()
{
  static const std::vector<std::pair<const char*, double FormParams::*>> f = {
      {"sms", &FormParams::sms},           {"bytes_a", &FormParams::bytes_a},
      {"bytes_w", &FormParams::bytes_w},   {"bytes_c", &FormParams::bytes_c},
      {"bytes_per_item", &FormParams::bytes_per_item},
      {"floor_s", &FormParams::floor_s},   {"flops", &FormParams::flops},
      {"bandwidth", &FormParams::bandwidth}, {"tile_m", &FormParams::tile_m},
      {"tile_n", &FormParams::tile_n},     {"split_min", &FormParams::split_min},
      {"combine_s", &FormParams::combine_s}, {"unit_s", &FormParams::unit_s},
      {"score_rate", &FormParams::score_rate}, {"tile_bandwidth", &FormParams::tile_bandwidth}};
  return f;
}

const std::vector<std::pair<const char*, double FormParams::*>>& optional_form_fields()
{
  static const std::vector<std::pair<const char*, double FormParams::*>> f = {
      {"tile_s", &FormParams::tile_s},
      {"split_s", &FormParams::split_s},
      {"l2_bandwidth", &FormParams::l2_bandwidth},
      {"smem_per_sm", &FormParams::smem_per_sm},
      {"smem_per_block", &FormParams::smem_per_block},
      {"smem_reserved", &FormParams::smem_reserved},
      {"threads_per_sm", &FormParams::threads_per_sm}};
  return f;
}

void check_form(const FormParams& p)
{
  const FormHandler& h = handler(p.kind);
  std::vector<double FormParams::*> need = h.fitted;
  // staged terms may be 0 (calibrations written before them, or fits where no point carries them:
  // decode_tiles' split_s, grouped_tiles' l2_bandwidth)
  for (double FormParams::*m : h.staged)
    need.erase(std::remove(need.begin(), need.end(), m), need.end());
  need.push_back(&FormParams::sms);
  for (const auto& c : h.choices)
    need.push_back(c.first);
  if (p.kind == FormKind::floor_bandwidth)
    need.push_back(&FormParams::bytes_per_item);
  if (is_decode_tiles(p.kind))
    for (double FormParams::*m : {&FormParams::smem_per_sm, &FormParams::smem_per_block, &FormParams::threads_per_sm})
      need.push_back(m);
  for (double FormParams::*m : need)
    if (!(p.*m > 0) || !std::isfinite(p.*m)) {
      for (const auto& [name, f] : form_fields())
        if (f == m)
          throw std::invalid_argument(std::string(name) + " must be positive for " + h.name);
      for (const auto& [name, f] : optional_form_fields())
        if (f == m)
          throw std::invalid_argument(std::string(name) + " must be positive for " + h.name);
    }
}

double form_seconds(const FormParams& p, const std::vector<double>& dims, const std::vector<double>& rows)
{
  const FormHandler& h = handler(p.kind);
  if (h.dims != 0 && dims.size() != h.dims)
    throw std::invalid_argument(std::string(h.name) + " takes " + std::to_string(h.dims) + " dims, got " +
                                std::to_string(dims.size()));
  return h.seconds(p, dims, rows);
}

namespace {

// The whole fit of h's fitted terms from the fitter's starting values (fit_form, one stage).
FormParams fit_points(const FormHandler& h, const FormParams& given, const std::vector<const FitPoint*>& pts)
{
  double t_min = std::numeric_limits<double>::infinity();
  for (const FitPoint* q : pts)
    t_min = std::min(t_min, q->seconds);
  // Starting values: half the fastest time as the floor, an H100-class GPU for the rates, 2 us
  // to combine split results, 1 us per work unit,
  // 2e13 softmax scores/s, 30 GB/s per tile, 1 us per key tile; the scan covers 0.1x to 10x of each.
  FormParams p = given;
  p.floor_s = t_min / 2;
  p.flops = 400e12;
  p.bandwidth = 2e12;
  p.combine_s = 2e-6;
  p.unit_s = 1e-6;
  p.score_rate = 20e12;
  p.tile_bandwidth = 30e9;
  // (tile_s is written to a calibration only where a form uses it: set only then)
  if (std::find(h.fitted.begin(), h.fitted.end(), &FormParams::tile_s) != h.fitted.end())
    p.tile_s = 1e-6;
  for (const auto& [field, values] : h.choices)
    if (std::find(values.begin(), values.end(), p.*field) == values.end())
      p.*field = values[values.size() / 2];
  const FormParams start = p;
  p = fit_scan_and_choices(h, start, pts);
  if (h.nested) {
    // The form without the nested term (held at a value too small to matter) is fitted too, then
    // the whole form from there, and the best of the three kept: a term the data cannot place
    // never leaves the fit worse than the form without it.
    FormHandler h0 = h;
    h0.fitted.erase(std::remove(h0.fitted.begin(), h0.fitted.end(), h.nested), h0.fitted.end());
    FormParams q = start;
    q.*h.nested = h.nested_off;
    q = fit_scan_and_choices(h0, q, pts);
    FormParams r = q;
    r.*h.nested = start.*h.nested;
    r = fit_scan_and_choices(h, r, pts);
    for (const FormParams* c : {&q, &r})
      if (loss(h, *c, pts) < loss(h, p, pts) - 1e-12)
        p = *c;
  }
  // Nelder-Mead restarted from its own best point while it gains (a form of many coupled rates stalls
  // in one run of it).
  for (int i = 0; i < h.restarts; i++) {
    const FormParams q = fit_continuous(h, p, pts, false);
    if (!(loss(h, q, pts) < loss(h, p, pts) - 1e-9))
      break;
    p = q;
  }
  // Each rate the data leave unbounded comes down to the least value that fits as well: bisection in
  // log space between 1e-3 of the fitted value and the fitted value,
  const double fitted_loss = loss(h, p, pts);
  for (double FormParams::*rate : h.least) {
    const auto fits = [&](double v) {
      FormParams q = p;
      q.*rate = v;
      return loss(h, q, pts) <= fitted_loss + 1e-4;
    };
    // the range moved down in steps of 1e3 (at most 4) while its lower end still fits: a rate the data
    // never bind can leave the optimiser anywhere above it (flops at 3.7e15 for a truth of 1.5e14 in
    // tests/core/test_decode_tiles.cpp once the partial round was staggered; one step left it there).
    double hi = std::log(p.*rate), lo = hi - std::log(1e3);
    for (int k = 0; k < 4 && fits(std::exp(lo)); k++)
      hi = lo, lo = hi - std::log(1e3);
    for (int i = 0; i < 40 && hi - lo > 1e-6; i++) {
      const double mid = (lo + hi) / 2;
      (fits(std::exp(mid)) ? hi : lo) = mid;
    }
    p.*rate = std::exp(hi);
  }
  return p;
}

} // namespace

FormParams fit_form(FormParams given, const std::vector<FitPoint>& points, size_t max_points)
{
  const FormHandler& h = handler(given.kind);
  if (points.empty())
    throw std::invalid_argument("no points to fit");
  std::vector<const FitPoint*> pts;
  const size_t stride = std::max<size_t>(1, (points.size() + max_points - 1) / max_points);
  for (size_t i = 0; i < points.size(); i += stride) {
    if (h.dims != 0 && points[i].dims.size() != h.dims)
      throw std::invalid_argument(std::string(h.name) + " takes " + std::to_string(h.dims) + " dims");
    if (!(points[i].seconds > 0))
      throw std::invalid_argument("measured times must be positive");
    pts.push_back(&points[i]);
  }
  if (h.staged.empty())
    return fit_points(h, given, pts);
  // Staged (FormHandler::staged): first the form without the staged terms (held at 0), on every point,
  // exactly the fit the form had before them; then the staged terms with the restaged ones on the
  // points that carry them, every other term held.
  FormHandler h1 = h;
  for (double FormParams::*m : h.staged) {
    h1.fitted.erase(std::remove(h1.fitted.begin(), h1.fitted.end(), m), h1.fitted.end());
    given.*m = 0;
  }
  FormParams p = fit_points(h1, given, pts);
  std::vector<const FitPoint*> carry;
  for (const FitPoint* q : pts)
    if (h.stage_point(p, q->dims, q->rows))
      carry.push_back(q);
  if (carry.empty())
    return p; // no point carries the staged terms: they stay 0
  FormHandler h2 = h;
  h2.fitted = h.restaged;
  h2.fitted.insert(h2.fitted.end(), h.staged.begin(), h.staged.end());
  FormParams q = p;
  for (double FormParams::*m : h.staged)
    q.*m = h.staged_start; // the scan covers 0.1x to 10x of it
  q = fit_continuous(h2, q, carry, true);
  for (int i = 0; i < h.restarts; i++) {
    const FormParams r = fit_continuous(h2, q, carry, false);
    if (!(loss(h2, r, carry) < loss(h2, q, carry) - 1e-9))
      break;
    q = r;
  }
  return q;
}

} // namespace moesim::perf
