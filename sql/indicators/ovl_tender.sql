-- OVL-TENDER, tender overlap: an agency is about to buy what another agency is buying
-- or has just bought, caught while the money is not yet committed and a joint
-- purchase or a shared platform is still possible.
--
-- Definition. An open tender: its status is "active", "planning" or "planned" or it
-- has none; no award of it stands (an award counts unless it is cancelled or
-- unsuccessful); its tender period ends after now (the transaction's time) or has no
-- end; it has a buyer agency. An open tender whose value, in the base currency
-- ("currency"; a value whose currency has no rate cannot be compared and is left
-- out), is at least "min_amount" is flagged when one of its items' classification
-- classes (UNSPSC first "class_digits" digits, CPV first "cpv_digits"; only ICT
-- classes when "ict_only") is also the class of another agency's open tender (of any
-- value) or of another agency's award (standing, dated within the last "window_days"
-- days up to today, its items' classes, else its tender's). One result per open tender.
--
-- Result: subject "tender ocds-x-1 · 05-62 · 2 other agencies"; agency_id the
-- tender's buyer (the agency that can still act), agencies its buyer and the others;
-- value the number of other agencies; amount the tender's value (base currency);
-- fingerprint "OVL-TENDER:<ocid>". Band: high when another agency has an open tender
-- in the same class (both purchases still open), medium when two or more other
-- agencies bought in it, low otherwise. Evidence rows: the tender, then the matching
-- open tenders and awards, largest first (at most 50 of them; "rows_total" counts
-- every match, an award or tender matching two classes once per class).

SELECT ictmon_prepare_classes(), ictmon_prepare_awards();

CREATE TEMP TABLE ovl_tender_param ON COMMIT DROP AS
SELECT ictmon_param('currency') #>> '{}' AS base,
    (ictmon_param('window_days') #>> '{}')::int AS window_days,
    (ictmon_param('min_amount') #>> '{}')::numeric AS min_amount,
    (ictmon_param('ict_only') #>> '{}')::boolean AS ict_only,
    (now() AT TIME ZONE 'UTC')::date AS today;
ANALYZE ovl_tender_param;

CREATE TEMP TABLE ovl_tender_open ON COMMIT DROP AS
SELECT t.ocid, t.buyer_agency_id AS agency_id, t.title, t.status, lower(t.method) AS method,
    t.value_amount, t.currency, t.period_start, t.period_end,
    CASE WHEN t.currency = p.base THEN t.value_amount
	ELSE ictmon_amount(t.value_amount, t.currency,
	    (coalesce(t.period_start, now()) AT TIME ZONE 'UTC')::date) END AS base_amount
FROM tender t CROSS JOIN ovl_tender_param p
WHERE t.buyer_agency_id IS NOT NULL
    AND (t.status IS NULL OR t.status IN ('active', 'planning', 'planned')
	OR lower(t.status) IN ('active', 'planning', 'planned'))
    AND (t.period_end IS NULL OR t.period_end > now())
    AND NOT EXISTS (SELECT 1 FROM award a WHERE a.ocid = t.ocid
	AND (a.status IS NULL OR lower(a.status) NOT IN ('cancelled', 'unsuccessful')));
ANALYZE ovl_tender_open;

-- What an open tender can match: other open tenders and recent awards, per class.
-- The awards' window and the ICT test read the parameters through scalar sub-selects:
-- evaluated once, they filter each table as it is scanned, so only the recent awards
-- meet the class table (as a join filter on the parameter table, every award did).
CREATE TEMP TABLE ovl_tender_match ON COMMIT DROP AS
SELECT 'tender' AS kind, o.ocid, NULL::text AS award_id, o.agency_id, c.class, o.title,
    o.status, o.method, o.value_amount, o.currency, o.base_amount, NULL::date AS day
FROM ovl_tender_open o
JOIN ictmon_tender_class c ON c.ocid = o.ocid
CROSS JOIN ovl_tender_param p
WHERE c.ict OR NOT p.ict_only
UNION ALL
SELECT 'award', a.ocid, a.award_id, a.agency_id, c.class, a.title, NULL, a.method,
    a.value_amount, a.currency, a.base_amount, a.day
FROM ictmon_award a
JOIN ictmon_award_class c ON c.ocid = a.ocid AND c.award_id = a.award_id
WHERE a.day BETWEEN (SELECT p.today - p.window_days FROM ovl_tender_param p)
	AND (SELECT p.today FROM ovl_tender_param p)
    AND (c.ict OR NOT (SELECT p.ict_only FROM ovl_tender_param p));
CREATE INDEX ON ovl_tender_match (class, base_amount DESC NULLS LAST);
ANALYZE ovl_tender_match;

-- Per class and agency, how much there is to match: open tenders never meet each
-- other's rows one by one, only these counts.
CREATE TEMP TABLE ovl_tender_class_agency ON COMMIT DROP AS
SELECT class, agency_id, count(*) FILTER (WHERE kind = 'tender') AS tenders,
    count(*) FILTER (WHERE kind = 'award') AS awards
FROM ovl_tender_match
GROUP BY class, agency_id;
ANALYZE ovl_tender_class_agency;

-- The open tenders above the minimum, with their classes.
CREATE TEMP TABLE ovl_tender_subject ON COMMIT DROP AS
SELECT DISTINCT o.*, c.class
FROM ovl_tender_open o
JOIN ictmon_tender_class c ON c.ocid = o.ocid
CROSS JOIN ovl_tender_param p
WHERE o.base_amount >= p.min_amount AND (c.ict OR NOT p.ict_only);
ANALYZE ovl_tender_subject;

CREATE TEMP TABLE ovl_tender_hit ON COMMIT DROP AS
SELECT s.ocid, array_agg(DISTINCT s.class ORDER BY s.class) AS classes,
    array_agg(DISTINCT ca.agency_id ORDER BY ca.agency_id) AS others,
    sum(ca.tenders) AS tenders, sum(ca.awards) AS awards,
    count(DISTINCT ca.agency_id) FILTER (WHERE ca.tenders > 0) AS tender_agencies
FROM ovl_tender_subject s
JOIN ovl_tender_class_agency ca ON ca.class = s.class AND ca.agency_id <> s.agency_id
GROUP BY s.ocid;
ANALYZE ovl_tender_hit;

-- The evidence of every flagged tender: per class, its largest matches of other
-- agencies (an index scan that stops at 50 rows), then the 50 largest of its classes.
CREATE TEMP TABLE ovl_tender_evidence ON COMMIT DROP AS
SELECT * FROM (
	SELECT s.ocid AS subject, m.*, row_number() OVER (PARTITION BY s.ocid
	    ORDER BY m.base_amount DESC NULLS LAST, m.ocid COLLATE "C",
		m.award_id COLLATE "C", m.class) AS n
	FROM ovl_tender_subject s
	JOIN ovl_tender_hit h ON h.ocid = s.ocid
	CROSS JOIN LATERAL (
		SELECT * FROM ovl_tender_match m
		WHERE m.class = s.class AND m.agency_id <> s.agency_id
		ORDER BY m.base_amount DESC NULLS LAST, m.ocid COLLATE "C",
		    m.award_id COLLATE "C"
		LIMIT 50
	) AS m
) AS ranked
WHERE n <= 50;

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
SELECT ictmon_run_id(), 'OVL-TENDER',
    'tender ' || o.ocid || ' · ' || b.code || ' · ' || cardinality(h.others)
	|| ' other agencies',
    o.agency_id, ag.ids, cardinality(h.others),
    CASE WHEN h.tender_agencies > 0 THEN 'high'
	WHEN cardinality(h.others) >= 2 THEN 'medium'
	ELSE 'low' END,
    o.base_amount, p.base,
    'OVL-TENDER:' || o.ocid,
    jsonb_build_object(
	'summary', 'Open tender ' || o.ocid || coalesce(' "' || o.title || '"', '') || ' of '
	    || b.code || ' (' || b.name || '), ' || ictmon_money(o.base_amount, p.base)
	    || ', is in ' || array_to_string(h.classes, ', ') || ', which '
	    || cardinality(h.others) || ' other agencies are also buying: '
	    || h.tenders || ' open tenders and ' || h.awards || ' awards in the last '
	    || p.window_days || ' days.',
	'currency', p.base,
	'total', o.base_amount,
	'agencies', ag.list,
	'rows', jsonb_build_array(jsonb_build_object('kind', 'tender', 'ocid', o.ocid,
	    'agency', b.code, 'title', o.title, 'status', o.status, 'method', o.method,
	    'amount', o.value_amount, 'currency', o.currency,
	    'period_end', to_char(o.period_end AT TIME ZONE 'UTC',
		'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	    'classification', array_to_string(h.classes, ', ')))
	    || coalesce(r.rows, '[]'),
	'rows_total', 1 + h.tenders + h.awards,
	'class', array_to_string(h.classes, ', '),
	'classes', to_jsonb(h.classes),
	'window_days', p.window_days,
	'open_tenders', h.tenders,
	'awards', h.awards)
FROM ovl_tender_hit h
JOIN ovl_tender_open o ON o.ocid = h.ocid
JOIN agency b ON b.id = o.agency_id
CROSS JOIN ovl_tender_param p
CROSS JOIN LATERAL (
	SELECT array_agg(x.id ORDER BY x.id) AS ids,
	    jsonb_agg(jsonb_build_object('code', x.code, 'name', x.name)
		ORDER BY x.code COLLATE "C") AS list
	FROM unnest(h.others || o.agency_id) AS u(id) JOIN agency x ON x.id = u.id
) AS ag
LEFT JOIN (
	SELECT e.subject, jsonb_agg(jsonb_build_object('kind', e.kind, 'ocid', e.ocid,
	    'award_id', e.award_id, 'agency', x.code, 'title', e.title,
	    'status', e.status, 'method', e.method, 'date', to_char(e.day, 'YYYY-MM-DD'),
	    'amount', e.value_amount, 'currency', e.currency, 'classification', e.class)
	    ORDER BY e.n) AS rows
	FROM ovl_tender_evidence e
	JOIN agency x ON x.id = e.agency_id
	GROUP BY e.subject
) AS r ON r.subject = o.ocid;
