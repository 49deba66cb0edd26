"""The authorization matrix: every route of the API (daemon/openapi.json) with every
kind of caller, on a resource of the caller's own agency and of another, against the
status it must get. A route added without its row here fails the test."""

import json
import os
import unittest

import harness
from indicator_case import IndicatorCase, award, release

OWN, OTHER = "AA", "AB"
OPENAPI = os.path.join(harness.SOURCE_DIR, "daemon", "openapi.json")
CALLERS = ("none", "bad", "revoked", "expired", "agency", "analyst", "admin")

# What a caller without a valid token gets on a route that needs one.
NO = {"none": 401, "bad": 401, "revoked": 401, "expired": 401}


def row(agency, analyst, admin=None):
    """A route's statuses: the token-less callers get 401; `agency` is an agency token
    of OWN, on OWN's resource; analysts and admins as given."""
    return dict(NO, agency=agency, analyst=analyst, admin=admin or analyst)


def public(status=200):
    return {c: status for c in CALLERS}


# (method, path as requested) -> {caller: status}. {own}/{other} name the agencies,
# {own_project}/{other_project} their projects, {overlap} and {alert} an overlap OWN
# is not in and its alert. "#other": the body is the other agency's data. An agency
# token asking for an overlap it is not in gets 403, for such an alert 404 (the alert
# list answers as if it did not exist); another agency's scorecard is 403.
MATRIX = {
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("GET", "/metrics"): public(),
    ("GET", "/v1/openapi.json"): public(),
    ("GET", "/index.html"): public(),
    ("POST", "/v1/projects"): row(201, 201),
    ("POST", "/v1/projects#other"): row(403, 201),
    ("GET", "/v1/projects"): row(200, 200),
    ("GET", "/v1/projects?agency={own}"): row(200, 200),
    ("GET", "/v1/projects?agency={other}"): row(403, 200),
    ("GET", "/v1/projects/{own}/{own_project}"): row(200, 200),
    ("GET", "/v1/projects/{other}/{other_project}"): row(403, 200),
    ("POST", "/v1/procurement"): row(201, 201),
    ("POST", "/v1/procurement#other"): row(403, 201),
    ("GET", "/v1/awards"): row(200, 200),
    ("GET", "/v1/awards?buyer={other}"): row(403, 200),
    ("POST", "/v1/budget"): row(201, 201),
    ("POST", "/v1/budget#other"): row(403, 201),
    ("GET", "/v1/budget"): row(200, 200),
    ("GET", "/v1/budget?agency={other}"): row(403, 200),
    ("GET", "/v1/feeds"): row(403, 200),
    ("GET", "/v1/feeds/nofeed"): row(403, 404),
    ("POST", "/v1/feeds/nofeed/run"): row(403, 404),
    ("GET", "/v1/indicators"): row(200, 200),
    ("GET", "/v1/indicators/catalogue"): row(200, 200),
    ("GET", "/v1/indicators/runs"): row(403, 200),
    ("GET", "/v1/overlaps"): row(200, 200),
    ("GET", "/v1/overlaps/{overlap}"): row(403, 200),
    ("GET", "/v1/session"): row(200, 200),
    ("GET", "/v1/portfolio"): row(200, 200),
    ("GET", "/v1/agencies"): row(200, 200),
    ("GET", "/v1/agencies/{own}/scorecard"): row(200, 200),
    ("GET", "/v1/agencies/{other}/scorecard"): row(403, 200),
    ("GET", "/v1/alerts"): row(200, 200),
    ("GET", "/v1/alerts/{alert}"): row(404, 200),
    ("POST", "/v1/alerts/{alert}/ack"): row(403, 200),
    ("POST", "/v1/alerts/{alert}/unack"): row(403, 200),
    ("GET", "/v1/silences"): row(403, 200),
    ("POST", "/v1/silences"): row(403, 201),
    ("GET", "/v1/silences/{silence}"): row(403, 200),
    ("DELETE", "/v1/silences/{silence}"): row(403, 204),
    ("GET", "/v1/outbox"): row(403, 200),
}


def project(pid, agency):
    return {"id": pid, "agency": agency, "title": "Plataforma " + pid, "status": "planned"}


class AuthorizationMatrix(IndicatorCase):

    agencies = (OWN, OTHER, "AC", "AD")
    pushes = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokens = {
            "none": None,
            "bad": "ictm_" + "A" * 43,
            "revoked": cls.token("--role", "analyst", "--name", "revoked"),
            "expired": cls.token("--role", "analyst", "--name", "expired",
                                 "--expires-in", "1"),
            "agency": cls.token("--role", "agency", "--agency", OWN),
            "analyst": cls.analyst,
            "admin": cls.token("--role", "admin", "--name", "admin"),
        }
        cls.db.query("UPDATE api_token SET revoked_at = now() WHERE name = 'revoked'")
        cls.db.query("UPDATE api_token SET created_at = now() - interval '2 days',"
                     " expires_at = now() - interval '1 hour'"
                     " WHERE name = 'expired'")
        for agency in (OWN, OTHER):
            cls.push_setup("/v1/projects", {"projects": [project("AUTHZ-" + agency, agency)]})
        # an overlap of three other agencies (OWN not among them) and its alert
        cls.push_setup("/v1/procurement", {"releases": [
            release("ocds-authz-%d" % i, buyer, [award("a1", 5000, cls="43231501",
                                                       date="2024-01-1%dT12:00:00Z" % i,
                                                       suppliers=("S-" + buyer,))])
            for i, buyer in enumerate((OTHER, "AC", "AD"))]})
        rc, out, err = harness.ctl("-s", "indicators.ovl_spend.min_total=1000",
                                   "indicators", "run", "OVL-SPEND", db=cls.db)
        assert rc == 0, out + err
        analyst = {"Authorization": "Bearer " + cls.analyst}
        cls.overlap = cls.d.get("/v1/overlaps", headers=analyst).json["items"][0]["id"]
        cls.alert = cls.d.get("/v1/alerts", headers=analyst).json["items"][0]["id"]
        r = cls.d.post("/v1/silences", {"rule": "overlap", "reason": "matrix",
                                        "author": "test", "duration": "1h"},
                       headers=analyst)
        assert r.status == 201, r.body
        cls.silence = r.json["id"]

    def concrete(self, path):
        return (path.split("#")[0].format(
            own=OWN, other=OTHER, own_project="AUTHZ-" + OWN,
            other_project="AUTHZ-" + OTHER, overlap=self.overlap, alert=self.alert,
            silence=self.silence))

    def prepare(self, method, path):
        """Puts back what the previous caller changed, so that each meets the same
        state: an unacknowledged alert before an ack, an acknowledged one before an
        unack, a silence of its own."""
        if path.endswith("/ack"):
            self.db.query("UPDATE alert SET acked_by = NULL, acked_at = NULL,"
                          " ack_comment = NULL WHERE id = :'id'", id=self.alert)
        elif path.endswith("/unack"):
            self.db.query("UPDATE alert SET acked_by = 'matrix', acked_at = now()"
                          " WHERE id = :'id'", id=self.alert)
        elif path == "/v1/silences/{silence}":
            r = self.d.post("/v1/silences", self.body("POST", "/v1/silences"),
                            headers={"Authorization": "Bearer " + self.analyst})
            self.assertEqual(r.status, 201, r.body)
            type(self).silence = r.json["id"]

    def body(self, method, path):
        agency = OTHER if path.endswith("#other") else OWN
        base = path.split("?")[0].split("#")[0]
        type(self).pushes += 1
        if base == "/v1/projects":
            return {"projects": [project("AUTHZ-NEW-%d" % self.pushes, agency)]}
        if base == "/v1/budget":
            return {"lines": [{"agency": agency, "fiscal_year": 2026, "program": "01",
                               "subtitulo": 29, "item": self.pushes % 99 + 1,
                               "phase": "approved",
                               "amount": "1", "currency": "CLP"}]}
        if base == "/v1/procurement":
            # IndicatorCase maps each agency to the OCDS buyer of its code
            return {"releases": [{"ocid": "ocds-authz-new-%d" % self.pushes, "id": "1",
                                  "date": "2026-01-02T00:00:00Z", "tag": ["tender"],
                                  "buyer": {"id": agency}}]}
        if base == "/v1/silences":
            return {"rule": "overlap", "reason": "matrix", "author": "test", "duration": "1h"}
        if base.endswith("/ack"):
            return {"comment": "matrix"}
        if method == "POST":
            return {}
        return None

    def call(self, caller, method, path):
        self.prepare(method, path)
        headers = {}
        if self.tokens[caller] is not None:
            headers["Authorization"] = "Bearer " + self.tokens[caller]
        body = self.body(method, path)
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        return self.d.request(method, self.concrete(path), body=body, headers=headers).status

    def test_every_route_has_a_row(self):
        with open(OPENAPI) as f:
            paths = json.load(f)["paths"]
        have = {(m, p.split("?")[0].split("#")[0]) for m, p in MATRIX}
        templates = {(m, self.template(p)) for m, p in have}
        missing = []
        for path, item in paths.items():
            for method in item:
                if method in ("get", "post", "delete", "put", "patch"):
                    if path == "/{path}":
                        continue
                    if (method.upper(), path) not in templates:
                        missing.append("%s %s" % (method.upper(), path))
        self.assertEqual(missing, [], "routes without a row in the matrix")

    @staticmethod
    def template(path):
        return (path.replace("{own}", "{agency}").replace("{other}", "{agency}")
                .replace("{own_project}", "{id}").replace("{other_project}", "{id}")
                .replace("{overlap}", "{id}").replace("{alert}", "{id}")
                .replace("{silence}", "{id}").replace("/nofeed", "/{name}")
                .replace("/v1/agencies/{agency}", "/v1/agencies/{code}"))

    def test_matrix(self):
        wrong = []
        # the analyst's and admin's writes last: a DELETE or an ack changes what follows
        order = sorted(MATRIX, key=lambda k: (k[0] in ("DELETE", "POST"), k))
        for key in order:
            method, path = key
            for caller in CALLERS:
                want = MATRIX[key][caller]
                got = self.call(caller, method, path)
                if got != want:
                    wrong.append("%-6s %-40s %-8s want %d got %d"
                                 % (method, path, caller, want, got))
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))


if __name__ == "__main__":
    unittest.main()
