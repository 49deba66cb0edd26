/*
 * The ocds_jsonl kind: OCDS as JSON lines, each a release, a release package or a
 * record package. Its records are the releases and records, counted across lines;
 * consecutive ones of the same sort share a chunk. Lines are read whole, so one line
 * is at most record_max bytes; there is no next page.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "kinds.h"

enum sort {
	SORT_NONE,
	SORT_RELEASES,
	SORT_RECORDS,
};

static const char *const sort_member[] = { "", "releases", "records" };
static const char *const sort_word[] = { "", "release", "record" };

struct jsonl {
	struct collector_limits	 limits;
	unsigned long long	 skip;
	struct chunk_builder	 chunks;
	enum sort		 sort;		/* of the chunk being filled */
	/* The line being read when it spans pieces. */
	char			*line;
	size_t			 line_len;
	size_t			 line_size;
	unsigned long		 line_number;
	unsigned long long	 records;
	bool			 ended;
	bool			 failed;
};

static bool	failure(struct jsonl *, char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static bool
failure(struct jsonl *j, char *error, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, errlen, fmt, ap);
	va_end(ap);
	j->failed = true;
	return false;
}

static void *
jsonl_open(const struct collector_limits *limits, unsigned long long skip)
{
	struct jsonl *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->limits = *limits;
	j->skip = skip;
	j->line_number = 1;
	chunk_builder_init(&j->chunks, limits);
	return j;
}

static void
jsonl_close(void *state)
{
	struct jsonl *j = state;

	if (j == NULL)
		return;
	chunk_builder_free(&j->chunks);
	free(j->line);
	free(j);
}

/* Releases and records never share a chunk: their bodies differ. */
static bool
use_sort(struct jsonl *j, enum sort sort)
{
	char	prefix[32];
	int	n;

	if (j->sort == sort)
		return true;
	if (!chunk_close(&j->chunks))
		return false;
	n = snprintf(prefix, sizeof(prefix), "{\"%s\":[", sort_member[sort]);
	if (!chunk_frame(&j->chunks, prefix, (size_t)n, ",", "]}"))
		return false;
	j->sort = sort;
	return true;
}

/* One record of the line: its bytes go into a chunk unless it is skipped. */
static bool
add_record(struct jsonl *j, enum sort sort, const char *text, size_t len)
{
	if (j->records++ < j->skip)
		return true;
	return use_sort(j, sort) &&
	    chunk_record_begin(&j->chunks, j->records - 1, j->line_number) &&
	    chunk_record_add(&j->chunks, text, len) &&
	    chunk_record_end(&j->chunks);
}

#define SPACE(c)	((c) == ' ' || (c) == '\t' || (c) == '\r')

/* A whole line, without its LF. */
static bool
read_line(struct jsonl *j, const char *text, size_t len, char *error, size_t errlen)
{
	struct jsonscan		 scan;
	enum sort		 sort = SORT_NONE;
	size_t			 pos = 0, from = 0, start, end;
	bool			 in_record = false, done = false;

	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (j->limits.record_max > 0 && len > j->limits.record_max)
		return failure(j, error, errlen, "line %lu: longer than %zu bytes",
		    j->line_number, j->limits.record_max);
	for (start = 0; start < len && SPACE(text[start]); start++)
		;
	if (start == len)
		return true;	/* a blank line */

	jsonscan_init(&scan, j->line_number, "line", true);
	while (!done) {
		switch (jsonscan_feed(&scan, text, len, &pos)) {
		case JSONSCAN_MORE:
			done = true;
			break;
		case JSONSCAN_ERROR:
			goto scan_error;
		case JSONSCAN_KEY:
			if (scan.key_long || (strcmp(scan.key, "releases") != 0 &&
			    strcmp(scan.key, "records") != 0)) {
				jsonscan_select(&scan, JSONSCAN_SKIP);
				break;
			}
			if (sort != SORT_NONE)
				return failure(j, error, errlen, "line %lu: a package with "
				    "a second array of releases or records (\"%s\")",
				    j->line_number, scan.key);
			sort = strcmp(scan.key, "releases") == 0 ? SORT_RELEASES :
			    SORT_RECORDS;
			jsonscan_select(&scan, JSONSCAN_ELEMENTS);
			break;
		case JSONSCAN_BEGIN:
			from = scan.at;
			in_record = true;
			break;
		case JSONSCAN_END:
			if (!add_record(j, sort, text + from, scan.at - from))
				return failure(j, error, errlen, "out of memory");
			in_record = false;
			break;
		case JSONSCAN_DONE:
			break;
		}
	}
	if (jsonscan_finish(&scan) == JSONSCAN_ERROR)
		goto scan_error;
	if (sort != SORT_NONE)
		return true;

	/* Not a package: the line is one release. */
	for (end = len; end > start && SPACE(text[end - 1]); end--)
		;
	if (!add_record(j, SORT_RELEASES, text + start, end - start))
		return failure(j, error, errlen, "out of memory");
	return true;

scan_error:
	if (in_record)
		return failure(j, error, errlen, "%s (in %s %llu)", scan.error,
		    sort_word[sort], j->records);
	return failure(j, error, errlen, "%s", scan.error);
}

static bool
jsonl_write(void *state, const char *data, size_t len, char *error, size_t errlen)
{
	struct jsonl	*j = state;
	const char	*nl;
	size_t		 pos = 0, n, size;
	char		*grown;

	if (j->failed || j->ended)
		return failure(j, error, errlen, "the document was read to its end already");
	while (pos < len) {
		nl = memchr(data + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (data + pos)) : len - pos;
		if (nl != NULL && j->line_len == 0) {
			/* The whole line is in this piece: read it where it is. */
			if (!read_line(j, data + pos, n, error, errlen))
				return false;
			j->line_number++;
			pos += n + 1;
			continue;
		}
		/* One byte more than record_max: the CR of a CRLF. */
		if (j->limits.record_max > 0 && n > j->limits.record_max + 1 - j->line_len)
			return failure(j, error, errlen, "line %lu: longer than %zu bytes",
			    j->line_number, j->limits.record_max);
		if (j->line_len + n > j->line_size) {
			size = j->line_size ? j->line_size : 4096;
			while (size < j->line_len + n)
				size *= 2;
			if ((grown = realloc(j->line, size)) == NULL)
				return failure(j, error, errlen, "out of memory");
			j->line = grown;
			j->line_size = size;
		}
		memcpy(j->line + j->line_len, data + pos, n);
		j->line_len += n;
		pos += n;
		if (nl != NULL) {
			if (!read_line(j, j->line, j->line_len, error, errlen))
				return false;
			j->line_number++;
			j->line_len = 0;
			pos++;
		}
	}
	return true;
}

static int
jsonl_take(void *state, bool end, struct collector_chunk *out, char *error,
    size_t errlen)
{
	struct jsonl	*j = state;
	int		 rc;

	if (j->failed) {
		snprintf(error, errlen, "the document could not be read");
		return -1;
	}
	if (end && !j->ended) {
		j->ended = true;
		if (j->line_len > 0 && !read_line(j, j->line, j->line_len, error, errlen))
			return -1;
		j->line_len = 0;
		if (!chunk_close(&j->chunks)) {
			failure(j, error, errlen, "out of memory");
			return -1;
		}
	}
	if ((rc = chunk_take(&j->chunks, out)) == -1)
		failure(j, error, errlen, "out of memory");
	return rc;
}

static const char *
jsonl_next(void *state)
{
	return NULL;
}

static unsigned long long
jsonl_records(void *state)
{
	struct jsonl *j = state;

	return j->records;
}

static size_t
jsonl_buffered(void *state)
{
	struct jsonl *j = state;

	return chunk_buffered(&j->chunks) + j->line_len;
}

const struct collector_ops collector_ocds_jsonl = {
	.kind = "ocds_jsonl",
	.ingest = INGEST_PROCUREMENT,
	.format = INGEST_JSON,
	.paged = false,
	.help = "OCDS as JSON lines, read as they stream in: each line a release, a "
	    "release package or a record package; one document, no pages.",
	.open = jsonl_open,
	.write = jsonl_write,
	.take = jsonl_take,
	.next = jsonl_next,
	.records = jsonl_records,
	.buffered = jsonl_buffered,
	.close = jsonl_close,
};
