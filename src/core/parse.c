/*
 * Scalar parsers. Pure functions over NUL-terminated strings; unit-tested
 * table by table in tests/unit/test_parse.c.
 */
#include "parse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Parse leading decimal digits; *end points after them. */
static enum cmh_err parse_digits(const char *s, uint64_t *ret, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return CMH_ERR_PARSE;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return CMH_ERR_PARSE;
		v = v * 10 + d;
	}
	*ret = v;
	*end = p;
	return CMH_OK;
}

enum cmh_err cmh_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v;
	const char *end;

	if (!s || parse_digits(s, &v, &end) || *end)
		return CMH_ERR_PARSE;
	*ret = v;
	return CMH_OK;
}

struct unit {
	const char *suffix;
	uint64_t factor;
};

static enum cmh_err parse_with_units(const char *s, const struct unit *units,
				     uint64_t plain_factor, uint64_t *ret)
{
	uint64_t v;
	const char *end;

	if (!s || parse_digits(s, &v, &end))
		return CMH_ERR_PARSE;
	if (*end == '\0') {
		if (v > UINT64_MAX / plain_factor)
			return CMH_ERR_PARSE;
		*ret = v * plain_factor;
		return CMH_OK;
	}
	for (const struct unit *u = units; u->suffix; u++) {
		if (strcasecmp(end, u->suffix) == 0) {
			if (v > UINT64_MAX / u->factor)
				return CMH_ERR_PARSE;
			*ret = v * u->factor;
			return CMH_OK;
		}
	}
	return CMH_ERR_PARSE;
}

enum cmh_err cmh_parse_duration_ms(const char *s, uint64_t *ret_ms)
{
	static const struct unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }, { NULL, 0 },
	};
	return parse_with_units(s, units, 1000, ret_ms);
}

enum cmh_err cmh_parse_size(const char *s, uint64_t *ret_bytes)
{
	static const struct unit units[] = {
		{ "k", 1024 }, { "kb", 1024 }, { "kib", 1024 },
		{ "m", 1024 * 1024 }, { "mb", 1024 * 1024 }, { "mib", 1024 * 1024 },
		{ "g", 1024 * 1024 * 1024 }, { "gb", 1024 * 1024 * 1024 },
		{ "gib", 1024 * 1024 * 1024 }, { "b", 1 }, { NULL, 0 },
	};
	return parse_with_units(s, units, 1, ret_bytes);
}

enum cmh_err cmh_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };

	if (!s)
		return CMH_ERR_PARSE;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return CMH_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return CMH_OK;
		}
	}
	return CMH_ERR_PARSE;
}

/* Exactly n digits at *p, advancing it. */
static bool fixed_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* Zone: Z, ±HH, ±HHMM, ±HH:MM. Returns offset east of UTC in minutes. */
static bool parse_zone(const char *p, int *ret_minutes)
{
	int sign, hh, mm = 0;

	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
		*ret_minutes = 0;
		return true;
	}
	if (*p != '+' && *p != '-')
		return false;
	sign = *p++ == '-' ? -1 : 1;
	if (!fixed_digits(&p, 2, &hh) || hh > 23)
		return false;
	if (*p == ':')
		p++;
	if (*p && (!fixed_digits(&p, 2, &mm) || mm > 59))
		return false;
	if (*p)
		return false;
	*ret_minutes = sign * (hh * 60 + mm);
	return true;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/*
 * Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). Plain arithmetic instead of timegm(), which reports
 * 1969-12-31T23:59:59Z as an error (-1) and silently normalises Feb 31.
 */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

enum cmh_err cmh_parse_time_ms(const char *s, int64_t *ret_ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, zone, ms = 0;
	int64_t t;

	if (!s || !fixed_digits(&p, 4, &y) || !expect(&p, '-') || !fixed_digits(&p, 2, &mo) ||
	    !expect(&p, '-') || !fixed_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return CMH_ERR_PARSE;
	p++;
	if (!fixed_digits(&p, 2, &h) || !expect(&p, ':') || !fixed_digits(&p, 2, &mi) ||
	    !expect(&p, ':') || !fixed_digits(&p, 2, &sec))
		return CMH_ERR_PARSE;
	if (*p == '.') {
		int digits = 0;
		for (p++; isdigit((unsigned char)*p); p++, digits++) {
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		}
		if (digits == 0)
			return CMH_ERR_PARSE;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (!parse_zone(p, &zone))
		return CMH_ERR_PARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return CMH_ERR_PARSE;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	*ret_ms = (t - (int64_t)zone * 60) * 1000 + ms;
	return CMH_OK;
}

void cmh_format_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "?");
}

void cmh_format_duration(int64_t ms, char out[32])
{
	int64_t s = ms < 0 ? 0 : ms / 1000;
	int64_t h = s / 3600, m = (s / 60) % 60;

	if (h)
		snprintf(out, 32, "%lldh %02lldm", (long long)h, (long long)m);
	else if (m)
		snprintf(out, 32, "%lldm %02llds", (long long)m, (long long)(s % 60));
	else
		snprintf(out, 32, "%llds", (long long)(s % 60));
}
