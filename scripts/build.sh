#!/usr/bin/env bash
# build.sh [BUILD_DIR] [CMAKE_ARGS...]: configures and builds Nest with -j2.
source "$(dirname "$0")/lib/common.sh"
dir="${1:-$NEST_ROOT/build}"
shift || true
cmake -S "$NEST_ROOT" -B "$dir" -G Ninja -DNEST_WERROR=ON "$@" >/dev/null
ninja -C "$dir" -j2
