/*
 * httpwire.c - HTTP request/response <-> JSON for process isolation.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "httpwire.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

static json_t *
b64_encode(const uint8_t *data, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, B64);
	char *s = malloc(cap);
	if (s == NULL) {
		return (NULL);
	}
	sodium_bin2base64(s, cap, data, len, B64);
	json_t *j = json_string(s);
	free(s);
	return (j);
}

static int
b64_decode(const json_t *j, uint8_t **out, size_t *len)
{
	const char *s = json_string_value(j);
	if (s == NULL) {
		return (-1);
	}
	size_t slen = strlen(s);
	uint8_t *buf = malloc(slen / 4 * 3 + 3);
	if (buf == NULL) {
		return (-1);
	}
	if (sodium_base642bin(buf, slen / 4 * 3 + 3, s, slen, NULL, len, NULL,
	        B64) != 0) {
		free(buf);
		return (-1);
	}
	*out = buf;
	return (0);
}

json_t *
cxi_httpwire_req_encode(const cx_http_req *req)
{
	json_t *hdrs = json_array();
	for (size_t i = 0; i < req->n_headers; i++) {
		json_array_append_new(hdrs, json_pack("[s,s]",
		    req->headers[i].name, req->headers[i].value));
	}
	return (json_pack("{s:s, s:s, s:s, s:s, s:o, s:o*}", "method",
	    req->method, "path", req->path, "subpath", req->subpath, "query",
	    req->query ? req->query : "", "headers", hdrs, "body",
	    b64_encode(req->body, req->body_len)));
}

int
cxi_httpwire_req_decode(const json_t *j, cx_http_req *req)
{
	memset(req, 0, sizeof(*req));
	json_t *hdrs = NULL, *body = NULL;
	if (json_unpack((json_t *) j, "{s:s, s:s, s:s, s:s, s:o, s:o}",
	        "method", &req->method, "path", &req->path, "subpath",
	        &req->subpath, "query", &req->query, "headers", &hdrs, "body",
	        &body) != 0 ||
	    !json_is_array(hdrs)) {
		return (-1);
	}
	size_t n = json_array_size(hdrs);
	cx_http_header *h = calloc(n ? n : 1, sizeof(*h));
	if (h == NULL) {
		return (-1);
	}
	for (size_t i = 0; i < n; i++) {
		if (json_unpack(json_array_get(hdrs, i), "[s,s]", &h[i].name,
		        &h[i].value) != 0) {
			free(h);
			return (-1);
		}
	}
	uint8_t *b;
	size_t blen;
	if (b64_decode(body, &b, &blen) != 0) {
		free(h);
		return (-1);
	}
	req->headers = h;
	req->n_headers = n;
	req->body = b;
	req->body_len = blen;
	return (0);
}

void
cxi_httpwire_req_release(cx_http_req *req)
{
	free((void *) req->headers);
	free((void *) req->body);
	req->headers = NULL;
	req->body = NULL;
}

json_t *
cxi_httpwire_resp_encode(const cx_http_resp *resp)
{
	json_t *hdrs = json_array();
	for (size_t i = 0; i < resp->n_headers; i++) {
		json_array_append_new(hdrs, json_pack("[s,s]",
		    resp->headers[i].name, resp->headers[i].value));
	}
	return (json_pack("{s:i, s:s, s:o, s:o*}", "status", resp->status,
	    "content_type", resp->content_type, "headers", hdrs, "body",
	    b64_encode((const uint8_t *) resp->body, resp->body_len)));
}

int
cxi_httpwire_resp_decode(const json_t *j, cx_http_resp *resp)
{
	int status;
	const char *ctype;
	json_t *hdrs, *body;
	if (json_unpack((json_t *) j, "{s:i, s:s, s:o, s:o}", "status",
	        &status, "content_type", &ctype, "headers", &hdrs, "body",
	        &body) != 0 ||
	    status < 100 || status > 599 || !json_is_array(hdrs)) {
		return (-1);
	}
	uint8_t *b;
	size_t blen;
	if (b64_decode(body, &b, &blen) != 0) {
		return (-1);
	}
	cx_err rv = cx_http_resp_set(resp, (uint16_t) status, ctype, b, blen);
	free(b);
	if (rv != CX_OK) {
		return (-1);
	}
	resp->n_headers = 0;
	for (size_t i = 0; i < json_array_size(hdrs); i++) {
		const char *n, *v;
		if (json_unpack(json_array_get(hdrs, i), "[s,s]", &n, &v) != 0 ||
		    cx_http_resp_header(resp, n, v) != CX_OK) {
			return (-1);
		}
	}
	return (0);
}
