"""GET /metrics after real work: a push, the indicator run it triggers and the alerts
that run fires. Every family of every part (HTTP, pool, ingest, feeds, indicators,
alerts, mailer) is described, and those the work touched have moved."""

import re
import unittest

import harness
from indicator_case import IndicatorCase, award, project, release

FAMILIES = {
    "ictmon_http_requests_total": "counter",
    "ictmon_http_request_duration_seconds": "histogram",
    "ictmon_db_statements_total": "counter",
    "ictmon_db_errors_total": "counter",
    "ictmon_ingest_records_total": "counter",
    "ictmon_ingest_batches_total": "counter",
    "ictmon_ingest_seconds": "histogram",
    "ictmon_feed_runs_total": "counter",
    "ictmon_feed_records_total": "counter",
    "ictmon_feed_run_seconds": "histogram",
    "ictmon_indicator_runs_total": "counter",
    "ictmon_indicator_run_seconds": "histogram",
    "ictmon_indicator_seconds": "histogram",
    "ictmon_alerts_total": "counter",
    "ictmon_alert_notices_total": "counter",
    "ictmon_emails_total": "counter",
    "ictmon_email_send_seconds": "histogram",
    "ictmon_outbox_emails": "gauge",
}


class Families(IndicatorCase):

    agencies = ("MA", "MB", "MC")
    daemon_overrides = ("indicators.debounce=1", "indicators.ovl_spend.min_total=1000")

    def value(self, text, sample):
        m = re.search(r"(?m)^%s (\S+)$" % re.escape(sample), text)
        self.assertIsNotNone(m, "no sample " + sample)
        return float(m.group(1))

    def test_every_family_described_and_the_work_counted(self):
        self.push_projects(project("M-1", agency="MA"))
        self.push_releases(*[
            release("ocds-metrics-%d" % i, buyer, [award("a1", 5000, cls="43231501",
                                                       date="2024-01-1%dT12:00:00Z" % i,
                                                       suppliers=("S-" + buyer,))])
            for i, buyer in enumerate(self.agencies)])
        harness.poll(lambda: self.db.scalar(
            "SELECT count(*) FROM indicator_run WHERE status = 'done'") != "0", 60,
            what="the run the pushes trigger")
        harness.poll(lambda: 'change="fired"' in self.d.get("/metrics").body.decode(), 10,
                     what="the run counted")
        text = self.d.get("/metrics").body.decode()
        for family, kind in FAMILIES.items():
            with self.subTest(family=family):
                self.assertRegex(text, r"(?m)^# HELP %s \S" % family)
                self.assertRegex(text, r"(?m)^# TYPE %s %s$" % (family, kind))
        self.assertGreaterEqual(self.value(
            text, 'ictmon_ingest_batches_total{kind="projects",status="201"}'), 1)
        self.assertGreaterEqual(self.value(
            text, 'ictmon_ingest_batches_total{kind="procurement",status="201"}'), 1)
        self.assertGreaterEqual(self.value(
            text, 'ictmon_ingest_seconds_count{kind="procurement"}'), 1)
        self.assertGreaterEqual(self.value(
            text, 'ictmon_indicator_runs_total{trigger="ingest",status="done"}'), 1)
        self.assertGreaterEqual(self.value(text, 'ictmon_alerts_total{change="fired"}'), 1)
        self.assertGreaterEqual(self.value(text, "ictmon_alert_notices_total"), 0)


if __name__ == "__main__":
    unittest.main()
