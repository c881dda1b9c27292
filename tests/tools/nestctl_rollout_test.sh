#!/usr/bin/env bash
# nestctl_rollout_test.sh NESTD NESTCTL: a changed workload spec rolls out
# through the real nestd --sim: `nestctl rollout status` follows it to the
# end, and then exactly the replicas run, all of the new generation.
set -euo pipefail
NESTD="$1"
NESTCTL="$2"
TEST_NAME=nestctl_rollout_test
source "$(dirname "$0")/sim_nestd.sh"

start_sim_nestd
CTL=("$NESTCTL" --server "$ADDR")
"${CTL[@]}" image import hello /sim >/dev/null
spec() {  # spec COMMAND_WORD
  cat >"$T/spec.yaml" <<YAML
kind: VmGroup
name: web
spec: {shape: {vcpus: 2, memory: 512Mi}, min_vms: 1, max_vms: 3}
---
kind: Workload
name: app
spec: {image: hello, group: web, replicas: 3, restart_policy: always,
       max_unavailable: 1, command: [sleep, "$1"],
       resources: {cpu: 100m, memory: 32Mi}}
YAML
}
spec 3600
"${CTL[@]}" apply -f "$T/spec.yaml" --wait-timeout 60s >/dev/null 2>&1 \
  || fail "the first apply did not converge"
spec 7200
"${CTL[@]}" apply -f "$T/spec.yaml" --no-wait >/dev/null
"${CTL[@]}" rollout status app --timeout 60s >"$T/status" 2>&1 \
  || { cat "$T/status"; fail "rollout status did not see the rollout end"; }
grep '^ready: app 3/3' "$T/status" >/dev/null \
  || { cat "$T/status"; fail "no final ready line"; }
"${CTL[@]}" get workloads app -o json >"$T/w.json"
"${CTL[@]}" get containers -o json >"$T/c.json"
python3 - "$T/w.json" "$T/c.json" <<'PY' || fail "replicas do not all run the new spec"
import json, sys
w = json.load(open(sys.argv[1]))
w = w[0] if isinstance(w, list) else w
st = w["status"]
assert st["generation"] == 2 and st["observed_generation"] == 2, st
assert st["ready"] == 3, st
app = [c for c in json.load(open(sys.argv[2])) if c["workload"] == "app"]
assert len(app) == 3 and all(c["state"] == "running" for c in app), app
PY
echo "rollout ok: $(tail -1 "$T/status")"
# A rollout status for a workload that does not exist fails clearly.
if "${CTL[@]}" rollout status nope --timeout 2s >"$T/none" 2>&1; then
  fail "rollout status of a missing workload succeeded"
fi
grep -i 'not found' "$T/none" >/dev/null || { cat "$T/none"; fail "no NOT_FOUND for a missing workload"; }
