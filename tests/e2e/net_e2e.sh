#!/usr/bin/env bash
# net_e2e.sh BIN_DIR SOURCE_DIR
#
# Tenant networks on real libvirt + QEMU (issue 9): two tenants, each with a
# workload of 2 httpd replicas on 2 VMs. From a container of tenant A: A's
# other replica answers by IP and by name, A's VIP answers by IP and by name
# and spreads 20 requests over both replicas; tenant B's containers and VIP
# are dropped (a connect times out, while a closed port of A is refused at
# once). From the host: the published port answers. Scaling A to 1 replica
# fails no request through the VIP. Nest's host nftables table deleted by
# hand, and the tenant filter edited by hand (libvirt refuses to delete a
# filter in use), are both restored by the reconciler.
set -euo pipefail
BIN="$1"
SRC="$2"
POOL=10.120.0.0/16
# shellcheck source=tests/e2e/lib.sh
. "$SRC/tests/e2e/lib.sh"
e2e_setup net_e2e
HOST_PORT=$(free_port)

cleanup() {
  local rc=$?
  e2e_teardown $rc
  exit $rc
}
trap cleanup EXIT

start_nestd

# Tenant "blue" acts with a token of its own; the operator's tenant is A.
BLUE_TOKEN=$("${CTL[@]}" token create --tenant blue --role tenant-admin \
  -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["secret"])')
A=("${CTL[@]}")
B=("${CTL[@]}" --token "$BLUE_TOKEN")

SPEC="$WORK/spec.yaml"
# 160 MiB per replica in 256 MiB VMs: one replica per VM. Each replica
# serves its own name, so the test can tell which one answered.
cat >"$SPEC" <<EOF
kind: VmGroup
name: web
spec:
  shape: {vcpus: 1, memory: 256Mi}
  min_vms: 2
  max_vms: 2
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
    - {name: http, container_port: 8080, host_port: PUBLISHED}
EOF
sed "s/PUBLISHED/$HOST_PORT/" "$SPEC" >"$SPEC.a"
sed "/host_port/s/, host_port: PUBLISHED//" "$SPEC" >"$SPEC.b"
bash "$SRC/examples/images/build.sh" "$WORK/examples" >/dev/null
"${A[@]}" image import httpd "$WORK/examples/oci:httpd" >/dev/null
"${B[@]}" image import httpd "$WORK/examples/oci:httpd" >/dev/null
"${A[@]}" apply -f "$SPEC.a" >/dev/null
"${B[@]}" apply -f "$SPEC.b" >/dev/null
"${A[@]}" apply -f "$SPEC.a" --wait --wait-timeout 8m >/dev/null ||
  fail "tenant A did not converge"
"${B[@]}" apply -f "$SPEC.b" --wait --wait-timeout 4m >/dev/null ||
  fail "tenant B did not converge"
step "both tenants converged: 4 VMs, 4 replicas"

# containers [running] NESTCTL...: names of the (running) containers, one
# per line.
containers() {
  local want=""
  [ "$1" = running ] && { want=running; shift; }
  "$@" get containers -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in (d if isinstance(d, list) else d.get("items", [d])):
    state = c.get("state", (c.get("status") or {}).get("state", ""))
    if not sys.argv[1] or str(state).lower().endswith(sys.argv[1]):
        print(c["name"])' "$want"
}
running() { containers running "$@"; }
mapfile -t A_CS < <(running "${A[@]}")
mapfile -t B_CS < <(running "${B[@]}")
[ ${#A_CS[@]} -eq 2 ] && [ ${#B_CS[@]} -eq 2 ] || fail "want 2+2 running replicas"
A1=${A_CS[0]}
A2=${A_CS[1]}
# lookup NAME CONTAINER NESTCTL...: NAME's address in CONTAINER's /etc/hosts.
lookup() {
  local name=$1 c=$2
  shift 2
  "$@" exec "$c" -- cat /etc/hosts | awk -v n="$name" '$2 == n {print $1}'
}
A2_IP=$(lookup "$A2" "$A1" "${A[@]}")
A_VIP=$(lookup httpd "$A1" "${A[@]}")
B1_IP=$(lookup "${B_CS[0]}" "${B_CS[0]}" "${B[@]}")
B_VIP=$(lookup httpd "${B_CS[0]}" "${B[@]}")
for v in A2_IP A_VIP B1_IP B_VIP; do
  [ -n "${!v}" ] || fail "no address for $v in /etc/hosts"
done
step "A: $A2=$A2_IP vip=$A_VIP; B: ${B_CS[0]}=$B1_IP vip=$B_VIP"
# The API reports the same addresses.
api_ip=$("${A[@]}" get container "$A2" -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
print(d.get("address") or (d.get("status") or {}).get("address", ""))')
[ "$api_ip" = "$A2_IP" ] || fail "API shows $A2 at '$api_ip', /etc/hosts at $A2_IP"
api_vip=$("${A[@]}" get workload httpd -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
print((d.get("status") or {}).get("vip", ""))')
[ "$api_vip" = "$A_VIP" ] || fail "API shows VIP '$api_vip', /etc/hosts $A_VIP"

in_a1() { "${A[@]}" exec "$A1" -- "$@"; }
[ "$(in_a1 wget -q -O- "http://$A2_IP:8080/")" = "$A2" ] ||
  fail "A's other replica did not answer by IP"
[ "$(in_a1 wget -q -O- "http://$A2:8080/")" = "$A2" ] ||
  fail "A's other replica did not answer by name"
[ -n "$(in_a1 wget -q -O- "http://httpd:8080/")" ] ||
  fail "A's VIP did not answer by name"
served=$(in_a1 sh -c "for i in \$(seq 1 20); do wget -q -O- http://$A_VIP:8080/; done" |
  sort | uniq -c)
echo "$served"
[ "$(echo "$served" | wc -l)" -eq 2 ] || fail "20 requests via the VIP did not reach both replicas"
[ "$(echo "$served" | awk '{s += $1} END {print s}')" -eq 20 ] ||
  fail "some of 20 requests via the VIP failed"
step "A: replica by IP and name, VIP by name, 20 VIP requests over both replicas"

# Dropped, not refused: a closed port of A answers at once (RST), while
# B's addresses give nothing back within 3 s.
out=$(in_a1 sh -c "busybox timeout 3 wget -q -O- http://$A2_IP:9/ 2>&1; echo rc=\$?")
echo "$out" | grep "refused" >/dev/null || fail "a closed port of A was not refused: $out"
for target in "$B1_IP" "$B_VIP"; do
  out=$(in_a1 sh -c "busybox timeout 3 wget -q -O- http://$target:8080/ 2>&1; echo rc=\$?")
  echo "$out" | grep "rc=143" >/dev/null ||
    fail "tenant B's $target was not dropped (want a timeout): $out"
done
step "B's replica and VIP are dropped for A (connects time out; A's closed port is refused)"

HOST_IP=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="src") print $(i+1)}')
[ -n "$HOST_IP" ] || HOST_IP=$(hostname -I | awk '{print $1}')
got=$(wget -q -O- "http://$HOST_IP:$HOST_PORT/") || fail "published port $HOST_IP:$HOST_PORT did not answer"
[[ " ${A_CS[*]} " == *" $got "* ]] || fail "published port answered '$got'"
step "published port $HOST_IP:$HOST_PORT answers ($got)"

# Scale A to 1 while the host requests its VIP without a pause: no request
# may fail. The leaving replica leaves every VIP before its SIGTERM.
python3 - "$A_VIP" "$WORK/vip.count" "$WORK/vip.stop" <<'EOF' &
import sys, os, urllib.request
vip, out, stop = sys.argv[1:]
ok = bad = 0
while not os.path.exists(stop):
    try:
        urllib.request.urlopen(f"http://{vip}:8080/", timeout=5).read()
        ok += 1
    except Exception as e:
        bad += 1
        print(f"request failed: {e}", file=sys.stderr)
open(out, "w").write(f"{ok} {bad}\n")
EOF
LOAD=$!
"${A[@]}" scale workload httpd 1 >/dev/null
for _ in $(seq 1 60); do
  [ "$(running "${A[@]}" | wc -l)" -eq 1 ] && \
    [ "$(containers "${A[@]}" | wc -l)" -eq 1 ] && break
  sleep 1
done
sleep 2  # requests after the change, too
touch "$WORK/vip.stop"
wait "$LOAD"
read -r ok bad <"$WORK/vip.count"
step "VIP during scale-down: $ok requests answered, $bad failed"
[ "$bad" -eq 0 ] && [ "$ok" -gt 10 ] || fail "VIP failed $bad of $((ok + bad)) requests during the scale-down"

# Hand edits are reverted.
TABLE=$(nft list tables | awk '$2 == "ip" && $3 ~ /^nest_/ {print $3}' | head -1)
[ -n "$TABLE" ] || fail "no nest_ table on the host"
nft delete table ip "$TABLE"
for _ in $(seq 1 30); do nft list table ip "$TABLE" >/dev/null 2>&1 && break; sleep 1; done
nft list table ip "$TABLE" >/dev/null 2>&1 || fail "table ip $TABLE was not restored within 30 s"
wget -q -O- "http://$HOST_IP:$HOST_PORT/" >/dev/null || fail "published port dead after the restore"
step "deleted table ip $TABLE restored"

FILTER=$(virsh -c qemu:///system nwfilter-list | awk '$2 ~ /^nest-tenant-/ {print $2}' | head -1)
[ -n "$FILTER" ] || fail "no nest-tenant- filter"
virsh -c qemu:///system nwfilter-undefine "$FILTER" >/dev/null 2>&1 &&
  fail "libvirt deleted filter $FILTER although guests use it"
virsh -c qemu:///system nwfilter-dumpxml "$FILTER" >"$WORK/filter.xml"
python3 - "$WORK/filter.xml" <<'EOF'
import sys, re
p = sys.argv[1]
x = open(p).read()
# Keep the name and uuid, drop every rule: isolation gone.
x = re.sub(r"<rule.*?</rule>", "", x, flags=re.S)
open(p, "w").write(x)
EOF
virsh -c qemu:///system nwfilter-define "$WORK/filter.xml" >/dev/null
for _ in $(seq 1 30); do
  virsh -c qemu:///system nwfilter-dumpxml "$FILTER" | grep "<rule" >/dev/null && break
  sleep 1
done
virsh -c qemu:///system nwfilter-dumpxml "$FILTER" | grep "<rule" >/dev/null ||
  fail "filter $FILTER was not restored within 30 s"
step "filter $FILTER emptied by hand, restored"

kill "$NESTD_PID" && wait "$NESTD_PID" 2>/dev/null || true
NESTD_PID=""
"$BIN/nestd" --dev --down --state-dir "$STATE" --net-pool "$POOL" >"$WORK/down.log" 2>&1
virsh -c qemu:///system nwfilter-list | grep "$FILTER" >/dev/null && fail "--down left filter $FILTER"
nft list table ip "$TABLE" >/dev/null 2>&1 && fail "--down left table ip $TABLE"
step "PASS in $((SECONDS - T0)) s"
