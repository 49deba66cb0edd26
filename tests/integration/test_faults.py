"""Faults under load: ictmond killed during a large ingest, PostgreSQL stopped and
started under readers and writers, the raw OCDS archive's disk filling up, two daemons
on one database. Nothing acknowledged is lost, nothing half-written is visible, every
refusal is a 503 with Retry-After, and the daemon recovers by itself. (SMTP down and a
kill mid-send are test_alerts_email.py's.)"""

import base64
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness

AGENCY = "05-62"
BATCH = 200                 # projects per pushed batch
RECOVER_DEADLINE = 15.0     # seconds for the pool to be back after the server is


def batch_body(key, agency=None):
    return {"projects": [{"id": "%s-%03d" % (key, i), "title": "Plataforma %s %d" % (key, i),
                          "status": "planned", "planned_cost": "%d.50" % (1000 + i),
                          "currency": "CLP", **({"agency": agency} if agency else {})}
                         for i in range(BATCH)]}


class Pusher(threading.Thread):
    """Pushes batches with Idempotency-Keys "prefix-N" until stopped; `acked` holds the
    keys whose 2xx reply arrived whole, `replies` every status (and Retry-After)."""

    def __init__(self, daemon, token, prefix, timeout=30):
        super().__init__(daemon=True)
        self.d, self.token, self.prefix, self.timeout = daemon, token, prefix, timeout
        self.stop = threading.Event()
        self.acked, self.sent, self.replies, self.errors = [], [], [], []

    def run(self):
        n = 0
        while not self.stop.is_set():
            key = "%s-%d" % (self.prefix, n)
            n += 1
            self.sent.append(key)
            try:
                r = self.d.post("/v1/projects", batch_body(key), timeout=self.timeout,
                                headers={"Authorization": "Bearer " + self.token,
                                         "Idempotency-Key": key})
            except OSError as e:
                self.errors.append(repr(e))
                time.sleep(0.05)
                continue
            self.replies.append((r.status, r.headers.get("Retry-After")))
            if r.status in (200, 201):
                self.acked.append(key)
            elif r.status == 503:
                time.sleep(0.1)


def stored_counts(db, prefix):
    """{batch key: projects stored} for the keys starting with `prefix`."""
    rows = db.query("SELECT substring(external_id FROM '^(.*)-[0-9]{3}$'), count(*)"
                    " FROM project WHERE external_id LIKE :'p' GROUP BY 1",
                    p=prefix + "%")
    return {k: int(n) for k, n in rows}


class KilledDuringIngest(harness.DatabaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.import_agencies()
        cls.agency = cls.token("--role", "agency", "--agency", AGENCY)

    def test_sigkill_keeps_exactly_the_acknowledged_batches(self):
        d = harness.Daemon(db=self.db, settings={"api.rate_limit": "0"})
        self.addCleanup(d.close)
        d.start(wait="ready")
        pushers = [Pusher(d, self.agency, "KILL%d" % i) for i in range(4)]
        for p in pushers:
            p.start()
        harness.poll(lambda: sum(len(p.acked) for p in pushers) >= 8, 60,
                     what="some batches acknowledged")
        time.sleep(0.3)                     # more in flight
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        for p in pushers:
            p.stop.set()
            p.join(60)
        acked = [k for p in pushers for k in p.acked]
        sent = [k for p in pushers for k in p.sent]
        print("\nkilled: %d batches acknowledged, %d sent" % (len(acked), len(sent)),
              file=sys.stderr)

        counts = stored_counts(self.db, "KILL")
        # every acknowledged batch whole; no batch in part
        self.assertEqual([k for k in acked if counts.get(k) != BATCH], [])
        self.assertEqual({k: n for k, n in counts.items() if n != BATCH}, {})
        self.assertEqual(set(counts) - set(sent), set())
        # a batch row that was running when the process died is not "done"
        done = {r[0] for r in self.db.query(
            "SELECT idempotency_key FROM ingest_batch WHERE status = 'done'"
            " AND idempotency_key LIKE 'KILL%'")}
        self.assertEqual(done, set(counts))

        # Restarted, the same requests again: the acknowledged ones are replayed, the
        # others done now; each batch stored once.
        d2 = harness.Daemon(db=self.db, settings={"api.rate_limit": "0",
                                                  "ingest.stale_after": "10"})
        self.addCleanup(d2.close)
        d2.start(wait="ready")
        deadline = time.monotonic() + 60
        pending = list(sent)
        while pending and time.monotonic() < deadline:
            key = pending.pop(0)
            r = d2.post("/v1/projects", batch_body(key), timeout=30,
                        headers={"Authorization": "Bearer " + self.agency,
                                 "Idempotency-Key": key})
            if r.status == 409:         # its abandoned row is not stale yet
                pending.append(key)
                time.sleep(0.5)
                continue
            self.assertIn(r.status, (200, 201), r.body[:300])
            if key in acked:
                self.assertEqual(r.headers.get("Idempotency-Replayed"), "true", key)
        self.assertEqual(pending, [])
        counts = stored_counts(self.db, "KILL")
        self.assertEqual(counts, {k: BATCH for k in sent})
        self.assertEqual(int(self.db.scalar(
            "SELECT count(*) FROM project WHERE external_id LIKE 'KILL%'")),
            BATCH * len(sent))
        d2.stop()


class PostgresRestartedUnderLoad(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = harness.PrivateCluster(port=harness.free_port()).start()
        cls.addClassCleanup(cls.cluster.destroy)
        cls.db = harness.Database("ictmon", env=cls.cluster.env)
        for args in (("migrate",), ("agency", "import", harness.INSTITUTIONS)):
            rc, out, err = harness.ctl(*args, db=cls.db)
            assert rc == 0, out + err
        rc, out, err = harness.ctl("token", "create", "--role", "agency", "--agency",
                                   AGENCY, db=cls.db)
        cls.agency = out.strip()

    def test_503_with_retry_after_while_down_and_recovery_without_restart(self):
        d = harness.Daemon(db=self.db, settings={
            "api.rate_limit": "0", "db.reconnect_max": "1", "db.connect_timeout": "2"})
        self.addCleanup(d.close)
        d.start(wait="ready")
        pid = d.proc.pid
        pushers = [Pusher(d, self.agency, "PGR%d" % i, timeout=20) for i in range(2)]
        reads = []

        def read():
            while not pushers[0].stop.is_set():
                try:
                    r = d.get("/v1/projects?limit=5", timeout=20,
                              headers={"Authorization": "Bearer " + self.agency})
                    reads.append((r.status, r.headers.get("Retry-After")))
                except OSError as e:
                    reads.append((repr(e), None))
                time.sleep(0.05)

        reader = threading.Thread(target=read, daemon=True)
        for t in pushers + [reader]:
            t.start()
        harness.poll(lambda: sum(len(p.acked) for p in pushers) >= 4, 60,
                     what="batches acknowledged before the stop")
        self.cluster.stop()
        down_from = len(reads)
        time.sleep(3)
        self.cluster.start()
        restarted = time.monotonic()
        before = sum(len(p.acked) for p in pushers)
        harness.poll(lambda: sum(len(p.acked) for p in pushers) >= before + 4,
                     RECOVER_DEADLINE, what="batches acknowledged after the restart")
        recovered_in = time.monotonic() - restarted
        print("\nrestart: %d acknowledged before, recovered in %.1f s"
              % (before, recovered_in), file=sys.stderr)
        for p in pushers:
            p.stop.set()
        for t in pushers + [reader]:
            t.join(30)

        self.assertEqual(d.proc.pid, pid)
        self.assertIsNone(d.proc.poll())
        replies = [r for p in pushers for r in p.replies] + reads
        self.assertEqual([r for r in replies if r[0] not in (200, 201, 503)], [])
        self.assertEqual([r for r in replies if r[0] == 503 and r[1] is None], [])
        self.assertIn(503, [r[0] for r in reads[down_from:]], "no 503 while down")
        self.assertEqual([e for p in pushers for e in p.errors], [])
        self.assertLess(recovered_in, RECOVER_DEADLINE)
        acked = [k for p in pushers for k in p.acked]
        counts = stored_counts(self.db, "PGR")
        self.assertEqual([k for k in acked if counts.get(k) != BATCH], [])
        self.assertEqual({k: n for k, n in counts.items() if n != BATCH}, {})
        d.stop()


class RawArchiveDiskFull(unittest.TestCase):
    """The raw OCDS releases (ocds_release) on a tablespace of a small tmpfs."""

    SIZE_MB = 12

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a small file system needs root")
        cls.mnt = tempfile.mkdtemp(prefix="ictmon-full-")
        os.chmod(cls.mnt, 0o711)
        rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % cls.SIZE_MB,
                             "tmpfs", cls.mnt], capture_output=True, text=True)
        if rc.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs here: " + rc.stderr.strip())
        cls.addClassCleanup(subprocess.run, ["umount", "-l", cls.mnt])
        cls.cluster = harness.PrivateCluster(port=harness.free_port()).start()
        cls.addClassCleanup(cls.cluster.destroy)
        data = os.stat(os.path.join(cls.cluster.dir, "pg", "data"))
        space = os.path.join(cls.mnt, "raw")
        os.mkdir(space, 0o700)
        os.chown(space, data.st_uid, data.st_gid)     # the cluster's own user
        cls.db = harness.Database("ictmon", env=cls.cluster.env)
        for args in (("migrate",), ("agency", "import", harness.INSTITUTIONS)):
            rc, out, err = harness.ctl(*args, db=cls.db)
            assert rc == 0, out + err
        cls.db.query("CREATE TABLESPACE raw_archive LOCATION '%s'" % space)
        cls.db.query("ALTER TABLE ocds_release SET TABLESPACE raw_archive")
        for (index,) in cls.db.query("SELECT indexname FROM pg_indexes"
                                     " WHERE tablename = 'ocds_release'"):
            cls.db.query('ALTER INDEX "%s" SET TABLESPACE raw_archive' % index)
        rc, out, err = harness.ctl("token", "create", "--role", "analyst", db=cls.db)
        cls.analyst = out.strip()

    def push(self, d, n):
        """One package of 20 releases of about 40 kB each, ocids "FULL-n-i", which
        PostgreSQL cannot compress."""
        filler = base64.b64encode(os.urandom(30000)).decode()
        releases = [{"ocid": "ocds-full-%d-%d" % (n, i), "id": "1",
                     "date": "2026-01-02T00:00:00Z", "tag": ["tender"],
                     "buyer": {"id": "B-%d" % n, "name": "Buyer"},
                     "tender": {"id": "t", "description": filler + str(n)}}
                    for i in range(20)]
        return d.post("/v1/procurement", {"releases": releases}, timeout=60,
                      headers={"Authorization": "Bearer " + self.analyst})

    def stored(self, n):
        return int(self.db.scalar("SELECT count(*) FROM ocds_release WHERE ocid LIKE"
                                  " :'p'", p="ocds-full-%d-%%" % n))

    def test_a_full_disk_refuses_the_batch_cleanly_and_recovers(self):
        d = harness.Daemon(db=self.db, settings={"api.rate_limit": "0"})
        self.addCleanup(d.close)
        d.start(wait="ready")
        acked, refused = [], None
        for n in range(100):
            r = self.push(d, n)
            if r.status in (200, 201):
                acked.append(n)
                continue
            refused = (n, r)
            break
        self.assertIsNotNone(refused, "the tmpfs never filled")
        n, r = refused
        print("\ndisk full: %d batches stored, batch %d refused" % (len(acked), n),
              file=sys.stderr)
        self.assertEqual(r.status, 503, r.body[:300])
        self.assertEqual(r.headers.get("Retry-After"), "5")
        self.assertIn("out of disk space", r.json["error"]["message"])
        self.assertNotIn("tablespace", r.body.decode())       # no internals
        self.assertGreater(len(acked), 0)
        # the refused batch left nothing; the earlier ones are whole
        self.assertEqual(self.stored(n), 0)
        self.assertEqual(int(self.db.scalar(
            "SELECT count(*) FROM ocds_compiled WHERE ocid LIKE :'p'",
            p="ocds-full-%d-%%" % n)), 0)
        self.assertEqual([m for m in acked if self.stored(m) != 20], [])
        self.assertIn("No space left on device", d.log())   # the cause, in the log only
        # reads go on
        self.assertEqual(d.get("/v1/projects?limit=1", headers={
            "Authorization": "Bearer " + self.analyst}).status, 200)
        self.assertEqual(d.get("/readyz").status, 200)
        # more room, and the same push goes through
        subprocess.run(["mount", "-o", "remount,size=%dm" % (self.SIZE_MB * 4), self.mnt],
                       check=True)
        r = self.push(d, n)
        self.assertEqual(r.status, 201, r.body[:300])
        self.assertEqual(self.stored(n), 20)
        d.stop()


class TwoDaemons(harness.DatabaseTestCase):
    """Two ictmond on one database, both scheduling the indicators after new data."""

    def test_one_indicator_run_per_trigger(self):
        self.import_agencies()
        analyst = self.token("--role", "analyst", "--name", "analyst")
        settings = {"api.rate_limit": "0", "indicators.period": "0",
                    "indicators.debounce": "1"}
        first = harness.Daemon(db=self.db, settings=settings)
        second = harness.Daemon(db=self.db, settings=settings)
        for d in (first, second):
            self.addCleanup(d.close)
            d.start(wait="ready")
        for round_ in range(3):
            before = int(self.db.scalar("SELECT count(*) FROM indicator_run"))
            d = (first, second)[round_ % 2]
            r = d.post("/v1/projects", batch_body("TWO%d" % round_, AGENCY),
                       headers={"Authorization": "Bearer " + analyst})
            self.assertEqual(r.status, 201, r.body[:300])
            harness.poll(lambda: int(self.db.scalar(
                "SELECT count(*) FROM indicator_run WHERE status <> 'running'")) > before,
                30, what="the indicator run after the push")
            time.sleep(3)       # both debounces long past: a second run would be there
            runs = self.db.query("SELECT id, status, trigger FROM indicator_run"
                                 " ORDER BY id OFFSET :'n'", n=before)
            self.assertEqual([r[1:] for r in runs], [("done", "ingest")], runs)
        first.stop()
        second.stop()


if __name__ == "__main__":
    unittest.main()
