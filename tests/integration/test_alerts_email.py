"""Alerts and their email end to end (issue 6), against a real SMTP server (Debian's
python3-aiosmtpd, tests/integration/smtpserver.py) that keeps what it receives. An
overlap pushed through the API and computed by `ictmonctl indicators run` fires an
alert; the daemon's mailer groups, renders and sends it. Checked: exactly one email to
the right recipients with the evidence; a recomputation sends nothing; a new member of
the group after group_interval sends one update in the same thread; acknowledgements
and silences stop emails; a server that is down makes emails wait, not vanish; a
daemon killed mid-send resends only what was in flight; two daemons send each email
once; a permanent refusal makes an email dead, visible in the API and the metrics."""

import datetime
import email
import email.policy
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from indicator_case import IndicatorCase, award, project, release

SMTP_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtpserver.py")
PUBLIC_URL = "https://ictmon.example.gov"
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def ago(days):
    return (TODAY - datetime.timedelta(days=days)).isoformat() + "T12:00:00Z"


class SmtpServer:
    """One smtpserver.py on a free port of 127.0.0.1, saving messages under a directory."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="ictmon-smtp-")
        self.port = harness.free_port()
        self.args = list(args)
        self.proc = None

    def start(self):
        ready = os.path.join(self.dir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", SMTP_SERVER, "--port", str(self.port), "--dir",
             os.path.join(self.dir, "mail"), "--ready-file", ready] + self.args,
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        harness.poll(lambda: os.path.exists(ready), harness.START_TIMEOUT,
                     what="the SMTP server listening")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc is not None:
            self.log.close()
        self.proc = None

    def close(self):
        """Stops it and forgets what it received."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def messages(self):
        """Every message received, oldest first: (envelope recipients, parsed message)."""
        out, self.logins = [], []
        mail = os.path.join(self.dir, "mail")
        if not os.path.isdir(mail):
            return out
        for name in sorted(os.listdir(mail)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(mail, name)) as f:
                meta = json.load(f)
            with open(os.path.join(mail, meta["data_file"]), "rb") as f:
                raw = f.read()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            out.append((meta["rcpt_tos"], msg, raw))
            self.logins.append(meta.get("auth_login"))
        return out

    def to(self, address):
        return [m for rcpts, m, raw in self.messages() if address in rcpts]


def body_text(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


def body_html(msg):
    return msg.get_body(preferencelist=("html",)).get_content()


class AlertMailCase(IndicatorCase):
    """A database with agencies, an SMTP server (started with smtp_args), and a daemon
    whose mailer sends to it at once (group_wait 1 s, group_interval 3 s). Alerts live
    on from test to test, and a new recipient hears of every firing alert: so each
    class holds one scenario."""

    smtp_args = ()

    agencies = ("AA", "AB", "AC", "AD", "AE")
    timing = ("alerts.group_wait=1", "alerts.group_interval=3",
              "alerts.repeat_interval=1d")
    ovl = ("indicators.ovl_spend.window_days=30", "indicators.ovl_spend.min_total=1000")

    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpServer(*cls.smtp_args).start()
        cls.addClassCleanup(cls.smtp.close)
        cls.daemon_overrides = cls.mail_overrides(cls.smtp)
        super().setUpClass()

    @classmethod
    def mail_overrides(cls, smtp):
        return ("smtp.url=smtp://127.0.0.1:%d" % smtp.port, "smtp.starttls=none",
                "smtp.from=ictmon@example.gov", "smtp.timeout=4",
                "smtp.retry_base=1", "smtp.retry_max=2",
                "public_url=" + PUBLIC_URL) + cls.timing + cls.extra_overrides()

    @classmethod
    def extra_overrides(cls):
        return ()

    def recipient(self, address, *args):
        rc, out, err = self.ctl("recipient", "add", address, *args)
        self.assertEqual(rc, 0, out + err)
        rid = int(out.strip())
        self.addCleanup(self.ctl, "recipient", "remove", str(rid))
        return rid

    def overlap(self, cls_, buyers, date_days_ago=20, amount=500):
        """Awards of class `cls_` by `buyers` on one day: an OVL-SPEND group."""
        rel = [release("%s-%s" % (cls_, b), b,
                       [award("a1", amount, cls=cls_, date=ago(date_days_ago),
                              suppliers=("S-" + b,))]) for b in buyers]
        self.push_releases(*rel)

    def compute(self):
        return self.run_indicators("OVL-SPEND", settings=self.ovl)

    def wait_mail(self, address, count, timeout=30):
        return harness.poll(lambda: (lambda got: got if len(got) >= count else None)(
            self.smtp.to(address)), timeout,
            what="%d emails to %s" % (count, address))

    def quiet(self, seconds=7):
        """Gives the mailer time to send anything it wrongly would (several ticks and
        more than group_wait + group_interval)."""
        time.sleep(seconds)

    def alert_id(self, cls_):
        return int(self.db.scalar(
            "SELECT a.id FROM alert a WHERE a.indicator = 'OVL-SPEND'"
            " AND a.fingerprint LIKE '%OVL-SPEND:' || :'c' || ':%'", c=self.klass(cls_)))

    def klass(self, cls_):
        """The class OVL-SPEND groups `cls_` in, as its fingerprint and evidence say."""
        return self.db.scalar("SELECT DISTINCT evidence ->> 'class' FROM alert"
                              " WHERE evidence ->> 'class' LIKE '%' || :'c' || '%'",
                              c=cls_[:6])


class OneEmailPerProblem(AlertMailCase):

    def test_overlap_mailed_once_to_the_right_recipients(self):
        self.recipient("finance@hacienda.example", "--name", "José Pérez",
                       "--min-severity", "low")
        self.recipient("aa@aa.example", "--agency", "AA", "--min-severity", "low")
        self.recipient("ae@ae.example", "--agency", "AE", "--min-severity", "low")
        self.recipient("high-only@hacienda.example", "--min-severity", "high")
        self.overlap("43211500", ("AA", "AB", "AC"))
        self.compute()

        got = self.wait_mail("finance@hacienda.example", 1)
        self.wait_mail("aa@aa.example", 1)
        self.quiet()
        self.assertEqual(len(self.smtp.to("finance@hacienda.example")), 1)
        self.assertEqual(len(self.smtp.to("aa@aa.example")), 1)
        self.assertEqual(self.smtp.to("ae@ae.example"), [])
        self.assertEqual(self.smtp.to("high-only@hacienda.example"), [])

        msg = got[0]
        self.assertTrue(msg["Subject"].startswith("Spending overlap: 3 agencies bought"),
                        msg["Subject"])
        self.assertIn("José Pérez", str(msg["To"]))
        self.assertEqual(msg["From"].addresses[0].addr_spec, "ictmon@example.gov")
        self.assertTrue(msg["Message-ID"].startswith("<ictmon."))
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        text, html = body_text(msg), body_html(msg)
        alert = self.alert_id("43211500")
        link = "%s/#/alerts/%d" % (PUBLIC_URL, alert)
        for part in (text, html):
            self.assertIn(link, part)
            for buyer in ("AA", "AB", "AC"):
                self.assertIn("43211500-" + buyer, part)
        self.assertIn("<table", html)
        raw = [raw for rcpts, m, raw in self.smtp.messages()
               if "finance@hacienda.example" in rcpts][0]
        for line in raw.split(b"\r\n"):
            self.assertLess(len(line), 998)

        # Recomputing finds the same overlap: nothing new to say.
        self.compute()
        self.quiet()
        self.assertEqual(len(self.smtp.to("finance@hacienda.example")), 1)
        self.assertEqual(len(self.smtp.to("aa@aa.example")), 1)
        states = self.db.query("SELECT state, count(*) FROM outbox GROUP BY state")
        self.assertEqual(dict(states), {"sent": "2"})

        # AD buys the same within the window: the group grows, keeps its
        # fingerprint, and finance hears of it once, in the same thread.
        first = got[0]
        self.overlap("43211500", ("AD",), date_days_ago=19)
        self.compute()
        self.wait_mail("finance@hacienda.example", 2)
        self.quiet()
        got = self.smtp.to("finance@hacienda.example")
        self.assertEqual(len(got), 2)
        update = got[1]
        self.assertEqual(update["In-Reply-To"], first["Message-ID"])
        self.assertIn(first["Message-ID"], update["References"])
        self.assertIn("43211500-AD", body_text(update))
        self.assertTrue(update["Subject"].startswith("Spending overlap: 4 agencies"),
                        update["Subject"])
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM alert WHERE evidence ->> 'class' = :'c'",
            c=self.klass("43211500")), "1")
        # The update waited group_interval after the first.
        sent = self.db.query("SELECT extract(epoch FROM o.sent_at) FROM outbox o"
                             " JOIN recipient r ON r.id = o.recipient_id"
                             " WHERE r.email = 'finance@hacienda.example'"
                             " AND o.state = 'sent' ORDER BY o.id")
        self.assertGreaterEqual(float(sent[1][0]) - float(sent[0][0]), 3 - 0.5)


class OneEmailPerGroup(AlertMailCase):
    """Overlaps involve several agencies, so all of a recipient's OVL-SPEND alerts are
    one group: three at once make one email, capped at alerts.max_per_email (2)."""

    timing = AlertMailCase.timing + ("alerts.max_per_email=2",)

    def test_alerts_arriving_together_go_together_capped(self):
        self.recipient("group@hacienda.example", "--min-severity", "low")
        for cls_ in ("43213100", "43213200", "43213300"):
            self.overlap(cls_, ("AA", "AB", "AC"))
        self.compute()
        self.wait_mail("group@hacienda.example", 1)
        self.quiet()
        got = self.smtp.to("group@hacienda.example")
        self.assertEqual(len(got), 1)
        self.assertIn("3 new alerts", got[0]["Subject"])
        text = body_text(got[0])
        self.assertIn("and 1 more alert: %s/#/alerts" % PUBLIC_URL, text)
        self.assertEqual(self.db.scalar("SELECT alerts FROM outbox"), "3")


class Acknowledgement(AlertMailCase):

    def test_ack_stops_emails(self):
        self.recipient("ack@hacienda.example", "--min-severity", "low")
        self.overlap("43211700", ("AA", "AB", "AC"))
        self.compute()
        self.wait_mail("ack@hacienda.example", 1)
        alert = self.alert_id("43211700")
        rc, out, err = self.ctl("alerts", "ack", str(alert), "--comment", "seen, on it",
                                "--by", "analyst")
        self.assertEqual(rc, 0, out + err)
        self.overlap("43211700", ("AD",), date_days_ago=19)
        self.compute()
        self.quiet()
        self.assertEqual(len(self.smtp.to("ack@hacienda.example")), 1)

class Silence(AlertMailCase):

    def test_silence_stops_emails_until_it_ends(self):
        self.recipient("silence@hacienda.example", "--agency", "AE",
                       "--min-severity", "low")
        rc, out, err = self.ctl("alerts", "silence", "--agency", "AE", "--reason",
                                "AE migrates its ERP", "--for", "1h", "--author", "ops")
        self.assertEqual(rc, 0, out + err)
        silence = out.strip()
        self.overlap("43211800", ("AE", "AB", "AC"))
        self.compute()
        self.quiet()
        self.assertEqual(self.smtp.to("silence@hacienda.example"), [])
        # The silence ends: the alert still fires, and is mailed once.
        rc, out, err = self.ctl("alerts", "unsilence", silence)
        self.assertEqual(rc, 0, out + err)
        self.wait_mail("silence@hacienda.example", 1)
        self.quiet()
        self.assertEqual(len(self.smtp.to("silence@hacienda.example")), 1)


class StaleFeedInhibits(AlertMailCase):
    """While FEED-STALE fires for an agency, that agency's other alerts are not mailed:
    the data behind them is old. Once data arrives again, they are."""

    def age(self, code, days):
        """Moves every delivery about agency `code` `days` into the past."""
        self.db.query(
            "UPDATE ingest_batch b SET created_at = now() - make_interval(days => :d),"
            " finished_at = now() - make_interval(days => :d)"
            " WHERE b.id IN (SELECT v.batch_id FROM project_version v"
            "  JOIN project p ON p.id = v.project_id JOIN agency a ON a.id = p.agency_id"
            "  WHERE a.code = :'c')", c=code, d=str(days))

    def test_stale_feed_inhibits_the_agency_alerts(self):
        self.recipient("stale@hacienda.example", "--agency", "AE",
                       "--min-severity", "low")
        # A project 100 % over its planned cost: a CV alert of AE (high).
        self.push_projects(project("P-1", agency="AE", planned_cost="1000",
                                   projected_cost="2000", currency="CLP"))
        self.age("AE", 30)
        self.run_indicators("FEED-STALE", "CV")
        got = self.wait_mail("stale@hacienda.example", 1)
        self.quiet()
        got = self.smtp.to("stale@hacienda.example")
        self.assertEqual(len(got), 1)
        self.assertIn("No data about AE", got[0]["Subject"])
        cv = self.db.scalar("SELECT state FROM alert WHERE indicator = 'CV'")
        self.assertEqual(cv, "firing")

        # Data arrives: FEED-STALE resolves, and the CV alert is mailed at last.
        self.push_projects(project("P-2", agency="AE", planned_cost="10",
                                   projected_cost="10", currency="CLP"))
        self.run_indicators("FEED-STALE", "CV")
        harness.poll(lambda: any("Cost variance" in m["Subject"] or "P-1" in m["Subject"]
                                 for m in self.smtp.to("stale@hacienda.example")), 30,
                     what="the CV alert mailed")
        self.quiet()
        subjects = [m["Subject"] for m in self.smtp.to("stale@hacienda.example")]
        self.assertEqual(len([x for x in subjects if "P-1" in x]), 1, subjects)
        # The stale feed's recipient hears that it resolved.
        self.assertEqual(len([x for x in subjects if x.startswith("Resolved:")
                              and "No data about AE" in x]), 1, subjects)


class Authentication(AlertMailCase):
    """A server that wants AUTH: the password comes from smtp.password_file."""

    smtp_args = ("--auth", "ictmon:s3cret pass")

    @classmethod
    def extra_overrides(cls):
        cls.secrets = tempfile.mkdtemp(prefix="ictmon-secret-")
        cls.addClassCleanup(shutil.rmtree, cls.secrets, True)
        path = os.path.join(cls.secrets, "smtp-password")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("s3cret pass\n")
        return ("smtp.username=ictmon", "smtp.password_file=" + path)

    def test_password_from_its_file(self):
        self.recipient("auth@hacienda.example", "--min-severity", "low")
        self.overlap("43213400", ("AA", "AB", "AC"))
        self.compute()
        self.wait_mail("auth@hacienda.example", 1)
        self.smtp.messages()
        self.assertEqual(self.smtp.logins, ["ictmon"])
        self.assertNotIn("s3cret", self.d.log())


class ServerDown(AlertMailCase):

    def test_server_down_then_back(self):
        self.recipient("down@hacienda.example", "--min-severity", "low")
        self.smtp.stop()
        self.addCleanup(lambda: self.smtp.proc is None and self.smtp.start())
        self.overlap("43211900", ("AA", "AB", "AC"))
        self.compute()
        harness.poll(lambda: self.db.scalar(
            "SELECT count(*) FROM outbox WHERE state = 'pending' AND attempts >= 2"
            " AND last_error IS NOT NULL") != "0", 30, what="failed attempts")
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM outbox WHERE state IN ('sent', 'dead')"), "0")
        self.smtp.start()
        self.wait_mail("down@hacienda.example", 1)
        self.quiet(4)
        self.assertEqual(len(self.smtp.to("down@hacienda.example")), 1)

class PermanentRefusal(AlertMailCase):

    smtp_args = ("--reject-rcpt", "550")

    def test_permanent_refusal_is_dead_and_visible(self):
        self.recipient("nobody@hacienda.example", "--min-severity", "low")
        self.overlap("43212000", ("AA", "AB", "AC"))
        self.compute()
        harness.poll(lambda: self.db.scalar("SELECT count(*) FROM outbox"
                                            " WHERE state = 'dead'") == "1", 30,
                     what="a dead email")
        self.assertEqual(self.db.scalar("SELECT attempts FROM outbox"), "1")
        self.assertIn("550", self.db.scalar("SELECT last_error FROM outbox"))
        r = self.d.get("/v1/outbox?state=dead",
                       headers={"Authorization": "Bearer " + self.analyst})
        self.assertEqual(r.status, 200, r.body)
        items = json.loads(r.body)["items"]
        self.assertEqual([i["recipient"] for i in items], ["nobody@hacienda.example"])
        metrics = self.d.get("/metrics").body.decode()
        self.assertIn('ictmon_emails_total{result="dead"} 1', metrics)
        harness.poll(lambda: 'ictmon_outbox_emails{state="dead"} 1'
                     in self.d.get("/metrics").body.decode(), 10,
                     what="the dead email in the outbox gauge")


def daemon_settings():
    return {"api.rate_limit": "0", "indicators.period": "0",
            "indicators.debounce": "86400"}


class SigkillMidSend(AlertMailCase):
    """Twelve emails (one per recipient) to a slow server, two at a time; the daemon
    is killed while sending and a new one takes over."""

    smtp_args = ("--delay", "1")
    timing = AlertMailCase.timing + ("smtp.concurrency=2",)

    def test_sigkill_while_sending_resends_only_what_was_in_flight(self):
        for i in range(12):
            self.recipient("kill%02d@hacienda.example" % i, "--min-severity", "low")
        self.overlap("43212100", ("AA", "AB", "AC"))
        self.compute()
        claimed = ("SELECT message_id FROM outbox WHERE state = 'pending'"
                   " AND claimed_until IS NOT NULL")
        harness.poll(lambda: len(self.smtp.messages()) >= 3 and self.db.query(claimed),
                     60, interval=0.01, what="some emails sent, others in flight")
        self.d.proc.kill()
        self.d.proc.wait()
        in_flight = {r[0] for r in self.db.query(claimed)}
        self.assertTrue(in_flight)
        d2 = self.daemon(overrides=self.mail_overrides(self.smtp),
                         settings=daemon_settings())
        harness.poll(lambda: self.db.scalar(
            "SELECT count(*) FROM outbox WHERE state <> 'sent'") == "0", 90,
            what="every email sent")
        got = {}
        for rcpts, msg, raw in self.smtp.messages():
            got.setdefault(msg["Message-ID"], []).append(rcpts)
        self.assertEqual(len(got), 12)
        twice = {mid for mid, copies in got.items() if len(copies) > 1}
        self.assertLessEqual(twice, in_flight)
        for mid, copies in got.items():
            self.assertLessEqual(len(copies), 2, mid)
        d2.stop()


class TwoDaemons(AlertMailCase):

    def test_two_daemons_send_each_email_once(self):
        for i in range(16):
            self.recipient("two%02d@hacienda.example" % i, "--min-severity", "low")
        self.daemon(overrides=self.mail_overrides(self.smtp), settings=daemon_settings())
        self.overlap("43212200", ("AA", "AB", "AC"))
        self.compute()
        harness.poll(lambda: self.db.scalar(
            "SELECT count(*) FROM outbox WHERE state = 'sent'") == "16", 60,
            what="16 emails sent")
        self.quiet(4)
        got = [msg["Message-ID"] for rcpts, msg, raw in self.smtp.messages()]
        self.assertEqual(len(got), 16)
        self.assertEqual(len(set(got)), 16)


if __name__ == "__main__":
    unittest.main()
