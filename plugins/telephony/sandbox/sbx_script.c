/*
 * sbx_script.c - what is said on a simulated call, built from the call's
 * variables: the greeting by name, the recording disclosure when it is
 * on, the callee's (seeded) interest, or a voicemail greeting followed by
 * the campaign's message. From it come the transcript with utterance
 * times, the summary, sentiment, success and a value for each requested
 * analysis field, by type.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx.h"

#define TAG_SCRIPT 0x736372697074ULL
#define WORD_MS 380 /* about 160 words a minute */
#define UTTER_PAD_MS 300
#define TURN_GAP_MS 600
#define BEEP_MS 800

static const char *
var(const json_t *req, const char *k)
{
	const char *v = json_string_value(
	    json_object_get(json_object_get(req, "variables"), k));
	return (v != NULL && v[0] != '\0' ? v : NULL);
}

/* A printf into a fresh string; NULL only when out of memory. */
static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	return (n < 0 ? NULL : s);
}

/* Replaces {{key}} with the variable's value (the core normally renders
 * the message already; this covers a template passed through as is). */
static char *
render(const char *tpl, const json_t *req)
{
	size_t cap = strlen(tpl) + 1, len = 0;
	char *out = malloc(cap);
	if (out == NULL) {
		return (NULL);
	}
	for (const char *p = tpl; *p != '\0';) {
		const char *end = strncmp(p, "{{", 2) == 0 ? strstr(p, "}}") : NULL;
		const char *val = NULL;
		char key[64];
		if (end != NULL && (size_t) (end - p - 2) < sizeof(key)) {
			size_t kl = (size_t) (end - p - 2);
			memcpy(key, p + 2, kl);
			key[kl] = '\0';
			char *k = key + strspn(key, " ");
			k[strcspn(k, " ")] = '\0';
			val = var(req, k);
		}
		const char *chunk = val != NULL ? val : p;
		size_t cl = val != NULL ? strlen(val) : 1;
		if (len + cl + 1 > cap) {
			cap = (len + cl + 1) * 2;
			char *n = realloc(out, cap);
			if (n == NULL) {
				free(out);
				return (NULL);
			}
			out = n;
		}
		memcpy(out + len, chunk, cl);
		len += cl;
		p = val != NULL ? end + 2 : p + 1;
	}
	out[len] = '\0';
	return (out);
}

static size_t
words(const char *s)
{
	size_t n = 0;
	bool in = false;
	for (; *s != '\0'; s++) {
		bool sp = *s == ' ' || *s == '\n' || *s == '\t';
		n += !sp && !in;
		in = !sp;
	}
	return (n);
}

/* Appends an utterance (text stolen) at *t, and moves *t past it. */
static void
say(json_t *utt, const char *speaker, char *text, int64_t *t)
{
	if (text == NULL) {
		return;
	}
	int64_t len = (int64_t) words(text) * WORD_MS + UTTER_PAD_MS;
	json_array_append_new(utt, json_pack("{s:s, s:s, s:I, s:I}", "speaker",
	    speaker, "text", text, "start_ms", (json_int_t) *t, "end_ms",
	    (json_int_t) (*t + len)));
	*t += len + TURN_GAP_MS;
	free(text);
}

static const char *
pick(sbx_rng *r, const char *const *opts, size_t n)
{
	return (opts[sbx_rng_next(r) % n]);
}

/* The middle of a longer conversation: pairs of agent and callee lines,
 * taken in turn until the call has its length. */
static const char *const more_yes[][2] = {
    {"It takes about ten minutes to set up, and there is nothing to "
     "install.", "How much does it cost?"},
    {"The first month is free, then there is a monthly plan sized to your "
     "needs.", "Does it work with what we already use?"},
    {"Yes, it connects to the usual tools, and we help with the move.",
     "Can you send me something in writing?"},
    {"Of course. I will email you a short overview today.",
     "Good, I will have a look at it this week."},
};
static const char *const more_no[][2] = {
    {"May I ask what you use today?",
     "We already have something that works for us."},
    {"That makes sense. Would a short comparison be useful later on?",
     "Not really, we are happy with it."},
    {"Understood. Should I take you off our list?",
     "Yes, please do not call again about this."},
};

#define CLOSING_MS 9000 /* about what the closing lines take */

static void
answered(json_t *sc, json_t *utt, const json_t *req, sbx_rng *r, int64_t *t,
    int64_t target)
{
	const char *name = var(req, "name") ? var(req, "name") :
	                                      var(req, "first_name");
	const char *agent = var(req, "agent_name") ? var(req, "agent_name") :
	                                             "Sam";
	const char *company = var(req, "company");
	const char *topic = var(req, "purpose") ? var(req, "purpose") :
	    var(req, "product") ? var(req, "product") : "our new service";
	bool interested = sbx_rng_next(r) % 100 < 55;
	static const char *const yes[] = {
	    "Yes, that sounds interesting. Tell me more.",
	    "Sure, I would like to hear more about that.",
	    "Actually yes, I was looking into this."};
	static const char *const no[] = {
	    "No thanks, I am not interested right now.",
	    "Sorry, this is not a good fit for me.",
	    "I would rather not, thank you."};
	const char *reply = interested ? pick(r, yes, 3) : pick(r, no, 3);

	say(utt, "agent", fmt("Hello, this is %s calling%s%s. %s%s%s", agent,
	    company ? " from " : "", company ? company : "",
	    name ? "Am I speaking with " : "Do you have a moment?",
	    name ? name : "", name ? "?" : ""), t);
	say(utt, "user", name ? fmt("Yes, this is %s.", name) :
	                        fmt("Yes, I have a minute."), t);
	bool disclosed = json_is_true(json_object_get(req, "disclosure"));
	if (disclosed) {
		say(utt, "agent", fmt("Before we continue, please note that this "
		    "call is recorded for quality and training purposes."), t);
	}
	say(utt, "agent", fmt("I am calling about %s. Would you be interested "
	    "in hearing more?", topic), t);
	say(utt, "user", fmt("%s", reply), t);
	size_t nmore = interested ? sizeof(more_yes) / sizeof(more_yes[0]) :
	                            sizeof(more_no) / sizeof(more_no[0]);
	for (size_t i = 0; target > 0 && *t + CLOSING_MS < target &&
	     i < 4 * nmore; i++) {
		const char *const *pair = interested ? more_yes[i % nmore] :
		                                       more_no[i % nmore];
		say(utt, "agent", fmt("%s", pair[0]), t);
		say(utt, "user", fmt("%s", pair[1]), t);
	}
	say(utt, "agent", interested ?
	    fmt("Great. I will send you the details and a colleague will "
	        "follow up%s%s.", name ? " with you, " : "", name ? name : "") :
	    fmt("I understand. Thank you for your time%s%s.",
	        name ? ", " : "", name ? name : ""), t);
	say(utt, "user", fmt(interested ? "Thank you, goodbye." : "Bye."), t);

	char *sum = fmt("%s answered%s. %s presented %s; the contact %s.",
	    name ? name : "The contact",
	    disclosed ? " and heard the recording disclosure" : "", agent,
	    topic, interested ? "was interested and asked for the details" :
	                        "declined and was thanked for their time");
	if (sum != NULL) {
		json_object_set_new(sc, "summary", json_string(sum));
		free(sum);
	}
	json_object_set_new(sc, "sentiment", json_string(interested ?
	    "positive" : sbx_rng_next(r) & 1 ? "negative" : "neutral"));
	json_object_set_new(sc, "success", json_boolean(interested));
	json_object_set_new(sc, "interested", json_boolean(interested));
	json_object_set_new(sc, "reply", json_string(reply));
}

static void
voicemail(json_t *sc, json_t *utt, const json_t *req, int64_t *t)
{
	const char *name = var(req, "name") ? var(req, "name") :
	                                      var(req, "first_name");
	const json_t *vm = json_object_get(req, "voicemail");
	const char *action = json_string_value(json_object_get(vm, "action"));
	const char *msg = json_string_value(json_object_get(vm, "message"));
	bool leave = action != NULL && strcmp(action, "message") == 0 &&
	    msg != NULL;
	say(utt, "user", name ?
	    fmt("Hi, you have reached %s. I cannot take your call right now, "
	        "please leave a message after the tone.", name) :
	    fmt("The person you are calling is not available. Please leave a "
	        "message after the tone."), t);
	json_object_set_new(sc, "beep_ms", json_integer(*t - TURN_GAP_MS));
	*t += BEEP_MS;
	if (leave) {
		say(utt, "agent", render(msg, req), t);
	}
	char *sum = fmt("The call reached %s's voicemail; the agent %s.",
	    name ? name : "the contact",
	    leave ? "left the campaign's message" :
	            "hung up without leaving a message");
	if (sum != NULL) {
		json_object_set_new(sc, "summary", json_string(sum));
		free(sum);
	}
	json_object_set_new(sc, "sentiment", json_string("neutral"));
	json_object_set_new(sc, "success", json_false());
	json_object_set_new(sc, "interested", json_false());
	json_object_set_new(sc, "left_message", json_boolean(leave));
}

/* One value per requested field, by type. */
static json_t *
analysis(const json_t *req, const json_t *sc, sbx_outcome oc, sbx_rng *r)
{
	const json_t *fields = json_object_get(json_object_get(req, "analysis"),
	    "fields");
	json_t *out = json_object();
	bool interested = json_is_true(json_object_get(sc, "interested"));
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *type = json_string_value(json_object_get(f, "type"));
		json_t *v = json_null();
		if (name == NULL || type == NULL) {
			continue;
		}
		if (strcmp(type, "boolean") == 0) {
			v = json_boolean(strstr(name, "interest") != NULL ?
			    interested :
			    oc == SBX_ANSWERED && (sbx_rng_next(r) & 1));
		} else if (oc != SBX_ANSWERED) {
			/* nothing was said to derive it from */
		} else if (strcmp(type, "number") == 0) {
			v = json_integer(interested ? sbx_rng_range(r, 6, 10) :
			                              sbx_rng_range(r, 0, 5));
		} else if (strcmp(type, "string") == 0) {
			v = json_incref(json_object_get(sc, "reply"));
		} else if (strcmp(type, "enum") == 0) {
			const json_t *ch = json_object_get(f, "choices");
			size_t n = json_array_size(ch);
			if (n > 0) {
				v = json_incref(json_array_get(ch,
				    sbx_rng_next(r) % n));
			}
		}
		json_object_set_new(out, name, v != NULL ? v : json_null());
	}
	return (out);
}

static void
scale(json_t *utt, int64_t natural, int64_t talk_ms)
{
	if (talk_ms <= 0 || natural <= 0) {
		return;
	}
	size_t i;
	json_t *u;
	json_array_foreach (utt, i, u) {
		for (int k = 0; k < 2; k++) {
			const char *key = k ? "end_ms" : "start_ms";
			int64_t v = json_integer_value(json_object_get(u, key));
			json_object_set_new(u, key,
			    json_integer(v * talk_ms / natural));
		}
	}
}

json_t *
sbx_script_make(const json_t *req, sbx_outcome oc, int64_t seed,
    const char *call_id, int64_t talk_ms)
{
	json_t *sc = json_object(), *utt = json_array();
	if (sc == NULL || utt == NULL) {
		json_decref(sc);
		json_decref(utt);
		return (NULL);
	}
	sbx_rng r = sbx_rng_for(seed, call_id, TAG_SCRIPT);
	int64_t t = 0;
	if (oc == SBX_VOICEMAIL) {
		voicemail(sc, utt, req, &t);
	} else {
		answered(sc, utt, req, &r, &t, talk_ms);
	}
	int64_t natural = t > TURN_GAP_MS ? t - TURN_GAP_MS + UTTER_PAD_MS : t;
	if (oc == SBX_ANSWERED) {
		scale(utt, natural, talk_ms);
		natural = talk_ms > 0 ? talk_ms : natural;
	}
	json_object_set_new(sc, "utterances", utt);
	json_object_set_new(sc, "length_ms", json_integer(natural));
	json_object_set_new(sc, "voicemail", json_boolean(oc == SBX_VOICEMAIL));
	const json_t *an = json_object_get(req, "analysis");
	if (json_is_array(json_object_get(an, "fields"))) {
		json_object_set_new(sc, "analysis", analysis(req, sc, oc, &r));
	}
	if (json_is_false(json_object_get(an, "summary"))) {
		json_object_del(sc, "summary");
	}
	return (sc);
}

int64_t
sbx_script_length(const json_t *sc)
{
	return (json_integer_value(json_object_get(sc, "length_ms")));
}

void
sbx_script_finish(const json_t *sc, int64_t talk_ms, bool cut, json_t *ev)
{
	json_t *utt = json_array();
	size_t i, cap = 256, len = 0;
	char *text = malloc(cap);
	json_t *u;
	if (text != NULL) {
		text[0] = '\0';
	}
	json_array_foreach (json_object_get(sc, "utterances"), i, u) {
		int64_t start = json_integer_value(json_object_get(u, "start_ms"));
		int64_t end = json_integer_value(json_object_get(u, "end_ms"));
		if (start >= talk_ms) {
			break;
		}
		json_t *c = json_deep_copy(u);
		if (end > talk_ms) {
			json_object_set_new(c, "end_ms", json_integer(talk_ms));
		}
		json_array_append_new(utt, c);
		const char *who = json_string_value(json_object_get(u, "speaker"));
		const char *t = json_string_value(json_object_get(u, "text"));
		size_t need = len + strlen(t) + 16;
		if (text != NULL && need > cap) {
			char *n = realloc(text, need * 2);
			if (n == NULL) {
				free(text);
			}
			text = n;
			cap = need * 2;
		}
		if (text != NULL) {
			len += (size_t) snprintf(text + len, cap - len, "%s%s: %s",
			    len ? "\n" : "", strcmp(who, "agent") == 0 ? "Agent" :
			                                                  "User", t);
		}
	}
	json_object_set_new(ev, "transcript", json_pack("{s:s, s:o}", "text",
	    text != NULL ? text : "", "utterances", utt));
	free(text);
	const char *sum = json_string_value(json_object_get(sc, "summary"));
	if (sum != NULL) {
		char *s = cut ? fmt("%s The call was ended by a hangup request "
		                    "after %lld s.", sum,
		                    (long long) (talk_ms / 1000)) :
		                fmt("%s", sum);
		if (s != NULL) {
			json_object_set_new(ev, "summary", json_string(s));
			free(s);
		}
	}
	if (json_object_get(sc, "sentiment") != NULL) {
		json_object_set(ev, "sentiment",
		    json_object_get(sc, "sentiment"));
	}
	json_object_set_new(ev, "success", json_boolean(!cut &&
	    json_is_true(json_object_get(sc, "success"))));
	json_object_set(ev, "voicemail", json_object_get(sc, "voicemail"));
	if (json_object_get(sc, "analysis") != NULL) {
		json_object_set(ev, "analysis", json_object_get(sc, "analysis"));
	}
}
