/*
 * http_metrics.c - request counters and the Prometheus /metrics page.
 *
 * Counting is one relaxed atomic add into a per-template array, so the
 * hot paths (/healthz above all) never take a lock for it; only /metrics
 * and route registration walk the lists under their mutexes.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define PROM_CT "text/plain; version=0.0.4; charset=utf-8"

/* Prometheus label values escape backslash, quote and newline only. */
static void
prom_escape(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0;
	for (; *src != '\0' && n + 3 < dstlen; src++) {
		if (*src == '\\' || *src == '"') {
			dst[n++] = '\\';
			dst[n++] = *src;
		} else if (*src == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
		} else {
			dst[n++] = *src;
		}
	}
	dst[n] = '\0';
}

int
cxi_http_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt,
    ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = *cap - *len;
		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? room : 0, fmt,
		    ap);
		va_end(ap);
		if (n < 0) {
			return (CX_EINVAL);
		}
		if (*buf != NULL && (size_t) n < room) {
			*len += (size_t) n;
			return (CX_OK);
		}
		size_t ncap = *cap ? *cap : 4096;
		while (ncap - *len <= (size_t) n) {
			ncap *= 2;
		}
		char *nb = realloc(*buf, ncap);
		if (nb == NULL) {
			return (CX_ENOMEM);
		}
		*buf = nb;
		*cap = ncap;
	}
}

void
cxi_http_count(cxi_http_stat *st, uint16_t status)
{
	if (st != NULL) {
		atomic_fetch_add_explicit(
		    &st->codes[status < CXI_HTTP_MAX_STATUS ? status : 0], 1,
		    memory_order_relaxed);
	}
}

cxi_http_stat *
cxi_http_stat_get(cxi_http *h, const char *route)
{
	cxi_http_stat *st;

	pthread_mutex_lock(&h->stats_mtx);
	for (st = h->stats; st != NULL; st = st->next) {
		if (strcmp(st->route, route) == 0) {
			pthread_mutex_unlock(&h->stats_mtx);
			return (st);
		}
	}
	if ((st = calloc(1, sizeof(*st))) != NULL &&
	    (st->route = strdup(route)) == NULL) {
		free(st);
		st = NULL;
	}
	if (st != NULL) {
		for (size_t i = 0; i < CXI_HTTP_MAX_STATUS; i++) {
			atomic_init(&st->codes[i], 0);
		}
		/* Appended, so /metrics lists routes in a stable order. */
		cxi_http_stat **pp = &h->stats;
		while (*pp != NULL) {
			pp = &(*pp)->next;
		}
		*pp = st;
	}
	pthread_mutex_unlock(&h->stats_mtx);
	return (st);
}

static bool
metric_name_ok(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n > 64 || isdigit((unsigned char) m[0])) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char) m[i]) && m[i] != '_') {
			return (false);
		}
	}
	return (true);
}

static int
metrics_render(cxi_http *h, char **buf, size_t *len, size_t *cap)
{
	struct timespec now;
	int rv;
	char esc[256];

	clock_gettime(CLOCK_MONOTONIC, &now);
	double up = (double) (now.tv_sec - h->t0.tv_sec) +
	    (double) (now.tv_nsec - h->t0.tv_nsec) / 1e9;
	if ((rv = cxi_http_buf_printf(buf, len, cap,
	         "# HELP callixo_uptime_seconds Seconds since the HTTP "
	         "server started.\n"
	         "# TYPE callixo_uptime_seconds gauge\n"
	         "callixo_uptime_seconds %.3f\n"
	         "# HELP callixo_http_requests_total HTTP requests answered, "
	         "by route template and status code.\n"
	         "# TYPE callixo_http_requests_total counter\n",
	         up)) != CX_OK) {
		return (rv);
	}
	pthread_mutex_lock(&h->stats_mtx);
	for (cxi_http_stat *st = h->stats; st != NULL && rv == CX_OK;
	     st = st->next) {
		prom_escape(esc, sizeof(esc), st->route);
		for (int c = 0; c < CXI_HTTP_MAX_STATUS && rv == CX_OK; c++) {
			uint64_t v = atomic_load_explicit(
			    &st->codes[c], memory_order_relaxed);
			if (v == 0) {
				continue;
			}
			rv = cxi_http_buf_printf(buf, len, cap,
			    "callixo_http_requests_total{route=\"%s\","
			    "code=\"%d\"} %" PRIu64 "\n",
			    esc, c, v);
		}
	}
	pthread_mutex_unlock(&h->stats_mtx);

	/* One TYPE line per family, then all its samples together, as the
	 * text format requires. The list is short: O(n^2) is fine. */
	pthread_mutex_lock(&h->pm_mtx);
	for (cxi_pmetric *m = h->pmetrics; m != NULL && rv == CX_OK;
	     m = m->next) {
		bool seen = false;
		for (cxi_pmetric *p = h->pmetrics; p != m; p = p->next) {
			if (strcmp(p->name, m->name) == 0) {
				seen = true;
				break;
			}
		}
		if (seen) {
			continue;
		}
		rv = cxi_http_buf_printf(buf, len, cap,
		    "# TYPE callixo_plugin_%s counter\n", m->name);
		for (cxi_pmetric *p = m; p != NULL && rv == CX_OK;
		     p = p->next) {
			if (strcmp(p->name, m->name) != 0) {
				continue;
			}
			prom_escape(esc, sizeof(esc), p->plugin);
			rv = cxi_http_buf_printf(buf, len, cap,
			    "callixo_plugin_%s{plugin=\"%s\"} %" PRIdFAST64
			    "\n",
			    p->name, esc, atomic_load(&p->value));
		}
	}
	pthread_mutex_unlock(&h->pm_mtx);
	if (rv != CX_OK) {
		return (rv);
	}

	pthread_mutex_lock(&h->mfn_mtx);
	if (h->mfn != NULL) {
		h->mfn(h->mfn_arg, buf, len, cap);
	}
	pthread_mutex_unlock(&h->mfn_mtx);
	return (CX_OK);
}

void
cxi_http_metrics_cb(nng_aio *aio)
{
	cxi_http *h =
	    nng_http_handler_get_data(nng_aio_get_input(aio, 1));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	nng_http_res *res;

	/* Counted first so a scrape includes itself: the count is then
	 * monotonic from the scraper's point of view. */
	cxi_http_count(h->st_metrics, 200);
	if (metrics_render(h, &buf, &len, &cap) != CX_OK ||
	    (res = cxi_http_res_new(200, PROM_CT, buf, len)) == NULL) {
		free(buf);
		cxi_http_reply_error(aio, NULL, 500, "internal",
		    "cannot render metrics", false, NULL, NULL);
		return;
	}
	free(buf);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

void
cxi_http_set_metrics(cxi_http *h, cxi_metrics_fn fn, void *arg)
{
	pthread_mutex_lock(&h->mfn_mtx);
	h->mfn = fn;
	h->mfn_arg = arg;
	pthread_mutex_unlock(&h->mfn_mtx);
}

void
cxi_http_metric_add(cxi_http *h, const char *plugin, const char *m,
    int64_t delta)
{
	cxi_pmetric *pm, **pp;

	/* Counters only go up; a bad name would corrupt the exposition. */
	if (plugin == NULL || m == NULL || delta < 0 || !metric_name_ok(m)) {
		return;
	}
	pthread_mutex_lock(&h->pm_mtx);
	for (pp = &h->pmetrics; (pm = *pp) != NULL; pp = &pm->next) {
		if (strcmp(pm->name, m) == 0 &&
		    strcmp(pm->plugin, plugin) == 0) {
			break;
		}
	}
	if (pm == NULL && (pm = calloc(1, sizeof(*pm))) != NULL) {
		if ((pm->plugin = strdup(plugin)) == NULL ||
		    (pm->name = strdup(m)) == NULL) {
			free(pm->plugin);
			free(pm);
			pm = NULL;
		} else {
			atomic_init(&pm->value, 0);
			*pp = pm;
		}
	}
	if (pm != NULL) {
		atomic_fetch_add(&pm->value, delta);
	}
	pthread_mutex_unlock(&h->pm_mtx);
}
