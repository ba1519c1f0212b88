#include "vmm/host_info.h"

#include <sys/utsname.h>

#include <fstream>

namespace rrvm {

std::string host_kernel() {
  struct utsname u {};
  if (uname(&u) != 0) return "unknown";
  return std::string(u.sysname) + " " + u.release + " " + u.machine;
}

std::string host_kernel_build() {
  struct utsname u {};
  if (uname(&u) != 0) return "unknown";
  return u.version;
}

std::string host_cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

}  // namespace rrvm
