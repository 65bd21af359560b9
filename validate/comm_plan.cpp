#include "validate/comm_plan.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace moesim::validate {

namespace {

const char* const fix = "regenerate the file with `moesim schedule`";

std::string where(int rank, const Op& op)
{
  return "ranks[" + std::to_string(rank) + "].ops[" + std::to_string(op.id) + "] (" + op.name + ")";
}

// One send or receive as both sides must agree on it.
struct P2p {
  int tag = -1;
  double bytes = 0;
  bool operator==(const P2p&) const = default;
};

void check_layout(const Schedule& s, const std::string& file)
{
  const int world = s.layout.world;
  if (static_cast<int>(s.ranks.size()) != world)
    throw InputError(file, "ranks",
                     "has " + std::to_string(s.ranks.size()) + " ranks but world is " + std::to_string(world), fix);
  for (int r = 0; r < world; r++)
    if (s.ranks[r].rank != r)
      throw InputError(file, "ranks[" + std::to_string(r) + "].rank",
                       "is " + std::to_string(s.ranks[r].rank) + ", expected " + std::to_string(r), fix);
  for (const Group& g : s.layout.groups)
    for (std::size_t i = 0; i < g.ranks.size(); i++)
      if (g.ranks[i] < 0 || g.ranks[i] >= world || (i > 0 && g.ranks[i] <= g.ranks[i - 1]))
        throw InputError(file, "groups[" + std::to_string(g.id) + "].ranks",
                         "must be distinct ranks of the world (0.." + std::to_string(world - 1) + ") in ascending order",
                         fix);
}

// Every collective's rank is in its group, and an all-to-all has one peer_bytes entry per member.
void check_collective(const Schedule& s, int r, const Op& op, const std::string& file)
{
  const auto& groups = s.layout.groups;
  if (op.group < 0 || op.group >= static_cast<int>(groups.size()))
    throw InputError(file, where(r, op) + ".group", "group " + std::to_string(op.group) + " does not exist", fix);
  const Group& g = groups[op.group];
  if (std::find(g.ranks.begin(), g.ranks.end(), r) == g.ranks.end())
    throw InputError(file, where(r, op) + ".group",
                     "rank " + std::to_string(r) + " is not a member of group " + std::to_string(g.id), fix);
  if (op.kind == OpKind::all_to_all && !op.peer_bytes.empty() && op.peer_bytes.size() != g.ranks.size())
    throw InputError(file, where(r, op) + ".peer_bytes",
                     "has " + std::to_string(op.peer_bytes.size()) + " entries for a group of " +
                         std::to_string(g.ranks.size()),
                     fix);
}

// The sends from r to p match the receives on p from r one for one, in order. Returns whether
// there is any point-to-point op at all.
bool check_p2p(const Schedule& s, const std::string& file)
{
  const int world = s.layout.world;
  std::map<std::pair<int, int>, std::vector<P2p>> sends, recvs; // by (from, to), in issue order
  std::map<std::pair<int, int>, std::pair<int, const Op*>> first_send, first_recv;
  for (int r = 0; r < world; r++)
    for (const Op& op : s.ranks[r].ops) {
      if (op_class(op.kind) != OpClass::p2p)
        continue;
      if (op.peer < 0 || op.peer >= world || op.peer == r)
        throw InputError(file, where(r, op) + ".peer",
                         "peer " + std::to_string(op.peer) + " is not another rank of the world (0.." +
                             std::to_string(world - 1) + ")",
                         fix);
      const bool send = op.kind == OpKind::send;
      const std::pair<int, int> key = send ? std::pair{r, op.peer} : std::pair{op.peer, r};
      (send ? sends : recvs)[key].push_back({op.tag, op.comm_bytes});
      (send ? first_send : first_recv).try_emplace(key, r, &op);
    }
  for (const auto& [key, list] : sends)
    if (auto it = recvs.find(key); it == recvs.end() || it->second != list) {
      const auto [r, op] = first_send.at(key);
      throw InputError(file, where(r, *op),
                       "the sends from rank " + std::to_string(key.first) + " to rank " + std::to_string(key.second) +
                           " do not match the receives there one for one (tag and bytes, in order)",
                       fix);
    }
  for (const auto& [key, list] : recvs)
    if (!sends.count(key)) {
      const auto [r, op] = first_recv.at(key);
      throw InputError(file, where(r, *op),
                       "receives " + std::to_string(list.size()) + " time(s) from rank " + std::to_string(key.first) +
                           ", which sends nothing to rank " + std::to_string(key.second),
                       fix);
    }
  return !sends.empty();
}

} // namespace

std::string join(const std::vector<int>& v)
{
  std::string s;
  for (int x : v) {
    if (!s.empty())
      s += ' ';
    s += std::to_string(x);
  }
  return s;
}

CommPlan plan_communicators(const Schedule& s, const std::string& file)
{
  check_layout(s, file);
  const int world = s.layout.world;
  const auto& groups = s.layout.groups;

  std::vector<bool> used(groups.size(), false);
  for (int r = 0; r < world; r++)
    for (const Op& op : s.ranks[r].ops)
      if (op_class(op.kind) == OpClass::collective) {
        check_collective(s, r, op, file);
        used[op.group] = true;
      }

  CommPlan plan;
  std::vector<int> comm_of(groups.size(), -1);
  std::map<std::vector<int>, int> by_ranks;
  for (std::size_t g = 0; g < groups.size(); g++) {
    if (!used[g])
      continue;
    auto [it, fresh] = by_ranks.try_emplace(groups[g].ranks, static_cast<int>(plan.comms.size()));
    if (fresh)
      plan.comms.push_back({{}, "", groups[g].ranks});
    CommSpec& c = plan.comms[it->second];
    c.groups.push_back(static_cast<int>(g));
    if (!c.kind.empty())
      c.kind += '+';
    c.kind += to_string(groups[g].kind);
    comm_of[g] = it->second;
  }

  // NCCL matches the operations of a communicator by their order on each member.
  std::vector<std::map<int, std::vector<int>>> order(plan.comms.size()); // [comm][rank]: coll ids in issue order
  for (int r = 0; r < world; r++)
    for (const Op& op : s.ranks[r].ops)
      if (op_class(op.kind) == OpClass::collective)
        order[comm_of[op.group]][r].push_back(op.coll);
  for (std::size_t c = 0; c < plan.comms.size(); c++) {
    const int first = plan.comms[c].ranks.front();
    for (int m : plan.comms[c].ranks)
      if (order[c][m] != order[c][first])
        throw InputError(file, "ranks[" + std::to_string(m) + "]",
                         "issues the collectives of the " + plan.comms[c].kind + " communicator over ranks " +
                             join(plan.comms[c].ranks) + " in another order or number than rank " +
                             std::to_string(first) + " (NCCL would hang)",
                         fix);
  }

  if (check_p2p(s, file)) {
    CommSpec p2p{{}, "p2p", {}};
    for (int r = 0; r < world; r++)
      p2p.ranks.push_back(r);
    plan.comms.push_back(std::move(p2p));
  }
  plan.rank_comms.resize(world);
  for (std::size_t c = 0; c < plan.comms.size(); c++)
    for (int m : plan.comms[c].ranks)
      plan.rank_comms[m].push_back(static_cast<int>(c));
  return plan;
}

} // namespace moesim::validate
