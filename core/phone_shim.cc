/*
 * phone_shim.cc - the extern "C" side of phone.h over libphonenumber.
 *
 * PhoneNumberUtil::GetInstance() is a thread-safe singleton and its
 * const methods keep no per-call state, so the shim needs no lock. No
 * C++ exception may cross into C: everything is caught here.
 */
#include <cstdio>
#include <cstring>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include "phone.h"

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

static void
set_why(char *why, size_t whylen, const char *fmt, const char *arg)
{
	if (why != nullptr && whylen > 0) {
		snprintf(why, whylen, fmt, arg != nullptr ? arg : "");
	}
}

/* Upper-case copy of a two-letter region, or "" when it is not one. */
static std::string
region_of(const char *r)
{
	if (r == nullptr || strlen(r) != 2) {
		return std::string();
	}
	std::string s(r);
	for (char &ch : s) {
		if (ch >= 'a' && ch <= 'z') {
			ch = (char) (ch - 'a' + 'A');
		}
		if (ch < 'A' || ch > 'Z') {
			return std::string();
		}
	}
	return s;
}

static bool
region_known(const PhoneNumberUtil *u, const std::string &r)
{
	return !r.empty() && u->GetCountryCodeForRegion(r) != 0;
}

extern "C" bool
cxi_phone_region_ok(const char *region)
{
	try {
		return region_known(PhoneNumberUtil::GetInstance(),
		    region_of(region));
	} catch (...) {
		return false;
	}
}

/* Why a parsed number is not valid, from its possible-length check. */
static void
invalid_why(const PhoneNumberUtil *u, const PhoneNumber &n, char *why,
    size_t whylen)
{
	std::string r;
	u->GetRegionCodeForCountryCode(n.country_code(), &r);
	const char *rc = r == "001" ? "non-geographic numbers" : r.c_str();
	switch (u->IsPossibleNumberWithReason(n)) {
	case PhoneNumberUtil::TOO_SHORT:
		set_why(why, whylen, "too short for %s", rc);
		break;
	case PhoneNumberUtil::TOO_LONG:
		set_why(why, whylen, "too long for %s", rc);
		break;
	case PhoneNumberUtil::INVALID_LENGTH:
		set_why(why, whylen, "wrong length for %s", rc);
		break;
	default:
		set_why(why, whylen, "invalid for region %s", rc);
		break;
	}
}

static int
normalize(const char *raw, const char *default_region, char *e164,
    size_t len, char region[3], char *why, size_t whylen)
{
	const PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
	if (raw == nullptr || raw[0] == '\0') {
		set_why(why, whylen, "empty phone number%s", "");
		return -1;
	}
	if (strlen(raw) > CXI_PHONE_RAW_MAX) {
		set_why(why, whylen, "too long%s", "");
		return -1;
	}
	std::string def = region_of(default_region);
	if (!region_known(u, def)) {
		def = "ZZ"; /* unknown region: only "+..." numbers parse */
	}
	PhoneNumber n;
	switch (u->Parse(std::string(raw), def, &n)) {
	case PhoneNumberUtil::NO_PARSING_ERROR:
		break;
	case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
		if (def == "ZZ") {
			set_why(why, whylen, "no +country code and no default "
			    "country%s", "");
		} else {
			set_why(why, whylen, "unknown country code%s", "");
		}
		return -1;
	case PhoneNumberUtil::NOT_A_NUMBER:
		set_why(why, whylen, "not a phone number%s", "");
		return -1;
	case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
	case PhoneNumberUtil::TOO_SHORT_NSN:
		set_why(why, whylen, "too short%s", "");
		return -1;
	case PhoneNumberUtil::TOO_LONG_NSN:
		set_why(why, whylen, "too long%s", "");
		return -1;
	default:
		set_why(why, whylen, "not a phone number%s", "");
		return -1;
	}
	if (!u->IsValidNumber(n)) {
		invalid_why(u, n, why, whylen);
		return -1;
	}
	std::string out, r;
	u->Format(n, PhoneNumberUtil::E164, &out);
	if (out.size() + 1 > len || out.size() + 1 > CXI_E164_MAX) {
		set_why(why, whylen, "too long%s", "");
		return -1;
	}
	memcpy(e164, out.c_str(), out.size() + 1);
	u->GetRegionCodeForNumber(n, &r);
	if (r.size() == 2 && r != "ZZ") {
		memcpy(region, r.c_str(), 3);
	} else {
		region[0] = '\0';
	}
	return 0;
}

extern "C" int
cxi_phone_normalize(const char *raw, const char *default_region, char *e164,
    size_t len, char region[3], char *why, size_t whylen)
{
	try {
		return normalize(raw, default_region, e164, len, region, why,
		    whylen);
	} catch (...) {
		set_why(why, whylen, "phone number could not be parsed%s", "");
		return -1;
	}
}
