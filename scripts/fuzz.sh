#!/usr/bin/env bash
# fuzz.sh [--seconds N]: builds the libFuzzer targets of fuzz/ with clang
# (ASan+UBSan) in build-fuzz and runs each one on a copy of its seed corpus
# (fuzz/corpus/<name>) for N seconds, one after the other. The default of 25
# keeps all of them together under 4 minutes, for CI; longer runs are
# `scripts/fuzz.sh --seconds 3600`. Prints one line per fuzzer with its exec
# count and result, then "fuzzers: N passed, N failed". Fails if any fuzzer
# crashes, breaks a property, leaks, times out or reports a sanitizer error;
# the input that did it is kept in the printed log directory.
source "$(dirname "$0")/lib/common.sh"

seconds=25
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || die "--seconds needs a value"; seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (expected --seconds N)" ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive whole number, got '$seconds'"
command -v clang++ >/dev/null || die "clang++ not found; scripts/install-deps.sh installs clang and libclang-rt-14-dev"

dir="$NEST_ROOT/build-fuzz"
generator=()
[ -f "$dir/CMakeCache.txt" ] || generator=(-G Ninja)
log "build fuzzers in $dir"
CC=clang CXX=clang++ cmake -S "$NEST_ROOT" -B "$dir" "${generator[@]}" \
  -DNEST_FUZZ=ON >/dev/null
cmake --build "$dir" -j2 --target fuzzers

work="$(mktemp -d -t nest-fuzz-XXXXXX)"
passed=0
failed=0
# Every fuzzer needs a corpus, and every corpus a fuzzer.
for bin in "$dir"/fuzz/fuzz_*; do
  [ -d "$NEST_ROOT/fuzz/corpus/$(basename "$bin" | sed 's/^fuzz_//')" ] ||
    die "$(basename "$bin") has no seed corpus in fuzz/corpus/"
done

log "run each fuzzer for ${seconds}s (logs and crashing inputs, kept on failure: $work)"
printf '%-20s %12s %10s  %s\n' fuzzer execs "execs/s" result
for corpus in "$NEST_ROOT"/fuzz/corpus/*/; do
  name="$(basename "$corpus")"
  bin="$dir/fuzz/fuzz_$name"
  [ -x "$bin" ] || die "fuzz/corpus/$name has no fuzzer (expected $bin)"
  mkdir -p "$work/$name/corpus"
  cp "$corpus"/* "$work/$name/corpus/"
  out="$work/$name.log"
  rc=0
  # timeout: libFuzzer's own out-of-memory report can hang; CI must not.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout -k 10 $((seconds + 60)) \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/$name/" \
      "$work/$name/corpus" >"$out" 2>&1 || rc=$?
  execs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$out" | tail -1)"
  execs="${execs:-0}"
  if [ "$rc" -eq 0 ] && ! grep -qE '^(==[0-9]+==ERROR|SUMMARY: )|runtime error:' "$out"; then
    result=ok
    passed=$((passed + 1))
  else
    why="$(grep -m1 -oE 'ERROR: [A-Za-z]+: [^ ]+( [^ ]+)?|runtime error: .*|property does not hold: .*' "$out" || true)"
    result="FAILED (${why:-exit $rc}; log $out)"
    failed=$((failed + 1))
  fi
  printf '%-20s %12s %10s  %s\n' "fuzz_$name" "$execs" "$((execs / seconds))" "$result"
done
echo "fuzzers: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  exit 1
fi
rm -rf "$work"
