# tests/npm_cache.sh - sourced by the test harnesses that need an npm
# package (s3rver as a server, twilio and retell-sdk as signature
# oracles). Without node and npm such a test fails rather than skips: a
# silent skip would hide that the code went unchecked.

# npm_cached WHO PKG VERSION CACHE: installs PKG@VERSION into CACHE
# (outside the repository) unless that exact version is there; on failure
# prints npm's last lines and exits 1 with "WHO: FAIL: ...".
npm_cached() {
	local who=$1 pkg=$2 ver=$3 cache=$4 log
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "$who: FAIL: node and npm are required" \
			"(apt-get install -y nodejs npm, or run .ci/deps)" >&2
		exit 1
	fi
	/usr/bin/python3 - "$cache/node_modules/$pkg/package.json" "$ver" \
		<<'PY' 2>/dev/null && return 0
import json, sys
v = json.load(open(sys.argv[1]))["version"]
want = sys.argv[2]
# "3" accepts any 3.x.y, "6.2.0" only itself.
sys.exit(0 if v == want or v.startswith(want + ".") else 1)
PY
	echo "$who: installing $pkg@$ver into $cache" >&2
	mkdir -p "$cache" || { echo "$who: FAIL: cannot create $cache" >&2; exit 1; }
	log=$(mktemp "${TMPDIR:-/tmp}/cxnpm.XXXXXX")
	if ! npm install --prefix "$cache" --no-audit --no-fund \
		"$pkg@$ver" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		echo "$who: FAIL: npm install $pkg@$ver failed (see npm's output above)" >&2
		exit 1
	fi
	rm -f "$log"
}
