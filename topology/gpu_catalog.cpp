#include "topology/gpu_catalog.hpp"

namespace moesim {

const GpuModel* GpuCatalog::find(const std::string& key) const
{
  auto it = models_.find(key);
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<std::string> GpuCatalog::names() const
{
  std::vector<std::string> out;
  for (const auto& [k, m] : models_)
    out.push_back(k);
  return out;
}

static Quantity quantity(Fields& f, const std::string& key, Dimension d)
{
  try {
    Quantity q = parse_quantity(f.str(key), d);
    if (!(q.value() > 0))
      f.fail(key, "must be positive", "write the datasheet value, e.g. " + std::string(d == Dimension::size ? "81559MiB" : "3.35TBps"));
    return q;
  } catch (const std::invalid_argument& e) {
    f.fail(key, e.what(), "write a number with a unit");
  }
}

GpuModel parse_gpu_model(Fields& f, const std::string& key)
{
  GpuModel g;
  g.key = key;
  g.name = f.str("name");
  {
    const double sm = f.num("sm");
    if (!(sm >= 30 && sm < 1000 && sm == static_cast<int>(sm)))
      f.fail("sm", "is not a compute capability", "write major*10+minor, e.g. 90 for H100, 100 for B200, 120 for RTX PRO 6000");
    g.sm = static_cast<int>(sm);
  }
  g.memory = quantity(f, "memory", Dimension::size);
  g.mem_bw = quantity(f, "mem_bw", Dimension::bandwidth);
  {
    Fields tf(f.file(), f.node("tflops"), f.path("tflops"));
    for (Dtype d : spec_dtypes) {
      const std::string k = to_string(d);
      if (d == Dtype::bf16 || tf.has(k)) {
        const double v = tf.num(k);
        if (!(v > 0))
          tf.fail(k, "must be positive", "write dense TFLOPS without sparsity, or leave the dtype out if the GPU lacks it");
        g.flops[d] = {v, "Tf"};
      } else {
        tf.maybe(k);
      }
    }
    tf.finish();
  }
  g.mem_bw_eff = f.num("mem_bw_eff", g.mem_bw_eff);
  g.flops_eff = f.num("flops_eff", g.flops_eff);
  for (const char* k : {"mem_bw_eff", "flops_eff"}) {
    const double v = std::string(k) == "mem_bw_eff" ? g.mem_bw_eff : g.flops_eff;
    if (!(v > 0 && v <= 1))
      f.fail(k, "must be in (0, 1]", "use 0.85 / 0.75 until calibrated");
  }
  if (f.has("kernel_overhead")) {
    try {
      g.kernel_overhead = parse_quantity(f.str("kernel_overhead"), Dimension::time);
    } catch (const std::invalid_argument& e) {
      f.fail("kernel_overhead", e.what(), "write e.g. 2us");
    }
    if (g.kernel_overhead.value() < 0)
      f.fail("kernel_overhead", "must not be negative", "write e.g. 2us");
  } else {
    f.maybe("kernel_overhead");
  }
  g.sms = f.integer("sms", 0);
  if (g.sms < 0)
    f.fail("sms", "must not be negative", "write the SM count from the datasheet, e.g. 132");
  g.boost_clock_mhz = f.num("boost_clock_mhz", 0);
  if (g.boost_clock_mhz < 0)
    f.fail("boost_clock_mhz", "must not be negative", "write the max SM boost clock in MHz, e.g. 1980");
  if (f.has("l2")) {
    try {
      g.l2 = parse_quantity(f.str("l2"), Dimension::size);
    } catch (const std::invalid_argument& e) {
      f.fail("l2", e.what(), "write the L2 size, e.g. 50MiB");
    }
  }
  g.sources = f.str("sources", "");
  f.finish();
  return g;
}

TransferGpu transfer_gpu(const GpuModel& g, const std::string& file)
{
  TransferGpu t;
  t.name = g.name;
  t.sms = g.sms;
  t.clock_hz = g.boost_clock_mhz * 1e6;
  t.mem_bw = g.mem_bw.value();
  t.l2_bytes = g.l2.value();
  for (const auto& [d, q] : g.flops)
    t.flops[d] = q.value();
  try {
    t.check();
  } catch (const std::invalid_argument& e) {
    throw InputError(file, "gpus." + g.key, e.what(), "add sms, boost_clock_mhz and l2 with their sources");
  }
  return t;
}

const GpuModel* find_gpu(const GpuCatalog& c, const std::string& key_or_name)
{
  if (const GpuModel* m = c.find(key_or_name))
    return m;
  for (const std::string& k : c.names())
    if (c.find(k)->name == key_or_name)
      return c.find(k);
  return nullptr;
}

GpuCatalog load_gpu_catalog(const std::string& path)
{
  YAML::Node doc = load_yaml_file(path);
  Fields top(path, doc, "");
  YAML::Node gpus = top.node("gpus");
  Fields all(path, gpus, "gpus");
  std::map<std::string, GpuModel> models;
  for (const auto& kv : gpus) {
    const std::string key = kv.first.Scalar();
    all.maybe(key);
    Fields f(path, kv.second, "gpus." + key);
    models[key] = parse_gpu_model(f, key);
  }
  all.finish();
  top.finish();
  return GpuCatalog(path, std::move(models));
}

} // namespace moesim
