// A host-side network the emulated NIC is connected to.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "devices/warn.h"

namespace rrvm {

class NetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thread model: the vCPU thread calls send()/receive()/wake_fd(); a back end
// may run its own thread internally.
class NetBackend {
 public:
  virtual ~NetBackend() = default;
  virtual std::string_view name() const = 0;
  // Guest -> network; never blocks.
  virtual void send(std::span<const uint8_t> frame) = 0;
  // Next frame for the guest, or nullopt. Never blocks.
  virtual std::optional<std::vector<uint8_t>> receive() = 0;
  // Readable while receive() has frames; the run loop polls it while halted.
  virtual int wake_fd() const = 0;
};

// "none" -> nullptr; "user[,hostfwd=...]"; "tap:IFNAME". Throws NetError.
std::unique_ptr<NetBackend> make_net_backend(std::string_view spec, WarnFn warn = {});
void validate_net_spec(std::string_view spec);

}  // namespace rrvm
