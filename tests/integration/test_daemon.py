"""A real ictmond on a migrated database: health and readiness, metrics, the JSON error
shape, HTTP limits, request ids, `ictmond -n`, reloading on SIGHUP (a broken file keeps
the running configuration, a good one applies), and a prompt, clean exit on SIGTERM."""

import os
import re
import signal
import subprocess
import tempfile
import unittest

import harness


def assert_error_shape(test, response, status, code=None):
    test.assertEqual(response.status, status, response.body)
    test.assertTrue((response.headers.get("Content-Type") or "")
                    .startswith("application/json"), response.headers)
    error = response.json["error"]
    test.assertIsInstance(error["code"], str)
    test.assertIsInstance(error["message"], str)
    test.assertIsInstance(error["details"], list)
    if code is not None:
        test.assertEqual(error["code"], code)


class Serving(harness.DatabaseTestCase):
    """One daemon for the read-only checks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = harness.Daemon(db=cls.db, settings={"http.max_body": "1K"})
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")

    @classmethod
    def tearDownClass(cls):
        # Stopping here (not in a test) checks every test's traffic left no sanitizer report.
        cls.d.stop()
        super().tearDownClass()

    def test_healthz(self):
        r = self.d.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "alive")

    def test_readyz(self):
        r = self.d.get("/readyz")
        self.assertEqual(r.status, 200, r.body)

    def test_metrics(self):
        self.d.get("/healthz")
        r = self.d.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
        text = r.body.decode()
        self.assertRegex(text, r"(?m)^# TYPE ictmon_http_requests_total counter$")
        self.assertRegex(text, r'(?m)^ictmon_http_requests_total\{[^}]*"/healthz"[^}]*\} \d')
        # The pool's gauges: size, connections up and in use, requests waiting.
        self.assertRegex(text, r"(?m)^ictmon_db_pool_size [1-9]")
        self.assertRegex(text, r'(?m)^ictmon_db_pool_connections\{state="connected"\} [1-9]')
        self.assertRegex(text, r'(?m)^ictmon_db_pool_connections\{state="in_use"\} \d')
        self.assertRegex(text, r"(?m)^ictmon_db_pool_waiting \d")

    def test_openapi_document_without_token(self):
        r = self.d.get("/v1/openapi.json")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"),
                        r.headers)
        document = r.json
        self.assertEqual(document["openapi"], "3.0.3")
        # What the server answers is the document of the source tree, as built in.
        with open(os.path.join(harness.SOURCE_DIR, "daemon", "openapi.json"), "rb") as f:
            self.assertEqual(r.body, f.read())
        self.assertEqual(document["paths"]["/v1/openapi.json"]["get"]["x-ictmon-role"],
                         "public")

    def test_unknown_path_404_json(self):
        assert_error_shape(self, self.d.get("/v1/no-such-resource"), 404, "not_found")

    def test_wrong_method_405_with_allow(self):
        r = self.d.request("DELETE", "/healthz")
        assert_error_shape(self, r, 405)
        self.assertIn("GET", [m.strip() for m in r.headers["Allow"].split(",")])

    def test_body_over_max_body_413(self):
        r = self.d.post("/healthz", "x" * 4096, content_type="text/plain")
        self.assertEqual(r.status, 413, r.body)

    def test_request_id(self):
        a = self.d.get("/healthz").headers.get("X-Request-Id")
        b = self.d.get("/no-such-file").headers.get("X-Request-Id")
        self.assertTrue(a)
        self.assertTrue(b)
        self.assertNotEqual(a, b)


class CheckOnly(unittest.TestCase):
    """`ictmond -n`: no database needed."""

    def run_check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        proc = subprocess.run([harness.ICTMOND, "-n", "-c", f.name], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL,
                              timeout=harness.COMMAND_TIMEOUT)
        harness.assert_no_sanitizer_reports(proc.stderr, "ictmond -n")
        return f.name, proc

    def test_good_config(self):
        _, proc = self.run_check(harness.ini({"log.level": "debug",
                                              "http.listen": "127.0.0.1:18080",
                                              "db.pool": "2"}))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "configuration OK")

    def test_broken_config_reports_every_error_with_line(self):
        path, proc = self.run_check(
            "# line 1\n"
            "[http]\n"
            "listen = not-an-address\n"       # 3
            "max_body = lots\n"               # 4
            "[db]\n"
            "pool = 100000\n"                 # 6
            "no_such_key = 1\n"               # 7
            "[log]\n"
            "level = loud\n")                 # 9
        self.assertNotEqual(proc.returncode, 0)
        output = proc.stdout + proc.stderr
        self.assertNotIn("configuration OK", output)
        for line in (3, 4, 6, 7, 9):
            self.assertIn("%s:%d: " % (path, line), output)


class Lifecycle(harness.DatabaseTestCase):
    """Signals: each test has its own daemon."""

    def test_sighup_broken_config_keeps_serving(self):
        d = self.daemon(settings={"log.level": "info"})
        d.write_config("[http]\nmax_body = nonsense\n[log]\nlevel = loud\n")
        d.signal(signal.SIGHUP)
        d.wait_log(re.escape(d.config_path) + r":2: ")
        d.wait_log(re.escape(d.config_path) + r":4: ")
        self.assertEqual(d.get("/healthz").status, 200)
        self.assertEqual(d.get("/readyz").status, 200)
        self.assertIsNone(d.proc.poll())
        d.stop()

    def test_sighup_good_config_applies_log_level(self):
        # At warn, a request's access line (info) is not written; after the reload to info
        # it is. Request ids tell the lines apart.
        d = self.daemon(settings={"log.level": "warn"})
        quiet = d.get("/healthz").headers["X-Request-Id"]
        d.write_config(harness.ini(dict(d.settings, **{"log.level": "info"})))
        d.signal(signal.SIGHUP)

        def logged_request():
            rid = d.get("/healthz").headers["X-Request-Id"]
            return rid if rid in d.log() else None
        harness.poll(logged_request, harness.START_TIMEOUT, interval=0.1,
                     what="an access line at level info after the reload")
        self.assertNotIn(quiet, d.log())
        self.assertEqual(d.get("/readyz").status, 200)
        d.stop()

    def test_sigterm_exits_zero_promptly(self):
        d = self.daemon()
        took = d.stop()
        self.assertLess(took, 5.0)

    def test_sigint_exits_zero(self):
        d = self.daemon()
        d.signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(harness.START_TIMEOUT), 0, d.log())
        harness.assert_no_sanitizer_reports(d.log(), "ictmond")


if __name__ == "__main__":
    unittest.main()
