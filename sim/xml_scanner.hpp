// A small streaming reader for the XML that platform files are written in: start and end tags with
// their attributes (entities decoded) and line numbers, nothing else. It reads iteratively (no
// recursion, so no nesting depth can overflow the stack), refuses nesting deeper than a limit,
// and refuses what a platform never contains (text between tags, CDATA, a DOCTYPE internal subset,
// unknown entities) rather than guessing. It is not a general XML parser; SimGrid parses the file
// again once sim/platform_check.* has accepted it.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace moesim {

struct XmlTag {
  bool end = false;  // </name>, or the end of a self-closing <name/>
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs; // in file order; names unique
  int line = 0;      // where the tag starts
  int depth = 0;     // 1 for the root element
};

class XmlScanner {
public:
  // `text` must outlive the scanner. Errors name `file:line`.
  XmlScanner(const std::string& text, std::string file, int max_depth);
  // The next start or end tag; false at the end of the document. Throws InputError
  // "file:line: malformed XML: ..." for anything it cannot read.
  bool next(XmlTag& tag);

private:
  [[noreturn]] void fail(const std::string& what) const;
  bool starts(const char* s) const;
  void skip_past(const char* end, const char* what);
  void skip_space();
  std::string name();
  std::string value();
  void count_lines(size_t from, size_t to);

  const std::string& t_;
  std::string file_;
  int max_depth_;
  size_t i_ = 0;
  int line_ = 1;
  std::vector<std::string> open_;
  bool root_seen_ = false;
  bool pending_end_ = false; // a self-closing tag was returned as a start: its end comes next
  XmlTag last_;
};

} // namespace moesim
