#!/bin/sh
# Builds and runs the blob benchmark, printing markdown tables.
#   bench/blob/run.sh <build-dir> [dir] [MB] [runs]
# dir (default: a new directory under /var/tmp) should be on the
# filesystem the blob store will use; it is removed afterwards. Use an
# optimized, non-sanitized build dir (meson setup build).
set -eu
build=${1:?usage: run.sh <build-dir> [dir] [MB] [runs]}
mb=${3:-200}
runs=${4:-3}
if [ -n "${2:-}" ]; then
	mkdir -p "$2"
	dir=$(mktemp -d "$2/cxbench.XXXXXX")
else
	dir=$(mktemp -d /var/tmp/cxbench.XXXXXX)
fi
trap 'rm -rf "$dir"' EXIT
ninja -C "$build" bench/blob/bench_blob plugins/fs.so >/dev/null
echo "Command: bench/blob/run.sh $build ${2:-} $mb $runs"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) cores, $(uname -sr), libsodium $(dpkg-query -W -f '${Version}' libsodium23 2>/dev/null || echo '?'), filesystem $(df -T "$dir" | awk 'NR==2 {print $2}')"
echo
"$build/bench/blob/bench_blob" "$build/plugins/fs.so" "$dir" "$mb" "$runs"
