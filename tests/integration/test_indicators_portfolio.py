"""The portfolio indicators end to end (issue 5): CV, SV, BUDGET-EXEC, CONC-VENDOR,
UNREVIEWED-SPEND, COORD-INDEX, FEED-STALE and OVL-PLATFORM. Small datasets are pushed
through the real API (projects, OCDS releases, budget lines), `ictmonctl indicators run`
computes the indicators, and each result is checked with its evidence: band borders met
exactly, zero planned cost, completed projects, rebaselines, the last months of
versions, currency mixes with and without a rate, one agency alone, missing dates, an
agency without data. GET /v1/projects carries the same cost and schedule variance as
the CV and SV results, with the daemon's parameters. A recomputation changes no
fingerprint. Each class has its own database, so that whole-portfolio results only see
its data."""

import datetime
import json
import unittest

from indicator_case import D, IndicatorCase as PortfolioCase, award, line, project, release

THIS_YEAR = datetime.date.today().year


class Variance(PortfolioCase):
    """CV and SV: the IT Dashboard formulas, their bands at the borders, and the same
    figures in GET /v1/projects."""

    agencies = ("VA", "VB")
    daemon_overrides = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = {"planned_start": "2024-01-01", "planned_end": "2024-04-10",
                "currency": "CLP"}

        def p(pid, planned, projected=None, **kw):
            fields = dict(base, planned_cost=planned)
            if projected is not None:
                fields["projected_cost"] = projected
            fields.update(kw)
            return project(pid, agency="VA", **fields)

        cls.projects = [
            # CV borders on a planned cost of 10,000: 10 % is low, 10.01 % medium,
            # 30 % medium, 30.01 % high, in both directions.
            p("C-10", "10000", "11000"), p("C-10.01", "10000", "11001"),
            p("C-30", "10000", "13000"), p("C-30.01", "10000", "13001"),
            p("C+30", "10000", "7000"), p("C+30.01", "10000", "6999"),
            p("C-ZERO", "0", "500"), p("C-NOPROJ", "10000"),
            project("C-NOPLAN", agency="VA", projected_cost="500", currency="CLP"),
            # Completed: actual cost and end; without an actual cost, the projected.
            p("C-DONE", "10000", "10000", status="completed", actual_cost="15000",
              actual_start="2024-01-01", actual_end="2024-05-20",
              projected_end="2024-04-10"),
            p("C-DONE-NOACT", "10000", "12000", status="completed"),
            # SV borders on a planned duration of 100 days (2024-01-01 .. 04-10).
            p("S-10", "1", "1", projected_end="2024-04-20"),
            p("S-11", "1", "1", projected_end="2024-04-21"),
            p("S-30", "1", "1", projected_end="2024-05-10"),
            p("S-31", "1", "1", projected_end="2024-05-11"),
            p("S-EARLY", "1", "1", projected_end="2024-03-01"),
            project("S-NODATES", agency="VA"),
            project("S-ZERO", agency="VA", planned_start="2024-01-01",
                    planned_end="2024-01-01", projected_end="2024-02-01"),
            project("S-NOSTART", agency="VA", planned_end="2024-01-01",
                    projected_end="2024-02-01"),
            # A project priced in another currency: no rate, so its own.
            project("C-USD", agency="VB", planned_cost="1000", projected_cost="1500",
                    currency="USD"),
        ]
        cls.push_class(cls.projects)

        # Rebaselines: versions 2 (title), 3 (cost), 4 (end), 5 (a start given for
        # the first time) and 6 (cost withdrawn): 3 and 4 and 6 are rebaselines.
        r = dict(planned_cost="1000", projected_cost="1000", currency="CLP",
                 planned_end="2024-12-31")
        versions = [dict(r), dict(r, title="Renamed"), dict(r, title="Renamed",
                    planned_cost="1200"), dict(r, title="Renamed", planned_cost="1200",
                    planned_end="2025-06-30"),
                    dict(r, title="Renamed", planned_cost="1200", planned_end="2025-06-30",
                         planned_start="2024-01-01")]
        six = dict(versions[-1])
        del six["planned_cost"]
        versions.append(six)
        for fields in versions:
            cls.push_class([project("R-1", agency="VB", **fields)])

        # The last six months: a project whose CV% went 0 -> -20 (8 months ago) ->
        # -50 (now): the version in force six months ago is the -20 % one.
        for projected in ("1000", "1200", "1500"):
            cls.push_class([project("W-1", agency="VB", planned_cost="1000",
                                    projected_cost=projected, currency="CLP")])
        cls.db.query(
            "UPDATE project_version v SET valid_from = now() - CASE v.version"
            " WHEN 1 THEN interval '12 months' WHEN 2 THEN interval '8 months'"
            " ELSE interval '0' END"
            " FROM project p WHERE p.id = v.project_id AND p.external_id = 'W-1'")
        # A younger project is measured from its first version.
        for projected in ("1000", "1100"):
            cls.push_class([project("W-2", agency="VB", planned_cost="1000",
                                    projected_cost=projected, currency="CLP")])

    @classmethod
    def push_class(cls, records):
        r = cls.d.post("/v1/projects", {"projects": records},
                       headers={"Authorization": "Bearer " + cls.analyst}, timeout=60)
        if r.status not in (200, 201):
            raise AssertionError(r.body)

    def cv(self, run, pid, agency="VA"):
        return self.one(run, "CV", "CV:%s/%s" % (agency, pid))

    def sv(self, run, pid, agency="VA"):
        return self.one(run, "SV", "SV:%s/%s" % (agency, pid))

    def test_cost_variance_bands_at_their_borders(self):
        run = self.run_indicators("CV")
        expected = {"C-10": ("-10.00", "low"), "C-10.01": ("-10.01", "medium"),
                    "C-30": ("-30.00", "medium"), "C-30.01": ("-30.01", "high"),
                    "C+30": ("30.00", "medium"), "C+30.01": ("30.01", "high")}
        for pid, (value, band) in expected.items():
            r = self.cv(run, pid)
            self.assertEqual((r["value"], r["band"]), (D(value), band), pid)
            self.assertEqual(r["agency"], "VA")
            self.assertEqual(r["agencies"], ["VA"])
            self.assertEqual(r["subject"], "project VA/" + pid)
            self.assert_evidence_shape(r)
            e = r["evidence"]
            self.assertEqual(e["cv"], D(10000) - e["projected_cost"])
            self.assertEqual(e["basis"], "projected")
            self.assertEqual(r["amount"], abs(e["cv"]))
            self.assertEqual(r["currency"], "CLP")
            self.assertEqual(e["rows"][0]["kind"], "project")
            self.assertEqual(e["rows"][0]["external_id"], pid)
        r = self.cv(run, "C-30.01")
        self.assertIn("30.01 % over budget", r["evidence"]["summary"])
        self.assertIn("CLP 13,001 against CLP 10,000", r["evidence"]["summary"])
        self.assertIn("under budget", self.cv(run, "C+30")["evidence"]["summary"])
        # One result per project of the database.
        self.assertEqual(len(self.results(run, "CV")),
                         int(self.db.scalar("SELECT count(*) FROM project")))

    def test_cost_variance_not_computable_is_none(self):
        run = self.run_indicators("CV")
        r = self.cv(run, "C-ZERO")
        self.assertEqual((r["value"], r["band"]), (None, "none"))
        self.assertEqual(r["evidence"]["cv"], D(-500))
        self.assertIn("planned cost of zero", r["evidence"]["summary"])
        for pid, words in (("C-NOPROJ", "projected or actual cost"),
                           ("C-NOPLAN", "without a planned cost")):
            r = self.cv(run, pid)
            self.assertEqual((r["value"], r["band"], r["amount"]), (None, "none", None))
            self.assertIn(words, r["evidence"]["summary"])

    def test_completed_projects_use_actual_figures(self):
        run = self.run_indicators("CV", "SV")
        r = self.cv(run, "C-DONE")
        self.assertEqual((r["value"], r["band"]), (D("-50.00"), "high"))
        self.assertEqual((r["evidence"]["estimate"], r["evidence"]["basis"]),
                         (D(15000), "actual"))
        self.assertIn(" cost CLP 15,000 against", r["evidence"]["summary"])
        r = self.sv(run, "C-DONE")
        # Ended 2024-05-20 against 2024-04-10: 40 days late of 100.
        self.assertEqual((r["value"], r["band"]), (D("-40.00"), "high"))
        self.assertEqual((r["evidence"]["sv_days"], r["evidence"]["basis"]),
                         (D(-40), "actual"))
        r = self.cv(run, "C-DONE-NOACT")
        self.assertEqual((r["value"], r["evidence"]["basis"]), (D("-20.00"), "projected"))

    def test_schedule_variance_bands_at_their_borders(self):
        run = self.run_indicators("SV")
        expected = {"S-10": ("-10.00", "low", -10), "S-11": ("-11.00", "medium", -11),
                    "S-30": ("-30.00", "medium", -30), "S-31": ("-31.00", "high", -31),
                    "S-EARLY": ("40.00", "high", 40)}
        for pid, (value, band, days) in expected.items():
            r = self.sv(run, pid)
            self.assertEqual((r["value"], r["band"], r["evidence"]["sv_days"]),
                             (D(value), band, D(days)), pid)
            self.assertEqual(r["evidence"]["planned_days"], D(100))
            self.assert_evidence_shape(r)
        self.assertIn("31 days late (31.00 % of its planned duration)",
                      self.sv(run, "S-31")["evidence"]["summary"])
        self.assertIn("40 days early", self.sv(run, "S-EARLY")["evidence"]["summary"])

    def test_schedule_variance_missing_dates_is_none(self):
        run = self.run_indicators("SV")
        for pid, words in (("S-NODATES", "without a planned end"),
                           ("S-ZERO", "planned duration of zero days"),
                           ("S-NOSTART", "without a planned start")):
            r = self.sv(run, pid)
            self.assertEqual((r["value"], r["band"]), (None, "none"), pid)
            self.assertIn(words, r["evidence"]["summary"])
        # SV days are known without a start; the percentage is not.
        self.assertEqual(self.sv(run, "S-NOSTART")["evidence"]["sv_days"], D(-31))

    def test_another_currency_stays_apart_until_a_rate_converts_it(self):
        run = self.run_indicators("CV")
        r = self.cv(run, "C-USD", agency="VB")
        self.assertEqual((r["value"], r["amount"], r["currency"]),
                         (D("-50.00"), D(500), "USD"))
        self.db.query("INSERT INTO exchange_rate (currency, valid_from, rate)"
                      " VALUES ('USD', '2000-01-01', 900)")
        try:
            run = self.run_indicators("CV")
            r = self.cv(run, "C-USD", agency="VB")
            self.assertEqual((r["value"], r["amount"], r["currency"]),
                             (D("-50.00"), D(450000), "CLP"))
        finally:
            self.db.query("DELETE FROM exchange_rate")

    def test_rebaselines_count_changed_planned_figures(self):
        run = self.run_indicators("CV", "SV")
        self.assertEqual(self.db.scalar(
            "SELECT max(v.version) FROM project_version v JOIN project p"
            " ON p.id = v.project_id WHERE p.external_id = 'R-1'"), "6")
        self.assertEqual(self.cv(run, "R-1", "VB")["evidence"]["rebaselines"], D(3))
        self.assertEqual(self.sv(run, "R-1", "VB")["evidence"]["rebaselines"], D(3))
        self.assertEqual(self.cv(run, "C-10")["evidence"]["rebaselines"], D(0))

    def test_change_over_the_last_months(self):
        run = self.run_indicators("CV")
        w = self.cv(run, "W-1", "VB")["evidence"]
        self.assertEqual(w["window_months"], D(6))
        self.assertEqual(w["cv_percent"], D("-50.00"))
        self.assertEqual((w["window"]["version"], w["window"]["cv_percent"],
                          w["window"]["change"]), (D(2), D("-20.00"), D("-30.00")))
        w = self.cv(run, "W-2", "VB")["evidence"]
        self.assertEqual((w["window"]["version"], w["window"]["cv_percent"],
                          w["window"]["change"]), (D(1), D("0.00"), D("-10.00")))
        # A longer window reaches the first version.
        run = self.run_indicators("CV", settings=["indicators.cv.window_months=10"])
        w = self.cv(run, "W-1", "VB")["evidence"]
        self.assertEqual((w["window"]["version"], w["window"]["change"]),
                         (D(1), D("-50.00")))

    def test_projects_api_carries_the_indicators_figures(self):
        run = self.run_indicators("CV", "SV")
        cvs, svs = self.results(run, "CV"), self.results(run, "SV")
        items = []
        after = None
        while True:
            url = "/v1/projects?limit=7" + ("&after=" + after if after else "")
            r = self.d.get(url, headers={"Authorization": "Bearer " + self.analyst})
            self.assertEqual(r.status, 200, r.body)
            page = json.loads(r.body, parse_float=D, parse_int=D)
            items += page["items"]
            after = page["next"]
            if after is None:
                break
        self.assertEqual(len(items), len(cvs))
        for item in items:
            cv = cvs["CV:%s/%s" % (item["agency"], item["id"])]
            sv = svs["SV:%s/%s" % (item["agency"], item["id"])]
            self.assertEqual(item["cv_percent"], cv["value"], item["id"])
            self.assertEqual(item["cost_band"], cv["band"], item["id"])
            self.assertEqual(item["cv"], None if cv["evidence"]["cv"] is None
                             else str(cv["evidence"]["cv"]), item["id"])
            self.assertEqual(item["sv_percent"], sv["value"], item["id"])
            self.assertEqual(item["schedule_band"], sv["band"], item["id"])
            self.assertEqual(item["sv_days"], sv["evidence"]["sv_days"], item["id"])
            self.assertEqual(item["rebaselines"], cv["evidence"]["rebaselines"])
        by_id = {i["id"]: i for i in items}
        self.assertEqual((by_id["C-30.01"]["cv"], by_id["C-30.01"]["cost_band"]),
                         ("-3001", "high"))
        self.assertEqual(by_id["R-1"]["rebaselines"], 3)

    def test_projects_api_bands_follow_the_daemons_parameters(self):
        d = self.daemon(overrides=["indicators.cv.medium=20", "indicators.sv.high=40",
                                   "api.rate_limit=0", "indicators.period=0",
                                   "indicators.debounce=86400"])
        r = d.get("/v1/projects?agency=VA&limit=1000",
                  headers={"Authorization": "Bearer " + self.analyst})
        self.assertEqual(r.status, 200, r.body)
        by_id = {i["id"]: i for i in json.loads(r.body)["items"]}
        self.assertEqual(by_id["C-10.01"]["cost_band"], "low")
        self.assertEqual(by_id["S-31"]["schedule_band"], "medium")
        run = self.run_indicators("CV", "SV", settings=["indicators.cv.medium=20",
                                                        "indicators.sv.high=40"])
        self.assertEqual(self.cv(run, "C-10.01")["band"], "low")
        self.assertEqual(self.sv(run, "S-31")["band"], "medium")

    def test_recomputation_keeps_every_fingerprint(self):
        first = self.run_indicators("CV", "SV")
        second = self.run_indicators("CV", "SV")
        for code in ("CV", "SV"):
            a, b = self.results(first, code), self.results(second, code)
            self.assertEqual(sorted(a), sorted(b))
            for fp in a:
                self.assertEqual((a[fp]["value"], a[fp]["band"]),
                                 (b[fp]["value"], b[fp]["band"]), fp)


class BudgetExecution(PortfolioCase):
    """BUDGET-EXEC: ICT lines only, modified over approved, monthly lines summed, an
    asignación not counted twice, bands at their borders, currencies apart."""

    agencies = ("BA", "BB", "BC", "BD", "BE")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        future = THIS_YEAR + 1
        lines = [
            # BA 2023: 29.07 approved 1000 modified 1200 accrued 1300; 22.11.003 500/500;
            # a non-ICT line (22.01) is ignored: 1800 of 1700 = 105.88 %, high.
            line("BA", 2023, "29.07", "approved", 1000),
            line("BA", 2023, "29.07", "modified", 1200),
            line("BA", 2023, "29.07", "accrued", 1300),
            line("BA", 2023, "22.11.003", "approved", 500),
            line("BA", 2023, "22.11.003", "accrued", 500),
            line("BA", 2023, "22.01", "approved", 99999),
            line("BA", 2023, "22.01", "accrued", 1),
            # BA 2022: 40 % in a past year: medium.
            line("BA", 2022, "29.06", "approved", 1000),
            line("BA", 2022, "29.06", "accrued", 400),
            # BA next year: 10 %, but not late in the year: low.
            line("BA", future, "29.06", "approved", 1000),
            line("BA", future, "29.06", "accrued", 100),
            # BB 2023: monthly accrued lines summed, exactly 50 %: not under; the
            # asignación 29.07.002 is inside the ítem 29.07 and not counted again.
            line("BB", 2023, "29.07", "approved", 600),
            line("BB", 2023, "29.07.002", "approved", 400),
            line("BB", 2023, "29.07", "accrued", 100, period=1),
            line("BB", 2023, "29.07", "accrued", 100, period=2),
            line("BB", 2023, "29.07", "accrued", 100, period=3),
            # BB 2022: exactly 100 %: no overrun; a yearly line beats the monthly ones.
            line("BB", 2022, "29.07", "approved", 300),
            line("BB", 2022, "29.07", "accrued", 300),
            line("BB", 2022, "29.07", "accrued", 50, period=1),
            # BC 2023: CLP 500 of 1000 and USD 20 of 10 stay apart without a rate.
            line("BC", 2023, "29.07", "approved", 1000),
            line("BC", 2023, "29.07", "accrued", 500),
            line("BC", 2023, "29.06", "approved", 10, currency="USD"),
            line("BC", 2023, "29.06", "accrued", 20, currency="USD"),
            # BD 2023: a budget without any execution reported: none.
            line("BD", 2023, "29.07", "approved", 1000),
        ]
        r = cls.d.post("/v1/budget", {"lines": lines},
                       headers={"Authorization": "Bearer " + cls.analyst}, timeout=60)
        if r.status not in (200, 201):
            raise AssertionError(r.body)

    def test_execution_bands(self):
        run = self.run_indicators("BUDGET-EXEC")
        r = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BA/2023")
        self.assertEqual((r["value"], r["band"], r["currency"]),
                         (D("105.88"), "high", "CLP"))
        self.assertEqual((r["evidence"]["budget"], r["evidence"]["accrued"]),
                         (D(1700), D(1800)))
        self.assertEqual(r["amount"], D(100))
        self.assertEqual(r["subject"], "agency BA · 2023")
        self.assert_evidence_shape(r)
        self.assertIn("overrun of CLP 100", r["evidence"]["summary"])
        rows = {row["classification"]: row for row in r["evidence"]["rows"]}
        self.assertEqual(sorted(rows), ["22.11.003", "29.07"])
        self.assertEqual((rows["29.07"]["phase"], rows["29.07"]["amount"],
                          rows["29.07"]["accrued"], rows["29.07"]["approved"]),
                         ("modified", D(1200), D(1300), D(1000)))
        r = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BA/2022")
        self.assertEqual((r["value"], r["band"]), (D("40.00"), "medium"))
        self.assertTrue(r["evidence"]["late_in_year"])
        r = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BA/%d" % (THIS_YEAR + 1))
        self.assertEqual((r["value"], r["band"]), (D("10.00"), "low"))

    def test_borders_monthly_lines_and_asignaciones(self):
        run = self.run_indicators("BUDGET-EXEC")
        r = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BB/2023")
        self.assertEqual((r["value"], r["band"], r["evidence"]["budget"]),
                         (D("50.00"), "low", D(600)))
        r = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BB/2022")
        self.assertEqual((r["value"], r["band"], r["evidence"]["accrued"]),
                         (D("100.00"), "low", D(300)))
        # The parameters move the borders.
        run = self.run_indicators("BUDGET-EXEC", settings=[
            "indicators.budget_exec.under=51", "indicators.budget_exec.overrun=99"])
        self.assertEqual(self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BB/2023")["band"],
                         "medium")
        self.assertEqual(self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BB/2022")["band"],
                         "high")

    def test_currencies_apart_then_converted(self):
        run = self.run_indicators("BUDGET-EXEC")
        clp = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BC/2023")
        usd = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BC/2023/USD")
        self.assertEqual((clp["value"], clp["band"]), (D("50.00"), "low"))
        self.assertEqual((usd["value"], usd["band"], usd["currency"]),
                         (D("200.00"), "high", "USD"))
        self.db.query("INSERT INTO exchange_rate (currency, valid_from, rate)"
                      " VALUES ('USD', '2000-01-01', 900)")
        try:
            run = self.run_indicators("BUDGET-EXEC")
            results = self.results(run, "BUDGET-EXEC")
            self.assertNotIn("BUDGET-EXEC:BC/2023/USD", results)
            r = results["BUDGET-EXEC:BC/2023"]
            # (500 + 18,000) / (1000 + 9000)
            self.assertEqual((r["value"], r["band"], r["currency"]),
                             (D("185.00"), "high", "CLP"))
        finally:
            self.db.query("DELETE FROM exchange_rate")

    def test_no_execution_is_none_and_no_data_no_result(self):
        run = self.run_indicators("BUDGET-EXEC")
        r = self.one(run, "BUDGET-EXEC", "BUDGET-EXEC:BD/2023")
        self.assertEqual((r["value"], r["band"]), (None, "none"))
        self.assertIn("no ICT execution", r["evidence"]["summary"])
        self.assertFalse([fp for fp in self.results(run, "BUDGET-EXEC") if ":BE/" in fp])


class Procurement(PortfolioCase):
    """CONC-VENDOR and UNREVIEWED-SPEND over awards pushed as OCDS releases."""

    agencies = ("CA", "CB", "CC", "CD", "UA", "UB", "UC")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rel = []
        # An award without items of its own takes its tender's classification; one
        # with items of its own does not.
        tender = {"id": "t", "status": "complete", "procurementMethod": "open",
                  "items": [{"id": "1", "classification": {"scheme": "UNSPSC",
                                                           "id": "81111800"}}]}
        # CA: 60 / 40 -> HHI 5200; non-ICT awards and a cancelled one do not count.
        rel.append(release("ca-1", "CA", [award("a1", 600, ["S-1"]),
                                          award("a2", 400, ["S-2"]),
                                          award("a3", 5000, ["S-9"], cls="44121600"),
                                          award("a4", 7000, ["S-9"], status="cancelled")]))
        rel.append(release("ca-2", "CA", [award("a1", 9000, ["S-9"], cls="44121600")],
                           tender))
        # CB: five suppliers of 20 % -> 2000; an award won by two suppliers is split.
        rel.append(release("cb-1", "CB", [award("a1", 200, ["S-1"]),
                                          award("a2", 200, ["S-2"]),
                                          award("a3", 200, ["S-3"]),
                                          award("a4", 400, ["S-4", "S-5"])]))
        # CC: 50 / 25 / 25 (HHI 3750; top share exactly 0.5) and a USD award.
        rel.append(release("cc-1", "CC", [award("a1", 500, ["S-1"]),
                                          award("a2", 250, ["S-2"]),
                                          award("a3", 250, ["S-3"]),
                                          award("a4", 70, ["S-1"], currency="USD")]))
        # CD: ten suppliers of 10 % -> 1000, the tenth through its tender's items.
        rel.append(release("cd-1", "CD", [award("a%d" % i, 100, ["S-%d" % i])
                                          for i in range(9)]))
        rel.append(release("cd-2", "CD", [award("a9", 100, ["S-9"], cls=None)], tender))
        # UA: the unreviewed-spend cases, threshold 1000.
        rel.append(release("ua-free", "UA", [award("a1", 5000)]))
        rel.append(release("ua-linked", "UA", [award("a1", 3000)]))
        rel.append(release("ua-submitted", "UA", [award("a1", 2000)]))
        rel.append(release("ua-border", "UA", [award("a1", 1000), award("a2", 1001)]))
        rel.append(release("ua-noict", "UA", [award("a1", 9000, cls="44121600")]))
        rel.append(release("ua-usd", "UA", [award("a1", 9000, currency="USD")]))
        # UB: one award of 1500.
        rel.append(release("ub-1", "UB", [award("a1", 1500)]))
        # UC: below the threshold only.
        rel.append(release("uc-1", "UC", [award("a1", 900)]))
        r = cls.d.post("/v1/procurement", {"releases": rel},
                       headers={"Authorization": "Bearer " + cls.analyst}, timeout=60)
        if r.status not in (200, 201):
            raise AssertionError(r.body)
        projects = [
            project("UA-OK", agency="UA", review_status="approved",
                    ocids=["ua-linked"], budget_lines=["22.11"]),
            project("UA-SUB", agency="UA", review_status="submitted",
                    ocids=["ua-submitted"], budget_lines=["29.06"]),
        ]
        lines = [line("UA", 2024, "29.07", "approved", 4000),
                 line("UA", 2024, "22.11.003", "approved", 6000),
                 line("UA", 2024, "29.06", "approved", 500),
                 line("UA", 2024, "29.05", "approved", 90000)]
        for path, body in (("/v1/projects", {"projects": projects}),
                           ("/v1/budget", {"lines": lines})):
            r = cls.d.post(path, body, headers={"Authorization": "Bearer " + cls.analyst},
                           timeout=60)
            if r.status not in (200, 201):
                raise AssertionError(r.body)

    def test_concentration_per_agency(self):
        run = self.run_indicators("CONC-VENDOR")
        r = self.one(run, "CONC-VENDOR", "CONC-VENDOR:CA")
        self.assertEqual((r["value"], r["band"], r["amount"], r["agency"]),
                         (D("5200.00"), "high", D(1000), "CA"))
        e = r["evidence"]
        self.assertEqual(e["top_share"], D("0.6000"))
        self.assertEqual([(s["id"], s["share"]) for s in e["suppliers"]],
                         [("S-1", D("60.00")), ("S-2", D("40.00"))])
        self.assertEqual([(x["ocid"], x["award_id"]) for x in e["rows"]], [("ca-1", "a1")])
        self.assertEqual(e["rows_of"], "S-1")
        self.assert_evidence_shape(r)
        self.assertIn("HHI) of 5,200.00", e["summary"])
        r = self.one(run, "CONC-VENDOR", "CONC-VENDOR:CB")
        self.assertEqual((r["value"], r["band"]), (D("2000.00"), "medium"))
        self.assertEqual(r["evidence"]["suppliers_total"], D(5))
        r = self.one(run, "CONC-VENDOR", "CONC-VENDOR:CD")
        self.assertEqual((r["value"], r["band"], r["amount"]),
                         (D("1000.00"), "low", D(1000)))

    def test_concentration_borders(self):
        run = self.run_indicators("CONC-VENDOR", settings=[
            "indicators.conc_vendor.hhi_medium=2000", "indicators.conc_vendor.hhi_high=6000"])
        # HHI exactly hhi_medium: medium; a top share of exactly top_share: not high.
        self.assertEqual(self.one(run, "CONC-VENDOR", "CONC-VENDOR:CB")["band"], "medium")
        self.assertEqual(self.one(run, "CONC-VENDOR", "CONC-VENDOR:CC")["band"], "medium")
        run = self.run_indicators("CONC-VENDOR", settings=[
            "indicators.conc_vendor.hhi_medium=2001", "indicators.conc_vendor.hhi_high=6000",
            "indicators.conc_vendor.top_share=0.49"])
        self.assertEqual(self.one(run, "CONC-VENDOR", "CONC-VENDOR:CB")["band"], "low")
        self.assertEqual(self.one(run, "CONC-VENDOR", "CONC-VENDOR:CC")["band"], "high")
        run = self.run_indicators("CONC-VENDOR", settings=[
            "indicators.conc_vendor.hhi_high=2000"])
        self.assertEqual(self.one(run, "CONC-VENDOR", "CONC-VENDOR:CB")["band"], "high")

    def test_portfolio_row_and_currencies(self):
        run = self.run_indicators("CONC-VENDOR")
        results = self.results(run, "CONC-VENDOR")
        r = results["CONC-VENDOR:portfolio"]
        self.assertIsNone(r["agency"])
        self.assertEqual(r["agencies"], ["CA", "CB", "CC", "CD", "UA", "UB", "UC"])
        self.assertEqual(r["subject"], "portfolio")
        self.assertEqual(r["currency"], "CLP")
        total = D(0)
        for fp, x in results.items():
            if fp.count(":") == 1 and "/" not in fp and fp != "CONC-VENDOR:portfolio":
                total += x["amount"]
        self.assertEqual(r["amount"], total)
        usd = results["CONC-VENDOR:CC/USD"]
        self.assertEqual((usd["value"], usd["amount"], usd["currency"]),
                         (D("10000.00"), D(70), "USD"))
        self.assertIn("CONC-VENDOR:portfolio/USD", results)
        self.assertEqual(results["CONC-VENDOR:CC"]["amount"], D(1000))

    def test_unreviewed_spend(self):
        run = self.run_indicators("UNREVIEWED-SPEND",
                                  settings=["indicators.unreviewed_spend.threshold=1000"])
        results = self.results(run, "UNREVIEWED-SPEND")
        r = results["UNREVIEWED-SPEND:UA"]
        # 5000 + 2000 + 1001 (awards) + 4000 (29.07): the linked award, the line of an
        # approved project (22.11 covers 22.11.003), the award of exactly the threshold,
        # non-ICT and USD ones are out.
        self.assertEqual((r["value"], r["band"], r["amount"], r["currency"]),
                         (D(12001), "high", D(12001), "CLP"))
        e = r["evidence"]
        self.assertEqual((e["awards_total"], e["budget_total"]), (D(8001), D(4000)))
        self.assertEqual([(x["kind"], x.get("ocid") or x.get("classification"),
                           x["amount"]) for x in e["rows"]],
                         [("award", "ua-free", D(5000)),
                          ("budget_line", "29.07", D(4000)),
                          ("award", "ua-submitted", D(2000)),
                          ("award", "ua-border", D(1001))])
        self.assertEqual(e["rows_total"], D(4))
        self.assert_evidence_shape(r)
        self.assertIn("3 awards (CLP 8,001) and 1 budget line (CLP 4,000)", e["summary"])
        r = results["UNREVIEWED-SPEND:UB"]
        self.assertEqual((r["value"], r["band"]), (D(1500), "medium"))
        self.assertNotIn("UNREVIEWED-SPEND:UC", results)
        # With the default threshold (20,000,000) nobody here is flagged.
        run = self.run_indicators("UNREVIEWED-SPEND")
        self.assertEqual(self.results(run, "UNREVIEWED-SPEND"), {})

    def test_recomputation_keeps_every_fingerprint(self):
        settings = ["indicators.unreviewed_spend.threshold=1000"]
        first = self.run_indicators("CONC-VENDOR", "UNREVIEWED-SPEND", settings=settings)
        second = self.run_indicators("CONC-VENDOR", "UNREVIEWED-SPEND", settings=settings)
        for code in ("CONC-VENDOR", "UNREVIEWED-SPEND"):
            a, b = self.results(first, code), self.results(second, code)
            self.assertEqual(sorted(a), sorted(b))
            for fp in a:
                self.assertEqual(a[fp]["evidence"], b[fp]["evidence"], fp)


class Coordination(PortfolioCase):
    """COORD-INDEX, FEED-STALE and OVL-PLATFORM."""

    agencies = ("KA", "KB", "KC", "KD", "FA", "FB", "FC", "OA")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        full = dict(planned_cost="100", currency="CLP", planned_start="2024-01-01",
                    planned_end="2024-12-31", category="erp")
        projects = [
            # KA: reviewed 2 of 4, reusing 1 of 4, complete 3 of 4.
            project("K1", agency="KA", review_status="approved",
                    shared_platforms=["FirmaGob"], **full),
            project("K2", agency="KA", review_status="observed", **full),
            project("K3", agency="KA", review_status="submitted", **full),
            project("K4", agency="KA"),
            # KC: its data is 60 days old.
            project("K5", agency="KC", review_status="approved",
                    shared_platforms=["FirmaGob"], **full),
            # FA: fresh; FB: nothing for 8 days.
            project("F1", agency="FA"),
            project("F2", agency="FB"),
            # OVL-PLATFORM.
            project("O-1", agency="OA", status="planned", capabilities=["Digital Signature"],
                    planned_cost="1000", currency="CLP"),
            project("O-2", agency="OA", capabilities=["identity", "payments"],
                    shared_platforms=["Clave Unica"]),
            project("O-3", agency="OA", capabilities=["identity", "payments"]),
            project("O-4", agency="OA", status="completed",
                    capabilities=["digital_signature"]),
            project("O-5", agency="OA", capabilities=["digital_signature"],
                    shared_platforms=["firmagob"]),
            project("O-6", agency="OA", capabilities=["analytics"]),
        ]
        framework = {"id": "t", "status": "complete", "procurementMethod": "limited",
                     "procurementMethodDetails": "Compra por Convenio Marco"}
        releases = [
            # KA: 3000 of 4000 through a framework agreement.
            release("ka-1", "KA", [award("a1", 3000)], framework),
            release("ka-2", "KA", [award("a1", 1000)]),
            # KB: an ICT award, no project.
            release("kb-1", "KB", [award("a1", 1000)]),
        ]
        # KC's and FB's projects in pushes of their own, whose batches are aged below.
        aged = [p for p in projects if p["agency"] in ("KC", "FB")]
        bodies = [("/v1/projects", {"projects": [p for p in projects if p not in aged]}),
                  ("/v1/procurement", {"releases": releases})]
        bodies += [("/v1/projects", {"projects": [p]}) for p in aged]
        for path, body in bodies:
            r = cls.d.post(path, body, headers={"Authorization": "Bearer " + cls.analyst},
                           timeout=60)
            if r.status not in (200, 201):
                raise AssertionError(r.body)
        # The daemon marks the feeds it is not configured with as gone: the feeds
        # below are planted once it has stopped.
        cls.d.stop()
        # Age what arrived about KC and FB.
        for code, days in (("KC", 60), ("FB", 8)):
            cls.db.query(
                "UPDATE ingest_batch b SET created_at = now() - make_interval(days => :d),"
                " finished_at = now() - make_interval(days => :d)"
                " WHERE b.id IN (SELECT v.batch_id FROM project_version v"
                "  JOIN project p ON p.id = v.project_id JOIN agency a ON a.id = p.agency_id"
                "  WHERE a.code = :'c')", c=code, d=str(days))
        # Feeds as the daemon records them.
        cls.db.query(
            "INSERT INTO feed_source (name, kind, url, agency_id, last_success_at,"
            " consecutive_failures, created_at, configured, problem)"
            " SELECT f.name, 'ocds_package', 'http://feeds.example/' || f.name,"
            "  (SELECT id FROM agency WHERE code = f.agency),"
            "  now() - f.success, f.failures, now() - f.created, f.configured, f.problem"
            " FROM (VALUES ('ok', 'FA', interval '1 day', 0, interval '30 days', true, NULL),"
            "  ('stale', 'FA', interval '8 days', 0, interval '30 days', true, NULL),"
            "  ('failing', NULL, interval '1 day', 3, interval '30 days', true, NULL),"
            "  ('failing-2', 'FA', interval '1 day', 2, interval '30 days', true, NULL),"
            "  ('new', 'FA', NULL, 0, interval '1 day', true, NULL),"
            "  ('never', 'FC', NULL, 0, interval '8 days', true, NULL),"
            "  ('gone', 'FA', interval '80 days', 9, interval '90 days', false, NULL),"
            "  ('broken', 'FC', interval '1 day', 0, interval '30 days', true,"
            "   'no agency with code \"XX\"'))"
            " AS f (name, agency, success, failures, created, configured, problem)")
        cls.db.query(
            "INSERT INTO feed_run (feed_id, started_at, finished_at, status, http_status,"
            " message) SELECT id, now() - interval '1 hour', now() - interval '1 hour',"
            " 'failed', 503, 'HTTP 503 from the server' FROM feed_source"
            " WHERE name = 'failing'")

    def test_coordination_index_parts(self):
        run = self.run_indicators("COORD-INDEX")
        r = self.one(run, "COORD-INDEX", "COORD-INDEX:KA")
        parts = r["evidence"]["parts"]
        self.assertEqual(parts, {"reviewed": D("50.00"), "framework": D("75.00"),
                                 "reuse": D("25.00"), "freshness": 100,
                                 "completeness": D("75.00")})
        self.assertEqual((r["value"], r["band"]), (D("65.00"), "medium"))
        self.assertEqual(r["evidence"]["counts"]["projects"], D(4))
        self.assertEqual(sorted(x["external_id"] for x in r["evidence"]["rows"]),
                         ["K2", "K3", "K4"])
        self.assertEqual(r["subject"], "agency KA")
        self.assertIn("framework agreements 75 %", r["evidence"]["summary"])

    def test_spending_without_projects_scores_low(self):
        run = self.run_indicators("COORD-INDEX")
        r = self.one(run, "COORD-INDEX", "COORD-INDEX:KB")
        self.assertEqual(r["evidence"]["parts"],
                         {"reviewed": 0, "framework": D("0.00"), "reuse": 0,
                          "freshness": 100, "completeness": 0})
        self.assertEqual((r["value"], r["band"]), (D("20.00"), "high"))
        # No data at all: no result.
        self.assertNotIn("COORD-INDEX:KD", self.results(run, "COORD-INDEX"))

    def test_freshness_decays(self):
        run = self.run_indicators("COORD-INDEX")
        r = self.one(run, "COORD-INDEX", "COORD-INDEX:KC")
        # 60 days with stale_days 30: halfway to 0 at 90 days.
        self.assertAlmostEqual(float(r["evidence"]["parts"]["freshness"]), 50.0, delta=0.1)
        self.assertEqual(r["evidence"]["parts"]["framework"], None)
        self.assertAlmostEqual(float(r["value"]), 87.5, delta=0.1)
        self.assertEqual(r["band"], "low")
        run = self.run_indicators("COORD-INDEX",
                                  settings=["indicators.coord_index.stale_days=60"])
        r = self.one(run, "COORD-INDEX", "COORD-INDEX:KC")
        self.assertEqual(r["evidence"]["parts"]["freshness"], 100)

    def test_it_reads_this_runs_results(self):
        run = self.run_indicators("OVL-PLATFORM", "COORD-INDEX")
        r = self.one(run, "COORD-INDEX", "COORD-INDEX:OA")
        self.assertEqual(r["evidence"]["flags"],
                         {"OVL-PLATFORM": {"medium": 2, "high": 1}})

    def test_feed_stale(self):
        run = self.run_indicators("FEED-STALE")
        results = self.results(run, "FEED-STALE")
        feeds = {fp: r for fp, r in results.items() if fp.startswith("FEED-STALE:feed/")}
        self.assertEqual(sorted(feeds), ["FEED-STALE:feed/broken", "FEED-STALE:feed/failing",
                                         "FEED-STALE:feed/never", "FEED-STALE:feed/stale"])
        r = feeds["FEED-STALE:feed/stale"]
        self.assertEqual((r["band"], r["value"], r["agency"]), ("high", D(8), "FA"))
        r = feeds["FEED-STALE:feed/failing"]
        self.assertEqual((r["band"], r["agency"], r["agencies"]), ("medium", None, []))
        self.assertIn("HTTP 503 from the server", r["evidence"]["summary"])
        self.assertEqual(r["evidence"]["rows"][0]["last_run"]["http_status"], D(503))
        r = feeds["FEED-STALE:feed/never"]
        self.assertEqual((r["band"], r["value"]), ("high", D(8)))
        self.assertIn("never delivered", r["evidence"]["summary"])
        self.assertIn("cannot run", feeds["FEED-STALE:feed/broken"]["evidence"]["summary"])
        self.assert_evidence_shape(r)
        agencies = {fp for fp in results if fp.startswith("FEED-STALE:agency/")}
        self.assertIn("FEED-STALE:agency/FB", agencies)
        self.assertIn("FEED-STALE:agency/KC", agencies)
        self.assertNotIn("FEED-STALE:agency/FA", agencies)
        self.assertNotIn("FEED-STALE:agency/FC", agencies)  # feeds, but no data
        r = results["FEED-STALE:agency/FB"]
        self.assertEqual((r["band"], r["value"]), ("medium", D(8)))
        # More patience, fewer results.
        run = self.run_indicators("FEED-STALE", settings=[
            "indicators.feed_stale.days=9", "indicators.feed_stale.failures=4"])
        self.assertEqual(sorted(self.results(run, "FEED-STALE")),
                         ["FEED-STALE:agency/KC", "FEED-STALE:feed/broken"])

    def test_shared_platform_not_reused(self):
        run = self.run_indicators("OVL-PLATFORM")
        results = self.results(run, "OVL-PLATFORM")
        self.assertEqual(sorted(results), ["OVL-PLATFORM:OA/O-1", "OVL-PLATFORM:OA/O-2",
                                           "OVL-PLATFORM:OA/O-3"])
        r = results["OVL-PLATFORM:OA/O-1"]
        self.assertEqual((r["value"], r["band"], r["amount"], r["currency"]),
                         (D(1), "medium", D(1000), "CLP"))
        self.assertEqual(r["evidence"]["platforms"],
                         [{"capability": "digital_signature", "platform": "FirmaGob"}])
        self.assert_evidence_shape(r)
        self.assertIn("digital_signature (FirmaGob)", r["evidence"]["summary"])
        r = results["OVL-PLATFORM:OA/O-2"]
        self.assertEqual(r["evidence"]["platforms"],
                         [{"capability": "payments", "platform": "PagoGob"}])
        r = results["OVL-PLATFORM:OA/O-3"]
        self.assertEqual((r["value"], r["band"]), (D(2), "high"))
        # Another registry.
        run = self.run_indicators("OVL-PLATFORM", settings=[
            "indicators.ovl_platform.platforms=analytics = Datos Abiertos ; broken"])
        self.assertEqual(sorted(self.results(run, "OVL-PLATFORM")),
                         ["OVL-PLATFORM:OA/O-6"])

    def test_recomputation_keeps_every_fingerprint(self):
        codes = ("OVL-PLATFORM", "COORD-INDEX", "FEED-STALE")
        first = self.run_indicators(*codes)
        second = self.run_indicators(*codes)
        for code in codes:
            self.assertEqual(sorted(self.results(first, code)),
                             sorted(self.results(second, code)), code)


if __name__ == "__main__":
    unittest.main()
