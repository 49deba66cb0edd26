/*
 * Evidence rows as tables (include/evidence_table.h): amounts written as SQL's
 * ictmon_money() writes them, one table per kind in text and HTML, nothing for no rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evidence_table.h"
#include "sjson.h"

static void
assert_money(const char *dec, const char *want)
{
	char	buf[64];

	assert_true(money_format(dec, buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

static void
test_money_as_the_summaries_write_it(void **state)
{
	(void)state;
	assert_money("812400000", "812,400,000");
	assert_money("1234.5", "1,234.50");
	assert_money("-1234567.50", "-1,234,567.50");
	assert_money("0.00", "0");
	assert_money("+007", "7");
	assert_money(".5", "0.50");
	assert_money("999.125", "999.125");
}

static void
test_money_refuses_what_is_not_a_plain_decimal(void **state)
{
	char	buf[64], small[12];

	(void)state;
	assert_false(money_format("abc", buf, sizeof(buf)));
	assert_false(money_format("", buf, sizeof(buf)));
	assert_false(money_format("-", buf, sizeof(buf)));
	assert_false(money_format("1e6", buf, sizeof(buf)));
	assert_false(money_format("12 345", buf, sizeof(buf)));
	/* "812,400,000" and its NUL need 12 octets */
	assert_true(money_format("812400000", small, sizeof(small)));
	assert_false(money_format("812400000", small, sizeof(small) - 1));
}

/* Writes the evidence's tables; text and HTML as written, the caller frees both. */
static void
tables_of(const json_t *evidence, char **text, char **html)
{
	struct out	t, h;

	assert_true(out_open(&t));
	assert_true(out_open(&h));
	evidence_tables_write(&t, &h, evidence);
	*text = out_close(&t);
	*html = out_close(&h);
	assert_non_null(*text);
	assert_non_null(*html);
}

static void
test_one_table_per_kind_in_text_and_html(void **state)
{
	json_t	*ev;
	char	*text, *html;

	(void)state;
	ev = json_pack("{s:[{s:s, s:s, s:I}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "rows",
	    "kind", "award", "agency", "MOP", "amount", (json_int_t)280000000,
	    "kind", "budget_line", "total", "1234.5", "status", "a < b",
	    "kind", "award", "agency", "MINSAL", "amount", "5");
	assert_non_null(ev);
	tables_of(ev, &text, &html);
	assert_string_equal(text,
	    "\nAwards:\n"
	    "  agency       amount\n"
	    "  ------  -----------\n"
	    "  MOP     280,000,000\n"
	    "  MINSAL            5\n"
	    "\nBudget lines:\n"
	    "  status     total\n"
	    "  ------  --------\n"
	    "  a < b   1,234.50\n");
	assert_non_null(strstr(html, ">Awards</p>"));
	assert_non_null(strstr(html, ">Budget lines</p>"));
	assert_non_null(strstr(html, ">a &lt; b</td>"));
	assert_non_null(strstr(html, "text-align:right;white-space:nowrap\">280,000,000</td>"));
	free(text);
	free(html);
	json_decref(ev);
}

static void
test_no_rows_no_tables(void **state)
{
	json_t	*ev;
	char	*text, *html;

	(void)state;
	ev = json_pack("{s:[], s:s}", "rows", "summary", "nothing to show");
	assert_non_null(ev);
	tables_of(ev, &text, &html);
	assert_string_equal(text, "");
	assert_string_equal(html, "");
	free(text);
	free(html);
	json_decref(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_money_as_the_summaries_write_it),
		cmocka_unit_test(test_money_refuses_what_is_not_a_plain_decimal),
		cmocka_unit_test(test_one_table_per_kind_in_text_and_html),
		cmocka_unit_test(test_no_rows_no_tables),
	};

	return cmocka_run_group_tests(tests, 0, NULL);
}
