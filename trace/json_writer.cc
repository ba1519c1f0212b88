#include "trace/json_writer.h"

#include <charconv>
#include <cmath>

#include "trace/text_escape.h"

namespace rrvm::trace {

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ", ";
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::open(char bracket) {
  separate();
  out_ += bracket;
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
  out_ += bracket;
  if (!first_.empty()) first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  separate();
  out_ += '"';
  out_ += json_escape(name);
  out_ += "\": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view text) {
  separate();
  out_ += text;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  return raw("\"" + json_escape(s) + "\"");
}

JsonWriter& JsonWriter::value(double v) {
  if (!std::isfinite(v)) return null();  // RFC 8259 section 6: no NaN or Infinity
  char b[32];
  auto end = std::to_chars(b, b + sizeof b, v).ptr;  // the shortest text that reads back as v
  return raw(std::string_view(b, size_t(end - b)));
}

JsonWriter& JsonWriter::strings(const std::vector<std::string>& list) {
  begin_array();
  for (const auto& s : list) value(s);
  return end_array();
}

}  // namespace rrvm::trace
