#include "vmm/option_value.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rrvm {

ConfigError ConfigError::bad_value(std::string_view key, std::string_view value,
                                   std::string_view accepted) {
  return ConfigError(std::string(key) + " takes " + std::string(accepted) + ", not '" +
                     std::string(value) + "'");
}

uint64_t parse_size(const std::string& text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10)
      throw std::invalid_argument("size '" + text + "' is too large");
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0)
    throw std::invalid_argument("size '" + text + "' is not a number (examples: 256M, 1G)");
  std::string suffix = text.substr(i);
  unsigned shift = 0;
  if (suffix == "")
    shift = 0;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB")
    shift = 10;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB")
    shift = 20;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB")
    shift = 30;
  else
    throw std::invalid_argument("size '" + text + "' has an unknown suffix (use K, M or G)");
  if (shift && value > (UINT64_MAX >> shift))
    throw std::invalid_argument("size '" + text + "' is too large");
  return value << shift;
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

bool parse_on_off(std::string_view key, std::string_view v) {
  if (v == "on" || v == "1" || v == "yes" || v == "true") return true;
  if (v == "off" || v == "0" || v == "no" || v == "false") return false;
  throw ConfigError::bad_value(key, v, "on or off");
}

uint64_t parse_integer(std::string_view key, std::string_view text, uint64_t min, uint64_t max,
                       std::string_view unit) {
  std::optional<uint64_t> v = parse_decimal(text);
  if (!v || *v < min || *v > max) {
    throw ConfigError::bad_value(key, text,
                                 "an integer " + std::to_string(min) + " .. " +
                                     std::to_string(max) + " (" + std::string(unit) + ")");
  }
  return *v;
}

namespace {

// 2097152 -> "2M", 68719476736 -> "64G": the range as a user would type it.
std::string size_text(uint64_t bytes) {
  for (auto [shift, suffix] : {std::pair{30, "G"}, {20, "M"}, {10, "K"}}) {
    if (bytes && bytes % (uint64_t{1} << shift) == 0)
      return std::to_string(bytes >> shift) + suffix;
  }
  return std::to_string(bytes);
}

}  // namespace

uint64_t parse_bytes(std::string_view key, std::string_view text, uint64_t min, uint64_t max,
                     uint64_t align) {
  std::optional<uint64_t> v;
  try {
    v = parse_size(std::string(text));
  } catch (const std::invalid_argument&) {
  }
  if (!v || *v < min || *v > max || *v % align != 0) {
    throw ConfigError::bad_value(
        key, text,
        std::to_string(min) + " .. " + std::to_string(max) + " bytes (" + size_text(min) + " .. " +
            size_text(max) + ") in multiples of " + std::to_string(align) + " (suffixes K, M, G)");
  }
  return *v;
}

double parse_seconds(std::string_view key, std::string_view text, double max) {
  // Plain decimal notation only: strtod alone would also take "nan", "inf",
  // hex floats and leading blanks.
  bool plain = !text.empty() &&
               text.find_first_not_of("0123456789.eE+-") == std::string_view::npos &&
               (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.');
  std::string s(text);
  char* end = nullptr;
  double v = plain ? std::strtod(s.c_str(), &end) : -1;
  if (!plain || *end != '\0' || !std::isfinite(v) || v < 0 || v > max) {
    char range[64];
    std::snprintf(range, sizeof range, "a number of seconds 0 .. %.0f", max);
    throw ConfigError::bad_value(key, text, range);
  }
  return v;
}

}  // namespace rrvm
