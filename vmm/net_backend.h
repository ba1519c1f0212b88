// A host-side network the emulated NIC is connected to (--net), and the
// parser for its spec. The NIC model (devices/rtl8139) never sees a back end:
// the run loop moves frames between the two.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "devices/warn.h"

namespace rrvm {

// A bad --net spec, or a network that could not be set up. The message names
// the offending part and, where there is one, what to do about it.
class NetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thread model: the vCPU thread calls send()/receive()/wake_fd(); a back end
// may run its own thread internally (libslirp is not thread-safe, so the
// user-mode network makes every slirp call on its own thread and send() hands
// frames over through a queue). A back end's WarnFn may be called on that
// internal thread.
class NetBackend {
 public:
  virtual ~NetBackend() = default;
  // "user", "tap:tap0".
  virtual std::string_view name() const = 0;
  // Guest -> network. Never blocks; a frame the network cannot take now is
  // dropped, as on a busy wire.
  virtual void send(std::span<const uint8_t> frame) = 0;
  // Next frame for the guest, or nullopt. Never blocks.
  virtual std::optional<std::vector<uint8_t>> receive() = 0;
  // An fd that is readable while receive() has frames; the run loop polls it
  // while the guest is halted. Reading it is the back end's business
  // (receive() drains and re-arms it).
  virtual int wake_fd() const = 0;

  // Whether an answer may be on its way: the guest sent a frame within the
  // last kBusyNs of host time. A halted guest under --clock virtual waits
  // for the network only then, instead of skipping its time past the reply.
  static constexpr uint64_t kBusyNs = 200'000'000;
  bool busy() const;

 protected:
  // Back ends call this from send().
  void note_send();

 private:
  std::atomic<uint64_t> last_send_ns_{0};
};

// --net specs:
//   none                                   no network (nullptr)
//   user[,hostfwd=RULE]...                 libslirp, 10.0.2.0/24 (PLATFORM.md)
//       RULE = [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
//       e.g. hostfwd=tcp::2222-:22 (HOSTADDR defaults to any, GUESTADDR to
//       the first DHCP lease 10.0.2.15)
//   tap:IFNAME                             a host TAP interface
// Throws NetError naming the bad part, or saying why the network could not
// be opened (tap: the errno text and a hint about CAP_NET_ADMIN/dev/net/tun).
std::unique_ptr<NetBackend> make_net_backend(std::string_view spec, WarnFn warn = {});

// Checks a spec without opening anything (option validation). Throws NetError.
void validate_net_spec(std::string_view spec);

}  // namespace rrvm
