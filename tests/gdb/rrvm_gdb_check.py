"""Checks for the gdb scripts in tests/gdb, kvm-unit-tests style.

Each script drives gdb (batch mode, already connected to an rrvm GDB server)
through one behaviour and reports "PASS: what" / "FAIL: what" lines, then
"SUMMARY: N passed, M failed"; gdb exits with status 1 when a check failed.
The scripts know nothing about the target: what they need from it comes as
gdb convenience variables ($rrvm_loop, ...), which the runner
(tests/gdb/gdb_script.h) sets from the test's parameters, so the same
scripts run against the scripted fake target and against real replays.
"""
import os
import tempfile
import traceback

import gdb

_counts = {"passed": 0, "failed": 0}


def param(name, default=None):
    """The integer value of convenience variable $name, or `default`."""
    value = gdb.convenience_variable(name)
    if value is None:
        if default is None:
            raise gdb.GdbError(f"the script needs ${name}")
        return default
    return int(value)


def capture(command):
    """Runs a gdb command and returns everything it printed, including the
    stop report ("Breakpoint 1, ...", "No more reverse-execution history.")
    and monitor output, which gdb 13 prints outside
    gdb.execute(to_string=True): fds 1 and 2 are redirected for the
    command's duration. The text is echoed for the log."""
    gdb.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            gdb.execute(command)
        finally:
            gdb.flush()
            for fd, copy in enumerate(saved, start=1):
                os.dup2(copy, fd)
                os.close(copy)
            f.seek(0)
            text = f.read().decode(errors="replace")
            print(f"(gdb) {command}\n{text}", end="")
    return text


def try_capture(command):
    """(True, output), or (False, gdb's error message) when it fails."""
    try:
        return True, capture(command)
    except gdb.error as e:
        print(f"(gdb) {command}\n{e}")
        return False, str(e)


def pc():
    return int(gdb.parse_and_eval("$pc"))


def u32(addr):
    return int(gdb.parse_and_eval(f"*(unsigned int *){addr:#x}"))


def when():
    """The target's position as `monitor when` words it."""
    return gdb.execute("monitor when", to_string=True).strip()


def registers():
    """Every register gdb knows, by name, as gdb prints it."""
    frame = gdb.selected_frame()
    return {r.name: str(frame.read_register(r.name)) for r in frame.architecture().registers()}


def differences(a, b):
    return ", ".join(f"{k}: {a[k]} vs {b.get(k)}" for k in a if a[k] != b.get(k))


def report(ok, what, detail=""):
    _counts["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'}: {what}" + (f" ({detail})" if detail and not ok else ""))


def run(test):
    """Runs test(), counts an exception as a failure, prints the summary and
    quits gdb with status 1 if anything failed."""
    try:
        test()
    except Exception:  # a failed gdb command, or a bug in the script
        report(False, "script ran to its end", traceback.format_exc().strip())
    print(f"SUMMARY: {_counts['passed']} passed, {_counts['failed']} failed")
    gdb.execute("quit 1" if _counts["failed"] or not _counts["passed"] else "quit 0")
