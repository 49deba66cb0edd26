"""What the indicator tests share (test_indicators_portfolio.py,
test_indicators_overlap.py): builders of the records pushed through the API (projects,
OCDS releases, budget lines) and IndicatorCase, a test class with its own database,
agencies mapped to OCDS buyers, a daemon that never runs the indicators by itself,
`ictmonctl indicators run` and readers of the results, from the database by run or
from the API as a client sees them. Numbers read back are exact (decimal)."""

import decimal
import json
import re

import harness

D = decimal.Decimal


def project(pid, **fields):
    record = {"id": pid, "title": "Project " + pid, "status": "in_progress"}
    record.update(fields)
    return record


def award(award_id, amount, suppliers=("S-1",), currency="CLP", cls="43232300",
          status="active", date="2024-03-01T00:00:00Z", scheme="UNSPSC"):
    """An OCDS award; cls None: no items of its own (its tender's apply); amount None:
    no value; date None: no date."""
    a = {"id": award_id, "status": status,
         "suppliers": [{"id": s, "name": "Supplier " + s} for s in suppliers]}
    if date is not None:
        a["date"] = date
    if amount is not None:
        a["value"] = {"amount": amount, "currency": currency}
    if cls is not None:
        a["items"] = [{"id": "1", "description": "item",
                       "classification": {"scheme": scheme, "id": cls}}]
    return a


def tender(method="open", cls=None, status="active", amount=None, currency="CLP",
           details=None, end=None, scheme="UNSPSC"):
    """An OCDS tender: procurementMethod `method`, items of class `cls` (None: none),
    value `amount`, procurementMethodDetails `details`, tenderPeriod ending `end`."""
    t = {"id": "t", "status": status, "procurementMethod": method}
    if details is not None:
        t["procurementMethodDetails"] = details
    if amount is not None:
        t["value"] = {"amount": amount, "currency": currency}
    if end is not None:
        t["tenderPeriod"] = {"endDate": end}
    if cls is not None:
        t["items"] = [{"id": "1", "description": "item",
                       "classification": {"scheme": scheme, "id": cls}}]
    return t


def release(ocid, buyer, awards, tender=None):
    r = {"ocid": ocid, "id": ocid + "-1", "date": "2024-03-01T00:00:00Z",
         "tag": ["award"] if awards else ["tender"],
         "buyer": {"id": buyer, "name": "Buyer " + buyer}, "awards": awards}
    if tender is not None:
        r["tender"] = tender
    return r


def line(agency, year, classification, phase, amount, currency="CLP", program="01",
         period=None):
    parts = [int(x) for x in classification.split(".")]
    record = {"agency": agency, "fiscal_year": year, "program": program,
              "subtitulo": parts[0], "phase": phase, "amount": str(amount),
              "currency": currency}
    if len(parts) > 1:
        record["item"] = parts[1]
    if len(parts) > 2:
        record["asignacion"] = parts[2]
    if period is not None:
        record["period"] = period
    return record


class IndicatorCase(harness.DatabaseTestCase):
    """A database, its agencies (each mapped to an OCDS buyer of the same code), an
    analyst token and a daemon that never runs the indicators by itself."""

    agencies = ()
    daemon_overrides = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for code in cls.agencies:
            rc, out, err = harness.ctl("agency", "add", code, "Agency " + code, db=cls.db)
            if rc != 0:
                raise AssertionError("agency add failed: " + err)
            cls.db.query("INSERT INTO agency_alias (scheme, identifier, agency_id)"
                         " SELECT 'ocds-buyer', code, id FROM agency WHERE code = :'c'",
                         c=code)
        cls.analyst = cls.token("--role", "analyst", "--name", "analyst")
        cls.d = harness.Daemon(db=cls.db, settings={
            "api.rate_limit": "0", "indicators.period": "0",
            "indicators.debounce": "86400"}, overrides=cls.daemon_overrides)
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")

    @classmethod
    def push_setup(cls, path, body):
        """Pushes from setUpClass (no test instance yet)."""
        r = cls.d.post(path, body, headers={"Authorization": "Bearer " + cls.analyst},
                       timeout=60)
        if r.status not in (200, 201):
            raise AssertionError(r.body)
        return r

    def push(self, path, body):
        r = self.d.post(path, body, headers={"Authorization": "Bearer " + self.analyst},
                        timeout=60)
        self.assertIn(r.status, (200, 201), r.body)
        return r

    def push_projects(self, *records):
        return self.push("/v1/projects", {"projects": list(records)})

    def push_releases(self, *releases):
        return self.push("/v1/procurement", {"releases": list(releases)})

    def push_lines(self, *lines):
        return self.push("/v1/budget", {"lines": list(lines)})

    def run_indicators(self, *codes, settings=()):
        """Runs `codes` with ictmonctl (settings: "key=value" overrides); the run id."""
        args = []
        for s in settings:
            args += ["-s", s]
        rc, out, err = self.ctl(*args, "indicators", "run", *codes)
        self.assertEqual(rc, 0, out + err)
        m = re.search(r"run (\d+) done", out + err)
        self.assertIsNotNone(m, out + err)
        return int(m.group(1))

    def results(self, run_id, code):
        """{fingerprint: result} of one code in one run; amounts and values exact."""
        rows = self.db.query(
            "SELECT json_build_object('subject', r.subject, 'agency', a.code,"
            " 'agencies', (SELECT coalesce(json_agg(g.code ORDER BY g.code), '[]')"
            "  FROM agency g WHERE g.id = ANY (r.agencies)),"
            " 'value', r.value, 'band', r.band, 'amount', r.amount,"
            " 'currency', r.currency, 'fingerprint', r.fingerprint,"
            " 'evidence', r.evidence)"
            " FROM indicator_result r LEFT JOIN agency a ON a.id = r.agency_id"
            " WHERE r.run_id = :'run' AND r.code = :'code' ORDER BY r.fingerprint",
            run=str(run_id), code=code)
        out = {}
        for (text,) in rows:
            result = json.loads(text, parse_float=D, parse_int=D)
            out[result["fingerprint"]] = result
        return out

    def one(self, run_id, code, fingerprint):
        results = self.results(run_id, code)
        self.assertIn(fingerprint, results, sorted(results))
        return results[fingerprint]

    def api_walk(self, path, limit=100):
        """Every item of a paged API listing, numbers exact (the API gives values and
        amounts as decimal strings: they become Decimals here)."""
        items, after = [], None
        while True:
            url = "%s%slimit=%d" % (path, "&" if "?" in path else "?", limit)
            if after is not None:
                url += "&after=" + after
            r = self.d.get(url, headers={"Authorization": "Bearer " + self.analyst})
            self.assertEqual(r.status, 200, r.body)
            page = json.loads(r.body, parse_float=D, parse_int=D)
            for item in page["items"]:
                for key in ("value", "amount"):
                    if item.get(key) is not None:
                        item[key] = D(item[key])
            items += page["items"]
            after = page["next"]
            if after is None:
                return items

    def api_results(self, code):
        """{fingerprint: item} of GET /v1/indicators?code=CODE: the newest run's."""
        out = {}
        for item in self.api_walk("/v1/indicators?code=" + code):
            self.assertNotIn(item["fingerprint"], out)
            out[item["fingerprint"]] = item
        return out

    def assert_evidence_shape(self, result):
        evidence = result["evidence"]
        for key in ("summary", "currency", "total", "agencies", "rows"):
            self.assertIn(key, evidence)
        self.assertTrue(evidence["summary"].endswith("."), evidence["summary"])
        self.assertLessEqual(len(evidence["rows"]), 200)
