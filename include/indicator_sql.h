/*
 * SQL fragments the read API shares about indicator results: which run's results are
 * the current ones, a result as the API shows it, amounts in the base currency and
 * an overlap's potential saving. Used by api_indicators.c and api_portfolio.c.
 */
#ifndef ICTMON_INDICATOR_SQL_H
#define ICTMON_INDICATOR_SQL_H

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
 * `amt` in the base currency `base` at date `at`, as ictmon_amount() converts it (the
 * rate in force then, else the earliest one), for statements outside an indicator
 * run, where ictmon_param() has no parameters to read. NULL without a rate.
 */
#define MONEY(amt, cur, at, base) \
    "(CASE WHEN " cur " = " base " THEN " amt " ELSE " amt " * (SELECT r.rate" \
    " FROM exchange_rate r WHERE r.currency = " cur \
    " ORDER BY r.valid_from <= coalesce(" at ", r.valid_from) DESC," \
    " CASE WHEN r.valid_from <= coalesce(" at ", r.valid_from) THEN r.valid_from END" \
    " DESC NULLS LAST, r.valid_from LIMIT 1) END)"

/*
 * The potential saving of overlap result x, an upper bound of what one project or one
 * purchase for all would have avoided, in the base currency `base`: for a duplicate
 * cluster the planned costs of its projects but the largest; for a spend or tender
 * overlap the money of its buyers (evidence rows summed per agency) but the largest
 * buyer's; for a split nothing (it is about thresholds, not double spending).
 */
#define OVERLAP_SAVING(x, base) \
    "(CASE WHEN " x ".code = 'DUP-PROJECT' THEN (SELECT sum(s.m) - max(s.m) FROM" \
    "  (SELECT " MONEY("(e ->> 'planned_cost')::numeric", "(e ->> 'currency')", \
	"(e ->> 'planned_start')::date", base) " AS m" \
    "  FROM jsonb_array_elements(" x ".evidence -> 'rows') e) s)" \
    " WHEN " x ".code IN ('OVL-SPEND', 'OVL-TENDER') THEN (SELECT sum(s.m) - max(s.m)" \
    "  FROM (SELECT sum(" MONEY("(e ->> 'amount')::numeric", "(e ->> 'currency')", \
	"(nullif(left(e ->> 'date', 10), ''))::date", base) ") AS m" \
    "  FROM jsonb_array_elements(" x ".evidence -> 'rows') e" \
    "  WHERE e ->> 'agency' IS NOT NULL GROUP BY e ->> 'agency') s) END)"

/* Overlap result x as a /v1/overlaps item with its saving and summary. */
#define OVERLAP_ITEM(x, r, base) \
    "(jsonb_build_object('kind', " OVERLAP_KIND(x) ") || " RESULT_OBJECT(x, r) "::jsonb" \
    " || jsonb_build_object('saving', " OVERLAP_SAVING(x, base) "::text," \
    " 'summary', " x ".evidence ->> 'summary'))"

#endif
