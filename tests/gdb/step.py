"""stepi moves one instruction at a time; reverse-stepi walks back through
exactly the same states: every register and the position equal.

Parameters: $rrvm_steps (default 5)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def test():
    n = t.param("rrvm_steps", 5)
    states = [(t.when(), t.registers())]
    for _ in range(n):
        t.capture("stepi")
        states.append((t.when(), t.registers()))
    positions = {w for w, _ in states}
    t.report(len(positions) == n + 1, f"{n} stepi reach {n} new positions", sorted(positions))
    for i in reversed(range(n)):
        t.capture("reverse-stepi")
        when, regs = t.when(), t.registers()
        t.report(when == states[i][0], f"reverse-stepi back to position {states[i][0]!r}", when)
        t.report(regs == states[i][1], "... with identical registers",
                 t.differences(states[i][1], regs))


t.run(test)
