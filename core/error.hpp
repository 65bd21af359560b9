// InputError: the one exception type for bad user input. It carries the file, the key and the fix
// so that the CLI can print one line and exit 2. Library code throws it; only cli/ catches it.
#pragma once
#include <stdexcept>
#include <string>

namespace moesim {

class InputError : public std::runtime_error {
public:
  InputError(std::string file, std::string key, std::string what, std::string fix)
      : std::runtime_error(format(file, key, what, fix))
      , file_(std::move(file))
      , key_(std::move(key))
      , what_(std::move(what))
      , fix_(std::move(fix))
  {
  }
  // Rebuilds an error from its parts when the message was already formatted (e.g. in a child process).
  static InputError preformatted(std::string file, std::string key, const std::string& message, std::string fix)
  {
    return InputError(std::move(file), std::move(key), std::move(fix), message, 0);
  }
  const std::string& file() const { return file_; }
  const std::string& key() const { return key_; }
  const std::string& fix() const { return fix_; }
  // The same error blamed on another file (a generated file's error shown as its source's).
  InputError with_file(const std::string& file) const { return with_place(file, key_); }
  InputError with_place(const std::string& file, const std::string& key) const
  {
    if (!what_.empty())
      return InputError(file, key, what_, fix_);
    std::string m = what();
    if (m.rfind(file_, 0) == 0)
      m = file + m.substr(file_.size());
    return preformatted(file, key, m, fix_);
  }

private:
  InputError(std::string file, std::string key, std::string fix, const std::string& message, int)
      : std::runtime_error(message), file_(std::move(file)), key_(std::move(key)), fix_(std::move(fix))
  {
  }
  static std::string format(const std::string& file, const std::string& key, const std::string& what,
                            const std::string& fix)
  {
    std::string s = file.empty() ? std::string("input") : file;
    if (!key.empty())
      s += ": " + key;
    s += ": " + what;
    if (!fix.empty())
      s += " (fix: " + fix + ")";
    return s;
  }
  std::string file_, key_, what_, fix_;
};

} // namespace moesim
