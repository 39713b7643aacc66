#!/usr/bin/python3
# bcrypt_vectors.py - prints bcrypt test vectors made by pyca/bcrypt
# (Debian python3-bcrypt), one per line: <password as hex, "-" when
# empty> <hash>.
#
# Made at test time rather than pasted in, so the C verifier is checked
# against an independent implementation with fresh salts on every run.
# pyca's gensalt only writes $2a$ and $2b$; for the ASCII and UTF-8
# passwords used here $2y$ is the same algorithm as $2b$ (security.md
# 5.2), so $2y$ vectors are $2b$ hashes with the prefix changed, and
# pyca (which reads $2y$) checks each of them before it is printed.
import sys
import bcrypt

PASSWORDS = [
    b"correct horse battery staple",
    b"U*U",
    "p\u00e4ssw\u00f6rd \U0001F511 \u65e5\u672c".encode("utf-8"),
    b"",
    # Over 72 bytes: pyca 3.x and libcrypt both use the first 72 only.
    b"0123456789" * 10,
]
COSTS = [4, 5]
SLOW = b"a legacy password at cost ten"

def emit(pw, h):
    if not bcrypt.checkpw(pw, h):
        sys.exit("pyca rejects its own vector %r" % h)
    print(pw.hex() or "-", h.decode("ascii"))

for prefix in (b"2a", b"2b", b"2y"):
    gen = b"2b" if prefix == b"2y" else prefix
    for cost in COSTS:
        for pw in PASSWORDS:
            h = bcrypt.hashpw(pw, bcrypt.gensalt(cost, prefix=gen))
            emit(pw, b"$" + prefix + h[3:])
    h = bcrypt.hashpw(SLOW, bcrypt.gensalt(10, prefix=gen))
    emit(SLOW, b"$" + prefix + h[3:])
