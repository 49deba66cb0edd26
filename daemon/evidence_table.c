/*
 * An indicator result's evidence rows as tables (include/evidence_table.h): which
 * columns, their headings and cell text, amounts as the summaries write them, and the
 * tables as aligned plain text and as HTML. The email around them is alert_mail.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence_table.h"
#include "sjson.h"
#include "utf8.h"

/* Evidence rows shown per alert, and the width of one cell. */
#define ROWS_MAX	20
#define CELL_MAX	80
/* A table line stays under this many characters (far below SMTP's 998 octets). */
#define TABLE_MAX	880
#define TABLE_INDENT	"  "

/*
 * Inline styles only: mail clients drop <style> and external sheets. The note under a
 * table is grey like the email's other notes.
 */
#define STYLE_NOTE	"margin:0 0 6px;color:#57606a;font-size:13px"
#define STYLE_TABLE	"border-collapse:collapse;font-size:13px;margin:0 0 4px"
#define STYLE_TH	"border:1px solid #d0d7de;padding:3px 6px;background:#f6f8fa;" \
			"text-align:left;white-space:nowrap"
#define STYLE_TD	"border:1px solid #d0d7de;padding:3px 6px;vertical-align:top"

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
in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

/* Mirrors ictmon_money() in SQL, so a table's amounts read like the summary's. */
bool
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
		out_str(o, OUT_ELLIPSIS);
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
void
evidence_tables_write(struct out *text, struct out *html, const json_t *evidence)
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
		out_printf(text, TABLE_INDENT OUT_ELLIPSIS " and %zu more row%s\n", more,
		    more == 1 ? "" : "s");
		out_printf(html, "<p style=\"" STYLE_NOTE "\">" OUT_ELLIPSIS
		    " and %zu more row%s</p>\n", more, more == 1 ? "" : "s");
	}
	free(kinds);
}
