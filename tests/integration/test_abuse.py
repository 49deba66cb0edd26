"""Hostile input against one running ictmond: slow clients, oversized and malformed
requests, deep and huge JSON, invalid UTF-8, SQL-looking text, path traversal, wrong
methods. Each case gets the status README.md documents ("Limits and hostile input"),
nothing half-written is stored, and a well-behaved client is served all along."""

import json
import os
import socket
import tempfile
import threading
import time
import unittest

import harness

AGENCY = "05-62"
OPENAPI = os.path.join(harness.SOURCE_DIR, "daemon", "openapi.json")
HTTP_TIMEOUT = 2          # http.timeout for this daemon: a silent client is cut after it
MAX_HEADERS = 16384       # http.max_headers (the default)
MAX_BODY = 4 << 20        # http.max_body for this daemon: over the 1 MiB string limit
SQLISH = ["'); DROP TABLE project;--", "1 OR 1=1", "$$; DELETE FROM agency; $$",
          "\\'; SELECT pg_sleep(10);--", "%' OR '%'='", "Robert'); --\u00e9"]


def raw(daemon, data, timeout=10.0, shutdown=False):
    """Sends bytes on a new connection; the reply's bytes until the server closes or
    goes quiet, b"" when it closed without a word."""
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=timeout)
    try:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and not shutdown and _complete(out):
                break
        return out
    finally:
        s.close()


def _complete(reply):
    head, _, body = reply.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(reply):
    """The status of a raw reply, or None when the server closed without one."""
    if not reply.startswith(b"HTTP/1."):
        return None
    return int(reply.split(b" ", 2)[1])


class GoodClient(threading.Thread):
    """Asks /healthz and a read route over and over while an attack runs: every answer
    must come, right, and quickly."""

    def __init__(self, daemon, token):
        super().__init__(daemon=True)
        self.d, self.token = daemon, token
        self.stop = threading.Event()
        self.failures, self.slowest, self.count = [], 0.0, 0

    def run(self):
        while not self.stop.is_set():
            for path, headers in (("/healthz", None),
                                  ("/v1/projects?limit=5",
                                   {"Authorization": "Bearer " + self.token})):
                began = time.monotonic()
                try:
                    r = self.d.get(path, headers=headers, timeout=5)
                    if r.status != 200:
                        self.failures.append((path, r.status))
                except OSError as e:
                    self.failures.append((path, repr(e)))
                self.slowest = max(self.slowest, time.monotonic() - began)
                self.count += 1
            time.sleep(0.05)

    def finish(self, case):
        self.stop.set()
        self.join(10)
        case.assertEqual(self.failures, [])
        case.assertGreater(self.count, 0)
        case.assertLess(self.slowest, 2.0, "a good client waited behind the attack")


class Abuse(harness.DatabaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.import_agencies()
        cls.analyst = cls.token("--role", "analyst", "--name", "analyst")
        cls.agency = cls.token("--role", "agency", "--agency", AGENCY)
        cls.d = harness.Daemon(db=cls.db, settings={
            "api.rate_limit": "0", "http.timeout": str(HTTP_TIMEOUT),
            "http.max_body": str(MAX_BODY)})
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")

    def setUp(self):
        self.batches = self.count("ingest_batch")
        self.good = GoodClient(self.d, self.analyst)
        self.good.start()

    def tearDown(self):
        self.good.finish(self)
        self.assertIsNone(self.d.proc.poll(), "ictmond died")

    def count(self, table):
        return int(self.db.scalar("SELECT count(*) FROM " + table))

    def auth(self, token=None):
        return "Authorization: Bearer %s\r\n" % (token or self.analyst)

    def post(self, path, body, content_type="application/json", token=None):
        return self.d.post(path, body, content_type=content_type, timeout=30,
                           headers={"Authorization": "Bearer " + (token or self.analyst)})

    def assertNothingStored(self):
        self.assertEqual(self.count("ingest_batch"), self.batches)

    # --- slow clients --------------------------------------------------------------

    def slow_sockets(self, n, head):
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            s.sendall(head)
            socks.append(s)
        return socks

    def assertClosedByServer(self, socks, within):
        deadline = time.monotonic() + within
        for s in socks:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                self.fail("a silent client kept its connection past http.timeout")
            # closed, or answered 408 then closed
            self.assertIn(status_of(data), (None, 408), data[:200])
            s.close()

    def test_slowloris_on_headers(self):
        socks = self.slow_sockets(200, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        # a byte a while on every socket, for longer than http.timeout
        for _ in range(int(HTTP_TIMEOUT * 2 / 0.5)):
            for s in socks:
                s.sendall(b"X")
            time.sleep(0.5)
        # then silence: each is cut after http.timeout
        self.assertClosedByServer(socks, HTTP_TIMEOUT + 5)

    def test_slowloris_on_bodies(self):
        head = ("POST /v1/projects HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json"
                "\r\nContent-Length: 1000000\r\n\r\n{\"projects\": [" % self.auth())
        socks = self.slow_sockets(100, head.encode())
        for _ in range(int(HTTP_TIMEOUT * 2 / 0.5)):
            for s in socks:
                s.sendall(b" ")
            time.sleep(0.5)
        self.assertClosedByServer(socks, HTTP_TIMEOUT + 5)
        self.assertNothingStored()

    # --- sizes -----------------------------------------------------------------------

    def test_oversized_headers_and_request_line(self):
        big = "X-Filler: " + "a" * (MAX_HEADERS + 1024) + "\r\n"
        reply = raw(self.d, ("GET /healthz HTTP/1.1\r\nHost: x\r\n%s\r\n" % big).encode())
        self.assertIn(status_of(reply), (None, 400, 431))
        many = "".join("X-H%d: v\r\n" % i for i in range(3000))
        reply = raw(self.d, ("GET /healthz HTTP/1.1\r\nHost: x\r\n%s\r\n" % many).encode())
        self.assertIn(status_of(reply), (None, 400, 431))
        reply = raw(self.d, ("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
                             % ("a" * (MAX_HEADERS + 1024))).encode())
        self.assertIn(status_of(reply), (None, 400, 414, 431))
        # a path over 2048 bytes within the header limit: the router's 414
        reply = raw(self.d, ("GET /v1/%s HTTP/1.1\r\nHost: x\r\n%s\r\n"
                             % ("a" * 3000, self.auth())).encode())
        self.assertEqual(status_of(reply), 414, reply[:300])

    def test_body_over_the_limit_is_413(self):
        body = b"{\"projects\": [" + b" " * MAX_BODY + b"]}"
        reply = raw(self.d, b"POST /v1/projects HTTP/1.1\r\nHost: x\r\n" +
                    self.auth().encode() + b"Content-Type: application/json\r\n" +
                    b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.assertEqual(status_of(reply), 413, reply[:300])
        # chunked, no length given: cut when the chunks pass the limit
        chunk = b" " * 65536
        data = (b"POST /v1/projects HTTP/1.1\r\nHost: x\r\n" + self.auth().encode() +
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        data += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                         for _ in range(MAX_BODY // len(chunk) + 2))
        data += b"0\r\n\r\n"
        reply = raw(self.d, data)
        self.assertIn(status_of(reply), (None, 413), reply[:300])
        self.assertNothingStored()

    def test_bad_chunked_encoding(self):
        head = (b"POST /v1/projects HTTP/1.1\r\nHost: x\r\n" + self.auth().encode() +
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for body in (b"zz\r\n{}\r\n0\r\n\r\n",                      # not hex
                     b"2\r\n{}XX0\r\n\r\n",                          # no CRLF after data
                     b"ffffffffffffffff\r\n{}\r\n0\r\n\r\n",         # size overflow
                     b"-1\r\n{}\r\n0\r\n\r\n",                       # negative
                     b"10\r\n{\"projects\""):                        # cut short
            with self.subTest(body=body):
                reply = raw(self.d, head + body, shutdown=True)
                self.assertIn(status_of(reply), (None, 400, 413), reply[:300])
        self.assertNothingStored()

    def test_malformed_framing(self):
        # libevent reads header lines as C strings: a NUL byte ends the value ("a"),
        # so such a GET is answered as if the rest were not there.
        reply = raw(self.d, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                    b"Authorization: Bearer x\x00y\r\n\r\n", shutdown=True)
        self.assertIn(status_of(reply), (200, 400), reply[:300])
        # two lengths: which one ends the body is not for us to guess
        reply = raw(self.d, b"POST /v1/projects HTTP/1.1\r\nHost: x\r\n" +
                    self.auth().encode() + b"Content-Length: 2\r\nContent-Length: 40\r\n"
                    b"\r\n{}", shutdown=True)
        self.assertEqual(status_of(reply), 400, reply[:300])
        for head in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
                     b"GET /v1/projects HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer x\x00y\r\n\r\n",
                     b"POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                     b"POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                     b"GET /healthz HTTP/9.9\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
                     b"GET\r\n\r\n"):
            with self.subTest(head=head[:60]):
                reply = raw(self.d, head, shutdown=True)
                # never a 2xx for a framing the server cannot trust with a write
                self.assertIn(status_of(reply), (None, 400, 401, 404, 405, 411, 505),
                              reply[:300])
        self.assertNothingStored()

    # --- JSON ------------------------------------------------------------------------

    def test_deep_nesting_is_400_with_line_and_column(self):
        for path, key in (("/v1/projects", "projects"), ("/v1/budget", "lines"),
                          ("/v1/procurement", "releases")):
            with self.subTest(path=path):
                body = '{"%s": [%s' % (key, "[" * 100000)
                r = self.post(path, body)
                self.assertEqual(r.status, 400, r.body[:300])
                message = r.json["error"]["message"]
                self.assertRegex(message, r"line 1, column \d+", message)
        self.assertNothingStored()

    def test_huge_strings(self):
        title = "x" * (2 << 20)
        r = self.post("/v1/projects", {"projects": [{"id": "HUGE-1", "title": title,
                                                     "status": "planned"}]})
        self.assertIn(r.status, (400, 422), r.body[:300])
        if r.status == 422:
            self.assertEqual(r.json["error"]["details"][0]["pointer"], "/projects/0/title")
        else:
            self.assertRegex(r.json["error"]["message"], r"line \d+, column \d+")
        # a key that long too
        r = self.post("/v1/projects", '{"projects": [{"%s": 1}]}' % ("k" * (2 << 20)))
        self.assertIn(r.status, (400, 422), r.body[:300])
        self.assertNothingStored()

    def test_invalid_utf8(self):
        for body in (b'{"projects": [{"id": "U-1", "title": "\xff\xfe", "status": "planned"}]}',
                     b'{"projects": [{"id": "U-1", "title": "\xc3\x28", "status": "planned"}]}',
                     b'{"projects": [{"id": "U-1", "title": "\xed\xa0\x80", "status": "planned"}]}',
                     b'{"projects": [{"id": "U-1", "title": "\\ud800", "status": "planned"}]}',
                     b'{"projects": [{"id": "U-1", "title": "a\\u0000b", "status": "planned"}]}'):
            with self.subTest(body=body):
                r = self.post("/v1/projects", body)
                self.assertEqual(r.status, 400, r.body[:300])
                self.assertRegex(r.json["error"]["message"], r"line 1, column \d+")
        for path in ("/v1/projects?q=%FF", "/v1/projects?agency=%C3%28",
                     "/v1/awards?supplier=%ED%A0%80", "/v1/projects?after=%FF%FE"):
            with self.subTest(path=path):
                r = self.d.get(path, headers={"Authorization": "Bearer " + self.analyst})
                self.assertEqual(r.status, 400, r.body[:300])
        for path in ("/v1/projects/05-62/%FF", "/v1/agencies/%C3%28/scorecard"):
            with self.subTest(path=path):
                r = self.d.get(path, headers={"Authorization": "Bearer " + self.analyst})
                self.assertIn(r.status, (400, 404), r.body[:300])
        self.assertNothingStored()

    # --- SQL-looking text ------------------------------------------------------------

    def test_sql_looking_strings_are_stored_verbatim(self):
        projects = [{"id": "SQL-%d" % i, "title": s, "description": s, "status": "planned",
                     "category": s[:40], "capabilities": [s], "shared_platforms": [s],
                     "funding_source": "grant", "funding_program": s[:60]}
                    for i, s in enumerate(SQLISH)]
        r = self.post("/v1/projects", {"projects": projects}, token=self.agency)
        self.assertEqual(r.status, 201, r.body[:500])
        for p in projects:
            got = self.d.get("/v1/projects/%s/%s" % (AGENCY, p["id"]),
                             headers={"Authorization": "Bearer " + self.analyst})
            self.assertEqual(got.status, 200, got.body[:300])
            for field in ("title", "description", "capabilities", "shared_platforms"):
                self.assertEqual(got.json[field], p[field])
        # one OCDS release with such text in its names and descriptions
        s = SQLISH[0]
        release = {"ocid": "ocds-sqlish-1", "id": "1", "date": "2026-01-02T00:00:00Z",
                   "tag": ["award"], "buyer": {"id": s, "name": s},
                   "awards": [{"id": s, "title": s, "value": {"amount": 5, "currency": "CLP"},
                               "suppliers": [{"id": s, "name": s}]}]}
        r = self.post("/v1/procurement", {"releases": [release]})
        self.assertEqual(r.status, 201, r.body[:500])
        self.assertEqual(self.db.scalar(
            "SELECT data->'buyer'->>'name' FROM ocds_release WHERE ocid = 'ocds-sqlish-1'"), s)
        # the tables are all there
        self.assertEqual(self.db.scalar("SELECT count(*) FROM pg_tables WHERE tablename IN"
                                        " ('project', 'agency', 'award')"), "3")

    def test_sql_looking_query_parameters_on_every_get_route(self):
        with open(OPENAPI) as f:
            paths = json.load(f)["paths"]
        for path, item in paths.items():
            if "get" not in item or path == "/{path}":
                continue
            names = [p["name"] for p in item["get"].get("parameters", [])
                     if p.get("in") == "query"]
            concrete = (path.replace("{agency}", AGENCY).replace("{id}", "1")
                        .replace("{code}", AGENCY).replace("{name}", "nofeed"))
            for name in names + ["unknown"]:
                for s in SQLISH[:3]:
                    target = "%s?%s=%s" % (concrete, name, urlquote(s))
                    with self.subTest(target=target):
                        r = self.d.get(target, headers={
                            "Authorization": "Bearer " + self.analyst}, timeout=10)
                        self.assertIn(r.status, (200, 400, 404), r.body[:300])
        self.assertEqual(self.db.scalar("SELECT count(*) FROM pg_tables WHERE tablename IN"
                                        " ('project', 'agency')"), "2")

    # --- static files ----------------------------------------------------------------

    def test_path_traversal_never_leaves_the_web_root(self):
        for target in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                       "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/..%5c..%5cetc%5cpasswd",
                       "/%252e%252e/%252e%252e/etc/passwd", "/js/../../../etc/passwd",
                       "/index.html%00.js", "/%00", "/./././../etc/passwd",
                       "//etc/passwd", "/js//..//..//etc/passwd", "/%c0%ae%c0%ae/etc/passwd"):
            with self.subTest(target=target):
                reply = raw(self.d, ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target).encode())
                self.assertIn(status_of(reply), (400, 404), reply[:300])
                self.assertNotIn(b"root:", reply)

    def test_symlink_out_of_the_web_root_is_not_served(self):
        root = tempfile.mkdtemp(prefix="ictmon-web-")
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<!doctype html><title>t</title>")
        os.symlink("/etc/passwd", os.path.join(root, "passwd.txt"))
        os.symlink("/etc", os.path.join(root, "etc"))
        d = harness.Daemon(db=self.db, settings={"http.web_root": root})
        self.addCleanup(d.close)
        d.start(wait="ready")
        self.assertEqual(d.get("/index.html").status, 200)
        for path in ("/passwd.txt", "/etc/passwd", "/etc/hostname"):
            with self.subTest(path=path):
                r = d.get(path)
                self.assertIn(r.status, (403, 404), r.body[:200])
                self.assertNotIn(b"root:", r.body)
        d.stop()

    # --- methods ---------------------------------------------------------------------

    def test_wrong_methods_are_405_with_allow(self):
        with open(OPENAPI) as f:
            paths = json.load(f)["paths"]
        for path, item in paths.items():
            if path == "/{path}":
                continue
            allowed = {m.upper() for m in item if m in ("get", "post", "delete", "put",
                                                        "patch")}
            concrete = (path.replace("{agency}", AGENCY).replace("{id}", "1")
                        .replace("{code}", AGENCY).replace("{name}", "nofeed"))
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                if method in allowed:
                    continue
                with self.subTest(method=method, path=path):
                    r = self.d.request(method, concrete, body=b"{}", headers={
                        "Authorization": "Bearer " + self.analyst,
                        "Content-Type": "application/json"})
                    self.assertEqual(r.status, 405, r.body[:200])
                    got = {m.strip() for m in r.headers["Allow"].split(",")}
                    self.assertTrue(allowed <= got, (allowed, got))
        # methods the server does not know at all
        for method in (b"TRACE", b"CONNECT", b"PROPFIND", b"BREW"):
            reply = raw(self.d, method + b" /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(status_of(reply), (None, 400, 405, 501), reply[:200])
        self.assertNothingStored()


def urlquote(s):
    import urllib.parse
    return urllib.parse.quote(s, safe="")


if __name__ == "__main__":
    unittest.main()
