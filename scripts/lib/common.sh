# Shared helpers for Nest's scripts. Source it; do not run it.
set -euo pipefail

NEST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export NEST_ROOT

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# phase NAME CMD...: runs CMD and records its wall time for the summary.
NEST_PHASES=()
phase() {
  local name="$1"; shift
  local start end rc=0
  start=$(date +%s.%N)
  log "$name"
  "$@" || rc=$?
  end=$(date +%s.%N)
  NEST_PHASES+=("$(printf '%-28s %7.1f s  %s' "$name" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" \
    "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")")
  return $rc
}

print_phases() {
  echo
  echo "phase                         wall time"
  local p
  for p in "${NEST_PHASES[@]}"; do echo "$p"; done
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts libvirtd)"
}
