// Engine profile: what one serving stack and version (vLLM, SGLang, TensorRT-LLM, llama.cpp) does on
// the paths moesim models, one fact per key with its source beside it, read from
// workloads/engines/NAME.yaml. The same keys override a profile in a study's engine block and on the
// command line (--set engine.KEY=VALUE), through one table of handlers.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace moesim {

// How the tokens of a MoE layer reach the experts, as an engine implements it.
enum class Dispatch {
  all_reduce,     // every rank holds every token; the MoE output is all-reduced (TP attention)
  allgather,      // tokens all-gathered before the experts, reduce-scattered after (NCCL)
  nccl_a2a,       // NCCL all-to-all-v: a count exchange, a host sync to size buffers, dispatch, combine
  deepep_normal,  // DeepEP normal mode: per-rank deduplicated all-to-all, host waits for the counts
  deepep_ll,      // DeepEP low latency: fixed buffers, one copy per (token, expert), no host sync
};
const char* to_string(Dispatch d);
std::optional<Dispatch> parse_dispatch(const std::string& s);

// How the grouped expert GEMM runs.
enum class MoeKernel {
  fused,            // one kernel over the local experts
  per_expert,       // one GEMM launch per expert that received tokens
  per_expert_sync,  // a host loop over every local expert, reading its token count back each time
  dequant,          // local expert weights dequantised to bf16 every step, then a bf16 grouped GEMM
};
const char* to_string(MoeKernel k);
std::optional<MoeKernel> parse_moe_kernel(const std::string& s);

// Which fused-MoE backend's measured whole-layer records the MoE layers read (TensorRT-LLM's
// moe_config.backend). `fastest`: the fastest kernel measured at each shape, as an autotuning
// engine would pick. A backend without a record of a layer's shape falls back to `fastest`.
enum class MoeBackend { fastest, cutlass, trtllm };
const char* to_string(MoeBackend b);
std::optional<MoeBackend> parse_moe_backend(const std::string& s);

enum class Speculative { none, mtp, eagle };
const char* to_string(Speculative s);

struct EngineProfile {
  std::string name;     // file stem, as a study names it
  std::string engine;   // "vLLM"
  std::string version;  // "0.11"
  std::string file;     // where it was read ("" when built in code)

  // CUDA graphs: decode steps at or below the largest capture size replay a graph (padded up to the
  // next captured size when graph_padding), larger ones run eager; a dispatch path in graph_breaks
  // cannot be captured.
  bool cuda_graphs = false;
  std::vector<int> capture_sizes;
  bool graph_padding = true;
  std::vector<Dispatch> graph_breaks;

  // Custom all-reduce (IPC peer buffers): used below custom_all_reduce_max_bytes when every rank
  // pair has NVLink, or when there are at most custom_ar_max_pcie_ranks ranks; it needs P2P when
  // custom_ar_needs_p2p. One shot below one_shot_max_bytes[ranks] (2 ranks: always), two shot
  // above. Its fixed cost per call is custom_ar_s[ranks] (nearest listed rank count).
  bool custom_all_reduce = false;
  int custom_ar_max_pcie_ranks = 2;
  bool custom_ar_needs_p2p = true;
  double custom_ar_max_bytes = 0;
  std::map<int, double> one_shot_max_bytes;
  std::map<int, double> custom_ar_s;

  Dispatch ep_tp_attention = Dispatch::all_reduce; // EP under attention TP
  Dispatch ep_dp_attention = Dispatch::allgather;  // EP under attention DP
  std::vector<Dispatch> nvlink_only;               // dispatch paths that need NVLink (or RDMA across nodes)

  MoeKernel moe_kernel = MoeKernel::fused;
  MoeBackend moe_backend = MoeBackend::fastest;
  std::optional<double> moe_bw_fraction;       // of datasheet memory bandwidth; none: the platform's
  std::optional<double> moe_flops_fraction;    // of datasheet tensor rate; none: the platform's
  std::string attention_backend;
  std::optional<double> attention_bw_fraction; // of datasheet memory bandwidth; none: the platform's

  // Host: per op in eager mode, per device-to-host sync, per graph launch, and per step outside the
  // model (scheduler, input preparation, output processing), hidden behind the previous step's GPU
  // work when overlap_scheduler.
  double launch_s = 5e-6;
  double sync_s = 20e-6;
  double graph_launch_s = 10e-6;
  double step_s = 0;
  double step_seq_s = 0;  // more host time per step for each running sequence of a replica
  bool overlap_scheduler = false;
  std::string sampler;

  bool dp_pad_to_max = false; // attention-DP replicas run the largest replica's token count
  // Under attention DP the MoE gathers each token after routing and quantizing it on its own rank
  // (TensorRT-LLM's post-quant all-gather): the gather carries the expert kernel's input format
  // (dp_gather_token_bytes), the top-k ids and weights; false: bf16 hidden states, routed after.
  bool dp_gather_post_quant = false;
  // The attention-DP MoE all-gather and reduce-scatter take each rank's token count (no padding),
  // which the engine runs as one NCCL broadcast, resp. reduce, per root rank in one group call
  // (Op::per_root); false: ncclAllGather / ncclReduceScatter.
  bool dp_gather_per_root = false;
  double dp_sync_s = 0;       // per-step host agreement between attention-DP replicas

  int redundant_experts = 0;  // extra expert slots (EPLB replicas) over the expert count

  Speculative speculative = Speculative::none;
  int draft_tokens = 0;          // tokens drafted per step (verified together with one real token)
  double acceptance_length = 1;  // tokens emitted per step on average, 1 + accepted drafts

  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;
  // KV admission: a request is counted for input + kv_output_share x output tokens of KV cache when
  // it is admitted (1: the whole output reserved up front, never evicted).
  double kv_output_share = 1;
  // KV allocation of sliding-window layers: only the window is kept (false), or every layer holds
  // the whole sequence while attention still reads only the window (true).
  bool sliding_kv_full = false;
  // A step that carries prompt tokens beside decodes replays the decode CUDA graph (true), or runs
  // eagerly (false): then the serving loop prices the decode part of such a step as an eager step.
  bool mixed_step_graphs = true;
  // Prompts split into chunks to fill a step's token budget (true), or admitted whole only (false):
  // then a prompt waits until it fits beside its attention-DP replica's decodes.
  bool chunked_prefill = true;
  // max_num_seqs and max_num_batched_tokens as given (false), or chosen by trtllm-bench's heuristic
  // from the model, the GPUs and the request lengths (true; core/bench_limits).
  bool bench_batch_limits = false;
  // KV cache memory: the usable fraction of the GPU's memory less the weights and activations
  // (false: vLLM's gpu_memory_utilization, SGLang's mem_fraction_static), or that fraction of what a
  // profiling step of max_num_batched_tokens leaves free (true: TensorRT-LLM's
  // free_gpu_memory_fraction).
  bool kv_of_free_memory = false;

  std::map<std::string, std::string> sources; // fact key -> where it comes from ("study" for overrides)
};

// The facts, in file order: key and what it sets.
struct EngineFactDoc {
  const char* key;
  const char* what;
};
const std::vector<EngineFactDoc>& engine_fact_docs();
bool is_engine_fact(const std::string& key);

// Sets one fact from a YAML value (a profile file, a study's engine block, or a --set value parsed
// as YAML). Throws InputError naming `where` (file:line) and the key on a bad value.
void set_engine_fact(EngineProfile& p, const std::string& key, const YAML::Node& value, const std::string& where,
                     const std::string& source);
// The same from text: "true", "22", "[1, 2, 4]", "{4: 524288}".
void set_engine_fact(EngineProfile& p, const std::string& key, const std::string& value, const std::string& where,
                     const std::string& source);

// Reads workloads/engines/NAME.yaml (strict: every fact present, each with value and source).
EngineProfile load_engine_profile_file(const std::string& path);
// NAME -> <root>/workloads/engines/NAME.yaml; a path is taken as it is. Unknown names list the known.
std::string resolve_engine_path(const std::string& name_or_path, const std::string& root);

} // namespace moesim
