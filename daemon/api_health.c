/*
 * The operational endpoints: /healthz (the process answers), /readyz (it can serve:
 * a database connection with the current schema, not shutting down) and /metrics
 * (Prometheus text, with the process and pool gauges refreshed at each scrape).
 */
#include <stdio.h>
#include <time.h>

#include <event2/buffer.h>

#include "api.h"
#include "daemon.h"
#include "db.h"
#include "http.h"
#include "metrics.h"

static long long
uptime_seconds(const struct ictmond *d)
{
	time_t now = time(NULL);

	return now > d->started ? (long long)(now - d->started) : 0;
}

void
api_healthz(struct request *req)
{
	json_t *body;

	body = json_pack("{s:s, s:s, s:I}", "status", "alive", "version", ICTMON_VERSION,
	    "uptime_seconds", (json_int_t)uptime_seconds(req->daemon));
	http_reply_json(req, 200, body);
}

void
api_readyz(struct request *req)
{
	const struct ictmond	*d = req->daemon;
	const char		*why = NULL;

	if (d->draining)
		why = "shutting down";
	else if (d->db == NULL)
		why = "no database pool";
	else if (!db_pool_ready(d->db, &why) && why == NULL)
		why = "database not ready";
	if (why != NULL) {
		http_set_header(req, "Retry-After", "5");
		http_reply_error(req, 503, why, NULL);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

/* Describing again is a no-op, so this keeps the families next to what fills them. */
static void
describe_families(struct metrics *m)
{
	metrics_describe(m, "ictmon_build_info", METRIC_GAUGE,
	    "Always 1; the version label says which ictmond runs.");
	metrics_describe(m, "ictmon_uptime_seconds", METRIC_GAUGE,
	    "Seconds since ictmond started.");
	metrics_describe(m, "ictmon_db_pool_size", METRIC_GAUGE,
	    "Connections the database pool keeps open (db.pool).");
	metrics_describe(m, "ictmon_db_pool_connections", METRIC_GAUGE,
	    "Database connections up with a current schema, and of those the ones in use.");
	metrics_describe(m, "ictmon_db_pool_waiting", METRIC_GAUGE,
	    "Statements queued for a free database connection.");
	metrics_describe(m, "ictmon_db_statements_total", METRIC_COUNTER,
	    "Statements sent to PostgreSQL.");
	metrics_describe(m, "ictmon_db_errors_total", METRIC_COUNTER,
	    "SQL errors and lost database connections.");
	metrics_describe(m, "ictmon_db_reconnects_total", METRIC_COUNTER,
	    "Reconnections to PostgreSQL after a lost connection.");
}

void
api_metrics(struct request *req)
{
	struct ictmond		*d = req->daemon;
	struct metrics		*m = d->metrics;
	struct db_pool_stats	 stats = { 0 };
	struct evbuffer		*out = NULL;

	if (m == NULL) {
		http_reply_error(req, 500, "no metrics registry", NULL);
		return;
	}
	describe_families(m);
	metrics_set(m, "ictmon_build_info", "version=\"" ICTMON_VERSION "\"", 1);
	metrics_set(m, "ictmon_uptime_seconds", "", (double)uptime_seconds(d));
	if (d->db != NULL)
		db_pool_stats(d->db, &stats);
	metrics_set(m, "ictmon_db_pool_size", "", stats.size);
	metrics_set(m, "ictmon_db_pool_connections", "state=\"connected\"", stats.connected);
	metrics_set(m, "ictmon_db_pool_connections", "state=\"in_use\"", stats.in_use);
	metrics_set(m, "ictmon_db_pool_waiting", "", stats.waiting);
	metrics_set(m, "ictmon_db_statements_total", "", (double)stats.statements);
	metrics_set(m, "ictmon_db_errors_total", "", (double)stats.errors);
	metrics_set(m, "ictmon_db_reconnects_total", "", (double)stats.reconnects);

	if ((out = evbuffer_new()) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		return;
	}
	metrics_render(m, out);
	http_reply_buffer(req, 200, "text/plain; version=0.0.4; charset=utf-8", out);
	evbuffer_free(out);
}
