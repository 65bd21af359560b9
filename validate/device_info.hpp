// What this machine offers the harness: CUDA devices, driver, runtime and NCCL versions. Works with
// no GPU and no driver (device_count 0, and no_device says why), so that `moesim-validate --info`
// can run anywhere; measured results record it beside their numbers.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace moesim::validate {

struct DeviceInfo {
  int index = 0;
  std::string name;            // "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;
  std::int64_t memory_bytes = 0;
  int sm_count = 0;
  std::string pci_bus_id;      // "0000:19:00.0"
};

struct SystemInfo {
  int device_count = 0;
  std::string no_device;       // why device_count is 0 (the CUDA error), empty when there are devices
  int driver_cuda_version = 0; // newest CUDA version the driver supports (12040 = 12.4); 0: no driver
  std::string driver_build;    // the kernel module's version ("550.54.15"); empty when unknown
  int runtime_version = 0;     // CUDA runtime linked in (13000 = 13.0)
  int nccl_version = 0;        // ncclGetVersion (22809 = 2.28.9)
  std::vector<DeviceInfo> devices;
};

// Never throws for a missing GPU or driver; throws std::runtime_error (MOESIM_CHECK) when a device
// that was counted cannot be queried.
SystemInfo query_system_info();

// The driver's version from /proc/driver/nvidia/version's first line: the first word after "Kernel
// Module" that starts with a digit and has a dot ("NVRM version: NVIDIA UNIX Open Kernel Module for
// x86_64  580.159.04  Release Build ..." -> "580.159.04"); "" when there is none.
std::string driver_build_from(const std::string& line);

std::string cuda_version_string(int v); // 12040 -> "12.4"; 0 -> ""
std::string nccl_version_string(int v); // 22809 -> "2.28.9", 2708 -> "2.7.8"; 0 -> ""

nlohmann::json to_json(const SystemInfo& s);

} // namespace moesim::validate
