"""What the benchmarks in scripts/bench/ share: the build, a private PostgreSQL cluster
with fsync on, ictmonctl, ictmond processes on 127.0.0.1, a results table, and the
run's frame (a time limit, cleaning up). Standard library only, for /usr/bin/python3.
"""

import csv
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
BUILD_DIR = os.environ.get("ICTMON_BUILD_DIR", os.path.join(REPO, "build"))
SHARED_DIR = os.environ.get("ICTMON_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
INSTITUTIONS = os.path.join(SHARED_DIR, "data", "chile", "institutions.csv")
UNSPSC = os.path.join(SHARED_DIR, "data", "chile", "unspsc-rubros-chilecompra.csv")
DEV_DB = os.path.join(REPO, "scripts", "dev-db")
PSQL = "/usr/lib/postgresql/15/bin/psql"

# One benchmark at a time uses the cluster: they share its directory and port.
DB_DIR = os.path.join(REPO, "var", "bench-pg")
DB_PORT = 54350

REQUEST_TIMEOUT = 900.0  # seconds for one request, a 64 MiB one included
COMMAND_TIMEOUT = 1800.0  # seconds for one psql or ictmonctl run
START_TIMEOUT = 60.0


class BenchError(Exception):
    pass


def say(fmt, *args):
    print("bench: " + (fmt % args if args else fmt), file=sys.stderr, flush=True)


class Cluster:
    """scripts/dev-db with the benchmarks' own directory and port, fsync on. A benchmark
    that must not share the others' cluster gives its own db_dir and db_port."""

    def __init__(self, db_dir=None, db_port=None):
        self.db_dir = db_dir or DB_DIR
        self.db_port = db_port or DB_PORT
        self.dev_env = dict(os.environ, ICTMON_DB_DIR=self.db_dir,
                            ICTMON_DB_PORT=str(self.db_port))
        self.dev_env.pop("ICTMON_DB_FAST", None)
        self.env = None
        self.started = False

    def _dev_db(self, command):
        proc = subprocess.run([DEV_DB, command], env=self.dev_env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
        if proc.returncode != 0:
            raise BenchError("dev-db %s failed: %s" % (command, proc.stderr.strip()))
        return proc.stdout

    def start(self):
        self._dev_db("start")
        self.started = True
        self.env = dict(os.environ, PGCLIENTENCODING="UTF8")
        for line in self._dev_db("env").splitlines():
            m = re.match(r"export (PG\w+)=(.*)$", line)
            if m:
                self.env[m.group(1)] = m.group(2)
        fsync = self.psql("postgres", "SHOW fsync").strip()
        if fsync != "on":
            raise BenchError("the cluster in %s runs with fsync=%s; remove it "
                             "(scripts/dev-db destroy with ICTMON_DB_DIR=%s)"
                             % (self.db_dir, fsync, self.db_dir))

    def stop(self):
        if self.started:
            self._dev_db("stop")
            self.started = False

    def psql(self, dbname, sql=None, commands=(), single_transaction=False):
        """Runs sql (on stdin) or -c commands; returns stdout (unaligned, tuples only)."""
        args = [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dbname]
        if single_transaction:
            args.append("-1")
        for c in commands:
            args += ["-c", c]
        proc = subprocess.run(args, input=sql, env=self.env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
        if proc.returncode != 0:
            raise BenchError("psql on %s failed: %s" % (dbname, proc.stderr.strip()))
        return proc.stdout

    def scalar(self, dbname, sql):
        return self.psql(dbname, sql).strip()

    def recreate(self, dbname):
        self.psql("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % dbname)
        self.psql("postgres", 'CREATE DATABASE "%s"' % dbname)

    def checkpoint(self):
        """So that no phase pays for the writes of the one before it."""
        self.psql("postgres", "CHECKPOINT")


def ctl(cluster, dbname, *args):
    argv = [os.path.join(BUILD_DIR, "ictmonctl"), "-s", "db.conninfo=dbname=" + dbname]
    argv += list(args)
    proc = subprocess.run(argv, env=cluster.env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BenchError("ictmonctl %s failed (%d): %s"
                         % (" ".join(args), proc.returncode, proc.stderr.strip()))
    return proc.stdout


def setup_database(cluster, dbname):
    """A fresh database, migrated, with Chile's agencies."""
    cluster.recreate(dbname)
    ctl(cluster, dbname, "migrate")
    ctl(cluster, dbname, "agency", "import", INSTITUTIONS)


def analyst_token(cluster, dbname):
    return ctl(cluster, dbname, "token", "create", "--role", "analyst", "--name",
               "bench").strip().splitlines()[-1]


def count(cluster, dbname, table):
    return int(cluster.scalar(dbname, "SELECT count(*) FROM %s" % table))


def expect_count(cluster, dbname, table, n):
    got = count(cluster, dbname, table)
    if got != n:
        raise BenchError("%s.%s holds %d rows, expected %d" % (dbname, table, got, n))


def build(build_type="RelWithDebInfo"):
    """Configures BUILD_DIR (build/ unless ICTMON_BUILD_DIR says otherwise; build_type,
    RelWithDebInfo as scripts/test by default) when it has no cache, and brings the two
    binaries up to date (a no-op when they are). An existing cache keeps its type."""
    if not os.path.exists(os.path.join(BUILD_DIR, "CMakeCache.txt")):
        say("configuring %s (%s)", BUILD_DIR, build_type)
        subprocess.run(["cmake", "-S", REPO, "-B", BUILD_DIR,
                        "-DCMAKE_BUILD_TYPE=" + build_type], check=True,
                       stdout=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT)
    say("building ictmond and ictmonctl in %s", BUILD_DIR)
    proc = subprocess.run(["cmake", "--build", BUILD_DIR, "-j2", "--target", "ictmond",
                           "ictmonctl"], capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)
    if proc.returncode != 0:
        raise BenchError("build failed:\n%s%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))


# Generated rows for COPY, and the reference data they draw on ---------------------------


def copy_text(value):
    """One field of PostgreSQL's COPY text format (None is NULL)."""
    if value is None:
        return "\\N"
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def copy_line(fields):
    return "\t".join(copy_text(f) for f in fields) + "\n"


def pg_array(items):
    """A PostgreSQL array literal of text, every element quoted."""
    return "{" + ",".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for s in items) + "}"


def unspsc_products():
    """ChileCompra's UNSPSC products as (product id, name, level-3 id, level-3 name,
    level-2 name), in file order; the class (first six digits) is the level 3."""
    out = []
    with open(UNSPSC, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        next(reader)
        for row in reader:
            if len(row) < 6 or not row[0].isdigit() or not row[1].strip():
                continue
            out.append((row[0], row[1].strip(), row[2], row[3].strip(), row[4].strip()))
    if not out:
        raise BenchError("%s: no UNSPSC products read" % UNSPSC)
    return out


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WRK = "/usr/bin/wrk"


def wrk_duration_ms(text):
    m = re.match(r"([0-9.]+)(us|ms|s|m)$", text)
    if not m:
        raise BenchError("a wrk duration: %r" % text)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def wrk(port, path, seconds, threads, connections, headers=(), script=None):
    """One wrk run on 127.0.0.1:port: {rps, p50, p99 (ms), requests, non2xx, errors
    (socket errors, all kinds)}. `script`: a Lua file deciding the requests."""
    argv = [WRK, "-t%d" % min(threads, connections), "-c%d" % connections,
            "-d%ds" % seconds, "--latency", "--timeout", "%ds" % (seconds + 60)]
    for h in headers:
        argv += ["-H", h]
    if script is not None:
        argv += ["-s", script]
    argv.append("http://127.0.0.1:%d%s" % (port, path))
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    out = proc.stdout
    if proc.returncode != 0:
        raise BenchError("wrk %s failed: %s%s" % (path, out[-1000:], proc.stderr[-1000:]))
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and total and p50 and p99):
        raise BenchError("wrk %s: unexpected output:\n%s" % (path, out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                       r"timeout (\d+)", out)
    return {"rps": float(rps.group(1)), "p50": wrk_duration_ms(p50.group(1)),
            "p99": wrk_duration_ms(p99.group(1)), "requests": int(total.group(1)),
            "non2xx": int(bad.group(1)) if bad else 0,
            "errors": sum(int(g) for g in errors.groups()) if errors else 0,
            "output": out}


def load_script(name):
    """scripts/bench/NAME, a Python file without .py, as a module."""
    import importlib.machinery
    import importlib.util

    path = os.path.join(REPO, "scripts", "bench", name)
    loader = importlib.machinery.SourceFileLoader("bench_" + name, path)
    spec = importlib.util.spec_from_loader("bench_" + name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def rss_mb(pid):
    """The resident set of a process now, in MB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise BenchError("no VmRSS for process %d" % pid)


def daemon_conninfo(dbname):
    """ictmond's connection: scripts/dev-db's login role for it, held to row-level
    security (the tools use the cluster's superuser)."""
    return "dbname=%s user=ictmond" % dbname


class Daemon:
    """One ictmond in the foreground on a free port of 127.0.0.1, with its own
    configuration file (`config`: nothing from /etc), `settings` as -s options, and
    its stderr in the work directory."""

    def __init__(self, cluster, dbname, workdir, name, settings=(), config=""):
        self.port = free_port()
        self.config = os.path.join(workdir, name + ".conf")
        self.log_path = os.path.join(workdir, name + ".log")
        with open(self.config, "w") as f:
            f.write("# a benchmark's daemon: built-in defaults, -s on the command line\n")
            f.write(config)
        self.argv = [os.path.join(BUILD_DIR, "ictmond"), "-f", "-c", self.config,
                     "-s", "http.listen=127.0.0.1:%d" % self.port,
                     "-s", "db.conninfo=" + daemon_conninfo(dbname),
                     "-s", "log.level=warn"]
        for s in settings:
            self.argv += ["-s", s]
        self.env = cluster.env
        self.proc = None
        self.log_file = None

    def start(self):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=self.log_file)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise BenchError("ictmond exited with %d:\n%s"
                                 % (self.proc.returncode, self.log_tail()))
            try:
                status, _ = self.request("GET", "/readyz", None, {}, timeout=2.0)
                if status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("ictmond not ready within %.0f s:\n%s"
                                 % (START_TIMEOUT, self.log_tail()))
            time.sleep(0.1)

    def request(self, method, path, body, headers, timeout=REQUEST_TIMEOUT):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body, headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def peak_rss_mb(self):
        """VmHWM: the most resident memory the process has had since it started."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        raise BenchError("no VmHWM in /proc/%d/status" % self.proc.pid)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        """SIGTERM, then SIGKILL after a while; only this daemon's own process."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            say("ictmond did not exit within 60 s of SIGTERM; killing it")
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.stop()
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


class Results:
    def __init__(self):
        self.rows = []

    def phase(self, name, records, seconds, note=""):
        rate = records / seconds if seconds > 0 else float("inf")
        self.rows.append((name, records, seconds, rate, note))
        say("%s: %d records in %.2f s, %.0f records/s%s", name, records, seconds, rate,
            ", " + note if note else "")
        return rate

    def table(self):
        print("%-16s %10s %10s %12s" % ("phase", "records", "seconds", "records/s"))
        for name, records, seconds, rate, note in self.rows:
            print(("%-16s %10d %10.2f %12.0f  %s" % (name, records, seconds, rate,
                                                     note)).rstrip())


def main(name, args, run, cluster=None):
    """Runs run(args, cluster, workdir, closers) under args.timeout: a fresh work
    directory in var/, the cluster (the shared one unless given) stopped and everything
    in `closers` closed at the end (all kept with args.keep). Returns the exit status."""

    def expired(signum, frame):
        raise BenchError("the run took more than %d s (--timeout)" % args.timeout)

    signal.signal(signal.SIGALRM, expired)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    signal.alarm(args.timeout)
    os.makedirs(os.path.join(REPO, "var"), exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bench-%s-" % name, dir=os.path.join(REPO, "var"))
    if cluster is None:
        cluster = Cluster()
    closers = []
    rc = 1
    try:
        run(args, cluster, workdir, closers)
        rc = 0
    except (BenchError, subprocess.SubprocessError, OSError) as e:
        say("FAILED: %s", e)
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        signal.alarm(0)
        for c in closers:
            c.close()
        if args.keep:
            say("kept: the cluster (%s, port %d; eval \"$(ICTMON_DB_DIR=%s "
                "ICTMON_DB_PORT=%d scripts/dev-db env)\"), files in %s",
                cluster.db_dir, cluster.db_port, cluster.db_dir, cluster.db_port, workdir)
        else:
            try:
                cluster.stop()
            except BenchError as e:
                say("%s", e)
            shutil.rmtree(workdir, ignore_errors=True)
    return rc
