/*
 * confutil.h - small helpers shared by the config and settings checks:
 * "did you mean" suggestions, durations and config-relative paths.
 */
#ifndef CXI_CONFUTIL_H
#define CXI_CONFUTIL_H

#include <stddef.h>

/* Optimal string alignment distance (edits, with adjacent swaps). */
size_t cxi_edit_distance(const char *a, const char *b);
/* The candidate closest to `key` if it is close enough to be a likely
 * typo, else NULL. `cands` has `n` entries; NULL entries are skipped. */
const char *cxi_suggest(const char *key, const char *const *cands, size_t n);

/* "250ms", "10s", "5m", "2h" or a plain integer of milliseconds. Returns
 * 0 with *ms set, or -1. Negative values and overflow are refused. */
int cxi_duration_parse(const char *s, long long *ms);

/* Directory part of a config file name, for relative paths. Names that
 * are not paths ("<embedded>", NULL) give ".". Caller frees. */
char *cxi_path_dir(const char *file);
/* `rel` resolved against `dir`: absolute paths are kept, a leading "./"
 * is dropped, "." as dir adds nothing. Caller frees; NULL on ENOMEM. */
char *cxi_path_join(const char *dir, const char *rel);

#endif
