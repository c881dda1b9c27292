# Sourced by the script tests that drive a real nestd --sim and nestctl:
#   TEST_NAME=... source sim_nestd.sh
# gives a temp dir $T (removed on exit, with the nestd in $PID stopped),
# fail MSG (prints the nestd log), free_port, and start_sim_nestd ARGS...
# (nestd --sim 1 on a free loopback port, $ADDR, waiting until it answers;
# nestctl finds the operator token through NEST_TOKEN_FILE).
T=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "$TEST_NAME: FAIL: $*" >&2; cat "$T/log" >&2 2>/dev/null || true; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export NEST_TOKEN_FILE="$T/state/operator.token"

start_sim_nestd() {  # start_sim_nestd [extra nestd flags...]
  ADDR="127.0.0.1:$(free_port)"
  "$NESTD" --sim 1 --state-dir "$T/state" --listen "$ADDR" \
    --http-listen "127.0.0.1:$(free_port)" "$@" >"$T/out" 2>"$T/log" &
  PID=$!
  for _ in $(seq 1 100); do
    "$NESTCTL" --server "$ADDR" get hosts >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || fail "nestd exited"
    sleep 0.1
  done
  fail "nestd did not answer within 10 s"
}
