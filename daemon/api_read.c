/*
 * GET /v1/projects, /v1/awards and /v1/budget: what was stored, read back a page at a
 * time in key order (keyset pagination: `limit`, and `after`, an opaque cursor holding
 * the last key of the previous page). Each item's JSON is built by PostgreSQL, amounts
 * as numeric::text strings, so no amount passes through a C double on the way out either.
 * Projects also carry their cost and schedule variance, as the CV and SV indicators
 * compute them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "indicators.h"
#include "listing.h"
#include "log.h"

#define UTC_TEXT(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Parameters: $1 agency code or NULL, $2 (and $3) the key after which to start, then
   the number of rows, one more than the page so that we know whether one follows. */

/*
 * A project also carries its cost and schedule variance, computed as the CV and SV
 * indicators compute them (project_variance(), sql/008_portfolio.sql) with their
 * bands' parameters ($4, $5: indicator_params() of CV and SV), and its rebaselines.
 */
static const char sql_projects[] =
    "SELECT p.id, json_build_object("
    "  'id', p.external_id, 'agency', a.code, 'title', p.title,"
    "  'description', p.description, 'category', p.category,"
    "  'capabilities', p.capabilities, 'status', p.status,"
    "  'planned_start', p.planned_start, 'planned_end', p.planned_end,"
    "  'projected_end', p.projected_end, 'actual_start', p.actual_start,"
    "  'actual_end', p.actual_end, 'planned_cost', p.planned_cost::text,"
    "  'projected_cost', p.projected_cost::text, 'actual_cost', p.actual_cost::text,"
    "  'currency', p.currency, 'review_status', p.review_status,"
    "  'cio_rating', p.cio_rating, 'shared_platforms', p.shared_platforms,"
    "  'budget_lines', p.budget_lines, 'ocids', p.ocids,"
    "  'funding_source', p.funding_source, 'funding_program', p.funding_program,"
    "  'version', p.version, 'updated_at', " UTC_TEXT("p.updated_at") ","
    "  'cv', v.cv::text, 'cv_percent', v.cv_percent, 'sv_days', v.sv_days,"
    "  'sv_percent', v.sv_percent, 'cost_band', v.cost_band,"
    "  'schedule_band', v.schedule_band, 'rebaselines', project_rebaselines(p.id))::text"
    " FROM project p JOIN agency a ON a.id = p.agency_id"
    " CROSS JOIN LATERAL project_variance(p.status, p.planned_cost, p.projected_cost,"
    "  p.actual_cost, p.planned_start, p.planned_end, p.projected_end, p.actual_end,"
    "  ($4::jsonb ->> 'medium')::numeric, ($4::jsonb ->> 'high')::numeric,"
    "  ($5::jsonb ->> 'medium')::numeric, ($5::jsonb ->> 'high')::numeric) v"
    " WHERE ($1::text IS NULL OR a.code = $1) AND ($2::bigint IS NULL OR p.id > $2)"
    " ORDER BY p.id LIMIT $3::int";

/*
 * An award's classifications are its items'; an award without items has its tender's.
 * Its method is the tender's procurementMethod.
 */
static const char sql_awards[] =
    "SELECT w.ocid, w.award_id, json_build_object("
    "  'ocid', w.ocid, 'award_id', w.award_id, 'buyer', g.code, 'title', w.title,"
    "  'suppliers', coalesce((SELECT json_agg(json_build_object('id', s.id,"
    "    'name', s.name) ORDER BY s.id) FROM award_supplier x"
    "    JOIN supplier s ON s.id = x.supplier_id"
    "    WHERE x.ocid = w.ocid AND x.award_id = w.award_id), '[]'),"
    "  'amount', w.value_amount::text, 'currency', w.currency,"
    "  'date', " UTC_TEXT("w.date") ", 'status', w.status, 'method', t.method,"
    "  'classifications', coalesce((SELECT json_agg(c ORDER BY c ->> 'scheme',"
    "    c ->> 'id') FROM (SELECT DISTINCT jsonb_build_object("
    "     'scheme', i.classification_scheme, 'id', i.classification_id) AS c"
    "    FROM item i WHERE i.ocid = w.ocid AND i.classification_id IS NOT NULL"
    "     AND ((i.parent_kind = 'award' AND i.parent_id = w.award_id)"
    "      OR (i.parent_kind = 'tender' AND NOT EXISTS (SELECT 1 FROM item j"
    "       WHERE j.ocid = w.ocid AND j.parent_kind = 'award' AND j.classification_id IS NOT NULL"
    "        AND j.parent_id = w.award_id)))) x), '[]'))::text"
    " FROM award w LEFT JOIN agency g ON g.id = w.buyer_agency_id"
    " LEFT JOIN tender t ON t.ocid = w.ocid"
    " WHERE ($1::text IS NULL OR g.code = $1)"
    "  AND ($2::text IS NULL OR (w.ocid, w.award_id) > ($2, $3))"
    " ORDER BY w.ocid, w.award_id LIMIT $4::int";

static const char sql_budget[] =
    "SELECT b.id, json_build_object("
    "  'id', b.id, 'agency', a.code, 'fiscal_year', b.fiscal_year,"
    "  'program', b.program, 'subtitulo', b.subtitulo, 'item', b.item,"
    "  'asignacion', b.asignacion, 'denomination', b.denomination,"
    "  'phase', b.phase, 'period', b.period, 'amount', b.amount::text,"
    "  'currency', b.currency, 'updated_at', " UTC_TEXT("b.updated_at") ")::text"
    " FROM budget_line b JOIN agency a ON a.id = b.agency_id"
    " WHERE ($1::text IS NULL OR a.code = $1) AND ($2::bigint IS NULL OR b.id > $2)"
    " ORDER BY b.id LIMIT $3::int";

enum list {
	LIST_PROJECTS,
	LIST_AWARDS,
	LIST_BUDGET,
};

static const struct {
	const char	*sql;
	char		 tag;		/* a cursor names its list */
	const char	*key;		/* the key's shape (listing.h) */
} lists[] = {
	[LIST_PROJECTS] = { sql_projects, 'p', "i" },
	[LIST_AWARDS] = { sql_awards, 'a', "tt" },
	[LIST_BUDGET] = { sql_budget, 'b', "i" },
};

/* The parameters of indicator `code` as JSON text (the caller frees it); NULL on ENOMEM. */
static char *
variance_params(const struct config *cfg, const char *code)
{
	const struct indicator	*ind = indicator_find(code);

	return ind != NULL ? indicator_params_text(ind, cfg) : NULL;
}

static void
list(struct request *req, enum list which)
{
	struct listing	*page = NULL;
	const char	*agency, *values[6];
	char		*cv_params = NULL, *sv_params = NULL;
	int		 n = 0;

	if (!listing_agency(req, &agency))
		return;
	if ((page = listing_new(req, lists[which].tag, lists[which].key)) == NULL)
		return;
	if (which == LIST_PROJECTS &&
	    ((cv_params = variance_params(req->daemon->cfg, "CV")) == NULL ||
	    (sv_params = variance_params(req->daemon->cfg, "SV")) == NULL)) {
		http_reply_error(req, 500, "out of memory", NULL);
		free(page);
		goto out;
	}
	values[n++] = agency;
	values[n++] = page->after[0];
	if (which == LIST_AWARDS)
		values[n++] = page->after[1];
	values[n++] = page->limit_plus;
	if (which == LIST_PROJECTS) {
		values[n++] = cv_params;
		values[n++] = sv_params;
	}
	listing_query(page, lists[which].sql, n, values);
out:
	free(cv_params);
	free(sv_params);
}

void
api_get_projects(struct request *req)
{
	list(req, LIST_PROJECTS);
}

void
api_get_awards(struct request *req)
{
	list(req, LIST_AWARDS);
}

void
api_get_budget(struct request *req)
{
	list(req, LIST_BUDGET);
}
