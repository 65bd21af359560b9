// A whole search (pipeline/search.hpp) on a small case, simulated: the candidates counted by hand,
// the same bytes for any -j, and shards merged equal to the unsharded search.
#include "core/error.hpp"
#include "pipeline/search.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

SearchRequest small()
{
  // Qwen3-30B-A3B (32 query heads, 4 KV heads, 128 experts of width 768, 48 layers) on two H100s:
  //   PP1, S=2: attention (TP2,DP1),(TP1,DP2) x MoE (TP2,EP1),(TP1,EP2): 4 a2a + 4 allgather
  //             + 2 allreduce (DP1 only)                 = 10
  //   PP2, S=1: one plan, microbatches 2 or 4            =  2
  // 12 plans x batch 8 x graphs off/on = 24 candidates. Batch 8 feeds every slot (at most DP2 x 1
  // or DP1 x 4 microbatches). Memory: 30.5 B parameters in bf16 = 61 GB; every plan spreads the
  // experts over both GPUs (30.5 GB each), and replicating attention (about 1.8 GB) and the
  // embeddings (1.2 GB) adds at most 3 GB: under 34 GB per GPU against 71.7 GiB usable (90% of an
  // H100's 79.6 GiB), so nothing is pruned.
  SearchRequest q;
  q.model = "qwen3-30b-a3b";
  q.platforms = {"nvswitch-2x-h100"};
  q.batches = {8};
  q.context = 1024;
  q.root = MOESIM_SOURCE_DIR;
  q.calibration = "none";
  return q;
}

} // namespace

TEST_CASE("search: 24 candidates on two GPUs, all simulated, same bytes for -j 1 and -j 2", "[slow][search]")
{
  const SearchResult one = run_search(small(), 1);
  CHECK(one.setup.candidates == 24);
  CHECK(one.rows.size() == 24);
  CHECK(one.analysis.simulated == 24);
  CHECK(one.analysis.pruned.empty());
  REQUIRE(one.analysis.best);
  CHECK(!one.analysis.pareto.empty());
  for (size_t k = 0; k < one.rows.size(); k++)
    CHECK(one.rows[k].key == k);
  size_t done = 0;
  const SearchResult two = run_search(small(), 2, [&](size_t d, size_t total) {
    CHECK(total == 24);
    done = d;
  });
  CHECK(done == 24);
  CHECK(search_to_json(one) == search_to_json(two));
}

TEST_CASE("search: shards 1/3, 2/3, 3/3 merged equal the unsharded search, byte for byte", "[slow][search]")
{
  const SearchResult whole = run_search(small(), 2);
  std::vector<std::pair<std::string, SearchResult>> shards;
  for (int i = 1; i <= 3; i++) {
    SearchRequest q = small();
    q.shard = std::to_string(i) + "/3";
    const SearchResult s = run_search(q, 2);
    CHECK(s.rows.size() == 8); // keys i-1, i+2, ... of 24
    // Through the JSON, as --merge reads them.
    shards.push_back({"shard" + std::to_string(i), search_from_json(search_to_json(s), "shard")});
  }
  // Given in any order.
  std::swap(shards[0], shards[2]);
  CHECK(search_to_json(merge_search(shards)) == search_to_json(whole));
  // A missing shard or one given twice is refused.
  CHECK_THROWS_AS(merge_search({shards[0], shards[1]}), InputError);
  CHECK_THROWS_AS(merge_search({shards[0], shards[1], shards[2], shards[2]}), InputError);
}

TEST_CASE("search: --seeds 2 gives p50 = the faster seed and p90 = the slower", "[slow][search]")
{
  // Nearest rank over two values: p50 the ceil(1.0) = 1st smallest, p90 the ceil(1.8) = 2nd.
  SearchRequest q = small();
  q.routing = "zipf:1.2";
  q.graphs = "on";
  q.seeds = 2;
  const SearchResult r = run_search(q, 2);
  REQUIRE(r.rows.size() == 12);
  int differ = 0;
  for (const SearchRow& w : r.rows) {
    CHECK(w.band.seeds == 2);
    CHECK(w.band.step_time.p90 >= w.band.step_time.p50);
    CHECK(w.band.tok_s_user.p90 <= w.band.tok_s_user.p50);
    differ += w.band.step_time.p90 > w.band.step_time.p50;
  }
  // Skewed routing with EP: the two seeds put hot experts on different GPUs at least somewhere.
  CHECK(differ > 0);
  q.seeds = 1;
  const SearchResult s1 = run_search(q, 2);
  for (size_t k = 0; k < r.rows.size(); k++) {
    const double t = s1.rows[k].band.step_time.p50; // seed 1 alone
    CHECK((t == r.rows[k].band.step_time.p50 || t == r.rows[k].band.step_time.p90));
  }
}

TEST_CASE("search: bad input is an InputError before anything runs", "[quick][search]")
{
  auto with = [](auto edit) {
    SearchRequest q = small();
    edit(q);
    return q;
  };
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.model = "no-such-model"; }), 1), InputError);
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.platforms = {"no-such-platform"}; }), 1), InputError);
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.gpus = 8; }), 1), InputError);
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.slo = "tpot=fast"; }), 1), InputError);
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.shard = "4/3"; }), 1), InputError);
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.seeds = 3; }), 1), InputError); // uniform routing
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.rank = "p99"; }), 1), InputError);
  CHECK_THROWS_AS(run_search(with([](SearchRequest& q) { q.routing = "zipf:x"; }), 1), InputError);
}
