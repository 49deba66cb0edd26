/*
 * The streaming JSON scanner: what it accepts and refuses (with line and column), the
 * exact spans of the values it reports, and that where the pieces are cut changes
 * nothing, be it inside a string, an escape, a number or a literal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonscan.h"

/*
 * Scans a document cut at the given offsets, selecting the elements of "releases" and
 * the value of "links", and describes what came out in one string:
 * "<e1>|<e2>|...#links=<value>#keys=a,b#<error or "ok">".
 */
static char *
scan_cut(const char *doc, size_t len, const size_t *cuts, size_t ncuts, bool object_only)
{
	struct jsonscan		 s;
	enum jsonscan_event	 ev = JSONSCAN_MORE;
	char			*out = NULL, value[4096], links[1024] = "", keys[1024] = "";
	size_t			 outsize = 0, vlen = 0, from = 0, pos, piece_start, piece_end;
	FILE			*f;
	bool			 in_value = false, next_is_links = false, value_is_links = false;
	bool			 failed = false;

	assert_non_null(f = open_memstream(&out, &outsize));
	jsonscan_init(&s, 1, "document", object_only);
	for (size_t c = 0; c <= ncuts && !failed; c++) {
		piece_start = c == 0 ? 0 : cuts[c - 1];
		piece_end = c == ncuts ? len : cuts[c];
		const char *piece = doc + piece_start;
		size_t plen = piece_end - piece_start;

		pos = 0;
		from = 0;
		for (;;) {
			ev = jsonscan_feed(&s, piece, plen, &pos);
			if (ev == JSONSCAN_MORE || ev == JSONSCAN_ERROR)
				break;
			switch (ev) {
			case JSONSCAN_KEY:
				strcat(keys, s.key);
				strcat(keys, s.key_long ? "+," : ",");
				if (!s.key_long && strcmp(s.key, "releases") == 0)
					jsonscan_select(&s, JSONSCAN_ELEMENTS);
				else if (!s.key_long && strcmp(s.key, "links") == 0) {
					jsonscan_select(&s, JSONSCAN_VALUE);
					next_is_links = true;
				}
				break;
			case JSONSCAN_BEGIN:
				assert_false(in_value);
				in_value = true;
				value_is_links = next_is_links;
				next_is_links = false;
				from = s.at;
				vlen = 0;
				break;
			case JSONSCAN_END:
				assert_true(in_value);
				assert_true(s.at >= from);
				memcpy(value + vlen, piece + from, s.at - from);
				vlen += s.at - from;
				value[vlen] = '\0';
				if (value_is_links)
					strcpy(links, value);
				else
					fprintf(f, "<%s>", value);
				in_value = false;
				break;
			default:
				break;
			}
		}
		if (ev == JSONSCAN_ERROR) {
			failed = true;
			break;
		}
		if (in_value) {
			memcpy(value + vlen, piece + from, plen - from);
			vlen += plen - from;
		}
	}
	if (!failed && jsonscan_finish(&s) == JSONSCAN_ERROR)
		failed = true;
	fprintf(f, "#links=%s#keys=%s#%s", links, keys, failed ? s.error : "ok");
	fclose(f);
	return out;
}

static char *
scan_whole(const char *doc, bool object_only)
{
	return scan_cut(doc, strlen(doc), NULL, 0, object_only);
}

/* The same outcome whole, byte by byte, in 7-byte pieces and cut once anywhere. */
static char *
scan_every_way(const char *doc, bool object_only)
{
	size_t	 len = strlen(doc), *cuts;
	char	*whole, *other;

	whole = scan_whole(doc, object_only);
	assert_non_null(cuts = calloc(len + 1, sizeof(*cuts)));
	for (size_t step = 1; step <= 7; step += 6) {
		size_t n = 0;

		for (size_t at = step; at < len; at += step)
			cuts[n++] = at;
		other = scan_cut(doc, len, cuts, n, object_only);
		assert_string_equal(other, whole);
		free(other);
	}
	for (size_t at = 0; at <= len; at++) {
		cuts[0] = at;
		other = scan_cut(doc, len, cuts, 1, object_only);
		assert_string_equal(other, whole);
		free(other);
	}
	free(cuts);
	return whole;
}

static void
expect(const char *doc, const char *want)
{
	char *got = scan_every_way(doc, true);

	assert_string_equal(got, want);
	free(got);
}

static void
test_elements_and_links_are_reported_byte_for_byte(void **state)
{
	expect("{\"uri\": \"x\", \"releases\": [ {\"a\":[1,2],\"b\":{\"c\":\"}\"}} , \"s\\\"]\", "
	    "12 , -0.5e+3,true ,null,[ ],{}, 0, 1E9 ],\n \"links\": {\"next\": \"u\"}}\n",
	    "<{\"a\":[1,2],\"b\":{\"c\":\"}\"}}><\"s\\\"]\"><12><-0.5e+3><true><null>"
	    "<[ ]><{}><0><1E9>#links={\"next\": \"u\"}#keys=uri,releases,links,#ok");
	/* Members of nested objects are not the document's. */
	expect("{\"a\": {\"releases\": [1]}, \"releases\": []}",
	    "#links=#keys=a,releases,#ok");
	/* A member name written with escapes is the name it stands for. */
	expect("{\"rel\\u0065a\\u0073es\": [\"x\"], \"links\": null}",
	    "<\"x\">#links=null#keys=releases,links,#ok");
}

static void
test_member_names_too_long_or_not_ascii_match_nothing(void **state)
{
	char	doc[256], *got;

	snprintf(doc, sizeof(doc), "{\"%s\": [1]}",
	    "releasesreleasesreleasesreleasesreleasesreleasesreleasesreleasesX");
	got = scan_whole(doc, true);
	assert_non_null(strstr(got, "+,#ok"));
	assert_null(strstr(got, "<1>"));
	free(got);
	got = scan_whole("{\"releases\\u00e9\": [1]}", true);
	assert_string_equal(got, "#links=#keys=releases+,#ok");
	free(got);
}

static void
test_valid_json_of_every_sort_is_accepted(void **state)
{
	static const char *const docs[] = {
		"{}", " {} ", "{\"a\":{}}", "{\"a\":[]}",
		"{\"n\":[0,-0,1,-1,10,0.5,-0.0e0,1e5,1E+5,1e-5,123456789012345678901234567890]}",
		"{\"s\":[\"\",\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u0041\\uD83D\\uDE00\",\"é😀\"]}",
		"{\"l\":[true,false,null]}",
		"\t\r\n{\r\n\"a\"\t:\n1\n}\n\n",
	};
	char *got;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		got = scan_every_way(docs[i], true);
		if (strstr(got, "#ok") == NULL)
			fail_msg("refused %s: %s", docs[i], got);
		free(got);
	}
	/* Any value at the top when an object is not required. */
	static const char *const scalars[] = { "1", " -2.5 ", "\"s\"", "true", "null", "[1,[2]]" };
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		got = scan_every_way(scalars[i], false);
		if (strstr(got, "#ok") == NULL)
			fail_msg("refused %s: %s", scalars[i], got);
		free(got);
	}
}

struct refusal {
	const char	*doc;
	const char	*error;
};

static void
test_malformed_json_names_line_column_and_what_was_expected(void **state)
{
	static const struct refusal cases[] = {
		{ "{\"a\":1,}", "line 1, column 8: expected '\"' (a member name), found '}'" },
		{ "{\"a\":[1,]}", "line 1, column 9: expected a value, found ']'" },
		{ "{\"a\" 1}", "line 1, column 6: expected ':', found '1'" },
		{ "{\"a\":[01]}", "line 1, column 8: a number with a leading zero" },
		{ "{\"a\":[1.]}", "line 1, column 9: expected a digit after '.', found ']'" },
		{ "{\"a\":-}", "line 1, column 7: expected a digit after '-', found '}'" },
		{ "{\"a\":1e}", "line 1, column 8: expected a digit in the exponent, found '}'" },
		{ "{\"a\":1e+}", "line 1, column 9: expected a digit in the exponent, found '}'" },
		{ "{\"a\":.5}", "line 1, column 6: expected a value, found '.'" },
		{ "{\"a\":tru}", "line 1, column 9: expected 'true', found '}'" },
		{ "{\"a\":nul1}", "line 1, column 9: expected 'null', found '1'" },
		{ "{\"a\":\"\\x\"}", "line 1, column 8: invalid escape: expected one of "
		    "\"\\/bfnrtu after '\\', found 'x'" },
		{ "{\"a\":\"\\u12G4\"}", "line 1, column 11: invalid \\u escape: expected a "
		    "hex digit, found 'G'" },
		{ "{\"a\":\"x\ny\"}", "line 1, column 8: a line break in a string "
		    "(write it \\n)" },
		{ "{\"a\":\"x\ty\"}", "line 1, column 8: control character 0x09 in a string" },
		{ "{\"a\":1}x", "line 1, column 8: expected the end of the document after "
		    "the value, found 'x'" },
		{ "{\"a\":1]", "line 1, column 7: expected ',' or '}', found ']'" },
		{ "{\"a\":[1}", "line 1, column 8: expected ',' or ']', found '}'" },
		{ "{\"a\" : [1, 2] , }", "line 1, column 17: expected '\"' (a member name), "
		    "found '}'" },
		{ "{1:2}", "line 1, column 2: expected '\"' or '}', found '1'" },
		{ "[1]", "line 1, column 1: expected '{', found '['" },
		{ "\xef\xbb\xbf{}", "line 1, column 1: expected '{', found byte 0xef" },
		{ "{\n  \"a\": [\n    1,\n    x\n]}", "line 4, column 5: expected a value, "
		    "found 'x'" },
		/* Columns count characters, not bytes. */
		{ "{\"é€😀\": x}", "line 1, column 9: expected a value, found 'x'" },
		{ "{\"a\":\"b\"\"c\"}", "line 1, column 9: expected ',' or '}', found '\"'" },
		{ "{\"releases\": {}}", "line 1, column 14: expected '[' (an array), found '{'" },
		{ "{\"releases\": 1}", "line 1, column 14: expected '[' (an array), found '1'" },
		/* Truncated documents. */
		{ "", "line 1, column 1: the document is empty" },
		{ " \n ", "line 2, column 2: the document is empty" },
		{ "{\"a\": [1, 2,", "line 1, column 13: the document ends inside an array" },
		{ "{\"a\": [1, 2]", "line 1, column 13: the document ends inside an object" },
		{ "{\"a\": [{\"b\":\n", "line 2, column 1: the document ends inside an "
		    "object" },
		{ "{\"a\": \"xy", "line 1, column 10: the document ends inside a string" },
		{ "{\"a\": \"x\\", "line 1, column 10: the document ends inside a string" },
		{ "{\"a\": \"\\u00", "line 1, column 12: the document ends inside a string" },
		{ "{\"ab", "line 1, column 5: the document ends inside a member name" },
		{ "{\"a\": tr", "line 1, column 9: the document ends inside 'true'" },
		{ "{\"a\": [12", "line 1, column 10: the document ends inside a number" },
		{ "{\"a\": -", "line 1, column 8: the document ends inside a number" },
	};
	char	*got, *error;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = scan_every_way(cases[i].doc, true);
		error = strrchr(got, '#') + 1;
		if (strcmp(error, cases[i].error) != 0)
			fail_msg("%s:\n got %s\nwant %s", cases[i].doc, error, cases[i].error);
		free(got);
	}
}

static void
test_a_nul_byte_is_named(void **state)
{
	static const char	doc[] = "{\"a\": [1, \0]}";
	static const char	in_string[] = "{\"a\": \"x\0\"}";
	char			*got;

	got = scan_cut(doc, sizeof(doc) - 1, NULL, 0, true);
	assert_non_null(strstr(got, "#line 1, column 11: expected a value, found a NUL "
	    "byte"));
	free(got);
	got = scan_cut(in_string, sizeof(in_string) - 1, NULL, 0, true);
	assert_non_null(strstr(got, "#line 1, column 9: a NUL byte in a string"));
	free(got);
}

static void
test_nesting_is_bounded(void **state)
{
	char	doc[2 * JSONSCAN_DEPTH_MAX + 16], *got;
	size_t	n = 0;

	/* 64 levels: the object and 63 arrays. */
	doc[n++] = '{';
	memcpy(doc + n, "\"a\":", 4);
	n += 4;
	for (int i = 1; i < JSONSCAN_DEPTH_MAX; i++)
		doc[n++] = '[';
	for (int i = 1; i < JSONSCAN_DEPTH_MAX; i++)
		doc[n++] = ']';
	doc[n++] = '}';
	doc[n] = '\0';
	got = scan_whole(doc, true);
	assert_non_null(strstr(got, "#ok"));
	free(got);

	/* One more is refused where it opens. */
	n = 5;
	for (int i = 1; i <= JSONSCAN_DEPTH_MAX; i++)
		doc[n++] = '[';
	doc[n] = '\0';
	got = scan_whole(doc, true);
	assert_non_null(strstr(got, "#line 1, column 69: nesting deeper than 64"));
	free(got);
}

/* Columns go on counting across pieces of one long line, and restart after a break. */
static void
test_columns_across_pieces(void **state)
{
	char	doc[2000], *got;
	size_t	n = 0, cuts[3] = { 100, 999, 1500 };

	n += (size_t)sprintf(doc, "{\"a\": \"");
	memset(doc + n, 'x', 1200);
	n += 1200;
	n += (size_t)sprintf(doc + n, "\", \"b\": ?}");
	got = scan_cut(doc, n, cuts, 3, true);
	assert_non_null(strstr(got, "#line 1, column 1216: expected a value, found '?'"));
	free(got);

	n = (size_t)sprintf(doc, "{\"a\":\n\"é\",\n  \"b\": ?}");
	cuts[0] = 3;
	cuts[1] = 8;
	cuts[2] = 12;
	got = scan_cut(doc, n, cuts, 3, true);
	assert_non_null(strstr(got, "#line 3, column 8: expected a value, found '?'"));
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elements_and_links_are_reported_byte_for_byte),
		cmocka_unit_test(test_member_names_too_long_or_not_ascii_match_nothing),
		cmocka_unit_test(test_valid_json_of_every_sort_is_accepted),
		cmocka_unit_test(test_malformed_json_names_line_column_and_what_was_expected),
		cmocka_unit_test(test_a_nul_byte_is_named),
		cmocka_unit_test(test_nesting_is_bounded),
		cmocka_unit_test(test_columns_across_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
