#!/bin/bash
# python_roundtrip.sh FERNET_TOOL - core/fernet against Debian's Python
# `cryptography` (requirement F-3): for random keys and messages, tokens
# made in C decrypt in Python and tokens made in Python decrypt in C;
# with a fixed IV and time both sides produce the same bytes; MultiFernet
# rotation interoperates both ways and keeps the timestamp; and for
# mangled token text (padding, stray characters, alphabets) both sides
# give the same verdict. /usr/bin/python3 on purpose: the distribution's
# package is the reference, not whatever python3 a venv puts first.
set -euo pipefail
tool=${1:?usage: python_roundtrip.sh FERNET_TOOL}
py=/usr/bin/python3
if ! "$py" -c 'import cryptography.fernet' 2>/dev/null; then
	echo "python3-cryptography is missing (see .ci/deps)" >&2
	exit 1
fi
exec "$py" - "$tool" <<'EOF'
import os, random, subprocess, sys, time
from cryptography.fernet import Fernet, MultiFernet, InvalidToken

TOOL = sys.argv[1]
N = 50
rng = random.Random(int.from_bytes(os.urandom(8), "big"))
failures = []
checks = 0

def tool(*args):
	r = subprocess.run([TOOL, *args], capture_output=True, text=True)
	return r.returncode, r.stdout.strip(), r.stderr.strip()

def check(ok, what):
	global checks
	checks += 1
	if not ok:
		failures.append(what)
		print("FAIL:", what, file=sys.stderr)

def rand_msg():
	kind = rng.randrange(4)
	n = rng.choice([0, 1, 15, 16, 17, 31, 32, 33, 255, 256, 257,
	    rng.randrange(0, 3000)])
	if kind == 0:
		return os.urandom(n)
	if kind == 1:
		return "".join(rng.choice("aé€🔑 \n\"'\\") for _ in range(n)).encode()
	return bytes(rng.randrange(32, 127) for _ in range(n))

now = int(time.time())

# C encrypts, Python decrypts (with and without a TTL).
for i in range(N):
	key = Fernet.generate_key()
	msg = rand_msg()
	rc, tok, err = tool("encrypt", key.decode(), str(now), msg.hex())
	check(rc == 0, "C encrypt %d: %s" % (i, err))
	try:
		got = Fernet(key).decrypt(tok.encode(), ttl=60)
		check(got == msg, "C->Py %d: plaintext differs" % i)
		check(Fernet(key).extract_timestamp(tok.encode()) == now,
		    "C->Py %d: timestamp" % i)
	except InvalidToken:
		check(False, "C->Py %d: Python rejects %r" % (i, tok))

# Python encrypts, C decrypts.
for i in range(N):
	key = Fernet.generate_key()
	msg = rand_msg()
	tok = Fernet(key).encrypt(msg).decode()
	rc, out, err = tool("decrypt", key.decode(), tok, "60", str(int(time.time())))
	check(rc == 0 and bytes.fromhex(out) == msg,
	    "Py->C %d: rc=%d %s" % (i, rc, err))
	rc, out, err = tool("decrypt", Fernet.generate_key().decode(), tok)
	check(rc == 1 and "signature mismatch" in err,
	    "Py->C %d: wrong key accepted or wrong reason: %s" % (i, err))

# Same key, time and IV: the same token, byte for byte.
for i in range(N // 5):
	key = Fernet.generate_key()
	msg = rand_msg()
	iv = os.urandom(16)
	ts = rng.randrange(0, 2**40)
	want = Fernet(key)._encrypt_from_parts(msg, ts, iv).decode()
	rc, tok, err = tool("encrypt", key.decode(), str(ts), msg.hex(), iv.hex())
	check(rc == 0 and tok == want, "fixed IV %d: %s != %s" % (i, tok, want))

# MultiFernet: rotate in C, open in Python, and the other way round.
for i in range(N // 5):
	k1, k2, k3 = (Fernet.generate_key() for _ in range(3))
	msg = rand_msg()
	old_ts = now - rng.randrange(1, 10**8)
	old = Fernet(k3)._encrypt_from_parts(msg, old_ts, os.urandom(16)).decode()
	keys = ",".join(k.decode() for k in (k1, k2, k3))
	rc, rot, err = tool("rotate", keys, old)
	check(rc == 0, "C rotate %d: %s" % (i, err))
	if rc == 0:
		check(Fernet(k1).decrypt(rot.encode()) == msg,
		    "C rotate %d: Python cannot open" % i)
		check(Fernet(k1).extract_timestamp(rot.encode()) == old_ts,
		    "C rotate %d: timestamp not kept" % i)
	mf = MultiFernet([Fernet(k1), Fernet(k2), Fernet(k3)])
	prot = mf.rotate(old.encode()).decode()
	rc, out, err = tool("decrypt", k1.decode(), prot)
	check(rc == 0 and bytes.fromhex(out) == msg, "Py rotate %d: %s" % (i, err))
	rc, out, err = tool("timestamp", k1.decode(), prot)
	check(rc == 0 and int(out) == old_ts, "Py rotate %d: timestamp" % i)
	rc, out, err = tool("decrypt", keys, Fernet(k2).encrypt(msg).decode())
	check(rc == 0 and bytes.fromhex(out) == msg, "Multi decrypt %d" % i)
	rc, tok, err = tool("encrypt", keys, str(now), msg.hex())
	check(Fernet(k1).decrypt(tok.encode()) == msg and
	    rc == 0, "Multi encrypt %d uses the first key" % i)

# Mangled token text: Python's verdict is the reference.
def mangle(tok):
	t = list(tok)
	for _ in range(rng.randrange(1, 4)):
		op = rng.randrange(6)
		if op == 0 and t:
			del t[rng.randrange(len(t))]
		elif op == 1:
			t.insert(rng.randrange(len(t) + 1), rng.choice("= \n%.!A-_+/"))
		elif op == 2:
			while t and t[-1] == "=":
				t.pop()
		elif op == 3:
			t.extend(rng.choice(["=", "==", "x", "===", "\n"]))
		elif op == 4:
			t = [{"-": "+", "_": "/"}.get(c, c) for c in t]
		elif op == 5 and t:
			t[rng.randrange(len(t))] = rng.choice("=AgQw-_")
	return "".join(t)

key = Fernet.generate_key()
for i in range(N * 4):
	msg = rand_msg()[:64]
	m = mangle(Fernet(key).encrypt(msg).decode())
	try:
		want = Fernet(key).decrypt(m.encode())
	except InvalidToken:
		want = None
	rc, out, err = tool("decrypt", key.decode(), m)
	got = bytes.fromhex(out) if rc == 0 else None
	check(rc in (0, 1) and got == want,
	    "mangled %d %r: Python %r, C %r (%s)" % (i, m, want, got, err))

# Keys: Python's Fernet(key) verdict on mangled keys.
for i in range(N):
	k = mangle(Fernet.generate_key().decode())
	try:
		Fernet(k.encode())
		py_ok = True
	except ValueError:
		py_ok = False
	rc, tok, err = tool("encrypt", k, "0", "")
	check((rc == 0) == py_ok, "key %r: Python %s, C rc=%d %s" %
	    (k, py_ok, rc, err))

if failures:
	print("%d failures" % len(failures), file=sys.stderr)
	sys.exit(1)
print("python interop: all %d checks agree" % checks)
EOF
