#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The multi_tenant_backend example, used as a client of the service would: two tenants get
answers made with their own upstream credentials, wrong keys are refused, an evicted tenant's
client is rebuilt, and GET /metrics, read by prometheus_client's parser (prometheus_check.py),
counts what happened.

    example_multi_tenant_backend.py BUILD/examples/multi_tenant_backend
"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prometheus_check import check  # noqa: E402

passed, failures = [], []


def expect(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    (passed if ok else failures).append(what)


def request(port, method, path, tenant=None, key=None, body=None):
    """(status, headers, body text)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=(body or "").encode() if method == "POST" else None)
    if tenant is not None:
        req.add_header("X-Tenant", tenant)
    if key is not None:
        req.add_header("X-Api-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def scrape(port):
    status, headers, text = request(port, "GET", "/metrics")
    expect("GET /metrics answers 200", status == 200)
    expect("/metrics has the 0.0.4 content type",
           headers.get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
    families, samples, problems = check(text)
    for p in problems:
        print("     " + p)
    expect("/metrics parses and passes the format's checks", not problems)
    return {(s["name"], tuple(sorted(s["labels"].items()))): s["value"] for s in samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def main():
    exe = sys.argv[1]
    proc = subprocess.Popen([exe, "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().split()
        if len(first) != 2 or first[0] != "PORT":
            sys.exit(f"multi_tenant_backend did not print its port: {first}")
        port = int(first[1])

        status, _, body = request(port, "GET", "/tools", "acme", "acme-key")
        expect("acme lists its tools", status == 200 and {"whoami", "echo"} <= set(json.loads(body)["tools"]))
        for tenant in ("acme", "globex"):
            status, _, body = request(port, "POST", "/call/whoami", tenant, tenant + "-key")
            expect(f"{tenant}'s upstream token speaks for {tenant}",
                   status == 200 and json.loads(body)["text"] == tenant)
        status, _, body = request(port, "POST", "/call/echo", "acme", "acme-key", '{"text": "hi"}')
        expect("acme's echo", status == 200 and json.loads(body) == {"text": "hi", "isError": False})

        for what, tenant, key in (("another tenant's key", "acme", "globex-key"), ("no key", "acme", None),
                                  ("an unknown tenant", "initech", "acme-key"), ("no tenant", None, "acme-key")):
            status, _, _ = request(port, "POST", "/call/whoami", tenant, key)
            expect(f"{what} is refused with 401", status == 401)
        status, _, _ = request(port, "POST", "/call/nope", "acme", "acme-key")
        expect("an unknown tool is 404", status == 404)
        status, _, _ = request(port, "POST", "/call/echo", "acme", "acme-key", "[1]")
        expect("a body that is not an object is 400", status == 400)

        before = scrape(port)
        call_ok = value(before, "mcp_client_request_duration_seconds_count", server="upstream",
                        method="tools/call", era="modern", outcome="ok")
        expect("three tool calls counted, ok, modern", call_ok == 3)
        lists = value(before, "mcp_client_request_duration_seconds_count", server="upstream",
                      method="tools/list", era="modern", outcome="ok")
        expect("tools/list counted", lists is not None and lists >= 2)
        expect("two clients created", value(before, "mcp_pool_creations_total", pool="tenants") == 2)
        expect("two misses", value(before, "mcp_pool_misses_total", pool="tenants") == 2)
        expect("the other acquires were hits", value(before, "mcp_pool_hits_total", pool="tenants") == 3)
        expect("two clients live", value(before, "mcp_pool_clients", pool="tenants") == 2)
        expect("nothing in flight",
               value(before, "mcp_client_requests_in_flight", server="upstream", method="tools/call") == 0)

        status, _, _ = request(port, "POST", "/logout", "acme", "acme-key")
        expect("acme logs out", status == 204)
        status, _, body = request(port, "POST", "/call/whoami", "acme", "acme-key")
        expect("acme's client is rebuilt", status == 200 and json.loads(body)["text"] == "acme")

        after = scrape(port)
        expect("the logout is an explicit eviction",
               value(after, "mcp_pool_evictions_total", pool="tenants", reason="explicit") == 1)
        expect("a third client created", value(after, "mcp_pool_creations_total", pool="tenants") == 3)
        expect("a fourth tool call counted", value(after, "mcp_client_request_duration_seconds_count",
                                                   server="upstream", method="tools/call", era="modern",
                                                   outcome="ok") == 4)
        went_down = [k for k, v in before.items()
                     if (k[0].endswith("_total") or k[0].endswith("_bucket") or k[0].endswith("_count"))
                     and (after.get(k) is None or after[k] < v)]
        expect("no counter went down or vanished", not went_down)
    finally:
        proc.stdin.close()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "killed after 30 s"
    expect("the service stops when its input ends", code == 0)
    print(f"{len(passed)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
