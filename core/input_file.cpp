#include "core/input_file.hpp"

#include "core/error.hpp"
#include "core/numbers.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace moesim {
namespace {

std::string mib(std::uintmax_t bytes)
{
  return number_text(static_cast<double>(bytes) / 1048576.0) + " MiB";
}

} // namespace

std::string read_input_file(const std::string& path, std::uintmax_t limit, const std::string& key)
{
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0)
    throw InputError(path, key, "file not found", "check the path, or list the folder to see the available names");
  if (S_ISDIR(st.st_mode))
    throw InputError(path, key, "is a folder, not a file", "give the path of a file");
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    throw InputError(path, key, "is a device or a socket, not a file", "give the path of a regular file");
  const auto too_large = [&] {
    return InputError(path, key, "is larger than " + mib(limit) + ", the most moesim reads from one input file",
                      "check that this is the file you meant");
  };
  if (S_ISREG(st.st_mode) && static_cast<std::uintmax_t>(st.st_size) > limit)
    throw too_large();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw InputError(path, key, std::string("cannot read: ") + std::strerror(errno), "check the file's permissions");
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      throw InputError(path, key, std::string("cannot read: ") + std::strerror(e), "check the file");
    }
    if (n == 0)
      break;
    if (text.size() + static_cast<size_t>(n) > limit) {
      ::close(fd);
      throw too_large();
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

bool path_exists(const std::string& path)
{
  std::error_code ec;
  return std::filesystem::exists(path, ec) && !ec;
}

bool is_folder(const std::string& path)
{
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) && !ec;
}

} // namespace moesim
