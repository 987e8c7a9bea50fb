#!/usr/bin/env python3
"""XML-RPC calls with python's own client, xmlrpc.client.ServerProxy (the
seed's `xmlrpclib.ServerProxy('http://host:port/RPC2')`), for the tests.

Usage: xmlrpc_client.py < JOB_JSON -- prints one JSON object:
  {"calls": [{"result": ...} | {"fault": [code, string]} | {"error": text}],
   "raw": [{"status": N, "fault": [code, string] | null, "result": ..., "ms": float}]}
JOB: {"url": ..., "calls": [[method, [params...]], ...],
      "raw": [{"body": text, "content_type": "text/xml"}]}
"""

import json
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client


def run_calls(url, calls):
    proxy = xmlrpc.client.ServerProxy(url, allow_none=True)
    out = []
    for method, params in calls:
        try:
            out.append({"result": getattr(proxy, method)(*params)})
        except xmlrpc.client.Fault as f:
            out.append({"fault": [f.faultCode, f.faultString]})
        except xmlrpc.client.ProtocolError as e:
            out.append({"error": "HTTP %d %s" % (e.errcode, e.errmsg)})
    return out


def run_raw(url, bodies):
    out = []
    for job in bodies:
        req = urllib.request.Request(
            url, data=job["body"].encode(), method="POST",
            headers={"Content-Type": job.get("content_type", "text/xml")})
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        ms = (time.monotonic() - t0) * 1000
        entry = {"status": status, "fault": None, "result": None, "ms": ms}
        if status == 200:
            try:
                entry["result"] = xmlrpc.client.loads(text)[0][0]
            except xmlrpc.client.Fault as f:
                entry["fault"] = [f.faultCode, f.faultString]
        else:
            entry["body"] = text.decode(errors="replace")
        out.append(entry)
    return out


def main():
    job = json.load(sys.stdin)
    print(json.dumps({
        "calls": run_calls(job["url"], job.get("calls", [])),
        "raw": run_raw(job["url"], job.get("raw", [])),
    }))


if __name__ == "__main__":
    main()
