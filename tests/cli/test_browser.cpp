// The default study's HTML report in a real browser: headless Chromium (Debian's package, installed
// by scripts/install-deps.sh --test) loads it from a file:// URL with no network. It must render
// without a single console message (a script error or a failed load would print one), hold the
// expected elements after its script ran, and a screenshot must show the charts' colours.
//
// Without chromium, or without libpng to read the screenshot, each test prints why and exits with 77,
// which CTest reports as Skipped (SKIP_RETURN_CODE in CMakeLists.txt), never as Passed. That exit is
// safe because catch_discover_tests runs every test case in its own process.
#include "cli_run.hpp"

#include <catch2/catch.hpp>

#ifdef MOESIM_HAVE_PNG
#include <png.h>
#endif

#include <cstdlib>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;
using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

std::string find_chromium()
{
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && access((fs::path(dir) / "chromium").c_str(), X_OK) == 0)
      return (fs::path(dir) / "chromium").string();
  return "";
}

std::string require_browser()
{
  const std::string bin = find_chromium();
  if (bin.empty()) {
    std::printf("SKIPPED: chromium is not installed (bash scripts/install-deps.sh --test installs it)\n");
    std::fflush(stdout);
    std::exit(77);
  }
#ifndef MOESIM_HAVE_PNG
  std::printf("SKIPPED: built without libpng, which reads the screenshot (bash scripts/install-deps.sh --test "
              "installs libpng-dev; then reconfigure)\n");
  std::fflush(stdout);
  std::exit(77);
#endif
  return bin;
}

struct BrowserRun {
  int code = -1;
  std::string out, err;
};

// One headless Chromium on `url` with a fresh profile, flags that keep it off the network (as root:
// no sandbox), console messages logged to stderr, and at most 120 s.
BrowserRun chromium(const std::string& bin, const fs::path& dir, const std::string& name, const std::string& args,
                    const std::string& url)
{
  const fs::path profile = dir / ("profile-" + name), err = dir / (name + ".err");
  fs::remove_all(profile);
  const std::string cmd = "timeout 120 " + bin +
                          " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                          "--disable-background-networking --disable-component-update --disable-sync "
                          "--user-data-dir=" +
                          profile.string() + " --enable-logging=stderr --v=0 " + args + " '" + url + "' 2>" +
                          err.string();
  BrowserRun r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = slurp(err);
  return r;
}

// What the page said on its console: Chromium logs every message (errors, uncaught exceptions,
// failed loads, console.log) as ":CONSOLE" lines.
std::vector<std::string> console_lines(const std::string& err)
{
  std::vector<std::string> out;
  std::stringstream s(err);
  std::string line;
  while (std::getline(s, line))
    if (line.find(":CONSOLE") != std::string::npos)
      out.push_back(line);
  return out;
}

size_t count(const std::string& s, const std::string& what)
{
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
    n++;
  return n;
}

struct Pixels {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
  size_t with(unsigned r, unsigned g, unsigned b) const
  {
    size_t n = 0;
    for (size_t i = 0; i + 2 < rgb.size(); i += 3)
      n += rgb[i] == r && rgb[i + 1] == g && rgb[i + 2] == b;
    return n;
  }
};

Pixels read_png(const fs::path& file)
{
  Pixels px;
#ifdef MOESIM_HAVE_PNG
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&img, file.c_str()) != 0);
  img.format = PNG_FORMAT_RGB;
  px.rgb.resize(PNG_IMAGE_SIZE(img));
  REQUIRE(png_image_finish_read(&img, nullptr, px.rgb.data(), 0, nullptr) != 0);
  px.width = static_cast<int>(img.width);
  px.height = static_cast<int>(img.height);
#else
  (void)file;
#endif
  return px;
}

std::string file_url(const fs::path& p)
{
  return "file://" + fs::absolute(p).string();
}

} // namespace

TEST_CASE("the default study's report renders in headless Chromium", "[browser]")
{
  const std::string bin = require_browser();
  const fs::path d = scratch("browser");
  Run r = moesim("run --html " + (d / "report.html").string());
  REQUIRE(r.code == 0);
  const std::string url = file_url(d / "report.html");

  // The DOM after the page's script ran.
  BrowserRun dom = chromium(bin, d, "dom", "--dump-dom", url);
  REQUIRE(dom.code == 0);
  const std::vector<std::string> said = console_lines(dom.err);
  INFO("console: " << (said.empty() ? "" : said[0]));
  CHECK(said.empty());
  const std::string& h = dom.out;
  // The script ran to its end: it marks the page and turned every SVG <title> into a hover tip.
  CHECK_THAT(h, Contains("data-ready=\"yes\""));
  CHECK(count(h, "<title>") == 1); // the page's own title
  CHECK(count(h, "data-tip=\"") > 1000);
  // 3 platforms x 2 batches x 5 plans = 30 scenarios, none refused: a Gantt chart each, each with its
  // axis; 6 sections (platform, batch), each with legends, the whole steps and memory.
  CHECK(count(h, "<svg class=\"gantt\"") == 30);
  CHECK(count(h, "<section class=\"group\"") == 6);
  CHECK(count(h, "<svg class=\"steps\"") == 6);
  CHECK(count(h, "<svg class=\"memory\"") == 6);
  const size_t first = h.find("<section class=\"group\"");
  REQUIRE(first != std::string::npos);
  for (size_t at = first; at != std::string::npos;) {
    const size_t next = h.find("<section class=\"group\"", at + 1);
    const std::string section = h.substr(at, next == std::string::npos ? std::string::npos : next - at);
    CHECK(count(section, "<svg class=\"legend\"") >= 2); // op classes, time split
    CHECK(count(section, "<g class=\"axis\">") >= 5);    // 5 layer charts (+ the step's, the memory's)
    at = next;
  }
  CHECK_THAT(h, Contains("What this study shows"));

  // Hover: a copy of the page with a probe after its script moves the pointer onto the first Gantt
  // rectangle; the tip box must show that rectangle's details.
  std::string probed = slurp(d / "report.html");
  const size_t end = probed.rfind("</body>");
  REQUIRE(end != std::string::npos);
  probed.insert(end, "<script>(function () { var r = document.querySelector('svg.gantt rect[data-tip]');"
                     "var b = r.getBoundingClientRect();"
                     "r.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: b.left + 1, clientY: b.top + 1}));"
                     "var tip = document.getElementById('tip');"
                     "document.documentElement.setAttribute('data-probe', !tip.hidden && "
                     "tip.textContent === r.getAttribute('data-tip') && r.classList.contains('hover') ? 'tip-shown' : "
                     "'tip-missing'); })();</script>\n");
  const fs::path probe_file = write(d, "probe.html", probed);
  BrowserRun hover = chromium(bin, d, "hover", "--dump-dom", file_url(probe_file));
  REQUIRE(hover.code == 0);
  CHECK(console_lines(hover.err).empty());
  CHECK_THAT(hover.out, Contains("data-probe=\"tip-shown\""));

  // A screenshot of the top of the page: the overview, then the first section's table and charts.
  const fs::path png = d / "top.png";
  BrowserRun shot = chromium(bin, d, "shot", "--hide-scrollbars --window-size=1400,1800 --screenshot=" + png.string(), url);
  REQUIRE(shot.code == 0);
  CHECK(console_lines(shot.err).empty());
  const Pixels px = read_png(png);
  REQUIRE(px.width == 1400);
  REQUIRE(px.height == 1800);
  const size_t white = px.with(255, 255, 255), all = static_cast<size_t>(px.width) * px.height;
  // Not blank: over 10% of it is drawn, and the op classes' own colours are on screen (GEMM
  // #0072b2, collectives #d55e00, waiting for the host #cc79a7: in the time-split bars and the charts).
  CHECK(all - white > all / 10);
  CHECK(px.with(0x00, 0x72, 0xb2) > 5000);
  CHECK(px.with(0xd5, 0x5e, 0x00) > 1000);
  CHECK(px.with(0xcc, 0x79, 0xa7) > 100);
}

TEST_CASE("the browser checks catch a script error and a blank page", "[browser]")
{
  // The checks above could pass vacuously if Chromium printed nothing or drew nothing; here a page
  // with an uncaught error must print a console line and never reach data-ready, and a blank page
  // must screenshot as white.
  const std::string bin = require_browser();
  const fs::path d = scratch("browser_controls");
  const fs::path bad = write(d, "bad.html",
                             "<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();"
                             "document.documentElement.setAttribute('data-ready','yes');</script></body></html>");
  BrowserRun dom = chromium(bin, d, "bad", "--dump-dom", file_url(bad));
  REQUIRE(dom.code == 0);
  const std::vector<std::string> said = console_lines(dom.err);
  REQUIRE(said.size() == 1);
  CHECK_THAT(said[0], Contains("undefinedFunction"));
  CHECK(dom.out.find("data-ready=\"yes\"") == std::string::npos);

  const fs::path blank = write(d, "blank.html", "<!DOCTYPE html><html><body></body></html>");
  const fs::path png = d / "blank.png";
  BrowserRun shot =
      chromium(bin, d, "blank", "--hide-scrollbars --window-size=400,300 --screenshot=" + png.string(), file_url(blank));
  REQUIRE(shot.code == 0);
  const Pixels px = read_png(png);
  REQUIRE(px.width == 400);
  CHECK(px.with(255, 255, 255) == static_cast<size_t>(400 * 300));
}
