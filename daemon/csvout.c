/*
 * CSV for the read API's lists (rules in csvout.h): content negotiation on Accept, a
 * page of JSON items as a table, the next page's Link. Quoting is csv.c's; which list
 * is being read, and the database, are listing.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "csv.h"
#include "csvout.h"
#include "http.h"
#include "sjson.h"

#define OWS	" \t"

/* Q_NONE: the range does not match; q-values are in thousandths, never a double. */
#define Q_NONE	(-1)

struct preference {
	int	specificity;	/* 0 every type, 1 its type's wildcard, 2 the type itself */
	int	q;
};

/* A qvalue (RFC 9110 12.4.2): "0" or "1", up to three decimals; -1 if malformed. */
static int
qvalue_read(const char *s, size_t len)
{
	int	 q;
	size_t	 i;

	if (len == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	if (len == 1)
		return q;
	if (s[1] != '.' || len > 5)
		return -1;
	for (i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * (i == 2 ? 100 : i == 3 ? 10 : 1);
	}
	return q <= 1000 ? q : -1;
}

/* Trims optional white space from both ends of [*s, *s + *len). */
static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && strchr(OWS, **s) != NULL && **s != '\0') {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && strchr(OWS, (*s)[*len - 1]) != NULL && (*s)[*len - 1] != '\0')
		(*len)--;
}

/* The end of a list element or parameter: the next `stop` outside a quoted string. */
static const char *
scan_to(const char *s, const char *end, char stop)
{
	bool quoted = false;

	for (; s < end; s++) {
		if (quoted && *s == '\\' && s + 1 < end)
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (!quoted && *s == stop)
			break;
	}
	return s;
}

/* How specifically `range` (type/subtype) names `type`; -1 when it does not match it. */
static int
range_matches(const char *range, size_t len, const char *type)
{
	const char	*slash = strchr(type, '/');
	size_t		 major = (size_t)(slash - type);

	if (len == 3 && memcmp(range, "*/*", 3) == 0)
		return 0;
	if (len == major + 2 && strncasecmp(range, type, major + 1) == 0 &&
	    range[major + 1] == '*')
		return 1;
	if (len == strlen(type) && strncasecmp(range, type, len) == 0)
		return 2;
	return -1;
}

/* Reads one element of Accept into the two preferences it may concern. */
static void
element_read(const char *s, const char *end, struct preference *csv,
    struct preference *json)
{
	const char	*p = scan_to(s, end, ';'), *range = s;
	size_t		 rangelen = (size_t)(p - s);
	int		 q = 1000, level;

	trim(&range, &rangelen);
	if (rangelen == 0)
		return;
	while (p < end) {
		const char	*param = p + 1, *next = scan_to(param, end, ';');
		size_t		 paramlen = (size_t)(next - param);

		trim(&param, &paramlen);
		/* "q" ends the media type's parameters; what follows is accept-ext. */
		if (paramlen >= 2 && (param[0] == 'q' || param[0] == 'Q') &&
		    param[1] == '=') {
			if ((q = qvalue_read(param + 2, paramlen - 2)) == -1)
				return;
			break;
		}
		p = next;
	}
	if ((level = range_matches(range, rangelen, "text/csv")) > csv->specificity ||
	    (level >= 0 && level == csv->specificity && q > csv->q)) {
		csv->specificity = level;
		csv->q = q;
	}
	if ((level = range_matches(range, rangelen, "application/json")) >
	    json->specificity || (level >= 0 && level == json->specificity && q > json->q)) {
		json->specificity = level;
		json->q = q;
	}
}

bool
csvout_wanted(const char *accept)
{
	struct preference	 csv = { -1, Q_NONE }, json = { -1, Q_NONE };
	const char		*p, *end;

	if (accept == NULL)
		return false;
	end = accept + strlen(accept);
	for (p = accept; p < end; ) {
		const char *next = scan_to(p, end, ',');

		element_read(p, next, &csv, &json);
		p = next < end ? next + 1 : end;
	}
	return csv.q != Q_NONE && csv.q > 0 && csv.q > json.q;
}

/* How many decimal digits s holds before end. */
static size_t
digits(const char *s, const char *end)
{
	const char *p = s;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return (size_t)(p - s);
}

/* JSON's number syntax, which is also how PostgreSQL writes a numeric as text. */
static bool
is_number(const char *s, size_t len)
{
	const char	*end = s + len;
	size_t		 n;

	if (s < end && *s == '-')
		s++;
	if ((n = digits(s, end)) == 0)
		return false;
	s += n;
	if (s < end && *s == '.') {
		if ((n = digits(++s, end)) == 0)
			return false;
		s += n;
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		if (++s < end && (*s == '+' || *s == '-'))
			s++;
		if ((n = digits(s, end)) == 0)
			return false;
		s += n;
	}
	return s == end;
}

/* A scalar's text into the cell being built; false when out of memory. */
static bool
scalar_put(struct evbuffer *cell, const json_t *v)
{
	const char *number;

	if ((number = sjson_number(v)) != NULL)
		return evbuffer_add(cell, number, strlen(number)) == 0;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return evbuffer_add(cell, json_string_value(v), json_string_length(v)) == 0;
	case JSON_TRUE:
		return evbuffer_add(cell, "true", 4) == 0;
	case JSON_FALSE:
		return evbuffer_add(cell, "false", 5) == 0;
	case JSON_INTEGER:
		return evbuffer_add_printf(cell, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v)) != -1;
	default:		/* null; a real never comes out of the strict reader */
		return true;
	}
}

static bool
is_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

/* A member's value as a cell's text; v may be NULL (the item lacks the member). */
static bool
cell_put(struct evbuffer *cell, const json_t *v)
{
	char	*dumped;
	size_t	 i;
	json_t	*element;
	bool	 ok;

	if (v == NULL || is_scalar(v))
		return v == NULL || scalar_put(cell, v);
	if (json_is_array(v)) {
		json_array_foreach(v, i, element)
			if (!is_scalar(element))
				break;
		if (i == json_array_size(v)) {
			json_array_foreach(v, i, element)
				if ((i > 0 && evbuffer_add(cell, "; ", 2) == -1) ||
				    !scalar_put(cell, element))
					return false;
			return true;
		}
	}
	if ((dumped = sjson_dumps(v)) == NULL)
		return false;
	ok = evbuffer_add(cell, dumped, strlen(dumped)) == 0;
	free(dumped);
	return ok;
}

/*
 * Moves the cell's text into the table as one field, after a quote when a spreadsheet
 * would take it for a formula.
 */
static bool
cell_flush(struct evbuffer *out, struct evbuffer *cell)
{
	size_t		 len = evbuffer_get_length(cell);
	const char	*text;
	bool		 ok;

	if (len == 0)
		return true;
	if ((text = (const char *)evbuffer_pullup(cell, -1)) == NULL)
		return false;
	if (text[0] != '\0' && strchr("=+-@\t\r", text[0]) != NULL &&
	    !is_number(text, len)) {
		if (evbuffer_prepend(cell, "'", 1) == -1 ||
		    (text = (const char *)evbuffer_pullup(cell, -1)) == NULL)
			return false;
		len++;
	}
	ok = csv_put_field(out, text, len, ',');
	evbuffer_drain(cell, len);
	return ok;
}

bool
csvout_table(struct evbuffer *out, const char *const *items, const size_t *lens, size_t n)
{
	json_t		**parsed = NULL, *columns = NULL, *v;
	struct evbuffer	 *cell = NULL;
	const char	 *name;
	size_t		  i, col;
	bool		  ok = false;

	if (n == 0)
		return true;
	if ((parsed = calloc(n, sizeof(*parsed))) == NULL ||
	    (columns = json_object()) == NULL || (cell = evbuffer_new()) == NULL)
		goto out;
	/* jansson keeps an object's members in the order they were set. */
	for (i = 0; i < n; i++) {
		if ((parsed[i] = sjson_parse(items[i], lens[i], NULL, NULL)) == NULL ||
		    !json_is_object(parsed[i]))
			goto out;
		json_object_foreach(parsed[i], name, v)
			if (json_object_get(columns, name) == NULL &&
			    json_object_set_new(columns, name, json_null()) == -1)
				goto out;
	}
	col = 0;
	json_object_foreach(columns, name, v) {
		if ((col++ > 0 && evbuffer_add(out, ",", 1) == -1) ||
		    evbuffer_add(cell, name, strlen(name)) == -1 || !cell_flush(out, cell))
			goto out;
	}
	if (evbuffer_add(out, "\r\n", 2) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		col = 0;
		json_object_foreach(columns, name, v) {
			if ((col++ > 0 && evbuffer_add(out, ",", 1) == -1) ||
			    !cell_put(cell, json_object_get(parsed[i], name)) ||
			    !cell_flush(out, cell))
				goto out;
		}
		if (evbuffer_add(out, "\r\n", 2) == -1)
			goto out;
	}
	ok = true;
out:
	if (parsed != NULL)
		for (i = 0; i < n; i++)
			json_decref(parsed[i]);
	free(parsed);
	json_decref(columns);
	if (cell != NULL)
		evbuffer_free(cell);
	return ok;
}

/* Whether a query argument `arg` (name[=value], percent-encoded) is named `after`. */
static bool
is_after(const char *arg, size_t len)
{
	/* "after" with every byte escaped takes 15: a longer name is another one. */
	char		 name[16];
	const char	*eq = memchr(arg, '=', len);
	size_t		 end = eq != NULL ? (size_t)(eq - arg) : len, n;

	return end < sizeof(name) && http_percent_decode(arg, end, name, &n) &&
	    n == 5 && memcmp(name, "after", 5) == 0;
}

/* Appends s, percent-encoding what a URI reference may not hold as it is. */
static void
uri_put(FILE *f, const char *s, size_t len)
{
	static const char allowed[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	    "-._~:/?#[]@!$&'()*+,;=%";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != '\0' && strchr(allowed, c) != NULL)
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

char *
csvout_next_link(const char *path, const char *query, const char *cursor)
{
	FILE		*f;
	char		*link = NULL;
	size_t		 size = 0;
	const char	*p, *end;

	if ((f = open_memstream(&link, &size)) == NULL)
		return NULL;
	fputc('<', f);
	uri_put(f, path, strlen(path));
	fputc('?', f);
	if (query != NULL) {
		end = query + strlen(query);
		for (p = query; p < end; ) {
			const char	*amp = memchr(p, '&', (size_t)(end - p));
			size_t		 len = amp != NULL ? (size_t)(amp - p) :
					    (size_t)(end - p);

			if (len > 0 && !is_after(p, len)) {
				uri_put(f, p, len);
				fputc('&', f);
			}
			p += len + 1;
		}
	}
	fputs("after=", f);
	uri_put(f, cursor, strlen(cursor));
	fputs(">; rel=\"next\"", f);
	if (ferror(f)) {
		fclose(f);
		free(link);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(link);
		return NULL;
	}
	return link;
}
