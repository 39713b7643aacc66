/*
 * sbx_config.c - the sandbox's settings: schema, parsing and the
 * cross-field rules the core cannot express (min <= max, the outcome mix).
 */
#include <stdio.h>
#include <string.h>

#include "sbx.h"

#define RL CX_SET_RELOADABLE
#define DAY_MS (24LL * 3600 * 1000)

const cx_setting sbx_settings[] = {
    CX_SETTING_INT("seed", RL, "1", 0, 0,
        "Seed of every random choice: the same seed and call_id always "
        "give the same outcome, timing, transcript and recording"),
    CX_SETTING_OBJECT("outcomes", RL,
        "Weights of the outcome mix, e.g. {answered: 70, voicemail: 10, "
        "busy: 8, no_answer: 8, failed: 4} (the default when unset). A "
        "given mapping replaces the mix: keys it leaves out weigh 0"),
    CX_SETTING_DURATION("dial_min", RL, "500ms", 0, 600000,
        "Shortest time from queued to ringing (call time)"),
    CX_SETTING_DURATION("dial_max", RL, "2s", 0, 600000,
        "Longest time from queued to ringing (call time)"),
    CX_SETTING_DURATION("ring_min", RL, "2s", 0, 600000,
        "Shortest ringing before a callee answers (call time)"),
    CX_SETTING_DURATION("ring_max", RL, "12s", 0, 600000,
        "Longest ringing before a callee answers (call time)"),
    CX_SETTING_DURATION("talk_min", RL, "20s", 0, 3600000,
        "Shortest conversation of an answered call (call time)"),
    CX_SETTING_DURATION("talk_max", RL, "90s", 0, 3600000,
        "Longest conversation of an answered call (call time)"),
    CX_SETTING_DURATION("no_answer_after", RL, "30s", 0, 600000,
        "How long an unanswered call rings before it ends no_answer"),
    CX_SETTING_INT("speed", RL, "1", 1, 100000,
        "Time multiplier: call time runs this many times faster than the "
        "wall clock (tests use 100 or more). Timestamps in events are wall "
        "clock; durations, transcripts and recordings keep call time"),
    CX_SETTING_DURATION("place_latency", RL, "20ms", 0, 60000,
        "Wall time a place request takes before its answer, like a "
        "provider's API round trip (blocks one bus worker meanwhile)"),
    CX_SETTING_INT("recording_seconds", RL, "20", 1, 600,
        "Cap on the length of a generated recording, in seconds"),
    CX_SETTING_INT("fail_place", RL, "0", 0, 100,
        "Percent of place requests refused as a provider under stress "
        "would: half rate limited (busy, 429), half 5xx (I/O error)"),
    CX_SETTING_INT("timeout_place", RL, "0", 0, 100,
        "Percent of place requests whose call is created but whose answer "
        "is lost (timed out): the dialer must reconcile with a lookup"),
    CX_SETTING_INT("price_per_minute", RL, "0", 0, 100000000,
        "Simulated price in micros of the currency per started minute of "
        "an answered call, reported as cost_micros"),
    CX_SETTING_STR("currency", RL, "USD",
        "ISO 4217 code reported with cost_micros"),
    CX_SETTING_INT("event_retries", RL, "12", 0, 1000,
        "Deliveries of one event after the first, when the core does not "
        "acknowledge it; then the event is dropped (and logged)"),
    CX_SETTING_DURATION("retry_backoff", RL, "1s", 1, 3600000,
        "Delay before the first retry of an event; doubled each time"),
    CX_SETTING_DURATION("retry_backoff_max", RL, "5m", 1, 86400000,
        "Longest delay between two retries of an event"),
    CX_SETTING_DURATION("event_timeout", RL, "10s", 10, 600000,
        "How long one delivery waits for the core's answer"),
    CX_SETTING_INT("workers", 0, "4", 1, 64,
        "Threads delivering events to the core (a slow core then holds "
        "at most this many deliveries at once)"),
    CX_SETTING_DURATION("journal_max_age", 0, "168h", 60000,
        3650 * DAY_MS,
        "Finished calls older than this leave the journal at start; "
        "lookups no longer find them"),
    CX_SETTINGS_END,
};

static const int sbx_default_weights[SBX_N_OUTCOMES] = {70, 10, 8, 8, 4};

static int64_t
ival(const json_t *s, const char *k)
{
	return ((int64_t) json_integer_value(json_object_get(s, k)));
}

static bool
parse_weights(const json_t *o, int w[SBX_N_OUTCOMES], char *err,
    size_t errlen)
{
	if (o == NULL || json_is_null(o)) {
		memcpy(w, sbx_default_weights, sizeof(sbx_default_weights));
		return (true);
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "outcomes must be a mapping of outcome "
		    "to weight");
		return (false);
	}
	memset(w, 0, sizeof(int) * SBX_N_OUTCOMES);
	const char *k;
	json_t *v;
	long sum = 0;
	json_object_foreach ((json_t *) o, k, v) {
		int i = sbx_outcome_parse(k);
		if (i < 0 || i >= SBX_N_OUTCOMES) {
			snprintf(err, errlen, "outcomes: unknown outcome '%s' "
			    "(answered, voicemail, busy, no_answer, failed)", k);
			return (false);
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000) {
			snprintf(err, errlen, "outcomes: weight of %s must be "
			    "an integer from 0 to 1000000", k);
			return (false);
		}
		w[i] = (int) json_integer_value(v);
		sum += w[i];
	}
	if (sum == 0) {
		snprintf(err, errlen, "outcomes: at least one weight must be "
		    "above 0");
		return (false);
	}
	return (true);
}

static bool
range_ok(const json_t *s, const char *lo, const char *hi, char *err,
    size_t errlen)
{
	if (ival(s, lo) > ival(s, hi)) {
		snprintf(err, errlen, "%s (%lld ms) must not exceed %s (%lld ms)",
		    lo, (long long) ival(s, lo), hi, (long long) ival(s, hi));
		return (false);
	}
	return (true);
}

bool
sbx_config_parse(const json_t *s, sbx_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (!parse_weights(json_object_get(s, "outcomes"), c->weights, err,
	        errlen) ||
	    !range_ok(s, "dial_min", "dial_max", err, errlen) ||
	    !range_ok(s, "ring_min", "ring_max", err, errlen) ||
	    !range_ok(s, "talk_min", "talk_max", err, errlen) ||
	    !range_ok(s, "retry_backoff", "retry_backoff_max", err, errlen)) {
		return (false);
	}
	if (ival(s, "fail_place") + ival(s, "timeout_place") > 100) {
		snprintf(err, errlen, "fail_place + timeout_place must not "
		    "exceed 100 (percent of place requests)");
		return (false);
	}
	const char *cur = json_string_value(json_object_get(s, "currency"));
	if (cur == NULL || strlen(cur) != 3 || strspn(cur,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
		snprintf(err, errlen, "currency must be an ISO 4217 code of "
		    "three capital letters, e.g. USD");
		return (false);
	}
	c->seed = ival(s, "seed");
	c->dial_min = ival(s, "dial_min");
	c->dial_max = ival(s, "dial_max");
	c->ring_min = ival(s, "ring_min");
	c->ring_max = ival(s, "ring_max");
	c->talk_min = ival(s, "talk_min");
	c->talk_max = ival(s, "talk_max");
	c->no_answer_after = ival(s, "no_answer_after");
	c->speed = (int) ival(s, "speed");
	c->place_latency = ival(s, "place_latency");
	c->recording_seconds = (int) ival(s, "recording_seconds");
	c->fail_place = (int) ival(s, "fail_place");
	c->timeout_place = (int) ival(s, "timeout_place");
	c->price_per_minute = ival(s, "price_per_minute");
	snprintf(c->currency, sizeof(c->currency), "%s", cur);
	c->event_retries = (int) ival(s, "event_retries");
	c->retry_backoff = ival(s, "retry_backoff");
	c->retry_backoff_max = ival(s, "retry_backoff_max");
	c->event_timeout = ival(s, "event_timeout");
	c->workers = (int) ival(s, "workers");
	c->journal_max_age = ival(s, "journal_max_age");
	if (c->speed < 1) {
		c->speed = 1;
	}
	return (true);
}

cx_err
sbx_validate(const json_t *s, char *err, size_t errlen)
{
	sbx_config c;
	return (sbx_config_parse(s, &c, err, errlen) ? CX_OK : CX_ECONFIG);
}
