/*
 * http_routes.c - path normalisation and the plugin route table.
 *
 * Everything here parses untrusted request targets, so it has no nng in
 * it and is driven directly by tests/http/fuzz_route.c. The table is a
 * short list (a handful of webhooks per plugin) scanned under a rwlock:
 * requests only read it, plugin load/unload writes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') {
		return (c - '0');
	}
	if (c >= 'a' && c <= 'f') {
		return (c - 'a' + 10);
	}
	if (c >= 'A' && c <= 'F') {
		return (c - 'A' + 10);
	}
	return (-1);
}

/* Segments must be non-empty (except a final one, i.e. a trailing '/'),
 * and never "." or "..": a handler that maps subpaths to files or keys
 * must not be walked out of its tree. */
static bool
segments_ok(const char *path)
{
	const char *s = path + 1;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t) (e - s) : strlen(s);
		if (n == 0 && e != NULL) {
			return (false);
		}
		if ((n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.')) {
			return (false);
		}
		if (e == NULL) {
			return (true);
		}
		s = e + 1;
	}
}

int
cxi_http_path_split(const char *uri, char *path, size_t pathlen,
    const char **query)
{
	const char *p = uri;
	const char *end;
	size_t n = 0;

	*query = "";
	if (pathlen < 2) {
		return (414);
	}
	/* nng accepts the absolute form ("GET http://host/x"); strip the
	 * authority the same way it does so both agree on the path. */
	if (strncasecmp(p, "http://", 7) == 0) {
		p += 7;
	} else if (strncasecmp(p, "https://", 8) == 0) {
		p += 8;
	} else if (*p != '/') {
		return (400);
	}
	if (p != uri) {
		p += strcspn(p, "/?");
		if (*p != '/') {
			/* "http://host" or "http://host?q": the root. */
			if (*p == '?') {
				*query = p + 1;
			}
			path[0] = '/';
			path[1] = '\0';
			return (0);
		}
	}
	end = strchr(p, '?');
	if (end != NULL) {
		*query = end + 1;
	} else {
		end = p + strlen(p);
	}
	for (const char *s = p; s < end; s++) {
		int c = (unsigned char) *s;
		if (c == '%') {
			int hi, lo;
			if (end - s < 3) {
				return (400);
			}
			if ((hi = hexval((unsigned char) s[1])) < 0 ||
			    (lo = hexval((unsigned char) s[2])) < 0) {
				return (400);
			}
			c = hi * 16 + lo;
			s += 2;
			/* An encoded separator or NUL would let one segment
			 * smuggle a traversal past anything that splits on
			 * raw '/' (proxies, our own segment check). */
			if (c == 0 || c == '/' || c == '\\') {
				return (400);
			}
		} else if (c == '\\' || c == '#') {
			return (400);
		}
		if (c < 0x20 || c == 0x7f) {
			return (400);
		}
		if (n + 1 >= pathlen) {
			return (414);
		}
		path[n++] = (char) c;
	}
	path[n] = '\0';
	if (!segments_ok(path)) {
		return (400);
	}
	return (0);
}

bool
cxi_http_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		        c == '.')) {
			return (false);
		}
	}
	return (true);
}

bool
cxi_http_webhook_split(const char *path, char *plugin, size_t pluginlen,
    const char **subpath)
{
	static const char prefix[] = "/webhooks/";
	const char *p, *e;
	size_t n;

	/* The core's own API: /v1/... belongs to a reserved owner that no
	 * plugin can be named (plugin names cannot hold '@'). */
	if (strncmp(path, "/v1", 3) == 0 && (path[3] == '/' || path[3] == '\0')) {
		if (pluginlen <= strlen(CXI_HTTP_API_OWNER)) {
			return (false);
		}
		strcpy(plugin, CXI_HTTP_API_OWNER);
		*subpath = path[3] == '/' ? path + 3 : "/";
		return (true);
	}
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
		return (false);
	}
	p = path + sizeof(prefix) - 1;
	e = strchr(p, '/');
	n = e ? (size_t) (e - p) : strlen(p);
	if (n == 0 || n >= pluginlen) {
		return (false);
	}
	memcpy(plugin, p, n);
	plugin[n] = '\0';
	if (!cxi_http_name_ok(plugin)) {
		return (false);
	}
	*subpath = e ? e : "/";
	return (true);
}

static bool
method_ok(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n > 16) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		if (m[i] < 'A' || m[i] > 'Z') {
			return (false);
		}
	}
	return (true);
}

/* A registered subpath must already be in normal form, so that what a
 * plugin registers is exactly what a request can match. */
static bool
subpath_ok(const char *sub)
{
	char buf[CXI_HTTP_MAX_PATH];
	const char *q;
	if (sub[0] != '/' || strpbrk(sub, "?%") != NULL) {
		return (false);
	}
	if (cxi_http_path_split(sub, buf, sizeof(buf), &q) != 0) {
		return (false);
	}
	return (strcmp(buf, sub) == 0);
}

bool
cxi_routes_valid(const char *plugin, const char *method, const char *subpath)
{
	return (plugin != NULL && method != NULL && subpath != NULL &&
	    (cxi_http_name_ok(plugin) ||
	        strcmp(plugin, CXI_HTTP_API_OWNER) == 0) &&
	    method_ok(method) &&
	    subpath_ok(subpath));
}

int
cxi_routes_init(cxi_routes *rt)
{
	memset(rt, 0, sizeof(*rt));
	if (pthread_rwlock_init(&rt->lock, NULL) != 0) {
		return (CX_ENOMEM);
	}
	if (pthread_mutex_init(&rt->mtx, NULL) != 0) {
		pthread_rwlock_destroy(&rt->lock);
		return (CX_ENOMEM);
	}
	if (pthread_cond_init(&rt->cv, NULL) != 0) {
		pthread_mutex_destroy(&rt->mtx);
		pthread_rwlock_destroy(&rt->lock);
		return (CX_ENOMEM);
	}
	return (CX_OK);
}

static void
route_free(cxi_route *r)
{
	free(r->plugin);
	free(r->method);
	free(r->subpath);
	free(r);
}

void
cxi_routes_fini(cxi_routes *rt)
{
	cxi_route *r;
	while ((r = rt->head) != NULL) {
		rt->head = r->next;
		route_free(r);
	}
	pthread_cond_destroy(&rt->cv);
	pthread_mutex_destroy(&rt->mtx);
	pthread_rwlock_destroy(&rt->lock);
}

int
cxi_routes_add(cxi_routes *rt, const char *plugin, const char *method,
    const char *subpath, cx_http_fn fn, void *arg, cxi_http_stat *stat)
{
	cxi_route *r, **pp;

	if (fn == NULL || !cxi_routes_valid(plugin, method, subpath)) {
		return (CX_EINVAL);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return (CX_ENOMEM);
	}
	if ((r->plugin = strdup(plugin)) == NULL ||
	    (r->method = strdup(method)) == NULL ||
	    (r->subpath = strdup(subpath)) == NULL) {
		route_free(r);
		return (CX_ENOMEM);
	}
	r->sublen = strlen(subpath);
	r->tree = subpath[r->sublen - 1] == '/';
	r->fn = fn;
	r->arg = arg;
	r->stat = stat;

	if (pthread_rwlock_wrlock(&rt->lock) != 0) {
		route_free(r);
		return (CX_EINTERNAL);
	}
	for (pp = &rt->head; *pp != NULL; pp = &(*pp)->next) {
		cxi_route *o = *pp;
		if (strcmp(o->plugin, plugin) == 0 &&
		    strcmp(o->method, method) == 0 &&
		    strcmp(o->subpath, subpath) == 0) {
			pthread_rwlock_unlock(&rt->lock);
			route_free(r);
			return (CX_EEXIST);
		}
	}
	*pp = r;
	pthread_rwlock_unlock(&rt->lock);
	return (CX_OK);
}

static bool
sub_match(const cxi_route *r, const char *sub)
{
	if (!r->tree) {
		return (strcmp(sub, r->subpath) == 0);
	}
	if (strncmp(sub, r->subpath, r->sublen) == 0) {
		return (true);
	}
	/* "/events/" also answers "/events", as a directory would. */
	return (r->sublen > 1 && strlen(sub) == r->sublen - 1 &&
	    strncmp(sub, r->subpath, r->sublen - 1) == 0);
}

static void
allow_add(char *allow, size_t allowlen, const char *m)
{
	size_t ml = strlen(m), n = strlen(allow);
	for (const char *s = allow; *s != '\0';) {
		size_t l = strcspn(s, ",");
		if (l == ml && strncmp(s, m, ml) == 0) {
			return;
		}
		s += l;
		while (*s == ',' || *s == ' ') {
			s++;
		}
	}
	if (n + ml + 3 > allowlen) {
		return;
	}
	if (n > 0) {
		memcpy(allow + n, ", ", 2);
		n += 2;
	}
	memcpy(allow + n, m, ml + 1);
}

int
cxi_routes_set_max_body(cxi_routes *rt, const char *plugin,
    const char *method, const char *subpath, size_t max_body)
{
	int rv = CX_ENOENT;
	if (pthread_rwlock_wrlock(&rt->lock) != 0) {
		return (CX_EINTERNAL);
	}
	for (cxi_route *r = rt->head; r != NULL; r = r->next) {
		if (strcmp(r->plugin, plugin) == 0 &&
		    strcmp(r->method, method) == 0 &&
		    strcmp(r->subpath, subpath) == 0) {
			r->max_body = max_body;
			rv = CX_OK;
		}
	}
	pthread_rwlock_unlock(&rt->lock);
	return (rv);
}

static size_t
route_rank(const cxi_route *r)
{
	return (r->tree ? r->sublen : SIZE_MAX / 2 + r->sublen);
}

cxi_match
cxi_routes_match(cxi_routes *rt, const char *plugin, const char *method,
    const char *subpath, cxi_route **out, char *allow, size_t allowlen,
    cxi_http_stat **stat)
{
	cxi_route *best = NULL;
	cxi_match res;
	size_t hitlen = 0;

	*out = NULL;
	*stat = NULL;
	if (allowlen > 0) {
		allow[0] = '\0';
	}
	if (pthread_rwlock_rdlock(&rt->lock) != 0) {
		return (CXI_MATCH_NO_PATH);
	}
	for (cxi_route *r = rt->head; r != NULL; r = r->next) {
		if (strcmp(r->plugin, plugin) != 0 || !sub_match(r, subpath)) {
			continue;
		}
		/* An exact template wins, then the longest subtree: "/leads"
		 * beats "/leads/", which also matches the bare path. */
		if (strcmp(r->method, method) == 0) {
			if (best == NULL || route_rank(r) > route_rank(best)) {
				best = r;
			}
		} else {
			if (allowlen > 0) {
				allow_add(allow, allowlen, r->method);
			}
			if (*stat == NULL || r->sublen > hitlen) {
				*stat = r->stat;
				hitlen = r->sublen;
			}
		}
	}
	if (best != NULL) {
		/* Taking the reference under the read lock is what makes
		 * cxi_routes_drop safe: once it has unlinked the route under
		 * the write lock nobody can take a new one. */
		pthread_mutex_lock(&rt->mtx);
		best->running++;
		pthread_mutex_unlock(&rt->mtx);
		*out = best;
		*stat = best->stat;
		res = CXI_MATCH_FOUND;
	} else if (hitlen > 0) {
		res = CXI_MATCH_NO_METHOD;
	} else {
		*stat = NULL;
		res = CXI_MATCH_NO_PATH;
	}
	pthread_rwlock_unlock(&rt->lock);
	return (res);
}

void
cxi_routes_release(cxi_routes *rt, cxi_route *r)
{
	pthread_mutex_lock(&rt->mtx);
	if (--r->running == 0) {
		pthread_cond_broadcast(&rt->cv);
	}
	pthread_mutex_unlock(&rt->mtx);
}

size_t
cxi_routes_drop(cxi_routes *rt, const char *plugin)
{
	cxi_route *gone = NULL, **pp;
	size_t n = 0;

	if (pthread_rwlock_wrlock(&rt->lock) != 0) {
		return (0);
	}
	pp = &rt->head;
	while (*pp != NULL) {
		cxi_route *r = *pp;
		if (strcmp(r->plugin, plugin) == 0) {
			*pp = r->next;
			r->next = gone;
			gone = r;
			n++;
		} else {
			pp = &r->next;
		}
	}
	pthread_rwlock_unlock(&rt->lock);

	pthread_mutex_lock(&rt->mtx);
	for (cxi_route *r = gone; r != NULL; r = r->next) {
		while (r->running > 0) {
			pthread_cond_wait(&rt->cv, &rt->mtx);
		}
	}
	pthread_mutex_unlock(&rt->mtx);
	while (gone != NULL) {
		cxi_route *r = gone;
		gone = r->next;
		route_free(r);
	}
	return (n);
}

int
cxi_routes_each(cxi_routes *rt, cxi_http_route_fn fn, void *arg)
{
	int rv = 0;
	if (pthread_rwlock_rdlock(&rt->lock) != 0) {
		return (CX_EINTERNAL);
	}
	for (cxi_route *r = rt->head; r != NULL && rv == 0; r = r->next) {
		rv = fn(arg, r->plugin, r->method, r->subpath);
	}
	pthread_rwlock_unlock(&rt->lock);
	return (rv);
}
