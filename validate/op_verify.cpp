#include "validate/op_verify.hpp"

#include "kernels/reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <stdexcept>

namespace moesim::validate {

std::string fmt(double v)
{
  char s[32];
  std::snprintf(s, sizeof s, "%.6g", v);
  return s;
}

void poison(void* p, std::size_t bytes, cudaStream_t stream)
{
  if (bytes)
    MOESIM_CHECK(cudaMemsetAsync(p, 0xff, bytes, stream));
}

bool bf16_nan(kernels::bf16_t b)
{
  return (b & 0x7fff) > 0x7f80;
}

float decode_in(const unsigned char* p, std::size_t i, bool fp8)
{
  if (fp8)
    return kernels::ref::fp8_e4m3_to_float(p[i]);
  kernels::bf16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return kernels::ref::bf16_to_float(v);
}

void Worst::add(double got_v, double want_v, double tolerance, const std::string& at)
{
  compared++;
  const double d = std::fabs(got_v - want_v);
  const double r = std::isnan(d) ? INFINITY : (tolerance > 0 ? d / tolerance : (d == 0 ? 0 : INFINITY));
  if (!(d <= tolerance))
    bad++;
  if (r > ratio || (where.empty() && std::isnan(d))) {
    ratio = r;
    where = at;
    got = fmt(got_v);
    want = fmt(want_v);
    tol = fmt(tolerance);
  }
}

Verifier::Verifier(std::string op_name, std::string info, std::string math, std::uint64_t seed, cudaStream_t stream)
    : name_(std::move(op_name)), info_(std::move(info)), math_(std::move(math)), rng_(seed), salt_(seed),
      stream_(stream)
{
}

void Verifier::sync() const
{
  MOESIM_CHECK(cudaStreamSynchronize(stream_));
}

std::vector<long> Verifier::sample(long n, int want)
{
  std::vector<long> v;
  if (n <= 0)
    return v;
  if (n <= want) {
    v.resize(n);
    std::iota(v.begin(), v.end(), 0L);
    return v;
  }
  v = {0, n - 1};
  while (static_cast<int>(v.size()) < want) {
    const long i = static_cast<long>(rng_.next() % static_cast<std::uint64_t>(n));
    if (std::find(v.begin(), v.end(), i) == v.end())
      v.push_back(i);
  }
  std::sort(v.begin(), v.end());
  return v;
}

void Verifier::mismatch(const std::string& what) const
{
  throw std::runtime_error("OpExecutor::verify: op " + name_ + " (" + info_ + ", " + math_ + "): " + what);
}

void Verifier::report(const Worst& w) const
{
  if (w.bad > 0)
    mismatch(std::to_string(w.bad) + " of " + std::to_string(w.compared) + " compared elements outside tolerance; worst " +
             w.where + ": got " + w.got + ", want " + w.want + " (tolerance " + w.tol + ")");
}

void Verifier::scan_bf16(const kernels::bf16_t* p, std::size_t n) const
{
  if (n * 2 > scan_limit)
    return;
  const auto v = download(p, n, stream_);
  for (std::size_t i = 0; i < n; i++)
    if (bf16_nan(v[i]))
      mismatch("output element " + std::to_string(i) + " of " + std::to_string(n) + " was not written (poison left)");
}

} // namespace moesim::validate
