#!/usr/bin/env bash
# Runs rrvm's whole test suite against build/ (made by tools/bootstrap.sh):
#  1. unit tests and everything else that needs no KVM, in parallel;
#  2. KVM tests, one at a time (they boot real VMs);
#  3. the unit tests again under ASan+UBSan (build-asan/);
# then prints how many KVM tests ran and were skipped. When /dev/kvm is
# usable, a skipped KVM test counts as a failure: a skip must not hide one.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
status=0
mkdir -p build/test-results

echo "== tests without KVM"
ctest --test-dir build -E '^kvm\.' -j"$jobs" --output-on-failure --timeout 600 \
  --output-junit test-results/nokvm.xml || status=1

# Tests labelled `long` (the stock Linux boot: more than 25 minutes in this
# kind of host's emulated ring 0) run only when RRVM_LONG_TESTS=1.
long=(-LE long)
[[ ${RRVM_LONG_TESTS:-0} == 1 ]] && long=()
echo "== KVM tests"
ctest --test-dir build -R '^kvm\.' "${long[@]}" -j1 --output-on-failure --timeout 900 \
  --output-junit test-results/kvm.xml || status=1
if ((${#long[@]})); then
  echo "== not run: $(ctest --test-dir build -N -L long | awk '/Total Tests:/ {print $3}') test(s) labelled long; RRVM_LONG_TESTS=1 runs them"
fi

echo "== unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRRVM_SANITIZE=ON -DRRVM_BUILD_BENCH=OFF \
  -DRRVM_BUILD_GUESTS=OFF >/dev/null || status=1
targets=$(cmake --build build-asan --target help | awk '/^\.\.\. unit_/ {print $2}')
if [[ -n "$targets" ]]; then
  # shellcheck disable=SC2086
  cmake --build build-asan -j"$jobs" --target $targets >/dev/null || { echo "asan build failed"; status=1; }
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -R '^unit\.' -j"$jobs" --output-on-failure --timeout 900 \
    --output-junit ../build/test-results/asan.xml || status=1
fi

python3 tools/test_summary.py build/test-results || status=1
exit $status
