/*
 * campaign_conf_int.h - what campaign_conf.c and campaign_conf_parts.c
 * share: error messages that name the field, and typed member getters.
 */
#ifndef CXI_CAMPAIGN_CONF_INT_H
#define CXI_CAMPAIGN_CONF_INT_H

#include "campaign_conf.h"

#define CXI_CC_NAME_MAX 200

/* Writes why and returns CX_EINVAL. */
cx_err cxi_cc_bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1..max bytes without control characters. */
bool cxi_cc_printable(const char *s, size_t max);
/* Every key of obj must be in keys (NULL-ended); `where` names obj. */
cx_err cxi_cc_keys_ok(const json_t *obj, const char *where,
    const char *const *keys, char *why, size_t whylen);
/* An integer member in [min, max]; absent keeps *out. */
cx_err cxi_cc_get_int(const json_t *obj, const char *where, const char *key,
    long min, long max, int *out, char *why, size_t whylen);

/* campaign_conf_parts.c */
cx_err cxi_cc_parse_analysis(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen);
cx_err cxi_cc_parse_windows(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen);

#endif
