// Text -> value for machine options, each checking the range the machine can
// take. Every rejection is a ConfigError naming the option, the value and what
// is accepted; the caller knows whether the text came from the user (a usage
// error) or from a trace (a corrupt trace), so it chooses the exit status.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rrvm {

class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
  // "<key> takes <accepted>, not '<value>'"
  static ConfigError bad_value(std::string_view key, std::string_view value,
                               std::string_view accepted);
};

// "256M", "1G", "65536K", "268435456" -> bytes. Throws std::invalid_argument
// naming the text on anything else.
uint64_t parse_size(const std::string& text);

// Decimal digits only (no sign, no blanks, no suffix) -> value; nullopt for
// anything else or a value above UINT64_MAX.
std::optional<uint64_t> parse_decimal(std::string_view text);

// on|off (also 1/0, yes/no, true/false).
bool parse_on_off(std::string_view key, std::string_view text);
// A decimal integer in [min, max]; `unit` (e.g. "seconds since 1970") is
// named in the error.
uint64_t parse_integer(std::string_view key, std::string_view text, uint64_t min, uint64_t max,
                       std::string_view unit);
// A size (parse_size syntax) in [min, max] bytes and a multiple of `align`;
// the error gives the range in bytes, since MiB may round a bad value to 0.
uint64_t parse_bytes(std::string_view key, std::string_view text, uint64_t min, uint64_t max,
                     uint64_t align);
// A finite, non-negative decimal number of seconds up to `max`.
double parse_seconds(std::string_view key, std::string_view text, double max);

// One of `values`, spelled as to_string(value) spells it.
template <typename E>
E parse_choice(std::string_view key, std::string_view text, std::span<const E> values) {
  std::string names;
  for (size_t i = 0; i < values.size(); ++i) {
    if (to_string(values[i]) == text) return values[i];
    names += (i == 0                   ? ""
              : i + 1 == values.size() ? " or "
                                       : ", ") +
             std::string(to_string(values[i]));
  }
  throw ConfigError::bad_value(key, text, names);
}

}  // namespace rrvm
