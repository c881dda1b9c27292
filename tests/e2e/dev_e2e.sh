#!/usr/bin/env bash
# dev_e2e.sh BIN_DIR SOURCE_DIR
#
# nestd --dev on real libvirt + QEMU converges examples/demo.yaml (group web,
# hello x3, httpd x2); survives SIGKILL mid-convergence with no duplicate VM
# or container; VM files form a storage pool and container layers live on
# each VM's data disk; a backup restored into a fresh state dir converges
# without duplicates; `nestd --dev --down` leaves no domain, pool, file or
# state behind.
set -euo pipefail
BIN="$1"
SRC="$2"
[ "$(id -u)" -eq 0 ] || { echo "dev_e2e: needs root"; exit 1; }

WORK=$(mktemp -d /var/lib/nest-e2e-XXXXXX)
chmod 755 "$WORK"
STATE="$WORK/state"
RESTORED="$WORK/restored"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADDR="127.0.0.1:$PORT"
CTL=("$BIN/nestctl" --server "$ADDR")
# The operator token of the first start; the restored state holds it too.
export NEST_TOKEN_FILE="$STATE/operator.token"
NESTD_PID=""

fail() { echo "dev_e2e: FAIL: $*" >&2; exit 1; }
# Checks read whole outputs (grep >/dev/null, never grep -q): under pipefail
# a grep -q that exits early makes a writer still writing die of SIGPIPE,
# and the check fails although the text was there.

cleanup() {
  local rc=$?
  [ -n "$NESTD_PID" ] && kill -9 "$NESTD_PID" 2>/dev/null || true
  for dir in "$STATE" "$RESTORED"; do
    [ -d "$dir" ] && "$BIN/nestd" --dev --down --state-dir "$dir" >/dev/null 2>&1 || true
  done
  if [ $rc -ne 0 ]; then
    echo "--- nestd log (last 60 lines) ---"
    tail -60 "$WORK"/nestd*.log 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

start_nestd() {  # start_nestd STATE_DIR LOG
  "$BIN/nestd" --dev --state-dir "$1" --listen "$ADDR" --http-listen 127.0.0.1:0 \
    >>"$2" 2>&1 &
  NESTD_PID=$!
  for _ in $(seq 1 900); do
    kill -0 "$NESTD_PID" 2>/dev/null || fail "nestd exited at start-up"
    "${CTL[@]}" get hosts >/dev/null 2>&1 && return 0
    sleep 1
  done
  fail "API did not answer within 15 minutes"
}

# containers_json: the containers as a JSON list of documents.
containers_json() { "${CTL[@]}" get containers -o json; }

# wait_converged TIMEOUT_S: every hello exited 0, every httpd running.
wait_converged() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    if containers_json | python3 "$SRC/tests/e2e/check_demo.py" converged; then
      return 0
    fi
    sleep 2
  done
  containers_json || true
  fail "demo did not converge within $1 s"
}

# The VMs' domains; the short-lived accel=auto probe guest is not a VM.
nest_domains() {
  virsh -c qemu:///system list --all --name | grep '^nest-' \
    | grep -v '^nest-accel-probe-' | sort || true
}

# pools_under DIR: names of libvirt storage pools whose target is under DIR.
pools_under() {
  local p
  for p in $(virsh -c qemu:///system pool-list --all --name); do
    virsh -c qemu:///system pool-dumpxml "$p" | grep "<path>$1" >/dev/null && echo "$p"
  done
  return 0
}

echo "== build example images"
bash "$SRC/examples/images/build.sh" "$WORK/examples" >/dev/null

echo "== nestd --dev, apply the demo"
start_nestd "$STATE" "$WORK/nestd.log"
"${CTL[@]}" image import hello "$WORK/examples/oci:hello"
"${CTL[@]}" image import httpd "$WORK/examples/oci:httpd"
"${CTL[@]}" apply -f "$SRC/examples/demo.yaml" --no-wait

# SIGKILL nestd while it converges, then restart it on the same state.
for _ in $(seq 1 300); do
  [ -n "$(nest_domains)" ] && break
  sleep 0.5
done
echo "== SIGKILL nestd mid-convergence"
kill -9 "$NESTD_PID"
wait "$NESTD_PID" 2>/dev/null || true
NESTD_PID=""
start_nestd "$STATE" "$WORK/nestd.log"
wait_converged 600
containers_json | python3 "$SRC/tests/e2e/check_demo.py" counts

echo "== store matches libvirt and the agents"
vms=$("${CTL[@]}" get vms -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d.get("items",[d]); print("\n".join(sorted("nest-"+v["name"] for v in d)))')
[ "$vms" = "$(nest_domains)" ] || fail "store VMs ($vms) != libvirt domains ($(nest_domains))"
httpd=$(containers_json | python3 "$SRC/tests/e2e/check_demo.py" first-httpd)
"${CTL[@]}" exec "$httpd" -- wget -q -O- http://127.0.0.1:8080/ | grep . >/dev/null \
  || fail "httpd did not answer inside its container"

echo "== per-VM data disks: a storage pool, and container layers on the disk"
pool=$(pools_under "$STATE/vms")
[ -n "$pool" ] || fail "no storage pool targets $STATE/vms"
virsh -c qemu:///system vol-list "$pool" | grep '\.data\.qcow2' >/dev/null \
  || fail "pool $pool lists no data disk"
"${CTL[@]}" exec "$httpd" -- cat /proc/mounts | grep 'upperdir=/var/lib/nest/bundles/' >/dev/null \
  || fail "the container's writable layer is not on the VM's data disk"

echo "== backup, then restore into a fresh state dir"
"$BIN/nestd" --state-dir "$STATE" backup "$WORK/backup.db"
kill "$NESTD_PID"; wait "$NESTD_PID" 2>/dev/null || true; NESTD_PID=""
mkdir -p "$RESTORED"
cp "$WORK/backup.db" "$RESTORED/nest.db"
cp -a "$STATE/images" "$STATE/cache" "$RESTORED/"
before=$(nest_domains)
start_nestd "$RESTORED" "$WORK/nestd-restored.log"
wait_converged 600
[ "$before" = "$(nest_domains)" ] || fail "restore changed the domains: $before -> $(nest_domains)"
containers_json | python3 "$SRC/tests/e2e/check_demo.py" counts
kill "$NESTD_PID"; wait "$NESTD_PID" 2>/dev/null || true; NESTD_PID=""

echo "== nestd --dev --down"
"$BIN/nestd" --dev --down --state-dir "$RESTORED"
"$BIN/nestd" --dev --down --state-dir "$STATE"
[ -z "$(nest_domains)" ] || fail "domains left: $(nest_domains)"
[ ! -e "$STATE" ] && [ ! -e "$RESTORED" ] || fail "state dirs left"
[ -z "$(pools_under "$WORK")" ] || fail "storage pools left: $(pools_under "$WORK")"
echo "dev_e2e: ok"
