/*
 * Retry delays for failing feeds (fetch_backoff) and Retry-After parsing: pure
 * arithmetic, so the random input and the clock are given.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fetch.h"

#define JITTER_MAX	UINT32_MAX
#define JITTER_HALF	(UINT32_C(1) << 31)

static void
test_no_failure_no_wait(void **state)
{
	assert_int_equal(fetch_backoff(0, 10, 300, -1, JITTER_MAX), 0);
	assert_int_equal(fetch_backoff(0, 10, 300, 60, JITTER_MAX), 0);
}

static void
test_ceiling_doubles_from_base(void **state)
{
	/* The largest jitter reaches the ceiling itself. */
	assert_int_equal(fetch_backoff(1, 10, 300, -1, JITTER_MAX), 10);
	assert_int_equal(fetch_backoff(2, 10, 300, -1, JITTER_MAX), 20);
	assert_int_equal(fetch_backoff(3, 10, 300, -1, JITTER_MAX), 40);
	assert_int_equal(fetch_backoff(5, 10, 300, -1, JITTER_MAX), 160);
}

static void
test_ceiling_stops_at_cap_without_overflow(void **state)
{
	long d;

	assert_int_equal(fetch_backoff(6, 10, 300, -1, JITTER_MAX), 300);
	assert_int_equal(fetch_backoff(64, 10, 300, -1, JITTER_MAX), 300);
	assert_int_equal(fetch_backoff(UINT_MAX, 10, 300, -1, JITTER_MAX), 300);
	/* A huge cap: still within it, and the doubling reached it. */
	d = fetch_backoff(UINT_MAX, 1, LONG_MAX, -1, JITTER_MAX);
	assert_true(d > LONG_MAX / 2 && d <= LONG_MAX);
}

static void
test_full_jitter_spans_zero_to_ceiling(void **state)
{
	long d;
	uint32_t j;

	assert_int_equal(fetch_backoff(3, 10, 300, -1, 0), 0);
	assert_int_equal(fetch_backoff(3, 10, 300, -1, JITTER_HALF), 20);
	/* Deterministic, and never past the ceiling, for any jitter. */
	for (j = 0; j < UINT32_MAX - 0x01000000u; j += 0x01000000u) {
		d = fetch_backoff(4, 10, 300, -1, j);
		assert_true(d >= 0 && d <= 80);
		assert_int_equal(d, fetch_backoff(4, 10, 300, -1, j));
	}
}

static void
test_larger_retry_after_wins(void **state)
{
	assert_int_equal(fetch_backoff(1, 10, 300, 120, JITTER_MAX), 120);
	/* A smaller one does not shorten our own wait. */
	assert_int_equal(fetch_backoff(3, 10, 300, 5, JITTER_MAX), 40);
	assert_int_equal(fetch_backoff(3, 10, 300, 5, 0), 5);
	/* Past our cap too: the server asked. */
	assert_int_equal(fetch_backoff(9, 10, 300, 3600, JITTER_MAX), 3600);
	/* But not forever. */
	assert_int_equal(fetch_backoff(1, 10, 300, LONG_MAX, 0), FETCH_RETRY_AFTER_MAX);
}

static void
test_odd_parameters_stay_sane(void **state)
{
	assert_int_equal(fetch_backoff(4, 0, 300, -1, JITTER_MAX), 0);
	assert_int_equal(fetch_backoff(4, -5, 300, -1, JITTER_MAX), 0);
	/* A cap below the base is the base. */
	assert_int_equal(fetch_backoff(4, 60, 10, -1, JITTER_MAX), 60);
}

static void
test_retry_after_seconds(void **state)
{
	assert_int_equal(fetch_parse_retry_after("120", 0), 120);
	assert_int_equal(fetch_parse_retry_after(" 7 ", 0), 7);
	assert_int_equal(fetch_parse_retry_after("0", 0), 0);
	assert_int_equal(fetch_parse_retry_after("99999999999999999999999", 0),
	    FETCH_RETRY_AFTER_MAX);
}

static void
test_retry_after_http_date(void **state)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT is 1445412480. */
	const char *date = "Wed, 21 Oct 2015 07:28:00 GMT";

	assert_int_equal(fetch_parse_retry_after(date, 1445412480 - 30), 30);
	assert_int_equal(fetch_parse_retry_after(date, 1445412480 + 30), 0);
	assert_int_equal(fetch_parse_retry_after(date, 1445412480 - 10 * 86400),
	    FETCH_RETRY_AFTER_MAX);
}

static void
test_retry_after_garbage(void **state)
{
	assert_int_equal(fetch_parse_retry_after("", 0), -1);
	assert_int_equal(fetch_parse_retry_after("  ", 0), -1);
	assert_int_equal(fetch_parse_retry_after("soon", 0), -1);
	assert_int_equal(fetch_parse_retry_after("12abc", 0), -1);
	assert_int_equal(fetch_parse_retry_after("-5", 0), -1);
	assert_int_equal(fetch_parse_retry_after("1.5", 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_failure_no_wait),
		cmocka_unit_test(test_ceiling_doubles_from_base),
		cmocka_unit_test(test_ceiling_stops_at_cap_without_overflow),
		cmocka_unit_test(test_full_jitter_spans_zero_to_ceiling),
		cmocka_unit_test(test_larger_retry_after_wins),
		cmocka_unit_test(test_odd_parameters_stay_sane),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_http_date),
		cmocka_unit_test(test_retry_after_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
