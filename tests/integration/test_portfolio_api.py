"""GET /v1/portfolio, /v1/agencies, /v1/overlaps/{id}, /v1/session and the scorecard's
execution and vendors: a small portfolio with a planted spend overlap, a duplicate pair
and a split, every indicator run once, and each figure checked against sums computed
here from what was pushed."""

import csv
import datetime
import decimal
import io
import json
import unittest

import harness
from indicator_case import IndicatorCase, award, line, project, release, tender

D = decimal.Decimal
YEAR = datetime.date.today().year
ICT = ("43", "8111")


def day(s):
    return s + "T12:00:00Z"


class PortfolioApi(IndicatorCase):
    agencies = ("AA", "AB", "AC")
    settings = ("indicators.ovl_spend.window_days=30", "indicators.ovl_spend.min_total=1000",
                "indicators.split.threshold=1000", "indicators.split.window_days=30")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rc, out, err = harness.ctl("agency", "add", "AC", "Agency AC", "--parent", "AA",
                                   db=cls.db)
        assert rc == 0, err
        cls.projects = [
            project("G-1", agency="AA", title="Sistema de Gestión Documental",
                    description="Plataforma para la gestión de expedientes electrónicos",
                    category="software", planned_cost="300", currency="CLP",
                    planned_start="2024-01-01", planned_end="2024-12-31",
                    funding_source="agency_budget"),
            project("G-2", agency="AB", title="sistema gestion documental!",
                    description="PLATAFORMA gestión: expedientes electronicos",
                    category="software", planned_cost="200", currency="CLP",
                    planned_start="2024-01-01", planned_end="2024-12-31",
                    funding_source="loan"),
            # Cost band high (-50 %), schedule none (no dates).
            project("H-1", agency="AA", title="Renovación de red troncal",
                    category="infra", planned_cost="1000", projected_cost="1500",
                    currency="CLP", funding_source="agency_budget"),
            project("K-1", agency="AC", title="Mesa de ayuda", category="software",
                    planned_cost="50", currency="CLP"),
        ]
        cls.push_setup("/v1/projects", {"projects": cls.projects})
        rel = []
        # The spend overlap: AA 400, AB 300, AC 300 in one class within 30 days.
        for ocid, buyer, amount, date in (("s-1", "AA", 400, "2024-01-10"),
                                          ("s-2", "AB", 300, "2024-01-20"),
                                          ("s-3", "AC", 300, "2024-02-01")):
            rel.append(release(ocid, buyer, [award("a1", amount, cls="43231500",
                                                   date=day(date),
                                                   suppliers=("S-" + buyer,))]))
        # The split: AB gives S-9 600 + 500 directly within 30 days (threshold 1000).
        for ocid, amount, date in (("p-1", 600, "2024-05-01"), ("p-2", 500, "2024-05-10")):
            rel.append(release(ocid, "AB", [award("a1", amount, suppliers=("S-9",),
                                                  cls="43219900" if ocid == "p-1"
                                                  else "43219800", date=day(date))],
                               tender(method="direct")))
        # This year's ICT award of AA (February), and a non-ICT one.
        rel.append(release("y-1", "AA", [award("a1", 700, cls="43211503",
                                               date=day("%d-02-15" % YEAR),
                                               suppliers=("S-7",))]))
        rel.append(release("y-2", "AA", [award("a1", 9000, cls="44121600",
                                               date=day("%d-02-16" % YEAR))]))
        cls.releases = rel
        cls.push_setup("/v1/procurement", {"releases": rel})
        cls.lines = [line("AA", YEAR, "29.07", "approved", 12000),
                     line("AA", YEAR, "29.07", "accrued", 500, period=1),
                     line("AA", YEAR, "29.07", "accrued", 700, period=2),
                     line("AB", YEAR, "29.07", "approved", 6000),
                     line("AB", YEAR, "29.07", "accrued", 100, period=3),
                     line("AB", YEAR - 1, "29.07", "approved", 99999),
                     line("AC", YEAR, "21.01", "approved", 5555)]
        cls.push_setup("/v1/budget", {"lines": cls.lines})
        args = []
        for s in cls.settings:
            args += ["-s", s]
        rc, out, err = harness.ctl(*args, "indicators", "run", db=cls.db)
        assert rc == 0, out + err
        cls.tok = {"AA": cls.token("--role", "agency", "--agency", "AA", "--name", "aa"),
                   "AB": cls.token("--role", "agency", "--agency", "AB"),
                   "AC": cls.token("--role", "agency", "--agency", "AC"),
                   "admin": cls.token("--role", "admin", "--name", "root")}
        ids = dict(cls.db.query("SELECT code, id FROM agency"))
        cls.ids = ids
        # Alerts tied to results: the spend overlap (high), the split (medium), and
        # an AA-only one (low).
        fp = dict(cls.db.query(
            "SELECT r.code, r.fingerprint FROM indicator_result r"
            " WHERE r.code IN ('OVL-SPEND', 'SPLIT')"))
        # The default rules fired already: replaced by known alerts.
        cls.db.query("DELETE FROM alert")
        cls.db.query(
            "INSERT INTO alert (fingerprint, rule, indicator, agency_id, agencies,"
            " severity, subject, summary) VALUES"
            " ('overlap:' || :'ovl', 'overlap', 'OVL-SPEND', NULL,"
            "  ARRAY[:'aa', :'ab', :'ac']::bigint[], 'high', 's', 's'),"
            " ('split:' || :'split', 'split', 'SPLIT', :'ab', ARRAY[:'ab']::bigint[],"
            "  'medium', 's', 's'),"
            " ('budget:x', 'budget', 'BUDGET-EXEC', :'aa', ARRAY[:'aa']::bigint[],"
            "  'low', 's', 's')",
            ovl=fp["OVL-SPEND"], split=fp["SPLIT"], aa=ids["AA"], ab=ids["AB"],
            ac=ids["AC"])

    def get(self, path, who=None, accept=None):
        headers = {"Authorization": "Bearer " + (self.tok[who] if who else self.analyst)}
        if accept:
            headers["Accept"] = accept
        return self.d.get(path, headers=headers)

    def ok(self, path, who=None):
        r = self.get(path, who)
        self.assertEqual(r.status, 200, r.body + self.d.log()[-2000:].encode())
        return json.loads(r.body, parse_float=D)

    # What was pushed, summed here.
    def expected_agencies(self):
        out = {c: {"projects": 0, "planned_cost": D(0), "ict_budget": D(0),
                   "ict_spend": D(0)} for c in self.agencies}
        for p in self.projects:
            out[p["agency"]]["projects"] += 1
            out[p["agency"]]["planned_cost"] += D(p["planned_cost"])
        for ln in self.lines:
            if (ln["fiscal_year"] == YEAR and ln["phase"] == "approved"
                    and ln["subtitulo"] == 29):
                out[ln["agency"]]["ict_budget"] += D(ln["amount"])
        for r in self.releases:
            for a in r["awards"]:
                if a["items"][0]["classification"]["id"].startswith(ICT):
                    out[r["buyer"]["id"]]["ict_spend"] += D(a["value"]["amount"])
        return out

    def test_overview_totals_and_breakdowns(self):
        exp = self.expected_agencies()
        for who in (None, "AA"):
            o = self.ok("/v1/portfolio", who)
            t = o["totals"]
            self.assertEqual(t["agencies"], 3)
            self.assertEqual(t["currency"], "CLP")
            self.assertEqual(t["projects"], len(self.projects))
            for key in ("planned_cost", "ict_budget", "ict_spend"):
                self.assertEqual(D(t[key]), sum(e[key] for e in exp.values()), key)
            self.assertEqual(D(t["ict_budget"]), D(18000))
            self.assertEqual(D(t["ict_spend"]), D(400 + 300 + 300 + 600 + 500 + 700))
            by = {a["agency"]: a for a in o["by_agency"]}
            self.assertEqual(sorted(by), ["AA", "AB", "AC"])
            self.assertEqual([a["agency"] for a in o["by_agency"]], ["AA", "AB", "AC"])
            for code, e in exp.items():
                self.assertEqual(by[code]["projects"], e["projects"])
                for key in ("planned_cost", "ict_budget", "ict_spend"):
                    self.assertEqual(D(by[code][key]), e[key], (code, key))
            self.assertEqual(by["AA"]["name"], "Agency AA")
            cat = {c["category"]: c for c in o["by_category"]}
            self.assertEqual((cat["software"]["projects"], D(cat["software"]["planned_cost"])),
                             (3, D(550)))
            self.assertEqual(D(cat["infra"]["planned_cost"]), D(1000))
            fs = {f["funding_source"]: f for f in o["by_funding_source"]}
            self.assertEqual((fs["agency_budget"]["projects"],
                              D(fs["agency_budget"]["planned_cost"])), (2, D(1300)))
            self.assertEqual(fs[None]["projects"], 1)
            self.assertEqual(o["bands"]["cost"], {"low": 0, "medium": 0, "high": 1,
                                                  "none": 3})
            self.assertEqual(sum(o["bands"]["schedule"].values()), 4)
            self.assertEqual(o["feeds"], {"total": 0, "ok": 0, "failing": 0, "stale": 0})
            self.assertTrue(o["as_of"].endswith("Z"))
        self.assertIsNone(self.ok("/v1/portfolio")["scope"])
        self.assertEqual(self.ok("/v1/portfolio", "AA")["scope"], "AA")

    def test_overview_overlaps_and_savings(self):
        o = self.ok("/v1/portfolio")
        kinds = [x["kind"] for x in o["overlaps"]]
        self.assertEqual(sorted(kinds), ["split", "spend"][::-1])
        amounts = [D(x["amount"]) for x in o["overlaps"]]
        self.assertEqual(amounts, sorted(amounts, reverse=True))
        spend = next(x for x in o["overlaps"] if x["kind"] == "spend")
        # Buyers 400, 300, 300: all but the largest.
        self.assertEqual(D(spend["saving"]), D(600))
        self.assertTrue(spend["summary"].endswith("."))
        split = next(x for x in o["overlaps"] if x["kind"] == "split")
        self.assertIsNone(split["saving"])
        self.assertEqual(len(o["duplicates"]), 1)
        dup = o["duplicates"][0]
        self.assertEqual((dup["kind"], dup["agencies"]), ("duplicates", ["AA", "AB"]))
        self.assertEqual(D(dup["saving"]), D(200))
        # Scoped: AC is in the spend overlap only.
        o = self.ok("/v1/portfolio", "AC")
        self.assertEqual([x["kind"] for x in o["overlaps"]], ["spend"])
        self.assertEqual(o["duplicates"], [])

    def test_alert_counts_move_with_an_ack(self):
        o = self.ok("/v1/portfolio")
        self.assertEqual(o["alerts"], {"firing": {"low": 1, "medium": 1, "high": 1},
                                       "acknowledged": 0, "silenced": 0})
        self.assertEqual(self.ok("/v1/portfolio", "AC")["alerts"]["firing"],
                         {"low": 0, "medium": 0, "high": 1})
        aid = self.db.scalar("SELECT id FROM alert WHERE rule = 'budget'")
        r = self.d.post("/v1/alerts/%s/ack" % aid, {},
                        headers={"Authorization": "Bearer " + self.analyst})
        self.assertEqual(r.status, 200, r.body)
        self.addCleanup(self.db.query, "UPDATE alert SET acked_at = NULL, acked_by = NULL"
                        " WHERE id = :'i'", i=aid)
        o = self.ok("/v1/portfolio")
        self.assertEqual(o["alerts"]["firing"]["low"], 0)
        self.assertEqual(o["alerts"]["acknowledged"], 1)
        r = self.d.post("/v1/silences", {"rule": "split", "reason": "t", "duration": "1h"},
                        headers={"Authorization": "Bearer " + self.analyst})
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(self.db.query, "DELETE FROM silence")
        o = self.ok("/v1/portfolio")
        self.assertEqual((o["alerts"]["firing"]["medium"], o["alerts"]["silenced"]), (0, 1))

    def test_agencies_list(self):
        exp = self.expected_agencies()
        items = self.api_walk("/v1/agencies", limit=2)
        self.assertEqual([a["code"] for a in items], ["AA", "AB", "AC"])
        for a in items:
            e = exp[a["code"]]
            self.assertEqual(a["projects"], e["projects"])
            for key in ("planned_cost", "ict_budget", "ict_spend"):
                self.assertEqual(D(a[key]), e[key], (a["code"], key))
        by = {a["code"]: a for a in items}
        self.assertEqual(by["AC"]["parent"], "AA")
        self.assertIsNone(by["AA"]["parent"])
        self.assertEqual(by["AA"]["open_alerts"], 2)
        self.assertEqual(by["AB"]["open_alerts"], 2)
        self.assertIn(by["AA"]["coordination"]["band"], ("low", "medium", "high"))
        D(by["AA"]["coordination"]["value"])
        self.assertEqual([a["code"] for a in self.ok("/v1/agencies?parent=AA")["items"]],
                         ["AC"])
        self.assertEqual([a["code"] for a in self.ok("/v1/agencies?q=ab")["items"]],
                         ["AB"])
        self.assertEqual([a["code"] for a in self.ok("/v1/agencies?q=agency%20a")["items"]],
                         ["AA", "AB", "AC"])
        self.assertEqual(len(self.ok("/v1/agencies", "AB")["items"]), 3)
        r = self.get("/v1/agencies", accept="text/csv")
        self.assertEqual(r.status, 200)
        self.assertIn("ictmon-agencies.csv", r.headers.get("Content-Disposition"))
        rows = list(csv.DictReader(io.StringIO(r.body.decode())))
        self.assertEqual([x["code"] for x in rows], ["AA", "AB", "AC"])
        for bad, name in (("q=", "q"), ("parent=" + "x" * 201, "parent"),
                          ("limit=0", "limit"), ("after=zz", "after")):
            r = self.get("/v1/agencies?" + bad)
            self.assertEqual(r.status, 400, bad)
            self.assertIn(name, r.json["error"]["message"])

    def overlap_id(self, kind):
        return next(x["id"] for x in self.ok("/v1/overlaps?kind=" + kind)["items"])

    def test_overlap_spend_rows(self):
        oid = self.overlap_id("spend")
        o = self.ok("/v1/overlaps/%d" % oid)
        self.assertEqual((o["id"], o["kind"], D(o["saving"])), (oid, "spend", D(600)))
        awards = o["rows"]["awards"]
        self.assertEqual([(a["ocid"], a["buyer"], D(a["amount"])) for a in awards],
                         [("s-1", "AA", 400), ("s-2", "AB", 300), ("s-3", "AC", 300)])
        a = awards[0]
        self.assertEqual((a["award_id"], a["buyer_name"], a["suppliers"], a["currency"],
                          a["classification"], a["status"]),
                         ("a1", "Agency AA", [{"id": "S-AA", "name": "Supplier S-AA"}],
                          "CLP", "43231500", "active"))
        self.assertTrue(a["date"].startswith("2024-01-10T"))
        self.assertEqual(o["rows"]["projects"], [])
        self.assertEqual([(x["rule"], x["state"], x["severity"], x["acked"])
                          for x in o["alerts"]], [("overlap", "firing", "high", False)])
        # Involved agency tokens read it; others do not.
        self.assertEqual(self.get("/v1/overlaps/%d" % oid, "AC").status, 200)
        split = self.overlap_id("split")
        r = self.get("/v1/overlaps/%d" % split, "AA")
        self.assertEqual(r.status, 403)
        self.assertEqual(self.get("/v1/overlaps/%d" % split, "AB").status, 200)

    def test_overlap_duplicate_rows(self):
        oid = self.overlap_id("duplicates")
        o = self.ok("/v1/overlaps/%d" % oid)
        self.assertEqual(D(o["saving"]), D(200))
        rows = o["rows"]["projects"]
        self.assertEqual([(p["agency"], p["id"], D(p["planned_cost"])) for p in rows],
                         [("AA", "G-1", 300), ("AB", "G-2", 200)])
        p = rows[0]
        self.assertEqual((p["agency_name"], p["status"], p["currency"], p["planned_start"],
                          p["planned_end"]),
                         ("Agency AA", "in_progress", "CLP", "2024-01-01", "2024-12-31"))
        self.assertGreater(D(p["similarity"]), D("0.45"))
        self.assertEqual(self.get("/v1/overlaps/%d" % oid, "AC").status, 403)

    def test_overlap_unknown_superseded_malformed(self):
        self.assertEqual(self.get("/v1/overlaps/999999").status, 404)
        for bad in ("x", "0", "-1", "1.5", "9" * 19):
            r = self.get("/v1/overlaps/" + bad)
            self.assertEqual(r.status, 400, bad)
            self.assertIn("id", r.json["error"]["message"])
        # Not an overlap: a COORD-INDEX result is no overlap.
        coord = self.db.scalar("SELECT max(id) FROM indicator_result"
                               " WHERE code = 'COORD-INDEX'")
        self.assertEqual(self.get("/v1/overlaps/" + coord).status, 404)
        old = self.overlap_id("spend")
        self.run_indicators("OVL-SPEND", settings=self.settings)
        self.assertEqual(self.get("/v1/overlaps/%d" % old).status, 404)
        self.assertEqual(self.get("/v1/overlaps/%d" % self.overlap_id("spend")).status,
                         200)

    def test_session(self):
        self.assertEqual(self.ok("/v1/session", "AA"),
                         {"role": "agency", "agency": "AA", "agency_name": "Agency AA",
                          "name": "aa"})
        self.assertEqual(self.ok("/v1/session", "AB")["name"], None)
        self.assertEqual(self.ok("/v1/session"),
                         {"role": "analyst", "agency": None, "agency_name": None,
                          "name": "analyst"})
        self.assertEqual(self.ok("/v1/session", "admin")["role"], "admin")
        self.assertEqual(self.d.get("/v1/session").status, 401)

    def test_scorecard_execution_and_vendors(self):
        s = self.ok("/v1/agencies/AA/scorecard", "AA")
        ex = s["execution"]
        self.assertEqual([m["month"] for m in ex],
                         ["%d-%02d" % (YEAR, m) for m in range(1, 13)])
        self.assertEqual({D(m["budget"]) for m in ex}, {D(1000)})
        self.assertEqual([D(m["spent"]) for m in ex[:3]], [D(500), D(700), D(0)])
        self.assertEqual([D(m["awarded"]) for m in ex[:3]], [D(0), D(700), D(0)])
        v = s["vendors"]
        self.assertEqual([x["supplier"] for x in v], ["S-7", "S-AA"])
        self.assertEqual((D(v[0]["amount"]), D(v[0]["share"])), (D(700), D("63.64")))
        self.assertEqual(v[0]["name"], "Supplier S-7")


if __name__ == "__main__":
    unittest.main()
