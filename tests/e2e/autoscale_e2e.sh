#!/usr/bin/env bash
# autoscale_e2e.sh BIN_DIR SOURCE_DIR
#
# Autoscaling, self-healing and rollouts on real libvirt + QEMU (issue 10).
# Group web (min 1, max 3 VMs of 1 vCPU/256 MiB) starts with one VM.
#   grow:       httpd with 2 replicas and a port needs 2 VMs (replicas with a
#               port never share a VM): the group grows to exactly 2 and
#               both replicas run.
#   shrink:     httpd scaled to 1: after the scale-down cooldown the group
#               is back to 1 VM; a replica runs at every poll meanwhile and
#               no request from the host through the VIP fails, though the
#               host's packets for the VIP go through the VM drained.
#   restart:    the container's httpd is SIGKILLed inside the guest: the
#               container is restarted (restarts + 1) and runs again.
#   vm_replace: `virsh destroy` of its VM: a VM boots in its place and the
#               replica runs again.
#   rollout:    httpd back at 2 replicas, then its image changes from httpd
#               to httpd-v2 while the host requests the VIP without a pause:
#               replicas are replaced one by one, no request fails, and
#               every replica then runs httpd-v2 and the VIP serves v2.
# Prints how long each took, and the VIP request counts. A failed VIP
# request fails the test at the end, after the other steps have run.
set -euo pipefail
BIN="$1"
SRC="$2"
POOL=10.121.0.0/16
# shellcheck source=tests/e2e/lib.sh
. "$SRC/tests/e2e/lib.sh"
e2e_setup autoscale_e2e
COOLDOWN_S=20
VIRSH=(virsh -c qemu:///system)
BG_PIDS=()

# later MESSAGE: a failure that leaves the state fit for the next steps:
# reported now, and the test fails at the end.
LATER=()
later() { echo "autoscale_e2e: FAIL (at the end): $*" >&2; LATER+=("$*"); }
# since T: seconds from the $EPOCHREALTIME T to now, one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
  local rc=$? pid
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  e2e_teardown $rc
  exit $rc
}
trap cleanup EXIT

# q.py reads the API's JSON for the checks below, watches replicas and
# requests the VIP in the background.
cat >"$WORK/q.py" <<'EOF'
import json, os, subprocess, sys, time, urllib.request

def items(text):
    d = json.loads(text)
    return d if isinstance(d, list) else d.get("items", [d])

def short(state):
    return str(state or "").lower().rsplit("_", 1)[-1]

def containers(ctl, workload):
    out = subprocess.run(ctl + ["get", "containers", "-o", "json"], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return [c for c in items(out) if c.get("workload") == workload]

def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "containers":
    # containers WORKLOAD: NAME STATE RESTARTS IMAGE VM START HEALTH per
    # line.
    for c in items(sys.stdin.read()):
        if c.get("workload") == args[0]:
            print(c["name"], short(c.get("state")), c.get("restarts", 0),
                  c.get("image") or "-", c.get("vm") or "-",
                  c.get("start_time") or "-", c.get("health") or "-")
elif cmd == "vms":
    # vms GROUP: NAME STATE per line.
    for v in items(sys.stdin.read()):
        if v.get("group") == args[0]:
            print(v["name"], short(v.get("state")))
elif cmd == "status":
    # status FIELD: the field of the only document's status.
    d = items(sys.stdin.read())[0]
    print((d.get("status") or {}).get(args[0], ""))
elif cmd == "watch":
    # watch WORKLOAD OUT STOP OLD NESTCTL...: polls the workload's replicas
    # until STOP exists; OUT gets "min_running max_live samples max_gone":
    # the fewest running and most live (pending, creating or running) at a
    # poll, and the most of the replicas named in OLD (comma-separated) that
    # stopped running from one poll to the next. OUT.log gets each change of
    # the running set.
    workload, out, stop, ctl = args[0], args[1], args[2], args[4:]
    old = set(filter(None, args[3].split(",")))
    min_running, max_live, samples, max_gone = 1 << 30, 0, 0, 0
    last = None
    log = open(out + ".log", "w")
    while not os.path.exists(stop):
        try:
            cs = containers(ctl, workload)
        except Exception as e:
            print(f"watch: {e}", file=log, flush=True)
            continue
        running = sorted(c["name"] for c in cs
                         if short(c.get("state")) == "running")
        live = [c for c in cs
                if short(c.get("state")) in ("pending", "creating", "running")]
        samples += 1
        min_running = min(min_running, len(running))
        max_live = max(max_live, len(live))
        if last is not None:
            max_gone = max(max_gone, len((set(last) - set(running)) & old))
        if running != last:
            states = " ".join(f'{c["name"]}:{short(c.get("state"))}' for c in cs)
            print(f"{time.time():.1f} running {len(running)}; {states}",
                  file=log, flush=True)
            last = running
        write(out, f"{min_running} {max_live} {samples} {max_gone}\n")
        time.sleep(0.5)
elif cmd == "load":
    # load URL OUT STOP: requests URL back to back until STOP exists; OUT
    # gets "ok failed" after each request, OUT.log each failure.
    url, out, stop = args
    ok = bad = 0
    log = open(out + ".log", "w")
    while not os.path.exists(stop):
        try:
            urllib.request.urlopen(url, timeout=3).read()
            ok += 1
        except Exception as e:
            bad += 1
            print(f"{time.time():.1f} request failed: {e}", file=log, flush=True)
        write(out, f"{ok} {bad}\n")
else:
    sys.exit(f"q.py: unknown command {cmd}")
EOF
Q=(python3 "$WORK/q.py")

# replicas [STATE]: the httpd replicas (only those in STATE), one per line:
# NAME STATE RESTARTS IMAGE VM START HEALTH.
replicas() {
  "${CTL[@]}" get containers -o json | "${Q[@]}" containers httpd |
    awk -v s="${1:-}" 's == "" || $2 == s'
}
# group_vms: the VMs of group web, one per line: NAME STATE.
group_vms() { "${CTL[@]}" get vms -o json | "${Q[@]}" vms web; }
count() { grep -c . || true; }
# wait_for SECONDS WHAT CMD...: polls CMD every 0.5 s until it succeeds.
wait_for() {
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "$what: not within $limit s"
    sleep 0.5
  done
}
# vip_answers: one request to the VIP answered.
vip_answers() { wget -q -t 1 -T 3 -O /dev/null "http://$VIP:8080/"; }
# n_running N: exactly N replicas, all running.
n_running() {
  local all
  all=$(replicas 2>/dev/null) || return 1
  [ "$(echo "$all" | count)" -eq "$1" ] &&
    [ "$(echo "$all" | awk '$2 == "running"' | count)" -eq "$1" ]
}
# n_vms N: exactly N VMs in group web, all running.
n_vms() {
  local all
  all=$(group_vms 2>/dev/null) || return 1
  [ "$(echo "$all" | count)" -eq "$1" ] &&
    [ "$(echo "$all" | awk '$2 == "running"' | count)" -eq "$1" ]
}
# bg NAME ARGS...: q.py NAME in the background, stopped by $WORK/NAME.stop.
bg() {
  local name=$1
  shift
  rm -f "$WORK/$name.stop" "$WORK/$name.out"
  "${Q[@]}" "$@" &
  BG_PIDS+=($!)
}
# bg_stop NAME: stops it; its result is in $WORK/NAME.out.
bg_stop() {
  touch "$WORK/$1.stop"
  wait "${BG_PIDS[-1]}"
  unset 'BG_PIDS[-1]'
}
# watch_start [OLD]: watches httpd's replicas (OLD: see q.py watch).
watch_start() {
  bg watch watch httpd "$WORK/watch.out" "$WORK/watch.stop" "${1:-}" "${CTL[@]}"
}
load_start() { bg load load "http://$VIP:8080/" "$WORK/load.out" "$WORK/load.stop"; }
# answered N: at least N requests of the load answered.
answered() {
  local ok
  read -r ok _ 2>/dev/null <"$WORK/load.out" && [ "$ok" -ge "$1" ]
}
# load_more N: waits for N more answered requests.
load_more() {
  local ok0=0
  [ -s "$WORK/load.out" ] && read -r ok0 _ <"$WORK/load.out"
  wait_for 90 "$1 more answered VIP requests" answered $((ok0 + $1))
}
# vip_failed MESSAGE: `later`, after showing where the host sends the VIP's
# packets and the VMs.
vip_failed() {
  echo "host neighbour entry of the VIP: $(ip neigh show "$VIP")" >&2
  "${CTL[@]}" get vms -o wide >&2 || true
  later "$@"
}
# result NAME: what NAME recorded (its log goes to the output).
result() {
  [ -s "$WORK/$1.out" ] || fail "$1 recorded nothing"
  cat "$WORK/$1.out.log" >&2
  cat "$WORK/$1.out"
}

start_nestd

bash "$SRC/examples/images/build.sh" "$WORK/examples" >/dev/null
"${CTL[@]}" image import httpd "$WORK/examples/oci:httpd" >/dev/null
"${CTL[@]}" image import httpd-v2 "$WORK/examples/oci:httpd-v2" >/dev/null

cat >"$WORK/group.yaml" <<EOF
kind: VmGroup
name: web
spec:
  shape: {vcpus: 1, memory: 256Mi}
  min_vms: 1
  max_vms: 3
  scale_down_cooldown_s: $COOLDOWN_S
EOF
# The shell is the container's init and httpd its child: a SIGKILL from
# inside the container reaches httpd (an init ignores it), and the shell
# then exits 137. On SIGTERM the shell lets requests in flight finish (1 s)
# and stops httpd, as a server that drains would.
cat >"$WORK/httpd.yaml.in" <<'EOF'
kind: Workload
name: httpd
spec:
  image: IMAGE
  group: web
  replicas: REPLICAS
  resources: {cpu: 100m, memory: 64Mi}
  stop_grace_s: 5
  command: ["/bin/sh", "-c", "httpd -f -p 8080 -h /www & trap 'sleep 1; kill $!' TERM; wait $!"]
  ports:
    - {name: http, container_port: 8080}
  # Run by the agent in each guest: a replica joins the VIP once it
  # answers, not as soon as its process runs.
  health_check:
    http: {port: 8080, path: /}
    period_s: 1
EOF
# httpd_spec IMAGE REPLICAS: the workload's spec file.
httpd_spec() {
  sed -e "s/IMAGE/$1/" -e "s/REPLICAS/$2/" "$WORK/httpd.yaml.in" >"$WORK/httpd.yaml"
  echo "$WORK/httpd.yaml"
}

"${CTL[@]}" apply -f "$WORK/group.yaml" --wait --wait-timeout 8m >/dev/null ||
  fail "group web did not converge"
wait_for 120 "group web at its minimum of 1 VM" n_vms 1
step "group web at 1 VM: $(group_vms | tr '\n' ' ')"

# --- grow -----------------------------------------------------------------
t=$EPOCHREALTIME
"${CTL[@]}" apply -f "$(httpd_spec httpd 2)" --no-wait >/dev/null
wait_for 300 "2 running replicas" n_running 2
T_GROW=$(since "$t")
# n_healthy N: N replicas whose agent reports their health check passing.
n_healthy() { [ "$(replicas running | awk '$7 == "healthy"' | count)" -eq "$1" ]; }
wait_for 30 "2 replicas passing their HTTP health check" n_healthy 2
n_vms 2 || fail "group web has $(group_vms | tr '\n' ' ') for 2 replicas, want exactly 2 running VMs"
[ "$(replicas | awk '{print $5}' | sort -u | count)" -eq 2 ] ||
  fail "the 2 replicas share a VM: $(replicas | tr '\n' ' ')"
VIP=$("${CTL[@]}" get workload httpd -o json | "${Q[@]}" status vip)
[ -n "$VIP" ] || fail "httpd has no VIP"
wait_for 30 "the VIP $VIP answers" vip_answers
step "grow: 1 -> 2 VMs, 2 replicas running in $T_GROW s; VIP $VIP"

# --- shrink ---------------------------------------------------------------
watch_start
load_start
load_more 5
t=$EPOCHREALTIME
"${CTL[@]}" scale workload httpd 1 >/dev/null
wait_for 60 "1 replica" n_running 1
# Every guest holds the VIP and answers ARP for it, so host clients must
# not depend on the neighbour entry (the VM that answered may be the one
# drained): nestd DNATs the VIP in its host table. To prove it, point the
# host's neighbour entry for the VIP at the spare VM, which goes away after
# the cooldown; no request may fail.
SPARE=$(group_vms | awk '{print $1}' | grep -Fxv "$(replicas | awk '{print $5}')")
[ "$(echo "$SPARE" | count)" -eq 1 ] || fail "want one spare VM, got '$SPARE'"
BRIDGE=$(ip route get "$VIP" | grep -oE 'dev [^ ]+' | awk '{print $2}')
MAC=$("${VIRSH[@]}" domiflist "nest-$SPARE" | grep -oE '([0-9a-f]{2}:){5}[0-9a-f]{2}' || true)
[ -n "$BRIDGE" ] && [ -n "$MAC" ] || fail "no bridge ('$BRIDGE') or MAC ('$MAC') for the VIP"
ip neigh replace "$VIP" dev "$BRIDGE" lladdr "$MAC" nud reachable
wait_for $((COOLDOWN_S + 120)) "group web back at 1 VM" n_vms 1
T_SHRINK=$(since "$t")
load_more 10
bg_stop load
bg_stop watch
r=$(result load)
read -r ok bad <<<"$r"
r=$(result watch)
read -r min_running max_live samples max_gone <<<"$r"
SHRINK_OK=$ok
SHRINK_BAD=$bad
step "shrink: 2 -> 1 VM ($SPARE drained) in $T_SHRINK s; running replicas >= $min_running over $samples polls; VIP $ok answered, $bad failed"
[ "$min_running" -ge 1 ] || fail "no replica ran at some point of the shrink"
[ "$bad" -eq 0 ] || vip_failed "the VIP failed $bad of $((ok + bad)) requests during the shrink"
# The second VM is spare from the scale command on, and a VM must be spare
# for a whole cooldown before it is drained.
awk -v t="$T_SHRINK" -v c="$COOLDOWN_S" 'BEGIN { exit !(t >= c) }' ||
  fail "the group shrank $T_SHRINK s after its second VM became spare, within the cooldown of $COOLDOWN_S s"

# --- restart --------------------------------------------------------------
read -r C _ R0 _ <<<"$(replicas running)"
t=$EPOCHREALTIME
# SIGKILL to every httpd process of the container, from inside it. The
# container's init then exits, which may kill this very shell first (137).
rc=0
"${CTL[@]}" exec "$C" -- sh -c \
  'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" != httpd ] || kill -9 ${p#/proc/}; done' ||
  rc=$?
[ $rc -eq 0 ] || [ $rc -eq 137 ] || fail "exec kill in $C failed (exit code $rc)"
restarted() { replicas running | awk -v c="$C" -v r="$R0" '$1 == c && $3 > r' | grep . >/dev/null; }
wait_for 120 "$C restarted" restarted
T_RESTART=$(since "$t")
wait_for 30 "the VIP answers after the restart" vip_answers
step "restart: httpd killed in $C, running again in $T_RESTART s (restarts $R0 -> $(replicas running | awk '{print $3}'))"

# --- vm_replace -----------------------------------------------------------
read -r C _ _ _ VM START <<<"$(replicas running)"
"${VIRSH[@]}" domstate "nest-$VM" | grep running >/dev/null || fail "no running domain nest-$VM"
t=$EPOCHREALTIME
"${VIRSH[@]}" destroy "nest-$VM" >/dev/null
# A replica that started after the destroy, on a running VM.
replaced() {
  local name vm start
  read -r name _ _ _ vm start <<<"$(replicas running)"
  [ -n "$name" ] && [ "$name/$start" != "$C/$START" ] && n_vms 1 &&
    "${VIRSH[@]}" domstate "nest-$vm" 2>/dev/null | grep running >/dev/null
}
wait_for 300 "a replica running again after virsh destroy nest-$VM" replaced
T_VM=$(since "$t")
wait_for 30 "the VIP answers after the VM's replacement" vip_answers
step "vm_replace: nest-$VM destroyed, replica running again in $T_VM s on $(group_vms | tr '\n' ' ')"

# --- rollout --------------------------------------------------------------
"${CTL[@]}" scale workload httpd 2 >/dev/null
wait_for 300 "2 running replicas" n_running 2
n_vms 2 || fail "group web has $(group_vms | tr '\n' ' ') for 2 replicas, want 2 VMs"
step "httpd back at 2 replicas on 2 VMs"
OLD=$(replicas running | awk '{print $1}' | paste -sd, -)
watch_start "$OLD"
load_start
load_more 5
t=$EPOCHREALTIME
"${CTL[@]}" apply -f "$(httpd_spec httpd-v2 2)" --no-wait >/dev/null
"${CTL[@]}" rollout status httpd --timeout 5m >/dev/null || fail "rollout status failed"
T_ROLLOUT=$(since "$t")
# only_new: 2 replicas, both running and neither of those before.
only_new() {
  local all
  all=$(replicas) || return 1
  [ "$(echo "$all" | count)" -eq 2 ] &&
    [ "$(echo "$all" | awk '$2 == "running"' | count)" -eq 2 ] &&
    ! echo "$all" | awk '{print $1}' | grep -Fx -e "${OLD//,/$'\n'}" >/dev/null
}
wait_for 60 "2 running replicas, none of before ($OLD)" only_new
load_more 10
bg_stop load
bg_stop watch
r=$(result load)
read -r ok bad <<<"$r"
r=$(result watch)
read -r min_running max_live samples max_gone <<<"$r"
step "rollout: $OLD replaced in $T_ROLLOUT s; running >= $min_running, live <= $max_live, at most $max_gone old replica(s) gone per poll over $samples polls; VIP $ok answered, $bad failed"
# replicas 2, max_surge 1, max_unavailable 1 (the defaults).
[ "$min_running" -ge 1 ] || fail "no replica ran at some point of the rollout"
[ "$max_live" -le 3 ] || fail "$max_live replicas at once during the rollout, want at most 2 + max_surge 1"
[ "$max_gone" -le 1 ] || fail "$max_gone old replicas stopped at once: not one by one"
[ "$bad" -eq 0 ] && [ "$ok" -gt 0 ] ||
  vip_failed "the VIP failed $bad of $((ok + bad)) requests during the rollout"
while read -r c _ _ image _; do
  [ "$image" = httpd-v2 ] || fail "$c shows image $image, want httpd-v2"
  "${CTL[@]}" exec "$c" -- cat /www/index.html </dev/null | grep "httpd v2" >/dev/null ||
    fail "$c does not hold httpd-v2's page"
done < <(replicas running)
for _ in $(seq 1 10); do
  page=$(wget -q -t 1 -T 3 -O- "http://$VIP:8080/") || fail "the VIP did not answer after the rollout"
  [[ "$page" == *"httpd v2"* ]] || fail "the VIP served an old page after the rollout: $page"
done

echo "autoscale_e2e: times grow=${T_GROW}s shrink=${T_SHRINK}s restart=${T_RESTART}s" \
  "vm_replace=${T_VM}s rollout=${T_ROLLOUT}s failed_requests=$bad ok=$ok" \
  "(shrink: failed_requests=$SHRINK_BAD ok=$SHRINK_OK)"

DOMAINS=$(group_vms | awk '{print "nest-" $1}')
kill "$NESTD_PID" && wait "$NESTD_PID" 2>/dev/null || true
NESTD_PID=""
"$BIN/nestd" --dev --down --state-dir "$STATE" --net-pool "$POOL" >"$WORK/down.log" 2>&1
left=$("${VIRSH[@]}" list --all --name | grep -Fx -e "$DOMAINS" || true)
[ -z "$left" ] || fail "--down left domains: $left"
[ ${#LATER[@]} -eq 0 ] || fail "${#LATER[@]} check(s) failed above, the first: ${LATER[0]}"
step "PASS in $((SECONDS - T0)) s"
