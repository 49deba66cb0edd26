/*
 * OCDS: the merge rules (identifier merge, whole-list replacement, null deletes, date
 * order), the CDMX fixture compiled as the reference implementation compiles it, and
 * reading release packages, record packages, arrays of packages and bad input.
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
#include <jansson.h>
#include <openssl/evp.h>

#include "issues.h"
#include "ocds.h"
#include "sjson.h"
#include "shared_data.h"

/* A tree from JSON written with single quotes, which read better in C strings. */
static json_t *
tree(const char *text)
{
	struct sjson_limits	 limits = { .max_depth = 64, .max_string = 1024 * 1024 };
	struct sjson_error	 err;
	char			*json;
	json_t			*j;

	assert_non_null(json = strdup(text));
	for (char *p = json; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	j = sjson_parse(json, strlen(json), &limits, &err);
	if (j == NULL)
		fail_msg("bad test JSON at %d:%d: %s: %s", err.line, err.column, err.message, json);
	free(json);
	return j;
}

/*
 * Two decimal numbers' texts with the same value ("1311264.00" and "1311264.0"),
 * compared digit by digit, never through a double.
 */
static bool
same_decimal(const char *a, const char *b)
{
	char	 digits[2][512];
	long	 exponent[2];
	bool	 negative[2];

	for (int k = 0; k < 2; k++) {
		const char	*p = k == 0 ? a : b;
		size_t		 n = 0, lead;
		long		 e = 0;

		negative[k] = *p == '-';
		if (*p == '-')
			p++;
		for (; *p >= '0' && *p <= '9'; p++)
			digits[k][n++] = *p;
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++, e--)
				digits[k][n++] = *p;
		if (*p == 'e' || *p == 'E')
			e += strtol(p + 1, NULL, 10);
		for (lead = 0; lead < n && digits[k][lead] == '0'; lead++)
			;
		memmove(digits[k], digits[k] + lead, n - lead);
		n -= lead;
		for (; n > 0 && digits[k][n - 1] == '0'; n--)
			e++;
		digits[k][n] = '\0';
		if (n == 0)
			negative[k] = false, e = 0;
		exponent[k] = e;
	}
	return negative[0] == negative[1] && exponent[0] == exponent[1] &&
	    strcmp(digits[0], digits[1]) == 0;
}

/*
 * Tree equality as the fixture needs it: objects whatever their key order, numbers by
 * decimal value. On a difference, `where` gets its JSON pointer.
 */
static bool
same_tree(const json_t *a, const json_t *b, char *where, size_t size)
{
	const char	*na = sjson_number(a), *nb = sjson_number(b), *key;
	size_t		 len = strlen(where), i;
	json_t		*v;

	if (na != NULL || nb != NULL)
		return na != NULL && nb != NULL && same_decimal(na, nb);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a)) {
		json_object_foreach((json_t *)a, key, v) {
			snprintf(where + len, size - len, "/%s", key);
			if (json_object_get(b, key) == NULL ||
			    !same_tree(v, json_object_get(b, key), where, size))
				return false;
		}
		json_object_foreach((json_t *)b, key, v) {
			snprintf(where + len, size - len, "/%s", key);
			if (json_object_get(a, key) == NULL)
				return false;
		}
		where[len] = '\0';
		return true;
	}
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		json_array_foreach((json_t *)a, i, v) {
			snprintf(where + len, size - len, "/%zu", i);
			if (!same_tree(v, json_array_get(b, i), where, size))
				return false;
		}
		where[len] = '\0';
		return true;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

static void
assert_same_tree(const json_t *got, const json_t *want)
{
	char	 where[512] = "";
	char	*g, *w;

	if (same_tree(got, want, where, sizeof(where)))
		return;
	g = sjson_dumps(got);
	w = sjson_dumps(want);
	fail_msg("trees differ at \"%s\"\n got: %s\nwant: %s", where, g, w);
}

/* Merges releases written as JSON text and checks the compiled release. */
static void
check_merge(const char *const *texts, size_t n, const char *want_text)
{
	json_t	*releases[8], *compiled, *want = tree(want_text);

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		releases[i] = tree(texts[i]);
	assert_non_null(compiled = ocds_merge(releases, n));
	assert_same_tree(compiled, want);
	/* The releases are untouched by the merge. */
	for (size_t i = 0; i < n; i++) {
		json_t	*again = tree(texts[i]);

		assert_same_tree(releases[i], again);
		json_decref(again);
		json_decref(releases[i]);
	}
	json_decref(compiled);
	json_decref(want);
}

#define R(id, date, body) \
	"{'ocid': 'ocds-x-1', 'id': '" id "', 'date': '" date "', 'tag': ['tender']" body "}"
#define COMPILED(date, body) \
	"{'tag': ['compiled'], 'id': 'ocds-x-1-" date "', 'date': '" date "', " \
	"'ocid': 'ocds-x-1'" body "}"

static void
test_single_release_compiles_to_itself_with_compiled_fields(void **state)
{
	const char *releases[] = {
		R("1", "2020-01-01T00:00:00Z", ", 'tender': {'id': 't', 'value': "
		    "{'amount': 12.50, 'currency': 'CLP'}, 'submissionMethod': ['electronicSubmission']},"
		    " 'awards': [{'id': 'a', 'suppliers': [{'id': 's1', 'name': 'S'}]}]"),
	};

	check_merge(releases, 1, COMPILED("2020-01-01T00:00:00Z", ", 'tender': {'id': 't', "
	    "'value': {'amount': 12.50, 'currency': 'CLP'}, 'submissionMethod': "
	    "['electronicSubmission']}, 'awards': [{'id': 'a', 'suppliers': "
	    "[{'id': 's1', 'name': 'S'}]}]"));
}

static void
test_identifier_merge_merges_same_ids_and_appends_new_ones(void **state)
{
	const char *releases[] = {
		R("1", "2020-01-01T00:00:00Z", ", 'awards': [{'id': '1', 'title': 'A', "
		    "'value': {'amount': 10}}, {'id': '2', 'status': 'pending'}]"),
		R("2", "2020-02-01T00:00:00Z", ", 'awards': [{'id': '2', 'status': 'active'}, "
		    "{'id': '3'}, {'id': '1', 'value': {'currency': 'USD'}}]"),
	};

	check_merge(releases, 2, COMPILED("2020-02-01T00:00:00Z", ", 'awards': ["
	    "{'id': '1', 'title': 'A', 'value': {'amount': 10, 'currency': 'USD'}}, "
	    "{'id': '2', 'status': 'active'}, {'id': '3'}]"));
}

static void
test_identifier_merge_keeps_number_and_string_ids_apart(void **state)
{
	const char *releases[] = {
		R("1", "2020-01-01T00:00:00Z", ", 'parties': [{'id': 1, 'name': 'number'}]"),
		R("2", "2020-01-02T00:00:00Z", ", 'parties': [{'id': '1', 'name': 'string'}, "
		    "{'id': 1, 'roles': ['buyer']}]"),
	};

	check_merge(releases, 2, COMPILED("2020-01-02T00:00:00Z", ", 'parties': ["
	    "{'id': 1, 'name': 'number', 'roles': ['buyer']}, {'id': '1', 'name': 'string'}]"));
}

static void
test_identifier_merge_at_depth_and_in_long_arrays(void **state)
{
	char	 first[8192], want[16384];
	size_t	 a = 0, w = 0;
	const char *releases[] = { first, R("2", "2020-01-02T00:00:00Z", ", 'contracts': "
	    "[{'id': 'c', 'implementation': {'transactions': [{'id': 207, 'x': 1}, "
	    "{'id': 300}, {'id': 7, 'x': 1}]}}]") };

	/* 300 transactions, so that the merge goes through its index of ids. */
	a += (size_t)snprintf(first + a, sizeof(first) - a, "%s", R("1", "2020-01-01T00:00:00Z",
	    ", 'contracts': [{'id': 'c', 'implementation': {'transactions': ["));
	w += (size_t)snprintf(want + w, sizeof(want) - w, "%s", COMPILED("2020-01-02T00:00:00Z",
	    ", 'contracts': [{'id': 'c', 'implementation': {'transactions': ["));
	/* Both macros close the release: open it again. */
	a--;
	w--;
	for (int i = 0; i < 300; i++) {
		a += (size_t)snprintf(first + a, sizeof(first) - a, "{'id': %d},", i);
		w += (size_t)snprintf(want + w, sizeof(want) - w,
		    i == 7 || i == 207 ? "{'id': %d, 'x': 1}," : "{'id': %d},", i);
	}
	snprintf(first + a - 1, sizeof(first) - a + 1, "]}}]}");
	snprintf(want + w, sizeof(want) - w, "{'id': 300}]}}]}");
	assert_true(a < sizeof(first) - 8 && w < sizeof(want) - 24);
	check_merge(releases, 2, want);
}

static void
test_whole_list_replacement(void **state)
{
	const char *releases[] = {
		R("1", "2020-01-01T00:00:00Z", ", 'tender': {'id': 't', "
		    "'submissionMethod': ['written', 'inPerson'], "
		    "'items': [{'id': 'i', 'additionalClassifications': [{'id': 'A', 'scheme': 'CPV'}, "
		    "{'id': 'B', 'scheme': 'CPV'}]}]}, "
		    "'lots': [{'title': 'no id'}, {'title': 'nor here'}], "
		    "'mixed': [{'id': 'x'}, {'title': 'no id'}], "
		    "'keywords': ['a', 'b'], 'codes': [1, 2, 3]"),
		R("2", "2020-01-02T00:00:00Z", ", 'tender': {'submissionMethod': ['electronicSubmission'], "
		    "'items': [{'id': 'i', 'additionalClassifications': [{'id': 'C', 'scheme': 'CPV'}]}]}, "
		    "'lots': [{'title': 'replaced'}], 'mixed': [{'title': 'replaced too'}], "
		    "'keywords': ['c'], 'codes': []"),
	};

	check_merge(releases, 2, COMPILED("2020-01-02T00:00:00Z", ", 'tender': {'id': 't', "
	    "'submissionMethod': ['electronicSubmission'], 'items': [{'id': 'i', "
	    "'additionalClassifications': [{'id': 'C', 'scheme': 'CPV'}]}]}, "
	    "'lots': [{'title': 'replaced'}], 'mixed': [{'title': 'replaced too'}], "
	    "'keywords': ['c'], 'codes': []"));
}

static void
test_empty_arrays_and_objects_change_nothing(void **state)
{
	const char *releases[] = {
		R("1", "2020-01-01T00:00:00Z", ", 'awards': [{'id': '1', 'title': 'A'}], "
		    "'planning': {'budget': {'description': 'summary'}}, 'parties': [], "
		    "'tender': {'enquiryPeriod': {}}"),
		R("2", "2020-01-02T00:00:00Z", ", 'awards': [], 'planning': {}, "
		    "'contracts': [], 'buyer': {}, "
		    "'tender': {'id': 't', 'tenderPeriod': {'startDate': null}}"),
	};

	/* A new object whose fields are all null appears, empty (as ocdsmerge does). */
	check_merge(releases, 2, COMPILED("2020-01-02T00:00:00Z", ", 'awards': "
	    "[{'id': '1', 'title': 'A'}], 'planning': {'budget': {'description': 'summary'}}, "
	    "'tender': {'id': 't', 'tenderPeriod': {}}"));
}

static void
test_null_deletes_at_depth(void **state)
{
	const char *releases[] = {
		R("1", "2020-01-01T00:00:00Z", ", 'planning': {'rationale': 'r'}, "
		    "'tender': {'id': 't', 'title': 'T', 'value': {'amount': 5, 'currency': 'CLP'}}, "
		    "'awards': [{'id': '1', 'date': '2020-01-01T00:00:00Z', 'value': {'amount': 5}}]"),
		R("2", "2020-01-02T00:00:00Z", ", 'planning': null, "
		    "'tender': {'title': null, 'value': {'currency': null}, 'status': null}, "
		    "'awards': [{'id': '1', 'date': null, 'value': null}, {'id': '2', 'title': null}]"),
	};

	check_merge(releases, 2, COMPILED("2020-01-02T00:00:00Z", ", "
	    "'tender': {'id': 't', 'value': {'amount': 5}}, "
	    "'awards': [{'id': '1'}, {'id': '2'}]"));
}

static void
test_releases_merge_in_date_order_with_ties_in_given_order(void **state)
{
	/* Given out of order; the last two are the same instant written in two zones. */
	const char *releases[] = {
		R("c", "2020-03-01T13:00:00+01:00", ", 'tender': {'title': 'third'}"),
		R("a", "2020-01-01T00:00:00Z", ", 'tender': {'title': 'first', 'status': 'planned'}"),
		R("d", "2020-03-01T12:00:00Z", ", 'tender': {'title': 'fourth'}"),
		R("b", "2020-02-01T00:00:00.5-03:00", ", 'tender': {'title': 'second', "
		    "'status': 'active'}"),
	};

	check_merge(releases, 4, COMPILED("2020-03-01T12:00:00Z", ", 'tender': "
	    "{'title': 'fourth', 'status': 'active'}"));
}

static void
test_compiled_release_is_dated_by_its_last_release(void **state)
{
	const char *releases[] = {
		R("b", "2017-06-05T00:00:00-06:00", ""),
		R("a", "2015-12-22T00:00:00-06:00", ", 'language': 'es'"),
	};

	check_merge(releases, 2, COMPILED("2017-06-05T00:00:00-06:00", ", 'language': 'es'"));
}

static void
test_merge_refuses_releases_it_cannot_order(void **state)
{
	json_t	*r[2];

	r[0] = tree(R("1", "2020-01-01T00:00:00Z", ""));
	r[1] = tree("{'ocid': 'ocds-x-2', 'id': '2', 'date': '2020-01-02T00:00:00Z'}");
	assert_null(ocds_merge(r, 2));			/* two contracting processes */
	json_decref(r[1]);
	r[1] = tree("{'ocid': 'ocds-x-1', 'id': '2', 'date': '2020-01-02'}");
	assert_null(ocds_merge(r, 2));			/* a date without a time */
	json_decref(r[1]);
	r[1] = tree("['not', 'a', 'release']");
	assert_null(ocds_merge(r, 2));
	assert_null(ocds_merge(r, 0));
	json_decref(r[0]);
	json_decref(r[1]);
}

static void
test_dates_are_rfc3339_date_times(void **state)
{
	static const struct {
		const char	*text;
		const char	*utc;		/* NULL: refused */
	} cases[] = {
		{ "2015-12-22T00:00:00-06:00", "2015-12-22T06:00:00Z" },
		{ "2019-11-25T17:20:38.1197059Z", "2019-11-25T17:20:38.119705900Z" },
		{ "2020-02-29T23:30:00-01:00", "2020-03-01T00:30:00Z" },
		{ "2021-01-01T00:15:00+01:00", "2020-12-31T23:15:00Z" },
		{ "2016-02-04t11:02:19z", "2016-02-04T11:02:19Z" },
		{ "2019-02-29T00:00:00Z", NULL },
		{ "2019-01-01T00:00:00", NULL },
		{ "2019-01-01", NULL },
		{ "2019-01-01 00:00:00Z", NULL },
		{ "2019-01-01T24:00:00Z", NULL },
		{ "2019-01-01T00:00:60Z", NULL },
		{ "2019-01-01T00:00:00.Z", NULL },
		{ "2019-01-01T00:00:00+0100", NULL },
		{ "2019-01-01T00:00:00+01:00x", NULL },
		{ "0000-01-01T00:00:00Z", NULL },
		{ "0001-01-01T00:00:00+01:00", NULL },
		{ "9999-12-31T23:00:00-05:00", NULL },
		{ "", NULL },
	};
	char	utc[OCDS_DATE_UTC_SIZE];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool	ok = ocds_date_valid(cases[i].text, utc);

		if (ok != (cases[i].utc != NULL))
			fail_msg("%s: %s", cases[i].text, ok ? "accepted" : "refused");
		if (ok)
			assert_string_equal(utc, cases[i].utc);
	}
}

/*
 * Reading.
 */

struct body {
	char	*text;
	size_t	 len;
};

static bool
load(const char *name, struct body *b)
{
	char path[256];

	snprintf(path, sizeof(path), "ocds/%s", name);
	return (b->text = shared_data_read(path, &b->len)) != NULL;
}

static enum ocds_read_status
read_text(const char *text, struct ocds_batch *batch, struct issue_list *issues,
    struct sjson_error *err)
{
	memset(issues, 0, sizeof(*issues));
	return ocds_read(text, strlen(text), NULL, batch, issues, err);
}

static void
assert_hash_of_source(const struct ocds_release *r)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;
	char		hex[65];

	assert_int_equal(EVP_Digest(r->source, r->source_len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(r->hash, hex);
}

/* The kept span is the release itself: it parses alone and names the same release. */
static void
assert_source_is_release(const struct ocds_release *r)
{
	struct sjson_error	 err;
	json_t			*j;

	assert_non_null(j = sjson_parse(r->source, r->source_len, NULL, &err));
	assert_string_equal(json_string_value(json_object_get(j, "id")), r->id);
	assert_string_equal(json_string_value(json_object_get(j, "ocid")), r->ocid);
	json_decref(j);
	assert_hash_of_source(r);
}

static void
test_reads_release_package_and_compiles_cdmx_fixture(void **state)
{
	struct ocds_batch	 batch;
	struct issue_list	 issues = { 0 };
	struct sjson_error	 err;
	struct body		 package, compiled;
	json_t			*releases[2] = { NULL, NULL }, *got, *want;

	if (!load("cdmx-release-package-1.json", &package) ||
	    !load("cdmx-compiled-release-1.json", &compiled))
		skip();
	assert_int_equal(ocds_read(package.text, package.len, NULL, &batch, &issues, &err),
	    OCDS_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(batch.nreleases, 2);
	assert_int_equal(batch.ncompiled, 0);
	for (size_t i = 0; i < 2; i++) {
		const struct ocds_release *r = &batch.releases[i];

		assert_source_is_release(r);
		assert_int_equal(r->record, (long)i);
		assert_string_equal(r->ocid, "OCDS-87SD3T-AD-SF-DRM-063-2015");
		assert_int_equal(r->ntags, 1);
		assert_string_equal(r->tags[0], "tender");
		/* An OCDS 1.0 buyer, named by its identifier alone. */
		assert_string_equal(r->buyer_id, "GDF9712054NA");
		assert_string_equal(r->buyer_name, "SECRETAR\xc3\x8d" "A DE FINANZAS");
		assert_non_null(releases[i] = sjson_parse(r->source, r->source_len, NULL, &err));
	}
	assert_string_equal(batch.releases[0].id, "01");
	assert_string_equal(batch.releases[0].date, "2015-12-22T00:00:00-06:00");
	assert_string_equal(batch.releases[0].date_utc, "2015-12-22T06:00:00Z");

	assert_non_null(got = ocds_merge(releases, 2));
	assert_non_null(want = sjson_parse(compiled.text, compiled.len, NULL, &err));
	/*
	 * What the standard prescribes, compared exactly but for the numbers' spelling:
	 * the fixture was written by Python, which reads 1311264.00 as a float and writes
	 * it back as 1311264.0; the merge keeps the publisher's text.
	 */
	assert_same_tree(got, want);
	assert_string_equal(sjson_number(json_object_get(json_object_get(json_object_get(
	    got, "tender"), "value"), "amount")), "1311264.00");
	assert_string_equal(json_string_value(json_object_get(got, "id")),
	    "OCDS-87SD3T-AD-SF-DRM-063-2015-2017-06-05T00:00:00-06:00");

	json_decref(got);
	json_decref(want);
	json_decref(releases[0]);
	json_decref(releases[1]);
	ocds_batch_free(&batch);
	issues_clear(&issues);
	free(package.text);
	free(compiled.text);
}

static void
test_reads_release_package_of_two_contracting_processes(void **state)
{
	struct ocds_batch	 batch;
	struct issue_list	 issues = { 0 };
	struct sjson_error	 err;
	struct body		 package;

	if (!load("cdmx-release-package-1-2.json", &package))
		skip();
	assert_int_equal(ocds_read(package.text, package.len, NULL, &batch, &issues, &err),
	    OCDS_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(batch.nreleases, 4);
	for (size_t i = 0; i < batch.nreleases; i++)
		assert_source_is_release(&batch.releases[i]);
	assert_string_equal(batch.releases[2].ocid, "OCDS-87SD3T-AD-SF-DRM-065-2015");
	assert_string_equal(batch.releases[2].date_utc, "2015-12-14T06:00:00Z");
	ocds_batch_free(&batch);
	free(package.text);
}

static void
test_reads_record_package_with_compiled_releases(void **state)
{
	struct ocds_batch	 batch;
	struct issue_list	 issues = { 0 };
	struct sjson_error	 err;
	struct body		 package;
	json_t			*j;

	if (!load("cdmx-record-package-1-2.json", &package))
		skip();
	assert_int_equal(ocds_read(package.text, package.len, NULL, &batch, &issues, &err),
	    OCDS_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(batch.records, 2);
	assert_int_equal(batch.ncompiled, 2);
	assert_true(batch.nreleases >= 2);
	for (size_t i = 0; i < batch.nreleases; i++)
		assert_source_is_release(&batch.releases[i]);
	for (size_t i = 0; i < batch.ncompiled; i++) {
		const struct ocds_compiled *c = &batch.compiled[i];

		assert_int_equal(c->record, (long)i);
		assert_non_null(c->buyer_id);
		assert_non_null(j = sjson_parse(c->source, c->source_len, NULL, &err));
		assert_string_equal(json_string_value(json_object_get(j, "ocid")), c->ocid);
		assert_non_null(json_object_get(j, "awards"));
		json_decref(j);
	}
	/* The compiled release's own id, as published, not one made here. */
	assert_non_null(memmem(batch.compiled[0].source, batch.compiled[0].source_len,
	    "\"993235\"", 8));
	ocds_batch_free(&batch);
	free(package.text);
}

static void
test_reads_array_of_packages(void **state)
{
	struct ocds_batch	 batch;
	struct issue_list	 issues = { 0 };
	struct sjson_error	 err;
	struct body		 file;

	if (!load("portugal-impic-100-releases.json", &file))
		skip();
	assert_int_equal(ocds_read(file.text, file.len, NULL, &batch, &issues, &err),
	    OCDS_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(batch.nreleases, 100);
	assert_int_equal(batch.records, 100);
	for (size_t i = 0; i < batch.nreleases; i++) {
		const struct ocds_release *r = &batch.releases[i];

		assert_int_equal(r->record, (long)i);
		assert_source_is_release(r);
		assert_non_null(r->buyer_id);
		assert_non_null(r->buyer_name);
		assert_int_equal(strlen(r->date_utc) > 20, true);
	}
	assert_string_equal(batch.releases[0].id, "5052-5001-1-1");
	assert_string_equal(batch.releases[0].buyer_id, "506804240");
	assert_string_equal(batch.releases[0].date_utc, "2019-11-25T17:20:38.119705900Z");
	ocds_batch_free(&batch);
	free(file.text);
}

static void
test_record_ignores_linked_releases_and_finds_buyer_among_parties(void **state)
{
	struct ocds_batch	 batch;
	struct issue_list	 issues;
	struct sjson_error	 err;

	assert_int_equal(read_text("{\"records\": [{\"releases\": ["
	    "{\"url\": \"https://example.org/r1.json\", \"date\": \"2020-01-01T00:00:00Z\", "
	    "\"tag\": [\"tender\"]}, "
	    "{\"ocid\": \"ocds-x-1\", \"id\": \"2\", \"date\": \"2020-01-02T00:00:00Z\", "
	    "\"tag\": [\"award\"], \"parties\": [{\"id\": \"p1\", \"roles\": [\"supplier\"]}, "
	    "{\"id\": 42, \"name\": \"Ministry\", \"roles\": [\"procuringEntity\", \"buyer\"]}]}], "
	    "\"ocid\": \"ocds-x-1\"}]}", &batch, &issues, &err), OCDS_READ_OK);
	assert_int_equal(issues.total, 0);
	assert_int_equal(batch.nreleases, 1);
	assert_int_equal(batch.ncompiled, 0);
	assert_string_equal(batch.releases[0].id, "2");
	assert_string_equal(batch.releases[0].buyer_id, "42");
	assert_string_equal(batch.releases[0].buyer_name, "Ministry");
	ocds_batch_free(&batch);
}

/* The issue list as "pointer: message" lines. */
static char *
listed(const struct issue_list *l)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*f;

	assert_non_null(f = open_memstream(&out, &len));
	for (size_t i = 0; i < l->count; i++)
		fprintf(f, "%ld %s: %s\n", l->items[i].record, l->items[i].pointer,
		    l->items[i].message);
	fclose(f);
	return out;
}

static void
check_issues(const char *body, const char *want)
{
	struct ocds_batch	 batch;
	struct issue_list	 issues;
	struct sjson_error	 err;
	char			*got;

	assert_int_equal(read_text(body, &batch, &issues, &err), OCDS_READ_OK);
	got = listed(&issues);
	assert_string_equal(got, want);
	free(got);
	ocds_batch_free(&batch);
	issues_clear(&issues);
}

static void
test_bad_releases_are_reported_with_pointers(void **state)
{
	check_issues("{\"uri\": \"x\", \"releases\": ["
	    "{\"tag\": \"tender\"}, "
	    "{\"ocid\": \"\", \"id\": 5, \"date\": \"2020-13-01T00:00:00Z\", \"tag\": [\"a\", 1]}, "
	    "\"release\", "
	    "{\"ocid\": \"o\", \"id\": \"1\", \"date\": \"2020-01-01T00:00:00Z\"}, "
	    "{\"ocid\": \"o\", \"id\": \"2\", \"date\": \"2020-01-01T00:00:00Z\", "
	    "\"buyer\": {\"id\": [], \"name\": 3}}]}",
	    "0 /releases/0/ocid: is required\n"
	    "0 /releases/0/id: is required\n"
	    "0 /releases/0/date: is required\n"
	    "0 /releases/0/tag: must be an array of strings\n"
	    "1 /releases/1/ocid: must not be empty\n"
	    "1 /releases/1/id: must be a string\n"
	    "1 /releases/1/date: must be an ISO 8601 date-time with seconds and a UTC offset, "
	    "such as 2024-05-01T12:00:00Z\n"
	    "1 /releases/1/tag/1: must be a string\n"
	    "2 /releases/2: must be an object\n"
	    "4 /releases/4/buyer/name: must be a string\n"
	    "4 /releases/4/buyer/id: must be a string or an integer\n");
}

static void
test_bad_packages_in_an_array_are_reported_with_their_index(void **state)
{
	check_issues("[{\"releases\": []}, {\"releases\": ["
	    "{\"ocid\": \"o\", \"id\": \"1\", \"date\": \"2020-01-01T00:00:00Z\"}, "
	    "{\"ocid\": \"o\", \"id\": \"2\", \"date\": \"2020-01-01T00:00:00Z\"}, "
	    "{\"ocid\": \"o\", \"id\": \"3\", \"date\": \"2020-01-01T00:00:00Z\"}, "
	    "{\"ocid\": \"o\", \"id\": \"4\", \"date\": \"yesterday\"}]}, 7, {\"uri\": \"u\"}, "
	    "{\"releases\": {}}]",
	    "3 /1/releases/3/date: must be an ISO 8601 date-time with seconds and a UTC offset, "
	    "such as 2024-05-01T12:00:00Z\n"
	    "-1 /2: must be an OCDS release package or record package\n"
	    "-1 /3: must be an OCDS release package or record package (it has no \"releases\" "
	    "and no \"records\")\n"
	    "-1 /4/releases: must be an array of releases\n");
}

static void
test_bad_records_are_reported_with_pointers(void **state)
{
	check_issues("{\"records\": ["
	    "{\"ocid\": \"o\", \"compiledRelease\": {\"id\": \"c\"}}, "
	    "{\"ocid\": \"o\", \"compiledRelease\": {\"ocid\": \"p\"}, \"releases\": ["
	    "{\"url\": \"https://example.org/linked\"}, "
	    "{\"ocid\": \"q\", \"id\": \"1\", \"date\": \"2020-01-01T00:00:00Z\"}]}, "
	    "{\"releases\": []}, "
	    "{\"ocid\": \"o\", \"compiledRelease\": []}]}",
	    "0 /records/0/compiledRelease/ocid: is required\n"
	    "1 /records/1/releases/1/ocid: does not match the record's ocid\n"
	    "1 /records/1/compiledRelease/ocid: does not match the record's ocid\n"
	    "2 /records/2/ocid: is required\n"
	    "3 /records/3/compiledRelease: must be an object\n");
}

static void
test_bodies_that_are_no_package_are_reported(void **state)
{
	check_issues("\"releases\"", "-1 : must be an OCDS release package, record package, "
	    "or an array of packages\n");
	check_issues("{}", "-1 : must be an OCDS release package or record package (it has "
	    "no \"releases\" and no \"records\")\n");
	check_issues("{\"releases\": [], \"records\": []}", "-1 : must be a release package or "
	    "a record package, not both\n");
}

static void
test_malformed_json_is_not_a_list_of_issues(void **state)
{
	static const char *const bodies[] = {
		"{\"releases\": [",
		"{\"releases\": []} []",
		"{\"releases\": [{\"ocid\": \"o\", \"ocid\": \"p\"}]}",
		"{\"releases\": [], \"releases\": []}",
		"[{\"releases\": [{\"id\": 1e}]}]",
		"",
	};
	struct ocds_batch	 batch;
	struct issue_list	 issues;
	struct sjson_error	 err;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (read_text(bodies[i], &batch, &issues, &err) != OCDS_READ_MALFORMED)
			fail_msg("not malformed: %s", bodies[i]);
		assert_true(err.line >= 1 && err.column >= 1);
		assert_true(err.message[0] != '\0');
		ocds_batch_free(&batch);
		issues_clear(&issues);
	}
}

static void
test_overlong_ids_are_refused(void **state)
{
	char	*body, *want, id[OCDS_ID_MAX + 2];

	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_true(asprintf(&body, "{\"releases\": [{\"ocid\": \"o\", \"id\": \"%s\", "
	    "\"date\": \"2020-01-01T00:00:00Z\", \"buyer\": {\"id\": \"%s\"}}]}", id, id) > 0);
	assert_true(asprintf(&want, "0 /releases/0/id: must not be longer than 1000 bytes\n"
	    "0 /releases/0/buyer: the buyer's id must not be longer than 1000 bytes\n") > 0);
	check_issues(body, want);
	free(body);
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_release_compiles_to_itself_with_compiled_fields),
		cmocka_unit_test(test_identifier_merge_merges_same_ids_and_appends_new_ones),
		cmocka_unit_test(test_identifier_merge_keeps_number_and_string_ids_apart),
		cmocka_unit_test(test_identifier_merge_at_depth_and_in_long_arrays),
		cmocka_unit_test(test_whole_list_replacement),
		cmocka_unit_test(test_empty_arrays_and_objects_change_nothing),
		cmocka_unit_test(test_null_deletes_at_depth),
		cmocka_unit_test(test_releases_merge_in_date_order_with_ties_in_given_order),
		cmocka_unit_test(test_compiled_release_is_dated_by_its_last_release),
		cmocka_unit_test(test_merge_refuses_releases_it_cannot_order),
		cmocka_unit_test(test_dates_are_rfc3339_date_times),
		cmocka_unit_test(test_reads_release_package_and_compiles_cdmx_fixture),
		cmocka_unit_test(test_reads_release_package_of_two_contracting_processes),
		cmocka_unit_test(test_reads_record_package_with_compiled_releases),
		cmocka_unit_test(test_reads_array_of_packages),
		cmocka_unit_test(test_record_ignores_linked_releases_and_finds_buyer_among_parties),
		cmocka_unit_test(test_bad_releases_are_reported_with_pointers),
		cmocka_unit_test(test_bad_packages_in_an_array_are_reported_with_their_index),
		cmocka_unit_test(test_bad_records_are_reported_with_pointers),
		cmocka_unit_test(test_bodies_that_are_no_package_are_reported),
		cmocka_unit_test(test_malformed_json_is_not_a_list_of_issues),
		cmocka_unit_test(test_overlong_ids_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
