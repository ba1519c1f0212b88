#include "replay/session.h"

#include "vmm/pc_board.h"

namespace rrvm {

RecordSummary record_machine(Machine& machine, trace::EventSink& sink, const RecordOptions& opts) {
  DirtyTracker dirty(machine.ram());
  RecordOptions o = opts;
  o.virtual_time = machine.loop_clock().can_skip();
  Recorder recorder(sink, machine.vcpu(), dirty, o);
  machine.set_device_clock(recorder.device_clock(machine.loop_clock()));
  machine.set_hooks(&recorder);
  RecordSummary s;
  s.result = machine.run();
  machine.set_hooks(nullptr);
  machine.set_device_clock(machine.loop_clock());
  s.events = recorder.events();
  s.landmarks = recorder.landmarks();
  s.modelled = recorder.modelled();
  s.final_memory_digest = dirty.run_digest();
  s.final_register_digest = RegisterSnapshot::from(machine.vcpu().get_regs()).digest();
  return s;
}

}  // namespace rrvm
