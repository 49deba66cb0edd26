/*
 * CSV pages of the read API: RFC 4180 quoting and CRLF, the formula guard, exact
 * numbers, nested values, the column rule, UTF-8, the empty page, Accept negotiation
 * and the next page's Link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "csv.h"
#include "csvout.h"

/* The table of `n` JSON items as a string; NULL when csvout_table() fails. */
static char *
table_of(const char *const *items, size_t n)
{
	struct evbuffer	*out;
	size_t		*lens, len;
	char		*text = NULL;

	assert_non_null(out = evbuffer_new());
	assert_non_null(lens = calloc(n + 1, sizeof(*lens)));
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(items[i]);
	if (csvout_table(out, items, lens, n)) {
		len = evbuffer_get_length(out);
		assert_non_null(text = malloc(len + 1));
		evbuffer_remove(out, text, len);
		text[len] = '\0';
	}
	evbuffer_free(out);
	free(lens);
	return text;
}

static void
assert_table(const char *const *items, size_t n, const char *expected)
{
	char *text = table_of(items, n);

	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
}

static char *
field_of(const char *data)
{
	struct evbuffer	*out;
	size_t		 len;
	char		*text;

	assert_non_null(out = evbuffer_new());
	assert_true(csv_put_field(out, data, strlen(data), ','));
	len = evbuffer_get_length(out);
	assert_non_null(text = malloc(len + 1));
	evbuffer_remove(out, text, len);
	text[len] = '\0';
	evbuffer_free(out);
	return text;
}

static void
assert_field(const char *data, const char *expected)
{
	char *text = field_of(data);

	assert_string_equal(text, expected);
	free(text);
}

static void
test_field_quoted_only_when_it_holds_comma_quote_cr_or_lf(void **state)
{
	(void)state;
	assert_field("plain text", "plain text");
	assert_field("", "");
	assert_field("a,b", "\"a,b\"");
	assert_field("say \"hi\"", "\"say \"\"hi\"\"\"");
	assert_field("\"", "\"\"\"\"");
	assert_field("two\r\nlines", "\"two\r\nlines\"");
	assert_field("lf\nonly", "\"lf\nonly\"");
	assert_field("cr\ronly", "\"cr\ronly\"");
	/* ';' is the reader's usual separator, not the writer's here. */
	assert_field("a;b", "a;b");
}

static void
test_header_row_then_one_crlf_record_per_item(void **state)
{
	const char *items[] = {
		"{\"id\":\"P-1\",\"title\":\"Portal, phase 2\",\"note\":\"he said \\\"no\\\"\"}",
		"{\"id\":\"P-2\",\"title\":\"Two\\nlines\",\"note\":null}",
	};

	(void)state;
	assert_table(items, 2,
	    "id,title,note\r\n"
	    "P-1,\"Portal, phase 2\",\"he said \"\"no\"\"\"\r\n"
	    "P-2,\"Two\nlines\",\r\n");
}

static void
test_formula_guard_on_text_cells_only(void **state)
{
	const char *items[] = {
		"{\"a\":\"=SUM(A1:A9)\",\"b\":\"+56\",\"c\":\"-cmd\",\"d\":\"@x\","
		"\"e\":\"\\tx\",\"f\":\"=1,2\",\"g\":\"a=b\"}",
		"{\"a\":-12.5,\"b\":\"-12.50\",\"c\":\"-1e3\",\"d\":\"-\",\"e\":\"\\rx\","
		"\"f\":\"-12.5.1\",\"g\":-0}",
	};

	(void)state;
	assert_table(items, 2,
	    "a,b,c,d,e,f,g\r\n"
	    "'=SUM(A1:A9),'+56,'-cmd,'@x,'\tx,\"'=1,2\",a=b\r\n"
	    "-12.5,-12.50,-1e3,'-,\"'\rx\",'-12.5.1,-0\r\n");
}

static void
test_numbers_keep_their_json_text(void **state)
{
	const char *items[] = {
		"{\"amount\":123456789012345678901234567890.000000001,\"small\":0.1,"
		"\"exp\":1E+400,\"text\":\"1500000.00\",\"int\":42}",
	};

	(void)state;
	assert_table(items, 1,
	    "amount,small,exp,text,int\r\n"
	    "123456789012345678901234567890.000000001,0.1,1E+400,1500000.00,42\r\n");
}

static void
test_nested_arrays_joined_objects_as_compact_json(void **state)
{
	const char *items[] = {
		"{\"ocids\":[\"ocds-1\",\"ocds-2\"],\"mixed\":[1.50,null,true,\"x\"],"
		"\"none\":[],\"flag\":false,"
		"\"suppliers\":[{\"id\":7,\"name\":\"ACME, S.A.\"}],"
		"\"window\":{ \"from\" : \"2024-01-01\", \"days\" : 30 }}",
	};

	(void)state;
	assert_table(items, 1,
	    "ocids,mixed,none,flag,suppliers,window\r\n"
	    "ocds-1; ocds-2,1.50; ; true; x,,false,"
	    "\"[{\"\"id\"\":7,\"\"name\"\":\"\"ACME, S.A.\"\"}]\","
	    "\"{\"\"from\"\":\"\"2024-01-01\"\",\"\"days\"\":30}\"\r\n");
}

static void
test_array_joined_text_is_guarded_as_a_whole(void **state)
{
	const char *items[] = { "{\"tags\":[\"=HYPERLINK()\",\"ok\"],\"n\":[-1,2]}" };

	(void)state;
	assert_table(items, 1, "tags,n\r\n'=HYPERLINK(); ok,'-1; 2\r\n");
}

static void
test_columns_are_the_union_in_first_seen_order(void **state)
{
	const char *items[] = {
		"{\"id\":1,\"title\":\"one\"}",
		"{\"extra\":\"x\",\"title\":\"two\",\"id\":2}",
		"{\"id\":3,\"later\":true}",
	};

	(void)state;
	assert_table(items, 3,
	    "id,title,extra,later\r\n"
	    "1,one,,\r\n"
	    "2,two,x,\r\n"
	    "3,,,true\r\n");
}

static void
test_non_ascii_passes_byte_for_byte_without_bom(void **state)
{
	const char *items[] = {
		"{\"agency\":\"Subsecretar\xc3\xad" "a de Hacienda\",\"city\":\"\xc3\x91u\xc3\xb1oa\","
		"\"price\":\"\\u20ac 5\",\"emoji\":\"\xf0\x9f\x93\x8a\"}",
	};

	(void)state;
	assert_table(items, 1,
	    "agency,city,price,emoji\r\n"
	    "Subsecretar\xc3\xad" "a de Hacienda,\xc3\x91u\xc3\xb1oa,\xe2\x82\xac 5,"
	    "\xf0\x9f\x93\x8a\r\n");
}

static void
test_empty_page_is_an_empty_body(void **state)
{
	(void)state;
	assert_table(NULL, 0, "");
}

static void
test_item_that_is_not_an_object_fails(void **state)
{
	const char	*array[] = { "{\"id\":1}", "[1,2]" };
	const char	*broken[] = { "{\"id\":" };
	char		*text;

	(void)state;
	assert_null(text = table_of(array, 2));
	assert_null(text = table_of(broken, 1));
}

/* What the writer quotes, the reader reads back as it was. */
static void
test_table_reads_back_with_the_csv_reader(void **state)
{
	const char		*items[] = {
		"{\"a\":\"x,\\\"y\\\"\\r\\nz\",\"b\":\"\",\"c\":\"plain\"}",
	};
	char			*text;
	struct csv_reader	 r;
	struct csv_record	 rec;

	(void)state;
	assert_non_null(text = table_of(items, 1));
	csv_reader_init(&r, text, strlen(text), ',');
	assert_int_equal(csv_next(&r, &rec), 1);
	assert_int_equal(rec.count, 3);
	assert_string_equal(rec.fields[0].data, "a");
	assert_int_equal(csv_next(&r, &rec), 1);
	assert_int_equal(rec.count, 3);
	assert_string_equal(rec.fields[0].data, "x,\"y\"\r\nz");
	assert_string_equal(rec.fields[1].data, "");
	assert_string_equal(rec.fields[2].data, "plain");
	assert_int_equal(csv_next(&r, &rec), 0);
	csv_reader_free(&r);
	free(text);
}

static void
test_accept_json_unless_csv_is_preferred(void **state)
{
	(void)state;
	assert_false(csvout_wanted(NULL));
	assert_false(csvout_wanted(""));
	assert_false(csvout_wanted("*/*"));
	assert_false(csvout_wanted("application/json"));
	assert_false(csvout_wanted("text/html"));
	assert_true(csvout_wanted("text/csv"));
	assert_true(csvout_wanted("TEXT/CSV"));
	assert_true(csvout_wanted("text/csv;q=1, application/json;q=0.5"));
	assert_true(csvout_wanted("application/json;q=0.5 , text/csv ; charset=utf-8"));
	assert_true(csvout_wanted("text/*"));
	assert_true(csvout_wanted("text/csv;q=0.5, */*;q=0.1"));
	assert_true(csvout_wanted("application/*;q=0.2, text/csv;q=0.3"));
	/* a tie is JSON, as is the only wildcard */
	assert_false(csvout_wanted("application/json, text/csv"));
	assert_false(csvout_wanted("text/csv;q=0.9, application/json"));
	assert_false(csvout_wanted("*/*, text/csv;q=0.5"));
	assert_false(csvout_wanted("text/csv;q=0"));
	assert_false(csvout_wanted("text/csv;q=0, */*"));
	/* the most specific range decides: text/csv;q=0 beats the text wildcard */
	assert_false(csvout_wanted("text/*, text/csv;q=0"));
}

static void
test_accept_q_values_and_parameters(void **state)
{
	(void)state;
	assert_true(csvout_wanted("text/csv;q=1.000"));
	assert_true(csvout_wanted("text/csv;Q=0.001"));
	assert_true(csvout_wanted("text/csv;q=0.501, application/json;q=0.5"));
	assert_false(csvout_wanted("text/csv;q=0.500, application/json;q=0.5"));
	/* malformed q-values make their element unreadable: skipped */
	assert_false(csvout_wanted("text/csv;q=2"));
	assert_false(csvout_wanted("text/csv;q=1.5"));
	assert_false(csvout_wanted("text/csv;q=0.0001"));
	assert_false(csvout_wanted("text/csv;q=high"));
	assert_true(csvout_wanted("text/csv;q=oops, text/csv;q=0.7"));
	/* a comma inside a quoted parameter does not split the element */
	assert_true(csvout_wanted("text/csv;x=\"a, application/json\";q=0.9, "
	    "application/json;q=0.1"));
	/* parameters after q are accept-ext */
	assert_true(csvout_wanted("text/csv;q=0.8;level=1, application/json;q=0.2"));
	assert_false(csvout_wanted(",,;q=1, "));
}

static void
assert_link(const char *path, const char *query, const char *cursor, const char *expected)
{
	char *link = csvout_next_link(path, query, cursor);

	assert_non_null(link);
	assert_string_equal(link, expected);
	free(link);
}

static void
test_next_link_replaces_after_and_keeps_the_rest(void **state)
{
	(void)state;
	assert_link("/v1/projects", NULL, "cDoxMA",
	    "</v1/projects?after=cDoxMA>; rel=\"next\"");
	assert_link("/v1/projects", "limit=2&after=cDox&agency=AB01", "cDoxMA",
	    "</v1/projects?limit=2&agency=AB01&after=cDoxMA>; rel=\"next\"");
	assert_link("/v1/alerts", "after=x&%61fter=y&&afterwards=1&after", "QTox",
	    "</v1/alerts?afterwards=1&after=QTox>; rel=\"next\"");
	assert_link("/v1/awards", "q=a%20b&after=", "YTp4",
	    "</v1/awards?q=a%20b&after=YTp4>; rel=\"next\"");
	/* what a URI reference may not hold is percent-encoded, '>' above all */
	assert_link("/v1/a b", "x=<>\"\xc3\xb1", "Yg",
	    "</v1/a%20b?x=%3C%3E%22%C3%B1&after=Yg>; rel=\"next\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_quoted_only_when_it_holds_comma_quote_cr_or_lf),
		cmocka_unit_test(test_header_row_then_one_crlf_record_per_item),
		cmocka_unit_test(test_formula_guard_on_text_cells_only),
		cmocka_unit_test(test_numbers_keep_their_json_text),
		cmocka_unit_test(test_nested_arrays_joined_objects_as_compact_json),
		cmocka_unit_test(test_array_joined_text_is_guarded_as_a_whole),
		cmocka_unit_test(test_columns_are_the_union_in_first_seen_order),
		cmocka_unit_test(test_non_ascii_passes_byte_for_byte_without_bom),
		cmocka_unit_test(test_empty_page_is_an_empty_body),
		cmocka_unit_test(test_item_that_is_not_an_object_fails),
		cmocka_unit_test(test_table_reads_back_with_the_csv_reader),
		cmocka_unit_test(test_accept_json_unless_csv_is_preferred),
		cmocka_unit_test(test_accept_q_values_and_parameters),
		cmocka_unit_test(test_next_link_replaces_after_and_keeps_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
