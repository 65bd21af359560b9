// What yaml-cpp 0.7 does with hostile text, refused in parse_yaml_text before any loader sees a
// node. Each parse runs in a child process with a deadline, so that a parser that loops fails the
// test instead of hanging the suite.
#include "core/calibration.hpp"
#include "core/error.hpp"
#include "core/yaml_reader.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

using namespace moesim;

namespace {

// The outcome of parse_yaml_text(text) in a child killed after `seconds`: "ok", the InputError's
// message, "other exception", or "timed out".
std::string parse_in_child(const std::string& text, unsigned seconds = 10)
{
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    alarm(seconds); // SIGALRM's default action ends the child
    std::string out;
    try {
      parse_yaml_text(text, "t.yaml");
      out = "ok";
    } catch (const InputError& e) {
      out = e.what();
    } catch (...) {
      out = "other exception";
    }
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM ? "timed out" : std::string("signal ") + strsignal(WTERMSIG(status));
  return got;
}

std::string slurp(const std::string& p)
{
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

} // namespace

TEST_CASE("YAML: a stray flow indicator at the top level is refused, not looped on", "[quick][core][robust]")
{
  using Catch::Matchers::Contains;
  // Found by fuzz_calibration: a calibration file with an anchor (&) and a line starting with `,`.
  // yaml-cpp's parser returns an empty document forever after the `,`; the old alias scan asked
  // for documents until none was left and never ended.
  const std::string found = slurp(MOESIM_SOURCE_DIR "/tests/data/fuzz/yaml-hang-1261-bytes.yaml");
  REQUIRE(found.size() == 1261);
  // Its first content line (line 2) is a sequence indented by 6; line 7, `  - op: rmsnorm`, is
  // indented by 2, so the first document ends there and what follows is refused at line 7.
  CHECK_THAT(parse_in_child(found), Contains("t.yaml:7:") && Contains("after the end of the first YAML document") &&
                                        Contains("keep one document per file"));
  // The smallest forms: an anchor and a `,` in block context, or a `,` alone.
  CHECK_THAT(parse_in_child("&x 1\n,\n"), Contains("t.yaml:2:") && Contains("first YAML document"));
  CHECK_THAT(parse_in_child(",\n"), Contains("t.yaml:1:") && Contains("first YAML document"));
}

TEST_CASE("YAML: one document per file, no aliases, deep nesting refused in time", "[quick][core][robust]")
{
  using Catch::Matchers::Contains;
  CHECK(parse_in_child("a: 1\n") == "ok");
  CHECK(parse_in_child("---\na: 1\n...\n") == "ok"); // explicit start and end of one document
  // A second document would be dropped unread by yaml-cpp: refused at its `---` (line 2).
  CHECK_THAT(parse_in_child("a: 1\n---\nb: 2\n"), Contains("t.yaml:2:") && Contains("first YAML document"));
  CHECK_THAT(parse_in_child("a: &x [1]\nb: *x\n"), Contains("t.yaml:2:") && Contains("alias"));
  // 100,000 nested flow sequences: yaml-cpp stops at depth 2000 (DeepRecursion), an input error.
  CHECK_THAT(parse_in_child("a: " + std::string(100000, '[')), Contains("t.yaml:1:") && Contains("malformed YAML"));
  // The same in block form: `- - - ...`, 5,000 sequences nested on one line.
  std::string block;
  for (int i = 0; i < 5000; ++i)
    block += "- ";
  block += "1\n";
  CHECK_THAT(parse_in_child(block), Contains("t.yaml:") && Contains("malformed YAML"));
}
