// `moesim serve` with prefill and decode apart (disaggregated serving): one plan and platform for
// the prefill instances, one for the decode instances, each set up as colocated serving sets up its
// one engine (pipeline/serve_run prepare_serve: step table, admission rule, KV capacity), and the
// two pools run together through core/serving_disagg, the prompt's KV sent between them.
//
// The KV link: a request's KV (core/serving_disagg prompt_kv_bytes: its input tokens' KV as the decode
// instance's attention split holds it, summed over its GPUs) moves over `streams` GPU-to-GPU paths at once, the least of the GPUs that hold it on
// either side (PP stages and TP ranks, not the attention-DP replicas, since a request lives on
// one), each at the per-GPU bandwidth of the link: what --kv-link gives, else the decode
// platform's network (NIC bandwidth x NICs a node / GPUs a node, and the NIC latency the platform
// sets). A transfer costs latency + bytes / (bandwidth x streams); one prefill instance sends one
// request at a time.
#pragma once
#include "core/serving_disagg.hpp"
#include "pipeline/serve_run.hpp"

#include "topology/topology.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace moesim {

struct KvLink {
  double gbs = 0;         // GB/s a GPU, per direction
  double latency_s = 0;   // per transfer
  std::string source;     // where the figure came from, for the report
};

struct DisaggServeRun {
  std::string why; // not simulated: which pool does not fit and why; empty when simulated
  ServeRun prefill, decode;
  int prefill_instances = 1, decode_instances = 1;
  KvLink link;
  int streams = 1;
  Model kv_model;       // the model with the KV cache as the engine allocates it
  int decode_attn_tp = 1;
  DisaggResult result;
  int gpus() const { return prefill_instances * prefill.gpus + decode_instances * decode.gpus; }
  double tok_s_per_gpu() const { return result.serving.output_tok_s / gpus(); }
  // One request's KV at `input` tokens: bytes, and seconds to send.
  double transfer_bytes(int input) const;
  double transfer_seconds(int input) const;
};

// The KV link a platform's network gives (NIC bandwidth x NICs a node / GPUs a node, and its NIC
// latency when given); nullopt when `t` is null or has no network.
std::optional<KvLink> network_kv_link(const Topology* t, const std::string& platform);

// The two pools may differ in engine facts (`prefill_study` and `decode_study`: the same model and
// workload, each pool's engine profile); the decode study names the model the KV is sized by.
DisaggServeRun run_serve_disagg(const Study& prefill_study, const Study& decode_study, const Scenario& prefill_sc,
                                const Scenario& decode_sc, const ServeWorkload& w, int prefill_instances,
                                int decode_instances, const KvLink& link);

std::string render_serve_disagg(const Study& study, const Scenario& prefill_sc, const Scenario& decode_sc,
                                const ServeWorkload& w, const DisaggServeRun& r);
nlohmann::json serve_disagg_to_json(const Study& study, const Scenario& prefill_sc, const Scenario& decode_sc,
                                    const ServeWorkload& w, const DisaggServeRun& r);

} // namespace moesim
