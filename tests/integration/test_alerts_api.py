"""The alerts API and ictmonctl's alert commands (issue 6) against a real PostgreSQL.
Alerts, their history and their emails are planted with SQL, as ictmon_alerts_apply and
the mailer would leave them: lists with their filters and keyset pages (nothing lost,
nothing repeated), an agency token's view, acknowledgements and why one is refused,
silences created, listed and ended and every refusal with its JSON pointer, a dead
email found in the outbox; then recipients, alerts and silences through ictmonctl.

A bad address given to `ictmonctl recipient add` is a usage error (exit 2): the command
line is wrong, as with any other malformed argument."""

import datetime
import json
import re
import unittest

import harness

AGENCY_A, AGENCY_B, AGENCY_C = "AL01", "AL02", "AL03"
PUBLIC_URL = "https://ictmon.example.gov/"
BULK = 23  # low ovl-tender alerts, for pages
TIME_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"


def add_agencies(db):
    for code in (AGENCY_A, AGENCY_B, AGENCY_C):
        rc, out, err = harness.ctl("agency", "add", code, "Alert agency " + code, db=db)
        if rc != 0:
            raise AssertionError("agency add failed: " + err)


def plant(db):
    """Alerts of every kind the API must show, by fingerprint: their ids by name."""
    db.query("""
        CREATE TEMP TABLE ids AS SELECT
            (SELECT id FROM agency WHERE code = :'a') AS a,
            (SELECT id FROM agency WHERE code = :'b') AS b,
            (SELECT id FROM agency WHERE code = :'c') AS c;
        INSERT INTO alert (fingerprint, rule, indicator, agency_id, agencies, severity,
            state, subject, summary, evidence, value, band, amount, currency,
            resolved_at, acked_by, acked_at, ack_comment)
        SELECT x.* FROM ids, LATERAL (VALUES
            ('ovl-spend:432332', 'ovl-spend', 'OVL-SPEND', NULL::bigint,
             ARRAY[a, b, c], 'high', 'firing', 'UNSPSC 432332 · 3 agencies',
             '3 agencies bought UNSPSC 432332 software, CLP 812,400,000.50 in 90 days',
             '{"summary": "3 agencies", "total": 812400000.50, "rows": [1, 2]}'::jsonb,
             812400000.50::numeric, 'high', 812400000.50::numeric, 'CLP',
             NULL::timestamptz, NULL, NULL::timestamptz, NULL),
            ('split:a', 'split', 'SPLIT', a, ARRAY[a], 'medium', 'firing',
             'buyer AL01', 'split awards', '{}', 45000000, 'medium', 45000000, 'CLP',
             NULL, NULL, NULL, NULL),
            ('cv-high:b', 'cv-high', 'CV', b, ARRAY[b], 'high', 'resolved',
             'project AL02/P1', 'cost variance', '{}', -35.5, 'high', NULL, NULL,
             now(), NULL, NULL, NULL),
            ('dup-project:bc', 'dup-project', 'DUP-PROJECT', NULL, ARRAY[b, c], 'low',
             'firing', 'projects AL02/P2, AL03/P3', 'duplicate ERP', '{}', 0.8, 'low',
             300000000, 'CLP', NULL, 'someone', now() - interval '1 hour', 'on it'),
            ('budget-overrun:c', 'budget-overrun', 'BUDGET-EXEC', c, ARRAY[c], 'high',
             'firing', 'agency AL03 · 2025', 'overrun', '{}', 112, 'high', 1000000,
             'CLP', NULL, NULL, NULL, NULL),
            ('feed-stale:c', 'feed-stale', 'FEED-STALE', c, ARRAY[c], 'medium',
             'firing', 'agency AL03', 'no data for 9 days', '{}', 9, 'medium', NULL,
             NULL, NULL, NULL, NULL, NULL),
            ('split:ack', 'split', 'SPLIT', a, ARRAY[a], 'medium', 'firing',
             'buyer AL01 again', 'to be acknowledged', '{}', 1, 'medium', 1, 'CLP',
             NULL, NULL, NULL, NULL),
            ('split:nameless', 'split', 'SPLIT', a, ARRAY[a], 'low', 'firing',
             'buyer AL01 third', 'acknowledged by a nameless token', '{}', 1, 'low', 1,
             'CLP', NULL, NULL, NULL, NULL),
            ('cv-high:ctl', 'cv-high', 'CV', b, ARRAY[b], 'high', 'firing',
             'project AL02/P9', 'for ictmonctl', '{}', 40, 'high', NULL, NULL,
             NULL, NULL, NULL, NULL)) AS x;
        INSERT INTO alert (fingerprint, rule, indicator, agency_id, agencies, severity,
            subject, summary, band)
        SELECT 'ovl-tender:' || i, 'ovl-tender', 'OVL-TENDER',
            CASE WHEN i % 2 = 0 THEN a ELSE b END,
            ARRAY[CASE WHEN i % 2 = 0 THEN a ELSE b END], 'low', 'tender ' || i,
            'tender overlap ' || i, 'low'
        FROM ids, generate_series(1, :bulk) AS i;
        INSERT INTO alert_event (alert_id, kind, detail)
        SELECT id, 'fired', '{"run_id": 7}' FROM alert WHERE fingerprint = 'ovl-spend:432332';
        INSERT INTO recipient (email, name) VALUES ('dead@example.gov', 'Dead Letter'),
            ('fine@example.gov', NULL);
        INSERT INTO outbox (recipient_id, group_key, kind, message_id, subject, state,
            attempts, last_error, message, rendered_at, alerts, sent_at)
        VALUES ((SELECT id FROM recipient WHERE email = 'dead@example.gov'),
            'ovl-spend/-', 'alert', '<dead-1@ictmon>', 'Spending overlap: 3 agencies',
            'dead', 10, '550 5.1.1 mailbox unavailable', 'From: x', now(), 1, NULL),
            ((SELECT id FROM recipient WHERE email = 'fine@example.gov'),
            'ovl-spend/-', 'alert', '<sent-1@ictmon>', 'Spending overlap: 3 agencies',
            'sent', 1, NULL, 'From: x', now(), 1, now());
        INSERT INTO outbox_alert (outbox_id, alert_id, change)
        SELECT o.id, a.id, 'new' FROM outbox o, alert a
        WHERE a.fingerprint = 'ovl-spend:432332';
    """, a=AGENCY_A, b=AGENCY_B, c=AGENCY_C, bulk=str(BULK))
    return dict(db.query("SELECT fingerprint, id FROM alert"))


def utc(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class AlertsApi(harness.DatabaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_agencies(cls.db)
        cls.analyst = cls.token("--role", "analyst", "--name", "ana")
        cls.nameless = cls.token("--role", "analyst")
        cls.nameless_id = cls.db.scalar("SELECT max(id) FROM api_token")
        cls.token_a = cls.token("--role", "agency", "--agency", AGENCY_A)
        cls.token_b = cls.token("--role", "agency", "--agency", AGENCY_B)
        cls.ids = plant(cls.db)
        # public_url belongs to no section: on the command line, not in the file.
        cls.d = harness.Daemon(db=cls.db, settings={"api.rate_limit": "0",
                                                    "indicators.period": "0"},
                               overrides=["public_url=" + PUBLIC_URL])
        cls.addClassCleanup(cls.d.close)
        cls.d.start(wait="ready")

    def auth(self, token=None):
        return {"Authorization": "Bearer " + (token or self.analyst)}

    def get(self, path, token=None):
        return self.d.get(path, headers=self.auth(token))

    def post(self, path, body, token=None, content_type="application/json"):
        return self.d.post(path, body, headers=self.auth(token),
                           content_type=content_type)

    def delete(self, path, token=None):
        return self.d.request("DELETE", path, headers=self.auth(token))

    def walk(self, path, limit, token=None):
        return harness.walk_pages(lambda url: self.get(url, token), path, limit)[0]

    def alert(self, name, token=None):
        r = self.get("/v1/alerts/" + self.ids[name], token)
        self.assertEqual(r.status, 200, r.body)
        return r.json

    def pointers(self, r):
        self.assertEqual(r.status, 422, r.body)
        self.assertEqual(r.json["error"]["code"], "invalid_records")
        return sorted(d["pointer"] for d in r.json["error"]["details"])

    # --- lists ---------------------------------------------------------------------

    def test_items_carry_every_field(self):
        items = {i["fingerprint"]: i for i in self.walk("/v1/alerts", 1000)}
        self.assertEqual(len(items), len(self.ids))
        one = items["ovl-spend:432332"]
        for key in ("id", "rule", "indicator", "severity", "state", "agency", "agencies",
                    "subject", "summary", "value", "band", "amount", "currency",
                    "first_seen", "last_seen", "fired_at", "resolved_at", "last_change",
                    "acked", "suppressed", "link"):
            self.assertIn(key, one)
        self.assertEqual(str(one["id"]), self.ids["ovl-spend:432332"])
        self.assertEqual((one["rule"], one["indicator"], one["severity"], one["state"]),
                         ("ovl-spend", "OVL-SPEND", "high", "firing"))
        self.assertIsNone(one["agency"])
        self.assertEqual(one["agencies"], [AGENCY_A, AGENCY_B, AGENCY_C])
        # Exact decimals, as strings: never through a double.
        self.assertEqual(one["amount"], "812400000.50")
        self.assertEqual(one["value"], "812400000.50")
        self.assertEqual(one["currency"], "CLP")
        self.assertEqual(one["subject"], "UNSPSC 432332 · 3 agencies")
        self.assertEqual(one["link"], "https://ictmon.example.gov/#/alerts/%d" % one["id"])
        self.assertIsNone(one["acked"])
        self.assertIs(one["suppressed"], False)
        self.assertIsNone(one["resolved_at"])
        for key in ("first_seen", "last_seen", "fired_at"):
            self.assertRegex(one[key], TIME_RE)
        self.assertNotIn("evidence", one)
        acked = items["dup-project:bc"]["acked"]
        self.assertEqual((acked["by"], acked["comment"]), ("someone", "on it"))
        self.assertRegex(acked["at"], TIME_RE)
        self.assertIs(items["dup-project:bc"]["suppressed"], True)  # acknowledged
        self.assertRegex(items["cv-high:b"]["resolved_at"], TIME_RE)
        # A firing FEED-STALE of its agency holds back an alert's emails.
        self.assertIs(items["budget-overrun:c"]["suppressed"], True)
        self.assertIs(items["feed-stale:c"]["suppressed"], False)
        self.assertEqual(items["split:a"]["agency"], AGENCY_A)

    def test_newest_first_in_pages_that_lose_and_repeat_nothing(self):
        everything = self.walk("/v1/alerts", 1000)
        ids = [i["id"] for i in everything]
        self.assertEqual(ids, sorted(ids, reverse=True))
        for limit in (1, 3, 7):
            self.assertEqual(self.walk("/v1/alerts", limit), everything, limit)
        low = self.walk("/v1/alerts?severity=low", 1000)
        self.assertEqual(self.walk("/v1/alerts?severity=low", 4), low)
        self.assertEqual(len(low), BULK + 2)
        r = self.get("/v1/alerts?limit=2")
        self.assertEqual(len(r.json["items"]), 2)
        # A cursor of another list is refused.
        self.post("/v1/silences", {"rule": "nope", "reason": "cursor", "duration": "1m"})
        self.post("/v1/silences", {"rule": "nope", "reason": "cursor", "duration": "1m"})
        other = self.get("/v1/silences?limit=1").json["next"]
        self.assertIsNotNone(other)
        self.assertEqual(self.get("/v1/alerts?after=" + other).status, 400)

    def test_filters(self):
        def fingerprints(query):
            return sorted(i["fingerprint"] for i in self.walk("/v1/alerts?" + query, 1000))

        self.assertEqual(fingerprints("state=resolved"), ["cv-high:b"])
        self.assertNotIn("cv-high:b", fingerprints("state=firing"))
        self.assertEqual(fingerprints("rule=split&severity=medium"),
                         ["split:a", "split:ack"])
        high = fingerprints("severity=high")
        self.assertEqual(high, sorted(["ovl-spend:432332", "cv-high:b",
                                       "budget-overrun:c", "cv-high:ctl"]))
        # An agency's alerts: its own, and those it is one of the agencies of.
        of_c = fingerprints("agency=" + AGENCY_C)
        self.assertEqual(of_c, sorted(["ovl-spend:432332", "dup-project:bc",
                                       "budget-overrun:c", "feed-stale:c"]))
        self.assertEqual(fingerprints("acked=true&agency=" + AGENCY_C),
                         ["dup-project:bc"])
        self.assertNotIn("dup-project:bc", fingerprints("acked=false"))
        self.assertEqual(fingerprints("agency=ZZ99"), [])
        self.assertEqual(fingerprints("rule=no-such-rule"), [])
        for bad in ("state=open", "severity=huge", "acked=yes", "rule=OVL%20SPEND",
                    "rule=" + "x" * 65, "agency=bad%20code", "limit=0", "after=zzz"):
            r = self.get("/v1/alerts?" + bad)
            self.assertEqual(r.status, 400, bad)
            self.assertEqual(r.json["error"]["code"], "bad_request")

    def acked(self, name):
        return self.db.scalar("SELECT acked_at IS NOT NULL FROM alert "
                              "WHERE fingerprint = :'f'", f=name) == "t"

    # --- one alert, and who sees it ---------------------------------------------------

    def test_one_alert_with_evidence_history_and_emails(self):
        one = self.alert("ovl-spend:432332")
        self.assertEqual(one["evidence"], {"summary": "3 agencies",
                                           "total": 812400000.50, "rows": [1, 2]})
        # The evidence's numbers as stored, not as a double would print them.
        raw = self.get("/v1/alerts/" + self.ids["ovl-spend:432332"]).body.decode()
        self.assertIn("812400000.50", raw)
        self.assertEqual([(e["kind"], e["detail"]) for e in one["events"]],
                         [("fired", {"run_id": 7})])
        emails = {e["recipient"]: e for e in one["emails"]}
        self.assertEqual(sorted(emails), ["dead@example.gov", "fine@example.gov"])
        dead = emails["dead@example.gov"]
        self.assertEqual((dead["state"], dead["attempts"], dead["kind"], dead["change"]),
                         ("dead", 10, "alert", "new"))
        self.assertEqual(dead["last_error"], "550 5.1.1 mailbox unavailable")
        self.assertIsNone(dead["sent_at"])
        self.assertRegex(emails["fine@example.gov"]["sent_at"], TIME_RE)
        self.assertEqual(self.get("/v1/alerts/999999").status, 404)
        self.assertEqual(self.get("/v1/alerts/abc").status, 404)
        self.assertEqual(self.get("/v1/alerts/0").status, 404)

    def test_agency_tokens_see_only_what_involves_their_agency(self):
        of_b = self.walk("/v1/alerts", 5, self.token_b)
        self.assertTrue(of_b)
        for item in of_b:
            self.assertTrue(item["agency"] == AGENCY_B or AGENCY_B in item["agencies"],
                            item)
        self.assertEqual(len(of_b), len([1 for i in self.walk("/v1/alerts", 1000)
                                         if AGENCY_B in i["agencies"]]))
        self.assertEqual(self.get("/v1/alerts?agency=" + AGENCY_A, self.token_b).status,
                         403)
        self.assertEqual(self.get("/v1/alerts?agency=" + AGENCY_B, self.token_b).status,
                         200)
        # Another agency's alert does not exist for it; one it is part of does.
        self.assertEqual(self.get("/v1/alerts/" + self.ids["split:a"],
                                  self.token_b).status, 404)
        shared = self.alert("ovl-spend:432332", self.token_b)
        self.assertIn("evidence", shared)
        self.assertNotIn("emails", shared)  # who gets the mail is the analysts' business
        self.assertIn("emails", self.alert("ovl-spend:432332"))
        self.assertEqual(self.d.get("/v1/alerts").status, 401)
        # Agencies read; analysts act.
        for method, path, body in (
                ("POST", "/v1/alerts/%s/ack" % self.ids["split:a"], "{}"),
                ("POST", "/v1/alerts/%s/unack" % self.ids["split:a"], "{}"),
                ("GET", "/v1/silences", None),
                ("POST", "/v1/silences", "{}"),
                ("DELETE", "/v1/silences/1", None),
                ("GET", "/v1/outbox", None)):
            r = self.d.request(method, path, body, dict(self.auth(self.token_a), **{
                "Content-Type": "application/json"}))
            self.assertEqual(r.status, 403, (method, path))

    # --- acknowledgements -----------------------------------------------------------

    def test_ack_then_unack_and_why_either_is_refused(self):
        path = "/v1/alerts/%s/" % self.ids["split:ack"]
        r = self.post(path + "ack", {"comment": "seen: procurement unit asked"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["acked"]["by"], "ana")
        self.assertEqual(r.json["acked"]["comment"], "seen: procurement unit asked")
        self.assertIs(r.json["suppressed"], True)
        r = self.post(path + "ack", {"comment": "me too"})
        self.assertEqual(r.status, 409, r.body)
        self.assertEqual(r.json["error"]["code"], "conflict")
        self.assertIn("already acknowledged, by ana", r.json["error"]["message"])
        r = self.post(path + "unack", "")
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNone(r.json["acked"])
        self.assertIs(r.json["suppressed"], False)
        r = self.post(path + "unack", {})
        self.assertEqual(r.status, 409, r.body)
        self.assertIn("not acknowledged", r.json["error"]["message"])
        events = self.alert("split:ack")["events"]
        self.assertEqual([(e["kind"], e["actor"]) for e in events],
                         [("acked", "ana"), ("unacked", "ana")])
        self.assertEqual(events[0]["detail"], {"comment": "seen: procurement unit asked"})
        self.assertEqual(events[1]["detail"], {"acked_by": "ana",
                                               "comment": "seen: procurement unit asked"})
        # Only firing alerts are acknowledged.
        r = self.post("/v1/alerts/%s/ack" % self.ids["cv-high:b"], {})
        self.assertEqual(r.status, 409)
        self.assertIn("is resolved", r.json["error"]["message"])
        r = self.post("/v1/alerts/%s/unack" % self.ids["cv-high:b"], {})
        self.assertEqual(r.status, 409)
        self.assertEqual(self.post("/v1/alerts/999999/ack", {}).status, 404)
        self.assertEqual(self.post("/v1/alerts/999999/unack", {}).status, 404)
        self.assertEqual(self.post("/v1/alerts/x/ack", {}).status, 404)

    def test_a_token_without_name_acks_as_its_id(self):
        r = self.post("/v1/alerts/%s/ack" % self.ids["split:nameless"], "",
                      token=self.nameless)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["acked"], {"by": "token " + self.nameless_id,
                                           "at": r.json["acked"]["at"], "comment": None})

    def test_ack_bodies_are_checked(self):
        path = "/v1/alerts/%s/ack" % self.ids["split:a"]
        r = self.post(path, {"comment": "x" * 2001})
        self.assertEqual(self.pointers(r), ["/comment"])
        self.assertEqual(self.pointers(self.post(path, {"comment": 5})), ["/comment"])
        self.assertEqual(self.pointers(self.post(path, {"comment": "ok", "by": "me"})),
                         ["/by"])
        self.assertEqual(self.pointers(self.post(path.replace("/ack", "/unack"),
                                                 {"comment": "no"})), ["/comment"])
        r = self.post(path, '{"comment": ')
        self.assertEqual(r.status, 400)
        self.assertIn("malformed JSON at line 1", r.json["error"]["message"])
        self.assertEqual(self.post(path, "[1]").status, 400)
        r = self.post(path, '{"comment": "a", "comment": "b"}')
        self.assertEqual(r.status, 400)
        self.assertIn("duplicate", r.json["error"]["message"])
        self.assertEqual(self.post(path, "{}", content_type="text/plain").status, 415)
        self.assertFalse(self.acked("split:a"))

    # --- silences --------------------------------------------------------------------

    def test_silence_created_listed_and_ended(self):
        before = now()
        r = self.post("/v1/silences", {"rule": "split", "agency": AGENCY_A,
                                       "reason": "procurement is on it", "duration": "2h"})
        self.assertEqual(r.status, 201, r.body)
        s = r.json
        self.assertEqual(r.headers["Location"], "/v1/silences/%d" % s["id"])
        self.assertEqual((s["rule"], s["agency"], s["fingerprint"], s["author"],
                          s["reason"], s["ended_by"], s["active"], s["state"]),
                         ("split", AGENCY_A, None, "ana", "procurement is on it", None,
                          True, "active"))
        firing_splits = int(self.db.scalar(
            "SELECT count(*) FROM alert WHERE rule = 'split' AND state = 'firing'"))
        self.assertEqual(s["matching"], firing_splits)
        ends = utc(s["ends_at"])
        self.assertLess(abs((ends - before).total_seconds() - 7200), 60)
        self.assertIs(self.alert("split:a")["suppressed"], True)
        self.assertIn(s["id"], [x["id"] for x in self.walk("/v1/silences?active=true", 2)])
        self.assertNotIn(s["id"], [x["id"] for x in self.walk("/v1/silences?active=false",
                                                              100)])
        self.assertEqual(self.get("/v1/silences/%d" % s["id"]).json, s)

        r = self.delete("/v1/silences/%d" % s["id"])
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        ended = self.get("/v1/silences/%d" % s["id"]).json
        self.assertEqual((ended["active"], ended["state"], ended["ended_by"]),
                         (False, "expired", "ana"))
        self.assertIs(self.alert("split:a")["suppressed"], False)
        self.assertIn(s["id"], [x["id"] for x in self.walk("/v1/silences?active=false", 1)])
        r = self.delete("/v1/silences/%d" % s["id"])
        self.assertEqual(r.status, 409)
        self.assertIn("already ended", r.json["error"]["message"])
        self.assertEqual(self.delete("/v1/silences/999999").status, 404)
        self.assertEqual(self.get("/v1/silences/999999").status, 404)
        self.assertEqual(self.get("/v1/silences?active=maybe").status, 400)

    def test_a_silence_to_come_and_one_by_fingerprint(self):
        start = (now() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (now() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        r = self.post("/v1/silences", {"fingerprint": "ovl-spend:432332",
                                       "reason": "budget office informed",
                                       "author": "Ana María", "starts_at": start,
                                       "ends_at": end})
        self.assertEqual(r.status, 201, r.body)
        s = r.json
        self.assertEqual((s["author"], s["active"], s["state"], s["matching"]),
                         ("Ana María", False, "pending", 1))
        self.assertIs(self.alert("ovl-spend:432332")["suppressed"], False)
        # Ending one that has not begun is allowed: it never will.
        self.assertEqual(self.delete("/v1/silences/%d" % s["id"],
                                     token=self.nameless).status, 204)
        ended = self.get("/v1/silences/%d" % s["id"]).json
        self.assertEqual((ended["state"], ended["ended_by"]),
                         ("expired", "token " + self.nameless_id))

    def test_silence_refusals_point_at_their_fields(self):
        past = (now() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        far = (now() + datetime.timedelta(days=366)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ok = {"rule": "split", "reason": "r", "duration": "1h"}
        cases = [
            ({"reason": "r", "duration": "1h"}, [""]),
            ({}, ["", "/ends_at", "/reason"]),
            (dict(ok, duration=None, ends_at=past), ["/ends_at"]),
            (dict(ok, duration=None, ends_at=far), ["/ends_at"]),
            (dict(ok, duration=None, ends_at="tomorrow"), ["/ends_at"]),
            (dict(ok, duration=None), ["/ends_at"]),
            (dict(ok, duration="366d"), ["/duration"]),
            (dict(ok, duration="2w"), ["/duration"]),
            (dict(ok, ends_at=far), ["/duration"]),
            (dict(ok, reason=""), ["/reason"]),
            (dict(ok, reason="   "), ["/reason"]),
            (dict(ok, reason="x" * 2001), ["/reason"]),
            (dict(ok, reason=5), ["/reason"]),
            (dict(ok, rule="Split Awards"), ["/rule"]),
            (dict(ok, rule=["split"]), ["/rule"]),
            (dict(ok, agency="not a code"), ["/agency"]),
            (dict(ok, fingerprint="x" * 2001), ["/fingerprint"]),
            (dict(ok, author=""), ["/author"]),
            (dict(ok, author="x" * 129), ["/author"]),
            (dict(ok, starts_at="June", duration="1h"), ["/starts_at"]),
            (dict(ok, colour="red"), ["/colour"]),
            # Whether the agency exists is the database's to say.
            (dict(ok, agency="ZZ99"), ["/agency"]),
        ]
        before = self.db.scalar("SELECT count(*) FROM silence")
        for body, pointers in cases:
            r = self.post("/v1/silences", body)
            self.assertEqual(self.pointers(r), pointers, body)
            for d in r.json["error"]["details"]:
                self.assertTrue(d["message"], d)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM silence"), before)
        self.assertEqual(self.post("/v1/silences", "{").status, 400)
        self.assertEqual(self.post("/v1/silences", '"text"').status, 400)
        self.assertEqual(self.post("/v1/silences", "{}", content_type="text/csv").status,
                         415)

    # --- outbox ----------------------------------------------------------------------

    def test_dead_emails_are_found_in_the_outbox(self):
        dead = self.walk("/v1/outbox?state=dead", 10)
        self.assertEqual(len(dead), 1)
        row = dead[0]
        for key in ("id", "recipient", "group_key", "kind", "subject", "state", "attempts",
                    "next_attempt_at", "last_error", "alerts", "created_at",
                    "rendered_at", "sent_at"):
            self.assertIn(key, row)
        self.assertEqual((row["recipient"], row["state"], row["attempts"],
                          row["last_error"], row["group_key"], row["alerts"]),
                         ("dead@example.gov", "dead", 10, "550 5.1.1 mailbox unavailable",
                          "ovl-spend/-", 1))
        self.assertEqual(row["alert_ids"], [int(self.ids["ovl-spend:432332"])])
        everything = self.walk("/v1/outbox", 1000)
        self.assertEqual(self.walk("/v1/outbox", 1), everything)
        self.assertEqual(sorted(r["state"] for r in everything), ["dead", "sent"])
        self.assertEqual(self.walk("/v1/outbox?state=dropped", 10), [])
        self.assertEqual(self.get("/v1/outbox?state=lost").status, 400)


class CtlAlerts(harness.DatabaseTestCase):
    """ictmonctl's recipient and alerts commands."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_agencies(cls.db)
        cls.ids = plant(cls.db)

    def ok(self, *args, env=None):
        rc, out, err = self.ctl(*args, env=env)
        self.assertEqual(rc, 0, err)
        return out

    def fails(self, rc_expected, *args, env=None):
        rc, out, err = self.ctl(*args, env=env)
        self.assertEqual(rc, rc_expected, (args, out, err))
        self.assertEqual(out, "")
        return err

    def user_env(self, user):
        return dict(harness.pg_environment(self.db.env), USER=user)

    def test_recipients(self):
        out = self.ok("recipient", "add", "Finanzas@Example.gov", "--name",
                      "Unidad de Finanzas Pública", "--agency", AGENCY_A, "--agency",
                      AGENCY_B, "--agency", AGENCY_A, "--min-severity", "high",
                      "--digest", "daily", "--role", "budget-office")
        rid = out.strip()
        self.assertRegex(rid, r"^\d+$")
        row = self.db.query("SELECT name, role, min_severity, delivery, "
                            "(SELECT array_agg(g.code ORDER BY g.code) FROM agency g "
                            " WHERE g.id = ANY (r.agencies)), cardinality(agencies) "
                            "FROM recipient r WHERE id = :'id'", id=rid)[0]
        self.assertEqual(row, ("Unidad de Finanzas Pública", "budget-office", "high",
                               "daily", "{%s,%s}" % (AGENCY_A, AGENCY_B), "2"))
        # One subscription per address, whatever its case.
        err = self.fails(1, "recipient", "add", "finanzas@example.GOV")
        self.assertIn("finanzas@example.GOV is already a recipient (id %s)" % rid, err)
        all_id = self.ok("recipient", "add", "dipres@example.gov").strip()
        self.assertEqual(self.db.query(
            "SELECT role, min_severity, delivery, cardinality(agencies) FROM recipient "
            "WHERE id = :'id'", id=all_id)[0], ("finance", "medium", "immediate", "0"))

        lines = self.ok("recipient", "list").splitlines()
        self.assertEqual(lines[0].split(), ["id", "email", "name", "role", "agencies",
                                            "min_severity", "delivery"])
        mine = [l for l in lines if l.startswith(rid + " ")][0]
        self.assertIn("%s,%s" % (AGENCY_A, AGENCY_B), mine)
        self.assertIn("Unidad de Finanzas Pública", mine)
        self.assertRegex([l for l in lines if "dipres@" in l][0],
                         r"finance\s+all\s+medium\s+immediate$")

        for args in (("not-an-address",), ("a@b@example.gov",), ("x@example.gov",
                     "--min-severity", "urgent"), ("x@example.gov", "--digest", "weekly"),
                     ("x@example.gov", "--role", "Budget Office"),
                     ("x@example.gov", "--agency", "bad code")):
            self.fails(2, "recipient", "add", *args)
        err = self.fails(1, "recipient", "add", "x@example.gov", "--agency", "ZZ99")
        self.assertIn("no agency", err)
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM recipient WHERE email = 'x@example.gov'"), "0")

        self.assertIn("removed", self.ok("recipient", "remove", all_id))
        self.assertIn("no recipient", self.fails(1, "recipient", "remove", all_id))
        self.fails(2, "recipient", "remove", "abc")

    def test_alerts_list(self):
        def ids(*args, env=None):
            lines = self.ok("alerts", "list", *args, env=env).splitlines()
            self.assertEqual(lines[0].split(), ["id", "severity", "state", "rule",
                                                "agency", "acked", "summary"])
            return [l.split()[0] for l in lines[1:]]

        firing = ids()
        self.assertNotIn(self.ids["cv-high:b"], firing)
        self.assertEqual(firing, sorted(firing, key=int, reverse=True))
        everything = ids("--state", "all")
        self.assertEqual(sorted(everything, key=int), sorted(self.ids.values(), key=int))
        self.assertEqual(ids("--state", "resolved"), [self.ids["cv-high:b"]])
        self.assertEqual(ids("--rule", "budget-overrun"), [self.ids["budget-overrun:c"]])
        self.assertEqual(sorted(ids("--agency", AGENCY_C, "--severity", "high")),
                         sorted([self.ids["ovl-spend:432332"],
                                 self.ids["budget-overrun:c"]]))
        # The agency column: the alert's own, or all it involves.
        out = self.ok("alerts", "list", "--rule", "ovl-spend")
        self.assertIn("%s,%s,%s" % (AGENCY_A, AGENCY_B, AGENCY_C), out)
        # The summary is cut to the terminal.
        env = dict(harness.pg_environment(self.db.env), COLUMNS="80")
        out = self.ok("alerts", "list", "--rule", "ovl-spend", env=env)
        line = out.splitlines()[1]
        self.assertLessEqual(len(line), 80)
        self.assertTrue(line.endswith("\u2026"), line)
        self.assertIn("3 agencies bought", line)
        for args in (("--state", "open"), ("--severity", "huge"), ("--agency", "a b"),
                     ("--rule", "Not A Rule")):
            self.fails(2, "alerts", "list", *args)

    def test_alerts_ack_and_unack(self):
        aid = self.ids["cv-high:ctl"]
        out = self.ok("alerts", "ack", aid, "--comment", "PMO informed", "--by", "bob")
        self.assertIn("acknowledged", out)
        self.assertEqual(self.db.query("SELECT acked_by, ack_comment FROM alert "
                                       "WHERE id = :'id'", id=aid)[0],
                         ("bob", "PMO informed"))
        err = self.fails(1, "alerts", "ack", aid)
        self.assertIn("already acknowledged, by bob", err)
        self.ok("alerts", "unack", aid, env=self.user_env("carol"))
        self.assertIn("not acknowledged", self.fails(1, "alerts", "unack", aid))
        self.ok("alerts", "ack", aid, env=self.user_env("carol"))
        self.assertEqual(self.db.scalar("SELECT acked_by FROM alert WHERE id = :'id'",
                                        id=aid), "carol")
        self.assertEqual(self.db.query(
            "SELECT kind, actor FROM alert_event WHERE alert_id = :'id' ORDER BY id",
            id=aid), [("acked", "bob"), ("unacked", "carol"), ("acked", "carol")])
        self.assertIn("is resolved", self.fails(1, "alerts", "ack", self.ids["cv-high:b"]))
        self.assertIn("no alert", self.fails(1, "alerts", "ack", "999999"))
        self.fails(2, "alerts", "ack", "one")
        self.fails(2, "alerts", "ack", aid, "--comment", "x" * 2001)

    def test_alerts_silence_list_and_unsilence(self):
        env = self.user_env("dora")
        sid = self.ok("alerts", "silence", "--rule", "feed-stale", "--agency", AGENCY_C,
                      "--reason", "the feed moves next week", "--for", "3d",
                      env=env).strip()
        self.assertRegex(sid, r"^\d+$")
        row = self.db.query("SELECT rule, author, reason, "
                            "round(extract(epoch FROM ends_at - now()) / 86400) "
                            "FROM silence WHERE id = :'id'", id=sid)[0]
        self.assertEqual(row, ("feed-stale", "dora", "the feed moves next week", "3"))
        lines = self.ok("alerts", "silences").splitlines()
        self.assertEqual(lines[0].split(), ["id", "state", "rule", "agency", "fingerprint",
                                            "author", "starts", "ends", "matching",
                                            "reason"])
        mine = [l for l in lines if l.startswith(sid + " ")][0].split()
        self.assertEqual(mine[1:6], ["active", "feed-stale", AGENCY_C, "-", "dora"])
        self.assertEqual(mine[8], "1")

        future = (now() + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.ok("alerts", "silence", "--fingerprint", "split:a", "--reason", "r",
                "--until", future, "--author", "eve")

        for args in (("--reason", "r", "--for", "1h"),          # no matcher
                     ("--rule", "split", "--for", "1h"),        # no reason
                     ("--rule", "split", "--reason", "r"),      # no end
                     ("--rule", "split", "--reason", "r", "--for", "1h", "--until",
                      future),
                     ("--rule", "split", "--reason", "r", "--until",
                      "2001-01-01T00:00:00Z"),
                     ("--rule", "split", "--reason", "r", "--for", "400d")):
            err = self.fails(2, "alerts", "silence", *args)
            self.assertIn("problem", err)
        err = self.fails(2, "alerts", "silence", "--rule", "split", "--reason", "r",
                         "--until", "2001-01-01T00:00:00Z")
        self.assertIn("--until: the silence would end in the past", err)
        self.assertIn("no agency", self.fails(1, "alerts", "silence", "--agency", "ZZ99",
                                              "--reason", "r", "--for", "1h"))

        self.assertIn("ended", self.ok("alerts", "unsilence", sid, env=env))
        self.assertEqual(self.db.scalar("SELECT ended_by FROM silence WHERE id = :'id'",
                                        id=sid), "dora")
        self.assertNotIn(sid, [l.split()[0] for l in
                               self.ok("alerts", "silences").splitlines()[1:]])
        self.assertIn("already ended", self.fails(1, "alerts", "unsilence", sid))
        self.assertIn("no silence", self.fails(1, "alerts", "unsilence", "999999"))


if __name__ == "__main__":
    unittest.main()
