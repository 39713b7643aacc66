#!/usr/bin/python3
"""fake_twilio.py - a loopback Twilio Programmable Voice API for tests.

Speaks the documented wire format: form-encoded requests with HTTP Basic
auth (AccountSid:AuthToken), JSON answers with snake_case Call resources,
RFC 2822 dates, Twilio's error body {code, message, more_info, status}.
For every call it creates it prepares the status callbacks (one per
requested StatusCallbackEvent, SequenceNumber from 0) and the recording
callback that Twilio would send, signed with the account's auth token
(X-Twilio-Signature); the test fetches them from /_test/outbox and
delivers them (in any order, tampered, twice) to the plugin's webhook.

Usage: fake_twilio.py --account AC...:token [--account ...]
Prints "listening on 127.0.0.1:<port>" once ready.

Test controls (JSON):
  POST /_test/next     {"create": "ok"|"400"|"429"|"500"|"502html"|"slow",
                        "outcome": "completed"|"machine"|"busy"|
                                   "no-answer"|"failed"|"canceled",
                        "status": "<resource status after create>"}
                        applies to the next create only
  POST /_test/config   {"recording_fail": n, "max_page_size": n,
                        "slow_seconds": s}
  POST /_test/call     {"sid": "CA...", "status": "in-progress", ...}
  GET  /_test/outbox   prepared callbacks (and clears the list)
  GET  /_test/state    creates, updates, recordings, request log
"""
import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/2010-04-01"
LOCK = threading.Lock()
ACCOUNTS = {}          # sid -> token
CALLS = {}             # sid -> Call resource (dict)
CALL_ORDER = []        # sids in creation order
RECORDINGS = {}        # RE sid -> {"account", "call", "deleted", "gets"}
OUTBOX = []
CREATES = []           # every create: {"account", "params": [[k, v]...]}
UPDATES = []           # every update: {"sid", "params"}
NEXT = []              # queued per-create controls
CONFIG = {"recording_fail": 0, "max_page_size": 1000, "slow_seconds": 3}
BASE = ""


def make_wav():
    """Half a second of a 440 Hz tone, 8 kHz mono 16-bit PCM."""
    import io
    import math
    import struct
    import wave
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(
            2 * math.pi * 440 * i / 8000))) for i in range(4000)))
    return buf.getvalue()


# What Twilio serves for a recording: WAV, or MP3 (an ID3v2 tag, then
# MPEG-1 Layer III frame headers; the frame data is silence).
AUDIO = {"wav": make_wav(),
         "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" +
                (b"\xff\xfb\x90\x64" + bytes(413)) * 20}


def rfc2822(ts=None):
    dt = datetime.fromtimestamp(ts if ts is not None else time.time(),
                                tz=timezone.utc)
    return email.utils.format_datetime(dt)


def sign(token, url, params):
    """X-Twilio-Signature, as twilio-node's getExpectedTwilioSignature."""
    by_name = {}
    for k, v in params:
        by_name.setdefault(k, set()).add(v)
    key16 = lambda s: s.encode("utf-16-be")  # JS sorts UTF-16 units
    data = url
    for k in sorted(by_name, key=key16):
        for v in sorted(by_name[k], key=key16):
            data += k + v
    mac = hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def error_body(code, message, status):
    return {"code": code, "message": message,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
            "status": status}


def call_resource(sid, account, to, frm, status):
    now = rfc2822()
    return {
        "sid": sid, "account_sid": account, "to": to, "from": frm,
        "to_formatted": to, "from_formatted": frm, "parent_call_sid": None,
        "phone_number_sid": "PN" + secrets.token_hex(16),
        "status": status, "start_time": None if status == "queued" else now,
        "end_time": None, "duration": None, "price": None,
        "price_unit": "USD", "direction": "outbound-api",
        "answered_by": None, "api_version": "2010-04-01",
        "forwarded_from": None, "group_sid": None, "caller_name": None,
        "queue_time": "0", "trunk_sid": None, "date_created": now,
        "date_updated": now,
        "uri": "%s/Accounts/%s/Calls/%s.json" % (API, account, sid),
        "subresource_uris": {
            "recordings": "%s/Accounts/%s/Calls/%s/Recordings.json"
                          % (API, account, sid)},
    }


def geo(prefix):
    # Twilio sends the location fields even when empty, and signs them.
    return [(prefix + "City", ""), (prefix + "Country", "US"),
            (prefix + "State", ""), (prefix + "Zip", "")]


def queue_callbacks(account, call, p, outcome):
    """The callbacks Twilio would send for this call, in order."""
    token = ACCOUNTS[account]
    events = p.get("StatusCallbackEvent", [])
    cb = p.get("StatusCallback", [None])[0]
    amd = p.get("MachineDetection", [None])[0]
    record = p.get("Record", ["false"])[0] == "true"
    answered = outcome in ("completed", "machine")
    final = {"machine": "completed"}.get(outcome, outcome)
    steps = [("initiated", "initiated"), ("ringing", "ringing")]
    if answered:
        steps.append(("answered", "in-progress"))
    steps.append(("completed", final))
    rec_sid = "RE" + secrets.token_hex(16)
    rec_url = "%s%s/Accounts/%s/Recordings/%s" % (BASE, API, account,
                                                   rec_sid)
    seq = 0
    for ev, status in steps:
        # Without StatusCallbackEvent only "completed" is sent.
        if cb is None or (ev not in events and ev != "completed"):
            continue
        params = [("AccountSid", account), ("ApiVersion", "2010-04-01"),
                  ("CallSid", call["sid"]), ("CallStatus", status),
                  ("Called", call["to"]), ("Caller", call["from"]),
                  ("Direction", "outbound-api"), ("From", call["from"]),
                  ("To", call["to"]), ("CallbackSource",
                                       "call-progress-events"),
                  ("SequenceNumber", str(seq)), ("Timestamp", rfc2822())]
        params += geo("Called") + geo("Caller") + geo("From") + geo("To")
        if amd and status in ("in-progress", "completed") and answered:
            params.append(("AnsweredBy", "machine_end_beep"
                           if outcome == "machine" else "human"))
        if ev == "completed":
            params += [("CallDuration", "42" if answered else "0"),
                       ("Duration", "1" if answered else "0"),
                       ("SipResponseCode", {"busy": "486",
                        "no-answer": "487", "failed": "500",
                        "canceled": "487"}.get(final, "200"))]
            if record and answered:
                params += [("RecordingUrl", rec_url),
                           ("RecordingSid", rec_sid),
                           ("RecordingDuration", "41")]
        seq += 1
        OUTBOX.append(envelope("status", cb, params, token, call["sid"]))
    rcb = p.get("RecordingStatusCallback", [None])[0]
    if record and answered and rcb:
        RECORDINGS[rec_sid] = {"account": account, "call": call["sid"],
                               "deleted": False, "gets": 0}
        params = [("AccountSid", account), ("CallSid", call["sid"]),
                  ("RecordingSid", rec_sid), ("RecordingUrl", rec_url),
                  ("RecordingStatus", "completed"),
                  ("RecordingDuration", "41"), ("RecordingChannels", "1"),
                  ("RecordingSource", "OutboundAPI"),
                  ("RecordingStartTime", rfc2822()),
                  ("RecordingTrack", "both"), ("ErrorCode", "0")]
        OUTBOX.append(envelope("recording", rcb, params, token,
                               call["sid"]))


def envelope(kind, url, params, token, call_sid):
    return {"kind": kind, "url": url, "call_sid": call_sid,
            "params": [list(kv) for kv in params],
            "body": urllib.parse.urlencode(params),
            "signature": sign(token, url, params)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:
            pass  # the client gave up (the "slow" mode)

    def send_raw(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def auth(self, account):
        """Basic auth must name the account of the path."""
        h = self.headers.get("Authorization", "")
        ok = False
        if h.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
                ok = (user == account and account in ACCOUNTS and
                      hmac.compare_digest(pw, ACCOUNTS[account]))
            except ValueError:
                ok = False
        if not ok:
            self.send_json(401, error_body(20003, "Authenticate", 401))
        return ok

    def form(self):
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return None
        return urllib.parse.parse_qs(self.body().decode(),
                                     keep_blank_values=True,
                                     strict_parsing=False)

    # ---- test controls ----
    def control(self, method, path):
        if method == "GET" and path == "/_test/outbox":
            with LOCK:
                out = list(OUTBOX)
                OUTBOX.clear()
            return self.send_json(200, out)
        if method == "GET" and path == "/_test/state":
            with LOCK:
                st = {"creates": CREATES, "updates": UPDATES,
                      "recordings": RECORDINGS,
                      "calls": [CALLS[s] for s in CALL_ORDER],
                      "audio_b64": {k: base64.b64encode(v).decode()
                                    for k, v in AUDIO.items()}}
                return self.send_json(200, st)
        req = json.loads(self.body() or b"{}")
        with LOCK:
            if path == "/_test/next":
                NEXT.append(req)
            elif path == "/_test/config":
                CONFIG.update(req)
            elif path == "/_test/call" and req.get("sid") in CALLS:
                CALLS[req["sid"]].update({k: v for k, v in req.items()
                                          if k != "sid"})
            else:
                return self.send_json(404, {"error": "no such control"})
        return self.send_json(200, {})

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        if u.path.startswith("/_test/"):
            return self.control(method, u.path)
        if u.path.startswith("/media/"):
            return self.media(u.path)
        m = re.fullmatch(API + r"/Accounts/([A-Za-z0-9]+)/(.*)", u.path)
        if not m:
            return self.send_json(404, error_body(20404, "The requested "
                                  "resource %s was not found" % u.path, 404))
        account, rest = m.group(1), m.group(2)
        if not self.auth(account):
            return
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if rest == "Calls.json" and method == "POST":
            return self.create(account)
        if rest == "Calls.json" and method == "GET":
            return self.list_calls(account, q)
        m = re.fullmatch(r"Calls/(CA[0-9a-f]{32})\.json", rest)
        if m:
            return self.one_call(account, m.group(1), method)
        m = re.fullmatch(r"Recordings/(RE[0-9a-f]{32})(\.wav|\.mp3|\.json)?",
                         rest)
        if m:
            return self.recording(account, m.group(1), m.group(2), method)
        self.send_json(404, error_body(20404, "The requested resource "
                                       "was not found", 404))

    def create(self, account):
        p = self.form()
        with LOCK:
            ctl = NEXT.pop(0) if NEXT else {}
            CREATES.append({"account": account, "params":
                            [[k, v] for k, vs in (p or {}).items()
                             for v in vs]})
        mode = ctl.get("create", "ok")
        if p is None:
            return self.send_json(400, error_body(
                21201, "Request must be application/x-www-form-urlencoded",
                400))
        if mode == "429":
            return self.send_json(429, error_body(20429, "Too Many "
                                                  "Requests", 429))
        if mode == "500":
            return self.send_json(500, error_body(20500, "Internal Server "
                                                  "Error", 500))
        if mode == "502html":
            return self.send_raw(502, "text/html",
                                 b"<html><body>Bad Gateway</body></html>")
        for key, code, msg in (("To", 21201, "No 'To' number is specified"),
                               ("From", 21213, "No 'From' number is "
                                "specified")):
            if not p.get(key, [""])[0]:
                return self.send_json(400, error_body(code, msg, 400))
        if not (p.get("Url") or p.get("Twiml") or p.get("ApplicationSid")):
            return self.send_json(400, error_body(
                21205, "Url parameter is required", 400))
        to = p["To"][0]
        if mode == "400" or not re.fullmatch(r"\+[1-9][0-9]{6,14}", to):
            return self.send_json(400, error_body(
                21211, "The 'To' number %s is not a valid phone number."
                % to, 400))
        sid = "CA" + secrets.token_hex(16)
        with LOCK:
            call = call_resource(sid, account, to, p["From"][0],
                                 ctl.get("status", "queued"))
            CALLS[sid] = call
            CALL_ORDER.append(sid)
            queue_callbacks(account, call, p, ctl.get("outcome",
                                                      "completed"))
        if mode == "slow":
            # The call exists, but the answer comes too late.
            time.sleep(CONFIG["slow_seconds"])
        self.send_json(201, call)

    def list_calls(self, account, q):
        size = min(int(q.get("PageSize", ["50"])[0]),
                   CONFIG["max_page_size"])
        page = int(q.get("Page", ["0"])[0])
        after = q.get("StartTime>", [None])[0]
        after_ts = None
        if after is not None:
            after_ts = datetime.strptime(after, "%Y-%m-%dT%H:%M:%SZ") \
                .replace(tzinfo=timezone.utc).timestamp()
        with LOCK:
            rows = []
            for s in CALL_ORDER:
                c = CALLS[s]
                if c["account_sid"] != account:
                    continue
                if "To" in q and c["to"] != q["To"][0]:
                    continue
                if "From" in q and c["from"] != q["From"][0]:
                    continue
                if "Status" in q and c["status"] != q["Status"][0]:
                    continue
                if after_ts is not None:
                    if not c["start_time"]:
                        continue
                    st = email.utils.parsedate_to_datetime(c["start_time"])
                    if st.timestamp() < after_ts:
                        continue
                rows.append(c)
        rows.reverse()  # newest first, as Twilio lists
        chunk = rows[page * size:(page + 1) * size]
        base = "%s/Accounts/%s/Calls.json" % (API, account)
        keep = [(k, v) for k, vs in q.items() for v in vs
                if k not in ("Page", "PageToken")]
        nxt = None
        if (page + 1) * size < len(rows):
            nxt = base + "?" + urllib.parse.urlencode(
                keep + [("Page", str(page + 1)),
                        ("PageToken", "PA" + secrets.token_hex(8))])
        self.send_json(200, {
            "calls": chunk, "end": page * size + len(chunk) - 1,
            "first_page_uri": base + "?" + urllib.parse.urlencode(keep),
            "next_page_uri": nxt, "page": page, "page_size": size,
            "previous_page_uri": None, "start": page * size,
            "uri": self.path})

    def one_call(self, account, sid, method):
        with LOCK:
            c = CALLS.get(sid)
            if c is None or c["account_sid"] != account:
                return self.send_json(404, error_body(
                    20404, "The requested resource %s was not found"
                    % self.path, 404))
            if method == "GET":
                return self.send_json(200, c)
        if method != "POST":
            return self.send_json(405, error_body(20004, "Method not "
                                                  "allowed", 405))
        p = self.form() or {}
        status = p.get("Status", [None])[0]
        with LOCK:
            UPDATES.append({"sid": sid, "params":
                            [[k, v] for k, vs in p.items() for v in vs]})
            if status not in (None, "canceled", "completed"):
                return self.send_json(400, error_body(
                    21218, "Invalid Status", 400))
            if status == "canceled" and c["status"] in ("queued",
                                                        "ringing"):
                c["status"] = "canceled"
            elif status == "completed" and c["status"] == "in-progress":
                c["status"] = "completed"
            return self.send_json(200, c)

    def recording(self, account, sid, ext, method):
        with LOCK:
            r = RECORDINGS.get(sid)
            if r is None or r["account"] != account or r["deleted"]:
                return self.send_json(404, error_body(
                    20404, "The requested resource was not found", 404))
            if method == "DELETE" and ext == ".json":
                r["deleted"] = True
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            r["gets"] += 1
            r.setdefault("formats", []).append(ext or "")
            fail = CONFIG["recording_fail"] > 0
            if fail:
                CONFIG["recording_fail"] -= 1
        if method != "GET":
            return self.send_json(405, error_body(20004, "Method not "
                                                  "allowed", 405))
        if fail:
            return self.send_json(500, error_body(20500, "Internal Server "
                                                  "Error", 500))
        # Media comes through a redirect, as from Twilio.
        self.send_response(302)
        self.send_header("Location", "/media/%s%s" % (sid, ext or ".wav"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def media(self, path):
        m = re.fullmatch(r"/media/(RE[0-9a-f]{32})\.(wav|mp3)", path)
        if not m or m.group(1) not in RECORDINGS:
            return self.send_json(404, error_body(20404, "Not found", 404))
        ctype = "audio/x-wav" if m.group(2) == "wav" else "audio/mpeg"
        self.send_raw(200, ctype, AUDIO[m.group(2)])


def main():
    global BASE
    ap = argparse.ArgumentParser()
    ap.add_argument("--account", action="append", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    for acc in a.account:
        sid, _, token = acc.partition(":")
        ACCOUNTS[sid] = token
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    BASE = "http://127.0.0.1:%d" % srv.server_address[1]
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
