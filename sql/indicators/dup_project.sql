-- DUP-PROJECT, duplicate projects: agencies planning or building much the same thing
-- each on its own, when one project (or a shared platform) could serve them all.
--
-- Definition. Active projects (status in "statuses") are compared by their title and
-- description normalised by ictmon_normalize (lower case, accents and punctuation
-- removed, Spanish and English stop words removed: project.search_text). Two projects
-- form a pair when they belong to different agencies, share two of the ten rarest
-- words of each (below: how candidates are found), the pg_trgm similarity of their
-- normalised texts is at least "min_similarity", their date ranges overlap (from
-- planned_start to projected_end, else planned_end; a missing date leaves that end
-- open, so it never excludes a pair; an end before the start counts as the start) and,
-- when "require_shared_category", they have the same category (case-insensitive) or a
-- capability tag in common. Pairs that share a project join into clusters (connected
-- components); each cluster is one result.
--
-- Result: fingerprint "DUP-PROJECT:<agency code>/<external id>" of the cluster's
-- smallest project by (agency code, external id), byte order: stable while the
-- cluster keeps that project. value = the highest similarity of its pairs; amount =
-- combined planned cost in the base currency (costs without a rate are left out and
-- listed under "unconverted"; if none converts and all share one currency, that
-- currency); potential saving = combined cost - the largest project's. agency_id NULL,
-- agencies every agency of the cluster. Band: high when the highest similarity is at
-- least 0.7, or when the potential saving is at least twice the largest project's
-- cost (the cluster pays for the same project at least twice over); medium from
-- 0.55; low otherwise.
-- Evidence rows: the projects (at most 200); "pairs": [{a, b, similarity}] (at most
-- 200, most similar first); "terms": the normalised words found in at least two of
-- the cluster's projects, those in most projects first, at most 10.

-- Ratios reach us as JSON numbers; configured ratios have six decimals at most.
CREATE TEMP TABLE dup_project_param ON COMMIT DROP AS
SELECT round((ictmon_param('min_similarity') #>> '{}')::numeric, 6) AS min_similarity,
    ictmon_param_list('statuses') AS statuses,
    (ictmon_param('require_shared_category') #>> '{}')::boolean AS require_shared,
    ictmon_param('currency') #>> '{}' AS base;

CREATE TEMP TABLE dup_project_active ON COMMIT DROP AS
SELECT p.id, p.agency_id, a.code AS agency, p.external_id, p.title, p.status,
    p.search_text, lower(btrim(p.category)) AS category,
    ARRAY(SELECT DISTINCT lower(btrim(c)) FROM unnest(p.capabilities) AS c) AS capabilities,
    daterange(p.planned_start, CASE
	WHEN coalesce(p.projected_end, p.planned_end) < p.planned_start THEN p.planned_start
	ELSE coalesce(p.projected_end, p.planned_end) END, '[]') AS span,
    p.planned_start, p.planned_end, p.projected_end, p.planned_cost, p.currency,
    CASE WHEN p.currency = x.base THEN p.planned_cost
	ELSE ictmon_amount(p.planned_cost, p.currency, coalesce(p.planned_start,
	    current_date)) END AS base_cost
FROM project p
JOIN agency a ON a.id = p.agency_id
CROSS JOIN dup_project_param x
WHERE p.status = ANY (x.statuses) AND p.search_text <> '';
CREATE UNIQUE INDEX ON dup_project_active (id);
ANALYZE dup_project_active;

-- Candidates, without comparing every project with every other: each project's words
-- are ranked by how few active projects use them (words of one project alone cannot be
-- shared and are passed over), and two projects are compared only when they share two
-- of each one's ten rarest words (a project with one such word: that word). Texts alike
-- enough to be duplicates share most of their words, above all their rare ones. (A
-- probe of a trigram index per project would cost in proportion to the number of
-- projects: the common trigrams are in nearly every text.)
CREATE TEMP TABLE dup_project_word ON COMMIT DROP AS
SELECT DISTINCT a.id, w.word
FROM dup_project_active a
CROSS JOIN LATERAL regexp_split_to_table(a.search_text, ' ') AS w (word);

CREATE TEMP TABLE dup_project_key ON COMMIT DROP AS
WITH shared AS (
	SELECT word, count(*) AS projects FROM dup_project_word
	GROUP BY word HAVING count(*) > 1),
rare AS (
	SELECT w.id, w.word,
	    row_number() OVER (PARTITION BY w.id
		ORDER BY s.projects, w.word COLLATE "C") AS rank,
	    count(*) OVER (PARTITION BY w.id) AS words
	FROM dup_project_word w JOIN shared s ON s.word = w.word)
SELECT x.id, x.word || ' ' || y.word AS key
FROM rare x JOIN rare y ON y.id = x.id AND y.rank > x.rank
WHERE y.rank <= 10
UNION ALL
SELECT id, word FROM rare WHERE words = 1;
CREATE INDEX ON dup_project_key (key);
ANALYZE dup_project_key;

-- Pairs: the candidates that meet the cheap conditions, then the similarity (OFFSET 0
-- keeps it from being computed before them).
CREATE TEMP TABLE dup_project_pair ON COMMIT DROP AS
SELECT c.a, c.b, c.similarity
FROM (
	SELECT a.id AS a, b.id AS b,
	    similarity(a.search_text, b.search_text)::numeric AS similarity
	FROM (SELECT DISTINCT x.id AS a, y.id AS b FROM dup_project_key x
	    JOIN dup_project_key y ON y.key = x.key AND y.id > x.id) AS k
	JOIN dup_project_active a ON a.id = k.a
	JOIN dup_project_active b ON b.id = k.b
	CROSS JOIN dup_project_param x
	WHERE b.agency_id <> a.agency_id
	    AND a.span && b.span
	    AND (NOT x.require_shared OR a.category = b.category
		OR a.capabilities && b.capabilities)
	OFFSET 0
) AS c
CROSS JOIN dup_project_param x
WHERE c.similarity >= x.min_similarity;
ANALYZE dup_project_pair;

-- Connected components by label propagation: every project starts with its rank in
-- (agency code, external id) order and takes the smallest label of its neighbours
-- until nothing changes. Rounds: the longest shortest path in a cluster.
CREATE TEMP TABLE dup_project_node ON COMMIT DROP AS
SELECT n.id, row_number() OVER (ORDER BY x.agency COLLATE "C",
    x.external_id COLLATE "C") AS rank
FROM (SELECT a AS id FROM dup_project_pair UNION SELECT b FROM dup_project_pair) AS n
JOIN dup_project_active x ON x.id = n.id;
ALTER TABLE dup_project_node ADD COLUMN label bigint;
UPDATE dup_project_node SET label = rank;
CREATE UNIQUE INDEX ON dup_project_node (id);
CREATE INDEX ON dup_project_pair (a);
ANALYZE dup_project_node;

DO $$
BEGIN
	LOOP
		UPDATE dup_project_node n SET label = m.label
		FROM (
			SELECT e.x, min(o.label) AS label
			FROM (SELECT a AS x, b AS y FROM dup_project_pair
			    UNION ALL SELECT b, a FROM dup_project_pair) AS e
			JOIN dup_project_node o ON o.id = e.y
			GROUP BY e.x
		) AS m
		WHERE n.id = m.x AND m.label < n.label;
		EXIT WHEN NOT FOUND;
	END LOOP;
END
$$;
CREATE INDEX ON dup_project_node (label);
ANALYZE dup_project_node;

CREATE TEMP TABLE dup_project_cluster ON COMMIT DROP AS
SELECT n.label, count(*) AS projects, count(DISTINCT x.agency_id) AS agencies,
    array_agg(DISTINCT x.agency_id ORDER BY x.agency_id) AS agency_ids,
    (SELECT max(q.similarity) FROM dup_project_pair q
	JOIN dup_project_node qa ON qa.id = q.a WHERE qa.label = n.label) AS similarity,
    count(x.planned_cost) AS costed, count(x.base_cost) AS converted,
    count(DISTINCT x.currency) FILTER (WHERE x.planned_cost IS NOT NULL) AS currencies,
    sum(x.base_cost) AS base_total, max(x.base_cost) AS base_largest,
    sum(x.planned_cost) AS own_total, max(x.planned_cost) AS own_largest,
    min(x.currency) FILTER (WHERE x.planned_cost IS NOT NULL) AS own_currency
FROM dup_project_node n JOIN dup_project_active x ON x.id = n.id
GROUP BY n.label;

INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies, value, band,
    amount, currency, fingerprint, evidence)
SELECT ictmon_run_id(), 'DUP-PROJECT',
    'projects ' || k.agency || '/' || k.external_id || ' + ' || (c.projects - 1)
	|| ' similar · ' || c.agencies || ' agencies',
    NULL, c.agency_ids, c.similarity,
    CASE WHEN c.similarity >= 0.7
	    OR (m.largest > 0 AND m.total - m.largest >= 2 * m.largest) THEN 'high'
	WHEN c.similarity >= 0.55 THEN 'medium'
	ELSE 'low' END,
    m.total, m.currency,
    'DUP-PROJECT:' || k.agency || '/' || k.external_id,
    jsonb_build_object(
	'summary', c.projects || ' similar projects in ' || c.agencies || ' agencies, e.g. "'
	    || k.title || '" (' || k.agency || '), similarity up to ' || c.similarity::text
	    || CASE WHEN m.total IS NOT NULL
		THEN ': combined cost ' || ictmon_money(m.total, m.currency)
		    || ', potential saving ' || ictmon_money(m.total - m.largest, m.currency)
		ELSE '' END || '.',
	'currency', m.currency,
	'total', m.total,
	'potential_saving', m.total - m.largest,
	'similarity', c.similarity,
	'agencies', ag.list,
	'rows', pr.rows,
	'rows_total', c.projects,
	'pairs', pa.pairs,
	'pairs_total', pa.total,
	'terms', coalesce(te.terms, '[]'),
	'unconverted', coalesce(uc.list, '[]'))
FROM dup_project_cluster c
CROSS JOIN dup_project_param x
-- The cluster's key: the project its label names.
JOIN dup_project_node kn ON kn.rank = c.label
JOIN dup_project_active k ON k.id = kn.id
-- Its money: in the base currency when any cost converts (or none is given), else in
-- the one currency they all share.
CROSS JOIN LATERAL (SELECT
	CASE WHEN c.converted > 0 OR c.costed = 0 THEN x.base
	    WHEN c.currencies = 1 THEN c.own_currency END AS currency,
	CASE WHEN c.converted > 0 THEN c.base_total
	    WHEN c.costed > 0 AND c.currencies = 1 THEN c.own_total END AS total,
	CASE WHEN c.converted > 0 THEN c.base_largest
	    WHEN c.costed > 0 AND c.currencies = 1 THEN c.own_largest END AS largest
) AS m
CROSS JOIN LATERAL (
	SELECT jsonb_agg(jsonb_build_object('code', g.code, 'name', g.name)
	    ORDER BY g.code COLLATE "C") AS list
	FROM agency g WHERE g.id = ANY (c.agency_ids)
) AS ag
CROSS JOIN LATERAL (
	SELECT jsonb_agg(jsonb_build_object('kind', 'project', 'project_id', y.id,
	    'external_id', y.external_id, 'agency', y.agency, 'title', y.title,
	    'planned_cost', y.planned_cost, 'currency', y.currency, 'status', y.status,
	    'planned_start', y.planned_start, 'planned_end', y.planned_end,
	    'projected_end', y.projected_end)
	    ORDER BY y.agency COLLATE "C", y.external_id COLLATE "C") AS rows
	FROM (SELECT z.* FROM dup_project_node n JOIN dup_project_active z ON z.id = n.id
	    WHERE n.label = c.label ORDER BY n.rank LIMIT 200) AS y
) AS pr
CROSS JOIN LATERAL (
	SELECT jsonb_agg(jsonb_build_object('a', q.a_key, 'b', q.b_key,
	    'similarity', q.similarity) ORDER BY q.similarity DESC, q.a_key COLLATE "C",
	    q.b_key COLLATE "C") AS pairs, max(q.total) AS total
	FROM (
		SELECT pa.agency || '/' || pa.external_id AS a_key,
		    pb.agency || '/' || pb.external_id AS b_key, q.similarity,
		    count(*) OVER () AS total
		FROM dup_project_pair q
		JOIN dup_project_node qa ON qa.id = q.a
		JOIN dup_project_active pa ON pa.id = q.a
		JOIN dup_project_active pb ON pb.id = q.b
		WHERE qa.label = c.label
		ORDER BY q.similarity DESC,
		    (pa.agency || '/' || pa.external_id) COLLATE "C",
		    (pb.agency || '/' || pb.external_id) COLLATE "C"
		LIMIT 200
	) AS q
) AS pa
CROSS JOIN LATERAL (
	SELECT jsonb_agg(w.word ORDER BY w.n DESC, w.word COLLATE "C") AS terms
	FROM (
		SELECT t.word, count(*) AS n
		FROM dup_project_node n
		JOIN dup_project_active z ON z.id = n.id
		CROSS JOIN LATERAL (SELECT DISTINCT word
		    FROM regexp_split_to_table(z.search_text, ' ') AS word) AS t
		WHERE n.label = c.label
		GROUP BY t.word
		HAVING count(*) >= 2
		ORDER BY count(*) DESC, t.word COLLATE "C"
		LIMIT 10
	) AS w
) AS te
CROSS JOIN LATERAL (
	SELECT jsonb_agg(jsonb_build_object('currency', u.currency, 'amount', u.amount)
	    ORDER BY u.currency) AS list
	FROM (
		SELECT z.currency, sum(z.planned_cost) AS amount
		FROM dup_project_node n JOIN dup_project_active z ON z.id = n.id
		WHERE n.label = c.label AND c.converted > 0
		    AND z.planned_cost IS NOT NULL AND z.base_cost IS NULL
		GROUP BY z.currency
	) AS u
) AS uc;
