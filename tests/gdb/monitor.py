"""monitor commands: the target's text is printed; the server's own ones
(mode, disas) are there for every target."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rrvm_gdb_check as t  # noqa: E402


def test():
    out = t.capture("monitor help")
    t.report("when" in out and "disas" in out,
             "monitor help lists the target's and the server's commands", out)
    before = t.capture("monitor when")
    t.report(before.strip() != "", "monitor when prints the position", before)
    t.capture("stepi")
    t.report(t.capture("monitor when") != before, "monitor when follows stepi")
    out = t.capture("monitor mode")
    t.report(out.strip() in ("32-bit protected mode", "64-bit long mode"), "monitor mode", out)
    out = t.capture(f"monitor disas {t.pc():#x} 2")
    t.report(out.startswith("=> ") and len(out.splitlines()) == 2,
             "monitor disas lists instructions from RIP", out)
    out = t.capture("monitor no-such-command")
    t.report(out.strip() != "", "an unknown monitor command gets an answer", out)


t.run(test)
