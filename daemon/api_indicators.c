/*
 * What the indicators found, read back: GET /v1/indicators (results), /v1/overlaps
 * (the four overlap kinds by the money at stake) and /v1/overlaps/{id} (one, its
 * evidence joined back to awards and projects), /v1/agencies/{code}/scorecard, the
 * catalogue and the runs. The results shown for a code are those of the newest done
 * run that computed it. Items are built by PostgreSQL, decimals as exact strings and
 * the evidence as stored; computing them is indicators.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency.h"
#include "api.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "indicator_sql.h"
#include "indicators.h"
#include "listing.h"
#include "log.h"

#define CODES_MAX		512	/* the catalogue's codes as a text[] literal */
#define SCORECARD_OVERLAPS	"20"	/* overlaps listed in a scorecard, by amount */

/*
 * $1 codes, $2 agency code or NULL, $3 band or NULL, $4 the last id of the previous
 * page, $5 rows wanted.
 */
static const char sql_results[] =
    "WITH " LATEST_RUNS
    " SELECT x.id, " RESULT_OBJECT("x", "r") "::text"
    " FROM latest l JOIN indicator_result x ON x.run_id = l.run_id AND x.code = l.code"
    " JOIN indicator_run r ON r.id = x.run_id"
    " WHERE ($2::text IS NULL OR x.agencies @> ARRAY[(SELECT g.id FROM agency g"
    "   WHERE g.code = $2)])"
    "  AND ($3::text IS NULL OR x.band = $3)"
    "  AND ($4::bigint IS NULL OR x.id > $4)"
    " ORDER BY x.id LIMIT $5::int";

/*
 * The money at stake first (results without an amount last), then by id. $4 and $5
 * are the previous page's last id and amount (NULL when it had none).
 */
static const char sql_overlaps[] =
    "WITH " LATEST_RUNS
    " SELECT x.id, x.amount::text, jsonb_build_object('kind', " OVERLAP_KIND("x") ")"
    "  || " RESULT_OBJECT("x", "r") "::jsonb"
    " FROM latest l JOIN indicator_result x ON x.run_id = l.run_id AND x.code = l.code"
    " JOIN indicator_run r ON r.id = x.run_id"
    " WHERE ($2::text IS NULL OR x.agencies @> ARRAY[(SELECT g.id FROM agency g"
    "   WHERE g.code = $2)])"
    "  AND ($3::text IS NULL OR x.band = $3)"
    "  AND ($4::bigint IS NULL"
    "   OR ($5::numeric IS NULL AND x.amount IS NULL AND x.id > $4)"
    "   OR ($5::numeric IS NOT NULL AND (x.amount < $5 OR x.amount IS NULL"
    "    OR (x.amount = $5 AND x.id > $4))))"
    " ORDER BY x.amount DESC NULLS LAST, x.id LIMIT $6::int";

/*
 * One current overlap result by id, its evidence made readable. $1 the overlap codes,
 * $2 the id, $3 the base currency, $4 the asking agency token's code or NULL. Column
 * 0 tells whether $4 may read it (the agency is involved); no row when the id is not
 * a current result.
 */
static const char sql_overlap[] =
    "WITH " LATEST_RUNS ","
    " x AS (SELECT x.*, r.finished_at FROM latest l"
    "  JOIN indicator_result x ON x.run_id = l.run_id AND x.code = l.code"
    "  JOIN indicator_run r ON r.id = x.run_id WHERE x.id = $2::bigint),"
    " ev AS (SELECT e.value AS e, e.n FROM x,"
    "  jsonb_array_elements(x.evidence -> 'rows') WITH ORDINALITY AS e(value, n))"
    " SELECT $4::text IS NULL OR EXISTS (SELECT 1 FROM agency g WHERE g.code = $4"
    "  AND (g.id = ANY (x.agencies) OR g.id = x.agency_id)),"
    " (" OVERLAP_ITEM("x", "x", "$3") " || jsonb_build_object('rows', jsonb_build_object("
    "  'awards', (SELECT coalesce(jsonb_agg(jsonb_build_object('ocid', w.ocid,"
    "    'award_id', w.award_id, 'buyer', g.code, 'buyer_name', g.name,"
    "    'suppliers', coalesce((SELECT jsonb_agg(jsonb_build_object('id', s.id,"
    "     'name', s.name) ORDER BY s.id) FROM award_supplier z"
    "     JOIN supplier s ON s.id = z.supplier_id"
    "     WHERE z.ocid = w.ocid AND z.award_id = w.award_id), '[]'),"
    "    'date', " UTC_TEXT("w.date") ", 'amount', w.value_amount::text,"
    "    'currency', w.currency,"
    "    'classification', coalesce((SELECT min(i.classification_id) FROM item i"
    "     WHERE i.ocid = w.ocid AND i.parent_kind = 'award'"
    "      AND i.parent_id = w.award_id), (SELECT min(i.classification_id)"
    "     FROM item i WHERE i.ocid = w.ocid AND i.parent_kind = 'tender'),"
    "     ev.e ->> 'classification'),"
    "    'title', w.title, 'method', t.method, 'status', w.status) ORDER BY ev.n), '[]')"
    "   FROM ev JOIN award w ON w.ocid = ev.e ->> 'ocid'"
    "    AND w.award_id = ev.e ->> 'award_id'"
    "   LEFT JOIN agency g ON g.id = w.buyer_agency_id"
    "   LEFT JOIN tender t ON t.ocid = w.ocid"
    "   WHERE ev.e ->> 'kind' = 'award'),"
    "  'tenders', (SELECT coalesce(jsonb_agg(jsonb_build_object('ocid', ev.e ->> 'ocid',"
    "    'buyer', ev.e ->> 'agency', 'buyer_name', g.name, 'title', ev.e ->> 'title',"
    "    'status', ev.e ->> 'status', 'method', ev.e ->> 'method',"
    "    'amount', ev.e ->> 'amount', 'currency', ev.e ->> 'currency',"
    "    'period_end', ev.e ->> 'period_end',"
    "    'classification', ev.e ->> 'classification') ORDER BY ev.n), '[]')"
    "   FROM ev LEFT JOIN agency g ON g.code = ev.e ->> 'agency'"
    "   WHERE ev.e ->> 'kind' = 'tender'),"
    "  'projects', (SELECT coalesce(jsonb_agg(jsonb_build_object('agency', a.code,"
    "    'agency_name', a.name, 'id', p.external_id, 'title', p.title,"
    "    'status', p.status, 'planned_cost', p.planned_cost::text,"
    "    'currency', p.currency, 'planned_start', p.planned_start,"
    "    'planned_end', p.planned_end,"
    "    'similarity', (SELECT max((q ->> 'similarity')::numeric)"
    "     FROM jsonb_array_elements(x.evidence -> 'pairs') q"
    "     WHERE a.code || '/' || p.external_id IN (q ->> 'a', q ->> 'b'))::text)"
    "    ORDER BY ev.n), '[]')"
    "   FROM ev JOIN project p ON p.id = (ev.e ->> 'project_id')::bigint"
    "   JOIN agency a ON a.id = p.agency_id"
    "   WHERE ev.e ->> 'kind' = 'project')),"
    "  'alerts', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id,"
    "    'rule', a.rule, 'state', a.state, 'severity', a.severity,"
    "    'acked', a.acked_at IS NOT NULL) ORDER BY a.id), '[]') FROM alert a"
    "   WHERE a.indicator = x.code AND a.fingerprint = a.rule || ':' || x.fingerprint)"
    " ))::text FROM x";

#define BANDS(code) \
    "(SELECT json_build_object('low', count(*) FILTER (WHERE x.band = 'low')," \
    " 'medium', count(*) FILTER (WHERE x.band = 'medium')," \
    " 'high', count(*) FILTER (WHERE x.band = 'high')," \
    " 'none', count(*) FILTER (WHERE x.band = 'none'))" \
    " FROM res x WHERE x.code = '" code "' AND x.agency_id = ag.id)"

#define OWN_RESULT(code) \
    "(SELECT " RESULT_OBJECT("x", "x") " FROM res x" \
    " WHERE x.code = '" code "' AND x.agency_id = ag.id ORDER BY x.id LIMIT 1)"

#define OWN_RESULTS(code) \
    "(SELECT coalesce(json_agg(" RESULT_OBJECT("x", "x") " ORDER BY x.subject, x.id)," \
    " '[]') FROM res x WHERE x.code = '" code "' AND x.agency_id = ag.id)"

#define IS_OVERLAP(x) \
    x ".code IN ('DUP-PROJECT', 'OVL-SPEND', 'OVL-TENDER', 'SPLIT')"

/*
 * One agency's page: its coordination index and what makes it, supplier
 * concentration, budget execution, its projects' variance bands, the open overlaps
 * involving it (largest first), stale data, its top suppliers (CONC-VENDOR's) and
 * this fiscal year's execution month by month. $1 codes, $2 the agency's code, $3
 * and $4 the general parameters ict_budget and ict_unspsc (what is ICT, as the
 * portfolio indicators read it), $5 the base currency.
 */
static const char sql_scorecard[] =
    "WITH ag AS (SELECT id, code, name FROM agency WHERE code = $2), " LATEST_RUNS ","
    " res AS (SELECT x.*, r.finished_at FROM latest l"
    "  JOIN indicator_result x ON x.run_id = l.run_id AND x.code = l.code"
    "  JOIN indicator_run r ON r.id = x.run_id, ag"
    "  WHERE x.agencies @> ARRAY[ag.id] OR x.agency_id = ag.id),"
    /* The agency's ICT budget lines of this year, in the base currency $5. */
    " ict_lines AS (SELECT b.phase, b.period," MONEY("b.amount", "b.currency",
	"make_date(b.fiscal_year, 1, 1)", "$5") " AS amount"
    "  FROM budget_line b, ag WHERE b.agency_id = ag.id"
    "   AND b.fiscal_year = extract(year FROM current_date)"
    "   AND b.phase IN ('approved', 'modified', 'accrued')"
    "   AND budget_classification_under(budget_classification(b.subtitulo, b.item,"
    "    b.asignacion), string_to_array(replace($3, ' ', ''), ','))"
    /* An asignación is not counted again under its ítem (portfolio_ict_budget()). */
    "   AND NOT (b.asignacion IS NOT NULL AND EXISTS (SELECT 1 FROM budget_line u"
    "    WHERE u.agency_id = b.agency_id AND u.fiscal_year = b.fiscal_year"
    "     AND u.program = b.program AND u.subtitulo = b.subtitulo"
    "     AND u.item = b.item AND u.asignacion IS NULL AND u.phase = b.phase"
    "     AND u.period IS NOT DISTINCT FROM b.period"
    "     AND budget_classification_under(budget_classification(u.subtitulo,"
    "      u.item, NULL), string_to_array(replace($3, ' ', ''), ','))))),"
    /* Its ICT awards of this year (an item under an ict_unspsc prefix, $4), standing. */
    " ict_awards AS (SELECT extract(month FROM w.date AT TIME ZONE 'UTC')::integer"
    "   AS month, " MONEY("w.value_amount", "w.currency",
	"(w.date AT TIME ZONE 'UTC')::date", "$5") " AS money"
    "  FROM award w, ag WHERE w.buyer_agency_id = ag.id"
    "   AND w.date >= make_date(extract(year FROM current_date)::integer, 1, 1)"
    "   AND w.date < make_date(extract(year FROM current_date)::integer + 1, 1, 1)"
    "   AND (w.status IS NULL OR lower(w.status) = 'active')"
    "   AND EXISTS (SELECT 1 FROM item i, unnest(string_to_array(replace($4, ' ', ''),"
    "    ',')) AS pfx WHERE i.ocid = w.ocid AND pfx <> ''"
    "    AND ((i.parent_kind = 'award' AND i.parent_id = w.award_id)"
    "     OR i.parent_kind = 'tender')"
    "    AND starts_with(regexp_replace(i.classification_id, '[^0-9]', '', 'g'), pfx)))"
    " SELECT json_build_object("
    "  'agency', json_build_object('code', ag.code, 'name', ag.name),"
    "  'computed_at', (SELECT " UTC_TEXT("max(x.finished_at)") " FROM res x),"
    "  'coord_index', " OWN_RESULT("COORD-INDEX") ","
    "  'conc_vendor', " OWN_RESULT("CONC-VENDOR") ","
    "  'budget_exec', " OWN_RESULTS("BUDGET-EXEC") ","
    "  'projects', json_build_object('cv', " BANDS("CV") ", 'sv', " BANDS("SV") "),"
    "  'overlaps', json_build_object("
    "   'total', (SELECT count(*) FROM res x WHERE " IS_OVERLAP("x") "),"
    "   'by_kind', (SELECT json_build_object("
    "    'duplicates', count(*) FILTER (WHERE x.code = 'DUP-PROJECT'),"
    "    'spend', count(*) FILTER (WHERE x.code = 'OVL-SPEND'),"
    "    'tender', count(*) FILTER (WHERE x.code = 'OVL-TENDER'),"
    "    'split', count(*) FILTER (WHERE x.code = 'SPLIT')) FROM res x),"
    "   'items', (SELECT coalesce(json_agg(jsonb_build_object('kind', o.kind) ||"
    "     o.item ORDER BY o.amount DESC NULLS LAST, o.id), '[]')"
    "    FROM (SELECT x.id, x.amount, " OVERLAP_KIND("x") " AS kind,"
    "     " RESULT_OBJECT("x", "x") "::jsonb AS item FROM res x"
    "     WHERE " IS_OVERLAP("x")
    "     ORDER BY x.amount DESC NULLS LAST, x.id LIMIT " SCORECARD_OVERLAPS ") o)),"
    "  'feed_stale', (SELECT coalesce(json_agg(" RESULT_OBJECT("x", "x")
    "   ORDER BY x.subject, x.id), '[]') FROM res x WHERE x.code = 'FEED-STALE'),"
    "  'indicators', (SELECT coalesce(json_object_agg(b.code, b.bands), '{}') FROM"
    "   (SELECT x.code, json_build_object("
    "    'low', count(*) FILTER (WHERE x.band = 'low'),"
    "    'medium', count(*) FILTER (WHERE x.band = 'medium'),"
    "    'high', count(*) FILTER (WHERE x.band = 'high'),"
    "    'none', count(*) FILTER (WHERE x.band = 'none')) AS bands"
    "    FROM res x GROUP BY x.code) b),"
    "  'vendors', coalesce((SELECT json_agg(json_build_object('supplier', v ->> 'id',"
    "    'name', v ->> 'name', 'amount', v ->> 'amount', 'share', v ->> 'share')"
    "    ORDER BY n) FROM res x, jsonb_array_elements(x.evidence -> 'suppliers')"
    "    WITH ORDINALITY AS s(v, n) WHERE x.code = 'CONC-VENDOR'"
    "    AND x.agency_id = ag.id AND x.currency = $5), '[]'),"
    "  'execution', (SELECT json_agg(json_build_object("
    "    'month', to_char(make_date(m.y, m.m, 1), 'YYYY-MM'),"
    "    'budget', coalesce((SELECT sum(CASE WHEN b.period IS NULL"
    "      THEN round(b.amount / 12, 2) ELSE b.amount END) FROM ict_lines b"
    "     WHERE b.phase = (SELECT CASE WHEN bool_or(k.phase = 'modified')"
    "      THEN 'modified' ELSE 'approved' END FROM ict_lines k)"
    "      AND (b.period IS NULL OR b.period = m.m)), 0)::text,"
    "    'spent', coalesce((SELECT sum(b.amount) FROM ict_lines b"
    "     WHERE b.phase = 'accrued' AND b.period = m.m), 0)::text,"
    "    'awarded', coalesce((SELECT sum(w.money) FROM ict_awards w"
    "     WHERE w.month = m.m), 0)::text) ORDER BY m.m)"
    "   FROM (SELECT extract(year FROM current_date)::integer AS y, g AS m"
    "    FROM generate_series(1, 12) g) m))::text"
    " FROM ag";

static const char sql_runs[] =
    "SELECT id, json_build_object('id', id, 'trigger', trigger, 'status', status,"
    "  'codes', codes, 'started_at', " UTC_TEXT("started_at") ","
    "  'finished_at', " UTC_TEXT("finished_at") ","
    "  'seconds', round(extract(epoch FROM finished_at - started_at)::numeric, 3),"
    "  'message', message, 'tallies', tallies)::text"
    " FROM indicator_run WHERE ($1::bigint IS NULL OR id < $1)"
    " ORDER BY id DESC LIMIT $2::int";

static const struct {
	const char	*kind;
	const char	*code;
} overlap_kinds[] = {
	{ "duplicates", "DUP-PROJECT" },
	{ "spend", "OVL-SPEND" },
	{ "tender", "OVL-TENDER" },
	{ "split", "SPLIT" },
};

/* {A,B}: a text[] literal; codes are [A-Z0-9-] and need no quoting. */
static void
codes_literal(const char *const *codes, size_t n, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "{");

	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i > 0 ? "," : "", codes[i]);
	if (o < len)
		snprintf(buf + o, len - o, "}");
}

static void
catalogue_codes(char *buf, size_t len)
{
	const struct indicator *const	*all;
	const char			*codes[32];
	size_t				 n = indicator_all(&all);

	for (size_t i = 0; i < n && i < 32; i++)
		codes[i] = all[i]->code;
	codes_literal(codes, n < 32 ? n : 32, buf, len);
}

static bool
read_band(struct request *req, const char **band)
{
	static const char *const bands[] = { "low", "medium", "high", "none" };

	if ((*band = request_query(req, "band")) == NULL)
		return true;
	for (size_t i = 0; i < sizeof(bands) / sizeof(bands[0]); i++)
		if (strcmp(*band, bands[i]) == 0)
			return true;
	http_reply_error(req, 400, "band: must be low, medium, high or none", NULL);
	return false;
}

void
api_get_indicators(struct request *req)
{
	const struct indicator	*one = NULL;
	const char		*code = request_query(req, "code");
	const char		*agency, *band, *values[5];
	struct listing		*page;
	char			 codes[CODES_MAX];

	if (code != NULL && (one = indicator_find(code)) == NULL) {
		http_reply_error(req, 400, "code: not an indicator of the catalogue (see "
		    "/v1/indicators/catalogue)", NULL);
		return;
	}
	if (!listing_agency(req, &agency) || !read_band(req, &band) ||
	    (page = listing_new(req, 'i', "i")) == NULL)
		return;
	if (one != NULL)
		codes_literal(&one->code, 1, codes, sizeof(codes));
	else
		catalogue_codes(codes, sizeof(codes));
	values[0] = codes;
	values[1] = agency;
	values[2] = band;
	values[3] = page->after[0];
	values[4] = page->limit_plus;
	listing_query(page, sql_results, 5, values);
}

void
api_get_overlaps(struct request *req)
{
	const char	*kind = request_query(req, "kind");
	const char	*agency, *band, *codes_of[4], *values[6];
	struct listing	*page;
	char		 codes[CODES_MAX];
	size_t		 n = 0;

	for (size_t i = 0; i < sizeof(overlap_kinds) / sizeof(overlap_kinds[0]); i++)
		if (kind == NULL || strcmp(kind, overlap_kinds[i].kind) == 0)
			codes_of[n++] = overlap_kinds[i].code;
	if (n == 0) {
		http_reply_error(req, 400, "kind: must be duplicates, spend, tender or "
		    "split", NULL);
		return;
	}
	/* The key is (id, amount): an amount is empty when the row had none. */
	if (!listing_agency(req, &agency) || !read_band(req, &band) ||
	    (page = listing_new(req, 'o', "id")) == NULL)
		return;
	codes_literal(codes_of, n, codes, sizeof(codes));
	values[0] = codes;
	values[1] = agency;
	values[2] = band;
	values[3] = page->after[0];
	values[4] = page->after[1];
	values[5] = page->limit_plus;
	listing_query(page, sql_overlaps, 6, values);
}

static const struct api_object overlap_object = {
	"current overlap", "an agency token reads only the overlaps involving its agency"
};

void
api_get_overlap(struct request *req)
{
	const char	*id = request_param(req, "id");
	const char	*codes_of[4], *values[4];
	char		 codes[CODES_MAX];
	size_t		 len = id != NULL ? strlen(id) : 0;

	/* A result id: a positive bigint, digits only. */
	if (len == 0 || len > 18 || strspn(id, "0123456789") != len || id[0] == '0') {
		http_reply_error(req, 400, "id: must be a positive integer", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(overlap_kinds) / sizeof(overlap_kinds[0]); i++)
		codes_of[i] = overlap_kinds[i].code;
	codes_literal(codes_of, 4, codes, sizeof(codes));
	values[0] = codes;
	values[1] = id;
	values[2] = config_str(req->daemon->cfg, CFG_IND_CURRENCY);
	values[3] = req->who.role == ROLE_AGENCY ? req->who.agency_code : NULL;
	api_object_query(req, &overlap_object, sql_overlap, 4, values);
}

void
api_get_indicator_runs(struct request *req)
{
	struct listing	*page;
	const char	*values[2];

	if ((page = listing_new(req, 'r', "i")) == NULL)
		return;
	values[0] = page->after[0];
	values[1] = page->limit_plus;
	listing_query(page, sql_runs, 2, values);
}

static const struct api_object scorecard_object = { "agency", NULL };

void
api_get_scorecard(struct request *req)
{
	const char	*agency = request_param(req, "code");
	const char	*values[5];
	char		 codes[CODES_MAX];

	if (agency == NULL || !agency_code_valid(agency)) {
		http_reply_error(req, 404, "no such agency", NULL);
		return;
	}
	if (req->who.role == ROLE_AGENCY && strcmp(agency, req->who.agency_code) != 0) {
		http_reply_error(req, 403, "an agency token reads only its own agency's "
		    "scorecard", NULL);
		return;
	}
	catalogue_codes(codes, sizeof(codes));
	values[0] = codes;
	values[1] = agency;
	values[2] = config_str(req->daemon->cfg, CFG_IND_ICT_BUDGET);
	values[3] = config_str(req->daemon->cfg, CFG_IND_ICT_UNSPSC);
	values[4] = config_str(req->daemon->cfg, CFG_IND_CURRENCY);
	api_object_query(req, &scorecard_object, sql_scorecard, 5, values);
}

static const char *
type_name(enum cfg_type type)
{
	switch (type) {
	case CFG_INT:
		return "integer";
	case CFG_BOOL:
		return "boolean";
	case CFG_SECONDS:
		return "seconds";
	case CFG_RATIO:
		return "ratio";
	case CFG_AMOUNT:
		return "amount";
	case CFG_CURRENCY:
		return "currency";
	default:
		return "text";
	}
}

/* Each parameter: its key, the name the SQL reads, its type, value, default, help. */
static json_t *
params_json(const enum cfg_id *ids, size_t n, const json_t *values)
{
	json_t *list;

	if ((list = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_key	*k = &config_keys[ids[i]];
		const char		*dot = strrchr(k->name, '.');
		json_t			*p;

		p = json_pack("{s:s, s:s, s:s, s:O, s:s?, s:s}", "key", k->name,
		    "name", dot + 1, "type", type_name(k->type),
		    "value", json_object_get(values, dot + 1), "default", k->def,
		    "help", k->help);
		if (p == NULL || json_array_append_new(list, p) == -1) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/*
 * The catalogue with the parameters in force; dumped here rather than by
 * http_reply_json so that ratios print as configured (0.45), not as doubles do.
 */
void
api_get_catalogue(struct request *req)
{
	const struct indicator *const	*all;
	const struct config		*cfg = req->daemon->cfg;
	size_t				 n = indicator_all(&all);
	json_t				*body = NULL, *list = NULL, *values = NULL;
	json_t				*general = NULL, *entry;
	char				*text = NULL;

	if ((body = json_object()) == NULL || (list = json_array()) == NULL ||
	    json_object_set(body, "indicators", list) == -1)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		json_decref(values);
		if ((values = indicator_params(all[i], cfg)) == NULL)
			goto nomem;
		if (general == NULL && (general = params_json(indicator_general_params,
		    indicator_ngeneral_params, values)) == NULL)
			goto nomem;
		entry = json_pack("{s:s, s:s, s:s, s:s, s:o*}", "code", all[i]->code,
		    "title", all[i]->title, "subject", all[i]->subject,
		    "definition", all[i]->definition, "parameters",
		    params_json(all[i]->params, all[i]->nparams, values));
		if (entry == NULL || json_array_append_new(list, entry) == -1 ||
		    json_object_get(entry, "parameters") == NULL)
			goto nomem;
	}
	if (general == NULL || json_object_set_new(body, "general_parameters",
	    general) == -1) {
		general = NULL;
		goto nomem;
	}
	general = NULL;
	if ((text = json_dumps(body, INDICATOR_JSON_FLAGS)) == NULL)
		goto nomem;
	http_reply_data(req, 200, "application/json; charset=utf-8", text, strlen(text));
	goto out;
nomem:
	http_reply_error(req, 500, "out of memory", NULL);
out:
	free(text);
	json_decref(general);
	json_decref(values);
	json_decref(list);
	json_decref(body);
}
