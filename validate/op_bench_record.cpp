#include "validate/op_bench_record.hpp"

#include "core/error.hpp"

#include <cstdio>
#include <fstream>

namespace moesim::validate::opbench {

namespace {

using json = nlohmann::json; // keys sorted: the same bytes for the same record

// The keys every timed record ends with.
void timed(json& j, const Measured& m)
{
  j["seconds"] = m.seconds;
  j["reps"] = m.reps;
  j["spread"] = m.spread;
}

} // namespace

const char* launch_name(bool graph)
{
  return graph ? "graph" : "stream";
}

nlohmann::json gemm_record(const GemmPoint& p, const Measured& m)
{
  json j;
  j["op"] = "gemm";
  j["dtype"] = to_string(p.dtype);
  j["launch"] = launch_name(m.graph);
  j["m"] = p.m;
  j["n"] = p.n;
  j["k"] = p.k;
  j["batch"] = 1;
  timed(j, m);
  return j;
}

nlohmann::json grouped_record(const GroupedPoint& p, const Measured& m)
{
  json j;
  j["op"] = "grouped_gemm";
  j["impl"] = p.fused ? "fused" : "loop";
  j["dtype"] = to_string(p.dtype);
  j["launch"] = launch_name(m.graph);
  j["n"] = p.n;
  j["k"] = p.k;
  j["rows"] = p.rows;
  timed(j, m);
  return j;
}

nlohmann::json attention_record(const AttnPoint& p, const Measured& m)
{
  json j;
  j["op"] = p.decode ? "attention_decode" : "attention_prefill";
  j["attn"] = p.mla && p.decode ? "mla" : "gqa";
  j["dtype"] = "bf16";
  j["launch"] = launch_name(m.graph);
  j["batch"] = p.batch;
  j["q_heads"] = p.q_heads;
  j["kv_heads"] = p.mla && p.decode ? 1 : p.kv_heads;
  j["head_dim_qk"] = p.qk;
  j["head_dim_v"] = p.v;
  if (p.decode) {
    j["context"] = p.context;
  } else {
    j["prompt"] = p.prompt;
    j["cached"] = p.cached;
    j["context"] = p.cached + p.prompt;
  }
  j["kv_lora_rank"] = p.mla && p.decode ? p.kv_lora : 0;
  j["rope_dim"] = p.mla && p.decode ? p.rope : 0;
  j["window"] = p.window;
  timed(j, m);
  return j;
}

nlohmann::json small_record(const SmallPoint& p, const Measured& m, bool cold_inputs)
{
  json j;
  j["op"] = p.op;
  j["dtype"] = p.op == "topk" || p.op == "sample" ? "fp32" : "bf16";
  j["launch"] = launch_name(m.graph);
  j["elements"] = small_kernel_elements(p);
  j["bytes"] = small_kernel_bytes(p);
  if (p.op == "rmsnorm") {
    j["rows"] = p.rows;
    j["width"] = p.width;
  } else if (p.op == "topk") {
    j["tokens"] = p.rows;
    j["experts"] = p.experts;
    j["k"] = p.k;
  } else if (p.op == "permute" || p.op == "unpermute") {
    j["tokens"] = p.rows;
    j["k"] = p.k;
    j["hidden"] = p.width;
  } else if (p.op == "embedding") {
    j["tokens"] = p.rows;
    j["hidden"] = p.width;
  } else if (p.op == "sample") {
    j["rows"] = p.rows;
    j["vocab"] = p.vocab;
  } else if (p.op == "router") { // the GEMM's m, k and n: the models read it as one (op_measurements.cpp)
    j["rows"] = p.rows;
    j["width"] = p.width;
    j["experts"] = p.experts;
  }
  if (p.cold_inputs || (cold_inputs && (p.op == "sample" || p.op == "embedding")))
    j["inputs"] = "cold";
  timed(j, m);
  return j;
}

nlohmann::json gap_record(int kernels, double seconds)
{
  json j;
  j["op"] = "graph_gap";
  j["kernels"] = kernels;
  j["seconds"] = seconds;
  return j;
}

nlohmann::json gap_record(const GapPoint& p, bool graph, double seconds)
{
  json j = gap_record(p.kernels, seconds);
  if (p.distinct != 1)
    j["distinct"] = p.distinct;
  if (p.events)
    j["events"] = p.events;
  j["launch"] = launch_name(graph);
  return j;
}

nlohmann::json host_record(const std::string& api, bool busy, int threads, double seconds)
{
  json j;
  j["op"] = "host";
  j["api"] = api;
  j["gpu_state"] = busy ? "busy" : "idle";
  j["threads"] = threads;
  j["seconds"] = seconds;
  return j;
}

nlohmann::json op_bench_document(const std::string& source, const nlohmann::json& system, const nlohmann::json& records)
{
  return {{"format", "moesim-op-bench-1"}, {"source", source}, {"system", system}, {"records", records}};
}

void write_json_file(const std::string& path, const nlohmann::json& j)
{
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << j.dump(1) << "\n";
    if (!f)
      throw InputError(path, "", "cannot write the file", "check that its folder exists and is writable");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw InputError(path, "", "cannot replace the file", "check that its folder is writable");
}

} // namespace moesim::validate::opbench
