-- What the overlap indicators (DUP-PROJECT, OVL-SPEND, OVL-TENDER, SPLIT, REPEAT-DIRECT)
-- need beyond 006: project text normalised for similarity, and the
-- small immutable readers of classifications and amounts their SQL shares.

-- pg_trgm and unaccent were created by 001 (both trusted: the database owner may).

-- Text as DUP-PROJECT compares it: lower case, accents removed, every run of characters
-- other than a-z and 0-9 a single space, then Spanish and English stop words and
-- one-character words removed. The stop words are a fixed list in the pattern: an
-- IMMUTABLE function must not read a table, and one regular expression is much
-- cheaper than a lookup per word. unaccent() is only STABLE because its dictionary
-- could be changed; ictmon never changes it, and the stored search_text below needs
-- an IMMUTABLE expression. The body is parsed here (SQL-standard body), so the
-- extension's functions are bound now, whatever the caller's search_path.
CREATE FUNCTION ictmon_normalize(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN btrim(regexp_replace(regexp_replace(
	' ' || regexp_replace(lower(unaccent('unaccent'::regdictionary, t)),
	    '[^a-z0-9]+', ' ', 'g') || ' ',
	'\m(?:[a-z0-9]'
	-- Spanish (accents already removed)
	'|al|algo|algun|alguna|algunas|alguno|algunos|ante|antes|aqui|asi|aun|bajo|cada'
	'|como|con|contra|cual|cuales|cuando|de|del|desde|donde|durante|el|ella|ellas'
	'|ellos|en|entre|era|eran|es|esa|esas|ese|eso|esos|esta|estan|estas|este|esto'
	'|estos|fue|fueron|ha|han|hacia|hasta|hay|la|las|le|les|lo|los|mas|me|mediante'
	'|mi|mis|mucho|muchos|muy|nada|ni|no|nos|nosotros|nuestra|nuestras|nuestro'
	'|nuestros|otra|otras|otro|otros|para|pero|poco|por|porque|que|quien|quienes'
	'|se|segun|ser|sera|si|sido|sin|sobre|son|su|sus|tambien|tanto|te|tiene|tienen'
	'|toda|todas|todo|todos|tras|tu|tus|un|una|unas|uno|unos|ya|yo'
	-- English
	'|about|after|all|also|an|and|any|are|as|at|be|been|being|both|but|by|can|could'
	'|did|do|does|each|for|from|had|has|have|he|her|his|how|if|in|into|is|it|its'
	'|more|most|not|of|on|only|or|other|our|out|over|per|she|should|so|some|such'
	'|than|that|the|their|them|then|there|these|they|this|those|through|to|under'
	'|up|upon|very|via|was|we|were|what|when|where|which|while|who|will|with'
	'|within|would|you|your'
	')\M', ' ', 'g'),
	' {2,}', ' ', 'g'));
COMMENT ON FUNCTION ictmon_normalize(text) IS
    'Text for similarity: lower case, no accents, no punctuation, no Spanish or English '
    'stop words, words separated by single spaces.';

-- Stored rather than an expression index, so that the indicator's SQL and the index
-- cannot drift apart, and each project is normalised once, when it is written.
ALTER TABLE project ADD COLUMN search_text text
    GENERATED ALWAYS AS (ictmon_normalize(title || ' ' || coalesce(description, '')))
    STORED;
COMMENT ON COLUMN project.search_text IS
    'ictmon_normalize(title || description): what DUP-PROJECT compares.';

-- The ICT prefixes of CPV codes, for the indicators' "ict_cpv" parameter when the
-- configuration has none: computer equipment (302), network equipment (324),
-- software packages (48), IT services (72).
CREATE FUNCTION ictmon_ict_cpv() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN cardinality(ictmon_param_list('ict_cpv')) > 0
	THEN ictmon_param_list('ict_cpv') ELSE '{302,324,48,72}' END;

-- A list parameter as LIKE patterns that find any of its entries inside a text
-- (lower(text) LIKE ANY (...)): the "framework_methods" test. The entries are
-- escaped, so a '_' or '%' in one is matched as itself.
CREATE FUNCTION ictmon_param_like(name text) RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ARRAY(SELECT '%' || replace(replace(replace(x, '\', '\\'), '%', '\%'),
	'_', '\_') || '%' FROM unnest(ictmon_param_list(name)) AS x);

-- The classification classes of every award and every tender, built once per
-- transaction (an indicator run) into two temporary tables that the overlap
-- indicators and portfolio_prepare_ict_awards() (008) read:
--   ictmon_tender_class (ocid, class, ict, ict_code)
--   ictmon_award_class (ocid, award_id, class, ict, ict_code)
-- class is 'UNSPSC 432332' (the first "class_digits" digits of a UNSPSC code) or
-- 'CPV 302' (the first "cpv_digits" of a CPV code); digits only, so a CPV check digit
-- after its dash ("30213100-6") is ignored; codes too short for a class and other
-- schemes have none. ict: the code starts with one of "ict_unspsc" (UNSPSC) or of
-- ictmon_ict_cpv() (CPV). An award's classes are those of its own items, or, when
-- none of them has a class, those of its tender's items (as GET /v1/awards shows
-- them); that choice is made before any ICT filter, so an award of non-ICT items
-- never borrows its tender's ICT ones. ict_code: the smallest classification_id, as
-- written, of the class's ICT UNSPSC items (NULL when it has none), which the
-- portfolio indicators show. Items are read once for all the indicators of a run: the
-- tables are rebuilt only when the general parameters differ from those they were
-- built with.
CREATE FUNCTION ictmon_prepare_classes() RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
	unspsc_digits int := (ictmon_param('class_digits') #>> '{}')::int;
	cpv_digits int := (ictmon_param('cpv_digits') #>> '{}')::int;
	ict_unspsc text[] := ictmon_param_list('ict_unspsc');
	ict_cpv text[] := ictmon_ict_cpv();
	key text := concat_ws('|', unspsc_digits, cpv_digits, array_to_string(ict_unspsc, ','),
	    array_to_string(ict_cpv, ','));
BEGIN
	IF to_regclass('pg_temp.ictmon_award_class') IS NOT NULL THEN
		IF current_setting('ictmon.classes_key', true) = key THEN
			RETURN;
		END IF;
		DROP TABLE pg_temp.ictmon_award_class, pg_temp.ictmon_tender_class;
	END IF;
	IF unspsc_digits IS NULL OR unspsc_digits < 1 OR cpv_digits IS NULL OR
	    cpv_digits < 1 THEN
		RAISE EXCEPTION 'class_digits and cpv_digits must be positive integers';
	END IF;

	-- OFFSET 0 keeps the sub-select from being flattened, which would evaluate the
	-- regular expression once per use of d instead of once per item.
	CREATE TEMP TABLE ictmon_item_class ON COMMIT DROP AS
	SELECT ocid, parent_kind, parent_id, class, bool_or(ict) AS ict,
	    min(classification_id) FILTER (WHERE ict AND s = 'UNSPSC') AS ict_code
	FROM (
		SELECT ocid, parent_kind, parent_id, s, classification_id,
		    CASE s
			WHEN 'UNSPSC' THEN CASE WHEN length(d) >= unspsc_digits
			    THEN 'UNSPSC ' || left(d, unspsc_digits) END
			WHEN 'CPV' THEN CASE WHEN length(d) >= cpv_digits
			    THEN 'CPV ' || left(d, cpv_digits) END
		    END AS class,
		    coalesce(CASE s WHEN 'UNSPSC' THEN d ^@ ANY (ict_unspsc)
			ELSE d ^@ ANY (ict_cpv) END, false) AS ict
		FROM (
			SELECT i.ocid, i.parent_kind, i.parent_id, i.classification_id,
			    upper(btrim(i.classification_scheme)) AS s,
			    regexp_replace(i.classification_id, '[^0-9]+', '', 'g') AS d
			FROM item i
			WHERE i.parent_kind IN ('award', 'tender')
			    AND upper(btrim(i.classification_scheme)) IN ('UNSPSC', 'CPV')
			OFFSET 0
		) AS coded
	) AS classed
	WHERE class IS NOT NULL
	GROUP BY ocid, parent_kind, parent_id, class;
	ANALYZE pg_temp.ictmon_item_class;

	CREATE TEMP TABLE ictmon_tender_class ON COMMIT DROP AS
	SELECT ocid, class, ict, ict_code FROM pg_temp.ictmon_item_class
	WHERE parent_kind = 'tender';
	ANALYZE pg_temp.ictmon_tender_class;

	CREATE TEMP TABLE ictmon_award_class ON COMMIT DROP AS
	SELECT ocid, parent_id AS award_id, class, ict, ict_code
	FROM pg_temp.ictmon_item_class
	WHERE parent_kind = 'award'
	UNION ALL
	SELECT a.ocid, a.award_id, t.class, t.ict, t.ict_code
	FROM award a JOIN pg_temp.ictmon_tender_class t ON t.ocid = a.ocid
	WHERE NOT EXISTS (SELECT 1 FROM pg_temp.ictmon_item_class own
	    WHERE own.parent_kind = 'award' AND own.ocid = a.ocid
		AND own.parent_id = a.award_id);
	ANALYZE pg_temp.ictmon_award_class;
	DROP TABLE pg_temp.ictmon_item_class;

	PERFORM set_config('ictmon.classes_key', key, true);
END
$$;
COMMENT ON FUNCTION ictmon_prepare_classes() IS
    'Builds (once per run) the temporary tables ictmon_award_class and '
    'ictmon_tender_class: the UNSPSC/CPV classes of awards and tenders.';

-- The awards the overlap indicators look at, built once per transaction (an indicator
-- run) into the temporary table ictmon_award: awards that stand (status "active" or
-- none: not pending, cancelled or unsuccessful) with a date and a buyer agency, one
-- row each, with
--   day          the award's date as a UTC calendar day
--   base_amount  value_amount in the base currency ("currency"), NULL when there is no
--                amount or no rate for its currency (ictmon_amount)
--   method       the tender's procurementMethod, lower case
--   framework    whether the tender's procurementMethodDetails contains one of
--                "framework_methods" (case-insensitive): a framework-agreement purchase
-- Rebuilt only when the base currency or framework_methods differ from those it was
-- built with. Filters whose selectivity the planner cannot estimate (lower(status))
-- stay out of the join with tender, so that it is a hash join, not a million index
-- probes.
CREATE FUNCTION ictmon_prepare_awards() RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
	base text := ictmon_param('currency') #>> '{}';
	framework text[] := ictmon_param_like('framework_methods');
	key text := concat_ws('|', base, array_to_string(framework, ','));
BEGIN
	IF to_regclass('pg_temp.ictmon_award') IS NOT NULL THEN
		IF current_setting('ictmon.awards_key', true) = key THEN
			RETURN;
		END IF;
		DROP TABLE pg_temp.ictmon_award;
	END IF;
	IF base IS NULL THEN
		RAISE EXCEPTION 'the base currency ("currency") is not set';
	END IF;

	CREATE TEMP TABLE ictmon_award ON COMMIT DROP AS
	SELECT w.ocid, w.award_id, w.buyer_agency_id AS agency_id, w.title, w.day,
	    w.value_amount, w.currency,
	    CASE WHEN w.currency = base THEN w.value_amount
		ELSE ictmon_amount(w.value_amount, w.currency, w.day) END AS base_amount,
	    lower(t.method) AS method,
	    coalesce(lower(t.method_details) LIKE ANY (framework), false) AS framework
	FROM (
		SELECT a.*, (a.date AT TIME ZONE 'UTC')::date AS day
		FROM award a
		WHERE a.date IS NOT NULL AND a.buyer_agency_id IS NOT NULL
		    AND (a.status IS NULL OR a.status = 'active' OR lower(a.status) = 'active')
	) AS w
	LEFT JOIN tender t ON t.ocid = w.ocid;
	ANALYZE pg_temp.ictmon_award;

	PERFORM set_config('ictmon.awards_key', key, true);
END
$$;
COMMENT ON FUNCTION ictmon_prepare_awards() IS
    'Builds (once per run) the temporary table ictmon_award: the awards that stand, '
    'with their UTC day, base-currency amount, method and framework flag.';

-- An amount as a finance official reads it in a summary: 'CLP 812,400,000',
-- 'USD 1,250.50' (cents only when there are some).
CREATE FUNCTION ictmon_money(amount numeric, currency text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT coalesce(currency || ' ', '') || CASE WHEN amount IS NULL THEN '?'
	ELSE CASE WHEN r < 0 THEN '-' ELSE '' END
	    || regexp_replace(trunc(abs(r))::text, '([0-9])(?=([0-9]{3})+$)', '\1,', 'g')
	    || CASE WHEN abs(r) <> trunc(abs(r))
		THEN '.' || lpad(((abs(r) - trunc(abs(r))) * 100)::int::text, 2, '0')
		ELSE '' END
	END
	FROM (SELECT round(amount, 2) AS r) AS x);
COMMENT ON FUNCTION ictmon_money(numeric, text) IS
    'An amount with its currency and thousands separators, for summaries.';

-- An award as a row of an indicator's evidence (the shape every overlap indicator
-- shows): its suppliers' names joined by '; ', its UTC day.
CREATE FUNCTION ictmon_award_row(ocid text, award_id text, agency text, title text,
    day date, amount numeric, currency text, method text) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object('kind', 'award', 'ocid', ocid, 'award_id', award_id,
	'agency', agency,
	'supplier', (SELECT string_agg(coalesce(s.name, s.id), '; '
	    ORDER BY coalesce(s.name, s.id) COLLATE "C")
	    FROM award_supplier aw JOIN supplier s ON s.id = aw.supplier_id
	    WHERE aw.ocid = ictmon_award_row.ocid
		AND aw.award_id = ictmon_award_row.award_id),
	'title', title, 'date', to_char(day, 'YYYY-MM-DD'), 'amount', amount,
	'currency', currency, 'method', method);
COMMENT ON FUNCTION ictmon_award_row(text, text, text, text, date, numeric, text, text)
    IS 'An award as an evidence row of the overlap indicators.';
