#!/bin/sh
# Builds and runs the password-hashing benchmark (H-4), printing a
# markdown table: argon2id hashes per second through the hashing pool.
#   bench/password/run.sh <build-dir> [hashes] [t] [m_mib]
# Runs 1, 2 and 4 workers. Use an optimized, non-sanitized build dir
# (meson setup build); memory in use is workers x m.
set -eu
build=${1:?usage: run.sh <build-dir> [hashes] [t] [m_mib]}
n=${2:-40}
t=${3:-2}
m=${4:-64}
ninja -C "$build" bench/password/bench_password >/dev/null
echo "Command: bench/password/run.sh $build $n $t $m"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) cores, $(uname -sr), libsodium $(dpkg-query -W -f '${Version}' libsodium23 2>/dev/null || echo '?')"
echo
echo "| workers | t | m (MiB) | hashes | seconds | hashes/s | ms per hash per worker |"
echo "|---|---|---|---|---|---|---|"
for w in 1 2 4; do
	"$build/bench/password/bench_password" "$w" "$n" "$t" "$m"
done
