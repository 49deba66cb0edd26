/*
 * The delimited-text reader (see csv.h for its rules): a byte-at-a-time state machine
 * over a buffer in memory; and the field writer with the same quoting. It knows nothing
 * of what the columns mean.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "csv.h"

void
csv_reader_init(struct csv_reader *r, const char *buf, size_t len, char sep)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	r->sep = sep;
	r->max_fields = CSV_MAX_FIELDS;
	r->max_field_len = CSV_MAX_FIELD_LEN;
	r->line = 1;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		r->pos = 3;
}

void
csv_reader_free(struct csv_reader *r)
{
	free(r->text);
	free(r->fields);
	r->text = NULL;
	r->fields = NULL;
	r->textsize = r->fieldsize = 0;
}

const char *
csv_error(const struct csv_reader *r)
{
	return r->error;
}

static int
fail(struct csv_reader *r, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct csv_reader *r, unsigned long line, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(r->error, sizeof(r->error), "line %lu: ", line);
	va_start(ap, fmt);
	vsnprintf(r->error + n, sizeof(r->error) - (size_t)n, fmt, ap);
	va_end(ap);
	r->failed = true;
	return -1;
}

/* Appends one byte of the current field to the text buffer; `used` counts all bytes. */
static bool
text_put(struct csv_reader *r, size_t *used, char c)
{
	char	*grown;
	size_t	 size;

	if (*used + 1 >= r->textsize) {
		size = r->textsize ? r->textsize * 2 : 256;
		if ((grown = realloc(r->text, size)) == NULL)
			return false;
		r->text = grown;
		r->textsize = size;
	}
	r->text[(*used)++] = c;
	return true;
}

/*
 * Ends a field: NUL-terminates it and records its length. Its pointer is set once
 * the record is complete, as the text buffer may still move; fields lie in it one
 * after the other, each followed by its NUL.
 */
static int
field_end(struct csv_reader *r, size_t *used, size_t start, size_t *count)
{
	struct csv_field	*grown;
	size_t			 size;

	if (*count == r->max_fields)
		return fail(r, r->line, "more than %zu fields", r->max_fields);
	if (*count == r->fieldsize) {
		size = r->fieldsize ? r->fieldsize * 2 : 16;
		if ((grown = reallocarray(r->fields, size, sizeof(*grown))) == NULL)
			return fail(r, r->line, "out of memory");
		r->fields = grown;
		r->fieldsize = size;
	}
	if (!text_put(r, used, '\0'))
		return fail(r, r->line, "out of memory");
	r->fields[*count].data = NULL;
	r->fields[*count].len = *used - 1 - start;
	(*count)++;
	return 0;
}

/* Consumes a line ending at pos, if there is one: LF, CRLF or a lone CR. */
static bool
line_end(struct csv_reader *r)
{
	if (r->pos < r->len && r->buf[r->pos] == '\n') {
		r->pos++;
	} else if (r->pos < r->len && r->buf[r->pos] == '\r') {
		r->pos++;
		if (r->pos < r->len && r->buf[r->pos] == '\n')
			r->pos++;
	} else
		return false;
	r->line++;
	return true;
}

int
csv_next(struct csv_reader *r, struct csv_record *rec)
{
	size_t		used = 0, start, count = 0;
	unsigned long	quote_line;
	char		c;

	if (r->failed)
		return -1;
	while (line_end(r))
		;			/* blank lines */
	if (r->pos >= r->len)
		return 0;
	rec->line = r->line;

	for (;;) {
		start = used;
		if (r->pos < r->len && r->buf[r->pos] == '"') {
			quote_line = r->line;
			r->pos++;
			for (;;) {
				if (r->pos >= r->len)
					return fail(r, quote_line,
					    "quoted field not closed");
				c = r->buf[r->pos++];
				if (c == '\0')
					return fail(r, r->line, "NUL byte");
				if (c == '"') {
					if (r->pos < r->len && r->buf[r->pos] == '"')
						r->pos++;	/* "" is one quote */
					else
						break;
				} else if (c == '\n' || (c == '\r' &&
				    (r->pos >= r->len || r->buf[r->pos] != '\n')))
					r->line++;
				if (used - start == r->max_field_len)
					return fail(r, r->line,
					    "field longer than %zu bytes",
					    r->max_field_len);
				if (!text_put(r, &used, c))
					return fail(r, r->line, "out of memory");
			}
			if (r->pos < r->len && r->buf[r->pos] != r->sep &&
			    r->buf[r->pos] != '\n' && r->buf[r->pos] != '\r')
				return fail(r, r->line,
				    "unexpected character after a closing quote");
		} else {
			while (r->pos < r->len) {
				c = r->buf[r->pos];
				if (c == r->sep || c == '\n' || c == '\r')
					break;
				if (c == '\0')
					return fail(r, r->line, "NUL byte");
				if (used - start == r->max_field_len)
					return fail(r, r->line,
					    "field longer than %zu bytes",
					    r->max_field_len);
				if (!text_put(r, &used, c))
					return fail(r, r->line, "out of memory");
				r->pos++;
			}
		}
		if (field_end(r, &used, start, &count) == -1)
			return -1;
		if (r->pos < r->len && r->buf[r->pos] == r->sep) {
			r->pos++;
			continue;
		}
		(void)line_end(r);
		break;
	}

	start = 0;
	for (size_t i = 0; i < count; i++) {
		r->fields[i].data = r->text + start;
		start += r->fields[i].len + 1;
	}
	rec->fields = r->fields;
	rec->count = count;
	return 1;
}

bool
csv_put_field(struct evbuffer *out, const char *data, size_t len, char sep)
{
	const char	*p, *end = data + len;
	size_t		 n;

	for (p = data; p < end; p++)
		if (*p == sep || *p == '"' || *p == '\r' || *p == '\n')
			break;
	if (p == end)
		return evbuffer_add(out, data, len) == 0;
	if (evbuffer_add(out, "\"", 1) == -1)
		return false;
	for (p = data; p < end; p += n) {
		const char *quote = memchr(p, '"', (size_t)(end - p));

		/* Up to and with the quote, and the quote once more. */
		n = quote != NULL ? (size_t)(quote - p) + 1 : (size_t)(end - p);
		if (evbuffer_add(out, p, n) == -1 ||
		    (quote != NULL && evbuffer_add(out, "\"", 1) == -1))
			return false;
	}
	return evbuffer_add(out, "\"", 1) == 0;
}
