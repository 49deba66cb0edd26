"""The dashboard end to end, in Debian's headless Chromium against a real ictmond and
PostgreSQL: the demo's story (scripts/lib/story.py) pushed through the API and the
indicators run, then an analyst logs in through the form, opens the overview, follows
the biggest overlap to its evidence, opens an agency's scorecard, downloads the agencies
as one CSV file over several pages, searches the projects without accents, opens a
project, acknowledges an alert and sees it stick; an agency token gets the agency's view
without the analysts' actions. Every page must load without a console error, an uncaught
exception or a failed request, every form field has a label, and every page's screenshot
is kept as a test artifact (ICTMON_ARTIFACTS, else BUILD_DIR/test-artifacts/dashboard).
"""

import json
import os
import sys
import unittest

import harness
from browser import Browser

sys.path.insert(0, os.path.join(harness.SOURCE_DIR, "scripts", "lib"))
import story  # noqa: E402  (scripts/lib is not a package)

ARTIFACTS = os.environ.get("ICTMON_ARTIFACTS") or os.path.join(
    harness.BUILD_DIR, "test-artifacts", "dashboard")

# Fields without a label, and images or charts without a name, in the current view.
UNLABELLED = """(() => {
  const bad = [];
  for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea'))
    if (!(e.labels && e.labels.length) && !e.getAttribute('aria-label')
        && !e.getAttribute('aria-labelledby'))
      bad.push(e.outerHTML.slice(0, 120));
  for (const e of document.querySelectorAll('svg, img'))
    if (e.closest('[aria-hidden=true]') === null && !e.getAttribute('aria-label')
        && !e.getAttribute('aria-labelledby') && !e.getAttribute('alt')
        && !e.querySelector(':scope > title'))
      bad.push(e.outerHTML.slice(0, 120));
  return bad;
})()"""


class DashboardCase(harness.DatabaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.import_agencies()
        cls.analyst = cls.token("--role", "analyst", "--name", "e2e")
        d = harness.Daemon(db=cls.db, settings={
            "http.web_root": os.path.join(harness.SOURCE_DIR, "web")})
        cls.d = d.start(wait="ready")
        cls.addClassCleanup(d.close)
        for buyer, agency in story.buyer_aliases():
            rc, out, err = harness.ctl("agency", "alias", agency, buyer, db=cls.db)
            if rc != 0:
                raise AssertionError("agency alias failed: " + err)
        cls.planted = story.push(d.base_url, cls.analyst)
        rc, out, err = harness.ctl("indicators", "run", db=cls.db)
        if rc != 0:
            raise AssertionError("indicators run failed: " + err)
        overlap = cls.planted["overlaps"][0]
        cls.agency = overlap["agencies"][0]
        cls.agency_token = cls.token("--role", "agency", "--agency", cls.agency,
                                     "--name", "e2e-agency")
        os.makedirs(ARTIFACTS, exist_ok=True)

    def setUp(self):
        self.browser = Browser()
        self.addCleanup(self.browser.close)

    def api(self, path, token=None):
        r = self.d.get(path, headers={"Authorization": "Bearer " + (token or self.analyst)})
        self.assertEqual(r.status, 200, path)
        return json.loads(r.body)

    def page(self, view, shot):
        """Waits for `view`, checks it, and keeps its screenshot as `shot`.png."""
        b = self.browser
        b.wait_view(view)
        b.drain()
        self.assertEqual(b.evaluate(UNLABELLED), [], view + ": unlabelled fields or images")
        b.screenshot(os.path.join(ARTIFACTS, shot + ".png"))
        self.assertEqual(b.problems, [], view + ": console errors or failed requests")

    def login(self, token):
        b = self.browser
        b.open(self.d.base_url + "/")
        self.page("login", "login")
        b.type("input#token", token)
        b.click("form#login [type=submit]")

    def test_analyst_follows_an_overlap_and_acknowledges_an_alert(self):
        b = self.browser
        self.login(self.analyst)
        self.page("overview", "overview")
        self.assertIn("analyst", b.text("#whoami"))

        # The biggest overlap on the overview is the one the API ranks first.
        first = self.api("/v1/portfolio")["overlaps"][0]
        link = "section#overview-overlaps a[href^='#/overlaps/']"
        self.assertGreater(b.count(link), 0)
        self.assertEqual(b.evaluate("document.querySelector(%s).getAttribute('href')"
                                    % json.dumps(link)), "#/overlaps/%d" % first["id"])
        b.click(link)
        self.page("overlap", "overlap")
        rows = self.api("/v1/overlaps/%d" % first["id"])["rows"]
        rows = rows["awards"] + rows["tenders"] + rows["projects"]
        self.assertEqual(b.count("table#evidence tbody tr"), len(rows))
        evidence = b.text("table#evidence")
        for row in rows:
            self.assertIn(row.get("ocid") or row.get("title"), evidence)

        # A planted overlap's awards are all there.
        planted = self.planted["overlaps"][0]
        found = [o for o in self.api("/v1/overlaps?limit=100")["items"]
                 if set(planted["agencies"]) <= set(o["agencies"])]
        self.assertTrue(found, "the planted overlap was not found")

        for route, view in (("#/agencies", "agencies"),
                            ("#/agencies/" + self.agency, "agency"),
                            ("#/overlaps", "overlaps")):
            b.open(self.d.base_url + "/" + route)
            self.page(view, view)

        # The agencies as one CSV file: every page of the list, one header row.
        agencies = harness.walk_pages(lambda url: self.d.get(url, headers={
            "Authorization": "Bearer " + self.analyst}), "/v1/agencies", 100)[0]
        self.assertGreater(len(agencies), 100, "the CSV should span pages")
        b.open(self.d.base_url + "/#/agencies")
        b.wait_view("agencies")
        b.evaluate("URL.createObjectURL = (blob) => { window.csvBlob = blob; return '#'; };"
                   " HTMLAnchorElement.prototype.click = function () {}; true")
        b.click("main#view .list-tools button")
        csv = b.wait("window.csvBlob && window.csvBlob.text()", what="the CSV download")
        lines = csv.split("\r\n")
        self.assertEqual(lines[-1], "")
        self.assertEqual(len(lines) - 2, len(agencies))
        self.assertTrue(lines[0].startswith("code,"), lines[0])

        # A search without accents finds the planted document management platforms.
        b.open(self.d.base_url + "/#/projects")
        self.page("projects", "projects")
        b.type("input[name=q]", "gestion documental")
        b.click("form.filters [type=submit]")
        b.wait("location.hash.includes('q=')", what="the search in the address")
        self.page("projects", "projects-search")
        found = self.api("/v1/projects?q=gestion%20documental")["items"]
        self.assertGreaterEqual(len(found), 3)
        self.assertEqual(b.count("table#projects tbody tr"), len(found))

        project = self.api("/v1/projects?agency=%s&sort=-planned_cost&limit=1"
                           % self.agency)["items"][0]
        b.open(self.d.base_url + "/#/projects/%s/%s" % (project["agency"], project["id"]))
        self.page("project", "project")
        self.assertIn(project["title"], b.text("main#view"))

        # Acknowledge the first firing alert from its page; the API agrees.
        b.open(self.d.base_url + "/#/alerts")
        self.page("alerts", "alerts")
        alert = self.api("/v1/alerts?state=firing&acked=false&limit=1")["items"][0]
        b.open(self.d.base_url + "/#/alerts/%d" % alert["id"])
        self.page("alert", "alert")
        b.click("button#ack")
        b.wait("document.querySelector('#alert-state')"
               " && /acknowledged/i.test(document.querySelector('#alert-state').textContent)",
               what="the alert shown acknowledged")
        self.page("alert", "alert-acknowledged")
        self.assertTrue(self.api("/v1/alerts/%d" % alert["id"])["acked"])

        b.click("button#logout")
        self.page("login", "logged-out")
        self.assertIsNone(b.evaluate("sessionStorage.getItem('ictmon.token')"))

    def test_agency_token_sees_its_agency(self):
        b = self.browser
        self.login(self.agency_token)
        self.page("overview", "agency-overview")
        self.assertIn(self.agency, b.text("#whoami"))
        alert = self.api("/v1/alerts?agency=%s&limit=1" % self.agency,
                         token=self.agency_token)["items"][0]
        b.open(self.d.base_url + "/#/alerts/%d" % alert["id"])
        self.page("alert", "agency-alert")
        self.assertEqual(b.count("button#ack, button#unack, form#silence"), 0,
                         "an agency token is offered the analysts' actions")


if __name__ == "__main__":
    unittest.main()
