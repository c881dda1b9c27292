#!/usr/bin/env bash
# Starts virtlogd and libvirtd when no libvirtd answers (there is no systemd
# here), then waits until qemu:///system answers.
source "$(dirname "$0")/lib/common.sh"

answers() { virsh -c qemu:///system uri >/dev/null 2>&1; }
# libvirt records each guest attached to a network here, even with DNS off,
# and refuses to attach one without it; Debian creates it only with dnsmasq.
[ "$(id -u)" = 0 ] && mkdir -p /var/lib/libvirt/dnsmasq
if answers; then exit 0; fi
require_root
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 1 100); do
  answers && { log "libvirtd is up"; exit 0; }
  sleep 0.1
done
die "libvirtd did not answer on qemu:///system within 10 s"
