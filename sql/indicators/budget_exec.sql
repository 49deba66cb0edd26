-- BUDGET-EXEC: how much of its ICT budget each agency has executed, per fiscal year.
-- ICT budget lines are those whose classification falls under the general parameter
-- ict_budget (portfolio_ict_budget() in sql/008_portfolio.sql: yearly lines, or the
-- sum of the monthly ones; an asignación is not counted again under its ítem).
-- Execution = accrued / budget x 100, where each line's budget is its modified amount
-- where present, else its approved one. Band: high when execution > `overrun` (100);
-- medium when execution < `under` (50) late in the year: after month 9 of the current
-- year, or in any past year; low otherwise; none when there is no budget to measure
-- against or no execution reported at all (a year without accrued lines is missing
-- data, not 0 %). One result per agency, fiscal year and currency: lines are converted
-- to the base currency where a rate exists, others are measured in their own currency.
-- value = execution in %, amount = |budget - accrued|; evidence rows = the lines (per
-- program and classification) with both amounts.

-- The ICT budget lines, read once per run (UNREVIEWED-SPEND and COORD-INDEX use them).
SELECT portfolio_prepare_ict_budget();

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH params AS (
	SELECT (ictmon_param('overrun') #>> '{}')::numeric AS overrun,
	    (ictmon_param('under') #>> '{}')::numeric AS under,
	    ictmon_param('currency') #>> '{}' AS base_currency,
	    extract(year FROM current_date)::integer AS this_year,
	    extract(month FROM current_date)::integer AS this_month),
lines AS (
	SELECT * FROM portfolio_ict_budget_line),
years AS (
	SELECT l.agency_id, l.fiscal_year, l.money_currency,
	    sum(l.base_money) AS budget,
	    sum(l.accrued_money) AS accrued,
	    count(*) FILTER (WHERE l.accrued IS NOT NULL) AS accrued_lines,
	    count(*) AS nlines,
	    jsonb_agg(jsonb_build_object('kind', 'budget_line', 'agency', a.code,
		'fiscal_year', l.fiscal_year, 'program', l.program,
		'classification', l.classification, 'phase', l.base_phase,
		'amount', l.base, 'accrued', l.accrued, 'currency', l.currency,
		'approved', l.approved, 'modified', l.modified,
		'execution', CASE WHEN l.base > 0 AND l.accrued IS NOT NULL
		    THEN round(l.accrued / l.base * 100, 2) END,
		'budget_line_ids', l.line_ids)
		ORDER BY l.classification, l.program, l.currency) AS rows
	FROM lines l JOIN agency a ON a.id = l.agency_id
	GROUP BY l.agency_id, l.fiscal_year, l.money_currency),
measured AS (
	SELECT y.*, a.code, a.name, pr.base_currency,
	    CASE WHEN y.budget > 0 AND y.accrued_lines > 0
		THEN round(coalesce(y.accrued, 0) / y.budget * 100, 2) END AS execution,
	    y.fiscal_year < pr.this_year
		OR (y.fiscal_year = pr.this_year AND pr.this_month > 9) AS late,
	    pr.overrun, pr.under
	FROM years y JOIN agency a ON a.id = y.agency_id CROSS JOIN params pr),
banded AS (
	SELECT m.*, CASE WHEN m.execution IS NULL THEN 'none'
		WHEN m.execution > m.overrun THEN 'high'
		WHEN m.execution < m.under AND m.late THEN 'medium'
		ELSE 'low' END AS band,
	    CASE WHEN m.execution IS NOT NULL THEN abs(m.budget - coalesce(m.accrued, 0))
		ELSE coalesce(m.budget, m.accrued) END AS at_stake,
	    CASE WHEN m.money_currency = m.base_currency THEN ''
		ELSE '/' || m.money_currency END AS currency_key
	FROM measured m)
SELECT ictmon_run_id(), 'BUDGET-EXEC',
    'agency ' || b.code || ' · ' || b.fiscal_year
	|| CASE WHEN b.currency_key <> '' THEN ' · ' || b.money_currency ELSE '' END,
    b.agency_id, ARRAY[b.agency_id], b.execution, b.band, b.at_stake, b.money_currency,
    'BUDGET-EXEC:' || b.code || '/' || b.fiscal_year || b.currency_key,
    jsonb_build_object(
	'summary', CASE
	    WHEN b.execution IS NOT NULL THEN
		b.code || ' executed ' || to_char(b.execution, 'FM999999990.00')
		|| ' % of its ' || b.fiscal_year || ' ICT budget: '
		|| ictmon_money(coalesce(b.accrued, 0), b.money_currency)
		|| ' accrued against ' || ictmon_money(b.budget, b.money_currency)
		|| ' budgeted' || CASE b.band
		    WHEN 'high' THEN ', an overrun of '
			|| ictmon_money(b.at_stake, b.money_currency) || '.'
		    WHEN 'medium' THEN ', ' || ictmon_money(b.at_stake, b.money_currency)
			|| ' unexecuted late in the year.'
		    ELSE '.' END
	    WHEN coalesce(b.budget, 0) = 0 THEN
		b.code || ' reported ' || ictmon_money(coalesce(b.accrued, 0),
		    b.money_currency) || ' of ICT execution for ' || b.fiscal_year
		|| ' without an ICT budget to measure it against.'
	    ELSE b.code || ' reported no ICT execution for ' || b.fiscal_year
		|| ' against an ICT budget of '
		|| ictmon_money(b.budget, b.money_currency) || '.' END,
	'currency', b.money_currency,
	'total', b.at_stake,
	'agencies', jsonb_build_array(jsonb_build_object('code', b.code, 'name', b.name)),
	'rows', CASE WHEN jsonb_array_length(b.rows) > 200
	    THEN jsonb_path_query_array(b.rows, '$[0 to 199]') ELSE b.rows END,
	'rows_total', b.nlines,
	'fiscal_year', b.fiscal_year,
	'budget', b.budget,
	'accrued', b.accrued,
	'execution', b.execution,
	'late_in_year', b.late,
	'overrun', b.overrun,
	'under', b.under)
FROM banded b;
