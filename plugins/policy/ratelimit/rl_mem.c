/*
 * rl_mem.c - token buckets in process memory.
 *
 * Used when no Redis is configured, and as the fallback while Redis
 * cannot be reached. A chained hash map under one mutex: each operation
 * touches at most three buckets, so contention stays short. A bucket that
 * has refilled to full carries no information, so the sweep drops it;
 * that bounds memory to the buckets touched within their refill time,
 * even when an attacker sprays addresses.
 */
#include <stdlib.h>
#include <string.h>

#include "rl.h"

typedef struct rl_ent {
	struct rl_ent *next;
	uint64_t hash;
	double tokens;
	int64_t ts; /* when tokens was last brought up to date */
	rl_rate rate;
	size_t keylen;
	char key[];
} rl_ent;

struct rl_mem {
	pthread_mutex_t mu;
	rl_ent **tab;
	size_t nb; /* power of two */
	size_t count;
};

#define RL_MEM_INITIAL 256

static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char) s[i];
		h *= 1099511628211ULL;
	}
	return (h);
}

cx_err
rl_mem_new(rl_mem **out)
{
	rl_mem *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return (CX_ENOMEM);
	}
	m->nb = RL_MEM_INITIAL;
	m->tab = calloc(m->nb, sizeof(*m->tab));
	if (m->tab == NULL || pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m->tab);
		free(m);
		return (CX_ENOMEM);
	}
	*out = m;
	return (CX_OK);
}

void
rl_mem_free(rl_mem *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->nb; i++) {
		rl_ent *e = m->tab[i];
		while (e != NULL) {
			rl_ent *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->tab);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* Doubles the table when chains get long. A failed allocation only
 * leaves the chains longer: lookups stay correct. */
static void
grow(rl_mem *m)
{
	size_t nb = m->nb * 2;
	rl_ent **tab = calloc(nb, sizeof(*tab));
	if (tab == NULL) {
		return;
	}
	for (size_t i = 0; i < m->nb; i++) {
		rl_ent *e = m->tab[i];
		while (e != NULL) {
			rl_ent *next = e->next;
			size_t b = (size_t) (e->hash & (nb - 1));
			e->next = tab[b];
			tab[b] = e;
			e = next;
		}
	}
	free(m->tab);
	m->tab = tab;
	m->nb = nb;
}

/* Finds the bucket for c, creating it full when absent, and brings its
 * tokens up to now under the current rate (a reload may have changed it). */
static rl_ent *
lookup(rl_mem *m, const rl_check *c, int64_t now_ms, bool create)
{
	uint64_t h = fnv1a(c->key, c->keylen);
	size_t b = (size_t) (h & (m->nb - 1));
	rl_ent *e;
	for (e = m->tab[b]; e != NULL; e = e->next) {
		if (e->hash == h && e->keylen == c->keylen &&
		    memcmp(e->key, c->key, c->keylen) == 0) {
			e->rate = c->rate;
			e->tokens = rl_refill(e->tokens, e->ts, now_ms, &e->rate);
			if (now_ms > e->ts) {
				e->ts = now_ms;
			}
			return (e);
		}
	}
	if (!create) {
		return (NULL);
	}
	if (m->count >= m->nb * 2) {
		grow(m);
		b = (size_t) (h & (m->nb - 1));
	}
	e = malloc(sizeof(*e) + c->keylen);
	if (e == NULL) {
		return (NULL);
	}
	e->hash = h;
	e->rate = c->rate;
	e->tokens = (double) c->rate.capacity;
	e->ts = now_ms;
	e->keylen = c->keylen;
	memcpy(e->key, c->key, c->keylen);
	e->next = m->tab[b];
	m->tab[b] = e;
	m->count++;
	return (e);
}

cx_err
rl_mem_take(rl_mem *m, const rl_check *c, size_t n, int64_t now_ms,
    bool *allowed, int64_t *wait_ms)
{
	rl_ent *ents[8];
	if (n > sizeof(ents) / sizeof(ents[0])) {
		return (CX_EINVAL);
	}
	pthread_mutex_lock(&m->mu);
	int64_t wait = 0;
	for (size_t i = 0; i < n; i++) {
		if ((ents[i] = lookup(m, &c[i], now_ms, true)) == NULL) {
			pthread_mutex_unlock(&m->mu);
			return (CX_ENOMEM);
		}
		int64_t w = rl_wait_ms(ents[i]->tokens, &ents[i]->rate);
		wait = w > wait ? w : wait;
	}
	/* All or nothing: a request denied by its account bucket must not
	 * also spend its IP's budget, or one attacker could drain a shared
	 * office IP by hammering a single locked account. */
	if (wait == 0) {
		for (size_t i = 0; i < n; i++) {
			ents[i]->tokens -= 1.0;
		}
	}
	pthread_mutex_unlock(&m->mu);
	*allowed = wait == 0;
	*wait_ms = wait;
	return (CX_OK);
}

void
rl_mem_give(rl_mem *m, const rl_check *c, int64_t now_ms)
{
	pthread_mutex_lock(&m->mu);
	rl_ent *e = lookup(m, c, now_ms, false);
	if (e != NULL) {
		e->tokens = rl_refill(e->tokens + 1.0, now_ms, now_ms, &e->rate);
	}
	pthread_mutex_unlock(&m->mu);
}

size_t
rl_mem_sweep(rl_mem *m, int64_t now_ms)
{
	size_t dropped = 0;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nb; i++) {
		rl_ent **pp = &m->tab[i];
		while (*pp != NULL) {
			rl_ent *e = *pp;
			double t = rl_refill(e->tokens, e->ts, now_ms, &e->rate);
			if (t >= (double) e->rate.capacity) {
				*pp = e->next;
				free(e);
				m->count--;
				dropped++;
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
	return (dropped);
}

size_t
rl_mem_count(rl_mem *m)
{
	pthread_mutex_lock(&m->mu);
	size_t n = m->count;
	pthread_mutex_unlock(&m->mu);
	return (n);
}
