#!/usr/bin/python3
"""e2e_drive.py - plays the dialer and Retell's network for e2e_test.sh.

  e2e_drive.py call ACCOUNT_ID KEY   insert a queued call row (as the
                                     dialer does), create it at the fake
                                     Retell with that API key and our call
                                     id in metadata, store Retell's id;
                                     prints "<call id> <Retell call id>"
  e2e_drive.py relay RETELL_ID [KEY] POST the fake's signed webhooks for
                                     the call to the daemon: analyzed,
                                     started, ended, ended again (out of
                                     order, one twice), signed with KEY
                                     (default: the fake's platform key);
                                     prints the statuses

Environment: RETELL_FAKE_URL (retell_harness.sh), E2E_BASE (the daemon),
E2E_DB (its SQLite file).
"""
import json
import os
import secrets
import sqlite3
import sys
import time
import urllib.error
import urllib.request


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def call(account, key):
    cid = "call_" + secrets.token_hex(12)
    db = sqlite3.connect(os.environ["E2E_DB"], timeout=10)
    db.execute("INSERT INTO calls (id, account_id, provider, status, "
               "to_number, from_number, created_at) VALUES (?, ?, "
               "'retell', 'queued', '+14155550123', '+14155550100', ?)",
               (cid, account, int(time.time() * 1000)))
    db.commit()
    body = json.dumps({"from_number": "+14155550100",
                       "to_number": "+14155550123",
                       "override_agent_id": "agent_e2e",
                       "metadata": {"cx_call_id": cid},
                       "retell_llm_dynamic_variables": {"name": "Ann"}})
    st, out = post(os.environ["RETELL_FAKE_URL"] + "/v2/create-phone-call",
                   body.encode(), {"Authorization": "Bearer " + key,
                                   "Content-Type": "application/json"})
    if st != 201:
        sys.exit("create-phone-call: %d %s" % (st, out))
    rid = json.loads(out)["call_id"]
    db.execute("UPDATE calls SET provider_call_id = ?, status = 'queued' "
               "WHERE id = ?", (rid, cid))
    db.commit()
    print(cid, rid)


def relay(rid, key):
    codes = []
    for ev in ("call_analyzed", "call_started", "call_ended", "call_ended"):
        req = {"call_id": rid, "event": ev}
        if key:
            req["key"] = key
        st, out = post(os.environ["RETELL_FAKE_URL"] + "/_fake/webhook",
                       json.dumps(req).encode(),
                       {"Content-Type": "application/json"})
        w = json.loads(out)
        st, _ = post(os.environ["E2E_BASE"] + "/webhooks/retell",
                     w["body"].encode(),
                     {"Content-Type": "application/json",
                      "x-retell-signature": w["signature"]})
        codes.append(str(st))
    print(" ".join(codes))


if __name__ == "__main__":
    if sys.argv[1] == "call":
        call(sys.argv[2], sys.argv[3])
    else:
        relay(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
