"""`monitor seek EXIT` lands right after that exit; reverse-stepi from there
crosses back into the interval before it (the instruction that made the
exit) and stepi returns to exactly the same state.

Parameters: $rrvm_seek_exit, an exit ordinal inside the trace (> 0)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def test():
    exit_ = t.param("rrvm_seek_exit")
    out = t.capture(f"monitor seek {exit_}")
    t.capture("maintenance flush register-cache")
    at = t.when()
    t.report(at.startswith(f"exit {exit_}, instruction 0"), f"monitor seek lands after exit {exit_}",
             out + at)
    regs = t.registers()
    t.capture("reverse-stepi")
    back = t.when()
    t.report(back.startswith(f"exit {exit_ - 1},"), "reverse-stepi goes back before the exit", back)
    t.report(t.registers() != regs, "... where the registers differ")
    t.capture("stepi")
    t.report(t.when() == at, "stepi makes the exit again", t.when())
    t.report(t.registers() == regs, "... with identical registers",
             t.differences(regs, t.registers()))


t.run(test)
