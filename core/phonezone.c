/*
 * phonezone.c - the phone prefix -> time zone table: a decimal trie
 * (one node per digit of a prefix), so a lookup walks at most 15 nodes
 * and remembers the last node that carried a zone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phonezone.h"

/* E.164 allows 15 digits; no prefix can be longer. */
#define PREFIX_MAX 15
/* A table file is small (tens of KiB); refuse anything absurd. */
#define FILE_MAX (8 * 1024 * 1024)

typedef struct pz_node {
	int32_t child[10]; /* node index, 0: none (node 0 is the root) */
	int32_t zone;      /* index into zones, -1: none */
	uint32_t line;     /* where it was set, for duplicate messages */
} pz_node;

struct cxi_phonezones {
	pz_node *nodes;
	size_t n_nodes, cap_nodes;
	char **zones; /* distinct names */
	size_t n_zones, cap_zones;
	size_t n_prefixes;
};

bool
cxi_tz_exists(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;
	if (n == 0 || n > CXI_TZ_NAME_MAX || name[0] == '/' ||
	    name[n - 1] == '/') {
		return (false);
	}
	const char *seg = name;
	for (size_t i = 0; i <= n; i++) {
		char ch = name[i];
		if (ch == '/' || ch == '\0') {
			size_t sl = (size_t) (name + i - seg);
			if (sl == 0 || seg[0] == '.') {
				return (false);
			}
			seg = name + i + 1;
			continue;
		}
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		        ch == '+' || ch == '.')) {
			return (false);
		}
	}
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s",
	    dir != NULL && dir[0] != '\0' ? dir : "/usr/share/zoneinfo", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP) {
		/* Debian ships some zones as symlinks (backward names). */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		return (false);
	}
	char magic[4];
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return (ok);
}

static int32_t
node_new(cxi_phonezones *z)
{
	if (z->n_nodes == z->cap_nodes) {
		size_t nc = z->cap_nodes ? z->cap_nodes * 2 : 256;
		pz_node *nn = realloc(z->nodes, nc * sizeof(*nn));
		if (nn == NULL) {
			return (-1);
		}
		z->nodes = nn;
		z->cap_nodes = nc;
	}
	pz_node *p = &z->nodes[z->n_nodes];
	memset(p, 0, sizeof(*p));
	p->zone = -1;
	return ((int32_t) z->n_nodes++);
}

/* Index of `name` among the distinct zones, added when new. */
static int32_t
zone_index(cxi_phonezones *z, const char *name, size_t len)
{
	for (size_t i = 0; i < z->n_zones; i++) {
		if (strlen(z->zones[i]) == len &&
		    memcmp(z->zones[i], name, len) == 0) {
			return ((int32_t) i);
		}
	}
	if (z->n_zones == z->cap_zones) {
		size_t nc = z->cap_zones ? z->cap_zones * 2 : 64;
		char **nz = realloc(z->zones, nc * sizeof(*nz));
		if (nz == NULL) {
			return (-1);
		}
		z->zones = nz;
		z->cap_zones = nc;
	}
	if ((z->zones[z->n_zones] = strndup(name, len)) == NULL) {
		return (-1);
	}
	return ((int32_t) z->n_zones++);
}

void
cxi_phonezones_free(cxi_phonezones *z)
{
	if (z == NULL) {
		return;
	}
	for (size_t i = 0; i < z->n_zones; i++) {
		free(z->zones[i]);
	}
	free(z->zones);
	free(z->nodes);
	free(z);
}

size_t
cxi_phonezones_count(const cxi_phonezones *z)
{
	return (z != NULL ? z->n_prefixes : 0);
}

const char *
cxi_phonezones_lookup(const cxi_phonezones *z, const char *e164)
{
	if (z == NULL || e164 == NULL || e164[0] != '+') {
		return (NULL);
	}
	int32_t at = 0, best = -1;
	for (const char *p = e164 + 1; *p >= '0' && *p <= '9'; p++) {
		at = z->nodes[at].child[*p - '0'];
		if (at == 0) {
			break;
		}
		if (z->nodes[at].zone >= 0) {
			best = z->nodes[at].zone;
		}
	}
	return (best >= 0 ? z->zones[best] : NULL);
}

/* One line, comments and line ending already cut: "+digits<ws>zone". */
static cx_err
parse_line(cxi_phonezones *z, const char *name, unsigned lineno,
    const char *s, size_t len, char *why, size_t whylen)
{
	size_t i = 0;
	if (s[0] != '+') {
		snprintf(why, whylen, "%s:%u: expected +<digits> at the start "
		    "of the line", name, lineno);
		return (CX_EINVAL);
	}
	i = 1;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		i++;
	}
	size_t nd = i - 1;
	if (nd == 0 || nd > PREFIX_MAX || s[1] == '0') {
		snprintf(why, whylen, "%s:%u: the prefix must be + and 1 to %d "
		    "digits, not starting with 0", name, lineno, PREFIX_MAX);
		return (CX_EINVAL);
	}
	if (i == len || (s[i] != '\t' && s[i] != ' ')) {
		snprintf(why, whylen, "%s:%u: expected a tab and a time zone "
		    "after the prefix", name, lineno);
		return (CX_EINVAL);
	}
	while (i < len && (s[i] == '\t' || s[i] == ' ')) {
		i++;
	}
	size_t zs = i;
	while (i < len && s[i] != '\t' && s[i] != ' ') {
		i++;
	}
	size_t zl = i - zs;
	if (i < len) {
		snprintf(why, whylen, "%s:%u: unexpected text after the time "
		    "zone", name, lineno);
		return (CX_EINVAL);
	}
	char zn[CXI_TZ_NAME_MAX + 1];
	if (zl == 0 || zl > CXI_TZ_NAME_MAX) {
		snprintf(why, whylen, "%s:%u: missing or over-long time zone",
		    name, lineno);
		return (CX_EINVAL);
	}
	memcpy(zn, s + zs, zl);
	zn[zl] = '\0';
	if (!cxi_tz_exists(zn)) {
		snprintf(why, whylen, "%s:%u: unknown time zone '%s' (not in "
		    "the system tz database)", name, lineno, zn);
		return (CX_EINVAL);
	}
	int32_t at = 0;
	for (size_t k = 1; k <= nd; k++) {
		int d = s[k] - '0';
		if (z->nodes[at].child[d] == 0) {
			int32_t nn = node_new(z);
			if (nn < 0) {
				snprintf(why, whylen, "%s: out of memory", name);
				return (CX_ENOMEM);
			}
			z->nodes[at].child[d] = nn;
		}
		at = z->nodes[at].child[d];
	}
	if (z->nodes[at].zone >= 0) {
		snprintf(why, whylen, "%s:%u: prefix %.*s was already given at "
		    "line %u", name, lineno, (int) nd + 1, s,
		    z->nodes[at].line);
		return (CX_EINVAL);
	}
	int32_t zi = zone_index(z, zn, zl);
	if (zi < 0) {
		snprintf(why, whylen, "%s: out of memory", name);
		return (CX_ENOMEM);
	}
	z->nodes[at].zone = zi;
	z->nodes[at].line = lineno;
	z->n_prefixes++;
	return (CX_OK);
}

cx_err
cxi_phonezones_parse(const char *name, const char *text, size_t len,
    cxi_phonezones **out, char *why, size_t whylen)
{
	cxi_phonezones *z = calloc(1, sizeof(*z));
	*out = NULL;
	if (z == NULL || node_new(z) != 0) {
		cxi_phonezones_free(z);
		snprintf(why, whylen, "%s: out of memory", name);
		return (CX_ENOMEM);
	}
	unsigned lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t ll = nl != NULL ? (size_t) (nl - s) : len - pos;
		pos += ll + (nl != NULL);
		lineno++;
		const char *hash = memchr(s, '#', ll);
		if (hash != NULL) {
			ll = (size_t) (hash - s);
		}
		while (ll > 0 && (s[ll - 1] == ' ' || s[ll - 1] == '\t' ||
		                     s[ll - 1] == '\r')) {
			ll--;
		}
		if (ll == 0) {
			continue;
		}
		if (memchr(s, '\0', ll) != NULL) {
			snprintf(why, whylen, "%s:%u: NUL byte", name, lineno);
			cxi_phonezones_free(z);
			return (CX_EINVAL);
		}
		cx_err rv = parse_line(z, name, lineno, s, ll, why, whylen);
		if (rv != CX_OK) {
			cxi_phonezones_free(z);
			return (rv);
		}
	}
	if (z->n_prefixes == 0) {
		snprintf(why, whylen, "%s: no prefixes in the table", name);
		cxi_phonezones_free(z);
		return (CX_EINVAL);
	}
	*out = z;
	return (CX_OK);
}

cx_err
cxi_phonezones_load(const char *path, cxi_phonezones **out, char *why,
    size_t whylen)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return (CX_ENOENT);
	}
	char *buf = malloc(FILE_MAX);
	size_t n = buf != NULL ? fread(buf, 1, FILE_MAX, f) : 0;
	bool err = ferror(f) != 0, big = n == FILE_MAX;
	fclose(f);
	if (buf == NULL || err || big) {
		snprintf(why, whylen, "%s: %s", path, buf == NULL ?
		    "out of memory" : err ? "read error" : "file too large");
		free(buf);
		return (buf == NULL ? CX_ENOMEM : CX_EIO);
	}
	cx_err rv = cxi_phonezones_parse(path, buf, n, out, why, whylen);
	free(buf);
	return (rv);
}
