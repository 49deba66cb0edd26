-- Alerts and their email. An indicator run ends by applying the alert rules to its
-- results (ictmon_alerts_apply, in the run's transaction): alerts fire, grow, resolve,
-- and every change a recipient must hear about is attached to that recipient's waiting
-- email of the alert's group (outbox rows with no message yet). The mailer later
-- renders a waiting email when the group's timing allows, claims it FOR UPDATE SKIP
-- LOCKED, sends it and marks it sent, or retries it, or gives up (dead).

-- Recipients: several agencies (none: all of them) and a role rules can address.
ALTER TABLE recipient
	ADD COLUMN agencies	bigint[] NOT NULL DEFAULT '{}',
	ADD COLUMN role		text NOT NULL DEFAULT 'finance'
			    CHECK (role ~ '^[a-z][a-z0-9_-]{0,31}$');
UPDATE recipient SET agencies = ARRAY[agency_id] WHERE agency_id IS NOT NULL;
-- An address subscribed for several agencies becomes one recipient of all of them
-- (of every agency when one of its rows was).
UPDATE recipient r SET agencies = m.agencies
FROM (SELECT min(id) AS id, CASE WHEN bool_or(agency_id IS NULL) THEN '{}'
	ELSE array_agg(agency_id ORDER BY agency_id) END AS agencies
    FROM recipient GROUP BY lower(email) HAVING count(*) > 1) m
WHERE r.id = m.id;
DELETE FROM recipient r USING recipient k
WHERE lower(k.email) = lower(r.email) AND k.id < r.id;
DROP INDEX recipient_email_scope_key;
ALTER TABLE recipient DROP COLUMN agency_id;
-- One subscription per address: the same alert is never mailed twice to one person.
CREATE UNIQUE INDEX recipient_email_key ON recipient (lower(email));
COMMENT ON COLUMN recipient.agencies IS
    'The agencies whose alerts this recipient gets; empty: every agency.';
COMMENT ON COLUMN recipient.role IS
    'What the recipient is (finance, analyst, ...); alert rules may address a role.';

-- Alerts: what the indicator said, and when the alert last changed in a way worth an
-- email (fired, fired again, grew to more agencies, resolved).
ALTER TABLE alert
	ADD COLUMN agencies	bigint[] NOT NULL DEFAULT '{}',
	ADD COLUMN value	numeric,
	ADD COLUMN band		text CHECK (band IN ('low', 'medium', 'high', 'none')),
	ADD COLUMN amount	numeric,
	ADD COLUMN currency	text CHECK (currency ~ '^[A-Z]{3}$'),
	ADD COLUMN run_id	bigint REFERENCES indicator_run ON DELETE SET NULL,
	ADD COLUMN fired_at	timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN changed_at	timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN last_change	text NOT NULL DEFAULT 'fired'
			    CHECK (last_change IN ('fired', 'refired', 'grew', 'seen',
				'resolved'));
CREATE INDEX alert_state_idx ON alert (state, severity, id);
CREATE INDEX alert_agencies_idx ON alert USING gin (agencies);
COMMENT ON COLUMN alert.last_change IS
    'What the newest run did to it: fired (new), refired (resolved, then back), grew '
    '(more agencies involved), seen (still there, nothing new), resolved.';

-- What happened to each alert, for its page and the audit trail.
CREATE TABLE alert_event (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	alert_id	bigint NOT NULL REFERENCES alert ON DELETE CASCADE,
	at		timestamptz NOT NULL DEFAULT now(),
	kind		text NOT NULL CHECK (kind IN ('fired', 'refired', 'grew', 'resolved',
			    'acked', 'unacked')),
	actor		text,
	detail		jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_event_alert_idx ON alert_event (alert_id, at);
COMMENT ON TABLE alert_event IS 'The history of an alert: changes and acknowledgements.';

-- Silences are ended early by setting ends_at; who ended one is kept.
ALTER TABLE silence ADD COLUMN ended_by text;

-- The outbox: one email to one recipient for one group. A row is created waiting (no
-- message) when the first change arrives; later changes of the same group join it
-- until the mailer renders it (message, subject, bodies), after which it is only sent.
-- The message holds the bodies: they are not kept twice.
ALTER TABLE outbox
	DROP CONSTRAINT outbox_kind_check,
	DROP CONSTRAINT outbox_state_check,
	ALTER COLUMN subject DROP NOT NULL,
	DROP COLUMN body_text,
	DROP COLUMN body_html,
	ADD COLUMN message	text,
	ADD COLUMN rendered_at	timestamptz,
	ADD COLUMN references_ids text,
	ADD COLUMN alerts	integer NOT NULL DEFAULT 0,
	ADD COLUMN claimed_until timestamptz,
	ADD COLUMN claimed_by	text;
ALTER TABLE outbox
	ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('alert', 'repeat', 'digest')),
	ADD CONSTRAINT outbox_state_check
	    CHECK (state IN ('pending', 'sent', 'dead', 'dropped')),
	ADD CONSTRAINT outbox_rendered_check
	    CHECK ((message IS NULL) = (rendered_at IS NULL)),
	ADD CONSTRAINT outbox_sent_rendered_check
	    CHECK (state NOT IN ('sent', 'dead') OR message IS NOT NULL);
-- At most one waiting email per recipient and group: changes join it.
CREATE UNIQUE INDEX outbox_waiting_key ON outbox (recipient_id, group_key)
    WHERE message IS NULL AND state = 'pending';
CREATE INDEX outbox_state_idx ON outbox (state, id);
COMMENT ON COLUMN outbox.message IS
    'The RFC 5322 message, rendered once: every attempt sends the same bytes.';
COMMENT ON COLUMN outbox.claimed_until IS
    'A process sending the row holds it until then; after, another may send it again.';

-- The alerts an email lists, and why.
CREATE TABLE outbox_alert (
	outbox_id	bigint NOT NULL REFERENCES outbox ON DELETE CASCADE,
	alert_id	bigint NOT NULL REFERENCES alert ON DELETE CASCADE,
	change		text NOT NULL CHECK (change IN ('new', 'open', 'resolved')),
	PRIMARY KEY (outbox_id, alert_id)
);
CREATE INDEX outbox_alert_alert_idx ON outbox_alert (alert_id);

-- Per recipient and group: when the last email was rendered and the thread it began.
CREATE TABLE alert_group (
	recipient_id	bigint NOT NULL REFERENCES recipient ON DELETE CASCADE,
	group_key	text NOT NULL,
	last_email_at	timestamptz NOT NULL,
	thread_id	text NOT NULL,
	PRIMARY KEY (recipient_id, group_key)
);
COMMENT ON TABLE alert_group IS
    'The email thread of one alert group for one recipient: group_interval counts '
    'from last_email_at, and every email of the group refers to thread_id.';

-- Per recipient and alert: when an email last listed it (repeat_interval counts from it).
CREATE TABLE alert_notice (
	recipient_id	bigint NOT NULL REFERENCES recipient ON DELETE CASCADE,
	alert_id	bigint NOT NULL REFERENCES alert ON DELETE CASCADE,
	mailed_at	timestamptz NOT NULL,
	PRIMARY KEY (recipient_id, alert_id)
);
CREATE INDEX alert_notice_alert_idx ON alert_notice (alert_id);

CREATE FUNCTION ictmon_severity_rank(severity text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
	ELSE 0 END;

-- Whether an alert's email is held back now: acknowledged, matched by every matcher of
-- an active silence, or inhibited by a firing FEED-STALE alert of its agency (the data
-- behind it is old: the stale feed is the one thing to fix).
CREATE FUNCTION ictmon_alert_suppressed(a alert) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN a.acked_at IS NOT NULL
	OR EXISTS (SELECT 1 FROM silence s
	    WHERE s.starts_at <= now() AND s.ends_at > now()
		AND (s.rule IS NULL OR s.rule = a.rule)
		AND (s.agency_id IS NULL OR s.agency_id = a.agency_id
		    OR s.agency_id = ANY (a.agencies))
		AND (s.fingerprint IS NULL OR s.fingerprint = a.fingerprint))
	OR (a.indicator <> 'FEED-STALE' AND a.agency_id IS NOT NULL
	    AND EXISTS (SELECT 1 FROM alert f
		WHERE f.indicator = 'FEED-STALE' AND f.state = 'firing'
		    AND f.agency_id = a.agency_id));

-- The rules as routing reads them: each rule's `to` list in lower case. Callers take
-- it as a MATERIALIZED CTE and hand ictmon_alert_routed plain columns, so that it is
-- inlined into their joins (a sub-select as an argument would stop that, and every
-- recipient-alert pair would then cost a function call).
CREATE FUNCTION ictmon_alert_rules(rules jsonb) RETURNS TABLE (rule text, rule_to text[])
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT x.value ->> 'name', array(SELECT lower(t)
	    FROM jsonb_array_elements_text(coalesce(x.value -> 'to', '[]')) t)
	FROM jsonb_array_elements(rules) x
$$;

-- Whether recipient r gets an alert of `severity` involving the agencies `involved`
-- (its agency and its agencies): severity at least theirs, one of their agencies
-- involved (or they follow all), and, when the rule names addresses or roles, named.
CREATE FUNCTION ictmon_alert_routed(severity text, involved bigint[], r recipient,
    rule_to text[]) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ictmon_severity_rank(severity) >= ictmon_severity_rank(r.min_severity)
	AND (cardinality(r.agencies) = 0 OR r.agencies && involved)
	AND (cardinality(rule_to) = 0 OR lower(r.email) = ANY (rule_to)
	    OR r.role = ANY (rule_to));

-- The group an alert belongs to in a recipient's mail: its rule and its agency's code,
-- or the recipient's one daily digest.
CREATE FUNCTION ictmon_alert_group_key(rule text, agency_code text, delivery text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE delivery WHEN 'daily' THEN 'digest'
	ELSE rule || '/' || coalesce(agency_code, '-') END;

-- Unsuppressed alerts as routing reads them (see ictmon_alert_rules): the firing ones
-- (`ids` NULL) or those of `ids`.
CREATE FUNCTION ictmon_alert_routable(rules jsonb, ids bigint[])
    RETURNS TABLE (id bigint, rule text, severity text, involved bigint[],
	agency_code text, rule_to text[])
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
	WITH ru AS MATERIALIZED (SELECT * FROM ictmon_alert_rules(rules))
	SELECT a.id, a.rule, a.severity, a.agencies || coalesce(a.agency_id, 0), g.code,
	    coalesce(ru.rule_to, '{}')
	FROM alert a
	LEFT JOIN agency g ON g.id = a.agency_id
	LEFT JOIN ru ON ru.rule = a.rule
	WHERE CASE WHEN ids IS NULL THEN a.state = 'firing' ELSE a.id = ANY (ids) END
	    AND NOT ictmon_alert_suppressed(a)
$$;

-- Waiting emails are created by two writers, a run's alerts (ictmon_alerts_notify) and
-- the reminders (ictmon_alerts_repeat), in any number of processes. Each takes this
-- transaction lock first ("ictmon" then 3), so that two of them never wait on each
-- other's new rows in opposite orders (a deadlock); reminders skip a turn rather than
-- wait.
CREATE FUNCTION ictmon_outbox_lock_key() RETURNS bigint LANGUAGE sql IMMUTABLE
    RETURN 7594041410046525443;

-- Attaches changes to waiting emails: `changes` holds (alert_id, change) pairs. For every
-- routed, unsuppressed recipient, the change joins the waiting email of the alert's
-- group, created if there is none (the mailer may be rendering an older one: waiting
-- rows are locked first, and a row rendered meanwhile no longer counts as waiting).
CREATE FUNCTION ictmon_alerts_notify(changes jsonb, rules jsonb) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	CREATE TEMP TABLE IF NOT EXISTS alert_notify_pending (recipient_id bigint,
	    group_key text, alert_id bigint, change text) ON COMMIT DROP;
	TRUNCATE alert_notify_pending;
	INSERT INTO alert_notify_pending
	WITH c AS MATERIALIZED (
		SELECT * FROM jsonb_to_recordset(changes) AS x(alert_id bigint, change text)),
	a AS MATERIALIZED (
		SELECT * FROM ictmon_alert_routable(rules,
		    ARRAY(SELECT c.alert_id FROM c)))
	SELECT r.id, ictmon_alert_group_key(a.rule, a.agency_code, r.delivery), a.id,
	    c.change
	FROM c JOIN a ON a.id = c.alert_id
	JOIN recipient r ON ictmon_alert_routed(a.severity, a.involved, r, a.rule_to);

	PERFORM pg_advisory_xact_lock(ictmon_outbox_lock_key());
	PERFORM 1 FROM outbox o
	WHERE o.message IS NULL AND o.state = 'pending'
	    AND (o.recipient_id, o.group_key) IN (SELECT p.recipient_id, p.group_key
		FROM alert_notify_pending p)
	ORDER BY o.id FOR UPDATE;
	INSERT INTO outbox (recipient_id, group_key, kind, message_id)
	SELECT g.recipient_id, g.group_key,
	    CASE g.group_key WHEN 'digest' THEN 'digest' ELSE 'alert' END,
	    '<pending-' || gen_random_uuid() || '@ictmon>'
	FROM (SELECT DISTINCT p.recipient_id, p.group_key FROM alert_notify_pending p) g
	ON CONFLICT (recipient_id, group_key) WHERE message IS NULL AND state = 'pending'
	DO NOTHING;
	INSERT INTO outbox_alert (outbox_id, alert_id, change)
	SELECT o.id, p.alert_id, p.change
	FROM alert_notify_pending p
	JOIN outbox o ON o.recipient_id = p.recipient_id AND o.group_key = p.group_key
	    AND o.message IS NULL AND o.state = 'pending'
	ON CONFLICT (outbox_id, alert_id) DO UPDATE SET change = excluded.change;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Applies the alert rules to a done run's results. `rules` is the array the daemon
-- builds from its configuration: [{name, indicator, band, threshold, severity, to,
-- notify_resolved}], band the least band that fires, threshold a least value (or
-- null), severity low|medium|high or "band" (the result's own band). Alerts of the
-- run's indicators that no rule fires any more resolve. Returns what changed.
CREATE FUNCTION ictmon_alerts_apply(p_run bigint, rules jsonb,
    OUT fired integer, OUT grew integer, OUT resolved integer, OUT notices integer)
    LANGUAGE plpgsql AS $$
DECLARE
	codes text[];
	changes jsonb;
BEGIN
	SELECT r.codes INTO codes FROM indicator_run r WHERE r.id = p_run;

	CREATE TEMP TABLE IF NOT EXISTS alert_apply_match (fingerprint text PRIMARY KEY,
	    rule text, indicator text, severity text, result indicator_result)
	    ON COMMIT DROP;
	TRUNCATE alert_apply_match;
	INSERT INTO alert_apply_match
	SELECT x.value ->> 'name' || ':' || res.fingerprint, x.value ->> 'name',
	    res.code, CASE x.value ->> 'severity' WHEN 'band' THEN
		CASE res.band WHEN 'none' THEN 'low' ELSE res.band END
		ELSE x.value ->> 'severity' END, res
	FROM jsonb_array_elements(rules) x
	JOIN indicator_result res ON res.run_id = p_run
	    AND res.code = x.value ->> 'indicator'
	WHERE ictmon_severity_rank(res.band)
		>= ictmon_severity_rank(coalesce(x.value ->> 'band', 'low'))
	    AND (x.value ->> 'threshold' IS NULL
		OR res.value >= (x.value ->> 'threshold')::numeric);

	CREATE TEMP TABLE IF NOT EXISTS alert_apply_change (alert_id bigint,
	    change text) ON COMMIT DROP;
	TRUNCATE alert_apply_change;

	-- New and known alerts in one statement; last_change says which.
	WITH up AS (
		INSERT INTO alert AS a (fingerprint, rule, indicator, agency_id, agencies,
		    severity, subject, summary, evidence, value, band, amount, currency,
		    run_id, last_change)
		SELECT m.fingerprint, m.rule, m.indicator, (m.result).agency_id,
		    (m.result).agencies, m.severity, (m.result).subject,
		    coalesce((m.result).evidence ->> 'summary', (m.result).subject),
		    (m.result).evidence, (m.result).value, (m.result).band,
		    (m.result).amount, (m.result).currency, p_run, 'fired'
		FROM alert_apply_match m
		ON CONFLICT (fingerprint) DO UPDATE SET
		    last_change = CASE
			WHEN a.state = 'resolved' THEN 'refired'
			WHEN NOT (excluded.agencies <@ a.agencies) THEN 'grew'
			ELSE 'seen' END,
		    changed_at = CASE WHEN a.state = 'resolved'
			OR NOT (excluded.agencies <@ a.agencies) THEN now()
			ELSE a.changed_at END,
		    fired_at = CASE WHEN a.state = 'resolved' THEN now() ELSE a.fired_at END,
		    -- A fresh firing asks for fresh attention.
		    acked_by = CASE WHEN a.state = 'resolved' THEN NULL ELSE a.acked_by END,
		    acked_at = CASE WHEN a.state = 'resolved' THEN NULL ELSE a.acked_at END,
		    ack_comment = CASE WHEN a.state = 'resolved' THEN NULL
			ELSE a.ack_comment END,
		    state = 'firing', resolved_at = NULL, last_seen = now(),
		    agency_id = excluded.agency_id, agencies = excluded.agencies,
		    severity = excluded.severity, subject = excluded.subject,
		    summary = excluded.summary, evidence = excluded.evidence,
		    value = excluded.value, band = excluded.band, amount = excluded.amount,
		    currency = excluded.currency, run_id = excluded.run_id
		RETURNING a.id, a.last_change
	)
	INSERT INTO alert_apply_change SELECT id, last_change FROM up
	WHERE last_change <> 'seen';

	WITH gone AS (
		UPDATE alert a SET state = 'resolved', resolved_at = now(),
		    changed_at = now(), last_change = 'resolved'
		WHERE a.state = 'firing' AND a.indicator = ANY (codes)
		    AND NOT EXISTS (SELECT 1 FROM alert_apply_match m
			WHERE m.fingerprint = a.fingerprint)
		RETURNING a.id
	)
	INSERT INTO alert_apply_change SELECT id, 'resolved' FROM gone;

	INSERT INTO alert_event (alert_id, kind, detail)
	SELECT c.alert_id, c.change, jsonb_build_object('run_id', p_run)
	FROM alert_apply_change c;

	SELECT count(*) FILTER (WHERE change IN ('fired', 'refired')),
	    count(*) FILTER (WHERE change = 'grew'),
	    count(*) FILTER (WHERE change = 'resolved')
	INTO fired, grew, resolved FROM alert_apply_change;

	-- Resolutions are mailed only where the rule asks for it.
	SELECT coalesce(jsonb_agg(jsonb_build_object('alert_id', c.alert_id, 'change',
	    CASE c.change WHEN 'resolved' THEN 'resolved' ELSE 'new' END)), '[]')
	INTO changes
	FROM alert_apply_change c JOIN alert a ON a.id = c.alert_id
	WHERE c.change <> 'resolved' OR coalesce((SELECT (x.value ->> 'notify_resolved')::boolean
	    FROM jsonb_array_elements(rules) x WHERE x.value ->> 'name' = a.rule), true);
	notices := ictmon_alerts_notify(changes, rules);
END $$;

-- Emails about alerts nobody has heard of for repeat_interval: for every recipient
-- and group with a firing, unsuppressed alert last mailed to them before `cutoff` (or
-- never: a silence ended, an inhibition lifted), a waiting email of kind repeat.
-- Digest recipients are left out: each digest lists what is still open.
CREATE FUNCTION ictmon_alerts_repeat(cutoff timestamptz, rules jsonb) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	IF NOT pg_try_advisory_xact_lock(ictmon_outbox_lock_key()) THEN
		RETURN 0;
	END IF;
	INSERT INTO outbox (recipient_id, group_key, kind, message_id)
	SELECT g.recipient_id, g.group_key, 'repeat',
	    '<pending-' || gen_random_uuid() || '@ictmon>'
	FROM (SELECT DISTINCT r.id AS recipient_id,
		ictmon_alert_group_key(a.rule, a.agency_code, r.delivery) AS group_key
	    FROM ictmon_alert_routable(rules, NULL) a
	    JOIN recipient r ON r.delivery = 'immediate'
		AND ictmon_alert_routed(a.severity, a.involved, r, a.rule_to)
	    LEFT JOIN alert_notice n ON n.recipient_id = r.id AND n.alert_id = a.id
	    WHERE coalesce(n.mailed_at, '-infinity') < cutoff) g
	ON CONFLICT (recipient_id, group_key) WHERE message IS NULL AND state = 'pending'
	DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
