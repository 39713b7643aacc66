#!/bin/bash
# embed_test.sh - plugins/storage/embed_migrations.py refuses every badly
# named or numbered set of migrations (each would break the core's
# version sequence), and embeds a good set byte for byte.
set -euo pipefail
gen="$CALLIXO_SOURCE_ROOT/plugins/storage/embed_migrations.py"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0

mk() { mkdir -p "$dir/$1"; shift; for f in "$@"; do printf 'SELECT 1;\n' > "$dir/$f"; done; }
refuse() { # <case> <expected message> <files...>
	local name=$1 want=$2; shift 2
	if out=$(python3 "$gen" m "$dir/out.c" "$@" 2>&1); then
		echo "FAIL $name: accepted"; fails=$((fails + 1))
	elif [[ $out != *"$want"* ]]; then
		echo "FAIL $name: '$out' lacks '$want'"; fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

mk gap gap/0001_a.sql gap/0003_c.sql
refuse gap "expected version 0002" "$dir"/gap/*.sql
mk zero zero/0000_a.sql
refuse zero "start at 0001" "$dir"/zero/*.sql
mk dup dup/0001_a.sql dup/0001_b.sql
refuse duplicate "already used" "$dir"/dup/*.sql
mk name name/1_a.sql
refuse short-number "NNNN_name.sql" "$dir"/name/*.sql
mk upper upper/0001_Init.sql
refuse upper-case "NNNN_name.sql" "$dir"/upper/*.sql
mk ext ext/0001_a.txt
refuse extension "NNNN_name.sql" "$dir"/ext/*.txt
refuse none "usage"

if python3 "$gen" 1bad "$dir/out.c" "$dir"/gap/0001_a.sql 2>/dev/null; then
	echo "FAIL bad array name accepted"; fails=$((fails + 1))
else
	echo "ok   bad array name"
fi
printf 'SELECT 1;\0' > "$dir/0001_nul.sql"
refuse nul-byte "NUL byte" "$dir/0001_nul.sql"

# A good set, given out of order, comes out in order with exact text.
mkdir -p "$dir/good"
printf -- "-- a \"quoted\" \\\\ back\\\\slash ??= trigraph\tand tab\nSELECT 'caf\xc3\xa9';\n" > "$dir/good/0001_first.sql"
printf 'SELECT 2;' > "$dir/good/0002_second.sql"
python3 "$gen" test_migs "$dir/good.c" "$dir/good/0002_second.sql" "$dir/good/0001_first.sql"
cat > "$dir/main.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <callixo/storage.h>
extern const cx_db_migration test_migs[];
int main(int argc, char **argv) {
	(void) argc;
	for (int i = 0; test_migs[i].version != 0; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/good/%s.sql", argv[1], test_migs[i].name);
		FILE *f = fopen(path, "rb");
		static char buf[65536];
		size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
		if (f) fclose(f);
		if (test_migs[i].version != (unsigned) i + 1 || n != strlen(test_migs[i].sql) ||
		    memcmp(buf, test_migs[i].sql, n) != 0) {
			printf("FAIL migration %d differs\n", i + 1);
			return 1;
		}
	}
	printf("ok   round trip\n");
	return 0;
}
C
cc -std=gnu11 -Wall -Wextra -Werror -I"$CALLIXO_SOURCE_ROOT/sdk/include" \
	-o "$dir/rt" "$dir/main.c" "$dir/good.c"
"$dir/rt" "$dir" || fails=$((fails + 1))
[ "$fails" = 0 ]
