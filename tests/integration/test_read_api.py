"""The read API (issue 7, helper A1): /v1/projects with its filters and sorts,
/v1/projects/{agency}/{id}, and the filters of /v1/awards and /v1/budget, against a real
PostgreSQL and daemon. Each filter is checked for what it keeps and what it drops, each
sort walked a few rows a page against the full order, every bad parameter is a 400
naming it, agency tokens see only their agency, CSV pages carry their file name, and a
walk while projects are added and changed sees every existing project exactly once."""

import base64
import csv
import decimal
import io
import json
import threading
import unittest
import urllib.parse

import harness
from indicator_case import IndicatorCase, award, line, project, release, tender

D = decimal.Decimal
AGENCIES = ("AA", "BB", "CC")
STATUSES = ("planned", "in_progress", "completed", "cancelled", "deferred")
CATEGORIES = ("software", "infra", "services")
REVIEWS = ("not_submitted", "submitted", "approved", "observed", "rejected")
FUNDING = ("agency_budget", "central_fund", "loan", "grant", "other", None)
# Projected over planned: 0 %, 5 %, 20 %, 50 % over, or no projection.
FACTORS = (D("1"), D("1.05"), D("1.2"), D("1.5"), None)
ENDS = ("2024-12-31", "2025-01-10", "2025-03-31", "2025-12-31", None)
WORDS = ("Red", "Nube", "Portal", "Datos", "Correo", "Licencias", "Redes", "Archivo",
         "Telefonía", "Impresión", "Respaldo", "Monitoreo")


def q(**params):
    return urllib.parse.urlencode(params)


def fixture_projects():
    """About thirty projects over three agencies, every field varied; a few with text
    made for the search (accents, case, punctuation) and one pair made to be a
    DUP-PROJECT cluster."""
    records = [
        project("AA-01", agency="AA", title="Gestión Documental Electrónica",
                description="Expedientes en línea para la ciudadanía",
                category="software", status="in_progress", planned_cost="1000.50",
                projected_cost="1000.50", currency="CLP", planned_start="2024-01-01",
                planned_end="2024-12-31", projected_end="2024-12-31",
                review_status="approved", funding_source="central_fund",
                ocids=["ocds-1"], budget_lines=["29.07"]),
        project("BB-02", agency="BB", title="Sistema gestion documental electronica",
                description="Digitalización de EXPEDIENTES", category="software",
                status="in_progress", planned_cost="2000", currency="CLP",
                planned_start="2024-02-01", planned_end="2024-11-30",
                review_status="submitted", funding_source="loan"),
        project("CC-03", agency="CC", title="Archivo nacional", description=None,
                category="hardware", status="planned", review_status="observed"),
        project("ZZ-77", agency="CC", title="Mesa de ayuda", category="services",
                status="deferred", planned_cost="10", currency="CLP"),
    ]
    for i in range(26):
        agency = AGENCIES[i % 3]
        cost = None if i % 7 == 3 else D(1000 * (i % 9 + 1)) + (D("0.25") if i % 4 == 0
                                                                  else 0)
        factor = FACTORS[i % 5]
        fields = dict(agency=agency,
                      title="%s %s" % (WORDS[i % len(WORDS)], WORDS[(i * 5) % len(WORDS)]),
                      description="Proyecto número %d del portafolio" % i,
                      category=CATEGORIES[i % 3], status=STATUSES[(i // 2) % 5],
                      review_status=REVIEWS[i % 5], planned_start="2024-01-01",
                      planned_end="2024-12-31")
        if FUNDING[i % 6] is not None:
            fields["funding_source"] = FUNDING[i % 6]
        if cost is not None:
            fields["planned_cost"] = str(cost)
            fields["currency"] = "CLP"
            if factor is not None:
                fields["projected_cost"] = str(cost * factor)
        if ENDS[i % 5] is not None:
            fields["projected_end"] = ENDS[i % 5]
        records.append(project("%s-G%02d" % (agency, i), **fields))
    return [{k: v for k, v in r.items() if v is not None} for r in records]


def fixture_releases():
    return [
        release("ocds-1", "AA", [
            award("a1", "1000", suppliers=("S-1",), cls="43211503",
                  date="2024-03-01T10:00:00Z"),
            award("a2", "5000.50", suppliers=("S-2",), cls="43232300", status="pending",
                  date="2024-05-10T00:00:00Z")], tender=tender(method="open")),
        # No items of its own: its tender's classification applies.
        release("ocds-2", "BB", [
            award("a1", "250", suppliers=("S-1",), cls=None,
                  date="2024-06-30T23:30:00Z")],
            tender=tender(method="direct", cls="43211507")),
        release("ocds-3", "CC", [
            award("a1", "99999", suppliers=("S-3",), cls="81112000", status="cancelled",
                  date="2023-12-31T12:00:00Z")], tender=tender(method="selective")),
        release("ocds-4", "AA", [
            award("a1", "1000", suppliers=("S-2",), cls="43211503",
                  status="unsuccessful", date="2025-01-15T00:00:00Z")],
            tender=tender(method="limited")),
    ]


SUPPLIER_NAMES = {"S-1": "Soluciones Alfa", "S-2": "Beta Ltda", "S-3": "Gamma Servicios"}


def named(releases):
    for r in releases:
        for a in r["awards"]:
            for s in a["suppliers"]:
                s["name"] = SUPPLIER_NAMES[s["id"]]
    return releases


def fixture_lines():
    return [
        line("AA", 2024, "29.07", "approved", "1000"),
        line("AA", 2024, "29.07.002", "approved", "500"),
        line("AA", 2024, "22.04", "approved", "300"),
        line("AA", 2025, "29.06", "modified", "700"),
        line("AA", 2024, "29.07", "approved", "80", program="02"),
        line("BB", 2024, "29.07", "approved", "900"),
        line("CC", 2024, "29.07", "paid", "40", period=3),
    ]


class ReadCase(IndicatorCase):
    agencies = AGENCIES

    def get(self, path, token=None, accept=None):
        headers = {"Authorization": "Bearer " + (token or self.analyst)}
        if accept is not None:
            headers["Accept"] = accept
        return self.d.get(path, headers=headers)

    def walk(self, path, limit=1000, token=None, between=None):
        """Every item of a list, page by page; between() runs after each page."""
        return harness.walk_pages(lambda url: self.get(url, token), path, limit,
                                  between)[0]

    def keys(self, path, **kw):
        return [(i["agency"], i["id"]) for i in self.walk(path, **kw)]

    def assert_400(self, path, name):
        r = self.get(path)
        self.assertEqual(r.status, 400, path)
        self.assertTrue(r.json["error"]["message"].startswith(name + ":"),
                        (path, r.json["error"]["message"]))


class ReadApi(ReadCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.push_setup("/v1/projects", {"projects": fixture_projects()})
        # AA-01 twice more: a title change (no rebaseline), then a new planned cost.
        first = fixture_projects()[0]
        second = dict(first, title="Gestión Documental Electrónica (fase 2)")
        cls.push_setup("/v1/projects", {"projects": [second]})
        third = dict(second, planned_cost="2000", projected_cost="2400")
        cls.push_setup("/v1/projects", {"projects": [third]})
        cls.push_setup("/v1/procurement", {"releases": named(fixture_releases())})
        cls.push_setup("/v1/budget", {"lines": fixture_lines()})
        cls.agency_aa = cls.token("--role", "agency", "--agency", "AA")
        cls.row_ids = {(a, e): int(i) for a, e, i in cls.db.query(
            "SELECT a.code, p.external_id, p.id FROM project p"
            " JOIN agency a ON a.id = p.agency_id")}

    def all_projects(self):
        return self.walk("/v1/projects")

    # --- filters -------------------------------------------------------------------

    def test_each_project_filter_keeps_what_matches_and_drops_the_rest(self):
        everything = self.all_projects()
        self.assertEqual(len(everything), 30)
        cases = [("agency", a) for a in AGENCIES] + \
            [("status", s) for s in STATUSES] + \
            [("category", c) for c in CATEGORIES + ("hardware", "nothing")] + \
            [("cost_band", b) for b in ("low", "medium", "high", "none")] + \
            [("schedule_band", b) for b in ("low", "medium", "high", "none")] + \
            [("review_status", s) for s in REVIEWS] + \
            [("funding_source", f) for f in FUNDING if f is not None]
        seen = set()
        for name, value in cases:
            expected = [(i["agency"], i["id"]) for i in everything if i[name] == value]
            got = self.keys("/v1/projects?" + q(**{name: value}))
            self.assertEqual(got, expected, (name, value))
            if expected and len(expected) < len(everything):
                seen.add(name)
        self.assertEqual(seen, {"agency", "status", "category", "cost_band",
                                "schedule_band", "review_status", "funding_source"})
        # Filters combine (AND).
        got = self.keys("/v1/projects?" + q(agency="AA", category="software",
                                            status="in_progress"))
        self.assertEqual(got, [(i["agency"], i["id"]) for i in everything
                               if (i["agency"], i["category"], i["status"]) ==
                               ("AA", "software", "in_progress")])
        self.assertIn(("AA", "AA-01"), got)

    def test_text_search_is_every_word_without_case_or_accents(self):
        def search(text):
            return sorted(self.keys("/v1/projects?" + q(q=text)))

        both = [("AA", "AA-01"), ("BB", "BB-02")]
        self.assertEqual(search("gestion ELECTRÓNICA"), both)
        self.assertEqual(search("Gestión, electronica!"), both)
        self.assertEqual(search("éxpedientes"), both)          # title or description
        self.assertEqual(search("expedientes ciudadania"), [("AA", "AA-01")])
        self.assertEqual(search("gestion telefonia"), [])        # every word, not any
        self.assertEqual(search("zz-77"), [("CC", "ZZ-77")])     # the external id
        self.assertEqual(search("fase 2"), [("AA", "AA-01")])    # the current title
        self.assertEqual(search("GESTION"), both)
        self.assertEqual(sorted(self.keys("/v1/projects?" + q(q="gestion", agency="BB"))),
                         [("BB", "BB-02")])

    def test_award_filters(self):
        def awards(**params):
            return sorted((i["ocid"], i["award_id"])
                          for i in self.walk("/v1/awards?" + q(**params)))

        every = awards()
        self.assertEqual(len(every), 5)
        self.assertEqual(awards(buyer="AA"),
                         [("ocds-1", "a1"), ("ocds-1", "a2"), ("ocds-4", "a1")])
        self.assertEqual(awards(agency="AA"), awards(buyer="AA"))
        self.assertEqual(awards(buyer="AA", agency="AA"), awards(buyer="AA"))
        self.assertEqual(awards(supplier="S-1"), [("ocds-1", "a1"), ("ocds-2", "a1")])
        self.assertEqual(awards(supplier="beta"), [("ocds-1", "a2"), ("ocds-4", "a1")])
        self.assertEqual(awards(supplier="ALFA"), awards(supplier="S-1"))
        self.assertEqual(awards(supplier="gamma serv"), [("ocds-3", "a1")])
        self.assertEqual(awards(supplier="S-"), [])   # an id only whole
        self.assertEqual(awards(classification="4321"),
                         [("ocds-1", "a1"), ("ocds-2", "a1"), ("ocds-4", "a1")])
        self.assertEqual(awards(classification="432"),
                         [("ocds-1", "a1"), ("ocds-1", "a2"), ("ocds-2", "a1"),
                          ("ocds-4", "a1")])
        self.assertEqual(awards(classification="43211503"),
                         [("ocds-1", "a1"), ("ocds-4", "a1")])
        self.assertEqual(awards(classification="81"), [("ocds-3", "a1")])
        self.assertEqual(awards(method="direct"), [("ocds-2", "a1")])
        self.assertEqual(awards(method="open"), [("ocds-1", "a1"), ("ocds-1", "a2")])
        self.assertEqual(awards(status="pending"), [("ocds-1", "a2")])
        self.assertEqual(awards(status="cancelled"), [("ocds-3", "a1")])
        # Dates are inclusive, on the award date in UTC.
        self.assertEqual(awards(date_from="2024-06-30"), [("ocds-2", "a1"), ("ocds-4", "a1")])
        self.assertEqual(awards(date_to="2024-06-30"),
                         [("ocds-1", "a1"), ("ocds-1", "a2"), ("ocds-2", "a1"),
                          ("ocds-3", "a1")])
        self.assertEqual(awards(date_from="2024-03-01", date_to="2024-03-01"),
                         [("ocds-1", "a1")])
        self.assertEqual(awards(date_from="2024-07-01", date_to="2024-12-31"), [])
        # Amounts are inclusive, exact decimals.
        self.assertEqual(awards(amount_min="1000"),
                         [("ocds-1", "a1"), ("ocds-1", "a2"), ("ocds-3", "a1"),
                          ("ocds-4", "a1")])
        self.assertEqual(awards(amount_max="1000.00"),
                         [("ocds-1", "a1"), ("ocds-2", "a1"), ("ocds-4", "a1")])
        self.assertEqual(awards(amount_min="1000.01", amount_max="5000.50"),
                         [("ocds-1", "a2")])
        self.assertEqual(awards(buyer="AA", classification="4321", status="active"),
                         [("ocds-1", "a1")])

    def test_budget_filters(self):
        def lines(**params):
            return sorted(((i["agency"], i["fiscal_year"], i["program"], i["subtitulo"],
                            i["item"], i["asignacion"], i["phase"])
                           for i in self.walk("/v1/budget?" + q(**params))),
                          key=lambda x: tuple(-1 if v is None else v for v in x))

        self.assertEqual(len(lines()), 7)
        self.assertEqual(lines(fiscal_year="2025"),
                         [("AA", 2025, "01", 29, 6, None, "modified")])
        self.assertEqual([x[0] for x in lines(phase="paid")], ["CC"])
        self.assertEqual(lines(program="02"), [("AA", 2024, "02", 29, 7, None, "approved")])
        self.assertEqual(len(lines(agency="AA", fiscal_year="2024", phase="approved",
                                   program="01")), 3)

    def test_every_bad_parameter_is_400_naming_it(self):
        for path, name in [
                ("/v1/projects?status=open", "status"),
                ("/v1/projects?category=", "category"),
                ("/v1/projects?category=" + "x" * 201, "category"),
                ("/v1/projects?cost_band=huge", "cost_band"),
                ("/v1/projects?schedule_band=LOW", "schedule_band"),
                ("/v1/projects?review_status=done", "review_status"),
                ("/v1/projects?funding_source=bank", "funding_source"),
                ("/v1/projects?q=" + "a" * 201, "q"),
                ("/v1/projects?q=" + "+".join(["w"] * 11), "q"),
                ("/v1/projects?q=%FF", "q"),
                ("/v1/projects?sort=cost", "sort"),
                ("/v1/projects?sort=-title", "sort"),
                ("/v1/projects?agency=%20", "agency"),
                ("/v1/projects?limit=0", "limit"),
                ("/v1/awards?buyer=%20", "buyer"),
                ("/v1/awards?buyer=AA&agency=BB", "buyer"),
                ("/v1/awards?supplier=", "supplier"),
                ("/v1/awards?classification=" + "4" * 65, "classification"),
                ("/v1/awards?method=auction", "method"),
                ("/v1/awards?status=done", "status"),
                ("/v1/awards?date_from=2024-02-30", "date_from"),
                ("/v1/awards?date_from=2024-1-01", "date_from"),
                ("/v1/awards?date_to=yesterday", "date_to"),
                ("/v1/awards?amount_min=1e3", "amount_min"),
                ("/v1/awards?amount_max=12.", "amount_max"),
                ("/v1/awards?amount_max=", "amount_max"),
                ("/v1/budget?fiscal_year=1989", "fiscal_year"),
                ("/v1/budget?fiscal_year=20x4", "fiscal_year"),
                ("/v1/budget?phase=spent", "phase"),
                ("/v1/budget?program=" + "p" * 201, "program")]:
            self.assert_400(path, name)
        r = self.get("/v1/projects?cost_band=x")
        self.assertEqual(r.json["error"]["message"],
                         "cost_band: must be one of low, medium, high, none")
        # A valid q is as long as the limits allow.
        self.assertEqual(self.get("/v1/projects?q=" + "a" * 200).status, 200)
        self.assertEqual(self.get("/v1/projects?q=" + "+".join(["w"] * 10)).status, 200)
        self.assertEqual(self.get("/v1/awards?date_from=2024-02-29").status, 200)

    # --- sorts ---------------------------------------------------------------------

    def expected_order(self, items, sort):
        rid = lambda i: self.row_ids[(i["agency"], i["id"])]
        if sort == "id":
            key = rid
        elif sort == "title":
            key = lambda i: (i["title"], rid(i))
        elif sort == "planned_cost":
            key = lambda i: (i["planned_cost"] is None,
                             D(i["planned_cost"] or 0), rid(i))
        elif sort == "-planned_cost":
            key = lambda i: (i["planned_cost"] is None,
                             -D(i["planned_cost"] or 0), rid(i))
        else:
            # updated_at descending, ties by id ascending: the text sorts as the time.
            ordered = sorted(items, key=rid)
            ordered.sort(key=lambda i: i["updated_at"], reverse=True)
            return [(i["agency"], i["id"]) for i in ordered]
        return [(i["agency"], i["id"]) for i in sorted(items, key=key)]

    def test_each_sort_walked_three_a_page_is_the_full_order(self):
        everything = self.all_projects()
        self.assertEqual([self.row_ids[(i["agency"], i["id"])] for i in everything],
                         sorted(self.row_ids.values()))
        # Ties: equal costs, and one batch's common updated_at.
        costs = [i["planned_cost"] for i in everything if i["planned_cost"]]
        self.assertLess(len({D(c) for c in costs}), len(costs))
        self.assertIsNone(everything[2]["planned_cost"])
        for sort in ("id", "title", "-planned_cost", "planned_cost", "-updated_at"):
            expected = self.expected_order(everything, sort)
            self.assertEqual(self.keys("/v1/projects?sort=" + sort, limit=3), expected, sort)
            self.assertEqual(self.keys("/v1/projects?sort=%s&limit=1" % sort, limit=1),
                             expected, sort)
            # With a filter, the same order of what it keeps.
            kept = [k for k in expected if k[0] == "BB"]
            self.assertEqual(self.keys("/v1/projects?agency=BB&sort=" + sort, limit=3),
                             kept, sort)
        self.assertEqual(self.keys("/v1/projects?sort=id"), self.keys("/v1/projects"))
        # The newest change first: AA-01 was pushed last.
        self.assertEqual(self.keys("/v1/projects?sort=-updated_at", limit=1)[0],
                         ("AA", "AA-01"))

    def test_a_cursor_belongs_to_its_sort(self):
        cursors = {}
        for sort in ("id", "title", "-planned_cost", "planned_cost", "-updated_at"):
            r = self.get("/v1/projects?limit=3&sort=" + sort)
            self.assertEqual(r.status, 200, r.body)
            cursors[sort] = r.json["next"]
            self.assertIsNotNone(cursors[sort])
        for sort in cursors:
            for other, cursor in cursors.items():
                r = self.get("/v1/projects?limit=3&sort=%s&after=%s" % (sort, cursor))
                self.assertEqual(r.status, 200 if sort == other else 400, (sort, other))
                if sort != other:
                    self.assertIn("after", r.json["error"]["message"])
        # Nor is a list's cursor another list's.
        self.assertEqual(self.get("/v1/budget?after=" + cursors["id"]).status, 400)

        # A forged cursor of the right tag is a 400, never a database error.
        def cursor(raw):
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        good = cursor(b"t:Red Nube\x001")
        self.assertEqual(self.get("/v1/projects?sort=title&after=" + good).status, 200)
        for sort, raw in (("title", b"t:\xff\xfe\x001"), ("title", b"t:\x001"),
                          ("title", b"t:Red\x00x"), ("-planned_cost", b"c:12e3\x001"),
                          ("-updated_at", b"u:yesterday\x001"),
                          ("-updated_at", b"u:2024-02-30T00:00:00.000000Z\x001")):
            r = self.get("/v1/projects?sort=%s&after=%s" % (sort, cursor(raw)))
            self.assertEqual(r.status, 400, (sort, raw))
            self.assertTrue(r.json["error"]["message"].startswith("after:"))
        r = self.get("/v1/projects?sort=-updated_at&after=" +
                     cursor(b"u:2024-02-29T23:59:59.999999Z\x001"))
        self.assertEqual((r.status, r.json["items"]), (200, []))

    # --- one project ----------------------------------------------------------------

    def test_project_detail(self):
        r = self.get("/v1/projects/AA/AA-01")
        self.assertEqual(r.status, 200, r.body)
        p = json.loads(r.body, parse_float=D)
        item = [i for i in self.all_projects() if i["id"] == "AA-01"][0]
        # The list's item, and more.
        for key, value in item.items():
            self.assertEqual(p[key], json.loads(json.dumps(value), parse_float=D), key)
        self.assertEqual(p["budget_lines"], ["29.07"])
        self.assertEqual(p["agency_name"], "Agency AA")
        self.assertEqual(p["version"], 3)
        self.assertEqual(p["rebaselines"], 1)

        versions = p["versions"]
        self.assertEqual([v["version"] for v in versions], [1, 2, 3])
        self.assertEqual([v["rebaselined"] for v in versions], [False, False, True])
        self.assertEqual([D(v["planned_cost"]) for v in versions],
                         [D("1000.50"), D("1000.50"), D("2000")])
        self.assertTrue(all(isinstance(v["planned_cost"], str) for v in versions))
        self.assertEqual(versions[0]["cv_percent"], D("0"))
        self.assertEqual(versions[0]["cost_band"], "low")
        self.assertEqual(versions[2]["cv_percent"], D("-20"))
        self.assertEqual((versions[2]["cv_percent"], versions[2]["cost_band"],
                          versions[2]["sv_percent"], versions[2]["schedule_band"]),
                         (p["cv_percent"], p["cost_band"], p["sv_percent"],
                          p["schedule_band"]))
        self.assertEqual(versions[2]["planned_end"], "2024-12-31")
        self.assertEqual(versions[2]["status"], "in_progress")
        self.assertLessEqual(versions[0]["valid_from"], versions[2]["valid_from"])
        for v in versions:
            self.assertEqual(set(v), {"version", "valid_from", "rebaselined", "status",
                                      "planned_cost", "projected_cost", "actual_cost",
                                      "planned_end", "projected_end", "cv_percent",
                                      "sv_percent", "cost_band", "schedule_band"})

        # Its process's awards, as /v1/awards shows them.
        awards = [a for a in self.walk("/v1/awards") if a["ocid"] == "ocds-1"]
        self.assertEqual(json.loads(r.body)["awards"], awards)
        self.assertEqual(len(awards), 2)
        # Its agency's lines under 29.07: not 22.04, not another agency's 29.07.
        lines = [b for b in self.walk("/v1/budget?agency=AA")
                 if b["subtitulo"] == 29 and b["item"] == 7]
        self.assertEqual(json.loads(r.body)["budget"], lines)
        self.assertEqual(len(lines), 3)

        r = self.get("/v1/projects/CC/CC-03")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json["versions"][0]["rebaselined"], r.json["awards"],
                          r.json["budget"], r.json["duplicates"]),
                         (False, [], [], []))
        self.assertEqual(len(r.json["versions"]), 1)

    def test_project_detail_duplicates_after_dup_project_runs(self):
        self.assertEqual(self.get("/v1/projects/AA/AA-01").json["duplicates"], [])
        self.run_indicators("DUP-PROJECT")
        r = self.get("/v1/projects/AA/AA-01")
        self.assertEqual(r.status, 200, r.body)
        dups = r.json["duplicates"]
        expected = self.db.query(
            "SELECT x.id, x.band FROM indicator_result x WHERE x.code = 'DUP-PROJECT'"
            " AND x.evidence -> 'rows' @> jsonb_build_array(jsonb_build_object("
            "  'project_id', :'pid'::bigint))", pid=str(self.row_ids[("AA", "AA-01")]))
        self.assertEqual(len(expected), 1)
        self.assertEqual([(str(d["id"]), d["band"]) for d in dups],
                         [(i, b) for i, b in expected])
        self.assertEqual(set(dups[0]), {"id", "value", "band", "agencies", "amount",
                                        "currency", "summary"})
        self.assertEqual(dups[0]["agencies"], ["AA", "BB"])
        self.assertIsInstance(dups[0]["value"], str)
        self.assertIn("similar projects", dups[0]["summary"])
        self.assertEqual(self.get("/v1/projects/BB/BB-02").json["duplicates"], dups)
        self.assertEqual(self.get("/v1/projects/CC/CC-03").json["duplicates"], [])

    def test_project_detail_404(self):
        for path in ("/v1/projects/AA/NOPE", "/v1/projects/BB/AA-01",
                     "/v1/projects/ZZ/AA-01", "/v1/projects/%20/AA-01"):
            r = self.get(path)
            self.assertEqual(r.status, 404, path)
            self.assertEqual(r.json["error"]["code"], "not_found")

    # --- roles ---------------------------------------------------------------------

    def test_agency_token_reads_its_own_agency(self):
        token = self.agency_aa
        self.assertEqual(self.get("/v1/projects/AA/AA-01", token).status, 200)
        self.assertEqual(self.get("/v1/projects/BB/BB-02", token).status, 403)
        self.assertEqual(self.get("/v1/projects/BB/NOPE", token).status, 403)
        self.assertEqual({k[0] for k in self.keys("/v1/projects", token=token)}, {"AA"})
        self.assertEqual({k[0] for k in self.keys("/v1/projects?sort=title&q=gestion",
                                                   token=token)}, {"AA"})
        self.assertEqual({a["buyer"] for a in self.walk("/v1/awards", token=token)},
                         {"AA"})
        self.assertEqual({b["agency"] for b in self.walk("/v1/budget", token=token)},
                         {"AA"})
        for path in ("/v1/projects?agency=BB", "/v1/awards?buyer=BB",
                     "/v1/awards?agency=BB", "/v1/budget?agency=BB"):
            self.assertEqual(self.get(path, token).status, 403, path)
        self.assertEqual(self.get("/v1/awards?buyer=AA", token).status, 200)

    # --- CSV -----------------------------------------------------------------------

    def test_csv_with_filters_and_its_file_name(self):
        csv_accept = "text/csv"
        for path, name, key in (
                ("/v1/projects?status=in_progress&sort=title", "projects", "id"),
                ("/v1/awards?classification=4321", "awards", "award_id"),
                ("/v1/budget?agency=AA&phase=approved", "budget", "id")):
            r = self.get(path, accept=csv_accept)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers["Content-Type"], "text/csv; charset=utf-8")
            self.assertEqual(r.headers["Content-Disposition"],
                             'attachment; filename="ictmon-%s.csv"' % name)
            rows = list(csv.DictReader(io.StringIO(r.body.decode("utf-8"), newline="")))
            items = self.walk(path)
            self.assertEqual([row[key] for row in rows], [str(i[key]) for i in items])
            self.assertGreater(len(rows), 0)
        # JSON has none.
        self.assertIsNone(self.get("/v1/projects").headers.get("Content-Disposition"))
        # A CSV page with a next page keeps the filters in its Link.
        r = self.get("/v1/projects?status=in_progress&sort=title&limit=2", accept="text/csv")
        self.assertIn("status=in_progress", r.headers["Link"])
        self.assertIn("sort=title", r.headers["Link"])


class PagesWhileDataChanges(ReadCase):
    """Keyset pages over rows that change under the walk: rows added anywhere in the
    order, and other rows' non-key fields rewritten between pages."""

    agencies = ("AA", "BB")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.before = [project("P-%02d" % i, agency=AGENCIES[i % 2],
                              title="%s %02d" % (WORDS[i % len(WORDS)], i),
                              planned_cost=str(100 * (i % 5)), currency="CLP")
                      for i in range(20)]
        cls.push_setup("/v1/projects", {"projects": cls.before})

    def writer(self, go, stop, errors, round_no):
        """One push per page read: some rows changed, one added (at the end of the id
        order, anywhere in the title order). It runs while the next page is read."""
        n = 0
        while True:
            go.acquire()
            if stop.is_set():
                return
            n += 1
            changed = [dict(p, description="round %d change %d" % (round_no, n),
                            status=STATUSES[n % 5])
                       for p in self.before[n % 3::3]]
            added = [project("N-%d-%03d" % (round_no, n), agency="BB",
                             title="%s nuevo %d" % (WORDS[n % len(WORDS)], n))]
            r = self.d.post("/v1/projects", {"projects": changed + added},
                            headers={"Authorization": "Bearer " + self.analyst},
                            timeout=60)
            if r.status not in (200, 201):
                errors.append(r.body)

    def test_walks_see_every_existing_project_once(self):
        for round_no, sort in enumerate(("id", "title")):
            go, stop, errors, pages = threading.Semaphore(0), threading.Event(), [], [0]
            t = threading.Thread(target=self.writer, args=(go, stop, errors, round_no))
            t.start()

            def between():
                pages[0] += 1
                go.release()
            try:
                seen = self.keys("/v1/projects?sort=" + sort, limit=4, between=between)
            finally:
                stop.set()
                go.release()
                t.join()
            self.assertEqual(errors, [])
            self.assertGreaterEqual(pages[0], 5)
            existing = [("AA" if i % 2 == 0 else "BB", "P-%02d" % i) for i in range(20)]
            for k in existing:
                self.assertEqual(seen.count(k), 1, (sort, k))
            self.assertEqual(len(seen), len(set(seen)), sort)
            added = self.db.scalar("SELECT count(*) FROM project WHERE external_id"
                                   " LIKE 'N-%d-%%'" % round_no)
            self.assertGreater(int(added), 0)
            # Rows were changed while the walk went on.
            self.assertGreater(int(self.db.scalar(
                "SELECT count(*) FROM project WHERE description LIKE 'round %d %%'"
                % round_no)), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
