/*
 * csvimport.h - streaming CSV import of leads (RFC 4180, via libcsv).
 *
 * Bytes go in by cxi_csvimp_feed in chunks of any size; each record is
 * checked as soon as it is complete, valid rows are collected into
 * batches and handed to a sink (the database: csvimport_db.c), so memory
 * holds one batch and one record, never the file.
 *
 * The file: an optional UTF-8 BOM, then a header row (names trimmed and
 * matched case-insensitively). `phone` is required; `name`, `timezone`
 * and `tags` are optional; every other column goes into the lead's
 * metadata object under its header name. The delimiter is sniffed from
 * the header line: the most frequent of ',' ';' and TAB outside quotes
 * (',' on a tie). CRLF, LF and CR line ends all work; quoted fields may
 * hold delimiters, doubled quotes and line breaks.
 *
 * A row is invalid (counted, its physical start line and the reason
 * kept, first 100 only) when: a cell is not UTF-8, it has more cells
 * than the header, the phone does not normalize to a valid E.164 number
 * in the default country, the timezone is not a tz database zone, a tag
 * or the metadata is too large. A row with fewer cells than the header
 * is read with the missing ones empty (spreadsheets drop trailing empty
 * cells); a row whose cells are all empty is ignored. Duplicates are the
 * sink's business: it reports how many rows of a batch it inserted and
 * the rest count as skipped.
 */
#ifndef CXI_CSVIMPORT_H
#define CXI_CSVIMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/error.h>

#include "phone.h"
#include "phonezone.h"

/* Errors kept in the result; the counts cover every row. */
#define CXI_CSV_ERRORS_MAX 100
/* One record may not exceed this (bytes) nor this many cells. */
#define CXI_CSV_ROW_MAX (1024 * 1024)
#define CXI_CSV_CELLS_MAX 1000

/* One valid row, ready to insert. Strings are owned by the importer and
 * valid during the sink call only. */
typedef struct cxi_csv_lead {
	char phone[CXI_E164_MAX];
	const char *name;     /* NULL when empty */
	const char *timezone; /* NULL when neither given nor derivable */
	char *tags;           /* JSON array text */
	char *metadata;       /* JSON object text */
	uint64_t line;
} cxi_csv_lead;

/* Stores rows[0..n); *inserted is how many were new (the others are
 * duplicates). Anything but CX_OK stops the import. */
typedef cx_err (*cxi_csv_sink_fn)(void *arg, const cxi_csv_lead *rows,
    size_t n, size_t *inserted, char *why, size_t whylen);

typedef struct cxi_csv_counts {
	int64_t rows_total; /* data rows seen (header and blank rows not) */
	int64_t imported;
	int64_t skipped;    /* duplicates */
	int64_t invalid;
} cxi_csv_counts;

typedef struct cxi_csv_opts {
	const char *default_region;   /* "US"; NULL: only +... numbers */
	const cxi_phonezones *zones;  /* may be NULL: no derived zones */
	size_t batch_rows;            /* 0: 1000 */
	cxi_csv_sink_fn sink;         /* required */
	void *sink_arg;
	/* Called after each stored batch (may be NULL). */
	void (*progress)(void *arg, const cxi_csv_counts *c);
	void *progress_arg;
} cxi_csv_opts;

typedef struct cxi_csvimp cxi_csvimp;

cxi_csvimp *cxi_csvimp_new(const cxi_csv_opts *o);
/* CX_OK, or CX_EINVAL (the file cannot be imported: no header, no phone
 * column, a record over CXI_CSV_ROW_MAX ...) or the sink's error; then
 * cxi_csvimp_fatal says why and further feeding is refused. */
cx_err cxi_csvimp_feed(cxi_csvimp *im, const void *data, size_t len);
/* End of input: the last record and the last batch. */
cx_err cxi_csvimp_finish(cxi_csvimp *im);
const cxi_csv_counts *cxi_csvimp_counts(const cxi_csvimp *im);
/* [{"line": n, "reason": "..."}...] (borrowed). */
json_t *cxi_csvimp_errors(const cxi_csvimp *im);
/* NULL, or why the import stopped. */
const char *cxi_csvimp_fatal(const cxi_csvimp *im);
void cxi_csvimp_free(cxi_csvimp *im);

/* The database sink (csvimport_db.c): multi-row INSERT ... ON CONFLICT
 * (account_id, phone_e164) DO NOTHING, one transaction per batch; new
 * leads get status 'new'. */
struct cxi_db;
typedef struct cxi_csv_dbsink {
	const struct cxi_db *db;
	const char *account;
	const char *campaign_id; /* may be NULL */
	int64_t last_ms;         /* set by the sink: batches of one import
	                          * get increasing times (start at 0) */
} cxi_csv_dbsink;
cx_err cxi_csvimp_db_sink(void *arg, const cxi_csv_lead *rows, size_t n,
    size_t *inserted, char *why, size_t whylen);

#endif
