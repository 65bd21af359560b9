#include "core/nccl_tests_shape.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace moesim {

NcclTestsShape nccl_tests_shape(OpKind op, std::size_t requested_bytes, int ranks, std::size_t element_bytes)
{
  if (ranks < 1)
    throw std::invalid_argument("nccl_tests_shape: ranks must be at least 1");
  if (element_bytes == 0 || 16 % element_bytes != 0)
    throw std::invalid_argument("nccl_tests_shape: the element size must divide 16 bytes");
  const std::size_t n = static_cast<std::size_t>(ranks);
  const std::size_t count = requested_bytes / element_bytes;
  // Per-rank (or per-peer) elements rounded down to a multiple of 16 bytes.
  const std::size_t base = (count / n) & ~(16 / element_bytes - 1);
  NcclTestsShape s;
  switch (op) {
    case OpKind::all_reduce:
    case OpKind::send:
      s.count = s.send_elements = s.recv_elements = count;
      break;
    case OpKind::all_gather:
      s.count = s.send_elements = base;
      s.recv_elements = base * n;
      break;
    case OpKind::reduce_scatter:
      s.count = s.recv_elements = base;
      s.send_elements = base * n;
      break;
    case OpKind::all_to_all:
      s.count = base;
      s.send_elements = s.recv_elements = base * n;
      break;
    default:
      throw std::invalid_argument(std::string("nccl_tests_shape: nccl-tests has no benchmark of ") + to_string(op));
  }
  if (s.count == 0)
    return NcclTestsShape{};
  s.bytes = std::max(s.send_elements, s.recv_elements) * element_bytes;
  return s;
}

std::size_t parse_nccl_tests_size(const std::string& text, const std::string& option)
{
  auto bad = [&]() -> std::size_t {
    throw InputError("command line", option, "cannot read size '" + text + "'",
                     "write bytes with an optional K, M or G (powers of 1024), e.g. 8, 64K, 256M or 1G");
  };
  if (text.empty() || text.front() == '-' || text.front() == '+' || std::isspace(static_cast<unsigned char>(text.front())))
    return bad();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str())
    return bad();
  std::string unit(end);
  double scale = 1;
  if (unit == "K" || unit == "k")
    scale = 1024.0;
  else if (unit == "M" || unit == "m")
    scale = 1048576.0;
  else if (unit == "G" || unit == "g")
    scale = 1073741824.0;
  else if (!unit.empty())
    return bad();
  const double bytes = v * scale;
  if (!std::isfinite(bytes) || bytes < 0 || bytes >= 9.0e18)
    return bad();
  return static_cast<std::size_t>(bytes); // truncated, as nccl-tests casts its double to size_t
}

std::vector<std::size_t> nccl_tests_sizes(std::size_t min_bytes, std::size_t max_bytes, std::size_t factor)
{
  if (factor < 2)
    throw std::invalid_argument("nccl_tests_sizes: the step factor must be at least 2");
  std::vector<std::size_t> sizes;
  if (min_bytes == 0)
    return sizes;
  for (std::size_t s = min_bytes; s <= max_bytes; s *= factor) {
    sizes.push_back(s);
    if (s > max_bytes / factor)
      break; // the next one would pass max (or overflow)
  }
  return sizes;
}

} // namespace moesim
