/*
 * baseline.c - a bare nng HTTP server: the ceiling for bench_http_core.
 * One GET handler, small JSON, nothing else. Usage: baseline <port>
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

static void
healthz(nng_aio *aio)
{
	static const char body[] = "{\"status\":\"ok\"}";
	nng_http_res *res;
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if (nng_http_res_set_header(res, "Content-Type", "application/json") != 0 ||
	    nng_http_res_copy_data(res, body, sizeof(body) - 1) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

int
main(int argc, char **argv)
{
	char url[64];
	nng_url *u;
	nng_http_server *s;
	nng_http_handler *h;
	sigset_t ss;
	int sig;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s", argc > 1 ? argv[1] : "0");
	if (nng_url_parse(&u, url) != 0 || nng_http_server_hold(&s, u) != 0 ||
	    nng_http_handler_alloc(&h, "/healthz", healthz) != 0 ||
	    nng_http_server_add_handler(s, h) != 0 || nng_http_server_start(s) != 0) {
		fprintf(stderr, "baseline: cannot serve %s\n", url);
		return (1);
	}
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	printf("%s\n", url);
	fflush(stdout);
	sigwait(&ss, &sig);
	nng_http_server_release(s);
	nng_url_free(u);
	return (0);
}
