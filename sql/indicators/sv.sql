-- SV: the schedule variance of every project, as the US IT Dashboard computes it.
-- SV days = planned end - estimated end, where the estimate is the projected end, or
-- the actual end once the project is completed; SV% = SV days / planned duration
-- (planned end - planned start, in days) x 100 (positive: ahead, negative: late). Band
-- by |SV%|: low up to `medium` (10), medium up to `high` (30), high beyond; none when it
-- cannot be computed (a missing date, or a planned duration of zero days). One result
-- per project, value = SV%, amount = the planned cost (what the delay holds up). The
-- evidence also gives the change of SV% over the last `window_months` (6), from the
-- version in force that long ago (the first version for a younger project), and the
-- rebaseline count: the versions that changed a planned cost, start or end the
-- previous version had. The formula and the bands are project_variance() and
-- rebaselines project_rebaselined() (sql/008_portfolio.sql), as for GET /v1/projects.

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH params AS (
	SELECT (ictmon_param('medium') #>> '{}')::numeric AS medium,
	    (ictmon_param('high') #>> '{}')::numeric AS high,
	    (ictmon_param('window_months') #>> '{}')::integer AS months,
	    ictmon_param('currency') #>> '{}' AS base_currency),
measured AS (
	SELECT v.*, v.then_sv_percent AS then_percent,
	    -- ictmon_amount() costs microseconds a call: only for foreign currencies.
	    CASE WHEN (v.p).currency = pr.base_currency THEN (v.p).planned_cost
		ELSE ictmon_amount((v.p).planned_cost, (v.p).currency, current_date) END AS converted,
	    pr.months, pr.base_currency
	FROM params pr
	CROSS JOIN LATERAL project_variance_history(pr.medium, pr.high, pr.months) v)
SELECT ictmon_run_id(), 'SV', 'project ' || m.agency_code || '/' || (m.p).external_id,
    (m.p).agency_id, ARRAY[(m.p).agency_id], m.sv_percent, m.schedule_band,
    coalesce(m.converted, (m.p).planned_cost),
    CASE WHEN (m.p).planned_cost IS NULL THEN NULL
	WHEN m.converted IS NOT NULL THEN m.base_currency
	ELSE (m.p).currency END,
    'SV:' || m.agency_code || '/' || (m.p).external_id,
    jsonb_build_object(
	'summary', 'Project ' || (m.p).external_id || ' "' || left((m.p).title, 80)
	    || '" of ' || m.agency_code || CASE
	    WHEN m.sv_percent IS NOT NULL THEN
		CASE m.end_basis WHEN 'actual' THEN ' ended ' ELSE ' is projected to end ' END
		|| m.end_estimate || ' against ' || (m.p).planned_end || ' planned: '
		|| CASE WHEN m.sv_days < 0 THEN -m.sv_days || ' days late ('
			|| to_char(-m.sv_percent, 'FM999999990.00')
		    WHEN m.sv_days > 0 THEN m.sv_days || ' days early ('
			|| to_char(m.sv_percent, 'FM999999990.00')
		    ELSE 'on schedule (0.00' END
		|| ' % of its planned duration).'
	    WHEN (m.p).planned_end IS NULL THEN ': no schedule variance without a planned end.'
	    WHEN m.end_estimate IS NULL
		THEN ': no schedule variance without a projected or actual end.'
	    WHEN (m.p).planned_start IS NULL
		THEN ': no schedule variance without a planned start.'
	    ELSE ': no schedule variance on a planned duration of zero days.' END,
	'currency', CASE WHEN (m.p).planned_cost IS NULL THEN NULL
	    WHEN m.converted IS NOT NULL THEN m.base_currency
	    ELSE (m.p).currency END,
	'total', coalesce(m.converted, (m.p).planned_cost),
	'agencies', jsonb_build_array(jsonb_build_object('code', m.agency_code,
	    'name', m.agency_name)),
	'rows', jsonb_build_array(portfolio_project_row(m.p, m.agency_code)),
	'planned_start', (m.p).planned_start,
	'planned_end', (m.p).planned_end,
	'projected_end', (m.p).projected_end,
	'actual_end', (m.p).actual_end,
	'estimate', m.end_estimate,
	'basis', m.end_basis,
	'planned_days', (m.p).planned_end - (m.p).planned_start,
	'sv_days', m.sv_days,
	'sv_percent', m.sv_percent,
	'window_months', m.months,
	'window', CASE WHEN m.then_version IS NOT NULL THEN jsonb_build_object(
	    'version', m.then_version,
	    'valid_from', m.then_from,
	    'sv_percent', m.then_percent,
	    'change', m.sv_percent - m.then_percent) END,
	'rebaselines', m.rebaselines)
FROM measured m;
