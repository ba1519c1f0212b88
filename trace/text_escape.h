// The one escaping for text that comes from outside rrvm (a trace, a guest,
// a file name) on its way to a terminal or into JSON. Every control character
// (C0, DEL, C1) and every byte that is not part of well-formed UTF-8 becomes a
// JSON-style \uXXXX escape (a stray byte 0xNN becomes \u00NN), so a trace can
// neither send escape sequences to a terminal (window title, clear screen) nor
// break out of a JSON string, and the result is always valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace rrvm::trace {

enum class Escape {
  kJson,   // inside a JSON string (or a quoted dump field): also \" and \\, and newlines
  kLine,   // one line of terminal text: newlines escaped, quotes and backslashes kept
  kLines,  // terminal text that may span lines (rrvm's own multi-line reports): keeps \n
};

std::string escape_text(std::string_view s, Escape mode);

inline std::string json_escape(std::string_view s) {
  return escape_text(s, Escape::kJson);
}

}  // namespace rrvm::trace
