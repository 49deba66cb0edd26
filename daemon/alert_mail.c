/*
 * What an alert email says (include/alert_mail.h): its subject, plain text and HTML,
 * written from the alerts of one group or digest and their evidence. Pure: the mailer
 * reads the database and formats and sends the message.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert_mail.h"
#include "mail.h"
#include "sjson.h"
#include "utf8.h"

/* Characters, not octets. */
#define SUBJECT_MAX	200
/* Prose lines; a word longer than WORD_MAX is broken so no line grows without end. */
#define WRAP		76
#define WORD_MAX	200
/* Evidence rows shown per alert, and the width of one cell. */
#define ROWS_MAX	20
#define CELL_MAX	80
/* A table line stays under this many characters (far below SMTP's 998 octets). */
#define TABLE_MAX	880
#define TABLE_INDENT	"  "
#define ELLIPSIS	"\xe2\x80\xa6"
#define REPLACEMENT	"\xef\xbf\xbd"

/* Inline styles only: mail clients drop <style> and external sheets. */
#define STYLE_BODY	"margin:0;padding:16px;background:#ffffff;color:#1f2328;" \
			"font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.4"
#define STYLE_P		"margin:0 0 6px"
#define STYLE_META	"margin:0 0 6px;color:#57606a;font-size:13px"
#define STYLE_ITEM	"margin:0 0 20px;padding:12px 0 0;border-top:1px solid #d0d7de"
#define STYLE_BADGE	"display:inline-block;padding:1px 6px;border-radius:3px;" \
			"color:#ffffff;font-size:12px;font-weight:bold;background:"
#define STYLE_LINK	"color:#0969da"
#define STYLE_TABLE	"border-collapse:collapse;font-size:13px;margin:0 0 4px"
#define STYLE_TH	"border:1px solid #d0d7de;padding:3px 6px;background:#f6f8fa;" \
			"text-align:left;white-space:nowrap"
#define STYLE_TD	"border:1px solid #d0d7de;padding:3px 6px;vertical-align:top"
#define STYLE_FOOTER	"margin:24px 0 0;color:#57606a;font-size:12px"

/* A text being written; an allocation failure is remembered and reported at close. */
struct out {
	FILE	*f;
	char	*data;
	size_t	 len;
	bool	 failed;
};

/* The evidence rows of one kind as cells, columns in display order. */
struct table {
	const char	 *kind;		/* NULL: rows without one */
	const char	**keys;
	char		**headings;	/* per column, cleaned and cut */
	bool		 *money;
	size_t		  ncols;
	char		**cells;	/* nrows × ncols, cleaned and cut */
	size_t		  nrows;
	size_t		  ncells;	/* allocated */
};

static const char *const preferred_keys[] = {
	"agency", "ocid", "award_id", "project_id", "external_id", "title", "supplier",
	"date", "method", "classification", "status", "amount", "currency",
};

/* Evidence keys that hold an amount of money, written like the summaries write them. */
static const char *const money_keys[] = {
	"amount", "amount_converted", "planned_cost", "accrued", "approved", "modified",
	"total", "budget",
};

static bool
out_open(struct out *o)
{
	memset(o, 0, sizeof(*o));
	if ((o->f = open_memstream(&o->data, &o->len)) == NULL)
		o->failed = true;
	return !o->failed;
}

/* The text written, or NULL (nothing to free) when anything failed. */
static char *
out_close(struct out *o)
{
	if (o->f != NULL) {
		if (ferror(o->f))
			o->failed = true;
		if (fclose(o->f) != 0)
			o->failed = true;
		o->f = NULL;
	}
	if (o->failed) {
		free(o->data);
		o->data = NULL;
	}
	return o->data;
}

static void
out_str(struct out *o, const char *s)
{
	if (o->f != NULL && fputs(s, o->f) == EOF)
		o->failed = true;
}

static void
out_bytes(struct out *o, const char *s, size_t n)
{
	if (o->f != NULL && n > 0 && fwrite(s, 1, n, o->f) != n)
		o->failed = true;
}

static void out_printf(struct out *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list	ap;

	if (o->f == NULL)
		return;
	va_start(ap, fmt);
	if (vfprintf(o->f, fmt, ap) < 0)
		o->failed = true;
	va_end(ap);
}

/*
 * Text from the data made safe to print: malformed UTF-8 becomes U+FFFD and control
 * characters (a line end in a title, say) a space, so no value can break a line,
 * a header or the message's UTF-8. NULL when out of memory.
 */
static char *
clean_dup(const char *s)
{
	const unsigned char	*u = (const unsigned char *)(s != NULL ? s : "");
	size_t			 n = strlen((const char *)u), seq;
	char			*out, *o;

	/* U+FFFD is three octets where one bad octet was */
	if ((out = o = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += seq) {
		if ((seq = utf8_sequence(u + i, n - i)) == 0) {
			memcpy(o, REPLACEMENT, 3);
			o += 3;
			seq = 1;
		} else if (seq == 1 && (u[i] < 0x20 || u[i] == 0x7f))
			*o++ = ' ';
		else {
			memcpy(o, u + i, seq);
			o += seq;
		}
	}
	*o = '\0';
	return out;
}

static void
out_clean(struct out *o, const char *s)
{
	char	*c;

	if ((c = clean_dup(s)) == NULL) {
		o->failed = true;
		return;
	}
	out_str(o, c);
	free(c);
}

/* Data into HTML: cleaned, then escaped. */
static void
out_html(struct out *o, const char *s)
{
	char	*c = NULL, *escaped = NULL;

	if ((c = clean_dup(s)) == NULL || (escaped = mail_html_escape(c)) == NULL)
		o->failed = true;
	else
		out_str(o, escaped);
	free(escaped);
	free(c);
}

static size_t
utf8_chars(const char *s, size_t n)
{
	size_t	count = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

/* Octets of the first `chars` characters of s (all of it when shorter). */
static size_t
utf8_prefix(const char *s, size_t chars)
{
	size_t	i = 0;

	for (; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars-- == 0)
			break;
	return i;
}

/* At most `max` characters, the last of them "…" when cut. NULL when out of memory. */
static char *
cut_dup(const char *s, size_t max)
{
	size_t	 n = strlen(s), keep;
	char	*out;

	if (utf8_chars(s, n) <= max)
		return strdup(s);
	keep = utf8_prefix(s, max - 1);
	if ((out = malloc(keep + sizeof(ELLIPSIS))) == NULL)
		return NULL;
	memcpy(out, s, keep);
	memcpy(out + keep, ELLIPSIS, sizeof(ELLIPSIS));
	return out;
}

static bool
in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

/*
 * An exact decimal ("-1234567.5") as ictmon_money() writes it in the summaries:
 * "," between thousands, "." before the cents ("-1,234,567.50"); a fraction of zeros
 * says nothing and is dropped, one digit gets its second, more are kept as given.
 * False when the text is not a plain decimal (or does not fit).
 */
static bool
money_format(const char *dec, char *out, size_t len)
{
	const char	*p = dec, *digits, *frac = NULL;
	size_t		 nint, nfrac = 0, need, o = 0;
	bool		 negative = false, zero_frac = true;

	if (*p == '-' || *p == '+')
		negative = *p++ == '-';
	digits = p;
	while (isdigit((unsigned char)*p))
		p++;
	nint = (size_t)(p - digits);
	if (*p == '.') {
		frac = ++p;
		while (isdigit((unsigned char)*p))
			zero_frac &= *p++ == '0';
		nfrac = (size_t)(p - frac);
	}
	if (*p != '\0' || (nint == 0 && nfrac == 0))
		return false;
	while (nint > 1 && *digits == '0') {
		digits++;
		nint--;
	}
	if (zero_frac)
		nfrac = 0;
	need = (size_t)negative + (nint ? nint + (nint - 1) / 3 : 1) +
	    (nfrac ? (nfrac < 2 ? 2 : nfrac) + 1 : 0) + 1;
	if (need > len)
		return false;
	if (negative)
		out[o++] = '-';
	if (nint == 0)
		out[o++] = '0';
	for (size_t i = 0; i < nint; i++) {
		if (i > 0 && (nint - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	if (nfrac > 0) {
		out[o++] = '.';
		memcpy(out + o, frac, nfrac);
		o += nfrac;
		if (nfrac == 1)
			out[o++] = '0';
	}
	out[o] = '\0';
	return true;
}

/* "CLP 812,400,000": an amount as the alert states it; cleaned, NULL when out of memory. */
static char *
amount_dup(const char *amount, const char *currency)
{
	char	 formatted[128], *text = NULL, *cleaned;
	int	 n;

	if (!money_format(amount, formatted, sizeof(formatted)))
		snprintf(formatted, sizeof(formatted), "%s", amount);
	if (currency != NULL && *currency != '\0')
		n = asprintf(&text, "%s %s", currency, formatted);
	else
		n = asprintf(&text, "%s", formatted);
	if (n < 0)
		return NULL;
	cleaned = clean_dup(text);
	free(text);
	return cleaned;
}

/* A JSON number's text, exact when it came from the strict reader. */
static bool
number_text(const json_t *v, char *buf, size_t len, bool money)
{
	const char	*exact;

	if ((exact = sjson_number(v)) != NULL)
		snprintf(buf, len, "%s", exact);
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		/*
		 * jansson's own reader made it a double already; cents are what an
		 * amount can have, other measures need no more than 15 digits.
		 */
		snprintf(buf, len, money ? "%.2f" : "%.15g", json_real_value(v));
	else
		return false;
	return true;
}

static bool
is_scalar(const json_t *v)
{
	return v != NULL && !json_is_object(v) && !json_is_array(v);
}

/* A scalar, or an array of them (suppliers, ids), can fill a cell; null cannot. */
static bool
is_cell_value(const json_t *v)
{
	size_t	 i;
	json_t	*e;

	if (v == NULL || json_is_null(v) || json_is_object(v))
		return false;
	if (!json_is_array(v))
		return true;
	if (json_array_size(v) == 0)
		return false;
	json_array_foreach(v, i, e)
		if (!is_scalar(e))
			return false;
	return true;
}

static void
scalar_write(struct out *o, const json_t *v, bool money)
{
	char	 number[128], formatted[160];

	if (number_text(v, number, sizeof(number), money)) {
		if (money && money_format(number, formatted, sizeof(formatted)))
			out_str(o, formatted);
		else
			out_str(o, number);
	} else if (json_is_string(v)) {
		if (money && money_format(json_string_value(v), formatted, sizeof(formatted)))
			out_str(o, formatted);
		else
			out_clean(o, json_string_value(v));
	} else if (json_is_true(v))
		out_str(o, "yes");
	else if (json_is_false(v))
		out_str(o, "no");
}

/* A cell's text, cleaned and at most CELL_MAX characters. NULL when out of memory. */
static char *
cell_dup(const json_t *v, bool money)
{
	struct out	 o;
	size_t		 i;
	json_t		*e;
	char		*text, *cut;

	if (!out_open(&o))
		return NULL;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (i > 0)
				out_str(&o, "; ");
			scalar_write(&o, e, money);
		}
	} else if (v != NULL && !json_is_null(v))
		scalar_write(&o, v, money);
	if ((text = out_close(&o)) == NULL)
		return NULL;
	cut = cut_dup(text, CELL_MAX);
	free(text);
	return cut;
}

static const char *
row_kind(const json_t *row)
{
	const json_t *kind = json_object_get(row, "kind");

	return json_is_string(kind) && sjson_number(kind) == NULL ?
	    json_string_value(kind) : NULL;
}

static bool
same_kind(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
key_add(struct table *t, const char *key)
{
	const char	**keys;

	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->keys[i], key) == 0)
			return true;
	if ((keys = realloc(t->keys, (t->ncols + 1) * sizeof(*keys))) == NULL)
		return false;
	t->keys = keys;
	t->keys[t->ncols++] = key;
	return true;
}

static void
table_clear(struct table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	for (size_t c = 0; t->headings != NULL && c < t->ncols; c++)
		free(t->headings[c]);
	free(t->cells);
	free(t->headings);
	free(t->keys);
	free(t->money);
	memset(t, 0, sizeof(*t));
}

/*
 * A heading from a key or kind: cleaned, underscores as spaces ("award id"), at most
 * CELL_MAX characters; "budget_line" as a table's title becomes "Budget lines".
 */
static char *
heading_dup(const char *name, bool title)
{
	char	*clean = NULL, *cut = NULL, *out = NULL;
	size_t	 n;

	if ((clean = clean_dup(name)) == NULL || (cut = cut_dup(clean, CELL_MAX)) == NULL)
		goto out;
	for (char *p = cut; *p != '\0'; p++)
		if (*p == '_')
			*p = ' ';
	if (!title) {
		out = cut;
		cut = NULL;
		goto out;
	}
	cut[0] = (char)toupper((unsigned char)cut[0]);
	n = strlen(cut);
	if (asprintf(&out, "%s%s", cut, n > 0 && cut[n - 1] != 's' ? "s" : "") < 0)
		out = NULL;
out:
	free(clean);
	free(cut);
	return out;
}

/*
 * The table of one kind from the first `shown` rows: the preferred columns first, then
 * every other key with a value in the order the rows have them; "kind" and nested
 * objects left out. Keys point into the evidence, which outlives the table.
 */
static bool
table_build(struct table *t, const json_t *rows, size_t shown, const char *kind)
{
	const char	*key;
	json_t		*row, *v;
	size_t		 r, c;

	memset(t, 0, sizeof(*t));
	t->kind = kind;
	for (size_t p = 0; p < sizeof(preferred_keys) / sizeof(preferred_keys[0]); p++)
		for (r = 0; r < shown; r++) {
			row = json_array_get(rows, r);
			if (json_is_object(row) && same_kind(row_kind(row), kind) &&
			    is_cell_value(json_object_get(row, preferred_keys[p]))) {
				if (!key_add(t, preferred_keys[p]))
					return false;
				break;
			}
		}
	for (r = 0; r < shown; r++) {
		row = json_array_get(rows, r);
		if (!json_is_object(row) || !same_kind(row_kind(row), kind))
			continue;
		t->nrows++;
		json_object_foreach(row, key, v)
			if (strcmp(key, "kind") != 0 && is_cell_value(v) && !key_add(t, key))
				return false;
	}
	if (t->ncols == 0)
		return true;
	if ((t->money = calloc(t->ncols, sizeof(*t->money))) == NULL ||
	    (t->headings = calloc(t->ncols, sizeof(*t->headings))) == NULL ||
	    (t->cells = calloc(t->nrows * t->ncols, sizeof(*t->cells))) == NULL)
		return false;
	t->ncells = t->nrows * t->ncols;
	for (c = 0; c < t->ncols; c++) {
		t->money[c] = in_list(t->keys[c], money_keys,
		    sizeof(money_keys) / sizeof(money_keys[0]));
		if ((t->headings[c] = heading_dup(t->keys[c], false)) == NULL)
			return false;
	}
	for (r = 0, t->nrows = 0; r < shown; r++) {
		row = json_array_get(rows, r);
		if (!json_is_object(row) || !same_kind(row_kind(row), kind))
			continue;
		for (c = 0; c < t->ncols; c++)
			if ((t->cells[t->nrows * t->ncols + c] = cell_dup(json_object_get(row,
			    t->keys[c]), t->money[c])) == NULL)
				return false;
		t->nrows++;
	}
	return true;
}

/* Writes s wrapped at WRAP columns, every line ending in "\n". */
static void
text_wrap(struct out *o, const char *s)
{
	size_t	col = 0, n, chars, piece;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		n = strcspn(s, " ");
		chars = utf8_chars(s, n);
		if (chars > WORD_MAX) {
			/* a word no one reads whole: broken rather than a line without end */
			piece = utf8_prefix(s, WORD_MAX);
			if (col > 0)
				out_str(o, "\n");
			out_bytes(o, s, piece);
			out_str(o, "\n");
			col = 0;
			s += piece;
			continue;
		}
		if (col > 0 && col + 1 + chars > WRAP) {
			out_str(o, "\n");
			col = 0;
		} else if (col > 0) {
			out_str(o, " ");
			col++;
		}
		out_bytes(o, s, n);
		col += chars;
		s += n;
	}
	if (col > 0)
		out_str(o, "\n");
}

/* A paragraph, written whole into p (opened by the caller), then wrapped into o. */
static void
para_done(struct out *p, struct out *o)
{
	char	*s;

	if ((s = out_close(p)) == NULL) {
		o->failed = true;
		return;
	}
	text_wrap(o, s);
	free(s);
}

static void
pad(struct out *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out_str(o, " ");
}

/* A cell written in `width` characters, cut with "…" when longer. */
static void
text_cell(struct out *o, const char *cell, size_t width, bool right, bool last)
{
	size_t	chars = utf8_chars(cell, strlen(cell)), keep;

	if (width == 0)
		return;
	if (chars > width) {
		keep = utf8_prefix(cell, width - 1);
		out_bytes(o, cell, keep);
		out_str(o, ELLIPSIS);
		return;
	}
	if (right)
		pad(o, width - chars);
	out_str(o, cell);
	if (!right && !last)
		pad(o, width - chars);
}

/*
 * A table as aligned plain text: columns as wide as their longest cell, narrowed
 * together (and the last ones dropped if need be) to keep a line under TABLE_MAX.
 */
static void
text_table(struct out *o, const struct table *t, const char *title)
{
	size_t	*natural = NULL, *width = NULL, cap = CELL_MAX, ncols = t->ncols, total;

	if ((natural = calloc(t->ncols, sizeof(*natural))) == NULL ||
	    (width = calloc(t->ncols, sizeof(*width))) == NULL) {
		o->failed = true;
		goto out;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		natural[c] = utf8_chars(t->headings[c], strlen(t->headings[c]));
		for (size_t r = 0; r < t->nrows; r++) {
			const char *cell = t->cells[r * t->ncols + c];
			size_t chars = utf8_chars(cell, strlen(cell));

			if (chars > natural[c])
				natural[c] = chars;
		}
	}
	for (;;) {
		total = strlen(TABLE_INDENT);
		for (size_t c = 0; c < ncols; c++) {
			width[c] = natural[c] < cap ? natural[c] : cap;
			total += width[c] + (c > 0 ? 2 : 0);
		}
		if (total <= TABLE_MAX)
			break;
		if (cap > 8)
			cap--;
		else
			ncols--;
	}
	out_printf(o, "%s:\n", title);
	out_str(o, TABLE_INDENT);
	for (size_t c = 0; c < ncols; c++) {
		if (c > 0)
			out_str(o, "  ");
		text_cell(o, t->headings[c], width[c], t->money[c], c + 1 == ncols);
	}
	out_str(o, "\n" TABLE_INDENT);
	for (size_t c = 0; c < ncols; c++) {
		if (c > 0)
			out_str(o, "  ");
		for (size_t i = 0; i < width[c]; i++)
			out_str(o, "-");
	}
	out_str(o, "\n");
	for (size_t r = 0; r < t->nrows; r++) {
		struct out	 line;
		char		*s;
		size_t		 n;

		/* built apart so its trailing blanks can go */
		if (!out_open(&line)) {
			o->failed = true;
			goto out;
		}
		out_str(&line, TABLE_INDENT);
		for (size_t c = 0; c < ncols; c++) {
			if (c > 0)
				out_str(&line, "  ");
			text_cell(&line, t->cells[r * t->ncols + c], width[c], t->money[c],
			    c + 1 == ncols);
		}
		if ((s = out_close(&line)) == NULL) {
			o->failed = true;
			goto out;
		}
		for (n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
			;
		out_bytes(o, s, n);
		out_str(o, "\n");
		free(s);
	}
out:
	free(natural);
	free(width);
}

static void
html_table(struct out *o, const struct table *t, const char *title)
{
	out_str(o, "<p style=\"margin:12px 0 4px;font-weight:bold\">");
	out_html(o, title);
	out_str(o, "</p>\n<table style=\"" STYLE_TABLE "\">\n<tr>");
	for (size_t c = 0; c < t->ncols; c++) {
		out_str(o, "<th style=\"" STYLE_TH "\">");
		out_html(o, t->headings[c]);
		out_str(o, "</th>");
	}
	out_str(o, "</tr>\n");
	for (size_t r = 0; r < t->nrows; r++) {
		out_str(o, "<tr>");
		for (size_t c = 0; c < t->ncols; c++) {
			out_str(o, t->money[c] ? "<td style=\"" STYLE_TD
			    ";text-align:right;white-space:nowrap\">" : "<td style=\"" STYLE_TD
			    "\">");
			out_html(o, t->cells[r * t->ncols + c]);
			out_str(o, "</td>");
		}
		out_str(o, "</tr>\n");
	}
	out_str(o, "</table>\n");
}

/* rows_total when the evidence says it (an indicator caps its rows at 200). */
static size_t
rows_total(const json_t *evidence, size_t present)
{
	const json_t	*v = json_object_get(evidence, "rows_total");
	const char	*exact;
	long long	 n = -1;

	if ((exact = sjson_number(v)) != NULL)
		n = strtoll(exact, NULL, 10);
	else if (json_is_integer(v))
		n = json_integer_value(v);
	return n > 0 && (size_t)n > present ? (size_t)n : present;
}

/*
 * The evidence rows of an item as tables, one per kind in the order the kinds come,
 * in text and HTML; at most ROWS_MAX rows and a line for the rest.
 */
static void
evidence_tables(struct out *text, struct out *html, const json_t *evidence)
{
	const json_t	*rows = json_object_get(evidence, "rows");
	const char	**kinds = NULL, *kind;
	size_t		  nkinds = 0, present, shown, more;
	struct table	  t;

	memset(&t, 0, sizeof(t));
	if (!json_is_array(rows) || (present = json_array_size(rows)) == 0)
		return;
	shown = present < ROWS_MAX ? present : ROWS_MAX;
	if ((kinds = calloc(shown, sizeof(*kinds))) == NULL) {
		text->failed = true;
		return;
	}
	for (size_t r = 0; r < shown; r++) {
		const json_t	*row = json_array_get(rows, r);
		size_t		 k;

		if (!json_is_object(row))
			continue;
		kind = row_kind(row);
		for (k = 0; k < nkinds && !same_kind(kinds[k], kind); k++)
			;
		if (k == nkinds)
			kinds[nkinds++] = kind;
	}
	for (size_t k = 0; k < nkinds; k++) {
		char *title;

		if ((title = heading_dup(kinds[k] != NULL ? kinds[k] : "row", true)) == NULL ||
		    !table_build(&t, rows, shown, kinds[k])) {
			free(title);
			text->failed = true;
			break;
		}
		if (t.ncols > 0 && t.nrows > 0) {
			out_str(text, "\n");
			text_table(text, &t, title);
			html_table(html, &t, title);
		}
		free(title);
		table_clear(&t);
	}
	table_clear(&t);
	if ((more = rows_total(evidence, present) - shown) > 0) {
		out_printf(text, TABLE_INDENT ELLIPSIS " and %zu more row%s\n", more,
		    more == 1 ? "" : "s");
		out_printf(html, "<p style=\"" STYLE_META "\">" ELLIPSIS
		    " and %zu more row%s</p>\n", more, more == 1 ? "" : "s");
	}
	free(kinds);
}

/* "MOP (Ministerio de Obras Públicas), MINSAL": evidence.agencies, codes or objects. */
static void
agencies_write(struct out *o, const json_t *agencies, bool html)
{
	size_t		 i, written = 0;
	const json_t	*a, *code, *name;

	json_array_foreach(agencies, i, a) {
		if (json_is_string(a) && sjson_number(a) == NULL) {
			code = a;
			name = NULL;
		} else if (json_is_object(a)) {
			code = json_object_get(a, "code");
			name = json_object_get(a, "name");
		} else
			continue;
		code = json_is_string(code) && sjson_number(code) == NULL ? code : NULL;
		name = json_is_string(name) && sjson_number(name) == NULL ? name : NULL;
		if (code == NULL && name == NULL)
			continue;
		if (written++ > 0)
			out_str(o, ", ");
		if (html)
			out_html(o, json_string_value(code != NULL ? code : name));
		else
			out_clean(o, json_string_value(code != NULL ? code : name));
		if (code != NULL && name != NULL) {
			out_str(o, " (");
			if (html)
				out_html(o, json_string_value(name));
			else
				out_clean(o, json_string_value(name));
			out_str(o, ")");
		}
	}
}

static size_t
agencies_count(const json_t *agencies)
{
	size_t		 i, n = 0;
	const json_t	*a;

	json_array_foreach(agencies, i, a)
		if (json_is_string(a) || json_is_object(a))
			n++;
	return n;
}

static const char *
change_label(enum alert_change change)
{
	switch (change) {
	case ALERT_NEW:
		return "New";
	case ALERT_RESOLVED:
		return "Resolved";
	case ALERT_OPEN:
		break;
	}
	return "Still open";
}

static const char *
severity_colour(const char *severity)
{
	if (severity != NULL && strcmp(severity, "high") == 0)
		return "#b42318";
	if (severity != NULL && strcmp(severity, "medium") == 0)
		return "#b54708";
	return "#475467";
}

/* "HIGH" for the badge: the letters of the severity, or "ALERT". */
static void
severity_upper(const char *severity, char *buf, size_t len)
{
	size_t	n = 0;

	for (const char *p = severity != NULL ? severity : ""; *p != '\0' && n + 1 < len; p++)
		if (isalpha((unsigned char)*p) && (unsigned char)*p < 0x80)
			buf[n++] = (char)toupper((unsigned char)*p);
	buf[n] = '\0';
	if (n == 0)
		snprintf(buf, len, "ALERT");
}

/* Everything the text and the HTML need, with the dashboard's base URL once. */
struct compose {
	const struct alert_email	*e;
	char				*base;		/* public_url without a trailing
							   slash, or NULL: no links */
	struct out			 text;
	struct out			 html;
};

static void
item_write(struct compose *c, const struct alert_item *it)
{
	struct out	 p;
	const json_t	*agencies = json_object_get(it->evidence, "agencies");
	const char	*summary = it->summary != NULL && *it->summary != '\0' ?
			    it->summary : it->title;
	char		 severity[32], *amount = NULL;

	severity_upper(it->severity, severity, sizeof(severity));
	if (it->amount != NULL && *it->amount != '\0' &&
	    (amount = amount_dup(it->amount, it->currency)) == NULL)
		c->text.failed = true;

	/* text */
	out_str(&c->text, "\n");
	out_open(&p);
	out_printf(&p, "[%s] %s: ", severity, change_label(it->change));
	out_clean(&p, summary);
	para_done(&p, &c->text);
	out_open(&p);
	out_clean(&p, it->title);
	if (it->code != NULL) {
		out_str(&p, " (");
		out_clean(&p, it->code);
		out_str(&p, ")");
	}
	if (it->agency != NULL) {
		out_str(&p, ", agency ");
		out_clean(&p, it->agency);
	}
	if (it->first_seen != NULL) {
		out_str(&p, ", first seen ");
		out_clean(&p, it->first_seen);
	}
	out_str(&p, ".");
	para_done(&p, &c->text);
	if (amount != NULL)
		out_printf(&c->text, "Amount: %s\n", amount);
	if (agencies_count(agencies) > 0) {
		out_open(&p);
		out_str(&p, "Agencies: ");
		agencies_write(&p, agencies, false);
		para_done(&p, &c->text);
	}
	if (c->base != NULL)
		out_printf(&c->text, "Open in ictmon: %s/#/alerts/%lld\n", c->base, it->id);

	/* HTML */
	out_printf(&c->html, "<div style=\"" STYLE_ITEM "\">\n<p style=\"" STYLE_P
	    "\"><span style=\"" STYLE_BADGE "%s\">", severity_colour(it->severity));
	out_html(&c->html, severity);
	out_printf(&c->html, "</span> <strong>%s:</strong> ", change_label(it->change));
	out_html(&c->html, summary);
	out_str(&c->html, "</p>\n<p style=\"" STYLE_META "\">");
	out_html(&c->html, it->title);
	if (it->code != NULL) {
		out_str(&c->html, " (");
		out_html(&c->html, it->code);
		out_str(&c->html, ")");
	}
	if (it->agency != NULL) {
		out_str(&c->html, " &middot; agency ");
		out_html(&c->html, it->agency);
	}
	if (it->first_seen != NULL) {
		out_str(&c->html, " &middot; first seen ");
		out_html(&c->html, it->first_seen);
	}
	out_str(&c->html, "</p>\n");
	if (amount != NULL) {
		out_str(&c->html, "<p style=\"" STYLE_P "\">Amount: <strong>");
		out_html(&c->html, amount);
		out_str(&c->html, "</strong></p>\n");
	}
	if (agencies_count(agencies) > 0) {
		out_str(&c->html, "<p style=\"" STYLE_P "\">Agencies: ");
		agencies_write(&c->html, agencies, true);
		out_str(&c->html, "</p>\n");
	}
	if (c->base != NULL) {
		out_str(&c->html, "<p style=\"" STYLE_P "\"><a href=\"");
		out_html(&c->html, c->base);
		out_printf(&c->html, "/#/alerts/%lld\" style=\"" STYLE_LINK
		    "\">Open in ictmon</a></p>\n", it->id);
	}

	if (it->evidence != NULL)
		evidence_tables(&c->text, &c->html, it->evidence);
	out_str(&c->html, "</div>\n");
	free(amount);
}

/* "Daily digest, 2026-11-28" is what the mailer calls a digest; the subject says it once. */
static const char *
digest_group(const char *group)
{
	static const char	prefix[] = "Daily digest, ";

	if (group == NULL)
		return NULL;
	if (strncasecmp(group, prefix, sizeof(prefix) - 1) == 0)
		return group + sizeof(prefix) - 1;
	return group;
}

static void
counts_write(struct out *o, const struct alert_email *e, bool noun)
{
	static const char	*labels[] = { "new", "open", "resolved" };
	size_t			 counts[3] = { 0, 0, 0 }, parts = 0;

	for (size_t i = 0; i < e->nitems; i++) {
		switch (e->items[i].change) {
		case ALERT_NEW:
			counts[0]++;
			break;
		case ALERT_OPEN:
			counts[1]++;
			break;
		case ALERT_RESOLVED:
			counts[2]++;
			break;
		}
	}
	for (size_t k = 0; k < 3; k++) {
		if (counts[k] == 0)
			continue;
		out_printf(o, "%s%zu %s", parts++ > 0 ? ", " : "", counts[k], labels[k]);
		/* the first count names what is counted: "3 new alerts, 2 open" */
		if (noun && parts == 1)
			out_str(o, counts[k] == 1 ? " alert" : " alerts");
	}
	if (parts == 0)
		out_str(o, "no changes");
	if (e->more > 0)
		out_printf(o, " and %zu more", e->more);
}

static const char *
common_agency(const struct alert_email *e)
{
	const char	*agency = e->nitems > 0 ? e->items[0].agency : NULL;

	for (size_t i = 1; agency != NULL && i < e->nitems; i++)
		if (e->items[i].agency == NULL || strcmp(e->items[i].agency, agency) != 0)
			return NULL;
	return agency;
}

static const struct alert_item *
common_code(const struct alert_email *e)
{
	const struct alert_item	*first = e->nitems > 0 ? &e->items[0] : NULL;

	if (first == NULL || first->code == NULL)
		return NULL;
	for (size_t i = 1; i < e->nitems; i++)
		if (e->items[i].code == NULL || strcmp(e->items[i].code, first->code) != 0)
			return NULL;
	return first;
}

/*
 * At most SUBJECT_MAX characters on one line: white space runs made one space, and a
 * longer subject cut at a word (at a character if no word ends late enough) with "…".
 */
static char *
subject_finish(const char *raw)
{
	char	*s, *o, *out;
	size_t	 keep, cut;

	if ((s = clean_dup(raw)) == NULL)
		return NULL;
	/* clean_dup made every control a space; one space between words */
	o = s;
	for (char *p = s; *p != '\0'; p++)
		if (*p != ' ' || (o > s && o[-1] != ' '))
			*o++ = *p;
	while (o > s && o[-1] == ' ')
		o--;
	*o = '\0';
	if (utf8_chars(s, strlen(s)) <= SUBJECT_MAX)
		return s;
	keep = utf8_prefix(s, SUBJECT_MAX - 1);
	for (cut = keep; cut > 0 && s[cut] != ' '; cut--)
		;
	/* a word boundary in the last half; else a long word is cut inside */
	if (cut > 0 && utf8_chars(s, cut) >= SUBJECT_MAX / 2)
		keep = cut;
	while (keep > 0 && strchr(" ,;:", s[keep - 1]) != NULL)
		keep--;
	if ((out = malloc(keep + sizeof(ELLIPSIS))) != NULL) {
		memcpy(out, s, keep);
		memcpy(out + keep, ELLIPSIS, sizeof(ELLIPSIS));
	}
	free(s);
	return out;
}

static char *
subject_compose(const struct alert_email *e)
{
	const struct alert_item	*it, *common;
	const char		*agency, *group;
	struct out		 o;
	char			*raw, *subject;
	size_t			 n;

	if (!out_open(&o))
		return NULL;
	if (e->digest) {
		out_str(&o, "ictmon daily digest");
		if ((group = digest_group(e->group)) != NULL && *group != '\0') {
			out_str(&o, ", ");
			out_str(&o, group);
		}
		out_str(&o, ": ");
		counts_write(&o, e, false);
	} else if (e->nitems == 1 && e->more == 0) {
		it = &e->items[0];
		if (it->change == ALERT_RESOLVED)
			out_str(&o, "Resolved: ");
		out_str(&o, it->title != NULL ? it->title : it->code != NULL ? it->code :
		    "ictmon");
		out_str(&o, ": ");
		if (it->summary != NULL && *it->summary != '\0') {
			/* a subject is not a sentence: no closing full stop */
			n = strlen(it->summary);
			out_bytes(&o, it->summary, n > 0 && it->summary[n - 1] == '.' ?
			    n - 1 : n);
		} else
			out_str(&o, change_label(it->change));
	} else {
		common = common_code(e);
		out_str(&o, common != NULL && common->title != NULL ? common->title :
		    "ictmon");
		out_str(&o, ": ");
		counts_write(&o, e, true);
		if ((agency = common_agency(e)) != NULL) {
			out_str(&o, " for ");
			out_str(&o, agency);
		}
	}
	if ((raw = out_close(&o)) == NULL)
		return NULL;
	subject = subject_finish(raw);
	free(raw);
	return subject;
}

/* The dashboard's address without trailing slashes; NULL when there is none. */
static bool
base_url(const char *public_url, char **base)
{
	size_t	n;

	*base = NULL;
	if (public_url == NULL || *public_url == '\0')
		return true;
	if ((*base = clean_dup(public_url)) == NULL)
		return false;
	for (n = strlen(*base); n > 0 && (*base)[n - 1] == '/'; n--)
		(*base)[n - 1] = '\0';
	return true;
}

static void
header_write(struct compose *c, const char *subject)
{
	const struct alert_email	*e = c->e;
	struct out			 p;

	out_str(&c->html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>");
	out_html(&c->html, subject);
	out_str(&c->html, "</title>\n</head>\n<body style=\"" STYLE_BODY "\">\n");

	if (e->recipient_name != NULL && *e->recipient_name != '\0') {
		out_open(&p);
		out_str(&p, "Hello ");
		out_clean(&p, e->recipient_name);
		out_str(&p, ",");
		para_done(&p, &c->text);
		out_str(&c->html, "<p style=\"margin:0 0 12px\">Hello ");
		out_html(&c->html, e->recipient_name);
		out_str(&c->html, ",</p>\n");
	} else {
		out_str(&c->text, "Hello,\n");
		out_str(&c->html, "<p style=\"margin:0 0 12px\">Hello,</p>\n");
	}
	out_str(&c->text, "\n");
	out_open(&p);
	out_str(&p, e->digest ? "Your daily digest of ictmon alerts" :
	    e->nitems + e->more == 1 ? "An ictmon alert" : "ictmon alerts");
	if (e->group != NULL && *e->group != '\0') {
		out_str(&p, ": ");
		out_clean(&p, e->group);
	}
	para_done(&p, &c->text);
	out_str(&c->html, "<h1 style=\"margin:0 0 16px;font-size:20px\">");
	out_html(&c->html, e->group != NULL && *e->group != '\0' ? e->group :
	    "ictmon alerts");
	out_str(&c->html, "</h1>\n");
}

static void
footer_write(struct compose *c)
{
	const struct alert_email	*e = c->e;
	struct out			 p;

	if (e->more > 0) {
		out_str(&c->text, "\n");
		if (c->base != NULL) {
			out_printf(&c->text, "and %zu more alert%s: %s/#/alerts\n", e->more,
			    e->more == 1 ? "" : "s", c->base);
			out_printf(&c->html, "<p style=\"" STYLE_P "\">and %zu more alert%s: "
			    "<a href=\"", e->more, e->more == 1 ? "" : "s");
			out_html(&c->html, c->base);
			out_str(&c->html, "/#/alerts\" style=\"" STYLE_LINK "\">");
			out_html(&c->html, c->base);
			out_str(&c->html, "/#/alerts</a></p>\n");
		} else {
			out_printf(&c->text, "and %zu more alert%s in ictmon's dashboard.\n",
			    e->more, e->more == 1 ? "" : "s");
			out_printf(&c->html, "<p style=\"" STYLE_P "\">and %zu more alert%s in "
			    "ictmon&#39;s dashboard.</p>\n", e->more, e->more == 1 ? "" : "s");
		}
	}
	out_str(&c->text, "\n-- \n");
	out_open(&p);
	out_str(&p, "You receive this email because you are a recipient of ictmon "
	    "alerts. To stop emails about an alert, acknowledge it or silence it in "
	    "ictmon's dashboard");
	out_str(&p, c->base != NULL ? ":" : ".");
	para_done(&p, &c->text);
	/* alone on its line: no full stop for a mail client to take into the link */
	if (c->base != NULL)
		out_printf(&c->text, "%s/#/alerts\n", c->base);

	out_str(&c->html, "<p style=\"" STYLE_FOOTER "\">You receive this email because "
	    "you are a recipient of ictmon alerts. To stop emails about an alert, "
	    "acknowledge it or silence it in ");
	if (c->base != NULL) {
		out_str(&c->html, "<a href=\"");
		out_html(&c->html, c->base);
		out_str(&c->html, "/#/alerts\" style=\"" STYLE_LINK "\">ictmon&#39;s "
		    "dashboard</a>");
	} else
		out_str(&c->html, "ictmon&#39;s dashboard");
	out_str(&c->html, ".</p>\n</body>\n</html>\n");
}

bool
alert_email_compose(const struct alert_email *e, struct alert_email_text *out)
{
	struct compose	c;
	bool		ok = false;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.e = e;
	if (!base_url(e->public_url, &c.base) || (out->subject = subject_compose(e)) == NULL)
		goto out;
	if (!out_open(&c.text) || !out_open(&c.html))
		goto out;
	header_write(&c, out->subject);
	for (size_t i = 0; i < e->nitems; i++)
		item_write(&c, &e->items[i]);
	footer_write(&c);
	out->text = out_close(&c.text);
	out->html = out_close(&c.html);
	ok = out->text != NULL && out->html != NULL;
out:
	/* after a close these are no-ops; before it, they free what was written */
	out_close(&c.text);
	out_close(&c.html);
	free(c.base);
	if (!ok)
		alert_email_text_free(out);
	return ok;
}

void
alert_email_text_free(struct alert_email_text *t)
{
	if (t == NULL)
		return;
	free(t->subject);
	free(t->text);
	free(t->html);
	t->subject = t->text = t->html = NULL;
}
