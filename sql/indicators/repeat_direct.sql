-- REPEAT-DIRECT, repeated direct awards: one agency keeps giving the same supplier
-- contracts without competition.
--
-- Definition. Awards that stand (status "active" or none) with a date and a buyer
-- agency, whose tender's procurementMethod is "direct", per buyer and supplier (an
-- award with two suppliers counts for each). A window is any "window_days" days long
-- span starting on one of the pair's award days, both ends included (awards exactly
-- window_days apart are in one window). When the busiest window of a pair holds more
-- than "max_awards" awards, the pair is one result. Dates are UTC calendar days; an
-- award without an amount still counts.
--
-- Result: subject "buyer 05-62 · supplier Acme SpA · 5 direct awards in 365 days";
-- agency_id and agencies the buyer; value the number of awards in the busiest window
-- (the earliest such window when several tie); amount their sum in the base currency
-- (awards in a currency without a rate are left out of it and listed under
-- "unconverted"); fingerprint "REPEAT-DIRECT:<agency code>:<supplier id>": one per
-- pair, whatever its windows. Band: high from 3 × max_awards awards in the window,
-- medium from 2 ×, low above max_awards. Evidence rows: the awards of the busiest
-- window in date order (at most 200).

SELECT ictmon_prepare_awards();

CREATE TEMP TABLE repeat_direct_param ON COMMIT DROP AS
SELECT ictmon_param('currency') #>> '{}' AS base,
    (ictmon_param('max_awards') #>> '{}')::int AS max_awards,
    (ictmon_param('window_days') #>> '{}')::int AS window_days;
ANALYZE repeat_direct_param;

CREATE TEMP TABLE repeat_direct_award ON COMMIT DROP AS
SELECT s.supplier_id, a.*
FROM ictmon_award a
JOIN award_supplier s ON s.ocid = a.ocid AND s.award_id = a.award_id
WHERE a.method = 'direct';
ANALYZE repeat_direct_award;

-- For each award, how many of its pair's awards fall in the window that starts on its
-- day. The frame's offset is read from the parameter directly: a window frame cannot
-- refer to a column.
CREATE TEMP TABLE repeat_direct_window ON COMMIT DROP AS
SELECT DISTINCT ON (w.agency_id, w.supplier_id) w.agency_id, w.supplier_id,
    w.day AS first_day, w.in_window
FROM (
	SELECT a.agency_id, a.supplier_id, a.day,
	    count(*) OVER (PARTITION BY a.agency_id, a.supplier_id ORDER BY a.day
		RANGE BETWEEN CURRENT ROW AND
		    make_interval(days => (ictmon_param('window_days') #>> '{}')::int)
		    FOLLOWING) AS in_window
	FROM repeat_direct_award a
) AS w
CROSS JOIN repeat_direct_param p
WHERE w.in_window > p.max_awards
ORDER BY w.agency_id, w.supplier_id, w.in_window DESC, w.day;
ANALYZE repeat_direct_window;

CREATE TEMP TABLE repeat_direct_member ON COMMIT DROP AS
SELECT a.*, row_number() OVER (PARTITION BY a.agency_id, a.supplier_id
	ORDER BY a.day, a.ocid COLLATE "C", a.award_id COLLATE "C") AS n
FROM repeat_direct_award a
JOIN repeat_direct_window w USING (agency_id, supplier_id)
CROSS JOIN repeat_direct_param p
WHERE a.day BETWEEN w.first_day AND w.first_day + p.window_days;
ANALYZE repeat_direct_member;

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
SELECT ictmon_run_id(), 'REPEAT-DIRECT',
    'buyer ' || b.code || ' · supplier ' || coalesce(sp.name, w.supplier_id) || ' · '
	|| w.in_window || ' direct awards in ' || p.window_days || ' days',
    w.agency_id, ARRAY[w.agency_id], w.in_window,
    CASE WHEN w.in_window >= 3 * p.max_awards THEN 'high'
	WHEN w.in_window >= 2 * p.max_awards THEN 'medium'
	ELSE 'low' END,
    r.total, p.base,
    'REPEAT-DIRECT:' || b.code || ':' || w.supplier_id,
    jsonb_build_object(
	'summary', b.code || ' (' || b.name || ') gave ' || coalesce(sp.name, w.supplier_id)
	    || ' ' || w.in_window || ' direct awards within ' || p.window_days || ' days ('
	    || to_char(r.first_day, 'YYYY-MM-DD') || ' to '
	    || to_char(r.last_day, 'YYYY-MM-DD') || ')'
	    || CASE WHEN r.total IS NOT NULL THEN ', ' || ictmon_money(r.total, p.base)
		ELSE '' END || '.',
	'currency', p.base,
	'total', r.total,
	'agencies', jsonb_build_array(jsonb_build_object('code', b.code, 'name', b.name)),
	'rows', r.rows,
	'rows_total', w.in_window,
	'supplier', jsonb_build_object('id', w.supplier_id, 'name', sp.name),
	'max_awards', p.max_awards,
	'window_days', p.window_days,
	'first_date', to_char(r.first_day, 'YYYY-MM-DD'),
	'last_date', to_char(r.last_day, 'YYYY-MM-DD'),
	'unconverted', coalesce(u.list, '[]'))
FROM repeat_direct_window w
CROSS JOIN repeat_direct_param p
JOIN agency b ON b.id = w.agency_id
LEFT JOIN supplier sp ON sp.id = w.supplier_id
JOIN (
	SELECT m.agency_id, m.supplier_id, sum(m.base_amount) AS total,
	    min(m.day) AS first_day, max(m.day) AS last_day,
	    jsonb_agg(ictmon_award_row(m.ocid, m.award_id, x.code, m.title, m.day,
		m.value_amount, m.currency, m.method)
		ORDER BY m.n) FILTER (WHERE m.n <= 200) AS rows
	FROM repeat_direct_member m
	JOIN agency x ON x.id = m.agency_id
	GROUP BY m.agency_id, m.supplier_id
) AS r ON r.agency_id = w.agency_id AND r.supplier_id = w.supplier_id
LEFT JOIN (
	SELECT m.agency_id, m.supplier_id, jsonb_agg(jsonb_build_object('currency',
	    m.currency, 'amount', m.amount) ORDER BY m.currency) AS list
	FROM (
		SELECT agency_id, supplier_id, currency, sum(value_amount) AS amount
		FROM repeat_direct_member
		WHERE base_amount IS NULL AND value_amount IS NOT NULL
		GROUP BY agency_id, supplier_id, currency
	) AS m
	GROUP BY m.agency_id, m.supplier_id
) AS u ON u.agency_id = w.agency_id AND u.supplier_id = w.supplier_id;
