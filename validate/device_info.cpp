#include "validate/device_info.hpp"

#include "kernels/check.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <cctype>
#include <sstream>

namespace moesim::validate {

namespace {

std::string read_driver_build()
{
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!in || !std::getline(in, line))
    return "";
  return driver_build_from(line);
}

} // namespace

std::string driver_build_from(const std::string& line)
{
  const std::string marker = "Kernel Module";
  const auto at = line.find(marker);
  if (at == std::string::npos)
    return "";
  std::istringstream rest(line.substr(at + marker.size()));
  for (std::string word; rest >> word;)
    if (std::isdigit(static_cast<unsigned char>(word[0])) && word.find('.') != std::string::npos)
      return word;
  return "";
}

SystemInfo query_system_info()
{
  SystemInfo s;
  // Both answer without a driver: cudaDriverGetVersion gives 0, and cudaGetDeviceCount an error
  // (cudaErrorInsufficientDriver, cudaErrorNoDevice) that is not sticky.
  if (cudaDriverGetVersion(&s.driver_cuda_version) != cudaSuccess)
    s.driver_cuda_version = 0;
  MOESIM_CHECK(cudaRuntimeGetVersion(&s.runtime_version));
  MOESIM_CHECK(ncclGetVersion(&s.nccl_version));
  s.driver_build = read_driver_build();
  const cudaError_t e = cudaGetDeviceCount(&s.device_count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    s.device_count = 0;
    s.no_device = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  } else if (s.device_count == 0) {
    s.no_device = "cudaGetDeviceCount found no device";
  }
  for (int i = 0; i < s.device_count; i++) {
    cudaDeviceProp p{};
    MOESIM_CHECK(cudaGetDeviceProperties(&p, i));
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.cc_major = p.major;
    d.cc_minor = p.minor;
    d.memory_bytes = static_cast<std::int64_t>(p.totalGlobalMem);
    d.sm_count = p.multiProcessorCount;
    char bus[32] = {};
    MOESIM_CHECK(cudaDeviceGetPCIBusId(bus, sizeof bus, i));
    d.pci_bus_id = bus;
    s.devices.push_back(std::move(d));
  }
  return s;
}

std::string cuda_version_string(int v)
{
  if (v <= 0)
    return "";
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

std::string nccl_version_string(int v)
{
  if (v <= 0)
    return "";
  // NCCL_VERSION(): X*1000 + Y*100 + Z up to 2.8, X*10000 + Y*100 + Z from 2.9 on.
  const int major_scale = v >= 10000 ? 10000 : 1000;
  return std::to_string(v / major_scale) + "." + std::to_string(v % major_scale / 100) + "." +
         std::to_string(v % 100);
}

nlohmann::json to_json(const SystemInfo& s)
{
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceInfo& d : s.devices)
    devices.push_back({{"index", d.index},
                       {"name", d.name},
                       {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
                       {"memory_bytes", d.memory_bytes},
                       {"sm_count", d.sm_count},
                       {"pci_bus_id", d.pci_bus_id}});
  nlohmann::json j;
  j["device_count"] = s.device_count;
  if (!s.no_device.empty())
    j["no_device"] = s.no_device;
  j["driver_cuda_version"] = cuda_version_string(s.driver_cuda_version);
  j["driver_build"] = s.driver_build;
  j["runtime_version"] = cuda_version_string(s.runtime_version);
  j["nccl_version"] = nccl_version_string(s.nccl_version);
  j["devices"] = std::move(devices);
  return j;
}

} // namespace moesim::validate
