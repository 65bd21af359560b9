// Strict YAML reading for the loaders: every map is read through a Fields object that remembers
// which keys were consumed and rejects the rest (and a key written twice), every number is finite
// and, where the loader says so, in range, and every error says file:line: key: what, fix.
// yaml-cpp appears only here and in the *_loader.cpp files.
#pragma once
#include "core/error.hpp"
#include "core/numbers.hpp"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace moesim {

// Loads a YAML file; a missing file, one larger than limits::yaml_bytes, a syntax error or an
// alias (*name: moesim files repeat nothing by reference) or a second document becomes an InputError.
YAML::Node load_yaml_file(const std::string& path);
// The same from text already read; `file` names it in errors.
YAML::Node parse_yaml_text(const std::string& text, const std::string& file);
// Throws InputError at the second occurrence of a key of map `node`, or at a key that is not a
// plain scalar. Fields does this for every map it reads; call it for maps iterated directly.
void check_unique_keys(const std::string& file, const YAML::Node& node, const std::string& where);

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
  // Finite numbers ("inf" and "nan" are refused); with Bounds, also in range.
  double num(const std::string& key);
  double num(const std::string& key, double dflt);
  double num(const std::string& key, const Bounds& b);
  double num(const std::string& key, double dflt, const Bounds& b);
  int integer(const std::string& key);
  int integer(const std::string& key, int dflt);
  // Whole numbers in [lo, hi] (the message says the range).
  int integer_in(const std::string& key, int lo, int hi);
  int integer_in(const std::string& key, int dflt, int lo, int hi);
  bool boolean(const std::string& key);
  bool boolean(const std::string& key, bool dflt);
  // The scalar `n` inside this map's `key` (a list entry, a point of a curve, a map's value) as a
  // finite number in `b`; the message names n's line and the key.
  double num_at(const YAML::Node& n, const std::string& key, const Bounds& b) const;
  // A scalar or a non-empty list of at most `max` scalars, as strings / whole numbers in [lo, hi].
  std::vector<std::string> str_list(const std::string& key, size_t max = 1'000'000);
  std::vector<int> int_list(const std::string& key, int lo, int hi, size_t max);
  // The node of a list entry's value, for messages that name its line.
  YAML::Node list_entry(const std::string& key, size_t i);

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
