/*
 * The budget_csv kind: Chile's budget law cut into chunks of whole CSV records that
 * read, with csv.c and budget_read_csv, exactly as the document does; the header at
 * the top of every chunk; quotes holding separators and line breaks; CRLF, lone CR and
 * blank lines; NUL bytes and unclosed quotes; skip; records too large.
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

#include "budget.h"
#include "collector.h"
#include "copy.h"
#include "csv.h"
#include "issues.h"
#include "sjson.h"
#include "collector_harness.h"

static const struct collector_limits roomy = {
	.chunk_records = 1000, .chunk_bytes = 16 * 1024 * 1024, .record_max = 64 * 1024,
};

#define HEADER	"Partida;Capítulo;Programa;Subtítulo;Ítem;Asignación;Denominación;" \
		"Monto Pesos;Monto Dólar"

static void
run(const struct collector_limits *limits, unsigned long long skip, const char *doc,
    size_t len, size_t piece, struct harness_result *r)
{
	harness_run(&collector_budget_csv, limits, NULL, skip, doc, len, piece, r);
}

/* The same outcome whole, byte by byte, in 7-byte pieces, and cut once anywhere. */
static void
run_every_way(const struct collector_limits *limits, unsigned long long skip,
    const char *doc, size_t len, bool every_cut, struct harness_result *whole)
{
	harness_run_every_way(&collector_budget_csv, limits, NULL, skip, doc, len, whole);
	if (!every_cut)
		return;
	for (size_t cut = 1; cut < len; cut++) {
		struct collection	*c;
		struct collector_chunk	 chunk;
		enum collection_take	 rc;
		size_t			 n = 0;

		assert_non_null(c = collection_new(&collector_budget_csv, limits, NULL, skip));
		if (!collection_write(c, doc, cut) || !collection_write(c, doc + cut, len - cut)) {
			assert_non_null(whole->error);
			assert_string_equal(collection_error(c), whole->error);
			collection_free(c);
			continue;
		}
		while ((rc = collection_take(c, true, &chunk)) == COLLECTION_CHUNK) {
			assert_true(n < whole->n);
			assert_int_equal(chunk.len, whole->chunks[n].len);
			assert_memory_equal(chunk.body, whole->chunks[n].body, chunk.len);
			assert_int_equal(chunk.first_line, whole->chunks[n].first_line);
			n++;
		}
		if (rc == COLLECTION_ERROR) {
			assert_non_null(whole->error);
			assert_string_equal(collection_error(c), whole->error);
		} else
			assert_int_equal(n, whole->n);
		collection_free(c);
	}
}

/* A CSV text's records as csv.c reads them: "field|field|...@line" each. */
static size_t
csv_records(const char *text, size_t len, char ***out)
{
	struct csv_reader	 rd;
	struct csv_record	 rec;
	size_t			 n = 0;
	char			*line = NULL;
	size_t			 size = 0;
	FILE			*f;
	int			 rc;

	*out = NULL;
	csv_reader_init(&rd, text, len, ';');
	while ((rc = csv_next(&rd, &rec)) == 1) {
		assert_non_null(f = open_memstream(&line, &size));
		for (size_t i = 0; i < rec.count; i++)
			fprintf(f, "%s%s", i ? "|" : "", rec.fields[i].data);
		fprintf(f, "@%lu", rec.line);
		fclose(f);
		assert_non_null(*out = realloc(*out, (n + 1) * sizeof(**out)));
		(*out)[n++] = line;
		line = NULL;
	}
	if (rc == -1)
		fail_msg("%s", csv_error(&rd));
	csv_reader_free(&rd);
	return n;
}

static void
free_records(char **records, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(records[i]);
	free(records);
}

/*
 * The chunks' records, read by csv.c one chunk at a time, are the document's records
 * (the header first in each chunk when the document has one); each chunk's
 * first_line is the document line of its first record.
 */
static void
assert_chunks_read_as_document(const struct harness_result *r, const char *doc,
    size_t len, bool header)
{
	char	**want, **got, *at;
	size_t	  nwant, ngot, k = header ? 1 : 0;

	nwant = csv_records(doc, len, &want);
	for (size_t i = 0; i < r->n; i++) {
		ngot = csv_records(r->chunks[i].body, r->chunks[i].len, &got);
		assert_int_equal(ngot, r->chunks[i].records + (header ? 1 : 0));
		if (header) {
			/* The header is the document's, without the line number. */
			*strrchr(got[0], '@') = '\0';
			assert_non_null(at = strrchr(want[0], '@'));
			assert_memory_equal(got[0], want[0], (size_t)(at - want[0]));
		}
		assert_int_equal(r->chunks[i].first, k - (header ? 1 : 0));
		assert_int_equal(r->chunks[i].first_line,
		    strtoul(strrchr(want[k], '@') + 1, NULL, 10));
		for (size_t j = header ? 1 : 0; j < ngot; j++, k++) {
			assert_true(k < nwant);
			/* Fields equal; lines differ (the chunk starts at its own line 1). */
			assert_non_null(at = strrchr(want[k], '@'));
			assert_memory_equal(got[j], want[k], (size_t)(at - want[k]) + 1);
		}
		free_records(got, ngot);
	}
	assert_int_equal(k, nwant);
	free_records(want, nwant);
}

/* Each chunk is a body POST /v1/budget?year=&phase= takes without an issue. */
static void
assert_budget_reads(const struct harness_chunk *chunk)
{
	struct budget_csv_params	 params = { .fiscal_year = 2024, .phase = "approved" };
	struct budget_scope		 scope = { .agency = NULL, .any_agency = true };
	struct budget_read_result	 result = { 0 };
	struct copy_rows		 rows;
	struct issue_list		 issues = { 0 };
	struct sjson_error		 err;

	assert_int_equal(copy_rows_init(&rows), 0);
	assert_int_equal(budget_read_csv(chunk->body, chunk->len, &params, &scope, &rows,
	    &issues, &err, &result), BUDGET_READ_OK);
	if (issues.count > 0)
		fail_msg("%s: %s", issues.items[0].pointer, issues.items[0].message);
	assert_int_equal(result.records, chunk->records);
	assert_false(rows.failed);
	issues_clear(&issues);
	copy_rows_free(&rows);
}

static void
test_real_budget_law_in_chunks_is_every_line_once(void **state)
{
	struct harness_result	 r;
	unsigned long long	 sum = 0;
	char			*doc;
	size_t			 len;

	if ((doc = shared_data_read("chile/budgetLaw.csv", &len)) == NULL)
		skip();
	run_every_way(&roomy, 0, doc, len, false, &r);
	if (r.error != NULL)
		fail_msg("%s", r.error);
	assert_int_equal(r.records, 9283);
	assert_int_equal(r.n, 10);
	for (size_t i = 0; i < r.n; i++) {
		sum += r.chunks[i].records;
		assert_budget_reads(&r.chunks[i]);
	}
	assert_int_equal(sum, 9283);
	harness_assert_chunk(&r, 9, 9000, 283, 9001);
	assert_chunks_read_as_document(&r, doc, len, false);
	harness_free(&r);

	/* By bytes: about 50 KiB each. */
	{
		struct collector_limits limits = roomy;

		limits.chunk_records = 1000000;
		limits.chunk_bytes = 50 * 1024;
		run(&limits, 0, doc, len, 4096, &r);
		assert_null(r.error);
		assert_true(r.n >= 9 && r.n <= 11);
		/* Full at the record that reaches 50 KiB; a record is under 300 bytes. */
		for (size_t i = 0; i + 1 < r.n; i++)
			assert_true(r.chunks[i].len >= limits.chunk_bytes &&
			    r.chunks[i].len < limits.chunk_bytes + 300);
		assert_chunks_read_as_document(&r, doc, len, false);
		harness_free(&r);
	}

	/* An interrupted pull committed 9000 lines. */
	run(&roomy, 9000, doc, len, 8192, &r);
	assert_null(r.error);
	assert_int_equal(r.records, 9283);
	assert_int_equal(r.n, 1);
	harness_assert_chunk(&r, 0, 9000, 283, 9001);
	harness_free(&r);
	free(doc);
}

static void
test_a_header_tops_every_chunk(void **state)
{
	struct collector_limits	 limits = roomy;
	struct harness_result	 r;
	char			*law, *doc;
	size_t			 len, n;
	const char		*heads[] = {
		HEADER "\r\n",
		"\xef\xbb\xbf" HEADER "\n",
		"\"Partida\";Capítulo;\"Programa\nde gasto\";Subtítulo;Ítem;Asignación;"
		    "Denominación;Monto Pesos;Monto Dólar\n",
	};

	if ((law = shared_data_read("chile/budgetLaw.csv", &len)) == NULL)
		skip();
	/* The first 2500 lines. */
	for (n = 0, len = 0; n < 2500; n++)
		len = (size_t)(strchr(law + len, '\n') - law) + 1;
	limits.chunk_records = 1000;
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		size_t hlen = strlen(heads[h]);

		assert_non_null(doc = malloc(hlen + len + 1));
		memcpy(doc, heads[h], hlen);
		memcpy(doc + hlen, law, len);
		run_every_way(&limits, 0, doc, hlen + len, false, &r);
		if (r.error != NULL)
			fail_msg("%s", r.error);
		assert_int_equal(r.records, 2500);
		assert_int_equal(r.n, 3);
		assert_int_equal(r.chunks[0].first_line, h == 2 ? 3 : 2);
		for (size_t i = 0; i < r.n; i++) {
			const char *head = heads[h] + (h == 1 ? 3 : 0);

			/* The header as written, without the byte order mark. */
			assert_memory_equal(r.chunks[i].body, head, strlen(head));
			assert_budget_reads(&r.chunks[i]);
		}
		assert_chunks_read_as_document(&r, doc, hlen + len, true);
		harness_free(&r);
		free(doc);
	}
	free(law);

	/* A header and nothing else: no records. */
	run_every_way(&roomy, 0, HEADER "\n", strlen(HEADER "\n"), true, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.records, 0);
	harness_free(&r);
}

static const char quoted[] =
    "01;01;01;08;;;\"OTROS\nINGRESOS; \"\"CORRIENTES\"\"\";126199;0\r\n"	/* 1-2 */
    "\n"
    "27;02;02;24;01;005;Programa \"\"4 a 7;2937559;0\r"			/* 4, lone CR */
    "01;01;01;09;;;APORTE FISCAL;18979823;0\n"				/* 5 */
    "\r\n"
    "01;01;01;10;;;\"X\r\nY\rZ\";2;0";					/* 7-9, no end */

static void
test_quotes_line_breaks_and_line_ends(void **state)
{
	struct collector_limits	 limits = roomy;
	struct harness_result	 r;

	limits.chunk_records = 1;
	run_every_way(&limits, 0, quoted, strlen(quoted), true, &r);
	if (r.error != NULL)
		fail_msg("%s", r.error);
	assert_int_equal(r.records, 4);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.chunks[0].body,
	    "01;01;01;08;;;\"OTROS\nINGRESOS; \"\"CORRIENTES\"\"\";126199;0\r\n");
	assert_int_equal(r.chunks[0].first_line, 1);
	assert_string_equal(r.chunks[1].body,
	    "27;02;02;24;01;005;Programa \"\"4 a 7;2937559;0\r");
	assert_int_equal(r.chunks[1].first_line, 4);
	assert_int_equal(r.chunks[2].first_line, 5);
	assert_string_equal(r.chunks[3].body, "01;01;01;10;;;\"X\r\nY\rZ\";2;0");
	assert_int_equal(r.chunks[3].first_line, 7);
	assert_chunks_read_as_document(&r, quoted, strlen(quoted), false);
	harness_free(&r);

	/* One chunk of them all, and skip. */
	run_every_way(&roomy, 2, quoted, strlen(quoted), true, &r);
	assert_int_equal(r.n, 1);
	harness_assert_chunk(&r, 0, 2, 2, 5);
	harness_free(&r);
}

static void
test_nul_bytes_and_broken_quotes_name_their_line(void **state)
{
	static const struct {
		const char	*doc;
		size_t		 len;
		const char	*error;
	} cases[] = {
#define CASE(doc, error)	{ doc, sizeof(doc) - 1, error }
		CASE("01;01;01;08;;;A;1;0\n01;01\0;01",
		    "line 2: budget line 1 holds a NUL byte"),
		CASE("01;01;01;08;;;A;1;0\n01;\"a\nb\0\";1",
		    "line 3: budget line 1 holds a NUL byte"),
		CASE("\0", "line 1: the first record holds a NUL byte"),
		CASE("01;01;01;08;;;A;1;0\n01;01;01;08;;;\"open\nmore;1;0\n",
		    "line 2: budget line 1: quoted field not closed"),
		CASE("01;01;01;08;;;A;1;0\r\n01;\"a\"b;1;0\n",
		    "line 2: budget line 1: unexpected character after a closing quote"),
#undef CASE
	};
	struct harness_result	r;
	char			what[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_every_way(&roomy, 0, cases[i].doc, cases[i].len, true, &r);
		snprintf(what, sizeof(what), "case %zu", i);
		harness_assert_error(&r, cases[i].error, what);
		harness_free(&r);
	}
}

static void
test_a_record_larger_than_record_max_fails(void **state)
{
	struct collector_limits	 limits = roomy;
	struct harness_result	 r;
	const char		*doc = "01;01;01;08;;;A;1;0\n"
	    "01;01;01;08;;;\"LONGER\nTEXT\";1;0\n";

	/* The second record is 32 bytes with its LF. */
	limits.record_max = 32;
	run_every_way(&limits, 0, doc, strlen(doc), true, &r);
	assert_null(r.error);
	harness_free(&r);
	limits.record_max = 31;
	run_every_way(&limits, 0, doc, strlen(doc), true, &r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "line 2: budget line 1 is larger than 31 bytes");
	harness_free(&r);
}

static void
test_empty_and_blank_documents_have_no_records(void **state)
{
	struct harness_result r;

	run_every_way(&roomy, 0, "", 0, true, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	harness_free(&r);
	run_every_way(&roomy, 0, "\n\r\n\r", 4, true, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	harness_free(&r);
	/* A byte order mark's first bytes, and then not one. */
	run_every_way(&roomy, 0, "\xef\xbb" "A;1", 5, true, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.chunks[0].body, "\xef\xbb" "A;1");
	harness_free(&r);
	run_every_way(&roomy, 0, "\xef", 1, true, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 1);
	harness_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_budget_law_in_chunks_is_every_line_once),
		cmocka_unit_test(test_a_header_tops_every_chunk),
		cmocka_unit_test(test_quotes_line_breaks_and_line_ends),
		cmocka_unit_test(test_nul_bytes_and_broken_quotes_name_their_line),
		cmocka_unit_test(test_a_record_larger_than_record_max_fails),
		cmocka_unit_test(test_empty_and_blank_documents_have_no_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
