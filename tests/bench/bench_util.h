// Shared by the whole-process benchmarks: run this build's rrvm through a
// shell, time it, and read its output.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// Runs `rrvm args` (stderr discarded); returns (wall seconds, stdout).
inline std::pair<double, std::string> rrvm(const std::string& args) {
  std::string cmd = std::string(RRVM_EXE) + " " + args + " 2>/dev/null";
  auto t0 = std::chrono::steady_clock::now();
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (p) ::pclose(p);
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), out};
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The raw text of a top-level-looking `"key": value` in a JSON line ("?" if absent).
inline std::string json_field(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return "?";
  at += key.size() + 4;
  return json.substr(at, json.find_first_of(",}", at) - at);
}

}  // namespace bench
