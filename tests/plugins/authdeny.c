/*
 * authdeny - a test policy module standing in for a rate limiter: it
 * denies policy.auth.* questions about one account (setting `account`,
 * a normalized email) with the reason format the accounts API reads,
 * "rate_limited retry_after=N", and allows everything else.
 */
#include <string.h>

#include <callixo/callixo.h>

typedef struct ad {
	char account[256];
	char reason[64];
} ad;

static const cx_setting ad_settings[] = {
    CX_SETTING_STR("account", 0, "blocked@example.com",
        "Normalized email whose auth attempts are denied"),
    CX_SETTING_INT("retry_after", 0, "42", 1, 86400,
        "Seconds put in the deny reason"),
    CX_SETTINGS_END,
};

static cx_verdict
ad_policy(void *arg, const cx_msg *q, const char **reason)
{
	ad *p = arg;
	const char *acc = json_string_value(json_object_get(q->data,
	    "account"));
	if (strncmp(q->type, "policy.auth.", 12) != 0 || acc == NULL ||
	    strcmp(acc, p->account) != 0) {
		return (CX_POLICY_ABSTAIN);
	}
	*reason = p->reason;
	return (CX_POLICY_DENY);
}

static cx_err
ad_init(void *state, const cx_host *h, const json_t *s)
{
	ad *p = state;
	snprintf(p->account, sizeof(p->account), "%s",
	    json_string_value(json_object_get(s, "account")));
	snprintf(p->reason, sizeof(p->reason), "rate_limited retry_after=%lld",
	    (long long) json_integer_value(json_object_get(s,
	        "retry_after")));
	if (!CX_HOST_HAS(h, answer_policy)) {
		return (CX_ENOTSUP);
	}
	return (h->answer_policy(h, ad_policy, p));
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_POLICY, .name = "authdeny",
    .version = "0.0.1", .summary = "Test plugin: denies auth for one account",
    .settings = ad_settings, .state_size = sizeof(ad), .init = ad_init);
