#!/usr/bin/env bash
# test_host_e2e.sh BIN_DIR SOURCE_DIR
#
# scripts/test-host.sh (issue 13): a second libvirtd in a network namespace
# answers on qemu+tcp at its own address only; a file uploaded through
# libvirt lands in a pool under one of Nest's dirs, which the test host has
# as a tmpfs of its own, so a file this machine has at the same path is not
# there; `down` removes the namespace, the route and the run dir, and a
# second `down` is harmless. BIN_DIR is unused: the script needs no Nest
# binary.
set -euo pipefail
SRC="$2"
[ "$(id -u)" -eq 0 ] || { echo "test_host_e2e: needs root"; exit 1; }
for tool in libvirtd virsh; do
  command -v "$tool" >/dev/null || { echo "test_host_e2e: needs libvirt ($tool)"; exit 1; }
done

TH="$SRC/scripts/test-host.sh"
NAME="nesttest$((RANDOM % 9000 + 1000))"
ADDR=10.251.9.2
PEER=10.251.9.1
ROUTE=10.252.9.0/24
URI="qemu+tcp://$ADDR/system"
WORK=$(mktemp -d /var/lib/nest-thoste2e-XXXXXX)
POOL_DIR="$WORK/pool"
T0=$SECONDS

fail() { echo "test_host_e2e: FAIL: $*" >&2; exit 1; }
step() { echo "test_host_e2e: [$((SECONDS - T0)) s] $*"; }
v() { virsh -q -c "$URI" "$@"; }

cleanup() {
  local rc=$?
  "$TH" down "$NAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

# The first host has the pool dir, with a file of its own in it.
mkdir -p "$POOL_DIR"
echo "first host only" >"$POOL_DIR/host-only"

"$TH" up "$NAME" --addr "$ADDR/24" --peer "$PEER" --route "$ROUTE" \
  --nest-dirs "$POOL_DIR" "$WORK/state"
step "test host $NAME up"

[ "$(v hostname)" = "$NAME" ] || fail "the test host's libvirtd reports hostname '$(v hostname)'"
ip route show "$ROUTE" | grep -q "via $ADDR" || fail "no route to $ROUTE via $ADDR on this machine"
"$TH" exec "$NAME" -- ip route show default | grep -q "via $PEER" ||
  fail "no default route via $PEER in the test host"
# libvirtd listens on the test host's address only.
listeners=$("$TH" exec "$NAME" -- ss -Hltn 'sport = :16509' | awk '{print $4}')
[ "$listeners" = "$ADDR:16509" ] || fail "libvirtd listens on '$listeners', expected $ADDR:16509 only"

# Image transfer through libvirt only: a dir pool under a Nest dir.
cat >"$WORK/pool.xml" <<EOF
<pool type='dir'><name>$NAME-pool</name><target><path>$POOL_DIR</path></target></pool>
EOF
v pool-define "$WORK/pool.xml" >/dev/null
v pool-start "$NAME-pool" >/dev/null
head -c 3M /dev/urandom >"$WORK/blob"
v vol-create-as "$NAME-pool" blob 3M --format raw >/dev/null
v vol-upload --pool "$NAME-pool" blob "$WORK/blob"
v vol-list "$NAME-pool" | grep -q "$POOL_DIR/blob" || fail "vol-list does not show the uploaded volume"
v vol-download --pool "$NAME-pool" blob "$WORK/blob.back"
cmp -s "$WORK/blob" "$WORK/blob.back" || fail "the volume read back differs from what was uploaded"
step "volume uploaded and read back over $URI"

# Same path, two hosts, two file systems.
if "$TH" exec "$NAME" -- test -e "$POOL_DIR/host-only"; then
  fail "$POOL_DIR/host-only of the first host is visible inside the test host"
fi
[ ! -e "$POOL_DIR/blob" ] || fail "the uploaded volume is visible on the first host"
[ "$(cat "$POOL_DIR/host-only")" = "first host only" ] || fail "the first host's file changed"
v vol-delete --pool "$NAME-pool" blob >/dev/null
step "pool dir is private to the test host"

"$TH" down "$NAME"
step "down"
"$TH" down "$NAME" >/dev/null 2>&1 || fail "a second down failed"
! ip netns list | grep -qw "$NAME" || fail "network namespace $NAME is still there"
[ -z "$(ip route show "$ROUTE")" ] || fail "route to $ROUTE is still there"
[ ! -e "/run/nest-test-host/$NAME" ] || fail "run dir of $NAME is still there"
if virsh -c "$URI" version >/dev/null 2>&1; then fail "$URI still answers after down"; fi
[ -f "$POOL_DIR/host-only" ] || fail "down removed the first host's file"
step "down removed everything; done"
