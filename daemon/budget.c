/*
 * Pushed budget lines (include/budget.h): {"lines": [...]} walked one line at a time
 * with the strict reader, or Chile's budget law CSV read with csv.c; both end in the
 * same checked line and COPY row. Amounts stay decimal text throughout.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "agency.h"
#include "budget.h"
#include "copy.h"
#include "csv.h"
#include "fieldcheck.h"
#include "issues.h"
#include "sjson.h"
#include "utf8.h"

/* "/lines/18446744073709551615/denomination" fits, and so does "line N". */
#define POINTER_SIZE	64
/* A record's own pointer, "/lines/18446744073709551615". */
#define BASE_SIZE	32
/* An unknown key longer than this is quoted, cut, in the message, not the pointer. */
/* The budget law's columns. */
#define CSV_FIELDS	9
/* "-" 18 digits "." 6 digits, with room to spare. */
#define UNITS_SIZE	48

static const char *const phases[] = {
	"approved", "modified", "committed", "accrued", "paid", NULL
};
#define PHASES_TEXT	"approved, modified, committed, accrued or paid"

static const char *const csv_columns[CSV_FIELDS] = {
	"Partida", "Capítulo", "Programa", "Subtítulo", "Ítem", "Asignación",
	"Denominación", "Monto Pesos", "Monto Dólar"
};

/* One line, checked, as it goes to the staging table; NULL or -1 for "not given". */
struct budget_line {
	long		 record;
	const char	*agency_pointer;
	const char	*agency;
	int		 fiscal_year;
	const char	*program;
	long		 subtitulo;
	long		 item;
	long		 asignacion;
	const char	*denomination;
	const char	*phase;
	long		 period;
	const char	*amount;
	const char	*currency;
	const char	*label;		/* how a duplicate names this line */
	const char	*dup_pointer;	/* where a duplicate of it is reported */
};

/* One body being read. */
struct reading {
	const struct budget_scope	*scope;
	struct copy_rows		*rows;
	struct issue_list		*issues;
	struct budget_read_result	*result;
	struct batch_keys		 keys;
	size_t				 issues_before;
	bool				 nomem;
};

static bool
in_list(const char *value, const char *const *values)
{
	for (; *values != NULL; values++)
		if (strcmp(value, *values) == 0)
			return true;
	return false;
}

bool
budget_phase_valid(const char *phase)
{
	return phase != NULL && in_list(phase, phases);
}

bool
budget_csv_params_parse(const char *year, const char *phase,
    struct budget_csv_params *params, char *err, size_t errlen)
{
	long	value;

	memset(params, 0, sizeof(*params));
	if (year == NULL || !fieldcheck_integer(year, BUDGET_YEAR_MIN, BUDGET_YEAR_MAX,
	    &value)) {
		snprintf(err, errlen, "year: must be the fiscal year, %d to %d",
		    BUDGET_YEAR_MIN, BUDGET_YEAR_MAX);
		return false;
	}
	if (!budget_phase_valid(phase)) {
		snprintf(err, errlen, "phase: must be one of " PHASES_TEXT);
		return false;
	}
	params->fiscal_year = (int)value;
	snprintf(params->phase, sizeof(params->phase), "%s", phase);
	return true;
}

/* Marks a line of another agency than the token's: 403, not an issue. */
static void
forbid(struct reading *rd, long record, const char *pointer)
{
	struct budget_read_result	*result = rd->result;

	if (result->forbidden++ == 0) {
		result->forbidden_record = record;
		snprintf(result->forbidden_pointer, sizeof(result->forbidden_pointer),
		    "%s", pointer);
	}
}

static bool
may_write(const struct reading *rd)
{
	return rd->issues->total == rd->issues_before && rd->result->forbidden == 0;
}

static void
copy_small(struct copy_rows *rows, long value)
{
	if (value < 0)
		copy_null(rows);
	else
		copy_fieldf(rows, "%ld", value);
}

/*
 * A checked line: its key is remembered (to find it twice) and, while the batch is
 * clean, its row written.
 */
static void
emit_line(struct reading *rd, const struct budget_line *line)
{
	struct copy_rows	*rows = rd->rows;
	char			*key = NULL;
	int			 len;

	/* NUL between the parts: no value can run into the next. */
	if ((len = asprintf(&key, "%s%c%d%c%s%c%ld%c%ld%c%ld%c%s%c%ld%c%s", line->agency,
	    0, line->fiscal_year, 0, line->program, 0, line->subtitulo, 0, line->item, 0,
	    line->asignacion, 0, line->phase, 0, line->period, 0, line->currency)) == -1) {
		rd->nomem = true;
		return;
	}
	batch_keys_add(&rd->keys, key, (size_t)len, line->record, line->dup_pointer,
	    line->label);
	free(key);
	if (!may_write(rd))
		return;
	copy_fieldf(rows, "%ld", line->record);
	copy_field(rows, line->agency_pointer);
	copy_field(rows, line->agency);
	copy_fieldf(rows, "%d", line->fiscal_year);
	copy_field(rows, line->program);
	copy_fieldf(rows, "%ld", line->subtitulo);
	copy_small(rows, line->item);
	copy_small(rows, line->asignacion);
	copy_field(rows, line->denomination);
	copy_field(rows, line->phase);
	copy_small(rows, line->period);
	copy_field(rows, line->amount);
	copy_field(rows, line->currency);
	copy_end_row(rows);
}

/*
 * JSON ----------------------------------------------------------------------------------
 */

enum {
	L_AGENCY, L_FISCAL_YEAR, L_PROGRAM, L_SUBTITULO, L_ITEM, L_ASIGNACION,
	L_DENOMINATION, L_PHASE, L_PERIOD, L_AMOUNT, L_CURRENCY, NLFIELDS
};

static const char *const line_fields[NLFIELDS] = {
	[L_AGENCY] = "agency", [L_FISCAL_YEAR] = "fiscal_year", [L_PROGRAM] = "program",
	[L_SUBTITULO] = "subtitulo", [L_ITEM] = "item", [L_ASIGNACION] = "asignacion",
	[L_DENOMINATION] = "denomination", [L_PHASE] = "phase", [L_PERIOD] = "period",
	[L_AMOUNT] = "amount", [L_CURRENCY] = "currency",
};

/* One JSON line being checked. */
struct json_line {
	struct reading	*rd;
	long		 index;
	char		 base[BASE_SIZE];	/* "/lines/N" */
	bool		 bad;
	const json_t	*given[NLFIELDS];	/* borrowed from the line's tree */
};

static void	json_problem(struct json_line *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* An issue at the line's field `name` (NULL: the line itself). */
static void
json_problem(struct json_line *jl, const char *name, const char *fmt, ...)
{
	va_list	ap;

	jl->bad = true;
	va_start(ap, fmt);
	if (!issues_add_fieldv(jl->rd->issues, jl->index, jl->base, name, fmt, ap))
		jl->rd->nomem = true;
	va_end(ap);
}

/* A JSON string that is not a tagged number. */
static const char *
plain_string(const json_t *j)
{
	if (j == NULL || !json_is_string(j) || sjson_is_number(j))
		return NULL;
	return json_string_value(j);
}

/* An integer field; -1 when absent (and allowed to be) or wrong. */
static long
json_integer_field(struct json_line *jl, int f, long min, long max, bool required)
{
	const json_t	*value = jl->given[f];
	const char	*text;
	long		 v;

	if (value == NULL) {
		if (required)
			json_problem(jl, line_fields[f], "is required");
		return -1;
	}
	if ((text = sjson_number(value)) == NULL || !fieldcheck_integer(text, min, max, &v)) {
		json_problem(jl, line_fields[f], "must be an integer from %ld to %ld", min, max);
		return -1;
	}
	return v;
}

/* A string field; NULL when absent (and allowed to be) or wrong. */
static const char *
json_text_field(struct json_line *jl, int f, size_t min, size_t max, bool required)
{
	const json_t	*value = jl->given[f];
	const char	*text;
	size_t		 chars;

	if (value == NULL) {
		if (required)
			json_problem(jl, line_fields[f], "is required");
		return NULL;
	}
	if ((text = plain_string(value)) != NULL) {
		chars = utf8_chars(text, json_string_length(value));
		if (chars >= min && chars <= max)
			return text;
	}
	if (min == 0)
		json_problem(jl, line_fields[f], "must be a string of at most %zu characters",
		    max);
	else
		json_problem(jl, line_fields[f], "must be a string of %zu to %zu characters",
		    min, max);
	return NULL;
}

static const char *
json_agency(struct json_line *jl)
{
	const struct budget_scope	*scope = jl->rd->scope;
	const char			*code;
	char				 pointer[POINTER_SIZE];

	if (jl->given[L_AGENCY] == NULL) {
		if (scope->agency == NULL)
			json_problem(jl, "agency", "is required: the token names no agency "
			    "to default to");
		return scope->agency;
	}
	if ((code = plain_string(jl->given[L_AGENCY])) == NULL) {
		json_problem(jl, "agency", "must be a string: an agency code");
		return NULL;
	}
	if (!scope->any_agency && (scope->agency == NULL || strcmp(code, scope->agency) != 0)) {
		jl->bad = true;
		snprintf(pointer, sizeof(pointer), "%s/agency", jl->base);
		forbid(jl->rd, jl->index, pointer);
		return NULL;
	}
	if (!agency_code_valid(code)) {
		json_problem(jl, "agency", "must be an agency code (letters, digits, '.', '_' "
		    "or '-', at most %d bytes)", AGENCY_CODE_MAX);
		return NULL;
	}
	return code;
}

static void
unknown_field(struct json_line *jl, const char *key)
{
	jl->bad = true;
	if (!issues_unknown_field(jl->rd->issues, jl->index, jl->base, key))
		jl->rd->nomem = true;
}

static void
check_json_line(struct json_line *jl, json_t *tree)
{
	struct budget_line	 line;
	const char		*key, *amount = NULL;
	char			 agency_pointer[POINTER_SIZE];
	enum amount_fault	 fault;
	json_t			*value;
	int			 f;

	json_object_foreach(tree, key, value) {
		for (f = 0; f < NLFIELDS; f++)
			if (strcmp(key, line_fields[f]) == 0)
				break;
		if (f == NLFIELDS)
			unknown_field(jl, key);
		else if (!json_is_null(value))
			jl->given[f] = value;	/* null is as good as absent */
	}

	memset(&line, 0, sizeof(line));
	line.record = jl->index;
	snprintf(agency_pointer, sizeof(agency_pointer), "%s/agency", jl->base);
	line.agency_pointer = agency_pointer;
	line.agency = json_agency(jl);
	line.fiscal_year = (int)json_integer_field(jl, L_FISCAL_YEAR, BUDGET_YEAR_MIN,
	    BUDGET_YEAR_MAX, true);
	line.program = json_text_field(jl, L_PROGRAM, 1, BUDGET_PROGRAM_MAX, true);
	line.subtitulo = json_integer_field(jl, L_SUBTITULO, 1, 99, true);
	line.item = json_integer_field(jl, L_ITEM, 1, 99, false);
	line.asignacion = json_integer_field(jl, L_ASIGNACION, 1, 999, false);
	if (jl->given[L_ASIGNACION] != NULL && jl->given[L_ITEM] == NULL)
		json_problem(jl, "asignacion", "needs an item: an asignación is part of an ítem");
	line.denomination = json_text_field(jl, L_DENOMINATION, 0, BUDGET_DENOMINATION_MAX,
	    false);
	if (jl->given[L_PHASE] == NULL)
		json_problem(jl, "phase", "is required");
	else if ((line.phase = plain_string(jl->given[L_PHASE])) == NULL ||
	    !budget_phase_valid(line.phase))
		json_problem(jl, "phase", "must be one of " PHASES_TEXT);
	line.period = json_integer_field(jl, L_PERIOD, 1, 12, false);
	if (jl->given[L_AMOUNT] == NULL)
		json_problem(jl, "amount", "is required");
	else {
		if ((amount = sjson_number(jl->given[L_AMOUNT])) == NULL)
			amount = plain_string(jl->given[L_AMOUNT]);
		fault = amount != NULL ? fieldcheck_amount(amount, true) : AMOUNT_NOT_DECIMAL;
		if (fault != AMOUNT_OK)
			json_problem(jl, "amount", "%s", fieldcheck_amount_message(fault));
		line.amount = amount;
	}
	if (jl->given[L_CURRENCY] == NULL)
		json_problem(jl, "currency", "is required");
	else if ((line.currency = plain_string(jl->given[L_CURRENCY])) == NULL ||
	    !fieldcheck_currency(line.currency))
		json_problem(jl, "currency", "must be an ISO 4217 currency code "
		    "(three capital letters)");
	if (jl->bad)
		return;
	line.label = jl->base;
	line.dup_pointer = jl->base;
	emit_line(jl->rd, &line);
}

/* One element of "lines", at its value. */
static int
read_json_line(struct reading *rd, struct sjson_reader *r, long index)
{
	struct json_line	 jl;
	json_t			*tree = NULL;

	memset(&jl, 0, sizeof(jl));
	jl.rd = rd;
	jl.index = index;
	snprintf(jl.base, sizeof(jl.base), "/lines/%ld", index);
	if (sjson_peek(r) != SJSON_OBJECT_BEGIN) {
		json_problem(&jl, NULL, "must be an object");
		return sjson_skip(r) ? 0 : -1;
	}
	if ((tree = sjson_take(r, NULL, NULL)) == NULL)
		return -1;
	check_json_line(&jl, tree);
	json_decref(tree);
	return rd->nomem ? -1 : 0;
}

static int
read_json_lines(struct reading *rd, struct sjson_reader *r)
{
	enum sjson_token	tok;

	if (sjson_peek(r) != SJSON_ARRAY_BEGIN) {
		issues_add(rd->issues, -1, "/lines", "must be an array of budget lines");
		return sjson_skip(r) ? 0 : -1;
	}
	sjson_next(r);
	for (;;) {
		if ((tok = sjson_peek(r)) == SJSON_ARRAY_END) {
			sjson_next(r);
			return 0;
		}
		if (tok == SJSON_ERROR)
			return -1;
		if (read_json_line(rd, r, (long)rd->result->records++) == -1)
			return -1;
	}
}

/* The envelope: an object whose only key is "lines". */
static int
read_json_envelope(struct reading *rd, struct sjson_reader *r)
{
	enum sjson_token	 tok;
	const char		*key;
	char			*pointer;
	bool			 seen = false;

	if ((tok = sjson_peek(r)) == SJSON_ERROR)
		return -1;
	if (tok != SJSON_OBJECT_BEGIN) {
		issues_add(rd->issues, -1, "", "must be an object: {\"lines\": [...]}");
		return sjson_skip(r) ? 0 : -1;
	}
	sjson_next(r);
	while ((tok = sjson_next(r)) == SJSON_KEY) {
		key = sjson_key(r);
		if (strcmp(key, "lines") == 0) {
			seen = true;
			if (read_json_lines(rd, r) == -1)
				return -1;
			continue;
		}
		if (strlen(key) > ISSUES_KEY_QUOTED_MAX)
			issues_add(rd->issues, -1, "", "unknown field \"%.*s...\": the body "
			    "holds only \"lines\"", ISSUES_KEY_QUOTED_MAX, key);
		else if ((pointer = issues_pointer("", key)) != NULL) {
			issues_add(rd->issues, -1, pointer, "unknown field: the body holds "
			    "only \"lines\"");
			free(pointer);
		} else {
			rd->nomem = true;
			return -1;
		}
		if (!sjson_skip(r))
			return -1;
	}
	if (tok != SJSON_OBJECT_END)
		return -1;
	if (!seen)
		issues_add(rd->issues, -1, "/lines", "is required: an array of budget lines");
	return 0;
}

static void
reading_init(struct reading *rd, const struct budget_scope *scope, struct copy_rows *rows,
    struct issue_list *issues, struct budget_read_result *result)
{
	memset(rd, 0, sizeof(*rd));
	memset(result, 0, sizeof(*result));
	result->forbidden_record = -1;
	rd->scope = scope;
	rd->rows = rows;
	rd->issues = issues;
	rd->result = result;
	rd->issues_before = issues->total;
}

#define DUPLICATE_WHY	"the same agency, year, program, classification, phase, " \
			"period and currency"

enum budget_read_status
budget_read_json(const char *body, size_t len, const struct sjson_limits *limits,
    const struct budget_scope *scope, struct copy_rows *rows, struct issue_list *issues,
    struct sjson_error *err, struct budget_read_result *result)
{
	struct reading			 rd;
	struct sjson_reader		*r = NULL;
	const struct sjson_error	*e;
	enum budget_read_status		 status = BUDGET_READ_NOMEM;

	reading_init(&rd, scope, rows, issues, result);
	if ((r = sjson_reader_new(body, len, limits)) == NULL)
		goto out;
	if (read_json_envelope(&rd, r) == -1 || sjson_next(r) != SJSON_END)
		goto fail;
	batch_keys_report(&rd.keys, issues, DUPLICATE_WHY);
	if (rd.keys.failed)
		goto out;
	status = BUDGET_READ_OK;
	goto out;
fail:
	if (rd.nomem)
		goto out;
	/* A failed peek may leave the reason to the next call. */
	if ((e = sjson_reader_error(r)) == NULL) {
		sjson_next(r);
		e = sjson_reader_error(r);
	}
	/* The reader reports its own allocation failures as errors of the input. */
	if (e != NULL && strcmp(e->message, "out of memory") != 0) {
		if (err != NULL)
			*err = *e;
		status = BUDGET_READ_MALFORMED;
	}
out:
	batch_keys_free(&rd.keys);
	sjson_reader_free(r);
	return status;
}

/*
 * CSV -----------------------------------------------------------------------------------
 */

enum {
	C_PARTIDA, C_CAPITULO, C_PROGRAMA, C_SUBTITULO, C_ITEM, C_ASIGNACION,
	C_DENOMINACION, C_PESOS, C_DOLAR
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A field without the blanks around it. */
static void
trim(const struct csv_field *field, const char **s, size_t *len)
{
	const char	*p = field->data;
	size_t		 n = field->len;

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*s = p;
	*len = n;
}

/* A classifier number: 1 to 3 digits, leading zeros allowed ("05", "001"). */
static bool
csv_number(const char *s, size_t len, long min, long max, long *value)
{
	char	text[4];

	if (len == 0 || len > 3)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	memcpy(text, s, len);
	text[len] = '\0';
	return fieldcheck_integer(text, min, max, value);
}

/*
 * A budget law amount (thousands, decimal comma) as units in decimal text:
 * "126199" gives "126199000", "0,001" "1", "-12,5" "-12500", "0,0005" "0.5".
 */
static bool
thousands_to_units(const char *s, size_t len, char units[UNITS_SIZE], bool *zero)
{
	char	 whole[BUDGET_CSV_INT_DIGITS_MAX + 4], fraction[BUDGET_CSV_FRAC_DIGITS_MAX];
	size_t	 i = 0, int_from, int_len, frac_from = 0, frac_len = 0, nw = 0, nf = 0, o = 0;
	bool	 negative = false;

	if (i < len && s[i] == '-') {
		negative = true;
		i++;
	}
	for (int_from = i; i < len && is_digit(s[i]); i++)
		;
	if ((int_len = i - int_from) == 0)
		return false;
	if (i < len && s[i] == ',') {
		for (frac_from = ++i; i < len && is_digit(s[i]); i++)
			;
		if ((frac_len = i - frac_from) == 0)
			return false;
	}
	if (i != len)
		return false;
	while (int_len > 1 && s[int_from] == '0') {
		int_from++;
		int_len--;
	}
	if (int_len > BUDGET_CSV_INT_DIGITS_MAX || frac_len > BUDGET_CSV_FRAC_DIGITS_MAX)
		return false;

	/* × 1000: the point moves three digits right. */
	for (i = 0; i < int_len; i++)
		whole[nw++] = s[int_from + i];
	for (i = 0; i < 3; i++)
		whole[nw++] = i < frac_len ? s[frac_from + i] : '0';
	for (i = 3; i < frac_len; i++)
		fraction[nf++] = s[frac_from + i];
	while (nf > 0 && fraction[nf - 1] == '0')
		nf--;
	for (i = 0; i + 1 < nw && whole[i] == '0'; i++)
		;
	*zero = nw - i == 1 && whole[i] == '0' && nf == 0;
	if (negative && !*zero)
		units[o++] = '-';
	memcpy(units + o, whole + i, nw - i);
	o += nw - i;
	if (nf > 0) {
		units[o++] = '.';
		memcpy(units + o, fraction, nf);
		o += nf;
	}
	units[o] = '\0';
	return true;
}

static void	csv_problem(struct reading *, long, const char *, int, const char *, ...)
		    __attribute__((format(printf, 5, 6)));

static void
csv_problem(struct reading *rd, long record, const char *pointer, int column,
    const char *fmt, ...)
{
	char	*message = NULL;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&message, fmt, ap);
	va_end(ap);
	if (n < 0) {
		rd->nomem = true;
		return;
	}
	issues_add(rd->issues, record, pointer, "%s: %s", csv_columns[column], message);
	free(message);
}

static void
read_csv_line(struct reading *rd, const struct csv_record *rec,
    const struct budget_csv_params *params, long index)
{
	const struct budget_scope	*scope = rd->scope;
	struct budget_line		 line;
	const char			*s[CSV_FIELDS];
	size_t				 n[CSV_FIELDS];
	char				 pointer[POINTER_SIZE], agency[16], program[4];
	char				 pesos[UNITS_SIZE], dollars[UNITS_SIZE];
	char				*denomination = NULL;
	long				 partida, capitulo, programa;
	bool				 bad = false, pesos_zero = false, dollars_zero = true;

	snprintf(pointer, sizeof(pointer), "line %lu", rec->line);
	if (rec->count != CSV_FIELDS) {
		issues_add(rd->issues, index, pointer, "must have %d fields "
		    "(Partida;Capítulo;Programa;Subtítulo;Ítem;Asignación;Denominación;"
		    "Monto Pesos;Monto Dólar), not %zu", CSV_FIELDS, rec->count);
		return;
	}
	for (int i = 0; i < CSV_FIELDS; i++)
		trim(&rec->fields[i], &s[i], &n[i]);

	memset(&line, 0, sizeof(line));
	line.item = line.asignacion = line.period = -1;
	if (!csv_number(s[C_PARTIDA], n[C_PARTIDA], 1, 99, &partida)) {
		csv_problem(rd, index, pointer, C_PARTIDA, "must be a number from 1 to 99");
		bad = true;
	}
	if (!csv_number(s[C_CAPITULO], n[C_CAPITULO], 0, 99, &capitulo)) {
		csv_problem(rd, index, pointer, C_CAPITULO, "must be a number from 0 to 99");
		bad = true;
	}
	if (!csv_number(s[C_PROGRAMA], n[C_PROGRAMA], 0, 99, &programa)) {
		csv_problem(rd, index, pointer, C_PROGRAMA, "must be a number from 0 to 99");
		bad = true;
	}
	if (!csv_number(s[C_SUBTITULO], n[C_SUBTITULO], 1, 99, &line.subtitulo)) {
		csv_problem(rd, index, pointer, C_SUBTITULO, "must be a number from 1 to 99");
		bad = true;
	}
	if (n[C_ITEM] > 0 && !csv_number(s[C_ITEM], n[C_ITEM], 1, 99, &line.item)) {
		csv_problem(rd, index, pointer, C_ITEM, "must be empty or a number from 1 to 99");
		bad = true;
	}
	if (n[C_ASIGNACION] > 0) {
		if (!csv_number(s[C_ASIGNACION], n[C_ASIGNACION], 1, 999, &line.asignacion)) {
			csv_problem(rd, index, pointer, C_ASIGNACION,
			    "must be empty or a number from 1 to 999");
			bad = true;
		} else if (n[C_ITEM] == 0) {
			csv_problem(rd, index, pointer, C_ASIGNACION,
			    "needs an Ítem: an asignación is part of an ítem");
			bad = true;
		}
	}
	if (!utf8_valid(s[C_DENOMINACION], n[C_DENOMINACION]) ||
	    utf8_chars(s[C_DENOMINACION], n[C_DENOMINACION]) > BUDGET_DENOMINATION_MAX) {
		csv_problem(rd, index, pointer, C_DENOMINACION, "must be UTF-8 text of at "
		    "most %d characters", BUDGET_DENOMINATION_MAX);
		bad = true;
	}
	if (n[C_PESOS] == 0) {
		csv_problem(rd, index, pointer, C_PESOS, "is required (0 for none)");
		bad = true;
	} else if (!thousands_to_units(s[C_PESOS], n[C_PESOS], pesos, &pesos_zero)) {
		csv_problem(rd, index, pointer, C_PESOS, "must be an amount in thousands: "
		    "digits, an optional '-' and a decimal comma (126199, -800000, 0,001), "
		    "at most %d integer and %d fraction digits", BUDGET_CSV_INT_DIGITS_MAX,
		    BUDGET_CSV_FRAC_DIGITS_MAX);
		bad = true;
	}
	/* No dollar amount is no dollar line. */
	if (n[C_DOLAR] > 0 && !thousands_to_units(s[C_DOLAR], n[C_DOLAR], dollars,
	    &dollars_zero)) {
		csv_problem(rd, index, pointer, C_DOLAR, "must be an amount in thousands: "
		    "digits, an optional '-' and a decimal comma (58873, 0,5), at most %d "
		    "integer and %d fraction digits", BUDGET_CSV_INT_DIGITS_MAX,
		    BUDGET_CSV_FRAC_DIGITS_MAX);
		bad = true;
	}
	if (bad)
		return;

	if (capitulo == 0)
		snprintf(agency, sizeof(agency), "%02ld", partida);
	else
		snprintf(agency, sizeof(agency), "%02ld-%02ld", partida, capitulo);
	if (!scope->any_agency && (scope->agency == NULL || strcmp(agency, scope->agency) != 0)) {
		forbid(rd, index, pointer);
		return;
	}
	snprintf(program, sizeof(program), "%02ld", programa);
	if (n[C_DENOMINACION] > 0 &&
	    (denomination = strndup(s[C_DENOMINACION], n[C_DENOMINACION])) == NULL) {
		rd->nomem = true;
		return;
	}

	line.record = index;
	line.agency_pointer = pointer;
	line.agency = agency;
	line.fiscal_year = params->fiscal_year;
	line.program = program;
	line.denomination = denomination;
	line.phase = params->phase;
	line.label = pointer;
	line.dup_pointer = pointer;
	if (!pesos_zero || dollars_zero) {
		line.amount = pesos;
		line.currency = "CLP";
		emit_line(rd, &line);
	}
	if (!dollars_zero) {
		line.amount = dollars;
		line.currency = "USD";
		emit_line(rd, &line);
	}
	free(denomination);
}

/* A first line naming the columns rather than holding a budget line. */
static bool
is_header(const struct csv_record *rec)
{
	const char	*s;
	size_t		 n;

	if (rec->count == 0)
		return false;
	trim(&rec->fields[0], &s, &n);
	return n == strlen("Partida") && strncasecmp(s, "Partida", n) == 0;
}

enum budget_read_status
budget_read_csv(const char *body, size_t len, const struct budget_csv_params *params,
    const struct budget_scope *scope, struct copy_rows *rows, struct issue_list *issues,
    struct sjson_error *err, struct budget_read_result *result)
{
	struct reading		 rd;
	struct csv_reader	 cr;
	struct csv_record	 rec;
	enum budget_read_status	 status = BUDGET_READ_NOMEM;
	unsigned long		 line;
	const char		*message;
	int			 got, consumed = 0;
	bool			 first = true;

	reading_init(&rd, scope, rows, issues, result);
	csv_reader_init(&cr, body, len, ';');
	while ((got = csv_next(&cr, &rec)) == 1) {
		if (first && is_header(&rec)) {
			first = false;
			continue;
		}
		first = false;
		read_csv_line(&rd, &rec, params, (long)result->records++);
		if (rd.nomem)
			goto out;
	}
	if (got == -1) {
		message = csv_error(&cr);
		if (strstr(message, "out of memory") != NULL)
			goto out;
		if (err != NULL) {
			memset(err, 0, sizeof(*err));
			/* "line N: what" */
			if (sscanf(message, "line %lu: %n", &line, &consumed) == 1 &&
			    consumed > 0) {
				err->line = line > INT_MAX ? INT_MAX : (int)line;
				message += consumed;
			}
			snprintf(err->message, sizeof(err->message), "%s", message);
		}
		status = BUDGET_READ_MALFORMED;
		goto out;
	}
	batch_keys_report(&rd.keys, issues, DUPLICATE_WHY);
	if (rd.keys.failed)
		goto out;
	status = BUDGET_READ_OK;
out:
	csv_reader_free(&cr);
	batch_keys_free(&rd.keys);
	return status;
}
