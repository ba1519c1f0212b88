#include "tests/kvm/kvm_test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace rrvm::test {

std::string kvm_unusable_reason() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open /dev/kvm: ") + std::strerror(errno);
  int vm = ::ioctl(fd, 0xae01 /* KVM_CREATE_VM */, 0);
  int err = errno;
  ::close(fd);
  if (vm < 0) return std::string("KVM_CREATE_VM failed: ") + std::strerror(err);
  ::close(vm);
  return "";
}

std::string guest_path(const std::string& name) {
  return std::string(RRVM_GUEST_DIR) + "/" + name + ".elf";
}

}  // namespace rrvm::test
