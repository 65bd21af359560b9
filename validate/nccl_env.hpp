// The NCCL environment a measurement ran with. NVLink multicast (NVLS) stays off on the lent
// machines: a program that uses it can put a shared host's GPUs out of service, so the tool sets
// NCCL_NVLS_ENABLE=0 before NCCL starts, whatever the caller set.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <utility>
#include <vector>

namespace moesim::validate {

// Sets NCCL_NVLS_ENABLE=0 in this process's environment. Returns a note when it replaced another
// value (empty otherwise). Call it once, from main, before any NCCL call.
std::string force_nvls_off();

// NCCL_P2P_DISABLE, NCCL_NVLS_ENABLE, NCCL_ALGO, NCCL_PROTO as set now ("" when unset).
std::vector<std::pair<std::string, std::string>> nccl_env();
// "NCCL_P2P_DISABLE=<unset> NCCL_NVLS_ENABLE=0 NCCL_ALGO=<unset> NCCL_PROTO=<unset>"
std::string describe_nccl_env();
// {"NCCL_P2P_DISABLE": null, "NCCL_NVLS_ENABLE": "0", ...}
nlohmann::json nccl_env_json();

} // namespace moesim::validate
