#include "core/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace moesim {

namespace {
constexpr OpKind all_kinds[] = {
    OpKind::embedding, OpKind::rmsnorm,     OpKind::gemm,       OpKind::attention_decode, OpKind::attention_prefill,
    OpKind::router,    OpKind::topk,        OpKind::permute,    OpKind::grouped_gemm,     OpKind::silu_mul,
    OpKind::unpermute, OpKind::residual_add, OpKind::sample,    OpKind::all_reduce,       OpKind::all_gather,
    OpKind::reduce_scatter, OpKind::all_to_all, OpKind::send,   OpKind::recv,             OpKind::host_sync};
}

const char* to_string(OpKind k)
{
  switch (k) {
    case OpKind::embedding: return "embedding";
    case OpKind::rmsnorm: return "rmsnorm";
    case OpKind::gemm: return "gemm";
    case OpKind::attention_decode: return "attention_decode";
    case OpKind::attention_prefill: return "attention_prefill";
    case OpKind::router: return "router";
    case OpKind::topk: return "topk";
    case OpKind::permute: return "permute";
    case OpKind::grouped_gemm: return "grouped_gemm";
    case OpKind::silu_mul: return "silu_mul";
    case OpKind::unpermute: return "unpermute";
    case OpKind::residual_add: return "residual_add";
    case OpKind::sample: return "sample";
    case OpKind::all_reduce: return "all_reduce";
    case OpKind::all_gather: return "all_gather";
    case OpKind::reduce_scatter: return "reduce_scatter";
    case OpKind::all_to_all: return "all_to_all";
    case OpKind::send: return "send";
    case OpKind::recv: return "recv";
    case OpKind::host_sync: return "host_sync";
  }
  return "?";
}

OpKind parse_op_kind(const std::string& s)
{
  for (OpKind k : all_kinds)
    if (s == to_string(k))
      return k;
  throw std::invalid_argument("unknown op kind '" + s + "'");
}

OpClass op_class(OpKind k)
{
  switch (k) {
    case OpKind::all_reduce:
    case OpKind::all_gather:
    case OpKind::reduce_scatter:
    case OpKind::all_to_all: return OpClass::collective;
    case OpKind::send:
    case OpKind::recv: return OpClass::p2p;
    case OpKind::host_sync: return OpClass::host;
    default: return OpClass::compute;
  }
}

ComputeFamily compute_family(OpKind k)
{
  switch (k) {
    case OpKind::gemm:
    case OpKind::grouped_gemm: return ComputeFamily::gemm;
    case OpKind::attention_decode:
    case OpKind::attention_prefill: return ComputeFamily::attention;
    default: return ComputeFamily::other;
  }
}

const char* to_string(OpClass c)
{
  switch (c) {
    case OpClass::compute: return "compute";
    case OpClass::collective: return "collective";
    case OpClass::p2p: return "p2p";
    case OpClass::host: return "host";
  }
  return "?";
}

const char* to_string(AllReduceImpl a)
{
  switch (a) {
    case AllReduceImpl::nccl: return "NCCL";
    case AllReduceImpl::one_shot: return "custom one-shot";
    case AllReduceImpl::two_shot: return "custom two-shot";
  }
  return "?";
}

const char* to_string(CollAlgo a)
{
  switch (a) {
    case CollAlgo::ring: return "ring";
    case CollAlgo::tree: return "tree";
    case CollAlgo::direct: return "direct";
    case CollAlgo::p2p: return "p2p";
    case CollAlgo::one_shot: return "one_shot";
    case CollAlgo::two_shot: return "two_shot";
  }
  return "?";
}

const char* to_string(Phase p)
{
  return p == Phase::decode ? "decode" : "prefill";
}

std::vector<long> round_group_rows(const std::vector<double>& rows)
{
  std::vector<long> out(rows.size());
  double total = 0;
  long floors = 0;
  std::vector<std::pair<double, size_t>> rem; // (remainder, index)
  for (size_t i = 0; i < rows.size(); i++) {
    const double r = std::max(0.0, rows[i]);
    total += r;
    out[i] = static_cast<long>(std::floor(r));
    floors += out[i];
    rem.push_back({r - std::floor(r), i});
  }
  long extra = std::max(0L, static_cast<long>(std::llround(total)) - floors);
  std::stable_sort(rem.begin(), rem.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t j = 0; j < rem.size() && extra > 0; j++, extra--)
    out[rem[j].second]++;
  return out;
}

} // namespace moesim
