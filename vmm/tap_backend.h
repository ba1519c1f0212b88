// --net tap:IFNAME: frames to and from a host TAP interface (Linux
// Documentation/networking/tuntap.rst), opened with IFF_TAP | IFF_NO_PI, so
// every read or write is one bare Ethernet frame. Attaching needs
// CAP_NET_ADMIN, or a persistent tap the user owns
// (`ip tuntap add IFNAME mode tap user $USER`).
//
// No thread and no queue: the tap fd is non-blocking and is itself the wake
// fd (the kernel keeps it readable while frames are waiting), receive() reads
// one frame, send() writes one (a frame the interface cannot take is dropped).
#pragma once

#include <string>
#include <vector>

#include "vmm/net_backend.h"

namespace rrvm {

// Throws NetError unless `ifname` is a name the kernel accepts for an
// interface: 1-15 characters, none of them '/', ':' or white space.
void check_tap_name(std::string_view ifname);

class TapBackend final : public NetBackend {
 public:
  // Throws NetError naming the interface, the errno text and what to do.
  TapBackend(const std::string& ifname, WarnFn warn = {});
  ~TapBackend() override;
  TapBackend(const TapBackend&) = delete;
  TapBackend& operator=(const TapBackend&) = delete;

  std::string_view name() const override { return name_; }
  void send(std::span<const uint8_t> frame) override;
  std::optional<std::vector<uint8_t>> receive() override;
  int wake_fd() const override { return fd_; }

 private:
  std::string ifname_;
  std::string name_;  // "tap:" + ifname_
  WarnFn warn_;
  int fd_ = -1;
  bool warned_send_ = false;  // one warning for frames the interface refused
  std::vector<uint8_t> buf_;  // one read's worth
};

}  // namespace rrvm
