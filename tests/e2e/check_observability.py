#!/usr/bin/env python3
"""After the README demo: /metrics, `nestctl top` and `nestctl events` show it.

check_observability.py METRICS_URL NESTCTL [NESTCTL_ARGS...]

Waits (up to 90 s, for the usage sampler) until /metrics shows every running
demo container (httpd x2) and the demo's VMs with non-zero CPU time and
memory; then requires `nestctl top containers -o json` to list the same
containers and `nestctl events -o json` to hold Placed and Started events
for them, and `nestctl console VM` to hold the guest init's boot line.
Prints what it checked; exits 1 naming what is missing.
"""
import json
import re
import subprocess
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith("text/plain; version=0.0.4"):
            raise SystemExit(f"/metrics Content-Type is {ctype!r}")
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise SystemExit(f"/metrics line does not parse: {line!r}")
        labels = dict(LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def series(samples, name, key):
    return {s[1].get(key): s[2] for s in samples if s[0] == name}


def nestctl(cmd, *args):
    r = subprocess.run(cmd + list(args), capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def docs(text):
    doc = json.loads(text) if text.strip() else []
    if isinstance(doc, dict):
        doc = doc.get("items", [doc])
    return doc


def main():
    url, cmd = sys.argv[1], sys.argv[2:]
    containers = docs(nestctl(cmd, "get", "containers", "-o", "json"))
    running = sorted(c["name"] for c in containers
                     if c.get("workload", c.get("spec", {}).get("workload")) == "httpd"
                     or c["name"].startswith("httpd-"))
    vms = sorted(v["name"] for v in docs(nestctl(cmd, "get", "vms", "-o", "json")))
    if len(running) != 2 or not vms:
        raise SystemExit(f"want 2 httpd containers and VMs, got {running}, {vms}")
    missing = ["no sample yet"]
    deadline = time.time() + 90
    while time.time() < deadline:
        s = scrape(url)
        vm_cpu = series(s, "nest_vm_cpu_time_seconds_total", "vm")
        vm_mem = series(s, "nest_vm_memory_usage_bytes", "vm")
        c_cpu = series(s, "nest_container_cpu_time_seconds_total", "container")
        c_mem = series(s, "nest_container_memory_usage_bytes", "container")
        missing = [f"vm {v} cpu/memory" for v in vms
                   if vm_cpu.get(v, 0) <= 0 or vm_mem.get(v, 0) <= 0]
        missing += [f"container {c} cpu/memory" for c in running
                    if c_cpu.get(c, 0) <= 0 or c_mem.get(c, 0) <= 0]
        if not missing:
            break
        time.sleep(2)
    if missing:
        raise SystemExit("/metrics lacks non-zero " + ", ".join(missing))
    for v in vms:
        print(f"metrics: vm {v}: cpu {vm_cpu[v]:.2f} s, memory {vm_mem[v]:.0f} B")
    for c in running:
        print(f"metrics: container {c}: cpu {c_cpu[c]:.3f} s, "
              f"memory {c_mem[c]:.0f} B")
    names = {"nest_vms", "nest_containers", "nest_host_memory_free_bytes",
             "nest_placement_decision_seconds_count", "nest_api_requests_total",
             "nest_reconcile_duration_seconds_count"}
    absent = names - {x[0] for x in s}
    if absent:
        raise SystemExit(f"/metrics lacks {sorted(absent)}")

    top = docs(nestctl(cmd, "top", "containers", "-o", "json"))
    listed = {t["container"] for t in top}
    if not set(running) <= listed:
        raise SystemExit(f"nestctl top containers lists {sorted(listed)}, "
                         f"want {running}")
    print(f"top: {len(top)} containers listed")

    events = docs(nestctl(cmd, "events", "-o", "json"))
    for c in running:
        reasons = {e.get("reason") for e in events if e.get("name") == c}
        if not {"Placed", "Started"} <= reasons:
            raise SystemExit(f"events of {c}: {sorted(reasons)}, want Placed "
                             "and Started")
    print(f"events: Placed and Started for {', '.join(running)}")

    console = nestctl(cmd, "console", vms[0], "--tail-bytes", "1000000")
    # The guest kernel boots quiet; the init's own line is always there.
    if "nest-init: starting nest-agent" not in console:
        raise SystemExit(f"nestctl console {vms[0]} lacks the guest init's "
                         f"boot line: {console[-300:]!r}")
    print(f"console: {len(console)} bytes of {vms[0]}'s boot log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
