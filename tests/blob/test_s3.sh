#!/bin/bash
# tests/blob/test_s3.sh <test_s3 binary> - runs the S3 plugin tests under
# s3_harness.sh, then checks the log they produced: the residency
# refusal names the bucket, its region and the allowed list; failures
# name operation, key, status and S3 code; the secret never appears.
set -u
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp /tmp/cxs3log.XXXXXX)
trap 'rm -f "$log"' EXIT
bash "$here/s3_harness.sh" "$1" 2>"$log"
rc=$?
cat "$log" >&2
[ $rc = 0 ] || exit $rc
check() {
	grep -qE "$1" "$log" || { echo "FAIL: no log line matching: $1" >&2; exit 1; }
}
check 'bucket callixo-test is in region us-east-1, not in allowed_regions \[eu-central-1\]; refusing to start'
check 'region us-east-1 of bucket callixo-test is not in allowed_regions \[eu-central-1, eu-central-2, eu-west-1, eu-west-2, eu-west-3, eu-south-1, eu-south-2, eu-north-1\]'
check 'get bucket location in bucket callixo-test failed after 1 attempt\(s\): HTTP 403 InvalidAccessKeyId'
if grep -q 's3cr3t-NEVER-LOGGED' "$log"; then
	echo "FAIL: the secret key appears in the log" >&2
	exit 1
fi
if grep -qi 'Signature=\|Authorization' "$log"; then
	echo "FAIL: a signature appears in the log" >&2
	exit 1
fi
echo "log checks passed"
