// The memory-fit rule (pipeline/memory_fit.hpp): the busiest rank against the smallest GPU's usable
// memory, and a refusal with the numbers when it does not fit.
#include "core/model_loader.hpp"
#include "pipeline/memory_fit.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace moesim;

namespace {

struct Case {
  Model model;
  Layout layout;
  StepShape step;
  MemoryUse busiest;
  int busiest_rank = 0;
};

// Qwen3-30B-A3B under tp2xpp2 at batch 8, context 4096: pipeline stages hold different layers and
// the last holds the LM head, so the ranks differ.
Case qwen_tp2xpp2()
{
  Case c;
  c.model = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-30b-a3b.yaml").model;
  c.layout = make_layout(Plan::parse("tp2xpp2"), c.model, 4);
  c.step.batch = 8;
  c.step.context = 4096;
  for (int r = 0; r < 4; r++) {
    const MemoryUse m = memory_per_rank(c.model, c.layout, c.step, r);
    if (m.total() > c.busiest.total())
      c.busiest = m, c.busiest_rank = r;
  }
  return c;
}

} // namespace

TEST_CASE("memory fit: the busiest rank against the smallest GPU, utilisation applied", "[quick][pipeline]")
{
  const Case c = qwen_tp2xpp2();
  const double need = c.busiest.total();
  REQUIRE(need > 0);
  // GPUs of 2x and 4x what the busiest rank needs at utilisation 0.5: the smallest sets the
  // capacity, 0.5 x 2 need = need exactly: it fits (at or under the capacity fits).
  MemoryFit fit = check_memory_fit(c.model, c.layout, c.step, {4 * need, 2 * need, 4 * need, 4 * need}, 0.5);
  CHECK(fit.fits);
  CHECK(fit.capacity == 0.5 * 2 * need);
  CHECK(fit.busiest_rank == c.busiest_rank);
  CHECK(fit.busiest.total() == need);
  CHECK(fit.refusal.empty());
  // One GPU a GiB smaller than that: capacity need - 0.5 GiB, short by 0.5 GiB.
  const double gib = 1073741824.0;
  fit = check_memory_fit(c.model, c.layout, c.step, {4 * need, 2 * need - gib, 4 * need, 4 * need}, 0.5);
  CHECK_FALSE(fit.fits);
  CHECK(fit.capacity == Approx(need - 0.5 * gib).epsilon(1e-15));
  CHECK_THAT(fit.refusal, Catch::StartsWith("does not fit: GPU " + std::to_string(c.busiest_rank) + " needs ") &&
                              Catch::Contains("(50% of ") && Catch::EndsWith("short by 0.5 GiB"));
}

TEST_CASE("memory: a prefill step holds logits of each prompt's last token, a decode step of every token",
          "[quick][pipeline]")
{
  // Qwen3-30B-A3B (bf16 activations) on one GPU: hidden 2048, 128 experts top-8 of width 768,
  // vocab 151936. The largest live set of one step is the widest of: the attention projections
  // (2 x (32 + 2 x 4) x 128 = 10240 elements a token), the permuted top-k copies through the
  // expert MLP (8 x (2 x 2048 + 2 x 768) = 45056 a token) and the fp32 logits (151936 x 4 B a row);
  // plus the residual stream, 2 x 2048 elements a token.
  const Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-30b-a3b.yaml").model;
  const Layout L = make_layout(Plan::parse("tp1"), m, 1);
  // Prefill of 2 prompts of 4096: T = 8192 tokens. Experts: 8192 x 45056 x 2 B = 738,197,504 B;
  // logits of the 2 last tokens: 2 x 151936 x 4 = 1,215,488 B (all 8192 tokens' would be ~4.98 GB,
  // which the LM head never computes); residual 8192 x 2048 x 2 x 2 = 67,108,864 B.
  // 738,197,504 + 67,108,864 = 805,306,368 B.
  StepShape pre;
  pre.phase = Phase::prefill;
  pre.batch = 2;
  pre.prompt = 4096;
  CHECK(memory_per_rank(m, L, pre, 0).activations == Approx(805306368.0).epsilon(1e-12));
  // Decode of 8 sequences: T = 8. Logits 8 x 151936 x 4 = 4,861,952 B are the widest (experts
  // 8 x 45056 x 2 = 720,896 B); residual 8 x 2048 x 4 = 65,536 B: 4,927,488 B.
  StepShape dec;
  dec.batch = 8;
  dec.context = 1024;
  CHECK(memory_per_rank(m, L, dec, 0).activations == Approx(4927488.0).epsilon(1e-12));
}

TEST_CASE("memory: expert-parallel dispatch brings a GPU only its own experts' rows", "[quick][pipeline]")
{
  // Qwen3-30B-A3B (bf16 activations): hidden 2048, 128 experts top-8 of width 768, 32 query and 4
  // KV heads of 128. Prefill of 8 prompts of 1024 over dp4xep4: 2 prompts a replica, T = 2048
  // tokens on each GPU, 8192 in the stage. Each GPU holds 128 / 4 = 32 experts, so (balanced) it runs
  // 8192 x 8 x 32 / 128 = 16,384 expert rows, each 2 x 2048 + 2 x 768 = 5632 elements:
  // 16,384 x 5632 x 2 B = 184,549,376 B, the widest set (attention 2048 x 2 x (32 + 8) x 128 x 2 B =
  // 41,943,040; logits 2 x 151936 x 4 = 1,215,488). Residual 2048 x 2048 x 2 x 2 = 16,777,216 B.
  // 184,549,376 + 16,777,216 = 201,326,592 B. (Every stage token top-8 times over, as if each GPU ran
  // every expert, would be 8192 x 8 x 5632 x 2 = 738,197,504 B.)
  const Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-30b-a3b.yaml").model;
  StepShape pre;
  pre.phase = Phase::prefill;
  pre.batch = 8;
  pre.prompt = 1024;
  const Layout a2a = make_layout(Plan::parse("dp4xep4"), m, 4);
  REQUIRE(a2a.plan.expert_comm == ExpertComm::all_to_all);
  for (int r = 0; r < 4; r++)
    CHECK(memory_per_rank(m, a2a, pre, r).activations == Approx(201326592.0).epsilon(1e-12));
  // With 32 redundant expert slots (EPLB replicas) each GPU holds (128 + 32) / 4 = 40 of 160 slots:
  // 8192 x 8 x 40 / 160 = 16,384 rows again, the same bytes.
  Plan eplb = Plan::parse("dp4xep4");
  eplb.redundant_experts = 32;
  const Layout r32 = make_layout(eplb, m, 4);
  CHECK(memory_per_rank(m, r32, pre, 0).activations == Approx(201326592.0).epsilon(1e-12));
  // Through an all-gather (TensorRT-LLM's EP under attention DP) the fused kernel is handed all 8192
  // tokens and sizes its workspace for every expansion: 8192 x 8 x 5632 x 2 B = 738,197,504 B, plus
  // the residual: 754,974,720 B.
  const Layout ag = make_layout(Plan::parse("dp4xep4:allgather"), m, 4);
  CHECK(memory_per_rank(m, ag, pre, 0).activations == Approx(754974720.0).epsilon(1e-12));
}
