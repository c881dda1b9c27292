#!/usr/bin/env bash
# nestctl_quota_test.sh NESTD NESTCTL: quotas through the real binaries on
# simulated hosts. An apply past a tenant's quota fails whole with the
# numbers; the autoscaler stops at the VM quota and the held containers say
# why; raising the quota lets them run.
set -euo pipefail
NESTD="$1"
NESTCTL="$2"
TEST_NAME=nestctl_quota_test
source "$(dirname "$0")/sim_nestd.sh"

start_sim_nestd
CTL=("$NESTCTL" --server "$ADDR")
"${CTL[@]}" image import hello /sim >/dev/null
"${CTL[@]}" quota set default --vms 1 --vcpus 4 >/dev/null
"${CTL[@]}" quota get -o json >"$T/quota.json"
python3 - "$T/quota.json" <<'PY' || fail "quota get does not show the limits"
import json, sys
d = json.load(open(sys.argv[1]))
d = d[0] if isinstance(d, list) else d
assert d["quota"]["vms"] in (1, "1"), d
assert "containers" not in d["quota"], d  # unlimited stays unset
PY

spec() {  # spec MIN_VMS REPLICAS
  cat >"$T/spec.yaml" <<YAML
kind: VmGroup
name: web
spec: {shape: {vcpus: 1, memory: 256Mi}, min_vms: $1, max_vms: 3}
---
kind: Workload
name: big
spec: {image: hello, group: web, replicas: $2, restart_policy: always,
       command: [sleep, "3600"], resources: {cpu: "1", memory: 128Mi}}
YAML
}

# Two VMs by minimum: refused whole, nothing created.
spec 2 1
if "${CTL[@]}" apply -f "$T/spec.yaml" >"$T/apply" 2>&1; then
  fail "an apply past the VM quota succeeded"
fi
grep 'vms: this change needs 2, allowed 1, in use 0' "$T/apply" >/dev/null \
  || { cat "$T/apply"; fail "the refusal does not give the numbers"; }
[ "$("${CTL[@]}" get groups -o json)" = "[]" ] || fail "a refused apply left objects"

# One VM by minimum, three one-VM replicas: the autoscaler stops at 1 VM.
spec 1 3
"${CTL[@]}" apply -f "$T/spec.yaml" --no-wait >/dev/null
held=0
for _ in $(seq 1 100); do
  "${CTL[@]}" get containers -o json >"$T/containers.json"
  held=$(grep -o 'raise the quota of tenant default (vms 1 of 1)' "$T/containers.json" | wc -l)
  [ "$held" -eq 2 ] && break
  sleep 0.2
done
[ "$held" -eq 2 ] || { cat "$T/containers.json"; fail "held containers do not name the quota"; }
[ "$("${CTL[@]}" get vms -o json | grep -c '"name"')" -eq 1 ] || fail "more VMs than the quota"
"${CTL[@]}" quota list >"$T/list"
grep -E '^default +1/4 +[0-9]+/- +1/1 +3/- +1/-' "$T/list" >/dev/null \
  || { cat "$T/list"; fail "quota list does not show use against limits"; }

# Raised: the held replicas get VMs.
"${CTL[@]}" quota set default --vms 3 >/dev/null
for _ in $(seq 1 100); do
  [ "$("${CTL[@]}" get vms -o json | grep -c '"name"')" -eq 3 ] && exit 0
  sleep 0.2
done
fail "raising the quota did not let the autoscaler add VMs"
