#include "core/yaml_reader.hpp"

#include <filesystem>
#include <sstream>

namespace moesim {

YAML::Node load_yaml_file(const std::string& path)
{
  if (!std::filesystem::exists(path))
    throw InputError(path, "", "file not found", "check the path, or list the folder to see the available names");
  if (std::filesystem::is_directory(path))
    throw InputError(path, "", "is a folder, not a YAML file", "give the path of a .yaml file");
  try {
    YAML::Node n = YAML::LoadFile(path);
    if (!n.IsMap())
      throw InputError(path, "", "expected a YAML map at the top level", "write the file as `key: value` lines");
    return n;
  } catch (const YAML::Exception& e) {
    std::ostringstream where;
    where << path << ":" << (e.mark.line + 1);
    throw InputError(where.str(), "", "malformed YAML: " + e.msg, "fix the syntax at that line");
  }
}

Fields::Fields(const std::string& file, const YAML::Node& node, std::string where)
    : file_(file), node_(node), where_(std::move(where))
{
  if (!node_.IsMap())
    throw InputError(location(node_), where_.empty() ? "(top)" : where_, "expected a map of keys",
                     "write `key: value` entries here");
}

std::string Fields::location(const YAML::Node& n) const
{
  std::ostringstream s;
  s << file_;
  if (n.Mark().line >= 0)
    s << ":" << (n.Mark().line + 1);
  return s.str();
}

void Fields::fail(const std::string& key, const std::string& what, const std::string& fix) const
{
  YAML::Node n = node_[key];
  throw InputError(location(n && n.IsDefined() ? n : node_), path(key), what, fix);
}

bool Fields::has(const std::string& key) const
{
  return node_[key].IsDefined() && !node_[key].IsNull();
}

YAML::Node Fields::node(const std::string& key)
{
  used_.insert(key);
  if (!node_[key].IsDefined() || node_[key].IsNull())
    throw InputError(location(node_), path(key), "missing required key", "add `" + key + ": <value>`");
  return node_[key];
}

YAML::Node Fields::node_or_null(const std::string& key)
{
  used_.insert(key);
  if (!node_[key].IsDefined())
    throw InputError(location(node_), path(key), "missing required key", "add `" + key + ": <value>` (null if none)");
  return node_[key];
}

std::optional<YAML::Node> Fields::maybe(const std::string& key)
{
  used_.insert(key);
  if (!has(key))
    return std::nullopt;
  return node_[key];
}

std::string Fields::str(const std::string& key)
{
  YAML::Node n = node(key);
  if (!n.IsScalar())
    fail(key, "expected a single value", "write `" + key + ": <value>`");
  return n.Scalar();
}
std::string Fields::str(const std::string& key, const std::string& dflt)
{
  return has(key) ? str(key) : (used_.insert(key), dflt);
}

double Fields::num(const std::string& key)
{
  std::string s = str(key);
  try {
    size_t pos = 0;
    double v = std::stod(s, &pos);
    if (pos != s.size())
      throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    fail(key, "'" + s + "' is not a number", "write a plain number, e.g. `" + key + ": 4096`");
  }
}
double Fields::num(const std::string& key, double dflt)
{
  return has(key) ? num(key) : (used_.insert(key), dflt);
}

int Fields::integer(const std::string& key)
{
  double v = num(key);
  // Range first: casting a huge or non-finite double to an integer is undefined behaviour.
  if (!(v >= -2e9 && v <= 2e9) || v != static_cast<double>(static_cast<long long>(v)))
    fail(key, "expected an integer", "write a whole number");
  return static_cast<int>(v);
}
int Fields::integer(const std::string& key, int dflt)
{
  return has(key) ? integer(key) : (used_.insert(key), dflt);
}

bool Fields::boolean(const std::string& key)
{
  std::string s = str(key);
  if (s == "true" || s == "yes" || s == "on")
    return true;
  if (s == "false" || s == "no" || s == "off")
    return false;
  fail(key, "'" + s + "' is not a boolean", "write true or false");
}
bool Fields::boolean(const std::string& key, bool dflt)
{
  return has(key) ? boolean(key) : (used_.insert(key), dflt);
}

std::vector<std::string> Fields::str_list(const std::string& key)
{
  YAML::Node n = node(key);
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence())
    fail(key, "expected a value or a list", "write `" + key + ": [a, b]`");
  for (const auto& e : n) {
    if (!e.IsScalar())
      fail(key, "list entries must be single values", "write `" + key + ": [a, b]`");
    out.push_back(e.Scalar());
  }
  return out;
}

std::vector<int> Fields::int_list(const std::string& key)
{
  std::vector<int> out;
  for (const std::string& s : str_list(key)) {
    try {
      size_t pos = 0;
      long long v = std::stoll(s, &pos);
      if (pos != s.size() || v < 0 || v > 2000000000)
        throw std::invalid_argument(s);
      out.push_back(static_cast<int>(v));
    } catch (const std::exception&) {
      fail(key, "'" + s + "' is not a non-negative integer", "write whole numbers, e.g. `" + key + ": [1, 64]`");
    }
  }
  return out;
}

void Fields::finish() const
{
  for (const auto& kv : node_) {
    std::string k = kv.first.Scalar();
    if (!used_.count(k)) {
      std::string list;
      for (const auto& a : used_)
        list += (list.empty() ? "" : ", ") + a;
      throw InputError(location(kv.first), path(k), "unknown key", "remove it or use one of: " + list);
    }
  }
}

} // namespace moesim
