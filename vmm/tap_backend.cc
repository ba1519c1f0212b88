#include "vmm/tap_backend.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rrvm {

TapBackend::TapBackend(const std::string& ifname) : name_("tap:" + ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    throw NetError("--net tap:IFNAME needs an interface name of 1-15 characters");
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0)
    throw NetError("cannot open /dev/net/tun: " + std::string(std::strerror(errno)) +
                   " (is the tun module loaded?)");
  ifreq req{};
  req.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, TUNSETIFF, &req) < 0) {
    int e = errno;
    ::close(fd_);
    throw NetError("cannot attach to tap interface " + ifname + ": " + std::strerror(e) +
                   (e == EPERM ? " (needs CAP_NET_ADMIN, or create it first with `ip tuntap add " +
                                     ifname + " mode tap user $USER`)"
                               : ""));
  }
}

TapBackend::~TapBackend() {
  if (fd_ >= 0) ::close(fd_);
}

void TapBackend::send(std::span<const uint8_t> frame) {
  ssize_t n = ::write(fd_, frame.data(), frame.size());
  (void)n;  // a full or down interface drops the frame, as a wire would
}

std::optional<std::vector<uint8_t>> TapBackend::receive() {
  std::vector<uint8_t> frame(65536);
  ssize_t n = ::read(fd_, frame.data(), frame.size());
  if (n <= 0) return std::nullopt;
  frame.resize(size_t(n));
  return frame;
}

}  // namespace rrvm
