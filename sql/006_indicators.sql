-- What computing the indicators needs beyond 001: how an indicator's SQL reads its run
-- and parameters, amounts in one currency, and results that can be filtered by every
-- agency they involve and sorted by the money at stake.

-- An indicator's SQL (sql/indicators/*.sql) runs inside its run's transaction after
-- the driver set these two (set_config(..., true): they end with the transaction).
CREATE FUNCTION ictmon_run_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN current_setting('ictmon.run_id')::bigint;

-- One parameter of the running indicator, as JSON ({"window_days": 180, ...}).
CREATE FUNCTION ictmon_param(name text) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN current_setting('ictmon.params')::jsonb -> name;

-- A list parameter ("a, b,c") as a trimmed, lower-case array without empty entries.
CREATE FUNCTION ictmon_param_list(name text) RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT array_agg(lower(btrim(x)))
	FROM regexp_split_to_table(ictmon_param(name) #>> '{}', ',') AS x
	WHERE btrim(x) <> ''), '{}');

-- Rates to the base currency (indicators.currency): 1 unit of `currency` is `rate`
-- units of the base from valid_from on. Optional: without a rate, amounts are
-- compared only within their own currency.
CREATE TABLE exchange_rate (
	currency	text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	valid_from	date NOT NULL,
	rate		numeric NOT NULL CHECK (rate > 0),
	PRIMARY KEY (currency, valid_from)
);
COMMENT ON TABLE exchange_rate IS
    'Optional rates to the base currency (indicators.currency), by date.';

-- `amount` in the base currency at `at` (the rate in force then, else the earliest
-- one); NULL when the currency is neither the base nor has a rate.
CREATE FUNCTION ictmon_amount(amount numeric, currency text, at date) RETURNS numeric
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE
	WHEN amount IS NULL OR currency IS NULL THEN NULL
	WHEN currency = ictmon_param('currency') #>> '{}' THEN amount
	ELSE amount * (SELECT r.rate FROM exchange_rate r
	    WHERE r.currency = ictmon_amount.currency
	    ORDER BY r.valid_from <= coalesce(at, r.valid_from) DESC,
		CASE WHEN r.valid_from <= coalesce(at, r.valid_from)
		    THEN r.valid_from END DESC NULLS LAST, r.valid_from
	    LIMIT 1)
    END;

ALTER TABLE indicator_run
	ADD COLUMN trigger	text NOT NULL DEFAULT 'manual'
				    CHECK (trigger IN ('manual', 'ingest', 'period')),
	ADD COLUMN message	text,
	-- Per code: results, by band, seconds.
	ADD COLUMN tallies	jsonb NOT NULL DEFAULT '{}';
-- The newest finished run of a code is what the API answers.
CREATE INDEX indicator_run_done_idx ON indicator_run (finished_at DESC) WHERE status = 'done';

ALTER TABLE indicator_result
	-- Every agency the result involves (an overlap has several; agency_id is the one
	-- it is about, or NULL for a cross-agency result).
	ADD COLUMN agencies	bigint[] NOT NULL DEFAULT '{}',
	-- The money at stake, in `currency` (the base one when it could be converted).
	ADD COLUMN amount	numeric,
	ADD COLUMN currency	text CHECK (currency ~ '^[A-Z]{3}$');
CREATE INDEX indicator_result_run_code_idx ON indicator_result (run_id, code, band);
CREATE INDEX indicator_result_agencies_idx ON indicator_result USING gin (agencies);
CREATE INDEX indicator_result_fingerprint_idx ON indicator_result (fingerprint);

-- The scheduler asks every few seconds when data last arrived (max(finished_at)).
CREATE INDEX ingest_batch_done_idx ON ingest_batch (finished_at) WHERE status = 'done';
