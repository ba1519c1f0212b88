// Maps address ranges (I/O ports or MMIO) to devices. An ordered map of
// non-overlapping ranges, as Firecracker's Bus: insertion checks overlap and
// reports it as an error instead of silently shadowing a device.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>

#include "devices/io_device.h"

namespace rrvm {

class BusError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Bus {
 public:
  explicit Bus(std::string name) : name_(std::move(name)) {}

  // Maps [base, base + size) to `dev` (not owned). Throws BusError on an
  // empty range, wrap-around, or overlap with an existing mapping.
  void add(uint64_t base, uint64_t size, IoDevice& dev);
  // Removes the mapping that starts at `base`; returns false if none did.
  bool remove(uint64_t base);

  struct Hit {
    IoDevice* dev;
    uint64_t offset;
  };
  // The device covering the whole access [addr, addr + len), if any.
  Hit find(uint64_t addr, uint64_t len) const;

  // Dispatch. Returns false when nothing is mapped there (the caller decides
  // what an unmapped access means); reads then leave `data` untouched.
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

  const std::string& name() const { return name_; }
  // fn(base, size, device) for every mapping, in address order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [base, r] : ranges_) fn(base, r.size, *r.dev);
  }

 private:
  struct Range {
    uint64_t size;
    IoDevice* dev;
  };
  std::string name_;
  std::map<uint64_t, Range> ranges_;  // keyed by base
};

}  // namespace rrvm
