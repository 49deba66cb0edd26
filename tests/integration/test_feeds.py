"""The feeds ictmon pulls (issue 4), against a real PostgreSQL, real daemons and a real HTTP
server (feedserver.py, started here): a paged OCDS API stored exactly once and then costing
one 304; JSON Lines, the budget law CSV and our projects format; every misbehaviour of the
server as a failed or partial run with its message, backoff and a later recovery that
resumes where the failure stopped; a daemon killed mid-pull; two daemons sharing a feed;
/healthz answering during a large pull (its p99 printed); GET /v1/feeds, POST
/v1/feeds/{name}/run and `ictmonctl feed list|run`."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import feedserver
import harness

DATA_DIR = os.path.join(harness.SHARED_DIR, "data")
BUDGET_LAW = harness.BUDGET_LAW

AGENCY = "05-62"


def sanitizer_build():
    """Whether ictmond was built with ASan: it is several times slower."""
    try:
        with open(harness.ICTMOND, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# The large pull of the /healthz measurement: smaller under ASan, where a release costs
# several times more, so that the file stays within its few minutes.
LARGE_PULL = int(os.environ.get("ICTMON_TEST_LARGE_PULL") or
                 (20000 if sanitizer_build() else 50000))


def release_ids(releases):
    """(ocid, release id) of each release, sorted, as stored_ids gives them."""
    return sorted((r["ocid"], r["id"]) for r in releases)


def releases_path(prefix, total, per_page, **extra):
    """The generated paged API's first page; every page of one prefix is its own."""
    query = [("total", total), ("per_page", per_page), ("prefix", prefix)]
    query += sorted(extra.items())
    return "/ocds/releases?" + urllib.parse.urlencode(query)


class FeedTestCase(harness.DatabaseTestCase):
    """A fresh database with Chile's agencies, a feed server and tokens; helpers to read
    what the feeds wrote."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.import_agencies()
        # Serving a directory of its own under /files.
        cls.server = feedserver.Running(data=DATA_DIR)
        cls.addClassCleanup(cls.server.close)
        cls.analyst = cls.token("--role", "analyst", "--name", "feeds-analyst")
        cls.agency_token = cls.token("--role", "agency", "--agency", AGENCY)

    @staticmethod
    def feed_settings(name, **keys):
        return {"feed.%s.%s" % (name, k): str(v) for k, v in keys.items()}

    @classmethod
    def hold(cls, name, kind, url):
        """A feed's row written before the daemon starts, due only tomorrow: it runs when
        a test asks, not at start."""
        cls.db.query("INSERT INTO feed_source (name, kind, url, schedule_seconds,"
                      " next_run_at) VALUES (:'n', :'k', :'u', 3600,"
                      " now() + interval '1 day') ON CONFLICT (name) DO NOTHING",
                      n=name, k=kind, u=url)

    def runs(self, name):
        """The feed's runs, oldest first, as dicts."""
        cols = ("id", "status", "http_status", "records", "pages", "bytes", "message",
                "url", "lease_owner", "started", "finished")
        rows = self.db.query(
            "SELECT r.id, r.status, r.http_status, r.records, r.pages, r.bytes, r.message,"
            " r.url, r.lease_owner, extract(epoch FROM r.started_at),"
            " extract(epoch FROM r.finished_at)"
            " FROM feed_run r JOIN feed_source f ON f.id = r.feed_id"
            " WHERE f.name = :'n' ORDER BY r.id", n=name)
        out = []
        for row in rows:
            d = dict(zip(cols, row))
            for k in ("id", "http_status", "records", "pages", "bytes"):
                d[k] = int(d[k]) if d[k] is not None else None
            for k in ("started", "finished"):
                d[k] = float(d[k]) if d[k] is not None else None
            out.append(d)
        return out

    def run_status(self, run_id):
        rows = [r for r in self.db.query("SELECT status FROM feed_run WHERE id = :'i'",
                                         i=str(run_id))]
        return rows[0][0] if rows else None

    def wait_run(self, name, run_id, timeout=120):
        harness.poll(lambda: self.run_status(run_id) is not None, timeout, interval=0.1,
                     what="feed %s run %s to end" % (name, run_id))
        return [r for r in self.runs(name) if r["id"] == run_id][0]

    def source(self, name):
        cols = ("consecutive_failures", "cursor", "etag", "next_run", "last_success",
                "problem", "configured", "lease_owner")
        row = self.db.query(
            "SELECT consecutive_failures, cursor, etag, extract(epoch FROM next_run_at),"
            " extract(epoch FROM last_success_at), problem, configured, lease_owner"
            " FROM feed_source WHERE name = :'n'", n=name)
        self.assertEqual(len(row), 1, "no feed_source row for %s" % name)
        d = dict(zip(cols, row[0]))
        d["consecutive_failures"] = int(d["consecutive_failures"])
        for k in ("next_run", "last_success"):
            d[k] = float(d[k]) if d[k] is not None else None
        return d

    def stored(self, prefix):
        """(rows, distinct (ocid, release id)) of the releases of one prefix."""
        row = self.db.query("SELECT count(*), count(DISTINCT (ocid, release_id))"
                            " FROM ocds_release WHERE ocid LIKE :'p' || '-%'", p=prefix)[0]
        return int(row[0]), int(row[1])

    def stored_ids(self, prefix):
        return sorted(self.db.query("SELECT ocid, release_id FROM ocds_release"
                                    " WHERE ocid LIKE :'p' || '-%'", p=prefix))

    def assert_once(self, name, prefix, total):
        """Every release of the feed stored once, and written once: the runs' records add
        up to the total, so nothing committed was pulled and written again."""
        self.assertEqual(self.stored(prefix), (total, total))
        self.assertEqual(sum(r["records"] for r in self.runs(name)), total, self.runs(name))


@unittest.skipUnless(os.path.exists(BUDGET_LAW), "no shared data")
class Pulls(FeedTestCase):
    """One daemon and its feeds, each run when a test asks (POST /v1/feeds/{name}/run)."""

    PAGED = releases_path("paged", 5000, 500)
    LARGE = releases_path("large", LARGE_PULL, 1000)
    SLOW = releases_path("slowapi", 400, 100, fail_page=2, fail="slow", slow_ms=4000)
    RETRY = releases_path("retry", 300, 100, fail_page=2, fail="500", fail_times=2)
    JSONL = "/ocds/releases.jsonl?total=3000&prefix=jsonl"
    HISTORY = releases_path("history", 10, 10)
    PROJECTS = [{"id": "FEED-P%d" % i, "title": "Proyecto de datos %d" % i,
                 "status": "planned"} for i in range(1, 4)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(BUDGET_LAW, "rb") as f:
            cls.budget_url = cls.server.add_file("budgetLaw.csv", f.read())
        cls.projects_url = cls.server.add_file(
            "projects.json", json.dumps({"projects": cls.PROJECTS}).encode())
        cls.bad_projects_url = cls.server.add_file(
            "bad-projects.json", json.dumps({"projects": [
                {"id": "FEED-BAD1", "title": "Bien", "status": "planned"},
                {"id": "FEED-BAD2", "title": "Mal", "status": "someday"}]}).encode())
        cls.feeds = {
            "paged": ("ocds_release_packages", cls.server.url(cls.PAGED), {}),
            "large": ("ocds_release_packages", cls.server.url(cls.LARGE), {}),
            "slowapi": ("ocds_release_packages", cls.server.url(cls.SLOW), {}),
            "retry": ("ocds_release_packages", cls.server.url(cls.RETRY), {}),
            "jsonl": ("ocds_jsonl", cls.server.url(cls.JSONL), {}),
            "history": ("ocds_release_packages", cls.server.url(cls.HISTORY), {}),
            "hangup": ("ocds_release_packages",
                       cls.server.url(releases_path("hangup", 10, 10)), {}),
            "budget": ("budget_csv", cls.budget_url,
                       {"fiscal_year": 2025, "phase": "approved"}),
            "projects": ("projects_json", cls.projects_url, {"agency": AGENCY}),
            "badprojects": ("projects_json", cls.bad_projects_url, {"agency": AGENCY}),
        }
        settings = {"api.rate_limit": "0", "feeds.retry_base": "1",
                    "feeds.chunk_records": "1000"}
        for name, (kind, url, keys) in cls.feeds.items():
            cls.hold(name, kind, url)
            settings.update(cls.feed_settings(name, kind=kind, url=url, **keys))
        # A feed of an agency nobody added: recorded with its problem, never run.
        settings.update(cls.feed_settings("unknown", kind="ocds_jsonl", agency="99-99",
                                          url=cls.server.url(cls.JSONL)))
        cls.d = harness.Daemon(db=cls.db, settings=settings)
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")
        # The daemon records its feeds once it reaches the database.
        harness.poll(lambda: cls.db.scalar(
            "SELECT count(*) FROM feed_source WHERE problem IS NOT NULL") == "1",
            harness.START_TIMEOUT, what="the feeds recorded")

    @classmethod
    def tearDownClass(cls):
        # SIGTERM with feeds still retrying: they stop, and the daemon exits cleanly.
        cls.d.stop()
        super().tearDownClass()

    def auth(self, token=None):
        return {"Authorization": "Bearer " + (token or self.analyst)}

    def post_run(self, name, token=None):
        return self.d.post("/v1/feeds/%s/run" % urllib.parse.quote(name, safe=""), "",
                           headers=self.auth(token))

    def start(self, name):
        """Asks for a run; its id."""
        def ask():
            r = self.post_run(name)
            # 503 until the daemon has recorded the feed; 409 while a retry runs.
            return r if r.status == 202 else None
        r = harness.poll(ask, harness.START_TIMEOUT, interval=0.2,
                         what="POST /v1/feeds/%s/run answering 202" % name)
        self.assertEqual(r.json["feed"], name)
        self.assertEqual(r.headers.get("Location"), "/v1/feeds/" + name)
        return r.json["run_id"]

    def pull(self, name, timeout=120):
        return self.wait_run(name, self.start(name), timeout)

    def feed(self, name, token=None):
        return self.d.get("/v1/feeds/" + urllib.parse.quote(name, safe=""),
                          headers=self.auth(token))

    # --- paged OCDS, and its 304 ------------------------------------------------------

    def test_paged_api_stored_once_then_not_modified(self):
        run = self.pull("paged")
        self.assertEqual((run["status"], run["records"], run["pages"], run["http_status"]),
                         ("ok", 5000, 10, 200), run)
        self.assertIsNone(run["message"])
        self.assertTrue(run["url"].endswith("page=10"), run["url"])
        self.assertGreater(run["bytes"], 0)
        # Every generated release, each exactly once.
        expected = release_ids(self.server.releases(self.PAGED)[0])
        self.assertEqual(len(expected), 5000)
        self.assertEqual(self.stored_ids("paged"), expected)
        self.assertEqual(self.stored("paged"), (5000, 5000))
        # The cursor stays on the last page, complete, with its validators.
        feed = self.feed("paged").json
        self.assertEqual(feed["cursor"]["complete"], True)
        self.assertTrue(feed["cursor"]["url"].endswith("page=10"), feed["cursor"])
        self.assertEqual(feed["consecutive_failures"], 0)
        self.assertIsNotNone(feed["last_success_at"])
        self.assertIsNotNone(self.source("paged")["etag"])

        # Unchanged: one conditional request, a 304, nothing written.
        self.server.stats(reset=True)
        again = self.pull("paged")
        self.assertEqual((again["status"], again["records"], again["pages"]),
                         ("not_modified", 0, 0), again)
        stats = self.server.stats()
        self.assertEqual(stats["requests"].get("/ocds/releases"), 1, stats)
        self.assertEqual(stats["status"]["/ocds/releases"], {"304": 1}, stats)
        self.assertEqual(self.stored("paged"), (5000, 5000))
        self.assertEqual(self.source("paged")["consecutive_failures"], 0)

    # --- the other kinds ------------------------------------------------------------

    def test_jsonl_stored_once_then_not_modified(self):
        run = self.pull("jsonl")
        self.assertEqual((run["status"], run["records"], run["pages"]), ("ok", 3000, 1),
                         run)
        expected = release_ids(map(json.loads, self.server.get(self.JSONL).splitlines()))
        self.assertEqual(self.stored_ids("jsonl"), expected)
        again = self.pull("jsonl")
        self.assertEqual((again["status"], again["records"]), ("not_modified", 0), again)
        self.assertEqual(self.stored("jsonl"), (3000, 3000))

    def test_budget_law_csv(self):
        run = self.pull("budget")
        self.assertEqual(run["status"], "ok", run)
        self.assertGreater(run["records"], 0)
        # The same rows a push of the file stores (test_ingest counts them the same way).
        self.assertEqual(int(self.db.scalar(
            "SELECT count(*) FROM budget_line WHERE fiscal_year = 2025"
            " AND phase = 'approved'")), harness.budget_law_rows()[1])

    def test_projects_json(self):
        run = self.pull("projects")
        self.assertEqual((run["status"], run["records"]), ("ok", 3), run)
        rows = self.db.query(
            "SELECT p.external_id, p.title FROM project p JOIN agency a"
            " ON a.id = p.agency_id WHERE a.code = :'a' AND p.external_id LIKE 'FEED-P%'"
            " ORDER BY 1", a=AGENCY)
        self.assertEqual(rows, [(p["id"], p["title"]) for p in self.PROJECTS])

    def test_refused_records_fail_the_run(self):
        run = self.pull("badprojects")
        self.assertEqual((run["status"], run["records"], run["pages"]), ("failed", 0, 0),
                         run)
        self.assertIn("refused with 422", run["message"])
        self.assertIn("status", run["message"])
        # All or nothing, as a push: the valid record of the chunk is not stored either.
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM project WHERE external_id LIKE 'FEED-BAD%'"), "0")
        # The daemon retries it on its own meanwhile: one failure or more.
        self.assertGreaterEqual(self.source("badprojects")["consecutive_failures"], 1)

    # --- a feed that cannot run -----------------------------------------------------

    def test_unknown_agency_is_a_problem_and_422(self):
        feed = self.feed("unknown")
        self.assertEqual(feed.status, 200, feed.body)
        self.assertIn("99-99", feed.json["problem"])
        self.assertIn("not known", feed.json["problem"])
        r = self.post_run("unknown")
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("cannot run", r.json["error"]["message"])
        self.assertEqual(self.runs("unknown"), [])

    # --- the API ----------------------------------------------------------------------

    def test_list_shape_and_roles(self):
        self.assertEqual(self.d.get("/v1/feeds").status, 401)
        self.assertEqual(self.d.get("/v1/feeds", headers=self.auth(self.agency_token))
                         .status, 403)
        self.assertEqual(self.feed("paged", self.agency_token).status, 403)
        self.assertEqual(self.post_run("paged", self.agency_token).status, 403)
        r = self.d.get("/v1/feeds", headers=self.auth())
        self.assertEqual(r.status, 200, r.body)
        items = r.json["items"]
        by_name = {f["name"]: f for f in items}
        self.assertEqual(set(by_name), set(self.feeds) | {"unknown"})
        keys = {"name", "kind", "url", "agency", "schedule_seconds", "configured",
                "problem", "cursor", "consecutive_failures", "last_success_at",
                "next_run_at", "running", "last_run"}
        for f in items:
            self.assertEqual(set(f), keys, f)
            self.assertIs(f["configured"], True)
            self.assertIsInstance(f["running"], bool)
        self.assertEqual(by_name["projects"]["agency"], AGENCY)
        self.assertEqual(by_name["budget"]["kind"], "budget_csv")
        self.assertEqual(by_name["budget"]["url"], self.budget_url)
        self.assertEqual(by_name["budget"]["schedule_seconds"], 3600)
        self.assertEqual(self.feed("no-such-feed").status, 404)
        self.assertEqual(self.post_run("no-such-feed").status, 404)

    def test_one_feed_shows_its_runs(self):
        for _ in range(2):
            self.pull("history")
        r = self.feed("history")
        self.assertEqual(r.status, 200, r.body)
        runs = r.json["runs"]
        self.assertGreaterEqual(len(runs), 2)
        self.assertLessEqual(len(runs), 20)
        self.assertEqual([x["id"] for x in runs], sorted((x["id"] for x in runs),
                                                         reverse=True))
        self.assertEqual(runs[0], r.json["last_run"])
        self.assertEqual(set(runs[0]), {"id", "started_at", "finished_at", "status",
                                        "http_status", "records", "pages", "bytes",
                                        "message", "url"})
        self.assertNotIn("runs", self.d.get("/v1/feeds", headers=self.auth())
                         .json["items"][0])

    def test_run_while_running_is_409(self):
        run_id = self.start("slowapi")
        r = self.post_run("slowapi")
        self.assertEqual(r.status, 409, r.body)
        self.assertIn("running", r.json["error"]["message"])
        feed = self.feed("slowapi").json
        self.assertIs(feed["running"], True)
        self.assertIsNone(feed["last_run"]["status"])
        self.assertEqual(feed["last_run"]["id"], run_id)
        run = self.wait_run("slowapi", run_id)
        self.assertEqual((run["status"], run["records"], run["pages"]), ("ok", 400, 4), run)
        self.assertIs(self.feed("slowapi").json["running"], False)

    def test_client_gone_before_the_run_starts(self):
        """The answer comes after the client hung up: the run starts all the same and
        the daemon carries on."""
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            s.sendall(("POST /v1/feeds/hangup/run HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\nContent-Length: 0\r\n\r\n"
                       % self.analyst).encode())
        harness.poll(lambda: any(r["status"] == "ok" for r in self.runs("hangup")), 60,
                     interval=0.1, what="the run asked by a client that left")
        self.assertEqual(self.d.get("/healthz").status, 200)
        self.assertEqual(self.stored("hangup"), (10, 10))

    # --- failures retried by the daemon ------------------------------------------------

    def test_failures_retried_with_backoff(self):
        """Page 2 answers 500 twice: a partial run, a failed one, then one that resumes
        at page 2, each retry scheduled by the daemon itself."""
        self.start("retry")
        harness.poll(lambda: any(r["status"] == "ok" for r in self.runs("retry")), 60,
                     interval=0.2, what="the retry feed recovering")
        runs = self.runs("retry")
        self.assertEqual([r["status"] for r in runs], ["partial", "failed", "ok"], runs)
        self.assertEqual([(r["records"], r["pages"]) for r in runs],
                         [(100, 1), (0, 0), (200, 2)])
        for r in runs[:2]:
            self.assertIn("page=2", r["message"])
            self.assertIn("HTTP 500", r["message"])
            self.assertEqual(r["http_status"], 500)
        for before, after in zip(runs, runs[1:]):
            self.assertGreaterEqual(after["started"], before["finished"])
        self.assert_once("retry", "retry", 300)
        self.assertEqual(self.source("retry")["consecutive_failures"], 0)

    # --- the API while a large pull runs --------------------------------------------

    def test_healthz_answers_during_a_large_pull(self):
        run_id = self.start("large")
        latencies, statuses = [], {}
        while self.run_status(run_id) is None:
            for _ in range(20):
                began = time.monotonic()
                r = self.d.get("/healthz", timeout=30)
                latencies.append(time.monotonic() - began)
                statuses[r.status] = statuses.get(r.status, 0) + 1
        run = self.wait_run("large", run_id)
        latencies.sort()

        def pct(p):
            return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000
        print("\n/healthz during a pull of %d releases (%d pages, %.1f s): %d requests, "
              "p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (LARGE_PULL, run["pages"], run["finished"] - run["started"],
                 len(latencies), pct(0.5), pct(0.99), latencies[-1] * 1000),
              file=sys.stderr)
        self.assertEqual(statuses, {200: len(latencies)})
        self.assertEqual((run["status"], run["records"]), ("ok", LARGE_PULL), run)
        self.assertEqual(self.stored("large"), (LARGE_PULL, LARGE_PULL))


class Failures(FeedTestCase):
    """Each misbehaviour of the server on one page, run by `ictmonctl feed run` (one run
    per call, no daemon rescheduling behind the test's back): the run fails or is partial
    with a message, the failure count and the next run move, what came before the bad
    page stays, and the next run resumes and stores everything once."""

    TOTAL, PER_PAGE = 300, 100
    # name: (fail_page, fail, feed keys, words of the message)
    MODES = {
        "f500": (2, "500", {}, ["page 2", "HTTP 500"]),
        "f429": (2, "429", {}, ["page 2", "HTTP 429", "retry after 1 s"]),
        "ftruncated": (2, "truncated", {}, ["page 2", "truncated"]),
        "fnul": (2, "nul", {}, ["page 2", "NUL byte"]),
        "finvalid": (2, "invalid", {}, ["page 2", "line"]),
        "ferrorbody": (1, "errorbody", {}, ["page 1", "HTTP 200", "error in the body",
                                            "internal error"]),
        "ftimeout": (2, "slow", {"timeout": 2}, ["page 2", "timed out after 2 s"]),
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="ictmon-feeds-test-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        settings = {"feeds.retry_base": "1", "feeds.retry_max": "1h",
                    "feeds.chunk_records": "40"}
        cls.paths = {}
        for name, (page, mode, keys, _) in cls.MODES.items():
            extra = {"fail_page": page, "fail": mode}
            if mode == "slow":
                extra["slow_ms"] = 6000
            cls.paths[name] = releases_path(name, cls.TOTAL, cls.PER_PAGE, **extra)
            settings.update(cls.feed_settings(name, kind="ocds_release_packages",
                                              url=cls.server.url(cls.paths[name]), **keys))
        # Page 1 fails twice: two failures in a row.
        cls.paths["ftwice"] = releases_path("ftwice", cls.TOTAL, cls.PER_PAGE, fail_page=1,
                                            fail="500", fail_times=2)
        settings.update(cls.feed_settings("ftwice", kind="ocds_release_packages",
                                          url=cls.server.url(cls.paths["ftwice"])))
        # Slow, but within its timeout: not a failure.
        cls.paths["fslow"] = releases_path("fslow", cls.TOTAL, cls.PER_PAGE, fail_page=2,
                                           fail="slow", slow_ms=1500)
        settings.update(cls.feed_settings("fslow", kind="ocds_release_packages",
                                          url=cls.server.url(cls.paths["fslow"]),
                                          timeout=60))
        # A plain one for `feed list`.
        cls.paths["flist"] = releases_path("flist", 20, 20)
        settings.update(cls.feed_settings("flist", kind="ocds_release_packages",
                                          url=cls.server.url(cls.paths["flist"])))
        # Stopped by Ctrl-C on a page that would take a minute.
        cls.paths["fsigint"] = releases_path("fsigint", cls.TOTAL, cls.PER_PAGE,
                                             fail_page=2, fail="slow", slow_ms=60000)
        settings.update(cls.feed_settings("fsigint", kind="ocds_release_packages",
                                          url=cls.server.url(cls.paths["fsigint"]),
                                          timeout=120))
        cls.config = os.path.join(cls.dir, "ictmon.conf")
        with open(cls.config, "w") as f:
            f.write(harness.ini(settings))

    def feed_run(self, name):
        return self.ctl("feed", "run", name, config=self.config)

    def test_each_failure_then_recovery(self):
        for name, (page, mode, keys, words) in self.MODES.items():
            with self.subTest(mode=mode):
                self.check_failure_then_recovery(name, page, mode, words)

    def check_failure_then_recovery(self, name, page, mode, words):
        rc, out, err = self.feed_run(name)
        self.assertEqual(rc, 1, out + err)
        runs = self.runs(name)
        self.assertEqual(len(runs), 1, runs)
        run = runs[0]
        for w in words:
            self.assertIn(w, run["message"], run)
        expected = "partial" if page > 1 else "failed"
        self.assertEqual(run["status"], expected, run)
        self.assertRegex(out, r"^feed %s: %s, %d records? in %d pages? \(run %d\): .+\n$"
                         % (name, expected, run["records"], run["pages"], run["id"]))
        self.assertIn(run["message"], out)
        # The pages before the bad one stay; of the bad one, whole chunks at most.
        self.assertEqual(run["pages"], page - 1)
        self.assertGreaterEqual(run["records"], (page - 1) * self.PER_PAGE)
        self.assertLess(run["records"], page * self.PER_PAGE)
        self.assertEqual(self.stored(name), (run["records"], run["records"]))
        # Counted, and retried later: base 1 s, the first failure waits up to 1 s,
        # a 429 at least its Retry-After (1 s).
        src = self.source(name)
        self.assertEqual(src["consecutive_failures"], 1)
        self.assertIsNone(src["last_success"])
        wait = src["next_run"] - run["finished"]
        self.assertGreaterEqual(wait, 1.0 if mode == "429" else 0.0)
        self.assertLessEqual(wait, 1.0)
        if mode == "429":
            self.assertEqual(run["http_status"], 429)

        # The page behaves now: the next run resumes at it and stores the rest once.
        rc, out, err = self.feed_run(name)
        self.assertEqual(rc, 0, out + err)
        runs = self.runs(name)
        self.assertEqual(runs[-1]["status"], "ok", runs)
        self.assertRegex(out, r"^feed %s: ok, %d records in %d pages \(run %d\)\n$"
                         % (name, self.TOTAL - run["records"], 4 - page, runs[-1]["id"]))
        self.assert_once(name, name, self.TOTAL)
        src = self.source(name)
        self.assertEqual(src["consecutive_failures"], 0)
        self.assertIsNotNone(src["last_success"])

    def test_slow_within_timeout_is_ok(self):
        rc, out, err = self.feed_run("fslow")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(out, "feed fslow: ok, 300 records in 3 pages (run %d)\n"
                         % self.runs("fslow")[0]["id"])
        self.assert_once("fslow", "fslow", self.TOTAL)

    def test_second_failure_in_a_row_waits_longer(self):
        """Two failures in a row: the second waits up to twice the base."""
        for failures in (1, 2):
            rc, out, err = self.feed_run("ftwice")
            self.assertEqual(rc, 1, out + err)
            src, run = self.source("ftwice"), self.runs("ftwice")[-1]
            self.assertEqual((run["status"], src["consecutive_failures"]),
                             ("failed", failures))
            wait = src["next_run"] - run["finished"]
            self.assertGreaterEqual(wait, 0.0)
            self.assertLessEqual(wait, 1.0 * 2 ** (failures - 1))
        rc, out, err = self.feed_run("ftwice")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.source("ftwice")["consecutive_failures"], 0)
        self.assert_once("ftwice", "ftwice", self.TOTAL)

    def test_sigint_stops_the_run_and_the_next_resumes(self):
        argv = [harness.ICTMONCTL, "-c", self.config, "-s", "db.conninfo=" +
                self.db.conninfo, "feed", "run", "fsigint"]
        proc = subprocess.Popen(argv, env=self.db.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Page 1 written, page 2 trickling in.
            harness.poll(lambda: any(r["status"] is None and r["pages"] >= 1
                                     for r in self.runs("fsigint")), 60, interval=0.1,
                         what="page 1 of fsigint written")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        harness.assert_no_sanitizer_reports(err, "ictmonctl feed run")
        self.assertEqual(proc.returncode, 1, out + err)
        run = self.runs("fsigint")[0]
        self.assertIn(run["status"], ("partial", "failed"), run)
        self.assertIn("stopped", run["message"])
        self.assertIn("stopped", out)
        self.assertGreaterEqual(run["records"], self.PER_PAGE)
        # A stop is not the feed's failure, and it may run again at once.
        self.assertEqual(self.source("fsigint")["consecutive_failures"], 0)
        self.assertIsNone(self.source("fsigint")["lease_owner"])
        rc, out, err = self.feed_run("fsigint")
        self.assertEqual(rc, 0, out + err)
        self.assert_once("fsigint", "fsigint", self.TOTAL)

    def test_feed_list(self):
        rc, out, err = self.feed_run("flist")
        self.assertEqual((rc, out), (0, "feed flist: ok, 20 records in 1 page (run %d)\n"
                                     % self.runs("flist")[0]["id"]), err)
        rc, out, err = self.ctl("feed", "list", config=self.config)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["name", "kind", "agency", "last_run", "records",
                                            "failures", "next_run", "problem"])
        rows = {l.split()[0]: l.split() for l in lines[1:]}
        # Every configured feed is recorded by the first run, whichever it was.
        self.assertEqual(set(rows), set(self.paths))
        self.assertEqual(rows["flist"][1:6], ["ocds_release_packages", "-", "ok", "20", "0"])
        self.assertRegex(rows["flist"][6], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(rows["flist"][7], "-")

    def test_unknown_feed(self):
        rc, out, err = self.feed_run("no-such-feed")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("no feed no-such-feed", err)


class Processes(FeedTestCase):
    """Daemons that die mid-pull, and daemons that share a feed."""

    SETTINGS = {"feeds.lease": "2", "feeds.retry_base": "1", "feeds.chunk_records": "50",
                "api.rate_limit": "0"}

    def settings(self, name, path):
        s = dict(self.SETTINGS)
        s.update(self.feed_settings(name, kind="ocds_release_packages",
                                    url=self.server.url(path)))
        return s

    def test_killed_mid_pull_then_resumed_by_another(self):
        # Page 3 takes half a minute: the daemon is killed while it streams in.
        path = releases_path("killed", 1000, 200, fail_page=3, fail="slow", slow_ms=30000)
        first = self.daemon(self.settings("killed", path), start="ready")
        harness.poll(lambda: any(r["status"] is None and r["records"] > 400
                                 for r in self.runs("killed")), 90, interval=0.1,
                     what="a chunk of page 3 written")
        first.proc.kill()
        first.proc.wait()
        interrupted = self.runs("killed")[0]
        self.assertIsNone(interrupted["status"])

        second = self.daemon(self.settings("killed", path), start="ready")
        harness.poll(lambda: any(r["status"] == "ok" for r in self.runs("killed")), 90,
                     interval=0.1, what="the feed pulled again")
        runs = self.runs("killed")
        # Closed by the second daemon: partial, as it had written pages.
        self.assertEqual([r["status"] for r in runs], ["partial", "ok"], runs)
        self.assertIn("interrupted", runs[0]["message"])
        self.assertGreater(runs[0]["records"], 400)
        self.assertNotEqual(runs[0]["lease_owner"], runs[1]["lease_owner"])
        # Resumed inside page 3: what the killed run wrote is not written again.
        self.assertEqual(runs[1]["pages"], 3)
        self.assert_once("killed", "killed", 1000)
        second.stop()

    def test_two_daemons_one_feed(self):
        path = releases_path("shared", 2000, 200, fail_page=2, fail="slow", slow_ms=8000)
        one = self.daemon(self.settings("shared", path), start=None)
        two = self.daemon(self.settings("shared", path), start=None)
        one.start(wait="ready")
        two.start(wait="ready")
        harness.poll(lambda: self.runs("shared"), 60, interval=0.1,
                     what="a run of the shared feed")
        # While it runs, neither daemon starts another.
        for d in (one, two):
            def ask():
                r = d.post("/v1/feeds/shared/run", "",
                           headers={"Authorization": "Bearer " + self.analyst})
                # 503 until this daemon has recorded its feeds.
                return r if r.status != 503 else None
            r = harness.poll(ask, harness.START_TIMEOUT, interval=0.1,
                             what="POST /v1/feeds/shared/run answering")
            self.assertEqual(r.status, 409, r.body)
            self.assertIn("running already", r.json["error"]["message"])

        # Nor does ictmonctl.
        rc, out, err = self.ctl("feed", "run", "shared", config=one.config_path)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("not started (409)", err)

        def done():
            runs = self.runs("shared")
            self.assertLessEqual(sum(r["status"] is None for r in runs), 1, runs)
            return any(r["status"] == "ok" for r in runs)
        harness.poll(done, 90, interval=0.1, what="the shared feed pulled")
        runs = self.runs("shared")
        self.assertEqual([r["status"] for r in runs], ["ok"], runs)
        self.assert_once("shared", "shared", 2000)
        one.stop()
        two.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
