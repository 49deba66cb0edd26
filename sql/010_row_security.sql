-- Agency isolation in the database itself. The agency-owned tables (projects and their
-- versions, budget lines, ingest batches and their issues) have row-level security,
-- FORCE'd so that their owner is held to it too: a session sees and writes only the rows
-- its ictmon.scope admits. ictmond's pool sets each statement's scope on its connection
-- (when it differs from the last): 'all' for the daemon's own work and analysts'
-- tokens, an agency's id for what an agency token reads and writes on its own routes.
-- A session that never set it sees nothing. A handler that forgets its agency filter therefore
-- cannot show one agency another's rows.
--
-- ictmond logs in as a member of ictmon_daemon, a role with rights on the data and none
-- on the schema; superusers and BYPASSRLS roles would skip the policies, and ictmond
-- refuses to work as one. The group is created here when missing (the migrating role
-- needs CREATEROLE, or an administrator creates it first); the login role is the
-- administrator's (README, Running).

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ictmon_daemon') THEN
		CREATE ROLE ictmon_daemon NOLOGIN;
	END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO ictmon_daemon;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public
    TO ictmon_daemon;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ictmon_daemon;
-- Tables and sequences of later migrations, made by the role that runs them.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO ictmon_daemon;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ictmon_daemon;

-- The session's scope, read once per statement: each policy below calls these in a
-- scalar subquery, which PostgreSQL runs once (an InitPlan) instead of once per row, so
-- that the 'all' scope costs nothing over a scan and an agency's is one integer compare.
CREATE FUNCTION ictmon_scope_all() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('ictmon.scope', true) = 'all', false) $$;
COMMENT ON FUNCTION ictmon_scope_all() IS
    'Row-level security: whether the session''s ictmon.scope admits every agency.';
CREATE FUNCTION ictmon_scope_agency() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
	SELECT CASE WHEN current_setting('ictmon.scope', true) ~ '^[0-9]{1,18}$'
	    THEN current_setting('ictmon.scope', true)::bigint END
    $$;
COMMENT ON FUNCTION ictmon_scope_agency() IS
    'Row-level security: the one agency the session''s ictmon.scope admits, else NULL.';

-- The tables that name their agency; an analyst's batch names none, and only 'all' sees
-- it.
DO $$
DECLARE
	t	text;
BEGIN
	FOREACH t IN ARRAY ARRAY['project', 'budget_line', 'ingest_batch'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY %I ON %I'
		    ' USING ((SELECT ictmon_scope_all())'
		    '  OR agency_id = (SELECT ictmon_scope_agency()))'
		    ' WITH CHECK ((SELECT ictmon_scope_all())'
		    '  OR agency_id = (SELECT ictmon_scope_agency()))', t || '_scope', t);
	END LOOP;
END
$$;

-- The rows below belong to an agency through their parent, itself under its policy:
-- under an agency's scope the subquery finds only that agency's parents. A version is
-- written in the statement that writes its project, whose new row that statement's
-- subqueries cannot see; the version's batch, written before, stands for it: an
-- agency writes versions only from a batch of its own.
ALTER TABLE project_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_version FORCE ROW LEVEL SECURITY;
CREATE POLICY project_version_scope ON project_version
    USING ((SELECT ictmon_scope_all())
	OR EXISTS (SELECT FROM project p WHERE p.id = project_id))
    WITH CHECK ((SELECT ictmon_scope_all())
	OR EXISTS (SELECT FROM ingest_batch b WHERE b.id = batch_id));

ALTER TABLE ingest_issue ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest_issue FORCE ROW LEVEL SECURITY;
CREATE POLICY ingest_issue_scope ON ingest_issue
    USING ((SELECT ictmon_scope_all())
	OR EXISTS (SELECT FROM ingest_batch b WHERE b.id = batch_id))
    WITH CHECK ((SELECT ictmon_scope_all())
	OR EXISTS (SELECT FROM ingest_batch b WHERE b.id = batch_id));
