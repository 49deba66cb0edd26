-- OVL-SPEND, spending overlap: several agencies buying the same kind of thing within a
-- few months of one another, each on its own, when one joint purchase could have
-- served them all.
--
-- Definition. Awards that stand (status "active" or none: not pending, cancelled or
-- unsuccessful) with a date, a buyer agency and an amount, that are not purchases
-- under a framework agreement (their tender's procurementMethodDetails contains one
-- of "framework_methods", case-insensitively), grouped by classification class (the
-- award's items, else its tender's: the first "class_digits" digits of a UNSPSC code,
-- the first "cpv_digits" of a CPV code; only ICT classes when "ict_only") and by
-- currency: amounts are converted to the base currency ("currency") where a rate
-- allows, and those that cannot be converted form groups of their own currency. In
-- each group the awards, in date order, fall into sessions: a new session starts
-- when an award comes more than "window_days" days after the previous one (exactly
-- window_days apart is still the same session). A session bought by at least
-- "min_buyers" different agencies, for a total of at least "min_total" (base
-- currency), is one result. A session in a currency without a rate cannot be
-- compared with min_total: it is reported when it has min_buyers agencies, with band
-- low. Dates are UTC calendar days.
--
-- Result: subject "UNSPSC 432332 · 4 agencies · from 2024-03-01"; agency_id NULL
-- (cross-agency); agencies the buyers; value and amount the session's total;
-- fingerprint "OVL-SPEND:<class>:<ocid>/<award id>" of the session's first award
-- (in date, ocid, award id order), so a session that gains a buyer later keeps it.
-- Band: high with min_buyers + 2 agencies or a total of 4 × min_total; medium with
-- min_buyers + 1 agencies or 2 × min_total; low otherwise. Evidence rows: the
-- session's awards in date order (at most 200, "rows_total" says how many).

SELECT ictmon_prepare_classes(), ictmon_prepare_awards();

CREATE TEMP TABLE ovl_spend_param ON COMMIT DROP AS
SELECT ictmon_param('currency') #>> '{}' AS base,
    (ictmon_param('window_days') #>> '{}')::int AS window_days,
    (ictmon_param('min_buyers') #>> '{}')::int AS min_buyers,
    (ictmon_param('min_total') #>> '{}')::numeric AS min_total,
    (ictmon_param('ict_only') #>> '{}')::boolean AS ict_only;
ANALYZE ovl_spend_param;

-- The awards that count, one row per class, in the group of their currency: the base
-- one when converted, else their own. The ICT test reads ict_only through a scalar
-- sub-select, evaluated once, so that it filters the classes as they are scanned
-- rather than after the join.
CREATE TEMP TABLE ovl_spend_award ON COMMIT DROP AS
SELECT c.class, a.ocid, a.award_id, a.agency_id, a.title, a.day, a.value_amount,
    a.currency, a.method, coalesce(a.base_amount, a.value_amount) AS amount,
    CASE WHEN a.base_amount IS NOT NULL THEN (SELECT p.base FROM ovl_spend_param p)
	ELSE a.currency END AS group_currency
FROM ictmon_award a
JOIN ictmon_award_class c ON c.ocid = a.ocid AND c.award_id = a.award_id
WHERE NOT a.framework AND a.value_amount IS NOT NULL AND a.currency IS NOT NULL
    AND (c.ict OR NOT (SELECT p.ict_only FROM ovl_spend_param p));
ANALYZE ovl_spend_award;

-- Sessions: a running count of the awards that start one.
CREATE TEMP TABLE ovl_spend_sessioned ON COMMIT DROP AS
SELECT s.*, sum(s.starts::int) OVER (PARTITION BY s.class, s.group_currency
	ORDER BY s.day, s.ocid COLLATE "C", s.award_id COLLATE "C"
	ROWS UNBOUNDED PRECEDING) AS session
FROM (
	SELECT w.*, coalesce(w.day - lag(w.day) OVER (PARTITION BY w.class, w.group_currency
	    ORDER BY w.day, w.ocid COLLATE "C", w.award_id COLLATE "C") > p.window_days,
	    true) AS starts
	FROM ovl_spend_award w CROSS JOIN ovl_spend_param p
) AS s;
ANALYZE ovl_spend_sessioned;

CREATE TEMP TABLE ovl_spend_group ON COMMIT DROP AS
SELECT row_number() OVER () AS gid, s.class, s.group_currency, s.session,
    count(DISTINCT s.agency_id) AS buyers, count(*) AS awards, sum(s.amount) AS total,
    min(s.day) AS first_day, max(s.day) AS last_day,
    min(s.ocid) FILTER (WHERE s.starts) AS first_ocid,
    min(s.award_id) FILTER (WHERE s.starts) AS first_award_id
FROM ovl_spend_sessioned s CROSS JOIN ovl_spend_param p
GROUP BY s.class, s.group_currency, s.session, p.min_buyers, p.min_total, p.base
HAVING count(DISTINCT s.agency_id) >= p.min_buyers
    AND (s.group_currency <> p.base OR sum(s.amount) >= p.min_total);
ANALYZE ovl_spend_group;

-- The awards of the sessions found, numbered for the evidence cap.
CREATE TEMP TABLE ovl_spend_member ON COMMIT DROP AS
SELECT g.gid, s.*, row_number() OVER (PARTITION BY g.gid
	ORDER BY s.day, s.ocid COLLATE "C", s.award_id COLLATE "C") AS n
FROM ovl_spend_sessioned s
JOIN ovl_spend_group g USING (class, group_currency, session);
ANALYZE ovl_spend_member;

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
SELECT ictmon_run_id(), 'OVL-SPEND',
    g.class || ' · ' || g.buyers || ' agencies · from ' || to_char(g.first_day, 'YYYY-MM-DD'),
    NULL, ag.ids, g.total,
    CASE WHEN g.group_currency <> p.base THEN 'low'
	WHEN g.buyers >= p.min_buyers + 2 OR g.total >= 4 * p.min_total THEN 'high'
	WHEN g.buyers >= p.min_buyers + 1 OR g.total >= 2 * p.min_total THEN 'medium'
	ELSE 'low' END,
    g.total, g.group_currency,
    'OVL-SPEND:' || g.class || ':' || g.first_ocid || '/' || g.first_award_id,
    jsonb_build_object(
	'summary', g.buyers || ' agencies bought ' || g.class || ', '
	    || ictmon_money(g.total, g.group_currency)
	    || CASE WHEN g.last_day = g.first_day THEN ' on ' || to_char(g.first_day, 'YYYY-MM-DD')
		ELSE ' in ' || (g.last_day - g.first_day) || ' days ('
		    || to_char(g.first_day, 'YYYY-MM-DD') || ' to '
		    || to_char(g.last_day, 'YYYY-MM-DD') || ')' END
	    || CASE WHEN g.group_currency <> p.base
		THEN ' (no exchange rate to ' || p.base || ': not compared with the minimum)'
		ELSE '' END || '.',
	'currency', g.group_currency,
	'total', g.total,
	'agencies', ag.list,
	'rows', r.rows,
	'rows_total', g.awards,
	'class', g.class,
	'window_days', p.window_days,
	'first_date', to_char(g.first_day, 'YYYY-MM-DD'),
	'last_date', to_char(g.last_day, 'YYYY-MM-DD'),
	'converted', g.group_currency = p.base)
FROM ovl_spend_group g
CROSS JOIN ovl_spend_param p
JOIN (
	SELECT d.gid, array_agg(x.id ORDER BY x.id) AS ids,
	    jsonb_agg(jsonb_build_object('code', x.code, 'name', x.name)
		ORDER BY x.code COLLATE "C") AS list
	FROM (SELECT DISTINCT gid, agency_id FROM ovl_spend_member) AS d
	JOIN agency x ON x.id = d.agency_id
	GROUP BY d.gid
) AS ag ON ag.gid = g.gid
JOIN (
	SELECT m.gid, jsonb_agg(ictmon_award_row(m.ocid, m.award_id, x.code, m.title, m.day,
	    m.value_amount, m.currency, m.method)
	    || jsonb_build_object('classification', m.class)
	    || CASE WHEN m.currency IS DISTINCT FROM m.group_currency
		THEN jsonb_build_object('amount_converted', m.amount) ELSE '{}' END
	    ORDER BY m.n) AS rows
	FROM ovl_spend_member m JOIN agency x ON x.id = m.agency_id
	WHERE m.n <= 200
	GROUP BY m.gid
) AS r ON r.gid = g.gid;
