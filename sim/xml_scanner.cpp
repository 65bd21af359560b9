#include "sim/xml_scanner.hpp"

#include "core/error.hpp"

#include <cstring>

namespace moesim {
namespace {

bool name_start(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
}
bool name_char(char c)
{
  return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}
bool space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// UTF-8 of a character reference.
void append_utf8(std::string& out, unsigned long c)
{
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

} // namespace

XmlScanner::XmlScanner(const std::string& text, std::string file, int max_depth)
    : t_(text), file_(std::move(file)), max_depth_(max_depth)
{
}

void XmlScanner::fail(const std::string& what) const
{
  throw InputError(file_ + ":" + std::to_string(line_), "", "malformed XML: " + what, "fix the XML at that line");
}

bool XmlScanner::starts(const char* s) const
{
  return t_.compare(i_, std::strlen(s), s) == 0;
}

void XmlScanner::count_lines(size_t from, size_t to)
{
  for (size_t k = from; k < to && k < t_.size(); k++)
    line_ += t_[k] == '\n';
}

void XmlScanner::skip_past(const char* end, const char* what)
{
  const size_t at = t_.find(end, i_);
  if (at == std::string::npos)
    fail(std::string("unterminated ") + what);
  count_lines(i_, at);
  i_ = at + std::strlen(end);
}

void XmlScanner::skip_space()
{
  while (i_ < t_.size() && space(t_[i_]))
    line_ += t_[i_++] == '\n';
}

std::string XmlScanner::name()
{
  if (i_ >= t_.size() || !name_start(t_[i_]))
    fail("expected a name");
  const size_t from = i_;
  while (i_ < t_.size() && name_char(t_[i_]))
    i_++;
  return t_.substr(from, i_ - from);
}

std::string XmlScanner::value()
{
  if (i_ >= t_.size() || (t_[i_] != '"' && t_[i_] != '\''))
    fail("an attribute value must be quoted");
  const char q = t_[i_++];
  std::string out;
  while (true) {
    if (i_ >= t_.size())
      fail("unterminated attribute value");
    const char c = t_[i_];
    if (c == q) {
      i_++;
      return out;
    }
    if (c == '<')
      fail("'<' inside an attribute value (write &lt;)");
    if (c == '\0')
      fail("a NUL byte");
    if (c == '&') {
      const size_t semi = t_.find(';', i_);
      if (semi == std::string::npos || semi - i_ > 12)
        fail("a '&' that starts no entity (write &amp;)");
      const std::string ent = t_.substr(i_ + 1, semi - i_ - 1);
      if (ent == "lt")
        out += '<';
      else if (ent == "gt")
        out += '>';
      else if (ent == "amp")
        out += '&';
      else if (ent == "quot")
        out += '"';
      else if (ent == "apos")
        out += '\'';
      else if (ent.size() > 1 && ent[0] == '#') {
        const bool hex = ent[1] == 'x';
        const std::string digits = ent.substr(hex ? 2 : 1);
        unsigned long c2 = 0;
        for (char d : digits) {
          const int v = d >= '0' && d <= '9' ? d - '0'
                        : hex && d >= 'a' && d <= 'f' ? d - 'a' + 10
                        : hex && d >= 'A' && d <= 'F' ? d - 'A' + 10
                                                       : -1;
          if (v < 0)
            fail("bad character reference &" + ent + ";");
          c2 = c2 * (hex ? 16 : 10) + static_cast<unsigned long>(v);
        }
        if (digits.empty() || c2 == 0 || c2 > 0x10FFFF)
          fail("bad character reference &" + ent + ";");
        append_utf8(out, c2);
      } else {
        fail("unknown entity &" + ent + ";");
      }
      i_ = semi + 1;
      continue;
    }
    line_ += c == '\n';
    out += c;
    i_++;
  }
}

bool XmlScanner::next(XmlTag& tag)
{
  if (pending_end_) {
    pending_end_ = false;
    tag = XmlTag{true, last_.name, {}, last_.line, last_.depth};
    open_.pop_back();
    return true;
  }
  while (true) {
    // Between tags: whitespace only.
    while (i_ < t_.size() && t_[i_] != '<') {
      if (!space(t_[i_]))
        fail(t_[i_] == '\0' ? "a NUL byte" : "text between tags (a platform has only elements and attributes)");
      line_ += t_[i_++] == '\n';
    }
    if (i_ >= t_.size()) {
      if (!open_.empty())
        fail("the file ends inside <" + open_.back() + ">");
      if (!root_seen_)
        fail("no element");
      return false;
    }
    if (starts("<!--")) {
      skip_past("-->", "comment");
      continue;
    }
    if (starts("<?")) {
      if (root_seen_)
        fail("a processing instruction after the root element starts");
      skip_past("?>", "processing instruction");
      continue;
    }
    if (starts("<![CDATA[")) 
      fail("CDATA (a platform has only elements and attributes)");
    if (starts("<!DOCTYPE")) {
      if (root_seen_)
        fail("a DOCTYPE inside the document");
      const size_t close = t_.find('>', i_), open = t_.find('[', i_);
      if (close == std::string::npos)
        fail("unterminated DOCTYPE");
      if (open < close)
        fail("a DOCTYPE with an internal subset");
      count_lines(i_, close);
      i_ = close + 1;
      continue;
    }
    if (starts("<!"))
      fail("an unknown declaration");
    const int line = line_;
    i_++; // '<'
    if (i_ < t_.size() && t_[i_] == '/') {
      i_++;
      const std::string n = name();
      skip_space();
      if (i_ >= t_.size() || t_[i_] != '>')
        fail("expected '>' after </" + n);
      i_++;
      if (open_.empty() || open_.back() != n)
        fail("</" + n + "> closes " + (open_.empty() ? std::string("nothing") : "<" + open_.back() + ">"));
      tag = XmlTag{true, n, {}, line, static_cast<int>(open_.size())};
      open_.pop_back();
      return true;
    }
    if (open_.empty() && root_seen_)
      fail("a second root element");
    XmlTag t;
    t.line = line;
    t.name = name();
    while (true) {
      const size_t before = i_;
      skip_space();
      if (i_ >= t_.size())
        fail("unterminated <" + t.name + ">");
      if (t_[i_] == '>' || starts("/>"))
        break;
      if (i_ == before)
        fail("expected a space before the next attribute of <" + t.name + ">");
      std::string a = name();
      skip_space();
      if (i_ >= t_.size() || t_[i_] != '=')
        fail("attribute " + a + " of <" + t.name + "> has no value");
      i_++;
      skip_space();
      std::string v = value();
      for (const auto& [n, x] : t.attrs)
        if (n == a)
          fail("attribute " + a + " given twice in <" + t.name + ">");
      t.attrs.emplace_back(std::move(a), std::move(v));
    }
    const bool self_closing = t_[i_] == '/';
    i_ += self_closing ? 2 : 1;
    if (static_cast<int>(open_.size()) >= max_depth_)
      fail("elements nested deeper than " + std::to_string(max_depth_) + " levels");
    root_seen_ = true;
    open_.push_back(t.name);
    t.depth = static_cast<int>(open_.size());
    tag = t;
    if (self_closing) {
      pending_end_ = true;
      last_ = t;
    }
    return true;
  }
}

} // namespace moesim
