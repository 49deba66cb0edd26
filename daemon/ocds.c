/*
 * OCDS packages pushed to POST /v1/procurement, walked with the strict pull reader one
 * release at a time, and the OCDS 1.1 merge rules. It does not write anything: the
 * ingest path turns the batch into COPY rows and stores compiled releases.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "digest.h"
#include "issues.h"
#include "ocds.h"
#include "sjson.h"

/* "/123/records/45/releases/67/" and a field name, with room to spare. */
#define POINTER_SIZE	160
/* No valid date is longer; longer text is refused before it is parsed. */
#define DATE_MAX	64

/* An instant, for ordering releases by date whatever their UTC offsets. */
struct instant {
	int64_t	sec;
	long	nsec;
};

/*
 * Dates --------------------------------------------------------------------------------
 */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Exactly n decimal digits. */
static bool
digits(const char **p, int n, int *out)
{
	int	v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
expect(const char **p, const char *one_of)
{
	if (**p == '\0' || strchr(one_of, **p) == NULL)
		return false;
	(*p)++;
	return true;
}

/*
 * RFC 3339's date-time: what the OCDS schema's "date-time" format means. A time without
 * an offset is refused rather than guessed: it would be read in the server's zone.
 */
static bool
parse_date(const char *text, struct instant *out)
{
	const char	*p = text;
	int		 y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
	long		 nsec = 0;
	int		 scale = 100000000;

	if (strlen(text) > DATE_MAX)
		return false;
	if (!digits(&p, 4, &y) || !expect(&p, "-") || !digits(&p, 2, &mo) ||
	    !expect(&p, "-") || !digits(&p, 2, &d) || !expect(&p, "Tt") ||
	    !digits(&p, 2, &h) || !expect(&p, ":") || !digits(&p, 2, &mi) ||
	    !expect(&p, ":") || !digits(&p, 2, &s))
		return false;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		/* Beyond nanoseconds the digits cannot change the order that matters here. */
		for (; *p >= '0' && *p <= '9'; p++) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (expect(&p, "Zz"))
		sign = 0;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh) || !expect(&p, ":") || !digits(&p, 2, &om))
			return false;
	} else
		return false;
	if (*p != '\0')
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || s > 59 || oh > 23 || om > 59)
		return false;
	out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s -
	    sign * (oh * 3600 + om * 60);
	out->nsec = nsec;
	return true;
}

bool
ocds_date_valid(const char *text, char *utc)
{
	struct instant	 when;
	int64_t		 days, secs, y;
	int		 m, d;

	if (!parse_date(text, &when))
		return false;
	days = when.sec / 86400;
	secs = when.sec % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	/* An offset may carry 0001-01-01 or 9999-12-31 out of what PostgreSQL stores. */
	if (y < 1 || y > 9999)
		return false;
	if (utc == NULL)
		return true;
	if (when.nsec == 0)
		snprintf(utc, OCDS_DATE_UTC_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
		    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	else
		snprintf(utc, OCDS_DATE_UTC_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
		    (int)y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
		    when.nsec);
	return true;
}

/*
 * The merge rules ----------------------------------------------------------------------
 *
 * A tree walk equivalent to the standard's merge routine and to ocdsmerge, the reference
 * implementation, on the 1.1 schema: an empty object or an empty array of objects in a
 * release changes nothing; a new object whose fields are all null still appears, empty.
 * Objects in the compiled release are always made here and never shared, so merging into
 * them never touches a release; literal values (scalars, arrays replaced whole) are
 * shared and never modified.
 */

/*
 * Arrays the 1.1 release schema merges whole although their items may be objects with an
 * "id" (wholeListMerge) or are strings, so that an empty one replaces the last one too.
 */
static const char *const whole_list_fields[] = {
	"additionalClassifications",
	"additionalIdentifiers",
	"additionalProcurementCategories",
	"changes",
	"relationship",
	"roles",
	"submissionMethod",
};

static bool
is_whole_list_field(const char *key)
{
	for (size_t i = 0; i < sizeof(whole_list_fields) / sizeof(whole_list_fields[0]); i++)
		if (strcmp(key, whole_list_fields[i]) == 0)
			return true;
	return false;
}

/* Fields of a release that describe the release itself, not the contracting process. */
static bool
is_omitted_when_merged(const char *key)
{
	return strcmp(key, "id") == 0 || strcmp(key, "date") == 0 || strcmp(key, "tag") == 0;
}

static bool
is_plain_string(const json_t *j)
{
	return json_is_string(j) && !sjson_is_number(j);
}

/*
 * The key of an object's "id" in an identifier merge: 's' or 'n' for a string or a
 * number, then its text, so that "1" and 1 stay different ids. NULL when the object has
 * no id that can be one (absent, null, boolean, object, array).
 */
static const char *
id_key(const json_t *obj, char **buf, size_t *cap)
{
	const json_t	*id = json_is_object(obj) ? json_object_get(obj, "id") : NULL;
	const char	*text;
	char		 integer[32];
	char		 kind;
	size_t		 len;

	if (id == NULL)
		return NULL;
	if ((text = sjson_number(id)) != NULL)
		kind = 'n';
	else if (json_is_string(id))
		kind = 's', text = json_string_value(id);
	else if (json_is_integer(id)) {
		/* Trees built by hand rather than read: the same number as text. */
		snprintf(integer, sizeof(integer), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		kind = 'n', text = integer;
	} else
		return NULL;
	len = strlen(text);
	if (len + 2 > *cap) {
		size_t	 newcap = len + 64;
		char	*p;

		if ((p = realloc(*buf, newcap)) == NULL)
			return NULL;
		*buf = p;
		*cap = newcap;
	}
	(*buf)[0] = kind;
	memcpy(*buf + 1, text, len + 1);
	return *buf;
}

static bool
has_non_object(const json_t *array)
{
	size_t	 i;
	json_t	*v;

	json_array_foreach(array, i, v)
		if (!json_is_object(v))
			return true;
	return false;
}

static bool
all_have_ids(const json_t *array)
{
	const json_t	*v, *id;
	size_t		 i;

	json_array_foreach(array, i, v) {
		if (!json_is_object(v))
			return false;
		id = json_object_get(v, "id");
		if (id == NULL || !(json_is_string(id) || json_is_integer(id)))
			return false;
	}
	return true;
}

static bool
holds_null(json_t *obj)
{
	const char	*key;
	json_t		*v;

	json_object_foreach(obj, key, v)
		if (json_is_null(v) || (json_is_object(v) && holds_null(v)))
			return true;
	return false;
}

static int	merge_object(json_t *out, json_t *in, bool release_level);

/* Identifier merge of `in` into `out`, both arrays of objects with ids. */
static int
merge_by_id(json_t *out, json_t *in)
{
	json_t		*index = NULL, *v, *match, *fresh, *pos;
	char		*buf = NULL;
	const char	*key;
	size_t		 cap = 0, i;
	int		 rc = -1;

	/* Ids to positions in `out`, so that long arrays do not merge in quadratic time. */
	if ((index = json_object()) == NULL)
		goto out;
	json_array_foreach(out, i, v) {
		if ((key = id_key(v, &buf, &cap)) == NULL)
			goto out;
		/* Duplicate ids in `out` cannot happen: they were merged as they came. */
		if (json_object_set_new_nocheck(index, key, json_integer((json_int_t)i)) == -1)
			goto out;
	}
	json_array_foreach(in, i, v) {
		if ((key = id_key(v, &buf, &cap)) == NULL)
			goto out;
		if ((pos = json_object_get(index, key)) != NULL) {
			match = json_array_get(out, (size_t)json_integer_value(pos));
			if (merge_object(match, v, false) == -1)
				goto out;
			continue;
		}
		if ((fresh = json_object()) == NULL)
			goto out;
		if (json_array_append_new(out, fresh) == -1)
			goto out;
		if (merge_object(fresh, v, false) == -1)
			goto out;
		if (json_object_set_new_nocheck(index, key,
		    json_integer((json_int_t)json_array_size(out) - 1)) == -1)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	json_decref(index);
	return rc;
}

static int
merge_array_field(json_t *out, const char *key, json_t *in)
{
	json_t	*cur = json_object_get(out, key);

	if (is_whole_list_field(key) || has_non_object(in))
		return json_object_set(out, key, in);
	if (json_array_size(in) == 0) {
		/*
		 * An empty array of objects changes nothing; one that empties a list of
		 * strings replaces it. A new array is put, never `in`: an array shared
		 * with a release must never be merged into later.
		 */
		if (json_is_array(cur) && has_non_object(cur))
			return json_object_set_new(out, key, json_array());
		return 0;
	}
	if (!all_have_ids(in))
		return json_object_set(out, key, in);
	if (!json_is_array(cur) || json_array_size(cur) == 0 || !all_have_ids(cur)) {
		if ((cur = json_array()) == NULL ||
		    json_object_set_new(out, key, cur) == -1)
			return -1;
	}
	return merge_by_id(cur, in);
}

static int
merge_object_field(json_t *out, const char *key, json_t *in)
{
	json_t	*cur = json_object_get(out, key), *fresh = NULL;

	if (json_object_size(in) == 0)
		return 0;
	if (json_is_object(cur))
		return merge_object(cur, in, false);
	if ((fresh = json_object()) == NULL)
		return -1;
	if (merge_object(fresh, in, false) == -1) {
		json_decref(fresh);
		return -1;
	}
	if (json_object_size(fresh) == 0 && !holds_null(in)) {
		json_decref(fresh);
		return 0;
	}
	return json_object_set_new(out, key, fresh);
}

static int
merge_object(json_t *out, json_t *in, bool release_level)
{
	const char	*key;
	json_t		*v;
	int		 rc;

	json_object_foreach(in, key, v) {
		if (release_level && is_omitted_when_merged(key))
			continue;
		if (json_is_null(v)) {
			json_object_del(out, key);
			continue;
		}
		if (json_is_object(v))
			rc = merge_object_field(out, key, v);
		else if (json_is_array(v))
			rc = merge_array_field(out, key, v);
		else
			rc = json_object_set(out, key, v);
		if (rc == -1)
			return -1;
	}
	return 0;
}

struct dated {
	size_t		index;
	struct instant	when;
};

static int
by_date_then_given_order(const void *a, const void *b)
{
	const struct dated	*x = a, *y = b;

	if (x->when.sec != y->when.sec)
		return x->when.sec < y->when.sec ? -1 : 1;
	if (x->when.nsec != y->when.nsec)
		return x->when.nsec < y->when.nsec ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

json_t *
ocds_merge(json_t *const *releases, size_t n)
{
	struct dated	*order = NULL;
	json_t		*compiled = NULL, *result = NULL, *last, *ocid = NULL, *v;
	char		*id = NULL;
	const char	*date;

	if (n == 0 || (order = calloc(n, sizeof(*order))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!json_is_object(releases[i]))
			goto out;
		v = json_object_get(releases[i], "ocid");
		if (!is_plain_string(v) || json_string_length(v) == 0)
			goto out;
		if (ocid == NULL)
			ocid = v;
		else if (strcmp(json_string_value(ocid), json_string_value(v)) != 0)
			goto out;
		v = json_object_get(releases[i], "date");
		if (!is_plain_string(v) || !parse_date(json_string_value(v), &order[i].when))
			goto out;
		order[i].index = i;
	}
	qsort(order, n, sizeof(*order), by_date_then_given_order);

	last = releases[order[n - 1].index];
	date = json_string_value(json_object_get(last, "date"));
	if (asprintf(&id, "%s-%s", json_string_value(ocid), date) == -1) {
		id = NULL;
		goto out;
	}
	/* The compiled release's own fields first, as the reference implementation writes them. */
	if ((compiled = json_object()) == NULL ||
	    json_object_set_new(compiled, "tag", json_pack("[s]", "compiled")) == -1 ||
	    json_object_set_new(compiled, "id", json_string(id)) == -1 ||
	    json_object_set(compiled, "date", json_object_get(last, "date")) == -1 ||
	    json_object_set(compiled, "ocid", ocid) == -1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (merge_object(compiled, releases[order[i].index], true) == -1)
			goto out;
	result = compiled;
	compiled = NULL;
out:
	json_decref(compiled);
	free(id);
	free(order);
	return result;
}

/*
 * Reading packages ---------------------------------------------------------------------
 */

struct reading {
	struct sjson_reader	*r;
	struct ocds_batch	*batch;
	struct issue_list	*issues;
	bool			 nomem;		/* else a failure is the reader's */
};

/*
 * Pointers are built from a few fixed segments and array indexes, far below
 * POINTER_SIZE; were one ever longer, it would be cut, not overrun.
 */
static void __attribute__((format(printf, 3, 4)))
pointer_format(char *pointer, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(pointer, size, fmt, ap);
	va_end(ap);
}

static void
problem(struct reading *rd, long record, const char *base, const char *field,
    const char *message)
{
	char	pointer[POINTER_SIZE];

	pointer_format(pointer, sizeof(pointer), "%s%s%s", base, field != NULL ? "/" : "",
	    field != NULL ? field : "");
	issues_add(rd->issues, record, pointer, "%s", message);
}

/* An ocid or id (`v`, NULL when absent): a non-empty string short enough to be a key. */
static const char *
required_id(struct reading *rd, json_t *v, long record, const char *base, const char *field)
{
	if (v == NULL)
		problem(rd, record, base, field, "is required");
	else if (!is_plain_string(v))
		problem(rd, record, base, field, "must be a string");
	else if (json_string_length(v) == 0)
		problem(rd, record, base, field, "must not be empty");
	else if (json_string_length(v) > OCDS_ID_MAX)
		problem(rd, record, base, field, "must not be longer than 1000 bytes");
	else
		return json_string_value(v);
	return NULL;
}

/* The text of an OCDS id, which the schema allows as a string or an integer. */
static const char *
id_text(const json_t *v)
{
	const char	*text;

	if ((text = sjson_number(v)) != NULL)
		return text;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
party_is_buyer(json_t *party)
{
	json_t	*roles = json_object_get(party, "roles"), *role;
	size_t	 i;

	json_array_foreach(roles, i, role)
		if (is_plain_string(role) && strcmp(json_string_value(role), "buyer") == 0)
			return true;
	return false;
}

/*
 * The buyer, as ocds.h describes; `*id` is malloc'd. False when the release says
 * something wrong about it (reported), or on allocation failure (rd->nomem).
 */
static bool
find_buyer(struct reading *rd, json_t *release, long record, const char *base,
    char **id, const char **name)
{
	json_t		*buyer = json_object_get(release, "buyer"), *v, *party;
	json_t		*identifier, *scheme;
	const char	*text = NULL;
	size_t		 i;
	bool		 ok = true;

	*id = NULL;
	*name = NULL;
	if (buyer != NULL && !json_is_object(buyer)) {
		problem(rd, record, base, "buyer", "must be an object");
		return false;
	}
	if ((v = json_object_get(buyer, "name")) != NULL) {
		if (is_plain_string(v))
			*name = json_string_value(v);
		else {
			problem(rd, record, base, "buyer/name", "must be a string");
			ok = false;
		}
	}
	if ((v = json_object_get(buyer, "id")) != NULL) {
		if ((text = id_text(v)) == NULL) {
			problem(rd, record, base, "buyer/id", "must be a string or an integer");
			return false;
		}
		if (*text == '\0') {
			problem(rd, record, base, "buyer/id", "must not be empty");
			return false;
		}
	}
	if (text == NULL) {
		json_t	*parties = json_object_get(release, "parties");

		json_array_foreach(parties, i, party) {
			if (!json_is_object(party) || !party_is_buyer(party))
				continue;
			if ((text = id_text(json_object_get(party, "id"))) != NULL && *text == '\0')
				text = NULL;
			if (*name == NULL && is_plain_string(json_object_get(party, "name")))
				*name = json_string_value(json_object_get(party, "name"));
			break;
		}
	}
	if (text != NULL) {
		if ((*id = strdup(text)) == NULL)
			goto nomem;
	} else if ((identifier = json_object_get(buyer, "identifier")) != NULL &&
	    (text = id_text(json_object_get(identifier, "id"))) != NULL && *text != '\0') {
		/* OCDS 1.0 style: an organization named by its identifier only. */
		scheme = json_object_get(identifier, "scheme");
		if (is_plain_string(scheme) && json_string_length(scheme) > 0) {
			if (asprintf(id, "%s-%s", json_string_value(scheme), text) == -1) {
				*id = NULL;
				goto nomem;
			}
		} else if ((*id = strdup(text)) == NULL)
			goto nomem;
	}
	if (*id != NULL && strlen(*id) > OCDS_ID_MAX) {
		problem(rd, record, base, "buyer", "the buyer's id must not be longer than 1000 bytes");
		ok = false;
	}
	if (!ok) {
		free(*id);
		*id = NULL;
	}
	return ok;
nomem:
	rd->nomem = true;
	return false;
}

/* Copies a string into a block being filled; NULL stays NULL. */
static const char *
put(char **cursor, const char *s)
{
	char	*start = *cursor;
	size_t	 len;

	if (s == NULL)
		return NULL;
	len = strlen(s) + 1;
	memcpy(start, s, len);
	*cursor += len;
	return start;
}

static size_t
size_of(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static int
grow(void **items, size_t *cap, size_t count, size_t size)
{
	size_t	 newcap;
	void	*p;

	if (count < *cap)
		return 0;
	newcap = *cap != 0 ? *cap * 2 : 64;
	if ((p = reallocarray(*items, newcap, size)) == NULL)
		return -1;
	*items = p;
	*cap = newcap;
	return 0;
}

/* Validates one release and keeps what the write path needs. -1 only on allocation failure. */
static int
keep_release(struct reading *rd, json_t *tree, const char *source, size_t source_len,
    long record, const char *base)
{
	struct ocds_release	*rel;
	const char		*ocid, *id, *date = NULL, *buyer_name;
	char			 utc[OCDS_DATE_UTC_SIZE];
	char			*buyer_id = NULL, *cursor;
	json_t			*v, *tags, *tag;
	size_t			 before = rd->issues->total, size, i;
	int			 rc = -1;

	ocid = required_id(rd, json_object_get(tree, "ocid"), record, base, "ocid");
	id = required_id(rd, json_object_get(tree, "id"), record, base, "id");
	if ((v = json_object_get(tree, "date")) == NULL)
		problem(rd, record, base, "date", "is required");
	else if (!is_plain_string(v))
		problem(rd, record, base, "date", "must be a string");
	else if (!ocds_date_valid(json_string_value(v), utc))
		problem(rd, record, base, "date", "must be an ISO 8601 date-time with seconds "
		    "and a UTC offset, such as 2024-05-01T12:00:00Z");
	else
		date = json_string_value(v);
	if ((tags = json_object_get(tree, "tag")) != NULL && !json_is_array(tags)) {
		problem(rd, record, base, "tag", "must be an array of strings");
		tags = NULL;
	}
	json_array_foreach(tags, i, tag) {
		if (!is_plain_string(tag)) {
			char	field[32];

			snprintf(field, sizeof(field), "tag/%zu", i);
			problem(rd, record, base, field, "must be a string");
		}
	}
	if (!find_buyer(rd, tree, record, base, &buyer_id, &buyer_name) && rd->nomem)
		goto out;
	if (rd->issues->total != before) {
		rc = 0;
		goto out;
	}

	if (grow((void **)&rd->batch->releases, &rd->batch->releases_cap,
	    rd->batch->nreleases, sizeof(*rel)) == -1)
		goto nomem;
	rel = &rd->batch->releases[rd->batch->nreleases];
	memset(rel, 0, sizeof(*rel));
	rel->ntags = json_array_size(tags);
	size = rel->ntags * sizeof(char *) + size_of(ocid) + size_of(id) + size_of(date) +
	    size_of(buyer_id) + size_of(buyer_name);
	json_array_foreach(tags, i, tag)
		size += json_string_length(tag) + 1;
	if ((rel->block = malloc(size)) == NULL)
		goto nomem;
	rel->tags = (const char **)(void *)rel->block;
	cursor = rel->block + rel->ntags * sizeof(char *);
	json_array_foreach(tags, i, tag)
		rel->tags[i] = put(&cursor, json_string_value(tag));
	rel->record = record;
	rel->ocid = put(&cursor, ocid);
	rel->id = put(&cursor, id);
	rel->date = put(&cursor, date);
	memcpy(rel->date_utc, utc, sizeof(utc));
	rel->buyer_id = put(&cursor, buyer_id);
	rel->buyer_name = put(&cursor, buyer_name);
	rel->source = source;
	rel->source_len = source_len;
	if (!sha256_hex(source, source_len, rel->hash)) {
		free(rel->block);
		goto nomem;
	}
	rd->batch->nreleases++;
	rc = 0;
	goto out;
nomem:
	rd->nomem = true;
out:
	free(buyer_id);
	return rc;
}

static int
keep_compiled(struct reading *rd, json_t *tree, const char *source, size_t source_len,
    long record, const char *base)
{
	struct ocds_compiled	*c;
	const char		*ocid, *buyer_name;
	char			*buyer_id = NULL, *cursor;
	size_t			 before = rd->issues->total;
	int			 rc = -1;

	ocid = required_id(rd, json_object_get(tree, "ocid"), record, base, "ocid");
	if (!find_buyer(rd, tree, record, base, &buyer_id, &buyer_name) && rd->nomem)
		goto out;
	if (rd->issues->total != before) {
		rc = 0;
		goto out;
	}
	if (grow((void **)&rd->batch->compiled, &rd->batch->compiled_cap,
	    rd->batch->ncompiled, sizeof(*c)) == -1)
		goto nomem;
	c = &rd->batch->compiled[rd->batch->ncompiled];
	memset(c, 0, sizeof(*c));
	if ((c->block = malloc(size_of(ocid) + size_of(buyer_id) + size_of(buyer_name))) == NULL)
		goto nomem;
	cursor = c->block;
	c->record = record;
	c->ocid = put(&cursor, ocid);
	c->buyer_id = put(&cursor, buyer_id);
	c->buyer_name = put(&cursor, buyer_name);
	c->source = source;
	c->source_len = source_len;
	rd->batch->ncompiled++;
	rc = 0;
	goto out;
nomem:
	rd->nomem = true;
out:
	free(buyer_id);
	return rc;
}

/* A linked release names a release published elsewhere: {"url", "date", "tag"}. */
static bool
is_linked_release(json_t *tree)
{
	return json_object_get(tree, "url") != NULL && json_object_get(tree, "id") == NULL &&
	    json_object_get(tree, "ocid") == NULL;
}

/*
 * Where the releases of a record were found, to check their ocid against the record's
 * once the whole record is read (its "ocid" may come last).
 */
struct record_releases {
	size_t	 first;		/* in the batch */
	size_t	*element;	/* each kept release's index in the record's array */
	size_t	 count;
	size_t	 cap;
};

/*
 * An array of releases at `base` (".../releases"), at the value. A package's releases
 * each take a record index; a record's (kept != NULL) share `record`.
 */
static int
read_releases(struct reading *rd, const char *base, long record, struct record_releases *kept)
{
	char			 pointer[POINTER_SIZE];
	const char		*source;
	size_t			 source_len, element = 0;
	enum sjson_token	 tok;
	json_t			*tree;
	long			 index;
	int			 rc;

	if (sjson_peek(rd->r) != SJSON_ARRAY_BEGIN) {
		problem(rd, kept != NULL ? record : -1, base, NULL, "must be an array of releases");
		return sjson_skip(rd->r) ? 0 : -1;
	}
	sjson_next(rd->r);
	for (;; element++) {
		if ((tok = sjson_peek(rd->r)) == SJSON_ARRAY_END) {
			sjson_next(rd->r);
			return 0;
		}
		if (tok == SJSON_ERROR)
			return -1;
		index = kept != NULL ? record : rd->batch->records++;
		pointer_format(pointer, sizeof(pointer), "%s/%zu", base, element);
		if (tok != SJSON_OBJECT_BEGIN) {
			problem(rd, index, pointer, NULL, "must be an object");
			if (!sjson_skip(rd->r))
				return -1;
			continue;
		}
		if ((tree = sjson_take(rd->r, &source, &source_len)) == NULL)
			return -1;
		if (kept != NULL && is_linked_release(tree)) {
			json_decref(tree);
			continue;
		}
		rc = keep_release(rd, tree, source, source_len, index, pointer);
		json_decref(tree);
		if (rc == -1)
			return -1;
		if (kept != NULL && rd->batch->nreleases > kept->first + kept->count) {
			if (grow((void **)&kept->element, &kept->cap, kept->count,
			    sizeof(*kept->element)) == -1) {
				rd->nomem = true;
				return -1;
			}
			kept->element[kept->count++] = element;
		}
	}
}

/* A record's compiledRelease at `base`, at the value. */
static int
read_compiled(struct reading *rd, const char *base, long record)
{
	const char	*source;
	size_t		 source_len;
	json_t		*tree;
	int		 rc;

	if (sjson_peek(rd->r) != SJSON_OBJECT_BEGIN) {
		problem(rd, record, base, NULL, "must be an object");
		return sjson_skip(rd->r) ? 0 : -1;
	}
	if ((tree = sjson_take(rd->r, &source, &source_len)) == NULL)
		return -1;
	rc = keep_compiled(rd, tree, source, source_len, record, base);
	json_decref(tree);
	return rc;
}

/*
 * One record at `base` ("/records/N"), at the value. The reader refuses duplicate keys,
 * so each key comes once.
 */
static int
read_record(struct reading *rd, const char *base, long record)
{
	struct record_releases	 kept = { .first = rd->batch->nreleases };
	char			 pointer[POINTER_SIZE];
	const char		*key, *source, *ocid = NULL;
	size_t			 source_len, first_compiled = rd->batch->ncompiled;
	enum sjson_token	 tok;
	json_t			*ocid_tree = NULL;
	int			 rc = -1;

	if (sjson_next(rd->r) != SJSON_OBJECT_BEGIN)
		goto out;
	while ((tok = sjson_next(rd->r)) == SJSON_KEY) {
		key = sjson_key(rd->r);
		if (strcmp(key, "ocid") == 0) {
			if ((ocid_tree = sjson_take(rd->r, &source, &source_len)) == NULL)
				goto out;
		} else if (strcmp(key, "releases") == 0) {
			pointer_format(pointer, sizeof(pointer), "%s/releases", base);
			if (read_releases(rd, pointer, record, &kept) == -1)
				goto out;
		} else if (strcmp(key, "compiledRelease") == 0) {
			pointer_format(pointer, sizeof(pointer), "%s/compiledRelease", base);
			if (read_compiled(rd, pointer, record) == -1)
				goto out;
		} else if (!sjson_skip(rd->r))
			goto out;
	}
	if (tok != SJSON_OBJECT_END)
		goto out;

	/* The record's ocid, and its releases' and compiled release's against it. */
	if ((ocid = required_id(rd, ocid_tree, record, base, "ocid")) != NULL) {
		for (size_t i = 0; i < kept.count; i++) {
			if (strcmp(rd->batch->releases[kept.first + i].ocid, ocid) == 0)
				continue;
			pointer_format(pointer, sizeof(pointer), "%s/releases/%zu", base, kept.element[i]);
			problem(rd, record, pointer, "ocid", "does not match the record's ocid");
		}
		for (size_t i = first_compiled; i < rd->batch->ncompiled; i++) {
			if (strcmp(rd->batch->compiled[i].ocid, ocid) == 0)
				continue;
			pointer_format(pointer, sizeof(pointer), "%s/compiledRelease", base);
			problem(rd, record, pointer, "ocid", "does not match the record's ocid");
		}
	}
	rc = 0;
out:
	free(kept.element);
	json_decref(ocid_tree);
	return rc;
}

/* An array of records at `base` (".../records"), at the value. */
static int
read_records(struct reading *rd, const char *base)
{
	char			 pointer[POINTER_SIZE];
	enum sjson_token	 tok;
	long			 record;

	if (sjson_peek(rd->r) != SJSON_ARRAY_BEGIN) {
		problem(rd, -1, base, NULL, "must be an array of records");
		return sjson_skip(rd->r) ? 0 : -1;
	}
	sjson_next(rd->r);
	for (size_t element = 0;; element++) {
		if ((tok = sjson_peek(rd->r)) == SJSON_ARRAY_END) {
			sjson_next(rd->r);
			return 0;
		}
		if (tok == SJSON_ERROR)
			return -1;
		record = rd->batch->records++;
		pointer_format(pointer, sizeof(pointer), "%s/%zu", base, element);
		if (tok != SJSON_OBJECT_BEGIN) {
			problem(rd, record, pointer, NULL, "must be an object");
			if (!sjson_skip(rd->r))
				return -1;
			continue;
		}
		if (read_record(rd, pointer, record) == -1)
			return -1;
	}
}

/* A release or record package at `base` ("" or "/N"), at the value. */
static int
read_package(struct reading *rd, const char *base)
{
	char			 pointer[POINTER_SIZE];
	const char		*key;
	enum sjson_token	 tok;
	bool			 seen_releases = false, seen_records = false;

	if (sjson_next(rd->r) != SJSON_OBJECT_BEGIN)
		return -1;
	while ((tok = sjson_next(rd->r)) == SJSON_KEY) {
		key = sjson_key(rd->r);
		if (strcmp(key, "releases") == 0) {
			seen_releases = true;
			pointer_format(pointer, sizeof(pointer), "%s/releases", base);
			if (read_releases(rd, pointer, 0, NULL) == -1)
				return -1;
		} else if (strcmp(key, "records") == 0) {
			seen_records = true;
			pointer_format(pointer, sizeof(pointer), "%s/records", base);
			if (read_records(rd, pointer) == -1)
				return -1;
		} else if (!sjson_skip(rd->r))
			return -1;
	}
	if (tok != SJSON_OBJECT_END)
		return -1;
	if (!seen_releases && !seen_records)
		problem(rd, -1, base, NULL, "must be an OCDS release package or record package "
		    "(it has no \"releases\" and no \"records\")");
	else if (seen_releases && seen_records)
		problem(rd, -1, base, NULL, "must be a release package or a record package, "
		    "not both");
	return 0;
}

enum ocds_read_status
ocds_read(const char *body, size_t len, const struct sjson_limits *limits,
    struct ocds_batch *batch, struct issue_list *issues, struct sjson_error *err)
{
	struct reading			 rd = { .batch = batch, .issues = issues };
	const struct sjson_error	*e;
	enum ocds_read_status		 status = OCDS_READ_NOMEM;
	enum sjson_token		 tok;
	char				 pointer[POINTER_SIZE];

	memset(batch, 0, sizeof(*batch));
	if ((rd.r = sjson_reader_new(body, len, limits)) == NULL)
		goto out;
	if ((tok = sjson_peek(rd.r)) == SJSON_ARRAY_BEGIN) {
		/* A Kingfisher collection file: packages one after the other. */
		sjson_next(rd.r);
		for (size_t i = 0;; i++) {
			if ((tok = sjson_peek(rd.r)) == SJSON_ARRAY_END) {
				sjson_next(rd.r);
				break;
			}
			if (tok == SJSON_ERROR)
				goto fail;
			pointer_format(pointer, sizeof(pointer), "/%zu", i);
			if (tok == SJSON_OBJECT_BEGIN) {
				if (read_package(&rd, pointer) == -1)
					goto fail;
				continue;
			}
			problem(&rd, -1, pointer, NULL,
			    "must be an OCDS release package or record package");
			if (!sjson_skip(rd.r))
				goto fail;
		}
	} else if (tok == SJSON_OBJECT_BEGIN) {
		if (read_package(&rd, "") == -1)
			goto fail;
	} else if (tok == SJSON_ERROR)
		goto fail;
	else {
		problem(&rd, -1, "", NULL, "must be an OCDS release package, record package, "
		    "or an array of packages");
		if (!sjson_skip(rd.r))
			goto fail;
	}
	if (sjson_next(rd.r) != SJSON_END)
		goto fail;
	status = OCDS_READ_OK;
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
		status = OCDS_READ_MALFORMED;
	}
out:
	sjson_reader_free(rd.r);
	return status;
}

void
ocds_batch_free(struct ocds_batch *batch)
{
	if (batch == NULL)
		return;
	for (size_t i = 0; i < batch->nreleases; i++)
		free(batch->releases[i].block);
	for (size_t i = 0; i < batch->ncompiled; i++)
		free(batch->compiled[i].block);
	free(batch->releases);
	free(batch->compiled);
	memset(batch, 0, sizeof(*batch));
}
