/*
 * The strict JSON reader and writer: grammar, positions of errors, exact numbers, limits,
 * the pull reader, the writer, and the real OCDS files. Every input is copied into a heap
 * buffer of exactly its length, so a read past the end is caught by the sanitizers.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "sjson.h"
#include "shared_data.h"

/* A string literal as buffer and length, so that literals may hold NUL bytes. */
#define LIT(s)	(s), sizeof(s) - 1

/* The input in a buffer with nothing after it. */
static char *
exact_copy(const char *text, size_t len)
{
	char *copy = malloc(len > 0 ? len : 1);

	assert_non_null(copy);
	memcpy(copy, text, len);
	return copy;
}

static json_t *
parse_ok_at(const char *text, size_t len, const struct sjson_limits *limits,
    const char *file, int line)
{
	struct sjson_error err;
	char *copy = exact_copy(text, len);
	json_t *j;

	j = sjson_parse(copy, len, limits, &err);
	free(copy);
	if (j == NULL) {
		print_error("%s:%d: refused: %d:%d %s\n", file, line, err.line, err.column,
		    err.message);
		_fail(file, line);
	}
	return j;
}

#define parse_ok(lit)		parse_ok_at(LIT(lit), NULL, __FILE__, __LINE__)

/* Walks the whole input with the pull reader, as if nobody wanted a tree. */
static bool
reader_walk(const char *buf, size_t len, const struct sjson_limits *limits,
    struct sjson_error *err)
{
	struct sjson_reader *r = sjson_reader_new(buf, len, limits);
	enum sjson_token token;

	assert_non_null(r);
	while ((token = sjson_next(r)) > SJSON_END)
		;
	if (token == SJSON_ERROR)
		*err = *sjson_reader_error(r);
	else
		assert_null(sjson_reader_error(r));
	sjson_reader_free(r);
	return token == SJSON_END;
}

/* sjson_skip over the whole input, then the end. */
static bool
reader_skip(const char *buf, size_t len, const struct sjson_limits *limits,
    struct sjson_error *err)
{
	struct sjson_reader *r = sjson_reader_new(buf, len, limits);
	bool ok;

	assert_non_null(r);
	ok = sjson_skip(r) && sjson_next(r) == SJSON_END;
	if (!ok)
		*err = *sjson_reader_error(r);
	sjson_reader_free(r);
	return ok;
}

static bool
same_error(const struct sjson_error *a, const struct sjson_error *b)
{
	return a->line == b->line && a->column == b->column && a->offset == b->offset &&
	    strcmp(a->message, b->message) == 0;
}

/*
 * The input is refused by the tree parser, the pull reader and sjson_skip alike, with
 * the same message at the same place. line 0 skips the position check.
 */
static void
rejected_at(const char *text, size_t len, const struct sjson_limits *limits, int line,
    int column, const char *message, const char *file, int srcline)
{
	struct sjson_error err, walked, skipped;
	char *copy = exact_copy(text, len);
	json_t *j;

	if ((j = sjson_parse(copy, len, limits, &err)) != NULL) {
		json_decref(j);
		free(copy);
		print_error("%s:%d: accepted %.*s\n", file, srcline, (int)len, text);
		_fail(file, srcline);
	}
	if (strcmp(err.message, message) != 0 ||
	    (line != 0 && (err.line != line || err.column != column))) {
		free(copy);
		print_error("%s:%d: got %d:%d \"%s\", want %d:%d \"%s\"\n", file, srcline,
		    err.line, err.column, err.message, line, column, message);
		_fail(file, srcline);
	}
	if (reader_walk(copy, len, limits, &walked) || !same_error(&err, &walked) ||
	    reader_skip(copy, len, limits, &skipped) || !same_error(&err, &skipped)) {
		free(copy);
		print_error("%s:%d: the pull reader disagrees: %d:%d %s / %d:%d %s\n", file,
		    srcline, walked.line, walked.column, walked.message, skipped.line,
		    skipped.column, skipped.message);
		_fail(file, srcline);
	}
	free(copy);
}

#define assert_rejected(lit, line, column, message)				\
	rejected_at(LIT(lit), NULL, line, column, message, __FILE__, __LINE__)
#define assert_rejected_with(limits, lit, message)				\
	rejected_at(LIT(lit), limits, 0, 0, message, __FILE__, __LINE__)

static void
accepted_at(const char *text, size_t len, const char *file, int line)
{
	struct sjson_error err;
	char *copy = exact_copy(text, len);

	json_decref(parse_ok_at(copy, len, NULL, file, line));
	if (!reader_walk(copy, len, NULL, &err) || !reader_skip(copy, len, NULL, &err)) {
		print_error("%s:%d: the pull reader refuses: %s\n", file, line, err.message);
		_fail(file, line);
	}
	free(copy);
}

#define assert_accepted(lit)	accepted_at(LIT(lit), __FILE__, __LINE__)

static void
test_any_value_is_a_document(void **state)
{
	assert_accepted("null");
	assert_accepted("true");
	assert_accepted("false");
	assert_accepted("0");
	assert_accepted("-12.5e3");
	assert_accepted("\"text\"");
	assert_accepted("{}");
	assert_accepted("[]");
	assert_accepted(" \t\r\n[ \t\r\n] \t\r\n");
	assert_accepted("{\"a\":[1,{\"b\":null}],\"c\":{}}");
}

static void
test_empty_input_is_refused(void **state)
{
	struct sjson_error err;

	assert_rejected("", 1, 1, "unexpected end of input");
	assert_rejected("  \n ", 2, 2, "unexpected end of input");
	assert_null(sjson_parse(NULL, 0, NULL, &err));
	assert_string_equal(err.message, "unexpected end of input");
	assert_null(sjson_parse(NULL, 0, NULL, NULL));
}

static void
test_numbers_follow_the_grammar(void **state)
{
	assert_accepted("0");
	assert_accepted("-0");
	assert_accepted("7");
	assert_accepted("-10");
	assert_accepted("0.5");
	assert_accepted("-0.0");
	assert_accepted("1e5");
	assert_accepted("1E+5");
	assert_accepted("1e-5");
	assert_accepted("0e0");
	assert_accepted("1.5E-10");
	assert_accepted("[0,-0,1.0]");

	assert_rejected("01", 1, 1, "invalid number: leading zero");
	assert_rejected("-01", 1, 2, "invalid number: leading zero");
	assert_rejected("[00]", 1, 2, "invalid number: leading zero");
	assert_rejected("+1", 1, 1, "unexpected character '+'");
	assert_rejected(".5", 1, 1, "unexpected character '.'");
	assert_rejected("[1.]", 1, 4, "invalid number: unexpected character ']'");
	assert_rejected("1.e5", 1, 3, "invalid number: unexpected character 'e'");
	assert_rejected("[1e]", 1, 4, "invalid number: unexpected character ']'");
	assert_rejected("[1e+]", 1, 5, "invalid number: unexpected character ']'");
	assert_rejected("[-]", 1, 3, "invalid number: unexpected character ']'");
	assert_rejected("--1", 1, 2, "invalid number: unexpected character '-'");
	assert_rejected("-", 1, 2, "unexpected end of input");
	assert_rejected("1.", 1, 3, "unexpected end of input");
	assert_rejected("1e-", 1, 4, "unexpected end of input");
	assert_rejected("0x10", 1, 2, "trailing characters after the JSON value");
	assert_rejected("[1_000]", 1, 3, "unexpected character '_'");
	assert_rejected("NaN", 1, 1, "unexpected character 'N'");
	assert_rejected("[Infinity]", 1, 2, "unexpected character 'I'");
	assert_rejected("-Infinity", 1, 2, "invalid number: unexpected character 'I'");
}

static void
test_number_text_is_kept_exactly(void **state)
{
	static const char *const texts[] = {
		"775.76", "1e400", "-0.000000000000000000001",
		"12345678901234567890123", "1.0", "1E+2", "-0", "1311264.00",
	};
	json_t *j = parse_ok("[775.76, 1e400,-0.000000000000000000001,\n"
	    "12345678901234567890123 ,1.0,1E+2,-0,1311264.00]");
	char *text;

	assert_int_equal(json_array_size(j), sizeof(texts) / sizeof(texts[0]));
	for (size_t i = 0; i < json_array_size(j); i++) {
		assert_true(sjson_is_number(json_array_get(j, i)));
		assert_string_equal(sjson_number(json_array_get(j, i)), texts[i]);
	}
	text = sjson_dumps(j);
	assert_string_equal(text, "[775.76,1e400,-0.000000000000000000001,"
	    "12345678901234567890123,1.0,1E+2,-0,1311264.00]");
	free(text);
	json_decref(j);
}

static void
test_strings_are_not_numbers(void **state)
{
	json_t *j = parse_ok("[\"12\", 12, \"\", true, null]");
	json_t *text = json_string("12"), *integer = json_integer(12);

	assert_false(sjson_is_number(json_array_get(j, 0)));
	assert_null(sjson_number(json_array_get(j, 0)));
	assert_string_equal(json_string_value(json_array_get(j, 0)), "12");
	assert_true(sjson_is_number(json_array_get(j, 1)));
	assert_false(sjson_is_number(json_array_get(j, 2)));
	assert_false(sjson_is_number(json_array_get(j, 3)));
	assert_false(sjson_is_number(json_array_get(j, 4)));
	assert_true(json_is_true(json_array_get(j, 3)));
	assert_true(json_is_null(json_array_get(j, 4)));
	assert_false(sjson_is_number(text));
	assert_false(sjson_is_number(integer));
	assert_false(sjson_is_number(NULL));
	json_decref(text);
	json_decref(integer);
	json_decref(j);
}

static void
test_number_new_takes_only_json_numbers(void **state)
{
	static const char *const good[] = {
		"0", "-0", "12.50", "1e400", "-1.5E-7", "12345678901234567890123",
	};
	static const char *const bad[] = {
		"", "abc", "01", " 1", "1 ", "+1", ".5", "1.", "1e", "-", "1,5", "0x1",
		"NaN", "Infinity", "1.2.3",
	};
	json_t *j;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_non_null(j = sjson_number_new(good[i]));
		assert_string_equal(sjson_number(j), good[i]);
		json_decref(j);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(sjson_number_new(bad[i]));
	assert_null(sjson_number_new(NULL));
}

static void
test_literals_are_exact(void **state)
{
	assert_rejected("tru", 1, 4, "unexpected end of input");
	assert_rejected("[nul", 1, 5, "unexpected end of input");
	assert_rejected("trUe", 1, 3, "unexpected character 'U'");
	assert_rejected("True", 1, 1, "unexpected character 'T'");
	assert_rejected("[fals]", 1, 6, "unexpected character ']'");
	assert_rejected("null1", 1, 5, "trailing characters after the JSON value");
	assert_rejected("[truex]", 1, 6, "unexpected character 'x'");
	assert_rejected("undefined", 1, 1, "unexpected character 'u'");
}

static void
test_separators_are_required_and_not_trailing(void **state)
{
	assert_rejected("[1,]", 1, 4, "unexpected character ']'");
	assert_rejected("{\"a\":1,}", 1, 8, "unexpected character '}'");
	assert_rejected("[,1]", 1, 2, "unexpected character ','");
	assert_rejected("[1,,2]", 1, 4, "unexpected character ','");
	assert_rejected("{,}", 1, 2, "unexpected character ','");
	assert_rejected("[1 2]", 1, 4, "unexpected character '2'");
	assert_rejected("{\"a\" 1}", 1, 6, "unexpected character '1'");
	assert_rejected("{\"a\":1 \"b\":2}", 1, 8, "unexpected character '\"'");
	assert_rejected("{\"a\"}", 1, 5, "unexpected character '}'");
	assert_rejected("{\"a\":}", 1, 6, "unexpected character '}'");
	assert_rejected("{1:2}", 1, 2, "unexpected character '1'");
	assert_rejected("{a:2}", 1, 2, "unexpected character 'a'");
	assert_rejected("{\"a\"=1}", 1, 5, "unexpected character '='");
	assert_rejected("[1}", 1, 3, "unexpected character '}'");
	assert_rejected("{\"a\":1]", 1, 7, "unexpected character ']'");
	assert_rejected("['a']", 1, 2, "unexpected character '''");
	assert_rejected("[", 1, 2, "unexpected end of input");
	assert_rejected("{\"a\":1", 1, 7, "unexpected end of input");
	assert_rejected("{\"a\"", 1, 5, "unexpected end of input");
	assert_rejected("[[1,[2]]", 1, 9, "unexpected end of input");
}

static void
test_comments_are_refused(void **state)
{
	assert_rejected("[1 /* one */]", 1, 4, "unexpected character '/'");
	assert_rejected("// note\n1", 1, 1, "unexpected character '/'");
	assert_rejected("# note\n1", 1, 1, "unexpected character '#'");
}

static void
test_only_white_space_may_follow_the_value(void **state)
{
	assert_rejected("1 2", 1, 3, "trailing characters after the JSON value");
	assert_rejected("{} x", 1, 4, "trailing characters after the JSON value");
	assert_rejected("[]]", 1, 3, "trailing characters after the JSON value");
	assert_rejected("{}\n\n  {}", 3, 3, "trailing characters after the JSON value");
	assert_rejected("\"a\"\"b\"", 1, 4, "trailing characters after the JSON value");
	assert_rejected("[]\0", 1, 3, "trailing characters after the JSON value");
}

static void
test_error_position_counts_lines_and_characters(void **state)
{
	struct sjson_error err;

	assert_rejected("{\n  \"a\": }", 2, 8, "unexpected character '}'");
	/* é and € are one character each but two and three bytes */
	assert_rejected("[\"é\", x]", 1, 7, "unexpected character 'x'");
	assert_rejected("[\"€€\",\n\"é\"  ,?]", 2, 7, "unexpected character '?'");
	/* CRLF line ends: CR is white space, LF ends the line */
	assert_rejected("{\r\n\"a\":\r\n x}", 3, 2, "unexpected character 'x'");
	assert_rejected("[1,\r\n\r\n2,\r\n]", 4, 1, "unexpected character ']'");

	assert_null(sjson_parse(LIT("[\"é\", x]"), NULL, &err));
	assert_int_equal(err.offset, 7);
	assert_null(sjson_parse(LIT("{\r\n\"a\":\r\n x}"), NULL, &err));
	assert_int_equal(err.offset, 10);
}

static void
test_escapes_are_decoded(void **state)
{
	json_t *j = parse_ok("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u00E9\", \"\\u20AC\","
	    " \"\\uD83D\\uDE00\", \"a\\u0041b\", \"\\u007f\\u0001\", \"\\uFFFF\","
	    " \"\\uDBFF\\uDFFF\"]");

	assert_string_equal(json_string_value(json_array_get(j, 0)), "\"\\/\b\f\n\r\t");
	assert_string_equal(json_string_value(json_array_get(j, 1)), "\xc3\xa9\xc3\xa9");
	assert_string_equal(json_string_value(json_array_get(j, 2)), "\xe2\x82\xac");
	assert_string_equal(json_string_value(json_array_get(j, 3)), "\xf0\x9f\x98\x80");
	assert_string_equal(json_string_value(json_array_get(j, 4)), "aAb");
	assert_string_equal(json_string_value(json_array_get(j, 5)), "\x7f\x01");
	assert_string_equal(json_string_value(json_array_get(j, 6)), "\xef\xbf\xbf");
	assert_string_equal(json_string_value(json_array_get(j, 7)), "\xf4\x8f\xbf\xbf");
	json_decref(j);
}

static void
test_bad_escapes_are_refused(void **state)
{
	assert_rejected("[\"ab\\x\"]", 1, 5, "invalid escape '\\x' in string");
	assert_rejected("\"\\'\"", 1, 2, "invalid escape '\\'' in string");
	assert_rejected("\"\\U0041\"", 1, 2, "invalid escape '\\U' in string");
	assert_rejected("\"\\u12\"", 1, 2, "invalid \\u escape in string");
	assert_rejected("\"\\u12G4\"", 1, 2, "invalid \\u escape in string");
	assert_rejected("\"\\u 123\"", 1, 2, "invalid \\u escape in string");
	assert_rejected("\"\\u123", 1, 2, "invalid \\u escape in string");
	assert_rejected("\"\\", 1, 1, "unterminated string");
	assert_rejected("\"\\\0\"", 1, 2, "invalid escape in string");
}

static void
test_lone_surrogates_are_refused(void **state)
{
	assert_rejected("\"\\uD800\"", 1, 2, "lone surrogate \\uD800 in string");
	assert_rejected("\"\\udc00\"", 1, 2, "lone surrogate \\uDC00 in string");
	assert_rejected("\"x\\uD800\\u0041\"", 1, 3, "lone surrogate \\uD800 in string");
	assert_rejected("\"\\uD800x\"", 1, 2, "lone surrogate \\uD800 in string");
	assert_rejected("\"\\uDBFF\\uDBFF\"", 1, 2, "lone surrogate \\uDBFF in string");
	assert_rejected("\"\\uD800\\n\"", 1, 2, "lone surrogate \\uD800 in string");
	assert_rejected("\"\\uD800\\uDC0", 1, 2, "lone surrogate \\uD800 in string");
	assert_rejected("\"\\uDE00\\uD83D\"", 1, 2, "lone surrogate \\uDE00 in string");
}

static void
test_nul_is_refused_raw_and_escaped(void **state)
{
	assert_rejected("\"a\0b\"", 1, 3, "NUL byte");
	assert_rejected("[1,\0]", 1, 4, "NUL byte");
	assert_rejected("\0", 1, 1, "NUL byte");
	assert_rejected("\"a\\u0000b\"", 1, 3, "NUL byte");
	assert_rejected("{\"\\u0000\":1}", 1, 3, "NUL byte");
}

static void
test_raw_control_characters_in_strings_are_refused(void **state)
{
	assert_rejected("[\"a\nb\"]", 1, 4, "unescaped control character 0x0a in string");
	assert_rejected("\"\t\"", 1, 2, "unescaped control character 0x09 in string");
	assert_rejected("\"\x1f\"", 1, 2, "unescaped control character 0x1f in string");
	assert_rejected("\"\r\"", 1, 2, "unescaped control character 0x0d in string");
	assert_rejected("[\x01]", 1, 2, "unexpected control character 0x01");
	assert_rejected("[1,\f2]", 1, 4, "unexpected control character 0x0c");
	assert_rejected("\"abc", 1, 1, "unterminated string");
	assert_rejected("{\"key", 1, 2, "unterminated string");
	/* DEL is not a control character to JSON */
	assert_accepted("\"\x7f\"");
}

static void
test_invalid_utf8_is_refused(void **state)
{
	assert_accepted("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf"
	    " \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"");

	/* overlong forms */
	assert_rejected("\"\xc0\x80\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xc1\xbf\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xe0\x80\x80\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xe0\x9f\xbf\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xf0\x80\x80\x80\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xf0\x8f\xbf\xbf\"", 1, 2, "invalid UTF-8");
	/* UTF-16 surrogates encoded in UTF-8 */
	assert_rejected("\"\xed\xa0\x80\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xed\xbf\xbf\"", 1, 2, "invalid UTF-8");
	/* beyond U+10FFFF */
	assert_rejected("\"\xf4\x90\x80\x80\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xf5\x80\x80\x80\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xff\"", 1, 2, "invalid UTF-8");
	/* stray continuation bytes, cut sequences */
	assert_rejected("\"ab\x80\"", 1, 4, "invalid UTF-8");
	assert_rejected("\"\xc3\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xe2\x82\"", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xe2\x82", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xf0\x9f\x98", 1, 2, "invalid UTF-8");
	assert_rejected("\"\xc3\xa9\xc3", 1, 3, "invalid UTF-8");
	/* in keys too, and outside strings */
	assert_rejected("{\"\xc0\xaf\":1}", 1, 3, "invalid UTF-8");
	assert_rejected("[\xff]", 1, 2, "invalid UTF-8");
	assert_rejected("[\xc3\xa9]", 1, 2, "unexpected character '\xc3\xa9'");
	assert_rejected("\xef\xbb\xbf{}", 1, 1,
	    "byte order mark (U+FEFF) before the JSON value");
}

static void
test_duplicate_keys_are_refused_at_every_depth(void **state)
{
	json_t *j;

	assert_rejected("{\"a\":1,\"a\":2}", 1, 8, "duplicate key \"a\"");
	assert_rejected("{\"id\":1,\n \"b\":2,\n \"id\":{}}", 3, 2, "duplicate key \"id\"");
	assert_rejected("{\"x\":{\"y\":[{\"id\":1,\"id\":[1]}]}}", 1, 20,
	    "duplicate key \"id\"");
	/* the same key once escaped, once not */
	assert_rejected("{\"a\":1,\"\\u0061\":2}", 1, 8, "duplicate key \"a\"");
	assert_rejected("{\"\\n\":1,\"\\u000a\":2}", 1, 9, "duplicate key \"\\u000a\"");
	assert_rejected("{\"\":1,\"\":2}", 1, 7, "duplicate key \"\"");
	assert_rejected("{\"q\\\"\":1,\"q\\\"\":2}", 1, 10, "duplicate key \"q\\\"\"");
	/* the same key in different objects, and keys that only look alike, are fine */
	assert_accepted("[{\"a\":1},{\"a\":2},{\"b\":{\"a\":3}}]");
	assert_accepted("{\"a\":1,\"A\":2,\"a \":3,\"\xc3\xa9\":4,\"e\\u0301\":5}");

	j = parse_ok("{\"a\":1,\"b\":{\"a\":2}}");
	assert_string_equal(sjson_number(json_object_get(j, "a")), "1");
	assert_string_equal(sjson_number(json_object_get(json_object_get(j, "b"), "a")),
	    "2");
	json_decref(j);
}

/* An object with n keys "k0".."k<n-1>", and `dup` again at the end if >= 0. */
static char *
many_keys(size_t n, long dup, size_t *len)
{
	struct evbuffer *b = evbuffer_new();
	char *text;

	evbuffer_add_printf(b, "{");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	if (dup >= 0)
		evbuffer_add_printf(b, ",\"k%ld\":0", dup);
	evbuffer_add_printf(b, "}");
	*len = evbuffer_get_length(b);
	text = malloc(*len);
	evbuffer_remove(b, text, *len);
	evbuffer_free(b);
	return text;
}

static void
test_duplicate_keys_among_many_are_refused(void **state)
{
	struct sjson_error err;
	char message[64];
	size_t len;
	char *text;
	json_t *j;

	text = many_keys(5000, -1, &len);
	assert_non_null(j = sjson_parse(text, len, NULL, &err));
	assert_int_equal(json_object_size(j), 5000);
	json_decref(j);
	assert_true(reader_walk(text, len, NULL, &err));
	free(text);

	for (long dup = 0; dup < 5000; dup += 1237) {
		text = many_keys(5000, dup, &len);
		snprintf(message, sizeof(message), "duplicate key \"k%ld\"", dup);
		rejected_at(text, len, NULL, 0, 0, message, __FILE__, __LINE__);
		free(text);
	}
	text = many_keys(9, 8, &len);
	assert_false(reader_walk(text, len, NULL, &err));
	assert_string_equal(err.message, "duplicate key \"k8\"");
	free(text);
}

static void
test_reader_key_sets_are_fresh_per_object(void **state)
{
	/* a big object then small ones at the same depth: nothing leaks between them */
	struct evbuffer *b = evbuffer_new();
	struct sjson_error err;
	size_t len;
	char *text, *big = many_keys(300, -1, &len);

	evbuffer_add(b, "[", 1);
	evbuffer_add(b, big, len);
	for (int i = 0; i < 100; i++)
		evbuffer_add_printf(b, ",{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,"
		    "\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10}");
	evbuffer_add_printf(b, ",{\"a\":1,\"a\":2}]");
	len = evbuffer_get_length(b);
	text = malloc(len);
	evbuffer_remove(b, text, len);
	assert_false(reader_walk(text, len, NULL, &err));
	assert_string_equal(err.message, "duplicate key \"a\"");
	assert_int_equal(err.offset, len - 7);
	free(text);
	free(big);
	evbuffer_free(b);
}

static void
test_duplicate_key_message_is_cut_and_escaped(void **state)
{
	struct sjson_error err;
	char text[700];
	int n;

	n = snprintf(text, sizeof(text), "{\"%0300d\":1,\"%0300d\":2}", 7, 7);
	assert_null(sjson_parse(text, (size_t)n, NULL, &err));
	assert_true(strncmp(err.message, "duplicate key \"0000", 19) == 0);
	assert_true(strlen(err.message) < 120);
	assert_non_null(strstr(err.message, "...\""));
}

/* `depth` nested arrays, or objects when `objects`. */
static char *
nested(int depth, bool objects, size_t *len)
{
	char *text = malloc((size_t)depth * 6 + 1);
	size_t n = 0;

	for (int i = 0; i < depth; i++) {
		if (objects) {
			memcpy(text + n, "{\"a\":", 5);
			n += 5;
		} else
			text[n++] = '[';
	}
	text[n++] = '1';
	for (int i = 0; i < depth; i++)
		text[n++] = objects ? '}' : ']';
	*len = n;
	return text;
}

static void
test_nesting_is_limited(void **state)
{
	struct sjson_limits three = { 3, 0, 0 };
	struct sjson_error err;
	size_t len;
	char *text;
	json_t *j;

	for (int objects = 0; objects <= 1; objects++) {
		text = nested(64, objects, &len);
		assert_non_null(j = sjson_parse(text, len, NULL, &err));
		json_decref(j);
		assert_true(reader_walk(text, len, NULL, &err));
		assert_true(reader_skip(text, len, NULL, &err));
		free(text);

		text = nested(65, objects, &len);
		rejected_at(text, len, NULL, 1, objects ? 321 : 65, "nesting deeper than 64",
		    __FILE__, __LINE__);
		free(text);

		/* far deeper than any stack would take: refused early, no recursion */
		text = nested(200000, objects, &len);
		rejected_at(text, len, NULL, 1, objects ? 321 : 65, "nesting deeper than 64",
		    __FILE__, __LINE__);
		free(text);
	}
	json_decref(parse_ok_at(LIT("[{\"a\":[1]}]"), &three, __FILE__, __LINE__));
	assert_rejected_with(&three, "[{\"a\":[[1]]}]", "nesting deeper than 3");
	assert_rejected_with(&three, "[[[[", "nesting deeper than 3");
}

static void
test_strings_are_limited_after_unescaping(void **state)
{
	struct sjson_limits eight = { 0, 8, 0 };
	char *big;
	size_t len = 1024 * 1024 + 2;
	json_t *j;

	json_decref(parse_ok_at(LIT("\"12345678\""), &eight, __FILE__, __LINE__));
	assert_rejected_with(&eight, "\"123456789\"", "string longer than 8 bytes");
	/* four é are eight bytes, whatever their escaped length */
	json_decref(parse_ok_at(LIT("\"\\u00e9\\u00e9\\u00e9\\u00e9\""), &eight, __FILE__,
	    __LINE__));
	assert_rejected_with(&eight, "\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"",
	    "string longer than 8 bytes");
	assert_rejected_with(&eight, "\"1234\\n56789\"", "string longer than 8 bytes");
	assert_rejected_with(&eight, "\"12345\\n6789\"", "string longer than 8 bytes");
	assert_rejected_with(&eight, "{\"123456789\":1}", "string longer than 8 bytes");
	/* numbers have a limit of their own */
	json_decref(parse_ok_at(LIT("[123456789]"), &eight, __FILE__, __LINE__));

	/* the default is 1 MiB */
	big = malloc(len + 1);
	memset(big, 'x', len);
	big[0] = big[len - 1] = '"';
	j = parse_ok_at(big, len, NULL, __FILE__, __LINE__);
	assert_int_equal(json_string_length(j), 1024 * 1024);
	json_decref(j);
	big[len - 1] = 'x';
	big[len] = '"';
	rejected_at(big, len + 1, NULL, 1, 1, "string longer than 1048576 bytes", __FILE__,
	    __LINE__);
	free(big);
}

static void
test_reader_walks_a_release_package(void **state)
{
	static const char package[] =
	    "{\"version\":\"1.1\",\n \"releases\": [ {\"id\":\"a\",\"n\":1.50} ,\n"
	    "{\"id\":\"b\\u00e9\"}]}";
	struct sjson_reader *r = sjson_reader_new(LIT(package), NULL);
	const char *start;
	size_t len;
	json_t *release;

	assert_int_equal(sjson_peek(r), SJSON_OBJECT_BEGIN);
	assert_int_equal(sjson_peek(r), SJSON_OBJECT_BEGIN);
	assert_int_equal(sjson_next(r), SJSON_OBJECT_BEGIN);
	assert_int_equal(sjson_next(r), SJSON_KEY);
	assert_string_equal(sjson_key(r), "version");
	assert_int_equal(sjson_peek(r), SJSON_SCALAR);
	assert_int_equal(sjson_next(r), SJSON_SCALAR);
	assert_int_equal(sjson_peek(r), SJSON_KEY);
	assert_int_equal(sjson_next(r), SJSON_KEY);
	assert_string_equal(sjson_key(r), "releases");
	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);

	assert_int_equal(sjson_peek(r), SJSON_OBJECT_BEGIN);
	assert_non_null(release = sjson_take(r, &start, &len));
	assert_int_equal(start - package, 33);
	assert_int_equal(len, strlen("{\"id\":\"a\",\"n\":1.50}"));
	assert_memory_equal(start, "{\"id\":\"a\",\"n\":1.50}", len);
	assert_string_equal(sjson_number(json_object_get(release, "n")), "1.50");
	json_decref(release);

	assert_int_equal(sjson_peek(r), SJSON_OBJECT_BEGIN);
	assert_non_null(release = sjson_take(r, &start, &len));
	assert_memory_equal(start, "{\"id\":\"b\\u00e9\"}", len);
	assert_int_equal(len, strlen("{\"id\":\"b\\u00e9\"}"));
	assert_string_equal(json_string_value(json_object_get(release, "id")), "b\xc3\xa9");
	json_decref(release);

	assert_int_equal(sjson_peek(r), SJSON_ARRAY_END);
	assert_int_equal(sjson_next(r), SJSON_ARRAY_END);
	assert_int_equal(sjson_next(r), SJSON_OBJECT_END);
	assert_int_equal(sjson_peek(r), SJSON_END);
	assert_int_equal(sjson_next(r), SJSON_END);
	assert_int_equal(sjson_next(r), SJSON_END);
	assert_null(sjson_reader_error(r));
	sjson_reader_free(r);
}

static void
test_reader_takes_scalars_with_their_source_text(void **state)
{
	static const char doc[] = "[ \"a\\nb\" , -0.50e+3,true ,null]";
	struct sjson_reader *r = sjson_reader_new(LIT(doc), NULL);
	const char *start;
	size_t len;
	json_t *v;

	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	v = sjson_take(r, &start, &len);
	assert_string_equal(json_string_value(v), "a\nb");
	assert_int_equal(start - doc, 2);
	assert_int_equal(len, 6);
	json_decref(v);
	v = sjson_take(r, &start, &len);
	assert_string_equal(sjson_number(v), "-0.50e+3");
	assert_memory_equal(start, "-0.50e+3", len);
	json_decref(v);
	assert_int_equal(sjson_next(r), SJSON_SCALAR);
	v = sjson_take(r, NULL, NULL);
	assert_true(json_is_null(v));
	json_decref(v);
	assert_int_equal(sjson_next(r), SJSON_ARRAY_END);
	assert_int_equal(sjson_next(r), SJSON_END);
	sjson_reader_free(r);
}

static void
test_reader_takes_the_whole_document(void **state)
{
	static const char doc[] = "  {\"a\":[1,2]}  ";
	struct sjson_reader *r = sjson_reader_new(LIT(doc), NULL);
	const char *start;
	size_t len;
	json_t *v;

	assert_non_null(v = sjson_take(r, &start, &len));
	assert_int_equal(start - doc, 2);
	assert_int_equal(len, 11);
	json_decref(v);
	assert_int_equal(sjson_next(r), SJSON_END);
	sjson_reader_free(r);

	r = sjson_reader_new(LIT("{} {}"), NULL);
	assert_non_null(v = sjson_take(r, NULL, NULL));
	json_decref(v);
	assert_int_equal(sjson_next(r), SJSON_ERROR);
	assert_string_equal(sjson_reader_error(r)->message,
	    "trailing characters after the JSON value");
	sjson_reader_free(r);
}

static void
test_reader_take_needs_a_value(void **state)
{
	struct sjson_reader *r = sjson_reader_new(LIT("{\"a\":1}"), NULL);

	assert_int_equal(sjson_next(r), SJSON_OBJECT_BEGIN);
	assert_null(sjson_take(r, NULL, NULL));
	assert_string_equal(sjson_reader_error(r)->message, "expected a value");
	assert_int_equal(sjson_next(r), SJSON_ERROR);
	sjson_reader_free(r);

	r = sjson_reader_new(LIT("[]"), NULL);
	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	assert_false(sjson_skip(r));
	assert_int_equal(sjson_next(r), SJSON_ERROR);
	sjson_reader_free(r);
}

static void
test_numbers_are_limited_in_length_and_exponent(void **state)
{
	struct sjson_limits eight = { 0, 0, 8 };
	char *big;
	size_t len = 1001;
	json_t *j;

	json_decref(parse_ok_at(LIT("[12345678]"), &eight, __FILE__, __LINE__));
	assert_rejected_with(&eight, "[123456789]", "number longer than 8 characters");
	/* the default is 1000 characters: what PostgreSQL's numeric surely stores */
	big = malloc(len);
	memset(big, '1', len);
	rejected_at(big, len, NULL, 0, 0, "number longer than 1000 characters", __FILE__,
	    __LINE__);
	j = parse_ok_at(big, len - 1, NULL, __FILE__, __LINE__);
	assert_int_equal(strlen(sjson_number(j)), len - 1);
	json_decref(j);
	free(big);
	/* 7 characters that would read back as 100,000 digits */
	json_decref(parse_ok_at(LIT("1e1000"), NULL, __FILE__, __LINE__));
	json_decref(parse_ok_at(LIT("-1.5E-1000"), NULL, __FILE__, __LINE__));
	assert_rejected_with(NULL, "1e1001", "number exponent beyond -1000..1000");
	assert_rejected_with(NULL, "1e-99999", "number exponent beyond -1000..1000");
	assert_rejected_with(NULL, "1e000000000000000000005000",
	    "number exponent beyond -1000..1000");
}

static void
test_reader_take_counts_outer_depth(void **state)
{
	struct sjson_limits three = { 3, 0, 0 };
	struct sjson_reader *r = sjson_reader_new(LIT("[[[1],[[2]]]]"), &three);
	json_t *v;

	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	assert_non_null(v = sjson_take(r, NULL, NULL));
	json_decref(v);
	assert_null(sjson_take(r, NULL, NULL));
	assert_string_equal(sjson_reader_error(r)->message, "nesting deeper than 3");
	assert_int_equal(sjson_reader_error(r)->column, 8);
	sjson_reader_free(r);
}

static void
test_reader_errors_stay(void **state)
{
	struct sjson_reader *r = sjson_reader_new(LIT("[1,\n x]"), NULL);
	const struct sjson_error *err;

	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	assert_int_equal(sjson_next(r), SJSON_SCALAR);
	assert_null(sjson_reader_error(r));
	assert_int_equal(sjson_peek(r), SJSON_ERROR);
	assert_int_equal(sjson_next(r), SJSON_ERROR);
	assert_int_equal(sjson_next(r), SJSON_ERROR);
	assert_null(sjson_take(r, NULL, NULL));
	assert_false(sjson_skip(r));
	assert_non_null(err = sjson_reader_error(r));
	assert_string_equal(err->message, "unexpected character 'x'");
	assert_int_equal(err->line, 2);
	assert_int_equal(err->column, 2);
	assert_int_equal(err->offset, 5);
	sjson_reader_free(r);
}

static void
test_reader_skip_validates_what_it_skips(void **state)
{
	struct sjson_reader *r;
	json_t *v;

	r = sjson_reader_new(LIT("{\"extensions\":[\"x\",{\"a\":{}}],\"releases\":[1]}"),
	    NULL);
	assert_int_equal(sjson_next(r), SJSON_OBJECT_BEGIN);
	assert_int_equal(sjson_next(r), SJSON_KEY);
	assert_true(sjson_skip(r));
	assert_int_equal(sjson_next(r), SJSON_KEY);
	assert_string_equal(sjson_key(r), "releases");
	assert_non_null(v = sjson_take(r, NULL, NULL));
	assert_int_equal(json_array_size(v), 1);
	json_decref(v);
	assert_int_equal(sjson_next(r), SJSON_OBJECT_END);
	assert_int_equal(sjson_next(r), SJSON_END);
	sjson_reader_free(r);

	r = sjson_reader_new(LIT("[{\"a\":{\"b\":1,\"b\":2}}, 2]"), NULL);
	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	assert_false(sjson_skip(r));
	assert_string_equal(sjson_reader_error(r)->message, "duplicate key \"b\"");
	sjson_reader_free(r);

	r = sjson_reader_new(LIT("[[\"\xed\xa0\x80\"], 2]"), NULL);
	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	assert_false(sjson_skip(r));
	assert_string_equal(sjson_reader_error(r)->message, "invalid UTF-8");
	sjson_reader_free(r);

	/* a key skipped by the caller still counts against a duplicate */
	r = sjson_reader_new(LIT("{\"a\":[1],\"a\":2}"), NULL);
	assert_int_equal(sjson_next(r), SJSON_OBJECT_BEGIN);
	assert_int_equal(sjson_next(r), SJSON_KEY);
	assert_true(sjson_skip(r));
	assert_int_equal(sjson_next(r), SJSON_ERROR);
	assert_string_equal(sjson_reader_error(r)->message, "duplicate key \"a\"");
	sjson_reader_free(r);
}

static void
test_reader_walks_a_top_level_array_of_packages(void **state)
{
	static const char doc[] =
	    "[{\"releases\":[{\"id\":\"1\"},{\"id\":\"2\"}]},{\"releases\":[{\"id\":\"3\"}]}]";
	struct sjson_reader *r = sjson_reader_new(LIT(doc), NULL);
	char ids[8] = "";
	json_t *release;

	assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
	while (sjson_peek(r) == SJSON_OBJECT_BEGIN) {
		assert_int_equal(sjson_next(r), SJSON_OBJECT_BEGIN);
		assert_int_equal(sjson_next(r), SJSON_KEY);
		assert_int_equal(sjson_next(r), SJSON_ARRAY_BEGIN);
		while (sjson_peek(r) == SJSON_OBJECT_BEGIN) {
			assert_non_null(release = sjson_take(r, NULL, NULL));
			strcat(ids, json_string_value(json_object_get(release, "id")));
			json_decref(release);
		}
		assert_int_equal(sjson_next(r), SJSON_ARRAY_END);
		assert_int_equal(sjson_next(r), SJSON_OBJECT_END);
	}
	assert_int_equal(sjson_next(r), SJSON_ARRAY_END);
	assert_int_equal(sjson_next(r), SJSON_END);
	assert_string_equal(ids, "123");
	sjson_reader_free(r);
}

static void
test_dump_escapes_strings_and_keeps_utf8(void **state)
{
	json_t *j = json_object();
	char *text;

	json_object_set_new(j, "a\"b", json_string("q\"\\/\b\f\n\r\t\x01\x1f\x7f \xc3\xa9"
	    "\xe2\x82\xac\xf0\x9f\x98\x80"));
	json_object_set_new(j, "n", sjson_number_new("-12.50"));
	json_object_set_new(j, "i", json_integer(-9007199254740993LL));
	json_object_set_new(j, "r", json_real(0.1));
	json_object_set_new(j, "l", json_pack("[bbn]", 1, 0));
	json_object_set_new(j, "o", json_object());
	json_object_set_new(j, "e", json_array());
	json_object_set_new(j, "s", json_stringn("a\0b", 3));
	text = sjson_dumps(j);
	assert_string_equal(text, "{\"a\\\"b\":\"q\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f "
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"n\":-12.50,\"i\":-9007199254740993,"
	    "\"r\":0.10000000000000001,\"l\":[true,false,null],\"o\":{},\"e\":[],"
	    "\"s\":\"a\\u0000b\"}");
	free(text);
	json_decref(j);
}

static void
test_dump_round_trip_keeps_everything(void **state)
{
	static const char doc[] = "{ \"ocid\" : \"ocds-1\", \"amounts\": [775.76, 1e400,"
	    " -0.000000000000000000001, 12345678901234567890123],\n\"text\": \"a\\u00e9\\n"
	    "\\ud83d\\ude00\\\"\", \"nested\": {\"t\": true, \"f\": false, \"z\": null,"
	    " \"e\": [], \"o\": {}}, \"\\u00e9\": \"key\"}";
	struct evbuffer *out = evbuffer_new();
	json_t *first = parse_ok(doc), *second;
	char *text;
	size_t len;

	assert_true(sjson_dump(first, out));
	len = evbuffer_get_length(out);
	text = (char *)evbuffer_pullup(out, -1);
	second = parse_ok_at(text, len, NULL, __FILE__, __LINE__);
	assert_true(json_equal(first, second));
	assert_string_equal(sjson_number(json_array_get(json_object_get(second, "amounts"),
	    1)), "1e400");
	/* dumping the dump gives the same bytes: the writer is deterministic */
	text = sjson_dumps(second);
	assert_int_equal(strlen(text), len);
	assert_memory_equal(text, evbuffer_pullup(out, -1), len);
	free(text);
	json_decref(first);
	json_decref(second);
	evbuffer_free(out);
}

static void
test_dump_appends_to_the_buffer(void **state)
{
	struct evbuffer *out = evbuffer_new();
	json_t *a = parse_ok("[1]"), *b = parse_ok("{\"x\":\"y\"}");
	char *big;
	json_t *s;

	evbuffer_add(out, "<", 1);
	assert_true(sjson_dump(a, out));
	assert_true(sjson_dump(b, out));
	assert_int_equal(evbuffer_get_length(out), 13);
	assert_memory_equal(evbuffer_pullup(out, -1), "<[1]{\"x\":\"y\"}", 13);
	assert_false(sjson_dump(NULL, out));
	evbuffer_drain(out, evbuffer_get_length(out));

	/* a string larger than the writer's own buffer */
	big = malloc(100001);
	memset(big, 'z', 100000);
	big[100000] = '\0';
	big[5000] = '\n';
	s = json_string(big);
	assert_true(sjson_dump(s, out));
	assert_int_equal(evbuffer_get_length(out), 100003);
	json_decref(s);
	free(big);
	json_decref(a);
	json_decref(b);
	evbuffer_free(out);
}

/* Every proper prefix of a document is refused, and nothing is read past its end. */
static void
test_every_truncation_is_refused(void **state)
{
	static const char doc[] = "{\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\ud83d\\ude00"
	    "\xc3\xa9\"],\"b\":{\"c\":{}}}";
	struct sjson_error err;
	char *copy;
	json_t *j;

	for (size_t len = 0; len < sizeof(doc) - 1; len++) {
		copy = exact_copy(doc, len);
		j = sjson_parse(copy, len, NULL, &err);
		if (j != NULL) {
			print_error("prefix of %zu bytes accepted\n", len);
			fail();
		}
		assert_false(reader_walk(copy, len, NULL, &err));
		assert_false(reader_skip(copy, len, NULL, &err));
		free(copy);
	}
	json_decref(parse_ok(doc));
}

/*
 * Byte mutations of a valid document: the tree parser, the pull reader and sjson_skip
 * agree on every one, and whatever is accepted dumps and parses back to the same tree.
 */
static void
test_mutated_documents_are_judged_alike(void **state)
{
	static const char doc[] = "{\"version\":\"1.1\",\"releases\":[{\"id\":\"a\\u00e9\","
	    "\"value\":{\"amount\":775.76,\"currency\":\"EUR\"},\"tag\":[\"award\"]},"
	    "{\"id\":\"\xc3\xa9\xe2\x82\xac\",\"n\":[0,-1e5,true,null,false,{}]}]}";
	static const unsigned char bytes[] = "{}[]\":,\\u0123456789.eE+-tfnrl \n\x80\xc3\xed\xf0";
	uint32_t seed = 12345;
	struct sjson_error a, b, c;
	size_t len = sizeof(doc) - 1;
	char *copy;
	json_t *j, *again;
	char *text;
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		copy = exact_copy(doc, len);
		for (int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 1103515245 + 12345;
			copy[(seed >> 8) % len] =
			    (char)bytes[(seed >> 20) % (sizeof(bytes) - 1)];
		}
		j = sjson_parse(copy, len, NULL, &a);
		assert_int_equal(j != NULL, reader_walk(copy, len, NULL, &b));
		assert_int_equal(j != NULL, reader_skip(copy, len, NULL, &c));
		if (j == NULL) {
			assert_true(same_error(&a, &b));
			assert_true(same_error(&a, &c));
			assert_true(a.offset <= len);
		} else {
			accepted++;
			text = sjson_dumps(j);
			again = parse_ok_at(text, strlen(text), NULL, __FILE__, __LINE__);
			assert_true(json_equal(j, again));
			json_decref(again);
			free(text);
			json_decref(j);
		}
		free(copy);
	}
	assert_true(accepted > 100);
}

/* "ocds/NAME" of ../shared/data, for shared_data_read; malloc'd. */
static char *
ocds_file(const char *name)
{
	char *rel;

	if (asprintf(&rel, "ocds/%s", name) == -1)
		return NULL;
	return rel;
}

static void
test_real_ocds_files_parse(void **state)
{
	struct sjson_error err;
	struct dirent *de;
	char *dir = shared_data_path("ocds"), *path, *text, *dumped;
	size_t len, files = 0;
	json_t *j, *again;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		free(dir);
		skip();
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		assert_non_null(path = ocds_file(de->d_name));
		assert_non_null(text = shared_data_read(path, &len));
		j = sjson_parse(text, len, NULL, &err);
		if (j == NULL) {
			print_error("%s: %d:%d %s\n", path, err.line, err.column, err.message);
			fail();
		}
		assert_true(reader_walk(text, len, NULL, &err));
		assert_true(reader_skip(text, len, NULL, &err));
		assert_non_null(dumped = sjson_dumps(j));
		again = parse_ok_at(dumped, strlen(dumped), NULL, __FILE__, __LINE__);
		assert_true(json_equal(j, again));
		json_decref(again);
		free(dumped);
		json_decref(j);
		free(text);
		free(path);
		files++;
	}
	closedir(d);
	free(dir);
	assert_true(files >= 5);
}

static json_t *
load_data(const char *name)
{
	struct sjson_error err;
	char *path = ocds_file(name), *text;
	size_t len;
	json_t *j;

	if ((text = shared_data_read(path, &len)) == NULL) {
		free(path);
		return NULL;
	}
	j = sjson_parse(text, len, NULL, &err);
	assert_non_null(j);
	free(text);
	free(path);
	return j;
}

static void
test_real_ocds_values_are_exact(void **state)
{
	json_t *portugal, *cdmx, *release, *award;

	if ((portugal = load_data("portugal-impic-100-releases.json")) == NULL)
		skip();
	assert_int_equal(json_array_size(portugal), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(portugal, 0),
	    "releases")), 100);
	release = json_array_get(json_object_get(json_array_get(portugal, 0), "releases"), 0);
	assert_string_equal(json_string_value(json_object_get(release, "id")),
	    "5052-5001-1-1");
	assert_string_equal(json_string_value(json_object_get(release, "ocid")),
	    "ocds-px0z7d-5052-5001-1");
	award = json_array_get(json_object_get(release, "awards"), 0);
	assert_string_equal(sjson_number(json_object_get(json_object_get(award, "value"),
	    "amount")), "775.76");
	/* \u00ed in the file */
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(release, "parties"), 0), "name")), "Munic\xc3\xadpio de Lagoa");
	json_decref(portugal);

	assert_non_null(cdmx = load_data("cdmx-release-package-1.json"));
	assert_int_equal(json_array_size(json_object_get(cdmx, "releases")), 2);
	release = json_array_get(json_object_get(cdmx, "releases"), 0);
	assert_string_equal(json_string_value(json_object_get(release, "id")), "01");
	assert_string_equal(sjson_number(json_object_get(json_object_get(json_object_get(
	    json_object_get(release, "planning"), "budget"), "amount"), "amount")),
	    "1311264.00");
	json_decref(cdmx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_value_is_a_document),
		cmocka_unit_test(test_empty_input_is_refused),
		cmocka_unit_test(test_numbers_follow_the_grammar),
		cmocka_unit_test(test_number_text_is_kept_exactly),
		cmocka_unit_test(test_strings_are_not_numbers),
		cmocka_unit_test(test_number_new_takes_only_json_numbers),
		cmocka_unit_test(test_literals_are_exact),
		cmocka_unit_test(test_separators_are_required_and_not_trailing),
		cmocka_unit_test(test_comments_are_refused),
		cmocka_unit_test(test_only_white_space_may_follow_the_value),
		cmocka_unit_test(test_error_position_counts_lines_and_characters),
		cmocka_unit_test(test_escapes_are_decoded),
		cmocka_unit_test(test_bad_escapes_are_refused),
		cmocka_unit_test(test_lone_surrogates_are_refused),
		cmocka_unit_test(test_nul_is_refused_raw_and_escaped),
		cmocka_unit_test(test_raw_control_characters_in_strings_are_refused),
		cmocka_unit_test(test_invalid_utf8_is_refused),
		cmocka_unit_test(test_duplicate_keys_are_refused_at_every_depth),
		cmocka_unit_test(test_duplicate_keys_among_many_are_refused),
		cmocka_unit_test(test_reader_key_sets_are_fresh_per_object),
		cmocka_unit_test(test_duplicate_key_message_is_cut_and_escaped),
		cmocka_unit_test(test_nesting_is_limited),
		cmocka_unit_test(test_strings_are_limited_after_unescaping),
		cmocka_unit_test(test_reader_walks_a_release_package),
		cmocka_unit_test(test_reader_takes_scalars_with_their_source_text),
		cmocka_unit_test(test_reader_takes_the_whole_document),
		cmocka_unit_test(test_reader_take_needs_a_value),
		cmocka_unit_test(test_numbers_are_limited_in_length_and_exponent),
		cmocka_unit_test(test_reader_take_counts_outer_depth),
		cmocka_unit_test(test_reader_errors_stay),
		cmocka_unit_test(test_reader_skip_validates_what_it_skips),
		cmocka_unit_test(test_reader_walks_a_top_level_array_of_packages),
		cmocka_unit_test(test_dump_escapes_strings_and_keeps_utf8),
		cmocka_unit_test(test_dump_round_trip_keeps_everything),
		cmocka_unit_test(test_dump_appends_to_the_buffer),
		cmocka_unit_test(test_every_truncation_is_refused),
		cmocka_unit_test(test_mutated_documents_are_judged_alike),
		cmocka_unit_test(test_real_ocds_files_parse),
		cmocka_unit_test(test_real_ocds_values_are_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
