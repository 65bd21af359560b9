#include "core/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace moesim {

namespace {
constexpr OpKind all_kinds[] = {
    OpKind::embedding, OpKind::rmsnorm,      OpKind::gemm,   OpKind::attention_decode, OpKind::attention_prefill,
    OpKind::topk,      OpKind::permute,      OpKind::grouped_gemm, OpKind::silu_mul,   OpKind::unpermute,
    OpKind::residual_add, OpKind::sample,    OpKind::all_reduce,   OpKind::all_gather, OpKind::reduce_scatter,
    OpKind::all_to_all, OpKind::send,        OpKind::recv,   OpKind::host_sync};

// Families: the JSON name and the prefix of op labels.
struct FamilyName {
  OpFamily family;
  const char* name;
  const char* label;
};
constexpr FamilyName family_names[] = {
    {OpFamily::embedding, "embedding", "embed"}, {OpFamily::attention, "attention", "attn"},
    {OpFamily::ffn, "ffn", "ffn"},               {OpFamily::moe, "moe", "moe"},
    {OpFamily::head, "head", "head"},            {OpFamily::pipeline, "pipeline", "pp"}};

// Roles: the JSON name and the part of op labels after the family's prefix (empty: none).
struct RoleName {
  OpRole role;
  const char* name;
  const char* label;
};
constexpr RoleName role_names[] = {
    {OpRole::lookup, "lookup", ""},
    {OpRole::norm, "norm", "norm"},
    {OpRole::residual, "residual", "residual"},
    {OpRole::allreduce, "allreduce", "allreduce"},
    {OpRole::allgather, "allgather", "allgather"},
    {OpRole::reducescatter, "reducescatter", "reducescatter"},
    {OpRole::qkv, "qkv", "qkv"},
    {OpRole::q, "q", "q"},
    {OpRole::q_a, "q_a", "q_a"},
    {OpRole::q_norm, "q_norm", "q_norm"},
    {OpRole::q_b, "q_b", "q_b"},
    {OpRole::kv_a, "kv_a", "kv_a"},
    {OpRole::kv_norm, "kv_norm", "kv_norm"},
    {OpRole::kv_b, "kv_b", "kv_b"},
    {OpRole::q_absorb, "q_absorb", "q_absorb"},
    {OpRole::v_absorb, "v_absorb", "v_absorb"},
    {OpRole::core, "core", "core"},
    {OpRole::chunk_kv_b, "chunk_kv_b", "chunk.kv_b"},
    {OpRole::chunk, "chunk", "chunk"},
    {OpRole::o, "o", "o"},
    {OpRole::up, "up", "up"},
    {OpRole::act, "act", "act"},
    {OpRole::down, "down", "down"},
    {OpRole::router, "router", "router"},
    {OpRole::topk, "topk", "topk"},
    {OpRole::permute, "permute", "permute"},
    {OpRole::unpermute, "unpermute", "unpermute"},
    {OpRole::counts, "counts", "counts"},
    {OpRole::counts_sync, "counts_sync", "counts_sync"},
    {OpRole::dispatch, "dispatch", "dispatch"},
    {OpRole::combine, "combine", "combine"},
    {OpRole::experts_up, "experts_up", "experts.up"},
    {OpRole::experts_act, "experts_act", "experts.act"},
    {OpRole::experts_down, "experts_down", "experts.down"},
    {OpRole::expert_count_sync, "expert_count_sync", "expert_count_sync"},
    {OpRole::expert, "expert", "expert"},
    {OpRole::dequant, "dequant", "dequant"},
    {OpRole::shared_up, "shared_up", "shared.up"},
    {OpRole::shared_act, "shared_act", "shared.act"},
    {OpRole::shared_down, "shared_down", "shared.down"},
    {OpRole::lm_head, "lm_head", "lm_head"},
    {OpRole::logits_allgather, "logits_allgather", "logits.allgather"},
    {OpRole::sample, "sample", "sample"},
    {OpRole::send, "send", "send"},
    {OpRole::recv, "recv", "recv"},
};

const FamilyName& family_entry(OpFamily f)
{
  for (const FamilyName& e : family_names)
    if (e.family == f)
      return e;
  throw std::logic_error("op family without a name");
}

const RoleName& role_entry(OpRole r)
{
  for (const RoleName& e : role_names)
    if (e.role == r)
      return e;
  throw std::logic_error("op role without a name");
}

} // namespace

const char* to_string(OpKind k)
{
  switch (k) {
    case OpKind::embedding: return "embedding";
    case OpKind::rmsnorm: return "rmsnorm";
    case OpKind::gemm: return "gemm";
    case OpKind::attention_decode: return "attention_decode";
    case OpKind::attention_prefill: return "attention_prefill";
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

const char* to_string(OpFamily f)
{
  return family_entry(f).name;
}

OpFamily parse_op_family(const std::string& s)
{
  std::string all;
  for (const FamilyName& e : family_names) {
    if (s == e.name)
      return e.family;
    all += std::string(all.empty() ? "" : ", ") + e.name;
  }
  throw std::invalid_argument("unknown op family '" + s + "' (known: " + all + ")");
}

const char* to_string(OpRole r)
{
  return role_entry(r).name;
}

OpRole parse_op_role(const std::string& s)
{
  for (const RoleName& e : role_names)
    if (s == e.name)
      return e.role;
  throw std::invalid_argument("unknown op role '" + s + "'");
}

std::string op_label(OpFamily f, OpRole r)
{
  const char* role = role_entry(r).label;
  return std::string(family_entry(f).label) + (*role ? std::string(".") + role : std::string());
}

bool shape_fits(OpKind k, const OpShape& s)
{
  switch (k) {
    case OpKind::gemm: return std::holds_alternative<GemmShape>(s);
    case OpKind::grouped_gemm: return std::holds_alternative<GroupedGemmShape>(s);
    case OpKind::attention_decode:
    case OpKind::attention_prefill: return std::holds_alternative<AttentionShape>(s);
    case OpKind::rmsnorm:
    case OpKind::silu_mul: return std::holds_alternative<RowsShape>(s);
    case OpKind::residual_add: return std::holds_alternative<ElementsShape>(s);
    case OpKind::topk: return std::holds_alternative<TopkShape>(s);
    case OpKind::permute:
    case OpKind::unpermute: return std::holds_alternative<PermuteShape>(s);
    case OpKind::embedding: return std::holds_alternative<EmbeddingShape>(s);
    case OpKind::sample: return std::holds_alternative<SampleShape>(s);
    default: return std::holds_alternative<std::monostate>(s);
  }
}

double GroupedGemmShape::total_rows() const
{
  double t = 0;
  for (double r : rows)
    t += r;
  return t;
}

ModelFacts model_facts(const Model& m)
{
  ModelFacts f;
  f.hidden = m.hidden;
  f.layers = m.layers;
  f.vocab = m.vocab;
  f.dense_intermediate = m.dense_intermediate;
  f.attn = m.attn;
  f.moe = m.moe;
  f.dtypes = m.dtypes;
  return f;
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

PeerBytes::PeerBytes(const std::vector<double>& row)
{
  for (double b : row)
    push_back(b);
}

double PeerBytes::operator[](std::size_t member) const
{
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), member,
                                   [](const Entry& e, std::size_t m) { return static_cast<std::size_t>(e.member) < m; });
  return it != entries_.end() && static_cast<std::size_t>(it->member) == member ? it->bytes : 0.0;
}

double PeerBytes::at(std::size_t member) const
{
  if (member >= members_)
    throw std::out_of_range("PeerBytes::at: member " + std::to_string(member) + " of " + std::to_string(members_));
  return (*this)[member];
}

std::vector<double> PeerBytes::dense() const
{
  std::vector<double> row(members_, 0.0);
  for (const Entry& e : entries_)
    row[static_cast<std::size_t>(e.member)] = e.bytes;
  return row;
}

double PeerBytes::sum() const
{
  double s = 0; // in member order, as a sum over the dense row (its zeros add nothing)
  for (const Entry& e : entries_)
    s += e.bytes;
  return s;
}

void PeerBytes::push_back(double bytes)
{
  if (bytes != 0)
    entries_.push_back({static_cast<int>(members_), bytes});
  members_++;
}

void PeerBytes::assign(std::size_t members, double bytes)
{
  members_ = 0;
  entries_.clear();
  if (bytes != 0)
    entries_.reserve(members);
  for (std::size_t j = 0; j < members; j++)
    push_back(bytes);
}

void PeerBytes::set(std::size_t member, double bytes)
{
  if (member >= members_)
    throw std::out_of_range("PeerBytes::set: member " + std::to_string(member) + " of " + std::to_string(members_));
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), member,
                                   [](const Entry& e, std::size_t m) { return static_cast<std::size_t>(e.member) < m; });
  const bool present = it != entries_.end() && static_cast<std::size_t>(it->member) == member;
  if (bytes == 0) {
    if (present)
      entries_.erase(it);
  } else if (present) {
    it->bytes = bytes;
  } else {
    entries_.insert(it, {static_cast<int>(member), bytes});
  }
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
