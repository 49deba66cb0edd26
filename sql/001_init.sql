-- ictmon's first schema: reference data, the project portfolio, procurement (OCDS),
-- budget, and the bookkeeping of ingestion, feeds, indicators, alerts and mail.
-- ictmonctl migrate runs this file in one transaction and records it in
-- schema_migrations; once applied anywhere it is never edited: change it with 002_….
--
-- Conventions: bigint identity keys; text + CHECK for enumerations (a later migration
-- widens a CHECK more easily than an enum); numeric for every amount; timestamptz for
-- instants and date for calendar days; currencies are ISO 4217 codes in text with a
-- CHECK (char(n) pads and compares surprisingly). Agencies and the rows that carry
-- history refer to each other with ON DELETE RESTRICT: nothing that was reported is
-- deleted by accident. Rows derived from others (compiled OCDS, indicator results)
-- cascade or go NULL.

-- Similarity and accent folding for the overlap indicators (later migrations index with
-- them). Both are trusted extensions: a database owner may create them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TABLE schema_migrations (
	version		integer PRIMARY KEY CHECK (version > 0),
	name		text NOT NULL,
	checksum	text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
	applied_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS
    'Applied migrations (sql/NNN_name.sql); checksum is the SHA-256 of the file as applied.';

-- Reference ---------------------------------------------------------------------------

CREATE TABLE agency (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- At most 31 bytes: the daemon carries it in fixed buffers (struct principal).
	code		text NOT NULL UNIQUE
			    CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]*$'
				AND octet_length(code) <= 31),
	name		text NOT NULL CHECK (name <> ''),
	parent_id	bigint REFERENCES agency ON DELETE RESTRICT,
	kind		text NOT NULL DEFAULT 'service'
			    CHECK (kind IN ('ministry', 'service', 'unmapped')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (parent_id <> id),
	CHECK (kind <> 'ministry' OR parent_id IS NULL)
);
CREATE INDEX agency_parent_idx ON agency (parent_id);
COMMENT ON TABLE agency IS
    'Ministries and services. code is the budget''s Partida (''05'', a ministry) or '
    'Partida-Capítulo (''05-62'', a service); unmapped agencies were created from an '
    'OCDS buyer nobody had mapped yet.';

CREATE TABLE agency_alias (
	scheme		text NOT NULL CHECK (scheme ~ '^[a-z0-9][a-z0-9-]*$'),
	identifier	text NOT NULL CHECK (identifier <> ''),
	agency_id	bigint NOT NULL REFERENCES agency ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (scheme, identifier)
);
CREATE INDEX agency_alias_agency_idx ON agency_alias (agency_id);
COMMENT ON TABLE agency_alias IS
    'Other names of an agency in other systems: (''ocds-buyer'', ''CL-MP-123''), '
    '(''budget'', ''05-62'').';

CREATE TABLE api_token (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	token_hash	text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	name		text,
	role		text NOT NULL CHECK (role IN ('agency', 'analyst', 'admin')),
	agency_id	bigint REFERENCES agency ON DELETE RESTRICT,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz,
	revoked_at	timestamptz,
	last_used_at	timestamptz,
	-- An agency token writes for exactly one agency; the other roles for none in
	-- particular.
	CHECK ((role = 'agency') = (agency_id IS NOT NULL)),
	CHECK (expires_at IS NULL OR expires_at > created_at)
);
CREATE INDEX api_token_agency_idx ON api_token (agency_id);
COMMENT ON TABLE api_token IS
    'API bearer tokens, stored only as the lower-case hex SHA-256 of the token. Tokens '
    'are revoked, not deleted: ingest batches keep pointing at them.';

CREATE TABLE recipient (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email		text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
	name		text,
	agency_id	bigint REFERENCES agency ON DELETE RESTRICT,
	min_severity	text NOT NULL DEFAULT 'medium'
			    CHECK (min_severity IN ('low', 'medium', 'high')),
	delivery	text NOT NULL DEFAULT 'immediate'
			    CHECK (delivery IN ('immediate', 'daily')),
	created_at	timestamptz NOT NULL DEFAULT now()
);
-- One subscription per address and scope, or the same alert is mailed twice.
CREATE UNIQUE INDEX recipient_email_scope_key ON recipient (lower(email), agency_id)
    NULLS NOT DISTINCT;
CREATE INDEX recipient_agency_idx ON recipient (agency_id);
COMMENT ON TABLE recipient IS
    'Who is mailed about alerts: of one agency (agency_id) or of all (NULL), from a '
    'minimum severity, at once or in a daily digest.';

-- Bookkeeping that the data tables point at -------------------------------------------

CREATE TABLE feed_source (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name			text NOT NULL UNIQUE CHECK (name <> ''),
	kind			text NOT NULL CHECK (kind ~ '^[a-z0-9][a-z0-9_-]*$'),
	url			text NOT NULL CHECK (url <> ''),
	agency_id		bigint REFERENCES agency ON DELETE RESTRICT,
	cursor			text,
	etag			text,
	-- As the server sent it: it goes back verbatim in If-Modified-Since.
	last_modified		text,
	last_success_at		timestamptz,
	consecutive_failures	integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
	next_run_at		timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feed_source_next_run_idx ON feed_source (next_run_at);
COMMENT ON TABLE feed_source IS
    'Published feeds ictmon pulls ([feed.NAME] in the configuration), with the state '
    'that makes the next pull incremental (cursor, ETag, Last-Modified) and its backoff.';

CREATE TABLE feed_run (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	feed_id		bigint NOT NULL REFERENCES feed_source ON DELETE CASCADE,
	started_at	timestamptz NOT NULL DEFAULT now(),
	finished_at	timestamptz,
	-- NULL while the run is in progress.
	status		text CHECK (status IN ('ok', 'failed', 'partial', 'not_modified')),
	http_status	integer CHECK (http_status BETWEEN 100 AND 599),
	records		integer NOT NULL DEFAULT 0 CHECK (records >= 0),
	message		text,
	CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX feed_run_feed_started_idx ON feed_run (feed_id, started_at DESC);
COMMENT ON TABLE feed_run IS 'One pull of a feed: when, how it ended, how many records.';

CREATE TABLE ingest_batch (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- NULL for batches the daemon made itself (from a feed).
	token_id		bigint REFERENCES api_token ON DELETE RESTRICT,
	-- The token's role when the request came: it decides the idempotency scope.
	token_role		text CHECK (token_role IN ('agency', 'analyst', 'admin')),
	feed_id			bigint REFERENCES feed_source ON DELETE SET NULL,
	-- The agency the data is for; NULL when a batch spans agencies (an analyst's
	-- OCDS package with several buyers).
	agency_id		bigint REFERENCES agency ON DELETE RESTRICT,
	kind			text NOT NULL CHECK (kind IN ('projects', 'procurement', 'budget')),
	idempotency_key		text CHECK (octet_length(idempotency_key) BETWEEN 1 AND 255),
	-- An agency's key is shared by all of its tokens, so a retry after a token
	-- rotation still replays; an analyst's or admin's key belongs to the token,
	-- since two analysts may pick the same key for different requests.
	idempotency_scope	text GENERATED ALWAYS AS (
				    CASE WHEN token_role = 'agency'
					THEN 'agency:' || agency_id::text
					ELSE 'token:' || token_id::text
				    END) STORED,
	-- SHA-256 over the endpoint and the body: the same key with another request is 422.
	request_hash		text,
	status			text NOT NULL DEFAULT 'running'
				    CHECK (status IN ('running', 'done', 'failed')),
	counts			jsonb NOT NULL DEFAULT '{}',
	response_status		integer CHECK (response_status BETWEEN 100 AND 599),
	response		jsonb,
	created_at		timestamptz NOT NULL DEFAULT now(),
	finished_at		timestamptz,
	CHECK ((token_id IS NULL) = (token_role IS NULL)),
	CHECK (token_role IS DISTINCT FROM 'agency' OR agency_id IS NOT NULL),
	CHECK (idempotency_key IS NULL OR request_hash IS NOT NULL),
	CHECK ((status = 'running') = (finished_at IS NULL))
);
-- NULLs stay distinct here on purpose: batches without a key (feeds) never collide.
CREATE UNIQUE INDEX ingest_batch_idempotency_key
    ON ingest_batch (idempotency_scope, idempotency_key);
CREATE INDEX ingest_batch_agency_created_idx ON ingest_batch (agency_id, created_at DESC);
CREATE INDEX ingest_batch_token_idx ON ingest_batch (token_id);
CREATE INDEX ingest_batch_feed_idx ON ingest_batch (feed_id);
COMMENT ON TABLE ingest_batch IS
    'One push (or one feed pull): who, what, its Idempotency-Key and the response it got, '
    'stored so that a retry with the same key replays it.';
COMMENT ON COLUMN ingest_batch.idempotency_scope IS
    '''agency:ID'' for agency tokens, ''token:ID'' for analyst and admin tokens.';

CREATE TABLE ingest_issue (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	batch_id	bigint NOT NULL REFERENCES ingest_batch ON DELETE CASCADE,
	-- NULL for an issue with the request as a whole.
	record_index	integer CHECK (record_index >= 0),
	pointer		text NOT NULL CHECK (pointer = '' OR pointer LIKE '/%'),
	message		text NOT NULL,
	severity	text NOT NULL CHECK (severity IN ('error', 'warning'))
);
CREATE INDEX ingest_issue_batch_idx ON ingest_issue (batch_id, record_index);
COMMENT ON TABLE ingest_issue IS
    'What was wrong with a batch''s records, each at an RFC 6901 JSON pointer.';

-- Portfolio ---------------------------------------------------------------------------

CREATE TABLE project (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	agency_id	bigint NOT NULL REFERENCES agency ON DELETE RESTRICT,
	external_id	text NOT NULL CHECK (external_id <> ''),
	title		text NOT NULL CHECK (title <> ''),
	description	text,
	category	text,
	capabilities	text[] NOT NULL DEFAULT '{}',
	status		text NOT NULL CHECK (status IN ('planned', 'in_progress', 'completed',
			    'cancelled', 'deferred')),
	planned_start	date,
	planned_end	date,
	projected_end	date,
	actual_start	date,
	actual_end	date,
	planned_cost	numeric CHECK (planned_cost >= 0),
	projected_cost	numeric CHECK (projected_cost >= 0),
	actual_cost	numeric CHECK (actual_cost >= 0),
	currency	text CHECK (currency ~ '^[A-Z]{3}$'),
	review_status	text NOT NULL DEFAULT 'not_submitted'
			    CHECK (review_status IN ('not_submitted', 'submitted', 'approved',
				'observed', 'rejected')),
	cio_rating	smallint CHECK (cio_rating BETWEEN 1 AND 5),
	shared_platforms text[] NOT NULL DEFAULT '{}',
	budget_lines	text[] NOT NULL DEFAULT '{}',
	ocids		text[] NOT NULL DEFAULT '{}',
	funding_source	text CHECK (funding_source IN ('agency_budget', 'central_fund', 'loan',
			    'grant', 'other')),
	funding_program	text,
	-- Hash of the accepted record: pushing the same record again changes nothing.
	content_hash	text NOT NULL,
	version		integer NOT NULL DEFAULT 1 CHECK (version >= 1),
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (agency_id, external_id),
	CHECK (planned_end >= planned_start),
	CHECK (actual_end >= actual_start),
	-- Amounts without a currency cannot be added up.
	CHECK (currency IS NOT NULL OR
	    (planned_cost IS NULL AND projected_cost IS NULL AND actual_cost IS NULL))
);
CREATE INDEX project_capabilities_idx ON project USING gin (capabilities);
-- Which project a procurement process or budget line belongs to (UNREVIEWED-SPEND).
CREATE INDEX project_ocids_idx ON project USING gin (ocids);
CREATE INDEX project_budget_lines_idx ON project USING gin (budget_lines);
CREATE INDEX project_status_dates_idx ON project (status, planned_start, planned_end);
COMMENT ON TABLE project IS
    'ICT projects as their agencies last reported them; every accepted change is also '
    'kept in project_version.';
COMMENT ON COLUMN project.budget_lines IS
    'Budget lines the project spends from, as ''SS.II[.AAA]'' (subtítulo, ítem, asignación).';
COMMENT ON COLUMN project.cio_rating IS 'CIO risk rating, 1 (high risk) to 5 (low risk).';

CREATE TABLE project_version (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project_id	bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	version		integer NOT NULL CHECK (version >= 1),
	valid_from	timestamptz NOT NULL DEFAULT now(),
	data		jsonb NOT NULL,
	batch_id	bigint REFERENCES ingest_batch ON DELETE SET NULL,
	UNIQUE (project_id, version)
);
CREATE INDEX project_version_valid_from_idx ON project_version (valid_from);
CREATE INDEX project_version_batch_idx ON project_version (batch_id);
COMMENT ON TABLE project_version IS
    'Every accepted version of a project (the record as accepted), so that rebaselines '
    'and the changes of the last six months can be measured.';

-- Procurement (OCDS 1.1) ----------------------------------------------------------------

CREATE TABLE ocds_release (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ocid		text NOT NULL CHECK (ocid <> ''),
	release_id	text NOT NULL CHECK (release_id <> ''),
	release_date	timestamptz NOT NULL,
	tags		text[] NOT NULL DEFAULT '{}',
	data		jsonb NOT NULL,
	content_hash	text NOT NULL,
	batch_id	bigint REFERENCES ingest_batch ON DELETE SET NULL,
	received_at	timestamptz NOT NULL DEFAULT now(),
	-- A release received again is a no-op; a corrected release under the same id
	-- (publishers do that) is kept beside the first.
	UNIQUE (ocid, release_id, content_hash)
);
-- Lookups by ocid use the unique index above, whose first column it is.
CREATE INDEX ocds_release_date_idx ON ocds_release (release_date);
CREATE INDEX ocds_release_batch_idx ON ocds_release (batch_id);
COMMENT ON TABLE ocds_release IS 'OCDS releases exactly as received, the source of the flat tables.';

CREATE TABLE ocds_compiled (
	ocid		text PRIMARY KEY,
	data		jsonb NOT NULL,
	compiled_at	timestamptz NOT NULL DEFAULT now(),
	buyer_agency_id	bigint REFERENCES agency ON DELETE SET NULL
);
CREATE INDEX ocds_compiled_buyer_idx ON ocds_compiled (buyer_agency_id);
COMMENT ON TABLE ocds_compiled IS
    'The compiled release of each ocid (OCDS merge rules over its releases). The flat '
    'tables below hang off it: recompiling an ocid deletes this row, which takes its '
    'flat rows with it, and inserts the new set.';

-- The flat tables keep OCDS codelist values (status, method, currency) as published:
-- ingestion reports odd values as warnings, and one bad code must not make a whole
-- contracting process vanish from the indicators.

CREATE TABLE tender (
	ocid		text PRIMARY KEY REFERENCES ocds_compiled ON DELETE CASCADE,
	tender_id	text,
	title		text,
	status		text,
	method		text,		-- procurementMethod: open|selective|limited|direct
	method_details	text,
	value_amount	numeric,
	currency	text,
	period_start	timestamptz,
	period_end	timestamptz,
	buyer_agency_id	bigint REFERENCES agency ON DELETE SET NULL
);
CREATE INDEX tender_buyer_period_idx ON tender (buyer_agency_id, period_start);
COMMENT ON TABLE tender IS 'The tender of each compiled release.';

CREATE TABLE award (
	ocid		text NOT NULL REFERENCES ocds_compiled ON DELETE CASCADE,
	award_id	text NOT NULL,
	title		text,
	status		text,
	date		timestamptz,
	value_amount	numeric,
	currency	text,
	buyer_agency_id	bigint REFERENCES agency ON DELETE SET NULL,
	PRIMARY KEY (ocid, award_id)
);
CREATE INDEX award_buyer_date_idx ON award (buyer_agency_id, date);
CREATE INDEX award_date_idx ON award (date);
COMMENT ON TABLE award IS 'Awards of each compiled release.';

CREATE TABLE supplier (
	id			text PRIMARY KEY,
	name			text,
	identifier_scheme	text,
	identifier_id		text,
	updated_at		timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE supplier IS
    'Suppliers across all contracting processes; id is the OCDS party id, or '
    '''scheme-id'' of the supplier''s identifier when the release has no parties.';

CREATE TABLE award_supplier (
	ocid		text NOT NULL,
	award_id	text NOT NULL,
	supplier_id	text NOT NULL REFERENCES supplier ON DELETE RESTRICT,
	PRIMARY KEY (ocid, award_id, supplier_id),
	FOREIGN KEY (ocid, award_id) REFERENCES award ON DELETE CASCADE
);
CREATE INDEX award_supplier_supplier_idx ON award_supplier (supplier_id);
COMMENT ON TABLE award_supplier IS 'Which suppliers won each award.';

CREATE TABLE contract (
	ocid		text NOT NULL REFERENCES ocds_compiled ON DELETE CASCADE,
	contract_id	text NOT NULL,
	-- No foreign key: published data has contracts whose awardID matches no award.
	award_id	text,
	title		text,
	status		text,
	value_amount	numeric,
	currency	text,
	date_signed	timestamptz,
	period_start	timestamptz,
	period_end	timestamptz,
	PRIMARY KEY (ocid, contract_id)
);
CREATE INDEX contract_award_idx ON contract (ocid, award_id);
CREATE INDEX contract_date_signed_idx ON contract (date_signed);
COMMENT ON TABLE contract IS 'Contracts of each compiled release.';

CREATE TABLE item (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ocid			text NOT NULL REFERENCES ocds_compiled ON DELETE CASCADE,
	parent_kind		text NOT NULL CHECK (parent_kind IN ('tender', 'award', 'contract')),
	-- The award or contract id; NULL for the tender's items (one tender per ocid).
	parent_id		text,
	item_id			text NOT NULL,
	description		text,
	classification_scheme	text,
	classification_id	text,
	quantity		numeric,
	unit_amount		numeric,
	currency		text,
	CHECK ((parent_kind = 'tender') = (parent_id IS NULL)),
	UNIQUE NULLS NOT DISTINCT (ocid, parent_kind, parent_id, item_id)
);
-- text_pattern_ops so that a class prefix (UNSPSC '43%', CPV '302%') uses the index
-- whatever the database's collation.
CREATE INDEX item_classification_idx
    ON item (classification_scheme, classification_id text_pattern_ops);
COMMENT ON TABLE item IS 'Items of tenders, awards and contracts, with their classification.';

CREATE TABLE transaction (
	ocid		text NOT NULL,
	contract_id	text NOT NULL,
	transaction_id	text NOT NULL,
	date		timestamptz,
	value_amount	numeric,
	currency	text,
	payer_id	text,
	payer_name	text,
	payee_id	text,
	payee_name	text,
	PRIMARY KEY (ocid, contract_id, transaction_id),
	FOREIGN KEY (ocid, contract_id) REFERENCES contract ON DELETE CASCADE
);
CREATE INDEX transaction_date_idx ON transaction (date);
COMMENT ON TABLE transaction IS
    'Payments under each contract (implementation.transactions); payer and payee are '
    'the OCDS payer/payee, or providerOrganization/receiverOrganization in older data.';

-- Budget ------------------------------------------------------------------------------

CREATE TABLE budget_line (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	agency_id	bigint NOT NULL REFERENCES agency ON DELETE RESTRICT,
	fiscal_year	smallint NOT NULL CHECK (fiscal_year BETWEEN 1990 AND 2200),
	program		text NOT NULL CHECK (program <> ''),
	-- Economic classification: subtítulo, ítem, asignación. Some lines stop at the
	-- subtítulo (21, personnel, has no ítems in the budget law).
	subtitulo	smallint NOT NULL CHECK (subtitulo BETWEEN 1 AND 99),
	item		smallint CHECK (item BETWEEN 1 AND 99),
	asignacion	smallint CHECK (asignacion BETWEEN 1 AND 999),
	denomination	text,
	phase		text NOT NULL CHECK (phase IN ('approved', 'modified', 'committed',
			    'accrued', 'paid')),
	-- NULL for the whole year, else the month.
	period		smallint CHECK (period BETWEEN 1 AND 12),
	amount		numeric NOT NULL,
	currency	text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	batch_id	bigint REFERENCES ingest_batch ON DELETE SET NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (asignacion IS NULL OR item IS NOT NULL),
	-- NULLS NOT DISTINCT: the yearly line (period NULL) of an ítem without asignación
	-- is one line, and loading it again must update it, not add a second.
	UNIQUE NULLS NOT DISTINCT (agency_id, fiscal_year, program, subtitulo, item,
	    asignacion, phase, period, currency)
);
-- The ICT lines of every agency (29.06, 29.07, 22.11 …) in one year.
CREATE INDEX budget_line_classification_idx
    ON budget_line (fiscal_year, subtitulo, item, asignacion);
CREATE INDEX budget_line_batch_idx ON budget_line (batch_id);
COMMENT ON TABLE budget_line IS
    'Budget and its execution by agency, year, program and economic classification, '
    'one row per phase and period; amount in currency units (the budget law''s '
    'thousands of pesos are multiplied out on ingestion).';

-- Indicators --------------------------------------------------------------------------

CREATE TABLE indicator_run (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	started_at	timestamptz NOT NULL DEFAULT now(),
	finished_at	timestamptz,
	status		text NOT NULL DEFAULT 'running'
			    CHECK (status IN ('running', 'done', 'failed')),
	codes		text[] NOT NULL DEFAULT '{}',
	CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX indicator_run_started_idx ON indicator_run (started_at DESC);
COMMENT ON TABLE indicator_run IS 'One computation of the indicators in codes.';

CREATE TABLE indicator_result (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id		bigint NOT NULL REFERENCES indicator_run ON DELETE CASCADE,
	code		text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9-]*$'),
	subject		text NOT NULL,
	agency_id	bigint REFERENCES agency ON DELETE CASCADE,
	value		numeric,
	band		text NOT NULL CHECK (band IN ('low', 'medium', 'high', 'none')),
	fingerprint	text NOT NULL,
	evidence	jsonb NOT NULL DEFAULT '{}',
	UNIQUE (run_id, code, fingerprint)
);
CREATE INDEX indicator_result_agency_idx ON indicator_result (agency_id, code);
COMMENT ON TABLE indicator_result IS
    'The value, band and evidence (the rows that produced it) of an indicator for one '
    'subject in one run; fingerprint identifies the subject across runs.';

-- Alerts and mail ---------------------------------------------------------------------

CREATE TABLE alert (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	fingerprint	text NOT NULL UNIQUE,
	rule		text NOT NULL,
	indicator	text NOT NULL,
	agency_id	bigint REFERENCES agency ON DELETE RESTRICT,
	severity	text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
	state		text NOT NULL DEFAULT 'firing' CHECK (state IN ('firing', 'resolved')),
	subject		text NOT NULL,
	summary		text NOT NULL,
	evidence	jsonb NOT NULL DEFAULT '{}',
	first_seen	timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now(),
	resolved_at	timestamptz,
	acked_by	text,
	acked_at	timestamptz,
	ack_comment	text,
	CHECK (last_seen >= first_seen),
	CHECK (state = 'firing' OR resolved_at IS NOT NULL),
	CHECK ((acked_by IS NULL) = (acked_at IS NULL))
);
CREATE INDEX alert_agency_state_idx ON alert (agency_id, state);
CREATE INDEX alert_firing_idx ON alert (rule, last_seen) WHERE state = 'firing';
COMMENT ON TABLE alert IS
    'One alert per fingerprint (rule + subject), however often it is recomputed: it '
    'fires, resolves, fires again; analysts acknowledge it.';

CREATE TABLE silence (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rule		text,
	agency_id	bigint REFERENCES agency ON DELETE CASCADE,
	fingerprint	text,
	author		text NOT NULL CHECK (author <> ''),
	reason		text NOT NULL CHECK (reason <> ''),
	starts_at	timestamptz NOT NULL DEFAULT now(),
	ends_at		timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (ends_at > starts_at),
	-- A silence that matches everything would mute ictmon altogether.
	CHECK (num_nonnulls(rule, agency_id, fingerprint) > 0)
);
CREATE INDEX silence_ends_idx ON silence (ends_at);
COMMENT ON TABLE silence IS
    'Mutes notifications of the alerts that match every non-NULL matcher (rule, agency, '
    'fingerprint) between starts_at and ends_at; who and why are required.';

CREATE TABLE outbox (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- NULL for digests; kept (as NULL) if the alert is ever pruned.
	alert_id	bigint REFERENCES alert ON DELETE SET NULL,
	recipient_id	bigint NOT NULL REFERENCES recipient ON DELETE CASCADE,
	group_key	text NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('alert', 'digest', 'resolved')),
	-- Stable across retries, so that a mail sent twice is recognisably one mail.
	message_id	text NOT NULL UNIQUE,
	subject		text NOT NULL,
	body_text	text NOT NULL,
	body_html	text NOT NULL,
	state		text NOT NULL DEFAULT 'pending'
			    CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
	attempts	integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	sent_at		timestamptz,
	CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
-- The mailer's claim: due pending rows, oldest first, FOR UPDATE SKIP LOCKED.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE state = 'pending';
-- Grouping and repeat intervals look at what a recipient got recently for a group.
CREATE INDEX outbox_recipient_group_idx ON outbox (recipient_id, group_key, created_at);
CREATE INDEX outbox_alert_idx ON outbox (alert_id);
COMMENT ON TABLE outbox IS
    'Mail to send, written in the same transaction as the alert that caused it; the '
    'mailer sends it at least once and gives up (dead) after its retries.';
