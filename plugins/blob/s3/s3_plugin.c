/*
 * s3 - a blob store on Amazon S3 or any S3-compatible service.
 *
 * Objects reach the plugin already encrypted by the core, so S3 only ever
 * holds ciphertext. Where that ciphertext lives still matters for data
 * residency, so init refuses to run unless both the configured region and
 * the bucket's actual location (GetBucketLocation) are in
 * allowed_regions, which defaults to the EU regions.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3xml.h"

static const cx_setting s3_settings[] = {
    CX_SETTING_STR("endpoint", 0, NULL,
        "Base URL, scheme://host[:port]; default "
        "https://s3.<region>.amazonaws.com"),
    CX_SETTING_STR("bucket", CX_SET_REQUIRED, NULL, "Bucket name"),
    CX_SETTING_STR("region", 0, "eu-central-1",
        "Region the requests are signed for; must be in allowed_regions"),
    CX_SETTING_SECRET("access_key", CX_SET_REQUIRED, "Access key id"),
    CX_SETTING_SECRET("secret_key", CX_SET_REQUIRED,
        "Secret access key, never logged"),
    CX_SETTING_BOOL("path_style", 0, NULL,
        "Path-style URLs (endpoint/bucket/key) instead of virtual hosts; "
        "default true with a custom endpoint, false for AWS"),
    {"allowed_regions", CX_SET_LIST, 0,
        "[eu-central-1, eu-central-2, eu-west-1, eu-west-2, eu-west-3, "
        "eu-south-1, eu-south-2, eu-north-1]", 0, 0, NULL,
        "Regions data may live in; start is refused when the region or "
        "the bucket's location is not listed (an empty location means "
        "us-east-1)"},
    CX_SETTING_INT("part_size", 0, "8388608", 5242880, 5368709120LL,
        "Bytes per multipart part and per ranged GET (S3 minimum 5 MiB)"),
    CX_SETTING_INT("max_retries", 0, "5", 0, 20,
        "Retries after a 5xx, 429 or network error"),
    CX_SETTING_DURATION("timeout", 0, "30s", 1000, 3600000,
        "Time limit of one HTTP request"),
    CX_SETTING_DURATION("retry_backoff", 0, "200ms", 1, 60000,
        "Delay before the first retry; doubles each time, with jitter"),
    CX_SETTING_STR("prefix", 0, NULL,
        "Prefix put before every key, e.g. \"callixo/\""),
    CX_SETTINGS_END,
};

static const char *
str_of(const json_t *s, const char *k)
{
	return (json_string_value(json_object_get(s, k)));
}

/* Lowercase letters, digits, '-' and '.', 3..63: the DNS-safe bucket
 * names that work in both URL styles. */
static bool
bucket_ok(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63) {
		return (false);
	}
	for (const char *p = b; *p; p++) {
		if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p) &&
		    *p != '-' && *p != '.') {
			return (false);
		}
	}
	return (true);
}

static bool
region_ok(const char *r)
{
	if (r[0] == '\0' || strlen(r) > 32) {
		return (false);
	}
	for (const char *p = r; *p; p++) {
		if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p) &&
		    *p != '-') {
			return (false);
		}
	}
	return (true);
}

/* scheme://host[:port] only: a path, query or user-info in the endpoint
 * would change what curl signs and where the credentials go. */
static bool
endpoint_ok(const char *e)
{
	const char *h;
	if (strncmp(e, "https://", 8) == 0) {
		h = e + 8;
	} else if (strncmp(e, "http://", 7) == 0) {
		h = e + 7;
	} else {
		return (false);
	}
	if (*h == '\0' || strlen(e) > 256) {
		return (false);
	}
	for (; *h; h++) {
		if (!isalnum((unsigned char) *h) && *h != '.' && *h != '-' &&
		    *h != ':' && *h != '[' && *h != ']') {
			return (false);
		}
	}
	return (true);
}

static cx_err
s3_validate(const json_t *s, char *err, size_t errlen)
{
	const char *ep = str_of(s, "endpoint");
	const char *region = str_of(s, "region");
	const char *prefix = str_of(s, "prefix");
	if (!bucket_ok(str_of(s, "bucket") ? str_of(s, "bucket") : "")) {
		snprintf(err, errlen, "'bucket' must be 3-63 characters of "
		                      "a-z, 0-9, '-' and '.'");
		return (CX_EINVAL);
	}
	if (region == NULL || !region_ok(region)) {
		snprintf(err, errlen, "'region' must look like eu-central-1");
		return (CX_EINVAL);
	}
	if (ep != NULL && !endpoint_ok(ep)) {
		snprintf(err, errlen, "'endpoint' must be http(s)://host[:port] "
		                      "without a path");
		return (CX_EINVAL);
	}
	if (prefix != NULL && prefix[0] != '\0') {
		for (const char *p = prefix; *p; p++) {
			if (!isalnum((unsigned char) *p) && !strchr("._/-", *p)) {
				snprintf(err, errlen, "'prefix' may only hold "
				                      "A-Z a-z 0-9 . _ / -");
				return (CX_EINVAL);
			}
		}
		if (prefix[0] == '/' || strstr(prefix, "..") != NULL ||
		    strstr(prefix, "//") != NULL || strlen(prefix) > 256) {
			snprintf(err, errlen, "'prefix' must not start with '/' "
			                      "or contain '..' or '//'");
			return (CX_EINVAL);
		}
	}
	const json_t *allowed = json_object_get(s, "allowed_regions");
	if (!json_is_array(allowed) || json_array_size(allowed) == 0) {
		snprintf(err, errlen, "'allowed_regions' must list at least one "
		                      "region");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static bool
region_allowed(const s3 *s, const char *region)
{
	for (size_t i = 0; i < s->n_allowed; i++) {
		if (strcmp(s->allowed[i], region) == 0) {
			return (true);
		}
	}
	return (false);
}

static void
allowed_list(const s3 *s, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->n_allowed && o < cap; i++) {
		int n = snprintf(out + o, cap - o, "%s%s", i ? ", " : "",
		    s->allowed[i]);
		if (n < 0) {
			break;
		}
		o += (size_t) n;
	}
}

/* The residency guard. GetBucketLocation answers an empty
 * LocationConstraint for us-east-1 and the legacy "EU" for eu-west-1. */
static cx_err
check_residency(s3 *s)
{
	char list[512], where[64];
	allowed_list(s, list, sizeof(list));
	if (!region_allowed(s, s->region)) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: region %s of bucket %s "
		    "is not in allowed_regions [%s]; refusing to start",
		    s->region, s->bucket, list);
		return (CX_EDENIED);
	}
	s3_req q = {.op = "get bucket location", .method = "GET",
	    .query = "location="};
	cx_err e = s3_request(s, &q, false);
	if (e == CX_OK && s3xml_find(q.resp.data ? q.resp.data : "",
	                      q.resp.len, "LocationConstraint", where,
	                      sizeof(where)) != 1) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: bucket %s: no "
		    "LocationConstraint in the answer", s->bucket);
		e = CX_EIO;
	}
	s3_req_free(&q);
	if (e != CX_OK) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: cannot verify where "
		    "bucket %s lives; refusing to start", s->bucket);
		return (e);
	}
	const char *actual = where[0] == '\0' ? "us-east-1" :
	    strcmp(where, "EU") == 0          ? "eu-west-1" :
	                                        where;
	if (!region_allowed(s, actual)) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: bucket %s is in region "
		    "%s, not in allowed_regions [%s]; refusing to start",
		    s->bucket, actual, list);
		return (CX_EDENIED);
	}
	if (strcmp(actual, s->region) != 0) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: bucket %s is in region "
		    "%s but region is set to %s; refusing to start", s->bucket,
		    actual, s->region);
		return (CX_ECONFIG);
	}
	s->host->log(s->host, CX_LOG_INFO, "s3: bucket %s in region %s "
	    "(allowed: %s)", s->bucket, actual, list);
	return (CX_OK);
}

static void
s3_fini(void *state)
{
	s3 *s = state;
	s3_http_global_fini(s);
	free(s->endpoint);
	free(s->bucket);
	free(s->region);
	/* Wiped before release: they should not linger in freed memory. */
	if (s->access_key != NULL) {
		explicit_bzero(s->access_key, strlen(s->access_key));
	}
	if (s->secret_key != NULL) {
		explicit_bzero(s->secret_key, strlen(s->secret_key));
	}
	free(s->access_key);
	free(s->secret_key);
	free(s->prefix);
	for (size_t i = 0; i < s->n_allowed; i++) {
		free(s->allowed[i]);
	}
	free(s->allowed);
	memset(s, 0, sizeof(*s));
}

static cx_err
load_settings(s3 *s, const json_t *st)
{
	const char *ep = str_of(st, "endpoint");
	const char *prefix = str_of(st, "prefix");
	const json_t *ps = json_object_get(st, "path_style");
	s->region = strdup(str_of(st, "region"));
	s->bucket = strdup(str_of(st, "bucket"));
	s->access_key = strdup(str_of(st, "access_key"));
	s->secret_key = strdup(str_of(st, "secret_key"));
	s->prefix = strdup(prefix ? prefix : "");
	if (s->region == NULL || s->bucket == NULL || s->access_key == NULL ||
	    s->secret_key == NULL || s->prefix == NULL) {
		return (CX_ENOMEM);
	}
	if (ep != NULL) {
		s->endpoint = strdup(ep);
	} else if (asprintf(&s->endpoint, "https://s3.%s.amazonaws.com",
	               s->region) < 0) {
		s->endpoint = NULL;
	}
	if (s->endpoint == NULL) {
		return (CX_ENOMEM);
	}
	size_t el = strlen(s->endpoint);
	while (el > 0 && s->endpoint[el - 1] == '/') {
		s->endpoint[--el] = '\0';
	}
	s->path_style = json_is_boolean(ps) ? json_is_true(ps) : ep != NULL;
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", s->region);
	s->part_size = (size_t) json_integer_value(json_object_get(st,
	    "part_size"));
	s->max_retries = (int) json_integer_value(json_object_get(st,
	    "max_retries"));
	s->timeout_ms = (long) json_integer_value(json_object_get(st,
	    "timeout"));
	s->backoff_ms = (long) json_integer_value(json_object_get(st,
	    "retry_backoff"));
	const json_t *al = json_object_get(st, "allowed_regions");
	s->allowed = calloc(json_array_size(al) + 1, sizeof(char *));
	if (s->allowed == NULL) {
		return (CX_ENOMEM);
	}
	size_t i;
	const json_t *v;
	json_array_foreach(al, i, v) {
		if ((s->allowed[s->n_allowed] = strdup(json_string_value(v)))
		    == NULL) {
			return (CX_ENOMEM);
		}
		s->n_allowed++;
	}
	return (CX_OK);
}

static cx_err
s3_init(void *state, const cx_host *h, const json_t *st)
{
	s3 *s = state;
	s->host = h;
	char err[256];
	/* The core runs validate first; running it again costs nothing and
	 * keeps init safe when called by a test kit that does not. */
	cx_err e = s3_validate(st, err, sizeof(err));
	if (e != CX_OK) {
		h->log(h, CX_LOG_ERROR, "s3: %s", err);
	}
	if (e == CX_OK) {
		e = load_settings(s, st);
	}
	if (e == CX_OK) {
		e = s3_http_global_init(s);
	}
	if (e == CX_OK && strncmp(s->endpoint, "http://", 7) == 0) {
		/* Objects are ciphertext and SigV4 never sends the secret,
		 * but requests can still be replayed or tampered with. */
		h->log(h, CX_LOG_WARN, "s3: endpoint %s is plain HTTP; use "
		    "HTTPS outside tests", s->endpoint);
	}
	if (e == CX_OK) {
		e = check_residency(s);
	}
	if (e != CX_OK) {
		s3_fini(s);
	}
	return (e);
}

static const cx_blob_ops s3_blob_ops = {
	.size = sizeof(cx_blob_ops),
	.put_begin = s3_put_begin,
	.put_write = s3_put_write,
	.put_commit = s3_put_commit,
	.put_abort = s3_put_abort,
	.get_open = s3_get_open,
	.get_read = s3_get_read,
	.get_close = s3_get_close,
	.remove = s3_remove,
	.remove_prefix = s3_remove_prefix,
};

CX_PLUGIN_DEFINE(.kind = CX_KIND_BLOB, .name = "s3", .version = "1.0.0",
    .summary = "Blob store on S3 or an S3-compatible service",
    .settings = s3_settings, .state_size = sizeof(s3),
    .validate = s3_validate, .init = s3_init, .fini = s3_fini,
    .kind_ops = &s3_blob_ops);
