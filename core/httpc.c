/*
 * httpc.c - a small blocking HTTP client on nng.
 */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "httpc.h"

int
cxi_httpc_do(const char *method, const char *url, const char *const *headers,
    const char *body, size_t len, int *status, char **resp_body, size_t *resp_len)
{
	nng_url *u = NULL;
	nng_http_client *cli = NULL;
	nng_http_req *req = NULL;
	nng_http_res *res = NULL;
	nng_aio *aio = NULL;
	int rv = -1;
	if (nng_url_parse(&u, url) != 0 || nng_http_client_alloc(&cli, u) != 0 ||
	    nng_http_req_alloc(&req, u) != 0 || nng_http_res_alloc(&res) != 0 ||
	    nng_aio_alloc(&aio, NULL, NULL) != 0 ||
	    nng_http_req_set_method(req, method) != 0) {
		goto out;
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		char name[128];
		const char *colon = strchr(headers[i], ':');
		size_t n = colon ? (size_t) (colon - headers[i]) : 0;
		if (colon == NULL || n >= sizeof(name)) {
			goto out;
		}
		memcpy(name, headers[i], n);
		name[n] = '\0';
		if (nng_http_req_set_header(req, name,
		        colon + 1 + strspn(colon + 1, " ")) != 0) {
			goto out;
		}
	}
	if (len > 0 && nng_http_req_copy_data(req, body, len) != 0) {
		goto out;
	}
	nng_aio_set_timeout(aio, 15000);
	nng_http_client_transact(cli, req, res, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) != 0) {
		goto out;
	}
	void *data;
	size_t dlen;
	nng_http_res_get_data(res, &data, &dlen);
	*status = nng_http_res_get_status(res);
	if ((*resp_body = malloc(dlen + 1)) == NULL) {
		goto out;
	}
	if (dlen > 0) { /* an empty answer (204) has no data pointer */
		memcpy(*resp_body, data, dlen);
	}
	(*resp_body)[dlen] = '\0';
	if (resp_len != NULL) {
		*resp_len = dlen;
	}
	rv = 0;
out:
	nng_aio_free(aio);
	nng_http_res_free(res);
	nng_http_req_free(req);
	nng_http_client_free(cli);
	nng_url_free(u);
	return (rv);
}
