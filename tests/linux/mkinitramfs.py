#!/usr/bin/env python3
"""Writes a gzip'd newc cpio archive (the initramfs format, Linux's
Documentation/driver-api/early-userspace/buffer-format.rst) holding busybox
and /init. Deterministic: fixed inode numbers, times and gzip mtime, so the
image and every trace of its boot are the same from build to build.

    mkinitramfs.py BUSYBOX INIT OUT
"""
import gzip
import stat
import sys


def entry(out, ino, name, mode, data=b"", nlink=1, rdev=(0, 0)):
    namez = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(namez), 0)
    out += b"070701" + "".join("%08x" % v for v in fields).encode() + namez
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)


def main():
    busybox, init, dest = sys.argv[1:4]
    files = [(d, stat.S_IFDIR | 0o755, b"", 2) for d in ("bin", "dev", "proc", "sys")]
    files += [
        ("bin/busybox", stat.S_IFREG | 0o755, open(busybox, "rb").read(), 1),
        ("bin/sh", stat.S_IFLNK | 0o777, b"busybox", 1),
        ("init", stat.S_IFREG | 0o755, open(init, "rb").read(), 1),
    ]
    out = bytearray()
    for ino, (name, mode, data, nlink) in enumerate(files, start=1):
        entry(out, ino, name, mode, data, nlink)
    # The console for /init's output (major 5, minor 1).
    entry(out, len(files) + 1, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    entry(out, 0, "TRAILER!!!", 0)
    with open(dest, "wb") as f:
        f.write(gzip.compress(bytes(out), 9, mtime=0))


if __name__ == "__main__":
    main()
