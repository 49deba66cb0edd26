/*
 * The delimited-text reader: quoting, line endings, BOM, blank lines, caps and errors
 * with their line numbers, and Chile's real files read whole when they are present.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"
#include "shared_data.h"

/* Reads all of `text` with `sep`; returns the records joined as "a|b\n" lines,
   or "ERROR <message>" once an error is hit. */
static char *
read_all(const char *text, size_t len, char sep, struct csv_reader *r)
{
	struct csv_record	 rec;
	char			*out = NULL;
	size_t			 outlen = 0;
	FILE			*f;
	int			 rc;

	assert_non_null(f = open_memstream(&out, &outlen));
	csv_reader_init(r, text, len, sep);
	while ((rc = csv_next(r, &rec)) == 1) {
		fprintf(f, "%lu:", rec.line);
		for (size_t i = 0; i < rec.count; i++) {
			assert_int_equal(rec.fields[i].data[rec.fields[i].len], '\0');
			fprintf(f, "%s[%s]", i ? "|" : "", rec.fields[i].data);
		}
		fputc('\n', f);
	}
	if (rc == -1)
		fprintf(f, "ERROR %s", csv_error(r));
	fclose(f);
	return out;
}

static void
check(const char *text, size_t len, char sep, const char *want)
{
	struct csv_reader	 r;
	char			*got = read_all(text, len, sep, &r);

	assert_string_equal(got, want);
	free(got);
	csv_reader_free(&r);
}

#define CHECK(text, want)	check(text, sizeof(text) - 1, ';', want)

static void
test_plain_fields_and_lf(void **state)
{
	CHECK("1;0;0;Presidencia\n2;1;0;Senado\n",
	    "1:[1]|[0]|[0]|[Presidencia]\n2:[2]|[1]|[0]|[Senado]\n");
}

static void
test_crlf_and_lone_cr_end_records(void **state)
{
	CHECK("a;b\r\nc;d\re;f\n", "1:[a]|[b]\n2:[c]|[d]\n3:[e]|[f]\n");
}

static void
test_final_line_without_newline_is_a_record(void **state)
{
	CHECK("a;b\nc;d", "1:[a]|[b]\n2:[c]|[d]\n");
	CHECK("a;b\r\nc;\"d\"", "1:[a]|[b]\n2:[c]|[d]\n");
}

static void
test_empty_input_has_no_record(void **state)
{
	CHECK("", "");
	CHECK("\xef\xbb\xbf", "");
	CHECK("\n\r\n\n", "");
}

static void
test_bom_skipped_only_at_start(void **state)
{
	CHECK("\xef\xbb\xbfid;name\n1;x\n", "1:[id]|[name]\n2:[1]|[x]\n");
	CHECK("a\n\xef\xbb\xbf" "b\n", "1:[a]\n2:[\xef\xbb\xbf" "b]\n");
}

static void
test_empty_fields(void **state)
{
	CHECK(";;\n", "1:[]|[]|[]\n");
	CHECK("a;;c;\n", "1:[a]|[]|[c]|[]\n");
	CHECK("\"\";x\n", "1:[]|[x]\n");
}

static void
test_blank_lines_skipped_but_counted(void **state)
{
	CHECK("\na\n\n\r\nb\n\n", "2:[a]\n5:[b]\n");
}

static void
test_quoted_fields_with_escapes_and_separators(void **state)
{
	CHECK("\"a;b\";\"say \"\"hi\"\"\";\"\"\"\"\n",
	    "1:[a;b]|[say \"hi\"]|[\"]\n");
}

static void
test_quoted_newlines_kept_and_lines_counted(void **state)
{
	CHECK("\"one\ntwo\";x\n\"three\r\nfour\"\nnext\n",
	    "1:[one\ntwo]|[x]\n3:[three\r\nfour]\n5:[next]\n");
}

static void
test_quote_inside_unquoted_field_is_literal(void **state)
{
	/* As in DIPRES's budgetLaw.csv. */
	CHECK("27;Programa \"\"4 a 7;2937559\n",
	    "1:[27]|[Programa \"\"4 a 7]|[2937559]\n");
}

static void
test_comma_separator(void **state)
{
	static const char text[] = "a,\"b,c\",d;e\n";

	check(text, sizeof(text) - 1, ',', "1:[a]|[b,c]|[d;e]\n");
}

static void
test_text_after_closing_quote_is_an_error(void **state)
{
	CHECK("ok\n\"a\"b;c\n",
	    "1:[ok]\nERROR line 2: unexpected character after a closing quote");
}

static void
test_unterminated_quote_names_its_first_line(void **state)
{
	CHECK("a\nb;\"open\nstill\nopen\n",
	    "1:[a]\nERROR line 2: quoted field not closed");
}

static void
test_nul_byte_rejected_with_line(void **state)
{
	static const char	 text[] = "a;b\nc;d\ne;f\0g\n";
	static const char	 quoted[] = "a\n\"x\ny\0\"\n";

	check(text, sizeof(text) - 1, ';', "1:[a]|[b]\n2:[c]|[d]\nERROR line 3: NUL byte");
	check(quoted, sizeof(quoted) - 1, ';', "1:[a]\nERROR line 3: NUL byte");
}

static void
test_errors_are_sticky(void **state)
{
	static const char	text[] = "\"x\"y\na\n";
	struct csv_reader	r;
	struct csv_record	rec;

	csv_reader_init(&r, text, sizeof(text) - 1, ';');
	assert_int_equal(csv_next(&r, &rec), -1);
	assert_int_equal(csv_next(&r, &rec), -1);
	csv_reader_free(&r);
}

static void
test_field_count_cap(void **state)
{
	struct csv_reader	r;
	struct csv_record	rec;

	csv_reader_init(&r, "a;b;c\na;b;c;d\n", 14, ';');
	r.max_fields = 3;
	assert_int_equal(csv_next(&r, &rec), 1);
	assert_int_equal(rec.count, 3);
	assert_int_equal(csv_next(&r, &rec), -1);
	assert_string_equal(csv_error(&r), "line 2: more than 3 fields");
	csv_reader_free(&r);
}

static void
test_field_length_cap(void **state)
{
	struct csv_reader	r;
	struct csv_record	rec;

	csv_reader_init(&r, "abcd;\"abcd\"\nabcde\n", 18, ';');
	r.max_field_len = 4;
	assert_int_equal(csv_next(&r, &rec), 1);
	assert_int_equal(rec.fields[0].len, 4);
	assert_int_equal(rec.fields[1].len, 4);
	assert_int_equal(csv_next(&r, &rec), -1);
	assert_string_equal(csv_error(&r), "line 2: field longer than 4 bytes");
	csv_reader_free(&r);

	csv_reader_init(&r, "\"abcde\"", 7, ';');
	r.max_field_len = 4;
	assert_int_equal(csv_next(&r, &rec), -1);
	assert_string_equal(csv_error(&r), "line 1: field longer than 4 bytes");
	csv_reader_free(&r);
}

static void
test_many_fields_and_long_fields_survive_buffer_growth(void **state)
{
	struct csv_reader	 r;
	struct csv_record	 rec;
	char			*text;
	size_t			 len = 0;
	const size_t		 nfields = 200, fieldlen = 300;

	assert_non_null(text = malloc(nfields * (fieldlen + 1) + 1));
	for (size_t i = 0; i < nfields; i++) {
		memset(text + len, 'a' + (char)(i % 26), fieldlen);
		len += fieldlen;
		text[len++] = i + 1 < nfields ? ';' : '\n';
	}
	csv_reader_init(&r, text, len, ';');
	assert_int_equal(csv_next(&r, &rec), 1);
	assert_int_equal(rec.count, nfields);
	for (size_t i = 0; i < nfields; i++) {
		assert_int_equal(rec.fields[i].len, fieldlen);
		assert_int_equal(rec.fields[i].data[0], 'a' + (char)(i % 26));
		assert_int_equal(rec.fields[i].data[fieldlen - 1], 'a' + (char)(i % 26));
	}
	assert_int_equal(csv_next(&r, &rec), 0);
	csv_reader_free(&r);
	free(text);
}

static void
test_real_budget_law_reads_whole(void **state)
{
	struct csv_reader	 r;
	struct csv_record	 rec;
	size_t			 len, records = 0;
	char			*buf;
	int			 rc;

	if ((buf = shared_data_read("chile/budgetLaw.csv", &len)) == NULL)
		skip();
	/* awk -F';': 9283 lines, every one of 9 fields, no quoted field. */
	csv_reader_init(&r, buf, len, ';');
	while ((rc = csv_next(&r, &rec)) == 1) {
		assert_int_equal(rec.count, 9);
		records++;
		assert_int_equal(rec.line, records);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(records, 9283);
	csv_reader_free(&r);
	free(buf);
}

static void
test_real_unspsc_with_bom_and_quotes(void **state)
{
	struct csv_reader	 r;
	struct csv_record	 rec;
	size_t			 len, records = 0;
	char			*buf;
	int			 rc;
	bool			 seen_head_wall = false;

	if ((buf = shared_data_read("chile/unspsc-rubros-chilecompra.csv", &len)) == NULL)
		skip();
	csv_reader_init(&r, buf, len, ';');
	while ((rc = csv_next(&r, &rec)) == 1) {
		assert_int_equal(rec.count, 6);
		if (records++ == 0)
			assert_string_equal(rec.fields[0].data, "idproducto_onu");
		if (strcmp(rec.fields[0].data, "42191609") == 0) {
			assert_string_equal(rec.fields[1].data,
			    "\"Sistemas clínicos de pared de cabeza \"\"head wall\"\"\"");
			seen_head_wall = true;
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(records, 18835);
	assert_true(seen_head_wall);
	csv_reader_free(&r);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_fields_and_lf),
		cmocka_unit_test(test_crlf_and_lone_cr_end_records),
		cmocka_unit_test(test_final_line_without_newline_is_a_record),
		cmocka_unit_test(test_empty_input_has_no_record),
		cmocka_unit_test(test_bom_skipped_only_at_start),
		cmocka_unit_test(test_empty_fields),
		cmocka_unit_test(test_blank_lines_skipped_but_counted),
		cmocka_unit_test(test_quoted_fields_with_escapes_and_separators),
		cmocka_unit_test(test_quoted_newlines_kept_and_lines_counted),
		cmocka_unit_test(test_quote_inside_unquoted_field_is_literal),
		cmocka_unit_test(test_comma_separator),
		cmocka_unit_test(test_text_after_closing_quote_is_an_error),
		cmocka_unit_test(test_unterminated_quote_names_its_first_line),
		cmocka_unit_test(test_nul_byte_rejected_with_line),
		cmocka_unit_test(test_errors_are_sticky),
		cmocka_unit_test(test_field_count_cap),
		cmocka_unit_test(test_field_length_cap),
		cmocka_unit_test(test_many_fields_and_long_fields_survive_buffer_growth),
		cmocka_unit_test(test_real_budget_law_reads_whole),
		cmocka_unit_test(test_real_unspsc_with_bom_and_quotes),
	};

	return cmocka_run_group_tests(tests, 0, NULL);
}
