/*
 * A reader of delimited text as Chile's public data is published: `;` (or `,`)
 * separated, UTF-8 with or without a BOM, CRLF or LF, RFC 4180 quoting. It reads a
 * buffer in memory, one record at a time, and knows the line each record starts on.
 * It also writes fields with the same quoting, for the read API's CSV pages.
 */
#ifndef ICTMON_CSV_H
#define ICTMON_CSV_H

#include <stdbool.h>
#include <stddef.h>

#define CSV_MAX_FIELDS		256		/* default cap on fields per record */
#define CSV_MAX_FIELD_LEN	(64 * 1024)	/* default cap on one field, in bytes */

/* One field: unquoted and unescaped, NUL-terminated at data[len]. */
struct csv_field {
	const char	*data;
	size_t		 len;
};

/* One record; its fields point into the reader and last until the next csv_next. */
struct csv_record {
	const struct csv_field	*fields;
	size_t			 count;
	unsigned long		 line;		/* 1-based line the record starts on */
};

/*
 * Rules, beyond RFC 4180:
 * - a UTF-8 BOM at the very start is skipped;
 * - a record ends at LF, CRLF or a lone CR; the last may lack one;
 * - blank lines are skipped (they are not a record of one empty field);
 * - a quote inside an unquoted field is kept as it is (DIPRES publishes
 *   `Programa ""4 a 7` unquoted), but after a closing quote only the separator or the
 *   end of the record may follow;
 * - NUL bytes, an unterminated quote, too many fields or too long a field are errors
 *   naming the line.
 * The caps may be changed after csv_reader_init.
 */
struct csv_reader {
	const char		*buf;
	size_t			 len;
	size_t			 pos;
	char			 sep;
	size_t			 max_fields;
	size_t			 max_field_len;
	unsigned long		 line;		/* line at pos */
	bool			 failed;
	/* Reused between records: field bytes, and the field table. */
	char			*text;
	size_t			 textsize;
	struct csv_field	*fields;
	size_t			 fieldsize;
	char			 error[160];
};

void	csv_reader_init(struct csv_reader *r, const char *buf, size_t len, char sep);
void	csv_reader_free(struct csv_reader *r);

/*
 * Reads the next record: 1 with the record, 0 at the end of the data, -1 on an error
 * (csv_error says what and where, "line N: ..."; every later call fails too).
 */
int	csv_next(struct csv_reader *r, struct csv_record *rec);
const char *csv_error(const struct csv_reader *r);

struct evbuffer;

/*
 * Appends one field as RFC 4180 writes it: quoted when it holds the separator, a
 * quote, CR or LF, its quotes doubled; as it is otherwise. The caller writes the
 * separators and the CRLF that ends a record. False when out of memory.
 */
bool	csv_put_field(struct evbuffer *out, const char *data, size_t len, char sep);

#endif
