/*
 * What a client may ask of a silence, as the API and ictmonctl both check it: RFC 3339
 * times, durations, the texts' limits, and each problem named by its field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerts.h"

/* 2025-06-01T08:00:00Z */
#define NOW	((time_t)1748764800)

struct problems {
	int	 count;
	char	 fields[16][32];
	char	 messages[16][256];
};

static void
collect(const char *field, const char *message, void *arg)
{
	struct problems *p = arg;

	assert_true(p->count < 16);
	snprintf(p->fields[p->count], sizeof(p->fields[0]), "%s", field);
	snprintf(p->messages[p->count], sizeof(p->messages[0]), "%s", message);
	p->count++;
}

/* The problems of s at NOW, their fields joined by commas. */
static int
check(const struct silence_spec *s, char *fields, size_t len, char *ends_at)
{
	struct problems	 p = { 0 };
	char		 end[SILENCE_TIME_TEXT] = "";
	int		 n = silence_check(s, NOW, end, collect, &p);
	size_t		 o = 0;

	assert_int_equal(n, p.count);
	fields[0] = '\0';
	for (int i = 0; i < p.count; i++)
		o += (size_t)snprintf(fields + o, len - o, "%s%s", i ? "," : "",
		    p.fields[i]);
	if (ends_at != NULL)
		strcpy(ends_at, end);
	return n;
}

static void
test_rfc3339_times_with_offsets_and_fractions(void **state)
{
	time_t t;

	assert_true(alert_time_parse("2025-06-01T08:00:00Z", &t));
	assert_int_equal(t, NOW);
	assert_true(alert_time_parse("2025-06-01T10:00:00+02:00", &t));
	assert_int_equal(t, NOW);
	assert_true(alert_time_parse("2025-06-01T04:30:00.123456-03:30", &t));
	assert_int_equal(t, NOW);
	assert_true(alert_time_parse("2025-06-01t08:00:00z", &t));
	assert_int_equal(t, NOW);
	assert_true(alert_time_parse("2024-02-29T00:00:00Z", &t));
}

static void
test_rfc3339_refuses_what_is_not_one(void **state)
{
	static const char *const bad[] = {
		"", "2025-06-01", "2025-06-01T08:00:00", "2025-06-01 08:00:00Z",
		"2025-6-01T08:00:00Z", "2025-06-01T08:00Z", "2025-13-01T00:00:00Z",
		"2025-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-06-01T24:00:00Z",
		"2025-06-01T08:60:00Z", "2025-06-01T08:00:60Z", "2025-06-01T08:00:00.Z",
		"2025-06-01T08:00:00+0200", "2025-06-01T08:00:00+24:00",
		"2025-06-01T08:00:00Z ", "now", "infinity", "1969-12-31T23:59:59Z",
		"2025-06-01T08:00:00.1234567890Z",
	};
	time_t t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (alert_time_parse(bad[i], &t))
			fail_msg("\"%s\" was taken for an RFC 3339 time", bad[i]);
	assert_false(alert_time_parse(NULL, &t));
}

static void
test_durations_in_seconds_minutes_hours_days(void **state)
{
	long long s;

	assert_true(alert_duration_parse("45", &s));
	assert_int_equal(s, 45);
	assert_true(alert_duration_parse("45s", &s));
	assert_int_equal(s, 45);
	assert_true(alert_duration_parse("90m", &s));
	assert_int_equal(s, 5400);
	assert_true(alert_duration_parse("2h", &s));
	assert_int_equal(s, 7200);
	assert_true(alert_duration_parse("3d", &s));
	assert_int_equal(s, 3 * 86400);
	assert_true(alert_duration_parse("365d", &s));
	assert_false(alert_duration_parse("366d", &s));
	assert_false(alert_duration_parse("0h", &s));
	assert_false(alert_duration_parse("2w", &s));
	assert_false(alert_duration_parse("2hh", &s));
	assert_false(alert_duration_parse("h", &s));
	assert_false(alert_duration_parse("-2h", &s));
	assert_false(alert_duration_parse("1.5h", &s));
	assert_false(alert_duration_parse("9999999999", &s));
	assert_false(alert_duration_parse("", &s));
}

static void
test_a_good_silence_ends_after_its_duration(void **state)
{
	struct silence_spec	s = { .rule = "ovl-spend", .author = "ana",
	    .reason = "known overlap, under review", .duration = "2h" };
	char			fields[256], end[SILENCE_TIME_TEXT];

	assert_int_equal(check(&s, fields, sizeof(fields), end), 0);
	assert_string_equal(end, "2025-06-01T10:00:00Z");
	/* From a later start, the duration counts from the start. */
	s.starts_at = "2025-06-02T08:00:00Z";
	assert_int_equal(check(&s, fields, sizeof(fields), end), 0);
	assert_string_equal(end, "2025-06-02T10:00:00Z");
	s.starts_at = NULL;
	s.duration = NULL;
	s.ends_at = "2025-06-01T12:00:00+02:00";
	assert_int_equal(check(&s, fields, sizeof(fields), end), 0);
	assert_string_equal(end, "2025-06-01T10:00:00Z");
}

static void
test_each_problem_names_its_field(void **state)
{
	struct silence_spec	s = { .author = "ana", .reason = "r", .duration = "1h" };
	char			fields[256];

	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "");	/* no matcher at all */

	s.agency = "not a code";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "agency");
	s.agency = NULL;

	s.rule = "OVL SPEND";
	s.fingerprint = "";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 2);
	assert_string_equal(fields, "rule,fingerprint");
	s.rule = "ovl-spend";
	s.fingerprint = NULL;

	s.reason = "  \n";
	s.author = "";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 2);
	assert_string_equal(fields, "author,reason");
	s.author = "ana";
	s.reason = "r";

	s.duration = NULL;
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "ends_at");
	s.ends_at = "2025-06-01T07:00:00Z";		/* past */
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "ends_at");
	s.ends_at = "2026-06-02T08:00:00Z";		/* beyond 365 days */
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "ends_at");
	s.ends_at = "2026-06-01T08:00:00Z";		/* exactly 365 days */
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 0);
	s.ends_at = "tomorrow";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "ends_at");
	s.ends_at = "2025-06-01T09:00:00Z";
	s.duration = "1h";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "duration");
	s.ends_at = NULL;
	s.duration = "soon";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "duration");
	s.duration = NULL;
	s.starts_at = "2025-06-01T10:00:00Z";
	s.ends_at = "2025-06-01T09:00:00Z";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "ends_at");
	s.starts_at = "June";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "starts_at");
}

static void
test_texts_have_limits(void **state)
{
	struct silence_spec	 s = { .rule = "split", .author = "ana",
	    .duration = "1h" };
	char			 fields[256], *long_text;

	assert_non_null(long_text = malloc(ALERT_TEXT_MAX * 2 + 3));
	/* Characters, not bytes: 2000 two-byte characters are fine. */
	for (int i = 0; i < ALERT_TEXT_MAX; i++)
		memcpy(long_text + 2 * i, "\xc3\xa9", 2);
	long_text[2 * ALERT_TEXT_MAX] = '\0';
	assert_true(alert_text_ok(long_text));
	s.reason = long_text;
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 0);
	strcat(long_text, "x");
	assert_false(alert_text_ok(long_text));
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "reason");
	free(long_text);

	assert_true(alert_text_ok("two\nlines\tand a tab"));
	assert_false(alert_text_ok("a bell \a"));
	assert_false(alert_text_ok("bad \xc3 UTF-8"));
	s.reason = "fine";
	s.author = "ana\nbob";
	assert_int_equal(check(&s, fields, sizeof(fields), NULL), 1);
	assert_string_equal(fields, "author");

	assert_true(alert_rule_name_ok("budget-overrun"));
	assert_true(alert_rule_name_ok("a_1"));
	assert_false(alert_rule_name_ok(""));
	assert_false(alert_rule_name_ok("Budget"));
	assert_false(alert_rule_name_ok("a/b"));
	assert_false(alert_rule_name_ok(
	    "x234567890123456789012345678901234567890123456789012345678901234"
	    "5"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339_times_with_offsets_and_fractions),
		cmocka_unit_test(test_rfc3339_refuses_what_is_not_one),
		cmocka_unit_test(test_durations_in_seconds_minutes_hours_days),
		cmocka_unit_test(test_a_good_silence_ends_after_its_duration),
		cmocka_unit_test(test_each_problem_names_its_field),
		cmocka_unit_test(test_texts_have_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
