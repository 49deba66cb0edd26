"""The feed server the collector tests and the collect benchmark pull from
(feedserver.py): its generated OCDS API pages and JSON Lines are deterministic, valid as
the ingest reads them, drawn on Chile's real agencies and UNSPSC codes; its validators give
304s; each misbehaviour happens as often as asked and then stops; /files serves the shared
data, compressed for clients that accept it. No database."""

import csv
import gzip
import http.client
import json
import os
import re
import time
import unittest

import feedserver
import harness

DATA = os.path.join(harness.SHARED_DIR, "data")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def unspsc_products():
    with open(os.path.join(DATA, "chile", "unspsc-rubros-chilecompra.csv"),
              encoding="utf-8-sig", newline="") as f:
        return {row[0] for row in csv.reader(f, delimiter=";") if row and row[0].isdigit()}


class FeedServerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = feedserver.Running(root=DATA, data=DATA)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def get(self, path, headers=None):
        """(status, headers, body) over a fresh connection; body None when the
        transfer was cut."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            try:
                body = r.read()
            except http.client.IncompleteRead:
                body = None
            return r.status, r.headers, body
        finally:
            conn.close()

    def jsonl(self, path):
        status, headers, body = self.get(path)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Transfer-Encoding"], "chunked")
        self.assertTrue(body.endswith(b"\n"))
        return body.split(b"\n")[:-1]

    # --- the generated API --------------------------------------------------------

    def test_pages_follow_next_and_hold_every_release_once(self):
        pull = self.server.releases
        releases, pages = pull("/ocds/releases?total=2500&per_page=1000&seed=11")
        self.assertEqual(pages, 3)
        self.assertEqual(len(releases), 2500)
        self.assertEqual(len({r["ocid"] for r in releases}), 2500)
        # Whatever the page size, release i is the same, and so are the JSON Lines.
        again, pages = pull("/ocds/releases?total=2500&per_page=700&seed=11")
        self.assertEqual(pages, 4)
        self.assertEqual(again, releases)
        lines = self.jsonl("/ocds/releases.jsonl?total=2500&seed=11")
        self.assertEqual([json.loads(line) for line in lines], releases)
        # Dates grow with the index, so a pull resumes after the newest one it has.
        dates = [r["date"] for r in releases]
        self.assertEqual(dates, sorted(dates))
        self.assertEqual(len(set(dates)), len(dates))
        after, _ = pull("/ocds/releases?total=2500&per_page=1000&seed=11&since=" +
                        releases[1233]["date"])
        self.assertEqual(after, releases[1234:])

    def test_same_parameters_same_bytes(self):
        path = "/ocds/releases?total=300&per_page=100&page=2&seed=5"
        first = self.get(path)[2]
        self.assertEqual(self.get(path)[2], first)
        # Another process, another port: only the URLs in it differ.
        with feedserver.Running(root=DATA, data=DATA) as other:
            theirs = other.get(path)
        self.assertEqual(theirs.replace(b":%d/" % other.port, b":%d/" % self.server.port),
                         first)
        self.assertNotEqual(self.get(path.replace("seed=5", "seed=6"))[2], first)

    def test_package_and_releases_are_what_the_ingest_takes(self):
        status, headers, body = self.get(
            "/ocds/releases?total=1500&per_page=1000&page=2&seed=3&prefix=ocds-test9")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(int(headers["Content-Length"]), len(body))
        doc = json.loads(body)
        self.assertEqual(doc["version"], "1.1")
        self.assertEqual(doc["publisher"]["name"], "Dirección ChileCompra")
        self.assertRegex(doc["publishedDate"], RFC3339)
        self.assertIn("/ocds/releases?", doc["uri"])
        self.assertEqual(doc["links"], {})          # the last page
        self.assertEqual(len(doc["releases"]), 500)
        products = unspsc_products()
        status, _, buyers = self.get("/ocds/buyers?seed=3")
        self.assertEqual(status, 200)
        buyers = {b["id"]: b for b in json.loads(buyers)}
        with open(os.path.join(DATA, "chile", "institutions.csv"), encoding="utf-8") as f:
            services = {"%02d-%02d" % (int(r[0]), int(r[1]))
                        for r in csv.reader(f, delimiter=";") if r[1] != "0" and r[2] == "0"}
        for b in buyers.values():
            self.assertRegex(b["id"], r"^CL-MP-\d+$")
            self.assertIn(b["agency"], services)
        for r in doc["releases"]:
            self.assertTrue(r["ocid"].startswith("ocds-test9-"))
            self.assertTrue(r["id"])
            self.assertRegex(r["date"], RFC3339)
            self.assertEqual(r["tag"], ["tender", "award"])
            self.assertIn(r["buyer"]["id"], buyers)
            self.assertEqual(r["buyer"]["name"], buyers[r["buyer"]["id"]]["name"])
            parties = {p["id"]: p for p in r["parties"]}
            self.assertIn("buyer", parties[r["buyer"]["id"]]["roles"])
            items = r["tender"]["items"]
            self.assertTrue(1 <= len(items) <= 3)
            for item in items:
                self.assertEqual(item["classification"]["scheme"], "UNSPSC")
                self.assertIn(item["classification"]["id"], products)
            award, = r["awards"]
            self.assertEqual(award["value"]["currency"], "CLP")
            self.assertIsInstance(award["value"]["amount"], int)
            self.assertEqual(award["value"]["amount"],
                             sum(i["quantity"] * i["unit"]["value"]["amount"] for i in items))
            for s in award["suppliers"]:
                self.assertIn("supplier", parties[s["id"]]["roles"])
                self.assertRegex(parties[s["id"]]["identifier"]["id"], r"^\d{8}-[\dK]$")
        # Most of what is bought is ICT: UNSPSC segment 43 or family 8111.
        ict = sum(r["tender"]["items"][0]["classification"]["id"].startswith(("43", "8111"))
                  for r in doc["releases"])
        self.assertGreater(ict, len(doc["releases"]) // 2)

    def test_bad_parameters_are_refused(self):
        self.assertEqual(self.get("/ocds/releases?total=5&since=yesterday")[0], 400)
        self.assertEqual(self.get("/ocds/releases?total=5&prefix=a%22b")[0], 400)

    # --- validators ---------------------------------------------------------------

    def test_304_on_validators_costs_one_request(self):
        self.server.stats(reset=True)
        for path in ("/ocds/releases?total=50&per_page=20&seed=2",
                     "/ocds/releases.jsonl?total=50&seed=2"):
            status, headers, body = self.get(path)
            self.assertEqual(status, 200)
            etag, modified = headers["ETag"], headers["Last-Modified"]
            status, headers, body = self.get(path, {"If-None-Match": etag})
            self.assertEqual((status, body), (304, b""))
            self.assertEqual(headers["ETag"], etag)
            status, _, body = self.get(path, {"If-Modified-Since": modified})
            self.assertEqual((status, body), (304, b""))
            # A changed feed: a new validator and the whole body.
            status, headers, _ = self.get(path + "&rev=1", {"If-None-Match": etag})
            self.assertEqual(status, 200)
            self.assertNotEqual(headers["ETag"], etag)
        stats = self.server.stats()
        self.assertEqual(stats["requests"]["/ocds/releases"], 4)
        self.assertEqual(stats["requests"]["/ocds/releases.jsonl"], 4)
        self.assertEqual(stats["status"]["/ocds/releases"], {"200": 2, "304": 2})
        self.assertEqual(stats["by_url"]["/ocds/releases?total=50&per_page=20&seed=2"], 3)

    # --- misbehaviour -------------------------------------------------------------

    def test_each_failure_then_normal_service(self):
        base = "/ocds/releases?total=30&per_page=10&seed=4&fail_page=2"
        for mode in ("500", "429", "errorbody", "truncated", "nul", "invalid", "slow"):
            # Other pages of the same feed are never touched.
            self.assertEqual(self.get(base + "&fail=%s&page=1" % mode)[0], 200)
            path = base + "&fail=%s&slow_ms=200&page=2" % mode
            status, headers, body = self.get(path)
            # Asked again: served as it should be.
            ok_status, _, good = self.get(path)
            self.assertEqual(ok_status, 200)
            self.assertEqual(len(json.loads(good)["releases"]), 10)
            if mode == "500":
                self.assertEqual(status, 500)
            elif mode == "429":
                self.assertEqual(status, 429)
                self.assertEqual(headers["Retry-After"], "1")
            elif mode == "errorbody":
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(body), {"status": 500, "message": "internal error"})
            elif mode == "truncated":
                self.assertEqual(status, 200)
                self.assertIsNone(body)
            elif mode == "nul":
                self.assertEqual(body.count(b"\0"), 1)
                self.assertEqual(body.replace(b"\0", b""), good)
            elif mode == "invalid":
                self.assertEqual(int(headers["Content-Length"]), len(body))
                self.assertTrue(good.startswith(body) and len(body) < len(good))
                with self.assertRaises(ValueError):
                    json.loads(body)
            elif mode == "slow":
                self.assertEqual(body, good)

        path = base + "&fail=500&fail_times=2&page=2"
        self.assertEqual(self.get(path)[0], 500)
        self.assertEqual(self.get(path)[0], 500)
        self.assertEqual(self.get(path)[0], 200)

    def test_jsonl_failures(self):
        lines = self.jsonl("/ocds/releases.jsonl?total=2100&seed=8")
        base = "/ocds/releases.jsonl?total=2100&seed=8&fail_page=1&fail="
        status, _, body = self.get(base + "truncated")
        self.assertEqual((status, body), (200, None))
        self.assertEqual(self.get(base + "429")[0], 429)
        got = self.jsonl(base + "invalid")
        self.assertEqual(len(got), 2100)
        broken = [n for n, line in enumerate(got) if line != lines[n]]
        self.assertEqual(broken, [1050])
        with self.assertRaises(ValueError):
            json.loads(got[1050])
        got = self.jsonl(base + "nul")
        self.assertEqual(sum(line.count(b"\0") for line in got), 1)
        self.assertEqual(self.jsonl(base + "nul"), lines)

    # --- files ----------------------------------------------------------------------

    def test_files_from_the_shared_data_gzip_when_accepted(self):
        path = "/files/chile/budgetLaw.csv"
        with open(os.path.join(DATA, "chile", "budgetLaw.csv"), "rb") as f:
            content = f.read()
        status, headers, body = self.get(path, {"Accept-Encoding": "gzip, deflate"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertLess(len(body), len(content) // 2)
        self.assertEqual(gzip.decompress(body), content)
        etag = headers["ETag"]
        status, headers, body = self.get(path)
        self.assertEqual(status, 200)
        self.assertIsNone(headers["Content-Encoding"])
        self.assertEqual(body, content)
        self.assertNotEqual(headers["ETag"], etag)
        status, headers, _ = self.get(path + "?gzip=0", {"Accept-Encoding": "gzip"})
        self.assertIsNone(headers["Content-Encoding"])
        self.assertEqual(self.get(path, {"Accept-Encoding": "gzip", "If-None-Match": etag})[0],
                         304)
        self.assertEqual(self.get("/files/../README.md")[0], 404)
        self.assertEqual(self.get("/files/ocds/nonexistent.json")[0], 404)

    # --- speed ----------------------------------------------------------------------

    def test_generation_speed_is_printed(self):
        """Not a limit (no timed assertions): the figure the collect benchmark relies on."""
        total, per_page = 20000, 1000
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        start = time.monotonic()
        size = 0
        for page in range(1, total // per_page + 1):
            conn.request("GET", "/ocds/releases?total=%d&per_page=%d&seed=99&page=%d"
                         % (total, per_page, page))
            r = conn.getresponse()
            size += len(r.read())
            self.assertEqual(r.status, 200)
        took = time.monotonic() - start
        conn.close()
        print("\nfeedserver: %d releases in pages of %d: %.0f releases/s, %.1f MB/s"
              % (total, per_page, total / took, size / took / 1e6))


if __name__ == "__main__":
    unittest.main(verbosity=2)
