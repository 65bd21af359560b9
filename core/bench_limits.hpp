// Batch limits that NVIDIA's trtllm-bench (the `throughput` command TensorRT-LLM's published
// performance tables are made with) chooses itself when its command line and option file set neither
// max_batch_size nor max_num_tokens. It sizes them from its own estimate of the KV cache, taken over
// the whole tensor-parallel group: the checkpoint's parameter count times a byte width per
// quantisation, subtracted from the GPUs' memory, then divided by a KV footprint per token computed
// as 2 x layers x max(tp, KV heads) x head size x KV bytes. That footprint takes an MLA model's
// config at face value (KV heads = attention heads, head size = hidden / heads: DeepSeek-V3 has no
// head_dim), 25x the 576 elements per token-layer MLA really stores, so it picks a far smaller
// max_batch_size than the KV cache admits; under attention DP every rank then runs that many.
#pragma once
#include "core/model.hpp"

namespace moesim {

struct BenchLimitsInput {
  Model model;           // its dtypes: expert_weights names the checkpoint's quantisation
  double gpu_mem_gib = 0; // one GPU's total memory, GiB (NVML's total, as nvidia-smi shows it)
  int tp = 1;            // trtllm-bench --tp (attention DP x EP runs give the whole group here)
  int pp = 1;
  double input_len = 0;  // mean prompt tokens of the dataset
  double output_len = 0; // mean output tokens
  double kv_fraction = 0.9; // --kv_cache_free_gpu_mem_fraction
};

struct BenchLimits {
  bool tuned = false;     // false: the quantisation is not one the heuristic knows; the LLM API defaults
  double kv_max_requests = 0; // the heuristic's estimate before rounding
  int max_batch_size = 0;
  int max_num_tokens = 0;
};

// The elements the checkpoint's safetensors hold for its weights: 4-bit weights are stored two to a
// byte with one 8-bit scale per block (NVFP4: 16, MXFP4: 32), so they count 1/2 + 1/block each.
double checkpoint_elements(const Model& m);

// max_batch_size and max_num_tokens as trtllm-bench sets them (chunked prefill off, its default:
// max_num_tokens is raised to hold one whole prompt beside max_batch_size decodes). Untuned
// quantisations (MXFP4) get the LLM API defaults, 2048 and 8192.
BenchLimits trtllm_bench_limits(const BenchLimitsInput& in);

} // namespace moesim
