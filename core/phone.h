/*
 * phone.h - phone numbers to E.164, through libphonenumber (a C++
 * library; phone_shim.cc is the only C++ in the core and keeps it
 * behind these C functions).
 *
 * A number is parsed with a default region (ISO 3166 alpha-2: "US",
 * "DE"), used when the text carries no "+<country code>" or international
 * prefix, then it must be a valid number of its country (not merely of
 * a plausible length), and it comes back in E.164 form ("+14155550123")
 * with the region it belongs to. Everything here is thread-safe and
 * allocation-free for the caller.
 */
#ifndef CXI_PHONE_H
#define CXI_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "+" and at most 15 digits, with the terminator. */
#define CXI_E164_MAX 17
/* Longest text we hand to the parser; longer is "too long" at once. */
#define CXI_PHONE_RAW_MAX 64

/* 0 with e164 (CXI_E164_MAX bytes) and region ("US"; "" for numbers of
 * no region, such as +800) set; -1 with a short reason in `why`:
 * "not a phone number", "too short", "too long", "unknown country code
 * +999", "invalid for region DE", ... `default_region` may be NULL or
 * "" (then only "+..." numbers parse). */
int cxi_phone_normalize(const char *raw, const char *default_region,
    char *e164, size_t len, char region[3], char *why, size_t whylen);

/* True when `region` is a two-letter region libphonenumber knows. */
bool cxi_phone_region_ok(const char *region);

#ifdef __cplusplus
}
#endif

#endif
