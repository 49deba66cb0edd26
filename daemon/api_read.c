/*
 * GET /v1/projects, /v1/awards and /v1/budget: what was stored, read back a page at a
 * time in key order (keyset pagination: `limit`, and `after`, an opaque cursor holding
 * the last key of the previous page), narrowed by filters that are all query
 * parameters of one statement per list and sort. Each item's JSON is built by
 * PostgreSQL, amounts as numeric::text strings, so no amount passes through a C double
 * on the way out either. Projects also carry their cost and schedule variance, as the
 * CV and SV indicators compute them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_read.h"
#include "daemon.h"
#include "indicators.h"
#include "listing.h"
#include "utf8.h"

#define TEXT_FILTER_MAX	200	/* characters of a text filter (category, program, ...) */
#define Q_MAX_BYTES	200
#define Q_MAX_WORDS	10

/*
 * The projects' filters, shared by every sort: $1 agency code or NULL, $4 and $5 the
 * CV and SV parameters (their bands), $6 status, $7 category, $8 cost_band,
 * $9 schedule_band, $10 review_status, $11 funding_source, $12 q. The key after which
 * a page starts is $2 (the row id) and $3 (the sort's other key part), the row count
 * wanted $13.
 *
 * q: every word of ictmon_normalize(q) is a part of the normalised title, description
 * and external id. This is a sequential scan that normalises each row's text; at a
 * portfolio's size (thousands of projects) that is milliseconds, and it keeps the
 * search exactly the normalisation the similarity indicators use.
 */
#define PROJECTS_FROM \
    " FROM project p JOIN agency a ON a.id = p.agency_id" \
    " CROSS JOIN LATERAL project_variance(p.status, p.planned_cost, p.projected_cost," \
    "  p.actual_cost, p.planned_start, p.planned_end, p.projected_end, p.actual_end," \
    "  ($4::jsonb ->> 'medium')::numeric, ($4::jsonb ->> 'high')::numeric," \
    "  ($5::jsonb ->> 'medium')::numeric, ($5::jsonb ->> 'high')::numeric) v" \
    " WHERE ($1::text IS NULL OR a.code = $1)" \
    "  AND ($6::text IS NULL OR p.status = $6)" \
    "  AND ($7::text IS NULL OR p.category = $7)" \
    "  AND ($8::text IS NULL OR v.cost_band = $8)" \
    "  AND ($9::text IS NULL OR v.schedule_band = $9)" \
    "  AND ($10::text IS NULL OR p.review_status = $10)" \
    "  AND ($11::text IS NULL OR p.funding_source = $11)" \
    "  AND ($12::text IS NULL OR NOT EXISTS (SELECT 1" \
    "   FROM unnest(string_to_array(ictmon_normalize($12), ' ')) AS w(word)" \
    "   WHERE w.word <> '' AND strpos(ictmon_normalize(concat_ws(' ', p.title," \
    "    p.description, p.external_id)), w.word) = 0))"

static const char sql_projects_id[] =
    "SELECT p.id, " API_PROJECT_OBJECT("p", "a", "v") "::text"
    PROJECTS_FROM
    "  AND $3::text IS NULL AND ($2::bigint IS NULL OR p.id > $2)"
    " ORDER BY p.id LIMIT $13::int";

/* Titles in code point order (COLLATE "C"): the same in every locale, and for clients. */
static const char sql_projects_title[] =
    "SELECT p.title, p.id, " API_PROJECT_OBJECT("p", "a", "v") "::text"
    PROJECTS_FROM
    "  AND ($2::bigint IS NULL OR p.title COLLATE \"C\" > $3"
    "   OR (p.title = $3 AND p.id > $2))"
    " ORDER BY p.title COLLATE \"C\", p.id LIMIT $13::int";

/* Projects without a planned cost come last in both directions ($3 NULL: the last
   page ended among them). */
static const char sql_projects_cost_desc[] =
    "SELECT p.planned_cost::text, p.id, " API_PROJECT_OBJECT("p", "a", "v") "::text"
    PROJECTS_FROM
    "  AND ($2::bigint IS NULL"
    "   OR ($3::numeric IS NULL AND p.planned_cost IS NULL AND p.id > $2)"
    "   OR ($3::numeric IS NOT NULL AND (p.planned_cost < $3 OR p.planned_cost IS NULL"
    "    OR (p.planned_cost = $3 AND p.id > $2))))"
    " ORDER BY p.planned_cost DESC NULLS LAST, p.id LIMIT $13::int";

static const char sql_projects_cost_asc[] =
    "SELECT p.planned_cost::text, p.id, " API_PROJECT_OBJECT("p", "a", "v") "::text"
    PROJECTS_FROM
    "  AND ($2::bigint IS NULL"
    "   OR ($3::numeric IS NULL AND p.planned_cost IS NULL AND p.id > $2)"
    "   OR ($3::numeric IS NOT NULL AND (p.planned_cost > $3 OR p.planned_cost IS NULL"
    "    OR (p.planned_cost = $3 AND p.id > $2))))"
    " ORDER BY p.planned_cost ASC NULLS LAST, p.id LIMIT $13::int";

/* The key is the time as the item writes it: microseconds, as timestamptz keeps it. */
static const char sql_projects_updated[] =
    "SELECT " API_UTC_TEXT("p.updated_at") ", p.id, "
    API_PROJECT_OBJECT("p", "a", "v") "::text"
    PROJECTS_FROM
    "  AND ($2::bigint IS NULL OR p.updated_at < $3::timestamptz"
    "   OR (p.updated_at = $3::timestamptz AND p.id > $2))"
    " ORDER BY p.updated_at DESC, p.id LIMIT $13::int";

/*
 * The sorts of /v1/projects: each its own statement and cursor tag, so a cursor of
 * one sort is refused by another. `shape` is the key's (listing.h): the sort key's
 * part first, then the row id, except for the id itself.
 */
static const struct project_sort {
	const char	*name;
	const char	*sql;
	char		 tag;
	const char	*shape;
} project_sorts[] = {
	{ "id",			sql_projects_id,	'p', "i" },
	{ "title",		sql_projects_title,	't', "ti" },
	{ "-planned_cost",	sql_projects_cost_desc,	'c', "di" },
	{ "planned_cost",	sql_projects_cost_asc,	'C', "di" },
	{ "-updated_at",	sql_projects_updated,	'u', "ti" },
};

/*
 * An award's classifications are its items'; an award without classified items has
 * its tender's. Its method is the tender's procurementMethod. Parameters: $1 buyer
 * code, $2 and $3 the previous page's last key, $4 rows, $5 supplier (id, or part of
 * a name), $6 classification prefix, $7 method, $8 status, $9 and $10 the award date's
 * range, $11 and $12 the amount's.
 */
static const char sql_awards[] =
    "SELECT w.ocid, w.award_id, " API_AWARD_OBJECT("w", "g", "t") "::text"
    " FROM award w LEFT JOIN agency g ON g.id = w.buyer_agency_id"
    " LEFT JOIN tender t ON t.ocid = w.ocid"
    " WHERE ($1::text IS NULL OR g.code = $1)"
    "  AND ($2::text IS NULL OR (w.ocid, w.award_id) > ($2, $3))"
    "  AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM award_supplier x"
    "   JOIN supplier s ON s.id = x.supplier_id"
    "   WHERE x.ocid = w.ocid AND x.award_id = w.award_id"
    "    AND (s.id = $5 OR strpos(lower(s.name), lower($5)) > 0)))"
    "  AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM item i"
    "   WHERE i.ocid = w.ocid AND starts_with(i.classification_id, $6)"
    "    AND ((i.parent_kind = 'award' AND i.parent_id = w.award_id)"
    "     OR (i.parent_kind = 'tender' AND NOT EXISTS (SELECT 1 FROM item j"
    "      WHERE j.ocid = w.ocid AND j.parent_kind = 'award'"
    "       AND j.classification_id IS NOT NULL AND j.parent_id = w.award_id)))))"
    "  AND ($7::text IS NULL OR t.method = $7)"
    "  AND ($8::text IS NULL OR w.status = $8)"
    "  AND ($9::date IS NULL OR (w.date AT TIME ZONE 'UTC')::date >= $9)"
    "  AND ($10::date IS NULL OR (w.date AT TIME ZONE 'UTC')::date <= $10)"
    "  AND ($11::numeric IS NULL OR w.value_amount >= $11)"
    "  AND ($12::numeric IS NULL OR w.value_amount <= $12)"
    " ORDER BY w.ocid, w.award_id LIMIT $4::int";

/* $1 agency, $2 the last id, $3 rows, $4 fiscal year, $5 phase, $6 program. */
static const char sql_budget[] =
    "SELECT b.id, " API_BUDGET_OBJECT("b", "a") "::text"
    " FROM budget_line b JOIN agency a ON a.id = b.agency_id"
    " WHERE ($1::text IS NULL OR a.code = $1) AND ($2::bigint IS NULL OR b.id > $2)"
    "  AND ($4::smallint IS NULL OR b.fiscal_year = $4)"
    "  AND ($5::text IS NULL OR b.phase = $5)"
    "  AND ($6::text IS NULL OR b.program = $6)"
    " ORDER BY b.id LIMIT $3::int";

static const char *const project_statuses[] = { "planned", "in_progress", "completed",
    "cancelled", "deferred", NULL };
static const char *const bands[] = { "low", "medium", "high", "none", NULL };
static const char *const review_statuses[] = { "not_submitted", "submitted", "approved",
    "observed", "rejected", NULL };
static const char *const funding_sources[] = { "agency_budget", "central_fund", "loan",
    "grant", "other", NULL };
/* OCDS's closed codelists: procurementMethod and award status. */
static const char *const methods[] = { "open", "selective", "limited", "direct", NULL };
static const char *const award_statuses[] = { "pending", "active", "cancelled",
    "unsuccessful", NULL };
static const char *const phases[] = { "approved", "modified", "committed", "accrued",
    "paid", NULL };

/* 400 "name: what" and false. */
static bool
refuse(struct request *req, const char *name, const char *what)
{
	char message[256];

	snprintf(message, sizeof(message), "%s: %s", name, what);
	http_reply_error(req, 400, message, NULL);
	return false;
}

/* ?name= when it is one of `allowed` (or absent: *value NULL); false after a 400. */
static bool
query_enum(struct request *req, const char *name, const char *const *allowed,
    const char **value)
{
	char	 what[192];
	size_t	 len;

	if ((*value = request_query(req, name)) == NULL)
		return true;
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (strcmp(*value, allowed[i]) == 0)
			return true;
	len = (size_t)snprintf(what, sizeof(what), "must be one of");
	for (size_t i = 0; allowed[i] != NULL && len < sizeof(what); i++)
		len += (size_t)snprintf(what + len, sizeof(what) - len, "%s %s",
		    i > 0 ? "," : "", allowed[i]);
	return refuse(req, name, what);
}

/* ?name= as a text of 1 to `max` characters of UTF-8; false after a 400. */
static bool
query_text(struct request *req, const char *name, size_t max, const char **value)
{
	char	 what[64];
	size_t	 len;

	if ((*value = request_query(req, name)) == NULL)
		return true;
	len = strlen(*value);
	if (len > 0 && utf8_valid(*value, len) && utf8_chars(*value, len) <= max)
		return true;
	snprintf(what, sizeof(what), "must be a text of 1 to %zu characters", max);
	return refuse(req, name, what);
}

static bool
query_date(struct request *req, const char *name, const char **value)
{
	if ((*value = request_query(req, name)) == NULL || listing_is_date(*value))
		return true;
	return refuse(req, name, "must be a date, YYYY-MM-DD");
}

static bool
query_decimal(struct request *req, const char *name, const char **value)
{
	if ((*value = request_query(req, name)) == NULL ||
	    (strlen(*value) <= 40 && listing_is_decimal(*value)))
		return true;
	return refuse(req, name, "must be a decimal number such as 1500000 or -12.50");
}

/* q: at most Q_MAX_BYTES bytes of UTF-8 and Q_MAX_WORDS words. */
static bool
query_search(struct request *req, const char **value)
{
	const char	*p;
	size_t		 len, words = 0;

	if ((*value = request_query(req, "q")) == NULL)
		return true;
	len = strlen(*value);
	if (len > Q_MAX_BYTES || !utf8_valid(*value, len))
		return refuse(req, "q", "must be a text of at most 200 bytes of UTF-8");
	for (p = *value; *p != '\0'; ) {
		p += strspn(p, " \t\r\n");
		if (*p == '\0')
			break;
		words++;
		p += strcspn(p, " \t\r\n");
	}
	if (words > Q_MAX_WORDS)
		return refuse(req, "q", "must have at most 10 words");
	return true;
}

/* The time as API_UTC_TEXT writes it: YYYY-MM-DDTHH:MM:SS.ffffffZ, a real date. */
static bool
is_utc_text(const char *s)
{
	static const char	 shape[] = "0000-00-00T00:00:00.000000Z";
	char			 date[11];

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == '0' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return false;
	memcpy(date, s, 10);
	date[10] = '\0';
	return listing_is_date(date) && atoi(s + 11) < 24 && atoi(s + 14) < 60 &&
	    atoi(s + 17) < 60;
}

/* The parameters of indicator `code` as JSON text (the caller frees it); NULL on ENOMEM. */
char *
api_variance_params(const struct config *cfg, const char *code)
{
	const struct indicator	*ind = indicator_find(code);

	return ind != NULL ? indicator_params_text(ind, cfg) : NULL;
}

void
api_get_projects(struct request *req)
{
	const struct project_sort	*sort = &project_sorts[0];
	struct listing			*page = NULL;
	const char			*values[13], *name;
	char				*cv_params = NULL, *sv_params = NULL;
	size_t				 i;

	if ((name = request_query(req, "sort")) != NULL) {
		for (i = 0; i < sizeof(project_sorts) / sizeof(project_sorts[0]); i++)
			if (strcmp(name, project_sorts[i].name) == 0)
				break;
		if (i == sizeof(project_sorts) / sizeof(project_sorts[0])) {
			refuse(req, "sort", "must be one of id, title, -planned_cost, "
			    "planned_cost, -updated_at");
			return;
		}
		sort = &project_sorts[i];
	}
	memset(values, 0, sizeof(values));
	if (!listing_agency(req, &values[0]) ||
	    !query_enum(req, "status", project_statuses, &values[5]) ||
	    !query_text(req, "category", TEXT_FILTER_MAX, &values[6]) ||
	    !query_enum(req, "cost_band", bands, &values[7]) ||
	    !query_enum(req, "schedule_band", bands, &values[8]) ||
	    !query_enum(req, "review_status", review_statuses, &values[9]) ||
	    !query_enum(req, "funding_source", funding_sources, &values[10]) ||
	    !query_search(req, &values[11]))
		return;
	if ((page = listing_new(req, sort->tag, sort->shape)) == NULL)
		return;
	if (sort->shape[1] == '\0') {
		values[1] = page->after[0];
	} else {
		values[1] = page->after[1];
		values[2] = page->after[0];
	}
	/* A forged cursor of the right shape must not become a database error. */
	if (sort->sql == sql_projects_updated && values[2] != NULL &&
	    !is_utc_text(values[2])) {
		refuse(req, "after", "not a cursor of this list (use the \"next\" of the "
		    "previous page)");
		free(page);
		return;
	}
	if ((cv_params = api_variance_params(req->daemon->cfg, "CV")) == NULL ||
	    (sv_params = api_variance_params(req->daemon->cfg, "SV")) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		free(page);
		goto out;
	}
	values[3] = cv_params;
	values[4] = sv_params;
	values[12] = page->limit_plus;
	listing_query(page, sort->sql, 13, values);
out:
	free(cv_params);
	free(sv_params);
}

void
api_get_awards(struct request *req)
{
	struct listing	*page;
	const char	*values[12], *agency;

	memset(values, 0, sizeof(values));
	/* ?buyer= names the buyer; ?agency=, as before, too. */
	if (!listing_agency_named(req, "buyer", &values[0]) ||
	    !listing_agency(req, &agency))
		return;
	if (request_query(req, "buyer") != NULL && request_query(req, "agency") != NULL &&
	    strcmp(request_query(req, "buyer"), request_query(req, "agency")) != 0) {
		refuse(req, "buyer", "differs from agency (give one of them)");
		return;
	}
	if (values[0] == NULL)
		values[0] = agency;
	if (!query_text(req, "supplier", TEXT_FILTER_MAX, &values[4]) ||
	    !query_text(req, "classification", 64, &values[5]) ||
	    !query_enum(req, "method", methods, &values[6]) ||
	    !query_enum(req, "status", award_statuses, &values[7]) ||
	    !query_date(req, "date_from", &values[8]) ||
	    !query_date(req, "date_to", &values[9]) ||
	    !query_decimal(req, "amount_min", &values[10]) ||
	    !query_decimal(req, "amount_max", &values[11]))
		return;
	if ((page = listing_new(req, 'a', "tt")) == NULL)
		return;
	values[1] = page->after[0];
	values[2] = page->after[1];
	values[3] = page->limit_plus;
	listing_query(page, sql_awards, 12, values);
}

void
api_get_budget(struct request *req)
{
	struct listing	*page;
	const char	*values[6];
	char		*end;
	long		 year;

	memset(values, 0, sizeof(values));
	if (!listing_agency(req, &values[0]))
		return;
	if ((values[3] = request_query(req, "fiscal_year")) != NULL) {
		year = strtol(values[3], &end, 10);
		if (values[3][0] < '1' || values[3][0] > '9' || *end != '\0' ||
		    year < 1990 || year > 2200) {
			refuse(req, "fiscal_year", "must be a year from 1990 to 2200");
			return;
		}
	}
	if (!query_enum(req, "phase", phases, &values[4]) ||
	    !query_text(req, "program", TEXT_FILTER_MAX, &values[5]))
		return;
	if ((page = listing_new(req, 'b', "i")) == NULL)
		return;
	values[1] = page->after[0];
	values[2] = page->limit_plus;
	listing_query(page, sql_budget, 6, values);
}
