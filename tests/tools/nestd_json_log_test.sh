#!/usr/bin/env bash
# nestd_json_log_test.sh NESTD NESTCTL: with --log-format=json every line
# nestd writes is one JSON object with ts/level/logger/msg, and key=value
# words (units in the key: decision_s, boot_s) are typed fields.
set -euo pipefail
NESTD="$1"
NESTCTL="$2"
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "nestd_json_log_test: FAIL: $*" >&2; cat "$T/log" >&2 || true; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ADDR="127.0.0.1:$(free_port)"
export NEST_TOKEN_FILE="$T/state/operator.token"
"$NESTD" --sim 1 --state-dir "$T/state" --listen "$ADDR" \
  --http-listen "127.0.0.1:$(free_port)" --log-format json >"$T/out" 2>"$T/log" &
PID=$!
for _ in $(seq 1 100); do
  "$NESTCTL" --server "$ADDR" get hosts >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || fail "nestd exited"
  sleep 0.1
done
"$NESTCTL" --server "$ADDR" image import hello /sim >/dev/null
cat >"$T/spec.yaml" <<YAML
kind: VmGroup
name: web
spec: {shape: {vcpus: 1, memory: 256Mi}, min_vms: 1, max_vms: 2}
---
kind: Workload
name: hello
spec: {image: hello, group: web, replicas: 2, resources: {cpu: 100m, memory: 32Mi}}
YAML
"$NESTCTL" --server "$ADDR" apply -f "$T/spec.yaml" --wait --wait-timeout 60s \
  >/dev/null || fail "apply did not converge"
kill "$PID"
wait "$PID" || true
PID=""
grep -q "operator token tok-" "$T/out" || fail "the operator token was not printed"
python3 - "$T/log" <<'PY' || fail "log is not JSON lines with typed fields"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no log lines"
typed = {}
for line in lines:
    d = json.loads(line)
    for k in ("ts", "level", "logger", "msg"):
        assert k in d, f"{k} missing in {line}"
    for k, v in d.items():
        if k not in ("ts", "level", "logger", "msg"):
            typed[k] = v
assert isinstance(typed.get("decision_s"), float), typed
assert isinstance(typed.get("boot_s"), float), typed
assert typed.get("containers_placed") == 2, typed
print(f"{len(lines)} JSON log lines, typed fields: {sorted(typed)}")
PY
