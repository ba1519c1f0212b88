"""Software and hardware breakpoints, forward and in reverse.

Parameters: $rrvm_loop, an instruction the guest runs at least twice."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def test():
    loop = t.param("rrvm_loop")
    t.capture(f"break *{loop:#x}")
    out = t.capture("continue")
    first = t.when()
    t.report("Breakpoint 1," in out and t.pc() == loop, "continue stops at the breakpoint", out)
    out = t.capture("continue")
    second = t.when()
    t.report("Breakpoint 1," in out and t.pc() == loop and second != first,
             "continue stops at its next hit", f"{first} then {second}")
    out = t.capture("reverse-continue")
    t.report("Breakpoint 1," in out and t.when() == first,
             "reverse-continue goes back to the earlier hit", t.when())
    t.capture("delete")
    t.capture(f"hbreak *{loop:#x}")
    out = t.capture("continue")
    t.report("Breakpoint 2," in out and t.when() == second,
             "continue stops at a hardware breakpoint", out)
    out = t.capture("reverse-continue")
    t.report("Breakpoint 2," in out and t.when() == first,
             "reverse-continue stops at a hardware breakpoint", out)


t.run(test)
