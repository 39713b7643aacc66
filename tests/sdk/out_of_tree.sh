#!/bin/bash
# out_of_tree.sh - installs the SDK into a staging root, copies the hello
# example somewhere outside the source tree, builds it with pkg-config
# alone, and runs its test-kit unit test against the installed kit.
set -euo pipefail
BUILD=${CALLIXO_BUILD_ROOT:?} SRC=${CALLIXO_SOURCE_ROOT:?}
TMP=$(mktemp -d /tmp/cxsdk.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
meson install -C "$BUILD" --destdir "$TMP/stage" --no-rebuild --quiet
pcdir=$(dirname "$(find "$TMP/stage" -name callixo-sdk.pc | head -1)")
libdir=$(dirname "$(find "$TMP/stage" -name 'libcallixo-testkit.so' | head -1)")
export PKG_CONFIG_SYSROOT_DIR=$TMP/stage PKG_CONFIG_PATH=$pcdir
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
cp -r "$SRC/sdk/examples/hello" "$TMP/hello"
extra= noundef=-Wl,--no-undefined
if [ "${CALLIXO_SANITIZE:-0}" = 1 ]; then
	extra="-fsanitize=address,undefined -fno-omit-frame-pointer"
	noundef=
fi
echo "abi_version=$(pkg-config --variable=abi_version callixo-sdk)"
echo "plugindir=$(pkg-config --variable=plugindir callixo-sdk)"
make -C "$TMP/hello" CFLAGS="-O1 -g $extra" NO_UNDEFINED="$noundef" check
# The plugin is installable where the SDK says plugins go.
make -C "$TMP/hello" DESTDIR="$TMP/inst" install
test -f "$TMP/inst$(pkg-config --variable=plugindir callixo-sdk)/hello.so"
# A storage driver's author runs the conformance suite from the kit; here
# against the installed SQLite driver.
cat >"$TMP/conf.c" <<'C'
#include <stdio.h>
#include <callixo/testkit.h>
int
main(int argc, char **argv)
{
	int fails = cx_testkit_storage_conformance(argv[1], argc > 2 ? argv[2] : NULL);
	printf("storage conformance: %d failures\n", fails);
	return (fails == 0 ? 0 : 1);
}
C
cc -O1 -g $extra $(pkg-config --cflags callixo-testkit) -o "$TMP/conf" "$TMP/conf.c" \
	$(pkg-config --libs callixo-testkit)
"$TMP/conf" "$(pkg-config --variable=plugindir callixo-sdk)/sqlite.so" \
	"file: $TMP/conf.db"
echo "out-of-tree build and test: ok"
