-- CONC-VENDOR: how concentrated each agency's ICT purchases are among suppliers, and the
-- whole portfolio's. ICT awards are those classified UNSPSC under the general parameter
-- ict_unspsc (portfolio_prepare_ict_awards() in sql/008_portfolio.sql; only awards
-- that stand, status active or none: pending, cancelled and unsuccessful ones left
-- out). An award won by several suppliers counts in equal parts for each; awards
-- without a supplier are left out. Each supplier's share is in
-- percent of the total, and the Herfindahl-Hirschman index is the sum of the squared
-- shares: 0 to 10,000 (one supplier). Band: high when the largest supplier's share
-- exceeds `top_share` (0.5) or the index reaches `hhi_high` (2500), medium when it
-- reaches `hhi_medium` (1500), else low. One result per agency, plus one for the
-- portfolio (agency NULL); amounts are converted to the base currency where a rate
-- exists, others are measured apart in their own currency. value = the index, amount =
-- the total; evidence = the 20 largest suppliers with their shares, and the largest
-- supplier's awards (rows_of).

-- The few subjects are joined to the award parts by hashing them (the planner would
-- sort every part for a merge join); and the statement is not compiled with JIT: its
-- estimates, far above the actual rows, make PostgreSQL inline and optimise it, which
-- took longer (1.7 s) than the compiled code saved. The settings are given back at
-- the end, for the run's other indicators.
SELECT set_config('ictmon.portfolio_mergejoin', current_setting('enable_mergejoin'), true),
    set_config('enable_mergejoin', 'off', true),
    set_config('ictmon.portfolio_jit', current_setting('jit'), true),
    set_config('jit', 'off', true);

SELECT portfolio_prepare_ict_awards();

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH params AS (
	SELECT (ictmon_param('top_share') #>> '{}')::numeric AS top_share,
	    (ictmon_param('hhi_high') #>> '{}')::numeric AS hhi_high,
	    (ictmon_param('hhi_medium') #>> '{}')::numeric AS hhi_medium,
	    ictmon_param('currency') #>> '{}' AS base_currency),
-- Each award's amount in equal parts for its suppliers.
-- (Each row also carries what the evidence shows of its award: the prepared table has
-- no index to find them again by.)
parts AS MATERIALIZED (
	SELECT w.ocid, w.award_id, w.buyer_agency_id, w.money_currency, x.supplier_id,
	    w.money_amount / cardinality(w.suppliers) AS amount, w.money_amount,
	    w.title, w.date, w.amount AS award_amount, w.currency, w.method,
	    w.classification, w.suppliers
	FROM portfolio_ict_award w
	CROSS JOIN LATERAL unnest(w.suppliers) AS x (supplier_id)
	WHERE w.money_amount > 0),
-- Subjects: an agency (portfolio = false) or the portfolio, in one currency.
by_supplier AS (
	SELECT GROUPING(p.buyer_agency_id) = 1 AS portfolio, p.buyer_agency_id,
	    p.money_currency, p.supplier_id, sum(p.amount) AS amount,
	    count(*) AS awards
	FROM parts p
	GROUP BY GROUPING SETS ((p.buyer_agency_id, p.money_currency, p.supplier_id),
	    (p.money_currency, p.supplier_id))),
shares AS (
	SELECT b.*, 100 * b.amount / sum(b.amount) OVER s AS share,
	    sum(b.amount) OVER s AS total,
	    row_number() OVER (PARTITION BY b.portfolio, b.buyer_agency_id, b.money_currency
		ORDER BY b.amount DESC, b.supplier_id COLLATE "C") AS rank
	FROM by_supplier b
	WHERE b.portfolio OR b.buyer_agency_id IS NOT NULL
	WINDOW s AS (PARTITION BY b.portfolio, b.buyer_agency_id, b.money_currency)),
subjects AS (
	SELECT s.portfolio, s.buyer_agency_id, s.money_currency, max(s.total) AS total,
	    count(*) AS suppliers, sum(s.share * s.share) AS hhi,
	    max(s.share) / 100 AS top_share,
	    min(s.supplier_id) FILTER (WHERE s.rank = 1) AS top_supplier,
	    sum(s.awards) AS award_parts,
	    -- The name is looked up for the 20 shown only (a filtered aggregate does not
	    -- evaluate its argument for other rows), so that no join comes between the
	    -- window's sort and this grouping, which then reads the rows in its order.
	    jsonb_agg(jsonb_build_object('id', s.supplier_id,
		'name', (SELECT u.name FROM supplier u WHERE u.id = s.supplier_id),
		'amount', round(s.amount, 2), 'share', round(s.share, 2),
		'awards', s.awards) ORDER BY s.rank)
		FILTER (WHERE s.rank <= 20) AS top_suppliers
	FROM shares s
	GROUP BY s.portfolio, s.buyer_agency_id, s.money_currency),
-- The evidence rows: the largest supplier's awards, largest first, at most 200.
top_awards AS (
	SELECT j.*,
	    row_number() OVER (PARTITION BY j.portfolio, j.buyer_agency_id, j.money_currency
		ORDER BY j.money_amount DESC, j.ocid COLLATE "C", j.award_id COLLATE "C")
		AS rank
	FROM (SELECT s.portfolio, s.buyer_agency_id, p.buyer_agency_id AS agency_id,
		p.money_currency, p.ocid, p.award_id, p.money_amount, p.title, p.date,
		p.award_amount, p.currency, p.method, p.classification, p.suppliers
	    FROM subjects s JOIN parts p ON p.money_currency = s.money_currency
		AND p.supplier_id = s.top_supplier AND p.buyer_agency_id = s.buyer_agency_id
	    WHERE NOT s.portfolio
	    UNION ALL
	    SELECT s.portfolio, s.buyer_agency_id, p.buyer_agency_id, p.money_currency,
		p.ocid, p.award_id, p.money_amount, p.title, p.date, p.award_amount,
		p.currency, p.method, p.classification, p.suppliers
	    FROM subjects s JOIN parts p ON p.money_currency = s.money_currency
		AND p.supplier_id = s.top_supplier
	    WHERE s.portfolio) j),
awards AS (
	SELECT t.portfolio, t.buyer_agency_id, t.money_currency, count(*) AS nawards,
	    jsonb_agg(jsonb_build_object('kind', 'award', 'ocid', t.ocid,
		'award_id', t.award_id, 'agency', a.code, 'title', t.title,
		'date', t.date, 'amount', t.award_amount, 'currency', t.currency,
		'method', t.method, 'classification', t.classification,
		'suppliers', (SELECT jsonb_agg(x ORDER BY x) FROM unnest(t.suppliers) AS x))
		ORDER BY t.rank) FILTER (WHERE t.rank <= 200) AS rows
	FROM top_awards t
	LEFT JOIN agency a ON a.id = t.agency_id
	GROUP BY t.portfolio, t.buyer_agency_id, t.money_currency),
-- Every agency in a currency's portfolio.
-- (Made distinct by hashing first: array_agg(DISTINCT) would sort every row.)
buyers AS (
	SELECT d.money_currency, array_agg(d.buyer_agency_id ORDER BY d.buyer_agency_id)
	    AS agencies
	FROM (SELECT DISTINCT b.money_currency, b.buyer_agency_id
	    FROM by_supplier b WHERE NOT b.portfolio AND b.buyer_agency_id IS NOT NULL) d
	GROUP BY d.money_currency),
banded AS (
	SELECT s.*, w.nawards, w.rows, u.agencies, a.code, a.name, pr.base_currency,
	    round(s.hhi, 2) AS index,
	    CASE WHEN s.top_share > pr.top_share OR round(s.hhi, 2) >= pr.hhi_high
		THEN 'high'
		WHEN round(s.hhi, 2) >= pr.hhi_medium THEN 'medium'
		ELSE 'low' END AS band,
	    coalesce(a.code, 'portfolio') || CASE WHEN s.money_currency = pr.base_currency
		THEN '' ELSE '/' || s.money_currency END AS key
	FROM subjects s
	JOIN awards w ON w.portfolio = s.portfolio
	    AND w.buyer_agency_id IS NOT DISTINCT FROM s.buyer_agency_id
	    AND w.money_currency = s.money_currency
	LEFT JOIN buyers u ON u.money_currency = s.money_currency
	LEFT JOIN agency a ON a.id = s.buyer_agency_id
	CROSS JOIN params pr)
SELECT ictmon_run_id(), 'CONC-VENDOR',
    CASE WHEN b.portfolio THEN 'portfolio' ELSE 'agency ' || b.code END
	|| CASE WHEN b.money_currency = b.base_currency THEN ''
	    ELSE ' · ' || b.money_currency END,
    b.buyer_agency_id,
    CASE WHEN b.portfolio THEN (SELECT coalesce(array_agg(x ORDER BY x), '{}')
	FROM unnest(b.agencies) AS x) ELSE ARRAY[b.buyer_agency_id] END,
    b.index, b.band, b.total, b.money_currency,
    'CONC-VENDOR:' || b.key,
    jsonb_build_object(
	'summary', CASE WHEN b.portfolio THEN 'The portfolio''s' ELSE b.code || '''s' END
	    || ' ICT awards, ' || ictmon_money(round(b.total, 2), b.money_currency)
	    || ' to ' || b.suppliers
	    || CASE WHEN b.suppliers = 1 THEN ' supplier' ELSE ' suppliers' END
	    || ', have a concentration index (HHI) of '
	    || to_char(b.index, 'FM999,990.00') || '; the largest supplier, '
	    || coalesce(b.top_suppliers -> 0 ->> 'name', b.top_suppliers -> 0 ->> 'id')
	    || ', has ' || to_char(b.top_share * 100, 'FM990.00') || ' %.',
	'currency', b.money_currency,
	'total', b.total,
	'agencies', CASE WHEN b.portfolio THEN (SELECT coalesce(jsonb_agg(
	    jsonb_build_object('code', a.code, 'name', a.name) ORDER BY a.code), '[]')
	    FROM agency a WHERE a.id = ANY (b.agencies))
	    ELSE jsonb_build_array(jsonb_build_object('code', b.code, 'name', b.name)) END,
	'rows', b.rows,
	'rows_total', b.nawards,
	'rows_of', b.top_supplier,
	'hhi', b.index,
	'suppliers_total', b.suppliers,
	'suppliers', b.top_suppliers,
	'top_share', round(b.top_share, 4),
	'thresholds', jsonb_build_object('top_share', b.top_share_param,
	    'hhi_high', b.hhi_high, 'hhi_medium', b.hhi_medium))
FROM (SELECT bd.*, pr.top_share AS top_share_param, pr.hhi_high, pr.hhi_medium
    FROM banded bd CROSS JOIN params pr) b;

SELECT set_config('enable_mergejoin', current_setting('ictmon.portfolio_mergejoin'), true),
    set_config('jit', current_setting('ictmon.portfolio_jit'), true);
