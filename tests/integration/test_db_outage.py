"""PostgreSQL going away and coming back under a running ictmond, on a private cluster:
/readyz turns 503 within seconds while /healthz stays 200, and turns 200 again once the
server is back, without restarting the daemon."""

import unittest

import harness

# db.reconnect_max caps the backoff; the deadlines leave room for a slow sanitizer build.
RECONNECT_MAX = 2
NOTICE_DEADLINE = 10.0
RECOVER_DEADLINE = RECONNECT_MAX * 2 + 10.0


class DatabaseOutage(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = harness.PrivateCluster().start()
        cls.addClassCleanup(cls.cluster.destroy)
        cls.db = harness.Database("ictmon", env=cls.cluster.env)
        rc, out, err = harness.ctl("migrate", db=cls.db)
        if rc != 0:
            raise AssertionError("ictmonctl migrate failed: " + err)

    def test_stop_and_start_postgresql(self):
        d = harness.Daemon(db=self.db, settings={"db.reconnect_max": str(RECONNECT_MAX),
                                                 "db.connect_timeout": "2"})
        self.addCleanup(d.close)
        d.start(wait="ready")
        pid = d.proc.pid

        self.cluster.stop()
        d.wait_status("/readyz", 503, timeout=NOTICE_DEADLINE)
        self.assertEqual(d.get("/healthz").status, 200)
        self.assertEqual(d.get("/metrics").status, 200)

        self.cluster.start()
        d.wait_status("/readyz", 200, timeout=RECOVER_DEADLINE)
        self.assertEqual(d.proc.pid, pid)
        self.assertIsNone(d.proc.poll())
        d.stop()

    def test_starts_without_database_and_becomes_ready(self):
        self.cluster.stop()
        self.addCleanup(self.cluster.start)
        d = harness.Daemon(db=self.db, settings={"db.reconnect_max": str(RECONNECT_MAX),
                                                 "db.connect_timeout": "2"})
        self.addCleanup(d.close)
        d.start(wait="healthy")
        self.assertEqual(d.get("/readyz").status, 503)
        self.cluster.start()
        d.wait_status("/readyz", 200, timeout=RECOVER_DEADLINE)
        d.stop()


if __name__ == "__main__":
    unittest.main()
