/*
 * csvimport.c - the byte side of the CSV importer: BOM and delimiter
 * sniffing, physical line numbers, and libcsv's field/record callbacks.
 *
 * libcsv does not count lines, so input is handed to it one physical
 * line at a time (cut after each CR or LF): before a line is parsed we
 * know its number, and a record starts on the first non-empty line
 * after the previous record ended.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvimport_int.h"

/* Header lines longer than this are sniffed on what is there. */
#define SNIFF_MAX (64 * 1024)

/* libcsv grows its field buffer with this: refusing past the row limit
 * bounds memory whatever the input (it then reports CSV_ENOMEM). */
static void *
csv_realloc_capped(void *p, size_t n)
{
	if (n > CXI_CSV_ROW_MAX + 128) {
		return (NULL);
	}
	return (realloc(p, n));
}

/* Only the space character is trimmed around unquoted fields: a tab may
 * be the delimiter. */
static int
csv_is_space(unsigned char c)
{
	return (c == ' ');
}

void
cxi_csvimp_fail(cxi_csvimp *im, cx_err rv, const char *fmt, ...)
{
	if (im->rv != CX_OK) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(im->fatal, sizeof(im->fatal), fmt, ap);
	va_end(ap);
	im->rv = rv;
}

static void
on_field(void *s, size_t len, void *arg)
{
	cxi_csvimp *im = arg;
	if (im->rv != CX_OK || im->row_over) {
		return;
	}
	if (im->n_cells >= CXI_CSV_CELLS_MAX ||
	    im->row_len + len > CXI_CSV_ROW_MAX) {
		im->row_over = true;
		return;
	}
	if (im->n_cells == im->cap_cells) {
		size_t nc = im->cap_cells ? im->cap_cells * 2 : 32;
		csv_cell *c = realloc(im->cells, nc * sizeof(*c));
		if (c == NULL) {
			cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
			return;
		}
		im->cells = c;
		im->cap_cells = nc;
	}
	if (im->row_len + len + 1 > im->row_cap) {
		size_t nc = im->row_cap ? im->row_cap : 1024;
		while (nc < im->row_len + len + 1) {
			nc *= 2;
		}
		char *r = realloc(im->row, nc);
		if (r == NULL) {
			cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
			return;
		}
		im->row = r;
		im->row_cap = nc;
	}
	if (len > 0) {
		memcpy(im->row + im->row_len, s, len);
	}
	im->cells[im->n_cells].off = im->row_len;
	im->cells[im->n_cells].len = len;
	im->n_cells++;
	im->row_len += len;
	im->row[im->row_len++] = '\0'; /* every cell is a C string too */
}

static void
on_record(int c, void *arg)
{
	cxi_csvimp *im = arg;
	(void) c;
	if (im->rv == CX_OK) {
		if (!im->have_header) {
			cxi_csvimp_header(im);
		} else {
			cxi_csvimp_row(im);
		}
	}
	im->n_cells = 0;
	im->row_len = 0;
	im->row_over = false;
	im->at_boundary = true;
}

/* Hands `len` bytes to libcsv, one physical line at a time. */
static void
parse_lines(cxi_csvimp *im, const char *s, size_t len)
{
	size_t pos = 0;
	while (pos < len && im->rv == CX_OK) {
		size_t i = pos;
		while (i < len && s[i] != '\n' && s[i] != '\r') {
			i++;
		}
		size_t seg = (i < len ? i + 1 : len) - pos;
		const char *p = s + pos;
		bool blank = seg == 1 && (p[0] == '\n' || p[0] == '\r');
		if (im->at_boundary && !blank) {
			im->rec_line = im->line;
			im->at_boundary = false;
		}
		if (csv_parse(&im->p, p, seg, on_field, on_record, im) != seg) {
			cxi_csvimp_fail(im, CX_EINVAL, "line %llu: %s",
			    (unsigned long long) im->line,
			    csv_error(&im->p) == CSV_ENOMEM ? "a field is "
			    "larger than the 1 MiB limit of a row" :
			    csv_strerror(csv_error(&im->p)));
			return;
		}
		char last = p[seg - 1];
		if (last == '\r') {
			im->line++;
			im->prev_cr = true;
		} else if (last == '\n') {
			if (!(im->prev_cr && seg == 1)) {
				im->line++;
			}
			im->prev_cr = false;
		} else {
			im->prev_cr = false;
		}
		pos += seg;
	}
}

/* The delimiter of the header line: ',' ';' or TAB, counted outside
 * double quotes. */
static unsigned char
sniff_delim(const char *s, size_t len)
{
	size_t comma = 0, semi = 0, tab = 0;
	bool q = false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '"') {
			q = !q;
		} else if (!q && (ch == '\n' || ch == '\r')) {
			break;
		} else if (!q && ch == ',') {
			comma++;
		} else if (!q && ch == ';') {
			semi++;
		} else if (!q && ch == '\t') {
			tab++;
		}
	}
	if (semi > comma && semi >= tab) {
		return (';');
	}
	if (tab > comma && tab > semi) {
		return ('\t');
	}
	return (',');
}

/* Starts libcsv on what was held back. */
static void
start(cxi_csvimp *im)
{
	const char *s = im->sniff;
	size_t len = im->sniff_len;
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		len -= 3;
	}
	csv_set_delim(&im->p, sniff_delim(s, len));
	im->started = true;
	parse_lines(im, s, len);
	free(im->sniff);
	im->sniff = NULL;
	im->sniff_len = 0;
}

cxi_csvimp *
cxi_csvimp_new(const cxi_csv_opts *o)
{
	if (o == NULL || o->sink == NULL) {
		return (NULL);
	}
	cxi_csvimp *im = calloc(1, sizeof(*im));
	if (im == NULL) {
		return (NULL);
	}
	im->o = *o;
	if (im->o.batch_rows == 0) {
		im->o.batch_rows = 1000;
	}
	im->line = 1;
	im->at_boundary = true;
	im->batch = calloc(im->o.batch_rows, sizeof(*im->batch));
	im->errors = json_array();
	if (im->batch == NULL || im->errors == NULL ||
	    csv_init(&im->p, 0) != 0) {
		cxi_csvimp_free(im);
		return (NULL);
	}
	im->p_init = true;
	csv_set_space_func(&im->p, csv_is_space);
	csv_set_realloc_func(&im->p, csv_realloc_capped);
	return (im);
}

cx_err
cxi_csvimp_feed(cxi_csvimp *im, const void *data, size_t len)
{
	if (im->rv != CX_OK) {
		return (im->rv);
	}
	const char *s = data;
	if (!im->started) {
		/* Hold bytes until the first line is complete. */
		const char *nl = NULL;
		for (size_t i = 0; i < len && nl == NULL; i++) {
			if (s[i] == '\n' || s[i] == '\r') {
				nl = s + i;
			}
		}
		size_t take = nl != NULL ? (size_t) (nl - s) + 1 : len;
		if (im->sniff_len + take > SNIFF_MAX) {
			take = SNIFF_MAX - im->sniff_len;
			nl = s; /* sniff on what we have */
		}
		char *b = realloc(im->sniff, im->sniff_len + take + 1);
		if (b == NULL) {
			cxi_csvimp_fail(im, CX_ENOMEM, "out of memory");
			return (im->rv);
		}
		memcpy(b + im->sniff_len, s, take);
		im->sniff = b;
		im->sniff_len += take;
		if (nl == NULL) {
			return (CX_OK);
		}
		start(im);
		s += take;
		len -= take;
	}
	parse_lines(im, s, len);
	return (im->rv);
}

cx_err
cxi_csvimp_finish(cxi_csvimp *im)
{
	if (im->rv != CX_OK) {
		return (im->rv);
	}
	if (!im->started) {
		start(im);
	}
	if (im->rv == CX_OK && csv_fini(&im->p, on_field, on_record, im) != 0) {
		cxi_csvimp_fail(im, CX_EINVAL, "line %llu: %s",
		    (unsigned long long) im->line,
		    csv_strerror(csv_error(&im->p)));
	}
	if (im->rv == CX_OK && !im->have_header) {
		cxi_csvimp_fail(im, CX_EINVAL, "the file is empty: the first "
		    "row must be a header with a 'phone' column");
	}
	if (im->rv == CX_OK) {
		(void) cxi_csvimp_flush(im);
	}
	return (im->rv);
}

const cxi_csv_counts *
cxi_csvimp_counts(const cxi_csvimp *im)
{
	return (&im->counts);
}

json_t *
cxi_csvimp_errors(const cxi_csvimp *im)
{
	return (im->errors);
}

const char *
cxi_csvimp_fatal(const cxi_csvimp *im)
{
	return (im->rv != CX_OK ? im->fatal : NULL);
}

void
cxi_csvimp_free(cxi_csvimp *im)
{
	if (im == NULL) {
		return;
	}
	if (im->p_init) {
		csv_free(&im->p);
	}
	if (im->batch != NULL) {
		cxi_csvimp_batch_clear(im);
	}
	free(im->batch);
	for (size_t i = 0; i < TZ_CACHE; i++) {
		free(im->tz_cache[i]);
	}
	for (size_t i = 0; i < im->n_cols; i++) {
		free(im->names[i]);
	}
	free(im->names);
	free(im->role);
	free(im->sniff);
	free(im->row);
	free(im->cells);
	json_decref(im->errors);
	free(im);
}
