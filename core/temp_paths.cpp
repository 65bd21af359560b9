#include "core/temp_paths.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace moesim {
namespace {

constexpr size_t path_max = 4096;

struct Slot {
  volatile std::sig_atomic_t used = 0;
  char path[path_max] = {};
};

// The table the handlers read. Written only by the owning thread outside the handlers; a slot's
// path is complete before `used` is set, and `used` is cleared before the path is reused.
struct Table {
  std::array<Slot, 64> files;
  std::array<Slot, 16> dirs;
  std::array<volatile pid_t, 1024> children{};
  volatile pid_t owner = 0;
};
Table table;
std::atomic<bool> installed{false};

int claim(Slot* slots, size_t n, const std::string& path, const char* what)
{
  if (path.size() >= path_max)
    throw std::runtime_error(std::string("temporary ") + what + " path too long: " + path);
  for (size_t i = 0; i < n; i++)
    if (!slots[i].used) {
      std::memcpy(slots[i].path, path.c_str(), path.size() + 1);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      slots[i].used = 1;
      return static_cast<int>(i);
    }
  throw std::runtime_error(std::string("too many temporary ") + what + "s at once");
}

void release(Slot* slots, size_t n, int i)
{
  if (i >= 0 && static_cast<size_t>(i) < n)
    slots[i].used = 0;
}

// Removes the entries of a flat folder, then the folder. Only system calls: async-signal-safe.
void remove_flat_dir(const char* path)
{
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    alignas(8) char buf[8192];
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0)
        break;
      for (long off = 0; off < n;) {
        struct Entry {
          unsigned long long ino;
          long long off;
          unsigned short reclen;
          unsigned char type;
          char name[1];
        };
        const auto* e = reinterpret_cast<const Entry*>(buf + off);
        const char* name = e->name;
        if (!(name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))))
          ::unlinkat(fd, name, 0);
        off += e->reclen;
      }
    }
    ::close(fd);
  }
  ::rmdir(path);
}

void clean_up_now()
{
  if (table.owner != ::getpid())
    return; // a forked child: the parent owns the table
  for (auto& pid : table.children)
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = 0;
    }
  for (Slot& s : table.files)
    if (s.used) {
      ::unlink(s.path);
      s.used = 0;
    }
  for (Slot& s : table.dirs)
    if (s.used) {
      remove_flat_dir(s.path);
      s.used = 0;
    }
}

constexpr int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGABRT};

extern "C" void on_signal(int sig)
{
  const int saved = errno;
  clean_up_now();
  // End the process the way the signal would have (exit status 128 + sig in shells).
  std::signal(sig, SIG_DFL);
  ::raise(sig);
  errno = saved;
}

extern "C" void on_exit_cleanup()
{
  clean_up_now();
}

} // namespace

void install_cleanup_handlers()
{
  if (installed.exchange(true))
    return;
  table.owner = ::getpid();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : handled)
    sigaddset(&sa.sa_mask, s); // no second handler in the middle of the first
  sa.sa_flags = 0;             // no SA_RESTART: a waitpid in progress returns EINTR after the handler
  for (int s : handled) {
    struct sigaction old {};
    ::sigaction(s, nullptr, &old);
    if (old.sa_handler == SIG_IGN && s != SIGPIPE && s != SIGABRT)
      continue; // started with the signal ignored (nohup): keep it so
    ::sigaction(s, &sa, nullptr);
  }
  std::atexit(on_exit_cleanup);
}

TempDir::TempDir(const std::string& prefix)
{
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec)
    base = "/tmp";
  std::string tmpl = (base / (prefix + ".XXXXXX")).string();
  if (!::mkdtemp(tmpl.data()))
    throw std::runtime_error("cannot create a temporary folder in " + base.string() + ": " + std::strerror(errno));
  path_ = tmpl;
  try {
    slot_ = claim(table.dirs.data(), table.dirs.size(), path_, "folder");
  } catch (...) {
    ::rmdir(path_.c_str());
    throw;
  }
}

TempDir::~TempDir()
{
  release(table.dirs.data(), table.dirs.size(), slot_);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int register_temp_file(const std::string& path)
{
  return claim(table.files.data(), table.files.size(), path, "file");
}

void unregister_temp_file(int slot)
{
  release(table.files.data(), table.files.size(), slot);
}

void register_child(pid_t pid)
{
  for (auto& p : table.children)
    if (p == 0) {
      p = pid;
      return;
    }
  // More children than slots cannot happen (-j is at most limits::jobs); if it did, the child
  // would only escape the signal clean-up, not the normal one.
}

void unregister_child(pid_t pid)
{
  for (auto& p : table.children)
    if (p == pid)
      p = 0;
}

} // namespace moesim
