/*
 * The issue list of a refused batch: JSON pointer escaping, the cap on listed issues,
 * and the JSON that becomes the 422 body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "issues.h"
#include "sjson.h"

static void
test_pointer_escapes_tilde_and_slash(void **state)
{
	char *p;

	p = issues_pointer("/projects/17", "planned_cost");
	assert_string_equal(p, "/projects/17/planned_cost");
	free(p);
	p = issues_pointer("", "a/b~c");
	assert_string_equal(p, "/a~1b~0c");
	free(p);
	p = issues_pointer(NULL, "~/~1");
	assert_string_equal(p, "/~0~1~01");
	free(p);
	p = issues_pointer("/x", "");
	assert_string_equal(p, "/x/");
	free(p);
	p = issues_pointer("/r", "m\xc3\xa9 t");
	assert_string_equal(p, "/r/m\xc3\xa9 t");
	free(p);
}

static void
test_pointer_index_appends_the_index(void **state)
{
	char *p;

	p = issues_pointer_index("/projects", 17);
	assert_string_equal(p, "/projects/17");
	free(p);
	p = issues_pointer_index("", 0);
	assert_string_equal(p, "/0");
	free(p);
	p = issues_pointer_index(NULL, 3);
	assert_string_equal(p, "/3");
	free(p);
}

static void
test_issues_become_json_with_record_when_known(void **state)
{
	struct issue_list l = { 0 };
	json_t *j;
	char *text;

	issues_add(&l, 17, "/projects/17/planned_cost", "must be a decimal amount");
	issues_add(&l, -1, "line 4", "%d fields, want %d", 7, 9);
	issues_add(&l, 2, NULL, "record is \"%s\"", "odd");
	assert_int_equal(l.count, 3);
	assert_int_equal(l.total, 3);
	j = issues_to_json(&l);
	text = sjson_dumps(j);
	assert_string_equal(text,
	    "[{\"record\":17,\"pointer\":\"/projects/17/planned_cost\","
	    "\"message\":\"must be a decimal amount\"},"
	    "{\"pointer\":\"line 4\",\"message\":\"7 fields, want 9\"},"
	    "{\"record\":2,\"pointer\":\"\",\"message\":\"record is \\\"odd\\\"\"}]");
	free(text);
	json_decref(j);
	issues_clear(&l);
	assert_int_equal(l.count, 0);
	assert_int_equal(l.total, 0);
	assert_null(l.items);
}

static void
test_issues_beyond_the_cap_are_only_counted(void **state)
{
	struct issue_list l = { 0 };
	json_t *j;

	for (long i = 0; i < ISSUES_MAX_LISTED + 250; i++)
		issues_add(&l, i, "/projects/0", "bad %ld", i);
	assert_int_equal(l.count, ISSUES_MAX_LISTED);
	assert_int_equal(l.total, ISSUES_MAX_LISTED + 250);
	j = issues_to_json(&l);
	assert_int_equal(json_array_size(j), ISSUES_MAX_LISTED);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 999),
	    "message")), "bad 999");
	json_decref(j);
	issues_clear(&l);
}

static void
test_invalid_utf8_in_a_message_is_replaced(void **state)
{
	struct issue_list l = { 0 };
	json_t *j;

	/* a value quoted in a message and cut in the middle of a character */
	issues_add(&l, 0, "/a", "too long: \"%.5s\"", "abcd\xc3\xa9" "f");
	issues_add(&l, 1, "/\xff", "x");
	j = issues_to_json(&l);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0),
	    "message")), "too long: \"abcd\xef\xbf\xbd\"");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1),
	    "pointer")), "/\xef\xbf\xbd");
	json_decref(j);
	issues_clear(&l);
}

static void
test_empty_list_is_an_empty_array(void **state)
{
	struct issue_list l = { 0 };
	json_t *j = issues_to_json(&l);

	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	issues_clear(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pointer_escapes_tilde_and_slash),
		cmocka_unit_test(test_pointer_index_appends_the_index),
		cmocka_unit_test(test_issues_become_json_with_record_when_known),
		cmocka_unit_test(test_issues_beyond_the_cap_are_only_counted),
		cmocka_unit_test(test_invalid_utf8_in_a_message_is_replaced),
		cmocka_unit_test(test_empty_list_is_an_empty_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
