#!/bin/bash
# example_config.sh <callixod> <plugin_dir> <example.yaml> [plugin...]
# conf/examples/twilio-deepgram.yaml must pass `callixod --check-config`
# with its secrets in the environment. The optional trailing names are
# plugins of the example that this build does not have (meson passes
# them): their blocks are cut from a copy, loudly, and every other
# plugin is still checked. Then a broken Twilio setting must be caught.
set -u
daemon=$1 plugdir=$2 example=$3
shift 3
fail() {
	echo "example_config: FAIL: $*" >&2
	exit 1
}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cxtwconf.XXXXXX") || fail "mktemp"
trap 'rm -rf "$dir"' EXIT
export CALLIXO_DATA_DIR=$dir/var CALLIXO_PLUGIN_DIR=$plugdir
export TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
export TWILIO_AUTH_TOKEN=example-token CALLIXO_PUBLIC_URL=https://calls.example.com
export DEEPGRAM_API_KEY=example-key
cp "$example" "$dir/conf.yaml" || fail "copy"
for p in "$@"; do
	echo "example_config: $p is not built here; checking without it" >&2
	# A plugin block runs from its "- name:" line to the next one.
	awk -v p="$p" '
		/^  - name: / { skip = ($3 == p) }
		!skip' "$dir/conf.yaml" >"$dir/c2" && mv "$dir/c2" "$dir/conf.yaml"
done
grep -q "name: twilio" "$dir/conf.yaml" || fail "no twilio plugin in $example"
out=$("$daemon" -c "$dir/conf.yaml" --check-config 2>&1) ||
	fail "check-config refused the example: $out"
echo "$out"
sed 's|public_url: ${CALLIXO_PUBLIC_URL}|public_url: ftp://calls.example.com|' \
	"$dir/conf.yaml" >"$dir/bad.yaml"
out=$("$daemon" -c "$dir/bad.yaml" --check-config 2>&1) &&
	fail "a bad public_url passed check-config"
echo "$out" | grep -q "public_url" || fail "unexpected message: $out"
echo "example_config: OK"
