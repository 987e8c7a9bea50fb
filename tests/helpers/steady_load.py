#!/usr/bin/env python3
"""Steady MI load over the FIFO and UDP until told to stop (python3 stdlib).

One thread per transport sends `uptime` requests one after another, each
checked by its id, until a line arrives on stdin, `max_seconds` pass or
`max_requests` were sent. Prints "started" once both have had a reply, then
at the end one JSON object: per transport ok / lost / mismatched and the
first errors.

Usage: steady_load.py '{"fifo": PATH, "reply_dir": DIR, "udp_port": N,
                        "max_seconds": 60, "max_requests": 100000}'
"""

import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mi_clients import fifo_write, read_reply_fifo  # noqa: E402

job = json.loads(sys.argv[1])
stop = threading.Event()
first = {"fifo": threading.Event(), "udp": threading.Event()}
results = {}


def run(kind):
    ok = lost = mismatched = 0
    errors = []
    reply_path = sock = None
    if kind == "fifo":
        name = "steady_%d" % os.getpid()
        reply_path = os.path.join(job["reply_dir"], name)
        os.mkfifo(reply_path)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(3)
    deadline = time.time() + job.get("max_seconds", 60)
    i = 0
    try:
        while not stop.is_set() and time.time() < deadline and i < job.get("max_requests", 100000):
            rid = "%s-%d" % (kind, i)
            i += 1
            req = json.dumps({"jsonrpc": "2.0", "method": "uptime", "id": rid})
            try:
                if kind == "fifo":
                    fifo_write(job["fifo"], ":" + name + ":" + req)
                    text = read_reply_fifo(reply_path, 3)
                else:
                    sock.sendto(req.encode(), ("127.0.0.1", job["udp_port"]))
                    text = sock.recv(65535).decode()
                if text is None:
                    raise TimeoutError("no reply within 3 s")
                if json.loads(text).get("id") == rid:
                    ok += 1
                    first[kind].set()
                else:
                    mismatched += 1
                    if len(errors) < 3:
                        errors.append(text[:200])
            except Exception as e:  # noqa: BLE001 - every failure is counted
                lost += 1
                if len(errors) < 3:
                    errors.append("%s: %r" % (rid, e))
    finally:
        if sock:
            sock.close()
        if reply_path:
            os.unlink(reply_path)
    results[kind] = {"ok": ok, "lost": lost, "mismatched": mismatched, "errors": errors}


threads = [threading.Thread(target=run, args=(k,)) for k in ("fifo", "udp")]
for t in threads:
    t.start()
for e in first.values():
    e.wait(10)
print("started", flush=True)
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
for t in threads:
    t.join()
print(json.dumps(results), flush=True)
