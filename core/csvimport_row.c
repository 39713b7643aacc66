/*
 * csvimport_row.c - one CSV record at a time: the header's columns, a
 * data row checked into a lead (or an error with its line), and the
 * batch handed to the sink.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csvimport_int.h"
#include "repo.h"

/* Bounds of a cell's text without leading/trailing blanks. */
static const char *
trimmed(const char *s, size_t len, size_t *out)
{
	while (len > 0 && isspace((unsigned char) *s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char) s[len - 1])) {
		len--;
	}
	*out = len;
	return (s);
}

void
cxi_csvimp_header(cxi_csvimp *im)
{
	static const struct {
		const char *name;
		int role;
	} known[] = {{"phone", COL_PHONE}, {"name", COL_NAME},
	    {"timezone", COL_TZ}, {"tags", COL_TAGS}};
	bool have_phone = false;
	char found[256] = "";

	im->have_header = true;
	if (im->row_over) {
		cxi_csvimp_fail(im, CX_EINVAL, "line %llu: the header row is "
		    "too large", (unsigned long long) im->rec_line);
		return;
	}
	im->role = calloc(im->n_cells ? im->n_cells : 1, sizeof(int));
	im->names = calloc(im->n_cells ? im->n_cells : 1, sizeof(char *));
	if (im->role == NULL || im->names == NULL) {
		cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < im->n_cells; i++) {
		size_t len;
		const char *s = trimmed(im->row + im->cells[i].off,
		    im->cells[i].len, &len);
		if (!cxi_repo_utf8_ok(s, len)) {
			cxi_csvimp_fail(im, CX_EINVAL, "line %llu: header "
			    "column %zu is not valid UTF-8",
			    (unsigned long long) im->rec_line, i + 1);
			return;
		}
		if (len == 0 || len > 200) {
			cxi_csvimp_fail(im, CX_EINVAL, "line %llu: header "
			    "column %zu has %s name",
			    (unsigned long long) im->rec_line, i + 1,
			    len == 0 ? "an empty" : "an over-long");
			return;
		}
		if ((im->names[i] = strndup(s, len)) == NULL) {
			cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
			return;
		}
		im->n_cols = i + 1;
		for (size_t j = 0; j < i; j++) {
			if (strcasecmp(im->names[j], im->names[i]) == 0) {
				cxi_csvimp_fail(im, CX_EINVAL, "line %llu: "
				    "column '%s' appears twice in the header",
				    (unsigned long long) im->rec_line,
				    im->names[i]);
				return;
			}
		}
		im->role[i] = COL_META;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
			if (strcasecmp(im->names[i], known[k].name) == 0) {
				im->role[i] = known[k].role;
			}
		}
		have_phone |= im->role[i] == COL_PHONE;
		size_t fl = strlen(found);
		snprintf(found + fl, sizeof(found) - fl, "%s%s", fl ? ", " : "",
		    im->names[i]);
	}
	if (!have_phone) {
		cxi_csvimp_fail(im, CX_EINVAL, "the header has no 'phone' "
		    "column (it has: %s)", found[0] ? found : "nothing");
	}
}

static void
row_invalid(cxi_csvimp *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
row_invalid(cxi_csvimp *im, const char *fmt, ...)
{
	im->counts.invalid++;
	if (json_array_size(im->errors) >= CXI_CSV_ERRORS_MAX) {
		return;
	}
	char reason[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	json_t *e = json_pack("{s:I, s:s}", "line",
	    (json_int_t) im->rec_line, "reason", reason);
	if (e == NULL || json_array_append_new(im->errors, e) != 0) {
		cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
	}
}

/* A zone of the tz database, through a small cache of names seen. */
static bool
tz_ok(cxi_csvimp *im, const char *z)
{
	for (size_t i = 0; i < TZ_CACHE && im->tz_cache[i] != NULL; i++) {
		if (strcmp(im->tz_cache[i], z) == 0) {
			return (true);
		}
	}
	if (!cxi_tz_exists(z)) {
		return (false);
	}
	char *copy = strdup(z);
	if (copy != NULL) {
		free(im->tz_cache[im->tz_next]);
		im->tz_cache[im->tz_next] = copy;
		im->tz_next = (im->tz_next + 1) % TZ_CACHE;
	}
	return (true);
}

/* The tags cell, split on '|' or ',', in the stored form of tags
 * (cxi_lead_tags_norm); NULL with the row reported invalid. */
static json_t *
row_tags(cxi_csvimp *im, const char *s, size_t len)
{
	json_t *raw = json_array();
	size_t pos = 0;
	while (raw != NULL && pos <= len) {
		size_t e = pos;
		while (e < len && s[e] != '|' && s[e] != ',') {
			e++;
		}
		size_t tl;
		const char *t = trimmed(s + pos, e - pos, &tl);
		pos = e + 1;
		if (tl > 0 && json_array_append_new(raw,
		                  json_stringn(t, tl)) != 0) {
			json_decref(raw);
			raw = NULL;
		}
	}
	if (raw == NULL) {
		cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
		return (NULL);
	}
	char why[160];
	json_t *tags = cxi_lead_tags_norm(raw, why, sizeof(why));
	json_decref(raw);
	if (tags == NULL) {
		row_invalid(im, "%s", why);
	}
	return (tags);
}

/* Checks the record into the next batch slot; false when invalid. */
static bool
row_lead(cxi_csvimp *im, cxi_csv_lead *l)
{
	const char *phone = NULL, *name = NULL, *tz = NULL;
	size_t plen = 0, nlen = 0, tzlen = 0;
	json_t *meta = json_object(), *tags = NULL;
	bool ok = false;

	for (size_t i = 0; meta != NULL && i < im->n_cols; i++) {
		const char *s = i < im->n_cells ?
		    im->row + im->cells[i].off : "";
		size_t len = i < im->n_cells ? im->cells[i].len : 0;
		if (!cxi_repo_utf8_ok(s, len)) {
			row_invalid(im, "column '%s' is not valid UTF-8",
			    im->names[i]);
			goto out;
		}
		switch (im->role[i]) {
		case COL_PHONE:
			phone = trimmed(s, len, &plen);
			break;
		case COL_NAME:
			name = trimmed(s, len, &nlen);
			break;
		case COL_TZ:
			tz = trimmed(s, len, &tzlen);
			break;
		case COL_TAGS:
			if ((tags = row_tags(im, s, len)) == NULL) {
				goto out;
			}
			break;
		default:
			if (json_object_set_new(meta, im->names[i],
			        json_stringn(s, len)) != 0) {
				cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	char region[3], why[160];
	if (plen == 0) {
		row_invalid(im, "phone is empty");
		goto out;
	}
	if (cxi_phone_normalize(phone, im->o.default_region, l->phone,
	        sizeof(l->phone), region, why, sizeof(why)) != 0) {
		row_invalid(im, "phone '%.40s': %s", phone, why);
		goto out;
	}
	if (nlen > CXI_REPO_TEXT_MAX) {
		row_invalid(im, "name is longer than %d bytes",
		    CXI_REPO_TEXT_MAX);
		goto out;
	}
	l->name = nlen > 0 ? name : NULL;
	if (nlen > 0) {
		((char *) name)[nlen] = '\0'; /* trim in place: cells own */
	}
	if (tzlen > 0) {
		((char *) tz)[tzlen] = '\0';
		if (tzlen > CXI_TZ_NAME_MAX || !tz_ok(im, tz)) {
			row_invalid(im, "timezone '%.64s' is not an IANA time "
			    "zone", tz);
			goto out;
		}
		l->timezone = tz;
	} else {
		l->timezone = cxi_phonezones_lookup(im->o.zones, l->phone);
	}
	if (tags == NULL && (tags = json_array()) == NULL) {
		cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
		goto out;
	}
	l->tags = json_dumps(tags, JSON_COMPACT);
	l->metadata = json_dumps(meta, JSON_COMPACT);
	if (l->tags == NULL || l->metadata == NULL) {
		cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
		goto out;
	}
	if (strlen(l->metadata) > CXI_REPO_JSON_MAX) {
		row_invalid(im, "the extra columns exceed %d bytes as JSON",
		    CXI_REPO_JSON_MAX);
		goto out;
	}
	l->line = im->rec_line;
	ok = true;
out:
	if (!ok) {
		free(l->tags);
		free(l->metadata);
		l->tags = l->metadata = NULL;
	}
	json_decref(meta);
	json_decref(tags);
	return (ok);
}

void
cxi_csvimp_row(cxi_csvimp *im)
{
	bool empty = !im->row_over;
	for (size_t i = 0; empty && i < im->n_cells; i++) {
		size_t len;
		(void) trimmed(im->row + im->cells[i].off, im->cells[i].len,
		    &len);
		empty = len == 0;
	}
	if (empty) {
		return; /* a blank row, or ",,,," */
	}
	im->counts.rows_total++;
	if (im->row_over) {
		row_invalid(im, "the row is larger than %d bytes or %d cells",
		    CXI_CSV_ROW_MAX, CXI_CSV_CELLS_MAX);
		return;
	}
	if (im->n_cells > im->n_cols) {
		row_invalid(im, "the row has %zu cells, the header %zu",
		    im->n_cells, im->n_cols);
		return;
	}
	cxi_csv_lead *l = &im->batch[im->n_batch];
	memset(l, 0, sizeof(*l));
	if (!row_lead(im, l)) {
		return;
	}
	/* name and timezone point into the row buffer: copy them out
	 * before the next record reuses it. */
	const char *name = l->name, *tz = l->timezone;
	l->name = name != NULL ? strdup(name) : NULL;
	l->timezone = tz != NULL ? strdup(tz) : NULL;
	im->n_batch++; /* counted even on failure, so clear frees it */
	if ((name != NULL && l->name == NULL) ||
	    (tz != NULL && l->timezone == NULL)) {
		cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
		return;
	}
	if (im->n_batch == im->o.batch_rows) {
		(void) cxi_csvimp_flush(im);
	}
}

void
cxi_csvimp_batch_clear(cxi_csvimp *im)
{
	for (size_t i = 0; i < im->n_batch; i++) {
		cxi_csv_lead *l = &im->batch[i];
		free((char *) l->name);
		free((char *) l->timezone);
		free(l->tags);
		free(l->metadata);
	}
	im->n_batch = 0;
}

cx_err
cxi_csvimp_flush(cxi_csvimp *im)
{
	if (im->n_batch == 0 || im->rv != CX_OK) {
		cxi_csvimp_batch_clear(im);
		return (im->rv);
	}
	size_t ins = 0;
	char why[256] = "";
	cx_err rv = im->o.sink(im->o.sink_arg, im->batch, im->n_batch, &ins,
	    why, sizeof(why));
	if (rv != CX_OK) {
		cxi_csvimp_fail(im, rv, "storing rows failed: %s",
		    why[0] ? why : cx_strerror(rv));
	} else {
		if (ins > im->n_batch) {
			ins = im->n_batch;
		}
		im->counts.imported += (int64_t) ins;
		im->counts.skipped += (int64_t) (im->n_batch - ins);
	}
	cxi_csvimp_batch_clear(im);
	if (rv == CX_OK && im->o.progress != NULL) {
		im->o.progress(im->o.progress_arg, &im->counts);
	}
	return (im->rv);
}
