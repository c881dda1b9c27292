#!/usr/bin/env python3
"""The web dashboard in Debian's headless chromium (selenium + chromedriver)
against a real `nestd --sim 3` with the README demo applied.

Checks: login; hosts, VMs and containers in the packing view (with a
hovered container's details); a pending workload's explain reason, the same
one `nestctl explain` gives; a container appearing without a reload after
`nestctl scale`; a tenant token never showing another tenant's objects.
Screenshots of the packing view go to a temp dir printed at the end.

Every wait is a WebDriverWait on a condition, never a fixed sleep.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 20

HUGE_SPEC = """kind: Workload
name: huge
spec:
  image: hello
  group: web
  replicas: 1
  resources:
    cpu: 100m
    memory: 4Gi
"""

TENANT_SPEC = """kind: VmGroup
name: acme-web
spec:
  shape:
    vcpus: 1
    memory: 256Mi
  min_vms: 1
  max_vms: 2
---
kind: Workload
name: acme-app
spec:
  image: hello
  group: acme-web
  replicas: 2
  resources:
    cpu: 100m
    memory: 32Mi
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """nestd --sim on free loopback ports, with nestctl pointed at it."""

    def __init__(self, nestd, nestctl, tmp):
        self.nestctl = nestctl
        self.tmp = tmp
        self.addr = f"127.0.0.1:{free_port()}"
        self.http = f"127.0.0.1:{free_port()}"
        state = os.path.join(tmp, "state")
        self.env = dict(os.environ, NEST_TOKEN_FILE=os.path.join(state, "operator.token"))
        self.env.pop("NEST_TOKEN", None)
        self.log = open(os.path.join(tmp, "nestd.log"), "w")
        self.proc = subprocess.Popen(
            [nestd, "--sim", "3", "--state-dir", state, "--listen", self.addr,
             "--http-listen", self.http],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:  # a condition poll: nestctl answers once nestd is up
            if self.proc.poll() is not None:
                raise RuntimeError("nestd exited; see " + self.log.name)
            if self.ctl("get", "hosts", check=False).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("nestd did not answer within 15 s")
            time.sleep(0.1)
        with open(self.env["NEST_TOKEN_FILE"]) as f:
            self.operator_token = f.read().strip()

    def ctl(self, *args, token=None, check=True):
        env = dict(self.env)
        if token:
            env["NEST_TOKEN"] = token
        r = subprocess.run([self.nestctl, "--server", self.addr, *args], env=env,
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"nestctl {' '.join(args)}: {r.stderr}")
        return r

    def apply(self, text, token=None):
        path = os.path.join(self.tmp, f"spec-{time.monotonic_ns()}.yaml")
        with open(path, "w") as f:
            f.write(text)
        self.ctl("apply", "--no-wait", "-f", path, token=token)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1400,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=opts)


def packing_counts(d):
    return d.execute_script(
        "const c = document.getElementById('packing-canvas');"
        "return c ? {hosts: +c.dataset.hosts, vms: +c.dataset.vms,"
        " containers: +c.dataset.containers, unplaced: +c.dataset.unplaced}"
        " : null;")


def login(d, base, token):
    d.get(base + "/")
    WebDriverWait(d, WAIT_S).until(
        lambda d: d.find_element(By.ID, "login").is_displayed())
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.ID, "login-button").click()
    WebDriverWait(d, WAIT_S).until(
        lambda d: d.find_element(By.ID, "nav").is_displayed())


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run(args, tmp, shots):
    c = Cluster(args.nestd, args.nestctl, tmp)
    d = None
    try:
        for image in ("hello", "httpd"):  # placeholders in --sim
            c.ctl("image", "import", image, "/sim")
        c.ctl("apply", "--no-wait", "-f", args.demo)
        c.apply(HUGE_SPEC)
        out = c.ctl("token", "create", "--tenant", "acme", "--role",
                    "tenant-admin", "--description", "browser test").stdout
        acme = next(w for w in out.split() if w.startswith("nest_"))
        c.ctl("image", "import", "hello", "/sim", token=acme)
        c.apply(TENANT_SPEC, token=acme)
        base = "http://" + c.http
        d = browser()

        # A wrong token is refused on the login form.
        login_start = time.monotonic()
        d.get(base + "/")
        WebDriverWait(d, WAIT_S).until(
            lambda d: d.find_element(By.ID, "login").is_displayed())
        d.find_element(By.ID, "token").send_keys("nest_not_a_token")
        d.find_element(By.ID, "login-button").click()
        WebDriverWait(d, WAIT_S).until(
            lambda d: d.find_element(By.ID, "login-error").text != "")

        # The operator: 3 hosts, the demo's VMs and its 5 containers plus
        # acme's 2, all placed.
        login(d, base, c.operator_token)
        WebDriverWait(d, WAIT_S).until(
            lambda d: (packing_counts(d) or {}).get("containers", 0) >= 7)
        counts = packing_counts(d)
        check(counts["hosts"] == 3, f"packing view hosts: {counts}")
        check(counts["vms"] >= 2, f"packing view VMs: {counts}")
        d.save_screenshot(os.path.join(shots, "packing-operator.png"))
        print(f"login to packing view drawn: {time.monotonic() - login_start:.2f} s")

        # Hovering a container shows its details: scroll it into the
        # viewport, then move the pointer there (viewport coordinates).
        rects = d.execute_script("return window.nestPacking.rects();")
        box = next(r for r in rects if r["kind"] == "container")
        x, y = d.execute_script(
            "const c = document.getElementById('packing-canvas');"
            "const r = arguments[0];"
            "window.scrollTo(0, c.getBoundingClientRect().top + window.scrollY + r.y - 200);"
            "const b = c.getBoundingClientRect();"
            "return [b.left + r.x + r.w / 2, b.top + r.y + r.h / 2];", box)
        actions = ActionBuilder(d)
        actions.pointer_action.move_to_location(int(x), int(y))
        actions.perform()
        tip = WebDriverWait(d, WAIT_S).until(
            lambda d: d.find_element(By.CLASS_NAME, "packing-tip").text or None)
        check(box["id"] in tip, f"hover tip {tip!r} does not name {box['id']}")

        # The pending workload's page gives nestctl explain's reason.
        explained = c.ctl("explain", "huge").stdout
        d.get(base + "/#/workload/default/huge")
        reason_el = WebDriverWait(d, WAIT_S).until(
            lambda d: d.find_element(By.ID, "explain"))
        reasons = [li.text for li in reason_el.find_elements(By.TAG_NAME, "li")]
        check(reasons, "no explain reasons on the pending workload's page")
        first = reasons[0].rsplit(" (", 1)[0]
        check(first in explained,
              f"page reason {first!r} is not in nestctl explain:\n{explained}")

        d.save_screenshot(os.path.join(shots, "workload-explain.png"))

        # The group page plots its sampled size.
        d.get(base + "/#/group/default/web")
        WebDriverWait(d, WAIT_S).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, "#group-plot polyline[data-series='vms']"))
        check("web" in d.find_element(By.ID, "group-title").text,
              "group page title")
        d.save_screenshot(os.path.join(shots, "group.png"))

        # Live: scale up, and the new replicas appear without a reload.
        d.get(base + "/#/packing")
        WebDriverWait(d, WAIT_S).until(
            lambda d: (packing_counts(d) or {}).get("containers", 0) >= 7)
        before = packing_counts(d)
        d.execute_script("window.nestNoReload = true;")
        WebDriverWait(d, WAIT_S).until(
            lambda d: d.find_element(By.ID, "live").text == "live")
        scale_start = time.monotonic()
        c.ctl("scale", "workload", "httpd", "4")
        # Both new replicas show (placed, or counted as not placed while
        # their VM boots), and at least one is drawn in a VM.
        def appeared(d):
            now = packing_counts(d)
            return (now["containers"] + now["unplaced"] >=
                    before["containers"] + before["unplaced"] + 2 and
                    now["containers"] > before["containers"])
        WebDriverWait(d, WAIT_S).until(appeared)
        check(d.execute_script("return window.nestNoReload === true;"),
              "the page reloaded")
        print(f"scale to new containers drawn: {time.monotonic() - scale_start:.2f} s")
        d.save_screenshot(os.path.join(shots, "packing-after-scale.png"))

        # A tenant: only its own objects, on every page.
        d.find_element(By.ID, "logout").click()
        login(d, base, acme)
        WebDriverWait(d, WAIT_S).until(
            lambda d: (packing_counts(d) or {}).get("containers", 0) >= 2)
        counts = packing_counts(d)
        check(counts["containers"] == 2 and counts["vms"] == 1,
              f"tenant packing view: {counts}")
        d.save_screenshot(os.path.join(shots, "packing-tenant.png"))
        for page, table in (("workloads", "workloads-table"),
                            ("groups", "groups-table"),
                            ("vms", "vms-table"),
                            ("containers", "containers-table")):
            d.get(base + "/#/" + page)
            t = WebDriverWait(d, WAIT_S).until(
                lambda d: d.find_element(By.ID, table))
            text = t.text
            for foreign in ("httpd", "hello-", "huge", " web ", "default"):
                check(foreign not in text,
                      f"tenant sees {foreign!r} on {page}:\n{text}")
            check("acme" in text, f"tenant's own objects missing on {page}")
        body = d.find_element(By.TAG_NAME, "body").text
        check("httpd" not in body, "tenant page names another tenant's workload")
        d.get(base + "/#/workload/default/httpd")
        err = WebDriverWait(d, WAIT_S).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#view .error").text or None)
        check(not d.find_elements(By.ID, "replicas-table"),
              f"tenant opened another tenant's workload httpd ({err})")
        status = d.execute_script(
            "return fetch('/api/ui/workload?tenant=default&name=httpd')"
            ".then(r => r.status);")
        check(status == 404, f"tenant fetch of httpd answered {status}")
    except Exception:
        if d is not None:
            d.save_screenshot(os.path.join(shots, "failure.png"))
            for entry in d.get_log("browser"):
                sys.stderr.write(f"browser: {entry['level']} {entry['message']}\n")
        with open(os.path.join(tmp, "nestd.log")) as f:
            sys.stderr.write(f.read()[-4000:])
        raise
    finally:
        if d is not None:
            d.quit()
        c.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nestd", required=True)
    p.add_argument("--nestctl", required=True)
    p.add_argument("--demo", required=True, help="examples/demo.yaml")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="nest-web-")
    shots = tempfile.mkdtemp(prefix="nest-web-shots-")
    start = time.monotonic()
    try:
        run(args, tmp, shots)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"screenshots: {shots}")
    print(f"dashboard browser test passed in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
