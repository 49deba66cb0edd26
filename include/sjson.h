/*
 * Strict JSON for outside data. The reader rejects what jansson would accept but we
 * must not: NUL bytes (raw or \u0000), invalid UTF-8, lone surrogates, duplicate keys,
 * nesting deeper than a limit, over-long strings; it reports line and column. Numbers
 * keep their exact decimal text (amounts never pass through a C double): in a tree they
 * are jansson strings tagged as numbers, read with sjson_number() and written back as
 * numbers by sjson_dump(). A pull interface walks a large envelope and takes one record
 * at a time as a tree, so a 64 MiB body never becomes one 64 MiB tree.
 */
#ifndef ICTMON_SJSON_H
#define ICTMON_SJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct evbuffer;

/* NULL limits, or a field left 0, take the default. */
struct sjson_limits {
	int	max_depth;		/* default 64 */
	size_t	max_string;		/* bytes of one string after unescaping; default
					   1 MiB */
	size_t	max_number;		/* characters of a number; default 1000 (and an
					   exponent beyond ±1000 is refused) */
};

struct sjson_error {
	int	line;			/* 1-based */
	int	column;			/* 1-based, in characters */
	size_t	offset;			/* bytes from the start */
	char	message[160];
};

/* The whole buffer as one tree (nothing but white space may follow the value). */
json_t		*sjson_parse(const char *buf, size_t len, const struct sjson_limits *limits,
		    struct sjson_error *err);

/*
 * A number read by the strict reader: its exact text, or NULL if j is not one.
 * json_is_string() is true of a tagged number too (json_string_value() gives ""), so
 * ask sjson_number() first. jansson integers and reals are not tagged numbers.
 */
const char	*sjson_number(const json_t *j);
/* A tagged number from text; the text must be a JSON number. */
json_t		*sjson_number_new(const char *text);
bool		 sjson_is_number(const json_t *j);

/* Writes a tree compactly, tagged numbers as numbers. Returns false on allocation failure. */
bool		 sjson_dump(const json_t *j, struct evbuffer *out);
/* The same into a malloc'd NUL-terminated string. */
char		*sjson_dumps(const json_t *j);

/* Pull reader over a buffer. */
enum sjson_token {
	SJSON_ERROR = -1,
	SJSON_END = 0,			/* the document is complete */
	SJSON_OBJECT_BEGIN,
	SJSON_OBJECT_END,
	SJSON_ARRAY_BEGIN,
	SJSON_ARRAY_END,
	SJSON_KEY,			/* sjson_key() is the key */
	SJSON_SCALAR,			/* string, number, true, false or null */
};

struct sjson_reader;

struct sjson_reader	*sjson_reader_new(const char *buf, size_t len,
			    const struct sjson_limits *limits);
void			 sjson_reader_free(struct sjson_reader *r);
/* What comes next, consuming it (a SCALAR is consumed whole). */
enum sjson_token	 sjson_next(struct sjson_reader *r);
/* What comes next without consuming it. */
enum sjson_token	 sjson_peek(struct sjson_reader *r);
/* The key of the last SJSON_KEY, NUL-terminated, valid until the next call. */
const char		*sjson_key(const struct sjson_reader *r);
/*
 * Takes the next value whole (object, array or scalar) as a tree; with `start` and
 * `len` set to the bytes of its source text (for storing a record as received).
 * Returns NULL on error.
 */
json_t			*sjson_take(struct sjson_reader *r, const char **start, size_t *len);
/* Skips the next value whole. */
bool			 sjson_skip(struct sjson_reader *r);
/* Set once sjson_next/take/skip fails; NULL until then. */
const struct sjson_error *sjson_reader_error(const struct sjson_reader *r);

#endif
