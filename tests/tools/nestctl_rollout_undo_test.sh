#!/usr/bin/env bash
# nestctl_rollout_undo_test.sh NESTD NESTCTL: `nestctl rollout history`
# lists a workload's templates and `nestctl rollout undo` puts the previous
# one back through the real nestd --sim: the replicas roll back to it (new
# containers of the new generation), and a second undo flips forward again.
set -euo pipefail
NESTD="$1"
NESTCTL="$2"
TEST_NAME=nestctl_rollout_undo_test
source "$(dirname "$0")/sim_nestd.sh"

start_sim_nestd
CTL=("$NESTCTL" --server "$ADDR")
"${CTL[@]}" image import hello /sim >/dev/null
"${CTL[@]}" image import hello2 /sim >/dev/null
spec() {  # spec IMAGE
  cat >"$T/spec.yaml" <<YAML
kind: VmGroup
name: web
spec: {shape: {vcpus: 2, memory: 512Mi}, min_vms: 1, max_vms: 3}
---
kind: Workload
name: app
spec: {image: $1, group: web, replicas: 3, restart_policy: always,
       max_unavailable: 1, command: [sleep, "3600"],
       resources: {cpu: 100m, memory: 32Mi}}
YAML
}
# state: the workload's image, generation, observed generation and ready
# count, then its containers' names (all must be running).
state() {
  "${CTL[@]}" get workloads app -o json >"$T/w.json"
  "${CTL[@]}" get containers -o json >"$T/c.json"
  python3 - "$T/w.json" "$T/c.json" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))
w = w[0] if isinstance(w, list) else w
st = w["status"]
app = [c for c in json.load(open(sys.argv[2])) if c["workload"] == "app"]
assert all(c["state"] == "running" for c in app), app
print(w["spec"]["image"], st["generation"], st["observed_generation"],
      st.get("ready", 0), " ".join(sorted(c["name"] for c in app)))
PY
}

spec hello
"${CTL[@]}" apply -f "$T/spec.yaml" --wait-timeout 60s >/dev/null 2>&1 \
  || fail "the first apply did not converge"
# No history yet: undo says so and changes nothing.
if "${CTL[@]}" rollout undo app >"$T/none" 2>&1; then
  fail "rollout undo without history succeeded"
fi
grep 'workload app has no earlier revision' "$T/none" >/dev/null \
  || { cat "$T/none"; fail "no FAILED_PRECONDITION message"; }

spec hello2
"${CTL[@]}" apply -f "$T/spec.yaml" --no-wait >/dev/null
"${CTL[@]}" rollout status app --timeout 60s >"$T/status" 2>&1 \
  || { cat "$T/status"; fail "the update did not roll out"; }
read -r image gen observed ready before <<<"$(state)" || fail "state"
[ "$image $gen $observed $ready" = "hello2 2 2 3" ] \
  || fail "after the update: $image $gen $observed $ready"

"${CTL[@]}" rollout history app >"$T/history"
cat >"$T/want" <<'TXT'
REVISION REPLACED SUMMARY
1 image hello, command sleep 3600, 100m/32Mi
2 current image hello2, command sleep 3600, 100m/32Mi
TXT
# Columns are aligned with spaces; the replace time varies: drop it.
awk 'NR == 1 { print $1, $2, $3; next }
     $2 == "current" { print; next }
     { $2 = ""; print }' "$T/history" | tr -s ' ' >"$T/got"
diff "$T/want" "$T/got" || { cat "$T/history"; fail "rollout history table"; }
"${CTL[@]}" rollout history app -o json >"$T/history.json"
python3 - "$T/history.json" <<'PY' || fail "rollout history -o json"
import json, sys
docs = json.load(open(sys.argv[1]))
assert [d["revision"] for d in docs] == [1, 2], docs
assert [d["current"] for d in docs] == [False, True], docs
assert docs[0]["kind"] == "WorkloadRevision" and docs[0]["workload"] == "app"
assert docs[0]["spec"]["image"] == "hello" and "replace_time" in docs[0]
assert "replace_time" not in docs[1]
PY

"${CTL[@]}" rollout undo app >"$T/undo" 2>"$T/undo.err" \
  || { cat "$T/undo" "$T/undo.err"; fail "rollout undo failed"; }
grep -x 'workload app rolled back to revision 1' "$T/undo" >/dev/null \
  || { cat "$T/undo"; fail "no rolled-back line"; }
grep 'nestctl rollout status app' "$T/undo.err" >/dev/null \
  || { cat "$T/undo.err"; fail "no hint to follow the rollout"; }
"${CTL[@]}" rollout status app --timeout 60s >"$T/status" 2>&1 \
  || { cat "$T/status"; fail "the undo did not roll out"; }
read -r image gen observed ready after <<<"$(state)" || fail "state"
[ "$image $gen $observed $ready" = "hello 3 3 3" ] \
  || fail "after undo: $image $gen $observed $ready"
# The replicas were replaced by ones of the rolled-back template.
for id in $before; do
  case " $after " in *" $id "*) fail "container $id survived the undo";; esac
done
"${CTL[@]}" get events >"$T/events"
grep 'RolledBack' "$T/events" | grep 'rolled back to revision 1 (image hello)' \
  >/dev/null || { cat "$T/events"; fail "no RolledBack event"; }
[ "$("${CTL[@]}" rollout history app | tail -1 | awk '{print $1, $2}')" = "3 current" ] \
  || fail "history after undo does not end at revision 3"

# Errors: an unknown revision (usage error, exit 2), an unknown workload
# (exit 3); the current revision changes nothing.
set +e
"${CTL[@]}" rollout undo app --to-revision 9 >"$T/bad" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$T/bad"; fail "--to-revision 9 exited $rc, want 2"; }
grep 'to_revision' "$T/bad" | grep 'kept revisions: 1, 2' >/dev/null \
  || { cat "$T/bad"; fail "the error does not name to_revision and the kept ones"; }
set +e
"${CTL[@]}" rollout undo nope >"$T/nope" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || { cat "$T/nope"; fail "undo of a missing workload exited $rc, want 3"; }
"${CTL[@]}" rollout undo app --to-revision 3 >"$T/same"
grep -x 'workload app already runs revision 3; nothing changed' "$T/same" \
  >/dev/null || { cat "$T/same"; fail "undo to the current revision"; }

# A second undo flips forward to hello2.
"${CTL[@]}" rollout undo app >/dev/null 2>&1 || fail "the second undo failed"
"${CTL[@]}" rollout status app --timeout 60s >"$T/status" 2>&1 \
  || { cat "$T/status"; fail "the second undo did not roll out"; }
read -r image gen observed ready _ <<<"$(state)" || fail "state"
[ "$image $gen $observed $ready" = "hello2 4 4 3" ] \
  || fail "after the second undo: $image $gen $observed $ready"
echo "rollout undo ok"
