#include "pipeline/what_if.hpp"

#include "core/engine_options.hpp"
#include "core/error.hpp"

namespace moesim {
namespace {

const std::string engine_prefix = "engine.";

std::string engine_keys()
{
  std::string s;
  for (const EngineOptionDoc& d : engine_option_docs())
    s += (s.empty() ? "" : ", ") + engine_prefix + d.key;
  return s;
}

} // namespace

std::string WhatIf::describe() const
{
  std::string s;
  for (const Override& o : given)
    s += (s.empty() ? "" : ", ") + o.key + "=" + o.value;
  return s;
}

bool WhatIf::sets(const std::string& key) const
{
  for (const Override& o : given)
    if (o.key == key)
      return true;
  return false;
}

bool is_engine_what_if(const std::string& key)
{
  return key.rfind(engine_prefix, 0) == 0;
}

void add_what_if(WhatIf& w, const Override& kv, const std::string& flag)
{
  if (is_engine_what_if(kv.key)) {
    const std::string key = kv.key.substr(engine_prefix.size());
    EngineParams scratch;
    if (auto problem = set_engine_option(scratch, key, kv.value))
      throw InputError(flag, kv.key, problem->what,
                       is_engine_option(key) ? problem->fix : "use one of " + engine_keys());
    w.engine.push_back({key, kv.value});
  } else {
    try {
      check_override_key(kv.key, flag);
    } catch (const InputError& e) {
      throw InputError(e.file(), e.key(), "unknown key", e.fix() + ", or an engine option: " + engine_keys());
    }
    w.platform.push_back(kv);
  }
  w.given.push_back(kv);
}

void add_what_if(WhatIf& w, const std::string& arg, const std::string& flag)
{
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    throw InputError(flag, arg, "expected key=value", "write e.g. " + flag + " link.pcie.bandwidth=128GBps");
  add_what_if(w, Override{arg.substr(0, eq), arg.substr(eq + 1)}, flag);
}

EngineParams apply_engine_settings(EngineParams base, const std::vector<EngineSetting>& settings)
{
  for (const EngineSetting& s : settings)
    if (auto problem = set_engine_option(base, s.key, s.value)) // checked by add_what_if: cannot happen
      throw std::logic_error("engine." + s.key + "=" + s.value + ": " + problem->what);
  return base;
}

std::string what_if_keys_help()
{
  std::string s = override_keys_help();
  for (const EngineOptionDoc& d : engine_option_docs())
    s += "  " + engine_prefix + d.key + ": " + d.what + "\n";
  return s;
}

} // namespace moesim
