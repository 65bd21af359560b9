#include "core/dtype.hpp"

#include <stdexcept>

namespace moesim {

double bytes_per_element(Dtype d)
{
  switch (d) {
    case Dtype::fp32: return 4.0;
    case Dtype::bf16:
    case Dtype::fp16: return 2.0;
    case Dtype::fp8: return 1.0 + 4.0 / (128.0 * 128.0);
    case Dtype::nvfp4: return 0.5 + 1.0 / 16.0;
    case Dtype::mxfp4: return 0.5 + 1.0 / 32.0;
    case Dtype::int4: return 0.5 + 2.0 / 32.0;
  }
  return 0.0;
}

const char* to_string(Dtype d)
{
  switch (d) {
    case Dtype::fp32: return "fp32";
    case Dtype::bf16: return "bf16";
    case Dtype::fp16: return "fp16";
    case Dtype::fp8: return "fp8";
    case Dtype::nvfp4: return "nvfp4";
    case Dtype::mxfp4: return "mxfp4";
    case Dtype::int4: return "int4";
  }
  return "?";
}

Dtype parse_dtype(const std::string& s)
{
  for (Dtype d : {Dtype::fp32, Dtype::bf16, Dtype::fp16, Dtype::fp8, Dtype::nvfp4, Dtype::mxfp4, Dtype::int4})
    if (s == to_string(d))
      return d;
  throw std::invalid_argument("unknown dtype '" + s + "'; use one of fp32, bf16, fp16, fp8, nvfp4, mxfp4, int4");
}

} // namespace moesim
