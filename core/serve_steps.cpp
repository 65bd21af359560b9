#include "core/serve_steps.hpp"

#include <algorithm>
#include <stdexcept>

namespace moesim {

std::vector<int> serve_sample_batches(int max_batch)
{
  std::vector<int> b;
  for (int x = 1; x < max_batch; x *= 4)
    b.push_back(x);
  b.push_back(std::max(1, max_batch));
  return b;
}

int serve_prefill_sample_seqs(int limit, int replicas, int replica_tokens, int input)
{
  if (limit < 1 || replicas < 1 || replica_tokens < 1 || input < 1)
    throw std::invalid_argument("a prefill sample needs a positive limit, replica count, token budget and prompt");
  const int per_replica = std::max(1, std::min(limit / replicas, replica_tokens / input));
  return per_replica * replicas;
}

namespace {

// Linear through (x0, y0), (x1, y1) at x; a single point gives y0 scaled by x / x0.
double line(double x0, double y0, double x1, double y1, double x)
{
  if (x1 == x0)
    return y0 * x / x0;
  return y0 + (x - x0) / (x1 - x0) * (y1 - y0);
}

double along_batch(const std::vector<int>& b, const std::vector<double>& s, double batch)
{
  if (b.size() == 1)
    return s[0];
  size_t i = 1;
  while (i + 1 < b.size() && batch > b[i])
    i++;
  return line(b[i - 1], s[i - 1], b[i], s[i], batch);
}

} // namespace

double decode_step_seconds(const ServeStepTable& t, double batch, double context)
{
  if (t.batches.empty() || t.seconds_lo.size() != t.batches.size() || t.seconds_hi.size() != t.batches.size() ||
      !(t.context_hi > t.context_lo))
    throw std::invalid_argument("a serve step table needs decode samples at two contexts for every batch");
  const double lo = along_batch(t.batches, t.seconds_lo, batch);
  const double hi = along_batch(t.batches, t.seconds_hi, batch);
  const double v = line(t.context_lo, lo, t.context_hi, hi, context);
  const double floor = 0.1 * std::min(*std::min_element(t.seconds_lo.begin(), t.seconds_lo.end()),
                                      *std::min_element(t.seconds_hi.begin(), t.seconds_hi.end()));
  return std::max(v, floor);
}

bool replays_graph(const ServeStepTable& t, int decode_seqs)
{
  if (t.exact_graph_batches.empty())
    return true;
  const int replicas = std::max(1, t.replicas);
  // Under attention DP every replica must hold the same batch, and that batch must be captured.
  return decode_seqs % replicas == 0 &&
         std::binary_search(t.exact_graph_batches.begin(), t.exact_graph_batches.end(), decode_seqs / replicas);
}

double serve_step_seconds(const ServeStepTable& t, const StepLoad& load)
{
  if (t.prefill_tokens < 1 || !(t.prefill_seconds > 0))
    throw std::invalid_argument("a serve step table needs a sampled prefill step");
  const double per_token = t.prefill_seconds / t.prefill_tokens;
  const double prefill = load.prefill_tokens * per_token;
  if (load.decode_seqs == 0)
    return std::max(prefill, decode_step_seconds(t, 1, t.context_lo));
  double eager = 0;
  if (!t.eager_extra_seconds.empty()) {
    if (t.eager_extra_seconds.size() != t.batches.size())
      throw std::invalid_argument("a serve step table needs one eager extra per sampled batch");
    if (load.prefill_tokens > 0 ? t.mixed_eager : !replays_graph(t, load.decode_seqs))
      eager = std::max(0.0, along_batch(t.batches, t.eager_extra_seconds, load.decode_seqs));
  }
  // An eager mixed step is one forward over the decodes and the prompt tokens: the host launches
  // its kernels once while the GPU runs them, so the launches hide the prompt tokens' GPU time up to
  // the eager extra (and the extra hides under it): decode + max(eager extra, prompt tokens' time).
  // An eager decode-only step: decode + the extra.
  return decode_step_seconds(t, load.decode_seqs, load.decode_context) + std::max(prefill, eager);
}

double kv_capacity_tokens(double usable_bytes, double weights_bytes, double activation_bytes, double kv_bytes,
                          double kv_tokens)
{
  const double free = usable_bytes - weights_bytes - activation_bytes;
  if (free <= 0 || !(kv_bytes > 0))
    return 0;
  return free / kv_bytes * kv_tokens;
}

double kv_capacity_tokens_of_free(double total_bytes, double fraction, double weights_bytes,
                                  double profile_activation_bytes, double kv_bytes, double kv_tokens)
{
  const double free = fraction * (total_bytes - weights_bytes - profile_activation_bytes);
  if (free <= 0 || !(kv_bytes > 0))
    return 0;
  return free / kv_bytes * kv_tokens;
}

} // namespace moesim
