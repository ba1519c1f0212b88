// --net user: libslirp's user-mode network (10.0.2.0/24, gateway and DHCP
// server 10.0.2.2, DNS 10.0.2.3, first lease 10.0.2.15; PLATFORM.md). No
// privileges needed; ping to the gateway is answered by slirp itself.
//
// libslirp is not thread-safe, so one thread owns it: it polls slirp's
// sockets, runs its timers (CLOCK_MONOTONIC) and feeds it the frames send()
// queued, woken by an eventfd. Frames slirp emits go into a bounded queue
// that receive() drains; a second eventfd (wake_fd) is readable while that
// queue is not empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "vmm/net_backend.h"

namespace rrvm {

// One hostfwd rule: connections to HOSTADDR:HOSTPORT on the host are
// forwarded to GUESTADDR:GUESTPORT in the guest network.
struct HostForward {
  bool udp = false;
  uint32_t host_addr = 0;  // network order; 0 = any
  uint16_t host_port = 0;
  uint32_t guest_addr = 0;  // network order; 0 = the first lease
  uint16_t guest_port = 0;
};

// QEMU's syntax: [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g.
// "tcp::2222-:22", "udp:127.0.0.1:5353-10.0.2.15:53". Throws NetError.
HostForward parse_hostfwd(std::string_view text);

class SlirpBackend final : public NetBackend {
 public:
  // Frames waiting in either direction; more are dropped (with one warning
  // when the guest does not take what slirp sends it).
  static constexpr size_t kQueueLimit = 1024;

  // Throws NetError if slirp cannot be set up or a host port cannot be bound.
  SlirpBackend(const std::vector<HostForward>& forwards, WarnFn warn);
  // Stops the slirp thread and frees slirp, sockets and queued frames.
  ~SlirpBackend() override;
  SlirpBackend(const SlirpBackend&) = delete;
  SlirpBackend& operator=(const SlirpBackend&) = delete;

  std::string_view name() const override { return "user"; }
  void send(std::span<const uint8_t> frame) override;
  std::optional<std::vector<uint8_t>> receive() override;
  int wake_fd() const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::thread thread_;  // runs state_'s poll loop
};

}  // namespace rrvm
