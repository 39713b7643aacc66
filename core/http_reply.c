/*
 * http_reply.c - JSON error bodies and response helpers.
 *
 * Every error the front door produces, ours or a plugin's, has the same
 * shape: {"error":{"code":"not_found","message":"..."}}, so clients and
 * provider dashboards can show the message without guessing the format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define JSON_CT "application/json"

void
cxi_json_escape(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0;
	if (dstlen == 0) {
		return;
	}
	for (; *src != '\0'; src++) {
		unsigned char c = (unsigned char) *src;
		char tmp[8];
		size_t l;
		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char) c;
			l = 2;
		} else if (c < 0x20 || c == 0x7f) {
			l = (size_t) snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		} else {
			tmp[0] = (char) c;
			l = 1;
		}
		if (n + l >= dstlen) {
			break;
		}
		memcpy(dst + n, tmp, l);
		n += l;
	}
	dst[n] = '\0';
}


nng_http_res *
cxi_http_res_new(uint16_t status, const char *ctype, const void *body,
    size_t len)
{
	nng_http_res *res;
	if (nng_http_res_alloc(&res) != 0) {
		return (NULL);
	}
	if (nng_http_res_set_status(res, status) != 0 ||
	    nng_http_res_set_header(res, "Content-Type", ctype) != 0 ||
	    (len > 0 && nng_http_res_copy_data(res, body, len) != 0)) {
		nng_http_res_free(res);
		return (NULL);
	}
	return (res);
}


static int
error_json(char *buf, size_t len, const char *code, const char *message)
{
	char c[64], m[1024];
	cxi_json_escape(c, sizeof(c), code);
	cxi_json_escape(m, sizeof(m), message);
	return (snprintf(buf, len, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
	    c, m));
}

void
cxi_http_reply_error(nng_aio *aio, cxi_http_stat *st, uint16_t status,
    const char *code, const char *message, bool close, const char *hname,
    const char *hval)
{
	char body[1200];
	int n = error_json(body, sizeof(body), code, message);
	nng_http_res *res;

	if (n < 0 || (size_t) n >= sizeof(body)) {
		n = 0;
	}
	res = cxi_http_res_new(status, JSON_CT, body, (size_t) n);
	if (res == NULL || (close &&
	    nng_http_res_set_header(res, "Connection", "close") != 0) ||
	    (hname != NULL &&
	        nng_http_res_set_header(res, hname, hval) != 0)) {
		if (res != NULL) {
			nng_http_res_free(res);
		}
		/* Out of memory: a hard close is all nng can do. */
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	cxi_http_count(st, status);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

void
cxi_http_error(cx_http_resp *resp, uint16_t status, const char *code,
    const char *message)
{
	char tmp[1200];
	int n = error_json(tmp, sizeof(tmp), code, message);
	char *body;

	if (n < 0 || (size_t) n >= sizeof(tmp)) {
		n = 0;
		tmp[0] = '\0';
	}
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	if ((body = malloc((size_t) n + 1)) != NULL) {
		memcpy(body, tmp, (size_t) n + 1);
		resp->body = body;
		resp->body_len = (size_t) n;
	}
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s",
	    JSON_CT);
}

/* A request body nng did not read (we ask it not to on catch-all and
 * webhook handlers) would be parsed as the next request: close instead. */
bool
cxi_http_unread_body(nng_http_req *req)
{
	const char *cl = nng_http_req_get_header(req, "Content-Length");
	return (nng_http_req_get_header(req, "Transfer-Encoding") != NULL ||
	    (cl != NULL && strcmp(cl, "0") != 0));
}
