#!/usr/bin/env python3
"""Independent MI clients for the integration tests (python3 stdlib only).

The FIFO client frames requests exactly as the python `opensips` package
does: reply FIFO `opensips_fifo_reply_<pid>_<time>` made with mkfifo and
chmod 0666, `":" + name + ":" + json.dumps(request)` written with one
open/write/close and no newline, and the reply FIFO opened for reading only
AFTER the request was written. (The package then blocks forever in open();
here the reading side polls, so a test can time out instead of hanging.)

Usage: mi_clients.py JOB_JSON  -- prints one JSON object with the result.
"""

import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.request


def opensips_reply_name():
    return "opensips_fifo_reply_%d_%s_%d" % (
        os.getpid(), str(time.time()).replace(".", "_"), threading.get_ident() % 100000)


def read_reply_fifo(path, timeout):
    """Opens a reply FIFO for reading and reads to EOF; None on timeout."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        out = b""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            data = os.read(fd, 65536)
            if not data:  # a writer came and went: EOF
                return out.decode()
            out += data
    finally:
        os.close(fd)


def fifo_write(fifo, text):
    with open(fifo, "w") as f:
        f.write(text)


def opensips_fifo(job):
    """One request the way python `opensips` sends it."""
    reply_dir = job["reply_dir"]
    name = job.get("name") or opensips_reply_name()
    path = os.path.join(reply_dir, name)
    made = False
    if job.get("mkfifo", True):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.mkfifo(path)
        os.chmod(path, 0o666)
        made = True
    req = job.get("request", "")
    text = expand(req, job) if isinstance(req, str) else json.dumps(req)
    try:
        fifo_write(job["fifo"], ":" + name + ":" + text)
        # More of the request, each piece after a pause (a slow or dying writer).
        for chunk in job.get("chunks", []):
            time.sleep(job.get("chunk_delay_ms", 50) / 1000)
            fifo_write(job["fifo"], chunk)
        if job.get("delay_open_ms"):
            time.sleep(job["delay_open_ms"] / 1000)
        if not job.get("open_reply", True):
            return {"reply": None}
        t0 = time.time()
        reply = read_reply_fifo(path, job.get("timeout", 5))
        return {"reply": reply, "ms": (time.time() - t0) * 1000}
    finally:
        if made and job.get("unlink", True):
            os.unlink(path)


def expand(text, job):
    """`@FILL@` in a text becomes job["fill"] letters: big requests without big argv."""
    return text.replace("@FILL@", "a" * job["fill"]) if "fill" in job else text


def payload(job):
    data = expand(job["data"], job).encode()
    if "pad_to" in job:
        data += b" " * (job["pad_to"] - len(data))
    return data


def dgram(job):
    if job["op"] == "udp":
        fam = socket.AF_INET6 if ":" in job["host"] else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        addr = (job["host"], job["port"])
        tmp = None
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        addr = job["path"]
        tmp = None
        if job.get("bind", True):
            tmp = "%s/c%d_%d" % (job.get("bind_dir", "/tmp"), os.getpid(), random.randint(0, 1 << 30))
            s.bind(tmp)
    if "sndbuf" in job:
        # The kernel caps it at net.core.wmem_max (and doubles it); report what it set.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, job["sndbuf"])
    try:
        s.settimeout(job.get("timeout", 2))
        s.sendto(payload(job), addr)
        if not job.get("wait", True):
            return {"reply": None}
        try:
            data = s.recv(job.get("bufsize", 1 << 18))
        except socket.timeout:
            return {"reply": None}
        return {"reply": data.decode(), "len": len(data)}
    finally:
        s.close()
        if tmp:
            os.unlink(tmp)


def http(job):
    req = urllib.request.Request(job["url"], method=job.get("method", "POST"))
    body = job.get("body")
    data = None if body is None else payload({**job, "data": body})
    for k, v in job.get("headers", {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, data=data, timeout=job.get("timeout", 5)) as r:
            return {"status": r.status, "headers": {k.lower(): v for k, v in r.headers.items()}, "body": r.read().decode()}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "headers": {k.lower(): v for k, v in e.headers.items()}, "body": e.read().decode()}


def read_http_response(f):
    status = f.readline().decode()
    if not status:
        return None
    headers = {}
    while True:
        line = f.readline().decode()
        if line in ("\r\n", "\n", ""):
            break
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0"))).decode()
    return {"status": int(status.split()[1]), "headers": headers, "body": body}


def http_raw(job):
    """Raw TCP: writes `chunks` with pauses between them, then reads responses."""
    s = socket.create_connection(("127.0.0.1", job["port"]), timeout=job.get("timeout", 5))
    try:
        f = s.makefile("rb")
        out = []
        for step in job["steps"]:
            for i, chunk in enumerate(step["chunks"]):
                if i:
                    time.sleep(job.get("delay_ms", 50) / 1000)
                s.sendall(chunk.encode())
            out.append(read_http_response(f))
        return {"responses": out}
    finally:
        s.close()


def http_resets(job):
    """Connections that send a request's head and part of its body, then reset (RST)."""
    reset = 0
    for _ in range(job["n"]):
        s = socket.create_connection(("127.0.0.1", job["port"]), timeout=5)
        s.sendall(b"POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"jsonrpc\"")
        time.sleep(0.001)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        reset += 1
    return {"reset": reset}


# ---------------------------------------------------------------- load


def load_client(spec, index, result):
    """Sends spec["n"] requests one after another; checks every reply's id."""
    kind = spec["kind"]
    n = spec["n"]
    ok = mismatched = lost = 0
    errors = []
    methods = spec.get("methods", ["uptime"])
    conn = None
    sock = None
    reply_path = None
    try:
        if kind == "fifo":
            name = "load_%d_%d" % (os.getpid(), index)
            reply_path = os.path.join(spec["reply_dir"], name)
            if os.path.exists(reply_path):
                os.unlink(reply_path)
            os.mkfifo(reply_path)
        elif kind == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(5)
        elif kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind("%s/load_%d_%d" % (spec["bind_dir"], os.getpid(), index))
            sock.settimeout(5)
        elif kind == "http":
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=10)
        for i in range(n):
            rid = "c%d-%d" % (index, i) if kind == "fifo" else index * 100000 + i
            method = methods[i % len(methods)]
            req = {"jsonrpc": "2.0", "id": rid, "method": method, "params": {}}
            try:
                if kind == "fifo":
                    fifo_write(spec["fifo"], ":" + name + ":" + json.dumps(req))
                    text = read_reply_fifo(reply_path, 5)
                elif kind == "udp":
                    sock.sendto(json.dumps(req).encode(), ("127.0.0.1", spec["port"]))
                    text = sock.recv(65535).decode()
                elif kind == "unix":
                    sock.sendto(json.dumps(req).encode(), spec["path"])
                    text = sock.recv(65535).decode()
                else:
                    conn.request("POST", "/mi", json.dumps(req), {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    text = r.read().decode()
                if text is None:
                    lost += 1
                    continue
                reply = json.loads(text)
                if reply.get("id") == rid and "result" in reply:
                    ok += 1
                else:
                    mismatched += 1
                    if len(errors) < 3:
                        errors.append(text[:200])
            except Exception as e:  # noqa: BLE001 - every failure is counted
                lost += 1
                if len(errors) < 3:
                    errors.append(repr(e))
    finally:
        if sock:
            sock.close()
            if kind == "unix":
                os.unlink("%s/load_%d_%d" % (spec["bind_dir"], os.getpid(), index))
        if conn:
            conn.close()
        if reply_path:
            os.unlink(reply_path)
    result[index] = {"kind": kind, "ok": ok, "mismatched": mismatched, "lost": lost, "errors": errors}


def load(job):
    result = {}
    threads = []
    index = 0
    for spec in job["clients"]:
        for _ in range(spec["count"]):
            t = threading.Thread(target=load_client, args=(spec, index, result))
            threads.append(t)
            index += 1
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return {"clients": [result.get(i) for i in range(index)], "seconds": time.time() - t0}


def many_fifo(job):
    """Writes several python-opensips requests, each with its own reply FIFO, then reads them all."""
    names = []
    for i in range(job["count"]):
        name = "inflight_%d_%d" % (os.getpid(), i)
        path = os.path.join(job["reply_dir"], name)
        os.mkfifo(path)
        names.append(name)
    for i, name in enumerate(names):
        req = {"jsonrpc": "2.0", "id": str(i), "method": job.get("method", "ps"), "params": {}}
        fifo_write(job["fifo"], ":" + name + ":" + json.dumps(req))
    # Tell the test the requests are written, then wait for its go.
    print("written", flush=True)
    sys.stdin.readline()
    replies = []
    for name in names:
        path = os.path.join(job["reply_dir"], name)
        replies.append(read_reply_fifo(path, job.get("timeout", 5)))
        os.unlink(path)
    return {"replies": replies}


def opensips_answer(text):
    """What OpenSIPS 3.6 answers: compact JSON, or its plain-text parse error."""
    try:
        r = json.loads(text)
    except ValueError:
        return "400 Parse_error"
    if r.get("method") == "version":
        body = {"jsonrpc": "2.0", "result": {"Server": "OpenSIPS (3.6.8 (x86_64/linux))"}, "id": r.get("id")}
    else:
        body = {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": r.get("id")}
    return json.dumps(body, separators=(",", ":"))


def fake_opensips(job):
    """A stand-in for OpenSIPS's mi_fifo and mi_datagram, framing and timing
    as in its source: one request per FIFO read, the reply FIFO opened
    O_WRONLY|O_NONBLOCK with 4 retries 80 ms apart; datagram replies to the
    sender. Serves until stdin closes."""
    fifo = job["fifo"]
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    dummy = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    print(json.dumps({"udp_port": udp.getsockname()[1]}), flush=True)
    served = 0
    try:
        while True:
            ready, _, _ = select.select([rfd, udp, sys.stdin], [], [], 30)
            if not ready or sys.stdin in ready:
                break
            if udp in ready:
                data, addr = udp.recvfrom(65535)
                udp.sendto(opensips_answer(data.decode()).encode(), addr)
                served += 1
            if rfd in ready:
                text = os.read(rfd, 4096).decode().strip()
                if not text.startswith(":"):
                    continue
                name, _, body = text[1:].partition(":")
                path = job["reply_dir"].rstrip("/") + "/" + name
                for _ in range(5):
                    try:
                        w = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                        break
                    except OSError:
                        time.sleep(0.08)
                else:
                    continue
                os.write(w, opensips_answer(body).encode())
                os.close(w)
                served += 1
    finally:
        os.close(rfd)
        os.close(dummy)
        os.unlink(fifo)
        udp.close()
    return {"served": served}


OPS = {
    "fake_opensips": fake_opensips,
    "fifo": opensips_fifo,
    "fifo_raw": lambda job: (fifo_write(job["fifo"], expand(job["data"], job)), {"ok": True})[1],
    "udp": dgram,
    "unix": dgram,
    "http": http,
    "http_raw": http_raw,
    "http_resets": http_resets,
    "load": load,
    "many_fifo": many_fifo,
}

if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    print(json.dumps(OPS[job["op"]](job)), flush=True)
