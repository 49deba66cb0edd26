#!/usr/bin/python3
"""A small published-feed server for the fetcher and collector tests and the collect
benchmark: files from a directory (with ETag / Last-Modified, 304, gzip, chunked), a
generated paged OCDS API in ChileCompra's style, and servers that misbehave on
purpose. Standard library only.

Usage: feedserver.py [--root DIR] [--data DIR] [--port N] [--until-eof] [--verbose]
Prints the port it listens on (127.0.0.1) as one line on stdout, then serves until
killed or, with --until-eof, until stdin reaches end of file: a test that gives it a
pipe never leaves it running, even when the test crashes. --data is the shared data
directory the generated releases draw on (default: $ICTMON_SHARED/data, else
../shared/data beside the repository).

Paths:
  /files/REL[?gzip=0|1][&chunked=1] a file under --root; gzip whenever the client
                                    accepts it, unless gzip=0
  /ocds/releases?total=N&per_page=P[&page=K][&seed=S][&prefix=X][&since=DATE][&rev=R]
                                    a release package: page K (from 1) of N generated
                                    releases, links.next naming page K+1 (absent on the
                                    last page); since=DATE keeps only releases dated
                                    after it; rev=R changes publishedDate and the ETag
                                    (a feed that changed). Same parameters, same bytes.
  /ocds/releases.jsonl?total=N[&seed=S][&prefix=X][&since=DATE][&rev=R]
                                    the same releases, one per line, chunked
    both with ETag and Last-Modified (304 on If-None-Match / If-Modified-Since), and
    &fail_page=K&fail=MODE[&fail_times=T]: page K (the JSON Lines document is page 1)
    misbehaves the first T times (default 1) that exact URL is asked, then is served
    normally. MODE is one of
      500        HTTP 500
      429        HTTP 429 with Retry-After: 1
      errorbody  HTTP 200 with {"status":500,"message":"internal error"}
      truncated  Content-Length of the whole body, half of it sent, then close
      nul        a NUL byte inside a string of the first (JSON Lines: middle) release
      invalid    a complete HTTP message whose JSON is cut in the middle (JSON Lines:
                 the middle line cut in half)
      slow       the body sent in pieces over slow_ms milliseconds (default 3000)
  /ocds/buyers[?seed=S]             the generated buyers: [{"id","name","agency"}], agency
                                    being the code of a Chilean service ("05-62")
  /pages?total=N&per_page=K[&page=P][&prefix=P]
                                    small OCDS release packages following links.next
  /slow?size=N&interval=MS          N bytes (Content-Length N), one every MS ms
  /status/CODE[?retry_after=V]      that status, a small JSON body, Retry-After: V
  /truncated?length=M&send=N        Content-Length M, N bytes, then close
  /nul?size=N&offset=K              N bytes of text with a NUL at offset K
  /changing[?key=K]                 a body and an ETag that change on every request
  /errorbody                        200 with {"status":500,...} as ChileCompra sends
  /redirect?n=K[&to=URL]            K redirects, then URL (default /echo)
  /echo                             the request headers as JSON
  /stats[?reset=1]                  requests served so far: per path, per path and
                                    query, and statuses per path; reset=1 starts again
                                    (and forgets which failures were served)
"""

import argparse
import bisect
import collections
import csv
import datetime
import email.utils
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = "."
DATA = None
VERBOSE = False
LOCK = threading.Lock()
COUNTS = {}        # path -> requests
BY_URL = {}        # path?query -> requests
STATUSES = {}      # path -> {status: responses}
FAILS = {}         # path?query of a page told to fail -> times it was asked


def count(path):
    with LOCK:
        COUNTS[path] = COUNTS.get(path, 0) + 1
        return COUNTS[path]


def intarg(q, name, default):
    try:
        return int(q.get(name, [default])[0])
    except ValueError:
        return default


def release(prefix, i):
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    ocid = "%s-%06d" % (prefix, i)
    return {
        "ocid": ocid,
        "id": ocid + "-tender-1",
        "date": (base + datetime.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tag": ["tender"],
        "initiationType": "tender",
        "buyer": {"id": "CL-MP-%d" % (i % 7), "name": "Servicio %d" % (i % 7)},
        "tender": {
            "id": "T-%d" % i,
            "title": "Servicios de nube %d" % i,
            "value": {"amount": 1000000 + i, "currency": "CLP"},
            "items": [{"id": "1", "classification": {"scheme": "UNSPSC", "id": "43231500"}}],
        },
    }


# --- Generated OCDS releases ---------------------------------------------------------
#
# Release i of a seed is a pure function of (seed, prefix, i): pages of any size, the
# JSON Lines document and a restart all see the same bytes for it. Its date grows with
# i (five minutes apart), so `since` cuts the sequence at one place.

EPOCH = int(datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
STEP = 300
BUYERS = 400
SUPPLIERS = 5000
PAGE_CACHE_BYTES = 64 * 1024 * 1024

# procurementMethod, ChileCompra's name for it, the code in its tender ids, share
METHODS = (
    ("open", "Licitación Pública", "LE", 0.55),
    ("open", "Licitación Pública", "LP", 0.15),
    ("selective", "Licitación Privada", "LR", 0.05),
    ("limited", "Trato Directo", "SE", 0.15),
    ("direct", "Compra Ágil", "COT", 0.10),
)
UNITS = ("Nivel Central", "Departamento de Informática", "Unidad de Compras",
         "Subdirección Administrativa", "Dirección Regional de Valparaíso",
         "Dirección Regional del Biobío", "Dirección Regional de Antofagasta")
REGIONS = ("Metropolitana de Santiago", "Valparaíso", "Biobío", "Antofagasta", "Maule",
           "Araucanía", "Los Lagos", "Coquimbo", "Ñuble", "Magallanes")
NAME_WORDS = (
    ("Soluciones", "Servicios", "Tecnologías", "Ingeniería", "Sistemas", "Consultora",
     "Informática", "Redes", "Datos", "Comercializadora"),
    ("Andina", "del Pacífico", "Austral", "Digital", "del Sur", "Cordillera", "Integral",
     "Norte Grande", "Araucaria", "Patagonia", "Central", "Maipo"),
    ("SpA", "Ltda.", "S.A.", "E.I.R.L."),
)
QUANTITIES = (1, 1, 1, 2, 4, 5, 10, 20, 50, 100)
PREFIX_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"
METHOD_BYTES = tuple((m[0].encode(), m[1].encode(), m[2].encode()) for m in METHODS)


def quote(text):
    """A JSON string, UTF-8 bytes: releases are built as bytes, never encoded whole."""
    return json.dumps(text, ensure_ascii=False).encode()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


DAYS = {}


def iso_bytes(t):
    """iso(t) as bytes, without strftime: days are looked up, seconds formatted."""
    day, second = divmod(t, 86400)
    text = DAYS.get(day)
    if text is None:
        text = DAYS[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400)).encode()
    return text + b"%02d:%02d:%02dZ" % (second // 3600, second // 60 % 60, second % 60)


def cumulative(weights):
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def rut(rng):
    """A company's RUT with its modulo-11 check digit."""
    body = rng.randint(76000000, 77999999)
    total, factor = 0, 2
    for digit in reversed(str(body)):
        total += int(digit) * factor
        factor = 2 if factor == 7 else factor + 1
    check = 11 - total % 11
    return "%d-%s" % (body, "0" if check == 11 else "K" if check == 10 else check)


class Reference:
    """Chile's services (institutions.csv) and ChileCompra's UNSPSC products, read once."""

    _lock = threading.Lock()
    _loaded = None

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._loaded is None:
                cls._loaded = cls()
            return cls._loaded

    def __init__(self):
        chile = os.path.join(DATA, "chile")
        self.agencies = []  # (code, name)
        with open(os.path.join(chile, "institutions.csv"), encoding="utf-8-sig",
                  newline="") as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) >= 4 and row[0].isdigit() and row[1].isdigit() and \
                        row[2] == "0" and row[1] != "0":
                    self.agencies.append(("%02d-%02d" % (int(row[0]), int(row[1])),
                                          row[3].strip()))
        # (product id, quoted name, name for a title, level-3 class id)
        self.ict, self.other, self.by_class = [], [], {}
        with open(os.path.join(chile, "unspsc-rubros-chilecompra.csv"),
                  encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=";")
            next(reader)
            for row in reader:
                if len(row) < 6 or not row[0].isdigit() or not row[1].strip():
                    continue
                name = row[1].strip()
                product = (row[0].encode(), quote(name), name[0].lower() + name[1:],
                           row[2])
                (self.ict if row[0].startswith(("43", "8111")) else self.other) \
                    .append(product)
                self.by_class.setdefault(row[2], []).append(product)
        if not self.agencies or not self.ict or not self.other:
            raise RuntimeError("no agencies or UNSPSC products under %s" % DATA)


class World:
    """The buyers and suppliers of one seed; releases draw on them."""

    _lock = threading.Lock()
    _worlds = {}

    @classmethod
    def get(cls, seed):
        with cls._lock:
            if seed not in cls._worlds:
                cls._worlds[seed] = cls(seed)
            return cls._worlds[seed]

    def __init__(self, seed):
        ref = Reference.get()
        rng = random.Random("world-%d" % seed)
        self.seed = seed
        self.ref = ref
        agencies = list(ref.agencies)
        rng.shuffle(agencies)
        # (id, quoted id, quoted name, number, agency code, name)
        self.buyers = []
        for n, number in enumerate(rng.sample(range(1000, 999999), BUYERS)):
            code, agency = agencies[n % len(agencies)]
            name = "%s - %s" % (agency, rng.choice(UNITS))
            bid = "CL-MP-%d" % number
            self.buyers.append((bid, quote(bid), quote(name), number, code, name))
        self.agency_of = {b[0]: b[4] for b in self.buyers}
        # A few buyers do most of the buying, as in real portfolios.
        self.buyer_cum = cumulative(1.0 / (r + 1) ** 0.6 for r in range(BUYERS))
        # Each supplier's party, and its reference in an award, as JSON text.
        self.suppliers = []
        seen = set()
        while len(self.suppliers) < SUPPLIERS:
            r = rut(rng)
            if r in seen:
                continue
            seen.add(r)
            sid = quote("CL-RUT-" + r)
            name = quote(" ".join(rng.choice(w) for w in NAME_WORDS))
            party = (b'{"id":%s,"name":%s,"identifier":{"scheme":"CL-RUT","id":"%s",'
                     b'"legalName":%s},"address":{"region":%s,"countryName":"Chile"},'
                     b'"roles":["supplier","tenderer"]}'
                     % (sid, name, r.encode(), name, quote(rng.choice(REGIONS))))
            self.suppliers.append((party, b'{"id":%s,"name":%s}' % (sid, name)))
        self.method_cum = cumulative(m[3] for m in METHODS)
        self.titles = {}
        self.cache = collections.OrderedDict()
        self.cached = 0
        self.making = {}
        self.cache_lock = threading.Lock()

    def date(self, i):
        """Seconds since the epoch of release i: increasing with i."""
        return EPOCH + i * STEP + (i * 2654435761 + self.seed * 40503) % STEP

    def first_after(self, since):
        """The index of the first release dated after `since` (seconds)."""
        i = max(0, (since - EPOCH) // STEP - 1)
        while self.date(i) <= since:
            i += 1
        return i

    def release(self, prefix, i):
        """Release i as compact JSON (UTF-8 bytes): a tender of UNSPSC items, awarded.
        Written with byte templates rather than json.dumps: several times faster."""
        ref = self.ref
        rnd = random.Random((self.seed << 40) ^ i).random
        _, bid_q, bname_q, number, _, _ = self.buyers[
            bisect.bisect(self.buyer_cum, rnd() * self.buyer_cum[-1])]
        method, details, kind = METHOD_BYTES[
            min(bisect.bisect(self.method_cum, rnd() * self.method_cum[-1]),
                len(METHODS) - 1)]
        awarded = self.date(i)
        opened = awarded - (20 + int(rnd() * 71)) * 86400 - int(rnd() * 24) * 3600
        closed = opened + (10 + int(rnd() * 11)) * 86400
        code = b"%d-%d-%s%02d" % (number, i + 1, kind, time.gmtime(awarded).tm_year % 100)
        ocid = b"%s-%s" % (prefix, code)
        first = ref.ict[int(rnd() * len(ref.ict))] if rnd() < 0.7 else \
            ref.other[int(rnd() * len(ref.other))]
        siblings = ref.by_class[first[3]]
        items, total = [], 0
        for n in range(1 + (rnd() < 0.4) + (rnd() < 0.15)):
            pid, pname_q, _, _ = first if n == 0 else \
                siblings[int(rnd() * len(siblings))]
            quantity = QUANTITIES[int(rnd() * len(QUANTITIES))]
            unit = max(1000, (5000 + int(rnd() * 120000000)) // quantity)
            total += unit * quantity
            items.append(
                b'{"id":"%d","description":%s,"classification":{"scheme":"UNSPSC",'
                b'"id":"%s","description":%s},"quantity":%d,"unit":{"name":"Unidad",'
                b'"value":{"amount":%d,"currency":"CLP"}}}'
                % (n + 1, pname_q, pid, pname_q, quantity, unit))
        services = first[0] >= b"70"
        title = self.title(first, services)
        picked = [self.suppliers[int(rnd() * SUPPLIERS)]]
        if rnd() < 0.1:
            other = self.suppliers[int(rnd() * SUPPLIERS)]
            if other is not picked[0]:
                picked.append(other)
        estimate = total + total // 100 * int(rnd() * 21)
        tenderers = 1 + int(rnd() * 9) if method == b"open" else 1
        date = iso_bytes(awarded)
        return (
            b'{"ocid":"%s","id":"%s-award-1","date":"%s","tag":["tender","award"],'
            b'"initiationType":"tender","language":"es","parties":[{"id":%s,"name":%s,'
            b'"identifier":{"scheme":"CL-MP","id":"%d","legalName":%s},'
            b'"roles":["buyer","procuringEntity"]},%s],"buyer":{"id":%s,"name":%s},'
            b'"tender":{"id":"%s","title":%s,"status":"complete","procurementMethod":"%s",'
            b'"procurementMethodDetails":"%s","mainProcurementCategory":"%s",'
            b'"value":{"amount":%d,"currency":"CLP"},"tenderPeriod":{"startDate":"%s",'
            b'"endDate":"%s"},"numberOfTenderers":%d,"items":[%s]},'
            b'"awards":[{"id":"%s-AW1","title":%s,"status":"active","date":"%s",'
            b'"value":{"amount":%d,"currency":"CLP"},"suppliers":[%s]}]}'
            % (ocid, ocid, date, bid_q, bname_q, number, bname_q,
               b",".join(s[0] for s in picked), bid_q, bname_q,
               code, title, method, details, b"services" if services else b"goods",
               estimate, iso_bytes(opened), iso_bytes(closed), tenderers,
               b",".join(items), ocid, title, date, total,
               b",".join(s[1] for s in picked)))

    def title(self, product, services):
        title = self.titles.get(product[0])
        if title is None:
            title = self.titles[product[0]] = quote("%s %s" % (
                "Servicio de" if services else "Adquisición de", product[2]))
        return title

    def releases(self, prefix, first, last):
        """Releases [first, last) joined by commas. Recent pages are kept, so that a
        page asked again (a retry) or made ahead (prefetch) costs nothing; a page being
        made is waited for, not made twice."""
        key = (prefix, first, last)
        while True:
            with self.cache_lock:
                if key in self.cache:
                    self.cache.move_to_end(key)
                    return self.cache[key]
                making = self.making.get(key)
                if making is None:
                    making = self.making[key] = threading.Event()
                    break
            making.wait()
        text = None
        try:
            text = b",".join(self.release(prefix, i) for i in range(first, last))
        finally:
            with self.cache_lock:
                if text is not None:
                    self.cache[key] = text
                    self.cached += len(text)
                    while self.cached > PAGE_CACHE_BYTES and len(self.cache) > 1:
                        self.cached -= len(self.cache.popitem(last=False)[1])
                del self.making[key]
            making.set()
        return text

    def prefetch(self, prefix, first, last):
        """Makes a page in the background while its client digests the one before."""
        with self.cache_lock:
            if (prefix, first, last) in self.cache or (prefix, first, last) in self.making:
                return
        threading.Thread(target=self.releases, args=(prefix, first, last),
                         daemon=True).start()


def parse_since(text):
    """An RFC 3339 date-time as seconds, or None."""
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return int(when.timestamp())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feedserver"
    stat_path = None

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("feedserver: " + (fmt % args) + "\n")

    def send_response(self, code, message=None):
        if self.stat_path is not None:
            with LOCK:
                per = STATUSES.setdefault(self.stat_path, {})
                per[str(code)] = per.get(str(code), 0) + 1
        super().send_response(code, message)

    # --- replies ---------------------------------------------------------------

    def head(self, status, ctype, headers=None, length=None):
        """The status line and headers; the body chunked unless its length is given."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def chunk(self, piece):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))

    def reply(self, status, body, ctype="application/json", headers=None):
        self.head(status, ctype, headers, 0 if status == 304 else len(body))
        if status != 304 and self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status, obj, headers=None):
        self.reply(status, json.dumps(obj).encode(), headers=headers)

    def reply_chunked(self, status, body, ctype, headers):
        self.head(status, ctype, headers)
        step = 8192
        for i in range(0, len(body), step):
            self.chunk(body[i:i + step])
        self.wfile.write(b"0\r\n\r\n")

    def not_modified(self, etag, mtime):
        """True when the client's validators match (If-None-Match wins, as RFC 9110
        says)."""
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or etag in tags
        if ims is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                return False
            return mtime <= since
        return False

    def accepts_gzip(self):
        for coding in self.headers.get("Accept-Encoding", "").split(","):
            name, _, params = coding.strip().partition(";")
            if name.strip().lower() in ("gzip", "x-gzip"):
                return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00",
                                                       "q=0.000")
        return False

    # --- modes -----------------------------------------------------------------

    def files(self, rel, q):
        path = os.path.realpath(os.path.join(ROOT, urllib.parse.unquote(rel)))
        root = os.path.realpath(ROOT)
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return self.reply_json(404, {"error": "no such file"})
        with open(path, "rb") as fp:
            body = fp.read()
        mtime = int(os.path.getmtime(path))
        digest = hashlib.sha256(body).hexdigest()[:16]
        compress = q.get("gzip") != ["0"] and self.accepts_gzip()
        # Each representation its own strong validator.
        etag = '"%s%s"' % (digest, "-gz" if compress else "")
        headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(mtime, usegmt=True),
                   "Vary": "Accept-Encoding"}
        if self.not_modified(etag, mtime):
            return self.reply(304, b"", headers=headers)
        ctype = "application/json" if path.endswith(".json") else \
            "text/csv; charset=utf-8" if path.endswith(".csv") else "application/octet-stream"
        if compress:
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        if q.get("chunked") == ["1"]:
            return self.reply_chunked(200, body, ctype, headers)
        self.reply(200, body, ctype, headers)

    def pages(self, q):
        total = intarg(q, "total", 100)
        per_page = max(1, intarg(q, "per_page", 10))
        page = max(1, intarg(q, "page", 1))
        prefix = q.get("prefix", ["ocds-test"])[0]
        first = (page - 1) * per_page
        releases = [release(prefix, i) for i in range(first, min(total, first + per_page))]
        doc = {
            "uri": "http://%s%s" % (self.headers.get("Host", "127.0.0.1"), self.path),
            "publishedDate": "2024-06-01T00:00:00Z",
            "version": "1.1",
            "releases": releases,
            "links": {},
        }
        if first + per_page < total:
            nq = dict((k, v[0]) for k, v in q.items())
            nq["page"] = str(page + 1)
            doc["links"]["next"] = "http://%s/pages?%s" % (
                self.headers.get("Host", "127.0.0.1"), urllib.parse.urlencode(nq))
        self.reply_json(200, doc)

    def failure(self, q, page):
        """The misbehaviour this request gets, or None: the asked page fails the first
        fail_times times its exact URL is asked."""
        mode = q.get("fail", [None])[0]
        if mode is None or intarg(q, "fail_page", 0) != page:
            return None
        with LOCK:
            FAILS[self.path] = FAILS.get(self.path, 0) + 1
            asked = FAILS[self.path]
        return mode if asked <= intarg(q, "fail_times", 1) else None

    def fail_early(self, mode):
        """The failures that need no body; True when one was sent."""
        if mode == "500":
            self.reply_json(500, {"error": "internal error on purpose"})
        elif mode == "429":
            self.reply_json(429, {"error": "too many requests on purpose"},
                            {"Retry-After": "1"})
        elif mode == "errorbody":
            # ChileCompra's API says so with a 200.
            self.reply(200, b'{"status":500,"message":"internal error"}')
        else:
            return False
        return True

    def send_slowly(self, body, q):
        """body in about 20 pieces spread over slow_ms; a client that gives up ends it."""
        pieces = 20
        pause = max(0, intarg(q, "slow_ms", 3000)) / 1000.0 / pieces
        step = max(1, -(-len(body) // pieces))
        for i in range(0, len(body), step):
            self.wfile.write(body[i:i + step])
            self.wfile.flush()
            time.sleep(pause)

    def generated(self, q, jsonl):
        """/ocds/releases and /ocds/releases.jsonl."""
        total = max(0, intarg(q, "total", 100))
        per_page = max(1, intarg(q, "per_page", 100))
        page = 1 if jsonl else max(1, intarg(q, "page", 1))
        seed = intarg(q, "seed", 1)
        rev = intarg(q, "rev", 0)
        prefix = q.get("prefix", ["ocds-70d2nz"])[0]
        if not prefix or prefix.strip(PREFIX_CHARS):
            return self.reply_json(400, {"error": "prefix must be letters, digits, - . _"})
        since = None
        if "since" in q:
            since = parse_since(q["since"][0])
            if since is None:
                return self.reply_json(400, {"error": "since must be an RFC 3339 date-time"})
        mode = self.failure(q, page)
        if mode is not None and self.fail_early(mode):
            return
        try:
            world = World.get(seed)
        except (OSError, RuntimeError) as e:
            return self.reply_json(500, {"error": "no reference data: %s" % e})

        start = world.first_after(since) if since is not None else 0
        # What decides the bytes decides the validators, not the failure parameters.
        canon = "%s|%d|%d|%d|%d|%s|%s|%d" % ("jsonl" if jsonl else "page", total,
                                             0 if jsonl else per_page, page, seed,
                                             prefix, since, rev)
        etag = '"%s"' % hashlib.sha256(canon.encode()).hexdigest()[:24]
        mtime = EPOCH + 400 * 86400 + rev * 3600
        headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}
        if self.not_modified(etag, mtime):
            return self.reply(304, b"", headers=headers)
        if jsonl:
            return self.jsonl(world, prefix.encode(), start, total, mode, q, headers)

        first = min(total, start + (page - 1) * per_page)
        last = min(total, first + per_page)
        host = self.headers.get("Host", "127.0.0.1")
        head = (b'{"uri":%s,"publishedDate":"%s","publisher":{"name":%s,'
                b'"uri":"https://www.chilecompra.cl"},"license":'
                b'"https://creativecommons.org/licenses/by/4.0/","version":"1.1",'
                b'"releases":[' % (quote("http://%s%s" % (host, self.path)),
                                   iso_bytes(mtime), quote("Dirección ChileCompra")))
        if last < total:
            nq = [(k, v[0]) for k, v in q.items() if k != "page"] + [("page", page + 1)]
            tail = b'],"links":{"next":%s}}' % quote(
                "http://%s/ocds/releases?%s" % (host, urllib.parse.urlencode(nq)))
        else:
            tail = b'],"links":{}}'
        releases = world.releases(prefix.encode(), first, last)
        if mode == "nul" and releases:
            at = releases.find(b'"title":"') + len(b'"title":"')
            releases = releases[:at] + b"\x00" + releases[at:]
        body = head + releases + tail
        if mode == "invalid":
            body = body[:len(body) // 2]
        if mode == "slow":
            self.head(200, "application/json", headers, len(body))
            return self.send_slowly(body, q)
        if mode == "truncated":
            self.head(200, "application/json", headers, len(body))
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.reply(200, body, "application/json", headers)
        if last < total:
            world.prefetch(prefix.encode(), last, min(total, last + per_page))

    def jsonl(self, world, prefix, start, total, mode, q, headers):
        """All releases from `start`, one per line, in chunks of a thousand."""
        self.head(200, "application/x-ndjson", headers)
        middle = start + (total - start) // 2
        block = 1000
        blocks = max(1, -(-(total - start) // block))
        pause = max(0, intarg(q, "slow_ms", 3000)) / 1000.0 / blocks if mode == "slow" \
            else 0
        for first in range(start, total, block):
            last = min(total, first + block)
            if mode == "truncated" and first <= middle < last:
                # Half a block, and no last chunk: the transfer is cut.
                piece = b"".join(world.release(prefix, i) + b"\n"
                                 for i in range(first, middle))
                piece += world.release(prefix, middle)[:100]
                self.chunk(piece)
                self.wfile.flush()
                self.close_connection = True
                return
            lines = [world.release(prefix, i) for i in range(first, last)]
            if first <= middle < last and mode in ("nul", "invalid"):
                text = lines[middle - first]
                if mode == "nul":
                    at = text.find(b'"title":"') + len(b'"title":"')
                    lines[middle - first] = text[:at] + b"\x00" + text[at:]
                else:
                    lines[middle - first] = text[:len(text) // 2]
            self.chunk(b"\n".join(lines) + b"\n")
            if pause:
                self.wfile.flush()
                time.sleep(pause)
        self.wfile.write(b"0\r\n\r\n")

    def buyers(self, q):
        try:
            world = World.get(intarg(q, "seed", 1))
        except (OSError, RuntimeError) as e:
            return self.reply_json(500, {"error": "no reference data: %s" % e})
        self.reply(200, json.dumps([{"id": b[0], "name": b[5], "agency": b[4]}
                                    for b in world.buyers], ensure_ascii=False).encode())

    def slow(self, q):
        size = intarg(q, "size", 100)
        interval = intarg(q, "interval", 100) / 1000.0
        self.head(200, "text/plain", length=size)
        self.wfile.flush()
        for _ in range(size):
            time.sleep(interval)
            self.wfile.write(b"x")
            self.wfile.flush()

    def truncated(self, q):
        length = intarg(q, "length", 1000)
        send = intarg(q, "send", 100)
        self.head(200, "text/plain", length=length)
        self.wfile.write(b"t" * send)
        self.wfile.flush()
        self.close_connection = True

    def nul(self, q):
        size = intarg(q, "size", 100)
        offset = intarg(q, "offset", 50)
        body = bytearray(b"n" * size)
        if 0 <= offset < size:
            body[offset] = 0
        self.reply(200, bytes(body), "text/plain")

    def changing(self, q):
        n = count("/changing#" + q.get("key", [""])[0])
        headers = {"ETag": '"v%d"' % n,
                   "Last-Modified": email.utils.formatdate(time.time(), usegmt=True)}
        self.reply_json(200, {"version": n}, headers)

    def redirect(self, q):
        n = intarg(q, "n", 1)
        if n > 0:
            nq = dict((k, v[0]) for k, v in q.items())
            nq["n"] = str(n - 1)
            target = "/redirect?" + urllib.parse.urlencode(nq)
        else:
            target = q.get("to", ["/echo"])[0]
        self.reply(302, b"", "text/plain", {"Location": target})

    def stats(self, q):
        with LOCK:
            snapshot = {"requests": dict(COUNTS), "by_url": dict(BY_URL),
                        "status": {p: dict(s) for p, s in STATUSES.items()}}
            if q.get("reset") == ["1"]:
                COUNTS.clear()
                BY_URL.clear()
                STATUSES.clear()
                FAILS.clear()
        self.reply_json(200, snapshot)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        path = url.path
        if path != "/stats":
            count(path)
            with LOCK:
                BY_URL[self.path] = BY_URL.get(self.path, 0) + 1
            self.stat_path = path
        try:
            if path.startswith("/files/"):
                self.files(path[len("/files/"):], q)
            elif path == "/ocds/releases":
                self.generated(q, False)
            elif path == "/ocds/releases.jsonl":
                self.generated(q, True)
            elif path == "/ocds/buyers":
                self.buyers(q)
            elif path == "/pages":
                self.pages(q)
            elif path == "/slow":
                self.slow(q)
            elif path.startswith("/status/"):
                code = int(path[len("/status/"):])
                headers = {}
                if "retry_after" in q:
                    headers["Retry-After"] = q["retry_after"][0]
                self.reply_json(code, {"error": "status %d on purpose" % code}, headers)
            elif path == "/truncated":
                self.truncated(q)
            elif path == "/nul":
                self.nul(q)
            elif path == "/changing":
                self.changing(q)
            elif path == "/errorbody":
                self.reply_json(200, {"status": 500, "message": "Error interno", "Codigo": 500})
            elif path == "/redirect":
                self.redirect(q)
            elif path == "/echo":
                self.reply_json(200, {"path": self.path, "headers": dict(self.headers.items())})
            elif path == "/stats":
                self.stats(q)
            else:
                self.reply_json(404, {"error": "no such mode"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Tests open many connections at once.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients that hang up early are what several tests are about.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Running:
    """This server in a child process, for Python tests: `with Running(root=DIR) as fs:
    fs.url("/ocds/releases?total=10")`. It listens on a free port and dies with its
    stdin, so a test that crashes never leaves it behind. Without a root it serves a
    directory of its own, which add_file fills and close removes."""

    # No proxy from the environment: the server is on loopback.
    _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, root=None, data=None, verbose=False):
        self.proc = None
        self.owned_root = root is None
        self.root = tempfile.mkdtemp(prefix="feedserver-root-") if root is None else root
        argv = [sys.executable, "-B", os.path.abspath(__file__), "--root", self.root,
                "--until-eof"]
        if data is not None:
            argv += ["--data", data]
        if verbose:
            argv.append("--verbose")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)
        except BaseException:
            self.close()
            raise
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError("feedserver did not start")
        self.port = int(line)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def add_file(self, name, data):
        """A file under the root, served at the URL returned."""
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        return self.url("/files/" + name)

    def get(self, path, timeout=60):
        """The body of a successful GET; an HTTP error raises."""
        with self._opener.open(self.url(path), timeout=timeout) as r:
            return r.read()

    def releases(self, path):
        """Every release of a paged pull of the generated API from `path`, following
        links.next (which must stay on this server), and the number of pages."""
        releases, pages = [], 0
        while path is not None:
            doc = json.loads(self.get(path))
            pages += 1
            releases += doc["releases"]
            nxt = doc["links"].get("next")
            path = None
            if nxt is not None:
                url = urllib.parse.urlsplit(nxt)
                if url.netloc != "127.0.0.1:%d" % self.port:
                    raise AssertionError("links.next leaves the server: " + nxt)
                path = url.path + "?" + url.query
        return releases, pages

    def stats(self, reset=False):
        """{"requests": {path: n}, "by_url": {path?query: n}, "status": {path: {code: n}}}"""
        return json.loads(self.get("/stats?reset=1" if reset else "/stats", timeout=30))

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stdout.close()
        if self.owned_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def watch_stdin():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def default_data():
    shared = os.environ.get("ICTMON_SHARED")
    if shared:
        return os.path.join(shared, "data")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(os.path.dirname(repo), "shared", "data")


def main():
    global ROOT, DATA, VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--data", default=None)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--until-eof", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    ROOT = args.root
    DATA = args.data or default_data()
    VERBOSE = args.verbose
    server = Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    if args.until_eof:
        threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
