-- What the ingest path (issue 3) needs beyond 001: forgiving readers of published OCDS
-- values, used when the flat tables are filled from compiled releases in SQL, and the
-- indexes behind the read API's agency filters.
--
-- Published OCDS data is untidy: an amount given as a string, a date without its
-- offset, an "awards" that is an object. The flat tables keep what can be read and
-- leave NULL what cannot: one odd value must not refuse a whole contracting process
-- (the raw release is kept as received in ocds_release either way). None of these
-- functions raises an error on any input, so no batch fails in the middle of its SQL.

-- A JSON number, or a string holding a plain decimal, as numeric (exact: jsonb keeps
-- numbers as numeric); NULL otherwise.
CREATE FUNCTION ingest_numeric(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE jsonb_typeof(v)
		WHEN 'number' THEN v::numeric
		WHEN 'string' THEN CASE
			WHEN (v #>> '{}') ~ '^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?\s*$'
			THEN (v #>> '{}')::numeric
		END
	END
$$;
COMMENT ON FUNCTION ingest_numeric(jsonb) IS
    'An OCDS amount (number, or decimal string) as numeric; NULL when it is neither.';

-- An ISO 8601 date or date-time as timestamptz; NULL when the text is not one or names
-- a day that does not exist. Without an offset the session's TimeZone applies: the
-- ingest transaction sets it to UTC. PL/pgSQL rather than SQL: a SQL function with a
-- FROM is not inlined, and its per-call cost dominated the filling of the flat tables;
-- the checks run in order, before make_date() or the cast could raise.
CREATE FUNCTION ingest_timestamptz(t text) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
DECLARE
	m text[];
BEGIN
	m := regexp_match(t, '^([0-9]{4})-([0-9]{2})-([0-9]{2})'
	    '(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,9})?)?)?'
	    '(?:Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?$');
	IF m IS NULL OR m[1]::int < 1 OR m[2]::int NOT BETWEEN 1 AND 12 THEN
		RETURN NULL;
	END IF;
	IF m[3]::int NOT BETWEEN 1 AND extract(day FROM
	    make_date(m[1]::int, m[2]::int, 1) + interval '1 month - 1 day')::int
	    OR coalesce(m[4]::int, 0) > 23 OR coalesce(m[5]::int, 0) > 59
	    OR coalesce(m[6]::int, 0) > 59 THEN
		RETURN NULL;
	END IF;
	RETURN t::timestamptz;
END
$$;
COMMENT ON FUNCTION ingest_timestamptz(text) IS
    'An OCDS date-time as timestamptz; NULL when it is not a real ISO 8601 instant.';

-- v when it is an array, else an empty array: jsonb_array_elements() raises on
-- anything else.
CREATE FUNCTION ingest_array(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE '[]'::jsonb END
$$;

-- A JSON string or number as text, NULL for anything else or an empty string: OCDS
-- ids may be either.
CREATE FUNCTION ingest_id(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN jsonb_typeof(v) IN ('string', 'number') THEN
	    nullif(v #>> '{}', '') END
$$;

-- A JSON string, number or boolean as text; NULL for anything else (an object where a
-- title was expected).
CREATE FUNCTION ingest_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN
	    v #>> '{}' END
$$;

-- The buyer of a release or compiled release, by the rule daemon/ocds.c applies to what
-- agencies push (include/ocds.h): buyer.id, else the id of the first party whose roles
-- hold "buyer", else "scheme-id" of buyer.identifier.
CREATE FUNCTION ocds_buyer_id(r jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	id text := ingest_id(r -> 'buyer' -> 'id');
	scheme text;
BEGIN
	IF id IS NOT NULL THEN
		RETURN id;
	END IF;
	SELECT ingest_id(p -> 'id') INTO id
	FROM jsonb_array_elements(ingest_array(r -> 'parties')) WITH ORDINALITY AS x (p, n)
	WHERE jsonb_typeof(p) = 'object' AND jsonb_typeof(p -> 'roles') = 'array'
	    AND p -> 'roles' ? 'buyer'
	ORDER BY n LIMIT 1;
	IF id IS NOT NULL THEN
		RETURN id;
	END IF;
	id := ingest_id(r -> 'buyer' -> 'identifier' -> 'id');
	scheme := ingest_text(r -> 'buyer' -> 'identifier' -> 'scheme');
	IF id IS NOT NULL AND jsonb_typeof(r -> 'buyer' -> 'identifier' -> 'scheme') = 'string'
	    AND scheme <> '' THEN
		RETURN scheme || '-' || id;
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION ocds_buyer_id(jsonb) IS
    'The buyer id of an OCDS release, as the ingest path reads it (include/ocds.h).';

-- The agency code given to an OCDS buyer nobody has mapped yet: readable, within the
-- code CHECK of agency and the 31 bytes of agency_code_valid(), and distinct for
-- distinct buyer ids (the hash).
CREATE FUNCTION ocds_unmapped_code(buyer_id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT 'u-' || left(regexp_replace(buyer_id, '[^A-Za-z0-9._-]', '-', 'g'), 18)
	    || '-' || left(md5(buyer_id), 8)
$$;

-- The read API walks one agency's projects and budget lines in key order (keyset
-- pagination). Awards get no such index: it would slow every OCDS ingest, and their
-- primary key order with a filter serves the read.
CREATE INDEX project_agency_id_idx ON project (agency_id, id);
CREATE INDEX budget_line_agency_id_idx ON budget_line (agency_id, id);
