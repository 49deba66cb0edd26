/*
 * The portfolio as a whole: GET /v1/session (who the token is), /v1/portfolio (the
 * overview the dashboard opens on, one statement) and /v1/agencies (every agency with
 * its figures). ICT budget and spend are read from the current BUDGET-EXEC and
 * COORD-INDEX results, so that they are the portfolio indicators' own definitions
 * (portfolio_ict_budget() and portfolio_prepare_ict_awards() in 008_portfolio.sql)
 * without recomputing a million awards per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_read.h"
#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "indicator_sql.h"
#include "indicators.h"
#include "listing.h"
#include "log.h"
#include "utf8.h"

#define Q_MAX_BYTES	200

/* The codes whose current results the portfolio reads, as a text[] literal. */
static const char portfolio_codes[] =
    "{DUP-PROJECT,OVL-SPEND,OVL-TENDER,SPLIT,BUDGET-EXEC,COORD-INDEX}";
static const char agency_codes[] = "{BUDGET-EXEC,COORD-INDEX}";

/*
 * Per agency: its ICT budget of the current fiscal year (BUDGET-EXEC's budget, in the
 * base currency $B) and its ICT spend (COORD-INDEX's ICT award money, in the base
 * currency). Needs `res`, the current results.
 */
#define ICT_FIGURES(base) \
    " bud AS (SELECT x.agency_id, sum((x.evidence ->> 'budget')::numeric) AS budget" \
    "  FROM res x WHERE x.code = 'BUDGET-EXEC' AND x.currency = " base \
    "   AND (x.evidence ->> 'fiscal_year')::integer" \
    "    = extract(year FROM current_date)::integer" \
    "  GROUP BY x.agency_id)," \
    " spend AS (SELECT x.agency_id," \
    "  sum((x.evidence -> 'counts' ->> 'ict_money')::numeric) AS spend" \
    "  FROM res x WHERE x.code = 'COORD-INDEX' GROUP BY x.agency_id)"

#define CURRENT_RESULTS \
    " res AS MATERIALIZED (SELECT x.*, r.finished_at FROM latest l" \
    "  JOIN indicator_result x ON x.run_id = l.run_id AND x.code = l.code" \
    "  JOIN indicator_run r ON r.id = x.run_id)"

#define BAND_COUNTS(col) \
    "json_build_object('low', count(*) FILTER (WHERE " col " = 'low')," \
    " 'medium', count(*) FILTER (WHERE " col " = 'medium')," \
    " 'high', count(*) FILTER (WHERE " col " = 'high')," \
    " 'none', count(*) FILTER (WHERE " col " = 'none'))"

#define TOP_OVERLAPS(codes) \
    "(SELECT coalesce(json_agg(o.item ORDER BY o.amount DESC NULLS LAST, o.id), '[]')" \
    " FROM (SELECT x.id, x.amount, " OVERLAP_ITEM("x", "x", "$5") " AS item" \
    "  FROM res x WHERE x.code IN (" codes ")" \
    "   AND ($2::text IS NULL OR x.agencies @> ARRAY[(SELECT s.id FROM scope s)])" \
    "  ORDER BY x.amount DESC NULLS LAST, x.id LIMIT 10) o)"

/*
 * The overview. $1 the codes, $2 the scope's agency code or NULL, $3 and $4 the CV
 * and SV parameters (their bands), $5 the base currency. Projects are read once
 * (50,000 at the benchmark's size), results once; awards not at all.
 */
static const char sql_portfolio[] =
    "WITH " LATEST_RUNS "," CURRENT_RESULTS ","
    " scope AS (SELECT g.id, g.code FROM agency g WHERE g.code = $2),"
    " proj AS MATERIALIZED (SELECT p.agency_id, p.category, p.funding_source,"
    "  " MONEY("p.planned_cost", "p.currency", "p.planned_start", "$5") " AS cost,"
    "  v.cost_band, v.schedule_band"
    "  FROM project p CROSS JOIN LATERAL project_variance(p.status, p.planned_cost,"
    "   p.projected_cost, p.actual_cost, p.planned_start, p.planned_end,"
    "   p.projected_end, p.actual_end,"
    "   ($3::jsonb ->> 'medium')::numeric, ($3::jsonb ->> 'high')::numeric,"
    "   ($4::jsonb ->> 'medium')::numeric, ($4::jsonb ->> 'high')::numeric) v),"
    " pa AS (SELECT q.agency_id, count(*) AS projects, sum(q.cost) AS cost"
    "  FROM proj q GROUP BY q.agency_id),"
    ICT_FIGURES("$5") ","
    " ag AS MATERIALIZED (SELECT a.id, a.code, a.name, coalesce(pa.projects, 0) AS projects,"
    "  coalesce(pa.cost, 0) AS cost, coalesce(b.budget, 0) AS budget,"
    "  coalesce(s.spend, 0) AS spend"
    "  FROM agency a LEFT JOIN pa ON pa.agency_id = a.id"
    "  LEFT JOIN bud b ON b.agency_id = a.id LEFT JOIN spend s ON s.agency_id = a.id),"
    /*
     * Matched by an active silence without an acknowledgement: the silence part of
     * ictmon_alert_suppressed() (sql/009), written out because the function, called
     * per alert, costs 17 times as much (389 ms against 22 ms for 9,300 alerts).
     */
    " al AS (SELECT a.*, a.acked_at IS NULL AND EXISTS (SELECT 1 FROM silence z"
    "   WHERE z.starts_at <= now() AND z.ends_at > now()"
    "    AND (z.rule IS NULL OR z.rule = a.rule)"
    "    AND (z.agency_id IS NULL OR z.agency_id = a.agency_id"
    "     OR z.agency_id = ANY (a.agencies))"
    "    AND (z.fingerprint IS NULL OR z.fingerprint = a.fingerprint)) AS silenced"
    "  FROM alert a WHERE a.state = 'firing' AND ($2::text IS NULL"
    "   OR a.agency_id = (SELECT s.id FROM scope s)"
    "   OR a.agencies @> ARRAY[(SELECT s.id FROM scope s)]))"
    " SELECT json_build_object("
    "  'as_of', " UTC_TEXT("now()") ","
    "  'scope', (SELECT s.code FROM scope s),"
    "  'totals', (SELECT json_build_object('agencies', count(*),"
    "   'projects', sum(g.projects), 'planned_cost', sum(g.cost)::text,"
    "   'ict_budget', sum(g.budget)::text, 'ict_spend', sum(g.spend)::text,"
    "   'currency', $5) FROM ag g),"
    "  'by_agency', (SELECT coalesce(json_agg(json_build_object('agency', o.code,"
    "    'name', o.name, 'projects', o.projects, 'planned_cost', o.cost::text,"
    "    'ict_budget', o.budget::text, 'ict_spend', o.spend::text) ORDER BY o.rank), '[]')"
    "   FROM (SELECT g.*, row_number() OVER (ORDER BY g.budget DESC, g.cost DESC,"
    "    g.code) AS rank FROM ag g) o WHERE o.rank <= 15 OR o.code = $2),"
    "  'by_category', (SELECT coalesce(json_agg(json_build_object('category', c.category,"
    "    'projects', c.n, 'planned_cost', c.cost::text)"
    "    ORDER BY c.cost DESC NULLS LAST, c.category NULLS LAST), '[]')"
    "   FROM (SELECT q.category, count(*) AS n, coalesce(sum(q.cost), 0) AS cost"
    "    FROM proj q GROUP BY q.category) c),"
    "  'by_funding_source', (SELECT coalesce(json_agg(json_build_object("
    "    'funding_source', f.funding_source, 'projects', f.n,"
    "    'planned_cost', f.cost::text)"
    "    ORDER BY f.cost DESC NULLS LAST, f.funding_source NULLS LAST), '[]')"
    "   FROM (SELECT q.funding_source, count(*) AS n, coalesce(sum(q.cost), 0) AS cost"
    "    FROM proj q GROUP BY q.funding_source) f),"
    "  'bands', (SELECT json_build_object('cost', " BAND_COUNTS("q.cost_band") ","
    "   'schedule', " BAND_COUNTS("q.schedule_band") ") FROM proj q),"
    "  'overlaps', " TOP_OVERLAPS("'OVL-SPEND', 'OVL-TENDER', 'SPLIT'") ","
    "  'duplicates', " TOP_OVERLAPS("'DUP-PROJECT'") ","
    "  'alerts', (SELECT json_build_object('firing', json_build_object("
    "    'low', count(*) FILTER (WHERE a.severity = 'low' AND a.acked_at IS NULL"
    "     AND NOT a.silenced),"
    "    'medium', count(*) FILTER (WHERE a.severity = 'medium' AND a.acked_at IS NULL"
    "     AND NOT a.silenced),"
    "    'high', count(*) FILTER (WHERE a.severity = 'high' AND a.acked_at IS NULL"
    "     AND NOT a.silenced)),"
    "   'acknowledged', count(*) FILTER (WHERE a.acked_at IS NOT NULL),"
    "   'silenced', count(*) FILTER (WHERE a.silenced)) FROM al a),"
    "  'feeds', (SELECT json_build_object('total', count(*),"
    "   'ok', count(*) FILTER (WHERE NOT f.failing AND NOT f.stale),"
    "   'failing', count(*) FILTER (WHERE f.failing),"
    "   'stale', count(*) FILTER (WHERE NOT f.failing AND f.stale))"
    "   FROM (SELECT f.consecutive_failures > 0 OR f.problem IS NOT NULL AS failing,"
    "    f.last_success_at IS NULL OR f.last_success_at < now()"
    "     - make_interval(secs => 2 * coalesce(f.schedule_seconds, 86400)) AS stale"
    "    FROM feed_source f WHERE f.configured) f))::text";

/*
 * Every agency, a page at a time by code. $1 the codes (BUDGET-EXEC, COORD-INDEX), $2
 * q (a part of the code or name, case-insensitive) or NULL, $3 the parent's code or
 * NULL, $4 the previous page's last code, $5 rows wanted, $6 the base currency. The
 * page's agencies are chosen first; only they are measured.
 */
static const char sql_agencies[] =
    "WITH " LATEST_RUNS "," CURRENT_RESULTS "," ICT_FIGURES("$6") ","
    " coord AS (SELECT DISTINCT ON (x.agency_id) x.agency_id, x.value, x.band"
    "  FROM res x WHERE x.code = 'COORD-INDEX' ORDER BY x.agency_id, x.id),"
    " page AS (SELECT a.id, a.code, a.name, a.parent_id FROM agency a"
    "  WHERE ($2::text IS NULL OR strpos(lower(a.code), lower($2)) > 0"
    "    OR strpos(lower(a.name), lower($2)) > 0)"
    "   AND ($3::text IS NULL OR a.parent_id = (SELECT u.id FROM agency u"
    "    WHERE u.code = $3))"
    "   AND ($4::text IS NULL OR a.code > $4)"
    "  ORDER BY a.code LIMIT $5::int),"
    /* Firing alerts by agency involved: its own, or among its agencies. */
    " open AS (SELECT x.agency_id, count(DISTINCT z.id) AS n FROM alert z"
    "  CROSS JOIN LATERAL unnest(array_append(z.agencies, z.agency_id)) AS x(agency_id)"
    "  WHERE z.state = 'firing' AND x.agency_id IN (SELECT g.id FROM page g)"
    "  GROUP BY x.agency_id)"
    " SELECT a.code, json_build_object('code', a.code, 'name', a.name,"
    "  'parent', (SELECT u.code FROM agency u WHERE u.id = a.parent_id),"
    "  'projects', pa.projects, 'planned_cost', coalesce(pa.cost, 0)::text,"
    "  'ict_budget', coalesce(b.budget, 0)::text,"
    "  'ict_spend', coalesce(s.spend, 0)::text,"
    "  'coordination', CASE WHEN c.agency_id IS NOT NULL THEN json_build_object("
    "   'value', c.value::text, 'band', c.band) END,"
    "  'open_alerts', coalesce(o.n, 0))::text"
    " FROM page a"
    " CROSS JOIN LATERAL (SELECT count(*) AS projects,"
    "  sum(" MONEY("p.planned_cost", "p.currency", "p.planned_start", "$6") ") AS cost"
    "  FROM project p WHERE p.agency_id = a.id) pa"
    " LEFT JOIN bud b ON b.agency_id = a.id LEFT JOIN spend s ON s.agency_id = a.id"
    " LEFT JOIN coord c ON c.agency_id = a.id LEFT JOIN open o ON o.agency_id = a.id"
    " ORDER BY a.code";

static const char sql_session[] =
    "SELECT json_build_object('role', $1::text, 'agency', $2::text,"
    " 'agency_name', (SELECT g.name FROM agency g WHERE g.code = $2),"
    " 'name', $3::text)::text";

static const struct api_object session_object = { "session", NULL };
static const struct api_object portfolio_object = { "portfolio", NULL };

void
api_get_session(struct request *req)
{
	const struct principal	*who = &req->who;
	const char		*values[3];

	values[0] = role_name(who->role);
	values[1] = who->role == ROLE_AGENCY ? who->agency_code : NULL;
	values[2] = who->name[0] != '\0' ? who->name : NULL;
	api_object_query(req, &session_object, sql_session, 3, values);
}

void
api_get_portfolio(struct request *req)
{
	const char	*values[5];
	char		*cv_params = NULL, *sv_params = NULL;

	if ((cv_params = api_variance_params(req->daemon->cfg, "CV")) == NULL ||
	    (sv_params = api_variance_params(req->daemon->cfg, "SV")) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		goto out;
	}
	values[0] = portfolio_codes;
	values[1] = req->who.role == ROLE_AGENCY ? req->who.agency_code : NULL;
	values[2] = cv_params;
	values[3] = sv_params;
	values[4] = config_str(req->daemon->cfg, CFG_IND_CURRENCY);
	api_object_query(req, &portfolio_object, sql_portfolio, 5, values);
out:
	free(cv_params);
	free(sv_params);
}

/* A text filter: at most Q_MAX_BYTES of UTF-8, not empty. False after a 400. */
static bool
query_filter(struct request *req, const char *name, const char **out)
{
	const char	*v = request_query(req, name);

	*out = NULL;
	if (v == NULL)
		return true;
	if (*v == '\0' || strlen(v) > Q_MAX_BYTES || !utf8_valid(v, strlen(v))) {
		char msg[96];

		snprintf(msg, sizeof(msg), "%s: must be 1 to %d bytes of UTF-8", name,
		    Q_MAX_BYTES);
		http_reply_error(req, 400, msg, NULL);
		return false;
	}
	*out = v;
	return true;
}

void
api_get_agencies(struct request *req)
{
	struct listing	*page;
	const char	*values[6];

	memset(values, 0, sizeof(values));
	if (!query_filter(req, "q", &values[1]) || !query_filter(req, "parent", &values[2]))
		return;
	if ((page = listing_new(req, 'g', "t")) == NULL)
		return;
	values[0] = agency_codes;
	values[3] = page->after[0];
	values[4] = page->limit_plus;
	values[5] = config_str(req->daemon->cfg, CFG_IND_CURRENCY);
	listing_query(page, sql_agencies, 6, values);
}
