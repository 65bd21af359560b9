#include "report/transfer_table.hpp"

#include <cstdio>
#include <map>

namespace moesim {

namespace {

std::string pct(double e)
{
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100 * e);
  return b;
}

std::string signed_pct(double e)
{
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100 * e);
  return b;
}

std::string us(double s)
{
  char b[32];
  std::snprintf(b, sizeof b, "%.2f us", s * 1e6);
  return b;
}

const ClassCheck* find(const TransferCheck& c, const std::string& op_class)
{
  for (const ClassCheck& k : c.classes)
    if (k.op_class == op_class)
      return &k;
  return nullptr;
}

} // namespace

std::string render_transfer_markdown(const TransferTable& t)
{
  std::string o = "# " + t.title + "\n\n";
  o += "Each record of the target GPU's table is predicted from the source GPU's record of the same shape by\n"
       "moesim's transfer (docs/transfer.md: the source's fixed time and efficiency, the target's SM count,\n"
       "clock, memory bandwidth and tensor rate per dtype from platforms/gpus.yaml), then compared with the\n"
       "target's measured time. Error = predicted / measured - 1; |error| statistics over the records of each\n"
       "op class; signed median < 0 means predicted too fast.\n\n";
  o += "- Transfer from: " + t.from_gpu + ", `" + t.source_file + "` (" + t.source + ")\n";
  o += "- Transfer to: " + t.to_gpu + ", measured: `" + t.measured_file + "` (" + t.measured + ")\n";
  if (t.noise)
    o += "- Noise floor: the target measured twice, " + t.noise_a + " against " + t.noise_b +
         " (same shapes, same statistics, no transfer)\n";
  o += std::string("- L2 term ") + (t.l2 ? "on" : "off") +
       (t.l2 ? ": the source tables time each op replayed back to back, so operands that fit in half the L2 are read "
               "at L2 bandwidth\n"
             : ": memory time at DRAM bandwidth for every op\n");
  o += "- Regenerate: `" + t.command + "`\n\n";
  o += std::string("| op class | records | median \\|err\\| | p90 \\|err\\| | worst \\|err\\| | signed median | records of "
                   "100 us or more: n, median \\|err\\| | source time unchanged: median \\|err\\| | L2 term ") +
       (t.l2 ? "off" : "on") + ": median / p90 | noise floor: median / p90 / worst |\n";
  o += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ClassCheck& c : t.check.classes) {
    if (c.transfer.n == 0)
      continue;
    const ClassCheck* l2 = find(t.check_variant, c.op_class);
    const ClassCheck* nz = t.noise ? find(*t.noise, c.op_class) : nullptr;
    o += "| " + c.op_class + " | " + std::to_string(c.transfer.n) + " | " + pct(c.transfer.median_abs) + " | " +
         pct(c.transfer.p90_abs) + " | " + pct(c.transfer.worst_abs) + " | " + signed_pct(c.transfer.median_signed) +
         " | " + (c.transfer_long.n ? std::to_string(c.transfer_long.n) + ", " + pct(c.transfer_long.median_abs) : "0") +
         " | " + (c.same_time.n ? pct(c.same_time.median_abs) : "-") + " | " +
         (l2 && l2->transfer.n ? pct(l2->transfer.median_abs) + " / " + pct(l2->transfer.p90_abs) : "-") + " | " +
         (nz && nz->transfer.n
              ? pct(nz->transfer.median_abs) + " / " + pct(nz->transfer.p90_abs) + " / " + pct(nz->transfer.worst_abs)
              : "-") +
         " |\n";
  }
  o += "\nFixed time per op class, fitted on the source (the part of each time that is not scaled by the\n"
       "target's throughput, only by its clock), and the record furthest off:\n\n";
  o += "| op class | fixed time | worst record |\n|---|---:|---|\n";
  for (const ClassCheck& c : t.check.classes) {
    if (c.transfer.n == 0)
      continue;
    auto f = t.fixed.find(c.op_class);
    o += "| " + c.op_class + " | " + (f == t.fixed.end() ? std::string("-") : us(f->second)) + " | `" + c.worst + "` |\n";
  }
  std::size_t unmatched = 0;
  for (const ClassCheck& c : t.check.classes)
    unmatched += c.measured - c.transfer.n;
  o += "\nRecords of the target with no source record of the same shape (left out): " + std::to_string(unmatched) +
       "; of an op class the source lacks: " + std::to_string(t.check.unpredicted) + ".\n";
  return o;
}

} // namespace moesim
