-- What the portfolio indicators (CV, SV, BUDGET-EXEC, CONC-VENDOR, UNREVIEWED-SPEND,
-- COORD-INDEX, FEED-STALE, OVL-PLATFORM) share with each other and with the read API:
-- one formula for cost and schedule variance, one rule for a rebaseline, one reading of
-- which budget lines and awards are ICT, and when an agency last delivered data. Each
-- rule is written once here so that an indicator and GET /v1/projects never disagree.

-- Cost and schedule variance as the US IT Dashboard computes them. The estimate is the
-- projected cost (end), or the actual one once the project is completed (the projected
-- one if the actual is missing). CV = planned cost - estimate, CV% = CV / planned cost x
-- 100; SV days = planned end - estimated end, SV% = SV days / (planned end - planned
-- start) x 100. Percentages are rounded to two decimals, and the band is read from the
-- rounded figure, so what is shown is what is banded: |%| <= medium is low, <= high
-- medium, beyond high; 'none' when a figure is missing or the planned cost or duration
-- is zero (CV and SV days are still given when both of their terms are known). A
-- positive variance is under budget or ahead of schedule; both directions are banded.
-- A set-returning SQL function of one SELECT: the planner inlines it into the query.
CREATE FUNCTION project_variance(status text, planned_cost numeric,
    projected_cost numeric, actual_cost numeric, planned_start date, planned_end date,
    projected_end date, actual_end date, cost_medium numeric, cost_high numeric,
    schedule_medium numeric, schedule_high numeric)
RETURNS TABLE (cost_estimate numeric, cost_basis text, cv numeric, cv_percent numeric,
    cost_band text, end_estimate date, end_basis text, sv_days integer,
    sv_percent numeric, schedule_band text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT e.cost, e.cost_basis, $2 - e.cost, c.pct,
	    CASE WHEN c.pct IS NULL THEN 'none' WHEN abs(c.pct) <= $9 THEN 'low'
		WHEN abs(c.pct) <= $10 THEN 'medium' ELSE 'high' END,
	    e.finish, e.end_basis, $6 - e.finish, s.pct,
	    CASE WHEN s.pct IS NULL THEN 'none' WHEN abs(s.pct) <= $11 THEN 'low'
		WHEN abs(s.pct) <= $12 THEN 'medium' ELSE 'high' END
	FROM (SELECT
		CASE WHEN $1 = 'completed' AND $4 IS NOT NULL THEN $4 ELSE $3 END AS cost,
		CASE WHEN $1 = 'completed' AND $4 IS NOT NULL THEN 'actual'
		    WHEN $3 IS NOT NULL THEN 'projected' END AS cost_basis,
		CASE WHEN $1 = 'completed' AND $8 IS NOT NULL THEN $8 ELSE $7 END AS finish,
		CASE WHEN $1 = 'completed' AND $8 IS NOT NULL THEN 'actual'
		    WHEN $7 IS NOT NULL THEN 'projected' END AS end_basis) e,
	    LATERAL (SELECT CASE WHEN $2 > 0
		THEN round(($2 - e.cost) / $2 * 100, 2) END AS pct) c,
	    LATERAL (SELECT CASE WHEN $6 > $5
		THEN round(($6 - e.finish)::numeric / ($6 - $5) * 100, 2) END AS pct) s
$$;
COMMENT ON FUNCTION project_variance(text, numeric, numeric, numeric, date, date, date,
    date, numeric, numeric, numeric, numeric) IS
    'IT Dashboard cost and schedule variance of a project, with bands from the given '
    'medium and high percentages.';

-- The same for a version of a project as project_version.data holds it (the record as
-- accepted: field names are the project table's columns, dates YYYY-MM-DD, amounts JSON
-- numbers).
-- This function and the small ones below are STABLE, not IMMUTABLE, as what they call
-- (a text to date cast, to_char, jsonb_build_object) is: the planner inlines a SQL
-- function only when it is declared no stricter than its body, and a call that is not
-- inlined costs microseconds a row.
CREATE FUNCTION project_variance(data jsonb, cost_medium numeric, cost_high numeric,
    schedule_medium numeric, schedule_high numeric)
RETURNS TABLE (cost_estimate numeric, cost_basis text, cv numeric, cv_percent numeric,
    cost_band text, end_estimate date, end_basis text, sv_days integer,
    sv_percent numeric, schedule_band text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT * FROM project_variance($1 ->> 'status', ($1 ->> 'planned_cost')::numeric,
	    ($1 ->> 'projected_cost')::numeric, ($1 ->> 'actual_cost')::numeric,
	    ($1 ->> 'planned_start')::date, ($1 ->> 'planned_end')::date,
	    ($1 ->> 'projected_end')::date, ($1 ->> 'actual_end')::date, $2, $3, $4, $5)
$$;

-- A rebaseline: a version that changes a planned figure the previous version had
-- (planned cost, start or end). Setting one for the first time is not a rebaseline;
-- withdrawing one is.
CREATE FUNCTION project_rebaselined(previous jsonb, current jsonb) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT $1 IS NOT NULL AND (
	    ($1 ? 'planned_cost' AND ($1 ->> 'planned_cost')::numeric
		IS DISTINCT FROM ($2 ->> 'planned_cost')::numeric)
	    OR ($1 ? 'planned_start' AND ($1 ->> 'planned_start')::date
		IS DISTINCT FROM ($2 ->> 'planned_start')::date)
	    OR ($1 ? 'planned_end' AND ($1 ->> 'planned_end')::date
		IS DISTINCT FROM ($2 ->> 'planned_end')::date))
$$;

-- How many times a project was rebaselined over all its versions.
CREATE FUNCTION project_rebaselines(project_id bigint) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT count(*) FILTER (WHERE project_rebaselined(v.previous, v.data))::integer
	FROM (SELECT data, lag(data) OVER (ORDER BY version) AS previous
	    FROM project_version WHERE project_version.project_id = $1) v
$$;

-- Every project with its variance now and as it stood `months` ago, which CV and SV
-- both report: the project row, its agency, project_variance() with the given bands,
-- the rebaseline count, and the version in force `months` ago (the newest one from
-- before then; a project younger than that is measured from its first version) with
-- its CV% and SV%. A function of its own so that the two indicators read one history.
CREATE FUNCTION project_variance_history(medium numeric, high numeric, months integer)
RETURNS TABLE (p project, agency_code text, agency_name text, cost_estimate numeric,
    cost_basis text, cv numeric, cv_percent numeric, cost_band text, end_estimate date,
    end_basis text, sv_days integer, sv_percent numeric, schedule_band text,
    rebaselines integer, then_version integer, then_from timestamptz,
    then_cv_percent numeric, then_sv_percent numeric)
LANGUAGE sql STABLE AS $$
	WITH versions AS (
		SELECT v.project_id, v.version, v.valid_from, v.data,
		    project_rebaselined(lag(v.data) OVER w, v.data) AS rebaselined
		FROM project_version v
		WINDOW w AS (PARTITION BY v.project_id ORDER BY v.version)),
	history AS (
		SELECT DISTINCT ON (v.project_id) v.project_id,
		    count(*) FILTER (WHERE v.rebaselined) OVER (PARTITION BY v.project_id)
			AS rebaselines,
		    v.version AS then_version, v.valid_from AS then_from,
		    v.data AS then_data
		FROM versions v,
		    LATERAL (SELECT now() - make_interval(months => $3) AS since) s
		ORDER BY v.project_id, v.valid_from <= s.since DESC,
		    CASE WHEN v.valid_from <= s.since THEN v.version END DESC NULLS LAST,
		    v.version)
	SELECT p, a.code, a.name, v.*, coalesce(h.rebaselines, 0)::integer,
	    h.then_version, h.then_from, t.cv_percent, t.sv_percent
	FROM project p
	JOIN agency a ON a.id = p.agency_id
	CROSS JOIN LATERAL project_variance(p.status, p.planned_cost, p.projected_cost,
	    p.actual_cost, p.planned_start, p.planned_end, p.projected_end, p.actual_end,
	    $1, $2, $1, $2) v
	LEFT JOIN history h ON h.project_id = p.id
	LEFT JOIN LATERAL project_variance(h.then_data, $1, $2, $1, $2) t ON true
$$;

-- The economic classification of a budget line as written in the configuration and in
-- project.budget_lines: 'SS', 'SS.II' or 'SS.II.AAA'.
CREATE FUNCTION budget_classification(subtitulo smallint, item smallint,
    asignacion smallint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT lpad($1::text, 2, '0') || coalesce('.' || lpad($2::text, 2, '0'), '')
	    || coalesce('.' || lpad($3::text, 3, '0'), '')
$$;

-- Whether `classification` falls under one of `entries`: equal to one, or below it
-- ('29.07.002' is under '29.07'; '22.04' is not under '22.04.009').
CREATE FUNCTION budget_classification_under(classification text, entries text[])
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT EXISTS (SELECT 1 FROM unnest($2) AS e WHERE starts_with($1 || '.', e || '.'))
$$;

-- Whether two classifications name the same money: one equals the other or is above
-- it. A project that lists '29.07' spends from the line '29.07.002', and one that lists
-- '29.07.002' from a line reported only at '29.07'.
CREATE FUNCTION budget_classification_linked(a text, b text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT $1 = $2 OR starts_with($1, $2 || '.') OR starts_with($2, $1 || '.')
$$;

-- The ICT budget (classifications under the general parameter ict_budget) of the
-- running indicator: one row per agency, fiscal year, program, classification and
-- currency, with the yearly amount of each phase: the yearly line when there is one,
-- else the sum of the monthly lines. A line below another matching line of the same
-- program, phase and currency (an asignación under its ítem) is left out: the ítem
-- already holds it. `base` is what execution is measured against: modified where
-- present, else approved. money_currency is the base currency when a rate converts the
-- line's currency (ictmon_amount at the start of the fiscal year), else the line's own;
-- base_money, accrued_money and budget_money (modified, approved or else accrued: the
-- line's size) are in it.
CREATE FUNCTION portfolio_ict_budget()
RETURNS TABLE (agency_id bigint, fiscal_year smallint, program text,
    classification text, currency text, approved numeric, modified numeric,
    accrued numeric, base_phase text, base numeric, money_currency text,
    base_money numeric, accrued_money numeric, budget_money numeric, line_ids bigint[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	-- The configured classifications, without those under another one: a line then
	-- matches at most one, and a join finds it (a function call a line costs more).
	WITH entries AS (
		SELECT e FROM unnest(ictmon_param_list('ict_budget')) AS e
		WHERE NOT budget_classification_under(e, array_remove(
		    ictmon_param_list('ict_budget'), e))
		GROUP BY e),
	ict AS MATERIALIZED (
		SELECT b.id, b.agency_id, b.fiscal_year, b.program, b.subtitulo, b.item,
		    b.asignacion, b.phase, b.period, b.amount, b.currency, c.cls
		FROM budget_line b
		CROSS JOIN LATERAL (SELECT budget_classification(b.subtitulo, b.item,
		    b.asignacion) AS cls) c
		JOIN entries e ON starts_with(c.cls || '.', e.e || '.')
		WHERE b.phase IN ('approved', 'modified', 'accrued')),
	kept AS (
		SELECT i.* FROM ict i WHERE i.asignacion IS NULL
		UNION ALL
		SELECT i.* FROM ict i
		WHERE i.asignacion IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ict u
		    WHERE u.asignacion IS NULL AND u.agency_id = i.agency_id
			AND u.fiscal_year = i.fiscal_year AND u.program = i.program
			AND u.subtitulo = i.subtitulo AND u.item = i.item
			AND u.phase = i.phase AND u.currency = i.currency)),
	phases AS (
		SELECT k.agency_id, k.fiscal_year, k.program, k.cls, k.currency, k.phase,
		    CASE WHEN bool_or(k.period IS NULL)
			THEN sum(k.amount) FILTER (WHERE k.period IS NULL)
			ELSE sum(k.amount) END AS amount,
		    CASE WHEN bool_or(k.period IS NULL)
			THEN array_agg(k.id) FILTER (WHERE k.period IS NULL)
			ELSE array_agg(k.id) END AS ids
		FROM kept k
		GROUP BY k.agency_id, k.fiscal_year, k.program, k.cls, k.currency, k.phase),
	lines AS (
		SELECT p.agency_id, p.fiscal_year, p.program, p.cls, p.currency,
		    max(p.amount) FILTER (WHERE p.phase = 'approved') AS approved,
		    max(p.amount) FILTER (WHERE p.phase = 'modified') AS modified,
		    max(p.amount) FILTER (WHERE p.phase = 'accrued') AS accrued,
		    array_agg(x ORDER BY x) AS ids,
		    ictmon_amount(1, p.currency, make_date(p.fiscal_year, 1, 1)) AS rate
		-- A phase's row repeats once per line id: max() is not changed by that.
		FROM phases p CROSS JOIN LATERAL unnest(p.ids) AS x
		GROUP BY p.agency_id, p.fiscal_year, p.program, p.cls, p.currency)
	SELECT l.agency_id, l.fiscal_year, l.program, l.cls, l.currency, l.approved,
	    l.modified, l.accrued,
	    CASE WHEN l.modified IS NOT NULL THEN 'modified'
		WHEN l.approved IS NOT NULL THEN 'approved' END,
	    coalesce(l.modified, l.approved),
	    CASE WHEN l.rate IS NOT NULL THEN (SELECT ictmon_param('currency') #>> '{}')
		ELSE l.currency END,
	    coalesce(l.modified, l.approved) * coalesce(l.rate, 1),
	    l.accrued * coalesce(l.rate, 1),
	    coalesce(l.modified, l.approved, l.accrued) * coalesce(l.rate, 1),
	    l.ids
	FROM lines l
$$;

-- The same, computed once per run into the temporary table portfolio_ict_budget_line
-- (dropped at commit) for the indicators that read it; returns its rows.
CREATE FUNCTION portfolio_prepare_ict_budget() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n bigint;
BEGIN
	IF to_regclass('pg_temp.portfolio_ict_budget_line') IS NULL THEN
		CREATE TEMP TABLE portfolio_ict_budget_line ON COMMIT DROP AS
		SELECT * FROM portfolio_ict_budget();
		ANALYZE portfolio_ict_budget_line;
	END IF;
	SELECT count(*) INTO n FROM pg_temp.portfolio_ict_budget_line;
	RETURN n;
END
$$;

-- The ICT awards, computed once per run into the temporary table portfolio_ict_award
-- (dropped at commit) for the indicators that read them. It builds on the overlap
-- indicators' classes (ictmon_prepare_classes() in 007), so that a run reads the items
-- once and both families agree on what an award is: an award is ICT when one of its
-- classes holds an item classified UNSPSC under a prefix of the general parameter
-- ict_unspsc (digits compared; codes shorter than class_digits have no class); its
-- classes are those of its own items, or, when none of them has a UNSPSC or CPV class,
-- its tender's; `classification` is the smallest such ICT code, as written. Only
-- awards that stand count, as in the overlap indicators: status "active" or none
-- (pending, cancelled and unsuccessful ones are left out); and awards without an
-- amount. Awards without a date or a buyer do count (the portfolio's totals). Each row
-- carries the amount converted to the base currency (money_amount, money_currency),
-- or in its own currency when no rate converts it; `framework` when its tender's
-- procurementMethodDetails names one of framework_methods; `suppliers` the ids of its
-- suppliers (in no particular order). Every table is read whole, so every join is a
-- hash join: the planner, misled by the two-column join with a temporary table,
-- would otherwise sort the awards or probe the tenders one by one. And it is not
-- compiled with JIT: inlining and optimising the statement took longer (1.8 s) than
-- the compiled code saved.
CREATE FUNCTION portfolio_prepare_ict_awards() RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET jit = off SET enable_nestloop = off SET enable_mergejoin = off AS $$
DECLARE
	n bigint;
BEGIN
	IF to_regclass('pg_temp.portfolio_ict_award') IS NOT NULL THEN
		SELECT count(*) INTO n FROM pg_temp.portfolio_ict_award;
		RETURN n;
	END IF;
	PERFORM ictmon_prepare_classes();
	-- One row per ICT award, analysed: the planner then knows how many awards it
	-- joins (on a grouped sub-select it guessed one, and chose its joins for one).
	CREATE TEMP TABLE portfolio_ict_class ON COMMIT DROP AS
	SELECT c.ocid, c.award_id, min(c.ict_code) AS classification
	FROM pg_temp.ictmon_award_class c
	WHERE c.ict_code IS NOT NULL
	GROUP BY c.ocid, c.award_id;
	ANALYZE portfolio_ict_class;
	CREATE TEMP TABLE portfolio_ict_award ON COMMIT DROP AS
	WITH patterns AS MATERIALIZED (
		SELECT ictmon_param_like('framework_methods') AS framework,
		    ictmon_param('currency') #>> '{}' AS base_currency),
	ict AS (
		SELECT a.*, c.classification
		FROM award a
		JOIN pg_temp.portfolio_ict_class c
		    ON c.ocid = a.ocid AND c.award_id = a.award_id
		WHERE a.value_amount IS NOT NULL AND a.currency IS NOT NULL
		    AND (a.status IS NULL OR a.status = 'active' OR lower(a.status) = 'active'))
	SELECT a.ocid, a.award_id, a.buyer_agency_id, a.title, a.status, a.date,
	    a.value_amount AS amount, a.currency,
	    coalesce(c.converted, a.value_amount) AS money_amount,
	    CASE WHEN c.converted IS NOT NULL THEN pt.base_currency
		ELSE a.currency END AS money_currency,
	    t.method,
	    coalesce(lower(t.method_details) LIKE ANY (pt.framework), false) AS framework,
	    a.classification, coalesce(s.suppliers, '{}') AS suppliers
	FROM ict a
	CROSS JOIN patterns pt
	LEFT JOIN tender t ON t.ocid = a.ocid
	LEFT JOIN (SELECT s.ocid, s.award_id,
		array_agg(s.supplier_id) AS suppliers
	    FROM award_supplier s GROUP BY s.ocid, s.award_id) s
	    ON s.ocid = a.ocid AND s.award_id = a.award_id
	-- ictmon_amount() costs microseconds a call: only for foreign currencies.
	CROSS JOIN LATERAL (SELECT CASE WHEN a.currency = pt.base_currency
	    THEN a.value_amount ELSE ictmon_amount(a.value_amount, a.currency,
		(a.date AT TIME ZONE 'UTC')::date) END AS converted) c;
	ANALYZE portfolio_ict_award;
	DROP TABLE pg_temp.portfolio_ict_class;
	SELECT count(*) INTO n FROM pg_temp.portfolio_ict_award;
	RETURN n;
END
$$;
COMMENT ON FUNCTION portfolio_prepare_ict_awards() IS
    'Fills the temporary table portfolio_ict_award (the ICT awards, once per run, from '
    'ictmon_award_class) and returns its rows.';

-- When data about each agency last arrived, and whether it has any: its own pushes
-- and feed pulls (ingest batches of the agency), its feeds' last success, and the
-- batches and compilations that wrote its projects, budget lines and awards (a
-- multi-agency feed's batch has no agency of its own). An agency without projects,
-- budget lines or awards as buyer has no data (has_data false) and may never have
-- delivered (last_delivery NULL).
CREATE FUNCTION portfolio_agency_delivery()
RETURNS TABLE (agency_id bigint, has_data boolean, last_delivery timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	WITH seen AS (
		SELECT b.agency_id, b.finished_at AS at, false AS data FROM ingest_batch b
		WHERE b.status = 'done' AND b.agency_id IS NOT NULL
		UNION ALL
		SELECT f.agency_id, f.last_success_at, false FROM feed_source f
		WHERE f.agency_id IS NOT NULL AND f.last_success_at IS NOT NULL
		UNION ALL
		SELECT p.agency_id, max(b.finished_at), true FROM project p
		LEFT JOIN project_version v ON v.project_id = p.id
		LEFT JOIN ingest_batch b ON b.id = v.batch_id AND b.status = 'done'
		GROUP BY p.agency_id
		UNION ALL
		SELECT l.agency_id, max(b.finished_at), true FROM budget_line l
		LEFT JOIN ingest_batch b ON b.id = l.batch_id AND b.status = 'done'
		GROUP BY l.agency_id
		UNION ALL
		SELECT c.buyer_agency_id, max(c.compiled_at), true FROM ocds_compiled c
		WHERE c.buyer_agency_id IS NOT NULL
		GROUP BY c.buyer_agency_id)
	SELECT s.agency_id, bool_or(s.data), max(s.at) FROM seen s GROUP BY s.agency_id
$$;

-- A project as an evidence row (the contract's {"kind": "project", ...}).
CREATE FUNCTION portfolio_project_row(p project, agency_code text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT jsonb_build_object('kind', 'project', 'project_id', $1.id,
	    'external_id', $1.external_id, 'agency', $2, 'title', $1.title,
	    'category', $1.category, 'planned_cost', $1.planned_cost,
	    'currency', $1.currency, 'status', $1.status,
	    'review_status', $1.review_status)
$$;

-- A tag or name as compared across agencies: without case, accents, spaces or
-- punctuation ("Clave Única" and "claveunica", "Digital signature" and
-- "digital_signature" are the same).
CREATE FUNCTION portfolio_key(name text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT lower(regexp_replace(unaccent($1), '[^[:alnum:]]+', '', 'g'))
$$;
