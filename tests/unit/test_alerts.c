/*
 * Alert rules as the configuration makes them (built-in, changed, added, turned off),
 * the checks of the alerting keys, and when emails go (mail_due) on a fake clock:
 * group_wait, group_interval, repeats and the daily digest. The SQL that applies the
 * rules and the mailer's sending are in tests/integration/test_alerts_email.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "alerts.h"
#include "config.h"
#include "mailer.h"

static struct config_errors errors;

static struct config *
load(const char *text, const char *override)
{
	const char *const overrides[1] = { override };

	return config_load_text(text, "test.conf", overrides, override ? 1 : 0, &errors);
}

static json_t *
rules_of(const char *text)
{
	struct config	*cfg = load(text, NULL);
	char		*json;
	json_t		*rules;

	assert_non_null(cfg);
	assert_non_null(json = alert_rules_json(cfg));
	assert_non_null(rules = json_loads(json, 0, NULL));
	free(json);
	config_free(cfg);
	return rules;
}

static json_t *
rule_named(json_t *rules, const char *name)
{
	size_t	 i;
	json_t	*r;

	json_array_foreach(rules, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
			return r;
	}
	return NULL;
}

static void
test_builtin_rules_ship_for_the_issue_codes(void **state)
{
	static const char *const codes[] = { "OVL-TENDER", "OVL-SPEND", "SPLIT",
	    "DUP-PROJECT", "CV", "SV", "BUDGET-EXEC", "UNREVIEWED-SPEND", "FEED-STALE" };
	json_t	*rules = rules_of("");
	json_t	*r;
	size_t	 i, k;
	bool	 found;

	(void)state;
	for (k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
		found = false;
		json_array_foreach(rules, i, r) {
			if (strcmp(json_string_value(json_object_get(r, "indicator")),
			    codes[k]) == 0)
				found = true;
		}
		assert_true(found);
	}
	r = rule_named(rules, "cv-high");
	assert_string_equal(json_string_value(json_object_get(r, "band")), "high");
	assert_string_equal(json_string_value(json_object_get(r, "severity")), "high");
	r = rule_named(rules, "ovl-spend");
	assert_string_equal(json_string_value(json_object_get(r, "severity")), "band");
	assert_true(json_is_null(json_object_get(r, "threshold")) ||
	    json_object_get(r, "threshold") == NULL);
	assert_int_equal(json_array_size(json_object_get(r, "to")), 0);
	json_decref(rules);
}

static void
test_section_changes_only_what_it_sets(void **state)
{
	json_t *rules = rules_of("[alert.ovl-spend]\nseverity = high\n"
	    "to = Finance@Hacienda.cl, analyst\nnotify_resolved = false\n"
	    "[alert.cv-high]\nenabled = false\n");
	json_t *r = rule_named(rules, "ovl-spend");

	(void)state;
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "indicator")),
	    "OVL-SPEND");
	assert_string_equal(json_string_value(json_object_get(r, "band")), "low");
	assert_string_equal(json_string_value(json_object_get(r, "severity")), "high");
	assert_false(json_is_true(json_object_get(r, "notify_resolved")));
	/* Addresses compare without case, as recipient emails do. */
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "to"), 0)),
	    "finance@hacienda.cl");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "to"), 1)),
	    "analyst");
	assert_null(rule_named(rules, "cv-high"));
	json_decref(rules);
}

static void
test_new_rule_with_threshold(void **state)
{
	json_t *rules = rules_of("[alert.big-split]\nindicator = SPLIT\nband = high\n"
	    "threshold = 100000000.5\nseverity = high\n");
	json_t *r = rule_named(rules, "big-split");

	(void)state;
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "threshold")),
	    "100000000.5");
	assert_true(json_is_true(json_object_get(r, "notify_resolved")));
	json_decref(rules);
}

static void
assert_check_error(const char *text, const char *override, const char *want)
{
	struct config	*cfg = load(text, override);
	bool		 found = false;

	assert_non_null(cfg);
	assert_false(alerts_check_config(cfg, &errors));
	for (size_t i = 0; i < errors.count; i++)
		if (strstr(errors.lines[i], want) != NULL)
			found = true;
	if (!found)
		for (size_t i = 0; i < errors.count; i++)
			print_error("got: %s\n", errors.lines[i]);
	assert_true(found);
	config_errors_clear(&errors);
	config_free(cfg);
}

static void
test_checks_say_what_is_wrong(void **state)
{
	struct config *cfg;

	(void)state;
	assert_check_error("[alert.mine]\nband = high\n", NULL,
	    "[alert.mine] is not a built-in rule: it needs indicator = CODE");
	assert_check_error("[alert.mine]\nindicator = CV\nthreshold = 1e6\n", NULL,
	    "threshold '1e6' is not a decimal");
	assert_check_error("[alert.split]\nto = finance@, Bad Role\n", NULL,
	    "'finance@' is neither an email address nor a role");
	assert_check_error("[smtp]\nurl = smtp://mail.example.gov:25\nstarttls = none\n",
	    NULL, "allowed only for a server on loopback, not 'mail.example.gov'");
	assert_check_error("[smtp]\nurl = https://mail.example.gov\n", NULL,
	    "is not smtp://HOST:PORT or smtps://HOST:PORT");
	assert_check_error("[smtp]\nfrom = ictmon\n", NULL,
	    "smtp.from 'ictmon' is not an email address");
	assert_check_error("[smtp]\nusername = ictmon\n", NULL,
	    "smtp.username is set but smtp.password_file is not");
	assert_check_error("public_url = smtp://x.example:25\n", NULL,
	    "public_url 'smtp://x.example:25' is not an http:// or https:// address");

	/* What is allowed: loopback in the clear, smtps anywhere, the defaults. */
	cfg = load("[smtp]\nurl = smtp://127.0.0.1:2525\nstarttls = none\n", NULL);
	assert_true(alerts_check_config(cfg, &errors));
	config_free(cfg);
	cfg = load("[smtp]\nurl = smtps://[::1]:465\nstarttls = none\n", NULL);
	assert_true(alerts_check_config(cfg, &errors));
	config_free(cfg);
	cfg = load("[smtp]\nurl = smtp://localhost:25\nstarttls = none\n", NULL);
	assert_true(alerts_check_config(cfg, &errors));
	config_free(cfg);
	cfg = load("", NULL);
	assert_true(alerts_check_config(cfg, &errors));
	assert_int_equal(errors.count, 0);
	config_free(cfg);
}

/* --- Timing on a fake clock -------------------------------------------------------- */

static const struct mail_timing timing = { 30, 300, 86400, 8 };
#define T0	((time_t)1795000000)	/* any instant */

static void
test_first_email_waits_group_wait(void **state)
{
	(void)state;
	assert_int_equal(mail_due(&timing, MAIL_ALERT, T0, 0), T0 + 30);
}

static void
test_later_email_waits_group_interval_after_the_last(void **state)
{
	(void)state;
	/* A change 10 s after the group's last email waits out the interval... */
	assert_int_equal(mail_due(&timing, MAIL_ALERT, T0 + 10, T0), T0 + 300);
	/* ... one long after it goes at once, with no second group_wait. */
	assert_int_equal(mail_due(&timing, MAIL_ALERT, T0 + 5000, T0), T0 + 5000);
	/* Exactly at the border. */
	assert_int_equal(mail_due(&timing, MAIL_ALERT, T0 + 300, T0), T0 + 300);
}

static void
test_repeats_respect_the_group_interval(void **state)
{
	(void)state;
	/* A reminder is queued once repeat_interval passed (the sweep's cutoff)... */
	assert_int_equal(mail_repeat_cutoff(&timing, T0 + 86400), T0);
	/* ... and goes at once, or no sooner than group_interval after the last email. */
	assert_int_equal(mail_due(&timing, MAIL_REPEAT, T0 + 86400, T0), T0 + 86400);
	assert_int_equal(mail_due(&timing, MAIL_REPEAT, T0 + 100, T0), T0 + 300);
	/* A catch-up (a silence ended) in a group never mailed: at once, no wait. */
	assert_int_equal(mail_due(&timing, MAIL_REPEAT, T0, 0), T0);
}

static time_t
local(int year, int mon, int day, int hour, int min)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void
test_digest_goes_at_the_digest_hour_once_a_day(void **state)
{
	(void)state;
	setenv("TZ", "America/Santiago", 1);
	tzset();
	/* A change at 07:10 goes at 08:00 the same day; at 09:00, the next day. */
	assert_int_equal(mail_due(&timing, MAIL_DIGEST, local(2026, 11, 27, 7, 10), 0),
	    local(2026, 11, 27, 8, 0));
	assert_int_equal(mail_due(&timing, MAIL_DIGEST, local(2026, 11, 27, 9, 0), 0),
	    local(2026, 11, 28, 8, 0));
	/* Exactly 08:00 is that digest. */
	assert_int_equal(mail_due(&timing, MAIL_DIGEST, local(2026, 11, 27, 8, 0), 0),
	    local(2026, 11, 27, 8, 0));
	/* A digest sent at 08:00 today: a change at 07:59 tomorrow waits a minute; a
	   change just after today's digest waits for tomorrow's. */
	assert_int_equal(mail_due(&timing, MAIL_DIGEST, local(2026, 11, 27, 8, 0),
	    local(2026, 11, 27, 8, 0)), local(2026, 11, 28, 8, 0));
	assert_int_equal(mail_due(&timing, MAIL_DIGEST, local(2026, 11, 28, 7, 59),
	    local(2026, 11, 27, 8, 0)), local(2026, 11, 28, 8, 0));
	/* Across the end of daylight saving time in Chile (2026-04-05), still 08:00. */
	assert_int_equal(mail_due(&timing, MAIL_DIGEST, local(2026, 4, 4, 20, 0), 0),
	    local(2026, 4, 5, 8, 0));
	unsetenv("TZ");
	tzset();
}

static int
teardown(void **state)
{
	(void)state;
	config_errors_clear(&errors);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_builtin_rules_ship_for_the_issue_codes,
		    teardown),
		cmocka_unit_test_teardown(test_section_changes_only_what_it_sets, teardown),
		cmocka_unit_test_teardown(test_new_rule_with_threshold, teardown),
		cmocka_unit_test_teardown(test_checks_say_what_is_wrong, teardown),
		cmocka_unit_test(test_first_email_waits_group_wait),
		cmocka_unit_test(test_later_email_waits_group_interval_after_the_last),
		cmocka_unit_test(test_repeats_respect_the_group_interval),
		cmocka_unit_test(test_digest_goes_at_the_digest_hour_once_a_day),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
