// What `moesim-validate run` refuses in a schedule before it touches a GPU, in one place: the
// communicators and NCCL calls of every op (comm_plan.hpp, runner_plan.hpp), a host
// synchronisation in a CUDA-graph replay, and every compute op its handler cannot run (sizes,
// head dims kernels::attention lacks, top-k above kernels::max_top_k, ...: op_handler.hpp, check).
// `moesim-validate --check-schedule` and `run` call check_replayable with the schedule's file, so
// they refuse with the same message; the op executor runs check_op on each op it resolves.
// No GPU and no CUDA call. What it cannot know is left to run: the GPU count, device memory,
// cuBLASLt algorithms.
#pragma once
#include "core/schedule.hpp"

#include <string>

namespace moesim::validate {

// Throws InputError "FILE: rank R op NAME: what (fix: ...)" when compute op `op` of rank `rank`
// cannot be replayed; does nothing for communication and host ops.
void check_op(const Schedule& s, int rank, const Op& op, const std::string& file);

// Every check above on every rank, in the order `run` meets them; `graph`: replayed as a CUDA graph.
void check_replayable(const Schedule& s, const std::string& file, bool graph);

} // namespace moesim::validate
