// Published measurements: the rows of validate/public/published.yaml (a serving figure someone
// published, with its source, engine, GPUs, model, plan and workload), the arithmetic that turns a
// simulated step into the row's metric, and the summary of the errors.
#pragma once
#include "core/request_lengths.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

enum class WorkloadKind { decode, serve, prefill };
// Rates (tokens per second) and, for serve workloads, times per request in ms: the mean TPOT (a
// request's time from its first token to its last over its output tokens after the first) and the
// mean TTFT (arrival to first token) of the serving loop (core/serving ServingResult).
enum class Metric { tok_s_user, tok_s_gpu, tok_s_node, tok_s_rank, tok_s, tpot_ms, ttft_ms };

// A serve row whose prefill and decode ran on separate instances (pipeline/serve_disagg): the row's
// platform and plan are the decode instances'; these are the prefill instances' and the counts.
struct DisaggSpec {
  std::string prefill_platform, prefill_plan;
  int prefill_instances = 1, decode_instances = 1;
  double kv_link_gbs = 0; // GB/s a GPU; 0: the decode platform's network
  // Engine facts of one pool only, on top of the row's engine_set (as YAML text, like engine_set).
  std::vector<std::pair<std::string, std::string>> prefill_engine_set, decode_engine_set;
};

struct PublishedWorkload {
  WorkloadKind kind = WorkloadKind::decode;
  int batch = 0, context = 0;                          // decode
  int input = 0, output = 0, requests = 0, concurrency = 0; // serve (concurrency 0: all at once)
  // serve: per-request lengths when `input`/`output` are distributions or `lengths` names a file
  // (then input/output hold nothing); fixed otherwise.
  ServeLengths lengths;
  std::optional<DisaggSpec> disagg;                    // serve: prefill and decode apart
  int prompt = 0, tokens_per_gpu = 0;                  // prefill
  std::string describe() const;
};

struct PublishedRow {
  std::string id, category, source, engine, model, platform, plan, note;
  std::map<std::string, std::string> dtypes;    // dtype key -> dtype name
  std::vector<std::pair<std::string, std::string>> engine_set; // profile facts the source states, as YAML text
  PublishedWorkload workload;
  Metric metric = Metric::tok_s_user;
  double measured = 0;
  std::vector<std::string> missing;
  // Public per-op records (an op-bench file under the data root, e.g. platforms/public/aiconfigurator/
  // b200_sxm.trtllm-1.3.0rc20.json.gz) that time this row's compute ops as a calibration fitted from
  // them would (`moesim calibrate --op-bench`), for a platform with no measured calibration; "" for none.
  std::string op_records;
  // Public per-op records of which only the whole fused MoE layers (`moe` records, core/moe_layer)
  // time this row's MoE layers, beside the platform's own calibration (measured, or none: the
  // datasheet); "" for none. For rows whose MoE layers the records measured but whose other ops
  // they do not, or whose platform was measured here. Not together with op_records.
  std::string moe_records;
  // Public per-op records of which only the dense GEMM models (`gemm` records: TensorRT-LLM's Linear
  // of each weight dtype on a bf16 input, its input quantize included) time this row's dense GEMMs,
  // beside the platform's own calibration, which keeps every GEMM model it has (measured here
  // first); "" for none. Not together with op_records.
  std::string gemm_records;
  // Public per-op records of which only the GQA decode attention (`attention_decode` gqa records)
  // times this row's decode attention where the platform's own calibration has no model of that
  // key, fitted without the records faster than reading their KV cache once at the GPU's HBM peak
  // (an L2-resident cache, not a read from memory); "" for none. Not together with op_records.
  std::string attention_records;
  int line = 0;
};

// Reads the file (strict: unknown keys and bad values are refused naming file:line and key).
std::vector<PublishedRow> load_published_file(const std::string& path);
const char* to_string(Metric m);
// A time per request (tpot_ms, ttft_ms), where less is faster; the other metrics are rates.
bool is_time(Metric m);

// A serve run's time metric in ms from its mean TTFT and mean TPOT in seconds.
double time_metric_ms(Metric m, double mean_ttft_s, double mean_tpot_s);

// The signed error of a simulated figure, + meaning moesim too fast: simulated / measured - 1 for a
// rate, measured / simulated - 1 for a time.
double metric_error(Metric m, double simulated, double measured);

// A whole system's output rate (`total_tok_s` over `seqs` sequences on `gpus` GPUs) as a row's
// metric: per sequence, per GPU (LMSYS's per rank is the same), per node (8 GPUs, or all of them
// when fewer), or the whole system.
double rate_metric(Metric m, double total_tok_s, int seqs, int gpus);

// Output rate of a serve workload from two simulated steps: `batch` requests decode together at
// `decode_step_s` per step gaining `tokens_per_step` tokens each, and each request's prompt costs
// `prefill_s_per_request` of exclusive GPU time. A wave of `batch` requests takes
// batch x prefill + ceil(output / tokens_per_step) decode steps and yields batch x output tokens.
double serve_tok_s(int batch, int output, double tokens_per_step, double decode_step_s, double prefill_s_per_request);

// |signed error| (metric_error) over the rows simulated: median (mean of the middle two when even) and
// worst, with the worst row's index.
struct ErrorSummary {
  int rows = 0;
  double median = 0, worst = 0;
  int worst_index = -1;
};
ErrorSummary summarise_errors(const std::vector<double>& signed_errors);

} // namespace moesim
