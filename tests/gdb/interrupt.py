"""Ctrl-C (SIGINT to gdb, 0x03 on the wire) stops a continue that would run
forever. Needs a target that runs without stopping (a spinning guest)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def test():
    start = t.when()
    # From outside: gdb runs no Python while it waits for the target.
    killer = subprocess.Popen(["sh", "-c", f"sleep 1; kill -INT {os.getpid()}"])
    out = t.capture("continue")
    killer.wait()
    t.report("SIGINT" in out, "Ctrl-C stops the continue", out)
    t.report(t.when() != start, "the target ran before it stopped", t.when())


t.run(test)
