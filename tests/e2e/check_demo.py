#!/usr/bin/env python3
"""Checks `nestctl get containers -o json` against the demo's expectations.

check_demo.py converged    exit 0 when hello x3 exited 0 and httpd x2 run,
                           each placed in a microVM
check_demo.py counts       exit 0 when there are exactly 5 containers
check_demo.py first-httpd  print the name of a running httpd container
"""
import json
import sys


def load():
    doc = json.load(sys.stdin)
    if isinstance(doc, dict):
        doc = doc.get("items", [doc])
    return doc


def field(c, *names):
    for n in names:
        if n in c:
            return c[n]
        if "status" in c and isinstance(c["status"], dict) and n in c["status"]:
            return c["status"][n]
    return None


def main():
    mode = sys.argv[1]
    items = load()
    by = {}
    for c in items:
        by.setdefault(field(c, "workload"), []).append(c)
    if mode == "counts":
        ok = len(items) == 5 and len(by.get("hello", [])) == 3 \
            and len(by.get("httpd", [])) == 2
        if not ok:
            print(f"expected 5 containers (3 hello, 2 httpd), got {len(items)}",
                  file=sys.stderr)
        return 0 if ok else 1
    if mode == "converged":
        hello = by.get("hello", [])
        httpd = by.get("httpd", [])
        done = [c for c in hello
                if field(c, "state") in ("CONTAINER_STATE_SUCCEEDED", "SUCCEEDED", "succeeded")
                and int(field(c, "exit_code") or 0) == 0]
        running = [c for c in httpd
                   if field(c, "state") in ("CONTAINER_STATE_RUNNING", "RUNNING", "running")]
        in_vm = all(field(c, "vm") for c in done + running)
        return 0 if len(done) == 3 and len(running) == 2 and in_vm else 1
    if mode == "first-httpd":
        for c in by.get("httpd", []):
            if field(c, "state") in ("CONTAINER_STATE_RUNNING", "RUNNING", "running"):
                print(c["name"])
                return 0
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
