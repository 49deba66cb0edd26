/*
 * What the collector tests share: running a document through a collection in pieces
 * of a given size the way the feed runner does (one chunk taken after each write and
 * held while the download goes on), keeping a copy of every chunk, and the checks made
 * on such runs. The fixtures of ../shared/data come from shared_data.h. Include after
 * cmocka.h.
 */
#ifndef ICTMON_COLLECTOR_HARNESS_H
#define ICTMON_COLLECTOR_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "sjson.h"
#include "shared_data.h"

struct harness_chunk {
	char			*body;
	size_t			 len;
	unsigned long long	 first;
	size_t			 records;
	unsigned long		 first_line;
};

struct harness_result {
	struct harness_chunk	*chunks;
	size_t			 n;
	unsigned long long	 records;
	char			*error;		/* NULL when the document was read whole */
	char			*next_url;
	size_t			 max_buffered;
};

static inline void
harness_keep(struct harness_result *r, const struct collector_chunk *chunk)
{
	struct harness_chunk *k;

	assert_non_null(r->chunks = realloc(r->chunks, (r->n + 1) * sizeof(*r->chunks)));
	k = &r->chunks[r->n++];
	assert_non_null(k->body = malloc(chunk->len + 1));
	memcpy(k->body, chunk->body, chunk->len);
	k->body[chunk->len] = '\0';
	k->len = chunk->len;
	k->first = chunk->first;
	k->records = chunk->records;
	k->first_line = chunk->first_line;
}

static inline void
harness_free(struct harness_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->chunks[i].body);
	free(r->chunks);
	free(r->error);
	free(r->next_url);
	memset(r, 0, sizeof(*r));
}

/* The document in pieces of `piece` bytes (0: whole) through a collection of `ops`. */
static inline void
harness_run(const struct collector_ops *ops, const struct collector_limits *limits,
    const char *url, unsigned long long skip, const char *doc, size_t len, size_t piece,
    struct harness_result *r)
{
	struct collection	*c;
	struct collector_chunk	 chunk;
	enum collection_take	 rc;
	const char		*held = NULL;
	char			*held_copy = NULL;
	size_t			 held_len = 0, n, writes = 0;

	memset(r, 0, sizeof(*r));
	assert_non_null(c = collection_new(ops, limits, url, skip));
	if (piece == 0)
		piece = len > 0 ? len : 1;
	for (size_t off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		if (!collection_write(c, doc + off, n)) {
			assert_non_null(r->error = strdup(collection_error(c)));
			goto out;
		}
		if (collection_buffered(c) > r->max_buffered)
			r->max_buffered = collection_buffered(c);
		/*
		 * The chunk taken before is left alone while the writes go on (checked
		 * after 1, 2, 4, ... writes: every time would be quadratic).
		 */
		writes++;
		if (held != NULL && (writes & (writes - 1)) == 0)
			assert_memory_equal(held, held_copy, held_len);
		rc = collection_take(c, false, &chunk);
		if (rc == COLLECTION_ERROR) {
			assert_non_null(r->error = strdup(collection_error(c)));
			goto out;
		}
		if (rc == COLLECTION_CHUNK) {
			harness_keep(r, &chunk);
			writes = 0;
			free(held_copy);
			held = chunk.body;
			held_len = chunk.len;
			assert_non_null(held_copy = malloc(held_len + 1));
			memcpy(held_copy, held, held_len);
		}
	}
	if (held != NULL)
		assert_memory_equal(held, held_copy, held_len);
	while ((rc = collection_take(c, true, &chunk)) == COLLECTION_CHUNK)
		harness_keep(r, &chunk);
	if (rc == COLLECTION_ERROR) {
		assert_non_null(r->error = strdup(collection_error(c)));
		goto out;
	}
	/* Asking again at the end gives nothing more, and no error. */
	assert_int_equal(collection_take(c, true, &chunk), COLLECTION_NONE);
	if (collection_next_url(c) != NULL)
		assert_non_null(r->next_url = strdup(collection_next_url(c)));
out:
	r->records = collection_records(c);
	free(held_copy);
	collection_free(c);
}

/* The run failed with exactly `want`; `what` names the case when it did not. */
static inline void
harness_assert_error(const struct harness_result *r, const char *want, const char *what)
{
	if (r->error == NULL || strcmp(r->error, want) != 0)
		fail_msg("%s:\n got %s\nwant %s", what, r->error ? r->error : "(none)", want);
}

/* Chunk i starts at record `first`, on line `first_line`, and holds `records`. */
static inline void
harness_assert_chunk(const struct harness_result *r, size_t i, unsigned long long first,
    size_t records, unsigned long first_line)
{
	assert_true(i < r->n);
	assert_int_equal(r->chunks[i].first, first);
	assert_int_equal(r->chunks[i].records, records);
	assert_int_equal(r->chunks[i].first_line, first_line);
}

/* Two runs that cut the same chunks. */
static inline void
harness_assert_same(const struct harness_result *a, const struct harness_result *b)
{
	if (a->error != NULL || b->error != NULL) {
		assert_non_null(a->error);
		assert_non_null(b->error);
		assert_string_equal(a->error, b->error);
	}
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->records, b->records);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->chunks[i].len, b->chunks[i].len);
		assert_memory_equal(a->chunks[i].body, b->chunks[i].body, a->chunks[i].len);
		assert_int_equal(a->chunks[i].first, b->chunks[i].first);
		assert_int_equal(a->chunks[i].records, b->chunks[i].records);
		assert_int_equal(a->chunks[i].first_line, b->chunks[i].first_line);
	}
}

/* The same outcome whole, byte by byte and in 7-byte pieces; the whole run's. */
static inline void
harness_run_every_way(const struct collector_ops *ops,
    const struct collector_limits *limits, const char *url, unsigned long long skip,
    const char *doc, size_t len, struct harness_result *whole)
{
	struct harness_result other;

	harness_run(ops, limits, url, skip, doc, len, 0, whole);
	for (size_t piece = 1; piece <= 7; piece += 6) {
		harness_run(ops, limits, url, skip, doc, len, piece, &other);
		harness_assert_same(whole, &other);
		harness_free(&other);
	}
}

/* The exact bytes of each element of a JSON document's member array, in order. */
struct harness_span {
	const char	*start;
	size_t		 len;
};

static inline size_t
harness_elements(const char *doc, size_t len, const char *member,
    struct harness_span **spans)
{
	struct sjson_reader	*rd;
	enum sjson_token	 tok;
	size_t			 n = 0;
	json_t			*j;

	*spans = NULL;
	assert_non_null(rd = sjson_reader_new(doc, len, NULL));
	assert_int_equal(sjson_next(rd), SJSON_OBJECT_BEGIN);
	while ((tok = sjson_next(rd)) == SJSON_KEY) {
		if (strcmp(sjson_key(rd), member) != 0) {
			assert_true(sjson_skip(rd));
			continue;
		}
		assert_int_equal(sjson_next(rd), SJSON_ARRAY_BEGIN);
		while (sjson_peek(rd) != SJSON_ARRAY_END) {
			assert_non_null(*spans = realloc(*spans, (n + 1) * sizeof(**spans)));
			assert_non_null(j = sjson_take(rd, &(*spans)[n].start, &(*spans)[n].len));
			json_decref(j);
			n++;
		}
		assert_int_equal(sjson_next(rd), SJSON_ARRAY_END);
	}
	assert_int_equal(tok, SJSON_OBJECT_END);
	sjson_reader_free(rd);
	return n;
}

/*
 * The chunks' elements, one after the other, are exactly the document's: the same
 * bytes, the same order, each chunk's `first` where it should be.
 */
static inline void
harness_assert_verbatim(const struct harness_result *r, const char *doc, size_t len,
    const char *member)
{
	struct harness_span	*want, *got;
	size_t			 nwant, ngot, k = 0;

	nwant = harness_elements(doc, len, member, &want);
	for (size_t i = 0; i < r->n; i++) {
		ngot = harness_elements(r->chunks[i].body, r->chunks[i].len, member, &got);
		assert_int_equal(ngot, r->chunks[i].records);
		assert_int_equal(r->chunks[i].first, k);
		for (size_t e = 0; e < ngot; e++, k++) {
			assert_true(k < nwant);
			assert_int_equal(got[e].len, want[k].len);
			assert_memory_equal(got[e].start, want[k].start, want[k].len);
		}
		free(got);
	}
	assert_int_equal(k, nwant);
	free(want);
}

#endif
