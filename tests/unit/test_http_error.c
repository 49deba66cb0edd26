/*
 * The JSON error bodies every failed request gets, and the code word of each status:
 * clients branch on these, so their shape is part of the API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http.h"

/* The body as the server sends it: compact, keys in insertion order. */
static void
assert_body(json_t *body, const char *expected)
{
	char *text;

	assert_non_null(body);
	text = json_dumps(body, JSON_COMPACT);
	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
	json_decref(body);
}

static void
test_error_body_has_code_message_and_empty_details(void **state)
{
	assert_body(http_error_body(404, "no such feed", NULL),
	    "{\"error\":{\"code\":\"not_found\",\"message\":\"no such feed\",\"details\":[]}}");
}

static void
test_error_body_keeps_the_details_given(void **state)
{
	json_t *details = json_pack("[{s:s, s:s}]", "pointer", "/projects/0/title",
	    "message", "required");

	assert_body(http_error_body(422, "2 records are invalid", details),
	    "{\"error\":{\"code\":\"invalid_records\",\"message\":\"2 records are invalid\","
	    "\"details\":[{\"pointer\":\"/projects/0/title\",\"message\":\"required\"}]}}");
}

static void
test_error_body_without_message_uses_the_reason_phrase(void **state)
{
	assert_body(http_error_body(503, NULL, NULL),
	    "{\"error\":{\"code\":\"unavailable\",\"message\":\"Service Unavailable\","
	    "\"details\":[]}}");
}

static void
test_error_body_escapes_the_message(void **state)
{
	assert_body(http_error_body(400, "bad \"quote\"\n", NULL),
	    "{\"error\":{\"code\":\"bad_request\",\"message\":\"bad \\\"quote\\\"\\n\","
	    "\"details\":[]}}");
}

static void
test_error_body_fields_are_typed(void **state)
{
	json_t		*body = http_error_body(413, "body larger than 1024 bytes", NULL);
	json_t		*error;

	assert_non_null(body);
	assert_int_equal(json_object_size(body), 1);
	error = json_object_get(body, "error");
	assert_true(json_is_object(error));
	assert_int_equal(json_object_size(error), 3);
	assert_true(json_is_string(json_object_get(error, "code")));
	assert_true(json_is_string(json_object_get(error, "message")));
	assert_true(json_is_array(json_object_get(error, "details")));
	json_decref(body);
}

static void
test_status_codes_name_the_problem(void **state)
{
	static const struct {
		int		 status;
		const char	*code;
	} cases[] = {
		{ 400, "bad_request" },
		{ 401, "unauthorized" },
		{ 403, "forbidden" },
		{ 404, "not_found" },
		{ 405, "method_not_allowed" },
		{ 409, "conflict" },
		{ 413, "payload_too_large" },
		{ 414, "uri_too_long" },
		{ 415, "unsupported_media_type" },
		{ 422, "invalid_records" },
		{ 429, "too_many_requests" },
		{ 500, "internal_error" },
		{ 503, "unavailable" },
		{ 418, "error" },
		{ 502, "error" },
		{ 200, "error" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(http_status_code(cases[i].status), cases[i].code);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_body_has_code_message_and_empty_details),
		cmocka_unit_test(test_error_body_keeps_the_details_given),
		cmocka_unit_test(test_error_body_without_message_uses_the_reason_phrase),
		cmocka_unit_test(test_error_body_escapes_the_message),
		cmocka_unit_test(test_error_body_fields_are_typed),
		cmocka_unit_test(test_status_codes_name_the_problem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
