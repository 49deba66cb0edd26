/*
 * Pushed budget lines: JSON lines field by field at their bounds, the agency scope
 * rules, duplicates; the budget law CSV: quotes, `;` inside quotes, thousands made
 * units exactly, empty ítem and asignación, BOM, CRLF, a header line, two currencies,
 * errors by line, and the real budgetLaw.csv counted against awk.
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
#include <event2/buffer.h>

#include "budget.h"
#include "copy.h"
#include "issues.h"
#include "sjson.h"
#include "shared_data.h"

/* The staging columns, in BUDGET_STAGING_COLUMNS order. */
enum {
	C_RECORD, C_AGENCY_POINTER, C_AGENCY, C_FISCAL_YEAR, C_PROGRAM, C_SUBTITULO,
	C_ITEM, C_ASIGNACION, C_DENOMINATION, C_PHASE, C_PERIOD, C_AMOUNT, C_CURRENCY,
	NCOLUMNS
};

static const struct budget_scope	agency_token = { "05-62", false };
static const struct budget_scope	analyst = { NULL, true };
static const struct budget_scope	analyst_with_default = { "05-62", true };
static const struct budget_csv_params	law_2024 = { 2024, "approved" };

static struct copy_rows			rows;
static struct issue_list		issues;
static struct budget_read_result	result;
static struct sjson_error		err;
static enum budget_read_status		status;

static int
setup(void **state)
{
	memset(&issues, 0, sizeof(issues));
	return copy_rows_init(&rows);
}

static int
teardown(void **state)
{
	copy_rows_free(&rows);
	issues_clear(&issues);
	return 0;
}

static void
reset(void)
{
	copy_rows_free(&rows);
	assert_int_equal(copy_rows_init(&rows), 0);
	issues_clear(&issues);
	memset(&err, 0, sizeof(err));
}

/* A JSON body with single quotes for double quotes. */
static void
read_json_as(const struct budget_scope *scope, const char *text)
{
	char	*json;

	reset();
	assert_non_null(json = strdup(text));
	for (char *p = json; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	status = budget_read_json(json, strlen(json), NULL, scope, &rows, &issues, &err,
	    &result);
	free(json);
}

/* One line: the required fields, then `extra`. */
static void
read_line_as(const struct budget_scope *scope, const char *extra)
{
	char	*body;

	assert_true(asprintf(&body, "{'lines':[{'fiscal_year':2024,'program':'01',"
	    "'subtitulo':29,'phase':'approved','amount':'61583000','currency':'CLP'%s}]}",
	    extra) > 0);
	read_json_as(scope, body);
	free(body);
}

static void
read_line(const char *extra)
{
	read_line_as(&agency_token, extra);
}

static void
read_csv_as(const struct budget_scope *scope, const char *text, size_t len)
{
	reset();
	status = budget_read_csv(text, len, &law_2024, scope, &rows, &issues, &err, &result);
}

static void
read_csv(const char *text)
{
	read_csv_as(&analyst, text, strlen(text));
}

static void
print_issues(void)
{
	for (size_t i = 0; i < issues.count; i++)
		print_message("  issue record %ld at %s: %s\n", issues.items[i].record,
		    issues.items[i].pointer, issues.items[i].message);
}

static void
assert_accepted(size_t nrows)
{
	if (issues.total != 0)
		print_issues();
	assert_int_equal(status, BUDGET_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(result.forbidden, 0);
	assert_int_equal(rows.rows, nrows);
	assert_false(rows.failed);
}

static void
assert_one_issue(const char *pointer, const char *part)
{
	assert_int_equal(status, BUDGET_READ_OK);
	if (issues.total != 1) {
		print_issues();
		fail_msg("%zu issues, expected one at %s", issues.total, pointer);
	}
	assert_string_equal(issues.items[0].pointer, pointer);
	if (strstr(issues.items[0].message, part) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", issues.items[0].message, part);
}

static void
assert_line_accepted(const char *extra)
{
	read_line(extra);
	assert_accepted(1);
}

static void
assert_line_rejected(const char *extra, const char *pointer, const char *part)
{
	read_line(extra);
	assert_one_issue(pointer, part);
	assert_int_equal(rows.rows, 0);
}

/* The row's raw fields ("\N" stays "\N"), each freed by the caller's free_fields. */
static char **
row_fields(size_t row)
{
	size_t		 len = evbuffer_get_length(rows.buf), f = 0;
	const char	*p = (const char *)evbuffer_pullup(rows.buf, -1), *end = p + len;
	const char	*from;
	char		**out;

	assert_non_null(out = calloc(NCOLUMNS + 1, sizeof(*out)));
	for (size_t r = 0; r < row; r++) {
		assert_non_null(p = memchr(p, '\n', (size_t)(end - p)));
		p++;
	}
	for (from = p;; p++) {
		assert_true(p < end);
		if (*p != '\t' && *p != '\n')
			continue;
		assert_true(f < NCOLUMNS);
		assert_non_null(out[f++] = strndup(from, (size_t)(p - from)));
		from = p + 1;
		if (*p == '\n')
			break;
	}
	assert_int_equal(f, NCOLUMNS);
	return out;
}

static void
free_fields(char **fields)
{
	for (int i = 0; i < NCOLUMNS; i++)
		free(fields[i]);
	free(fields);
}

/* One row as its fields joined with '|', for compact comparisons. */
static char *
row_text(size_t row)
{
	char	**f = row_fields(row), *text;
	size_t	  size = 1, o = 0;

	for (int i = 0; i < NCOLUMNS; i++)
		size += strlen(f[i]) + 1;
	assert_non_null(text = malloc(size));
	for (int i = 0; i < NCOLUMNS; i++)
		o += (size_t)snprintf(text + o, size - o, "%s%s", i > 0 ? "|" : "", f[i]);
	free_fields(f);
	return text;
}

static void
assert_row(size_t row, const char *expected)
{
	char	*text = row_text(row);

	assert_string_equal(text, expected);
	free(text);
}

/*
 * JSON ---------------------------------------------------------------------------------
 */

static void
test_staging_columns_match_the_row(void **state)
{
	size_t	commas = 0;

	for (const char *p = BUDGET_STAGING_COLUMNS; *p != '\0'; p++)
		commas += *p == ',';
	assert_int_equal(commas + 1, BUDGET_STAGING_NCOLUMNS);
	assert_int_equal(BUDGET_STAGING_NCOLUMNS, NCOLUMNS);
}

static void
test_full_json_line_becomes_one_exact_row(void **state)
{
	read_json_as(&analyst, "{'lines':[{'currency':'CLP','amount':-1311264.50,"
	    "'period':3,'phase':'modified','denomination':'Programas Informáticos',"
	    "'asignacion':2,'item':7,'subtitulo':29,'program':'01','fiscal_year':2024,"
	    "'agency':'05-62'}]}");
	assert_accepted(1);
	assert_int_equal(result.records, 1);
	assert_row(0, "0|/lines/0/agency|05-62|2024|01|29|7|2|Programas Informáticos|"
	    "modified|3|-1311264.50|CLP");
}

static void
test_minimal_json_line_leaves_the_rest_null(void **state)
{
	read_line("");
	assert_accepted(1);
	assert_row(0, "0|/lines/0/agency|05-62|2024|01|29|\\N|\\N|\\N|approved|\\N|61583000|CLP");
}

/* The required fields but `name`, then `extra`, as one line. */
static void
read_line_without(const char *name, const char *extra)
{
	static const char *required[][2] = {
		{ "fiscal_year", "2024" }, { "program", "'01'" }, { "subtitulo", "22" },
		{ "phase", "'paid'" }, { "amount", "1" }, { "currency", "'CLP'" },
	};
	char	body[2048];
	size_t	o;

	o = (size_t)snprintf(body, sizeof(body), "{'lines':[{");
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (strcmp(required[i][0], name) != 0)
			o += (size_t)snprintf(body + o, sizeof(body) - o, "%s'%s':%s",
			    o > 11 ? "," : "", required[i][0], required[i][1]);
	snprintf(body + o, sizeof(body) - o, "%s]}", extra);
	read_json_as(&agency_token, body);
}

static void
test_json_integers_at_their_bounds(void **state)
{
	static const struct {
		const char	*name;
		long		 min, max;
	} ints[] = {
		{ "fiscal_year", 1990, 2200 },
		{ "subtitulo", 1, 99 },
		{ "item", 1, 99 },
		{ "period", 1, 12 },
	};
	char	extra[128], pointer[64], message[64];

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		const long edge[] = { ints[i].min, ints[i].max };
		const long past[] = { ints[i].min - 1, ints[i].max + 1 };

		snprintf(pointer, sizeof(pointer), "/lines/0/%s", ints[i].name);
		snprintf(message, sizeof(message), "must be an integer from %ld to %ld",
		    ints[i].min, ints[i].max);
		for (int k = 0; k < 2; k++) {
			snprintf(extra, sizeof(extra), ",'%s':%ld}", ints[i].name, edge[k]);
			read_line_without(ints[i].name, extra);
			assert_accepted(1);
			snprintf(extra, sizeof(extra), ",'%s':%ld}", ints[i].name, past[k]);
			read_line_without(ints[i].name, extra);
			assert_one_issue(pointer, message);
		}
		/* A string of digits is not an integer. */
		snprintf(extra, sizeof(extra), ",'%s':'%ld'}", ints[i].name, ints[i].min);
		read_line_without(ints[i].name, extra);
		assert_one_issue(pointer, message);
	}
	assert_line_rejected(",'item':7.0", "/lines/0/item", "must be an integer");
	assert_line_rejected(",'period':1e1", "/lines/0/period", "must be an integer");
}

static void
test_asignacion_is_1_to_999_and_needs_an_item(void **state)
{
	assert_line_accepted(",'item':6,'asignacion':1");
	assert_line_accepted(",'item':6,'asignacion':999");
	assert_line_rejected(",'item':6,'asignacion':0", "/lines/0/asignacion",
	    "from 1 to 999");
	assert_line_rejected(",'item':6,'asignacion':1000", "/lines/0/asignacion",
	    "from 1 to 999");
	assert_line_rejected(",'asignacion':1", "/lines/0/asignacion", "needs an item");
}

static void
test_required_json_fields(void **state)
{
	static const char *names[] = { "fiscal_year", "program", "subtitulo", "phase",
	    "amount", "currency" };
	char	extra[64], pointer[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(pointer, sizeof(pointer), "/lines/0/%s", names[i]);
		read_line_without(names[i], "}");
		assert_one_issue(pointer, "is required");
		/* null is as good as absent. */
		snprintf(extra, sizeof(extra), ",'%s':null}", names[i]);
		read_line_without(names[i], extra);
		assert_one_issue(pointer, "is required");
	}
}

static void
test_program_and_denomination_lengths(void **state)
{
	char	*name, extra[1200];

	assert_non_null(name = malloc(1002));
	memset(name, 'p', 100);
	name[100] = '\0';
	read_json_as(&agency_token, "{'lines':[{'fiscal_year':2024,'program':'','subtitulo':29,"
	    "'phase':'approved','amount':1,'currency':'CLP'}]}");
	assert_one_issue("/lines/0/program", "must be a string of 1 to 100 characters");
	snprintf(extra, sizeof(extra), "{'lines':[{'fiscal_year':2024,'program':'%s',"
	    "'subtitulo':29,'phase':'approved','amount':1,'currency':'CLP'}]}", name);
	read_json_as(&agency_token, extra);
	assert_accepted(1);
	memset(name, 'p', 101);
	name[101] = '\0';
	snprintf(extra, sizeof(extra), "{'lines':[{'fiscal_year':2024,'program':'%s',"
	    "'subtitulo':29,'phase':'approved','amount':1,'currency':'CLP'}]}", name);
	read_json_as(&agency_token, extra);
	assert_one_issue("/lines/0/program", "1 to 100 characters");
	read_json_as(&agency_token, "{'lines':[{'fiscal_year':2024,'program':1,'subtitulo':29,"
	    "'phase':'approved','amount':1,'currency':'CLP'}]}");
	assert_one_issue("/lines/0/program", "must be a string");

	memset(name, 'd', 1000);
	name[1000] = '\0';
	snprintf(extra, sizeof(extra), ",'denomination':'%s'", name);
	assert_line_accepted(extra);
	memset(name, 'd', 1001);
	name[1001] = '\0';
	snprintf(extra, sizeof(extra), ",'denomination':'%s'", name);
	assert_line_rejected(extra, "/lines/0/denomination", "at most 1000 characters");
	free(name);
}

static void
test_phase_is_one_of_five(void **state)
{
	static const char *ok[] = { "approved", "modified", "committed", "accrued", "paid" };
	char	body[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(body, sizeof(body), "{'lines':[{'fiscal_year':2024,'program':'01',"
		    "'subtitulo':29,'phase':'%s','amount':1,'currency':'CLP'}]}", ok[i]);
		read_json_as(&agency_token, body);
		assert_accepted(1);
		assert_true(budget_phase_valid(ok[i]));
	}
	read_json_as(&agency_token, "{'lines':[{'fiscal_year':2024,'program':'01',"
	    "'subtitulo':29,'phase':'executed','amount':1,'currency':'CLP'}]}");
	assert_one_issue("/lines/0/phase",
	    "must be one of approved, modified, committed, accrued or paid");
	assert_false(budget_phase_valid("Approved"));
	assert_false(budget_phase_valid(NULL));
}

static void
test_json_amounts_are_exact_and_may_be_negative(void **state)
{
	static const char *good[] = { "-800000000", "'-800000000'", "0.000001",
	    "'1311264.00'", "999999999999999999.999999", "-0" };
	static const char *kept[] = { "-800000000", "-800000000", "0.000001", "1311264.00",
	    "999999999999999999.999999", "-0" };
	static const struct {
		const char	*value;
		const char	*part;
	} bad[] = {
		{ "1e3", "without an exponent" },
		{ "1000000000000000000", "at most 18 integer digits" },
		{ "'0.0000001'", "at most 6 fraction digits" },
		{ "'1.311.264'", "must be a decimal amount" },
		{ "'1,5'", "must be a decimal amount" },
		{ "false", "must be a decimal amount" },
	};
	char	body[256], **f;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(body, sizeof(body), "{'lines':[{'fiscal_year':2024,'program':'01',"
		    "'subtitulo':29,'phase':'modified','amount':%s,'currency':'CLP'}]}",
		    good[i]);
		read_json_as(&agency_token, body);
		assert_accepted(1);
		f = row_fields(0);
		assert_string_equal(f[C_AMOUNT], kept[i]);
		free_fields(f);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{'lines':[{'fiscal_year':2024,'program':'01',"
		    "'subtitulo':29,'phase':'modified','amount':%s,'currency':'CLP'}]}",
		    bad[i].value);
		read_json_as(&agency_token, body);
		assert_one_issue("/lines/0/amount", bad[i].part);
	}
}

static void
test_json_currency_is_three_capitals(void **state)
{
	read_json_as(&agency_token, "{'lines':[{'fiscal_year':2024,'program':'01',"
	    "'subtitulo':29,'phase':'approved','amount':1,'currency':'usd'}]}");
	assert_one_issue("/lines/0/currency", "ISO 4217");
}

static void
test_json_unknown_fields_and_envelope(void **state)
{
	assert_line_rejected(",'subtitle':29", "/lines/0/subtitle", "unknown field");
	read_json_as(&agency_token, "{'lines':[],'year':2024}");
	assert_one_issue("/year", "unknown field: the body holds only \"lines\"");
	read_json_as(&agency_token, "{}");
	assert_one_issue("/lines", "is required");
	read_json_as(&agency_token, "{'lines':{}}");
	assert_one_issue("/lines", "must be an array of budget lines");
	read_json_as(&agency_token, "{'lines':[1]}");
	assert_one_issue("/lines/0", "must be an object");
	read_json_as(&agency_token, "'lines'");
	assert_one_issue("", "must be an object");
	read_json_as(&agency_token, "{'lines':[{'amount':1,'amount':2}]}");
	assert_int_equal(status, BUDGET_READ_MALFORMED);
	assert_non_null(strstr(err.message, "duplicate key"));
}

static void
test_json_agency_scope(void **state)
{
	read_line_as(&agency_token, ",'agency':'05-62'");
	assert_accepted(1);
	read_line_as(&agency_token, ",'agency':'07-01'");
	assert_int_equal(status, BUDGET_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(result.forbidden, 1);
	assert_int_equal(result.forbidden_record, 0);
	assert_string_equal(result.forbidden_pointer, "/lines/0/agency");
	assert_int_equal(rows.rows, 0);
	read_line_as(&analyst, "");
	assert_one_issue("/lines/0/agency", "is required");
	read_line_as(&analyst, ",'agency':'07-01'");
	assert_accepted(1);
	read_line_as(&analyst_with_default, "");
	assert_accepted(1);
	read_line_as(&analyst, ",'agency':'no such code'");
	assert_one_issue("/lines/0/agency", "must be an agency code");
}

static void
test_json_duplicate_line_is_reported_on_the_second(void **state)
{
	read_json_as(&agency_token, "{'lines':["
	    "{'fiscal_year':2024,'program':'01','subtitulo':29,'item':6,'phase':'approved',"
	    "'amount':1,'currency':'CLP'},"
	    "{'fiscal_year':2024,'program':'01','subtitulo':29,'item':6,'phase':'approved',"
	    "'amount':1,'currency':'USD'},"
	    "{'fiscal_year':2024,'program':'01','subtitulo':29,'item':6,'phase':'approved',"
	    "'period':1,'amount':1,'currency':'CLP'},"
	    "{'fiscal_year':2024,'program':'01','subtitulo':29,'item':6,'phase':'approved',"
	    "'amount':2,'currency':'CLP'}]}");
	assert_one_issue("/lines/3", "duplicates /lines/0");
}

/*
 * CSV ----------------------------------------------------------------------------------
 */

static void
test_csv_line_in_thousands_becomes_units(void **state)
{
	read_csv("05;62;01;29;06;;Equipos Informáticos;61583;0\n");
	assert_accepted(1);
	assert_int_equal(result.records, 1);
	assert_row(0, "0|line 1|05-62|2024|01|29|6|\\N|Equipos Informáticos|approved|\\N|"
	    "61583000|CLP");
}

static void
test_csv_amounts_are_multiplied_exactly(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "0,001", "1" },
		{ "-800000", "-800000000" },
		{ "12,5", "12500" },
		{ "12,3456", "12345.6" },
		{ "0,0005", "0.5" },
		{ "-0,000001", "-0.001" },
		{ "007", "7000" },
		{ "1,000", "1000" },
		{ "123456789012345", "123456789012345000" },
		{ "0,123456789", "123.456789" },
		{ " 42 ", "42000" },
	};
	char	line[128], **f;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "01;01;01;22;;;BIENES;%s;0\n", cases[i].in);
		read_csv(line);
		assert_accepted(1);
		f = row_fields(0);
		assert_string_equal(f[C_AMOUNT], cases[i].out);
		free_fields(f);
	}
}

static void
test_csv_bad_amounts_name_the_column_and_line(void **state)
{
	static const char *bad[] = { "1.5", "1.234.567", "1e3", "abc", "1,", ",5", "--1",
	    "1234567890123456", "0,1234567891", "+5" };
	char	line[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "01;01;01;22;;;x;1\n01;01;01;22;;;BIENES;%s;0\n",
		    bad[i]);
		read_csv(line);
		assert_int_equal(status, BUDGET_READ_OK);
		assert_int_equal(issues.total, 2);
		/* The first line lacks a column. */
		assert_string_equal(issues.items[0].pointer, "line 1");
		assert_non_null(strstr(issues.items[0].message, "must have 9 fields"));
		assert_string_equal(issues.items[1].pointer, "line 2");
		assert_int_equal(issues.items[1].record, 1);
		assert_non_null(strstr(issues.items[1].message, "Monto Pesos: must be an "
		    "amount in thousands"));
	}
	read_csv("01;01;01;22;;;BIENES;;0\n");
	assert_one_issue("line 1", "Monto Pesos: is required");
	read_csv("01;01;01;22;;;BIENES;5;1.5\n");
	assert_one_issue("line 1", "Monto Dólar: must be an amount in thousands");
}

static void
test_csv_two_currencies_make_two_rows(void **state)
{
	read_csv("05;31;01;09;01;;Libre;1031148122;58873\n");
	assert_accepted(2);
	assert_row(0, "0|line 1|05-31|2024|01|9|1|\\N|Libre|approved|\\N|1031148122000|CLP");
	assert_row(1, "0|line 1|05-31|2024|01|9|1|\\N|Libre|approved|\\N|58873000|USD");
}

static void
test_csv_zero_amount_is_no_line_in_its_currency(void **state)
{
	char	**f;

	/* Dollars only. */
	read_csv("05;31;01;29;03;;Vehículos;0;13004\n");
	assert_accepted(1);
	f = row_fields(0);
	assert_string_equal(f[C_CURRENCY], "USD");
	assert_string_equal(f[C_AMOUNT], "13004000");
	free_fields(f);
	/* Both zero: kept as pesos. */
	read_csv("05;31;01;29;03;;Vehículos;0;0\n");
	assert_accepted(1);
	f = row_fields(0);
	assert_string_equal(f[C_CURRENCY], "CLP");
	assert_string_equal(f[C_AMOUNT], "0");
	free_fields(f);
	/* "0,000" and "-0" are zero too; an empty dollar column is none. */
	read_csv("05;31;01;29;03;;V;-0;0,000\n05;31;01;29;04;;M;7;\n");
	assert_accepted(2);
	f = row_fields(0);
	assert_string_equal(f[C_AMOUNT], "0");
	assert_string_equal(f[C_CURRENCY], "CLP");
	free_fields(f);
	f = row_fields(1);
	assert_string_equal(f[C_AMOUNT], "7000");
	assert_string_equal(f[C_CURRENCY], "CLP");
	free_fields(f);
}

static void
test_csv_quotes_and_separator_inside_quotes(void **state)
{
	char	**f;

	read_csv("27;02;02;24;01;005;Programa \"\"4 a 7;2937559;0\n"
	    "05;61;02;33;03;126;\"Universidad; \"\"Tarapacá LABS\"\" (30434575-0)\";103000;0\n");
	assert_accepted(2);
	f = row_fields(0);
	/* DIPRES's unquoted "" is kept as it stands (csv.h). */
	assert_string_equal(f[C_DENOMINATION], "Programa \"\"4 a 7");
	assert_string_equal(f[C_ASIGNACION], "5");
	free_fields(f);
	f = row_fields(1);
	assert_string_equal(f[C_DENOMINATION], "Universidad; \"Tarapacá LABS\" (30434575-0)");
	assert_string_equal(f[C_AGENCY_POINTER], "line 2");
	assert_string_equal(f[C_ASIGNACION], "126");
	free_fields(f);
}

static void
test_csv_empty_item_is_a_subtitulo_total(void **state)
{
	read_csv("01;01;01;29;;;ADQUISICIÓN DE ACTIVOS NO FINANCIEROS;387907;0\n"
	    "01;01;01;29;06;;Equipos Informáticos;61583;0\n"
	    "01;01;01;29;07;001;Programas Computacionales;180578;0\n");
	assert_accepted(3);
	assert_row(0, "0|line 1|01-01|2024|01|29|\\N|\\N|ADQUISICIÓN DE ACTIVOS NO "
	    "FINANCIEROS|approved|\\N|387907000|CLP");
	assert_row(1, "1|line 2|01-01|2024|01|29|6|\\N|Equipos Informáticos|approved|\\N|"
	    "61583000|CLP");
	assert_row(2, "2|line 3|01-01|2024|01|29|7|1|Programas Computacionales|approved|\\N|"
	    "180578000|CLP");
	read_csv("01;01;01;29;;001;x;1;0\n");
	assert_one_issue("line 1", "Asignación: needs an Ítem");
}

static void
test_csv_bom_crlf_and_header_line(void **state)
{
	static const char body[] = "\xef\xbb\xbfPartida;Capítulo;Programa;Subtítulo;Ítem;"
	    "Asignación;Denominación;Monto Pesos;Monto Dólar\r\n"
	    "5;62;1;29;6;;Equipos;10;0\r\n"
	    "\r\n"
	    "05;62;01;29;07;;Programas;20;0\r\n";
	char	**f;

	read_csv(body);
	assert_accepted(2);
	assert_int_equal(result.records, 2);
	f = row_fields(0);
	/* Codes zero-padded; lines counted from the file's first, the header. */
	assert_string_equal(f[C_RECORD], "0");
	assert_string_equal(f[C_AGENCY_POINTER], "line 2");
	assert_string_equal(f[C_AGENCY], "05-62");
	assert_string_equal(f[C_PROGRAM], "01");
	assert_string_equal(f[C_DENOMINATION], "Equipos");
	free_fields(f);
	f = row_fields(1);
	assert_string_equal(f[C_AGENCY_POINTER], "line 4");
	assert_string_equal(f[C_DENOMINATION], "Programas");
	assert_string_equal(f[C_AMOUNT], "20000");
	free_fields(f);
	/* A header only counts as one on the first line. */
	read_csv("05;62;01;29;07;;Programas;20;0\npartida;x;x;x;x;x;x;x;x\n");
	assert_int_equal(issues.total, 8);
	assert_string_equal(issues.items[0].pointer, "line 2");
	assert_non_null(strstr(issues.items[0].message, "Partida: must be a number"));
}

static void
test_csv_classifier_numbers_are_checked(void **state)
{
	read_csv("0;62;01;29;07;;x;1;0\n");
	assert_one_issue("line 1", "Partida: must be a number from 1 to 99");
	read_csv("05;100;01;29;07;;x;1;0\n");
	assert_one_issue("line 1", "Capítulo: must be a number from 0 to 99");
	read_csv("05;62;A1;29;07;;x;1;0\n");
	assert_one_issue("line 1", "Programa: must be a number from 0 to 99");
	read_csv("05;62;01;;07;;x;1;0\n");
	assert_one_issue("line 1", "Subtítulo: must be a number from 1 to 99");
	read_csv("05;62;01;29;100;;x;1;0\n");
	assert_one_issue("line 1", "Ítem: must be empty or a number from 1 to 99");
	read_csv("05;62;01;29;07;1000;x;1;0\n");
	assert_one_issue("line 1", "Asignación: must be empty or a number from 1 to 999");
	read_csv("05;62;01;29;07;;\xff\xfe;1;0\n");
	assert_one_issue("line 1", "Denominación: must be UTF-8 text");
	/* Capítulo 0 is the ministry itself. */
	read_csv("05;0;01;29;07;;x;1;0\n");
	assert_accepted(1);
	assert_row(0, "0|line 1|05|2024|01|29|7|\\N|x|approved|\\N|1000|CLP");
	/* Every problem of a line, not only the first. */
	read_csv("x;y;z;29;07;;x;1;0\n");
	assert_int_equal(issues.total, 3);
}

static void
test_csv_agency_scope(void **state)
{
	static const char body[] = "05;62;01;29;06;;a;1;0\n05;63;01;29;06;;b;1;0\n"
	    "05;64;01;29;06;;c;1;0\n";

	read_csv_as(&agency_token, body, strlen(body));
	assert_int_equal(status, BUDGET_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(result.forbidden, 2);
	assert_int_equal(result.forbidden_record, 1);
	assert_string_equal(result.forbidden_pointer, "line 2");
	read_csv_as(&agency_token, body, strlen("05;62;01;29;06;;a;1;0\n"));
	assert_accepted(1);
	/* An analyst's default agency does not apply: each line names its own. */
	read_csv_as(&analyst_with_default, body, strlen(body));
	assert_accepted(3);
}

static void
test_csv_duplicate_line_is_reported_on_the_second(void **state)
{
	read_csv("05;62;01;29;06;;a;1;2\n05;62;01;29;06;;a;0;3\n");
	/* The second line's dollars repeat the first's; its pesos are zero: no CLP row. */
	assert_one_issue("line 2", "duplicates line 1");
	assert_int_equal(issues.items[0].record, 1);
}

static void
test_csv_syntax_errors_are_malformed_with_the_line(void **state)
{
	static const char nul[] = "05;62;01;29;06;;a;1;0\n05;62;01;29;07;;b\0;1;0\n";

	read_csv("05;62;01;29;06;;a;1;0\n05;62;01;29;07;;\"unclosed;1;0\n");
	assert_int_equal(status, BUDGET_READ_MALFORMED);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.message, "quoted field not closed");
	read_csv_as(&analyst, nul, sizeof(nul) - 1);
	assert_int_equal(status, BUDGET_READ_MALFORMED);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.message, "NUL byte");
}

static void
test_csv_params_are_checked(void **state)
{
	struct budget_csv_params	params;
	char				message[128];

	assert_true(budget_csv_params_parse("2024", "accrued", &params, message,
	    sizeof(message)));
	assert_int_equal(params.fiscal_year, 2024);
	assert_string_equal(params.phase, "accrued");
	assert_true(budget_csv_params_parse("1990", "paid", &params, message,
	    sizeof(message)));
	assert_true(budget_csv_params_parse("2200", "paid", &params, message,
	    sizeof(message)));
	assert_false(budget_csv_params_parse("1989", "paid", &params, message,
	    sizeof(message)));
	assert_non_null(strstr(message, "year: must be the fiscal year, 1990 to 2200"));
	assert_false(budget_csv_params_parse("2201", "paid", &params, message,
	    sizeof(message)));
	assert_false(budget_csv_params_parse("2024.0", "paid", &params, message,
	    sizeof(message)));
	assert_false(budget_csv_params_parse(NULL, "paid", &params, message,
	    sizeof(message)));
	assert_false(budget_csv_params_parse("2024", "budget", &params, message,
	    sizeof(message)));
	assert_non_null(strstr(message, "phase: must be one of approved"));
	assert_false(budget_csv_params_parse("2024", NULL, &params, message,
	    sizeof(message)));
}

/* The sum of the rows' amounts in a currency, exactly: this file's are all whole. */
static long long
sum_amounts(const char *currency, bool ict_only, size_t *count)
{
	long long	sum = 0;

	*count = 0;
	for (size_t r = 0; r < rows.rows; r++) {
		char	**f = row_fields(r), *end;
		long long v;

		if (strcmp(f[C_CURRENCY], currency) == 0 && (!ict_only ||
		    (strcmp(f[C_SUBTITULO], "29") == 0 && (strcmp(f[C_ITEM], "6") == 0 ||
		    strcmp(f[C_ITEM], "7") == 0)))) {
			v = strtoll(f[C_AMOUNT], &end, 10);
			assert_true(*end == '\0');
			sum += v;
			(*count)++;
		}
		free_fields(f);
	}
	return sum;
}

/*
 * The numbers below were computed from the file with awk, independently of this code:
 *
 * awk -F';' 'function units(v,  a, n, u, neg) { neg = (v ~ /^-/); sub(/^-/, "", v);
 *     n = split(v, a, ","); u = a[1] * 1000; if (n == 2) u += substr(a[2] "000", 1, 3) + 0;
 *     return neg ? -u : u }
 *   { lines++; p = ($8 ~ /[1-9]/); d = ($9 ~ /[1-9]/);
 *     if (p || !d) { clp++; sclp += units($8) } if (d) { usd++; susd += units($9) }
 *     if ($4 == "29" && ($5 == "06" || $5 == "07")) { ict++;
 *       if (p || !d) { ictclp++; sict += units($8) } } }
 *   END { printf "%d %d %d %.0f %.0f %d %d %.0f\n", lines, clp, usd, sclp, susd, ict,
 *       ictclp, sict }'
 * gives 9283 9211 279 470557734941034 18709503000 349 347 85467250000.
 */
static void
test_real_budget_law_reads_without_an_issue(void **state)
{
	size_t	 len, count;
	char	*body;

	if ((body = shared_data_read("chile/budgetLaw.csv", &len)) == NULL)
		skip();
	read_csv_as(&analyst, body, len);
	free(body);
	assert_accepted(9211 + 279);
	assert_int_equal(result.records, 9283);
	assert_int_equal(sum_amounts("CLP", false, &count), 470557734941034LL);
	assert_int_equal(count, 9211);
	assert_int_equal(sum_amounts("USD", false, &count), 18709503000LL);
	assert_int_equal(count, 279);
	/*
	 * The ICT lines, 29.06 and 29.07 (../shared/data/README.md: 349 of them), 347
	 * with pesos: two have dollars only.
	 */
	assert_int_equal(sum_amounts("CLP", true, &count), 85467250000LL);
	assert_int_equal(count, 347);
	sum_amounts("USD", true, &count);
	assert_int_equal(count, 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_staging_columns_match_the_row),
		cmocka_unit_test_setup_teardown(test_full_json_line_becomes_one_exact_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimal_json_line_leaves_the_rest_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_integers_at_their_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asignacion_is_1_to_999_and_needs_an_item, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required_json_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_program_and_denomination_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phase_is_one_of_five, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_amounts_are_exact_and_may_be_negative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_currency_is_three_capitals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_unknown_fields_and_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_agency_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_duplicate_line_is_reported_on_the_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_line_in_thousands_becomes_units, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_amounts_are_multiplied_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_bad_amounts_name_the_column_and_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_two_currencies_make_two_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_zero_amount_is_no_line_in_its_currency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_quotes_and_separator_inside_quotes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_empty_item_is_a_subtitulo_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_bom_crlf_and_header_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_classifier_numbers_are_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_agency_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_duplicate_line_is_reported_on_the_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_syntax_errors_are_malformed_with_the_line, setup, teardown),
		cmocka_unit_test(test_csv_params_are_checked),
		cmocka_unit_test_setup_teardown(test_real_budget_law_reads_without_an_issue, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
