/*
 * httpwire.h - HTTP requests and responses as JSON, for plugins that run
 * in their own process: the daemon forwards a webhook to the plugin host
 * as a CX_SVC_HTTP_REQUEST bus request and turns the reply back into an
 * HTTP response. Bodies travel base64-encoded (webhook bodies can be
 * binary, JSON strings cannot).
 */
#ifndef CXI_HTTPWIRE_H
#define CXI_HTTPWIRE_H

#include <jansson.h>
#include <callixo/http.h>

json_t *cxi_httpwire_req_encode(const cx_http_req *req);
/* Fills *req with pointers into `j` and a malloc'd header array and body
 * (free with cxi_httpwire_req_release). Returns 0 or -1 if malformed. */
int cxi_httpwire_req_decode(const json_t *j, cx_http_req *req);
void cxi_httpwire_req_release(cx_http_req *req);

json_t *cxi_httpwire_resp_encode(const cx_http_resp *resp);
int cxi_httpwire_resp_decode(const json_t *j, cx_http_resp *resp);

#endif
