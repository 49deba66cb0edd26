"""`ictmonctl migrate` on a real database: from empty it applies every sql/NNN_*.sql in
order and records each in schema_migrations; a second run applies nothing; and ictmond
refuses to start on a database that has not been migrated."""

import glob
import hashlib
import os
import subprocess
import unittest

import harness


def source_migrations():
    """(version, name, sha256) of every migration file in the source tree, in order."""
    found = []
    for path in sorted(glob.glob(os.path.join(harness.SOURCE_DIR, "sql", "[0-9]*_*.sql"))):
        name = os.path.basename(path)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        found.append((int(name.split("_", 1)[0]), name, digest))
    return found


class MigrateFromEmpty(harness.DatabaseTestCase):
    migrate = False

    def applied(self):
        return self.db.query(
            "SELECT version, name, checksum, applied_at FROM schema_migrations "
            "ORDER BY version")

    def test_migrate_applies_all_then_nothing(self):
        expected = source_migrations()
        self.assertTrue(expected, "no migration files in sql/")

        rc, out, err = self.ctl("migrate")
        self.assertEqual(rc, 0, err)
        first = self.applied()
        self.assertEqual([(int(v), n, c) for v, n, c, _ in first], expected)

        rc, out, err = self.ctl("migrate")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.applied(), first, "a second migrate changed schema_migrations")
        for _, name, _ in expected:
            self.assertNotIn("applied " + name, out + err)

    def test_schema_has_the_data_model(self):
        # One table from each part of DESIGN.md's data model.
        rc, _, err = self.ctl("migrate")
        self.assertEqual(rc, 0, err)
        for table in ("agency", "agency_alias", "api_token", "recipient", "project",
                      "project_version", "ocds_release", "budget_line", "ingest_batch",
                      "ingest_issue", "feed_source", "feed_run", "indicator_run", "alert",
                      "silence", "outbox", "schema_migrations"):
            with self.subTest(table=table):
                self.assertIsNotNone(self.db.scalar("SELECT to_regclass(:'t')", t=table))


class DaemonRefusesOldSchema(unittest.TestCase):

    def setUp(self):
        self.db = harness.Database().create()
        self.addCleanup(self.db.drop)

    def test_refuses_unmigrated_database(self):
        d = harness.Daemon(db=self.db)
        self.addCleanup(d.close)
        proc = subprocess.run(d.argv(), env=d.env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=harness.START_TIMEOUT)
        harness.assert_no_sanitizer_reports(proc.stderr, "ictmond")
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("ictmonctl migrate", proc.stderr)


if __name__ == "__main__":
    unittest.main()
