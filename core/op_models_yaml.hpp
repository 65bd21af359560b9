// The op_models: section of a calibration file (calibration.hpp reads and writes the rest).
//
//   op_models:
//     source: "..."          # where the records came from
//     system: "..."          # the GPU they were measured on
//     sms: 132
//     graph_gap_us: 1.1      # optional: per kernel inside a CUDA graph
//     bracket_gap_eager_us: 1.45  # optional: between a measured run's event brackets, eager
//     bracket_gap_graph_us: 1.3   # optional: the same in a CUDA graph
//     models:
//       - op: gemm           # + variant (fused/loop, gqa/mla), kv_dtype, window where they apply
//         dtype: bf16
//         launch: stream
//         form: {kind: gemm_tiles, sms: 132, floor_s: 2.5e-06, flops: 8.1e+14, ...}
//         fit: {records: 35742, median: 0.072, p90: 0.215, worst: 0.80}  # in-sample, the form alone
//         dims: [batch, m, n, k]
//         points: |          # one measured shape a line: its dims, seconds, the form's seconds
//           1 1 32 32 3.1e-06 2.9e-06
#pragma once
#include "core/op_models.hpp"
#include "core/yaml_reader.hpp"

#include <ostream>

namespace moesim {

// Reads the section under `node`; errors name `f`'s file, the key path and the line.
OpModels read_op_models(const Fields& parent, const YAML::Node& node);
void write_op_models(std::ostream& o, const OpModels& m);

} // namespace moesim
