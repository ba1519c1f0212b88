#!/usr/bin/env python3
"""Runs every kvm-unit-tests case of expectations.txt under rrvm and QEMU and
prints a table of results and times (for issue 12's closing note; not CI).

Engines (--engines, comma-separated; default all):
  rrvm      rrvm run --kernel X.flat --initrd env --mem 256M --pc-testdev on
  noenv     the same without --initrd env (fw_cfg gives the CPU count)
  replay    rrvm record, then rrvm replay: "exact" when replay exits 0 with the
            recording's serial output and guest status, else what the report says
  qemu-kvm  qemu-system-x86_64 -accel kvm -cpu qemu64 (this host's KVM)
  qemu-tcg  qemu-system-x86_64 -accel tcg -cpu max

Results are merged into --json (default kut-results.json in --out) so engines
can be measured in separate runs; --table prints the table from that file
without running anything. Raw stdout/stderr of every run go to --out.

  tests/kvm-unit-tests/measure.py --images build/tests/kvm-unit-tests/x86 \\
      --rrvm build/tools/rrvm --out /tmp/kut --engines qemu-kvm,qemu-tcg
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINES = ["rrvm", "noenv", "replay", "qemu-kvm", "qemu-tcg"]
QEMU_COMMON = ["-device", "pc-testdev", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
               "-m", "256", "-smp", "1", "-display", "none", "-serial", "stdio",
               "-monitor", "none", "-no-reboot"]


def parse_expectations(path):
    """The same grammar as tests/kvm/tools_kvm_unit_tests_test.cc reads."""
    cases = []
    with open(path) as f:
        for line in f:
            if line.lstrip().startswith("#"):
                continue
            body, _, reason = line.partition(" -- ")
            words = shlex.split(body)
            if not words:
                continue
            case = {"name": words[0], "image": words[1], "expect": words[2],
                    "reason": reason.strip(), "args": "", "time": None, "flags": []}
            for w in words[3:]:
                key, eq, value = w.partition("=")
                if not eq:
                    case["flags"].append(w)
                elif key == "time":
                    case["time"] = value
                else:
                    case[key] = value
            cases.append(case)
    return cases


def classify(status, out):
    """pass / skip / fail(N) / timeout, as upstream's run_tests.sh decides."""
    summary = [l for l in out.splitlines() if l.startswith("SUMMARY:")]
    if status == 1 and not (summary and "unexpected failures" in summary[-1]):
        return "pass"
    if status == 77:
        return "skip"
    if status == 124:
        return "timeout"
    return f"fail({status})"


def first_error(out, err):
    """What stopped the test, for the table: rrvm's error (with its rip), the
    guest's unhandled exception or assert, QEMU's error; and its first FAIL."""
    lines = err.splitlines() + out.splitlines()

    def find(pattern):
        for i, line in enumerate(lines):
            if re.search(pattern, line):
                rip = next((m.group(1) for l in lines[i + 1:i + 3]
                            for m in [re.search(r"^\s*rip ([0-9a-f]+)", l)] if m), "")
                return line.strip()[:160] + (f" [rip {rip}]" if rip else "")
        return ""
    stop = find(r"^rrvm: error|^qemu-system.*(error|terminating)|KVM internal error|"
                r"Unhandled exception|assert failed|^Abort")
    fail = find(r"^FAIL|: FAIL")
    return " | ".join(x for x in (stop, fail) if x)


def run(argv, timeout, log):
    start = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        status, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        status, out, err = 124, e.stdout or b"", e.stderr or b""
    secs = time.monotonic() - start
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    with open(log + ".out", "w") as f:
        f.write(out)
    with open(log + ".err", "w") as f:
        f.write(" ".join(shlex.quote(a) for a in argv) + "\n" + err)
    return status, out, err, secs


def cmdline(case):
    return (case["image"] + ".flat " + case["args"]).strip()


def rrvm_argv(a, case, env=True, verb="run"):
    argv = [a.rrvm, verb, "--kernel", os.path.join(a.images, case["image"] + ".flat"),
            "--mem", "256M", "--pc-testdev", "on", "--cmdline", cmdline(case),
            "--timeout", str(a.timeout)]
    if env:
        argv += ["--initrd", a.env]
    return argv


def qemu_argv(a, case, accel, cpu):
    argv = ["qemu-system-x86_64", "-accel", accel, "-cpu", cpu,
            "-kernel", os.path.join(a.images, case["image"] + ".flat"),
            "-initrd", a.env] + QEMU_COMMON
    if case["args"]:
        argv += ["-append", case["args"]]
    return argv


def measure_run(a, case, engine):
    log = os.path.join(a.out, f"{case['name']}.{engine}")
    if engine == "rrvm":
        argv = rrvm_argv(a, case)
    elif engine == "noenv":
        argv = rrvm_argv(a, case, env=False)
    elif engine == "qemu-kvm":
        argv = qemu_argv(a, case, "kvm", "qemu64")
    else:
        argv = qemu_argv(a, case, "tcg", "max")
    status, out, err, secs = run(argv, a.timeout + 10, log)
    return {"result": classify(status, out), "secs": round(secs, 1),
            "summary": next((l for l in reversed(out.splitlines()) if l.startswith("SUMMARY:")), ""),
            "error": first_error(out, err)}


def measure_replay(a, case):
    log = os.path.join(a.out, f"{case['name']}.record")
    trace = log + ".rrt"
    argv = rrvm_argv(a, case, verb="record") + ["-o", trace]
    rs, rout, rerr, rsecs = run(argv, a.timeout + 10, log)
    if rs not in (1, 77):
        return {"result": "not recorded: " + classify(rs, rout), "secs": round(rsecs, 1),
                "error": first_error(rout, rerr)}
    ps, pout, perr, psecs = run([a.rrvm, "replay", trace], a.timeout + 10,
                                log.replace(".record", ".replay"))
    size = os.path.getsize(trace)
    os.unlink(trace)
    m = re.search(r"status (\d+)\s*$", perr.strip())
    if ps == 0 and pout == rout and m and int(m.group(1)) == rs:
        result = "exact"
    elif ps == 0:
        result = "matched, output differs"
    else:
        why = "rdtsc" if "rdtsc" in perr else first_error("", perr) or f"status {ps}"
        result = "diverged: " + why
    return {"result": result, "secs": round(rsecs + psecs, 1), "record_secs": round(rsecs, 1),
            "error": "" if result == "exact" else first_error(pout, perr),
            "replay_secs": round(psecs, 1), "trace_bytes": size}


def table(cases, results, engines):
    head = "| case | expected | " + " | ".join(engines) + " |"
    rows = [head, "|" + "---|" * (len(engines) + 2)]
    for c in cases:
        r = results.get(c["name"], {})
        cells = []
        for e in engines:
            x = r.get(e)
            cells.append(f"{x['result']} {x['secs']}s" if x else "")
        exp = c["expect"] + (" slow" if "slow" in c["flags"] else "")
        rows.append(f"| {c['name']} | {exp} | " + " | ".join(cells) + " |")
    counts = []
    for e in engines:
        got = [results.get(c["name"], {}).get(e) for c in cases]
        got = [g for g in got if g]
        if got:
            n = sum(1 for g in got if g["result"] in ("pass", "exact"))
            counts.append(f"{e}: {n}/{len(got)} " + ("exact" if e == "replay" else "pass"))
    notes = []
    for c in cases:
        for e in engines:
            x = results.get(c["name"], {}).get(e)
            if x and x.get("error") and e in ("rrvm", "noenv", "replay"):
                notes.append(f"- {c['name']} ({e}): {x['error']}")
    return "\n".join(rows) + "\n\n" + "; ".join(counts) + "\n\n" + "\n".join(notes)


def refresh_errors(a, results):
    """Re-reads what stopped each run from its saved logs (the table can be
    redone after first_error changes)."""
    for name, by_engine in results.items():
        for e, x in by_engine.items():
            log = os.path.join(a.out, f"{name}.{'replay' if e == 'replay' else e}")
            if os.path.exists(log + ".out") and os.path.exists(log + ".err"):
                x["error"] = first_error(open(log + ".out").read(), open(log + ".err").read())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default="build/tests/kvm-unit-tests/x86")
    p.add_argument("--rrvm", default="build/tools/rrvm")
    p.add_argument("--env", default=os.path.join(HERE, "env"))
    p.add_argument("--expectations", default=os.path.join(HERE, "expectations.txt"))
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--cases", default="", help="comma-separated case names (default all)")
    p.add_argument("--timeout", type=int, default=120, help="seconds per run")
    p.add_argument("--out", default="kut-measure")
    p.add_argument("--json", default="")
    p.add_argument("--table", action="store_true", help="print the table from --json only")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    a.json = a.json or os.path.join(a.out, "kut-results.json")
    cases = parse_expectations(a.expectations)
    if a.cases:
        wanted = set(a.cases.split(","))
        cases = [c for c in cases if c["name"] in wanted]
    engines = [e for e in a.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            sys.exit(f"unknown engine {e}; known: {', '.join(ENGINES)}")
    results = json.load(open(a.json)) if os.path.exists(a.json) else {}
    if a.table:
        refresh_errors(a, results)
    if not a.table:
        for c in cases:
            for e in engines:
                r = measure_replay(a, c) if e == "replay" else measure_run(a, c, e)
                results.setdefault(c["name"], {})[e] = r
                print(f"{c['name']:26} {e:9} {r['result']:24} {r['secs']:7.1f}s  {r.get('error', '')}",
                      flush=True)
                with open(a.json, "w") as f:
                    json.dump(results, f, indent=1, sort_keys=True)
    print(table(cases, results, engines))


if __name__ == "__main__":
    main()
