// Facts about the host rrvm runs on, for trace headers and for telling hosts
// apart (the CPU probe's cache key). Nothing here reaches a guest.
#pragma once

#include <string>

namespace rrvm {

// uname: "Linux 6.1.0-13-amd64 x86_64" ("unknown" if uname fails).
std::string host_kernel();
// uname's version string, which tells two builds of one release apart.
std::string host_kernel_build();
// /proc/cpuinfo "model name" ("unknown" without one).
std::string host_cpu();

}  // namespace rrvm
