/*
 * The budget_csv kind: Chile's budget law as DIPRES publishes it (see budget.h),
 * `;`-separated with RFC 4180 quotes, cut into chunks of whole CSV records with the
 * header, when the document has one, at the top of each. Record boundaries, lines,
 * NUL bytes and unclosed quotes follow csv.c's rules, so that every chunk reads as the
 * document would; what the fields mean is left to budget_read_csv.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"

#define SEPARATOR	';'

enum csv_state {
	C_BOM,			/* the first bytes: maybe a UTF-8 byte order mark */
	C_RECORD_START,		/* between records: blank lines are skipped */
	C_RECORD_START_CR,	/* a blank line's CR: is an LF next? */
	C_FIELD_START,
	C_UNQUOTED,
	C_QUOTED,
	C_QUOTED_CR,
	C_QUOTE_SEEN,		/* a quote in a quoted field: closing, or "" */
	C_END_CR,		/* a record ended by CR: is an LF next? */
};

/* Where the bytes of the record being read go. */
enum csv_record {
	R_NONE,
	R_UNDECIDED,		/* the first record, until its first field says */
	R_HEADER,
	R_DATA,
	R_SKIPPED,
};

struct budget_csv {
	struct collector_limits	 limits;
	unsigned long long	 skip;
	struct chunk_builder	 chunks;
	enum csv_state		 state;
	enum csv_record		 record;
	unsigned		 bom_matched;
	bool			 first_record;
	unsigned long		 line;		/* of the byte being read */
	unsigned long		 record_line;
	unsigned long		 quote_line;
	unsigned		 field;		/* of the record, from 0 */
	size_t			 record_bytes;
	char			*head;		/* the first record, or the header */
	size_t			 head_len;
	unsigned long long	 records;	/* data records begun */
	bool			 ended;
	bool			 failed;
};

static bool	failure(struct budget_csv *, char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static bool
failure(struct budget_csv *b, char *error, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, errlen, fmt, ap);
	va_end(ap);
	b->failed = true;
	return false;
}

/* "budget line 12" or "the header": what the record being read is. */
static const char *
record_name(const struct budget_csv *b, char *buf, size_t len)
{
	if (b->record == R_HEADER || b->record == R_UNDECIDED)
		snprintf(buf, len, "the first record");
	else
		snprintf(buf, len, "budget line %llu", b->records);
	return buf;
}

static void *
budget_csv_open(const struct collector_limits *limits, unsigned long long skip)
{
	struct budget_csv *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->limits = *limits;
	b->skip = skip;
	b->state = C_BOM;
	b->first_record = true;
	b->line = 1;
	chunk_builder_init(&b->chunks, limits);
	return b;
}

static void
budget_csv_close(void *state)
{
	struct budget_csv *b = state;

	if (b == NULL)
		return;
	chunk_builder_free(&b->chunks);
	free(b->head);
	free(b);
}

static bool
head_add(struct budget_csv *b, const char *data, size_t len)
{
	char *grown;

	if (len == 0)
		return true;
	if ((grown = realloc(b->head, b->head_len + len + 1)) == NULL)
		return false;
	b->head = grown;
	memcpy(b->head + b->head_len, data, len);
	b->head_len += len;
	return true;
}

/* Bytes of the record being read. */
static bool
record_add(struct budget_csv *b, const char *data, size_t len, char *error, size_t errlen)
{
	char name[48];

	if (len == 0 || b->record == R_NONE)
		return true;
	if (b->limits.record_max > 0 && len > b->limits.record_max - b->record_bytes)
		return failure(b, error, errlen, "line %lu: %s is larger than %zu bytes",
		    b->record_line, record_name(b, name, sizeof(name)),
		    b->limits.record_max);
	b->record_bytes += len;
	switch (b->record) {
	case R_UNDECIDED:
	case R_HEADER:
		if (!head_add(b, data, len))
			return failure(b, error, errlen, "out of memory");
		break;
	case R_DATA:
		if (!chunk_record_add(&b->chunks, data, len))
			return failure(b, error, errlen, "out of memory");
		break;
	default:
		break;
	}
	return true;
}

/* A data record begins (or the first record turned out to be one). */
static bool
data_record(struct budget_csv *b)
{
	if (b->records < b->skip) {
		b->record = R_SKIPPED;
		return true;
	}
	b->record = R_DATA;
	return chunk_record_begin(&b->chunks, b->records, b->record_line);
}

static bool
record_start(struct budget_csv *b)
{
	b->record_line = b->line;
	b->record_bytes = 0;
	b->field = 0;
	if (!b->first_record)
		return data_record(b);
	b->record = R_UNDECIDED;
	return true;
}

/*
 * A field ended before `at`. The end of the first field of the first record decides
 * whether that record is the header: its bytes so far are all in `head`.
 */
static bool
field_end(struct budget_csv *b, const char *data, size_t *from, size_t at, char *error,
    size_t errlen)
{
	bool header;

	if (b->field++ != 0 || b->record != R_UNDECIDED)
		return true;
	if (!record_add(b, data + *from, at - *from, error, errlen))
		return false;
	*from = at;
	header = (b->head_len == 7 && memcmp(b->head, "Partida", 7) == 0) ||
	    (b->head_len == 9 && memcmp(b->head, "\"Partida\"", 9) == 0);
	if (header) {
		b->record = R_HEADER;
		return true;
	}
	if (!data_record(b) || (b->record == R_DATA &&
	    !chunk_record_add(&b->chunks, b->head, b->head_len)))
		return failure(b, error, errlen, "out of memory");
	b->head_len = 0;
	return true;
}

/* The record ended before `at` (after its line end, if it has one). */
static bool
record_end(struct budget_csv *b, const char *data, size_t *from, size_t at, char *error,
    size_t errlen)
{
	if (!record_add(b, data + *from, at - *from, error, errlen))
		return false;
	*from = at;
	switch (b->record) {
	case R_HEADER:
		/* Every chunk starts with it, so that each reads as the document does. */
		if (!chunk_frame(&b->chunks, b->head, b->head_len, "", ""))
			return failure(b, error, errlen, "out of memory");
		break;
	case R_DATA:
		if (!chunk_record_end(&b->chunks))
			return failure(b, error, errlen, "out of memory");
		b->records++;
		break;
	case R_SKIPPED:
		b->records++;
		break;
	default:
		break;
	}
	b->record = R_NONE;
	b->first_record = false;
	return true;
}

static bool
scan(struct budget_csv *b, const char *data, size_t len, char *error, size_t errlen)
{
	static const char	 bom[] = "\xef\xbb\xbf";
	size_t			 p = 0, from = 0;
	unsigned		 matched;
	char			 c, name[48];

	while (p < len) {
		c = data[p];
		switch (b->state) {
		case C_BOM:
			if (c == bom[b->bom_matched]) {
				p++;
				if (++b->bom_matched == 3)
					b->state = C_RECORD_START;
				break;
			}
			b->state = C_RECORD_START;
			if (b->bom_matched > 0) {
				/* Not a byte order mark after all: its bytes were data. */
				matched = b->bom_matched;
				b->bom_matched = 0;
				if (!scan(b, bom, matched, error, errlen))
					return false;
				from = p;
			}
			break;
		case C_RECORD_START:
			if (c == '\n') {
				b->line++;
				p++;
			} else if (c == '\r') {
				b->state = C_RECORD_START_CR;
				p++;
			} else {
				if (!record_start(b))
					return failure(b, error, errlen, "out of memory");
				from = p;
				b->state = C_FIELD_START;
			}
			break;
		case C_RECORD_START_CR:
			b->line++;
			if (c == '\n')
				p++;
			b->state = C_RECORD_START;
			break;
		case C_FIELD_START:
			if (c == '"') {
				b->quote_line = b->line;
				b->state = C_QUOTED;
				p++;
			} else
				b->state = C_UNQUOTED;
			break;
		case C_UNQUOTED:
			while (p < len && (c = data[p]) != SEPARATOR && c != '\n' &&
			    c != '\r' && c != '\0')
				p++;
			if (p == len)
				break;
			/* FALLTHROUGH */
		case C_QUOTE_SEEN:
			if (b->state == C_QUOTE_SEEN && c == '"') {
				b->state = C_QUOTED;	/* "" is one quote */
				p++;
				break;
			}
			if (c == SEPARATOR) {
				if (!field_end(b, data, &from, p, error, errlen))
					return false;
				b->state = C_FIELD_START;
				p++;
			} else if (c == '\n') {
				if (!field_end(b, data, &from, p, error, errlen))
					return false;
				b->line++;
				p++;
				if (!record_end(b, data, &from, p, error, errlen))
					return false;
				b->state = C_RECORD_START;
			} else if (c == '\r') {
				if (!field_end(b, data, &from, p, error, errlen))
					return false;
				b->state = C_END_CR;
				p++;
			} else if (c == '\0')
				return failure(b, error, errlen, "line %lu: %s holds a NUL byte",
				    b->line, record_name(b, name, sizeof(name)));
			else
				return failure(b, error, errlen, "line %lu: %s: unexpected "
				    "character after a closing quote", b->line,
				    record_name(b, name, sizeof(name)));
			break;
		case C_QUOTED:
			while (p < len && (c = data[p]) != '"' && c != '\n' && c != '\r' &&
			    c != '\0')
				p++;
			if (p == len)
				break;
			if (c == '"')
				b->state = C_QUOTE_SEEN;
			else if (c == '\n')
				b->line++;
			else if (c == '\r')
				b->state = C_QUOTED_CR;
			else
				return failure(b, error, errlen, "line %lu: %s holds a NUL byte",
				    b->line, record_name(b, name, sizeof(name)));
			p++;
			break;
		case C_QUOTED_CR:
			/* CRLF counts as one line, at its LF. */
			if (c != '\n')
				b->line++;
			b->state = C_QUOTED;
			break;
		case C_END_CR:
			b->line++;
			if (c == '\n')
				p++;
			if (!record_end(b, data, &from, p, error, errlen))
				return false;
			b->state = C_RECORD_START;
			break;
		}
	}
	return record_add(b, data + from, len - from, error, errlen);
}

static bool
budget_csv_write(void *state, const char *data, size_t len, char *error, size_t errlen)
{
	struct budget_csv *b = state;

	if (b->failed || b->ended)
		return failure(b, error, errlen, "the document was read to its end already");
	return scan(b, data, len, error, errlen);
}

/* The end of the document: a record without a line end ends here. */
static bool
finish(struct budget_csv *b, char *error, size_t errlen)
{
	char	name[48];
	size_t	from = 0;

	switch (b->state) {
	case C_BOM:
		if (b->bom_matched > 0 && b->bom_matched < 3) {
			b->state = C_RECORD_START;
			if (!scan(b, "\xef\xbb", b->bom_matched, error, errlen))
				return false;
			return finish(b, error, errlen);
		}
		return true;
	case C_RECORD_START:
		return true;
	case C_RECORD_START_CR:
		b->line++;
		return true;
	case C_QUOTED:
	case C_QUOTED_CR:
		return failure(b, error, errlen, "line %lu: %s: quoted field not closed",
		    b->quote_line, record_name(b, name, sizeof(name)));
	case C_END_CR:
		b->line++;
		return record_end(b, "", &from, 0, error, errlen);
	default:	/* C_FIELD_START, C_UNQUOTED, C_QUOTE_SEEN */
		return field_end(b, "", &from, 0, error, errlen) &&
		    record_end(b, "", &from, 0, error, errlen);
	}
}

static int
budget_csv_take(void *state, bool end, struct collector_chunk *out, char *error,
    size_t errlen)
{
	struct budget_csv	*b = state;
	int			 rc;

	if (b->failed) {
		snprintf(error, errlen, "the document could not be read");
		return -1;
	}
	if (end && !b->ended) {
		b->ended = true;
		if (!finish(b, error, errlen))
			return -1;
		if (!chunk_close(&b->chunks)) {
			failure(b, error, errlen, "out of memory");
			return -1;
		}
	}
	if ((rc = chunk_take(&b->chunks, out)) == -1)
		failure(b, error, errlen, "out of memory");
	return rc;
}

static const char *
budget_csv_next(void *state)
{
	return NULL;
}

static unsigned long long
budget_csv_records(void *state)
{
	struct budget_csv *b = state;

	return b->records;
}

static size_t
budget_csv_buffered(void *state)
{
	struct budget_csv *b = state;

	return chunk_buffered(&b->chunks) + b->head_len;
}

const struct collector_ops collector_budget_csv = {
	.kind = "budget_csv",
	.ingest = INGEST_BUDGET,
	.format = INGEST_CSV,
	.paged = false,
	.help = "Chile's budget law in DIPRES's CSV layout (Partida;Capitulo;Programa;"
	    "Subtitulo;Item;Asignacion;Denominacion;Monto Pesos;Monto Dolar, `;`-separated, "
	    "an optional header), for the feed's fiscal year and phase; one document, no "
	    "pages.",
	.open = budget_csv_open,
	.write = budget_csv_write,
	.take = budget_csv_take,
	.next = budget_csv_next,
	.records = budget_csv_records,
	.buffered = budget_csv_buffered,
	.close = budget_csv_close,
};
