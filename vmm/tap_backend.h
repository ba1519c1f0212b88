// --net tap:IFNAME: frames to and from a host TAP interface (Linux
// Documentation/networking/tuntap.rst). Needs CAP_NET_ADMIN or a persistent
// tap owned by the user. The tap fd is non-blocking and is itself the wake fd.
#pragma once

#include <string>

#include "vmm/net_backend.h"

namespace rrvm {

class TapBackend final : public NetBackend {
 public:
  // Throws NetError naming the interface, the errno text and what to do.
  explicit TapBackend(const std::string& ifname);
  ~TapBackend() override;

  std::string_view name() const override { return name_; }
  void send(std::span<const uint8_t> frame) override;
  std::optional<std::vector<uint8_t>> receive() override;
  int wake_fd() const override { return fd_; }

 private:
  std::string name_;
  int fd_ = -1;
};

}  // namespace rrvm
