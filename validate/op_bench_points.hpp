// Named points for `moesim-validate bench-ops --points FILE`: the shapes a question needs (a form's
// corner the grid does not reach) timed as the grid's points are, in the file's order.
//
// One point per line, in the text `describe()` writes (so an earlier run's log or side file can be
// pasted back); blank lines and lines starting with '#' are skipped, and a trailing "(N active)"
// is ignored. Families: gemm, grouped_gemm, attention_decode, attention_prefill, graph_gap, and the
// small kernels by op (rmsnorm, silu_mul, residual_add, topk, permute, unpermute, embedding, sample,
// router).
//
//   gemm bf16 m=64 n=4096 k=7168
//   grouped_gemm bf16 fused n=16384 k=4096 experts=8 tokens=160 uniform
//   attention_decode gqa batch=4 heads=32/8 dims=128/128 context=4096
//   attention_decode mla batch=4 heads=32/1 dims=576/512 context=4096     (kv_lora = 512, rope = 64)
//   attention_prefill gqa batch=1 heads=40/8 dims=128/128 prompt=512 cached=0 [window=W]
//   sample rows=28 vocab=151936
//   embedding rows=256 width=1024 vocab=32768
//   rmsnorm rows=66 width=4096 inputs=cold  (each instance reads inputs of its own; not sample, embedding)
//   graph_gap kernels=16                  (a chain of 16 identical kernels against one: the grid's)
//   graph_gap kernels=16 distinct=4       (the chain cycling through 4 kernel functions)
//   graph_gap kernels=16 events=16        (an event record before and after each kernel)
//   graph_gap kernels=0 events=16         (16 event pairs with nothing between)
#pragma once
#include "validate/op_bench_grid.hpp"

#include <string>
#include <vector>

namespace moesim::validate::opbench {

// Throws std::invalid_argument naming the word that is wrong.
Point parse_point(const std::string& text);

// The points of a file; throws moesim::InputError ("FILE:LINE", the word, the fix).
std::vector<Point> read_points_file(const std::string& path);

// A plan of exactly these points, in order: one family plan per run of consecutive points of one
// family, each allowed the whole budget (the run's deadline still stops it).
Plan points_plan(const std::vector<Point>& points, const DeviceRates& d, const CostModel& c, double budget_s);

} // namespace moesim::validate::opbench
