#!/usr/bin/env bash
# Builds the x86_64 kvm-unit-tests images from the vendored tarball (called by
# CMakeLists.txt here; ~40 s on two cores):
#   build.sh TARBALL SHA256SUMS WORKDIR OUTDIR CC
# Unpacks into WORKDIR/src, runs upstream's `./configure --arch=x86_64 && make`
# and copies x86/*.flat to OUTDIR. Configure and make output go to
# WORKDIR/build.log, printed only when the build fails.
set -euo pipefail
tarball=$1 sums=$2 work=$3 out=$4 cc=$5
src=$work/src
log=$work/build.log

rm -rf "$src" "$out"
mkdir -p "$src" "$out"
tar -xJf "$tarball" -C "$src" --strip-components=1

# The reference images in ../shared/kvm-unit-tests were built in
# /tmp/kutbuild; mapping the source directory to that path in the debug
# information makes this build reproduce them byte for byte (SHA256SUMS),
# wherever the build tree is.
# Our make's jobserver is not passed to custom commands: drop its flags.
if ! (cd "$src" &&
      ./configure --arch=x86_64 --cc="$cc" --disable-werror \
        --cflags="-ffile-prefix-map=$src=/tmp/kutbuild" &&
      env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j"$(nproc)") >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "kvm-unit-tests: build failed; full log in $log" >&2
  exit 1
fi
cp "$src"/x86/*.flat "$out"/

# A different compiler gives different bytes; the tests still run, but the
# expectations were measured with the reference images.
if ! (cd "$out/.." && sha256sum --quiet -c "$sums" >/dev/null 2>&1); then
  echo "kvm-unit-tests: note: the images differ from the reference build" \
       "($(basename "$cc") $("$cc" -dumpfullversion 2>/dev/null || true));" \
       "expectations.txt was measured with gcc 12.2 (Debian 12)" >&2
fi
