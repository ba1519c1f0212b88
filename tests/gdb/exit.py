"""Continuing to the end of a trace in which the guest exited reports the
guest's exit status, as `rrvm replay` would return it.

Parameters: $rrvm_exit_code."""
import os
import sys

import gdb

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def test():
    code = t.param("rrvm_exit_code")
    out = t.capture("continue")
    t.report("exited" in out, "continue runs to the guest's exit", out)
    got = gdb.convenience_variable("_exitcode")
    t.report(got is not None and int(got) == code, f"the exit code is {code}", got)


t.run(test)
