#!/usr/bin/python3
"""receiver.py - a customer's webhook endpoint, for webhooks_test.sh.

  receiver.py PORT DIR

Listens on 127.0.0.1:PORT. For every POST it verifies Callixo-Signature
over the raw body with Python's hmac, using the secret for the request
path in DIR/secrets.json ({"/e1": "whsec_..."}, re-read each time so a
rotation takes effect), and appends one JSON line to DIR/requests.jsonl:
path, headers, the raw body (base64), whether the signature verified and
the answer given. DIR/fail.json ({"/e1": 2}) makes the next N requests
to a path answer 500 (the count goes down); a path starting with /slow
sleeps 4 s before answering, and /redir answers 302 to /e1. Everything
else answers 200 (401 when the signature does not verify).
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

PORT, DIR = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()


def load(name):
    try:
        with open(os.path.join(DIR, name), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def verify(secret, header, body):
    """True when header is t=<unix>,v1=<hex> over "<t>." + body."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or not secret:
        return False
    if abs(time.time() - int(parts["t"])) > 300:
        return False
    want = hmac.new(secret.encode(), parts["t"].encode() + b"." + body,
                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        secret = load("secrets.json").get(self.path, "")
        ok = verify(secret, self.headers.get("Callixo-Signature", ""), body)
        with lock:
            fails = load("fail.json")
            left = int(fails.get(self.path, 0))
            if left > 0:
                fails[self.path] = left - 1
                with open(os.path.join(DIR, "fail.json"), "w") as f:
                    json.dump(fails, f)
        if self.path.startswith("/slow"):
            time.sleep(4)
        status = 500 if left > 0 else (200 if ok else 401)
        if self.path == "/redir":
            status = 302
        rec = {"path": self.path, "headers": dict(self.headers.items()),
               "body": base64.b64encode(body).decode(), "sig_ok": ok,
               "status": status, "at": time.time()}
        with lock, open(os.path.join(DIR, "requests.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/e1")
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
srv.daemon_threads = True
print("listening", flush=True)
srv.serve_forever()
