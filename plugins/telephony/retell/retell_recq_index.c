/*
 * retell_recq_index.c - the recording jobs in memory: call_id -> job (a
 * chained hash, so the webhook's "already queued?" is one probe) and
 * two binary heaps, pending jobs by when they are due and done jobs by
 * when they ended (the worker's next job and the pruning are the top
 * of one of them, whatever the number of jobs).
 */
#include <stdlib.h>
#include <string.h>

#include "retell_recq.h"

/* ---- index: call_id -> job, chained hash ---- */

static size_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s != '\0'; s++) {
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	}
	return ((size_t) h);
}

rt_job *
rt_jobs_find(const rt_jobs *s, const char *call_id)
{
	if (s->nbuckets == 0) {
		return (NULL);
	}
	rt_job *j = s->buckets[hash(call_id) & (s->nbuckets - 1)];
	while (j != NULL && strcmp(j->call_id, call_id) != 0) {
		j = j->hnext;
	}
	return (j);
}

bool
rt_index_add(rt_jobs *s, rt_job *j)
{
	if (s->n >= s->nbuckets) {
		size_t nb = s->nbuckets ? s->nbuckets * 2 : 256;
		rt_job **b = calloc(nb, sizeof(*b));
		if (b == NULL) {
			return (false);
		}
		for (size_t i = 0; i < s->nbuckets; i++) {
			rt_job *c = s->buckets[i], *nx;
			for (; c != NULL; c = nx) {
				nx = c->hnext;
				c->hnext = b[hash(c->call_id) & (nb - 1)];
				b[hash(c->call_id) & (nb - 1)] = c;
			}
		}
		free(s->buckets);
		s->buckets = b;
		s->nbuckets = nb;
	}
	rt_job **head = &s->buckets[hash(j->call_id) & (s->nbuckets - 1)];
	j->hnext = *head;
	*head = j;
	s->n++;
	return (true);
}

void
rt_index_del(rt_jobs *s, rt_job *j)
{
	rt_job **p = &s->buckets[hash(j->call_id) & (s->nbuckets - 1)];
	while (*p != NULL && *p != j) {
		p = &(*p)->hnext;
	}
	if (*p == j) {
		*p = j->hnext;
		s->n--;
	}
}

/* ---- heaps: pending by next_ms, done by done_ms ---- */

static bool
before(const rt_heap *h, const rt_job *a, const rt_job *b)
{
	int64_t ka = h->by_done ? a->done_ms : a->next_ms;
	int64_t kb = h->by_done ? b->done_ms : b->next_ms;
	return (ka < kb || (ka == kb && a->seq < b->seq));
}

static void
heap_set(rt_heap *h, size_t i, rt_job *j)
{
	h->a[i] = j;
	j->hidx = i;
}

void
rt_heap_fix(rt_heap *h, size_t i)
{
	rt_job *j = h->a[i];
	while (i > 0 && before(h, j, h->a[(i - 1) / 2])) {
		heap_set(h, i, h->a[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n) {
			break;
		}
		if (c + 1 < h->n && before(h, h->a[c + 1], h->a[c])) {
			c++;
		}
		if (!before(h, h->a[c], j)) {
			break;
		}
		heap_set(h, i, h->a[c]);
		i = c;
	}
	heap_set(h, i, j);
}

bool
rt_heap_push(rt_heap *h, rt_job *j)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 256;
		rt_job **a = realloc(h->a, cap * sizeof(*a));
		if (a == NULL) {
			return (false);
		}
		h->a = a;
		h->cap = cap;
	}
	heap_set(h, h->n++, j);
	rt_heap_fix(h, h->n - 1);
	return (true);
}

void
rt_heap_del(rt_heap *h, rt_job *j)
{
	size_t i = j->hidx;
	rt_job *last = h->a[--h->n];
	if (i < h->n) {
		heap_set(h, i, last);
		rt_heap_fix(h, i);
	}
}

void
rt_job_free(rt_job *j)
{
	if (j != NULL) {
		free(j->call_id);
		free(j->cx_call_id);
		free(j->url);
		free(j);
	}
}

