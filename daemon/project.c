/*
 * Pushed ICT projects (include/project.h): {"projects": [...]} walked one record at a
 * time, every field of every record checked against one table of fields, and each
 * valid record written as a COPY row with its canonical JSON and content hash.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "agency.h"
#include "copy.h"
#include "digest.h"
#include "fieldcheck.h"
#include "issues.h"
#include "project.h"
#include "sjson.h"
#include "utf8.h"

/* "/projects/18446744073709551615/shared_platforms/18446744073709551615" fits. */
#define POINTER_SIZE	96
/* A record's own pointer, "/projects/18446744073709551615". */
#define BASE_SIZE	32
/* An unknown key longer than this is quoted, cut, in the message, not the pointer. */

enum field_kind {
	FIELD_AGENCY,
	FIELD_TEXT,
	FIELD_ENUM,
	FIELD_DATE,
	FIELD_AMOUNT,
	FIELD_CURRENCY,
	FIELD_RATING,
	FIELD_TAGS,
};

struct field {
	const char		*name;
	enum field_kind		 kind;
	bool			 required;
	size_t			 min;		/* characters of a text, or of a tag */
	size_t			 max;
	size_t			 max_items;	/* tags */
	const char *const	*values;	/* enum, NULL-terminated */
	const char		*values_text;	/* the same, for messages */
	const char		*fallback;	/* enum default when absent */
};

static const char *const statuses[] = {
	"planned", "in_progress", "completed", "cancelled", "deferred", NULL
};
static const char *const review_statuses[] = {
	"not_submitted", "submitted", "approved", "observed", "rejected", NULL
};
static const char *const funding_sources[] = {
	"agency_budget", "central_fund", "loan", "grant", "other", NULL
};

/* The fields of a project, in the order of the canonical record and of the row. */
enum {
	F_AGENCY, F_ID, F_TITLE, F_DESCRIPTION, F_CATEGORY, F_CAPABILITIES, F_STATUS,
	F_PLANNED_START, F_PLANNED_END, F_PROJECTED_END, F_ACTUAL_START, F_ACTUAL_END,
	F_PLANNED_COST, F_PROJECTED_COST, F_ACTUAL_COST, F_CURRENCY, F_REVIEW_STATUS,
	F_CIO_RATING, F_SHARED_PLATFORMS, F_BUDGET_LINES, F_OCIDS, F_FUNDING_SOURCE,
	F_FUNDING_PROGRAM, NFIELDS
};

static const struct field fields[NFIELDS] = {
	[F_AGENCY] = { "agency", FIELD_AGENCY, false, 0, 0, 0, NULL, NULL, NULL },
	[F_ID] = { "id", FIELD_TEXT, true, 1, PROJECT_ID_MAX, 0, NULL, NULL, NULL },
	[F_TITLE] = { "title", FIELD_TEXT, true, 1, PROJECT_TITLE_MAX, 0, NULL, NULL,
	    NULL },
	[F_DESCRIPTION] = { "description", FIELD_TEXT, false, 0, PROJECT_DESCRIPTION_MAX,
	    0, NULL, NULL, NULL },
	[F_CATEGORY] = { "category", FIELD_TEXT, false, 0, PROJECT_NAME_MAX, 0, NULL,
	    NULL, NULL },
	[F_CAPABILITIES] = { "capabilities", FIELD_TAGS, false, 1, PROJECT_TAG_MAX,
	    PROJECT_CAPABILITIES_MAX, NULL, NULL, NULL },
	[F_STATUS] = { "status", FIELD_ENUM, true, 0, 0, 0, statuses,
	    "planned, in_progress, completed, cancelled or deferred", NULL },
	[F_PLANNED_START] = { "planned_start", FIELD_DATE, false, 0, 0, 0, NULL, NULL,
	    NULL },
	[F_PLANNED_END] = { "planned_end", FIELD_DATE, false, 0, 0, 0, NULL, NULL, NULL },
	[F_PROJECTED_END] = { "projected_end", FIELD_DATE, false, 0, 0, 0, NULL, NULL,
	    NULL },
	[F_ACTUAL_START] = { "actual_start", FIELD_DATE, false, 0, 0, 0, NULL, NULL,
	    NULL },
	[F_ACTUAL_END] = { "actual_end", FIELD_DATE, false, 0, 0, 0, NULL, NULL, NULL },
	[F_PLANNED_COST] = { "planned_cost", FIELD_AMOUNT, false, 0, 0, 0, NULL, NULL,
	    NULL },
	[F_PROJECTED_COST] = { "projected_cost", FIELD_AMOUNT, false, 0, 0, 0, NULL, NULL,
	    NULL },
	[F_ACTUAL_COST] = { "actual_cost", FIELD_AMOUNT, false, 0, 0, 0, NULL, NULL,
	    NULL },
	[F_CURRENCY] = { "currency", FIELD_CURRENCY, false, 0, 0, 0, NULL, NULL, NULL },
	[F_REVIEW_STATUS] = { "review_status", FIELD_ENUM, false, 0, 0, 0,
	    review_statuses,
	    "not_submitted, submitted, approved, observed or rejected", "not_submitted" },
	[F_CIO_RATING] = { "cio_rating", FIELD_RATING, false, 0, 0, 0, NULL, NULL, NULL },
	[F_SHARED_PLATFORMS] = { "shared_platforms", FIELD_TAGS, false, 1,
	    PROJECT_TAG_MAX, PROJECT_SHARED_PLATFORMS_MAX, NULL, NULL, NULL },
	[F_BUDGET_LINES] = { "budget_lines", FIELD_TAGS, false, 1, PROJECT_TAG_MAX,
	    PROJECT_BUDGET_LINES_MAX, NULL, NULL, NULL },
	[F_OCIDS] = { "ocids", FIELD_TAGS, false, 1, PROJECT_OCID_MAX, PROJECT_OCIDS_MAX,
	    NULL, NULL, NULL },
	[F_FUNDING_SOURCE] = { "funding_source", FIELD_ENUM, false, 0, 0, 0,
	    funding_sources, "agency_budget, central_fund, loan, grant or other", NULL },
	[F_FUNDING_PROGRAM] = { "funding_program", FIELD_TEXT, false, 0,
	    PROJECT_NAME_MAX, 0, NULL, NULL, NULL },
};

/* Dates that may not come before another: (later, earlier). */
static const int date_order[][2] = {
	{ F_PLANNED_END, F_PLANNED_START },
	{ F_PROJECTED_END, F_PLANNED_START },
	{ F_ACTUAL_END, F_ACTUAL_START },
};

/* One body being read. */
struct reading {
	struct sjson_reader		*r;
	const struct project_scope	*scope;
	struct copy_rows		*rows;
	struct issue_list		*issues;
	struct project_read_result	*result;
	struct batch_keys		 ids;
	size_t				 issues_before;
	bool				 nomem;
};

/* One record being checked. */
struct record {
	struct reading	*rd;
	long		 index;
	char		 base[BASE_SIZE];	/* "/projects/N" */
	bool		 bad;
	const json_t	*given[NFIELDS];	/* borrowed from the record's tree */
	const char	*text[NFIELDS];		/* a valid scalar's text, or NULL */
	const char	*agency;		/* the effective agency */
};

static void	problem(struct record *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* An issue at the record's field `name` (NULL: the record itself). */
static void
problem(struct record *rec, const char *name, const char *fmt, ...)
{
	va_list	ap;

	rec->bad = true;
	va_start(ap, fmt);
	if (!issues_add_fieldv(rec->rd->issues, rec->index, rec->base, name, fmt, ap))
		rec->rd->nomem = true;
	va_end(ap);
}

static int
field_index(const char *name)
{
	for (int i = 0; i < NFIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return i;
	return -1;
}

static void
unknown_field(struct record *rec, const char *key)
{
	rec->bad = true;
	if (!issues_unknown_field(rec->rd->issues, rec->index, rec->base, key))
		rec->rd->nomem = true;
}

/* A JSON string that is not a tagged number. */
static const char *
plain_string(const json_t *j)
{
	if (j == NULL || !json_is_string(j) || sjson_is_number(j))
		return NULL;
	return json_string_value(j);
}

static bool
in_list(const char *value, const char *const *values)
{
	for (; *values != NULL; values++)
		if (strcmp(value, *values) == 0)
			return true;
	return false;
}

static bool
length_ok(const json_t *j, size_t min, size_t max)
{
	size_t	chars = utf8_chars(json_string_value(j), json_string_length(j));

	return chars >= min && chars <= max;
}

static void
length_problem(struct record *rec, const char *name, size_t min, size_t max)
{
	if (min == 0)
		problem(rec, name, "must be a string of at most %zu characters", max);
	else
		problem(rec, name, "must be a string of %zu to %zu characters", min, max);
}

static void
check_tags(struct record *rec, int f, const json_t *value)
{
	const struct field	*field = &fields[f];
	char			 name[POINTER_SIZE];
	size_t			 i;

	if (!json_is_array(value)) {
		problem(rec, field->name, "must be an array of strings");
		return;
	}
	if (json_array_size(value) > field->max_items) {
		problem(rec, field->name, "must hold at most %zu strings", field->max_items);
		return;
	}
	for (i = 0; i < json_array_size(value); i++) {
		const json_t *tag = json_array_get(value, i);

		if (plain_string(tag) != NULL && length_ok(tag, field->min, field->max))
			continue;
		snprintf(name, sizeof(name), "%s/%zu", field->name, i);
		length_problem(rec, name, field->min, field->max);
	}
}

/* The agency a record belongs to, by the scope's rules. */
static void
check_agency(struct record *rec, const json_t *value)
{
	const struct project_scope	*scope = rec->rd->scope;
	struct project_read_result	*result = rec->rd->result;
	const char			*code;

	if (value == NULL) {
		if (scope->agency != NULL)
			rec->agency = scope->agency;
		else
			problem(rec, "agency", "is required: the token names no agency "
			    "to default to");
		return;
	}
	if ((code = plain_string(value)) == NULL) {
		problem(rec, "agency", "must be a string: an agency code");
		return;
	}
	if (!scope->any_agency && (scope->agency == NULL || strcmp(code, scope->agency) != 0)) {
		/* Not an issue: the request is refused with 403, not 422. */
		rec->bad = true;
		if (result->forbidden++ == 0) {
			result->forbidden_record = rec->index;
			snprintf(result->forbidden_pointer, sizeof(result->forbidden_pointer),
			    "%s/agency", rec->base);
		}
		return;
	}
	if (!agency_code_valid(code)) {
		problem(rec, "agency", "must be an agency code (letters, digits, '.', '_' "
		    "or '-', at most %d bytes)", AGENCY_CODE_MAX);
		return;
	}
	rec->agency = code;
}

/* One field present with a non-null value; its text is kept when it is valid. */
static void
check_field(struct record *rec, int f, const json_t *value)
{
	const struct field	*field = &fields[f];
	const char		*text = plain_string(value), *number;
	enum amount_fault	 fault;

	switch (field->kind) {
	case FIELD_AGENCY:
		return;			/* check_agency */
	case FIELD_TEXT:
		if (text == NULL || !length_ok(value, field->min, field->max)) {
			length_problem(rec, field->name, field->min, field->max);
			return;
		}
		break;
	case FIELD_ENUM:
		if (text == NULL || !in_list(text, field->values)) {
			problem(rec, field->name, "must be one of %s", field->values_text);
			return;
		}
		break;
	case FIELD_DATE:
		if (text == NULL || !fieldcheck_date(text)) {
			problem(rec, field->name, "must be a calendar date written "
			    "YYYY-MM-DD (years %d to %d)", FIELDCHECK_YEAR_MIN,
			    FIELDCHECK_YEAR_MAX);
			return;
		}
		break;
	case FIELD_AMOUNT:
		if ((number = sjson_number(value)) != NULL)
			text = number;
		if (text == NULL)
			fault = AMOUNT_NOT_DECIMAL;
		else
			fault = fieldcheck_amount(text, false);
		if (fault != AMOUNT_OK) {
			problem(rec, field->name, "%s", fieldcheck_amount_message(fault));
			return;
		}
		break;
	case FIELD_CURRENCY:
		if (text == NULL || !fieldcheck_currency(text)) {
			problem(rec, field->name, "must be an ISO 4217 currency code "
			    "(three capital letters)");
			return;
		}
		break;
	case FIELD_RATING:
		text = sjson_number(value);
		if (text == NULL || !fieldcheck_integer(text, 1, 5, NULL)) {
			problem(rec, field->name, "must be an integer from 1 to 5");
			return;
		}
		break;
	case FIELD_TAGS:
		check_tags(rec, f, value);
		return;
	}
	rec->text[f] = text;
}

static void
check_record(struct record *rec, json_t *tree)
{
	const char	*key;
	json_t		*value;
	bool		 costs = false;
	int		 f;

	json_object_foreach(tree, key, value) {
		if ((f = field_index(key)) == -1) {
			unknown_field(rec, key);
			continue;
		}
		/* null is as good as absent: an exporter's way to say "not known". */
		if (!json_is_null(value))
			rec->given[f] = value;
	}
	check_agency(rec, rec->given[F_AGENCY]);
	for (f = 0; f < NFIELDS; f++) {
		if (rec->given[f] != NULL)
			check_field(rec, f, rec->given[f]);
		else if (fields[f].required)
			problem(rec, fields[f].name, "is required");
		else if (fields[f].fallback != NULL)
			rec->text[f] = fields[f].fallback;
	}

	for (size_t i = 0; i < sizeof(date_order) / sizeof(date_order[0]); i++) {
		const char *later = rec->text[date_order[i][0]];
		const char *earlier = rec->text[date_order[i][1]];

		/* YYYY-MM-DD compares as text. */
		if (later != NULL && earlier != NULL && strcmp(later, earlier) < 0)
			problem(rec, fields[date_order[i][0]].name, "must not be before %s",
			    fields[date_order[i][1]].name);
	}
	costs = rec->given[F_PLANNED_COST] != NULL || rec->given[F_PROJECTED_COST] != NULL ||
	    rec->given[F_ACTUAL_COST] != NULL;
	if (costs && rec->given[F_CURRENCY] == NULL)
		problem(rec, "currency", "is required when a cost is given");
}

/*
 * The record as accepted: fields in table order, absent and empty ones left out,
 * amounts as numbers, defaults filled in. It is what project_version keeps.
 */
static json_t *
canonical(const struct record *rec)
{
	json_t	*canon = NULL, *value;
	int	 f;

	if ((canon = json_object()) == NULL)
		return NULL;
	for (f = 0; f < NFIELDS; f++) {
		const struct field *field = &fields[f];

		switch (field->kind) {
		case FIELD_AGENCY:
			value = json_string(rec->agency);
			break;
		case FIELD_AMOUNT:
		case FIELD_RATING:
			if (rec->text[f] == NULL)
				continue;
			value = sjson_number_new(rec->text[f]);
			break;
		case FIELD_TAGS:
			if (rec->given[f] == NULL || json_array_size(rec->given[f]) == 0)
				continue;
			value = json_deep_copy(rec->given[f]);
			break;
		default:
			if (rec->text[f] == NULL)
				continue;
			value = json_string(rec->text[f]);
			break;
		}
		if (value == NULL || json_object_set_new(canon, field->name, value) == -1) {
			json_decref(canon);
			return NULL;
		}
	}
	return canon;
}

/* A PostgreSQL array literal of the strings of `tags` (NULL: empty), every one quoted. */
static char *
array_literal(const json_t *tags)
{
	size_t	 n = tags != NULL ? json_array_size(tags) : 0, size = 3, o = 0;
	char	*out;

	for (size_t i = 0; i < n; i++)
		size += 2 * json_string_length(json_array_get(tags, i)) + 3;
	if ((out = malloc(size)) == NULL)
		return NULL;
	out[o++] = '{';
	for (size_t i = 0; i < n; i++) {
		const json_t *tag = json_array_get(tags, i);
		const char *s = json_string_value(tag);
		size_t len = json_string_length(tag);

		if (i > 0)
			out[o++] = ',';
		out[o++] = '"';
		for (size_t j = 0; j < len; j++) {
			if (s[j] == '"' || s[j] == '\\')
				out[o++] = '\\';
			out[o++] = s[j];
		}
		out[o++] = '"';
	}
	out[o++] = '}';
	out[o] = '\0';
	return out;
}

static bool
write_row(struct record *rec)
{
	struct copy_rows	*rows = rec->rd->rows;
	json_t			*canon = NULL;
	char			*data = NULL, *array, hash[65];
	bool			 ok = false;
	int			 f;

	if ((canon = canonical(rec)) == NULL || (data = sjson_dumps(canon)) == NULL ||
	    !sha256_hex(data, strlen(data), hash))
		goto out;
	copy_fieldf(rows, "%ld", rec->index);
	copy_fieldf(rows, "%s/agency", rec->base);
	for (f = 0; f < NFIELDS; f++) {
		switch (fields[f].kind) {
		case FIELD_AGENCY:
			copy_field(rows, rec->agency);
			break;
		case FIELD_TAGS:
			if ((array = array_literal(rec->given[f])) == NULL) {
				rows->failed = true;
				goto out;
			}
			copy_field(rows, array);
			free(array);
			break;
		default:
			copy_field(rows, rec->text[f]);
			break;
		}
	}
	copy_field(rows, hash);
	copy_field(rows, data);
	copy_end_row(rows);
	ok = !rows->failed;
out:
	free(data);
	json_decref(canon);
	return ok;
}

/* Remembers the record's (agency, id), to find the same project twice in the batch. */
static void
remember_id(struct record *rec)
{
	struct reading	*rd = rec->rd;
	const json_t	*id = rec->given[F_ID];
	char		*key = NULL, where[POINTER_SIZE];
	size_t		 alen = strlen(rec->agency), ilen = json_string_length(id);

	if ((key = malloc(alen + 1 + ilen)) == NULL) {
		rd->nomem = true;
		return;
	}
	memcpy(key, rec->agency, alen + 1);
	memcpy(key + alen + 1, json_string_value(id), ilen);
	snprintf(where, sizeof(where), "%s/id", rec->base);
	batch_keys_add(&rd->ids, key, alen + 1 + ilen, rec->index, where, rec->base);
	free(key);
}

/* One element of "projects", at its value. */
static int
read_project(struct reading *rd, long index)
{
	struct record	 rec;
	json_t		*tree = NULL;
	int		 rc = -1;

	memset(&rec, 0, sizeof(rec));
	rec.rd = rd;
	rec.index = index;
	snprintf(rec.base, sizeof(rec.base), "/projects/%ld", index);
	if (sjson_peek(rd->r) != SJSON_OBJECT_BEGIN) {
		problem(&rec, NULL, "must be an object");
		return sjson_skip(rd->r) ? 0 : -1;
	}
	if ((tree = sjson_take(rd->r, NULL, NULL)) == NULL)
		goto out;
	check_record(&rec, tree);
	if (rec.agency != NULL && rec.text[F_ID] != NULL)
		remember_id(&rec);
	if (!rec.bad && rd->issues->total == rd->issues_before &&
	    rd->result->forbidden == 0 && !write_row(&rec))
		rd->nomem = true;
	rc = rd->nomem ? -1 : 0;
out:
	json_decref(tree);
	return rc;
}

static int
read_projects(struct reading *rd)
{
	enum sjson_token	tok;

	if (sjson_peek(rd->r) != SJSON_ARRAY_BEGIN) {
		issues_add(rd->issues, -1, "/projects", "must be an array of projects");
		return sjson_skip(rd->r) ? 0 : -1;
	}
	sjson_next(rd->r);
	for (;;) {
		if ((tok = sjson_peek(rd->r)) == SJSON_ARRAY_END) {
			sjson_next(rd->r);
			return 0;
		}
		if (tok == SJSON_ERROR)
			return -1;
		if (read_project(rd, (long)rd->result->records++) == -1)
			return -1;
	}
}

/* The envelope: an object whose only key is "projects". */
static int
read_envelope(struct reading *rd)
{
	enum sjson_token	 tok;
	const char		*key;
	char			*pointer;
	bool			 seen = false;

	if ((tok = sjson_peek(rd->r)) == SJSON_ERROR)
		return -1;
	if (tok != SJSON_OBJECT_BEGIN) {
		issues_add(rd->issues, -1, "", "must be an object: {\"projects\": [...]}");
		return sjson_skip(rd->r) ? 0 : -1;
	}
	sjson_next(rd->r);
	while ((tok = sjson_next(rd->r)) == SJSON_KEY) {
		key = sjson_key(rd->r);
		if (strcmp(key, "projects") == 0) {
			seen = true;
			if (read_projects(rd) == -1)
				return -1;
			continue;
		}
		if (strlen(key) > ISSUES_KEY_QUOTED_MAX)
			issues_add(rd->issues, -1, "", "unknown field \"%.*s...\": the body "
			    "holds only \"projects\"", ISSUES_KEY_QUOTED_MAX, key);
		else if ((pointer = issues_pointer("", key)) != NULL) {
			issues_add(rd->issues, -1, pointer, "unknown field: the body holds "
			    "only \"projects\"");
			free(pointer);
		} else {
			rd->nomem = true;
			return -1;
		}
		if (!sjson_skip(rd->r))
			return -1;
	}
	if (tok != SJSON_OBJECT_END)
		return -1;
	if (!seen)
		issues_add(rd->issues, -1, "/projects", "is required: an array of projects");
	return 0;
}

enum project_read_status
project_read(const char *body, size_t len, const struct sjson_limits *limits,
    const struct project_scope *scope, struct copy_rows *rows, struct issue_list *issues,
    struct sjson_error *err, struct project_read_result *result)
{
	struct reading			 rd;
	const struct sjson_error	*e;
	enum project_read_status	 status = PROJECT_READ_NOMEM;

	memset(&rd, 0, sizeof(rd));
	memset(result, 0, sizeof(*result));
	result->forbidden_record = -1;
	rd.scope = scope;
	rd.rows = rows;
	rd.issues = issues;
	rd.result = result;
	rd.issues_before = issues->total;
	if ((rd.r = sjson_reader_new(body, len, limits)) == NULL)
		goto out;
	if (read_envelope(&rd) == -1 || sjson_next(rd.r) != SJSON_END)
		goto fail;
	batch_keys_report(&rd.ids, issues, "the same agency and id");
	if (rd.ids.failed)
		goto out;
	status = PROJECT_READ_OK;
	goto out;
fail:
	if (rd.nomem)
		goto out;
	/* A failed peek may leave the reason to the next call. */
	if ((e = sjson_reader_error(rd.r)) == NULL) {
		sjson_next(rd.r);
		e = sjson_reader_error(rd.r);
	}
	/* The reader reports its own allocation failures as errors of the input. */
	if (e != NULL && strcmp(e->message, "out of memory") != 0) {
		if (err != NULL)
			*err = *e;
		status = PROJECT_READ_MALFORMED;
	}
out:
	batch_keys_free(&rd.ids);
	sjson_reader_free(rd.r);
	return status;
}
