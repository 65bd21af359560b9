#include "validate/nccl_env.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>

namespace moesim::validate {

std::string force_nvls_off()
{
  const char* old = std::getenv("NCCL_NVLS_ENABLE");
  std::string note;
  if (old && std::string(old) != "0")
    note = std::string("NCCL_NVLS_ENABLE was ") + old + ", set to 0 (NVLink multicast stays off on these machines)";
  setenv("NCCL_NVLS_ENABLE", "0", 1);
  return note;
}

std::vector<std::pair<std::string, std::string>> nccl_env()
{
  std::vector<std::pair<std::string, std::string>> v;
  for (const char* name : {"NCCL_P2P_DISABLE", "NCCL_NVLS_ENABLE", "NCCL_ALGO", "NCCL_PROTO"}) {
    const char* value = std::getenv(name);
    v.emplace_back(name, value ? value : "");
  }
  return v;
}

std::string describe_nccl_env()
{
  std::string s;
  for (const auto& [name, value] : nccl_env())
    s += (s.empty() ? "" : " ") + name + "=" + (value.empty() ? "<unset>" : value);
  return s;
}

nlohmann::json nccl_env_json()
{
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : nccl_env())
    j[name] = value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
  return j;
}

} // namespace moesim::validate
