/*
 * The text writer (include/textout.h): data cleaned of malformed UTF-8 and controls,
 * cuts by characters with "…", HTML escaping, and a failure kept until close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "textout.h"
#include "utf8.h"

static void
test_clean_replaces_bad_utf8_and_controls(void **state)
{
	char	*s;

	(void)state;
	s = clean_dup("a\tb\nc\x7f\xff" "d\xc3\xb1");
	assert_non_null(s);
	assert_string_equal(s, "a b c \xef\xbf\xbd" "d\xc3\xb1");
	free(s);
	s = clean_dup(NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void
test_cut_counts_characters_not_octets(void **state)
{
	char	*s;

	(void)state;
	/* five characters, ten octets: fits in five */
	s = cut_dup("\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1", 5);
	assert_string_equal(s, "\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1");
	free(s);
	s = cut_dup("\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1", 4);
	assert_string_equal(s, "\xc3\xb1\xc3\xb1\xc3\xb1" OUT_ELLIPSIS);
	free(s);
	assert_int_equal(utf8_prefix("a\xc3\xb1" "b", 2), 3);
	assert_int_equal(utf8_prefix("ab", 9), 2);
}

static void
test_writes_text_and_escaped_html(void **state)
{
	struct out	 o;
	char		*s;

	(void)state;
	assert_true(out_open(&o));
	out_str(&o, "<b>");
	out_html(&o, "R&D \"<x>\"\n");
	out_bytes(&o, "</b>...", 4);
	out_printf(&o, " %d", 42);
	out_clean(&o, " \x01");
	s = out_close(&o);
	assert_non_null(s);
	assert_string_equal(s, "<b>R&amp;D &quot;&lt;x&gt;&quot; </b> 42  ");
	free(s);
}

static void
test_failure_kept_until_close(void **state)
{
	struct out	o;

	(void)state;
	assert_true(out_open(&o));
	out_str(&o, "written");
	o.failed = true;
	out_str(&o, " and more");
	assert_null(out_close(&o));
	assert_null(out_close(&o));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_replaces_bad_utf8_and_controls),
		cmocka_unit_test(test_cut_counts_characters_not_octets),
		cmocka_unit_test(test_writes_text_and_escaped_html),
		cmocka_unit_test(test_failure_kept_until_close),
	};

	return cmocka_run_group_tests(tests, 0, NULL);
}
