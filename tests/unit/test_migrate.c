/*
 * The pure half of the migration runner: names, ordering, what is pending, and the
 * migrations this build embeds. Applying them to PostgreSQL is tested by integration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "migrate.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct migration three[] = {
	{ "001_init.sql", "SELECT 1;" },
	{ "002_add_scorecards.sql", "SELECT 2;" },
	{ "003_trgm_indexes.sql", "SELECT 3;" },
};

static void
test_version_is_the_leading_number(void **state)
{
	assert_int_equal(migration_version("001_init.sql"), 1);
	assert_int_equal(migration_version("042_add_x.sql"), 42);
	assert_int_equal(migration_version("0100_more_digits_are_fine.sql"), 100);
	assert_int_equal(migration_version("123456789_x.sql"), 123456789);
	assert_int_equal(migration_version("007_a1_b2.sql"), 7);
}

static void
test_malformed_names_have_no_version(void **state)
{
	static const char *const bad[] = {
		"",
		"init.sql",
		"01_init.sql",			/* fewer than 3 digits */
		"001init.sql",			/* no underscore */
		"001_.sql",			/* no name */
		"001_Init.sql",			/* upper case */
		"001_in-it.sql",		/* hyphen */
		"001_init.SQL",
		"001_init.sql.orig",
		"001_init",
		"001_init.sql ",
		"1234567890_x.sql",		/* would not fit an int */
		"-01_init.sql",
	};
	size_t i;

	assert_int_equal(migration_version(NULL), -1);
	for (i = 0; i < NELEM(bad); i++) {
		if (migration_version(bad[i]) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
}

static void
test_check_accepts_versions_counting_from_one(void **state)
{
	char err[256] = "";

	assert_true(migrations_check(three, NELEM(three), err, sizeof(err)));
	assert_true(migrations_check(three, 0, err, sizeof(err)));
}

static void
test_check_rejects_a_list_not_starting_at_one(void **state)
{
	static const struct migration list[] = {
		{ "002_second.sql", "" },
	};
	static const struct migration zero[] = {
		{ "000_zero.sql", "" },
	};
	char err[256] = "";

	assert_false(migrations_check(list, NELEM(list), err, sizeof(err)));
	assert_non_null(strstr(err, "002_second.sql"));
	assert_false(migrations_check(zero, NELEM(zero), err, sizeof(err)));
	assert_non_null(strstr(err, "000_zero.sql"));
}

static void
test_check_rejects_a_gap(void **state)
{
	static const struct migration list[] = {
		{ "001_init.sql", "" },
		{ "003_third.sql", "" },
	};
	char err[256] = "";

	assert_false(migrations_check(list, NELEM(list), err, sizeof(err)));
	assert_non_null(strstr(err, "migration 2 is missing"));
}

static void
test_check_rejects_a_duplicate_version(void **state)
{
	static const struct migration list[] = {
		{ "001_init.sql", "" },
		{ "002_alerts.sql", "" },
		{ "002_budget.sql", "" },
	};
	char err[256] = "";

	assert_false(migrations_check(list, NELEM(list), err, sizeof(err)));
	assert_non_null(strstr(err, "002_alerts.sql"));
	assert_non_null(strstr(err, "002_budget.sql"));
}

static void
test_check_rejects_out_of_order(void **state)
{
	static const struct migration list[] = {
		{ "001_init.sql", "" },
		{ "003_third.sql", "" },
		{ "002_second.sql", "" },
	};
	static const struct migration backwards[] = {
		{ "001_init.sql", "" },
		{ "002_second.sql", "" },
		{ "001_again.sql", "" },
	};
	char err[256] = "";

	assert_false(migrations_check(list, NELEM(list), err, sizeof(err)));
	assert_false(migrations_check(backwards, NELEM(backwards), err, sizeof(err)));
	assert_non_null(strstr(err, "out of order"));
}

static void
test_check_rejects_a_malformed_name(void **state)
{
	static const struct migration list[] = {
		{ "001_init.sql", "" },
		{ "002-second.sql", "" },
	};
	char err[256] = "";

	assert_false(migrations_check(list, NELEM(list), err, sizeof(err)));
	assert_non_null(strstr(err, "002-second.sql"));
}

static void
test_check_rejects_a_migration_without_sql(void **state)
{
	static const struct migration list[] = {
		{ "001_init.sql", NULL },
	};
	char err[256] = "";

	assert_false(migrations_check(list, NELEM(list), err, sizeof(err)));
}

static void
test_pending_on_an_empty_database_is_everything(void **state)
{
	size_t	pending[NELEM(three)];
	char	err[256] = "";

	assert_int_equal(migrations_pending(three, NELEM(three), NULL, 0, pending, err,
	    sizeof(err)), 3);
	assert_int_equal(pending[0], 0);
	assert_int_equal(pending[1], 1);
	assert_int_equal(pending[2], 2);
}

static void
test_pending_is_what_the_database_lacks_in_order(void **state)
{
	static const int applied[] = { 1 };
	size_t	pending[NELEM(three)];
	char	err[256] = "";

	assert_int_equal(migrations_pending(three, NELEM(three), applied, NELEM(applied),
	    pending, err, sizeof(err)), 2);
	assert_int_equal(pending[0], 1);
	assert_int_equal(pending[1], 2);
}

static void
test_pending_reads_applied_in_any_order(void **state)
{
	static const int applied[] = { 3, 1, 2 };
	size_t	pending[NELEM(three)];
	char	err[256] = "";

	assert_int_equal(migrations_pending(three, NELEM(three), applied, NELEM(applied),
	    pending, err, sizeof(err)), 0);
}

static void
test_pending_refuses_a_database_newer_than_the_build(void **state)
{
	static const int applied[] = { 1, 2, 3, 4 };
	size_t	pending[NELEM(three)];
	char	err[256] = "";

	assert_int_equal(migrations_pending(three, NELEM(three), applied, NELEM(applied),
	    pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "migration 4"));
	assert_non_null(strstr(err, "newer"));
}

static void
test_pending_refuses_to_fill_a_hole_below_the_newest_applied(void **state)
{
	static const int applied[] = { 1, 3 };
	size_t	pending[NELEM(three)];
	char	err[256] = "";

	assert_int_equal(migrations_pending(three, NELEM(three), applied, NELEM(applied),
	    pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "002_add_scorecards.sql"));
}

static void
test_pending_refuses_a_malformed_list(void **state)
{
	static const struct migration list[] = {
		{ "001_init.sql", "" },
		{ "second.sql", "" },
	};
	size_t	pending[NELEM(list)];
	char	err[256] = "";

	assert_int_equal(migrations_pending(list, NELEM(list), NULL, 0, pending, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "second.sql"));
}

static void
test_embedded_migrations_pass_the_check(void **state)
{
	char err[256] = "";

	if (!migrations_check(migrations_embedded, migrations_embedded_count, err,
	    sizeof(err)))
		fail_msg("sql/: %s", err);
	assert_true(migrations_embedded_count >= 1);
}

static void
test_the_first_migration_creates_schema_migrations(void **state)
{
	/* migrate_apply records each migration in a table the first one must create. */
	assert_string_equal(migrations_embedded[0].name, "001_init.sql");
	assert_non_null(strstr(migrations_embedded[0].sql, "CREATE TABLE schema_migrations"));
}

static void
test_latest_is_the_highest_embedded_version(void **state)
{
	const struct migration *last;

	last = &migrations_embedded[migrations_embedded_count - 1];
	assert_int_equal(migrations_latest(), migration_version(last->name));
	assert_int_equal(migrations_latest(), (int)migrations_embedded_count);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_is_the_leading_number),
		cmocka_unit_test(test_malformed_names_have_no_version),
		cmocka_unit_test(test_check_accepts_versions_counting_from_one),
		cmocka_unit_test(test_check_rejects_a_list_not_starting_at_one),
		cmocka_unit_test(test_check_rejects_a_gap),
		cmocka_unit_test(test_check_rejects_a_duplicate_version),
		cmocka_unit_test(test_check_rejects_out_of_order),
		cmocka_unit_test(test_check_rejects_a_malformed_name),
		cmocka_unit_test(test_check_rejects_a_migration_without_sql),
		cmocka_unit_test(test_pending_on_an_empty_database_is_everything),
		cmocka_unit_test(test_pending_is_what_the_database_lacks_in_order),
		cmocka_unit_test(test_pending_reads_applied_in_any_order),
		cmocka_unit_test(test_pending_refuses_a_database_newer_than_the_build),
		cmocka_unit_test(test_pending_refuses_to_fill_a_hole_below_the_newest_applied),
		cmocka_unit_test(test_pending_refuses_a_malformed_list),
		cmocka_unit_test(test_embedded_migrations_pass_the_check),
		cmocka_unit_test(test_the_first_migration_creates_schema_migrations),
		cmocka_unit_test(test_latest_is_the_highest_embedded_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
