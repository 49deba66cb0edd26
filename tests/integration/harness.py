"""What ictmon's integration tests share: databases on the running test cluster, private
clusters for tests that stop PostgreSQL, ictmonctl runs, and real ictmond processes with an
HTTP client. Every daemon's and ictmonctl's stderr is scanned for sanitizer reports.

Standard library only, for Debian's /usr/bin/python3. ctest sets ICTMOND, ICTMONCTL and
ICTMON_SOURCE_DIR; the PG* variables name the running cluster (scripts/test exports
those of `scripts/dev-db env`).
"""

import collections
import csv
import decimal
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

SOURCE_DIR = os.environ.get(
    "ICTMON_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("ICTMON_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
ICTMOND = os.environ.get("ICTMOND", os.path.join(BUILD_DIR, "ictmond"))
ICTMONCTL = os.environ.get("ICTMONCTL", os.path.join(BUILD_DIR, "ictmonctl"))
DEV_DB = os.path.join(SOURCE_DIR, "scripts", "dev-db")
PSQL = "/usr/lib/postgresql/15/bin/psql"
# The login role ictmond uses on scripts/dev-db's clusters (no superuser: row-level
# security binds it); the tools use the cluster's superuser from PGUSER.
DAEMON_ROLE = "ictmond"
SHARED_DIR = os.environ.get("ICTMON_SHARED",
                            os.path.join(os.path.dirname(SOURCE_DIR), "shared"))
CHILE_DIR = os.path.join(SHARED_DIR, "data", "chile")
BUDGET_LAW = os.path.join(CHILE_DIR, "budgetLaw.csv")
INSTITUTIONS = os.path.join(CHILE_DIR, "institutions.csv")

# A sanitizer build is several times slower, and CI machines are busy: deadlines are
# generous, and polls end as soon as the condition holds.
START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "LeakSanitizer",
                   "runtime error:", "ERROR: UndefinedBehaviorSanitizer")

NULL = "\u2400"  # how psql shows SQL NULL to us; read back as None


def sanitizer_reports(text):
    """The lines of `text` that are sanitizer reports."""
    return [line for line in text.splitlines()
            if any(mark in line for mark in SANITIZER_MARKS)]


def assert_no_sanitizer_reports(text, what):
    reports = sanitizer_reports(text)
    if reports:
        raise AssertionError("%s: sanitizer reports:\n%s\n--- full stderr ---\n%s"
                             % (what, "\n".join(reports), text))


def budget_law_rows():
    """(lines, rows) of the budget law, counted here from the file: its lines, and the
    budget_line rows they should give, one per line and currency with a non-zero
    amount, or one CLP row when both are zero."""
    with open(BUDGET_LAW, encoding="utf-8-sig", newline="") as f:
        lines = [r for r in csv.reader(f, delimiter=";") if r and r[0] != "Partida"]
    rows = 0
    for r in lines:
        pesos = decimal.Decimal(r[7].replace(",", ".") or "0")
        dollars = decimal.Decimal(r[8].replace(",", ".") or "0")
        rows += (pesos != 0) + (dollars != 0) or 1
    return len(lines), rows


def poll(condition, timeout, interval=0.05, what="condition"):
    """Calls condition() until it returns a true value, which it returns, or fails after
    timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("%s not met within %.1f s" % (what, timeout))
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_name(prefix):
    return "%s_%d_%s" % (prefix, os.getpid(), uuid.uuid4().hex[:8])


def pg_environment(extra=None):
    """This process's environment with the libpq variables of `extra` over it."""
    env = dict(os.environ)
    env["PGCLIENTENCODING"] = "UTF8"
    if extra:
        env.update(extra)
    return env


class Database:
    """One database on a cluster: created by create(), dropped (WITH FORCE) by drop()."""

    def __init__(self, name=None, env=None):
        self.name = name or unique_name("ictmon_t")
        self.env = pg_environment(env)

    @property
    def conninfo(self):
        return "dbname=" + self.name

    @property
    def daemon_conninfo(self):
        """ictmond's: its login role of scripts/dev-db, held to row-level security."""
        return self.conninfo + " user=" + DAEMON_ROLE

    def create(self):
        self._psql("postgres", 'CREATE DATABASE "%s"' % self.name)
        return self

    def drop(self):
        self._psql("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)

    def query(self, sql, **params):
        """Rows of `sql` as tuples of strings (None for NULL). Parameters are psql
        variables, written :'name' in the SQL so that psql quotes them as literals."""
        out = self._psql(self.name, sql, params)
        if not out:
            return []
        return [tuple(None if field == NULL else field for field in record.split("\x1f"))
                for record in out.split("\x1e")]

    def scalar(self, sql, **params):
        rows = self.query(sql, **params)
        if len(rows) != 1 or len(rows[0]) != 1:
            raise AssertionError("expected one value from %r, got %r" % (sql, rows))
        return rows[0][0]

    def _psql(self, dbname, sql, params=None):
        args = [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-F", "\x1f", "-R", "\x1e", "-P", "null=" + NULL, "-d", dbname]
        for key, value in (params or {}).items():
            args += ["-v", "%s=%s" % (key, value)]
        proc = subprocess.run(args, input=sql, env=self.env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
        if proc.returncode != 0:
            raise AssertionError("psql failed on %r: %s" % (sql, proc.stderr.strip()))
        out = proc.stdout
        if out.endswith("\n"):
            out = out[:-1]
        return out


def ctl(*args, db=None, env=None, config=None, timeout=COMMAND_TIMEOUT, stdin=None):
    """Runs ictmonctl against `db` (a Database, or the PG* default); (rc, stdout, stderr).
    Fails on any sanitizer report."""
    argv = [ICTMONCTL]
    if config is not None:
        argv += ["-c", config]
    if db is not None:
        argv += ["-s", "db.conninfo=" + db.conninfo]
    argv += list(args)
    proc = subprocess.run(argv, env=pg_environment(env if env is not None
                                                   else (db.env if db else None)),
                          capture_output=True, text=True, timeout=timeout,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
    assert_no_sanitizer_reports(proc.stderr, "ictmonctl " + " ".join(args))
    return proc.returncode, proc.stdout, proc.stderr


def ini(settings):
    """A configuration file's text from {"http.max_body": "1K", ...}."""
    sections = collections.OrderedDict()
    for key, value in settings.items():
        section, _, name = key.rpartition(".")
        sections.setdefault(section, []).append((name, value))
    lines = ["# written by tests/integration/harness.py"]
    for section, pairs in sections.items():
        if section:
            lines.append("[%s]" % section)
        lines += ["%s = %s" % pair for pair in pairs]
    return "\n".join(lines) + "\n"


Response = collections.namedtuple("Response", "status headers body json")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# No proxy from the environment: the daemon is on loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def http_request(url, method="GET", body=None, headers=None, timeout=10.0):
    """One request; a Response whatever the status."""
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _opener.open(req, timeout=timeout) as reply:
            status, reply_headers, data = reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as e:
        status, reply_headers, data = e.code, e.headers, e.read()
        e.close()
    parsed = None
    if data and (reply_headers.get("Content-Type") or "").startswith("application/json"):
        parsed = json.loads(data)
    return Response(status, reply_headers, data, parsed)


def walk_pages(get, path, limit, between=None):
    """Every item of a keyset list, page by page: get(url) answers one page (a
    Response); each must be a 200 of at most `limit` items. between(), when given, runs
    after each page. Returns (items, pages)."""
    items, after, pages = [], None, 0
    while True:
        url = "%s%slimit=%d" % (path, "&" if "?" in path else "?", limit)
        if after is not None:
            url += "&after=" + after
        r = get(url)
        if r.status != 200:
            raise AssertionError("GET %s: %d %r" % (url, r.status, r.body))
        if len(r.json["items"]) > limit:
            raise AssertionError("GET %s: %d items" % (url, len(r.json["items"])))
        items += r.json["items"]
        pages += 1
        after = r.json["next"]
        if between is not None:
            between()
        if after is None:
            return items, pages


class Daemon:
    """One ictmond in the foreground on a free port of 127.0.0.1, its configuration in a
    temporary file, its stderr in another. stop() sends SIGTERM and checks the exit code;
    close() kills whatever is left. Both scan stderr for sanitizer reports."""

    def __init__(self, db=None, settings=None, overrides=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="ictmond-test-")
        self.port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.base_url = "http://" + self.address
        self.config_path = os.path.join(self.dir, "ictmon.conf")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.db = db
        self.env = pg_environment(env if env is not None else (db.env if db else None))
        self.settings = {"http.web_root": os.path.join(SOURCE_DIR, "web")}
        self.settings.update(settings or {})
        self.overrides = ["http.listen=" + self.address]
        if db is not None and "db.conninfo" not in self.settings:
            self.overrides.append("db.conninfo=" + db.daemon_conninfo)
        self.overrides += list(overrides)
        self.proc = None
        self._stderr = None
        self.write_config(ini(self.settings))

    def write_config(self, text):
        # Written to a new file then renamed, so that a SIGHUP never reads half of it.
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def argv(self):
        argv = [ICTMOND, "-f", "-c", self.config_path]
        for o in self.overrides:
            argv += ["-s", o]
        return argv

    def start(self, wait="healthy"):
        """Starts it; waits for /healthz ("healthy"), /readyz ("ready"), or not (None)."""
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv(), env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr)
        if wait == "healthy":
            self.wait_status("/healthz", 200)
        elif wait == "ready":
            self.wait_status("/readyz", 200)
        return self

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=START_TIMEOUT):
        """Waits for a line of stderr matching the regular expression; returns the match."""
        regex = re.compile(pattern)
        return poll(lambda: regex.search(self.log()), timeout,
                    what="log line matching %r" % pattern)

    def _get_or_none(self, path):
        if self.proc.poll() is not None:
            raise AssertionError("ictmond exited with %d:\n%s"
                                 % (self.proc.returncode, self.log()))
        try:
            return self.get(path, timeout=2.0)
        except (OSError, urllib.error.URLError):
            return None

    def wait_status(self, path, status, timeout=START_TIMEOUT):
        """Polls `path` until it answers `status`; returns that response."""
        def check():
            r = self._get_or_none(path)
            return r if r is not None and r.status == status else None
        return poll(check, timeout, what="%s answering %d" % (path, status))

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        return http_request(self.base_url + path, method, body, headers, timeout)

    def get(self, path, headers=None, timeout=10.0):
        return self.request("GET", path, None, headers, timeout)

    def post(self, path, body, headers=None, content_type="application/json", timeout=10.0):
        h = {"Content-Type": content_type}
        h.update(headers or {})
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        return self.request("POST", path, body, h, timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, expect=0, timeout=START_TIMEOUT):
        """SIGTERM; asserts the exit code and a clean stderr; returns the seconds taken."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ictmond did not exit within %.0f s of SIGTERM:\n%s"
                                 % (timeout, self.log()))
        took = time.monotonic() - began
        assert_no_sanitizer_reports(self.log(), "ictmond")
        if expect is not None and rc != expect:
            raise AssertionError("ictmond exited with %d, expected %d:\n%s"
                                 % (rc, expect, self.log()))
        return took

    def close(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if self.proc is not None:
                assert_no_sanitizer_reports(self.log(), "ictmond")
        finally:
            if self._stderr is not None:
                self._stderr.close()
            shutil.rmtree(self.dir, ignore_errors=True)


class PrivateCluster:
    """A PostgreSQL cluster of a test's own (scripts/dev-db with its own ICTMON_DB_DIR),
    for tests that stop and start the server."""

    def __init__(self, port=54340):
        # The cluster's user (ictmon-dev, when we are root) must traverse this directory;
        # dev-db creates pg/ inside it.
        self.dir = tempfile.mkdtemp(prefix="ictmon-pg-test-")
        os.chmod(self.dir, 0o711)
        self.dev_env = dict(os.environ, ICTMON_DB_DIR=os.path.join(self.dir, "pg"),
                            ICTMON_DB_PORT=str(port), ICTMON_DB_FAST="1")
        self.env = None

    def _dev_db(self, command):
        proc = subprocess.run([DEV_DB, command], env=self.dev_env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
        if proc.returncode != 0:
            raise AssertionError("dev-db %s failed: %s" % (command, proc.stderr))
        return proc.stdout

    def start(self):
        self._dev_db("start")
        self.env = {}
        for line in self._dev_db("env").splitlines():
            m = re.match(r"export (PG\w+)=(.*)$", line)
            if m:
                self.env[m.group(1)] = m.group(2)
        return self

    def stop(self):
        self._dev_db("stop")

    def destroy(self):
        try:
            self._dev_db("destroy")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class DatabaseTestCase(unittest.TestCase):
    """A fresh database for the test class, dropped at its end; migrated first when
    `migrate` is true. self.db, self.ctl(...), self.daemon(...) use it."""

    migrate = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.db = Database().create()
        cls.addClassCleanup(cls.db.drop)
        if cls.migrate:
            rc, out, err = ctl("migrate", db=cls.db)
            if rc != 0:
                raise AssertionError("ictmonctl migrate failed (%d): %s%s" % (rc, out, err))

    @classmethod
    def import_agencies(cls):
        """Chile's services (institutions.csv) as this class's agencies."""
        rc, out, err = ctl("agency", "import", INSTITUTIONS, db=cls.db)
        if rc != 0:
            raise AssertionError("agency import failed: " + err)

    @classmethod
    def token(cls, *args):
        """A new API token: token("--role", "agency", "--agency", "05-62")."""
        rc, out, err = ctl("token", "create", *args, db=cls.db)
        if rc != 0:
            raise AssertionError("token create failed: " + err)
        return out.strip()

    def ctl(self, *args, **kwargs):
        kwargs.setdefault("db", self.db)
        return ctl(*args, **kwargs)

    def daemon(self, settings=None, overrides=(), start="ready", db=None, env=None):
        """A daemon on this class's database, closed at the end of the test."""
        d = Daemon(db=db or self.db, settings=settings, overrides=overrides, env=env)
        self.addCleanup(d.close)
        if start:
            d.start(wait=start)
        return d
