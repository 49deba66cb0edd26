/*
 * COPY text format rows: escaping of the bytes COPY gives a meaning to, NULL, field and
 * row separators, formatted fields, and the refusal of NUL bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "copy.h"

static struct copy_rows	rows;

static int
setup(void **state)
{
	return copy_rows_init(&rows);
}

static int
teardown(void **state)
{
	copy_rows_free(&rows);
	return 0;
}

/* The COPY data so far, NUL-terminated. */
static const char *
data(void)
{
	static char text[4096];
	size_t len = evbuffer_get_length(rows.buf);

	assert_true(len < sizeof(text));
	memcpy(text, evbuffer_pullup(rows.buf, -1), len);
	text[len] = '\0';
	return text;
}

static void
test_fields_are_tab_separated_rows_end_with_newline(void **state)
{
	copy_field(&rows, "ocds-1");
	copy_field(&rows, "award-1");
	copy_field(&rows, "775.76");
	copy_end_row(&rows);
	copy_field(&rows, "ocds-2");
	copy_end_row(&rows);
	assert_string_equal(data(), "ocds-1\taward-1\t775.76\nocds-2\n");
	assert_int_equal(rows.rows, 2);
	assert_int_equal(rows.fields, 0);
	assert_false(rows.failed);
}

static void
test_special_bytes_are_escaped(void **state)
{
	copy_field(&rows, "a\\b\tc\nd\re");
	copy_field(&rows, "\\N");
	copy_field(&rows, "\\.");
	copy_end_row(&rows);
	assert_string_equal(data(), "a\\\\b\\tc\\nd\\re\t\\\\N\t\\\\.\n");
}

static void
test_other_bytes_are_kept_as_they_are(void **state)
{
	copy_field(&rows, "Munic\xc3\xadpio \"x\" 'y' \x01\x0b\x0c\x7f;,|");
	copy_end_row(&rows);
	assert_string_equal(data(), "Munic\xc3\xadpio \"x\" 'y' \x01\x0b\x0c\x7f;,|\n");
}

static void
test_null_is_backslash_n_and_empty_is_empty(void **state)
{
	copy_field(&rows, NULL);
	copy_null(&rows);
	copy_field(&rows, "");
	copy_fieldn(&rows, NULL, 3);
	copy_end_row(&rows);
	assert_string_equal(data(), "\\N\t\\N\t\t\\N\n");
}

static void
test_fieldn_takes_exactly_len_bytes(void **state)
{
	copy_fieldn(&rows, "abc\tdef", 5);
	copy_fieldn(&rows, "xyz", 0);
	copy_end_row(&rows);
	assert_string_equal(data(), "abc\\td\t\n");
	assert_false(rows.failed);
}

static void
test_fieldf_formats_then_escapes(void **state)
{
	char big[300];

	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	copy_fieldf(&rows, "%d\t%s", 42, "a\\b");
	copy_fieldf(&rows, "%s!", big);
	copy_end_row(&rows);
	assert_int_equal(strlen(data()), strlen("42\\ta\\\\b\t") + 299 + 2);
	assert_true(strncmp(data(), "42\\ta\\\\b\tqqq", 12) == 0);
	assert_string_equal(data() + strlen(data()) - 3, "q!\n");
}

static void
test_nul_byte_fails_the_rows(void **state)
{
	copy_fieldn(&rows, "a\0b", 3);
	copy_end_row(&rows);
	assert_true(rows.failed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fields_are_tab_separated_rows_end_with_newline,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_bytes_are_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_bytes_are_kept_as_they_are, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_null_is_backslash_n_and_empty_is_empty,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fieldn_takes_exactly_len_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fieldf_formats_then_escapes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte_fails_the_rows, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
