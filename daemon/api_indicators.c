/*
 * What the indicators found, read back: GET /v1/indicators (results), /v1/overlaps
 * (the four overlap kinds by the money at stake), /v1/agencies/{code}/scorecard, the
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
#include "indicators.h"
#include "listing.h"
#include "log.h"

#define CODES_MAX		512	/* the catalogue's codes as a text[] literal */
#define SCORECARD_OVERLAPS	"20"	/* overlaps listed in a scorecard, by amount */

#define UTC_TEXT(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The run of each code ($1, a text[]) whose results are the current ones. */
#define LATEST_RUNS \
    "latest AS (SELECT c.code, (SELECT r.id FROM indicator_run r" \
    "  WHERE r.status = 'done' AND c.code = ANY (r.codes)" \
    "  ORDER BY r.finished_at DESC, r.id DESC LIMIT 1) AS run_id" \
    " FROM unnest($1::text[]) AS c(code))"

#define OVERLAP_KIND(x) \
    "CASE " x ".code WHEN 'DUP-PROJECT' THEN 'duplicates' WHEN 'OVL-SPEND' THEN 'spend'" \
    " WHEN 'OVL-TENDER' THEN 'tender' WHEN 'SPLIT' THEN 'split' END"

/* One result as the API shows it: x an indicator_result, r its run. */
#define RESULT_OBJECT(x, r) \
    "json_build_object('id', " x ".id, 'code', " x ".code, 'subject', " x ".subject," \
    " 'agency', (SELECT g.code FROM agency g WHERE g.id = " x ".agency_id)," \
    " 'agencies', coalesce((SELECT json_agg(g.code ORDER BY g.code) FROM agency g" \
    "  WHERE g.id = ANY (" x ".agencies)), '[]')," \
    " 'value', " x ".value::text, 'band', " x ".band, 'amount', " x ".amount::text," \
    " 'currency', " x ".currency, 'fingerprint', " x ".fingerprint," \
    " 'evidence', " x ".evidence, 'run_id', " x ".run_id," \
    " 'computed_at', " UTC_TEXT(r ".finished_at") ")"

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
 * involving it (largest first) and stale data. $1 codes, $2 the agency's code.
 */
static const char sql_scorecard[] =
    "WITH ag AS (SELECT id, code, name FROM agency WHERE code = $2), " LATEST_RUNS ","
    " res AS (SELECT x.*, r.finished_at FROM latest l"
    "  JOIN indicator_result x ON x.run_id = l.run_id AND x.code = l.code"
    "  JOIN indicator_run r ON r.id = x.run_id, ag"
    "  WHERE x.agencies @> ARRAY[ag.id] OR x.agency_id = ag.id)"
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
    "    FROM res x GROUP BY x.code) b))::text"
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

static void
on_scorecard(PGresult *res, const char *error, void *arg)
{
	struct request *req = arg;

	if (res == NULL) {
		http_reply_unavailable(req, "the database is not available");
		return;
	}
	if (!db_result_ok(res)) {
		log_error("api", "rid=%s %s", req->id, db_result_error(res, error));
		http_reply_error(req, 500, "cannot read the scorecard", NULL);
		return;
	}
	if (PQntuples(res) == 0) {
		http_reply_error(req, 404, "no such agency", NULL);
		return;
	}
	http_reply_data(req, 200, "application/json; charset=utf-8", PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0));
}

void
api_get_scorecard(struct request *req)
{
	const char	*agency = request_param(req, "code");
	const char	*values[2];
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
	switch (db_query(req->daemon->db, sql_scorecard, 2, values, on_scorecard, req)) {
	case DB_QUEUED:
		return;
	case DB_UNAVAILABLE:
	case DB_BUSY:
		http_reply_unavailable(req, "the database is not available");
		return;
	}
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
