/*
 * GET /v1/feeds, GET /v1/feeds/{name} and POST /v1/feeds/{name}/run: what the feeds'
 * rows in feed_source and feed_run say, and a run started now. Running a feed is
 * feeds.c's; this file only asks and reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api.h"
#include "daemon.h"
#include "db.h"
#include "feeds.h"
#include "log.h"

#define RUNS_SHOWN		"20"	/* runs of one feed in GET /v1/feeds/{name} */

#define UTC_TEXT(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

#define RUN_OBJECT(r) \
    "json_build_object('id', " r ".id, 'started_at', " UTC_TEXT(r ".started_at") "," \
    " 'finished_at', " UTC_TEXT(r ".finished_at") ", 'status', " r ".status," \
    " 'http_status', " r ".http_status, 'records', " r ".records," \
    " 'pages', " r ".pages, 'bytes', " r ".bytes, 'message', " r ".message," \
    " 'url', " r ".url)"

/*
 * Every feed (or, with $1, the one so named): configured ones first. Columns: the
 * feed as JSON text, its cursor as stored (text: parsed here, so that one malformed
 * cursor cannot fail the whole list), and, for one feed, its last runs.
 * A feed is running while a run is open and the lease that covers it is still
 * renewed: an open run under an expired lease belongs to a process that died.
 */
static const char sql_feeds[] =
    "SELECT json_build_object("
    "  'name', f.name, 'kind', f.kind, 'url', f.url, 'agency', a.code,"
    "  'schedule_seconds', f.schedule_seconds, 'configured', f.configured,"
    "  'problem', f.problem, 'consecutive_failures', f.consecutive_failures,"
    "  'last_success_at', " UTC_TEXT("f.last_success_at") ","
    "  'next_run_at', " UTC_TEXT("f.next_run_at") ","
    "  'running', coalesce(f.lease_until > now(), false) AND EXISTS (SELECT 1"
    "   FROM feed_run o WHERE o.feed_id = f.id AND o.status IS NULL),"
    "  'last_run', CASE WHEN lr.id IS NOT NULL THEN " RUN_OBJECT("lr") " END)::text,"
    " f.cursor,"
    " CASE WHEN $1::text IS NOT NULL THEN (SELECT coalesce(json_agg(" RUN_OBJECT("r")
    "   ORDER BY r.started_at DESC, r.id DESC), '[]')::text"
    "  FROM (SELECT * FROM feed_run WHERE feed_id = f.id"
    "   ORDER BY started_at DESC, id DESC LIMIT " RUNS_SHOWN ") r) END"
    " FROM feed_source f LEFT JOIN agency a ON a.id = f.agency_id"
    " LEFT JOIN LATERAL (SELECT * FROM feed_run r WHERE r.feed_id = f.id"
    "  ORDER BY r.started_at DESC, r.id DESC LIMIT 1) lr ON true"
    " WHERE $1::text IS NULL OR f.name = $1"
    " ORDER BY f.configured DESC, f.name COLLATE \"C\"";

struct listing {
	struct request	*req;
	bool		 one;		/* GET /v1/feeds/{name} */
};

static void
reply_unavailable(struct request *req)
{
	http_reply_unavailable(req, "the database is not available");
}

/* One row as the API shows it; NULL when out of memory or the row is not JSON. */
static json_t *
feed_json(const PGresult *res, int row, const char *request_id)
{
	json_error_t	 jerr;
	json_t		*feed = NULL, *cursor = NULL, *runs = NULL;

	if ((feed = json_loads(PQgetvalue(res, row, 0), 0, &jerr)) == NULL)
		goto fail;
	if (!PQgetisnull(res, row, 1) &&
	    (cursor = json_loads(PQgetvalue(res, row, 1), JSON_DECODE_ANY, &jerr)) == NULL)
		log_warn("api", "rid=%s feed %s: its stored cursor is not JSON (%s): "
		    "shown as null", request_id,
		    json_string_value(json_object_get(feed, "name")), jerr.text);
	if (json_object_set_new(feed, "cursor", cursor != NULL ? cursor : json_null()))
		goto fail;
	if (!PQgetisnull(res, row, 2)) {
		if ((runs = json_loads(PQgetvalue(res, row, 2), 0, &jerr)) == NULL ||
		    json_object_set_new(feed, "runs", runs))
			goto fail;
	}
	return feed;
fail:
	json_decref(feed);
	return NULL;
}

static void
on_feeds(PGresult *res, const char *error, void *arg)
{
	struct listing	*listing = arg;
	struct request	*req = listing->req;
	json_t		*items = NULL, *feed;

	if (!api_result_usable(req, res, error, "cannot read the feeds"))
		goto out;
	if (listing->one) {
		if (PQntuples(res) == 0) {
			http_reply_error(req, 404, "no such feed", NULL);
			goto out;
		}
		if ((feed = feed_json(res, 0, req->id)) == NULL)
			goto nomem;
		http_reply_json(req, 200, feed);
		goto out;
	}
	if ((items = json_array()) == NULL)
		goto nomem;
	for (int i = 0; i < PQntuples(res); i++) {
		if ((feed = feed_json(res, i, req->id)) == NULL ||
		    json_array_append_new(items, feed))
			goto nomem;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "items", items));
	items = NULL;
	goto out;
nomem:
	http_reply_error(req, 500, "cannot build the reply", NULL);
out:
	json_decref(items);
	free(listing);
}

static void
list(struct request *req, const char *name)
{
	struct listing	*listing;
	const char	*values[1] = { name };

	if ((listing = calloc(1, sizeof(*listing))) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		return;
	}
	listing->req = req;
	listing->one = name != NULL;
	switch (db_query(req->daemon->db, sql_feeds, 1, values, on_feeds, listing)) {
	case DB_QUEUED:
		return;
	case DB_UNAVAILABLE:
	case DB_BUSY:
		free(listing);
		reply_unavailable(req);
		return;
	}
}

void
api_get_feeds(struct request *req)
{
	list(req, NULL);
}

void
api_get_feed(struct request *req)
{
	list(req, request_param(req, "name"));
}

/*
 * What feeds_run says. The request stays ours until we reply here: a client that
 * hangs up meanwhile only detaches it from its connection (http.c), and the server
 * counts it in flight, so a shutdown waits for this answer.
 */
static void
on_run_started(int status, json_t *reply, void *arg)
{
	struct request	*req = arg;
	const char	*name = json_string_value(json_object_get(reply, "feed"));
	char		*escaped = NULL, *location = NULL;

	if (status == 202 && name != NULL &&
	    (escaped = evhttp_uriencode(name, -1, 0)) != NULL &&
	    asprintf(&location, "/v1/feeds/%s", escaped) != -1) {
		http_set_header(req, "Location", location);
		free(location);
	}
	free(escaped);
	if (status == 503)
		http_set_header(req, "Retry-After", HTTP_RETRY_AFTER);
	if (reply == NULL)
		http_reply_error(req, 500, "out of memory", NULL);
	else
		http_reply_json(req, status, reply);
}

void
api_post_feed_run(struct request *req)
{
	if (req->daemon->feeds == NULL || req->daemon->draining) {
		http_reply_unavailable(req, req->daemon->draining ? "the daemon is "
		    "shutting down" : "this process runs no feeds");
		return;
	}
	/* From here feeds.c holds the request until on_run_started replies. */
	feeds_run(req->daemon->feeds, request_param(req, "name"), on_run_started, NULL, req);
}
