// The schedule format's JSON Schema (docs/schedule/moesim-schedule-2.schema.json) against every
// schedule the zoo's studies produce: each study of workloads/studies/ and validate/matrix/, each
// plan and batch, eager and under CUDA graphs, on as many GPUs as the plan takes (a schedule
// depends on the platform only through that count). Each must also read back into the same
// schedule. The schema must refuse what the C++ reader refuses, and name exactly the op kinds,
// families, roles and dtypes the code knows.
#include "core/error.hpp"
#include "core/model.hpp"
#include "core/schedule_builder.hpp"
#include "core/schedule_json.hpp"
#include "core/study.hpp"

#include "../../heavy_stride.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <filesystem>
#include <fstream>
#include <set>

using namespace moesim;
namespace fs = std::filesystem;

namespace {

const std::string root = MOESIM_SOURCE_DIR;

nlohmann::json read_json(const fs::path& p)
{
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

class SchemaCheck {
public:
  SchemaCheck() : doc_(read_json(fs::path(root) / "docs/schedule/moesim-schedule-2.schema.json"))
  {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(doc_);
    parser.populateSchema(adapter, schema_);
  }
  const nlohmann::json& doc() const { return doc_; }
  // "" when `j` is valid, else the first error with its path.
  std::string errors(const nlohmann::json& j) const
  {
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(j);
    if (validator.validate(schema_, target, &results))
      return "";
    valijson::ValidationResults::Error e;
    std::string out;
    while (results.popError(e) && out.size() < 2000) {
      std::string path;
      for (const auto& c : e.context)
        path += c;
      out += path + ": " + e.description + "\n";
    }
    return out;
  }

private:
  nlohmann::json doc_;
  valijson::Schema schema_;
};

const SchemaCheck& schema()
{
  static const SchemaCheck s;
  return s;
}

std::vector<fs::path> studies()
{
  std::vector<fs::path> v;
  for (const char* dir : {"workloads/studies", "validate/matrix"})
    for (const auto& e : fs::directory_iterator(fs::path(root) / dir))
      if (e.path().extension() == ".yaml")
        v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

std::set<std::string> enum_of(const nlohmann::json& node)
{
  std::set<std::string> s;
  for (const auto& v : node.at("enum"))
    s.insert(v.get<std::string>());
  return s;
}

Schedule small_schedule()
{
  const Study s = load_study_file(root + "/validate/matrix/val2-qwen3-30b-a3b.yaml", root);
  Model m = s.model;
  m.layers = 2;
  return build_schedule(m, make_layout(Plan::parse("ep2"), m, 2), StepShape{Phase::decode, 4, 64, 0},
                        BuildOptions{s.routing, s.engine, {}});
}

} // namespace

namespace {

// Checks the studies whose index in studies() is `shard` modulo `shards`; returns how many schedules.
// The zoo is split into shards so that CTest runs them side by side (under ASan+UBSan the whole zoo
// takes about twenty minutes on one core, most of it in the validator). With a heavy_stride() of N,
// each study's (plan, batch, graphs) combinations 0, N, 2N, ... only: every study keeps its first.
int check_shard(int shard, int shards)
{
  const int stride = heavy_stride();
  int checked = 0;
  const std::vector<fs::path> files = studies();
  for (std::size_t i = shard; i < files.size(); i += shards) {
    const fs::path& file = files[i];
    const Study s = load_study_file(file.string(), root);
    int combination = 0;
    for (const Plan& plan : s.plans)
      for (int batch : s.batches)
        for (bool graphs : {false, true}) {
          if (combination++ % stride != 0)
            continue;
          CAPTURE(file.filename().string(), plan.name, batch, graphs);
          const Layout L = make_layout(plan, s.model, plan.world());
          EngineParams engine = s.engine;
          engine.cuda_graphs = graphs;
          const StepShape step{s.phase, batch, s.context, s.prompt};
          const Schedule sched = build_schedule(s.model, L, step, BuildOptions{s.routing, engine, {}});
          const nlohmann::json j = schedule_to_json(sched);
          const std::string errors = schema().errors(j);
          INFO(errors);
          CHECK(errors.empty());
          CHECK(schedule_to_json(schedule_from_json(j, "round trip")) == j);
          checked++;
        }
  }
  return checked;
}

constexpr int schema_shards = 4;

} // namespace

// Each shard holds at least 3 of the 15 studies (5 in workloads/studies, 10 in validate/matrix),
// each with at least one plan and one batch, checked eager and under CUDA graphs: at least 6; with
// a stride above 1, at least each study's first combination: 3.
TEST_CASE("every schedule of the zoo's studies satisfies the JSON Schema (shard 1 of 4)", "[slow][heavy][schema]")
{
  CHECK(check_shard(0, schema_shards) >= (heavy_stride() == 1 ? 6 : 3));
}
TEST_CASE("every schedule of the zoo's studies satisfies the JSON Schema (shard 2 of 4)", "[slow][heavy][schema]")
{
  CHECK(check_shard(1, schema_shards) >= (heavy_stride() == 1 ? 6 : 3));
}
TEST_CASE("every schedule of the zoo's studies satisfies the JSON Schema (shard 3 of 4)", "[slow][heavy][schema]")
{
  CHECK(check_shard(2, schema_shards) >= (heavy_stride() == 1 ? 6 : 3));
}
TEST_CASE("every schedule of the zoo's studies satisfies the JSON Schema (shard 4 of 4)", "[slow][heavy][schema]")
{
  CHECK(check_shard(3, schema_shards) >= (heavy_stride() == 1 ? 6 : 3));
}

TEST_CASE("the shards together cover every study of the zoo, every (plan, batch) twice", "[quick][schema]")
{
  // 5 studies in workloads/studies and 10 in validate/matrix: every (plan, batch) twice, over 100.
  const std::vector<fs::path> files = studies();
  CHECK(files.size() == 15);
  std::size_t schedules = 0;
  for (const fs::path& file : files) {
    const Study s = load_study_file(file.string(), root);
    schedules += 2 * s.plans.size() * s.batches.size();
  }
  CHECK(schedules > 100);
}

TEST_CASE("the JSON Schema refuses what the schedule reader refuses", "[quick][schema]")
{
  const nlohmann::json good = schedule_to_json(small_schedule());
  REQUIRE(schema().errors(good).empty());
  auto refused = [](nlohmann::json j) {
    CHECK_FALSE(schema().errors(j).empty());
    CHECK_THROWS_AS(schedule_from_json(j, "t.json"), InputError);
  };
  nlohmann::json j = good;
  j["format"] = "moesim-schedule-1"; // the first format
  refused(j);
  // Rank 0's first rmsnorm (rows and width), and what each change does to it.
  std::size_t norm = 0;
  while (good["ranks"][0]["ops"][norm]["kind"] != "rmsnorm")
    norm++;
  auto changed = [&](auto edit) {
    nlohmann::json c = good;
    edit(c["ranks"][0]["ops"][norm]);
    return c;
  };
  refused(changed([](nlohmann::json& op) { op["shape"].erase("width"); }));  // a shape field missing
  refused(changed([](nlohmann::json& op) { op["shape"]["bogus"] = 1; }));     // an unknown key in a shape
  refused(changed([](nlohmann::json& op) { op["shape"]["width"] = 1.5; }));   // a fractional width
  refused(changed([](nlohmann::json& op) {                                    // a gemm's shape
    op["shape"] = {{"m", 1}, {"n", 2}, {"k", 3}, {"batch", 1}, {"out_dtype", "bf16"}};
  }));
  refused(changed([](nlohmann::json& op) { op["role"] = "qkv_proj"; }));    // an unknown role
  refused(changed([](nlohmann::json& op) { op["group"] = 0; }));            // a compute op with a communicator
  j = good;
  j["model_facts"].erase("vocab");
  refused(j);
}

TEST_CASE("a schedule carrying every optional engine setting satisfies the JSON Schema", "[quick][schema]")
{
  // What an engine profile may add to a step's engine (the Hopper gpt-oss rows of published.yaml set
  // moe_bandwidth_fraction 0.58 and moe_flops_fraction 0.40; trtllm-1.0 names moe_backend cutlass); the
  // writer puts each in the JSON only when set, and the schema must allow each (it lists its keys and
  // refuses others).
  Schedule sched = small_schedule();
  sched.engine.attention_bw_fraction = 0.85;
  sched.engine.moe_bw_fraction = 0.58;
  sched.engine.moe_flops_fraction = 0.40;
  sched.engine.moe_backend = MoeBackend::cutlass;
  const nlohmann::json j = schedule_to_json(sched);
  for (const char* key : {"attention_bw_fraction", "moe_bw_fraction", "moe_flops_fraction", "moe_backend"})
    REQUIRE(j.at("engine").contains(key));
  const std::string errors = schema().errors(j);
  INFO(errors);
  CHECK(errors.empty());
  CHECK(schedule_to_json(schedule_from_json(j, "round trip")) == j);
  // Out of (0, 1]: refused by both.
  nlohmann::json bad = j;
  bad["engine"]["moe_flops_fraction"] = 1.5;
  CHECK_FALSE(schema().errors(bad).empty());
  CHECK_THROWS_AS(schedule_from_json(bad, "t.json"), InputError);
}

TEST_CASE("the JSON Schema names the op kinds, families, roles and dtypes the code knows", "[quick][schema]")
{
  const nlohmann::json& d = schema().doc();
  const nlohmann::json& op = d.at("definitions").at("op").at("properties");
  std::set<std::string> kinds = enum_of(op.at("kind")), families = enum_of(op.at("family")),
                        roles = enum_of(op.at("role")), dtypes = enum_of(d.at("definitions").at("dtype"));
  // Each name the schema allows parses, and prints back as itself.
  for (const std::string& k : kinds)
    CHECK(to_string(parse_op_kind(k)) == k);
  for (const std::string& f : families)
    CHECK(to_string(parse_op_family(f)) == f);
  for (const std::string& r : roles)
    CHECK(to_string(parse_op_role(r)) == r);
  for (const std::string& t : dtypes)
    CHECK(to_string(parse_dtype(t)) == t);
  // And nothing the code knows is missing: the enums are dense from 0, so the schema lists as many
  // as there are values up to the last one (host_sync, pipeline, recv, mxfp4).
  CHECK(kinds.size() == static_cast<std::size_t>(OpKind::host_sync) + 1);
  CHECK(families.size() == static_cast<std::size_t>(OpFamily::pipeline) + 1);
  CHECK(roles.size() == static_cast<std::size_t>(OpRole::recv) + 1);
  CHECK(dtypes.size() == static_cast<std::size_t>(Dtype::mxfp4) + 1);
}
