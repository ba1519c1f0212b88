"""A trace that ends without the guest exiting (cut off by SIGKILL): continue
stops at its end with "No more reverse-execution history", and the session
stays usable backwards."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402

NO_HISTORY = "No more reverse-execution history"


def test():
    out = t.capture("continue")
    end = t.when()
    t.report(NO_HISTORY in out, "continue reports the end of the history", out)
    t.capture("reverse-stepi")
    t.report(t.when() != end, "reverse-stepi moves back from the end", t.when())
    out = t.capture("continue")
    t.report(NO_HISTORY in out and t.when() == end, "continue returns to the end", out)


t.run(test)
