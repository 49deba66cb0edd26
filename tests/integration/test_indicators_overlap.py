"""The overlap indicators end to end (issue 5): DUP-PROJECT, OVL-SPEND, OVL-TENDER,
SPLIT and REPEAT-DIRECT. Small datasets are pushed through the real API (projects, OCDS
releases), `ictmonctl indicators run CODE` computes them, and the results are read
back from GET /v1/indicators?code= and GET /v1/overlaps?kind= with their evidence:
window borders (exactly window_days apart is one session, a day more is two),
thresholds met exactly, currency mixes without and with a rate, cancelled tenders and
awards, framework agreements, one agency alone, missing dates, text normalisation and
clusters of duplicates. A recomputation changes no fingerprint, and a group that gains
a member keeps its fingerprint. Each class has its own database and daemon; each
scenario has its own classification class or supplier, so that the tests of a class
do not see one another's data."""

import datetime
import unittest

from indicator_case import D, IndicatorCase, award, project, release, tender

TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def day(iso_date):
    return iso_date + "T12:00:00Z"


def ago(days):
    """A UTC instant `days` calendar days before today (negative: after)."""
    return (TODAY - datetime.timedelta(days=days)).isoformat() + "T12:00:00Z"


class OverlapCase(IndicatorCase):

    def rate(self, currency, rate, valid_from="2020-01-01"):
        """An exchange rate to CLP for the rest of the test."""
        self.db.query("INSERT INTO exchange_rate (currency, valid_from, rate)"
                      " VALUES (:'c', :'f', :'r')", c=currency, f=valid_from, r=str(rate))
        self.addCleanup(self.db.query, "DELETE FROM exchange_rate")

    def computed(self, code, *settings):
        """Runs `code` and returns the API's results for it, {fingerprint: item}."""
        self.run_indicators(code, settings=settings)
        results = self.api_results(code)
        for r in results.values():
            self.assertEqual(r["code"], code)
            self.assert_evidence_shape(r)
        return results

    def assert_same_fingerprints(self, code, *settings):
        first = self.computed(code, *settings)
        second = self.computed(code, *settings)
        self.assertTrue(first)
        self.assertEqual(sorted(first), sorted(second))
        for fp in first:
            self.assertEqual(first[fp]["evidence"], second[fp]["evidence"], fp)
            self.assertEqual(first[fp]["value"], second[fp]["value"], fp)


class SpendOverlap(OverlapCase):
    """OVL-SPEND with window_days 30 and min_total 1000 (min_buyers 3, the default)."""

    agencies = ("SA", "SB", "SC", "SD", "SE")
    settings = ("indicators.ovl_spend.window_days=30", "indicators.ovl_spend.min_total=1000")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rel = []

        def buy(ocid, buyer, amount, date, cls_="43231500", t=None, **kw):
            rel.append(release(ocid, buyer, [award("a1", amount, cls=cls_, date=date,
                                                   suppliers=("S-" + buyer,), **kw)], t))

        # The normal case, both thresholds met exactly: 3 buyers, 1,000, the last
        # award exactly 30 days after the first; SC's award is classified by its
        # tender's items. A non-ICT award of SD in the same days does not count.
        buy("n-1", "SA", 400, day("2024-01-10"), "43231501")
        buy("n-2", "SB", 300, day("2024-01-20"), "43231502")
        buy("n-3", "SC", 300, day("2024-02-09"), None, tender(cls="43231503"))
        buy("n-4", "SD", 9000, day("2024-01-15"), "44121600")
        # Window border: 30 days apart stays one session (SA, SB: two buyers only),
        # 31 days after starts another (SC, SD, SE).
        for ocid, buyer, date in (("w-1", "SA", "2024-01-10"), ("w-2", "SB", "2024-02-09"),
                                  ("w-3", "SC", "2024-03-11"), ("w-4", "SD", "2024-03-12"),
                                  ("w-5", "SE", "2024-03-13")):
            buy(ocid, buyer, 500, day(date), "43232000")
        # Just under min_total.
        for i, buyer in enumerate(("SA", "SB", "SC")):
            buy("u-%d" % i, buyer, 333, day("2024-01-10"), "43232100")
        # One agency alone, and two.
        for i in range(3):
            buy("one-%d" % i, "SA", 5000, day("2024-01-10"), "43232200")
        buy("two-1", "SB", 5000, day("2024-01-10"), "43232200")
        # Cancelled and unsuccessful awards, an award without a date, a framework
        # agreement purchase: none of them makes a third buyer.
        buy("x-1", "SA", 5000, day("2024-01-10"), "43232300")
        buy("x-2", "SB", 5000, day("2024-01-10"), "43232300")
        buy("x-3", "SC", 5000, day("2024-01-10"), "43232300", status="cancelled")
        buy("x-4", "SD", 5000, day("2024-01-10"), "43232300", status="unsuccessful")
        buy("x-5", "SE", 5000, None, "43232300")
        buy("x-6", "SC", 5000, day("2024-01-11"), "43232300",
            tender(method="limited", details="Compra por Convenio Marco"))
        # Currencies: CLP and one USD award (a third buyer only with a rate); three
        # USD awards (a USD session until a rate converts it).
        buy("c-1", "SA", 400, day("2024-01-10"), "43232400")
        buy("c-2", "SB", 300, day("2024-01-10"), "43232400")
        buy("c-3", "SC", 1, day("2024-01-10"), "43232400", currency="USD")
        for i, buyer in enumerate(("SA", "SB", "SC")):
            buy("d-%d" % i, buyer, 10, day("2024-01-10"), "43232500", currency="USD")
        # Not ICT: only when ict_only is off.
        for i, buyer in enumerate(("SA", "SB", "SC")):
            buy("o-%d" % i, buyer, 500, day("2024-01-10"), "44121700")
        # CPV codes: group 302 (ICT) from three different codes.
        for i, (buyer, code) in enumerate((("SA", "30213100-6"), ("SB", "30213200-7"),
                                           ("SC", "30236000-2"))):
            buy("v-%d" % i, buyer, 500, day("2024-01-10"), code, scheme="CPV")
        # The group that grows (test_grown_group_keeps_its_fingerprint).
        for i, buyer in enumerate(("SA", "SB", "SC")):
            buy("g-%d" % i, buyer, 500, day("2024-06-01"), "43232600")
        cls.push_setup("/v1/procurement", {"releases": rel})

    def test_normal_case_thresholds_met_exactly(self):
        results = self.computed("OVL-SPEND", *self.settings)
        r = results["OVL-SPEND:UNSPSC 432315:n-1/a1"]
        self.assertEqual((r["value"], r["amount"], r["currency"], r["band"]),
                         (D(1000), D(1000), "CLP", "low"))
        self.assertIsNone(r["agency"])
        self.assertEqual(r["agencies"], ["SA", "SB", "SC"])
        self.assertEqual(r["subject"], "UNSPSC 432315 · 3 agencies · from 2024-01-10")
        e = r["evidence"]
        self.assertEqual(e["summary"], "3 agencies bought UNSPSC 432315, CLP 1,000 in 30"
                         " days (2024-01-10 to 2024-02-09).")
        self.assertEqual((e["total"], e["currency"], e["class"], e["window_days"],
                          e["rows_total"]), (D(1000), "CLP", "UNSPSC 432315", D(30), D(3)))
        self.assertEqual(e["agencies"], [{"code": c, "name": "Agency " + c}
                                         for c in ("SA", "SB", "SC")])
        self.assertEqual([(x["kind"], x["ocid"], x["award_id"], x["agency"], x["supplier"],
                           x["date"], x["amount"], x["currency"], x["classification"])
                          for x in e["rows"]],
                         [("award", "n-1", "a1", "SA", "Supplier S-SA", "2024-01-10",
                           D(400), "CLP", "UNSPSC 432315"),
                          ("award", "n-2", "a1", "SB", "Supplier S-SB", "2024-01-20",
                           D(300), "CLP", "UNSPSC 432315"),
                          ("award", "n-3", "a1", "SC", "Supplier S-SC", "2024-02-09",
                           D(300), "CLP", "UNSPSC 432315")])
        # The same result in the overlaps listing, as a spending overlap.
        spend = {i["fingerprint"]: i for i in self.api_walk("/v1/overlaps?kind=spend")}
        self.assertEqual(sorted(spend), sorted(results))
        self.assertEqual(spend["OVL-SPEND:UNSPSC 432315:n-1/a1"]["kind"], "spend")
        amounts = [i["amount"] for i in self.api_walk("/v1/overlaps?kind=spend")]
        self.assertEqual(amounts, sorted(amounts, reverse=True))
        # A total one under min_total is not flagged; nor are 2 buyers at min_buyers 3.
        self.assertFalse([fp for fp in results if "432321" in fp])
        results = self.computed("OVL-SPEND", *self.settings,
                                "indicators.ovl_spend.min_total=1001")
        self.assertNotIn("OVL-SPEND:UNSPSC 432315:n-1/a1", results)
        results = self.computed("OVL-SPEND", *self.settings,
                                "indicators.ovl_spend.min_buyers=4")
        self.assertNotIn("OVL-SPEND:UNSPSC 432315:n-1/a1", results)
        # Bands: medium at 2 x min_total, high at 4 x.
        results = self.computed("OVL-SPEND", *self.settings,
                                "indicators.ovl_spend.min_total=500")
        self.assertEqual(results["OVL-SPEND:UNSPSC 432315:n-1/a1"]["band"], "medium")
        results = self.computed("OVL-SPEND", *self.settings,
                                "indicators.ovl_spend.min_total=250")
        self.assertEqual(results["OVL-SPEND:UNSPSC 432315:n-1/a1"]["band"], "high")

    def test_window_border_starts_a_new_session(self):
        results = self.computed("OVL-SPEND", *self.settings)
        found = sorted(fp for fp in results if "432320" in fp)
        self.assertEqual(found, ["OVL-SPEND:UNSPSC 432320:w-3/a1"])
        r = results["OVL-SPEND:UNSPSC 432320:w-3/a1"]
        self.assertEqual(r["agencies"], ["SC", "SD", "SE"])
        self.assertEqual([x["ocid"] for x in r["evidence"]["rows"]], ["w-3", "w-4", "w-5"])
        self.assertEqual(r["value"], D(1500))
        # With a window of 31 days the five awards are one session of five buyers.
        results = self.computed("OVL-SPEND", *self.settings,
                                "indicators.ovl_spend.window_days=31")
        r = results["OVL-SPEND:UNSPSC 432320:w-1/a1"]
        self.assertEqual((r["value"], len(r["agencies"]), r["band"]), (D(2500), 5, "high"))
        self.assertNotIn("OVL-SPEND:UNSPSC 432320:w-3/a1", results)

    def test_what_does_not_count(self):
        results = self.computed("OVL-SPEND", *self.settings)
        for cls in ("432321", "432322", "432323", "441217"):
            self.assertFalse([fp for fp in results if cls in fp], cls)
        # Without the framework list, the framework purchase is a third buyer.
        results = self.computed("OVL-SPEND", *self.settings,
                                "indicators.framework_methods=nothing like it")
        r = results["OVL-SPEND:UNSPSC 432323:x-1/a1"]
        self.assertEqual([x["ocid"] for x in r["evidence"]["rows"]], ["x-1", "x-2", "x-6"])
        self.assertEqual(r["evidence"]["rows"][2]["method"], "limited")

    def test_not_ict_only_when_asked(self):
        results = self.computed("OVL-SPEND", *self.settings,
                                "indicators.ovl_spend.ict_only=false")
        self.assertEqual(results["OVL-SPEND:UNSPSC 441217:o-0/a1"]["value"], D(1500))
        # SD's non-ICT award is in another class: the normal case is unchanged.
        self.assertEqual(results["OVL-SPEND:UNSPSC 432315:n-1/a1"]["value"], D(1000))

    def test_cpv_groups(self):
        results = self.computed("OVL-SPEND", *self.settings)
        r = results["OVL-SPEND:CPV 302:v-0/a1"]
        self.assertEqual((r["value"], r["agencies"]), (D(1500), ["SA", "SB", "SC"]))
        self.assertEqual({x["classification"] for x in r["evidence"]["rows"]}, {"CPV 302"})

    def test_currencies_apart_then_converted(self):
        results = self.computed("OVL-SPEND", *self.settings)
        self.assertFalse([fp for fp in results if "432324" in fp])
        # Three USD awards: a session in USD, never compared with min_total (low).
        r = results["OVL-SPEND:UNSPSC 432325:d-0/a1"]
        self.assertEqual((r["value"], r["amount"], r["currency"], r["band"]),
                         (D(30), D(30), "USD", "low"))
        self.assertEqual((r["evidence"]["currency"], r["evidence"]["converted"]),
                         ("USD", False))
        self.assertIn("USD 30", r["evidence"]["summary"])
        self.rate("USD", 900)
        results = self.computed("OVL-SPEND", *self.settings)
        r = results["OVL-SPEND:UNSPSC 432324:c-1/a1"]
        self.assertEqual((r["value"], r["currency"], r["agencies"]),
                         (D(1600), "CLP", ["SA", "SB", "SC"]))
        usd = [x for x in r["evidence"]["rows"] if x["ocid"] == "c-3"][0]
        self.assertEqual((usd["amount"], usd["currency"], usd["amount_converted"]),
                         (D(1), "USD", D(900)))
        r = results["OVL-SPEND:UNSPSC 432325:d-0/a1"]
        self.assertEqual((r["value"], r["currency"], r["band"]), (D(27000), "CLP", "high"))

    def test_grown_group_keeps_its_fingerprint(self):
        fp = "OVL-SPEND:UNSPSC 432326:g-0/a1"
        before = self.computed("OVL-SPEND", *self.settings)[fp]
        self.assertEqual(before["agencies"], ["SA", "SB", "SC"])
        self.push_releases(release("g-9", "SD", [award("a1", 500, cls="43232600",
                                                       date=day("2024-06-20"))]))
        after = self.computed("OVL-SPEND", *self.settings)[fp]
        self.assertEqual((after["agencies"], after["value"], after["band"]),
                         (["SA", "SB", "SC", "SD"], D(2000), "medium"))
        self.assertEqual(after["evidence"]["rows_total"], D(4))

    def test_recomputation_keeps_every_fingerprint(self):
        self.assert_same_fingerprints("OVL-SPEND", *self.settings)


class SplitAndRepeat(OverlapCase):
    """SPLIT (threshold 1000, window 30 days) and REPEAT-DIRECT (window 30 days, more
    than 3 awards)."""

    agencies = ("PA", "PB")
    split = ("indicators.split.threshold=1000", "indicators.split.window_days=30")
    repeat = ("indicators.repeat_direct.window_days=30",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rel = []
        n = [0]

        def give(buyer, supplier, amount, date, method="direct", cls_=None, **kw):
            # Every award its own process and, unless told, its own class, so that
            # only the buyer + supplier subject groups them.
            n[0] += 1
            code = cls_ or "43%04d00" % n[0]
            rel.append(release("p-%d" % n[0], buyer,
                               [award("a1", amount, suppliers=(supplier,), cls=code,
                                      date=date, **kw)], tender(method=method)))

        # Supplier split, 30 days apart exactly: one session of 1,100.
        give("PA", "S-1", 600, day("2024-01-01"))
        give("PA", "S-1", 500, day("2024-01-31"), method="limited")
        # 31 days apart: two sessions of one award.
        give("PA", "S-2", 600, day("2024-03-01"))
        give("PA", "S-2", 600, day("2024-04-01"))
        # Sum exactly the threshold: not over it; an award of exactly the threshold is
        # not under it.
        give("PA", "S-3", 500, day("2024-01-01"))
        give("PA", "S-3", 500, day("2024-01-02"))
        give("PA", "S-4", 1000, day("2024-01-01"))
        give("PA", "S-4", 200, day("2024-01-02"))
        # One over: flagged.
        give("PA", "S-5", 999, day("2024-01-01"))
        give("PA", "S-5", 2, day("2024-01-02"))
        # An open tender's award, a cancelled award, an award without a date.
        give("PA", "S-6", 600, day("2024-01-01"), method="open")
        give("PA", "S-6", 600, day("2024-01-02"))
        give("PA", "S-7", 600, day("2024-01-01"), status="cancelled")
        give("PA", "S-7", 600, day("2024-01-02"))
        give("PA", "S-8", 600, None)
        give("PA", "S-8", 600, day("2024-01-02"))
        # Currencies: 600 CLP and 1 USD, a split only once a rate converts it.
        give("PA", "S-9", 600, day("2024-01-01"))
        give("PA", "S-9", 1, day("2024-01-02"), currency="USD")
        # Per class: three suppliers in one class, 2,100 (high).
        for i, s in enumerate(("S-10", "S-11", "S-12")):
            give("PA", s, 700, day("2024-05-0%d" % (i + 1)), cls_="43239900")
        # The session that grows.
        give("PA", "S-13", 600, day("2024-07-01"))
        give("PA", "S-13", 600, day("2024-07-10"))
        # REPEAT-DIRECT: four direct awards in 30 days exactly (one of them USD).
        for i, date in enumerate(("2024-01-01", "2024-01-11", "2024-01-21")):
            give("PB", "S-20", 100, day(date))
        give("PB", "S-20", 10, day("2024-01-31"), currency="USD")
        # Four in 31 days (never more than three in a window), an undated one, a
        # limited and a cancelled one.
        for date in ("2024-01-01", "2024-01-11", "2024-01-21", "2024-02-01"):
            give("PB", "S-21", 100, day(date))
        give("PB", "S-21", 100, None)
        give("PB", "S-21", 100, day("2024-01-12"), method="limited")
        give("PB", "S-21", 100, day("2024-01-13"), status="cancelled")
        cls.push_setup("/v1/procurement", {"releases": rel})

    def test_split_by_supplier(self):
        results = self.computed("SPLIT", *self.split)
        r = results["SPLIT:supplier:PA:S-1:p-1/a1"]
        self.assertEqual((r["agency"], r["agencies"], r["value"], r["amount"], r["currency"],
                          r["band"]), ("PA", ["PA"], D(1100), D(1100), "CLP", "low"))
        self.assertEqual(r["subject"], "buyer PA · supplier Supplier S-1 · 2 awards from"
                         " 2024-01-01")
        e = r["evidence"]
        self.assertEqual(e["summary"], "PA (Agency PA) gave 2 direct/limited awards to"
                         " supplier Supplier S-1 within 30 days (2024-01-01 to 2024-01-31),"
                         " each under CLP 1,000 and together CLP 1,100.")
        self.assertEqual((e["kind"], e["supplier"], e["threshold"], e["window_days"]),
                         ("supplier", {"id": "S-1", "name": "Supplier S-1"}, D(1000),
                          D(30)))
        self.assertEqual([(x["ocid"], x["date"], x["amount"], x["method"], x["supplier"])
                          for x in e["rows"]],
                         [("p-1", "2024-01-01", D(600), "direct", "Supplier S-1"),
                          ("p-2", "2024-01-31", D(500), "limited", "Supplier S-1")])
        self.assertEqual(e["agencies"], [{"code": "PA", "name": "Agency PA"}])
        # Just over the threshold.
        self.assertEqual(results["SPLIT:supplier:PA:S-5:p-9/a1"]["value"], D(1001))
        # Nothing else by supplier: window border, thresholds met exactly, open,
        # cancelled, undated, USD without a rate, and REPEAT-DIRECT's small ones.
        self.assertEqual(sorted(fp for fp in results if fp.startswith("SPLIT:supplier:")),
                         ["SPLIT:supplier:PA:S-13:p-22/a1", "SPLIT:supplier:PA:S-1:p-1/a1",
                          "SPLIT:supplier:PA:S-5:p-9/a1"])
        self.assertEqual(sorted(i["fingerprint"]
                                for i in self.api_walk("/v1/overlaps?kind=split")),
                         sorted(results))
        # A window of 31 days joins S-2's awards; a threshold of 1,001 drops S-5.
        results = self.computed("SPLIT", "indicators.split.threshold=1000",
                                "indicators.split.window_days=31")
        self.assertEqual(results["SPLIT:supplier:PA:S-2:p-3/a1"]["value"], D(1200))
        results = self.computed("SPLIT", "indicators.split.threshold=1001",
                                "indicators.split.window_days=30")
        self.assertNotIn("SPLIT:supplier:PA:S-5:p-9/a1", results)
        # min_awards 3: two awards are not enough.
        results = self.computed("SPLIT", *self.split, "indicators.split.min_awards=3")
        self.assertNotIn("SPLIT:supplier:PA:S-1:p-1/a1", results)
        # Only direct awards: S-1's limited one is out.
        results = self.computed("SPLIT", *self.split, "indicators.split.methods=direct")
        self.assertNotIn("SPLIT:supplier:PA:S-1:p-1/a1", results)

    def test_split_by_class(self):
        results = self.computed("SPLIT", *self.split)
        classes = sorted(fp for fp in results if fp.startswith("SPLIT:class:"))
        self.assertEqual(classes, ["SPLIT:class:PA:UNSPSC 432399:p-19/a1"])
        r = results[classes[0]]
        self.assertEqual((r["value"], r["band"]), (D(2100), "high"))
        self.assertEqual(r["subject"], "buyer PA · UNSPSC 432399 · 3 awards from 2024-05-01")
        e = r["evidence"]
        self.assertEqual((e["kind"], e["class"], e["supplier"]),
                         ("class", "UNSPSC 432399", None))
        self.assertEqual([(x["supplier"], x["classification"]) for x in e["rows"]],
                         [("Supplier S-10", "UNSPSC 432399"),
                          ("Supplier S-11", "UNSPSC 432399"),
                          ("Supplier S-12", "UNSPSC 432399")])

    def test_split_currencies(self):
        self.assertNotIn("SPLIT:supplier:PA:S-9:p-17/a1", self.computed("SPLIT", *self.split))
        self.rate("USD", 900)
        r = self.computed("SPLIT", *self.split)["SPLIT:supplier:PA:S-9:p-17/a1"]
        self.assertEqual((r["value"], r["currency"], r["band"]), (D(1500), "CLP", "medium"))
        usd = r["evidence"]["rows"][1]
        self.assertEqual((usd["amount"], usd["currency"], usd["amount_converted"]),
                         (D(1), "USD", D(900)))

    def test_split_grown_session_keeps_its_fingerprint(self):
        fp = "SPLIT:supplier:PA:S-13:p-22/a1"
        self.assertEqual(self.computed("SPLIT", *self.split)[fp]["value"], D(1200))
        self.push_releases(release("p-grown", "PA", [award(
            "a1", 600, suppliers=("S-13",), cls="43238888", date=day("2024-07-20"))],
            tender(method="direct")))
        r = self.computed("SPLIT", *self.split)[fp]
        self.assertEqual((r["value"], r["band"], r["evidence"]["rows_total"]),
                         (D(1800), "medium", D(3)))

    def test_repeat_direct(self):
        results = self.computed("REPEAT-DIRECT", *self.repeat)
        self.assertEqual(sorted(results), ["REPEAT-DIRECT:PB:S-20"])
        r = results["REPEAT-DIRECT:PB:S-20"]
        self.assertEqual((r["agency"], r["agencies"], r["value"], r["band"], r["amount"],
                          r["currency"]), ("PB", ["PB"], D(4), "low", D(300), "CLP"))
        self.assertEqual(r["subject"], "buyer PB · supplier Supplier S-20 · 4 direct awards"
                         " in 30 days")
        e = r["evidence"]
        self.assertEqual(e["summary"], "PB (Agency PB) gave Supplier S-20 4 direct awards"
                         " within 30 days (2024-01-01 to 2024-01-31), CLP 300.")
        self.assertEqual(e["unconverted"], [{"currency": "USD", "amount": D(10)}])
        self.assertEqual([(x["date"], x["amount"], x["currency"]) for x in e["rows"]],
                         [("2024-01-01", D(100), "CLP"), ("2024-01-11", D(100), "CLP"),
                          ("2024-01-21", D(100), "CLP"), ("2024-01-31", D(10), "USD")])
        self.assertEqual((e["max_awards"], e["window_days"], e["rows_total"]),
                         (D(3), D(30), D(4)))
        # Exactly max_awards is not more than it; a window one day longer catches S-21.
        self.assertEqual(self.computed("REPEAT-DIRECT", *self.repeat,
                                       "indicators.repeat_direct.max_awards=4"), {})
        results = self.computed("REPEAT-DIRECT", "indicators.repeat_direct.window_days=31")
        self.assertEqual(results["REPEAT-DIRECT:PB:S-21"]["value"], D(4))
        # With the default window (365 days) PA's suppliers never reach four.
        self.assertEqual(sorted(self.computed("REPEAT-DIRECT")),
                         ["REPEAT-DIRECT:PB:S-20", "REPEAT-DIRECT:PB:S-21"])
        # Bands: medium from 2 x max_awards, high from 3 x.
        r = self.computed("REPEAT-DIRECT", *self.repeat,
                          "indicators.repeat_direct.max_awards=2")["REPEAT-DIRECT:PB:S-20"]
        self.assertEqual(r["band"], "medium")

    def test_repeat_direct_converted_and_grown(self):
        self.rate("USD", 900)
        fp = "REPEAT-DIRECT:PB:S-20"
        r = self.computed("REPEAT-DIRECT", *self.repeat)[fp]
        self.assertEqual((r["amount"], r["evidence"]["unconverted"]), (D(9300), []))
        self.push_releases(release("p-more", "PB", [award(
            "a1", 100, suppliers=("S-20",), cls="43237777", date=day("2024-01-15"))],
            tender(method="direct")))
        r = self.computed("REPEAT-DIRECT", *self.repeat)[fp]
        self.assertEqual((r["value"], r["amount"]), (D(5), D(9400)))

    def test_recomputation_keeps_every_fingerprint(self):
        self.assert_same_fingerprints("SPLIT", *self.split)
        self.assert_same_fingerprints("REPEAT-DIRECT", *self.repeat)


class TenderOverlap(OverlapCase):
    """OVL-TENDER with min_amount 1000 and a window of 30 days, around today."""

    agencies = ("TA", "TB", "TC", "TD")
    settings = ("indicators.ovl_tender.min_amount=1000",
                "indicators.ovl_tender.window_days=30")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        soon = ago(-30)
        rel = []

        def open_tender(ocid, buyer, amount, code, **kw):
            kw.setdefault("end", soon)
            rel.append(release(ocid, buyer, [], tender(cls=code, amount=amount, **kw)))

        def bought(ocid, buyer, code, when, **kw):
            rel.append(release(ocid, buyer, [award("a1", 700, cls=code, date=when,
                                                   suppliers=("S-" + buyer,), **kw)],
                               tender(status="complete", cls=code)))

        # The normal case: TB bought in the class exactly 30 days ago, TC 31 days ago.
        open_tender("t-open", "TA", 5000, "43233201")
        bought("b-1", "TB", "43233202", ago(30))
        bought("b-2", "TC", "43233203", ago(31))
        # Another agency's open tender of any value: high.
        open_tender("t-both", "TA", 5000, "43233301")
        open_tender("t-small", "TB", 10, "43233302", end=None)
        # min_amount exactly, and one under it.
        open_tender("t-min", "TA", 1000, "43233401")
        open_tender("t-under", "TA", 999, "43233501")
        bought("b-3", "TC", "43233401", ago(1))
        bought("b-4", "TC", "43233501", ago(1))
        # Not open: cancelled, awarded, its period over; a cancelled tender does not
        # match either; an undated award neither.
        open_tender("t-cancel", "TA", 5000, "43233601", status="cancelled")
        open_tender("t-over", "TA", 5000, "43233601", end=ago(1))
        rel.append(release("t-awarded", "TA", [award("a1", 5000, cls="43233601",
                                                     date=ago(-1))],
                           tender(cls="43233601", amount=5000, end=soon)))
        bought("b-5", "TB", "43233601", ago(2))
        open_tender("t-lonely", "TA", 5000, "43233701")
        open_tender("t-cancelled-match", "TB", 5000, "43233701", status="cancelled")
        bought("b-6", "TC", "43233701", None)
        # One agency alone.
        bought("b-7", "TA", "43233701", ago(2))
        # A USD tender: compared once a rate converts it.
        open_tender("t-usd", "TA", 10, "43233801", currency="USD")
        bought("b-8", "TB", "43233801", ago(3))
        # The tender whose overlap grows.
        open_tender("t-grow", "TD", 2000, "43233901")
        bought("b-9", "TA", "43233901", ago(3))
        cls.push_setup("/v1/procurement", {"releases": rel})

    def test_open_tender_meets_a_recent_award(self):
        results = self.computed("OVL-TENDER", *self.settings)
        r = results["OVL-TENDER:t-open"]
        self.assertEqual((r["agency"], r["agencies"], r["value"], r["band"], r["amount"],
                          r["currency"]), ("TA", ["TA", "TB"], D(1), "low", D(5000), "CLP"))
        self.assertEqual(r["subject"], "tender t-open · TA · 1 other agencies")
        e = r["evidence"]
        self.assertEqual((e["class"], e["window_days"], e["open_tenders"], e["awards"],
                          e["rows_total"]), ("UNSPSC 432332", D(30), D(0), D(1), D(2)))
        self.assertEqual([(x["kind"], x["ocid"], x["agency"], x.get("date"), x["amount"])
                          for x in e["rows"]],
                         [("tender", "t-open", "TA", None, D(5000)),
                          ("award", "b-1", "TB", ago(30)[:10], D(700))])
        self.assertEqual(e["summary"], 'Open tender t-open of TA (Agency TA), CLP 5,000,'
                         ' is in UNSPSC 432332, which 1 other agencies are also buying:'
                         ' 0 open tenders and 1 awards in the last 30 days.')
        self.assertEqual(sorted(i["fingerprint"]
                                for i in self.api_walk("/v1/overlaps?kind=tender")),
                         sorted(results))
        # A day more of window: TC's award too, two other agencies (medium).
        r = self.computed("OVL-TENDER", "indicators.ovl_tender.min_amount=1000",
                          "indicators.ovl_tender.window_days=31")["OVL-TENDER:t-open"]
        self.assertEqual((r["agencies"], r["band"]), (["TA", "TB", "TC"], "medium"))

    def test_open_tenders_of_two_agencies(self):
        results = self.computed("OVL-TENDER", *self.settings)
        r = results["OVL-TENDER:t-both"]
        self.assertEqual((r["agencies"], r["band"]), (["TA", "TB"], "high"))
        self.assertEqual([(x["kind"], x["ocid"], x["status"]) for x in r["evidence"]["rows"]],
                         [("tender", "t-both", "active"), ("tender", "t-small", "active")])
        # The small one is under min_amount: no result of its own.
        self.assertNotIn("OVL-TENDER:t-small", results)

    def test_thresholds_and_what_is_not_open(self):
        results = self.computed("OVL-TENDER", *self.settings)
        self.assertIn("OVL-TENDER:t-min", results)
        self.assertEqual(results["OVL-TENDER:t-min"]["amount"], D(1000))
        for ocid in ("t-under", "t-cancel", "t-over", "t-awarded", "t-lonely", "t-usd",
                     "t-small"):
            self.assertNotIn("OVL-TENDER:" + ocid, results)
        self.assertEqual(sorted(results), ["OVL-TENDER:t-both", "OVL-TENDER:t-grow",
                                           "OVL-TENDER:t-min", "OVL-TENDER:t-open"])

    def test_currency_converted(self):
        self.rate("USD", 900)
        r = self.computed("OVL-TENDER", *self.settings)["OVL-TENDER:t-usd"]
        self.assertEqual((r["amount"], r["currency"]), (D(9000), "CLP"))
        self.assertEqual((r["evidence"]["rows"][0]["amount"],
                          r["evidence"]["rows"][0]["currency"]), (D(10), "USD"))

    def test_grown_overlap_keeps_its_fingerprint(self):
        r = self.computed("OVL-TENDER", *self.settings)["OVL-TENDER:t-grow"]
        self.assertEqual((r["agency"], r["agencies"], r["value"]), ("TD", ["TA", "TD"], D(1)))
        self.push_releases(release("b-10", "TB", [award("a1", 800, cls="43233901",
                                                        date=ago(4))]))
        r = self.computed("OVL-TENDER", *self.settings)["OVL-TENDER:t-grow"]
        self.assertEqual((r["agencies"], r["value"], r["band"]),
                         (["TA", "TB", "TD"], D(2), "medium"))
        self.assertEqual([x["ocid"] for x in r["evidence"]["rows"]],
                         ["t-grow", "b-10", "b-9"])

    def test_recomputation_keeps_every_fingerprint(self):
        self.assert_same_fingerprints("OVL-TENDER", *self.settings)


class DuplicateProjects(OverlapCase):
    """DUP-PROJECT with its defaults (min_similarity 0.45, shared category required)."""

    agencies = ("DA", "DB", "DC", "DD")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def p(pid, agency, title, description=None, category="software", cost="100",
              **kw):
            fields = dict(agency=agency, title=title, category=category,
                          planned_cost=cost, currency="CLP",
                          planned_start="2024-01-01", planned_end="2024-12-31")
            if description is not None:
                fields["description"] = description
            fields.update(kw)
            return project(pid, **{k: v for k, v in fields.items() if v is not None})

        cls.push_setup("/v1/projects", {"projects": [
            # Accents, case, punctuation and stop words aside, the same text.
            p("G-1", "DA", "Sistema de Gestión Documental",
              "Plataforma para la gestión de expedientes electrónicos", cost="300"),
            p("G-2", "DB", "sistema gestion documental!",
              "PLATAFORMA gestión: expedientes electronicos", cost="200"),
            # The same agency twice: no pair.
            p("M-1", "DA", "Mesa de ayuda y soporte informatico"),
            p("M-2", "DA", "Mesa de ayuda y soporte informatico regional"),
            # A cluster of three from the pairs A-B (0.673469) and B-C (0.473684);
            # A and C are not similar (0.19).
            p("C-1", "DA", "Portal de trámites ciudadanos en línea"),
            p("C-2", "DB", "Portal de trámites ciudadanos y pagos en línea con firma digital"),
            p("C-3", "DC", "Pagos en línea con firma digital avanzada"),
            # Another category: a pair only through a shared capability tag.
            p("K-1", "DA", "Renovación de servidores del datacenter", category="infra",
              capabilities=["hosting"]),
            p("K-2", "DB", "Renovacion servidores datacenter central", category="otra",
              capabilities=["hosting", "backup"]),
            p("K-3", "DC", "Renovacion de servidores datacenter", category="nada"),
            # Dates that do not overlap (L-2 ends before L-1 and L-3 start), a
            # missing end (no exclusion), a completed project (not active).
            p("L-1", "DA", "Georreferenciacion catastro predial rural"),
            p("L-2", "DB", "Georreferenciacion catastro predial rural",
              planned_start="2022-01-01", planned_end="2022-06-30"),
            p("L-3", "DC", "Georreferenciación del catastro predial rural",
              planned_start="2024-03-01", planned_end=None),
            p("L-4", "DD", "Georreferenciacion catastro predial rural",
              status="completed"),
            # Costs in two currencies; the cluster that grows.
            p("U-1", "DA", "Licencias antivirus estaciones trabajo", cost="1000"),
            p("U-2", "DB", "Licencias antivirus para estaciones de trabajo", cost="5",
              currency="USD"),
            p("R-1", "DA", "Telefonia IP unificada oficinas regionales"),
            p("R-2", "DB", "Telefonía IP unificada en oficinas regionales"),
        ]})

    def test_normalised_text_pairs(self):
        results = self.computed("DUP-PROJECT")
        r = results["DUP-PROJECT:DA/G-1"]
        self.assertIsNone(r["agency"])
        self.assertEqual((r["agencies"], r["value"], r["band"], r["amount"], r["currency"]),
                         (["DA", "DB"], D(1), "high", D(500), "CLP"))
        self.assertEqual(r["subject"], "projects DA/G-1 + 1 similar · 2 agencies")
        e = r["evidence"]
        self.assertEqual((e["total"], e["potential_saving"], e["similarity"]),
                         (D(500), D(200), D(1)))
        # Normalised words of both, without "de", "para", "la"; each counted once
        # per project.
        self.assertEqual(e["terms"], ["documental", "electronicos", "expedientes",
                                      "gestion", "plataforma", "sistema"])
        self.assertEqual([(x["kind"], x["agency"], x["external_id"], x["planned_cost"],
                           x["status"]) for x in e["rows"]],
                         [("project", "DA", "G-1", D(300), "in_progress"),
                          ("project", "DB", "G-2", D(200), "in_progress")])
        self.assertEqual(e["pairs"], [{"a": "DA/G-1", "b": "DB/G-2", "similarity": D(1)}])
        self.assertEqual(e["summary"], '2 similar projects in 2 agencies, e.g. "Sistema de'
                         ' Gestión Documental" (DA), similarity up to 1: combined cost'
                         ' CLP 500, potential saving CLP 200.')
        dup = {i["fingerprint"]: i for i in self.api_walk("/v1/overlaps?kind=duplicates")}
        self.assertEqual(sorted(dup), sorted(results))
        self.assertEqual(dup["DUP-PROJECT:DA/G-1"]["kind"], "duplicates")
        # The same agency's projects are never a pair.
        self.assertFalse([fp for fp in results if "/M-" in fp])

    def test_cluster_of_three_from_two_pairs(self):
        r = self.computed("DUP-PROJECT")["DUP-PROJECT:DA/C-1"]
        self.assertEqual((r["agencies"], r["value"], r["amount"]),
                         (["DA", "DB", "DC"], D("0.673469"), D(300)))
        # A potential saving of twice the largest project's cost: high.
        self.assertEqual((r["band"], r["evidence"]["potential_saving"]), ("high", D(200)))
        e = r["evidence"]
        self.assertEqual([x["external_id"] for x in e["rows"]], ["C-1", "C-2", "C-3"])
        self.assertEqual(e["pairs"], [
            {"a": "DA/C-1", "b": "DB/C-2", "similarity": D("0.673469")},
            {"a": "DB/C-2", "b": "DC/C-3", "similarity": D("0.473684")}])
        self.assertEqual((e["pairs_total"], e["rows_total"]), (D(2), D(3)))
        # "linea" is in all three; the others in two, in byte order.
        self.assertEqual(e["terms"], ["linea", "ciudadanos", "digital", "firma", "pagos",
                                      "portal", "tramites"])

    def test_similarity_threshold_met_exactly(self):
        results = self.computed("DUP-PROJECT",
                                "indicators.dup_project.min_similarity=0.673469")
        r = results["DUP-PROJECT:DA/C-1"]
        self.assertEqual([x["external_id"] for x in r["evidence"]["rows"]], ["C-1", "C-2"])
        self.assertEqual(r["band"], "medium")
        results = self.computed("DUP-PROJECT",
                                "indicators.dup_project.min_similarity=0.67347")
        self.assertNotIn("DUP-PROJECT:DA/C-1", results)
        self.assertIn("DUP-PROJECT:DA/G-1", results)

    def test_category_capabilities_dates_and_status(self):
        results = self.computed("DUP-PROJECT")
        r = results["DUP-PROJECT:DA/K-1"]
        self.assertEqual([x["external_id"] for x in r["evidence"]["rows"]], ["K-1", "K-2"])
        r = results["DUP-PROJECT:DA/L-1"]
        self.assertEqual([x["external_id"] for x in r["evidence"]["rows"]], ["L-1", "L-3"])
        self.assertNotIn("DUP-PROJECT:DB/L-2", results)
        # Without the category rule K-3 joins; with completed projects L-4 does.
        results = self.computed("DUP-PROJECT",
                                "indicators.dup_project.require_shared_category=false",
                                "indicators.dup_project.statuses=planned,in_progress,"
                                "completed")
        self.assertEqual([x["external_id"]
                          for x in results["DUP-PROJECT:DA/K-1"]["evidence"]["rows"]],
                         ["K-1", "K-2", "K-3"])
        self.assertEqual([x["external_id"]
                          for x in results["DUP-PROJECT:DA/L-1"]["evidence"]["rows"]],
                         ["L-1", "L-3", "L-4"])

    def test_costs_in_two_currencies(self):
        r = self.computed("DUP-PROJECT")["DUP-PROJECT:DA/U-1"]
        self.assertEqual((r["amount"], r["currency"]), (D(1000), "CLP"))
        self.assertEqual(r["evidence"]["unconverted"], [{"currency": "USD", "amount": D(5)}])
        self.assertEqual(r["evidence"]["potential_saving"], D(0))
        self.rate("USD", 900)
        r = self.computed("DUP-PROJECT")["DUP-PROJECT:DA/U-1"]
        self.assertEqual((r["amount"], r["evidence"]["potential_saving"],
                          r["evidence"]["unconverted"]), (D(5500), D(1000), []))

    def test_grown_cluster_keeps_its_fingerprint(self):
        fp = "DUP-PROJECT:DA/R-1"
        self.assertEqual(self.computed("DUP-PROJECT")[fp]["agencies"], ["DA", "DB"])
        self.push_projects(project("R-3", agency="DD", title="Telefonia IP unificada",
                                   description="oficinas regionales", category="Software",
                                   planned_cost="100", currency="CLP"))
        r = self.computed("DUP-PROJECT")[fp]
        self.assertEqual(r["agencies"], ["DA", "DB", "DD"])
        self.assertEqual(r["amount"], D(300))

    def test_recomputation_keeps_every_fingerprint(self):
        self.assert_same_fingerprints("DUP-PROJECT")


if __name__ == "__main__":
    unittest.main()
