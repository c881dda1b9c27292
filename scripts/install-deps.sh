#!/usr/bin/env bash
# Installs the Debian 12 packages Nest needs, only those missing. Idempotent.
source "$(dirname "$0")/lib/common.sh"
require_root

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config python3 clang-format
  # libFuzzer and the sanitizer runtimes for scripts/fuzz.sh
  clang libclang-rt-14-dev
  # libraries
  libabsl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev
  protobuf-compiler libsqlite3-dev libspdlog-dev doctest-dev libxml2-dev
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libcpp-httplib-dev
  libvirt-dev libssl-dev zlib1g-dev
  # the openssl CLI makes the TLS tests' throwaway certificates
  openssl
  # hypervisor and guest tooling
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
  crun busybox-static skopeo umoci cpio zstd kmod e2fsprogs
  iproute2 nftables
  # the API's cross-language test
  python3-grpcio python3-grpc-tools
  # checks the /metrics exposition (promtool)
  prometheus
  # the dashboard's browser tests and bench_dashboard (headless chromium)
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all ${#PACKAGES[@]} packages present"
  exit 0
fi
log "installing ${#missing[@]} packages: ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "${missing[@]}" </dev/null
