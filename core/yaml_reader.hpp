// Strict YAML reading for the loaders: every map is read through a Fields object that remembers
// which keys were consumed and rejects the rest, and every error says file:line: key: what, fix.
// yaml-cpp appears only here and in the *_loader.cpp files.
#pragma once
#include "core/error.hpp"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace moesim {

// Loads a YAML file; a missing file or a syntax error becomes an InputError.
YAML::Node load_yaml_file(const std::string& path);

class Fields {
public:
  // `where` is the dotted key path of this map ("" at top level).
  Fields(const std::string& file, const YAML::Node& node, std::string where);

  bool has(const std::string& key) const;
  YAML::Node node(const std::string& key); // required
  std::optional<YAML::Node> maybe(const std::string& key);
  // Required key whose value may be null (`key: null`, `key: ~`).
  YAML::Node node_or_null(const std::string& key);

  std::string str(const std::string& key);
  std::string str(const std::string& key, const std::string& dflt);
  double num(const std::string& key);
  double num(const std::string& key, double dflt);
  int integer(const std::string& key);
  int integer(const std::string& key, int dflt);
  bool boolean(const std::string& key);
  bool boolean(const std::string& key, bool dflt);
  // A scalar or a list of scalars, as strings / ints.
  std::vector<std::string> str_list(const std::string& key);
  std::vector<int> int_list(const std::string& key);

  // Call after reading every key: throws for any key that was not asked for, listing those that were.
  void finish() const;

  std::string path(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }
  std::string location(const YAML::Node& n) const; // "file:line"
  [[noreturn]] void fail(const std::string& key, const std::string& what, const std::string& fix) const;
  const std::string& file() const { return file_; }

private:
  std::string file_;
  YAML::Node node_;
  std::string where_;
  mutable std::set<std::string> used_;
};

} // namespace moesim
