#!/usr/bin/python3
"""fake_retell.py - a loopback stand-in for Retell AI's API.

Follows the wire format of retell-sdk 5.66.1 (src/resources/call.ts) and
docs.retellai.com: Bearer auth, JSON bodies, the phone call object,
{"status":"error","message":...} errors, /v3/list-calls filter criteria
and cursor pagination, and webhooks {"event","call"} signed
x-retell-signature: v=<ms>,d=<hex HMAC-SHA256(key, body + str(ms))>.

Usage: fake_retell.py <port file> <key>[,<key>...]
Listens on 127.0.0.1, on a free port written to the port file.

Test controls (not Retell's API), all JSON:
  POST /_fake/mode     {"create": "ok"|"400"|"401"|"402"|"422"|"429"|"500"
                        |"slow", "slow_ms": 3000, "recording_fail": N,
                        "recording_kind": "wav"|"mp3"}
  GET  /_fake/requests every API request seen: method, path, auth, body
  POST /_fake/seed     {"n": 120, "to_number", "from_number"}: filler calls
  POST /_fake/webhook  {"call_id", "event", "reason"?, "ts_ms"?, "key"?,
                        "sentiment"?, "in_voicemail"?}
                       -> {"body": "<exact bytes Retell posts>",
                           "signature": "<x-retell-signature value>"}
  GET  /recordings/<call_id>.wav  the call's recording (a small WAV)
"""
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
CREATE_KEYS = {"from_number", "to_number", "override_agent_id",
               "override_agent_version", "metadata",
               "retell_llm_dynamic_variables", "agent_override",
               "custom_sip_headers", "ignore_e164_validation"}

lock = threading.Lock()
state = {"mode": "ok", "slow_ms": 3000, "recording_fail": 0,
         "recording_kind": "wav"}
calls = {}      # call_id -> call object
order = []      # call ids in creation order
requests = []   # what the plugin sent


def now_ms():
    return int(time.time() * 1000)


def sign(body, key, ts):
    d = hmac.new(key.encode(), body + str(ts).encode(), hashlib.sha256)
    return "v=%d,d=%s" % (ts, d.hexdigest())


def wav(seconds=1, rate=8000):
    data = bytes(128 + (i * 7) % 64 for i in range(seconds * rate))
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate, 1, 8)
    return (b"RIFF" + struct.pack("<I", 4 + len(fmt) + 8 + len(data)) +
            b"WAVE" + fmt + b"data" + struct.pack("<I", len(data)) + data)


def new_call(body, base):
    cid = "call_" + secrets.token_hex(14)
    call = {"call_id": cid, "call_type": "phone_call",
            "agent_id": body.get("override_agent_id", "agent_default"),
            "agent_version": 1, "call_status": "registered",
            "direction": "outbound", "from_number": body["from_number"],
            "to_number": body["to_number"], "_base": base}
    # Retell leaves metadata and dynamic variables out when not set.
    for k in ("metadata", "retell_llm_dynamic_variables"):
        if k in body:
            call[k] = body[k]
    return call


def public(call):
    return {k: v for k, v in call.items() if not k.startswith("_")}


def event_call(call, event, reason, sentiment, in_vm):
    """The call object as Retell sends it with each event."""
    c = public(call)
    start = now_ms() - 65000
    connected = reason not in ("dial_no_answer", "dial_busy", "dial_failed")
    if event == "call_started":
        c.update(call_status="ongoing", start_timestamp=start)
        return c
    if connected:
        c.update(call_status="ended", start_timestamp=start,
                 end_timestamp=start + 61500, duration_ms=61500,
                 transcript="Agent: Hi Ada, this is Callixo.\nUser: Hello!\n",
                 transcript_object=[
                     {"role": "agent", "content": "Hi Ada, this is Callixo.",
                      "words": [{"word": "Hi", "start": 0.5, "end": 0.7},
                                {"word": "Callixo.", "start": 1.9,
                                 "end": 2.45}]},
                     {"role": "user", "content": "Hello!",
                      "words": [{"word": "Hello!", "start": 3.0,
                                 "end": 3.6}]}],
                 recording_url="%s/recordings/%s.wav" % (call["_base"],
                                                          call["call_id"]),
                 call_cost={"combined_cost": 12.5, "product_costs": [],
                            "total_duration_seconds": 62,
                            "total_duration_unit_price": 0.2})
    else:
        c.update(call_status="not_connected", duration_ms=0,
                 end_timestamp=now_ms())
    c["disconnection_reason"] = reason
    if event == "call_analyzed":
        c["call_analysis"] = {"call_summary": "Ada wants a demo on Monday.",
                              "user_sentiment": sentiment,
                              "call_successful": connected,
                              "in_voicemail": in_vm,
                              "custom_analysis_data": {"interested": True,
                                                       "budget": 1200}}
    return c


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    keys = []

    def log_message(self, *a):
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # a client that hung up (curl after its timeout)

    def reply(self, status, obj=None, raw=None, ctype="application/json"):
        data = raw if raw is not None else (
            b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "2")
        if data or status not in (204,):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the "slow" mode): Retell too

    def err(self, status, msg):
        self.reply(status, {"status": "error", "message": msg})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def api(self, raw):
        """Auth and bookkeeping shared by Retell's endpoints."""
        auth = self.headers.get("Authorization", "")
        with lock:
            requests.append({"method": self.command, "path": self.path,
                             "auth": auth,
                             "content_type": self.headers.get("Content-Type"),
                             "body": raw.decode("utf-8", "replace")})
        m = re.match(r"^Bearer (\S+)$", auth)
        if not m or m.group(1) not in self.keys:
            self.err(401, "Unauthorized: invalid api key")
            return False
        return True

    def do_GET(self):
        if self.path == "/_fake/requests":
            with lock:
                return self.reply(200, requests)
        m = re.match(r"^/recordings/([A-Za-z0-9_]+)\.wav$", self.path)
        if m:
            with lock:
                fail = state["recording_fail"] > 0
                if fail:
                    state["recording_fail"] -= 1
                known = m.group(1) in calls
            if fail:
                return self.reply(503, raw=b"try later", ctype="text/plain")
            if not known:
                return self.reply(404, raw=b"no such", ctype="text/plain")
            if state["recording_kind"] == "mp3":
                # An MPEG file behind a .wav name and a generic type, as
                # object storage serves what it does not know.
                mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + \
                    b"\xff\xfb\x90\x00" * 4000
                return self.reply(200, raw=mp3,
                                  ctype="application/octet-stream")
            return self.reply(200, raw=wav(), ctype="audio/wav")
        m = re.match(r"^/v2/get-call/([A-Za-z0-9_-]+)$", self.path)
        if m:
            if not self.api(b""):
                return
            with lock:
                c = calls.get(m.group(1))
            if c is None:
                # The published spec answers 422 for an unknown id.
                return self.err(422, "Cannot find requested asset under "
                                     "given api key.")
            return self.reply(200, public(c))
        self.err(404, "Not Found")

    def do_POST(self):
        raw = self.body()
        if self.path.startswith("/_fake/"):
            return self.control(raw)
        if not self.api(raw):
            return
        if self.headers.get("Content-Type", "") != "application/json" and raw:
            return self.err(400, "Content-Type must be application/json")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self.err(400, "Invalid JSON body")
        if self.path == "/v2/create-phone-call":
            return self.create(body)
        if self.path == "/v3/list-calls":
            return self.list(body)
        m = re.match(r"^/v2/stop-call/([A-Za-z0-9_-]+)$", self.path)
        if m:
            with lock:
                c = calls.get(m.group(1))
                if c is None:
                    return self.err(404, "Call not found")
                if c["call_status"] in ("registered", "ongoing"):
                    c["call_status"] = "ended"
                    c["disconnection_reason"] = "manual_stopped"
            return self.reply(204)
        self.err(404, "Not Found")

    def create(self, body):
        with lock:
            mode, slow = state["mode"], state["slow_ms"]
        if mode == "slow":
            time.sleep(slow / 1000.0)
        elif mode != "ok":
            msgs = {"400": "to_number is invalid",
                    "401": "Unauthorized: invalid api key",
                    "402": "Trial has ended, please add payment method.",
                    "422": "Cannot find requested asset under given api key.",
                    "429": "Account rate limited, please throttle your "
                           "requests.",
                    "500": "Internal Server Error"}
            return self.err(int(mode), msgs[mode])
        if not isinstance(body, dict) or set(body) - CREATE_KEYS:
            return self.err(400, "Unknown field(s): %s" %
                            sorted(set(body) - CREATE_KEYS))
        for k in ("from_number", "to_number"):
            if not isinstance(body.get(k), str) or not E164.match(body[k]):
                return self.err(400, "%s must be E.164" % k)
        dv = body.get("retell_llm_dynamic_variables", {})
        if not isinstance(dv, dict) or not all(
                isinstance(v, str) for v in dv.values()):
            return self.err(400, "retell_llm_dynamic_variables must map "
                                 "strings to strings")
        if "override_agent_id" in body and not isinstance(
                body["override_agent_id"], str):
            return self.err(400, "override_agent_id must be a string")
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        call = new_call(body, base)
        with lock:
            calls[call["call_id"]] = call
            order.append(call["call_id"])
        self.reply(201, public(call))

    def list(self, body):
        fc = body.get("filter_criteria", {})
        limit = int(body.get("limit", 50))
        skip = int(body.get("pagination_key") or 0)

        def match(c):
            for k in ("to_number", "from_number"):
                f = fc.get(k)
                if f and not (f["op"] == "eq" and f["type"] == "string" and
                              c.get(k) == f["value"]):
                    return False
            for f in fc.get("metadata", []):
                if f["type"] != "string" or f["op"] != "eq":
                    return False
                if (c.get("metadata") or {}).get(f["key"]) != f["value"]:
                    return False
            return True
        with lock:
            ids = list(reversed(order)) if body.get(
                "sort_order", "descending") == "descending" else list(order)
            hits = [public(calls[i]) for i in ids if match(calls[i])]
        page = hits[skip:skip + limit]
        out = {"items": page, "has_more": skip + limit < len(hits)}
        if out["has_more"]:
            out["pagination_key"] = str(skip + limit)
        self.reply(200, out)

    def control(self, raw):
        body = json.loads(raw or b"{}")
        if self.path == "/_fake/mode":
            with lock:
                for k in ("slow_ms", "recording_fail", "recording_kind"):
                    if k in body:
                        state[k] = body[k]
                if "create" in body:
                    state["mode"] = body["create"]
            return self.reply(200, {})
        if self.path == "/_fake/seed":
            base = "http://127.0.0.1:%d" % self.server.server_address[1]
            with lock:
                for i in range(body.get("n", 100)):
                    c = new_call({"from_number": body["from_number"],
                                  "to_number": body["to_number"],
                                  "metadata": {"cx_call_id": "call_fill%d" % i}},
                                 base)
                    calls[c["call_id"]] = c
                    order.append(c["call_id"])
            return self.reply(200, {})
        if self.path == "/_fake/webhook":
            with lock:
                call = calls.get(body["call_id"])
            if call is None:
                return self.err(404, "no such call")
            c = event_call(call, body["event"],
                           body.get("reason", "user_hangup"),
                           body.get("sentiment", "Positive"),
                           body.get("in_voicemail", False))
            # Retell's own serialisation: not our compact form, so the
            # receiver must hash the bytes it got, never re-serialise.
            wire = json.dumps({"event": body["event"], "call": c},
                              indent=2).encode()
            ts = body.get("ts_ms", now_ms())
            sig = sign(wire, body.get("key", self.keys[0]), ts)
            return self.reply(200, {"body": wire.decode(), "signature": sig})
        self.err(404, "Not Found")


def main():
    H.keys = sys.argv[2].split(",")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
