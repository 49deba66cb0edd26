"""Agency isolation in PostgreSQL itself (sql/010_row_security.sql): the agency-owned
tables have row-level security, FORCE'd; the role ictmond logs in as is held to it; each
session sees only what its ictmon.scope admits; ictmond sets an agency token's scope on
its own routes and refuses to work as a role that would skip the policies."""

import json
import unittest

import harness

AGENCY_A = "05-62"
AGENCY_B = "01-01"
OWNED_TABLES = ["budget_line", "ingest_batch", "ingest_issue", "project", "project_version"]


def as_daemon(scope, sql):
    """`sql` run as ictmond's login role with the session's scope set (None: never)."""
    head = "SET ROLE %s;\n" % harness.DAEMON_ROLE
    if scope is not None:
        head += "SELECT set_config('ictmon.scope', '%s', false) \\g /dev/null\n" % scope
    return head + sql


class RowSecurity(harness.DatabaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.import_agencies()
        cls.analyst = cls.token("--role", "analyst", "--name", "analyst")
        cls.agency_a = cls.token("--role", "agency", "--agency", AGENCY_A)
        cls.agency_b = cls.token("--role", "agency", "--agency", AGENCY_B)
        cls.ids = dict(cls.db.query(
            "SELECT code, id FROM agency WHERE code IN (:'a', :'b')", a=AGENCY_A, b=AGENCY_B))
        cls.d = harness.Daemon(db=cls.db, settings={"api.rate_limit": "0"})
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")
        for token, agency, n in ((cls.agency_a, AGENCY_A, 3), (cls.agency_b, AGENCY_B, 2)):
            projects = [{"id": "RLS-%s-%d" % (agency, i), "title": "Plataforma %d" % i,
                         "status": "planned"} for i in range(n)]
            r = cls.push(token, "/v1/projects", {"projects": projects})
            assert r.status == 201, r.body
            r = cls.push(token, "/v1/budget", {"lines": [{
                "agency": agency, "fiscal_year": 2026, "program": "01", "subtitulo": 29,
                "item": 7, "phase": "approved", "amount": "1000", "currency": "CLP"}]})
            assert r.status == 201, r.body
        # ictmond keeps a batch's issues in its stored reply; the table is agency-owned
        # all the same, so give it rows to isolate.
        cls.db.query("INSERT INTO ingest_issue (batch_id, pointer, message, severity)"
                     " SELECT id, '', 'probe', 'warning' FROM ingest_batch")

    @classmethod
    def push(cls, token, path, body):
        return cls.d.post(path, body, headers={"Authorization": "Bearer " + token})

    def get(self, path, token):
        r = self.d.get(path, headers={"Authorization": "Bearer " + token})
        self.assertEqual(r.status, 200, r.body)
        return r.json

    def agency_ids(self, scope, table):
        column = {"project_version": "(SELECT agency_id FROM project p"
                                     " WHERE p.id = project_id)",
                  "ingest_issue": "(SELECT agency_id FROM ingest_batch b"
                                  " WHERE b.id = batch_id)"}.get(table, "agency_id")
        rows = self.db.query(as_daemon(scope, "SELECT DISTINCT %s FROM %s" % (column, table)))
        return sorted(r[0] for r in rows)

    def test_policies_are_forced_and_the_daemon_role_is_held_to_them(self):
        self.assertEqual(self.db.query(
            "SELECT usename FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'ictmond' GROUP BY usename"), [(harness.DAEMON_ROLE,)])
        self.assertEqual(self.db.query(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :'r'",
            r=harness.DAEMON_ROLE), [("f", "f")])
        rows = self.db.query(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relname = ANY (string_to_array(:'t', ',')) ORDER BY relname",
            t=",".join(OWNED_TABLES))
        self.assertEqual(rows, [(t, "t", "t") for t in OWNED_TABLES])
        self.assertEqual(self.db.query(
            "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles"
            " WHERE rolname = 'ictmon_daemon'"), [("f", "f", "f")])
        # It owns nothing: an owner could disable the policies.
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
            " WHERE r.rolname = 'ictmon_daemon'"), "0")

    def test_each_scope_sees_its_rows_and_no_scope_sees_none(self):
        a, b = self.ids[AGENCY_A], self.ids[AGENCY_B]
        for table in OWNED_TABLES:
            with self.subTest(table=table):
                everyone = self.agency_ids("all", table)
                self.assertTrue({a, b} <= set(everyone), everyone)
                self.assertEqual(self.agency_ids(a, table), [a])
                self.assertEqual(self.agency_ids(b, table), [b])
                self.assertEqual(self.agency_ids(None, table), [])
                self.assertEqual(self.agency_ids("", table), [])

    def test_an_agency_scope_cannot_write_another_agencys_rows(self):
        a, b = self.ids[AGENCY_A], self.ids[AGENCY_B]
        refused = [
            "INSERT INTO project (agency_id, external_id, title, status, content_hash)"
            " VALUES (%s, 'RLS-FORGED', 'x', 'planned', 'x')" % b,
            "INSERT INTO budget_line (agency_id, fiscal_year, program, subtitulo, phase,"
            " amount, currency) VALUES (%s, 2026, '02', 22, 'approved', 1, 'CLP')" % b,
            "UPDATE project SET agency_id = %s WHERE agency_id = %s" % (b, a),
        ]
        for sql in refused:
            with self.subTest(sql=sql):
                with self.assertRaisesRegex(AssertionError, "row-level security"):
                    self.db.query(as_daemon(a, sql))
        # Statements that name another agency's rows find none to change.
        for sql in ("UPDATE project SET title = 'taken' WHERE agency_id = %s" % b,
                    "DELETE FROM budget_line WHERE agency_id = %s" % b):
            self.db.query(as_daemon(a, sql))
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM project WHERE title = 'taken'"), "0")
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM budget_line WHERE agency_id = :'b'", b=b), "1")

    def test_agency_requests_run_in_their_scope(self):
        """A probe the application's own filters cannot see: a policy (changed for this
        test only) that hides one of agency A's projects from every scope but 'all'."""
        self.db.query(
            "ALTER POLICY project_scope ON project USING ((SELECT ictmon_scope_all())"
            " OR agency_id = (SELECT ictmon_scope_agency())"
            " AND external_id <> 'RLS-05-62-1')")
        self.addCleanup(self.db.query,
                        "ALTER POLICY project_scope ON project USING"
                        " ((SELECT ictmon_scope_all())"
                        " OR agency_id = (SELECT ictmon_scope_agency()))")
        path = "/v1/projects?agency=%s&limit=100" % AGENCY_A
        ids = [p["id"] for p in self.get(path, self.analyst)["items"]]
        self.assertIn("RLS-05-62-1", ids)
        ids = [p["id"] for p in self.get(path, self.agency_a)["items"]]
        self.assertEqual(sorted(ids), ["RLS-05-62-0", "RLS-05-62-2"])
        r = self.d.get("/v1/projects/%s/RLS-05-62-1" % AGENCY_A,
                       headers={"Authorization": "Bearer " + self.agency_a})
        self.assertEqual(r.status, 404, r.body)
        # The portfolio's aggregates are portfolio-wide (ROWS_ALL): the probe counts.
        total = self.get("/v1/portfolio", self.analyst)["totals"]["projects"]
        self.assertEqual(self.get("/v1/portfolio", self.agency_a)["totals"]["projects"],
                         total)
        self.assertEqual(total, 5)


class RefusedRoles(harness.DatabaseTestCase):
    """ictmond does not work as a login role that skips row-level security."""

    def refused(self, conninfo):
        d = harness.Daemon(db=self.db, settings={"db.conninfo": conninfo,
                                                 "db.reconnect_max": "1"})
        self.addCleanup(d.close)
        d.start(wait="healthy")
        d.wait_log("is a superuser or bypasses row-level security", timeout=15)
        self.assertEqual(d.get("/readyz").status, 503)
        d.stop()

    def test_superuser(self):
        # the tools' login role, the cluster's superuser
        self.refused(self.db.conninfo)

    def test_bypassrls_role(self):
        name = harness.unique_name("ictmon_bypass")
        self.db.query('CREATE ROLE "%s" LOGIN BYPASSRLS IN ROLE ictmon_daemon' % name)
        self.addCleanup(self.db.query, 'DROP ROLE "%s"' % name)
        self.refused(self.db.conninfo + " user=" + name)


if __name__ == "__main__":
    unittest.main()
