#include "vmm/tap_backend.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rrvm {

namespace {

// Largest frame a tap hands over without offloads (IFF_VNET_HDR is not set):
// a 64 KiB IP packet plus its Ethernet and VLAN headers.
constexpr size_t kMaxFrame = 65536 + 18;

std::string open_hint(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return " (no TUN/TAP driver: load it with `modprobe tun`, or create the node with "
             "`mknod /dev/net/tun c 10 200`)";
    case EACCES:
    case EPERM:
      return " (needs read/write access to /dev/net/tun, and CAP_NET_ADMIN unless the tap "
             "already exists and is yours)";
    default:
      return "";
  }
}

std::string attach_hint(int err, const std::string& ifname) {
  switch (err) {
    case EPERM:
    case EACCES:
      return " (creating or attaching a tap needs CAP_NET_ADMIN; or create a persistent one "
             "you own first: `ip tuntap add " +
             ifname + " mode tap user $USER`)";
    case EINVAL:
      return " (" + ifname + " exists and is not a tap interface, or was made with other flags)";
    case EBUSY:
      return " (another process has " + ifname + " open)";
    default:
      return "";
  }
}

}  // namespace

void check_tap_name(std::string_view ifname) {
  if (ifname.empty()) throw NetError("--net tap:IFNAME needs an interface name");
  if (ifname.size() >= IFNAMSIZ) {
    throw NetError("--net tap: interface name '" + std::string(ifname) + "' is longer than " +
                   std::to_string(IFNAMSIZ - 1) + " characters");
  }
  for (char c : ifname) {
    if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r')) {
      throw NetError("--net tap: interface name '" + std::string(ifname) +
                     "' must not contain '/', ':' or white space");
    }
  }
}

TapBackend::TapBackend(const std::string& ifname, WarnFn warn)
    : ifname_(ifname), name_("tap:" + ifname), warn_(std::move(warn)), buf_(kMaxFrame) {
  check_tap_name(ifname);
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    int err = errno;
    throw NetError("tap " + ifname + ": cannot open /dev/net/tun: " + std::strerror(err) +
                   open_hint(err));
  }
  ifreq req{};
  req.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(req.ifr_name, ifname.data(), ifname.size());
  if (::ioctl(fd_, TUNSETIFF, &req) < 0) {
    int err = errno;
    ::close(fd_);
    throw NetError("cannot attach to tap interface " + ifname +
                   " (TUNSETIFF): " + std::strerror(err) + attach_hint(err, ifname));
  }
}

TapBackend::~TapBackend() {
  ::close(fd_);
}

void TapBackend::send(std::span<const uint8_t> frame) {
  note_send();
  if (::write(fd_, frame.data(), frame.size()) >= 0) return;
  int err = errno;
  // EAGAIN: the queue is full; EIO: the interface is down. Either way the
  // frame is lost, as on a wire.
  if (err == EAGAIN || warned_send_) return;
  warned_send_ = true;
  warn(warn_, name_ + ": dropping frames the interface refuses: " + std::strerror(err) +
                  (err == EIO ? " (bring it up: `ip link set " + ifname_ + " up`)" : ""));
}

std::optional<std::vector<uint8_t>> TapBackend::receive() {
  ssize_t n = ::read(fd_, buf_.data(), buf_.size());
  if (n <= 0) return std::nullopt;  // EAGAIN: nothing waiting
  return std::vector<uint8_t>(buf_.begin(), buf_.begin() + n);
}

}  // namespace rrvm
