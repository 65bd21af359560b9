// What-ifs: `--set key=value` (and each value of `--sweep`). A key starting with "engine." sets an
// engine option of the study (core/engine_options.hpp: engine.sync_us=10, engine.cuda_graphs=true),
// checked as the study loader checks it; any other key edits the platforms' topology
// (topology/overrides.hpp: link.pcie.bandwidth=128GBps).
#pragma once
#include "core/schedule.hpp"
#include "topology/overrides.hpp"

#include <string>
#include <vector>

namespace moesim {

struct EngineSetting {
  std::string key; // without "engine."
  std::string value;
};

struct WhatIf {
  std::vector<Override> platform;     // topology edits, in the order given
  std::vector<EngineSetting> engine;  // engine options, in the order given
  std::vector<Override> given;        // every key=value as written, in the order given

  bool empty() const { return given.empty(); }
  // "link.pcie.bandwidth=128GBps, engine.sync_us=10" (the order given).
  std::string describe() const;
  // Whether `key` (as written, "engine.sync_us" or "p2p") is set.
  bool sets(const std::string& key) const;
};

// Adds "key=value"; throws InputError naming `flag` and the key for a malformed argument, an
// unknown key (listing both kinds) or a bad engine value. Topology values are checked when applied.
void add_what_if(WhatIf& w, const std::string& arg, const std::string& flag);
// The same for a key and value given apart (a sweep's value).
void add_what_if(WhatIf& w, const Override& kv, const std::string& flag);
// Whether `key` is an engine option ("engine.sync_us"), not a topology edit.
bool is_engine_what_if(const std::string& key);
// `base` with the engine settings applied, in order.
EngineParams apply_engine_settings(EngineParams base, const std::vector<EngineSetting>& settings);

// The keys for --set and --sweep, one per line with what they do (for --help).
std::string what_if_keys_help();

} // namespace moesim
