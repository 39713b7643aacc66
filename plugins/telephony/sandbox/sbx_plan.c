/*
 * sbx_plan.c - seeded randomness and the timeline of one simulated call.
 *
 * Every random choice about a call comes from a stream keyed by the seed,
 * the call id and a purpose tag (outcome, timing, script, audio), so a
 * call's outcome does not change when, say, the talk time range does,
 * and one seed replays the same calls exactly.
 */
#include <string.h>
#include <time.h>

#include "sbx.h"

#define TAG_OUTCOME 0x6f7574636f6d65ULL
#define TAG_TIMING 0x74696d696e67ULL
/* The queued event goes out a moment after the place answer, as a
 * provider's first callback does. */
#define QUEUED_AT_MS 50

const char *const sbx_outcome_names[SBX_N_OUTCOMES + 1] = {
    CX_OUTCOME_ANSWERED, CX_OUTCOME_VOICEMAIL, CX_OUTCOME_BUSY,
    CX_OUTCOME_NO_ANSWER, CX_OUTCOME_FAILED, CX_OUTCOME_CANCELED};

const char *const sbx_status_names[SBX_ST_COUNT] = {CX_CALL_QUEUED,
    CX_CALL_RINGING, CX_CALL_IN_PROGRESS, CX_CALL_COMPLETED, CX_CALL_BUSY,
    CX_CALL_NO_ANSWER, CX_CALL_FAILED, CX_CALL_CANCELED, "recording"};

bool
sbx_status_live(sbx_status s)
{
	return (s == SBX_ST_QUEUED || s == SBX_ST_RINGING ||
	    s == SBX_ST_IN_PROGRESS);
}

int
sbx_status_parse(const char *s)
{
	for (int i = 0; s != NULL && i < SBX_ST_RECORDING; i++) {
		if (strcmp(s, sbx_status_names[i]) == 0) {
			return (i);
		}
	}
	return (-1);
}

int
sbx_outcome_parse(const char *s)
{
	for (int i = 0; s != NULL && i <= SBX_N_OUTCOMES; i++) {
		if (strcmp(s, sbx_outcome_names[i]) == 0) {
			return (i);
		}
	}
	return (-1);
}

int64_t
sbx_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* splitmix64: tiny, fast, and every output bit depends on every input
 * bit, so neighbouring call ids give unrelated streams. */
uint64_t
sbx_rng_next(sbx_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

sbx_rng
sbx_rng_for(int64_t seed, const char *call_id, uint64_t tag)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *) call_id;
	     p != NULL && *p != '\0'; p++) {
		h = (h ^ *p) * 0x100000001b3ULL;
	}
	sbx_rng r = {h ^ ((uint64_t) seed * 0x9e3779b97f4a7c15ULL) ^ tag};
	(void) sbx_rng_next(&r);
	return (r);
}

int64_t
sbx_rng_range(sbx_rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo) {
		return (lo);
	}
	uint64_t span = (uint64_t) (hi - lo) + 1;
	return (lo + (int64_t) (sbx_rng_next(r) % span));
}

sbx_outcome
sbx_pick_outcome(const int w[SBX_N_OUTCOMES], int64_t seed,
    const char *call_id)
{
	uint64_t sum = 0;
	for (int i = 0; i < SBX_N_OUTCOMES; i++) {
		sum += (uint64_t) w[i];
	}
	if (sum == 0) {
		return (SBX_ANSWERED);
	}
	sbx_rng r = sbx_rng_for(seed, call_id, TAG_OUTCOME);
	uint64_t x = sbx_rng_next(&r) % sum;
	for (int i = 0; i < SBX_N_OUTCOMES; i++) {
		if (x < (uint64_t) w[i]) {
			return ((sbx_outcome) i);
		}
		x -= (uint64_t) w[i];
	}
	return (SBX_ANSWERED);
}

static void
step(sbx_plan *p, sbx_status st, int64_t at)
{
	p->steps[p->nsteps].status = st;
	p->steps[p->nsteps].at = at;
	p->nsteps++;
}

void
sbx_plan_make(const sbx_config *c, const char *call_id, const json_t *req,
    int64_t voicemail_ms, sbx_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->outcome = sbx_pick_outcome(c->weights, c->seed, call_id);
	p->answered_at = -1;
	sbx_rng r = sbx_rng_for(c->seed, call_id, TAG_TIMING);
	int64_t dial = sbx_rng_range(&r, c->dial_min, c->dial_max);
	int64_t ring = sbx_rng_range(&r, c->ring_min, c->ring_max);
	int64_t talk = sbx_rng_range(&r, c->talk_min, c->talk_max);
	bool user_hung_up = sbx_rng_next(&r) & 1;
	int64_t t = QUEUED_AT_MS;
	step(p, SBX_ST_QUEUED, t);
	t += dial;
	switch (p->outcome) {
	case SBX_BUSY:
		step(p, SBX_ST_BUSY, t);
		p->reason = "dial_busy";
		return;
	case SBX_FAILED:
		step(p, SBX_ST_FAILED, t);
		p->reason = "dial_failed";
		return;
	case SBX_NO_ANSWER:
		step(p, SBX_ST_RINGING, t);
		step(p, SBX_ST_NO_ANSWER, t + c->no_answer_after);
		p->reason = "dial_no_answer";
		return;
	default:
		break;
	}
	step(p, SBX_ST_RINGING, t);
	t += ring;
	step(p, SBX_ST_IN_PROGRESS, t);
	p->answered_at = t;
	p->talk_ms = p->outcome == SBX_VOICEMAIL ? voicemail_ms : talk;
	step(p, SBX_ST_COMPLETED, t + p->talk_ms);
	if (p->outcome == SBX_VOICEMAIL) {
		p->reason = "voicemail_reached";
	} else {
		p->reason = user_hung_up ? "user_hangup" : "agent_hangup";
	}
	if (json_is_true(json_object_get(req, "record"))) {
		step(p, SBX_ST_RECORDING, t + p->talk_ms);
	}
}
