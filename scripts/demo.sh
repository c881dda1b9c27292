#!/usr/bin/env bash
# The first quick-start command: installs what is missing, builds, starts
# libvirtd, and runs nestd's embedded default (`nestd --dev`).
source "$(dirname "$0")/lib/common.sh"
require_root
cd "$NEST_ROOT"

phase "install packages" scripts/install-deps.sh
phase "start libvirtd" scripts/libvirt-up.sh
phase "build" scripts/build.sh "$NEST_ROOT/build"
print_phases
log "running: nestd --dev"
exec "$NEST_ROOT/build/tools/nestd" --dev
