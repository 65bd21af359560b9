#include "core/output_files.hpp"

#include "core/error.hpp"
#include "core/temp_paths.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <map>

namespace moesim {
namespace fs = std::filesystem;
namespace {

enum class Kind { missing, regular, in_place };

struct Target {
  std::string path; // after following symlinks
  Kind kind = Kind::missing;
  mode_t mode = 0;
};

std::string sys_error(int e)
{
  return std::strerror(e);
}

// Follows symlinks (at most 40, as the kernel does) to what will be written, and classifies it.
Target resolve(const std::string& path, const std::string& flag)
{
  fs::path p = path;
  for (int hops = 0; hops < 40; hops++) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno != ENOENT)
        throw InputError(path, flag, "cannot write there: " + sys_error(errno), "write elsewhere");
      const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
      struct stat ds {};
      if (::stat(dir.c_str(), &ds) != 0 || !S_ISDIR(ds.st_mode))
        throw InputError(path, flag, "folder " + dir.string() + " does not exist", "create it or write elsewhere");
      return {p.string(), Kind::missing, 0};
    }
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      const fs::path to = fs::read_symlink(p, ec);
      if (ec)
        throw InputError(path, flag, "cannot read the symlink: " + ec.message(), "write elsewhere");
      p = to.is_absolute() ? to : p.parent_path() / to;
      continue;
    }
    const std::string shown = p.string() == path ? "" : " (the symlink's target " + p.string() + ")";
    if (S_ISDIR(st.st_mode))
      throw InputError(path, flag, "is a folder" + shown, "give a file name, e.g. " + (fs::path(path) / "out").string());
    if (S_ISREG(st.st_mode))
      return {p.string(), Kind::regular, static_cast<mode_t>(st.st_mode & 07777)};
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
      return {p.string(), Kind::in_place, 0};
    throw InputError(path, flag, std::string(S_ISBLK(st.st_mode) ? "is a block device" : "is a socket") + shown,
                     "write to a file, a FIFO or a character device");
  }
  throw InputError(path, flag, "too many levels of symlinks", "write to the file itself");
}

mode_t new_file_mode()
{
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

bool write_all(int fd, const std::string& s)
{
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Opens a device or FIFO for writing in place. A FIFO is opened without blocking first: with no
// reader that fails (ENXIO) instead of waiting forever.
int open_in_place(const OutputFile& f, const Target& t)
{
  struct stat st {};
  const bool fifo = ::stat(t.path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
  const int fd = ::open(t.path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | (fifo ? O_NONBLOCK : 0));
  if (fd < 0) {
    if (fifo && errno == ENXIO)
      throw InputError(f.path, f.flag, "is a FIFO that no process is reading",
                       "start its reader first (e.g. `cat " + f.path + " &`), or write to a file");
    throw InputError(f.path, f.flag, "cannot write: " + sys_error(errno), "check its permissions, or write to a file");
  }
  if (fifo)
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// The state of one write_outputs call: whatever is open or staged is undone unless committed.
class Commit {
public:
  ~Commit()
  {
    for (int fd : fds_)
      if (fd >= 0)
        ::close(fd);
    for (const Staged& s : staged_) {
      ::unlink(s.temp.c_str());
      unregister_temp_file(s.slot);
    }
    ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  }

  explicit Commit(const std::vector<OutputFile>& files) : files_(files)
  {
    // A reader that goes away must give EPIPE here, not kill the process halfway.
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old_pipe_);
  }

  void run()
  {
    std::vector<Target> targets;
    for (const OutputFile& f : files_)
      targets.push_back(f.path == "-" ? Target{} : resolve(f.path, f.flag));
    fds_.assign(files_.size(), -1);
    for (size_t i = 0; i < files_.size(); i++)
      if (files_[i].path != "-" && targets[i].kind == Kind::in_place)
        fds_[i] = open_in_place(files_[i], targets[i]);
    for (size_t i = 0; i < files_.size(); i++)
      if (files_[i].path != "-" && targets[i].kind != Kind::in_place)
        stage(files_[i], targets[i]);
    for (size_t i = 0; i < files_.size(); i++)
      if (fds_[i] >= 0) {
        if (!write_all(fds_[i], files_[i].content))
          throw InputError(files_[i].path, files_[i].flag, "cannot write: " + sys_error(errno),
                           "check the device, or that the FIFO's reader stays open");
        ::close(fds_[i]);
        fds_[i] = -1;
      }
    while (!staged_.empty()) {
      const Staged& s = staged_.front();
      if (::rename(s.temp.c_str(), s.target.c_str()) != 0)
        throw InputError(s.file->path, s.file->flag, "cannot write: " + sys_error(errno),
                         "check the folder is writable");
      unregister_temp_file(s.slot);
      staged_.erase(staged_.begin());
    }
    for (const OutputFile& f : files_)
      if (f.path == "-")
        std::cout << f.content;
    std::cout.flush();
  }

private:
  struct Staged {
    const OutputFile* file;
    std::string temp, target;
    int slot;
  };

  void stage(const OutputFile& f, const Target& t)
  {
    const fs::path target = t.path;
    const fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    std::string temp = (dir / ("." + target.filename().string() + ".moesim-XXXXXX")).string();
    const int fd = ::mkstemp(temp.data());
    if (fd < 0)
      throw InputError(f.path, f.flag, "cannot write in " + dir.string() + ": " + sys_error(errno),
                       "check the folder exists and is writable");
    int slot = -1;
    try {
      slot = register_temp_file(temp);
    } catch (...) {
      ::close(fd);
      ::unlink(temp.c_str());
      throw;
    }
    staged_.push_back({&f, temp, t.path, slot});
    const bool ok = write_all(fd, f.content);
    const int e = errno;
    ::fchmod(fd, t.kind == Kind::regular ? t.mode : new_file_mode());
    const bool closed = ::close(fd) == 0;
    if (!ok || !closed)
      throw InputError(f.path, f.flag, "cannot write: " + sys_error(ok ? errno : e),
                       "check there is room on the disk and the folder is writable");
  }

  const std::vector<OutputFile>& files_;
  std::vector<int> fds_;
  std::vector<Staged> staged_;
  struct sigaction old_pipe_ {};
};

} // namespace

void check_output_path(const std::string& path, const std::string& flag)
{
  if (path.empty() || path == "-")
    return;
  (void)resolve(path, flag);
}

void check_output_paths(const std::vector<std::pair<std::string, std::string>>& outputs,
                        const std::vector<std::string>& inputs)
{
  std::map<std::string, std::string> regular; // canonical target -> flag
  for (const auto& [path, flag] : outputs) {
    if (path.empty() || path == "-")
      continue;
    const Target t = resolve(path, flag);
    if (t.kind == Kind::in_place)
      continue; // a device or FIFO may take two outputs one after the other
    for (const std::string& in : inputs) {
      std::error_code ec; // an input or output that does not exist (yet) is no clash
      if (!in.empty() && in != "-" && fs::equivalent(t.path, in, ec) && !ec)
        throw InputError(path, flag, "is also an input of this command (" + in + "), which writing would overwrite",
                         "write the output to another file");
    }
    std::error_code ec;
    const std::string key = fs::weakly_canonical(t.path, ec).string();
    if (auto [it, fresh] = regular.emplace(ec ? t.path : key, flag); !fresh)
      throw InputError(path, flag, "is also the output of " + it->second, "give each output its own file");
  }
}

void write_outputs(const std::vector<OutputFile>& files)
{
  Commit c(files);
  c.run();
}

} // namespace moesim
