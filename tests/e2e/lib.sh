# shellcheck shell=bash
# Shared by the e2e scripts that drive `nestd --dev` (sourced, not run).
# The caller sets BIN (build dir of nestd/nestctl) and POOL (--net-pool).

# e2e_setup NAME: needs root; WORK (a fresh dir under /var/lib, which
# QEMU can enter), STATE, ADDR (a free loopback port), CTL (nestctl on
# ADDR with the operator token), T0 for step times.
e2e_setup() {
  E2E_NAME=$1
  [ "$(id -u)" -eq 0 ] || { echo "$E2E_NAME: needs root"; exit 1; }
  WORK=$(mktemp -d "/var/lib/nest-${E2E_NAME//_/}-XXXXXX")
  chmod 755 "$WORK"
  STATE="$WORK/state"
  ADDR="127.0.0.1:$(free_port)"
  export NEST_TOKEN_FILE="$STATE/operator.token"
  CTL=("$BIN/nestctl" --server "$ADDR")
  NESTD_PID=""
  T0=$SECONDS
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fail() { echo "$E2E_NAME: FAIL: $*" >&2; exit 1; }
step() { echo "$E2E_NAME: [$((SECONDS - T0)) s] $*"; }

# start_nestd [ARG...]: nestd --dev on STATE and ADDR with --net-pool POOL
# (log in WORK/nestd.log); returns once its API answers.
start_nestd() {
  "$BIN/nestd" --dev --state-dir "$STATE" --listen "$ADDR" --http-listen '' \
    --net-pool "$POOL" "$@" >"$WORK/nestd.log" 2>&1 &
  NESTD_PID=$!
  for _ in $(seq 1 900); do
    kill -0 "$NESTD_PID" 2>/dev/null || fail "nestd exited at start-up"
    "${CTL[@]}" get hosts >/dev/null 2>&1 && break
    sleep 1
  done
  step "nestd up"
}

# e2e_teardown RC: stops nestd, removes what it made (domains, networks,
# nft table, state) and WORK; after a failure, shows nestd's log first.
e2e_teardown() {
  local rc=$1
  [ -n "$NESTD_PID" ] && kill -9 "$NESTD_PID" 2>/dev/null || true
  [ -d "$STATE" ] && "$BIN/nestd" --dev --down --state-dir "$STATE" \
    --net-pool "$POOL" >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    echo "--- nestd log (last 80 lines) ---"
    tail -80 "$WORK/nestd.log" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
