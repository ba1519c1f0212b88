"""Code shows right in 32-bit protected mode and in 64-bit long mode: the
length of the instruction x/i shows at $pc is how far stepi moves (unless it
branches). 32-bit code needs tools/rrvm-gdb.py, which the runner loads:
gdb 13 itself decodes all code as 64-bit with an x86-64 description.

Needs a trace that starts in 32-bit mode (Multiboot). Parameters: $rrvm_loop,
an instruction in 64-bit code; $rrvm_mode_steps (default 12)."""
import os
import re
import sys

import gdb

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402

BRANCHES = ("j", "call", "lcall", "ljmp", "ret", "lret", "iret", "loop", "int", "sys", "hlt")


def insn_at_pc():
    """(address, size, text) of the instruction x/i shows at $pc."""
    lines = gdb.execute("x/2i $pc", to_string=True).splitlines()
    addrs = [int(re.search(r"0x[0-9a-f]+", line).group(0), 16) for line in lines]
    return addrs[0], addrs[1] - addrs[0], lines[0].split(":", 1)[1].strip()


def check_steps(count, mode):
    checked = 0
    for _ in range(count):
        if not t.capture("monitor mode").startswith(mode):
            break
        addr, size, text = insn_at_pc()
        t.capture("stepi")
        if text.split()[0].startswith(BRANCHES):
            continue
        t.report(t.pc() == addr + size, f"{mode}: stepi moves past '{text}'",
                 f"to {t.pc():#x}, x/i said {addr:#x} + {size}")
        checked += 1
    return checked


def test():
    steps = t.param("rrvm_mode_steps", 12)
    t.report(t.capture("monitor mode").startswith("32-bit"), "the trace starts in 32-bit mode")
    t.report(check_steps(steps, "32-bit") >= 3, "32-bit instructions checked")
    t.capture(f"break *{t.param('rrvm_loop'):#x}")
    t.capture("continue")
    t.capture("delete")
    t.report(t.capture("monitor mode").startswith("64-bit"),
             "the guest is in 64-bit mode at $rrvm_loop")
    t.report(check_steps(steps, "64-bit") >= 3, "64-bit instructions checked")


t.run(test)
