-- UNREVIEWED-SPEND: ICT money of an agency above the review threshold that no approved
-- project accounts for. Counted are ICT awards (UNSPSC under the general parameter
-- ict_unspsc; only awards that stand, status active or none) and ICT budget lines (under
-- ict_budget; a line's size is its modified amount, else approved, else accrued) whose
-- amount in the base currency exceeds `threshold` (20,000,000) and which are not
-- linked to a project with review status 'approved': an award is linked when its ocid
-- is in some approved project's ocids, a budget line when one of the agency's approved
-- projects lists its classification or one above or below it in budget_lines. Amounts
-- no rate converts to the base currency cannot be compared with the threshold and are
-- left out. One result per agency with any; value = the unreviewed total (awards and
-- budget lines added: the evidence keeps them apart), band high from five times the
-- threshold, else medium; evidence = those awards and lines, largest first.

SELECT portfolio_prepare_ict_awards(), portfolio_prepare_ict_budget();

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH params AS (
	SELECT (ictmon_param('threshold') #>> '{}')::numeric AS threshold,
	    ictmon_param('currency') #>> '{}' AS base_currency),
budget AS (
	SELECT * FROM portfolio_ict_budget_line),
approved_ocid AS (
	SELECT DISTINCT o.ocid FROM project p CROSS JOIN LATERAL unnest(p.ocids) AS o (ocid)
	WHERE p.review_status = 'approved'),
approved_line AS (
	SELECT DISTINCT p.agency_id, l.classification
	FROM project p CROSS JOIN LATERAL unnest(p.budget_lines) AS l (classification)
	WHERE p.review_status = 'approved'),
-- What is unreviewed: awards, and budget lines by their key.
spend AS (
	SELECT w.buyer_agency_id AS agency_id, 'award' AS kind, w.money_amount AS money,
	    w.ocid, w.award_id, NULL::smallint AS fiscal_year, NULL AS program,
	    w.classification, w.currency,
	    -- What the evidence shows of an award (the prepared table has no index to
	    -- find it again by).
	    w.title, w.date, w.amount, w.method, w.suppliers, a.code AS agency_code
	FROM portfolio_ict_award w
	JOIN agency a ON a.id = w.buyer_agency_id
	CROSS JOIN params pr
	WHERE w.money_currency = pr.base_currency
	    AND w.money_amount > pr.threshold
	    AND NOT EXISTS (SELECT 1 FROM approved_ocid o WHERE o.ocid = w.ocid)
	UNION ALL
	SELECT b.agency_id, 'budget_line', b.budget_money, NULL, NULL, b.fiscal_year,
	    b.program, b.classification, b.currency, NULL, NULL, NULL, NULL, NULL, a.code
	FROM budget b
	JOIN agency a ON a.id = b.agency_id
	CROSS JOIN params pr
	WHERE b.money_currency = pr.base_currency AND b.budget_money > pr.threshold
	    AND NOT EXISTS (SELECT 1 FROM approved_line l
		WHERE l.agency_id = b.agency_id
		    AND budget_classification_linked(l.classification, b.classification))),
-- The 200 largest of each agency, shown as evidence.
ranked AS (
	SELECT * FROM (SELECT s.*, row_number() OVER (PARTITION BY s.agency_id
		ORDER BY s.money DESC, s.kind, s.ocid COLLATE "C", s.award_id COLLATE "C",
		    s.fiscal_year, s.program COLLATE "C", s.classification COLLATE "C",
		    s.currency COLLATE "C") AS rank
	    FROM spend s) r
	WHERE r.rank <= 200),
shown AS (
	SELECT r.agency_id, r.rank, jsonb_build_object('kind', 'award', 'ocid', r.ocid,
		'award_id', r.award_id,
		'agency', r.agency_code,
		'title', r.title, 'date', r.date, 'amount', r.amount,
		'currency', r.currency, 'method', r.method,
		'classification', r.classification,
		'supplier', (SELECT string_agg(coalesce(u.name, x), '; ' ORDER BY x)
		    FROM unnest(r.suppliers) AS x LEFT JOIN supplier u ON u.id = x)) AS row
	FROM ranked r
	WHERE r.kind = 'award'
	UNION ALL
	SELECT r.agency_id, r.rank, jsonb_build_object('kind', 'budget_line',
		'agency', r.agency_code,
		'fiscal_year', b.fiscal_year, 'program', b.program,
		'classification', b.classification,
		'phase', coalesce(b.base_phase, 'accrued'),
		'amount', coalesce(b.base, b.accrued), 'currency', b.currency,
		'budget_line_ids', b.line_ids)
	FROM ranked r
	JOIN budget b ON b.agency_id = r.agency_id
	    AND b.fiscal_year = r.fiscal_year AND b.program = r.program
	    AND b.classification = r.classification AND b.currency = r.currency
	WHERE r.kind = 'budget_line'),
agencies AS (
	SELECT r.agency_id, sum(r.money) AS total,
	    coalesce(sum(r.money) FILTER (WHERE r.kind = 'award'), 0) AS awards_total,
	    coalesce(sum(r.money) FILTER (WHERE r.kind = 'budget_line'), 0) AS budget_total,
	    count(*) FILTER (WHERE r.kind = 'award') AS awards,
	    count(*) FILTER (WHERE r.kind = 'budget_line') AS lines,
	    count(*) AS nrows
	FROM spend r GROUP BY r.agency_id),
shown_rows AS (
	SELECT h.agency_id, jsonb_agg(h.row ORDER BY h.rank) AS rows
	FROM shown h GROUP BY h.agency_id)
SELECT ictmon_run_id(), 'UNREVIEWED-SPEND', 'agency ' || a.code, g.agency_id,
    ARRAY[g.agency_id], g.total,
    CASE WHEN g.total >= 5 * pr.threshold THEN 'high' ELSE 'medium' END,
    g.total, pr.base_currency,
    'UNREVIEWED-SPEND:' || a.code,
    jsonb_build_object(
	'summary', a.code || ' has ' || ictmon_money(g.total, pr.base_currency)
	    || ' of ICT spending above the review threshold of '
	    || ictmon_money(pr.threshold, pr.base_currency)
	    || ' with no approved project: '
	    || CASE WHEN g.awards > 0 THEN g.awards
		|| CASE WHEN g.awards = 1 THEN ' award (' ELSE ' awards (' END
		|| ictmon_money(g.awards_total, pr.base_currency) || ')' ELSE '' END
	    || CASE WHEN g.awards > 0 AND g.lines > 0 THEN ' and ' ELSE '' END
	    || CASE WHEN g.lines > 0 THEN g.lines
		|| CASE WHEN g.lines = 1 THEN ' budget line (' ELSE ' budget lines (' END
		|| ictmon_money(g.budget_total, pr.base_currency) || ')' ELSE '' END
	    || '.',
	'currency', pr.base_currency,
	'total', g.total,
	'agencies', jsonb_build_array(jsonb_build_object('code', a.code, 'name', a.name)),
	'rows', h.rows,
	'rows_total', g.nrows,
	'awards_total', g.awards_total,
	'budget_total', g.budget_total,
	'threshold', pr.threshold)
FROM agencies g
JOIN agency a ON a.id = g.agency_id
JOIN shown_rows h ON h.agency_id = g.agency_id
CROSS JOIN params pr;

