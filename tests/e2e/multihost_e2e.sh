#!/usr/bin/env bash
# multihost_e2e.sh BIN_DIR SOURCE_DIR
#
# Two libvirt hosts (issue 13): this machine's libvirtd as host "a" (zone a)
# and a second libvirtd in a network namespace (scripts/test-host.sh) as
# host "b" (zone b, reached over qemu+tcp, with its own address pool routed
# to it). The test host has a tmpfs over this test's whole work dir, so the
# boot set and disks can reach it only through libvirt (volume upload).
#  1. A group spread over `zone` puts a VM on each host, one replica each.
#  2. The replicas reach each other through the workload's VIP across the
#     hosts, from both sides.
#  3. b's link is cut (its libvirtd and QEMUs keep running): after the
#     grace period b is down, its VM is recreated on a and the replica runs
#     again, while this machine requests the VIP throughout.
#  4. b's link comes back: the stale copy there is destroyed, and no VM
#     runs on both hosts.
# Prints the time each step took.
set -euo pipefail
BIN="$1"
SRC="$2"
POOL=10.123.0.0/16   # net.pool: host a's VMs and containers, and the VIPs
POOL_B=10.124.0.0/16 # host b's VMs and containers
# shellcheck source=tests/e2e/lib.sh
. "$SRC/tests/e2e/lib.sh"
e2e_setup multihost_e2e
TH="mh$(($$ % 100000))"
TH_ADDR=10.253.0.2
TH_PEER=10.253.0.1
URI_B="qemu+tcp://$TH_ADDR/system"
TEST_HOST="$SRC/scripts/test-host.sh"
LOAD=""

cleanup() {
  local rc=$?
  [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null || true
  "$TEST_HOST" down "$TH" >/dev/null 2>&1 || true
  e2e_teardown $rc
  exit $rc
}
trap cleanup EXIT

# wait_for SECONDS WHAT CMD...: polls CMD every 0.5 s until it succeeds.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt "$deadline" ] || fail "$what: not within $limit s"
    sleep 0.5
  done
}

"$TEST_HOST" up "$TH" --addr "$TH_ADDR/24" --peer "$TH_PEER" \
  --route "$POOL_B" --nest-dirs "$WORK" 2>"$WORK/test-host.log" ||
  { cat "$WORK/test-host.log"; fail "test host did not come up"; }
step "test host $TH up ($URI_B)"

start_nestd --host-down-grace 10

# This machine becomes host "a" in zone a (the default host has no zone).
"${CTL[@]}" delete host local >/dev/null
"${CTL[@]}" host add a --uri qemu:///system --label zone=a >/dev/null
"${CTL[@]}" host add b --uri "$URI_B" --pool "$POOL_B" --label zone=b \
  >/dev/null

# field OBJECT NAME KEY: a top-level field of one object, from -o json.
field() {
  "${CTL[@]}" get "$1" "$2" -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
print(d.get(sys.argv[1], ""))' "$3"
}
host_ready() { [ "$(field host "$1" state)" = ready ] && [ -n "$(field host "$1" accel)" ]; }
wait_for 120 "host a ready" host_ready a
wait_for 120 "host b ready" host_ready b
step "hosts a and b ready"

# The boot set is a file here, but not on b: b boots from its uploaded copy.
KERNEL=$(find "$STATE/images" -name 'vmlinuz*' -print -quit 2>/dev/null || true)
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || fail "no boot kernel under $STATE/images"
if "$TEST_HOST" exec "$TH" -- test -e "$KERNEL"; then
  fail "$KERNEL is visible on the test host; the tmpfs over $WORK is missing"
fi

cat >"$WORK/spec.yaml" <<EOF
kind: VmGroup
name: web
spec:
  shape: {vcpus: 1, memory: 256Mi}
  policy: spread
  spread_label: zone
  min_vms: 2
  max_vms: 3
---
kind: Workload
name: httpd
spec:
  image: httpd
  group: web
  replicas: 2
  resources: {cpu: 100m, memory: 160Mi}
  command: ["/bin/sh", "-c", "hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
  ports:
    - {name: http, container_port: 8080}
EOF
bash "$SRC/examples/images/build.sh" "$WORK/examples" >/dev/null
"${CTL[@]}" image import httpd "$WORK/examples/oci:httpd" >/dev/null
t=$SECONDS
"${CTL[@]}" apply -f "$WORK/spec.yaml" --wait --wait-timeout 6m >/dev/null ||
  fail "the workload did not converge"
step "group spread over both hosts, 2 replicas running ($((SECONDS - t)) s)"

# rows KIND: "name host state" per object.
rows() {
  "${CTL[@]}" get "$1" -o json | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    print(o["name"], o.get("host", "-") or "-", o.get("state", ""))'
}
mapfile -t VMS < <(rows vms)
[ ${#VMS[@]} -eq 2 ] || fail "want 2 VMs, got: ${VMS[*]}"
hosts_used=$(printf '%s\n' "${VMS[@]}" | awk '{print $2}' | sort -u | tr '\n' ' ')
[ "$hosts_used" = "a b " ] || fail "VMs are on '$hosts_used', want a and b"
VM_B=$(printf '%s\n' "${VMS[@]}" | awk '$2 == "b" {print $1}')
"$TEST_HOST" exec "$TH" -- virsh list --name | grep -x "nest-$VM_B" >/dev/null ||
  fail "VM $VM_B is not running in b's libvirtd"
mapfile -t CS < <(rows containers | awk '$3 == "running" {print $1 " " $2}')
[ ${#CS[@]} -eq 2 ] || fail "want 2 running replicas, got: ${CS[*]}"
C_A=$(printf '%s\n' "${CS[@]}" | awk '$2 == "a" {print $1}')
C_B=$(printf '%s\n' "${CS[@]}" | awk '$2 == "b" {print $1}')
[ -n "$C_A" ] && [ -n "$C_B" ] || fail "want a replica on each host: ${CS[*]}"
VIP=$("${CTL[@]}" get workload httpd -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
print((d.get("status") or {}).get("vip", ""))')
[ -n "$VIP" ] || fail "workload httpd has no VIP"
B_IP=$("${CTL[@]}" get container "$C_B" -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
print(d.get("address") or (d.get("status") or {}).get("address", ""))')
case "$B_IP" in 10.124.*) ;; *) fail "replica on b has address '$B_IP', want one in $POOL_B" ;; esac
step "replicas $C_A on a, $C_B on b ($B_IP), VIP $VIP"

# From each side, 12 requests to the VIP reach both replicas.
for c in "$C_A" "$C_B"; do
  out=$("${CTL[@]}" exec "$c" -- sh -c \
    "for i in \$(seq 1 12); do busybox timeout 5 wget -q -O- http://$VIP:8080/ || echo FAILED; done" 2>&1) ||
    fail "exec in $c failed ($?): $out"
  served=$(echo "$out" | sort | uniq -c)
  echo "$served" | sed "s/^/  from $c: /"
  [ "$(echo "$served" | wc -l)" -eq 2 ] ||
    fail "requests from $c via the VIP did not reach both hosts' replicas"
  [ "$(echo "$served" | awk '{s += $1} END {print s}')" -eq 12 ] ||
    fail "some requests from $c via the VIP failed"
done
step "both replicas reach each other through the VIP across the hosts"

# This machine requests the VIP without a pause from here on; the longest
# time without an answer is what a client would notice.
python3 - "$VIP" "$WORK/vip.count" "$WORK/vip.stop" <<'EOF' &
import sys, os, time, urllib.request
vip, out, stop = sys.argv[1:]
ok = bad = 0
last_ok = time.monotonic()
worst = 0.0
while not os.path.exists(stop):
    try:
        urllib.request.urlopen(f"http://{vip}:8080/", timeout=2).read()
        ok += 1
        last_ok = time.monotonic()
    except Exception as e:
        bad += 1
        print(f"request failed: {e}", file=sys.stderr)
    worst = max(worst, time.monotonic() - last_ok)
    time.sleep(0.2)
open(out, "w").write(f"{ok} {bad} {worst:.1f}\n")
EOF
LOAD=$!

t=$SECONDS
# The cut: b's link goes down on this side. Its libvirtd and QEMUs keep
# running, as on a host that is cut off rather than dead.
ip link set "th-$TH" down
host_down() { [ "$(field host b state)" = down ]; }
wait_for 90 "host b down" host_down
step "b cut off: host b down after $((SECONDS - t)) s (grace 10 s after its last heartbeat)"
replaced() {
  local n
  n=$(rows containers | awk '$3 == "running" && $2 == "a"' | wc -l)
  [ "$n" -eq 2 ]
}
wait_for 240 "the replica of b running again on a" replaced
step "VM of b recreated on a, both replicas running on a: $((SECONDS - t)) s after the cut"

t=$SECONDS
ip link set "th-$TH" up
ip route replace "$POOL_B" via "$TH_ADDR"
host_up() { [ "$(field host b state)" = ready ]; }
wait_for 90 "host b ready again" host_up
stale_gone() {
  ! "$TEST_HOST" exec "$TH" -- virsh list --all --name | grep -x "nest-$VM_B" >/dev/null
}
wait_for 120 "the stale copy of $VM_B destroyed on b" stale_gone
step "b reconnected: ready, stale $VM_B destroyed $((SECONDS - t)) s after the link came back"

# No VM runs twice: every Nest domain on either host is one VM of the
# store, on the host the store names.
dom_a=$(virsh list --name | grep '^nest-' | sed "s/^nest-//;s/$/ a/" || true)
dom_b=$("$TEST_HOST" exec "$TH" -- virsh list --name | grep '^nest-' |
  sed "s/^nest-//;s/$/ b/" || true)
doms=$(printf '%s\n%s\n' "$dom_a" "$dom_b" | sed '/^$/d' | sort)
echo "$doms" | sed 's/^/  domain: /'
dups=$(echo "$doms" | awk '{print $1}' | sort | uniq -d)
[ -z "$dups" ] || fail "VMs running on both hosts: $dups"
want=$(rows vms | awk '$3 == "running" {print $1 " " $2}' | sort)
stray=$(comm -23 <(echo "$doms") <(echo "$want"))
[ -z "$stray" ] || fail "domains the store does not place there: $stray"

touch "$WORK/vip.stop"
wait "$LOAD"
LOAD=""
read -r ok bad worst <"$WORK/vip.count"
step "VIP from this machine during the cut and return: $ok answered, $bad failed, longest time without an answer $worst s"
[ "$ok" -gt 0 ] || fail "the VIP never answered"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 10 else 1)" "$worst" ||
  fail "the VIP gave no answer for $worst s"
step "PASS"
