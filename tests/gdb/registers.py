"""Registers and memory as gdb reads them.

Parameters: $rrvm_counter, a 4-byte variable; $rrvm_unmapped, an address
with nothing mapped (default 0xdead00000000)."""
import os
import re
import sys

import gdb

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402

NAMES = ("rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags "
         "cs ss ds es fs gs fs_base gs_base cr0 cr2 cr3 cr4 cr8 efer").split()


def test():
    out = t.capture("info registers")
    missing = [n for n in NAMES if not re.search(rf"^{n}\s", out, re.M)]
    t.report(not missing, "info registers shows GPRs, selectors, fs/gs base and control registers",
             missing)
    rax = int(gdb.parse_and_eval("$rax"))
    t.report(int(gdb.parse_and_eval("$eax")) == rax & 0xffffffff, "$eax is the low half of $rax")
    t.report(t.pc() == int(gdb.parse_and_eval("$rip")), "$pc is $rip")
    cr0 = str(gdb.parse_and_eval("$cr0"))
    t.report("PE" in cr0, "cr0 shows its bits by name", cr0)
    ok, out = t.try_capture("x/4xb $pc")
    t.report(ok and out.count("0x") == 5, "memory at $pc is readable", out)
    unmapped = t.param("rrvm_unmapped", 0xDEAD00000000)
    ok, out = t.try_capture(f"x/4xb {unmapped:#x}")
    t.report(not ok and "Cannot access memory" in out, "an unmapped address cannot be read", out)
    counter = t.param("rrvm_counter")
    raw = gdb.selected_inferior().read_memory(counter, 4).tobytes()
    t.report(int.from_bytes(raw, "little") == t.u32(counter), "a variable reads the same both ways")


t.run(test)
