// What a call refused: the InputError's message, or "accepted" when it returned. Tests match the
// message against the file, the key and the fix that the one-line promise names.
#pragma once
#include "core/error.hpp"

#include <functional>
#include <string>

namespace moesim::test {

inline std::string refusal(const std::function<void()>& f)
{
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}

} // namespace moesim::test
