/*
 * phonezone.h - the time zone of an E.164 number, from the prefix table
 * conf/phone-zones.tsv ("+<digits><TAB><IANA zone>" lines, '#'
 * comments). The longest matching prefix wins: +1212 (New York) before
 * +1 (the NANP default).
 *
 * Loading checks every line (prefix shape, duplicates, and that the zone
 * exists in the system tz database) and reports the first problem as
 * "file:line: message". A loaded table is read-only and may be shared
 * by any number of threads.
 */
#ifndef CXI_PHONEZONE_H
#define CXI_PHONEZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <callixo/error.h>

typedef struct cxi_phonezones cxi_phonezones;

/* Most bytes of a zone name we accept ("America/Argentina/Buenos_Aires"
 * is 30). */
#define CXI_TZ_NAME_MAX 64

cx_err cxi_phonezones_load(const char *path, cxi_phonezones **out,
    char *why, size_t whylen);
/* The same from memory; `name` is used in messages. */
cx_err cxi_phonezones_parse(const char *name, const char *text, size_t len,
    cxi_phonezones **out, char *why, size_t whylen);
void cxi_phonezones_free(cxi_phonezones *z);
size_t cxi_phonezones_count(const cxi_phonezones *z);
/* The zone of "+<digits>", or NULL when no prefix matches (or z is
 * NULL). The string lives as long as the table. */
const char *cxi_phonezones_lookup(const cxi_phonezones *z, const char *e164);

/* True when `name` is a zone of the system tz database: a plain name
 * ([A-Za-z0-9_+-] segments joined by '/', no "." or ".." segment) whose
 * file under $TZDIR (default /usr/share/zoneinfo) is a TZif file. */
bool cxi_tz_exists(const char *name);

#endif
