-- SPLIT, split purchases: several small awards without open competition, each under
-- the amount that requires a tender, that together exceed it: a purchase may have been
-- cut into pieces to avoid the tender.
--
-- Definition. Awards that stand (status "active" or none) with a date, a buyer agency
-- and an amount in the base currency ("currency"; awards whose currency has no rate
-- cannot be compared with the threshold and are left out), whose tender's
-- procurementMethod is one of "methods", and each of them under "threshold" (strictly).
-- They are taken per subject, of two kinds: buyer + supplier (an award with two
-- suppliers counts for each), and buyer + classification class (the award's items,
-- else its tender's: UNSPSC first "class_digits" digits, CPV first "cpv_digits"). Per
-- subject, in date order, they fall into sessions: a new session starts when an award
-- comes more than "window_days" days after the previous one (exactly window_days
-- apart is the same session). A session of at least "min_awards" awards whose sum
-- exceeds "threshold" (strictly) is one result. Dates are UTC calendar days.
--
-- Result: subject "buyer 05-62 · supplier Acme SpA · 3 awards from 2024-03-01" or
-- "buyer 05-62 · UNSPSC 432332 · ..."; agency_id and agencies the buyer; value and
-- amount the session's sum (base currency); fingerprint
-- "SPLIT:supplier:<agency code>:<supplier id>:<ocid>/<award id>" or
-- "SPLIT:class:<agency code>:<class>:<ocid>/<award id>" of the session's first award,
-- so a session that gains an award later keeps it. Band by how far the sum goes over
-- the threshold: high from 2 × threshold, medium from 1.5 ×, low above it. Evidence
-- rows: the session's awards in date order (at most 200).

SELECT ictmon_prepare_classes(), ictmon_prepare_awards();

CREATE TEMP TABLE split_param ON COMMIT DROP AS
SELECT ictmon_param('currency') #>> '{}' AS base,
    (ictmon_param('threshold') #>> '{}')::numeric AS threshold,
    (ictmon_param('window_days') #>> '{}')::int AS window_days,
    ictmon_param_list('methods') AS methods,
    (ictmon_param('min_awards') #>> '{}')::int AS min_awards;
ANALYZE split_param;

CREATE TEMP TABLE split_award ON COMMIT DROP AS
SELECT a.* FROM ictmon_award a CROSS JOIN split_param p
WHERE a.method = ANY (p.methods) AND a.base_amount < p.threshold;
ANALYZE split_award;

-- One row per subject and award: the subject's kind and key (supplier id or class).
CREATE TEMP TABLE split_item ON COMMIT DROP AS
SELECT 'supplier' AS kind, s.supplier_id AS key, a.*
FROM split_award a
JOIN award_supplier s ON s.ocid = a.ocid AND s.award_id = a.award_id
UNION ALL
SELECT 'class', c.class, a.*
FROM split_award a
JOIN ictmon_award_class c ON c.ocid = a.ocid AND c.award_id = a.award_id;
ANALYZE split_item;

CREATE TEMP TABLE split_sessioned ON COMMIT DROP AS
SELECT s.*, sum(s.starts::int) OVER (PARTITION BY s.kind, s.agency_id, s.key
	ORDER BY s.day, s.ocid COLLATE "C", s.award_id COLLATE "C"
	ROWS UNBOUNDED PRECEDING) AS session
FROM (
	SELECT i.*, coalesce(i.day - lag(i.day) OVER (PARTITION BY i.kind, i.agency_id, i.key
	    ORDER BY i.day, i.ocid COLLATE "C", i.award_id COLLATE "C") > p.window_days,
	    true) AS starts
	FROM split_item i CROSS JOIN split_param p
) AS s;
ANALYZE split_sessioned;

CREATE TEMP TABLE split_group ON COMMIT DROP AS
SELECT row_number() OVER () AS gid, s.kind, s.agency_id, s.key, s.session,
    count(*) AS awards, sum(s.base_amount) AS total, min(s.day) AS first_day,
    max(s.day) AS last_day, min(s.ocid) FILTER (WHERE s.starts) AS first_ocid,
    min(s.award_id) FILTER (WHERE s.starts) AS first_award_id
FROM split_sessioned s CROSS JOIN split_param p
GROUP BY s.kind, s.agency_id, s.key, s.session, p.min_awards, p.threshold
HAVING count(*) >= p.min_awards AND sum(s.base_amount) > p.threshold;
ANALYZE split_group;

CREATE TEMP TABLE split_member ON COMMIT DROP AS
SELECT g.gid, s.*, row_number() OVER (PARTITION BY g.gid
	ORDER BY s.day, s.ocid COLLATE "C", s.award_id COLLATE "C") AS n
FROM split_sessioned s
JOIN split_group g USING (kind, agency_id, key, session);
ANALYZE split_member;

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
SELECT ictmon_run_id(), 'SPLIT',
    'buyer ' || b.code || ' · ' || k.label || ' · ' || g.awards || ' awards from '
	|| to_char(g.first_day, 'YYYY-MM-DD'),
    g.agency_id, ARRAY[g.agency_id], g.total,
    CASE WHEN g.total >= 2 * p.threshold THEN 'high'
	WHEN g.total >= 1.5 * p.threshold THEN 'medium'
	ELSE 'low' END,
    g.total, p.base,
    'SPLIT:' || g.kind || ':' || b.code || ':' || g.key || ':' || g.first_ocid || '/'
	|| g.first_award_id,
    jsonb_build_object(
	'summary', b.code || ' (' || b.name || ') gave ' || g.awards || ' '
	    || array_to_string(p.methods, '/') || ' awards '
	    || CASE g.kind WHEN 'supplier' THEN 'to ' ELSE 'in ' END || k.label
	    || CASE WHEN g.last_day = g.first_day
		THEN ' on ' || to_char(g.first_day, 'YYYY-MM-DD')
		ELSE ' within ' || (g.last_day - g.first_day) || ' days ('
		    || to_char(g.first_day, 'YYYY-MM-DD') || ' to '
		    || to_char(g.last_day, 'YYYY-MM-DD') || ')' END
	    || ', each under ' || ictmon_money(p.threshold, p.base) || ' and together '
	    || ictmon_money(g.total, p.base) || '.',
	'currency', p.base,
	'total', g.total,
	'agencies', jsonb_build_array(jsonb_build_object('code', b.code, 'name', b.name)),
	'rows', r.rows,
	'rows_total', g.awards,
	'kind', g.kind,
	'supplier', k.supplier,
	'class', CASE WHEN g.kind = 'class' THEN g.key END,
	'threshold', p.threshold,
	'window_days', p.window_days,
	'first_date', to_char(g.first_day, 'YYYY-MM-DD'),
	'last_date', to_char(g.last_day, 'YYYY-MM-DD'))
FROM split_group g
CROSS JOIN split_param p
JOIN agency b ON b.id = g.agency_id
LEFT JOIN supplier sp ON g.kind = 'supplier' AND sp.id = g.key
CROSS JOIN LATERAL (SELECT
	CASE g.kind WHEN 'supplier' THEN 'supplier ' || coalesce(sp.name, g.key)
	    ELSE g.key END AS label,
	CASE g.kind WHEN 'supplier' THEN jsonb_build_object('id', g.key, 'name', sp.name)
	    END AS supplier
) AS k
JOIN (
	SELECT m.gid, jsonb_agg(ictmon_award_row(m.ocid, m.award_id, x.code, m.title, m.day,
	    m.value_amount, m.currency, m.method)
	    || CASE WHEN m.kind = 'class' THEN jsonb_build_object('classification', m.key)
		ELSE '{}' END
	    || CASE WHEN m.currency IS DISTINCT FROM p.base
		THEN jsonb_build_object('amount_converted', m.base_amount) ELSE '{}' END
	    ORDER BY m.n) AS rows
	FROM split_member m
	JOIN agency x ON x.id = m.agency_id
	CROSS JOIN split_param p
	WHERE m.n <= 200
	GROUP BY m.gid
) AS r ON r.gid = g.gid;
