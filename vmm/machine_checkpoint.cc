#include "vmm/machine_checkpoint.h"

#include <stdexcept>

#include "vmm/state_digest.h"

namespace rrvm {

std::string differing_parts(const MachineDigest& a, const MachineDigest& b) {
  std::string out;
  auto note = [&](bool differ, const char* what) {
    if (!differ) return;
    if (!out.empty()) out += ", ";
    out += what;
  };
  note(a.vcpu != b.vcpu, "vCPU");
  note(a.devices != b.devices, "devices");
  note(a.ram != b.ram, "RAM");
  return out;
}

MachineCheckpoints::MachineCheckpoints(const MachineParts& parts) : m_(parts), ram_(parts.ram) {}

const MachineCheckpoints::Checkpoint& MachineCheckpoints::at(Id id) const {
  auto it = checkpoints_.find(id);
  if (it == checkpoints_.end()) throw std::out_of_range("no checkpoint " + std::to_string(id));
  return it->second;
}

// Everything but RAM; the digest's RAM part is the caller's.
MachineCheckpoints::Checkpoint MachineCheckpoints::capture() {
  if (!msrs_probed_) {
    msrs_ = checkpoint_msrs(m_.vcpu);
    msrs_probed_ = true;
  }
  Checkpoint c;
  c.exits = m_.position.exits;
  c.completions = m_.position.completions;
  c.exception_going_in = m_.position.exception_going_in;
  c.vcpu = save_vcpu_state(m_.vcpu, msrs_);
  c.devices = m_.devices.save();
  c.board = m_.board.save();
  c.clock_ns = m_.clock.now_ns();
  c.digest.vcpu = rrvm::digest(c.vcpu);
  c.digest.devices = devices_digest(c);
  return c;
}

// The loop clock is left out: under --clock host it is host time, and the
// guest sees time only through device States, which are in.
uint64_t MachineCheckpoints::devices_digest(const Checkpoint& c) const {
  StateDigest d;
  d.value(m_.devices.digest(c.devices)).value(c.board.cr8_seen);
  d.value(uint8_t{c.board.stop.has_value()});
  if (c.board.stop) {
    d.value(c.board.stop->reason).value(c.board.stop->status);
    d.bytes({reinterpret_cast<const uint8_t*>(c.board.stop->message.data()),
             c.board.stop->message.size()});
  }
  return d.digest();
}

MachineCheckpoints::Id MachineCheckpoints::take() {
  Checkpoint c = capture();
  Id id = ram_.take();
  c.digest.ram = ram_.digest(id);
  checkpoints_.emplace(id, std::move(c));
  return id;
}

MachineDigest MachineCheckpoints::digest_now() {
  Checkpoint c = capture();
  c.digest.ram = ram_.digest_now();
  return c.digest;
}

// RAM first, then the vCPU, then the devices: a device restore may remap
// its BARs on the buses, and none of them reads guest memory on restore.
size_t MachineCheckpoints::restore(Id id) {
  const Checkpoint& c = at(id);
  // An exit still pending would be completed by KVM at the next KVM_RUN
  // on top of the restored registers (an emulated IN writing RAX, RIP
  // advanced past an instruction that is not there): finish it, and any
  // string-I/O chunks it runs into, first. Its effects are overwritten.
  while (!m_.vcpu.finish_pending_exit()) {
  }
  size_t pages = ram_.restore(id);
  restore_vcpu_state(m_.vcpu, c.vcpu);
  m_.devices.restore(c.devices);
  m_.board.restore(c.board);
  m_.clock.restore(c.clock_ns);
  m_.position = {c.exits, c.completions, c.exception_going_in};
  if (c.exception_going_in) set_completion_events(m_.vcpu, *c.exception_going_in);
  return pages;
}

void MachineCheckpoints::drop(Id id) {
  at(id);
  ram_.drop(id);
  checkpoints_.erase(id);
}

std::vector<std::string> MachineCheckpoints::differing_devices(Id a, Id b) const {
  return m_.devices.differing(at(a).devices, at(b).devices);
}

std::vector<std::string> MachineCheckpoints::differing_devices(Id a) const {
  return m_.devices.differing(at(a).devices, m_.devices.save());
}

uint64_t MachineCheckpoints::bytes_used() const {
  uint64_t b = ram_.bytes_used();
  for (const auto& [id, c] : checkpoints_) {
    b += sizeof c + c.vcpu.fpu.size() + c.vcpu.msrs.size() * sizeof(kvm_msr_entry);
    for (const auto& blob : c.devices) b += sizeof blob + blob.size();
  }
  return b;
}

}  // namespace rrvm
