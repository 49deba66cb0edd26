/*
 * Pushed projects: every field's type and bounds at the edge and one past, calendar
 * dates, exact amounts, the agency scope rules, unknown fields, duplicate ids, errors
 * collected with exact pointers, and the COPY row with its canonical JSON and hash.
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
#include <openssl/evp.h>

#include "copy.h"
#include "issues.h"
#include "project.h"
#include "sjson.h"

/* The staging columns, in PROJECT_STAGING_COLUMNS order. */
enum {
	C_RECORD, C_AGENCY_POINTER, C_AGENCY, C_EXTERNAL_ID, C_TITLE, C_DESCRIPTION,
	C_CATEGORY, C_CAPABILITIES, C_STATUS, C_PLANNED_START, C_PLANNED_END,
	C_PROJECTED_END, C_ACTUAL_START, C_ACTUAL_END, C_PLANNED_COST, C_PROJECTED_COST,
	C_ACTUAL_COST, C_CURRENCY, C_REVIEW_STATUS, C_CIO_RATING, C_SHARED_PLATFORMS,
	C_BUDGET_LINES, C_OCIDS, C_FUNDING_SOURCE, C_FUNDING_PROGRAM, C_CONTENT_HASH,
	C_DATA, NCOLUMNS
};

static const struct project_scope	agency_token = { "05-62", false };
static const struct project_scope	analyst = { NULL, true };
static const struct project_scope	analyst_with_default = { "05-62", true };

static struct copy_rows			rows;
static struct issue_list		issues;
static struct project_read_result	result;
static struct sjson_error		err;
static enum project_read_status		status;

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

/*
 * Reads a body written with single quotes for double quotes (they read better in C);
 * JSON escapes such as \u0022 give a double quote inside a string.
 */
static void
read_as(const struct project_scope *scope, const char *text)
{
	char	*json;

	copy_rows_free(&rows);
	assert_int_equal(copy_rows_init(&rows), 0);
	issues_clear(&issues);
	memset(&err, 0, sizeof(err));
	assert_non_null(json = strdup(text));
	for (char *p = json; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	status = project_read(json, strlen(json), NULL, scope, &rows, &issues, &err, &result);
	free(json);
}

/* One record: the required fields, then `extra` (",'key':value..." or ""). */
static void
read_record_as(const struct project_scope *scope, const char *extra)
{
	char	*body;

	assert_true(asprintf(&body, "{'projects':[{'id':'p-1','title':'Portal',"
	    "'status':'planned'%s}]}", extra) > 0);
	read_as(scope, body);
	free(body);
}

static void
read_record(const char *extra)
{
	read_record_as(&agency_token, extra);
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
	assert_int_equal(status, PROJECT_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(result.forbidden, 0);
	assert_int_equal(rows.rows, nrows);
	assert_false(rows.failed);
}

/* Exactly one issue, at `pointer`, whose message holds `part`. */
static void
assert_one_issue(const char *pointer, const char *part)
{
	assert_int_equal(status, PROJECT_READ_OK);
	if (issues.total != 1) {
		print_issues();
		fail_msg("%zu issues, expected one at %s", issues.total, pointer);
	}
	assert_string_equal(issues.items[0].pointer, pointer);
	if (strstr(issues.items[0].message, part) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", issues.items[0].message, part);
}

static void
assert_rejected_at(const char *extra, const char *pointer, const char *part)
{
	read_record(extra);
	assert_one_issue(pointer, part);
	assert_int_equal(rows.rows, 0);
}

static void
assert_accepted_with(const char *extra)
{
	read_record(extra);
	assert_accepted(1);
}

/* n copies of `unit` (a character, maybe several bytes). */
static char *
repeat(const char *unit, size_t n)
{
	size_t	 len = strlen(unit);
	char	*s;

	assert_non_null(s = malloc(len * n + 1));
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, unit, len);
	s[len * n] = '\0';
	return s;
}

/* ",'name':'<n copies of unit>'" */
static char *
string_field(const char *name, const char *unit, size_t n)
{
	char	*value = repeat(unit, n), *extra;

	assert_true(asprintf(&extra, ",'%s':'%s'", name, value) > 0);
	free(value);
	return extra;
}

/* ",'name':['t','t',...]" with n tags of `len` characters. */
static char *
tags_field(const char *name, size_t n, size_t len)
{
	char	*tag = repeat("t", len), *extra;
	size_t	 size = strlen(name) + 8 + n * (len + 3), o;

	assert_non_null(extra = malloc(size));
	o = (size_t)snprintf(extra, size, ",'%s':[", name);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(extra + o, size - o, "%s'%s'", i > 0 ? "," : "", tag);
	snprintf(extra + o, size - o, "]");
	free(tag);
	return extra;
}

/* The row's fields with COPY's escapes undone; NULL for \N. Freed by the caller. */
static char **
row_fields(size_t row)
{
	size_t		 len = evbuffer_get_length(rows.buf), f = 0;
	const char	*data = (const char *)evbuffer_pullup(rows.buf, -1), *p, *end;
	char		**out, *text = NULL;
	size_t		 o = 0;

	assert_non_null(out = calloc(NCOLUMNS + 1, sizeof(*out)));
	p = data;
	end = data + len;
	for (size_t r = 0; r < row; r++) {
		p = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(p);
		p++;
	}
	for (;;) {
		if (text == NULL) {
			assert_non_null(text = malloc((size_t)(end - p) + 1));
			o = 0;
		}
		assert_true(p < end);
		if (*p == '\t' || *p == '\n') {
			text[o] = '\0';
			assert_true(f < NCOLUMNS);
			if (strcmp(text, "\\N") == 0) {
				free(text);
				out[f++] = NULL;
			} else {
				/* Undo escapes only now: "\N" is NULL, "\\N" is the text \N. */
				char *w = text;

				for (char *q = text; *q != '\0'; q++) {
					if (*q != '\\') {
						*w++ = *q;
						continue;
					}
					q++;
					*w++ = *q == 't' ? '\t' : *q == 'n' ? '\n' :
					    *q == 'r' ? '\r' : *q;
				}
				*w = '\0';
				out[f++] = text;
			}
			text = NULL;
			if (*p++ == '\n')
				break;
			continue;
		}
		text[o++] = *p++;
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

static void
sha256_hex(const char *text, char hex[65])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	assert_int_equal(EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/*
 * The staging columns ------------------------------------------------------------------
 */

static void
test_staging_columns_match_the_row(void **state)
{
	size_t	commas = 0;

	for (const char *p = PROJECT_STAGING_COLUMNS; *p != '\0'; p++)
		commas += *p == ',';
	assert_int_equal(commas + 1, PROJECT_STAGING_NCOLUMNS);
	assert_int_equal(PROJECT_STAGING_NCOLUMNS, NCOLUMNS);
	assert_non_null(strstr(PROJECT_STAGING_COLUMNS, "record int, agency_pointer text, "
	    "agency text, external_id text"));
	assert_non_null(strstr(PROJECT_STAGING_COLUMNS, "content_hash text, data jsonb"));
}

static void
test_full_record_becomes_one_exact_row(void **state)
{
	static const char *canonical =
	    "{\"agency\":\"05-62\",\"id\":\"SEGPRES-2024-07\",\"title\":\"Clave Única 2.0\","
	    "\"description\":\"Line one\\nline two\",\"category\":\"identity\","
	    "\"capabilities\":[\"login\",\"a \\\"b\\\" c\",\"x,y{z}\\\\\"],"
	    "\"status\":\"in_progress\",\"planned_start\":\"2024-01-15\","
	    "\"planned_end\":\"2025-06-30\",\"projected_end\":\"2025-09-30\","
	    "\"actual_start\":\"2024-02-01\",\"planned_cost\":1311264.00,"
	    "\"projected_cost\":1500000.50,\"actual_cost\":0,\"currency\":\"CLP\","
	    "\"review_status\":\"approved\",\"cio_rating\":4,"
	    "\"shared_platforms\":[\"ClaveÚnica\"],\"budget_lines\":[\"29.07.002\"],"
	    "\"ocids\":[\"ocds-70d2nz-1\",\"ocds-70d2nz-2\"],"
	    "\"funding_source\":\"central_fund\","
	    "\"funding_program\":\"Fondo de Transformación Digital\"}";
	char	**f, hash[65];

	/* Keys out of the canonical order on purpose. */
	read_as(&agency_token, "{'projects':[{"
	    "'ocids':['ocds-70d2nz-1','ocds-70d2nz-2'],'id':'SEGPRES-2024-07',"
	    "'title':'Clave Única 2.0','description':'Line one\\nline two',"
	    "'category':'identity',"
	    "'capabilities':['login','a \\u0022b\\u0022 c','x,y{z}\\\\'],"
	    "'status':'in_progress','planned_start':'2024-01-15',"
	    "'planned_end':'2025-06-30','projected_end':'2025-09-30',"
	    "'actual_start':'2024-02-01','actual_end':null,"
	    "'planned_cost':1311264.00,'projected_cost':'1500000.50','actual_cost':0,"
	    "'currency':'CLP','review_status':'approved','cio_rating':4,"
	    "'shared_platforms':['ClaveÚnica'],'budget_lines':['29.07.002'],"
	    "'funding_source':'central_fund',"
	    "'funding_program':'Fondo de Transformación Digital','agency':'05-62'}]}");
	assert_accepted(1);
	assert_int_equal(result.records, 1);

	f = row_fields(0);
	assert_string_equal(f[C_RECORD], "0");
	assert_string_equal(f[C_AGENCY_POINTER], "/projects/0/agency");
	assert_string_equal(f[C_AGENCY], "05-62");
	assert_string_equal(f[C_EXTERNAL_ID], "SEGPRES-2024-07");
	assert_string_equal(f[C_TITLE], "Clave Única 2.0");
	assert_string_equal(f[C_DESCRIPTION], "Line one\nline two");
	assert_string_equal(f[C_CATEGORY], "identity");
	/* Array literal: every element quoted, quotes and backslashes escaped. */
	assert_string_equal(f[C_CAPABILITIES],
	    "{\"login\",\"a \\\"b\\\" c\",\"x,y{z}\\\\\"}");
	assert_string_equal(f[C_STATUS], "in_progress");
	assert_string_equal(f[C_PLANNED_START], "2024-01-15");
	assert_string_equal(f[C_PLANNED_END], "2025-06-30");
	assert_string_equal(f[C_PROJECTED_END], "2025-09-30");
	assert_string_equal(f[C_ACTUAL_START], "2024-02-01");
	assert_null(f[C_ACTUAL_END]);
	/* Exactly as written: never through a double. */
	assert_string_equal(f[C_PLANNED_COST], "1311264.00");
	assert_string_equal(f[C_PROJECTED_COST], "1500000.50");
	assert_string_equal(f[C_ACTUAL_COST], "0");
	assert_string_equal(f[C_CURRENCY], "CLP");
	assert_string_equal(f[C_REVIEW_STATUS], "approved");
	assert_string_equal(f[C_CIO_RATING], "4");
	assert_string_equal(f[C_SHARED_PLATFORMS], "{\"ClaveÚnica\"}");
	assert_string_equal(f[C_BUDGET_LINES], "{\"29.07.002\"}");
	assert_string_equal(f[C_OCIDS], "{\"ocds-70d2nz-1\",\"ocds-70d2nz-2\"}");
	assert_string_equal(f[C_FUNDING_SOURCE], "central_fund");
	assert_string_equal(f[C_FUNDING_PROGRAM], "Fondo de Transformación Digital");
	assert_string_equal(f[C_DATA], canonical);
	sha256_hex(canonical, hash);
	assert_string_equal(f[C_CONTENT_HASH], hash);
	free_fields(f);
}

static void
test_row_escapes_what_copy_gives_a_meaning_to(void **state)
{
	const char	*data;

	read_record(",'description':'tab\\there\\\\back'");
	assert_accepted(1);
	data = (const char *)evbuffer_pullup(rows.buf, -1);
	/* A tab in a value cannot split the field; a backslash is doubled. */
	assert_non_null(strstr(data, "\ttab\\there\\\\back\t"));
}

static void
test_minimal_record_defaults(void **state)
{
	char	**f;

	read_record("");
	assert_accepted(1);
	f = row_fields(0);
	assert_string_equal(f[C_AGENCY], "05-62");
	assert_string_equal(f[C_REVIEW_STATUS], "not_submitted");
	assert_string_equal(f[C_CAPABILITIES], "{}");
	assert_string_equal(f[C_OCIDS], "{}");
	assert_null(f[C_DESCRIPTION]);
	assert_null(f[C_PLANNED_COST]);
	assert_null(f[C_CURRENCY]);
	assert_null(f[C_CIO_RATING]);
	assert_null(f[C_FUNDING_SOURCE]);
	assert_string_equal(f[C_DATA], "{\"agency\":\"05-62\",\"id\":\"p-1\","
	    "\"title\":\"Portal\",\"status\":\"planned\","
	    "\"review_status\":\"not_submitted\"}");
	free_fields(f);
}

static void
test_equivalent_records_have_the_same_hash(void **state)
{
	static const char *forms[] = {
		"{'projects':[{'id':'p','title':'T','status':'planned',"
		    "'planned_cost':'10.50','currency':'CLP'}]}",
		"{'projects':[{'currency':'CLP','planned_cost':10.50,'status':'planned',"
		    "'title':'T','id':'p','review_status':'not_submitted',"
		    "'description':null,'ocids':[],'agency':'05-62'}]}",
	};
	char	**f, *hash[2], *data[2];

	for (int i = 0; i < 2; i++) {
		read_as(&agency_token, forms[i]);
		assert_accepted(1);
		f = row_fields(0);
		hash[i] = strdup(f[C_CONTENT_HASH]);
		data[i] = strdup(f[C_DATA]);
		free_fields(f);
	}
	assert_string_equal(data[0], data[1]);
	assert_string_equal(hash[0], hash[1]);
	for (int i = 0; i < 2; i++) {
		free(hash[i]);
		free(data[i]);
	}
	/* A changed amount's text is a change. */
	read_as(&agency_token, "{'projects':[{'id':'p','title':'T','status':'planned',"
	    "'planned_cost':'10.5','currency':'CLP'}]}");
	f = row_fields(0);
	assert_string_equal(f[C_PLANNED_COST], "10.5");
	free_fields(f);
}

/*
 * Strings ------------------------------------------------------------------------------
 */

/* A text field at its bound, one past, and (when required) empty. */
static void
check_text_bounds(const char *name, size_t max, bool required)
{
	char	*extra, pointer[64];

	snprintf(pointer, sizeof(pointer), "/projects/0/%s", name);
	extra = string_field(name, "x", max);
	assert_accepted_with(extra);
	free(extra);
	/* Characters, not bytes: ñ is two bytes. */
	extra = string_field(name, "ñ", max);
	assert_accepted_with(extra);
	free(extra);
	extra = string_field(name, "x", max + 1);
	assert_rejected_at(extra, pointer, "characters");
	free(extra);
	extra = string_field(name, "", 0);
	if (required)
		assert_rejected_at(extra, pointer, "of 1 to");
	else
		assert_accepted_with(extra);
	free(extra);
}

/* Replaces a required field of the minimal record. */
static void
read_without(const char *name, const char *replacement)
{
	char	 body[512];
	char	 id[64] = "'id':'p-1'", title[64] = "'title':'Portal'";
	char	 stat[64] = "'status':'planned'";

	if (strcmp(name, "id") == 0)
		snprintf(id, sizeof(id), "%s", replacement);
	else if (strcmp(name, "title") == 0)
		snprintf(title, sizeof(title), "%s", replacement);
	else
		snprintf(stat, sizeof(stat), "%s", replacement);
	snprintf(body, sizeof(body), "{'projects':[{%s%s%s%s%s}]}", id,
	    *id && *title ? "," : "", title, (*id || *title) && *stat ? "," : "", stat);
	read_as(&agency_token, body);
}

static void
test_id_is_a_string_of_1_to_200_characters(void **state)
{
	char	*body, *id = repeat("i", 201);

	read_without("id", "'id':'x'");
	assert_accepted(1);
	assert_true(asprintf(&body, "{'projects':[{'id':'%s','title':'T','status':'planned'}]}",
	    id) > 0);
	read_as(&agency_token, body);
	assert_one_issue("/projects/0/id", "must be a string of 1 to 200 characters");
	free(body);
	id[200] = '\0';
	assert_true(asprintf(&body, "{'projects':[{'id':'%s','title':'T','status':'planned'}]}",
	    id) > 0);
	read_as(&agency_token, body);
	assert_accepted(1);
	free(body);
	free(id);
	read_without("id", "'id':''");
	assert_one_issue("/projects/0/id", "of 1 to 200");
	read_without("id", "'id':17");
	assert_one_issue("/projects/0/id", "must be a string");
	read_without("id", "");
	assert_one_issue("/projects/0/id", "is required");
	read_without("id", "'id':null");
	assert_one_issue("/projects/0/id", "is required");
}

static void
test_title_is_a_string_of_1_to_500_characters(void **state)
{
	char	*body, *title = repeat("é", 501);

	assert_true(asprintf(&body, "{'projects':[{'id':'p','title':'%s','status':'planned'}]}",
	    title) > 0);
	read_as(&agency_token, body);
	assert_one_issue("/projects/0/title", "must be a string of 1 to 500 characters");
	free(body);
	title[500 * 2] = '\0';
	assert_true(asprintf(&body, "{'projects':[{'id':'p','title':'%s','status':'planned'}]}",
	    title) > 0);
	read_as(&agency_token, body);
	assert_accepted(1);
	free(body);
	free(title);
	read_without("title", "");
	assert_one_issue("/projects/0/title", "is required");
	read_without("title", "'title':['a']");
	assert_one_issue("/projects/0/title", "must be a string");
}

static void
test_description_is_at_most_20000_characters(void **state)
{
	check_text_bounds("description", PROJECT_DESCRIPTION_MAX, false);
	assert_rejected_at(",'description':true", "/projects/0/description",
	    "must be a string of at most 20000 characters");
}

static void
test_category_and_funding_program_are_at_most_200_characters(void **state)
{
	check_text_bounds("category", 200, false);
	check_text_bounds("funding_program", 200, false);
	assert_rejected_at(",'category':12", "/projects/0/category", "must be a string");
}

/*
 * Tag arrays ---------------------------------------------------------------------------
 */

static void
check_tags_bounds(const char *name, size_t max_items, size_t max_len)
{
	char	*extra, pointer[96];

	extra = tags_field(name, max_items, max_len);
	assert_accepted_with(extra);
	free(extra);
	snprintf(pointer, sizeof(pointer), "/projects/0/%s", name);
	extra = tags_field(name, max_items + 1, 1);
	assert_rejected_at(extra, pointer, "must hold at most");
	free(extra);
	/* The element one past its length is named by its index. */
	extra = tags_field(name, 3, max_len + 1);
	read_record(extra);
	free(extra);
	assert_int_equal(issues.total, 3);
	snprintf(pointer, sizeof(pointer), "/projects/0/%s/2", name);
	assert_string_equal(issues.items[2].pointer, pointer);
	assert_non_null(strstr(issues.items[2].message, "must be a string of 1 to"));
	/* Empty strings are not tags. */
	assert_true(asprintf(&extra, ",'%s':['a','']", name) > 0);
	snprintf(pointer, sizeof(pointer), "/projects/0/%s/1", name);
	assert_rejected_at(extra, pointer, "must be a string of 1 to");
	free(extra);
	assert_true(asprintf(&extra, ",'%s':'a'", name) > 0);
	snprintf(pointer, sizeof(pointer), "/projects/0/%s", name);
	assert_rejected_at(extra, pointer, "must be an array of strings");
	free(extra);
	assert_true(asprintf(&extra, ",'%s':['a',7]", name) > 0);
	snprintf(pointer, sizeof(pointer), "/projects/0/%s/1", name);
	assert_rejected_at(extra, pointer, "must be a string");
	free(extra);
}

static void
test_capabilities_hold_at_most_50_tags_of_100_characters(void **state)
{
	check_tags_bounds("capabilities", PROJECT_CAPABILITIES_MAX, PROJECT_TAG_MAX);
}

static void
test_shared_platforms_budget_lines_and_ocids_are_bounded(void **state)
{
	check_tags_bounds("shared_platforms", PROJECT_SHARED_PLATFORMS_MAX, PROJECT_TAG_MAX);
	check_tags_bounds("budget_lines", PROJECT_BUDGET_LINES_MAX, PROJECT_TAG_MAX);
	check_tags_bounds("ocids", PROJECT_OCIDS_MAX, PROJECT_OCID_MAX);
}

/*
 * Enumerations -------------------------------------------------------------------------
 */

static void
test_status_is_one_of_five_and_required(void **state)
{
	static const char *ok[] = { "planned", "in_progress", "completed", "cancelled",
	    "deferred" };
	char	replacement[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(replacement, sizeof(replacement), "'status':'%s'", ok[i]);
		read_without("status", replacement);
		assert_accepted(1);
	}
	read_without("status", "'status':'Planned'");
	assert_one_issue("/projects/0/status", "must be one of planned, in_progress, "
	    "completed, cancelled or deferred");
	read_without("status", "'status':1");
	assert_one_issue("/projects/0/status", "must be one of");
	read_without("status", "");
	assert_one_issue("/projects/0/status", "is required");
}

static void
test_review_status_defaults_to_not_submitted(void **state)
{
	static const char *ok[] = { "not_submitted", "submitted", "approved", "observed",
	    "rejected" };
	char	extra[64], **f;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(extra, sizeof(extra), ",'review_status':'%s'", ok[i]);
		assert_accepted_with(extra);
		f = row_fields(0);
		assert_string_equal(f[C_REVIEW_STATUS], ok[i]);
		free_fields(f);
	}
	assert_rejected_at(",'review_status':'pending'", "/projects/0/review_status",
	    "must be one of not_submitted, submitted, approved, observed or rejected");
	assert_accepted_with(",'review_status':null");
	f = row_fields(0);
	assert_string_equal(f[C_REVIEW_STATUS], "not_submitted");
	free_fields(f);
}

static void
test_funding_source_is_one_of_five(void **state)
{
	static const char *ok[] = { "agency_budget", "central_fund", "loan", "grant",
	    "other" };
	char	extra[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(extra, sizeof(extra), ",'funding_source':'%s'", ok[i]);
		assert_accepted_with(extra);
	}
	assert_rejected_at(",'funding_source':'bond'", "/projects/0/funding_source",
	    "must be one of agency_budget, central_fund, loan, grant or other");
}

/*
 * Dates --------------------------------------------------------------------------------
 */

static void
test_dates_are_real_calendar_dates(void **state)
{
	static const char *names[] = { "planned_start", "planned_end", "projected_end",
	    "actual_start", "actual_end" };
	static const char *good[] = { "2024-02-29", "2000-02-29", "2023-12-31",
	    "1900-01-01", "2200-12-31" };
	static const char *bad[] = { "2023-02-29", "1900-02-29", "2024-02-30", "2024-04-31",
	    "2024-13-01", "2024-00-10", "2024-01-00", "2024-1-05", "2024/01/05",
	    "2024-01-05T00:00:00Z", "24-01-05", "1899-12-31", "2201-01-01", "" };
	char	extra[96], pointer[64];

	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		snprintf(pointer, sizeof(pointer), "/projects/0/%s", names[n]);
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			snprintf(extra, sizeof(extra), ",'%s':'%s'", names[n], good[i]);
			assert_accepted_with(extra);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(extra, sizeof(extra), ",'%s':'%s'", names[n], bad[i]);
			assert_rejected_at(extra, pointer,
			    "must be a calendar date written YYYY-MM-DD");
		}
		snprintf(extra, sizeof(extra), ",'%s':20240105", names[n]);
		assert_rejected_at(extra, pointer, "must be a calendar date");
	}
}

static void
test_end_dates_may_not_come_before_start_dates(void **state)
{
	assert_accepted_with(",'planned_start':'2024-03-01','planned_end':'2024-03-01'");
	assert_rejected_at(",'planned_start':'2024-03-01','planned_end':'2024-02-29'",
	    "/projects/0/planned_end", "must not be before planned_start");
	assert_rejected_at(",'planned_start':'2024-03-01','projected_end':'2024-01-01'",
	    "/projects/0/projected_end", "must not be before planned_start");
	assert_accepted_with(",'actual_start':'2024-03-01','actual_end':'2025-01-01'");
	assert_rejected_at(",'actual_start':'2024-03-01','actual_end':'2023-12-31'",
	    "/projects/0/actual_end", "must not be before actual_start");
	/* An actual start later than the plan is news, not an error. */
	assert_accepted_with(",'planned_start':'2024-01-01','planned_end':'2024-06-30',"
	    "'actual_start':'2024-09-01'");
}

/*
 * Amounts ------------------------------------------------------------------------------
 */

static void
test_costs_are_exact_decimals_as_numbers_or_strings(void **state)
{
	static const char *names[] = { "planned_cost", "projected_cost", "actual_cost" };
	static const char *good[] = { "1311264.00", "0", "0.5", "999999999999999999",
	    "123456789012345678.123456", "0.000001" };
	char	extra[128], pointer[64], **f;

	for (size_t n = 0; n < 3; n++) {
		snprintf(pointer, sizeof(pointer), "/projects/0/%s", names[n]);
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			/* As a JSON number, then as a string: the same text is kept. */
			snprintf(extra, sizeof(extra), ",'currency':'USD','%s':%s", names[n],
			    good[i]);
			assert_accepted_with(extra);
			f = row_fields(0);
			assert_string_equal(f[C_PLANNED_COST + n], good[i]);
			free_fields(f);
			snprintf(extra, sizeof(extra), ",'currency':'USD','%s':'%s'", names[n],
			    good[i]);
			assert_accepted_with(extra);
			f = row_fields(0);
			assert_string_equal(f[C_PLANNED_COST + n], good[i]);
			free_fields(f);
		}
	}
}

static void
test_costs_refuse_negatives_exponents_and_excess_digits(void **state)
{
	static const struct {
		const char	*value;
		const char	*part;
	} bad[] = {
		{ "-1", "of zero or more" },
		{ "'-1'", "of zero or more" },
		{ "-0.01", "of zero or more" },
		{ "1e3", "without an exponent" },
		{ "'1E3'", "without an exponent" },
		{ "1.5e-2", "without an exponent" },
		{ "1000000000000000000", "at most 18 integer digits" },
		{ "'1000000000000000000'", "at most 18 integer digits" },
		{ "0.1234567", "at most 6 fraction digits" },
		{ "'abc'", "must be a decimal amount" },
		{ "'01'", "must be a decimal amount" },
		{ "' 1'", "must be a decimal amount" },
		{ "'1,5'", "must be a decimal amount" },
		{ "'1.'", "must be a decimal amount" },
		{ "'.5'", "must be a decimal amount" },
		{ "'+1'", "must be a decimal amount" },
		{ "''", "must be a decimal amount" },
		{ "true", "must be a decimal amount" },
		{ "[1]", "must be a decimal amount" },
		{ "{'amount':1}", "must be a decimal amount" },
	};
	char	extra[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), ",'currency':'CLP','planned_cost':%s",
		    bad[i].value);
		assert_rejected_at(extra, "/projects/0/planned_cost", bad[i].part);
	}
}

static void
test_currency_is_three_capitals_and_required_with_a_cost(void **state)
{
	assert_accepted_with(",'currency':'CLP'");
	assert_accepted_with(",'planned_cost':1,'currency':'EUR'");
	assert_rejected_at(",'planned_cost':1", "/projects/0/currency",
	    "is required when a cost is given");
	assert_rejected_at(",'actual_cost':'0'", "/projects/0/currency",
	    "is required when a cost is given");
	assert_rejected_at(",'currency':'clp'", "/projects/0/currency",
	    "ISO 4217 currency code");
	assert_rejected_at(",'currency':'CLPX'", "/projects/0/currency", "three capital");
	assert_rejected_at(",'currency':'CL'", "/projects/0/currency", "three capital");
	assert_rejected_at(",'currency':152", "/projects/0/currency", "three capital");
}

static void
test_cio_rating_is_an_integer_from_1_to_5(void **state)
{
	static const char *bad[] = { "0", "6", "3.5", "3.0", "'3'", "-1", "1e0", "true" };
	char	extra[64];

	assert_accepted_with(",'cio_rating':1");
	assert_accepted_with(",'cio_rating':5");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), ",'cio_rating':%s", bad[i]);
		assert_rejected_at(extra, "/projects/0/cio_rating",
		    "must be an integer from 1 to 5");
	}
}

/*
 * Unknown fields, null, envelope -------------------------------------------------------
 */

static void
test_unknown_fields_are_named_by_pointer(void **state)
{
	assert_rejected_at(",'budget':1", "/projects/0/budget", "unknown field");
	/* RFC 6901: ~ and / escaped. */
	assert_rejected_at(",'a/b~c':1", "/projects/0/a~1b~0c", "unknown field");
	/* Names are case-sensitive. */
	assert_rejected_at(",'Title':'x'", "/projects/0/Title", "unknown field");
}

static void
test_very_long_unknown_field_is_quoted_cut_at_the_record(void **state)
{
	char	*key = repeat("k", 5000), *extra;

	assert_true(asprintf(&extra, ",'%s':1", key) > 0);
	read_record(extra);
	assert_one_issue("/projects/0", "unknown field \"kkkk");
	assert_true(strlen(issues.items[0].message) < 200);
	free(extra);
	free(key);
}

static void
test_null_is_the_same_as_absent(void **state)
{
	assert_accepted_with(",'description':null,'category':null,'capabilities':null,"
	    "'planned_start':null,'planned_cost':null,'currency':null,'cio_rating':null,"
	    "'funding_source':null,'ocids':null,'agency':null");
}

static void
test_envelope_holds_only_projects(void **state)
{
	read_as(&agency_token, "{'projects':[],'meta':{'x':1}}");
	assert_one_issue("/meta", "unknown field");
	assert_int_equal(issues.items[0].record, -1);
	read_as(&agency_token, "{'project':[]}");
	assert_int_equal(issues.total, 2);
	assert_string_equal(issues.items[0].pointer, "/project");
	assert_string_equal(issues.items[1].pointer, "/projects");
	assert_non_null(strstr(issues.items[1].message, "is required"));
	read_as(&agency_token, "{'projects':{'id':'x'}}");
	assert_one_issue("/projects", "must be an array of projects");
	read_as(&agency_token, "[{'id':'x'}]");
	assert_one_issue("", "must be an object");
	read_as(&agency_token, "{'projects':[{'id':'p','title':'T','status':'planned'},7,"
	    "'x',null]}");
	assert_int_equal(status, PROJECT_READ_OK);
	assert_int_equal(result.records, 4);
	assert_int_equal(issues.total, 3);
	assert_string_equal(issues.items[0].pointer, "/projects/1");
	assert_string_equal(issues.items[1].pointer, "/projects/2");
	assert_string_equal(issues.items[2].pointer, "/projects/3");
	assert_int_equal(issues.items[2].record, 3);
	assert_non_null(strstr(issues.items[0].message, "must be an object"));
	read_as(&agency_token, "{'projects':[]}");
	assert_accepted(0);
}

static void
test_malformed_json_is_reported_with_line_and_column(void **state)
{
	read_as(&agency_token, "{'projects':[\n{'id':'p','id':'q','title':'T',"
	    "'status':'planned'}]}");
	assert_int_equal(status, PROJECT_READ_MALFORMED);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "duplicate key"));
	read_as(&agency_token, "{'projects':[{'id':'p'");
	assert_int_equal(status, PROJECT_READ_MALFORMED);
	read_as(&agency_token, "{'projects':[]} x");
	assert_int_equal(status, PROJECT_READ_MALFORMED);
	read_as(&agency_token, "{'projects':[{'id':'p\\u0000'}]}");
	assert_int_equal(status, PROJECT_READ_MALFORMED);
	read_as(&agency_token, "{'projects':[],'projects':[]}");
	assert_int_equal(status, PROJECT_READ_MALFORMED);
}

/*
 * Agency scope -------------------------------------------------------------------------
 */

static void
test_agency_token_may_omit_or_repeat_its_agency(void **state)
{
	char	**f;

	read_record_as(&agency_token, "");
	assert_accepted(1);
	read_record_as(&agency_token, ",'agency':'05-62'");
	assert_accepted(1);
	f = row_fields(0);
	assert_string_equal(f[C_AGENCY], "05-62");
	free_fields(f);
}

static void
test_agency_token_naming_another_agency_is_forbidden_not_an_issue(void **state)
{
	read_as(&agency_token, "{'projects':["
	    "{'id':'a','title':'T','status':'planned'},"
	    "{'id':'b','title':'T','status':'planned','agency':'05-63'},"
	    "{'id':'c','title':'T','status':'planned','agency':'05-64'}]}");
	assert_int_equal(status, PROJECT_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(result.forbidden, 2);
	assert_int_equal(result.forbidden_record, 1);
	assert_string_equal(result.forbidden_pointer, "/projects/1/agency");
	/* Nothing to write once one record is forbidden. */
	assert_int_equal(rows.rows, 1);
	read_record_as(&agency_token, ",'agency':'not a code!'");
	assert_int_equal(result.forbidden, 1);
	assert_int_equal(issues.total, 0);
	assert_int_equal(rows.rows, 0);
}

static void
test_analyst_needs_an_agency_unless_a_default_is_given(void **state)
{
	char	**f;

	read_record_as(&analyst, "");
	assert_one_issue("/projects/0/agency", "is required");
	read_record_as(&analyst, ",'agency':'07-01'");
	assert_accepted(1);
	f = row_fields(0);
	assert_string_equal(f[C_AGENCY], "07-01");
	free_fields(f);
	read_record_as(&analyst_with_default, "");
	assert_accepted(1);
	f = row_fields(0);
	assert_string_equal(f[C_AGENCY], "05-62");
	free_fields(f);
	/* A default does not stop an analyst naming another agency. */
	read_record_as(&analyst_with_default, ",'agency':'07-01'");
	assert_accepted(1);
	assert_int_equal(result.forbidden, 0);
}

static void
test_agency_must_be_a_code(void **state)
{
	read_record_as(&analyst, ",'agency':'bad code'");
	assert_one_issue("/projects/0/agency", "must be an agency code");
	read_record_as(&analyst, ",'agency':''");
	assert_one_issue("/projects/0/agency", "must be an agency code");
	read_record_as(&analyst, ",'agency':5");
	assert_one_issue("/projects/0/agency", "must be a string");
	read_record_as(&analyst, ",'agency':'abcdefghijabcdefghijabcdefghij12'");
	assert_one_issue("/projects/0/agency", "at most 31 bytes");
}

/*
 * Batches ------------------------------------------------------------------------------
 */

static void
test_duplicate_id_is_reported_on_the_second(void **state)
{
	read_as(&agency_token, "{'projects':["
	    "{'id':'p-1','title':'A','status':'planned'},"
	    "{'id':'p-2','title':'B','status':'planned'},"
	    "{'id':'p-1','title':'C','status':'completed'}]}");
	assert_one_issue("/projects/2/id", "duplicates /projects/0");
	assert_int_equal(issues.items[0].record, 2);
	/* The same id at two agencies is two projects. */
	read_as(&analyst, "{'projects':["
	    "{'id':'p-1','title':'A','status':'planned','agency':'05-62'},"
	    "{'id':'p-1','title':'A','status':'planned','agency':'07-01'}]}");
	assert_accepted(2);
	/* Three times: each later one names the first. */
	read_as(&analyst, "{'projects':["
	    "{'id':'x','title':'A','status':'planned','agency':'01'},"
	    "{'id':'x','title':'A','status':'planned','agency':'01'},"
	    "{'id':'y','title':'A','status':'planned','agency':'01'},"
	    "{'id':'x','title':'A','status':'planned','agency':'01'}]}");
	assert_int_equal(issues.total, 2);
	assert_string_equal(issues.items[0].pointer, "/projects/1/id");
	assert_string_equal(issues.items[1].pointer, "/projects/3/id");
	assert_non_null(strstr(issues.items[1].message, "duplicates /projects/0"));
}

static void
test_all_problems_of_all_records_are_collected(void **state)
{
	static const struct {
		long		 record;
		const char	*pointer;
		const char	*part;
	} expected[] = {
		{ 0, "/projects/0/planned_cost", "of zero or more" },
		{ 0, "/projects/0/currency", "is required when a cost is given" },
		{ 1, "/projects/1/colour", "unknown field" },
		{ 1, "/projects/1/title", "is required" },
		{ 1, "/projects/1/status", "must be one of" },
		{ 1, "/projects/1/planned_end", "must be a calendar date" },
		{ 3, "/projects/3/capabilities/1", "must be a string" },
		{ 3, "/projects/3/cio_rating", "from 1 to 5" },
		{ 17, "/projects/17/planned_cost", "must be a decimal amount" },
		{ 18, "/projects/18/id", "duplicates /projects/2" },
	};
	char	*body;
	size_t	 o, size = 8192;

	assert_non_null(body = malloc(size));
	o = (size_t)snprintf(body, size, "{'projects':["
	    "{'id':'r0','title':'T','status':'planned','planned_cost':-5},"
	    "{'id':'r1','status':'done','planned_end':'2023-02-29','colour':'red'},"
	    "{'id':'r2','title':'T','status':'planned'},"
	    "{'id':'r3','title':'T','status':'planned','capabilities':['a',1],"
	    "'cio_rating':9}");
	for (int i = 4; i < 17; i++)
		o += (size_t)snprintf(body + o, size - o,
		    ",{'id':'r%d','title':'T','status':'planned'}", i);
	o += (size_t)snprintf(body + o, size - o, ",{'id':'r17','title':'T',"
	    "'status':'planned','currency':'CLP','planned_cost':'1.311.264'}");
	snprintf(body + o, size - o, ",{'id':'r2','title':'T','status':'planned'}]}");
	read_as(&agency_token, body);
	free(body);
	assert_int_equal(status, PROJECT_READ_OK);
	assert_int_equal(result.records, 19);
	if (issues.total != sizeof(expected) / sizeof(expected[0]))
		print_issues();
	assert_int_equal(issues.total, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < issues.count; i++) {
		assert_int_equal(issues.items[i].record, expected[i].record);
		assert_string_equal(issues.items[i].pointer, expected[i].pointer);
		if (strstr(issues.items[i].message, expected[i].part) == NULL)
			fail_msg("issue %zu: \"%s\" lacks \"%s\"", i, issues.items[i].message,
			    expected[i].part);
	}
	/* The batch is refused whole: no row is worth sending. */
	assert_int_equal(rows.rows, 0);
}

static void
test_issue_messages_read_with_their_pointer(void **state)
{
	json_t	*list;
	char	*text;

	read_record(",'currency':'CLP','planned_cost':'about 5'");
	assert_non_null(list = issues_to_json(&issues));
	assert_non_null(text = json_dumps(list, JSON_COMPACT));
	assert_string_equal(text, "[{\"record\":0,\"pointer\":\"/projects/0/planned_cost\","
	    "\"message\":\"must be a decimal amount (a JSON number or a string such as "
	    "\\\"1311264.00\\\")\"}]");
	free(text);
	json_decref(list);
}

static void
test_many_records_make_many_rows(void **state)
{
	struct evbuffer	*body;
	size_t		 n = 2000;
	char		**f;

	assert_non_null(body = evbuffer_new());
	evbuffer_add_printf(body, "{\"projects\":[");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(body, "%s{\"id\":\"p-%zu\",\"title\":\"Project %zu\","
		    "\"status\":\"planned\",\"planned_cost\":%zu.25,\"currency\":\"CLP\"}",
		    i > 0 ? "," : "", i, i, i * 1000);
	evbuffer_add_printf(body, "]}");
	status = project_read((const char *)evbuffer_pullup(body, -1),
	    evbuffer_get_length(body), NULL, &agency_token, &rows, &issues, &err, &result);
	evbuffer_free(body);
	assert_accepted(n);
	assert_int_equal(result.records, n);
	f = row_fields(n - 1);
	assert_string_equal(f[C_RECORD], "1999");
	assert_string_equal(f[C_EXTERNAL_ID], "p-1999");
	assert_string_equal(f[C_PLANNED_COST], "1999000.25");
	free_fields(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_staging_columns_match_the_row),
		cmocka_unit_test_setup_teardown(test_full_record_becomes_one_exact_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_escapes_what_copy_gives_a_meaning_to, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimal_record_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equivalent_records_have_the_same_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_is_a_string_of_1_to_200_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_title_is_a_string_of_1_to_500_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_description_is_at_most_20000_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_category_and_funding_program_are_at_most_200_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities_hold_at_most_50_tags_of_100_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_platforms_budget_lines_and_ocids_are_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_is_one_of_five_and_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_review_status_defaults_to_not_submitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_funding_source_is_one_of_five, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dates_are_real_calendar_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_dates_may_not_come_before_start_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_costs_are_exact_decimals_as_numbers_or_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_costs_refuse_negatives_exponents_and_excess_digits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_currency_is_three_capitals_and_required_with_a_cost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cio_rating_is_an_integer_from_1_to_5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_fields_are_named_by_pointer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_very_long_unknown_field_is_quoted_cut_at_the_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_is_the_same_as_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_holds_only_projects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_json_is_reported_with_line_and_column, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agency_token_may_omit_or_repeat_its_agency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agency_token_naming_another_agency_is_forbidden_not_an_issue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_analyst_needs_an_agency_unless_a_default_is_given, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agency_must_be_a_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_id_is_reported_on_the_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_problems_of_all_records_are_collected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_messages_read_with_their_pointer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_records_make_many_rows, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
