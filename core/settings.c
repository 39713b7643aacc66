/*
 * settings.c - a plugin's `settings:` block checked against its declared
 * cx_setting table and turned into the JSON object handed to init.
 *
 * Typed keys read the scalar text whatever its quoting (the schema says
 * what it is); only OBJECT values, which have no schema, are typed by the
 * YAML 1.2 core schema, where quoting means "string". An explicit null
 * (`key:` or `key: ~`) counts as absent, so `${VAR:-}` can leave a key to
 * its default.
 */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "confutil.h"

#define DESC_HAS(d, f) ((d)->size >= offsetof(cx_plugin, f) + sizeof((d)->f))

typedef struct sctx {
	const char *file;
	char pfx[64];     /* "plugin 'x': " or "" */
	cxi_errlist *errs;
} sctx;

#define SERR(sc, l, c, fmt, ...) \
	cxi_errlist_add((sc)->errs, (sc)->file, (l), (c), "%s" fmt, \
	    (sc)->pfx, __VA_ARGS__)

static bool
is_float(const char *s)
{
	const char *p = s;
	bool digits = false;

	if (*p == '-' || *p == '+') {
		p++;
	}
	while (isdigit((unsigned char) *p)) {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char) *p)) {
			p++;
			digits = true;
		}
	}
	if (!digits) {
		return (false);
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+') {
			p++;
		}
		if (!isdigit((unsigned char) *p)) {
			return (false);
		}
		while (isdigit((unsigned char) *p)) {
			p++;
		}
	}
	return (*p == '\0');
}

/* Free-form YAML to JSON, typed by the core schema. NULL on a value JSON
 * cannot hold (invalid UTF-8) or ENOMEM; *bad names the node. */
static json_t *
ytojson(const cxi_ynode *n, const cxi_ynode **bad)
{
	json_t *j = NULL;
	long long iv;
	bool bv;

	if (n->type == CXI_Y_MAP || n->type == CXI_Y_SEQ) {
		bool map = n->type == CXI_Y_MAP;
		j = map ? json_object() : json_array();
		for (size_t i = 0; j != NULL && i < n->n; i++) {
			json_t *c = ytojson(n->items[i], bad);
			int rv = c == NULL ? -1 : map ?
			    json_object_set_new(j, n->keys[i], c) :
			    json_array_append_new(j, c);
			if (rv != 0) {
				json_decref(j);
				if (*bad == NULL) {
					*bad = n;
				}
				return (NULL);
			}
		}
		return (j);
	}
	if (n->quoted) {
		j = json_string(n->value);
	} else if (cxi_ynode_is_null(n)) {
		j = json_null();
	} else if (cxi_ynode_bool(n, &bv) == 0) {
		j = json_boolean(bv);
	} else if (cxi_ynode_int(n, &iv) == 0) {
		j = json_integer(iv);
	} else if (is_float(n->value) && isfinite(strtod(n->value, NULL))) {
		j = json_real(strtod(n->value, NULL));
	} else {
		/* .inf, .nan and everything else stay text. */
		j = json_string(n->value);
	}
	if (j == NULL) {
		*bad = n;
	}
	return (j);
}

static json_t *
str_value(sctx *sc, const cx_setting *s, const cxi_ynode *n)
{
	json_t *j = json_string(n->value);

	if (j == NULL) {
		SERR(sc, n->line, n->col, "the value of '%s' is not valid "
		    "UTF-8", s->key);
	}
	return (j);
}

static json_t *
enum_value(sctx *sc, const cx_setting *s, const cxi_ynode *n)
{
	size_t nc = 0;

	for (; s->choices != NULL && s->choices[nc] != NULL; nc++) {
		if (strcmp(n->value, s->choices[nc]) == 0) {
			return (json_string(n->value));
		}
	}
	char list[512] = "";
	size_t off = 0;
	for (size_t i = 0; i < nc && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s",
		    i ? ", " : "", s->choices[i]);
		off += w > 0 ? (size_t) w : 0;
	}
	const char *sug = s->choices != NULL ?
	    cxi_suggest(n->value, (const char *const *) s->choices, nc) : NULL;
	if (sug != NULL) {
		SERR(sc, n->line, n->col, "invalid value '%s' for '%s' (did you "
		    "mean '%s'?); expected one of: %s", n->value, s->key, sug,
		    list);
	} else {
		SERR(sc, n->line, n->col, "invalid value '%s' for '%s'; "
		    "expected one of: %s", n->value, s->key, list);
	}
	return (NULL);
}

static json_t *
list_value(sctx *sc, const cx_setting *s, const cxi_ynode *n)
{
	if (n->type != CXI_Y_SEQ) {
		SERR(sc, n->line, n->col, "expected a list for '%s', got %s",
		    s->key, cxi_ynode_kind_name(n));
		return (NULL);
	}
	json_t *a = json_array();
	bool ok = a != NULL;
	for (size_t i = 0; ok && i < n->n; i++) {
		const cxi_ynode *it = n->items[i];
		if (it->type != CXI_Y_SCALAR) {
			SERR(sc, it->line, it->col, "expected a string in "
			    "'%s', got %s", s->key, cxi_ynode_kind_name(it));
			ok = false;
		} else {
			json_t *v = str_value(sc, s, it);
			ok = v != NULL && json_array_append_new(a, v) == 0;
		}
	}
	if (!ok) {
		json_decref(a);
		return (NULL);
	}
	return (a);
}

static bool
in_range(const cx_setting *s, long long v)
{
	return ((s->min == 0 && s->max == 0) || (v >= s->min && v <= s->max));
}

/* The JSON for a present, non-null value; NULL (reported) when wrong. */
static json_t *
convert(sctx *sc, const cx_setting *s, const cxi_ynode *n)
{
	long long v;
	bool b;

	if (s->type != CX_SET_LIST && s->type != CX_SET_OBJECT &&
	    n->type != CXI_Y_SCALAR) {
		SERR(sc, n->line, n->col, "expected a scalar for '%s', got %s",
		    s->key, cxi_ynode_kind_name(n));
		return (NULL);
	}
	switch (s->type) {
	case CX_SET_STRING:
		return (str_value(sc, s, n));
	case CX_SET_INT:
		if (cxi_ynode_int(n, &v) != 0) {
			SERR(sc, n->line, n->col, "expected an integer for "
			    "'%s', got '%s'", s->key, n->value);
			return (NULL);
		}
		if (!in_range(s, v)) {
			SERR(sc, n->line, n->col, "'%s' must be between %lld "
			    "and %lld, got %lld", s->key, (long long) s->min,
			    (long long) s->max, v);
			return (NULL);
		}
		return (json_integer(v));
	case CX_SET_BOOL:
		if (cxi_ynode_bool(n, &b) != 0) {
			SERR(sc, n->line, n->col, "expected a boolean for "
			    "'%s', got '%s'", s->key, n->value);
			return (NULL);
		}
		return (json_boolean(b));
	case CX_SET_DURATION:
		if (cxi_duration_parse(n->value, &v) != 0) {
			SERR(sc, n->line, n->col, "expected a duration for "
			    "'%s' (e.g. 250ms, 10s, 5m, 2h), got '%s'", s->key,
			    n->value);
			return (NULL);
		}
		if (!in_range(s, v)) {
			SERR(sc, n->line, n->col, "'%s' must be between "
			    "%lldms and %lldms, got %lldms", s->key,
			    (long long) s->min, (long long) s->max, v);
			return (NULL);
		}
		return (json_integer(v));
	case CX_SET_ENUM:
		return (enum_value(sc, s, n));
	case CX_SET_LIST:
		return (list_value(sc, s, n));
	case CX_SET_OBJECT: {
		if (n->type != CXI_Y_MAP) {
			SERR(sc, n->line, n->col, "expected a mapping for "
			    "'%s', got %s", s->key, cxi_ynode_kind_name(n));
			return (NULL);
		}
		const cxi_ynode *bad = NULL;
		json_t *j = ytojson(n, &bad);
		if (j == NULL && bad != NULL) {
			SERR(sc, bad->line, bad->col, "a value in '%s' cannot "
			    "be represented in JSON (not valid UTF-8?)", s->key);
		}
		return (j);
	}
	}
	SERR(sc, n->line, n->col, "'%s' has an unknown type in the plugin's "
	    "schema", s->key);
	return (NULL);
}

/* The default of an absent key: its `def` read with the same rules
 * (LIST and OBJECT defaults are YAML flow text, e.g. "[a, b]"), or null. */
static json_t *
default_value(const cx_setting *s, char *why, size_t whylen)
{
	cxi_errlist tmp = {0};
	sctx sc = {.file = "<default>", .errs = &tmp};
	json_t *j = NULL;

	if (s->def == NULL) {
		return (json_null());
	}
	if (s->type == CX_SET_LIST || s->type == CX_SET_OBJECT) {
		cxi_ynode *n = cxi_yaml_parse("<default>", s->def,
		    strlen(s->def), &tmp);
		if (n != NULL && !cxi_ynode_is_null(n)) {
			j = convert(&sc, s, n);
		} else if (n != NULL) {
			j = json_null();
		}
		cxi_ynode_free(n);
	} else {
		cxi_ynode fake = {.type = CXI_Y_SCALAR, .line = 0, .col = 0,
		    .value = (char *) s->def, .quoted = true};
		j = convert(&sc, s, &fake);
	}
	if (j == NULL) {
		snprintf(why, whylen, "%s", tmp.n > 0 ? tmp.msgs[0] :
		    "out of memory");
	}
	cxi_errlist_clear(&tmp);
	return (j);
}

static void
unknown_key(sctx *sc, const cxi_ynode *map, size_t i,
    const cx_setting *schema)
{
	const char *cands[256] = {NULL};
	char list[1024] = "";
	size_t n = 0, off = 0;

	for (; schema != NULL && schema[n].key != NULL && n < 256; n++) {
		cands[n] = schema[n].key;
		int w = snprintf(list + off, off < sizeof(list) ?
		    sizeof(list) - off : 0, "%s%s", n ? ", " : "", cands[n]);
		off += w > 0 ? (size_t) w : 0;
		if (off >= sizeof(list)) {
			off = sizeof(list);
		}
	}
	const char *k = map->keys[i];
	const char *sug = cxi_suggest(k, cands, n);
	if (n == 0) {
		SERR(sc, map->key_line[i], map->key_col[i], "unknown key '%s' "
		    "in settings; the plugin declares no settings", k);
	} else if (sug != NULL) {
		SERR(sc, map->key_line[i], map->key_col[i], "unknown key '%s' "
		    "in settings (did you mean '%s'?); valid keys: %s", k, sug,
		    list);
	} else {
		SERR(sc, map->key_line[i], map->key_col[i], "unknown key '%s' "
		    "in settings; valid keys: %s", k, list);
	}
}

static const cx_setting *
schema_find(const cx_setting *schema, const char *key)
{
	for (size_t i = 0; schema != NULL && schema[i].key != NULL; i++) {
		if (strcmp(schema[i].key, key) == 0) {
			return (&schema[i]);
		}
	}
	return (NULL);
}

/* One declared key into obj. */
static void
one_key(sctx *sc, const cx_setting *s, const cxi_ynode *map, size_t line,
    size_t col, json_t *obj, json_t *fk)
{
	const cxi_ynode *v = cxi_ynode_get(map, s->key);
	json_t *j = NULL;
	char why[512];

	if (v != NULL && !cxi_ynode_is_null(v)) {
		j = convert(sc, s, v);
		if (j != NULL && v->from_file) {
			json_array_append_new(fk, json_string(s->key));
		}
	} else if (s->flags & CX_SET_REQUIRED) {
		if (v != NULL) {
			SERR(sc, v->line, v->col, "required setting '%s' is "
			    "empty", s->key);
		} else {
			SERR(sc, line, col, "missing required setting '%s'",
			    s->key);
		}
	} else if ((j = default_value(s, why, sizeof(why))) == NULL) {
		SERR(sc, line, col, "invalid default for '%s' in the plugin's "
		    "schema: %s", s->key, why);
	}
	if (j != NULL && json_object_set_new(obj, s->key, j) != 0) {
		SERR(sc, line, col, "cannot store '%s'", s->key);
	}
}

static json_t *
validate(const char *file, const cxi_ynode *node, size_t line, size_t col,
    const char *plugin, const cx_setting *schema, json_t **file_keys,
    cxi_errlist *errs)
{
	sctx sc = {.file = file, .errs = errs};
	size_t start = errs->n;
	const cxi_ynode *map = NULL;

	if (plugin != NULL) {
		snprintf(sc.pfx, sizeof(sc.pfx), "plugin '%s': ", plugin);
	}
	if (node != NULL && !cxi_ynode_is_null(node)) {
		if (node->type != CXI_Y_MAP) {
			SERR(&sc, node->line, node->col, "expected a mapping "
			    "for 'settings', got %s", cxi_ynode_kind_name(node));
			return (NULL);
		}
		map = node;
	}
	json_t *obj = json_object(), *fk = json_array();
	if (obj == NULL || fk == NULL) {
		SERR(&sc, line, col, "%s", "out of memory");
		goto fail;
	}
	for (size_t i = 0; map != NULL && i < map->n; i++) {
		if (schema_find(schema, map->keys[i]) == NULL) {
			unknown_key(&sc, map, i, schema);
		}
	}
	for (size_t i = 0; schema != NULL && schema[i].key != NULL; i++) {
		one_key(&sc, &schema[i], map, line, col, obj, fk);
	}
	if (errs->n > start) {
		goto fail;
	}
	if (file_keys != NULL) {
		*file_keys = fk;
	} else {
		json_decref(fk);
	}
	return (obj);
fail:
	json_decref(obj);
	json_decref(fk);
	return (NULL);
}

json_t *
cxi_settings_validate(const char *file, const cxi_ynode *node, size_t line,
    size_t col, const char *plugin, const cx_setting *schema,
    cxi_errlist *errs)
{
	return (validate(file, node, line, col, plugin, schema, NULL, errs));
}

json_t *
cxi_settings_validate_desc(const char *file, const cxi_ynode *node,
    size_t line, size_t col, const char *plugin, const cx_plugin *desc,
    json_t **file_keys, cxi_errlist *errs)
{
	const cx_setting *schema = DESC_HAS(desc, settings) ? desc->settings :
	    NULL;
	json_t *fk = NULL;
	json_t *obj = validate(file, node, line, col, plugin, schema, &fk,
	    errs);

	if (obj == NULL) {
		return (NULL);
	}
	if (DESC_HAS(desc, validate) && desc->validate != NULL) {
		char err[256];
		memset(err, 0, sizeof(err));
		cx_err rv = desc->validate(obj, err, sizeof(err) - 1);
		if (rv != CX_OK) {
			err[sizeof(err) - 1] = '\0';
			cxi_errlist_add(errs, file, line, col, "%s%s%s%s",
			    plugin ? "plugin '" : "", plugin ? plugin : "",
			    plugin ? "': " : "", err[0] ? err : cx_strerror(rv));
			json_decref(obj);
			json_decref(fk);
			return (NULL);
		}
	}
	if (file_keys != NULL) {
		*file_keys = fk;
	} else {
		json_decref(fk);
	}
	return (obj);
}

static void
redact(json_t *copy, const char *key)
{
	json_t *v = json_object_get(copy, key);

	if (v != NULL && !json_is_null(v)) {
		json_object_set_new(copy, key, json_string("***"));
	}
}

json_t *
cxi_settings_redacted_keys(const json_t *settings, const cx_setting *schema,
    const json_t *file_keys)
{
	json_t *copy = json_deep_copy(settings);
	size_t i;
	json_t *k;

	if (copy == NULL) {
		return (NULL);
	}
	for (i = 0; schema != NULL && schema[i].key != NULL; i++) {
		if (schema[i].flags & CX_SET_SECRET) {
			redact(copy, schema[i].key);
		}
	}
	json_array_foreach(file_keys, i, k) {
		if (json_is_string(k)) {
			redact(copy, json_string_value(k));
		}
	}
	return (copy);
}

json_t *
cxi_settings_redacted(const json_t *settings, const cx_setting *schema)
{
	return (cxi_settings_redacted_keys(settings, schema, NULL));
}

int
cxi_settings_schema_check(const cx_setting *schema, char *why,
    size_t whylen)
{
	for (size_t i = 0; schema != NULL && schema[i].key != NULL; i++) {
		const cx_setting *s = &schema[i];
		const char *d = s->description;
		while (d != NULL && isspace((unsigned char) *d)) {
			d++;
		}
		char dwhy[512];
		json_t *dj;
		if (s->key[0] == '\0') {
			snprintf(why, whylen, "entry %zu has an empty key", i);
		} else if (d == NULL || *d == '\0') {
			snprintf(why, whylen, "'%s' has no description",
			    s->key);
		} else if (s->type < CX_SET_STRING || s->type > CX_SET_OBJECT) {
			snprintf(why, whylen, "'%s' has an unknown type %d",
			    s->key, (int) s->type);
		} else if (s->type == CX_SET_ENUM && (s->choices == NULL ||
		    s->choices[0] == NULL)) {
			snprintf(why, whylen, "enum '%s' has no choices", s->key);
		} else if (s->min > s->max) {
			snprintf(why, whylen, "'%s' has min > max", s->key);
		} else if (schema_find(schema, s->key) != s) {
			snprintf(why, whylen, "'%s' is declared twice", s->key);
		} else if ((dj = default_value(s, dwhy, sizeof(dwhy))) == NULL) {
			snprintf(why, whylen, "'%s' has an invalid default: %s",
			    s->key, dwhy);
		} else {
			json_decref(dj);
			continue;
		}
		return (-1);
	}
	return (0);
}
