#include "core/yaml_reader.hpp"

#include "core/input_file.hpp"
#include "core/limits.hpp"

#include <yaml-cpp/eventhandler.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <vector>

namespace moesim {
namespace {

// The offset of the first byte that does not begin or continue a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points past U+10FFFF included), or npos.
std::size_t bad_utf8_at(const std::string& s)
{
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = b[i];
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xbf; // the allowed range of the second byte
    if (c < 0x80)
      len = 1;
    else if (c >= 0xc2 && c <= 0xdf)
      len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      lo = c == 0xe0 ? 0xa0 : 0x80;
      hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      lo = c == 0xf0 ? 0x90 : 0x80;
      hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
      return i;
    if (i + len > n)
      return i;
    for (std::size_t j = 1; j < len; j++) {
      const unsigned char d = b[i + j];
      if (j == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xbf))
        return i;
    }
    i += len;
  }
  return std::string::npos;
}

std::string at_line(const std::string& file, const YAML::Mark& m)
{
  return m.line >= 0 ? file + ":" + std::to_string(m.line + 1) : file;
}

// Walks one document's events (no nodes built), keeping the first alias, where each document
// starts, and the first key given twice in a map. yaml-cpp keeps the first of two equal keys and
// drops the second without a word; the loaders that read a map through Fields refuse it, but one
// iterated directly (a calibration's launch_us_by_op) would not, so the rule is kept here, once,
// for every map of every file.
class DocumentScan : public YAML::EventHandler {
public:
  struct Duplicate {
    YAML::Mark at;
    std::string key; // dotted path, "host.launch_us_by_op.gemm"
    int first_line = 0;
  };
  std::optional<YAML::Mark> alias;
  std::optional<Duplicate> duplicate;
  YAML::Mark start;
  void OnDocumentStart(const YAML::Mark& m) override { start = m; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { leaf(m, nullptr); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override
  {
    if (!alias)
      alias = m;
    leaf(m, nullptr);
  }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string& value) override
  {
    leaf(m, &value);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override
  {
    open(m, false);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override
  {
    open(m, true);
  }
  void OnMapEnd() override { close(); }

private:
  struct Frame {
    bool map = false;
    size_t items = 0;                // nodes seen in this collection (a map's keys are the even ones)
    std::string key;                 // a map's key whose value is being read
    std::map<std::string, int> keys; // a map's keys so far -> line
  };
  std::vector<Frame> frames_;

  bool at_key() const { return !frames_.empty() && frames_.back().map && frames_.back().items % 2 == 0; }
  void begin(const YAML::Mark& m, const std::string* scalar)
  {
    if (!at_key())
      return;
    Frame& f = frames_.back();
    f.key = scalar ? *scalar : "?";
    if (!scalar)
      return; // a null or collection key: Fields refuses it at the map that holds it
    auto [it, fresh] = f.keys.emplace(*scalar, m.line + 1);
    if (!fresh && !duplicate) {
      std::string path;
      for (const Frame& g : frames_)
        path += g.map ? (path.empty() ? "" : ".") + g.key : "[]"; // as Fields names it: kernels[].op
      duplicate = Duplicate{m, path, it->second};
    }
  }
  void leaf(const YAML::Mark& m, const std::string* scalar)
  {
    begin(m, scalar);
    if (!frames_.empty())
      frames_.back().items++;
  }
  void open(const YAML::Mark& m, bool map)
  {
    begin(m, nullptr);
    frames_.push_back(Frame{map, 0, {}, {}});
  }
  void close()
  {
    frames_.pop_back();
    if (!frames_.empty())
      frames_.back().items++;
  }
};

std::string quoted(const std::string& s)
{
  return "'" + (s.size() > 40 ? s.substr(0, 40) + "..." : s) + "'";
}

} // namespace

YAML::Node parse_yaml_text(const std::string& text, const std::string& path)
{
  try {
    // One pass over the events first, so that nothing is built for a file refused here.
    // An alias repeats a whole subtree by reference: a few lines could stand for billions of
    // entries. No moesim file needs one.
    // A moesim file is one document. yaml-cpp reads only the first and would drop the rest
    // unread; and past a stray flow indicator (`,` `]` `}` in block context) its parser returns
    // an empty document forever without advancing, so looping over documents never ends. The
    // scan asks for at most two.
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentScan scan;
    parser.HandleNextDocument(scan);
    if (scan.alias)
      throw InputError(at_line(path, *scan.alias), "", "a YAML alias (*name)",
                       "write the values out instead of referring to an anchor");
    if (scan.duplicate)
      throw InputError(at_line(path, scan.duplicate->at), scan.duplicate->key,
                       "given twice (first at line " + std::to_string(scan.duplicate->first_line) + ")",
                       "keep one of them");
    if (parser.HandleNextDocument(scan))
      throw InputError(at_line(path, scan.start), "", "text after the end of the first YAML document",
                       "keep one document per file: remove that line (a `---`, `...` or a stray `,` `]` `}`) and what follows");
    YAML::Node n = YAML::Load(text);
    if (!n.IsMap())
      throw InputError(path, "", "expected a YAML map at the top level", "write the file as `key: value` lines");
    return n;
  } catch (const YAML::Exception& e) {
    throw InputError(at_line(path, e.mark), "", "malformed YAML: " + e.msg, "fix the syntax at that line");
  }
}

YAML::Node load_yaml_file(const std::string& path)
{
  return parse_yaml_text(read_input_file(path, limits::yaml_bytes), path);
}

void check_unique_keys(const std::string& file, const YAML::Node& node, const std::string& where)
{
  std::map<std::string, int> seen; // key -> line
  for (const auto& kv : node) {
    const std::string path = where.empty() ? "" : where + ".";
    if (!kv.first.IsScalar())
      throw InputError(at_line(file, kv.first.Mark()), where.empty() ? "(top)" : where, "a key that is not a plain word",
                       "write `key: value` with a simple key");
    const std::string& k = kv.first.Scalar();
    if (auto [it, fresh] = seen.emplace(k, kv.first.Mark().line + 1); !fresh)
      throw InputError(at_line(file, kv.first.Mark()), path + k,
                       "given twice (first at line " + std::to_string(it->second) + ")", "keep one of them");
  }
}

Fields::Fields(const std::string& file, const YAML::Node& node, std::string where)
    : file_(file), node_(node), where_(std::move(where))
{
  if (!node_.IsMap())
    throw InputError(location(node_), where_.empty() ? "(top)" : where_, "expected a map of keys",
                     "write `key: value` entries here");
  check_unique_keys(file_, node_, where_);
}

std::string Fields::location(const YAML::Node& n) const
{
  return at_line(file_, n.Mark());
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
  // YAML is UTF-8 text; a value with other bytes would reach names, reports and JSON (which refuses it).
  if (const std::size_t at = bad_utf8_at(n.Scalar()); at != std::string::npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(n.Scalar()[at])));
    fail(key, "is not UTF-8 text (byte " + std::string(hex) + " at offset " + std::to_string(at) + ")",
         "write the value in UTF-8");
  }
  return n.Scalar();
}
std::string Fields::str(const std::string& key, const std::string& dflt)
{
  return has(key) ? str(key) : (used_.insert(key), dflt);
}

double Fields::num(const std::string& key)
{
  const std::string s = str(key);
  if (const std::optional<double> v = parse_number(s))
    return *v;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  std::string lower = s;
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool yaml_special = lower == ".inf" || lower == "-.inf" || lower == "+.inf" || lower == ".nan"; // YAML's spellings
  const bool non_finite = yaml_special || (!s.empty() && end == s.c_str() + s.size() && !std::isfinite(d));
  fail(key, quoted(s) + (non_finite ? " is not a finite number" : " is not a number"),
       "write a plain number, e.g. `" + key + ": 4096`");
}
double Fields::num(const std::string& key, double dflt)
{
  return has(key) ? num(key) : (used_.insert(key), dflt);
}
double Fields::num(const std::string& key, const Bounds& b)
{
  const double v = num(key);
  if (!b.contains(v))
    fail(key, number_text(v) + " is out of range", "write a value " + b.text());
  return v;
}
double Fields::num(const std::string& key, double dflt, const Bounds& b)
{
  return has(key) ? num(key, b) : (used_.insert(key), dflt);
}

double Fields::num_at(const YAML::Node& n, const std::string& key, const Bounds& b) const
{
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  const std::optional<double> v = parse_number(s);
  if (!v || !b.contains(*v))
    throw InputError(location(n), path(key),
                     (n.IsScalar() ? quoted(s) : std::string("a list or map")) + " is not a number " + b.text(),
                     "write a plain number " + b.text());
  return *v;
}

int Fields::integer(const std::string& key)
{
  return integer_in(key, -2'000'000'000, 2'000'000'000);
}
int Fields::integer(const std::string& key, int dflt)
{
  return has(key) ? integer(key) : (used_.insert(key), dflt);
}
int Fields::integer_in(const std::string& key, int lo, int hi)
{
  const double v = num(key);
  const Bounds b{static_cast<double>(lo), static_cast<double>(hi)};
  if (const std::optional<long long> w = whole_in(v, b))
    return static_cast<int>(*w);
  if (b.contains(v))
    fail(key, number_text(v) + " is not a whole number", "write a whole number " + b.text());
  fail(key, number_text(v) + (v > hi ? " is too large: at most " + std::to_string(hi) : " is too small: at least " + std::to_string(lo)),
       "write a whole number " + b.text());
}
int Fields::integer_in(const std::string& key, int dflt, int lo, int hi)
{
  return has(key) ? integer_in(key, lo, hi) : (used_.insert(key), dflt);
}

bool Fields::boolean(const std::string& key)
{
  std::string s = str(key);
  if (s == "true" || s == "yes" || s == "on")
    return true;
  if (s == "false" || s == "no" || s == "off")
    return false;
  fail(key, quoted(s) + " is not a boolean", "write true or false");
}
bool Fields::boolean(const std::string& key, bool dflt)
{
  return has(key) ? boolean(key) : (used_.insert(key), dflt);
}

std::vector<std::string> Fields::str_list(const std::string& key, size_t max)
{
  YAML::Node n = node(key);
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence())
    fail(key, "expected a value or a list", "write `" + key + ": [a, b]`");
  if (n.size() == 0)
    fail(key, "is an empty list", "write at least one value: `" + key + ": [a, b]`");
  if (n.size() > max)
    fail(key, "has " + std::to_string(n.size()) + " entries, more than the " + std::to_string(max) + " moesim takes",
         "split the study into several");
  for (const auto& e : n) {
    if (!e.IsScalar())
      fail(key, "list entries must be single values", "write `" + key + ": [a, b]`");
    out.push_back(e.Scalar());
  }
  return out;
}

std::vector<int> Fields::int_list(const std::string& key, int lo, int hi, size_t max)
{
  std::vector<int> out;
  const Bounds b{static_cast<double>(lo), static_cast<double>(hi)};
  for (const std::string& s : str_list(key, max)) {
    const std::optional<double> v = parse_number(s);
    const std::optional<long long> w = v ? whole_in(*v, b) : std::nullopt;
    if (!w)
      fail(key, quoted(s) + " is not a whole number " + b.text(), "write whole numbers, e.g. `" + key + ": [1, 64]`");
    out.push_back(static_cast<int>(*w));
  }
  return out;
}

YAML::Node Fields::list_entry(const std::string& key, size_t i)
{
  YAML::Node n = node_[key];
  return n.IsSequence() && i < n.size() ? n[i] : n;
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
