/*
 * config_auth.c - the `auth:` section: session cookies, browser origins,
 * session timeouts and password hashing (shared reference security.md,
 * S-2, S-6, X-1, H-1, H-4).
 *
 *   auth:
 *     cookie_secure: auto        # auto | always | never
 *     allowed_origins: ["https://app.example.com"]
 *     idle_timeout: 30m
 *     absolute_timeout: 12h
 *     argon2: {opslimit: 2, memlimit_mib: 64}
 *     common_passwords: common-passwords.txt
 *     hash_workers: 2
 */
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "confutil.h"
#include "password.h"

/* Host part of an http(s) URL into out ("127.0.0.1", "[::1]"). */
static void
url_host(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");
	p = p != NULL ? p + 3 : url;
	size_t n;
	if (*p == '[') {
		const char *e = strchr(p, ']');
		n = e != NULL ? (size_t) (e - p) + 1 : strlen(p);
	} else {
		n = strcspn(p, ":/");
	}
	if (n >= len) {
		n = len - 1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Only a plain-HTTP listener on a loopback address may send the cookie
 * without Secure (S-2): nothing but this machine can reach it. */
static bool
plain_loopback(const char *listen)
{
	char host[256];
	if (strncmp(listen, "http://", 7) != 0) {
		return (false);
	}
	url_host(listen, host, sizeof(host));
	return (strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
	    strcmp(host, "localhost") == 0);
}

/* An origin is scheme://host[:port] and nothing else: browsers send it
 * in exactly this form, and the check is an exact string comparison. */
static bool
origin_ok(const char *o)
{
	size_t skip;
	if (strncmp(o, "https://", 8) == 0) {
		skip = 8;
	} else if (strncmp(o, "http://", 7) == 0) {
		skip = 7;
	} else {
		return (false);
	}
	const char *h = o + skip;
	return (*h != '\0' && strpbrk(h, "/?#@ \t") == NULL);
}

static void
cfg_origins(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *seq)
{
	if (seq == NULL || cxi_ynode_is_null(seq)) {
		return;
	}
	if (seq->type != CXI_Y_SEQ) {
		CXI_CERR(cc, seq->line, seq->col, "expected a list for "
		    "'allowed_origins', got %s", cxi_ynode_kind_name(seq));
		return;
	}
	if (seq->n == 0) {
		CXI_CERR(cc, seq->line, seq->col, "'allowed_origins' must not "
		    "be empty (leave it out for the listen address's origin)");
		return;
	}
	cfg->auth_origins = calloc(seq->n, sizeof(char *));
	if (cfg->auth_origins == NULL) {
		CXI_CERR(cc, 0, 0, "out of memory");
		return;
	}
	for (size_t i = 0; i < seq->n; i++) {
		const cxi_ynode *it = seq->items[i];
		if (it->type != CXI_Y_SCALAR || !origin_ok(it->value)) {
			CXI_CERR(cc, it->line, it->col, "expected an origin "
			    "such as https://app.example.com (scheme, host and "
			    "optional port, no path) in 'allowed_origins'");
			continue;
		}
		char *copy = strdup(it->value);
		if (copy == NULL) {
			CXI_CERR(cc, 0, 0, "out of memory");
			return;
		}
		cfg->auth_origins[cfg->n_auth_origins++] = copy;
	}
}

static void
cfg_argon2(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *a)
{
	static const char *const keys[] = {"opslimit", "memlimit_mib", NULL};
	long long v;
	int o = 0, m = 0;

	if (cxi_cfg_map(cc, a, "argon2") <= 0) {
		return;
	}
	cxi_cfg_keys(cc, a, keys, "in auth.argon2");
	if ((o = cxi_cfg_int(cc, a, "opslimit", 1, 64, &v)) == 1) {
		cfg->auth_opslimit = (unsigned long long) v;
	}
	if ((m = cxi_cfg_int(cc, a, "memlimit_mib", 1, 1 << 20, &v)) == 1) {
		cfg->auth_memlimit = (size_t) v << 20;
	}
	if (o < 0 || m < 0) {
		return;
	}
	cxi_pwparams p;
	char why[256];
	cxi_pwparams_default(&p);
	p.opslimit = cfg->auth_opslimit;
	p.memlimit = cfg->auth_memlimit;
	if (cxi_pwparams_check(&p, why, sizeof(why)) != CX_OK) {
		/* Point at the value that is too small for its partner. */
		const cxi_ynode *n = cxi_ynode_get(a, "memlimit_mib");
		if (n == NULL) {
			n = cxi_ynode_get(a, "opslimit");
		}
		CXI_CERR(cc, n != NULL ? n->line : a->line,
		    n != NULL ? n->col : a->col, "auth.argon2: %s", why);
	}
}

void
cxi_cfg_auth(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *auth)
{
	static const char *const keys[] = {"cookie_secure", "allowed_origins",
	    "idle_timeout", "absolute_timeout", "argon2", "common_passwords",
	    "hash_workers", NULL};
	static const char *const modes[] = {"auto", "always", "never", NULL};
	long long v;
	int i;

	cfg->auth_cookie_mode = CXI_COOKIE_AUTO;
	cfg->auth_idle_ms = 30 * 60 * 1000;
	cfg->auth_absolute_ms = 12 * 3600 * 1000;
	cfg->auth_opslimit = CXI_PASSWORD_OPS_DEFAULT;
	cfg->auth_memlimit = CXI_PASSWORD_MEM_DEFAULT;
	cfg->auth_hash_workers = 2;
	int have = cxi_cfg_map(cc, auth, "auth");
	if (have > 0) {
		cxi_cfg_keys(cc, auth, keys, "in auth");
		if (cxi_cfg_enum(cc, auth, "cookie_secure", modes, &i) == 1) {
			cfg->auth_cookie_mode = (cxi_cookie_mode) i;
		}
		cfg_origins(cc, cfg, cxi_ynode_get(auth, "allowed_origins"));
		cxi_cfg_dur(cc, auth, "idle_timeout", 1000, &cfg->auth_idle_ms);
		cxi_cfg_dur(cc, auth, "absolute_timeout", 1000,
		    &cfg->auth_absolute_ms);
		cfg_argon2(cc, cfg, cxi_ynode_get(auth, "argon2"));
		cxi_cfg_path(cc, auth, "common_passwords",
		    &cfg->auth_common_passwords);
		if (cxi_cfg_int(cc, auth, "hash_workers", 1, 64, &v) == 1) {
			cfg->auth_hash_workers = (int) v;
		}
	}
	if (cfg->auth_common_passwords == NULL) {
		cfg->auth_common_default = true;
		cfg->auth_common_passwords = cxi_path_join(cc->dir,
		    "common-passwords.txt");
		if (cfg->auth_common_passwords == NULL) {
			CXI_CERR(cc, 0, 0, "out of memory");
		}
	}
	bool loop = plain_loopback(cfg->listen);
	cfg->auth_cookie_secure = cfg->auth_cookie_mode == CXI_COOKIE_ALWAYS ||
	    (cfg->auth_cookie_mode == CXI_COOKIE_AUTO && !loop);
	if (cfg->auth_cookie_mode == CXI_COOKIE_NEVER &&
	    strncmp(cfg->listen, "http://", 7) == 0 && !loop) {
		const cxi_ynode *n = cxi_ynode_get(auth, "cookie_secure");
		CXI_CERR(cc, n->line, n->col, "auth.cookie_secure: never is "
		    "only allowed on a plain-HTTP loopback listen address "
		    "(%s is reachable from other machines)", cfg->listen);
	}
	if (cfg->auth_idle_ms > cfg->auth_absolute_ms) {
		const cxi_ynode *n = cxi_ynode_get(auth, "idle_timeout");
		CXI_CERR(cc, n != NULL ? n->line : auth->line,
		    n != NULL ? n->col : auth->col, "auth.idle_timeout must "
		    "not be longer than auth.absolute_timeout");
	}
}
