#!/bin/bash
# backends_test.sh - the operator's switch: callixod started with
# -c conf/examples/postgres-s3.yaml and nothing but environment variables
# runs on a real PostgreSQL and an S3-compatible server (s3rver), both on
# 127.0.0.1. s3rver reports its buckets in us-east-1, so the example as
# shipped (EU regions only) must refuse to start with a clear reason; a
# copy that also allows us-east-1 must come up, migrated, and ready.
# Run under tests/blob/s3_harness.sh, which exports S3_ENDPOINT/S3_BUCKET.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/storage/pg_harness.sh"
trap 'pg_stop; cleanup' EXIT
pg_start || exit 1

PORT=$(free_port)
export CALLIXO_DATA_DIR=$TMP/data CALLIXO_PLUGIN_DIR=$BUILD/plugins
export CALLIXO_S3_ENDPOINT=$S3_ENDPOINT CALLIXO_S3_BUCKET=$S3_BUCKET
export CALLIXO_S3_ACCESS_KEY=S3RVER CALLIXO_S3_SECRET_KEY=S3RVER
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock
EXAMPLE=$SRC/conf/examples/postgres-s3.yaml
sed "s#listen: http://127.0.0.1:8080#listen: http://127.0.0.1:$PORT#" \
	"$EXAMPLE" >"$TMP/shipped.yaml"

timeout 30 "$CALLIXOD" -c "$TMP/shipped.yaml" 2>"$TMP/1.log"; rc=$?
check "shipped example on a us-east-1 bucket: exit 1" test "$rc" = 1
check "residency refusal names the bucket and its region" \
	grep -qF "bucket $S3_BUCKET is in region us-east-1, not in allowed_regions" "$TMP/1.log"
check "PostgreSQL was migrated before that" file_contains "$TMP/1.log" "applied migration 0001_initial"
check "log lines are all logfmt (no stray libpq output)" \
	bash -c "! grep -vE '^time=' '$TMP/1.log'"

sed 's/allowed_regions: \[eu-central-1,/allowed_regions: [us-east-1, eu-central-1,/' \
	"$TMP/shipped.yaml" >"$TMP/allowed.yaml"
CALLIXO_S3_REGION=us-east-1 start_daemon "$TMP/allowed.yaml" "$TMP/2.log"
check "with us-east-1 allowed: ready" wait_for "$TMP/2.log" "msg=ready" 30
r=$(http GET "http://127.0.0.1:$PORT/readyz"); check "/readyz is 200" contains "$r" "200 "
out=$("$CTL" plugins)
check "postgres storage running" grep -qE 'postgres +storage .*running' <<<"$out"
check "s3 blob running" grep -qE 's3 +blob .*running' <<<"$out"
out=$("$CTL" migrate status)
check "schema on PostgreSQL up to date" contains "$out" "dialect postgres, schema version 5 of 5, 0 pending"
stop_daemon
check "SIGTERM exits 0" test "$RC" = 0

finish
