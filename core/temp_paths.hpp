// Temporary files and folders that must not outlive the process, however it ends: normal return,
// an exception, exit() or abort() inside a library, or SIGINT, SIGTERM, SIGHUP, SIGQUIT or SIGPIPE.
// RAII removes them on the first three; for the others, install_cleanup_handlers() sets signal and
// atexit handlers that kill the registered child processes, then remove the registered files and
// the (flat) registered folders with async-signal-safe calls only, and let the signal end the
// process as it would have.
//
// This is the one piece of process-wide state moesim keeps: a signal handler can reach nothing
// else. It is a fixed table of paths and child ids, written only outside the handler.
#pragma once
#include <sys/types.h>

#include <string>

namespace moesim {

// Installs the handlers once per process (idempotent). Only the installing process cleans up:
// forked children that die by a signal leave the table to their parent.
void install_cleanup_handlers();

// A private folder under TMPDIR (or /tmp), created at construction and removed with everything in
// it at destruction. It holds files only, no subfolders (the signal handler removes one level).
class TempDir {
public:
  explicit TempDir(const std::string& prefix); // "moesim-platforms" -> $TMPDIR/moesim-platforms.XXXXXX
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
  int slot_ = -1;
};

// A file to remove if the process dies before the owner renames or removes it (a staged output).
// Throws std::runtime_error when the table is full (more than 64 files staged at once).
int register_temp_file(const std::string& path);
void unregister_temp_file(int slot);

// Child processes to kill (SIGKILL) before the files are removed.
void register_child(pid_t pid);
void unregister_child(pid_t pid);

} // namespace moesim
