// What-if edits of a topology, one `key=value` each: `moesim run --set link.pcie.bandwidth=128GBps`,
// `--sweep gpu.mem_bw=2TBps,4TBps`. Applied to the model before routes are computed, so a P2P or
// bandwidth change re-routes exactly as a new YAML would.
#pragma once
#include "topology/topology.hpp"

#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct Override {
  Override(std::string k, std::string v, std::string f = "") : key(std::move(k)), value(std::move(v)), flag(std::move(f)) {}
  std::string key;
  std::string value;
  std::string flag; // the flag that carried it (--set, --sweep), named in errors; "" = the caller's
};

// "key=value" -> Override; throws InputError naming `flag` when there is no '=' or the key is unknown.
Override parse_override(const std::string& arg, const std::string& flag);
// The keys, one per line with what they do (for errors and --help).
std::string override_keys_help();
// Throws InputError naming `flag` and listing the valid keys when `key` is not one.
void check_override_key(const std::string& key, const std::string& flag);

// Applies one override; returns false when the topology has nothing the key edits (link.nic.*,
// pxn, gpudirect or network.oversubscription without a network, a link class the machine lacks,
// p2p_level without P2P), so that callers can refuse or report a what-if that changes nothing.
// Throws InputError naming o.flag (else `flag`) for a bad value.
bool apply_override(Topology& t, const Override& o, const std::string& flag);

// The value as a number in SI units (B/s, s, B, FLOP/s, or a plain ratio) for plotting a sweep;
// nullopt for on/off and named values. Throws InputError naming `flag` for a malformed value.
std::optional<double> override_number(const Override& o, const std::string& flag);
// Checks a value without a topology at hand (what --sweep does before running anything).
void check_override_value(const Override& o, const std::string& flag);
// An SI number of `key`'s dimension for people: "96.5 GB/s", "3.2 us", "1.2 PFLOP/s".
std::string format_override_number(const std::string& key, double v);

} // namespace moesim
