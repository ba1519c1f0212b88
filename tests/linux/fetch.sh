#!/usr/bin/env bash
# Fetches the guest for the Linux boot test into DEST (the build tree): the
# kernel of Debian's linux-image-cloud-amd64 and busybox-static, with
# `apt-get download` and `dpkg-deb -x` — nothing is installed on the host
# (no kernel in /boot, no package database change). Idempotent: a DEST that
# already holds both files is left alone.
#   tests/linux/fetch.sh DEST
set -euo pipefail
dest=${1:?usage: tests/linux/fetch.sh DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [[ -s $dest/vmlinuz && -s $dest/busybox ]]; then
  echo "linux guest: already in $dest ($(cat "$dest/VERSION" 2>/dev/null || echo unknown))"
  exit 0
fi

# The metapackage names the current kernel package (linux-image-6.1.0-N-cloud-amd64).
kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
  awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kernel_pkg ]] || { echo "linux guest: apt-cache knows no linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"  # apt-get download fetches as user _apt
(cd "$work" && apt-get download -q "$kernel_pkg" busybox-static >/dev/null) ||
  { echo "linux guest: apt-get download $kernel_pkg busybox-static failed" >&2; exit 1; }
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
cp "$work"/root/boot/vmlinuz-* "$dest/vmlinuz.tmp"
cp "$work/root/bin/busybox" "$dest/busybox.tmp"
mv "$dest/vmlinuz.tmp" "$dest/vmlinuz"
mv "$dest/busybox.tmp" "$dest/busybox"
echo "$kernel_pkg $(dpkg-deb -f "$work"/linux-image-*.deb Version)" >"$dest/VERSION"
echo "linux guest: $(cat "$dest/VERSION") in $dest"
