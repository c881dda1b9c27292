#!/usr/bin/env bash
# nestd_tls_test.sh NESTD NESTCTL MAKE_CERTS: the API port's transport end to
# end. nestd refuses plaintext off loopback (unless --insecure) and bad TLS
# flags or files before touching state; nestctl reaches a TLS nestd with
# --tls-ca (and a mutual-TLS one with --tls-cert/--tls-key) and fails with a
# clear line without them.
set -euo pipefail
NESTD="$1"
NESTCTL="$2"
MAKE_CERTS="$3"
T=$(mktemp -d)
# nestd writes its operator token there at first start; nestctl reads it.
export NEST_TOKEN_FILE="$T/state/operator.token"
PID=""
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; fi; }
cleanup() { stop; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "nestd_tls_test: FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bash "$MAKE_CERTS" "$T/pki" >/dev/null
# nestctl authenticates with the operator token nestd writes at first start.
export NEST_TOKEN_FILE="$T/state/operator.token"
C="$T/pki"
echo "garbage" >"$T/garbage.pem"

# refused ARGS... -- PATTERN: nestd exits 2, names PATTERN, creates no state.
refused() {
  local pattern="${*: -1}" rc=0
  set -- "${@:1:$(($# - 1))}"
  rm -rf "$T/refused"
  "$NESTD" --sim 1 --state-dir "$T/refused" --http-listen "" "$@" \
    >"$T/out" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || { cat "$T/out"; fail "nestd $*: exit $rc, want 2"; }
  grep -qF -- "$pattern" "$T/out" || { cat "$T/out"; fail "nestd $*: no \"$pattern\" in the error"; }
  [ ! -e "$T/refused" ] || fail "nestd $*: state created before the refusal"
}
refused --listen 0.0.0.0:7443 "--listen 0.0.0.0:7443 is not a loopback address"
refused --listen 0.0.0.0:7443 "--insecure"
refused --client-ca "$C/ca.pem" "--client-ca needs TLS"
refused --tls-cert "$C/server.pem" "--tls-cert needs --tls-key"
refused --tls-key "$C/server.key" "--tls-key needs --tls-cert"
refused --tls-cert "$T/garbage.pem" --tls-key "$C/server.key" "--tls-cert $T/garbage.pem: no PEM certificate"
refused --tls-cert "$C/server.pem" --tls-key "$T/nope.key" "--tls-key $T/nope.key: cannot read it"
refused --tls-cert "$C/server.pem" --tls-key "$C/client.key" "is not the private key"
refused --tls-cert "$C/server.pem" --tls-key "$C/server.key" --client-ca "$T/garbage.pem" "--client-ca $T/garbage.pem"

# start ARGS...: nestd --sim 1 on a fresh port ($ADDR) with ARGS; waits until
# its start-up line is logged.
start() {
  ADDR="127.0.0.1:$(free_port)"
  # Emptied here, not by the child's redirection, which may come after the
  # first grep below and let it see the previous run's line.
  : >"$T/log"
  "$NESTD" --sim 1 --state-dir "$T/state" --listen "${LISTEN:-$ADDR}" \
    --http-listen 127.0.0.1:0 "$@" >>"$T/log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    grep -q "API on" "$T/log" && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$T/log"; fail "nestd $* exited"; }
    sleep 0.1
  done
  cat "$T/log"; fail "nestd $* did not start"
}
# ok ARGS...: nestctl ARGS get hosts succeeds.
ok() {
  "$NESTCTL" --server "$ADDR" --timeout 10s "$@" get hosts >"$T/ctl" 2>&1 \
    || { cat "$T/ctl"; fail "nestctl $* get hosts failed"; }
}
# bad PATTERN ARGS...: nestctl ARGS get hosts fails (exit 5, unavailable)
# with one line naming PATTERN.
bad() {
  local pattern="$1" rc=0
  shift
  "$NESTCTL" --server "$ADDR" --timeout 10s "$@" get hosts >"$T/ctl" 2>&1 || rc=$?
  [ "$rc" -eq 5 ] || { cat "$T/ctl"; fail "nestctl $* get hosts: exit $rc, want 5"; }
  grep -qF -- "$pattern" "$T/ctl" || { cat "$T/ctl"; fail "nestctl $*: no \"$pattern\" in the error"; }
  [ "$(wc -l <"$T/ctl")" -eq 1 ] || { cat "$T/ctl"; fail "nestctl $*: error is not one line"; }
  echo "  nestctl $*: $(cat "$T/ctl")"
}

# Plaintext on loopback: said at start-up; a TLS client is told what is off.
start
grep -q "API on $ADDR (plaintext: loopback only" "$T/log" || { cat "$T/log"; fail "no plaintext note at start-up"; }
ok
bad "does not serve TLS on this address" --tls-ca "$C/ca.pem"
stop

# --insecure: plaintext off loopback, with a loud warning.
LISTEN="0.0.0.0:0" start --insecure
grep -q "PLAINTEXT" "$T/log" || { cat "$T/log"; fail "--insecure without a warning"; }
stop

# TLS.
start --tls-cert "$C/server.pem" --tls-key "$C/server.key"
grep -q "API on $ADDR (TLS)" "$T/log" || { cat "$T/log"; fail "no TLS note at start-up"; }
ok --tls-ca "$C/ca.pem"
NEST_TLS_CA="$C/ca.pem" ok
ok --tls-ca "$C/ca.pem" --tls-server-name localhost
bad "give --tls-ca"
bad "check --tls-ca" --tls-ca "$C/other-ca.pem"
bad "give --tls-server-name" --tls-ca "$C/ca.pem" --tls-server-name nest.example.com
stop

# Mutual TLS: a client certificate from --client-ca, or no connection.
start --tls-cert "$C/server.pem" --tls-key "$C/server.key" --client-ca "$C/ca.pem"
grep -q "API on $ADDR (mutual TLS" "$T/log" || { cat "$T/log"; fail "no mutual TLS note at start-up"; }
ok --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" --tls-key "$C/client.key"
NEST_TLS_CA="$C/ca.pem" NEST_TLS_CERT="$C/client.pem" NEST_TLS_KEY="$C/client.key" ok
bad "--tls-cert/--tls-key" --tls-ca "$C/ca.pem"
bad "--tls-cert/--tls-key" --tls-ca "$C/ca.pem" --tls-cert "$C/other-client.pem" --tls-key "$C/other-client.key"
stop

# nestctl's own checks of its files: exit 2, naming the flag and the file.
ADDR=127.0.0.1:1
usage() {
  local pattern="$1" rc=0
  shift
  "$NESTCTL" --server "$ADDR" "$@" get hosts >"$T/ctl" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || { cat "$T/ctl"; fail "nestctl $*: exit $rc, want 2"; }
  grep -qF -- "$pattern" "$T/ctl" || { cat "$T/ctl"; fail "nestctl $*: no \"$pattern\""; }
}
usage "--tls-ca $T/nope.pem: cannot read it" --tls-ca "$T/nope.pem"
usage "--tls-ca $T/garbage.pem: not PEM" --tls-ca "$T/garbage.pem"
usage "--tls-key $C/client.pem: not PEM" --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" --tls-key "$C/client.pem"
usage "--tls-cert needs --tls-key" --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem"
usage "--tls-cert needs --tls-ca" --tls-cert "$C/client.pem" --tls-key "$C/client.key"
echo "nestd_tls_test: ok"
