#!/usr/bin/env bash
# test-host.sh: a second libvirt "host" on this machine, for multi-host tests.
#
# A test host is a network namespace with a veth pair to this machine, and,
# inside it, a mount and UTS namespace of its own: a tmpfs on /run, private
# /etc/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt,
# and a tmpfs over each of Nest's state and pool dirs (--nest-dirs), so a
# path that is valid on the first host fails to open on the test host. Its
# own virtlogd and libvirtd run there; libvirtd listens on qemu+tcp on the
# namespace's address only. Everything a test needs reaches it through the
# libvirt connection, as with a real remote host.
set -euo pipefail

PROG=test-host.sh
RUN_BASE=/run/nest-test-host
# libvirtd and virtlogd of a test host run under these names (through a
# symlink), so `pgrep -x libvirtd` and `pkill -x libvirtd` on the first host
# never mistake them for the first host's daemons.
DAEMON_PREFIX=th-
START_TIMEOUT_S=${NEST_TEST_HOST_TIMEOUT:-60}

usage() {
  cat <<EOF
usage:
  $PROG up NAME --addr IP/PREFIX --peer IP [--route CIDR ...] [--nest-dirs DIR ...]
  $PROG down NAME
  $PROG exec NAME -- CMD [ARG ...]
  $PROG --help

up      creates network namespace NAME with a veth pair (this machine gets
        --peer, the namespace gets --addr), a private mount namespace with
        its own /run, libvirt dirs and a tmpfs over each --nest-dirs DIR, and
        starts virtlogd and libvirtd there. It returns once
        qemu+tcp://ADDR/system answers from this machine. Each --route CIDR
        (the test host's VM or container pool) is routed via ADDR here; the
        namespace routes everything else via --peer.
down    stops everything the test host runs (libvirtd, virtlogd, QEMU),
        removes its routes, veth, namespaces and run dir. Safe to repeat,
        and safe after an 'up' that failed halfway.
exec    runs CMD inside the test host's network, mount and UTS namespaces,
        e.g. '$PROG exec NAME -- virsh list --all' or '... -- ip route'.

For tests only: libvirtd there accepts unauthenticated qemu+tcp on ADDR.
Its daemons show up here as ${DAEMON_PREFIX}libvirtd and ${DAEMON_PREFIX}virtlogd, so that
'pgrep -x libvirtd' on this machine finds only this machine's libvirtd.

NAME is 1-12 characters: lower-case letters, digits and '-', starting with a
letter. Needs root, iproute2, util-linux (unshare, nsenter) and libvirt.
State lives in $RUN_BASE/NAME.
EOF
}

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
now_ms() { date +%s%3N; }

valid_name() { [[ "$1" =~ ^[a-z][a-z0-9-]{0,11}$ ]]; }
valid_ip() {
  local IFS=. o
  [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  # shellcheck disable=SC2086 # split on dots on purpose
  for o in $1; do ((10#$o <= 255)) || return 1; done
}
valid_cidr() {
  [[ "$1" == */* ]] || return 1
  valid_ip "${1%/*}" && [[ "${1#*/}" =~ ^[0-9]{1,2}$ ]] && ((10#${1#*/} <= 32))
}

need_name() {
  [ -n "${1:-}" ] || die "missing NAME (see --help)"
  valid_name "$1" || die "NAME must be 1-12 characters of [a-z0-9-] starting with a letter, got '$1'"
}
need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (it creates namespaces and starts libvirtd)"; }
need_tools() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || die "'$t' not found in PATH"; done
}

# Paths of one test host.
set_paths() {
  NAME="$1"
  RUN="$RUN_BASE/$NAME"
  MNTNS="$RUN/mntns"
  UTSNS="$RUN/utsns"
  STATE="$RUN/state"
  VETH_HOST="th-$NAME"
}

# Runs "$@" inside the test host (net + mount + UTS namespaces).
in_host() {
  nsenter --net="/run/netns/$NAME" --mount="$MNTNS" --uts="$UTSNS" -- "$@"
}

# ---------------------------------------------------------------- up ----

# The namespace files are bind mounts; the folder holding them must not be
# a shared mount (propagation would loop), so make it a private bind mount
# of itself, as `ip netns` does for /run/netns.
prepare_run_base() {
  mkdir -p "$RUN_BASE"
  if ! mountpoint -q "$RUN_BASE"; then mount --bind "$RUN_BASE" "$RUN_BASE"; fi
  mount --make-private "$RUN_BASE"
}

# Fresh-host libvirt config: the package's top-level *.conf files and the
# stock nwfilters, but none of the first host's domains, networks, pools or
# secrets.
seed_etc() {
  local etc="$1" f
  mkdir -p "$etc/qemu/networks/autostart" "$etc/storage/autostart" "$etc/secrets" \
    "$etc/nwfilter" "$etc/hooks"
  chmod 700 "$etc/secrets"
  for f in /etc/libvirt/*.conf; do [ -f "$f" ] && cp -p "$f" "$etc/"; done
  if [ -d /usr/share/libvirt/nwfilter ]; then
    cp -p /usr/share/libvirt/nwfilter/*.xml "$etc/nwfilter/" 2>/dev/null || true
  fi
  cat >>"$etc/libvirtd.conf" <<EOF

# --- written by $PROG for test host $NAME ---
listen_tls = 0
listen_tcp = 1
listen_addr = "$ADDR"
auth_tcp = "none"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
EOF
}

# Mounts inside the new mount namespace; runs there (via nsenter) as root.
# Order matters: everything that binds from $RUN happens before the tmpfs
# on /run hides $RUN.
setup_mounts() {
  # shellcheck disable=SC2016 # expanded by the inner shell
  in_host bash -euo pipefail -c '
    run="$1" prefix="$2"; shift 2
    # A sysfs of this network namespace (libvirt reads bridge and device
    # state under /sys/class/net); keep the cgroup tree QEMU needs.
    mkdir -p "$run/cgroup"
    mount --rbind /sys/fs/cgroup "$run/cgroup"
    mount -t sysfs sysfs /sys
    mount --move "$run/cgroup" /sys/fs/cgroup
    mount --bind "$run/etc" /etc/libvirt
    mount --bind "$run/hosts" /etc/hosts
    mkdir -p /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
    mount --bind "$run/lib" /var/lib/libvirt
    mount --bind "$run/log" /var/log/libvirt
    mount --bind "$run/cache" /var/cache/libvirt
    mount -t tmpfs -o mode=755 nest-test-host-run /run
    mkdir -p /run/lock /run/nest-test-host-bin
    ln -s "$(command -v libvirtd)" "/run/nest-test-host-bin/${prefix}libvirtd"
    ln -s "$(command -v virtlogd)" "/run/nest-test-host-bin/${prefix}virtlogd"
    for d in "$@"; do
      mkdir -p "$d"
      mount -t tmpfs -o mode=755 nest-test-host-dir "$d"
    done
  ' setup "$RUN" "$DAEMON_PREFIX" "${NEST_DIRS[@]}"
}

start_daemons() {
  local bin=/run/nest-test-host-bin/$DAEMON_PREFIX
  local envs=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C)
  in_host "${envs[@]}" "${bin}virtlogd" -d
  # Without systemd socket activation, libvirtd 9.0 opens its TCP socket
  # only when started with --listen.
  in_host "${envs[@]}" "${bin}libvirtd" --listen -d
  LIBVIRTD_PID=$(in_host cat /run/libvirtd.pid 2>/dev/null || true)
  printf 'virtlogd=%s\nlibvirtd=%s\n' "$(in_host cat /run/virtlogd.pid 2>/dev/null || true)" \
    "$LIBVIRTD_PID" >"$RUN/pids"
}

wait_for_tcp() {
  local uri="qemu+tcp://$ADDR/system" deadline=$(($(date +%s) + START_TIMEOUT_S))
  while ! virsh -c "$uri" version >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -20 "$RUN/log/libvirtd.log" >&2 2>/dev/null || true
      return 1
    fi
    if [ -n "$LIBVIRTD_PID" ] && ! kill -0 "$LIBVIRTD_PID" 2>/dev/null; then
      log "libvirtd exited at start-up; its log:"
      tail -20 "$RUN/log/libvirtd.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.05
  done
}

# The highest of DIR and its parents that does not exist yet ("" if DIR does).
first_missing() {
  local p="$1" top=""
  while [ ! -e "$p" ]; do top="$p"; p=$(dirname "$p"); done
  echo "$top"
}

# Removes DIR and its parents up to TOP, as long as they are empty.
remove_made() {
  local p="$1" top="$2"
  while rmdir "$p" 2>/dev/null && [ "$p" != "$top" ] && [[ "$p" == "$top"/* ]]; do
    p=$(dirname "$p")
  done
  return 0
}

up_failed() {
  local rc=$?
  [ "$UP_DONE" = 1 ] && return 0
  log "up failed; removing what it created"
  cmd_down "$NAME" >/dev/null 2>&1 || true
  exit $((rc == 0 ? 1 : rc))
}

cmd_up() {
  need_name "${1:-}"
  set_paths "$1"; shift
  ADDR_CIDR="" PEER="" ROUTES=() NEST_DIRS=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --addr) [ $# -ge 2 ] || die "--addr needs IP/PREFIX"; ADDR_CIDR="$2"; shift 2 ;;
      --peer) [ $# -ge 2 ] || die "--peer needs IP"; PEER="$2"; shift 2 ;;
      --route) [ $# -ge 2 ] || die "--route needs CIDR"; ROUTES+=("$2"); shift 2 ;;
      --nest-dirs)
        shift
        if [ $# -eq 0 ] || [[ "$1" == --* ]]; then die "--nest-dirs needs at least one DIR"; fi
        while [ $# -gt 0 ] && [[ "$1" != --* ]]; do NEST_DIRS+=("$1"); shift; done ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
  done
  valid_cidr "$ADDR_CIDR" || die "--addr must be IP/PREFIX like 10.251.0.2/24, got '$ADDR_CIDR'"
  valid_ip "$PEER" || die "--peer must be an IPv4 address like 10.251.0.1, got '$PEER'"
  ADDR="${ADDR_CIDR%/*}"
  PREFIX="${ADDR_CIDR#*/}"
  [ "$ADDR" != "$PEER" ] || die "--addr and --peer must differ, both are $ADDR"
  local r d
  for r in "${ROUTES[@]}"; do valid_cidr "$r" || die "--route must be a CIDR like 10.130.0.0/16, got '$r'"; done
  for d in "${NEST_DIRS[@]}"; do
    [[ "$d" == /* ]] || die "--nest-dirs takes absolute paths, got '$d'"
    case "$d" in
      /|/run|/run/*|/etc|/etc/libvirt*|/var/lib/libvirt*|/var/log/libvirt*|/proc*|/sys*|/dev*)
        die "--nest-dirs cannot cover '$d'" ;;
    esac
  done
  need_root
  need_tools ip nsenter unshare mount virsh libvirtd virtlogd
  [ ! -e "/run/netns/$NAME" ] || die "network namespace $NAME exists; run '$PROG down $NAME' first"
  [ ! -e "$RUN" ] || die "$RUN exists; run '$PROG down $NAME' first"
  if ip link show "$VETH_HOST" >/dev/null 2>&1; then die "interface $VETH_HOST exists"; fi

  local t0 t1
  t0=$(now_ms)
  # From here on, a failure leaves what `down` removes.
  UP_DONE=0
  trap 'up_failed' EXIT
  prepare_run_base
  mkdir -p "$RUN"/{etc,lib,log,cache}
  {
    echo "addr=$ADDR"
    echo "peer=$PEER"
  } >"$STATE"

  # Network: veth pair, lo up, forwarding, default route back via the peer.
  ip netns add "$NAME"
  ip link add "$VETH_HOST" type veth peer name eth0 netns "$NAME"
  ip addr add "$PEER/$PREFIX" dev "$VETH_HOST"
  ip link set "$VETH_HOST" up
  ip -n "$NAME" link set lo up
  ip -n "$NAME" addr add "$ADDR_CIDR" dev eth0
  ip -n "$NAME" link set eth0 up
  ip -n "$NAME" route add default via "$PEER"
  ip netns exec "$NAME" sysctl -qw net.ipv4.ip_forward=1
  for r in "${ROUTES[@]}"; do
    echo "route=$r" >>"$STATE"
    ip route replace "$r" via "$ADDR"
  done

  # Files: private libvirt dirs, seeded like a freshly installed host. The
  # QEMU capabilities cache is copied so the first start skips probing.
  seed_etc "$RUN/etc"
  mkdir -p "$RUN/lib/dnsmasq" "$RUN/lib/images" "$RUN/log/qemu"
  if [ -d /var/cache/libvirt/qemu/capabilities ]; then
    mkdir -p "$RUN/cache/qemu"
    cp -a /var/cache/libvirt/qemu/capabilities "$RUN/cache/qemu/"
  fi
  # libvirtd resolves its host name on every domain start; with no entry,
  # the lookup goes to DNS and stalls each start for about 10 s.
  { cat /etc/hosts; printf '%s\t%s\n' "$ADDR" "$NAME"; } >"$RUN/hosts"
  touch "$MNTNS" "$UTSNS"
  nsenter --net="/run/netns/$NAME" \
    unshare --mount="$MNTNS" --uts="$UTSNS" --propagation private \
    hostname "$NAME"
  # A mount point that does not exist here is created on this machine's
  # file system; `down` removes what was created.
  local top
  for d in "${NEST_DIRS[@]}"; do
    top=$(first_missing "$d")
    if [ -n "$top" ]; then echo "made=$d|$top" >>"$STATE"; fi
  done
  setup_mounts

  local td
  td=$(now_ms)
  start_daemons
  wait_for_tcp || die "qemu+tcp://$ADDR/system did not answer within ${START_TIMEOUT_S} s"
  UP_DONE=1
  t1=$(now_ms)
  log "test host $NAME is up: qemu+tcp://$ADDR/system answered after $((t1 - t0)) ms ($((t1 - td)) ms from starting the daemons)"
}

# -------------------------------------------------------------- down ----

# Every process of the test host: those in its network namespace, and
# those in its mount namespace (the same set unless something escaped).
host_pids() {
  local ino
  if [ -e "/run/netns/$NAME" ]; then ip netns pids "$NAME" 2>/dev/null || true; fi
  if mountpoint -q "$MNTNS" 2>/dev/null; then
    ino=$(stat -L -c %i "$MNTNS" 2>/dev/null) || return 0
    # One find, not a readlink per process: a busy machine has hundreds.
    find /proc/[0-9]*/ns/mnt -maxdepth 0 -lname "mnt:\\[$ino\\]" 2>/dev/null | cut -d/ -f3
  fi
  return 0
}

stop_processes() {
  local pids p i
  mapfile -t pids < <(host_pids | sort -u)
  [ ${#pids[@]} -gt 0 ] || return 0
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 1 100); do
    mapfile -t pids < <(host_pids | sort -u)
    [ ${#pids[@]} -gt 0 ] || return 0
    [ "$i" -lt 50 ] || for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    sleep 0.1
  done
  log "warning: processes still running in test host $NAME: ${pids[*]}"
}

cmd_down() {
  need_name "${1:-}"
  set_paths "$1"
  need_root
  local line addr="" made=() f m
  stop_processes
  if [ -f "$STATE" ]; then
    while IFS= read -r line; do
      case "$line" in
        addr=*) addr="${line#addr=}" ;;
        route=*) ip route del "${line#route=}" via "$addr" 2>/dev/null || true ;;
        made=*) made+=("${line#made=}") ;;
      esac
    done <"$STATE"
  fi
  ip link del "$VETH_HOST" 2>/dev/null || true
  if [ -e "/run/netns/$NAME" ]; then ip netns del "$NAME" 2>/dev/null || true; fi
  for f in "$MNTNS" "$UTSNS"; do
    if mountpoint -q "$f" 2>/dev/null; then umount "$f" 2>/dev/null || umount -l "$f" || true; fi
  done
  for m in "${made[@]}"; do remove_made "${m%%|*}" "${m#*|}"; done
  if [ -d "$RUN" ]; then
    # Nothing of the test host is mounted in this namespace any more; stay
    # on this file system anyway so a stray mount is never emptied.
    rm -rf --one-file-system "$RUN"
  fi
  if ip netns list 2>/dev/null | grep -qx "$NAME\( (id: [0-9]*)\)\?"; then
    die "network namespace $NAME is still there"
  fi
  log "test host $NAME is down"
}

# -------------------------------------------------------------- exec ----

cmd_exec() {
  need_name "${1:-}"
  set_paths "$1"; shift
  [ "${1:-}" = "--" ] && shift
  [ $# -ge 1 ] || die "exec needs a command after '--'"
  need_root
  if [ ! -e "/run/netns/$NAME" ] || ! mountpoint -q "$MNTNS"; then die "test host $NAME is not up"; fi
  in_host "$@"
}

for arg in "$@"; do
  [ "$arg" = "--" ] && break
  case "$arg" in -h|--help) usage; exit 0 ;; esac
done
case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  exec) shift; cmd_exec "$@" ;;
  help) usage ;;
  "") usage >&2; exit 2 ;;
  *) die "unknown command '$1' (see --help)" ;;
esac
