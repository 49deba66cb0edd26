-- COORD-INDEX: how well each agency takes part in the coordination of ICT spending, from
-- 0 to 100: the mean of five parts, each 0 to 100:
-- - reviewed: the share of its projects whose review status is approved or observed;
-- - framework: the share of its ICT award money bought through framework agreements
--   (the tender's procurementMethodDetails names one of framework_methods; money in the
--   base currency only);
-- - reuse: the share of its projects that reuse a shared platform (shared_platforms);
-- - freshness: 100 when data about it arrived within `stale_days` (30), falling
--   linearly to 0 at three times that, 0 when none ever did (portfolio_agency_delivery()
--   in sql/008_portfolio.sql: its pushes, its feeds, the batches that wrote its rows);
-- - completeness: the share of its projects with a planned cost, planned start and end,
--   and a category.
-- An agency with ICT spending (ICT awards or budget lines) but no project scores 0 on
-- the three project parts; a part that cannot be measured otherwise (framework without
-- ICT awards) is left out of the mean. Agencies with neither projects nor ICT spending
-- get no result. Band: low from 70, medium from 40, high below 40 (high = poorly
-- coordinated). The evidence gives the parts, the agency's projects that lower them,
-- and this run's medium and high results that involve the agency (COORD-INDEX runs
-- last).

SELECT portfolio_prepare_ict_awards(), portfolio_prepare_ict_budget();

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH params AS (
	SELECT (ictmon_param('stale_days') #>> '{}')::numeric AS stale_days,
	    ictmon_param('currency') #>> '{}' AS base_currency),
projects AS (
	SELECT p.agency_id, count(*) AS projects,
	    count(*) FILTER (WHERE p.review_status IN ('approved', 'observed')) AS reviewed,
	    count(*) FILTER (WHERE cardinality(p.shared_platforms) > 0) AS reusing,
	    count(*) FILTER (WHERE p.planned_cost IS NOT NULL
		AND p.planned_start IS NOT NULL AND p.planned_end IS NOT NULL
		AND p.category IS NOT NULL) AS complete
	FROM project p GROUP BY p.agency_id),
awards AS (
	SELECT w.buyer_agency_id AS agency_id, count(*) AS ict_awards,
	    sum(w.money_amount) FILTER (WHERE w.money_currency = pr.base_currency)
		AS ict_money,
	    sum(w.money_amount) FILTER (WHERE w.money_currency = pr.base_currency
		AND w.framework) AS framework_money
	FROM portfolio_ict_award w CROSS JOIN params pr
	WHERE w.buyer_agency_id IS NOT NULL
	GROUP BY w.buyer_agency_id),
budget AS (
	SELECT DISTINCT b.agency_id FROM portfolio_ict_budget_line b),
delivery AS (
	SELECT d.agency_id, d.last_delivery,
	    extract(epoch FROM now() - d.last_delivery) / 86400 AS age_days
	FROM portfolio_agency_delivery() d),
-- This run's results so far that flag the agency.
flags AS (
	SELECT c.agency_id, jsonb_object_agg(c.code, c.counts) AS flags
	FROM (SELECT b.agency_id, b.code, jsonb_object_agg(b.band, b.n) AS counts
	    FROM (SELECT x.agency_id, r.code, r.band, sum(r.n) AS n
		FROM (SELECT r.code, r.band, r.agencies, count(*) AS n
		    FROM indicator_result r
		    WHERE r.run_id = ictmon_run_id() AND r.code <> 'COORD-INDEX'
			AND r.band IN ('medium', 'high')
		    GROUP BY r.code, r.band, r.agencies) r
		CROSS JOIN LATERAL unnest(r.agencies) AS x (agency_id)
		GROUP BY x.agency_id, r.code, r.band) b
	    GROUP BY b.agency_id, b.code) c
	GROUP BY c.agency_id),
subjects AS (
	SELECT a.id AS agency_id, a.code, a.name, coalesce(p.projects, 0) AS projects,
	    p.reviewed, p.reusing, p.complete, w.ict_awards, w.ict_money, w.framework_money,
	    d.last_delivery, d.age_days,
	    w.agency_id IS NOT NULL OR g.agency_id IS NOT NULL AS ict_spending
	FROM agency a
	LEFT JOIN projects p ON p.agency_id = a.id
	LEFT JOIN awards w ON w.agency_id = a.id
	LEFT JOIN budget g ON g.agency_id = a.id
	LEFT JOIN delivery d ON d.agency_id = a.id
	WHERE p.agency_id IS NOT NULL OR w.agency_id IS NOT NULL OR g.agency_id IS NOT NULL),
parts AS (
	SELECT s.*,
	    CASE WHEN s.projects > 0 THEN round(100.0 * s.reviewed / s.projects, 2)
		WHEN s.ict_spending THEN 0 END AS reviewed_part,
	    CASE WHEN s.ict_money > 0
		THEN round(100 * coalesce(s.framework_money, 0) / s.ict_money, 2)
		END AS framework_part,
	    CASE WHEN s.projects > 0 THEN round(100.0 * s.reusing / s.projects, 2)
		WHEN s.ict_spending THEN 0 END AS reuse_part,
	    CASE WHEN s.last_delivery IS NULL THEN 0
		WHEN s.age_days <= pr.stale_days THEN 100
		ELSE round(greatest(0, 100 * (1 - (s.age_days - pr.stale_days)
		    / (2 * pr.stale_days))), 2) END AS freshness_part,
	    CASE WHEN s.projects > 0 THEN round(100.0 * s.complete / s.projects, 2)
		WHEN s.ict_spending THEN 0 END AS completeness_part,
	    pr.stale_days
	FROM subjects s CROSS JOIN params pr),
scored AS (
	SELECT p.*, round((SELECT avg(x) FROM unnest(ARRAY[p.reviewed_part,
	    p.framework_part, p.reuse_part, p.freshness_part, p.completeness_part]) AS x),
	    2) AS index
	FROM parts p),
-- The agency's projects that lower its parts, largest first (rows built for the 200
-- shown only).
lagging AS (
	SELECT x.agency_id, max(x.n) AS n,
	    jsonb_agg(portfolio_project_row(p, a.code) || jsonb_build_object('missing',
		to_jsonb(array_remove(ARRAY[
		    CASE WHEN p.review_status NOT IN ('approved', 'observed') THEN 'review' END,
		    CASE WHEN cardinality(p.shared_platforms) = 0 THEN 'shared_platform' END,
		    CASE WHEN p.planned_cost IS NULL THEN 'planned_cost' END,
		    CASE WHEN p.planned_start IS NULL THEN 'planned_start' END,
		    CASE WHEN p.planned_end IS NULL THEN 'planned_end' END,
		    CASE WHEN p.category IS NULL THEN 'category' END], NULL)))
		ORDER BY x.rank) AS rows
	FROM (SELECT p.id, p.agency_id,
		row_number() OVER w AS rank, count(*) OVER (PARTITION BY p.agency_id) AS n
	    FROM project p
	    WHERE p.review_status NOT IN ('approved', 'observed')
		OR cardinality(p.shared_platforms) = 0 OR p.planned_cost IS NULL
		OR p.planned_start IS NULL OR p.planned_end IS NULL
		OR p.category IS NULL
	    WINDOW w AS (PARTITION BY p.agency_id
		ORDER BY p.planned_cost DESC NULLS LAST, p.external_id COLLATE "C")) x
	JOIN project p ON p.id = x.id
	JOIN agency a ON a.id = p.agency_id
	WHERE x.rank <= 200
	GROUP BY x.agency_id)
SELECT ictmon_run_id(), 'COORD-INDEX', 'agency ' || s.code, s.agency_id,
    ARRAY[s.agency_id], s.index,
    CASE WHEN s.index >= 70 THEN 'low' WHEN s.index >= 40 THEN 'medium' ELSE 'high' END,
    NULL, NULL,
    'COORD-INDEX:' || s.code,
    jsonb_build_object(
	'summary', s.code || ' scores ' || to_char(s.index, 'FM990.00')
	    || ' of 100 on coordination: ' || concat_ws(', ',
		'reviewed ' || to_char(s.reviewed_part, 'FM990') || ' %',
		'framework agreements ' || to_char(s.framework_part, 'FM990') || ' %',
		'shared platforms ' || to_char(s.reuse_part, 'FM990') || ' %',
		'freshness ' || to_char(s.freshness_part, 'FM990') || ' %',
		'completeness ' || to_char(s.completeness_part, 'FM990') || ' %')
	    || ' (' || s.projects || CASE WHEN s.projects = 1 THEN ' project).'
		ELSE ' projects).' END,
	'currency', NULL,
	'total', NULL,
	'agencies', jsonb_build_array(jsonb_build_object('code', s.code, 'name', s.name)),
	'rows', coalesce(l.rows, '[]'),
	'rows_total', coalesce(l.n, 0),
	'parts', jsonb_build_object('reviewed', s.reviewed_part,
	    'framework', s.framework_part, 'reuse', s.reuse_part,
	    'freshness', s.freshness_part, 'completeness', s.completeness_part),
	'counts', jsonb_build_object('projects', s.projects,
	    'reviewed', coalesce(s.reviewed, 0), 'reusing', coalesce(s.reusing, 0),
	    'complete', coalesce(s.complete, 0), 'ict_awards', coalesce(s.ict_awards, 0),
	    'ict_money', s.ict_money, 'framework_money', coalesce(s.framework_money, 0),
	    'currency', pr.base_currency),
	'last_delivery', s.last_delivery,
	'stale_days', s.stale_days,
	'flags', coalesce(f.flags, '{}'))
FROM scored s
CROSS JOIN params pr
LEFT JOIN lagging l ON l.agency_id = s.agency_id
LEFT JOIN flags f ON f.agency_id = s.agency_id;

