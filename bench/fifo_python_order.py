#!/usr/bin/env python3
"""FIFO load in the python `opensips` client's order (python-opensips
opensips/mi/fifo.py, read for its steps, not copied): for every command, make
a fresh reply FIFO, write the request, and only then open the reply FIFO and
read one line. Servers that cannot open the reply FIFO at once (no reader
yet) and sleep before retrying show it here.

usage: fifo_python_order.py SERVER_FIFO REPLY_DIR opensips|kamailio SECONDS MAXREQ REQUEST_FILE
Prints the same JSON line as loadgen.
"""
import json
import os
import signal
import sys
import time


def main():
    server, reply_dir, framing, seconds, maxreq, req_file = sys.argv[1:7]
    seconds, maxreq = float(seconds), int(maxreq)
    body = json.loads(open(req_file).read())
    lat, errors, reply_bytes = [], 0, 0
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError()))
    start = time.monotonic()
    while len(lat) < maxreq and time.monotonic() - start < seconds:
        t0 = time.monotonic()
        name = "opensips_fifo_reply_%d_%s" % (os.getpid(), str(time.time()).replace(".", "_"))
        path = os.path.join(reply_dir, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.mkfifo(path)
        os.chmod(path, 0o666)
        if framing == "kamailio":
            req = json.dumps(dict(body, reply_name=name)) + "\n"
        else:
            req = ":" + name + ":" + json.dumps(body)
        try:
            signal.setitimer(signal.ITIMER_REAL, 1.0)
            with open(server, "w", encoding="utf-8") as f:
                f.write(req)
            with open(path, "r", encoding="utf-8") as f:
                # python-opensips reads one line; Kamailio pretty-prints, so read to EOF
                line = f.read()
            signal.setitimer(signal.ITIMER_REAL, 0)
            reply = json.loads(line)
            reply_bytes = len(line)
            if "result" in reply:
                lat.append((time.monotonic() - t0) * 1000)
            else:
                errors += 1
        except (TimeoutError, ValueError, OSError):
            signal.setitimer(signal.ITIMER_REAL, 0)
            errors += 1
        finally:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    elapsed = time.monotonic() - start
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] if lat else 0
    print(json.dumps({"requests": len(lat), "errors": errors, "seconds": round(elapsed, 3),
                      "rps": round(len(lat) / elapsed, 1) if elapsed else 0,
                      "p50_ms": round(p(0.5), 4), "p99_ms": round(p(0.99), 4), "reply_bytes": reply_bytes}))


if __name__ == "__main__":
    main()
