#!/usr/bin/env python3
"""The dashboard's packing view at scale: nestd --sim HOSTS holding VMS VMs
(each with two containers), time from navigation to the packing view fully
drawn (the page's own performance.now() at its first draw), against a
static page that draws the same JSON with the same packing.js and no live
connection, in the same run and browser. Median of --runs navigations each.
Prints a table, then one JSON line last.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec(vms, groups):
    per = vms // groups
    docs = []
    for g in range(groups):
        docs.append(f"""kind: VmGroup
name: g{g}
spec:
  shape:
    vcpus: 1
    memory: 256Mi
  min_vms: {per}
  max_vms: {per}
  desired_vms: {per}
---
kind: Workload
name: w{g}
spec:
  image: hello
  group: g{g}
  replicas: {per * 2}
  resources:
    cpu: 100m
    memory: 64Mi
""")
    return "---\n".join(docs)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1400,1000",
              "--allow-file-access-from-files"):
        opts.add_argument(a)
    return webdriver.Chrome(
        service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
        options=opts)


def drawn_ms(d, url):
    d.get("about:blank")
    d.get(url)
    WebDriverWait(d, 120).until(lambda d: d.execute_script(
        "return window.nestDrawnAt !== undefined;"))
    return d.execute_script("return window.nestDrawnAt;")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nestd", required=True)
    p.add_argument("--nestctl", required=True)
    p.add_argument("--hosts", type=int, default=200)
    p.add_argument("--vms", type=int, default=2000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--screenshot", help="save the live packing view here (PNG)")
    p.add_argument("--verbose", action="store_true",
                   help="print the live page's resource timings")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="nest-bench-dash-")
    addr, http = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    state = os.path.join(tmp, "state")
    env = dict(os.environ, NEST_TOKEN_FILE=os.path.join(state, "operator.token"))
    env.pop("NEST_TOKEN", None)
    log = open(os.path.join(tmp, "nestd.log"), "w")
    nestd = subprocess.Popen([args.nestd, "--sim", str(args.hosts), "--state-dir",
                              state, "--listen", addr, "--http-listen", http],
                             stdout=log, stderr=subprocess.STDOUT)
    d = None
    try:
        def ctl(*a):
            return subprocess.run([args.nestctl, "--server", addr, *a], env=env,
                                  capture_output=True, text=True, timeout=120)
        deadline = time.monotonic() + 30
        while ctl("get", "hosts").returncode != 0:
            if nestd.poll() is not None or time.monotonic() > deadline:
                sys.exit("nestd did not start; log: " + log.name)
            time.sleep(0.2)
        token = open(env["NEST_TOKEN_FILE"]).read().strip()
        path = os.path.join(tmp, "spec.yaml")
        with open(path, "w") as f:
            f.write(spec(args.vms, 10))
        ctl("image", "import", "hello", "/sim")  # a placeholder in --sim
        r = ctl("apply", "--no-wait", "-f", path)
        if r.returncode != 0:
            sys.exit("apply: " + r.stderr)
        base = "http://" + http

        def cluster():
            req = urllib.request.Request(base + "/api/ui/cluster",
                                         headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.read()

        # Converged: every VM and container running.
        t0 = time.monotonic()
        while True:
            data = json.loads(cluster())
            running = sum(v["state"] == "running" for v in data["vms"])
            cont = sum(c["state"] == "running" for c in data["containers"])
            if running >= args.vms and cont >= args.vms * 2:
                break
            if time.monotonic() - t0 > 600:
                sys.exit(f"not converged: {running} VMs, {cont} containers running")
            time.sleep(1)
        converge_s = time.monotonic() - t0

        # The static baseline: the same JSON and packing.js, from files.
        raw = cluster()
        with urllib.request.urlopen(base + "/packing.js") as resp:
            packing_js = resp.read()
        with urllib.request.urlopen(base + "/app.css") as resp:
            css = resp.read()
        page = os.path.join(tmp, "static")
        os.makedirs(page)
        with open(os.path.join(page, "packing.js"), "wb") as f:
            f.write(packing_js)
        with open(os.path.join(page, "app.css"), "wb") as f:
            f.write(css)
        with open(os.path.join(page, "data.js"), "wb") as f:
            f.write(b"window.NEST_STATIC = " + raw + b";\n")
        with open(os.path.join(page, "static.html"), "w") as f:
            f.write("""<!doctype html><meta charset="utf-8">
<link rel="stylesheet" href="app.css"><main><section id="view"><div id="packing"></div></section></main>
<script src="packing.js"></script><script src="data.js"></script>
<script>NestPacking.mount(document.getElementById('packing'), window.NEST_STATIC);</script>
""")

        d = browser()
        d.get(base + "/")
        d.execute_script(
            "return fetch('/api/ui/login', {method: 'POST', credentials: 'same-origin',"
            " headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({token: arguments[0]})}).then(r => r.status);", token)
        live, static = [], []
        for _ in range(args.runs):
            live.append(drawn_ms(d, base + "/#/packing"))
            if args.verbose:
                for e in d.execute_script(
                        "return performance.getEntriesByType('resource').map("
                        "e => [e.name, e.startTime, e.responseStart, e.responseEnd]);"):
                    print("  ", e[0].replace(base, ""),
                          " ".join(f"{x:.0f}" for x in e[1:]))
            static.append(drawn_ms(d, "file://" + os.path.join(page, "static.html")))
        d.get(base + "/#/packing")
        WebDriverWait(d, 60).until(lambda d: d.execute_script(
            "return window.nestPacking !== undefined;"))
        counts = d.execute_script("return window.nestPacking.counts;")
        if args.screenshot:
            d.save_screenshot(args.screenshot)
        load_ms, static_ms = statistics.median(live), statistics.median(static)
        ratio = load_ms / static_ms if static_ms > 0 else float("inf")
        print(f"cluster: {args.hosts} hosts, {len(data['vms'])} VMs, "
              f"{len(data['containers'])} containers (converged in {converge_s:.1f} s); "
              f"JSON {len(raw) / 1e6:.2f} MB")
        print(f"{'page':<28}{'median ms':>10}{'runs (ms)':>40}")
        print(f"{'dashboard (live, session)':<28}{load_ms:>10.0f}"
              f"{' '.join(f'{x:.0f}' for x in live):>40}")
        print(f"{'static JSON, no live':<28}{static_ms:>10.0f}"
              f"{' '.join(f'{x:.0f}' for x in static):>40}")
        print(f"drawn: {counts['hosts']} hosts, {counts['vms']} VMs, "
              f"{counts['containers']} containers; ratio {ratio:.2f} (goal <= 1.5)")
        print(json.dumps({"bench": "dashboard", "hosts": counts["hosts"],
                          "vms": counts["vms"], "load_ms": round(load_ms, 1),
                          "static_ms": round(static_ms, 1),
                          "ratio": round(ratio, 3)}))
    finally:
        if d is not None:
            d.quit()
        nestd.terminate()
        try:
            nestd.wait(20)
        except subprocess.TimeoutExpired:
            nestd.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
