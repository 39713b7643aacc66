#!/usr/bin/python3
"""openapi_routes.py - docs/openapi.yaml against what callixod serves.

Used by openapi_test.sh and idor_test.sh (run with Debian's python3 and
python3-yaml). Prints one TAP-like line per check ("ok - ..." or
"not ok - ...") and exits non-zero when any check failed, so the shell
scripts only count lines.

  compare SPEC ROUTES_TSV
      ROUTES_TSV is `callixoctl routes` output (method, path, owner).
      Every operation in the spec must be served, and every served route
      must be documented. A template segment ("/v1/calls/{id}") is
      matched the way the daemon matches it: a route ending in "/" serves
      its whole subtree (and the path without the slash).

  idor SPEC BASE ORIGIN COOKIE_A COOKIE_B ACCOUNT_B
      For every path with a {template}: gets an object of account B,
      then asks for it as A with every method of the path, expecting 404
      (never 403, Z-1) with the same body as a made-up id. B's own GET
      must still work (so the 404 is not vacuous). Fails when no path
      was checked. A path marked `x-idor-staff-only: <reason>` is not
      open to customers at all: there A (a customer) must get 403 for
      B's object and for a made-up id alike, with the same body (the
      403 says nothing about the id), and B's own reads are not tried.
      An `x-idor-create` mapping (path, method, body, id) says how B
      creates its object; with `content_type` the body is sent as that
      type's raw text (a CSV upload) instead of JSON.
      An x-idor-create with `parent: /v1/things` first creates one of
      B's things (that collection's POST example) and puts its id in
      place of {parent} in the create path.
      Objects only the platform makes (calls, placed by the dialer) are
      marked `x-idor-create: {seed: <kind>}`: the script named by the
      IDOR_SEED environment variable is run with the kind and B's
      account id and prints the id of the object it made for B.
"""
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options",
           "trace")
TEMPLATE = re.compile(r"\{[^}/]+\}")
fails = 0


def check(ok, desc):
    global fails
    if not ok:
        fails += 1
    print(("ok - " if ok else "not ok - ") + desc)


def load(spec):
    with open(spec, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    paths = doc.get("paths") or {}
    ops = []
    for path, item in paths.items():
        for m in item:
            if m in METHODS:
                ops.append((m.upper(), path, item))
    return doc, ops


def concrete(path, value="cxsample"):
    return TEMPLATE.sub(value, path)


def route_serves(route, path):
    """True when a route as registered would answer this concrete path."""
    if not route.endswith("/"):
        return route == path
    return path.startswith(route) or path == route[:-1]


def compare(spec, routes_file):
    _, ops = load(spec)
    served = []
    with open(routes_file, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                served.append((parts[0], parts[1]))
    check(len(served) > 0, "the daemon listed its routes")
    check(len(ops) > 0, "the spec has operations")
    for m, path, _ in ops:
        cp = concrete(path)
        check(any(sm == m and route_serves(sp, cp) for sm, sp in served),
              "spec %s %s is served" % (m, path))
    for sm, sp in served:
        check(any(m == sm and route_serves(sp, concrete(path))
                  for m, path, _ in ops),
              "served %s %s is in docs/openapi.yaml" % (sm, sp))


def request(base, origin, method, path, cookie, body=None, ctype=None):
    """JSON body; with ctype, body is sent as that type's raw text."""
    data = None
    headers = {"Origin": origin}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None and ctype is not None:
        data = str(body).encode()
        headers["Content-Type"] = ctype
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def example_body(doc, op):
    """The JSON example of an operation's request body, if it has one."""
    rb = (op or {}).get("requestBody")
    if rb is None:
        return None
    if "$ref" in rb:
        rb = resolve(doc, rb["$ref"])
    media = (rb.get("content") or {}).get("application/json") or {}
    if "example" in media:
        return media["example"]
    schema = media.get("schema") or {}
    if "$ref" in schema:
        schema = resolve(doc, schema["$ref"])
    return schema.get("example", {})


def resolve(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def object_of_b(doc, path, item, ctx):
    """B's object for this path: (id, why-not)."""
    how = item.get("x-idor-create")
    if how == "signup":
        return ctx["account_b"], None
    ctype = None
    if isinstance(how, dict) and "seed" in how:
        return seeded(how["seed"], ctx)
    if isinstance(how, dict):
        cpath, cm = how.get("path"), how.get("method", "POST").upper()
        body, field = how.get("body", {}), how.get("id", "id")
        ctype = how.get("content_type")
        if how.get("parent"):
            # The object hangs below another one of B's: create that
            # first with its collection's POST example, and put its id
            # in place of {parent}.
            ppath = how["parent"]
            coll = (doc.get("paths") or {}).get(ppath) or {}
            if "post" not in coll:
                return None, "no POST %s for the parent" % ppath
            st, text = request(ctx["base"], ctx["origin"], "POST", ppath,
                               ctx["cookie_b"], example_body(doc,
                                                             coll["post"]))
            try:
                pid = json.loads(text).get("id") if st // 100 == 2 else None
            except (ValueError, AttributeError):
                pid = None
            if not isinstance(pid, str) or pid == "":
                return None, "POST %s as B answered %d %s" % (ppath, st,
                                                             text)
            cpath = cpath.replace("{parent}", pid)
            if how.get("body") is None:
                body = None
    else:
        # Default: the collection is the path above the first template.
        cpath = path[:TEMPLATE.search(path).start()].rstrip("/")
        cm, field = "POST", "id"
        coll = (doc.get("paths") or {}).get(cpath) or {}
        if "post" not in coll:
            return None, ("no POST %s to create one and no x-idor-create"
                          % cpath)
        body = example_body(doc, coll["post"])
    st, text = request(ctx["base"], ctx["origin"], cm, cpath,
                       ctx["cookie_b"], body, ctype)
    if st // 100 != 2:
        return None, "%s %s as B answered %d %s" % (cm, cpath, st, text)
    try:
        oid = json.loads(text).get(field)
    except (ValueError, AttributeError):
        oid = None
    if not isinstance(oid, str) or oid == "":
        return None, "%s %s as B gave no '%s'" % (cm, cpath, field)
    return oid, None


def seeded(kind, ctx):
    """B's object made by the IDOR_SEED script, once per kind."""
    cache = ctx.setdefault("seeded", {})
    if kind in cache:
        return cache[kind], None
    cmd = os.environ.get("IDOR_SEED")
    if not cmd:
        return None, "x-idor-create seed %s needs IDOR_SEED" % kind
    try:
        out = subprocess.run([cmd, kind, ctx["account_b"]], check=True,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return None, "IDOR_SEED %s failed: %s" % (kind, e)
    oid = out.stdout.strip()
    if not oid:
        return None, "IDOR_SEED %s printed no id" % kind
    cache[kind] = oid
    return oid, None


def idor(spec, base, origin, cookie_a, cookie_b, account_b):
    doc, _ = load(spec)
    ctx = {"base": base, "origin": origin, "cookie_b": cookie_b,
           "account_b": account_b}
    checked = 0
    for path, item in (doc.get("paths") or {}).items():
        if not TEMPLATE.search(path):
            continue
        oid, why = object_of_b(doc, path, item, ctx)
        check(oid is not None, "%s: B has an object (%s)" %
              (path, why or "ok"))
        if oid is None:
            continue
        staff_only = item.get("x-idor-staff-only")
        if staff_only:
            print("%s is staff-only (%s): expecting 403 for any id"
                  % (path, staff_only))
        want = 403 if staff_only else 404
        target = concrete(path, oid)
        # Made-up id of the same shape: A must not tell the two apart.
        missing = concrete(path, "zz_idor_missing_000000")
        if "get" in item and not staff_only:
            st, _ = request(base, origin, "GET", target, cookie_b)
            check(st == 200, "GET %s: B reads its own object (%d)" %
                  (path, st))
        for m in METHODS:
            if m not in item or m in ("head", "options", "trace"):
                continue
            body = example_body(doc, item[m])
            st, text = request(base, origin, m.upper(), target, cookie_a,
                               body)
            check(st == want, "%s %s: A asking for B's object gets %d "
                  "(got %d)" % (m.upper(), path, want, st))
            st2, text2 = request(base, origin, m.upper(), missing,
                                 cookie_a, body)
            check(st2 == st and text2 == text, "%s %s: B's object and a "
                  "missing one answer A the same" % (m.upper(), path))
            checked += 1
        if "get" in item and not staff_only:
            # Whatever A tried (DELETE, PATCH...), B's object is intact.
            st, _ = request(base, origin, "GET", target, cookie_b)
            check(st == 200, "GET %s: B's object survived A (%d)" %
                  (path, st))
    check(checked > 0, "at least one object route was checked (%d)" %
          checked)


def main(argv):
    if len(argv) == 4 and argv[1] == "compare":
        compare(argv[2], argv[3])
    elif len(argv) == 8 and argv[1] == "idor":
        idor(*argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
