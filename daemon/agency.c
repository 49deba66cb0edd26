/*
 * Agency codes and Chile's institutions.csv: from the budget's Partida/Capítulo/Programa
 * rows to ministries and services with stable codes. Storing them is the callers' job.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency.h"
#include "csv.h"
#include "utf8.h"

#define INSTITUTION_FIELDS	4
#define NAME_MAX_BYTES		1024
#define PARTIDA_MAX		99
#define CAPITULO_MAX		99
#define PROGRAMA_MAX		99

bool
agency_code_valid(const char *code)
{
	size_t i;

	if (code == NULL)
		return false;
	for (i = 0; code[i] != '\0'; i++) {
		char c = code[i];
		bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z');

		if (i == AGENCY_CODE_MAX)
			return false;
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return i > 0;
}

const char *
agency_kind_name(enum agency_kind kind)
{
	switch (kind) {
	case AGENCY_MINISTRY:
		return "ministry";
	case AGENCY_SERVICE:
		return "service";
	case AGENCY_UNMAPPED:
		return "unmapped";
	}
	return "unknown";
}

void
agency_list_free(struct agency_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->entries[i].name);
	free(list->entries);
	memset(list, 0, sizeof(*list));
}

static bool
failf(char *err, size_t errlen, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool
failf(char *err, size_t errlen, unsigned long line, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(err, errlen, "line %lu: ", line);
	if (n < 0 || (size_t)n >= errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* A budget number: 1 to 3 digits (leading zeros allowed), at most max. */
static bool
parse_number(const struct csv_field *f, int min, int max, int *out)
{
	int v = 0;

	if (f->len == 0 || f->len > 3)
		return false;
	for (size_t i = 0; i < f->len; i++) {
		if (f->data[i] < '0' || f->data[i] > '9')
			return false;
		v = v * 10 + (f->data[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The name without surrounding spaces, tabs and no-break spaces (as Excel leaves). */
static char *
trimmed_copy(const char *s, size_t len)
{
	char *copy;

	for (;;) {
		if (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
			s++;
			len--;
		} else if (len > 1 && memcmp(s, "\xc2\xa0", 2) == 0) {
			s += 2;
			len -= 2;
		} else
			break;
	}
	for (;;) {
		if (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		else if (len > 1 && memcmp(s + len - 2, "\xc2\xa0", 2) == 0)
			len -= 2;
		else
			break;
	}
	if ((copy = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

/* Moves every entry of `kind` from `from` to the end of `to`, keeping their order. */
static void
take_kind(struct agency_list *to, struct agency_entry *from, size_t n,
    enum agency_kind kind)
{
	for (size_t i = 0; i < n; i++) {
		if (from[i].kind == kind)
			to->entries[to->count++] = from[i];
	}
}

bool
agency_parse_institutions(const char *buf, size_t len, struct agency_list *out,
    char *err, size_t errlen)
{
	struct csv_reader	 csv;
	struct csv_record	 rec;
	struct agency_entry	*rows = NULL, *grown, *e;
	size_t			 nrows = 0, rowsize = 0, programs = 0;
	/* Where each code was first seen, to report duplicates with both lines. */
	unsigned long		 ministry_line[PARTIDA_MAX + 1] = { 0 };
	unsigned long		*service_line = NULL;
	int			 partida, capitulo, programa, rc;
	bool			 ok = false;

	memset(out, 0, sizeof(*out));
	csv_reader_init(&csv, buf, len, ';');
	csv.max_fields = 16;
	csv.max_field_len = NAME_MAX_BYTES;
	if ((service_line = calloc((PARTIDA_MAX + 1) * (CAPITULO_MAX + 1),
	    sizeof(*service_line))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}

	while ((rc = csv_next(&csv, &rec)) == 1) {
		const struct csv_field *f = rec.fields;

		if (rec.count != INSTITUTION_FIELDS) {
			failf(err, errlen, rec.line, "expected 4 fields "
			    "(Partida;Capítulo;Programa;Name), found %zu", rec.count);
			goto out;
		}
		if (!parse_number(&f[0], 1, PARTIDA_MAX, &partida)) {
			failf(err, errlen, rec.line, "Partida '%s' is not a number from 1 "
			    "to %d", f[0].data, PARTIDA_MAX);
			goto out;
		}
		if (!parse_number(&f[1], 0, CAPITULO_MAX, &capitulo)) {
			failf(err, errlen, rec.line, "Capítulo '%s' is not a number from "
			    "0 to %d", f[1].data, CAPITULO_MAX);
			goto out;
		}
		if (!parse_number(&f[2], 0, PROGRAMA_MAX, &programa)) {
			failf(err, errlen, rec.line, "Programa '%s' is not a number from "
			    "0 to %d", f[2].data, PROGRAMA_MAX);
			goto out;
		}
		if (!utf8_valid(f[3].data, f[3].len)) {
			failf(err, errlen, rec.line, "the name is not valid UTF-8");
			goto out;
		}
		if (programa > 0) {
			programs++;
			continue;
		}

		if (nrows == rowsize) {
			rowsize = rowsize ? rowsize * 2 : 64;
			if ((grown = reallocarray(rows, rowsize, sizeof(*rows))) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			rows = grown;
		}
		e = &rows[nrows];
		memset(e, 0, sizeof(*e));
		e->line = rec.line;
		if ((e->name = trimmed_copy(f[3].data, f[3].len)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		nrows++;
		if (e->name[0] == '\0') {
			failf(err, errlen, rec.line, "the name is empty");
			goto out;
		}
		if (capitulo == 0) {
			e->kind = AGENCY_MINISTRY;
			snprintf(e->code, sizeof(e->code), "%02d", partida);
			if (ministry_line[partida] != 0) {
				failf(err, errlen, rec.line, "ministry %s already on line %lu",
				    e->code, ministry_line[partida]);
				goto out;
			}
			ministry_line[partida] = rec.line;
		} else {
			unsigned long *seen =
			    &service_line[partida * (CAPITULO_MAX + 1) + capitulo];

			e->kind = AGENCY_SERVICE;
			snprintf(e->code, sizeof(e->code), "%02d-%02d", partida, capitulo);
			snprintf(e->parent, sizeof(e->parent), "%02d", partida);
			if (*seen != 0) {
				failf(err, errlen, rec.line, "agency %s already on line %lu",
				    e->code, *seen);
				goto out;
			}
			*seen = rec.line;
		}
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s", csv_error(&csv));
		goto out;
	}

	/* A ministry may come after its services in the file, so check at the end. */
	for (size_t i = 0; i < nrows; i++) {
		if (rows[i].kind == AGENCY_SERVICE &&
		    ministry_line[atoi(rows[i].parent)] == 0) {
			failf(err, errlen, rows[i].line, "agency %s: no ministry row for "
			    "Partida %s", rows[i].code, rows[i].parent);
			goto out;
		}
	}

	/* Parents first, so that a caller can insert in order. */
	if (nrows > 0 && (out->entries = calloc(nrows, sizeof(*rows))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	take_kind(out, rows, nrows, AGENCY_MINISTRY);
	out->ministries = out->count;
	take_kind(out, rows, nrows, AGENCY_SERVICE);
	out->services = out->count - out->ministries;
	out->programs = programs;
	nrows = 0;		/* the names now belong to out */
	ok = true;
out:
	for (size_t i = 0; i < nrows; i++)
		free(rows[i].name);
	free(rows);
	free(service_line);
	csv_reader_free(&csv);
	if (!ok)
		agency_list_free(out);
	return ok;
}
