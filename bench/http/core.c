/*
 * core.c - the Callixo HTTP front door (cxi_http) serving /healthz, to
 * compare with baseline.c. Usage: bench_http_core <port>
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "http.h"

int
main(int argc, char **argv)
{
	char url[64], why[256];
	cxi_http_opts o = { .workers = 4 };
	cxi_http *h;
	sigset_t ss;
	int sig;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s",
	    argc > 1 ? argv[1] : "0");
	o.listen = url;
	/* Signals blocked before any thread exists, so all inherit it. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if (cxi_http_start(&h, &o, why, sizeof(why)) != CX_OK) {
		fprintf(stderr, "bench_http_core: %s\n", why);
		return (1);
	}
	cxi_http_set_ready(h, true);
	printf("%s\n", cxi_http_url(h));
	fflush(stdout);
	sigwait(&ss, &sig);
	cxi_http_drain(h, 1000);
	cxi_http_stop(h);
	return (0);
}
