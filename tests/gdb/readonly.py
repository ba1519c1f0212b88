"""A replay is read-only: gdb's register and memory writes are refused with
a message, and nothing changes."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def test():
    regs, code = t.registers(), t.u32(t.pc())
    ok, out = t.try_capture("set var $rax = 0x1234")
    t.report(not ok and "read-only" in out, "writing a register is refused as read-only", out)
    ok, out = t.try_capture("set var *(unsigned char *)$pc = 0xcc")
    t.report(not ok and "Cannot access memory" in out, "writing memory is refused", out)
    t.report(t.registers() == regs and t.u32(t.pc()) == code, "registers and memory unchanged",
             t.differences(regs, t.registers()))


t.run(test)
