// The largest inputs moesim accepts. Each is checked where the input is read, before anything is
// allocated for it, and refused in one line that names the limit. They are set so that an input at
// the limit runs (or is refused) in seconds to minutes on a laptop, and far above every real model
// and machine the repository describes. docs/robustness.md lists them with the reasons.
#pragma once
#include <cstdint>

namespace moesim::limits {

// Platforms. `moesim run` and `platform build` hold a route per GPU pair (one
// Full zone; NCCL's PXN routes depend on the destination GPU's rail, which a zone per node with
// one gateway cannot express), so a platform grows with the square of the GPUs: `platform build`
// of 1,024 GPUs writes a 298 MB XML in ~10 s of CPU, and `moesim run` on a 1,024-GPU topology YAML
// (loaded without XML) replays a DeepSeek-V3 decode step in ~20 s and 2.5 GB (docs/scale.md);
// 2,048 would pass xml_bytes.
constexpr int gpus = 1024;           // GPUs per platform: nodes x gpus per node, or moesim.gpus
// `platform build --zones` nests a zone per rail, node group and GPU instead (~N^1.5 route
// elements) and keeps only the pieces of the routes, but still makes every GPU pair's route once
// to check that it splits into them: 4,096 GPUs (512 nodes x 8) take ~9 s of CPU and 320 MiB for
// a 68 MB XML (docs/scale.md); the time grows with the square, so 8,192 would take ~35 s.
constexpr int zoned_gpus = 4096;     // GPUs that `platform build --zones` and `platform show` take
constexpr int pcie_switches = 256;    // per node
constexpr int nics = 64;              // per node
constexpr int xml_zone_children = 4'000'000; // hosts, links and routes of one XML zone

// Models (every real model is far below these: the largest hidden size is 18,432, the most layers
// 126, the most experts 384, the largest vocabulary 262,144).
constexpr int layers = 1024;
constexpr int hidden = 65536;         // also expert and dense FFN widths are at most 16x this
constexpr int vocab = 4'194'304;
constexpr int heads = 4096;
constexpr int head_dim = 4096;
constexpr int experts = 4096;

// Studies and runs.
constexpr int batch = 65536;          // sequences per step
constexpr int context = 16'777'216;   // tokens in the KV cache (decode) or in a prompt (prefill)
constexpr long long step_tokens = 16'777'216; // batch x prompt of a prefill step
constexpr int list = 64;              // platforms, batch sizes, plans, --set flags of one run
constexpr int scenarios = 4096;       // platforms x batch sizes x plans (x sweep values) of one run
constexpr int sweep_values = 64;
constexpr int jobs = 1024;            // scenario processes at once (-j)
constexpr int seeds = 1024;           // routing seeds per scenario (--seeds): each reruns the step
constexpr double engine_us = 1e6;     // launch, sync, graph-launch and event costs: at most 1 s each
constexpr double zipf_s = 100;        // Zipf exponent: at 100 the second expert is 2^-100 as popular
// Sampled and Zipf routing draw every token of every MoE layer, scanning the experts for each of
// its top_k picks: tokens x top_k x experts x MoE layers steps per scenario, about 3e8 a second
// (DeepSeek-V3 at batch 8192: 9.7e8 in 3.5 s). At the limit a scenario draws for ~30 s.
constexpr double routing_draws = 1e10;

// nccl-tests (simulated) and logs.
constexpr int nccl_tests_sizes = 1024;          // -b .. -e by -f
constexpr double nccl_tests_bytes = 1099511627776.0; // -e at most 1 TiB
constexpr int log_rows = 100'000;               // rows of one nccl-tests log

// Input files, read whole: larger ones are refused before parsing.
constexpr std::uintmax_t yaml_bytes = 16u << 20;   // studies, models, topologies, calibrations
constexpr std::uintmax_t json_bytes = 512u << 20;  // schedules, timelines, bench outputs, -J reports
constexpr std::uintmax_t text_bytes = 64u << 20;   // nccl-tests logs
constexpr std::uintmax_t xml_bytes = 512u << 20;   // platform XML (1,024 GPUs generate ~300 MB)
constexpr int xml_depth = 8;                       // element nesting in a platform XML

} // namespace moesim::limits
