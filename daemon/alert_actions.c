/*
 * What analysts do to alerts, from the API or from ictmonctl: acknowledge and
 * unacknowledge them, silence them and end silences. The statements and the checks
 * of a silence live here so that both doors mean the same; running them is the
 * callers'.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agency.h"
#include "alerts.h"
#include "utf8.h"

#define SECONDS_PER_DAY		86400LL
#define SILENCE_MAX_SECONDS	(ALERT_SILENCE_MAX_DAYS * SECONDS_PER_DAY)
#define STR(x)			#x
#define NUMBER(x)		STR(x)	/* a limit's value, in messages */

/*
 * Only a firing alert nobody has acknowledged is acknowledged: a second analyst
 * learns that the first was there (409), and the event names who did it. A
 * concurrent acknowledgement waits on the row's lock and then finds it acked.
 */
const char alert_ack_sql[] =
    "WITH acked AS (UPDATE alert SET acked_by = $2::text, acked_at = now(),"
    "  ack_comment = nullif($3::text, '')"
    "  WHERE id = $1::bigint AND state = 'firing' AND acked_at IS NULL"
    "  RETURNING id, ack_comment),"
    " event AS (INSERT INTO alert_event (alert_id, kind, actor, detail)"
    "  SELECT id, 'acked', $2::text,"
    "   jsonb_strip_nulls(jsonb_build_object('comment', ack_comment)) FROM acked)"
    " SELECT id FROM acked";

/* The event keeps whose acknowledgement was withdrawn, and what it said. */
const char alert_unack_sql[] =
    "WITH unacked AS (UPDATE alert a SET acked_by = NULL, acked_at = NULL,"
    "  ack_comment = NULL FROM alert old"
    "  WHERE a.id = $1::bigint AND old.id = a.id AND a.state = 'firing'"
    "   AND a.acked_at IS NOT NULL"
    "  RETURNING a.id, old.acked_by, old.ack_comment),"
    " event AS (INSERT INTO alert_event (alert_id, kind, actor, detail)"
    "  SELECT id, 'unacked', $2::text, jsonb_strip_nulls(jsonb_build_object("
    "   'acked_by', acked_by, 'comment', ack_comment)) FROM unacked)"
    " SELECT id FROM unacked";

/* The agency, when named, must exist: no row says it does not. */
const char silence_create_sql[] =
    "INSERT INTO silence (rule, agency_id, fingerprint, author, reason, starts_at,"
    "  ends_at)"
    " SELECT $1::text, g.id, $3::text, $4::text, $5::text,"
    "  coalesce($7::timestamptz, now()), $6::timestamptz"
    " FROM (VALUES (1)) AS one (x) LEFT JOIN agency g ON g.code = $2::text"
    " WHERE $2::text IS NULL OR g.id IS NOT NULL"
    " RETURNING id";

/*
 * A silence that has not begun yet ends before it begins: its start moves back too,
 * as the table wants every silence to end after it starts.
 */
const char silence_expire_sql[] =
    "UPDATE silence SET ends_at = now(), ended_by = $2::text,"
    "  starts_at = least(starts_at, now() - interval '1 microsecond')"
    " WHERE id = $1::bigint AND ends_at > now()"
    " RETURNING id";

/* Exactly `n` digits at *p as a number; advances *p. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

bool
alert_time_parse(const char *text, time_t *out)
{
	static const int	 mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char		*p = text;
	struct tm		 tm;
	int			 year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	time_t			 t;

	if (text == NULL || !digits(&p, 4, &year) || *p++ != '-' ||
	    !digits(&p, 2, &mon) || *p++ != '-' || !digits(&p, 2, &day) ||
	    (*p != 'T' && *p != 't') || !(p++, digits(&p, 2, &hour)) || *p++ != ':' ||
	    !digits(&p, 2, &min) || *p++ != ':' || !digits(&p, 2, &sec))
		return false;
	if (*p == '.') {
		size_t n = strspn(++p, "0123456789");

		if (n == 0 || n > 9)
			return false;
		p += n;	/* a silence is not timed to the second's fraction */
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return false;
	} else
		return false;
	if (*p != '\0' || year < 1970 || mon < 1 || mon > 12 || day < 1 ||
	    day > mdays[mon - 1] + (mon == 2 && leap(year)) || hour > 23 || min > 59 ||
	    sec > 59)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return false;
	*out = t - sign * (oh * 3600 + om * 60);
	return true;
}

bool
alert_duration_parse(const char *text, long long *seconds)
{
	long long	v = 0, unit = 1;
	size_t		n;

	if (text == NULL || (n = strspn(text, "0123456789")) == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (text[i] - '0');
	switch (text[n]) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = SECONDS_PER_DAY;
		break;
	default:
		return false;
	}
	if (text[n] != '\0' && text[n + 1] != '\0')
		return false;
	v *= unit;
	if (v <= 0 || v > SILENCE_MAX_SECONDS)
		return false;
	*seconds = v;
	return true;
}

/* Characters of well-formed UTF-8 text without control characters but tab and LF;
   (size_t)-1 when it is not. */
static size_t
text_chars(const char *text)
{
	const unsigned char	*u = (const unsigned char *)text;
	size_t			 len = strlen(text), chars = 0, n;

	for (size_t i = 0; i < len; i += n, chars++) {
		if ((n = utf8_sequence(u + i, len - i)) == 0)
			return (size_t)-1;
		if (n == 1 && ((u[i] < 0x20 && u[i] != '\t' && u[i] != '\n') ||
		    u[i] == 0x7f))
			return (size_t)-1;
	}
	return chars;
}

bool
alert_text_ok(const char *text)
{
	size_t chars = text_chars(text);

	return chars != (size_t)-1 && chars <= ALERT_TEXT_MAX;
}

bool
alert_rule_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= ALERT_RULE_NAME_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* Only white space: as good as nothing for a reason or an author. */
static bool
blank(const char *text)
{
	return text[strspn(text, " \t\r\n")] == '\0';
}

static void
time_text(time_t t, char out[SILENCE_TIME_TEXT])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, SILENCE_TIME_TEXT, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
silence_check(const struct silence_spec *s, time_t now, char ends_at[SILENCE_TIME_TEXT],
    silence_problem_cb bad, void *arg)
{
	time_t		 starts = now, ends = 0;
	long long	 seconds;
	size_t		 chars;
	int		 problems = 0;
	bool		 have_end = false;

#define PROBLEM(field, message)	do { bad(field, message, arg); problems++; } while (0)
	if (s->rule == NULL && s->agency == NULL && s->fingerprint == NULL)
		PROBLEM("", "a silence needs a matcher: rule, agency or fingerprint (one "
		    "matching every alert would mute ictmon)");
	if (s->rule != NULL && !alert_rule_name_ok(s->rule))
		PROBLEM("rule", "not a rule name (a-z, 0-9, _ and -; at most "
		    NUMBER(ALERT_RULE_NAME_MAX) " characters)");
	if (s->agency != NULL && !agency_code_valid(s->agency))
		PROBLEM("agency", "not an agency code");
	if (s->fingerprint != NULL && ((chars = text_chars(s->fingerprint)) == 0 ||
	    chars > ALERT_TEXT_MAX || strpbrk(s->fingerprint, "\t\n") != NULL))
		PROBLEM("fingerprint", "must be an alert's fingerprint: one line of at "
		    "most " NUMBER(ALERT_TEXT_MAX) " characters");
	if (s->author == NULL || blank(s->author))
		PROBLEM("author", "required: who silences");
	else if ((chars = text_chars(s->author)) > SILENCE_AUTHOR_MAX ||
	    strpbrk(s->author, "\t\n") != NULL)
		PROBLEM("author", "one line of at most "
		    NUMBER(SILENCE_AUTHOR_MAX) " characters");
	if (s->reason == NULL || blank(s->reason))
		PROBLEM("reason", "required: why the alerts may be quiet");
	else if (!alert_text_ok(s->reason))
		PROBLEM("reason", "text of at most " NUMBER(ALERT_TEXT_MAX)
		    " characters");

	if (s->starts_at != NULL) {
		if (!alert_time_parse(s->starts_at, &starts))
			PROBLEM("starts_at", "must be an RFC 3339 date and time, e.g. "
			    "2025-06-01T08:00:00Z");
		else if (starts > now + SILENCE_MAX_SECONDS)
			PROBLEM("starts_at", "more than " NUMBER(ALERT_SILENCE_MAX_DAYS)
			    " days ahead");
	}
	if (s->ends_at != NULL && s->duration != NULL)
		PROBLEM("duration", "give an end time or a duration, not both");
	else if (s->ends_at != NULL) {
		if (!alert_time_parse(s->ends_at, &ends))
			PROBLEM("ends_at", "must be an RFC 3339 date and time, e.g. "
			    "2025-06-01T08:00:00Z");
		else
			have_end = true;
	} else if (s->duration != NULL) {
		if (!alert_duration_parse(s->duration, &seconds))
			PROBLEM("duration", "must be a number of seconds, or of minutes, "
			    "hours or days (90m, 2h, 3d), more than 0 and at most "
			    NUMBER(ALERT_SILENCE_MAX_DAYS) " days");
		else {
			ends = starts + (time_t)seconds;
			have_end = true;
		}
	} else
		PROBLEM("ends_at", "required: an end time or a duration");
	if (have_end) {
		const char *field = s->ends_at != NULL ? "ends_at" : "duration";

		if (ends <= now)
			PROBLEM(field, "the silence would end in the past");
		else if (ends > now + SILENCE_MAX_SECONDS)
			PROBLEM(field, "the silence would end more than "
			    NUMBER(ALERT_SILENCE_MAX_DAYS) " days from now");
		else if (ends <= starts)
			PROBLEM(field, "the silence would end before it starts");
	}
#undef PROBLEM
	if (problems == 0)
		time_text(ends, ends_at);
	return problems;
}
