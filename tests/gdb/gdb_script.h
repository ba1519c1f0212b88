// Runs one of the gdb scripts in tests/gdb against a GDB server, as the
// tests with real gdb do: gdb 13 in batch mode without init files, connected
// with `target remote | COMMAND`, tools/rrvm-gdb.py loaded, and each
// parameter set as a gdb convenience variable ($rrvm_loop = ...) before the
// script runs. Shared by the fake-target tests (tests/unit) and the replay
// tests (tests/kvm); header-only because each test is one source file.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <regex>
#include <string>

namespace rrvm::testing {

struct GdbScriptResult {
  int status = -1;  // gdb's exit status; 124 when it timed out
  std::string output;
  int passed = 0;
  int failed = -1;  // -1: no SUMMARY line (gdb or the script broke)

  bool ok() const { return status == 0 && failed == 0 && passed > 0; }
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `script`: a file name in tests/gdb ("step.py"). `params`: name (without
// "rrvm_") → gdb expression, e.g. {"loop", "0x100039"} or {"loop", "&main"}.
// `symbol_file`: an ELF for gdb to load first ("" for none).
inline GdbScriptResult run_gdb_script(const std::string& script, const std::string& target_command,
                                      const std::map<std::string, std::string>& params = {},
                                      const std::string& symbol_file = "", int timeout_s = 60) {
  const std::string src = RRVM_SOURCE_DIR;
  std::string cmd = "timeout " + std::to_string(timeout_s) + " gdb -batch -nx";
  if (!symbol_file.empty()) cmd += " " + shell_quote(symbol_file);
  cmd += " -x " + shell_quote(src + "/tools/rrvm-gdb.py");
  cmd += " -ex " + shell_quote("target remote | " + target_command);
  for (const auto& [name, value] : params)
    cmd += " -ex " + shell_quote("set $rrvm_" + name + " = " + value);
  cmd += " -x " + shell_quote(src + "/tests/gdb/" + script) + " 2>&1 </dev/null";
  GdbScriptResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  int wstatus = pclose(p);
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  std::smatch m;
  if (std::regex_search(r.output, m, std::regex(R"(SUMMARY: (\d+) passed, (\d+) failed)"))) {
    r.passed = std::stoi(m[1]);
    r.failed = std::stoi(m[2]);
  }
  return r;
}

}  // namespace rrvm::testing
