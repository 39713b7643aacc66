#!/usr/bin/python3
"""seed_call.py - gives an account a finished call with a recording, the
way the platform makes one, for the calls API tests (IDOR_SEED hook of
openapi_routes.py, and calls_test.sh).

  seed_call.py call ACCOUNT_ID  -> prints the new call's id

The call row is inserted into the SQLite store ($SEED_DB) as the dialer
would; everything after that goes through the daemon ($SEED_BASE) and
the testtel telephony plugin: a call.event (completed, answered, with a
transcript and summary), a WAV written into testtel's data dir, and a
call.recording that the core encrypts into the blob store. With
$SEED_WAV set, the WAV is also written there (to compare downloads).
"""
import json
import os
import secrets
import sqlite3
import struct
import sys
import time
import urllib.request


def wav(n):
    data = bytes((i * 7 + i // 251) & 0xFF for i in range(n))
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + fmt + struct.pack("<4sI", b"data", n) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def post(base, path, body, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body, method="POST",
                                 headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read().decode())


def forward(base, typ, data):
    out = post(base, "/webhooks/testtel/forward",
               json.dumps({"type": typ, "data": data}).encode())
    if out.get("rv") != 0:
        sys.exit("%s refused: %s" % (typ, out))
    return out["reply"]


def main(argv):
    if len(argv) != 3 or argv[1] != "call":
        print(__doc__, file=sys.stderr)
        return 2
    account, base = argv[2], os.environ["SEED_BASE"]
    cid = "call_" + secrets.token_hex(12)
    now = int(time.time() * 1000)
    db = sqlite3.connect(os.environ["SEED_DB"], timeout=10)
    db.execute("INSERT INTO calls (id, account_id, provider, status, "
               "to_number, from_number, created_at) VALUES (?, ?, "
               "'testtel', 'queued', '+14155550100', '+14155550199', ?)",
               (cid, account, now))
    db.commit()
    db.close()
    forward(base, "call.event", {
        "v": 1, "provider": "testtel", "event_id": cid + "-done",
        "call_id": cid, "provider_call_id": "PC" + cid[5:], "seq": 3,
        "status": "completed", "outcome": "answered",
        "answered_at": now, "ended_at": now + 42000,
        "cost_micros": 21000, "currency": "USD",
        "transcript": {"text": "agent: hello", "utterances": [
            {"speaker": "agent", "text": "hello", "start_ms": 0,
             "end_ms": 800}]},
        "summary": "greeted the lead", "sentiment": "positive",
        "success": True, "voicemail": False,
        "disconnection_reason": "user_hangup",
        "analysis": {"interested": True}})
    audio = wav(150000)  # more than two 64 KiB chunks
    if os.environ.get("SEED_WAV"):
        with open(os.environ["SEED_WAV"], "wb") as f:
            f.write(audio)
    path = post(base, "/webhooks/testtel/file/%s.wav" % cid, audio,
                "audio/wav")["path"]
    forward(base, "call.recording", {
        "v": 1, "provider": "testtel", "call_id": cid, "path": path,
        "content_type": "audio/wav"})
    print(cid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
