#!/usr/bin/env bash
# The second quick-start command and what CI runs: installs what is missing,
# builds with -Werror, runs every test tier (unit, libvirt, e2e, browser,
# layering)
# and the README's demo command, then rebuilds the unit tests under AddressSanitizer+UBSan and runs them.
# Prints each phase's wall time and, last, one "N passed, N failed" line.
source "$(dirname "$0")/lib/common.sh"
require_root
cd "$NEST_ROOT"

LOGDIR="$(mktemp -d -t nest-test-XXXXXX)"
PASSED=0
FAILED=0
STATUS=0

# tier NAME BUILD_DIR LABEL [CTEST_ARGS...]: runs one CTest tier and adds its
# counts to the totals.
tier() {
  local name="$1" dir="$2" label="$3"; shift 3
  local out="$LOGDIR/$name.log"
  ctest --test-dir "$dir" -L "^${label}\$" --output-on-failure \
        --no-tests=ignore "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -1 || true)
  if [ -n "$line" ]; then
    local failed total
    failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    total=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
    PASSED=$((PASSED + total - failed))
    FAILED=$((FAILED + failed))
  fi
  return "$rc"
}

run() { "$@" || STATUS=1; }

# The README's first command, as a user runs it, on a private state dir and
# port; counted as one test. Everything it created is removed afterwards.
readme_demo() {
  local state port rc=0
  state="$(mktemp -d /var/lib/nest-demo-XXXXXX)"
  chmod 755 "$state"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  NEST_STATE_DIR="$state" NEST_LISTEN="127.0.0.1:$port" \
  NEST_HTTP_LISTEN="127.0.0.1:$http_port" \
    scripts/demo.sh --exit 2>&1 | tee "$LOGDIR/readme-demo.log" || rc=$?
  build/tools/nestd --dev --down --state-dir "$state" >/dev/null 2>&1 || rc=1
  rm -rf "$state" "$state.nestd.log"
  if [ "$rc" -eq 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
  return "$rc"
}

run phase "install packages" scripts/install-deps.sh
run phase "start libvirtd" scripts/libvirt-up.sh
if phase "build (-Werror)" scripts/build.sh "$NEST_ROOT/build"; then
  run phase "unit tier" tier unit build unit -j2
  run phase "libvirt tier" tier libvirt build libvirt
  run phase "e2e tier" tier e2e build e2e
  run phase "browser tier" tier browser build browser
  run phase "README demo" readme_demo
else
  STATUS=1
fi
if phase "build (ASan+UBSan)" scripts/build.sh "$NEST_ROOT/build-asan" \
     -DNEST_SANITIZE=ON -DNEST_UNIT_ONLY=ON; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run phase "unit tier (ASan+UBSan)" tier unit-asan build-asan unit -j2
else
  STATUS=1
fi

# Each libFuzzer target (scripts/fuzz.sh, bounded time) counts as one test;
# a build failure counts as one failed test.
fuzz() {
  local out="$LOGDIR/fuzz.log" rc line
  scripts/fuzz.sh 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^fuzzers: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1 || true)
  if [ -n "$line" ]; then
    PASSED=$((PASSED + $(echo "$line" | sed -E 's/^fuzzers: ([0-9]+) passed.*/\1/')))
    FAILED=$((FAILED + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
  else
    FAILED=$((FAILED + 1))
  fi
  return "$rc"
}
run phase "fuzz (libFuzzer)" fuzz

print_phases
echo
echo "logs: $LOGDIR"
echo "tests: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] || STATUS=1
exit "$STATUS"
