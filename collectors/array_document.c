/*
 * Documents that are one JSON object holding an array of records ({"releases": [...]},
 * {"records": [...]}, {"projects": [...]}) and, for paged feeds, links.next: the array's
 * elements are copied into chunks byte for byte as they stream in; the rest of the
 * document is checked and dropped, but for `links`, kept to be read once complete.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonscan.h"
#include "kinds.h"

#define LINKS_MAX	(64 * 1024)	/* bytes of the `links` member's value */

/* What the scanner's last BEGIN started. */
enum part {
	PART_NONE,
	PART_RECORD,
	PART_LINKS,
};

struct array_document {
	const struct array_document_kind *kind;
	struct collector_limits	 limits;
	unsigned long long	 skip;
	struct jsonscan		 scan;
	struct chunk_builder	 chunks;
	bool			 found;		/* the member holding the records */
	bool			 links_seen;
	bool			 links_next_begin;	/* the next BEGIN is links' value */
	enum part		 part;
	size_t			 part_bytes;
	unsigned long		 part_line;
	bool			 kept;		/* the record is not skipped */
	unsigned long long	 records;	/* whole records read */
	char			*links;
	size_t			 links_len;
	bool			 ended;
	bool			 failed;
	char			*next;
};

static bool	failure(struct array_document *, char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static bool
failure(struct array_document *a, char *error, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, errlen, fmt, ap);
	va_end(ap);
	a->failed = true;
	return false;
}

/* A message of the scanner, saying in which record it happened. */
static bool
scan_failure(struct array_document *a, char *error, size_t errlen)
{
	if (a->part == PART_RECORD)
		return failure(a, error, errlen, "%s (in %s %llu, which starts at line %lu)",
		    a->scan.error, a->kind->word, a->records, a->part_line);
	return failure(a, error, errlen, "%s", a->scan.error);
}

void *
array_document_open(const struct array_document_kind *kind,
    const struct collector_limits *limits, unsigned long long skip)
{
	struct array_document	*a;
	char			 prefix[64];
	int			 n;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->kind = kind;
	a->limits = *limits;
	a->skip = skip;
	jsonscan_init(&a->scan, 1, "document", true);
	chunk_builder_init(&a->chunks, limits);
	n = snprintf(prefix, sizeof(prefix), "{\"%s\":[", kind->member);
	if (n < 0 || (size_t)n >= sizeof(prefix) ||
	    !chunk_frame(&a->chunks, prefix, (size_t)n, ",", "]}")) {
		array_document_close(a);
		return NULL;
	}
	return a;
}

/* Bytes of the value being read, if one is. */
static bool
part_add(struct array_document *a, const char *data, size_t len, char *error,
    size_t errlen)
{
	char	*grown;

	if (len == 0 || a->part == PART_NONE)
		return true;
	if (a->part == PART_LINKS) {
		if (len > LINKS_MAX - a->links_len)
			return failure(a, error, errlen, "line %lu: links is larger than %d "
			    "bytes", a->part_line, LINKS_MAX);
		if ((grown = realloc(a->links, a->links_len + len)) == NULL)
			return failure(a, error, errlen, "out of memory");
		a->links = grown;
		memcpy(a->links + a->links_len, data, len);
		a->links_len += len;
		return true;
	}
	if (a->limits.record_max > 0 && len > a->limits.record_max - a->part_bytes)
		return failure(a, error, errlen, "line %lu: %s %llu is larger than %zu bytes",
		    a->part_line, a->kind->word, a->records, a->limits.record_max);
	a->part_bytes += len;
	if (a->kept && !chunk_record_add(&a->chunks, data, len))
		return failure(a, error, errlen, "out of memory");
	return true;
}

/* A member of the document: the records' array, links, or something to skip. */
static bool
on_key(struct array_document *a, char *error, size_t errlen)
{
	const struct jsonscan *s = &a->scan;

	if (!s->key_long && strcmp(s->key, a->kind->member) == 0) {
		/* Duplicates: one body must not say two things. */
		if (a->found)
			return failure(a, error, errlen, "line %lu: a second \"%s\" member",
			    s->line, a->kind->member);
		a->found = true;
		jsonscan_select(&a->scan, JSONSCAN_ELEMENTS);
	} else if (!s->key_long && strcmp(s->key, "links") == 0) {
		if (a->links_seen)
			return failure(a, error, errlen, "line %lu: a second \"links\" "
			    "member", s->line);
		a->links_seen = true;
		a->links_next_begin = true;
		jsonscan_select(&a->scan, JSONSCAN_VALUE);
	} else
		jsonscan_select(&a->scan, JSONSCAN_SKIP);
	return true;
}

bool
array_document_write(void *state, const char *data, size_t len, char *error,
    size_t errlen)
{
	struct array_document	*a = state;
	size_t			 pos = 0, from = 0;

	if (a->failed || a->ended)
		return failure(a, error, errlen, "the document was read to its end already");
	for (;;) {
		switch (jsonscan_feed(&a->scan, data, len, &pos)) {
		case JSONSCAN_MORE:
			return part_add(a, data + from, len - from, error, errlen);
		case JSONSCAN_ERROR:
			return scan_failure(a, error, errlen);
		case JSONSCAN_KEY:
			if (!on_key(a, error, errlen))
				return false;
			break;
		case JSONSCAN_BEGIN:
			from = a->scan.at;
			a->part_bytes = 0;
			a->part_line = a->scan.line;
			if (a->links_next_begin) {
				a->links_next_begin = false;
				a->part = PART_LINKS;
				break;
			}
			a->part = PART_RECORD;
			a->kept = a->records >= a->skip;
			if (a->kept && !chunk_record_begin(&a->chunks, a->records,
			    a->part_line))
				return failure(a, error, errlen, "out of memory");
			break;
		case JSONSCAN_END:
			if (!part_add(a, data + from, a->scan.at - from, error, errlen))
				return false;
			if (a->part == PART_RECORD) {
				if (a->kept && !chunk_record_end(&a->chunks))
					return failure(a, error, errlen, "out of memory");
				a->records++;
			}
			a->part = PART_NONE;
			break;
		case JSONSCAN_DONE:
			break;	/* white space may follow, nothing else */
		}
	}
}

/* links.next of the complete document, if it names one. */
static bool
read_links(struct array_document *a, char *error, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*links, *next;
	bool		 ok = false;

	if (!a->links_seen)
		return true;
	if ((links = json_loadb(a->links, a->links_len, JSON_DECODE_ANY, &jerr)) == NULL)
		return failure(a, error, errlen, "links: %s", jerr.text);
	if (json_is_null(links)) {
		ok = true;
		goto out;
	}
	if (!json_is_object(links)) {
		failure(a, error, errlen, "links is not an object");
		goto out;
	}
	next = json_object_get(links, "next");
	if (next == NULL || json_is_null(next)) {
		ok = true;
		goto out;
	}
	if (!json_is_string(next) || json_string_length(next) == 0 ||
	    strlen(json_string_value(next)) != json_string_length(next)) {
		failure(a, error, errlen, "links.next is not a URL (a non-empty string)");
		goto out;
	}
	if ((a->next = strdup(json_string_value(next))) == NULL) {
		failure(a, error, errlen, "out of memory");
		goto out;
	}
	ok = true;
out:
	json_decref(links);
	return ok;
}

int
array_document_take(void *state, bool end, struct collector_chunk *out, char *error,
    size_t errlen)
{
	struct array_document	*a = state;
	int			 rc;

	if (a->failed) {
		snprintf(error, errlen, "the document could not be read");
		return -1;
	}
	if (end && !a->ended) {
		a->ended = true;
		if (jsonscan_finish(&a->scan) == JSONSCAN_ERROR) {
			scan_failure(a, error, errlen);
			return -1;
		}
		if (!a->found) {
			failure(a, error, errlen, "the document has no \"%s\" array",
			    a->kind->member);
			return -1;
		}
		if (!read_links(a, error, errlen))
			return -1;
		if (!chunk_close(&a->chunks)) {
			failure(a, error, errlen, "out of memory");
			return -1;
		}
	}
	if ((rc = chunk_take(&a->chunks, out)) == -1)
		failure(a, error, errlen, "out of memory");
	return rc;
}

const char *
array_document_next(void *state)
{
	struct array_document *a = state;

	return a->ended && !a->failed ? a->next : NULL;
}

unsigned long long
array_document_records(void *state)
{
	struct array_document *a = state;

	return a->records;
}

size_t
array_document_buffered(void *state)
{
	struct array_document *a = state;

	return chunk_buffered(&a->chunks) + a->links_len;
}

void
array_document_close(void *state)
{
	struct array_document *a = state;

	if (a == NULL)
		return;
	chunk_builder_free(&a->chunks);
	free(a->links);
	free(a->next);
	free(a);
}
