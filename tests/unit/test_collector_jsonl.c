/*
 * The ocds_jsonl kind: lines of releases, release packages and record packages, the
 * records counted per release or record, chunks of one sort, blank lines and CRLF,
 * skip, lines too long and malformed lines; the real OCDS files written as lines.
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

#include "collector.h"
#include "issues.h"
#include "ocds.h"
#include "collector_harness.h"

static const struct collector_limits roomy = {
	.chunk_records = 1000, .chunk_bytes = 16 * 1024 * 1024, .record_max = 1024 * 1024,
};

static void
run_every_way(const struct collector_limits *limits, unsigned long long skip,
    const char *doc, size_t len, struct harness_result *whole)
{
	harness_run_every_way(&collector_ocds_jsonl, limits, NULL, skip, doc, len, whole);
}

static const char mixed[] =
    "{\"ocid\": \"a\", \"id\": \"1\"}\n"				/* line 1: release 0 */
    "  {\"ocid\": \"a\", \"id\": \"2\"}  \r\n"			/* 2: release 1 */
    "\n"
    "{\"version\": \"1.1\", \"records\": [{\"ocid\": \"a\"}, {\"ocid\": \"b\"}]}\n"	/* 4 */
    "   \t\r\n"
    "{\"releases\": [{\"id\": \"3\"}, {\"id\": \"4\"}], \"uri\": \"u\"}\n"	/* 6: 4, 5 */
    "{\"releases\": []}\n"
    "{\"id\": \"5\", \"releases_note\": [1]}";			/* 8: release 6, no LF */

static void
test_mixed_sorts_make_chunks_of_one_sort(void **state)
{
	struct harness_result r;

	run_every_way(&roomy, 0, mixed, strlen(mixed), &r);
	if (r.error != NULL)
		fail_msg("%s", r.error);
	assert_int_equal(r.records, 7);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.chunks[0].body, "{\"releases\":[{\"ocid\": \"a\", \"id\": \"1\"},"
	    "{\"ocid\": \"a\", \"id\": \"2\"}]}");
	harness_assert_chunk(&r, 0, 0, 2, 1);
	assert_string_equal(r.chunks[1].body, "{\"records\":[{\"ocid\": \"a\"},"
	    "{\"ocid\": \"b\"}]}");
	harness_assert_chunk(&r, 1, 2, 2, 4);
	assert_string_equal(r.chunks[2].body, "{\"releases\":[{\"id\": \"3\"},{\"id\": \"4\"},"
	    "{\"id\": \"5\", \"releases_note\": [1]}]}");
	harness_assert_chunk(&r, 2, 4, 3, 6);
	assert_null(r.next_url);
	harness_free(&r);
}

static void
test_chunk_limits_and_skip_count_records_not_lines(void **state)
{
	struct collector_limits	limits = roomy;
	struct harness_result	r;

	limits.chunk_records = 2;
	run_every_way(&limits, 0, mixed, strlen(mixed), &r);
	assert_null(r.error);
	assert_int_equal(r.n, 4);
	harness_assert_chunk(&r, 2, 4, 2, 6);
	harness_assert_chunk(&r, 3, 6, 1, 8);
	harness_free(&r);

	/* Three records were committed: the second record, in line 4, comes first. */
	run_every_way(&roomy, 3, mixed, strlen(mixed), &r);
	assert_null(r.error);
	assert_int_equal(r.records, 7);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.chunks[0].body, "{\"records\":[{\"ocid\": \"b\"}]}");
	harness_assert_chunk(&r, 0, 3, 1, 4);
	harness_assert_chunk(&r, 1, 4, 3, 6);
	harness_free(&r);
}

static void
test_lines_longer_than_record_max_fail(void **state)
{
	struct collector_limits	 limits = roomy;
	struct harness_result	 r;
	const char		*doc = "{\"id\": \"1\"}\r\n{\"id\": \"22\"}\n{\"id\": \"3\"}";

	/* 12 bytes per line, without its CRLF or LF. */
	limits.record_max = 12;
	run_every_way(&limits, 0, doc, strlen(doc), &r);
	assert_null(r.error);
	assert_int_equal(r.records, 3);
	harness_free(&r);
	limits.record_max = 11;
	run_every_way(&limits, 0, doc, strlen(doc), &r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "line 2: longer than 11 bytes");
	harness_free(&r);
}

static void
test_malformed_lines_name_line_and_column(void **state)
{
	static const struct {
		const char	*doc;
		const char	*error;
	} cases[] = {
		{ "{\"id\": \"1\"}\n{\"id\": 2,}\n", "line 2, column 10: expected '\"' (a "
		  "member name), found '}'" },
		{ "{\"id\": \"1\"}\n\n[1]\n", "line 3, column 1: expected '{', found '['" },
		{ "{\"id\": \"1\"} {\"id\": \"2\"}\n", "line 1, column 13: expected the end "
		  "of the line after the value, found '{'" },
		{ "{\"releases\": [{\"id\": 1}, {\"id\": ]}\n", "line 1, column 33: expected a "
		  "value, found ']' (in release 1)" },
		{ "{\"records\": [{}], \"releases\": [{}]}", "line 1: a package with a second "
		  "array of releases or records (\"releases\")" },
		{ "{\"releases\": {}}", "line 1, column 14: expected '[' (an array), found '{'" },
		{ "{\"id\": \"1\"}\n{\"id\": \"2\"", "line 2, column 11: the line ends inside "
		  "an object" },
		{ "{\"id\": \"1\n\"}", "line 1, column 10: the line ends inside a string" },
	};
	struct harness_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_every_way(&roomy, 0, cases[i].doc, strlen(cases[i].doc), &r);
		harness_assert_error(&r, cases[i].error, cases[i].doc);
		harness_free(&r);
	}
}

static void
test_an_empty_document_has_no_records(void **state)
{
	struct harness_result r;

	run_every_way(&roomy, 0, "", 0, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	harness_free(&r);
	run_every_way(&roomy, 0, "\n\r\n  \n", 6, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.records, 0);
	harness_free(&r);
}

/* A real file made into lines: jansson writes each value on one line. */
static char *
as_line(const char *name, size_t *len)
{
	json_error_t	 jerr;
	json_t		*j;
	char		*doc, *line;

	if ((doc = shared_data_read(name, len)) == NULL)
		return NULL;
	assert_non_null(j = json_loadb(doc, *len, 0, &jerr));
	free(doc);
	assert_non_null(line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER));
	json_decref(j);
	*len = strlen(line);
	return line;
}

static void
test_real_packages_as_lines_read_as_procurement(void **state)
{
	struct harness_result	 r;
	struct ocds_batch	 batch;
	struct issue_list	 issues = { 0 };
	struct sjson_error	 err;
	char			*releases, *records, *doc;
	size_t			 nrel, nrec, len;

	if ((releases = as_line("ocds/cdmx-release-package-1-2.json", &nrel)) == NULL)
		skip();
	assert_non_null(records = as_line("ocds/cdmx-record-package-1-2.json", &nrec));
	assert_non_null(doc = malloc(2 * nrel + nrec + 8));
	len = (size_t)sprintf(doc, "%s\n%s\r\n%s\n", releases, records, releases);
	run_every_way(&roomy, 0, doc, len, &r);
	if (r.error != NULL)
		fail_msg("%s", r.error);
	assert_int_equal(r.records, 4 + 2 + 4);
	assert_int_equal(r.n, 3);
	for (size_t i = 0; i < r.n; i++) {
		memset(&batch, 0, sizeof(batch));
		assert_int_equal(ocds_read(r.chunks[i].body, r.chunks[i].len, NULL, &batch,
		    &issues, &err), OCDS_READ_OK);
		assert_int_equal(issues.count, 0);
		assert_int_equal(i == 1 ? batch.ncompiled : batch.nreleases,
		    r.chunks[i].records);
		assert_int_equal(r.chunks[i].first_line, i + 1);
		ocds_batch_free(&batch);
	}
	harness_assert_verbatim(&(struct harness_result){ .chunks = r.chunks, .n = 1 },
	    releases, nrel, "releases");
	harness_free(&r);
	free(releases);
	free(records);
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mixed_sorts_make_chunks_of_one_sort),
		cmocka_unit_test(test_chunk_limits_and_skip_count_records_not_lines),
		cmocka_unit_test(test_lines_longer_than_record_max_fail),
		cmocka_unit_test(test_malformed_lines_name_line_and_column),
		cmocka_unit_test(test_an_empty_document_has_no_records),
		cmocka_unit_test(test_real_packages_as_lines_read_as_procurement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
