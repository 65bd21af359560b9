#include "cli/transfer_cmd.hpp"

#include "core/output_files.hpp"
#include "core/error.hpp"
#include "core/op_bench.hpp"
#include "core/transfer_check.hpp"
#include "report/transfer_table.hpp"
#include "topology/gpu_catalog.hpp"

#include <filesystem>

namespace fs = std::filesystem;

namespace moesim {

void add_transfer_command(CLI::App& app, TransferCommand& t)
{
  t.cmd = app.add_subcommand("transfer", "move measured op times (op-bench records) from one GPU to another's specs; "
                                         "with --measured, the error per op class against the target's own records");
  t.cmd->add_option("source", t.source, "op-bench records of the source GPU (.json or .json.gz)")->required();
  t.cmd->add_option("--from", t.from, "source GPU: a key of platforms/gpus.yaml or its nvidia-smi name "
                                      "(default: the file's system.gpu)");
  t.cmd->add_option("--to", t.to, "target GPU, as --from (default: the --measured file's system.gpu)");
  t.cmd->add_option("-o,--output", t.output, "write the predicted records (every transferable source record) here");
  t.cmd->add_option("--measured", t.measured, "op-bench records measured on the target: compare");
  t.cmd->add_option("--md", t.md, "with --measured: write the comparison as Markdown here (else to stdout)");
  t.cmd->add_option("--noise", t.noise, "two measurement files of the target GPU: their difference is the noise floor")
      ->expected(2);
  t.cmd->add_option("--l2", t.l2, "memory time at L2 bandwidth when the operands fit in half the L2: on, off, or auto "
                                  "(on for AIConfigurator tables, which replay each op back to back with warm caches; off "
                                  "for moesim-validate's, which flush the L2 before timing)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  t.cmd->add_option("--rate", t.rate, "how an op's variable time moves: scaled (by the bound ratio: each op keeps its "
                                      "fraction of peak) or achieved (each op keeps the rate it reached unless the "
                                      "target's memory cannot give it; docs/transfer.md)")
      ->check(CLI::IsMember({"scaled", "achieved"}))
      ->capture_default_str();
  t.cmd->add_flag("--exact-only", t.exact_only, "compare only shapes both files have (no nearest-shape predictions)");
  t.cmd->fallthrough();
}

namespace {

TransferGpu gpu_for(const GpuCatalog& cat, const std::string& flag, const std::string& wanted, const OpBench& doc,
                    const std::string& doc_file)
{
  std::string key = wanted;
  if (key.empty()) {
    auto it = doc.system.text.find("gpu");
    if (it == doc.system.text.end())
      throw InputError(doc_file, "system.gpu", "missing, and no " + flag + " given", "pass " + flag + " GPU");
    key = it->second;
  }
  const GpuModel* m = find_gpu(cat, key);
  if (!m) {
    std::string known;
    for (const std::string& n : cat.names())
      known += (known.empty() ? "" : ", ") + n;
    throw InputError(wanted.empty() ? doc_file : "command line", wanted.empty() ? "system.gpu" : flag,
                     "unknown GPU '" + key + "'", "use one of " + known + " or its nvidia-smi name (" + cat.file() + ")");
  }
  return transfer_gpu(*m, cat.file());
}

// Every record's shape must make sense before any is used: errors name the file and record.
void check_shapes(const OpBench& doc, const std::string& file)
{
  for (std::size_t i = 0; i < doc.records.size(); ++i) {
    try {
      (void)op_demand(doc.records[i]);
    } catch (const std::invalid_argument& e) {
      throw InputError(file, "records[" + std::to_string(i) + "]", e.what(), "fix or drop the record");
    }
  }
}

std::string shown(const std::string& path, const std::string& root)
{
  const fs::path rel = fs::path(path).lexically_proximate(root);
  return rel.empty() || rel.string().rfind("..", 0) == 0 ? path : rel.string();
}

} // namespace

bool run_transfer_command(const TransferCommand& t, const std::string& root)
{
  if (!t.cmd || !*t.cmd)
    return false;
  if (!t.md.empty() && t.measured.empty())
    throw InputError("command line", "--md", "needs --measured", "pass the target's measured records with --measured");
  if (t.output.empty() && t.measured.empty())
    throw InputError("command line", "transfer", "nothing to do", "pass -o FILE for predicted records, --measured FILE to compare, or both");
  std::vector<std::string> inputs = t.noise;
  inputs.insert(inputs.end(), {t.source, t.measured});
  check_output_paths({{t.output, "--output"}, {t.md, "--md"}}, inputs);
  const GpuCatalog cat = load_gpu_catalog((fs::path(root) / "platforms" / "gpus.yaml").string());
  const OpBench source = read_op_bench_file(t.source);
  const std::optional<OpBench> measured =
      t.measured.empty() ? std::nullopt : std::optional<OpBench>(read_op_bench_file(t.measured));
  const TransferGpu from = gpu_for(cat, "--from", t.from, source, t.source);
  if (t.to.empty() && !measured)
    throw InputError("command line", "--to", "missing", "name the target GPU, or pass --measured records that name it");
  const TransferGpu to = gpu_for(cat, "--to", t.to, measured ? *measured : source, measured ? t.measured : t.source);
  std::optional<std::pair<OpBench, OpBench>> noise;
  if (!t.noise.empty())
    noise.emplace(read_op_bench_file(t.noise[0]), read_op_bench_file(t.noise[1]));
  check_shapes(source, t.source);
  if (measured)
    check_shapes(*measured, t.measured);
  if (noise) {
    check_shapes(noise->first, t.noise[0]);
    check_shapes(noise->second, t.noise[1]);
  }

  const bool l2 = t.l2 == "on" || (t.l2 == "auto" && source.source.rfind("aiconfigurator", 0) == 0);
  std::string predicted, table;
  {
    const bool achieved = t.rate == "achieved";
    const Transfer tr(source, from, to, {l2, achieved});
    if (!t.output.empty())
      predicted = write_op_bench(tr.predict_all());
    if (measured) {
      TransferTable tab;
      tab.from_gpu = from.name;
      tab.to_gpu = to.name;
      tab.title = "Transfer from " + from.name + " to " + to.name + (achieved ? " (achieved-rate rule)" : "");
      tab.source = source.source;
      tab.measured = measured->source;
      tab.source_file = shown(t.source, root);
      tab.measured_file = shown(t.measured, root);
      tab.command = "moesim transfer " + tab.source_file + " --measured " + tab.measured_file +
                    (t.l2 == "auto" ? "" : " --l2 " + t.l2) + (achieved ? " --rate achieved" : "");
      tab.check = check_transfer(tr, *measured, t.exact_only);
      tab.l2 = l2;
      tab.check_variant = check_transfer(Transfer(source, from, to, {!l2, achieved}), *measured, t.exact_only);
      tab.fixed = tr.fixed_by_class();
      if (noise) {
        tab.noise = check_transfer(Transfer(noise->first, to, to), noise->second, true);
        tab.noise_a = noise->first.source;
        tab.noise_b = noise->second.source;
        tab.command += " --noise " + shown(t.noise[0], root) + " " + shown(t.noise[1], root);
      }
      if (t.exact_only)
        tab.command += " --exact-only";
      table = render_transfer_markdown(tab);
    }
  }
  std::vector<OutputFile> files;
  if (!t.output.empty())
    files.push_back({t.output, "--output", predicted});
  if (measured)
    files.push_back({t.md.empty() ? "-" : t.md, t.md.empty() ? "" : "--md", table});
  write_outputs(files);
  return true;
}

} // namespace moesim
