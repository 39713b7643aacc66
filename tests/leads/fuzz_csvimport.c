/*
 * fuzz_csvimport.c - fuzz target for the streaming CSV importer.
 *
 * An upload is attacker-controlled bytes. Any input must end in a result
 * or a fatal reason, never a crash or a leak; every row handed to the
 * sink must be well-formed (E.164 phone, JSON tags array and metadata
 * object); the counts must add up; and feeding the same bytes in two
 * pieces split anywhere must give the same result as in one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvimport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
	json_t *seen;
	int64_t stored;
} fz;

static cx_err
fz_sink(void *arg, const cxi_csv_lead *rows, size_t n, size_t *inserted,
    char *why, size_t whylen)
{
	fz *f = arg;
	(void) why;
	(void) whylen;
	*inserted = 0;
	for (size_t i = 0; i < n; i++) {
		const cxi_csv_lead *l = &rows[i];
		size_t pl = strlen(l->phone);
		if (pl < 3 || l->phone[0] != '+' ||
		    strspn(l->phone + 1, "0123456789") != pl - 1) {
			abort();
		}
		json_t *t = json_loads(l->tags, 0, NULL);
		json_t *m = json_loads(l->metadata, 0, NULL);
		if (!json_is_array(t) || !json_is_object(m) || l->line == 0) {
			abort();
		}
		json_decref(t);
		json_decref(m);
		if (json_object_get(f->seen, l->phone) == NULL) {
			json_object_set_new(f->seen, l->phone, json_true());
			(*inserted)++;
		}
	}
	f->stored += (int64_t) *inserted;
	return (CX_OK);
}

static char *
run(const uint8_t *data, size_t size, size_t split)
{
	fz f = {json_object(), 0};
	cxi_csv_opts o = {.default_region = "US", .batch_rows = 7,
	    .sink = fz_sink, .sink_arg = &f};
	cxi_csvimp *im = cxi_csvimp_new(&o);
	if (im == NULL || f.seen == NULL) {
		abort();
	}
	cx_err rv = cxi_csvimp_feed(im, data, split);
	if (rv == CX_OK) {
		rv = cxi_csvimp_feed(im, data + split, size - split);
	}
	if (rv == CX_OK) {
		rv = cxi_csvimp_finish(im);
	}
	const cxi_csv_counts *c = cxi_csvimp_counts(im);
	if (rv == CX_OK && (c->rows_total != c->imported + c->skipped +
	                                         c->invalid ||
	                       c->imported != f.stored)) {
		abort();
	}
	if (rv != CX_OK && (cxi_csvimp_fatal(im) == NULL ||
	                       cxi_csvimp_fatal(im)[0] == '\0')) {
		abort();
	}
	char *errs = json_dumps(cxi_csvimp_errors(im), JSON_COMPACT);
	char *out = NULL;
	if (errs == NULL || asprintf(&out, "%d %lld %lld %lld %lld %s %s",
	                        (int) rv, (long long) c->rows_total,
	                        (long long) c->imported,
	                        (long long) c->skipped,
	                        (long long) c->invalid, errs,
	                        rv != CX_OK ? cxi_csvimp_fatal(im) : "") < 0) {
		abort();
	}
	free(errs);
	cxi_csvimp_free(im);
	json_decref(f.seen);
	return (out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024) {
		return (0);
	}
	char *whole = run(data, size, size);
	size_t split = size > 0 ? data[0] % (size + 1) : 0;
	char *parts = run(data, size, split);
	/* A fatal message names the line it stopped at, which is the same
	 * however the bytes arrived. */
	if (strcmp(whole, parts) != 0) {
		abort();
	}
	free(whole);
	free(parts);
	return (0);
}
