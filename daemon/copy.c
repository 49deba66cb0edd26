/*
 * Rows in PostgreSQL's COPY text format (include/copy.h): each field escaped so that
 * no byte of it can end the field, the row or the data early. It builds the data only;
 * sending it is the db pool's work.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "copy.h"

int
copy_rows_init(struct copy_rows *c)
{
	memset(c, 0, sizeof(*c));
	if ((c->buf = evbuffer_new()) == NULL)
		return -1;
	return 0;
}

void
copy_rows_free(struct copy_rows *c)
{
	if (c->buf != NULL)
		evbuffer_free(c->buf);
	memset(c, 0, sizeof(*c));
}

static void
add(struct copy_rows *c, const void *bytes, size_t len)
{
	if (len > 0 && evbuffer_add(c->buf, bytes, len) == -1)
		c->failed = true;
}

static void
field_separator(struct copy_rows *c)
{
	if (c->fields++ > 0)
		add(c, "\t", 1);
}

/*
 * Backslash, tab, newline and carriage return are the bytes COPY's text format gives
 * a meaning to; every other byte stands for itself. A NUL cannot be stored in a
 * PostgreSQL text value at all, so it fails the rows rather than be cut or dropped.
 */
void
copy_fieldn(struct copy_rows *c, const char *text, size_t len)
{
	size_t run = 0, i;
	const char *escape;

	if (text == NULL) {
		copy_null(c);
		return;
	}
	field_separator(c);
	for (i = 0; i < len; i++) {
		switch (text[i]) {
		case '\\':	escape = "\\\\"; break;
		case '\t':	escape = "\\t"; break;
		case '\n':	escape = "\\n"; break;
		case '\r':	escape = "\\r"; break;
		case '\0':
			c->failed = true;
			continue;
		default:
			continue;
		}
		add(c, text + run, i - run);
		add(c, escape, 2);
		run = i + 1;
	}
	add(c, text + run, i - run);
}

void
copy_field(struct copy_rows *c, const char *text)
{
	if (text == NULL)
		copy_null(c);
	else
		copy_fieldn(c, text, strlen(text));
}

void
copy_fieldf(struct copy_rows *c, const char *fmt, ...)
{
	char small[128], *text = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->failed = true;
		field_separator(c);
		return;
	}
	if ((size_t)n >= sizeof(small)) {
		va_start(ap, fmt);
		n = vasprintf(&text, fmt, ap);
		va_end(ap);
		if (n < 0) {
			c->failed = true;
			field_separator(c);
			return;
		}
	}
	copy_fieldn(c, text, (size_t)n);
	if (text != small)
		free(text);
}

void
copy_null(struct copy_rows *c)
{
	field_separator(c);
	add(c, "\\N", 2);
}

void
copy_end_row(struct copy_rows *c)
{
	add(c, "\n", 1);
	c->rows++;
	c->fields = 0;
}
