-- FEED-STALE: data that stopped arriving. Two kinds of subject:
-- - a configured feed whose last `failures` (3) pulls or more in a row failed, or that
--   has not succeeded for `days` (7) (never, and configured more than `days` ago); a
--   feed the configuration names but cannot run (its problem) counts as failing. Band
--   high when it has not delivered for `days`, medium when it still did recently but
--   now fails. agency = the feed's agency (none for a multi-agency feed).
-- - an agency that has data (projects, budget lines or awards as buyer) but about which
--   nothing arrived for `days`: no push or feed pull of its own, no batch or
--   compilation that wrote its rows (portfolio_agency_delivery() in
--   sql/008_portfolio.sql). Band medium.
-- value = days since the last delivery (since the feed was configured when it never
-- delivered); only stale subjects get a result.
INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH params AS (
	SELECT (ictmon_param('days') #>> '{}')::integer AS days,
	    (ictmon_param('failures') #>> '{}')::integer AS failures),
feeds AS (
	SELECT f.*, a.code AS agency_code, a.name AS agency_name, pr.days, pr.failures,
	    coalesce(f.last_success_at, f.created_at) AS since,
	    f.last_success_at IS NULL
		AND f.created_at < now() - make_interval(days => pr.days)
		OR f.last_success_at < now() - make_interval(days => pr.days) AS stale,
	    f.consecutive_failures >= pr.failures OR f.problem IS NOT NULL AS failing,
	    r.status AS run_status, r.started_at AS run_started_at,
	    r.finished_at AS run_finished_at, r.http_status AS run_http_status,
	    r.message AS run_message
	FROM feed_source f
	LEFT JOIN agency a ON a.id = f.agency_id
	CROSS JOIN params pr
	LEFT JOIN LATERAL (SELECT * FROM feed_run r WHERE r.feed_id = f.id
	    ORDER BY r.started_at DESC, r.id DESC LIMIT 1) r ON true
	WHERE f.configured),
stale_feeds AS (
	SELECT f.* FROM feeds f WHERE f.stale OR f.failing),
stale_agencies AS (
	SELECT a.id AS agency_id, a.code, a.name, d.last_delivery, pr.days
	FROM portfolio_agency_delivery() d
	JOIN agency a ON a.id = d.agency_id
	CROSS JOIN params pr
	WHERE d.has_data AND (d.last_delivery IS NULL
	    OR d.last_delivery < now() - make_interval(days => pr.days)))
SELECT ictmon_run_id(), 'FEED-STALE', 'feed ' || f.name, f.agency_id,
    CASE WHEN f.agency_id IS NULL THEN '{}' ELSE ARRAY[f.agency_id] END,
    floor(extract(epoch FROM now() - f.since) / 86400),
    CASE WHEN f.stale THEN 'high' ELSE 'medium' END, NULL::numeric, NULL::text,
    'FEED-STALE:feed/' || f.name,
    jsonb_build_object(
	'summary', 'Feed ' || f.name || ' (' || f.kind
	    || coalesce(', agency ' || f.agency_code, ', several agencies') || ') '
	    || CASE WHEN f.last_success_at IS NULL THEN 'has never delivered data'
		ELSE 'last delivered data on '
		    || to_char(f.last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') END
	    || CASE WHEN f.problem IS NOT NULL THEN ' and cannot run: ' || f.problem
		WHEN f.consecutive_failures > 0 THEN '; its last '
		    || f.consecutive_failures
		    || CASE WHEN f.consecutive_failures = 1 THEN ' pull failed'
			ELSE ' pulls failed' END
		    || coalesce(': ' || f.run_message, '')
		ELSE '' END || '.',
	'currency', NULL,
	'total', NULL,
	'agencies', CASE WHEN f.agency_id IS NULL THEN '[]'::jsonb
	    ELSE jsonb_build_array(jsonb_build_object('code', f.agency_code,
		'name', f.agency_name)) END,
	'rows', jsonb_build_array(jsonb_build_object('kind', 'feed', 'name', f.name,
	    'feed_kind', f.kind, 'agency', f.agency_code,
	    'last_success_at', f.last_success_at,
	    'consecutive_failures', f.consecutive_failures, 'problem', f.problem,
	    'next_run_at', f.next_run_at, 'created_at', f.created_at,
	    'last_run', CASE WHEN f.run_started_at IS NOT NULL THEN jsonb_build_object(
		'status', f.run_status, 'started_at', f.run_started_at,
		'finished_at', f.run_finished_at, 'http_status', f.run_http_status,
		'message', f.run_message) END)),
	'stale', f.stale,
	'failing', f.failing,
	'days', f.days,
	'failures', f.failures)
FROM stale_feeds f
UNION ALL
SELECT ictmon_run_id(), 'FEED-STALE', 'agency ' || s.code, s.agency_id,
    ARRAY[s.agency_id],
    floor(extract(epoch FROM now() - s.last_delivery) / 86400), 'medium', NULL::numeric,
    NULL::text,
    'FEED-STALE:agency/' || s.code,
    jsonb_build_object(
	'summary', 'No data about ' || s.code || ' has arrived '
	    || CASE WHEN s.last_delivery IS NULL THEN 'through a recorded push or feed'
		ELSE 'since ' || to_char(s.last_delivery AT TIME ZONE 'UTC', 'YYYY-MM-DD')
		    || ', ' || floor(extract(epoch FROM now() - s.last_delivery) / 86400)
		    || ' days ago' END
	    || ', though it has projects, budget or procurement on record.',
	'currency', NULL,
	'total', NULL,
	'agencies', jsonb_build_array(jsonb_build_object('code', s.code, 'name', s.name)),
	'rows', '[]'::jsonb,
	'last_delivery', s.last_delivery,
	'days', s.days)
FROM stale_agencies s;
