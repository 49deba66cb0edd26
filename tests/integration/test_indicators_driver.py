"""The indicators' driver, scheduler and API against a real PostgreSQL (issue 5), without
depending on what each indicator's SQL finds: a run of the whole catalogue on an empty
database; one run at a time across processes (the advisory lock: exit 3); a failing
indicator rolls the whole run back and is recorded failed with its code; new data
triggers a debounced run; the API's shapes, ordering, pagination and role scoping on
results planted with SQL; /healthz and the API answering while a run waits in
PostgreSQL."""

import json
import os
import signal
import subprocess
import time
import unittest

import harness

CODES = ["DUP-PROJECT", "OVL-SPEND", "OVL-TENDER", "OVL-PLATFORM", "SPLIT",
         "REPEAT-DIRECT", "CONC-VENDOR", "UNREVIEWED-SPEND", "CV", "SV", "BUDGET-EXEC",
         "COORD-INDEX", "FEED-STALE"]
# The order runs compute them: the catalogue's, COORD-INDEX last.
RUN_ORDER = [c for c in CODES if c != "COORD-INDEX"] + ["COORD-INDEX"]

# The indicators' advisory lock, 0x6963746d6f6e0002, as pg_locks shows a bigint key.
LOCK_CLASSID = 0x6963746D
LOCK_OBJID = 0x6F6E0002
LOCK_KEY = 0x6963746D6F6E0002

AGENCY_A, AGENCY_B, AGENCY_C = "IA01", "IA02", "IA03"


def add_agencies(cls):
    for code in (AGENCY_A, AGENCY_B, AGENCY_C):
        rc, out, err = harness.ctl("agency", "add", code, "Indicator agency " + code,
                                   db=cls.db)
        if rc != 0:
            raise AssertionError("agency add failed: " + err)


class Holder:
    """A psql session that runs `sql` and then sleeps, holding whatever it took, until
    release() ends its backend."""

    def __init__(self, db, sql):
        self.db = db
        self.app = harness.unique_name("ictmon_holder")
        env = dict(db.env)
        env["PGAPPNAME"] = self.app
        self.proc = subprocess.Popen(
            [harness.PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.name],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env, text=True)
        self.proc.stdin.write(sql + "\nSELECT pg_sleep(120);\n")
        self.proc.stdin.flush()

    def release(self):
        if self.proc.poll() is None:
            self.db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = :'app'", app=self.app)
            try:
                self.proc.wait(harness.START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdin.close()
        self.proc.stderr.close()


def lock_taken(db):
    """Whether some session holds the indicators' advisory lock."""
    return db.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                     "AND granted AND classid = %d AND objid = %d AND objsubid = 1"
                     % (LOCK_CLASSID, LOCK_OBJID)) != "0"


def waiting_on_lock(db, query_like):
    return db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                     "current_database() AND wait_event_type = 'Lock' AND query LIKE "
                     ":'q'", q=query_like) != "0"


class Driver(harness.DatabaseTestCase):

    def runs(self):
        return self.db.query("SELECT id, trigger, status, codes, message, tallies "
                             "FROM indicator_run ORDER BY id")

    def test_empty_database_runs_everything_with_no_results(self):
        before = len(self.runs())
        rc, out, err = self.ctl("indicators", "run")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["code", "results", "high", "medium", "low",
                                            "seconds"])
        self.assertEqual([l.split()[0] for l in lines[1:-1]], RUN_ORDER)
        for line in lines[1:-1]:
            self.assertEqual(line.split()[1:5], ["0", "0", "0", "0"], line)
        self.assertRegex(lines[-1], r"^run \d+ done: 0 results in [0-9.]+ s$")
        runs = self.runs()
        self.assertEqual(len(runs), before + 1)
        run_id, trigger, status, codes, message, tallies = runs[-1]
        self.assertEqual(lines[-1].split()[1], run_id)
        self.assertEqual((trigger, status, message), ("manual", "done", None))
        self.assertEqual(codes, "{" + ",".join(RUN_ORDER) + "}")
        tallies = json.loads(tallies)
        self.assertEqual(sorted(tallies), sorted(CODES))
        self.assertEqual(tallies["CV"]["results"], 0)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM indicator_result"), "0")
        self.assertIsNotNone(self.db.scalar(
            "SELECT finished_at FROM indicator_run WHERE id = :'id'", id=run_id))

    def test_some_codes_any_case(self):
        rc, out, err = self.ctl("indicators", "run", "coord-index", "CV", "cv")
        self.assertEqual(rc, 0, err)
        # Each once, in run order, whatever order they were asked in.
        self.assertEqual([l.split()[0] for l in out.splitlines()[1:-1]],
                         ["CV", "COORD-INDEX"])

    def test_unknown_code_is_a_usage_error(self):
        before = len(self.runs())
        rc, out, err = self.ctl("indicators", "run", "CV", "NOT-AN-INDICATOR")
        self.assertEqual(rc, 2)
        self.assertIn("NOT-AN-INDICATOR", err)
        self.assertEqual(len(self.runs()), before)

    def test_list_prints_every_definition_and_parameter(self):
        rc, out, err = self.ctl("-s", "indicators.ovl_spend.window_days=120",
                                "indicators", "list")
        self.assertEqual(rc, 0, err)
        for code in CODES:
            self.assertRegex(out, r"(?m)^%s  " % code)
        self.assertIn("indicators.ovl_spend.window_days = 120", out)
        self.assertIn("indicators.dup_project.min_similarity = 0.45", out)

    def test_two_runs_at_once_one_gets_the_lock(self):
        # The first run takes the lock, then waits on a table its results go to.
        holder = Holder(self.db, "BEGIN; LOCK TABLE indicator_result IN ACCESS "
                                 "EXCLUSIVE MODE;")
        self.addCleanup(holder.release)
        first = subprocess.Popen(
            [harness.ICTMONCTL, "-s", "db.conninfo=" + self.db.conninfo, "indicators",
             "run"], env=self.db.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True)
        try:
            harness.poll(lambda: lock_taken(self.db), harness.START_TIMEOUT,
                         what="the first run holding the lock")
            rc, out, err = self.ctl("indicators", "run", "CV")
            self.assertEqual(rc, 3, out + err)
            self.assertIn("another run is in progress", err)
        finally:
            holder.release()
            out, err = first.communicate(timeout=harness.COMMAND_TIMEOUT)
        harness.assert_no_sanitizer_reports(err, "ictmonctl indicators run")
        # It ran (done, or failed in an indicator's SQL): the lock was its.
        self.assertIn(first.returncode, (0, 1), err)
        self.assertRegex(out + err, r"run \d+ (done|failed)")
        self.assertFalse(lock_taken(self.db))
        # The refused run left no row.
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM indicator_run WHERE codes = '{CV}'"), "0")

    def test_interrupt_stops_the_run_and_keeps_nothing(self):
        holder = Holder(self.db, "BEGIN; LOCK TABLE indicator_result IN ACCESS "
                                 "EXCLUSIVE MODE;")
        self.addCleanup(holder.release)
        before = {r[0] for r in self.runs()}
        run = subprocess.Popen(
            [harness.ICTMONCTL, "-s", "db.conninfo=" + self.db.conninfo, "indicators",
             "run"], env=self.db.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True)
        try:
            harness.poll(lambda: lock_taken(self.db) and waiting_on_lock(self.db, "%"),
                         harness.START_TIMEOUT, what="the run waiting in PostgreSQL")
            run.send_signal(signal.SIGINT)
            out, err = run.communicate(timeout=10)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
        harness.assert_no_sanitizer_reports(err, "ictmonctl indicators run")
        self.assertEqual(run.returncode, 1, err)
        new = [r for r in self.runs() if r[0] not in before]
        self.assertEqual([(r[2], r[4]) for r in new],
                         [("failed", "stopped: the daemon is shutting down")])
        self.assertFalse(lock_taken(self.db))

    def test_a_lock_held_elsewhere_is_exit_3(self):
        holder = Holder(self.db, "SELECT pg_advisory_lock(%d);" % LOCK_KEY)
        self.addCleanup(holder.release)
        harness.poll(lambda: lock_taken(self.db), harness.START_TIMEOUT,
                     what="the lock held")
        rc, out, err = self.ctl("indicators", "run")
        self.assertEqual(rc, 3, out + err)
        self.assertIn("another run is in progress", err)


class BrokenIndicator(harness.DatabaseTestCase):
    """An indicator whose SQL fails (a table it reads is gone): the whole run is rolled
    back, whatever the transaction wrote before the failure included, and recorded
    failed with the indicator's code."""

    def test_failure_rolls_back_and_names_the_indicator(self):
        # Something written inside the run's transaction before the failure: a result
        # planted by a trigger on the run's row. It must not survive.
        self.db.query("""
            CREATE FUNCTION plant_result() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO indicator_result (run_id, code, subject, band, fingerprint)
                VALUES (NEW.id, 'PLANTED', 'partial', 'high', 'PLANTED:' || NEW.id);
                RETURN NEW;
            END $$;
            CREATE TRIGGER plant AFTER INSERT ON indicator_run FOR EACH ROW
                WHEN (NEW.status = 'running') EXECUTE FUNCTION plant_result();
            ALTER TABLE feed_run RENAME TO feed_run_gone;
        """)
        rc, out, err = self.ctl("indicators", "run", "FEED-STALE")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("FEED-STALE", err)
        self.assertNotIn("done", out)
        rows = self.db.query("SELECT id, status, message, finished_at IS NOT NULL "
                             "FROM indicator_run")
        self.assertEqual(len(rows), 1, rows)
        run_id, status, message, finished = rows[0]
        self.assertEqual((status, finished), ("failed", "t"))
        self.assertTrue(message.startswith("FEED-STALE: "), message)
        self.assertIn("feed_run", message)
        self.assertIn("run %s failed" % run_id, err)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM indicator_result"), "0")
        # The lock was let go: the next run (repaired) goes through.
        self.db.query("ALTER TABLE feed_run_gone RENAME TO feed_run")
        rc, out, err = self.ctl("indicators", "run", "FEED-STALE")
        self.assertEqual(rc, 0, err)


class Scheduler(harness.DatabaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_agencies(cls)
        cls.analyst = cls.token("--role", "analyst", "--name", "scheduler")

    def runs(self, trigger=None):
        if trigger is None:
            return self.db.query("SELECT id, status FROM indicator_run ORDER BY id")
        return self.db.query("SELECT id, status FROM indicator_run WHERE trigger = :'t' "
                             "ORDER BY id", t=trigger)

    def test_new_data_triggers_one_debounced_run(self):
        self.db.query("DELETE FROM indicator_run")
        d = self.daemon(settings={"indicators.debounce": "1", "indicators.period": "0",
                                  "api.rate_limit": "0"})
        # No new data, no period: nothing runs.
        time.sleep(2.5)
        self.assertEqual(self.runs(), [])
        r = d.post("/v1/projects", {"projects": [{
            "id": "SCHED-1", "title": "Scheduler test", "status": "planned",
            "agency": AGENCY_A}]}, headers={"Authorization": "Bearer " + self.analyst})
        self.assertIn(r.status, (200, 201), r.body)
        harness.poll(lambda: [x for x in self.runs("ingest") if x[1] != "running"],
                     harness.START_TIMEOUT, what="a run after the ingest")
        runs = self.runs()
        self.assertEqual(len(runs), 1, runs)
        # Done, unless an indicator's SQL failed on this data: that is its own test's.
        self.assertIn(runs[0][1], ("done", "failed"))
        # The data it saw is not new to the next poll: no second run.
        time.sleep(3)
        self.assertEqual(len(self.runs()), 1)
        metrics = d.get("/metrics").body.decode()
        self.assertRegex(metrics, r'(?m)^ictmon_indicator_runs_total\{trigger="ingest",'
                                  r'status="(done|failed)"\} 1$')
        if runs[0][1] == "done":
            self.assertRegex(metrics,
                             r'(?m)^ictmon_indicator_seconds_count\{code="CV"\} 1$')
            self.assertRegex(metrics, r'(?m)^ictmon_indicator_results\{code="CV",'
                                      r'band="high"\} 0$')
        d.stop()

    def test_reload_applies_a_new_period(self):
        self.db.query("DELETE FROM indicator_run WHERE trigger = 'period'")
        settings = {"indicators.debounce": "1", "indicators.period": "0",
                    "api.rate_limit": "0"}
        d = self.daemon(settings=settings)
        time.sleep(2)
        self.assertEqual(self.runs("period"), [])
        settings["indicators.period"] = "1"
        d.write_config(harness.ini(dict(d.settings, **settings)))
        d.signal(signal.SIGHUP)
        harness.poll(lambda: [x for x in self.runs("period") if x[1] != "running"],
                     harness.START_TIMEOUT, what="a periodic run after the reload")
        d.stop()

    def test_sigterm_stops_a_run_at_once(self):
        holder = Holder(self.db, "BEGIN; LOCK TABLE indicator_result IN ACCESS "
                                 "EXCLUSIVE MODE;")
        self.addCleanup(holder.release)
        d = self.daemon(settings={"indicators.debounce": "1", "indicators.period": "1",
                                  "http.drain_timeout": "25", "api.rate_limit": "0"})
        harness.poll(lambda: lock_taken(self.db) and waiting_on_lock(self.db, "%"),
                     harness.START_TIMEOUT, what="a periodic run waiting in PostgreSQL")
        before = {x[0] for x in self.runs()}
        took = d.stop()
        self.assertLess(took, 10, "the run was waited for, not stopped")
        holder.release()
        new = self.db.query("SELECT status, message FROM indicator_run WHERE id <> ALL "
                            "(:'ids'::bigint[])", ids="{" + ",".join(before) + "}")
        self.assertEqual(new, [("failed", "stopped: the daemon is shutting down")])
        self.assertFalse(lock_taken(self.db))

    def test_period_runs_and_healthz_answers_while_a_run_waits(self):
        self.db.query("DELETE FROM indicator_run")
        holder = Holder(self.db, "BEGIN; LOCK TABLE indicator_result IN ACCESS "
                                 "EXCLUSIVE MODE;")
        self.addCleanup(holder.release)
        d = self.daemon(settings={"indicators.debounce": "1", "indicators.period": "1",
                                  "api.rate_limit": "0"})
        harness.poll(lambda: lock_taken(self.db) and waiting_on_lock(self.db, "%"),
                     harness.START_TIMEOUT, what="a periodic run waiting in PostgreSQL")
        began = time.monotonic()
        self.assertEqual(d.get("/healthz").status, 200)
        r = d.get("/v1/indicators/runs", headers={"Authorization": "Bearer " +
                                                  self.analyst})
        self.assertEqual(r.status, 200, r.body)
        self.assertLess(time.monotonic() - began, 5)
        holder.release()
        harness.poll(lambda: [x for x in self.runs("period") if x[1] != "running"],
                     harness.START_TIMEOUT, what="the periodic run over")
        d.stop()


class Api(harness.DatabaseTestCase):
    """Results planted directly with SQL: an old run, the current one of most codes, a
    newer run of CV alone, and a failed run, which never counts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_agencies(cls)
        cls.analyst = cls.token("--role", "analyst", "--name", "api")
        cls.token_a = cls.token("--role", "agency", "--agency", AGENCY_A)
        cls.token_b = cls.token("--role", "agency", "--agency", AGENCY_B)
        cls.token_c = cls.token("--role", "agency", "--agency", AGENCY_C)
        cls.plant()
        cls.d = harness.Daemon(db=cls.db, settings={"api.rate_limit": "0",
                                                    "indicators.period": "0"})
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")

    @classmethod
    def plant(cls):
        all_codes = "{" + ",".join(CODES) + "}"
        cls.db.query("""
            CREATE TEMP TABLE ids AS SELECT
                (SELECT id FROM agency WHERE code = :'a') AS a,
                (SELECT id FROM agency WHERE code = :'b') AS b,
                (SELECT id FROM agency WHERE code = :'c') AS c;
            INSERT INTO indicator_run (started_at, finished_at, status, codes)
                VALUES (now() - interval '3 days', now() - interval '3 days', 'done',
                        :'all');
            INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies,
                value, band, amount, currency, fingerprint, evidence)
                SELECT currval('indicator_run_id_seq'), 'OVL-SPEND', 'old', NULL,
                    ARRAY[a, b, c], 1, 'high', 1, 'CLP', 'OVL-SPEND:old', '{}'
                FROM ids;
            INSERT INTO indicator_run (started_at, finished_at, status, codes)
                VALUES (now() - interval '1 day', now() - interval '1 day', 'done',
                        :'all');
            INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies,
                value, band, amount, currency, fingerprint, evidence)
                SELECT currval('indicator_run_id_seq'), x.* FROM ids, LATERAL (VALUES
                ('OVL-SPEND', 'UNSPSC 432332 · 3 agencies', NULL::bigint,
                 ARRAY[a, b, c], 812400000.50::numeric, 'high', 812400000.50::numeric,
                 'CLP', 'OVL-SPEND:432332:1',
                 '{"summary": "3 agencies bought software", "total": 812400000.50}'::jsonb),
                ('OVL-SPEND', 'UNSPSC 811121 · 2 agencies', NULL, ARRAY[b, c], 60000000,
                 'medium', 60000000, 'CLP', 'OVL-SPEND:811121:2', '{}'),
                ('SPLIT', 'buyer IA01 · supplier 1', a, ARRAY[a], 45000000, 'high',
                 45000000, 'CLP', 'SPLIT:IA01:1', '{"rows": []}'),
                ('DUP-PROJECT', 'projects IA01/P1, IA02/P2', NULL, ARRAY[a, b], 0.8,
                 'medium', 300000000, 'CLP', 'DUP-PROJECT:IA01/P1', '{"terms": ["erp"]}'),
                ('OVL-TENDER', 'tender of IA03', c, ARRAY[c], 20000000, 'low', NULL,
                 NULL, 'OVL-TENDER:c', '{}'),
                ('COORD-INDEX', 'agency IA01', a, ARRAY[a], 0.62, 'medium', NULL, NULL,
                 'COORD-INDEX:IA01', '{"parts": {"reviewed": 0.5}}'),
                ('CONC-VENDOR', 'agency IA01', a, ARRAY[a], 3100, 'high', 90000000,
                 'CLP', 'CONC-VENDOR:IA01', '{}'),
                ('BUDGET-EXEC', 'agency IA01 · 2025', a, ARRAY[a], 112, 'high',
                 1000000, 'CLP', 'BUDGET-EXEC:IA01:2025', '{}'),
                ('FEED-STALE', 'agency IA01', a, ARRAY[a], 9, 'medium', NULL, NULL,
                 'FEED-STALE:IA01', '{}'),
                ('CV', 'project IA01/P1 (old run)', a, ARRAY[a], 50, 'high', NULL, NULL,
                 'CV:IA01/P1', '{}')) AS x;
            INSERT INTO indicator_run (started_at, finished_at, status, codes)
                VALUES (now() - interval '1 hour', now() - interval '1 hour', 'done',
                        '{CV}');
            INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies,
                value, band, amount, currency, fingerprint, evidence)
                SELECT currval('indicator_run_id_seq'), x.* FROM ids, LATERAL (VALUES
                ('CV', 'project IA01/P1', a, ARRAY[a], -35.5, 'high', -3550000, 'CLP',
                 'CV:IA01/P1', '{}'::jsonb),
                ('CV', 'project IA01/P3', a, ARRAY[a], 2, 'low', 0, 'CLP', 'CV:IA01/P3',
                 '{}'),
                ('CV', 'project IA02/P2', b, ARRAY[b], 12, 'medium', 0, 'CLP',
                 'CV:IA02/P2', '{}')) AS x;
            INSERT INTO indicator_run (started_at, finished_at, status, codes, message)
                VALUES (now(), now(), 'failed', :'all', 'SPLIT: boom');
            INSERT INTO indicator_result (run_id, code, subject, agency_id, agencies,
                value, band, fingerprint)
                SELECT currval('indicator_run_id_seq'), 'SPLIT', 'from a failed run', a,
                    ARRAY[a], 1, 'high', 'SPLIT:failed' FROM ids;
        """, a=AGENCY_A, b=AGENCY_B, c=AGENCY_C, all=all_codes)

    def get(self, path, token=None):
        return self.d.get(path, headers={"Authorization": "Bearer " +
                                         (token or self.analyst)})

    def walk(self, path, limit, token=None):
        return harness.walk_pages(lambda url: self.get(url, token), path, limit)[0]

    def test_results_are_the_newest_done_run_of_each_code(self):
        items = self.walk("/v1/indicators", 1000)
        fps = sorted(i["fingerprint"] for i in items)
        self.assertNotIn("OVL-SPEND:old", fps)
        self.assertNotIn("SPLIT:failed", fps)
        self.assertEqual(len(fps), len(set(fps)))
        cv = {i["subject"] for i in items if i["code"] == "CV"}
        self.assertEqual(cv, {"project IA01/P1", "project IA01/P3", "project IA02/P2"})
        self.assertEqual(len(items), 9 + 3)
        one = [i for i in items if i["fingerprint"] == "OVL-SPEND:432332:1"][0]
        for key in ("code", "subject", "agency", "agencies", "value", "band", "amount",
                    "currency", "fingerprint", "evidence", "run_id", "computed_at"):
            self.assertIn(key, one)
        self.assertEqual(one["value"], "812400000.50")
        self.assertEqual(one["amount"], "812400000.50")
        self.assertEqual(one["agencies"], [AGENCY_A, AGENCY_B, AGENCY_C])
        self.assertIsNone(one["agency"])
        self.assertEqual(one["evidence"]["summary"], "3 agencies bought software")
        self.assertRegex(one["computed_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$")

    def test_filters_and_pages(self):
        self.assertEqual(self.walk("/v1/indicators", 1000),
                         self.walk("/v1/indicators", 2))
        spend = self.walk("/v1/indicators?code=ovl-spend", 100)
        self.assertEqual(len(spend), 2)
        high = self.walk("/v1/indicators?band=high", 100)
        self.assertTrue(high and all(i["band"] == "high" for i in high))
        of_c = self.walk("/v1/indicators?agency=" + AGENCY_C, 100)
        self.assertEqual(sorted(i["fingerprint"] for i in of_c),
                         ["OVL-SPEND:432332:1", "OVL-SPEND:811121:2", "OVL-TENDER:c"])
        for bad in ("code=NOPE", "band=huge", "limit=0", "limit=100000", "after=zzz",
                    "agency=" + "x" * 300):
            self.assertEqual(self.get("/v1/indicators?" + bad).status, 400, bad)

    def test_agency_tokens_see_what_involves_them(self):
        of_b = self.walk("/v1/indicators", 100, self.token_b)
        self.assertTrue(of_b)
        self.assertTrue(all(AGENCY_B in i["agencies"] for i in of_b))
        self.assertEqual(len(of_b), 4)  # two spending overlaps, the duplicate, one CV
        self.assertEqual(self.get("/v1/indicators?agency=" + AGENCY_A,
                                  self.token_b).status, 403)
        self.assertEqual(self.get("/v1/indicators?agency=" + AGENCY_B,
                                  self.token_b).status, 200)
        self.assertEqual(self.d.get("/v1/indicators").status, 401)

    def test_overlaps_by_amount_with_their_kind(self):
        items = self.walk("/v1/overlaps", 1000)
        self.assertEqual(self.walk("/v1/overlaps", 1), items)
        self.assertEqual([i["fingerprint"] for i in items],
                         ["OVL-SPEND:432332:1", "DUP-PROJECT:IA01/P1",
                          "OVL-SPEND:811121:2", "SPLIT:IA01:1", "OVL-TENDER:c"])
        self.assertEqual([i["kind"] for i in items],
                         ["spend", "duplicates", "spend", "split", "tender"])
        spend = self.walk("/v1/overlaps?kind=spend", 10)
        self.assertEqual([i["amount"] for i in spend], ["812400000.50", "60000000"])
        dup = self.walk("/v1/overlaps?kind=duplicates", 10)
        self.assertEqual(dup[0]["evidence"]["terms"], ["erp"])
        self.assertEqual(len(self.walk("/v1/overlaps?kind=split", 10, self.token_a)), 1)
        self.assertEqual(self.walk("/v1/overlaps?kind=split", 10, self.token_b), [])
        self.assertEqual(self.get("/v1/overlaps?kind=everything").status, 400)

    def test_scorecard(self):
        r = self.get("/v1/agencies/%s/scorecard" % AGENCY_A, self.token_a)
        self.assertEqual(r.status, 200, r.body)
        s = r.json
        self.assertEqual(s["agency"]["code"], AGENCY_A)
        self.assertEqual(s["coord_index"]["value"], "0.62")
        self.assertEqual(s["coord_index"]["evidence"]["parts"], {"reviewed": 0.5})
        self.assertEqual(s["conc_vendor"]["value"], "3100")
        self.assertEqual([b["value"] for b in s["budget_exec"]], ["112"])
        self.assertEqual(s["projects"]["cv"], {"low": 1, "medium": 0, "high": 1,
                                               "none": 0})
        self.assertEqual(s["overlaps"]["total"], 3)
        self.assertEqual(s["overlaps"]["by_kind"], {"duplicates": 1, "spend": 1,
                                                    "tender": 0, "split": 1})
        self.assertEqual([o["kind"] for o in s["overlaps"]["items"]],
                         ["spend", "duplicates", "split"])
        self.assertEqual([f["fingerprint"] for f in s["feed_stale"]], ["FEED-STALE:IA01"])
        self.assertEqual(self.get("/v1/agencies/%s/scorecard" % AGENCY_A,
                                  self.token_b).status, 403)
        self.assertEqual(self.get("/v1/agencies/NO-SUCH/scorecard").status, 404)
        b = self.get("/v1/agencies/%s/scorecard" % AGENCY_B).json
        self.assertIsNone(b["coord_index"])
        self.assertEqual(b["projects"]["cv"]["medium"], 1)

    def test_catalogue(self):
        r = self.get("/v1/indicators/catalogue", self.token_c)
        self.assertEqual(r.status, 200, r.body)
        entries = r.json["indicators"]
        self.assertEqual(sorted(e["code"] for e in entries), sorted(CODES))
        for e in entries:
            self.assertGreater(len(e["definition"]), 40, e["code"])
            self.assertTrue(e["title"] and e["subject"], e["code"])
            self.assertTrue(e["parameters"], e["code"])
        spend = [e for e in entries if e["code"] == "OVL-SPEND"][0]
        params = {p["name"]: p for p in spend["parameters"]}
        self.assertEqual(params["window_days"]["value"], 180)
        self.assertEqual(params["window_days"]["key"], "indicators.ovl_spend.window_days")
        self.assertEqual(params["min_total"]["value"], "50000000")
        self.assertIs(params["ict_only"]["value"], True)
        # Ratios print as configured, not as doubles do.
        self.assertIn('"value":0.45', r.body.decode())
        general = {p["name"] for p in r.json["general_parameters"]}
        self.assertEqual(general, {"currency", "ict_unspsc", "ict_budget",
                                   "class_digits", "cpv_digits", "framework_methods"})

    def test_runs_are_for_analysts(self):
        self.assertEqual(self.get("/v1/indicators/runs", self.token_a).status, 403)
        runs = self.walk("/v1/indicators/runs", 2)
        self.assertEqual([r["status"] for r in runs], ["failed", "done", "done", "done"])
        self.assertEqual(runs[0]["message"], "SPLIT: boom")
        self.assertEqual(runs[1]["codes"], ["CV"])
        for key in ("id", "trigger", "status", "codes", "started_at", "finished_at",
                    "seconds", "tallies"):
            self.assertIn(key, runs[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
