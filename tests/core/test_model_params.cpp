// Every workloads/models/*.yaml with an `official:` block must reproduce its vendor's total and
// active parameter counts within the file's own tolerance (a model nobody published has none), and
// the model loader must reject malformed files.
#include "tests/temp_dir.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using moesim::InputError;
using moesim::load_model_file;

namespace {

const fs::path models_dir = fs::path(MOESIM_SOURCE_DIR) / "workloads" / "models";

std::vector<fs::path> model_files()
{
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(models_dir))
    if (e.is_regular_file() && e.path().extension() == ".yaml")
      v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

double rel_diff(double computed, double official) { return std::abs(computed - official) / official; }

struct TempDir : moesim::test::TempDir {
  TempDir() : moesim::test::TempDir("moesim_test_model_params") {}
};

// A minimal valid model file; the rejection tests below break it one key at a time.
const std::string valid_yaml = R"(name: Tiny
source: "test"
hidden: 64
layers: 2
dense_layers: 0
vocab: 100
tied_embeddings: false
attention:
  kind: gqa
  q_heads: 4
  kv_heads: 2
  head_dim: 16
moe:
  experts: 4
  top_k: 2
  expert_intermediate: 32
dtypes:
  expert_weights: bf16
  dense_weights: bf16
  embeddings: bf16
  activations: bf16
  kv_cache: bf16
official:
  total: 1e6
  active: 1e6
  source: "test"
)";

std::string replace_once(std::string s, const std::string& from, const std::string& to)
{
  auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

} // namespace

TEST_CASE("every model file reproduces its official parameter counts", "[quick][model]")
{
  const std::vector<fs::path> files = model_files();
  REQUIRE(!files.empty());

  std::vector<std::string> stems;
  for (const auto& f : files)
    stems.push_back(f.stem().string());
  for (const char* expected :
       {"deepseek-v3", "deepseek-v2-lite", "kimi-k2", "qwen3-coder-480b-a35b", "qwen3-235b-a22b",
        "qwen3-30b-a3b", "glm-4.5", "glm-4.5-air", "mixtral-8x7b", "mixtral-8x22b", "gpt-oss-120b",
        "gpt-oss-20b", "llama-4-maverick", "llama-4-scout"}) {
    INFO("expected workloads/models/" << expected << ".yaml");
    CHECK(std::find(stems.begin(), stems.end(), expected) != stems.end());
  }

  int checked = 0;
  for (const auto& f : files) {
    INFO("model file: " << f.string());
    const moesim::ModelFile mf = load_model_file(f.string());
    const moesim::ParamCounts c = mf.model.param_counts();
    CHECK(c.active <= c.total);
    if (!mf.official)
      continue; // nobody published counts for it
    checked++;
    const auto& off = *mf.official;
    REQUIRE(off.total > 0);
    REQUIRE(off.active > 0);
    REQUIRE(off.tolerance_total > 0);
    REQUIRE(off.tolerance_active > 0);

    const double active = off.comparable_active(mf.model);
    INFO("total computed " << c.total / 1e9 << "B vs official " << off.total / 1e9 << "B");
    INFO("active computed " << active / 1e9 << "B vs official " << off.active / 1e9 << "B"
                            << (off.active_counts_input_embedding ? "" : " (input embedding excluded)")
                            << (off.active_counts_lm_head ? "" : " (LM head excluded)"));
    INFO("tolerances " << off.tolerance_total << " / " << off.tolerance_active);
    // CHECK rather than REQUIRE so that one run reports every model that is off.
    CHECK(rel_diff(c.total, off.total) <= off.tolerance_total);
    CHECK(rel_diff(active, off.active) <= off.tolerance_active);
  }
  CHECK(checked >= 14); // the zoo: every vendor model above has its figures
}

TEST_CASE("Mixtral-8x7B total parameters, derived by hand", "[quick][model]")
{
  // config.json: hidden 4096, 32 layers, 32 q heads / 8 kv heads of 128, vocab 32000 (untied),
  // 8 experts of intermediate 14336, top-2, no dense layer, no shared expert.
  //   embedding + LM head : 2 * 4096 * 32000                        =    262,144,000
  //   attention per layer : q,o 2 * 4096*4096 + k,v 2 * 4096*1024   =     41,943,040
  //                  x 32                                           =  1,342,177,280
  //   one expert          : 3 * 4096 * 14336                        =    176,160,768
  //   MoE per layer       : 8 * 176,160,768 + router 4096 * 8       =  1,409,318,912
  //                  x 32                                           = 45,098,205,184
  //   total                                                         = 46,702,526,464
  // (HF's 46,702,792,704 adds the 65 RMSNorm weight vectors, 65 * 4096 = 266,240.)
  // Active: same with 2 experts per layer: 32 * (2 * 176,160,768 + 32,768) = 11,275,337,728,
  // plus 262,144,000 + 1,342,177,280                                = 12,879,659,008
  const auto mf = load_model_file((models_dir / "mixtral-8x7b.yaml").string());
  const moesim::ParamCounts c = mf.model.param_counts();
  CHECK(c.total == 46702526464.0);
  CHECK(c.active == 12879659008.0);
  CHECK(c.input_embedding == 131072000.0);
  CHECK(mf.model.moe_layer_count() == 32);
}

TEST_CASE("quantized dense weights leave the routers unquantized", "[quick][model]")
{
  // Mixtral-8x7B as above: 46,702,526,464 parameters, 2 bytes each in bf16 = 93,405,052,928 B.
  // With fp8 dense weights only the attention projections shrink, to 1 B plus a 4-byte scale per
  // 128 x 128 block (1 + 1/4096 B): 32 x 41,943,040 = 1,342,177,280 weights x (1 - 1/4096) B =
  // 1,341,849,600 B less. The 32 routers (32 x 4096 x 8 = 1,048,576 weights) stay in the
  // activations' bf16, as quantized checkpoints leave the gate out (ModelOpt's exclude_modules
  // lists every mlp.gate); counted as dense they would take 1,048,320 B less.
  auto mf = load_model_file((models_dir / "mixtral-8x7b.yaml").string());
  CHECK(mf.model.weight_bytes() == 93405052928.0);
  mf.model.dtypes.dense_weights = moesim::Dtype::fp8;
  CHECK(mf.model.weight_bytes() == Approx(93405052928.0 - 1341849600.0).epsilon(1e-12));
}

TEST_CASE("Llama-4-Maverick alternates dense and MoE layers", "[quick][model]")
{
  const auto mf = load_model_file((models_dir / "llama-4-maverick.yaml").string());
  CHECK(mf.model.moe_layer_count() == 24);
  CHECK_FALSE(mf.model.is_moe_layer(0));
  CHECK(mf.model.is_moe_layer(1));
  CHECK(mf.model.is_moe_layer(47));
}

TEST_CASE("GLM-4.5 active counts exclude embedding and LM head", "[quick][model]")
{
  // Zhipu's active figures match the count without both the embedding table and the LM head:
  // active - 2 * vocab * hidden. The files say so (active_counts_input_embedding and
  // active_counts_lm_head false); check the loader applies both.
  for (const char* file : {"glm-4.5.yaml", "glm-4.5-air.yaml"}) {
    INFO(file);
    const auto mf = load_model_file((models_dir / file).string());
    REQUIRE_FALSE(mf.model.tied_embeddings);
    const moesim::ParamCounts c = mf.model.param_counts();
    REQUIRE(mf.official);
    CHECK(mf.official->comparable_active(mf.model) == c.active - 2 * c.input_embedding);
  }
}

TEST_CASE("model loader accepts the minimal file used by the rejection tests", "[quick][model]")
{
  TempDir dir;
  const auto mf = load_model_file(dir.write("tiny.yaml", valid_yaml));
  CHECK(mf.model.name == "Tiny");
  CHECK(mf.model.moe.shared_experts == 0);
  REQUIRE(mf.official);
  CHECK(mf.official->tolerance_total == 0.01);
  CHECK(mf.official->tolerance_active == 0.01);
  CHECK(mf.official->active_counts_input_embedding);
}

TEST_CASE("a model nobody published loads without official counts", "[quick][model]")
{
  // The minimal file without its official block: the same model, no figures to check against.
  TempDir dir;
  const std::string text = valid_yaml.substr(0, valid_yaml.find("official:"));
  const auto mf = load_model_file(dir.write("what_if.yaml", text));
  CHECK_FALSE(mf.official);
  // hidden 64, 2 layers, vocab 100 untied, GQA 4 q / 2 kv heads of 16, 4 experts of 32, top-2:
  //   embedding + LM head  2 x 64 x 100                      = 12,800
  //   attention per layer  64 x (4 + 2 x 2) x 16 + 4 x 16 x 64 = 8,192 + 4,096 = 12,288; x 2 = 24,576
  //   expert               3 x 64 x 32                       = 6,144; router 64 x 4 = 256
  //   MoE per layer        4 x 6,144 + 256                   = 24,832; x 2 = 49,664
  //   total                12,800 + 24,576 + 49,664           = 87,040
  //   active: 2 experts    12,800 + 24,576 + 2 x (2 x 6,144 + 256) = 62,464
  CHECK(mf.model.param_counts().total == 87040.0);
  CHECK(mf.model.param_counts().active == 62464.0);
}

TEST_CASE("model loader rejects an unknown key", "[quick][model]")
{
  TempDir dir;
  SECTION("at top level")
  {
    const std::string p = dir.write("unknown_top.yaml", valid_yaml + "bogus_field: 3\n");
    REQUIRE_THROWS_AS(load_model_file(p), InputError);
    REQUIRE_THROWS_WITH(load_model_file(p), Catch::Contains("bogus_field") && Catch::Contains("unknown key"));
  }
  SECTION("inside a nested map")
  {
    const std::string p = dir.write("unknown_nested.yaml",
                                    replace_once(valid_yaml, "  head_dim: 16\n", "  head_dim: 16\n  rope_theta: 1e6\n"));
    REQUIRE_THROWS_AS(load_model_file(p), InputError);
    REQUIRE_THROWS_WITH(load_model_file(p), Catch::Contains("attention.rope_theta"));
  }
  SECTION("a GQA-only key in an MLA block")
  {
    std::string mla = replace_once(valid_yaml, "  kind: gqa\n", "  kind: mla\n");
    mla = replace_once(mla, "  head_dim: 16\n",
                       "  kv_lora_rank: 8\n  qk_nope_head_dim: 8\n  qk_rope_head_dim: 4\n  v_head_dim: 8\n");
    const std::string p = dir.write("mla_kv_heads.yaml", mla);
    REQUIRE_THROWS_WITH(load_model_file(p), Catch::Contains("attention.kv_heads"));
  }
}

TEST_CASE("model loader rejects a missing required key", "[quick][model]")
{
  TempDir dir;
  SECTION("top-level hidden")
  {
    const std::string p = dir.write("no_hidden.yaml", replace_once(valid_yaml, "hidden: 64\n", ""));
    REQUIRE_THROWS_AS(load_model_file(p), InputError);
    REQUIRE_THROWS_WITH(load_model_file(p), Catch::Contains("hidden") && Catch::Contains("missing required key"));
  }
  SECTION("moe.top_k")
  {
    const std::string p = dir.write("no_top_k.yaml", replace_once(valid_yaml, "  top_k: 2\n", ""));
    REQUIRE_THROWS_WITH(load_model_file(p), Catch::Contains("moe.top_k") && Catch::Contains("missing required key"));
  }
  SECTION("dense_intermediate when a layer is dense")
  {
    const std::string p = dir.write("no_dense_inter.yaml", replace_once(valid_yaml, "dense_layers: 0\n", "dense_layers: 1\n"));
    REQUIRE_THROWS_WITH(load_model_file(p), Catch::Contains("dense_intermediate"));
  }
}

TEST_CASE("model loader rejects a missing file", "[quick][model]")
{
  TempDir dir;
  const std::string p = (dir.path / "does_not_exist.yaml").string();
  REQUIRE_THROWS_AS(load_model_file(p), InputError);
  REQUIRE_THROWS_WITH(load_model_file(p), Catch::Contains("does_not_exist.yaml") && Catch::Contains("file not found"));
}
