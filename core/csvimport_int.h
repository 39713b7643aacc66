/*
 * csvimport_int.h - the importer's state, shared by csvimport.c (the
 * byte stream, libcsv and the header) and csvimport_row.c (checking one
 * record and batching it).
 */
#ifndef CXI_CSVIMPORT_INT_H
#define CXI_CSVIMPORT_INT_H

#include <stdbool.h>
#include <csv.h>

#include "csvimport.h"

/* What a header column means. */
enum { COL_META = 0, COL_PHONE, COL_NAME, COL_TZ, COL_TAGS };

typedef struct csv_cell {
	size_t off, len; /* into row */
} csv_cell;

/* Zones a file names tend to repeat: remember the last few checked. */
#define TZ_CACHE 32

struct cxi_csvimp {
	cxi_csv_opts o;
	struct csv_parser p;
	bool p_init;
	/* Bytes held until the header line is complete, to sniff the
	 * delimiter and drop a BOM. */
	char *sniff;
	size_t sniff_len;
	bool started;
	/* Physical lines: the current one, and where the record being
	 * read started. */
	uint64_t line, rec_line;
	bool at_boundary, prev_cr;
	/* The record being read. */
	char *row;
	size_t row_len, row_cap;
	csv_cell *cells;
	size_t n_cells, cap_cells;
	bool row_over;     /* too long or too many cells */
	/* The header. */
	bool have_header;
	size_t n_cols;
	int *role;
	char **names;      /* trimmed header names, metadata keys */
	/* The batch. */
	cxi_csv_lead *batch;
	size_t n_batch;
	char *tz_cache[TZ_CACHE];
	size_t tz_next;
	cxi_csv_counts counts;
	json_t *errors;
	char fatal[512];
	cx_err rv;         /* first fatal error; CX_OK while fine */
};

/* csvimport_row.c */
void cxi_csvimp_row(cxi_csvimp *im);
void cxi_csvimp_header(cxi_csvimp *im);
cx_err cxi_csvimp_flush(cxi_csvimp *im);
void cxi_csvimp_batch_clear(cxi_csvimp *im);
void cxi_csvimp_fail(cxi_csvimp *im, cx_err rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
