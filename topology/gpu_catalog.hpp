// GPU specs by name: platforms/gpus.yaml holds one entry per GPU model (the nvidia-smi name, memory
// size and bandwidth, dense tensor FLOP/s per dtype, efficiencies, kernel overhead, and where every
// number comes from). A topology names its GPU from here, or spells a spec out inline.
#pragma once
#include "core/dtype.hpp"
#include "core/transfer.hpp"
#include "core/yaml_reader.hpp"
#include "topology/units.hpp"

#include <map>
#include <string>
#include <vector>

namespace moesim {

struct GpuModel {
  std::string key;     // catalogue name, e.g. h100-sxm5-80gb
  std::string name;    // as nvidia-smi prints it
  int sm = 0;          // compute capability, major*10+minor (90: Hopper); picks NCCL's tables
  Quantity memory;     // usable device memory (nvidia-smi memory.total)
  Quantity mem_bw;     // peak memory bandwidth
  std::map<Dtype, Quantity> flops; // dense tensor rate per native dtype (bf16 always; unit Tf)
  double mem_bw_eff = 0.85;
  double flops_eff = 0.75;
  Quantity kernel_overhead{2, "us"};
  // What the transfer of measured op times to this GPU scales by (docs/transfer.md); 0 = not given.
  int sms = 0;
  double boost_clock_mhz = 0; // max SM boost clock
  Quantity l2{0, "MiB"};
  std::string sources;
};

// The dtypes a spec may list, in the order files and reports show them.
inline constexpr Dtype spec_dtypes[] = {Dtype::bf16, Dtype::fp8, Dtype::nvfp4, Dtype::mxfp4, Dtype::fp32};

class GpuCatalog {
public:
  GpuCatalog() = default;
  GpuCatalog(std::string file, std::map<std::string, GpuModel> models) : file_(std::move(file)), models_(std::move(models)) {}
  const GpuModel* find(const std::string& key) const;
  std::vector<std::string> names() const;
  const std::string& file() const { return file_; }

private:
  std::string file_;
  std::map<std::string, GpuModel> models_;
};

GpuCatalog load_gpu_catalog(const std::string& path);
// The numbers the transfer uses; throws InputError naming the catalogue key when one is missing.
TransferGpu transfer_gpu(const GpuModel& g, const std::string& file);
// A catalogue entry by key or by nvidia-smi name ("h200-sxm-141gb" or "NVIDIA H200"); nullptr if none.
const GpuModel* find_gpu(const GpuCatalog& c, const std::string& key_or_name);
// Reads one spec from a map (a catalogue entry or an inline `gpu:` block); rejects unknown keys.
GpuModel parse_gpu_model(Fields& f, const std::string& key);

} // namespace moesim
