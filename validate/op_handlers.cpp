// The table of compute-op handlers (op_handler.hpp), and what they share.
#include "validate/op_handler.hpp"

#include "core/error.hpp"
#include "validate/ops/ops.hpp"

#include <stdexcept>

namespace moesim::validate {

namespace {

struct Entry {
  OpKind kind;
  const OpHandler* handler;
};
const Entry table[] = {
    {OpKind::gemm, &ops::gemm},
    {OpKind::grouped_gemm, &ops::grouped_gemm},
    {OpKind::attention_decode, &ops::attention},
    {OpKind::attention_prefill, &ops::attention},
    {OpKind::topk, &ops::topk},
    {OpKind::permute, &ops::permute},
    {OpKind::unpermute, &ops::unpermute},
    {OpKind::rmsnorm, &ops::rmsnorm},
    {OpKind::silu_mul, &ops::silu_mul},
    {OpKind::residual_add, &ops::residual_add},
    {OpKind::embedding, &ops::embedding},
    {OpKind::sample, &ops::sample},
};

} // namespace

const OpHandler& handler_for(OpKind kind)
{
  for (const Entry& e : table)
    if (e.kind == kind)
      return *e.handler;
  throw std::logic_error(std::string("OpExecutor: no handler for op kind ") + to_string(kind));
}

void OpSite::refuse(const Op& op, const std::string& what, const std::string& fix) const
{
  throw InputError(file, "rank " + std::to_string(rank) + " op " + op.name, what, fix);
}

void check_shape_fits(const Op& op, const OpSite& site)
{
  if (!shape_fits(op.kind, op.shape))
    site.refuse(op, std::string("the shape is not a ") + to_string(op.kind) + " shape",
                "write the schedule with `moesim schedule`");
}

std::string weights_key(const Op& op)
{
  return "L" + std::to_string(op.layer) + " " + op_label(op.family, op.role);
}

std::string cache_key(const Op& op)
{
  return weights_key(op) + " mb" + std::to_string(op.microbatch);
}

std::string dtype_note(Dtype d, bool fp8_ok)
{
  switch (d) {
    case Dtype::nvfp4:
    case Dtype::mxfp4:
      return std::string(to_string(d)) + " weights run as bf16: Hopper has no FP4 tensor cores (3.6x the bytes)";
    case Dtype::int4:
      return "int4 weights run as bf16 (W4A16: the engine dequantizes in registers; here 3.6x the bytes)";
    case Dtype::fp8:
      return fp8_ok ? "" : "fp8 GEMM needs compute capability 8.9+: ran bf16 (2x the weight bytes)";
    case Dtype::fp16:
    case Dtype::fp32:
      return std::string(to_string(d)) + " math run as bf16";
    default:
      return "";
  }
}

bool choose_fp8(Dtype dt, bool fp8_ok, bool out_f32, long n, long k, int align, std::string& subst)
{
  subst = dtype_note(dt, fp8_ok);
  if (dt != Dtype::fp8 || !fp8_ok)
    return false;
  if (out_f32) {
    subst = "router GEMM run in bf16 with fp32 logits (weights " + std::string(to_string(dt)) + ")";
    return false;
  }
  if (n % 16 != 0 || k % 16 != 0 || align < 16) {
    subst = "fp8 GEMM needs n and k multiples of 16 and 16-byte alignment: ran bf16";
    return false;
  }
  return true;
}

} // namespace moesim::validate
