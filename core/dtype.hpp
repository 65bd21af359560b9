// Numeric formats of weights, activations and KV cache, with their storage cost including the
// block-scale overhead of the quantised formats.
#pragma once
#include <string>

namespace moesim {

// int4: weight-only 4-bit integers on bf16 activations (W4A16), as compressed-tensors int4 checkpoints
// (Kimi-K2.5's experts: group size 32) run through Marlin kernels; no tensor-core rate of its own.
enum class Dtype { fp32, bf16, fp16, fp8, nvfp4, mxfp4, int4 };

// Bytes per element including scales:
//   fp8   : 1 B + one fp32 scale per 128x128 block (DeepSeek-V3 style) = 1 + 4/16384
//   nvfp4 : 4 bit + one fp8 (E4M3) scale per 16 elements             = 0.5 + 1/16   = 0.5625
//   mxfp4 : 4 bit + one E8M0 scale per 32 elements                    = 0.5 + 1/32   = 0.53125
//   int4  : 4 bit + one 16-bit (bf16) scale per group of 32 elements   = 0.5 + 2/32   = 0.5625
double bytes_per_element(Dtype d);
const char* to_string(Dtype d);
// Throws std::invalid_argument naming the accepted spellings.
Dtype parse_dtype(const std::string& s);

} // namespace moesim
