#!/usr/bin/env bash
# nestd_json_log_test.sh NESTD NESTCTL: with --log-format=json every line
# nestd writes is one JSON object with ts/level/logger/msg, and key=value
# words (units in the key: decision_s, boot_s) are typed fields.
set -euo pipefail
NESTD="$1"
NESTCTL="$2"
TEST_NAME=nestd_json_log_test
source "$(dirname "$0")/sim_nestd.sh"

start_sim_nestd --log-format json
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
