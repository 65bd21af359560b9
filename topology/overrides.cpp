#include "topology/overrides.hpp"

#include "core/error.hpp"
#include "core/numbers.hpp"

#include <cstdio>
#include <stdexcept>

namespace moesim {
namespace {

const std::vector<std::string> link_classes = {"nvlink", "pcie", "c2c", "host_memory", "cpu_interconnect", "nic"};

struct KeyDoc {
  const char* key;
  const char* what;
};
const KeyDoc keys[] = {
    {"link.<class>.bandwidth", "link bandwidth per direction (53GBps, 400Gbps); <class> is nvlink, pcie, c2c, "
                               "host_memory, cpu_interconnect or nic. The class's GPU-side link takes the value; "
                               "the other links of the class (switch uplinks, wider NVLink pairs) scale with it"},
    {"link.<class>.latency", "per-crossing latency moesim adds to each collective step (1us)"},
    {"gpu.mem_bw", "GPU memory bandwidth (3.35TBps)"},
    {"gpu.mem_bytes", "GPU memory size (80GB, 81559MiB)"},
    {"gpu.flops", "dense BF16 tensor rate (989.4Tf); the other dtypes scale with it"},
    {"gpu.flops.<dtype>", "one dtype's dense rate: bf16, fp8, nvfp4, mxfp4, fp32"},
    {"gpu.mem_bw_eff", "achievable fraction of memory bandwidth (0.85)"},
    {"gpu.flops_eff", "achievable fraction of tensor peak (0.75)"},
    {"gpu.kernel_overhead", "GPU-side fixed cost per kernel (2us)"},
    {"p2p", "GPU peer-to-peer on or off (off: NVLink unused, every pair staged through host memory)"},
    {"p2p_level", "furthest PCIe path P2P may take: pix, pxb, phb, sys"},
    {"pxn", "NCCL PXN on or off (cross-rail traffic over NVLink to the GPU on the destination's rail)"},
    {"gpudirect", "GPUDirect RDMA on or off"},
    {"network.oversubscription", "fabric leaf downlink:uplink ratio (1 = non-blocking)"},
    {"nccl.p2p_alpha", "fixed cost of an all-to-all or send (12us)"},
    {"nccl.algo", "all-reduce algorithm: ring, tree or auto"},
};

bool known(const std::string& key)
{
  for (const std::string& c : link_classes)
    if (key == "link." + c + ".bandwidth" || key == "link." + c + ".latency")
      return true;
  for (const char* d : {"bf16", "fp8", "nvfp4", "mxfp4", "fp32"})
    if (key == std::string("gpu.flops.") + d)
      return true;
  for (const KeyDoc& k : keys)
    if (key == k.key && key.find('<') == std::string::npos)
      return true;
  return false;
}

std::string key_list()
{
  std::string s;
  for (const KeyDoc& k : keys)
    s += (s.empty() ? "" : ", ") + std::string(k.key);
  return s;
}

Quantity quantity(const Override& o, Dimension d, const std::string& flag)
{
  try {
    Quantity q = parse_quantity(o.value, d);
    if (!(q.value() > 0) && d != Dimension::time)
      throw InputError(flag, o.key, "'" + o.value + "' must be positive", "give a positive value");
    if (q.value() < 0)
      throw InputError(flag, o.key, "'" + o.value + "' must not be negative", "give a latency like 1us");
    return q;
  } catch (const std::invalid_argument& e) {
    throw InputError(flag, o.key, e.what(), "write a number with a unit");
  }
}

bool on_off(const Override& o, const std::string& flag)
{
  if (o.value == "on" || o.value == "true" || o.value == "yes")
    return true;
  if (o.value == "off" || o.value == "false" || o.value == "no")
    return false;
  throw InputError(flag, o.key, "'" + o.value + "' is not on or off", "write " + o.key + "=on or " + o.key + "=off");
}

double fraction(const Override& o, const std::string& flag)
{
  if (const std::optional<double> v = parse_number(o.value); v && *v > 0 && *v <= 1)
    return *v;
  throw InputError(flag, o.key, "'" + o.value + "' is not a fraction in (0, 1]", "write e.g. 0.85");
}

// A fabric's downlink:uplink ratio: 1 (non-blocking) to 1024.
double ratio(const Override& o, const std::string& flag)
{
  if (const std::optional<double> v = parse_number(o.value); v && *v >= 1 && *v <= 1024)
    return *v;
  throw InputError(flag, o.key, "'" + o.value + "' is not a ratio between 1 and 1024", "write e.g. 2 for 2:1");
}

// The link classes a topology's platform has (link.<class>.* edits only these).
bool has_class(const Topology& t, const std::string& cls)
{
  if (cls == t.gpu_link_class)
    return !t.gpu_link.unit.empty();
  if (cls == "nvlink")
    return t.nvlink != NvlinkKind::none;
  if (cls == "host_memory")
    return !t.memory.unit.empty();
  if (cls == "cpu_interconnect")
    return t.interconnect.has_value();
  if (cls == "nic")
    return t.network.has_value();
  return false;
}

} // namespace

std::string override_keys_help()
{
  std::string s;
  for (const KeyDoc& k : keys)
    s += "  " + std::string(k.key) + ": " + k.what + "\n";
  return s;
}

void check_override_key(const std::string& key, const std::string& flag)
{
  if (!known(key))
    throw InputError(flag, key, "unknown key", "use one of " + key_list());
}

Override parse_override(const std::string& arg, const std::string& flag)
{
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    throw InputError(flag, arg, "expected key=value", "write e.g. " + flag + " link.pcie.bandwidth=128GBps");
  Override o{arg.substr(0, eq), arg.substr(eq + 1)};
  check_override_key(o.key, flag);
  return o;
}

bool apply_override(Topology& t, const Override& o, const std::string& caller_flag)
{
  const std::string& flag = o.flag.empty() ? caller_flag : o.flag;
  check_override_key(o.key, flag);
  const std::string& k = o.key;
  if (k.rfind("link.", 0) == 0) {
    const auto dot = k.rfind('.');
    const std::string cls = k.substr(5, dot - 5), what = k.substr(dot + 1);
    if (what == "latency") {
      const Quantity q = quantity(o, Dimension::time, flag);
      if (!has_class(t, cls))
        return false;
      t.latency[cls] = q;
      validate_topology(t, flag);
      return true;
    }
    const Quantity q = quantity(o, Dimension::bandwidth, flag);
    if (!has_class(t, cls))
      return false;
    if (cls == t.gpu_link_class) {
      const double f = q.value() / t.gpu_link.value();
      t.gpu_link = q;
      for (PcieSwitch& s : t.switches)
        s.uplink = s.uplink.scaled(f);
    } else if (cls == "nvlink") {
      const double f = q.value() / t.nvlink_bw.value();
      t.nvlink_bw = q;
      for (NvlinkPair& p : t.nvlink_pairs)
        if (p.bw)
          p.bw = p.bw->scaled(f);
    } else if (cls == "host_memory") {
      t.memory = q;
    } else if (cls == "cpu_interconnect") {
      t.interconnect = q;
    } else if (cls == "nic") {
      t.network->nic = q;
    }
    validate_topology(t, flag);
    return true;
  }
  bool applied = true;
  if (k == "gpu.mem_bw")
    t.gpu.mem_bw = quantity(o, Dimension::bandwidth, flag);
  else if (k == "gpu.mem_bytes")
    t.gpu.memory = quantity(o, Dimension::size, flag);
  else if (k == "gpu.flops") {
    const Quantity q = quantity(o, Dimension::flops, flag);
    const double f = q.value() / t.gpu.flops.at(Dtype::bf16).value();
    for (auto& [d, r] : t.gpu.flops)
      r = d == Dtype::bf16 ? q : r.scaled(f);
  } else if (k.rfind("gpu.flops.", 0) == 0)
    t.gpu.flops[parse_dtype(k.substr(10))] = quantity(o, Dimension::flops, flag);
  else if (k == "gpu.mem_bw_eff")
    t.gpu.mem_bw_eff = fraction(o, flag);
  else if (k == "gpu.flops_eff")
    t.gpu.flops_eff = fraction(o, flag);
  else if (k == "gpu.kernel_overhead")
    t.gpu.kernel_overhead = quantity(o, Dimension::time, flag);
  else if (k == "p2p")
    t.p2p = on_off(o, flag);
  else if (k == "p2p_level") {
    try {
      t.p2p_level = parse_path_level(o.value);
    } catch (const std::invalid_argument& e) {
      throw InputError(flag, k, e.what(), "use pix, pxb, phb or sys");
    }
    applied = t.p2p;
  } else if (k == "pxn" || k == "gpudirect") {
    const bool v = on_off(o, flag);
    if (t.network)
      (k == "pxn" ? t.network->pxn : t.network->gpudirect) = v;
    applied = t.network.has_value();
  } else if (k == "network.oversubscription") {
    const double v = ratio(o, flag);
    if (t.network)
      t.network->oversubscription = v;
    applied = t.network.has_value();
  } else if (k == "nccl.p2p_alpha")
    t.p2p_alpha = quantity(o, Dimension::time, flag);
  else if (k == "nccl.algo") {
    if (o.value != "ring" && o.value != "tree" && o.value != "auto")
      throw InputError(flag, k, "unknown algorithm '" + o.value + "'", "use ring, tree or auto");
    t.nccl_algo = o.value;
  }
  validate_topology(t, flag);
  return applied;
}

std::optional<double> override_number(const Override& o, const std::string& flag)
{
  check_override_key(o.key, flag);
  const std::string& k = o.key;
  if (k.ends_with(".bandwidth") || k == "gpu.mem_bw")
    return quantity(o, Dimension::bandwidth, flag).value();
  if (k.ends_with(".latency") || k == "gpu.kernel_overhead" || k == "nccl.p2p_alpha")
    return quantity(o, Dimension::time, flag).value();
  if (k == "gpu.mem_bytes")
    return quantity(o, Dimension::size, flag).value();
  if (k.rfind("gpu.flops", 0) == 0)
    return quantity(o, Dimension::flops, flag).value();
  if (k == "gpu.mem_bw_eff" || k == "gpu.flops_eff")
    return fraction(o, flag);
  if (k == "network.oversubscription")
    return ratio(o, flag);
  return std::nullopt;
}

void check_override_value(const Override& o, const std::string& flag)
{
  if (override_number(o, flag))
    return;
  const std::string& k = o.key;
  if (k == "p2p" || k == "pxn" || k == "gpudirect")
    on_off(o, flag);
  else if (k == "p2p_level") {
    try {
      parse_path_level(o.value);
    } catch (const std::invalid_argument& e) {
      throw InputError(flag, k, e.what(), "use pix, pxb, phb or sys");
    }
  } else if (k == "nccl.algo" && o.value != "ring" && o.value != "tree" && o.value != "auto")
    throw InputError(flag, k, "unknown algorithm '" + o.value + "'", "use ring, tree or auto");
}

std::string format_override_number(const std::string& k, double v)
{
  char buf[64];
  if (k.ends_with(".bandwidth") || k == "gpu.mem_bw")
    return human_rate(v);
  if (k.ends_with(".latency") || k == "gpu.kernel_overhead" || k == "nccl.p2p_alpha")
    std::snprintf(buf, sizeof buf, "%.3g us", v * 1e6);
  else if (k == "gpu.mem_bytes")
    return human_bytes(v);
  else if (k.rfind("gpu.flops", 0) == 0)
    std::snprintf(buf, sizeof buf, "%.4g TFLOP/s", v / 1e12);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

} // namespace moesim
