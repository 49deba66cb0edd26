-- CV: the cost variance of every project, as the US IT Dashboard computes it.
-- CV = planned cost - estimated cost, where the estimate is the projected cost, or the
-- actual cost once the project is completed; CV% = CV / planned cost x 100 (positive:
-- under budget, negative: over). Band by |CV%|: low up to `medium` (10), medium up to
-- `high` (30), high beyond; none when it cannot be computed (no planned or estimated
-- cost, or a planned cost of zero). One result per project, value = CV%, amount = |CV|
-- (in the base currency when a rate converts it). The evidence also gives the change of
-- CV% over the last `window_months` (6): from the version in force that long ago (the
-- first version for a younger project) to now; and the rebaseline count: the versions
-- that changed a planned cost, start or end the previous version had.
-- The formula and the bands are project_variance(), rebaselines
-- project_rebaselined() and the history project_variance_history()
-- (sql/008_portfolio.sql); GET /v1/projects uses the first two too.

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH params AS (
	SELECT (ictmon_param('medium') #>> '{}')::numeric AS medium,
	    (ictmon_param('high') #>> '{}')::numeric AS high,
	    (ictmon_param('window_months') #>> '{}')::integer AS months,
	    ictmon_param('currency') #>> '{}' AS base_currency),
measured AS (
	SELECT v.*, v.then_cv_percent AS then_percent,
	    -- ictmon_amount() costs microseconds a call: only for foreign currencies.
	    CASE WHEN (v.p).currency = pr.base_currency THEN abs(v.cv)
		ELSE ictmon_amount(abs(v.cv), (v.p).currency, current_date) END AS converted,
	    pr.months, pr.base_currency
	FROM params pr
	CROSS JOIN LATERAL project_variance_history(pr.medium, pr.high, pr.months) v)
SELECT ictmon_run_id(), 'CV', 'project ' || m.agency_code || '/' || (m.p).external_id,
    (m.p).agency_id, ARRAY[(m.p).agency_id], m.cv_percent, m.cost_band,
    coalesce(m.converted, abs(m.cv)),
    CASE WHEN m.cv IS NULL THEN NULL
	WHEN m.converted IS NOT NULL THEN m.base_currency
	ELSE (m.p).currency END,
    'CV:' || m.agency_code || '/' || (m.p).external_id,
    jsonb_build_object(
	'summary', 'Project ' || (m.p).external_id || ' "' || left((m.p).title, 80)
	    || '" of ' || m.agency_code || CASE
	    WHEN m.cv_percent IS NOT NULL THEN
		CASE m.cost_basis WHEN 'actual' THEN ' cost ' ELSE ' is projected to cost ' END
		|| ictmon_money(m.cost_estimate, (m.p).currency) || ' against '
		|| ictmon_money((m.p).planned_cost, (m.p).currency) || ' planned: '
		|| CASE WHEN m.cv < 0 THEN to_char(-m.cv_percent, 'FM999999990.00')
			|| ' % over budget.'
		    WHEN m.cv > 0 THEN to_char(m.cv_percent, 'FM999999990.00')
			|| ' % under budget.'
		    ELSE 'on budget.' END
	    WHEN (m.p).planned_cost IS NULL THEN ': no cost variance without a planned cost.'
	    WHEN (m.p).planned_cost = 0 THEN ': no cost variance on a planned cost of zero.'
	    ELSE ': no cost variance without a projected or actual cost.' END,
	'currency', CASE WHEN m.cv IS NULL THEN NULL
	    WHEN m.converted IS NOT NULL THEN m.base_currency
	    ELSE (m.p).currency END,
	'total', coalesce(m.converted, abs(m.cv)),
	'agencies', jsonb_build_array(jsonb_build_object('code', m.agency_code,
	    'name', m.agency_name)),
	'rows', jsonb_build_array(portfolio_project_row(m.p, m.agency_code)),
	'planned_cost', (m.p).planned_cost,
	'projected_cost', (m.p).projected_cost,
	'actual_cost', (m.p).actual_cost,
	'project_currency', (m.p).currency,
	'estimate', m.cost_estimate,
	'basis', m.cost_basis,
	'cv', m.cv,
	'cv_percent', m.cv_percent,
	'window_months', m.months,
	'window', CASE WHEN m.then_version IS NOT NULL THEN jsonb_build_object(
	    'version', m.then_version,
	    'valid_from', m.then_from,
	    'cv_percent', m.then_percent,
	    'change', m.cv_percent - m.then_percent) END,
	'rebaselines', m.rebaselines)
FROM measured m;
