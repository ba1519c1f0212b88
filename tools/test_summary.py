#!/usr/bin/env python3
"""Summarises ctest JUnit files: KVM tests run/skipped (with reasons) and totals.

Exit 1 when /dev/kvm is usable and a KVM test was skipped: on a machine with
KVM, a skip would hide a failure."""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False


def main(directory):
    passed = failed = skipped = 0
    kvm_run = kvm_skipped = 0
    reasons = []
    for path in sorted(glob.glob(os.path.join(directory, "*.xml"))):
        for case in ET.parse(path).getroot().iter("testcase"):
            name = case.get("name", "")
            status = case.get("status", "")
            is_skip = case.find("skipped") is not None or status in ("notrun", "disabled")
            is_fail = case.find("failure") is not None or case.find("error") is not None
            if is_skip:
                skipped += 1
                if name.startswith("kvm."):
                    kvm_skipped += 1
                    out = case.findtext("system-out") or ""
                    why = next((l.strip() for l in out.splitlines() if "Skipped" in l or "SKIP" in l), "")
                    reasons.append(f"{name}: {why}")
            elif is_fail:
                failed += 1
            else:
                passed += 1
            if name.startswith("kvm.") and not is_skip:
                kvm_run += 1
    usable = kvm_usable()
    print(f"KVM tests: {kvm_run} ran, {kvm_skipped} skipped (/dev/kvm {'usable' if usable else 'not usable'})")
    for r in reasons:
        print(f"  skipped {r}")
    bad = failed > 0
    if usable and kvm_skipped:
        print("error: /dev/kvm is usable, so a skipped KVM test is a failure")
        bad = True
    if usable and kvm_run == 0:
        print("error: /dev/kvm is usable but no KVM test ran")
        bad = True
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/test-results"))
