#!/usr/bin/python3
"""e2e_drive.py - plays the dialer and Twilio's network for e2e_test.sh.

  e2e_drive.py call ACCOUNT_ID [N]
                                 insert a queued call row (as the dialer
                                 does), have the fake Twilio create it with
                                 the callbacks the plugin asks for, under
                                 Twilio account N (1: the platform's, 2:
                                 the one in the vault), store the CallSid;
                                 prints "<call id> <CallSid>"
  e2e_drive.py relay CALL_SID    POST the fake's signed callbacks for the
                                 call to the daemon: out of order, the
                                 final one twice; prints the statuses

Environment: TWILIO_FAKE, TWILIO_SID1, TWILIO_TOKEN1 (twilio_harness.sh),
E2E_BASE (the daemon, also the plugin's public_url), E2E_DB (its SQLite).
"""
import base64
import json
import os
import secrets
import sqlite3
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def fake(path, data=None, auth=None):
    req = urllib.request.Request(os.environ["TWILIO_FAKE"] + path, data=data)
    if auth:
        cred = "%s:%s" % (os.environ["TWILIO_SID" + auth],
                          os.environ["TWILIO_TOKEN" + auth])
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(cred.encode()).decode())
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def call(account, n):
    base, cid = os.environ["E2E_BASE"], "call_" + secrets.token_hex(12)
    db = sqlite3.connect(os.environ["E2E_DB"], timeout=10)
    db.execute("INSERT INTO calls (id, account_id, provider, status, "
               "to_number, from_number, created_at) VALUES (?, ?, "
               "'twilio', 'queued', '+14155550100', '+15005550006', ?)",
               (cid, account, int(time.time() * 1000)))
    db.commit()
    hook = base + "/webhooks/twilio/%s?cx_call=" + cid
    params = [("To", "+14155550100"), ("From", "+15005550006"),
              ("Url", "https://agent.example.test/twiml?cx_call=" + cid),
              ("StatusCallback", hook % "status"),
              ("StatusCallbackMethod", "POST")]
    params += [("StatusCallbackEvent", e) for e in
               ("initiated", "ringing", "answered", "completed")]
    params += [("Record", "true"), ("RecordingStatusCallback",
                                    hook % "recording"),
               ("RecordingStatusCallbackEvent", "completed")]
    c = fake("/2010-04-01/Accounts/%s/Calls.json"
             % os.environ["TWILIO_SID" + n],
             urllib.parse.urlencode(params).encode(), auth=n)
    db.execute("UPDATE calls SET provider_call_id = ? WHERE id = ?",
               (c["sid"], cid))
    db.commit()
    db.close()
    print(cid, c["sid"])


def relay(sid):
    box = [e for e in fake("/_test/outbox") if e["call_sid"] == sid]
    order = [3, 1, 0, 2, 3, 4]  # final first, then again; recording last
    out = []
    for i in order:
        e = box[i]
        req = urllib.request.Request(e["url"], data=e["body"].encode(),
                                     method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("X-Twilio-Signature", e["signature"])
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                out.append(str(r.status))
        except urllib.error.HTTPError as err:
            out.append(str(err.code))
    print(" ".join(out))


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "call":
        call(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else "1")
    elif len(sys.argv) == 3 and sys.argv[1] == "relay":
        relay(sys.argv[2])
    else:
        sys.exit(__doc__)
