// validate/ without a GPU: what device_info reports, which communicators a schedule needs (and
// which schedules would hang NCCL), and the moesim-validate command line.
#include "tests/temp_dir.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "core/schedule_json.hpp"
#include "validate/comm_plan.hpp"
#include "validate/device_info.hpp"
#include "tests/validate/run_validate.hpp"

#include <catch2/catch.hpp>
#include <nccl.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace fs = std::filesystem;
using namespace moesim;
using validate::CommPlan;
using validate::plan_communicators;

namespace {

// A schedule of `world` ranks with the given groups and no op yet.
Schedule bare_schedule(int world, std::vector<std::pair<GroupKind, std::vector<int>>> groups)
{
  Schedule s;
  s.model = "test";
  s.layout.world = world;
  s.layout.plan.name = "test";
  for (auto& [kind, ranks] : groups) {
    Group g;
    g.id = static_cast<int>(s.layout.groups.size());
    g.kind = kind;
    g.ranks = ranks;
    s.layout.groups.push_back(g);
  }
  s.ranks.resize(world);
  for (int r = 0; r < world; r++)
    s.ranks[r].rank = r;
  return s;
}

void add_op(Schedule& s, int rank, OpKind kind, int group_or_peer, int coll_or_tag, double bytes = 64)
{
  Op op;
  op.id = static_cast<int>(s.ranks[rank].ops.size());
  op.name = std::string(to_string(kind)) + std::to_string(op.id);
  op.kind = kind;
  op.comm_bytes = bytes;
  if (op_class(kind) == OpClass::collective)
    op.group = group_or_peer, op.coll = coll_or_tag;
  else
    op.peer = group_or_peer, op.tag = coll_or_tag;
  s.ranks[rank].ops.push_back(op);
}

std::vector<int> comm_ranks(const CommPlan& p, int c)
{
  return p.comms.at(c).ranks;
}

Schedule built_schedule(const std::string& plan_spec)
{
  const Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-30b-a3b.yaml").model;
  const Layout L = make_layout(Plan::parse(plan_spec), m, 4);
  return build_schedule(m, L, StepShape{Phase::decode, 8, 128, 0}, BuildOptions{});
}

struct TempDir : moesim::test::TempDir {
  TempDir() : moesim::test::TempDir("moesim_test_validate") {}
};

using Run = test::ValidateRun;
using test::run_validate;

Layout validate_layout(const Model& m, const std::string& plan, int gpus)
{
  return make_layout(Plan::parse(plan), m, gpus);
}

} // namespace

TEST_CASE("version strings", "[quick]")
{
  CHECK(validate::cuda_version_string(12040) == "12.4");
  CHECK(validate::cuda_version_string(13000) == "13.0");
  CHECK(validate::cuda_version_string(0) == "");
  // NCCL_VERSION(2, 28, 9) = 2 * 10000 + 28 * 100 + 9 = 22809; before 2.9 it was X * 1000 + Y * 100 + Z.
  CHECK(validate::nccl_version_string(22809) == "2.28.9");
  CHECK(validate::nccl_version_string(2708) == "2.7.8");
  CHECK(validate::nccl_version_string(NCCL_VERSION(2, 19, 3)) == "2.19.3");
}

TEST_CASE("the driver version from /proc/driver/nvidia/version", "[quick]")
{
  CHECK(validate::driver_build_from("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:23 UTC "
                                    "2024") == "550.54.15");
  // The open kernel modules say "for x86_64" first (the lent VMs: "for" was taken for the version).
  CHECK(validate::driver_build_from("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
                                    "(dvs-builder@U22-I3-AF03-09-1)") == "580.159.04");
  CHECK(validate::driver_build_from("no marker here 1.2").empty());
  CHECK(validate::driver_build_from("Kernel Module for x86_64").empty());
}

TEST_CASE("device_info answers with or without a GPU", "[quick]")
{
  const validate::SystemInfo s = validate::query_system_info();
  CHECK(s.runtime_version > 0);
  CHECK(s.nccl_version == NCCL_VERSION_CODE); // the library linked is the one compiled against
  CHECK(static_cast<int>(s.devices.size()) == s.device_count);
  CHECK(s.no_device.empty() == (s.device_count > 0));
  const nlohmann::json j = validate::to_json(s);
  CHECK(j.at("device_count") == s.device_count);
  CHECK(j.at("nccl_version") == validate::nccl_version_string(NCCL_VERSION_CODE));
  for (const auto& d : s.devices) {
    CHECK(!d.name.empty());
    CHECK(d.memory_bytes > 0);
  }
}

TEST_CASE("communicators: one per rank set, shared by groups over the same ranks", "[quick]")
{
  // Groups 0 (attn_tp) and 1 (stage) both span ranks 0-1; group 2 (ep) spans 0-3 and group 3
  // (moe_tp) rank 0 alone, unused. Expected: comm 0 = ranks 0 1 for groups 0 and 1, comm 1 =
  // ranks 0-3 for group 2; ranks 0, 1 join both, ranks 2, 3 only comm 1.
  Schedule s = bare_schedule(4, {{GroupKind::attn_tp, {0, 1}},
                                 {GroupKind::stage, {0, 1}},
                                 {GroupKind::ep, {0, 1, 2, 3}},
                                 {GroupKind::moe_tp, {0}}});
  for (int r : {0, 1}) {
    add_op(s, r, OpKind::all_reduce, 0, 0);
    add_op(s, r, OpKind::all_gather, 1, 1);
  }
  for (int r = 0; r < 4; r++)
    add_op(s, r, OpKind::all_to_all, 2, 2);
  const CommPlan p = plan_communicators(s, "t.json");
  REQUIRE(p.comms.size() == 2);
  CHECK(comm_ranks(p, 0) == std::vector<int>{0, 1});
  CHECK(p.comms[0].groups == std::vector<int>{0, 1});
  CHECK(p.comms[0].kind == "attn_tp+stage");
  CHECK(comm_ranks(p, 1) == std::vector<int>{0, 1, 2, 3});
  CHECK(p.comms[1].kind == "ep");
  CHECK(p.rank_comms == std::vector<std::vector<int>>{{0, 1}, {0, 1}, {1}, {1}});
}

TEST_CASE("communicators: sends and receives get a world communicator of their own", "[quick]")
{
  // Rank 0 sends twice to rank 1 (tags 5, 6), which receives in the same order: matched. No
  // collective, so the only communicator is the p2p one over ranks 0-1.
  Schedule s = bare_schedule(2, {{GroupKind::stage, {0}}, {GroupKind::stage, {1}}});
  add_op(s, 0, OpKind::send, 1, 5);
  add_op(s, 0, OpKind::send, 1, 6);
  add_op(s, 1, OpKind::recv, 0, 5);
  add_op(s, 1, OpKind::recv, 0, 6);
  const CommPlan p = plan_communicators(s, "t.json");
  REQUIRE(p.comms.size() == 1);
  CHECK(p.comms[0].kind == "p2p");
  CHECK(p.comms[0].groups.empty());
  CHECK(comm_ranks(p, 0) == std::vector<int>{0, 1});
  CHECK(p.rank_comms == std::vector<std::vector<int>>{{0}, {0}});
}

TEST_CASE("communicators: schedules that would hang or misaddress are refused", "[quick]")
{
  auto refused = [](const Schedule& s) {
    try {
      plan_communicators(s, "bad.json");
    } catch (const InputError& e) {
      CHECK(e.file() == "bad.json");
      CHECK(!e.fix().empty());
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  Schedule base = bare_schedule(2, {{GroupKind::stage, {0, 1}}, {GroupKind::dp, {1}}});

  Schedule order = base; // rank 1 issues colls 1 then 0
  add_op(order, 0, OpKind::all_reduce, 0, 0);
  add_op(order, 0, OpKind::all_reduce, 0, 1);
  add_op(order, 1, OpKind::all_reduce, 0, 1);
  add_op(order, 1, OpKind::all_reduce, 0, 0);
  CHECK_THAT(refused(order), Catch::Contains("ranks[1]") && Catch::Contains("another order or number"));

  Schedule missing = base; // rank 1 skips the collective
  add_op(missing, 0, OpKind::all_reduce, 0, 0);
  CHECK_THAT(refused(missing), Catch::Contains("NCCL would hang"));

  Schedule member = base; // rank 0 uses group 1 = {1}
  add_op(member, 0, OpKind::all_reduce, 1, 0);
  CHECK_THAT(refused(member), Catch::Contains("ranks[0].ops[0] (all_reduce0).group") &&
                                  Catch::Contains("rank 0 is not a member of group 1"));

  Schedule a2a = base; // 3 peer sizes for a group of 2
  for (int r : {0, 1}) {
    add_op(a2a, r, OpKind::all_to_all, 0, 0);
    a2a.ranks[r].ops.back().peer_bytes = {1, 2, 3};
  }
  CHECK_THAT(refused(a2a), Catch::Contains("has 3 entries for a group of 2"));

  Schedule unmatched = base; // the receive has another tag
  add_op(unmatched, 0, OpKind::send, 1, 7);
  add_op(unmatched, 1, OpKind::recv, 0, 8);
  CHECK_THAT(refused(unmatched), Catch::Contains("do not match the receives"));

  Schedule sizes = base; // same tag, other size
  add_op(sizes, 0, OpKind::send, 1, 7, 100);
  add_op(sizes, 1, OpKind::recv, 0, 7, 200);
  CHECK_THAT(refused(sizes), Catch::Contains("do not match the receives"));

  Schedule orphan = base; // a receive nobody sends
  add_op(orphan, 1, OpKind::recv, 0, 7);
  CHECK_THAT(refused(orphan), Catch::Contains("which sends nothing to rank 1"));

  Schedule self = base;
  add_op(self, 0, OpKind::send, 0, 7);
  CHECK_THAT(refused(self), Catch::Contains("peer 0 is not another rank"));

  Schedule unsorted = base;
  unsorted.layout.groups[0].ranks = {1, 0};
  CHECK_THAT(refused(unsorted), Catch::Contains("groups[0].ranks"));
}

TEST_CASE("communicators of schedules the builder makes", "[quick]")
{
  // tp4 on 4 GPUs: attention TP and the MoE all-reduce both run over all four ranks (groups
  // attn_tp and stage have the same members), so one communicator serves every collective.
  const CommPlan tp4 = plan_communicators(built_schedule("tp4"), "tp4");
  REQUIRE(tp4.comms.size() == 1);
  CHECK(comm_ranks(tp4, 0) == std::vector<int>{0, 1, 2, 3});
  CHECK_THAT(tp4.comms[0].kind, Catch::Contains("attn_tp"));

  // tp2xpp2: two stages of two ranks; each stage's collectives stay inside it (ranks 0 1, ranks
  // 2 3), and stage 0 sends its hidden states to stage 1: the p2p communicator comes last.
  const CommPlan pp = plan_communicators(built_schedule("tp2xpp2"), "tp2xpp2");
  REQUIRE(pp.comms.size() == 3);
  CHECK(comm_ranks(pp, 0) == std::vector<int>{0, 1});
  CHECK(comm_ranks(pp, 1) == std::vector<int>{2, 3});
  CHECK(pp.comms[2].kind == "p2p");
  CHECK(pp.rank_comms == std::vector<std::vector<int>>{{0, 2}, {0, 2}, {1, 2}, {1, 2}});

  // ep4 (all-to-all dispatch): every plan the default study names must at least pass the checks.
  for (const char* spec : {"ep4", "pp4", "tp2xep2"})
    CHECK_NOTHROW(plan_communicators(built_schedule(spec), spec));
}

TEST_CASE("moesim-validate --info prints JSON", "[quick]")
{
  const Run r = run_validate("--info");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j.at("nccl_version") == validate::nccl_version_string(NCCL_VERSION_CODE));
  CHECK(j.at("devices").size() == j.at("device_count").get<std::size_t>());
}

TEST_CASE("moesim-validate --check-schedule", "[quick]")
{
  TempDir dir;
  const Schedule s = built_schedule("tp2xpp2");
  const std::string good = dir.write("tp2xpp2.json", schedule_to_json(s).dump());
  const Run ok = run_validate("--check-schedule '" + good + "'");
  INFO(ok.output);
  REQUIRE(ok.status == 0);
  CHECK_THAT(ok.output, Catch::Contains("world 4") && Catch::Contains("communicators: 3") &&
                            Catch::Contains("comm 2: p2p, ranks 0 1 2 3"));
  // Rank 0's row: its op count and its communicators, 0 and 2.
  CHECK_THAT(ok.output, Catch::Contains(std::to_string(s.ranks[0].ops.size())) && Catch::Contains("  0 2\n"));

  const Run missing = run_validate("--check-schedule '" + (dir.path / "nope.json").string() + "'");
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::StartsWith("moesim-validate: error: ") && Catch::Contains("nope.json") &&
                                 Catch::Contains("file not found"));

  const Run malformed = run_validate("--check-schedule '" + dir.write("bad.json", "{\"format\": ") + "'");
  CHECK(malformed.status == 2);
  CHECK_THAT(malformed.output, Catch::Contains("bad.json") && Catch::Contains("malformed JSON"));

  nlohmann::json j = schedule_to_json(s);
  j.erase("step"); // a missing object
  const Run shape = run_validate("--check-schedule '" + dir.write("shape.json", j.dump()) + "'");
  CHECK(shape.status == 2);
  CHECK_THAT(shape.output, Catch::Contains("shape.json: step: missing key"));

  j = schedule_to_json(s);
  j["format"] = "moesim-schedule-1"; // a file of the first format: refused with the fix
  const Run v1 = run_validate("--check-schedule '" + dir.write("v1.json", j.dump()) + "'");
  CHECK(v1.status == 2);
  CHECK_THAT(v1.output, Catch::Contains("v1.json: format: is moesim-schedule-1") &&
                            Catch::Contains("regenerate it with `moesim schedule`"));

  j = schedule_to_json(s);
  for (auto& op : j["ranks"][1]["ops"]) // rank 1's first collective gets another instance id
    if (op.contains("coll")) {
      op["coll"] = 999999;
      break;
    }
  const Run hang = run_validate("--check-schedule '" + dir.write("hang.json", j.dump()) + "'");
  CHECK(hang.status == 2);
  CHECK_THAT(hang.output, Catch::Contains("hang.json") && Catch::Contains("NCCL would hang"));

  // Head dims kernels::attention lacks (MLA prefill with qk 100, v 100): --check-schedule refuses
  // what run refuses, with the same line.
  Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/deepseek-v3.yaml").model;
  m.layers = 1;
  m.dense_layers = 1;
  m.attn.qk_nope_head_dim = 75, m.attn.qk_rope_head_dim = 25, m.attn.v_head_dim = 100;
  const Schedule odd = build_schedule(m, validate_layout(m, "tp2", 2), StepShape{Phase::prefill, 1, 0, 16}, {});
  const std::string odd_file = dir.write("odd.json", schedule_to_json(odd).dump());
  const Run checked = run_validate("--check-schedule '" + odd_file + "'");
  const Run ran = run_validate("run '" + odd_file + "' --out '" + dir.file("o.json") + "'");
  const std::string line = "moesim-validate: error: " + odd_file +
                           ": rank 0 op L0.attn.core: attention head dims (qk 100, v 100) are not supported";
  CHECK(checked.status == 2);
  CHECK(ran.status == 2);
  CHECK_THAT(checked.output, Catch::Contains(line));
  CHECK_THAT(ran.output, Catch::Contains(line));
  CHECK(checked.output.substr(checked.output.find(line)) == ran.output.substr(ran.output.find(line)));
  CHECK_FALSE(fs::exists(dir.file("o.json")));

  const Run usage = run_validate("--bogus");
  CHECK(usage.status == 2);
  CHECK_THAT(usage.output, Catch::StartsWith("usage: moesim-validate"));
}
