#!/usr/bin/env python3
"""Steady MI load over the FIFO and UDP until told to stop (python3 stdlib).

One thread per transport runs mi_clients.load_client (requests one after
another, each reply checked by its id) in chunks of 20 until a line arrives
on stdin, `max_seconds` pass or `max_requests` were sent. Prints "started"
once both transports have answered a first chunk, then at the end one JSON
object: per transport ok / lost / mismatched and the first errors.

Usage: steady_load.py '{"fifo": PATH, "reply_dir": DIR, "udp_port": N,
                        "max_seconds": 60, "max_requests": 100000}'
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mi_clients import load_client  # noqa: E402

CHUNK = 20
job = json.loads(sys.argv[1])
stop = threading.Event()
specs = {
    "fifo": {"kind": "fifo", "n": CHUNK, "fifo": job["fifo"], "reply_dir": job["reply_dir"]},
    "udp": {"kind": "udp", "n": CHUNK, "port": job["udp_port"]},
}
first = {k: threading.Event() for k in specs}
results = {k: {"ok": 0, "lost": 0, "mismatched": 0, "errors": []} for k in specs}


def run(kind, index):
    total = results[kind]
    deadline = time.time() + job.get("max_seconds", 60)
    sent = 0
    while not stop.is_set() and time.time() < deadline and sent < job.get("max_requests", 100000):
        chunk = {}
        load_client(specs[kind], index, chunk)
        sent += CHUNK
        for key in ("ok", "lost", "mismatched"):
            total[key] += chunk[index][key]
        total["errors"] = (total["errors"] + chunk[index]["errors"])[:3]
        first[kind].set()


threads = [threading.Thread(target=run, args=(k, i)) for i, k in enumerate(specs)]
for t in threads:
    t.start()
for e in first.values():
    e.wait(10)
print("started", flush=True)
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
for t in threads:
    t.join()
print(json.dumps(results), flush=True)
