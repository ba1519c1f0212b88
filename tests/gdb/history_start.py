"""Going back past the start of the trace stops there with gdb's "No more
reverse-execution history", not an error; forward execution still works."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402

NO_HISTORY = "No more reverse-execution history"


def test():
    start, start_pc = t.when(), t.pc()
    for _ in range(3):
        t.capture("stepi")
    out = t.capture("reverse-continue")
    t.report(NO_HISTORY in out, "reverse-continue reports the start of the history", out)
    t.report(t.when() == start and t.pc() == start_pc, "... and stops at the start", t.when())
    out = t.capture("reverse-stepi")
    t.report(NO_HISTORY in out and t.when() == start, "reverse-stepi at the start stays there", out)
    t.capture("stepi")
    t.report(t.when() != start, "stepi still moves forward", t.when())


t.run(test)
