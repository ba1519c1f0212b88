// The one JSON writer behind every --json output of the CLI (and the trace
// inspection functions it prints): it inserts the separators, escapes every
// string with trace/text_escape.h, and writes non-finite numbers as null, so
// its output always parses, whatever a trace holds. Compact one-line style:
//   {"a": 1, "b": [true, "x"]}
//
//   JsonWriter j;
//   j.begin_object().field("matched", true).key("pages").begin_array();
//   for (auto p : pages) j.value(p);
//   j.end_array().end_object();
//   std::cout << j.str() << "\n";
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rrvm::trace {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  // The next member's name; a value (or begin_*) must follow.
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  template <std::integral T>
  JsonWriter& value(T v) {
    if constexpr (std::same_as<T, bool>)
      return raw(v ? "true" : "false");
    else if constexpr (std::is_signed_v<T>)
      return raw(std::to_string(static_cast<int64_t>(v)));
    else
      return raw(std::to_string(static_cast<uint64_t>(v)));
  }
  // Finite values in their shortest exact form; NaN and infinities as null.
  JsonWriter& value(double v);
  JsonWriter& null() { return raw("null"); }

  template <typename T>
  JsonWriter& field(std::string_view name, const T& v) {
    return key(name).value(v);
  }

  // A list of strings as an array.
  JsonWriter& strings(const std::vector<std::string>& list);

  const std::string& str() const { return out_; }

 private:
  JsonWriter& open(char bracket);
  JsonWriter& close(char bracket);
  JsonWriter& raw(std::string_view text);
  void separate();

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

}  // namespace rrvm::trace
