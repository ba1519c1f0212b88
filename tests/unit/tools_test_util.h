// Shared by the CLI tests that need no KVM (tests/unit/tools_*_test.cc):
// small traces with a chosen header.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/cli_test_util.h"
#include "trace/trace_writer.h"

namespace rrvm::test {

// A header like a recording's, with `config` as its machine configuration
// (golden-v1.rrt's keys by default).
inline trace::HeaderInfo small_header(std::vector<std::pair<std::string, std::string>> config = {
                                          {"mem", "64M"},
                                          {"mptable", "kvm84"},
                                          {"clock", "host"}}) {
  trace::HeaderInfo h;
  h.rrvm_version = "test";
  h.created_unix_seconds = 1700000000;
  h.host_kernel = "Linux 6.1.0 x86_64";
  h.host_cpu = "Test CPU";
  h.config = std::move(config);
  h.clock_mode = "host";
  return h;
}

// A complete trace: `header` (its kernel image entry added), a 4-byte kernel
// blob, one guest-exit event and `footer`.
inline std::string write_small_trace(const std::string& path, trace::HeaderInfo header,
                                     trace::FooterInfo footer = {}) {
  const std::vector<uint8_t> kernel = {0x7f, 'E', 'L', 'F'};
  if (header.images.empty()) header.images = {{"kernel", "k.elf", "", kernel.size()}};
  header.images[0].hash = trace::content_hash(kernel);
  trace::TraceWriter w(path, header);
  w.add_blob("kernel", kernel);
  std::string why = footer.end_reason.empty() ? "guest exit 0" : footer.end_reason;
  w.append_bytes(trace::Event::guest_exit(1, 0, 1), std::vector<uint8_t>(why.begin(), why.end()));
  if (footer.end_reason.empty()) footer.end_reason = why;
  footer.exits = 2;
  w.close(footer);
  return path;
}

}  // namespace rrvm::test
