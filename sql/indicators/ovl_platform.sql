-- OVL-PLATFORM: an active project (planned or in progress) that builds a capability a
-- registered shared platform already provides, without saying it reuses that platform:
-- it may be rebuilding what exists. The registry is the parameter `platforms`,
-- "capability=Platform;..." (digital_signature=FirmaGob, identity=ClaveÚnica, ...). A
-- project matches when one of its capability tags names a registered capability and
-- its shared_platforms does not name that capability's platform. Tags and platform
-- names are compared without case, accents, spaces or punctuation ("Digital
-- signature" is digital_signature, "Clave Unica" is ClaveÚnica). One result per
-- project; value = the number of platforms it may duplicate; band high when two or
-- more, else medium; amount = its planned cost (in the base currency where a rate
-- converts it).
INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
WITH registry AS (
	SELECT btrim(split_part(e, '=', 1)) AS capability,
	    btrim(substr(e, strpos(e, '=') + 1)) AS platform,
	    portfolio_key(split_part(e, '=', 1)) AS capability_key,
	    portfolio_key(substr(e, strpos(e, '=') + 1)) AS platform_key
	FROM regexp_split_to_table(ictmon_param('platforms') #>> '{}', ';') AS e
	WHERE strpos(e, '=') > 1 AND btrim(substr(e, strpos(e, '=') + 1)) <> ''),
active AS (
	SELECT p.id, p.capabilities, p.shared_platforms FROM project p
	WHERE p.status IN ('planned', 'in_progress') AND cardinality(p.capabilities) > 0),
-- Each distinct tag and platform name is normalised once, not once a project.
tags AS MATERIALIZED (
	SELECT t.tag, portfolio_key(t.tag) AS key
	FROM (SELECT DISTINCT c AS tag FROM active p, unnest(p.capabilities) AS c) t),
names AS MATERIALIZED (
	SELECT n.name, portfolio_key(n.name) AS key
	FROM (SELECT DISTINCT s AS name FROM active p, unnest(p.shared_platforms) AS s) n),
reused AS (
	SELECT p.id, n.key FROM active p
	CROSS JOIN LATERAL unnest(p.shared_platforms) AS s (name)
	JOIN names n ON n.name = s.name),
matches AS (
	SELECT p.id, jsonb_agg(DISTINCT jsonb_build_object('capability', r.capability,
		'platform', r.platform)) AS platforms,
	    count(DISTINCT r.capability_key) AS n
	FROM active p
	CROSS JOIN LATERAL unnest(p.capabilities) AS c (tag)
	JOIN tags t ON t.tag = c.tag
	JOIN registry r ON r.capability_key = t.key
	WHERE NOT EXISTS (SELECT 1 FROM reused u
	    WHERE u.id = p.id AND u.key = r.platform_key)
	GROUP BY p.id)
SELECT ictmon_run_id(), 'OVL-PLATFORM',
    'project ' || a.code || '/' || p.external_id, p.agency_id, ARRAY[p.agency_id], m.n,
    CASE WHEN m.n >= 2 THEN 'high' ELSE 'medium' END,
    coalesce(c.converted, p.planned_cost),
    CASE WHEN p.planned_cost IS NULL THEN NULL
	WHEN c.converted IS NOT NULL THEN ictmon_param('currency') #>> '{}'
	ELSE p.currency END,
    'OVL-PLATFORM:' || a.code || '/' || p.external_id,
    jsonb_build_object(
	'summary', 'Project ' || p.external_id || ' "' || left(p.title, 80) || '" of '
	    || a.code || coalesce(' (' || ictmon_money(p.planned_cost, p.currency)
		|| ')', '') || ' builds what '
	    || CASE WHEN m.n = 1 THEN 'a shared platform already provides'
		ELSE 'shared platforms already provide' END
	    || ', without reusing '
	    || CASE WHEN m.n = 1 THEN 'it: ' ELSE 'them: ' END
	    || (SELECT string_agg((x ->> 'capability') || ' (' || (x ->> 'platform') || ')',
		', ') FROM jsonb_array_elements(m.platforms) AS x) || '.',
	'currency', CASE WHEN p.planned_cost IS NULL THEN NULL
	    WHEN c.converted IS NOT NULL THEN ictmon_param('currency') #>> '{}'
	    ELSE p.currency END,
	'total', coalesce(c.converted, p.planned_cost),
	'agencies', jsonb_build_array(jsonb_build_object('code', a.code, 'name', a.name)),
	'rows', jsonb_build_array(portfolio_project_row(p, a.code)
	    || jsonb_build_object('capabilities', p.capabilities,
		'shared_platforms', p.shared_platforms)),
	'platforms', m.platforms)
FROM matches m
JOIN project p ON p.id = m.id
JOIN agency a ON a.id = p.agency_id
CROSS JOIN LATERAL (SELECT ictmon_amount(p.planned_cost, p.currency, current_date)
    AS converted) c;
