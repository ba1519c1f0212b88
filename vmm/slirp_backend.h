// --net user: libslirp's user-mode network (10.0.2.0/24, gateway and DHCP
// server 10.0.2.2, DNS 10.0.2.3, first lease 10.0.2.15; PLATFORM.md). No
// privileges needed; ping to the gateway is answered by slirp itself.
//
// libslirp is not thread-safe, so one thread owns it: it polls slirp's
// sockets, runs its timers, and feeds it the frames send() queued. Frames
// slirp emits go into a bounded queue that receive() drains; an eventfd
// says when there is something to take.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmm/net_backend.h"

struct Slirp;

namespace rrvm {

struct HostForward {
  bool udp = false;
  uint32_t host_addr = 0;  // network order; 0 = any
  uint16_t host_port = 0;
  uint32_t guest_addr = 0;  // network order; 0 = the first lease
  uint16_t guest_port = 0;
};

// "tcp::2222-:22", "udp:127.0.0.1:5353-10.0.2.15:53". Throws NetError.
HostForward parse_hostfwd(std::string_view text);

class SlirpBackend final : public NetBackend {
 public:
  static constexpr size_t kQueueLimit = 1024;  // frames waiting for the guest

  SlirpBackend(const std::vector<HostForward>& forwards, WarnFn warn);
  ~SlirpBackend() override;

  std::string_view name() const override { return "user"; }
  void send(std::span<const uint8_t> frame) override;
  std::optional<std::vector<uint8_t>> receive() override;
  int wake_fd() const override { return to_guest_fd_; }

 private:
  struct Timer;
  struct Impl;
  void loop();
  void deliver(std::span<const uint8_t> frame);  // slirp -> guest queue

  WarnFn warn_;
  int to_slirp_fd_ = -1;  // wakes the slirp thread
  int to_guest_fd_ = -1;  // readable while to_guest_ has frames
  std::mutex mu_;
  std::deque<std::vector<uint8_t>> to_slirp_, to_guest_;
  bool stop_ = false;
  bool warned_full_ = false;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace rrvm
