/*
 * The kinds whose document is one object holding an array of records
 * (ocds_release_packages, ocds_record_packages, projects_json): the real OCDS files cut
 * into chunks the ingest reads, byte for byte, however the download is cut; chunk
 * limits; skipping what an interrupted pull committed; truncated and malformed pages;
 * links.next; records too large; memory that stays bounded on a large pull.
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
	.chunk_records = 1000, .chunk_bytes = 16 * 1024 * 1024, .record_max = 8 * 1024 * 1024,
};

#define PAGE_URL	"https://api.example.org/ocds/releases?page=1"

/* Reads a chunk as POST /v1/procurement would: no problem, every record there. */
static void
assert_ocds_reads(const struct harness_chunk *chunk, bool records)
{
	struct ocds_batch	 batch = { 0 };
	struct issue_list	 issues = { 0 };
	struct sjson_error	 err;

	assert_int_equal(ocds_read(chunk->body, chunk->len, NULL, &batch, &issues, &err),
	    OCDS_READ_OK);
	if (issues.count > 0)
		fail_msg("%s: %s", issues.items[0].pointer, issues.items[0].message);
	if (records)
		assert_int_equal(batch.ncompiled, chunk->records);
	else
		assert_int_equal(batch.nreleases, chunk->records);
	ocds_batch_free(&batch);
	issues_clear(&issues);
}

/*
 * One real document, in chunks of a few records, of some 40 KiB and of up to a
 * thousand: the same chunks whole, byte by byte and in 7-byte pieces, the records
 * exactly the document's, each chunk a body the ingest accepts.
 */
static void
check_real_document(const struct collector_ops *ops, const char *doc, size_t len,
    const char *member, size_t nrecords, const char *next_url)
{
	static const struct collector_limits small = {
		.chunk_records = 3, .chunk_bytes = 1024 * 1024, .record_max = 1024 * 1024,
	};
	static const struct collector_limits bytes = {
		.chunk_records = 1000, .chunk_bytes = 40 * 1024, .record_max = 1024 * 1024,
	};
	const struct collector_limits	*limits[] = { &roomy, &small, &bytes };
	struct harness_result		 whole;

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		harness_run_every_way(ops, limits[l], PAGE_URL, 0, doc, len, &whole);
		if (whole.error != NULL)
			fail_msg("%s", whole.error);
		assert_int_equal(whole.records, nrecords);
		harness_assert_verbatim(&whole, doc, len, member);
		for (size_t i = 0; i < whole.n; i++)
			if (ops != &collector_projects_json)
				assert_ocds_reads(&whole.chunks[i],
				    strcmp(member, "records") == 0);
		if (next_url == NULL)
			assert_null(whole.next_url);
		else {
			assert_non_null(whole.next_url);
			assert_string_equal(whole.next_url, next_url);
		}
		harness_free(&whole);
	}
}

/* check_real_document on a file of ../shared/data, which must be there. */
static void
check_real_file(const struct collector_ops *ops, const char *relpath, const char *member,
    size_t nrecords)
{
	char	*doc;
	size_t	 len;

	assert_non_null(doc = shared_data_read(relpath, &len));
	check_real_document(ops, doc, len, member, nrecords, NULL);
	free(doc);
}

/* Its links.next, as published. */
#define PORTUGAL_NEXT	"http://www.base.gov.pt/api/Release/GetReleases?offset=101"

/* Portugal's file is a JSON array holding one package: the package is the page. */
static char *
portugal_package(size_t *len)
{
	char	*doc, *start, *end;

	if ((doc = shared_data_read("ocds/portugal-impic-100-releases.json", len)) == NULL)
		return NULL;
	start = strchr(doc, '{');
	end = strrchr(doc, '}');
	assert_non_null(start);
	assert_non_null(end);
	*len = (size_t)(end - start) + 1;
	memmove(doc, start, *len);
	doc[*len] = '\0';
	return doc;
}

static void
test_real_release_and_record_packages(void **state)
{
	char	*doc;
	size_t	 len;

	if ((doc = portugal_package(&len)) == NULL)
		skip();
	check_real_document(&collector_ocds_release_packages, doc, len, "releases", 100,
	    PORTUGAL_NEXT);
	free(doc);
	check_real_file(&collector_ocds_release_packages, "ocds/cdmx-release-package-1.json",
	    "releases", 2);
	check_real_file(&collector_ocds_release_packages,
	    "ocds/cdmx-release-package-1-2.json", "releases", 4);
	check_real_file(&collector_ocds_record_packages, "ocds/cdmx-record-package-1-2.json",
	    "records", 2);
}

/* A release package of n small releases, pretty-printed, one release per line. */
static char *
releases_doc(size_t n, const char *links)
{
	char	*doc = NULL;
	size_t	 size = 0;
	FILE	*f;

	assert_non_null(f = open_memstream(&doc, &size));
	fprintf(f, "{\"uri\": \"x\",\n \"releases\": [\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  {\"ocid\": \"ocds-1-%zu\", \"id\": \"r%zu\"}%s\n", i, i,
		    i + 1 < n ? "," : "");
	fprintf(f, " ]%s%s\n}\n", links ? ",\n \"links\": " : "", links ? links : "");
	fclose(f);
	return doc;
}

static void
run_doc(const struct collector_ops *ops, const struct collector_limits *limits,
    unsigned long long skip, const char *doc, struct harness_result *r)
{
	harness_run(ops, limits, PAGE_URL, skip, doc, strlen(doc), 5, r);
}

static void
test_chunks_close_exactly_at_the_limits(void **state)
{
	struct collector_limits	 limits = roomy;
	struct harness_result	 r;
	char			*doc = releases_doc(6, NULL);
	size_t			 one, two;

	/* Records: 6 in chunks of 3 are two full chunks, and no empty third. */
	limits.chunk_records = 3;
	run_doc(&collector_ocds_release_packages, &limits, 0, doc, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 2);
	harness_assert_chunk(&r, 0, 0, 3, 3);
	harness_assert_chunk(&r, 1, 3, 3, 6);
	assert_string_equal(r.chunks[0].body, "{\"releases\":["
	    "{\"ocid\": \"ocds-1-0\", \"id\": \"r0\"},"
	    "{\"ocid\": \"ocds-1-1\", \"id\": \"r1\"},"
	    "{\"ocid\": \"ocds-1-2\", \"id\": \"r2\"}]}");
	harness_free(&r);

	/* Bytes: a chunk is cut once its body reaches chunk_bytes. */
	one = strlen("{\"releases\":[{\"ocid\": \"ocds-1-0\", \"id\": \"r0\"}]}");
	two = one + 1 + strlen("{\"ocid\": \"ocds-1-1\", \"id\": \"r1\"}");
	limits.chunk_records = 1000;
	limits.chunk_bytes = two;
	run_doc(&collector_ocds_release_packages, &limits, 0, doc, &r);
	assert_int_equal(r.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(r.chunks[i].records, 2);
		assert_int_equal(r.chunks[i].len, two);
	}
	harness_free(&r);
	limits.chunk_bytes = two - 1;
	run_doc(&collector_ocds_release_packages, &limits, 0, doc, &r);
	assert_int_equal(r.n, 3);
	harness_free(&r);
	limits.chunk_bytes = one;
	run_doc(&collector_ocds_release_packages, &limits, 0, doc, &r);
	assert_int_equal(r.n, 6);
	harness_assert_chunk(&r, 5, 5, 1, 8);
	harness_free(&r);
	free(doc);
}

static void
test_skip_drops_what_an_interrupted_pull_committed(void **state)
{
	struct collector_limits	 limits = roomy;
	struct harness_result	 r;
	char			*doc = releases_doc(5, NULL);

	limits.chunk_records = 2;
	run_doc(&collector_ocds_release_packages, &limits, 3, doc, &r);
	assert_null(r.error);
	assert_int_equal(r.records, 5);
	assert_int_equal(r.n, 1);
	harness_assert_chunk(&r, 0, 3, 2, 6);
	assert_string_equal(r.chunks[0].body, "{\"releases\":["
	    "{\"ocid\": \"ocds-1-3\", \"id\": \"r3\"},{\"ocid\": \"ocds-1-4\", \"id\": \"r4\"}]}");
	harness_free(&r);

	/* All of it, or more than there is: nothing to write, and no error. */
	run_doc(&collector_ocds_release_packages, &limits, 5, doc, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.records, 5);
	harness_free(&r);
	run_doc(&collector_ocds_release_packages, &limits, 99, doc, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	harness_free(&r);
	free(doc);
}

static void
test_a_truncated_page_is_an_error_wherever_it_is_cut(void **state)
{
	struct harness_result	 r;
	char			*doc;
	size_t			 len, end;

	if ((doc = shared_data_read("ocds/cdmx-release-package-1-2.json", &len)) == NULL)
		skip();
	end = (size_t)(strrchr(doc, '}') - doc);
	for (size_t cut = 0; cut <= end; cut += (cut < 64 || end - cut < 64) ? 1 : 61) {
		harness_run(&collector_ocds_release_packages, &roomy, PAGE_URL, 0, doc, cut,
		    4096, &r);
		if (r.error == NULL)
			fail_msg("cut at %zu of %zu: no error", cut, len);
		if (cut == 0)
			assert_string_equal(r.error, "line 1, column 1: the document is empty");
		else if (strstr(r.error, "the document ends inside") == NULL)
			fail_msg("cut at %zu: %s", cut, r.error);
		harness_free(&r);
	}
	free(doc);

	/* Inside a release, the message says which and where it starts. */
	doc = releases_doc(3, NULL);
	len = (size_t)(strstr(doc, "r1\"") - doc);
	harness_run(&collector_ocds_release_packages, &roomy, PAGE_URL, 0, doc, len, 3, &r);
	assert_string_equal(r.error, "line 4, column 31: the document ends inside a string "
	    "(in release 1, which starts at line 4)");
	harness_free(&r);
	free(doc);
}

static void
test_malformed_pages_name_line_column_and_record(void **state)
{
	static const struct {
		const struct collector_ops	*ops;
		const char			*doc;
		const char			*error;
	} cases[] = {
		{ &collector_ocds_release_packages,
		  "{\"releases\": [\n {\"id\": \"a\"},\n {\"id\": \"b\",}\n]}",
		  "line 3, column 13: expected '\"' (a member name), found '}' "
		  "(in release 1, which starts at line 3)" },
		{ &collector_ocds_record_packages,
		  "{\"records\": [{\"ocid\": \"x\"}\n {\"ocid\": \"y\"}]}",
		  "line 2, column 2: expected ',' or ']', found '{'" },
		{ &collector_projects_json,
		  "{\"projects\": [{\"title\": \"a\"}, {\"title\": tru}]}",
		  "line 1, column 44: expected 'true', found '}' "
		  "(in project 1, which starts at line 1)" },
		{ &collector_ocds_release_packages, "[{\"releases\": []}]",
		  "line 1, column 1: expected '{', found '['" },
		{ &collector_ocds_release_packages, "{\"releases\": {}}",
		  "line 1, column 14: expected '[' (an array), found '{'" },
		{ &collector_ocds_release_packages, "{\"releases\": [], \"releases\": []}",
		  "line 1: a second \"releases\" member" },
		{ &collector_ocds_release_packages, "{\"uri\": \"x\", \"records\": [{}]}",
		  "the document has no \"releases\" array" },
		{ &collector_ocds_record_packages, "{\"releases\": [{}]}",
		  "the document has no \"records\" array" },
		{ &collector_projects_json, "{}", "the document has no \"projects\" array" },
		{ &collector_ocds_release_packages, "{\"releases\": []} {}",
		  "line 1, column 18: expected the end of the document after the value, "
		  "found '{'" },
	};
	static const char	nul[] = "{\"releases\": [1, \"a\0\"]}";
	struct harness_result	r;
	char			what[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].doc);

		for (size_t piece = 1; piece <= 64; piece *= 4) {
			harness_run(cases[i].ops, &roomy, PAGE_URL, 0, cases[i].doc, len, piece,
			    &r);
			snprintf(what, sizeof(what), "case %zu, pieces of %zu", i, piece);
			harness_assert_error(&r, cases[i].error, what);
			harness_free(&r);
		}
	}
	harness_run(&collector_ocds_release_packages, &roomy, PAGE_URL, 0, nul,
	    sizeof(nul) - 1, 3, &r);
	assert_string_equal(r.error, "line 1, column 20: a NUL byte in a string (in release "
	    "1, which starts at line 1)");
	harness_free(&r);
}

static void
test_an_empty_array_is_a_page_without_records(void **state)
{
	struct harness_result r;

	run_doc(&collector_ocds_release_packages, &roomy, 0,
	    "{\"uri\": \"x\", \"releases\": [ ], \"publisher\": {\"name\": \"[\"}}", &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.records, 0);
	assert_null(r.next_url);
	harness_free(&r);
}

struct next_case {
	const char	*links;
	const char	*next_url;	/* NULL: none */
	const char	*error;		/* NULL: none */
};

static void
test_links_next_is_resolved_and_checked(void **state)
{
	static const struct next_case cases[] = {
		{ "{\"next\": \"https://api.example.org/ocds/releases?page=2\"}",
		  "https://api.example.org/ocds/releases?page=2", NULL },
		{ "{\"next\": \"?page=2\"}", "https://api.example.org/ocds/releases?page=2",
		  NULL },
		{ "{\"next\": \"/v2/releases?cursor=abc\"}",
		  "https://api.example.org/v2/releases?cursor=abc", NULL },
		{ "{\"next\": \"page3.json\"}", "https://api.example.org/ocds/page3.json", NULL },
		{ "{\"next\": \"http://mirror.example.org/p/2\", \"prev\": null}",
		  "http://mirror.example.org/p/2", NULL },
		{ "{\"next\": \"\\/v2\\/releases\"}", "https://api.example.org/v2/releases",
		  NULL },
		{ "{\"next\": null}", NULL, NULL },
		{ "{\"prev\": \"?page=0\"}", NULL, NULL },
		{ "null", NULL, NULL },
		{ "{\"next\": \"ftp://api.example.org/p2\"}", NULL,
		  "links.next \"ftp://api.example.org/p2\" is not an http or https URL" },
		{ "{\"next\": \"file:///etc/passwd\"}", NULL,
		  "links.next \"file:///etc/passwd\" is not an http or https URL" },
		{ "{\"next\": \"" PAGE_URL "\"}", NULL,
		  "links.next \"" PAGE_URL "\" is this page's own URL: the pages would loop" },
		{ "{\"next\": \"?page=1\"}", NULL,
		  "links.next \"?page=1\" is this page's own URL: the pages would loop" },
		{ "{\"next\": \"HTTPS://API.example.org/ocds/releases?page=1\"}", NULL,
		  "links.next \"HTTPS://API.example.org/ocds/releases?page=1\" is this page's "
		  "own URL: the pages would loop" },
		{ "{\"next\": 2}", NULL, "links.next is not a URL (a non-empty string)" },
		{ "{\"next\": \"\"}", NULL, "links.next is not a URL (a non-empty string)" },
		{ "[\"x\"]", NULL, "links is not an object" },
	};
	struct harness_result	 r;
	char			*doc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc = releases_doc(2, cases[i].links);
		run_doc(&collector_ocds_release_packages, &roomy, 0, doc, &r);
		if (cases[i].error != NULL) {
			harness_assert_error(&r, cases[i].error, cases[i].links);
			/* The page's last chunk never went out. */
			assert_int_equal(r.n, 0);
		} else {
			if (r.error != NULL)
				fail_msg("%s: %s", cases[i].links, r.error);
			if (cases[i].next_url == NULL)
				assert_null(r.next_url);
			else {
				assert_non_null(r.next_url);
				assert_string_equal(r.next_url, cases[i].next_url);
			}
			assert_int_equal(r.n, 1);
		}
		harness_free(&r);
		free(doc);
	}

	/* links before the records is the same, and a relative next needs a page URL. */
	doc = "{\"links\": {\"next\": \"?page=2\"}, \"releases\": [{}]}";
	run_doc(&collector_ocds_release_packages, &roomy, 0, doc, &r);
	assert_string_equal(r.next_url, "https://api.example.org/ocds/releases?page=2");
	harness_free(&r);
	harness_run(&collector_ocds_release_packages, &roomy, NULL, 0, doc, strlen(doc), 0, &r);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "links.next \"?page=2\" is not a URL"));
	harness_free(&r);
	/* Not paged kinds never have a next page. */
	assert_false(collector_ocds_jsonl.paged);
	assert_false(collector_budget_csv.paged);
}

static void
test_links_is_bounded(void **state)
{
	struct harness_result	 r;
	char			*doc, *big;
	size_t			 n = 70 * 1024;

	assert_non_null(big = malloc(n + 32));
	memcpy(big, "{\"next\": null, \"x\": \"", 21);
	memset(big + 21, 'a', n);
	strcpy(big + 21 + n, "\"}");
	doc = releases_doc(1, big);
	run_doc(&collector_ocds_release_packages, &roomy, 0, doc, &r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "line 5: links is larger than 65536 bytes");
	harness_free(&r);
	free(doc);
	free(big);
}

static void
test_a_record_larger_than_record_max_fails(void **state)
{
	struct collector_limits	 limits = roomy;
	struct harness_result	 r;
	char			*doc;

	doc = releases_doc(3, NULL);
	/* Each release is 32 bytes: 32 passes, 31 does not. */
	limits.record_max = 32;
	run_doc(&collector_ocds_release_packages, &limits, 0, doc, &r);
	assert_null(r.error);
	assert_int_equal(r.records, 3);
	harness_free(&r);
	limits.record_max = 31;
	for (size_t piece = 1; piece < 64; piece += 9) {
		harness_run(&collector_ocds_release_packages, &limits, PAGE_URL, 0, doc,
		    strlen(doc), piece, &r);
		assert_non_null(r.error);
		assert_string_equal(r.error, "line 3: release 0 is larger than 31 bytes");
		harness_free(&r);
	}
	/* Skipped records are held to it too: the earlier pull failed on them. */
	harness_run(&collector_ocds_release_packages, &limits, PAGE_URL, 1, doc, strlen(doc),
	    0, &r);
	assert_string_equal(r.error, "line 3: release 0 is larger than 31 bytes");
	harness_free(&r);
	free(doc);
}

/*
 * A large pull in 16 KiB pieces, the document made as it is read: what the collection
 * holds stays under a chunk and a record, whatever the size of the document.
 */
static void
test_memory_stays_bounded_on_a_large_pull(void **state)
{
	static const struct collector_limits limits = {
		.chunk_records = 5000, .chunk_bytes = 256 * 1024, .record_max = 64 * 1024,
	};
	struct collection	*c;
	struct collector_chunk	 chunk;
	enum collection_take	 rc;
	char			 release[1024], piece[16 * 1024];
	size_t			 fill = 0, max_buffered = 0, n;
	unsigned long long	 records = 0, total = 60000, written = 0;

	assert_non_null(c = collection_new(&collector_ocds_release_packages, &limits,
	    PAGE_URL, 0));
	n = (size_t)snprintf(piece, sizeof(piece), "{\"uri\": \"x\", \"releases\": [");
	fill = n;
	for (unsigned long long i = 0; i <= total; i++) {
		if (i < total)
			n = (size_t)snprintf(release, sizeof(release), "%s{\"ocid\": "
			    "\"ocds-213czf-%llu\", \"id\": \"%llu-tender\", \"date\": "
			    "\"2024-05-01T12:00:00Z\", \"tag\": [\"tender\"], \"tender\": "
			    "{\"title\": \"Servicios informáticos \\u00e9 \\\"%llu\\\"\", "
			    "\"value\": {\"amount\": 1311264.00, \"currency\": \"CLP\"}}}",
			    i > 0 ? ",\n" : "", i, i, i);
		else
			n = (size_t)snprintf(release, sizeof(release), "]}\n");
		for (size_t off = 0; off < n; ) {
			size_t room = sizeof(piece) - fill, take = n - off < room ? n - off : room;

			memcpy(piece + fill, release + off, take);
			fill += take;
			off += take;
			if (fill == sizeof(piece) || (i == total && off == n)) {
				assert_true(collection_write(c, piece, fill));
				written += fill;
				fill = 0;
				if (collection_buffered(c) > max_buffered)
					max_buffered = collection_buffered(c);
				while ((rc = collection_take(c, false, &chunk)) ==
				    COLLECTION_CHUNK)
					records += chunk.records;
				assert_int_equal(rc, COLLECTION_NONE);
			}
		}
	}
	while ((rc = collection_take(c, true, &chunk)) == COLLECTION_CHUNK)
		records += chunk.records;
	assert_int_equal(rc, COLLECTION_NONE);
	assert_int_equal(records, total);
	assert_int_equal(collection_records(c), total);
	assert_true(written > 20 * limits.chunk_bytes);
	if (max_buffered > limits.chunk_bytes + limits.record_max + sizeof(piece))
		fail_msg("held %zu bytes", max_buffered);
	collection_free(c);
}

static void
test_kinds_are_listed_and_found(void **state)
{
	const struct collector_ops *const *all;
	size_t n;

	n = collector_all(&all);
	assert_int_equal(n, 5);
	assert_ptr_equal(all[0], &collector_ocds_release_packages);
	assert_ptr_equal(all[4], &collector_projects_json);
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(collector_find(all[i]->kind), all[i]);
		assert_non_null(all[i]->help);
		assert_true(strlen(all[i]->help) > 20);
	}
	assert_null(collector_find("ocds"));
	assert_string_equal(COLLECTOR_CHOICES, "ocds_release_packages|ocds_record_packages|"
	    "ocds_jsonl|budget_csv|projects_json");
	assert_int_equal(collector_find("budget_csv")->ingest, INGEST_BUDGET);
	assert_int_equal(collector_find("budget_csv")->format, INGEST_CSV);
	assert_int_equal(collector_find("projects_json")->ingest, INGEST_PROJECTS);
	assert_int_equal(collector_find("ocds_jsonl")->ingest, INGEST_PROCUREMENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_release_and_record_packages),
		cmocka_unit_test(test_chunks_close_exactly_at_the_limits),
		cmocka_unit_test(test_skip_drops_what_an_interrupted_pull_committed),
		cmocka_unit_test(test_a_truncated_page_is_an_error_wherever_it_is_cut),
		cmocka_unit_test(test_malformed_pages_name_line_column_and_record),
		cmocka_unit_test(test_an_empty_array_is_a_page_without_records),
		cmocka_unit_test(test_links_next_is_resolved_and_checked),
		cmocka_unit_test(test_links_is_bounded),
		cmocka_unit_test(test_a_record_larger_than_record_max_fails),
		cmocka_unit_test(test_memory_stays_bounded_on_a_large_pull),
		cmocka_unit_test(test_kinds_are_listed_and_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
