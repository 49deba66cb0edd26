"""The ingest path against a real PostgreSQL and real daemons (issue 3): pushes of
projects, OCDS procurement and budget lines, checked against counts made here from the
files themselves; agency isolation; idempotency (replay, another body, in flight); every
error status with its message; a client killed mid-body; re-pushes that change nothing;
`ictmonctl import`; and the read API's pagination, as JSON and as CSV."""

import csv
import decimal
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest

import harness

OCDS_DIR = os.path.join(harness.SHARED_DIR, "data", "ocds")
PORTUGAL = os.path.join(OCDS_DIR, "portugal-impic-100-releases.json")
CDMX_RELEASES = os.path.join(OCDS_DIR, "cdmx-release-package-1.json")
CDMX_COMPILED = os.path.join(OCDS_DIR, "cdmx-compiled-release-1.json")
CDMX_RECORDS = os.path.join(OCDS_DIR, "cdmx-record-package-1-2.json")
BUDGET_LAW = harness.BUDGET_LAW

AGENCY_A = "05-62"
AGENCY_B = "01-01"


def exact(path):
    """A JSON file with every number an exact Decimal."""
    with open(path, "rb") as f:
        return json.loads(f.read(), parse_float=decimal.Decimal, parse_int=decimal.Decimal)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def project(pid, **fields):
    record = {"id": pid, "title": "Project " + pid, "status": "planned"}
    record.update(fields)
    return record


class Number(str):
    """A JSON number's exact text, as the CSV must show it."""


def exact_text(body):
    """A JSON reply with every number kept as its text."""
    return json.loads(body, parse_float=Number, parse_int=Number)


def csv_cell(value):
    """What a CSV cell holds for an item's value (csvout.h), or None for a nested
    value that is compact JSON (compared by parsing it)."""
    def scalar(v):
        if v is None:
            return ""
        if v is True or v is False:
            return "true" if v else "false"
        return str(v)

    if isinstance(value, dict) or (isinstance(value, list) and
                                   any(isinstance(e, (dict, list)) for e in value)):
        return None
    if isinstance(value, list):
        text = "; ".join(scalar(e) for e in value)
    elif isinstance(value, Number):
        return str(value)
    else:
        text = scalar(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and text and \
            not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", text):
        return "'" + text
    return text


def link_next(header):
    """The target of a Link header's rel="next", or None."""
    if header is None:
        return None
    m = re.fullmatch(r'<([^>]*)>; rel="next"', header)
    assert m is not None, header
    return m.group(1)


@unittest.skipUnless(os.path.exists(PORTUGAL), "no shared data")
class Ingest(harness.DatabaseTestCase):
    """One daemon for the class; each test uses its own agencies' data where it counts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.import_agencies()
        cls.analyst = cls.token("--role", "analyst", "--name", "analyst")
        cls.agency_a = cls.token("--role", "agency", "--agency", AGENCY_A)
        cls.agency_b = cls.token("--role", "agency", "--agency", AGENCY_B)
        cls.d = harness.Daemon(db=cls.db, settings={"api.rate_limit": "0"})
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")

    def push(self, path, body, token=None, key=None, content_type="application/json",
             daemon=None):
        headers = {"Authorization": "Bearer " + (token or self.analyst)}
        if key is not None:
            headers["Idempotency-Key"] = key
        return (daemon or self.d).post(path, body, headers=headers,
                                       content_type=content_type, timeout=60)

    def get(self, path, token=None):
        return self.d.get(path, headers={"Authorization": "Bearer " + (token or self.analyst)})

    def count(self, table, where="true", **params):
        return int(self.db.scalar("SELECT count(*) FROM %s WHERE %s" % (table, where),
                                  **params))

    def walk(self, path, limit, token=None):
        """Every item of a list, page by page, and the number of pages."""
        return harness.walk_pages(lambda url: self.get(url, token), path, limit)

    def walk_csv(self, path, limit, token=None):
        """Every row of a list as CSV, following the Link chain; asserts each page is
        CSV with the same header row and that only the last page lacks a Link."""
        header, rows, pages = None, [], 0
        url = "%s%slimit=%d" % (path, "&" if "?" in path else "?", limit)
        while url is not None:
            r = self.d.get(url, headers={
                "Authorization": "Bearer " + (token or self.analyst),
                "Accept": "text/csv;q=1, application/json;q=0.5"})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers["Content-Type"], "text/csv; charset=utf-8")
            self.assertIn("Accept", r.headers.get("Vary", ""))
            self.assertFalse(r.body.startswith(b"\xef\xbb\xbf"))
            text = r.body.decode("utf-8")
            # Every record ends in CRLF; a bare LF only inside a quoted field.
            self.assertTrue(text.endswith("\r\n"), text[-40:])
            records = list(csv.reader(io.StringIO(text, newline="")))
            self.assertGreaterEqual(len(records), 2)
            if header is None:
                header = records[0]
            self.assertEqual(records[0], header)
            self.assertLessEqual(len(records) - 1, limit)
            self.assertTrue(all(len(rec) == len(header) for rec in records))
            rows += records[1:]
            pages += 1
            url = link_next(r.headers.get("Link"))
            if url is not None:
                self.assertTrue(url.startswith(path.split("?")[0] + "?"), url)
                self.assertEqual(url.count("after="), 1, url)
                self.assertIn("limit=%d" % limit, url)
        return header, rows, pages

    def test_projects_csv_pages_walk_the_same_rows_as_json(self):
        body = {"projects": [project(
            "CSV-%03d" % i, agency=AGENCY_B, status="in_progress",
            title="Plataforma, fase %d \"piloto\"" % i,
            description=("=HYPERLINK(\"http://x\")" if i % 3 == 0 else
                         "Ñuñoa — línea 1\nlínea 2"),
            capabilities=["interop", "+firma"], planned_cost="1000000.50",
            projected_cost="1250000.75", planned_start="2024-01-01",
            planned_end="2025-06-30", currency="CLP") for i in range(17)]}
        r = self.push("/v1/projects", body)
        self.assertEqual(r.status, 201, r.body)
        path = "/v1/projects?agency=" + AGENCY_B
        items, json_pages = self.walk(path, 4)
        header, rows, csv_pages = self.walk_csv(path, 4)
        self.assertEqual(csv_pages, json_pages)
        self.assertEqual(len(rows), len(items))
        self.assertEqual(len(set(r[header.index("id")] for r in rows)), len(rows))
        # The same rows as the JSON walk, cell by cell, numbers as their exact text.
        exact_items = []
        url, after = "%s&limit=4" % path, None
        while True:
            r = self.get(url + ("&after=" + after if after else ""))
            page = exact_text(r.body)
            exact_items += page["items"]
            after = page["next"]
            if after is None:
                break
        self.assertEqual(header, list(exact_items[0].keys()))
        for item, plain, row in zip(exact_items, items, rows):
            for name, cell in zip(header, row):
                want = csv_cell(item.get(name))
                if want is None:
                    self.assertEqual(json.loads(cell), plain[name], name)
                else:
                    self.assertEqual(cell, want, name)
        ours = [r for r in rows if r[header.index("id")].startswith("CSV-")]
        self.assertEqual(len(ours), 17)
        sample = ours[0]
        self.assertEqual(sample[header.index("description")], "'=HYPERLINK(\"http://x\")")
        self.assertEqual(sample[header.index("capabilities")], "interop; +firma")
        self.assertEqual(sample[header.index("cv")], "-250000.25")
        self.assertEqual(ours[1][header.index("description")], "Ñuñoa — línea 1\nlínea 2")

        # Accept that does not prefer CSV, and a route that is not a list: JSON.
        for accept in ("*/*", "application/json, text/csv", "text/csv;q=0.4, */*"):
            r = self.d.get(path + "&limit=2", headers={
                "Authorization": "Bearer " + self.analyst, "Accept": accept})
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith("application/json"),
                            accept)
            self.assertIsNone(r.headers.get("Link"))
        r = self.d.get("/healthz", headers={"Accept": "text/csv"})
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        # Errors stay JSON; an empty page is an empty body.
        r = self.d.get("/v1/projects?limit=0", headers={
            "Authorization": "Bearer " + self.analyst, "Accept": "text/csv"})
        self.assertEqual(r.status, 400)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        r = self.d.get("/v1/budget?agency=" + AGENCY_B + "&limit=1&after=YjoxMDAwMDAwMDAw",
                       headers={"Authorization": "Bearer " + self.analyst,
                                "Accept": "text/csv"})
        self.assertEqual((r.status, r.body), (200, b""), r.body)
        self.assertEqual(r.headers["Content-Type"], "text/csv; charset=utf-8")

    # --- procurement ---------------------------------------------------------------

    def test_portugal_awards_and_values_per_buyer(self):
        r = self.push("/v1/procurement", read_bytes(PORTUGAL))
        self.assertIn(r.status, (200, 201), r.body)
        # What the file says, counted here: releases merged per ocid by award id.
        expected = {}
        by_ocid = {}
        for package in exact(PORTUGAL):
            for release in package["releases"]:
                by_ocid.setdefault(release["ocid"], []).append(release)
        for ocid, releases in by_ocid.items():
            releases.sort(key=lambda rel: rel["date"])
            awards, buyer = {}, None
            for rel in releases:
                buyer = rel.get("buyer", {}).get("id", buyer)
                for award in rel.get("awards", []):
                    awards.setdefault(award["id"], {}).update(award)
            count, total = expected.get(buyer, (0, decimal.Decimal(0)))
            for award in awards.values():
                count += 1
                total += award["value"]["amount"]
            expected[buyer] = (count, total)
        rows = self.db.query(
            "SELECT al.identifier, count(*), sum(a.value_amount)::text FROM award a"
            " JOIN agency_alias al ON al.agency_id = a.buyer_agency_id"
            "  AND al.scheme = 'ocds-buyer'"
            " WHERE a.ocid LIKE 'ocds-px0z7d-%' GROUP BY 1")
        got = {buyer: (int(n), decimal.Decimal(total)) for buyer, n, total in rows}
        self.assertEqual(got, expected)
        # Every buyer became an unmapped agency: no award is without its agency.
        self.assertEqual(self.count("award", "ocid LIKE 'ocds-px0z7d-%' AND "
                                    "buyer_agency_id IS NULL"), 0)
        unmapped = {row[0] for row in self.db.query(
            "SELECT al.identifier FROM agency a JOIN agency_alias al ON al.agency_id = a.id"
            " WHERE al.scheme = 'ocds-buyer' AND a.kind = 'unmapped'")}
        self.assertLessEqual(set(expected), unmapped)

        # The same file again changes nothing.
        before = self.db.query("SELECT count(*), max(id) FROM ocds_release")
        compiled = self.db.scalar("SELECT max(compiled_at)::text FROM ocds_compiled")
        r = self.push("/v1/procurement", read_bytes(PORTUGAL))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json["inserted"], r.json["unchanged"], r.json["ocids_compiled"]),
                         (0, 100, 0))
        self.assertEqual(self.db.query("SELECT count(*), max(id) FROM ocds_release"), before)
        self.assertEqual(self.db.scalar("SELECT max(compiled_at)::text FROM ocds_compiled"),
                         compiled)

        # The read API gives every award once, amounts as decimal strings.
        items, pages = self.walk("/v1/awards", 7)
        portugal = [i for i in items if i["ocid"].startswith("ocds-px0z7d-")]
        self.assertEqual(len(portugal), sum(n for n, _ in expected.values()))
        keys = [(i["ocid"], i["award_id"]) for i in items]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertEqual(len(items), self.count("award"))
        self.assertGreater(pages, 10)
        self.assertEqual(sum(decimal.Decimal(i["amount"]) for i in portugal),
                         sum(t for _, t in expected.values()))
        first = portugal[0]
        self.assertIsInstance(first["suppliers"], list)
        self.assertTrue(all("id" in s and "name" in s for s in first["suppliers"]))
        self.assertIn("method", first)
        self.assertIn("classifications", first)

    def test_cdmx_release_package_compiles_to_the_published_compiled_release(self):
        r = self.push("/v1/procurement", read_bytes(CDMX_RELEASES))
        self.assertIn(r.status, (200, 201), r.body)
        expected = exact(CDMX_COMPILED)
        data = self.db.scalar("SELECT data::text FROM ocds_compiled WHERE ocid = :'o'",
                              o=expected["ocid"])
        got = json.loads(data, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
        self.assertEqual(got, expected)
        # The flat rows come from it: its award, supplier and amount exactly.
        award = expected["awards"][0]
        row = self.db.query("SELECT value_amount::text, currency FROM award"
                            " WHERE ocid = :'o' AND award_id = :'a'",
                            o=expected["ocid"], a=str(award["id"]))
        self.assertEqual(len(row), 1)
        self.assertEqual(decimal.Decimal(row[0][0]), award["value"]["amount"])
        self.assertEqual(self.count("award_supplier", "ocid = :'o'", o=expected["ocid"]),
                         len(award["suppliers"]))

    def test_cdmx_record_package_uses_its_compiled_release(self):
        r = self.push("/v1/procurement", read_bytes(CDMX_RECORDS))
        self.assertIn(r.status, (200, 201), r.body)
        package = exact(CDMX_RECORDS)
        for record in package["records"]:
            data = self.db.scalar("SELECT data::text FROM ocds_compiled WHERE ocid = :'o'",
                                  o=record["ocid"])
            got = json.loads(data, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
            self.assertEqual(got, record["compiledRelease"])
            self.assertEqual(self.count("ocds_release", "ocid = :'o'", o=record["ocid"]),
                             len(record["releases"]))
        r = self.push("/v1/procurement", read_bytes(CDMX_RECORDS))
        self.assertEqual((r.status, r.json["inserted"], r.json["ocids_compiled"]),
                         (200, 0, 0), r.body)

    # --- agency isolation ----------------------------------------------------------

    def test_agency_token_writes_only_its_own_agency(self):
        batches = self.count("ingest_batch")
        r = self.push("/v1/projects", {"projects": [project("ISO-1", agency=AGENCY_B)]},
                      token=self.agency_a)
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.json["error"]["details"][0]["pointer"], "/projects/0/agency")
        r = self.push("/v1/budget", {"lines": [{
            "agency": AGENCY_B, "fiscal_year": 2024, "program": "01", "subtitulo": 29,
            "item": 7, "phase": "approved", "amount": "10", "currency": "CLP"}]},
            token=self.agency_a)
        self.assertEqual(r.status, 403, r.body)
        r = self.push("/v1/procurement", read_bytes(CDMX_RECORDS), token=self.agency_a)
        self.assertEqual(r.status, 403, r.body)
        self.assertIn("buyer", r.json["error"]["details"][0]["message"])
        self.assertEqual(self.count("project", "external_id = 'ISO-1'"), 0)
        self.assertEqual(self.count("budget_line", "fiscal_year = 2024"), 0)
        self.assertEqual(self.count("ingest_batch"), batches)

        # Its own data goes in, and another agency cannot read it.
        r = self.push("/v1/projects", {"projects": [project("ISO-2")]}, token=self.agency_a)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(self.get("/v1/projects?agency=" + AGENCY_A, self.agency_b).status,
                         403)
        items, _ = self.walk("/v1/projects", 100, token=self.agency_b)
        self.assertNotIn("ISO-2", [i["id"] for i in items])
        items, _ = self.walk("/v1/projects", 100, token=self.agency_a)
        self.assertIn("ISO-2", [i["id"] for i in items])
        self.assertTrue(all(i["agency"] == AGENCY_A for i in items))

        # A buyer mapped to the agency may be pushed by it.
        release = {"ocid": "ocds-test-iso-1", "id": "1", "date": "2024-01-02T00:00:00Z",
                   "tag": ["award"], "buyer": {"id": "ISO-BUYER", "name": "A's buyer"},
                   "awards": [{"id": "a1", "value": {"amount": 5, "currency": "CLP"}}]}
        r = self.push("/v1/procurement", {"releases": [release]}, token=self.agency_a)
        self.assertEqual(r.status, 403, r.body)
        self.db.query("INSERT INTO agency_alias (scheme, identifier, agency_id)"
                      " SELECT 'ocds-buyer', 'ISO-BUYER', id FROM agency WHERE code = :'c'",
                      c=AGENCY_A)
        r = self.push("/v1/procurement", {"releases": [release]}, token=self.agency_a)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(self.db.scalar(
            "SELECT g.code FROM award a JOIN agency g ON g.id = a.buyer_agency_id"
            " WHERE a.ocid = 'ocds-test-iso-1'"), AGENCY_A)

        # Another agency cannot take the process over by naming its own buyer, in a
        # release or in a record's compiled release.
        self.db.query("INSERT INTO agency_alias (scheme, identifier, agency_id)"
                      " SELECT 'ocds-buyer', 'ISO-BUYER-B', id FROM agency WHERE code = :'c'",
                      c=AGENCY_B)
        takeover = {"ocid": "ocds-test-iso-1", "id": "2", "date": "2024-02-01T00:00:00Z",
                    "tag": ["awardUpdate"], "buyer": {"id": "ISO-BUYER-B"},
                    "awards": [{"id": "a1", "status": "cancelled",
                                "value": {"amount": 1, "currency": "CLP"}}]}
        r = self.push("/v1/procurement", {"releases": [takeover]}, token=self.agency_b)
        self.assertEqual(r.status, 403, r.body)
        r = self.push("/v1/procurement", {"records": [{
            "ocid": "ocds-test-iso-1", "compiledRelease": takeover}]}, token=self.agency_b)
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(self.db.scalar(
            "SELECT a.value_amount::text || ' ' || g.code FROM award a"
            " JOIN agency g ON g.id = a.buyer_agency_id"
            " WHERE a.ocid = 'ocds-test-iso-1'"), "5 " + AGENCY_A)
        self.assertEqual(self.count("ocds_release", "ocid = 'ocds-test-iso-1'"), 1)

    # --- projects ------------------------------------------------------------------

    def test_projects_upsert_versions_and_unchanged_repush(self):
        body = {"projects": [
            project("UP-1", agency=AGENCY_A, planned_cost="1311264.00", currency="CLP",
                    planned_start="2024-01-01", planned_end="2024-12-31",
                    capabilities=["identity", "a \"quoted\" tag"]),
            project("UP-2", agency=AGENCY_A)]}
        r = self.push("/v1/projects", body)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual((r.json["inserted"], r.json["updated"], r.json["unchanged"]),
                         (2, 0, 0))
        r = self.push("/v1/projects", body)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json["inserted"], r.json["updated"], r.json["unchanged"]),
                         (0, 0, 2))
        body["projects"][0]["title"] = "Digital identity, rebaselined"
        r = self.push("/v1/projects", body)
        self.assertEqual((r.json["inserted"], r.json["updated"], r.json["unchanged"]),
                         (0, 1, 1), r.body)
        rows = self.db.query(
            "SELECT p.version, p.planned_cost::text, p.capabilities::text,"
            " (SELECT count(*) FROM project_version v WHERE v.project_id = p.id)"
            " FROM project p WHERE external_id = 'UP-1'")
        self.assertEqual(rows, [("2", "1311264.00", '{identity,"a \\"quoted\\" tag"}', "2")])
        self.assertEqual(self.db.scalar(
            "SELECT max(batch_id) FROM project_version v JOIN project p ON p.id = v.project_id"
            " WHERE p.external_id = 'UP-1'"), str(r.json["batch_id"]))

    def test_unknown_agency_is_422_at_its_pointer(self):
        r = self.push("/v1/projects", {"projects": [project("UA-1", agency=AGENCY_A),
                                                    project("UA-2", agency="99-99")]})
        self.assertEqual(r.status, 422, r.body)
        self.assertEqual(r.json["error"]["details"],
                         [{"record": 1, "pointer": "/projects/1/agency",
                           "message": 'no agency with code "99-99"'}])
        self.assertEqual(self.count("project", "external_id LIKE 'UA-%'"), 0)

    # --- budget --------------------------------------------------------------------

    def test_budget_law_csv_and_its_pages(self):
        lines, rows = harness.budget_law_rows()
        r = self.push("/v1/budget?year=2023&phase=approved", read_bytes(BUDGET_LAW),
                      content_type="text/csv")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json["inserted"], rows)
        self.assertEqual(self.count("budget_line", "fiscal_year = 2023"), rows)
        r = self.push("/v1/budget?year=2023&phase=approved", read_bytes(BUDGET_LAW),
                      content_type="text/csv")
        self.assertEqual((r.status, r.json["unchanged"], r.json["inserted"]), (200, rows, 0))
        r = self.push("/v1/budget?year=2023", read_bytes(BUDGET_LAW), content_type="text/csv")
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("phase", r.json["error"]["message"])

        items, pages = self.walk("/v1/budget", 1000)
        ids = [i["id"] for i in items]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(len(ids), self.count("budget_line"))
        self.assertEqual(pages, (len(ids) + 999) // 1000 + (len(ids) % 1000 == 0))
        self.assertTrue(all(isinstance(i["amount"], str) for i in items))
        total = sum(decimal.Decimal(i["amount"]) for i in items if i["fiscal_year"] == 2023)
        self.assertEqual(total, decimal.Decimal(self.db.scalar(
            "SELECT sum(amount)::text FROM budget_line WHERE fiscal_year = 2023")))

    # --- idempotency ---------------------------------------------------------------

    def test_idempotency_replay_and_another_body(self):
        body = {"projects": [project("IK-1", agency=AGENCY_A)]}
        first = self.push("/v1/projects", body, key="key-replay")
        self.assertEqual(first.status, 201, first.body)
        again = self.push("/v1/projects", body, key="key-replay")
        self.assertEqual(again.status, 201, again.body)
        self.assertEqual(again.headers.get("Idempotency-Replayed"), "true")
        self.assertEqual(again.body, first.body)  # byte for byte
        other = self.push("/v1/projects", {"projects": [project("IK-2", agency=AGENCY_A)]},
                          key="key-replay")
        self.assertEqual(other.status, 422, other.body)
        self.assertIn("Idempotency-Key", other.json["error"]["message"])
        self.assertEqual(self.count("project", "external_id = 'IK-2'"), 0)
        # Keys are per token for analysts: another analyst's same key is another request.
        r = self.push("/v1/projects", body, key="key-replay",
                      token=self.token("--role", "analyst"))
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNone(r.headers.get("Idempotency-Replayed"))
        r = self.push("/v1/projects", body, key="x" * 256)
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("Idempotency-Key", r.json["error"]["message"])

    def hold_project_lock(self):
        """A psql session holding a lock the projects upsert needs, so that a push waits
        inside its transaction; release() lets it go on."""
        holder = subprocess.Popen(
            [harness.PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
             self.db.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=self.db.env, text=True)
        self.addCleanup(holder.kill)
        self.addCleanup(holder.stdout.close)
        holder.stdin.write("BEGIN;\nLOCK TABLE project IN SHARE ROW EXCLUSIVE MODE;\n"
                           "SELECT 'locked';\n")
        holder.stdin.flush()
        self.assertIn("locked", holder.stdout.readline())

        def release():
            if holder.poll() is None:
                holder.stdin.write("COMMIT;\n")
                holder.stdin.close()
                holder.wait(10)
        return release

    def test_idempotency_in_flight_is_409(self):
        # The first request waits inside its transaction, its key claimed and running.
        release = self.hold_project_lock()
        body = {"projects": [project("FL-1", agency=AGENCY_A)]}
        results = {}
        first = threading.Thread(target=lambda: results.setdefault(
            "first", self.push("/v1/projects", body, key="key-in-flight")))
        first.start()
        try:
            harness.poll(lambda: self.count(
                "ingest_batch", "idempotency_key = 'key-in-flight' AND status = 'running'"),
                10, what="the first request's batch running")
            second = self.push("/v1/projects", body, key="key-in-flight")
            self.assertEqual(second.status, 409, second.body)
        finally:
            release()
            first.join(30)
        self.assertEqual(results["first"].status, 201, results["first"].body)
        third = self.push("/v1/projects", body, key="key-in-flight")
        self.assertEqual((third.status, third.headers.get("Idempotency-Replayed")),
                         (201, "true"))

    def test_abandoned_batch_key_is_taken_over(self):
        body = {"projects": [project("AB-1", agency=AGENCY_A)]}
        r = self.push("/v1/projects", body, key="key-abandoned")
        self.assertEqual(r.status, 201, r.body)
        # As if that request had died mid-way an hour ago.
        self.db.query("UPDATE ingest_batch SET status = 'running', finished_at = NULL,"
                      " created_at = now() - interval '1 hour'"
                      " WHERE idempotency_key = 'key-abandoned'")
        r = self.push("/v1/projects", body, key="key-abandoned")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.db.scalar("SELECT status FROM ingest_batch"
                                        " WHERE idempotency_key = 'key-abandoned'"), "done")

    # --- errors --------------------------------------------------------------------

    def test_error_statuses(self):
        r = self.push("/v1/projects", b'{"projects": [\n  {"id": "x",,}]}')
        self.assertEqual(r.status, 400, r.body)
        detail = r.json["error"]["details"][0]
        self.assertEqual((detail["line"], detail["column"]), (2, 14))
        self.assertIn("line 2, column 14", r.json["error"]["message"])

        r = self.push("/v1/projects", b"{}", content_type="text/plain")
        self.assertEqual(r.status, 415, r.body)
        self.assertIn("application/json", r.json["error"]["message"])
        r = self.push("/v1/procurement", b"x", content_type="text/csv")
        self.assertEqual(r.status, 415, r.body)

        r = self.push("/v1/projects", {"projects": [
            project("E-1", agency=AGENCY_A, planned_cost="12,5", currency="CLP"),
            project("E-2", agency=AGENCY_A, status="finished", cio_rating=6)]})
        self.assertEqual(r.status, 422, r.body)
        pointers = sorted(d["pointer"] for d in r.json["error"]["details"])
        self.assertEqual(pointers, ["/projects/0/planned_cost", "/projects/1/cio_rating",
                                    "/projects/1/status"])
        self.assertTrue(all(d["message"] for d in r.json["error"]["details"]))

        r = self.push("/v1/projects", {"projects": []}, token="ictm_" + "A" * 43)
        self.assertEqual(r.status, 401, r.body)
        r = self.d.post("/v1/projects", {"projects": []})
        self.assertEqual(r.status, 401, r.body)

    def test_body_limit_and_rate_limit(self):
        d = harness.Daemon(db=self.db, settings={"http.max_body": "2K",
                                                 "api.rate_limit": "1",
                                                 "api.rate_burst": "3"})
        self.addCleanup(d.close)
        d.start(wait="ready")
        big = {"projects": [project("BIG-%d" % i, agency=AGENCY_A) for i in range(100)]}
        r = self.push("/v1/projects", big, daemon=d)
        self.assertEqual(r.status, 413, r.body)
        token = self.token("--role", "analyst")
        statuses = [self.push("/v1/projects", {"projects": []}, token=token, daemon=d)
                    for _ in range(5)]
        self.assertEqual([s.status for s in statuses[:3]], [200, 200, 200],
                         [s.body for s in statuses])
        limited = statuses[3]
        self.assertEqual(limited.status, 429, limited.body)
        self.assertGreaterEqual(int(limited.headers["Retry-After"]), 1)
        self.assertEqual(limited.json["error"]["code"], "too_many_requests")
        self.assertEqual(self.count("project", "external_id LIKE 'BIG-%'"), 0)

    def test_client_killed_mid_body_writes_nothing(self):
        batches = self.count("ingest_batch")
        body = json.dumps({"projects": [project("KILL-%d" % i, agency=AGENCY_A)
                                        for i in range(200)]}).encode()
        head = ("POST /v1/projects HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (self.d.address, self.analyst, len(body))).encode()
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            s.sendall(head + body[:len(body) // 2])
            time.sleep(0.2)
        time.sleep(0.3)
        self.assertEqual(self.d.get("/healthz").status, 200)
        self.assertEqual(self.count("project", "external_id LIKE 'KILL-%'"), 0)
        self.assertEqual(self.count("ingest_batch"), batches)

    def test_client_gone_while_waiting_for_the_database(self):
        # The body arrived whole: the batch commits, the reply has nowhere to go, and
        # the daemon carries on.
        release = self.hold_project_lock()
        body = json.dumps({"projects": [project("GONE-1", agency=AGENCY_A)]}).encode()
        head = ("POST /v1/projects HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (self.d.address, self.analyst, len(body))).encode()
        try:
            with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
                s.sendall(head + body)
                harness.poll(lambda: self.count(
                    "pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid",
                    "NOT l.granted AND a.application_name = 'ictmond'"), 10,
                    what="the push waiting for the lock")
        finally:
            release()
        harness.poll(lambda: self.count("project", "external_id = 'GONE-1'"), 10,
                     what="the batch committed")
        self.assertEqual(self.d.get("/healthz").status, 200)

    # --- ictmonctl import and the read API -------------------------------------------

    def test_ictmonctl_imports_each_kind(self):
        tmp = os.path.join(self.d.dir, "projects.json")
        with open(tmp, "w") as f:
            json.dump({"projects": [project("CTL-1"), project("CTL-2")]}, f)
        rc, out, err = self.ctl("import", "projects", tmp, "--agency", AGENCY_B)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["inserted"], 2)
        self.assertEqual(self.count("project p JOIN agency a ON a.id = p.agency_id",
                                    "p.external_id LIKE 'CTL-%' AND a.code = :'c'",
                                    c=AGENCY_B), 2)
        rc, out, err = self.ctl("import", "procurement", CDMX_RELEASES)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["releases"], 2)
        lines, rows = harness.budget_law_rows()
        rc, out, err = self.ctl("import", "budget", BUDGET_LAW, "--year", "2021",
                                "--phase", "modified")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["inserted"], rows)
        self.assertEqual(self.count("budget_line", "fiscal_year = 2021 AND phase = 'modified'"),
                         rows)
        # A refused import says why and exits non-zero.
        rc, out, err = self.ctl("import", "projects", tmp, "--agency", "99-99")
        self.assertEqual(rc, 1)
        self.assertIn('/projects/0/agency: no agency with code "99-99"', err)
        rc, out, err = self.ctl("import", "budget", BUDGET_LAW)
        self.assertEqual(rc, 2)

    def test_projects_pages_walk_every_row_once(self):
        body = {"projects": [project("PG-%03d" % i, agency=AGENCY_B) for i in range(23)]}
        self.assertEqual(self.push("/v1/projects", body).status, 201)
        items, pages = self.walk("/v1/projects?agency=" + AGENCY_B, 5)
        ids = [i["id"] for i in items if i["id"].startswith("PG-")]
        self.assertEqual(sorted(ids), sorted(p["id"] for p in body["projects"]))
        self.assertEqual(len(items), self.count(
            "project p JOIN agency a ON a.id = p.agency_id", "a.code = :'c'", c=AGENCY_B))
        for bad in ("limit=0", "limit=1001", "limit=x", "after=%25", "after=YjoxMg",
                    "agency=%20"):
            r = self.get("/v1/projects?" + bad)
            self.assertEqual(r.status, 400, bad)
            self.assertIn(bad.split("=")[0], r.json["error"]["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
