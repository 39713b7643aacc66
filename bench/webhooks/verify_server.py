#!/usr/bin/python3
"""Checks webhook.lua's signatures: a loopback receiver that verifies each
request the way the providers' SDKs do, with Python's own hmac, and
counts good, bad and repeated events.

  verify_server.py <retell|twilio> <key> <public_url-prefix-file>
      prints "PORT <n>", serves until SIGTERM;
      GET /stats -> {"ok": n, "bad": n, "dup": n, "first_bad": "..."}

Retell (retell-sdk verify): x-retell-signature "v=<ms>,d=<64 hex>",
|now - v| <= 5 min, d == hex(HMAC-SHA256(key, raw body + str(int(v)))).
Twilio (RequestValidator): X-Twilio-Signature ==
base64(HMAC-SHA1(token, url + sorted name+value of the form params)),
empty values included. The URL is the public URL the sender was told
(written by run.sh to the file named on the command line, since the port
is only known once this server listens).
"""
import base64
import hashlib
import hmac
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

PROVIDER, KEY = sys.argv[1], sys.argv[2].encode()
URL_FILE = sys.argv[3]
STATS = {"ok": 0, "bad": 0, "dup": 0, "first_bad": ""}
SEEN = set()
LOCK = threading.Lock()
SIG = re.compile(r"^v=(\d+),d=([0-9a-f]+)$", re.I)


def check_retell(headers, body):
    m = SIG.match(headers.get("x-retell-signature", ""))
    if not m or len(m.group(2)) != 64:
        return None, "malformed x-retell-signature"
    v = int(m.group(1))
    if abs(time.time() * 1000 - v) > 300000:
        return None, "timestamp outside the 5-minute window"
    want = hmac.new(KEY, body + str(v).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, m.group(2).lower()):
        return None, "digest mismatch"
    ev = json.loads(body)
    return (ev["call"]["call_id"], ev["event"]), None


def check_twilio(path, headers, body):
    with open(URL_FILE) as f:
        base = f.read().strip()
    params = parse_qsl(body.decode(), keep_blank_values=True)
    data = base + path + "".join(k + v for k, v in sorted(params))
    want = base64.b64encode(hmac.new(KEY, data.encode(),
                                     hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(want, headers.get("X-Twilio-Signature", "")):
        return None, "signature mismatch"
    p = dict(params)
    return (p["CallSid"], p["SequenceNumber"]), None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, data=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            self.reply(200, json.dumps(STATS).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if PROVIDER == "retell":
            key, why = check_retell(self.headers, body)
        else:
            key, why = check_twilio(self.path, self.headers, body)
        with LOCK:
            if key is None:
                STATS["bad"] += 1
                STATS["first_bad"] = STATS["first_bad"] or why
            elif key in SEEN:
                STATS["dup"] += 1
            else:
                SEEN.add(key)
                STATS["ok"] += 1
        self.reply(204 if key else 401)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    # wrk drops its connections mid-request when a run ends: no tracebacks.
    srv.handle_error = lambda request, client_address: None
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
