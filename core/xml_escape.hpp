// Escaping text for XML attributes, SVG and HTML text, shared by the platform writer, the drawings and the HTML report.
#pragma once
#include <string>

namespace moesim {

// & < " always; > too when `gt` (SVG text). The platform writer leaves '>' as is, so the committed
// platform files keep their bytes.
inline std::string xml_escape(const std::string& s, bool gt)
{
  std::string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>' && gt)
      o += "&gt;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
  }
  return o;
}

} // namespace moesim
