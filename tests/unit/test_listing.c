/*
 * The values the read API's filters take before any query: calendar dates (leap years,
 * month lengths, the shape) and decimals as PostgreSQL writes numeric.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "listing.h"

static void
dates_are_calendar_dates(void **state)
{
	static const char *const good[] = {
		"2024-02-29", "2000-02-29", "2026-01-31", "2026-12-31", "0001-01-01",
		"2026-04-30",
	};
	static const char *const bad[] = {
		"2023-02-29", "1900-02-29", "2026-04-31", "2026-13-01", "2026-00-10",
		"2026-01-00", "0000-01-01", "2026-1-01", "2026-01-1", "26-01-01",
		"2026/01/01", "2026-01-01T00:00", "2026-01-01 ", "", "+026-01-01",
		"2026-0a-01",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(listing_is_date(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(listing_is_date(bad[i]));
}

static void
decimals_are_numeric_text(void **state)
{
	static const char *const good[] = { "0", "-1", "1500.50", "123456789012345678.5" };
	static const char *const bad[] = {
		"", "-", ".5", "5.", "1e3", "+1", "1,5", " 1", "1 ", "NaN", "--1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(listing_is_decimal(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(listing_is_decimal(bad[i]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dates_are_calendar_dates),
		cmocka_unit_test(decimals_are_numeric_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
