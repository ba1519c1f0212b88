"""A write watchpoint stops right after the instruction that wrote, going
forward, and right before it (at the writing instruction) in reverse.

Parameters: $rrvm_counter, a 4-byte variable the guest writes at least
twice, each time with a new value."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def writer(counter):
    """(pc, position, value) before the write the last stop reported;
    returns to the stop afterwards."""
    stop = t.when()
    t.capture("reverse-stepi")
    before = (t.pc(), t.when(), t.u32(counter))
    t.capture("stepi")
    t.report(t.when() == stop, "stepi returns to the watchpoint stop", t.when())
    return before


def test():
    counter = t.param("rrvm_counter")
    v0 = t.u32(counter)
    out = t.capture(f"watch *(unsigned int *){counter:#x}")
    t.report("Hardware watchpoint 1" in out, "watch sets a hardware watchpoint", out)
    out = t.capture("continue")
    v1 = t.u32(counter)
    t.report("Hardware watchpoint 1" in out and v1 != v0, "continue stops at the first write", out)
    w1 = writer(counter)
    t.report(w1[2] == v0, "the instruction before that stop is the one that wrote", w1)
    out = t.capture("continue")
    v2, second = t.u32(counter), t.when()
    t.report("Hardware watchpoint 1" in out and v2 != v1, "continue stops at the next write", out)
    w2 = writer(counter)
    out = t.capture("reverse-continue")
    t.report("Hardware watchpoint 1" in out and (t.pc(), t.when(), t.u32(counter)) == w2,
             "reverse-continue stops at the writing instruction, before it runs",
             (t.pc(), t.when(), t.u32(counter), w2))
    out = t.capture("reverse-continue")
    t.report("Hardware watchpoint 1" in out and (t.pc(), t.when(), t.u32(counter)) == w1,
             "reverse-continue again stops at the earlier write", (t.pc(), t.when(), w1))
    out = t.capture("continue")
    t.report(t.when() != second and t.u32(counter) == v1, "and forward again to the first write",
             t.when())


t.run(test)
