#!/usr/bin/python3
"""gen_csv.py OUT ROWS - a leads CSV for bench/leads/run.sh.

Unique, valid US numbers (20 area codes, exchanges 200-799 without N11,
subscribers spread over 0000-9999), a name, two tags and three metadata
columns: about 70 bytes a row, like a real export.
"""
import sys

AREAS = [212, 415, 312, 713, 305, 206, 617, 404, 303, 702,
         214, 310, 602, 503, 612, 718, 919, 704, 512, 816]
EXCHANGES = [e for e in range(200, 800) if e % 100 != 11]


def main():
    out, rows = sys.argv[1], int(sys.argv[2])
    per_area = -(-rows // len(AREAS))
    with open(out, "w", encoding="utf-8") as f:
        f.write("phone,name,tags,plan,city,source\n")
        n = 0
        for a in AREAS:
            for i in range(per_area):
                if n == rows:
                    break
                ex = EXCHANGES[(i // 10000) % len(EXCHANGES)]
                sub = i % 10000
                f.write("+1%d%03d%04d,Lead %d,bench|t%d,plan%d,City %d,"
                        "export\n" % (a, ex, sub, n, n % 5, n % 3, n % 50))
                n += 1


main()
