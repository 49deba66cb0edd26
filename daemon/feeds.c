/*
 * The feeds ictmon pulls (include/feeds.h). A run claims the feed's lease in
 * feed_source, then takes page after page: the body streams through the kind's
 * collection, each full chunk goes through the ingest path with the feed's new cursor
 * in the same transaction, and the download pauses while chunks wait. Callbacks only
 * record what happened and wake the run; run_step, from the top of the loop, decides
 * what comes next, so nothing is freed under a callback's feet.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "collector.h"
#include "config.h"
#include "db.h"
#include "feeds.h"
#include "fetch.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"

#define METRIC_RUNS		"ictmon_feed_runs_total"
#define METRIC_RECORDS		"ictmon_feed_records_total"
#define METRIC_BYTES		"ictmon_feed_bytes_total"
#define METRIC_RUN_SECONDS	"ictmon_feed_run_seconds"
#define METRIC_RUNNING		"ictmon_feeds_running"

/* Waits before trying again to write the configured feeds: doubling, up to the max. */
#define SYNC_RETRY_MIN		1
#define SYNC_RETRY_MAX		30
/* Bytes of a page's start kept to explain a 200 that carries an error. */
#define HEAD_MAX		512
/* A page that names more pages than this is taken as a loop. */
#define PAGES_MAX		1000000

struct run;

struct feed {
	TAILQ_ENTRY(feed)		 entry;
	TAILQ_ENTRY(feed)		 waiting_entry;
	struct feeds			*feeds;
	char				*name;
	const struct config_section	*section;	/* NULL once gone from the config */
	long long			 id;		/* feed_source.id; 0 until synced */
	long long			 agency_id;	/* 0: a multi-agency feed */
	bool				 problem;	/* cannot run as configured */
	bool				 waiting;	/* due, waiting for a free slot */
	struct event			*timer;
	struct run			*run;
};
TAILQ_HEAD(feed_list, feed);

struct feeds {
	struct feeds_env	 env;
	const struct config	*cfg;
	struct feed_list	 list;
	struct feed_list	 waiting;
	char			 owner[128];	/* this process, in leases */
	unsigned		 running;
	bool			 syncing, resync, draining;
	struct event		*sync_retry;
	long			 sync_delay;	/* seconds before the next attempt */
	void			 (*drained)(void *);
	void			*drained_arg;
};

enum run_state {
	RUN_CLAIMING,		/* the lease statement is running */
	RUN_PAGE,		/* a page is downloading and its chunks being written */
	RUN_PAGE_DONE,		/* the page's end is being recorded */
	RUN_FINISHING,		/* the outcome is being recorded */
};

struct run {
	struct feeds		*feeds;
	struct feed		*feed;
	enum run_state		 state;
	feed_started_cb		 started;
	feed_done_cb		 done;
	void			*arg;
	struct timespec		 began;

	/* What the run was configured with when it started. */
	const struct collector_ops *ops;
	char			*url;		/* the feed's first page */
	char			*header;	/* the secret header line, or NULL */
	char			*agency;	/* code, or NULL */
	long long		 agency_id;
	long			 timeout, lease, schedule, retry_base, retry_max;
	size_t			 max_size;
	int			 fiscal_year;
	char			 phase[16];
	struct collector_limits	 limits;

	/* From the claim. */
	long long		 run_id;
	char			 run_text[24], feed_text[24];
	unsigned		 failures;	/* consecutive ones before this run */

	/* The page. */
	char			*page_url;
	unsigned long long	 skip;		/* records of it an earlier run committed */
	char			*skip_etag;	/* ... when the page had this ETag */
	bool			 conditional;	/* send the validators below */
	char			*etag, *last_modified;
	struct fetch		*fetch;
	struct collection	*coll;
	bool			 page_open;	/* its download started */
	bool			 page_complete;
	bool			 paused;
	char			*page_etag, *page_last_modified;
	unsigned long long	 page_bytes;
	unsigned long long	 page_committed;	/* records of this page written */
	char			 head[HEAD_MAX + 1];
	size_t			 head_len;

	/* The chunk being written. */
	bool			 ingesting;
	struct collector_chunk	 chunk;

	/* The outcome so far. */
	unsigned		 pages;
	unsigned long long	 records, bytes;
	int			 http_status;
	long			 retry_after;
	bool			 not_modified;
	bool			 stopping;	/* feeds_drain */
	char			*error;
	long			 next_in;	/* seconds to the next run, once decided */

	int			 db_pending;	/* statements of this run in flight */
	struct event		*wake;
	struct event		*heartbeat;
};

static void	run_step(evutil_socket_t, short, void *);
static void	schedule_feed(struct feed *, long seconds);
static void	start_run(struct feed *, bool manual, feed_started_cb, feed_done_cb, void *);
static void	start_waiting(struct feeds *);
static void	sync_feeds(struct feeds *);

/* --- Small helpers --------------------------------------------------------------- */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
replace(char **slot, const char *value)
{
	free(*slot);
	*slot = dup_or_null(value);
}

static double
seconds_since(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static struct feed *
find_feed(const struct feeds *feeds, const char *name)
{
	struct feed *f;

	TAILQ_FOREACH(f, &feeds->list, entry)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void
wake(struct run *run)
{
	event_active(run->wake, EV_TIMEOUT, 0);
}

/* The first failure decides the message; later ones are its consequences. */
static void
fail(struct run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct run *run, const char *fmt, ...)
{
	va_list	 ap;
	char	*message = NULL;

	if (run->error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) == -1)
		message = NULL;
	va_end(ap);
	run->error = message != NULL ? message : strdup("out of memory");
	wake(run);
}

/* "page 3 of the run (https://...)": where a failure happened, for feed_run.message. */
static const char *
page_name(const struct run *run, char *buf, size_t len)
{
	snprintf(buf, len, "page %u of the run (%s)", run->pages + 1,
	    run->page_url != NULL ? run->page_url : "?");
	return buf;
}

/* --- Deferred replies: `started` never runs inside feeds_run ---------------------- */

struct deferred_reply {
	feed_started_cb	 cb;
	void		*arg;
	int		 status;
	json_t		*reply;
};

static void
on_deferred_reply(evutil_socket_t fd, short events, void *arg)
{
	struct deferred_reply *d = arg;

	d->cb(d->status, d->reply, d->arg);
	free(d);
}

static void
reply_later(struct feeds *feeds, feed_started_cb cb, void *arg, int status, json_t *reply)
{
	struct deferred_reply	*d;
	struct timeval		 now = { 0, 0 };

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		/* Out of memory: answering at once is better than never. */
		cb(500, http_error_body(500, "out of memory", NULL), arg);
		json_decref(reply);
		return;
	}
	d->cb = cb;
	d->arg = arg;
	d->status = status;
	d->reply = reply;
	if (event_base_once(feeds->env.base, -1, EV_TIMEOUT, on_deferred_reply, d,
	    &now) == -1) {
		free(d);
		cb(status, reply, arg);
	}
}

static void
refuse_later(struct feeds *feeds, feed_started_cb cb, void *arg, int status,
    const char *message)
{
	if (cb != NULL)
		reply_later(feeds, cb, arg, status, http_error_body(status, message, NULL));
}

/* --- Writing the configured feeds ------------------------------------------------ */

/*
 * Every configured feed in one statement: new ones added, changed ones updated (a
 * new URL or kind starts over: its cursor and validators no longer apply), the rest
 * marked unconfigured. Returns each feed's id, its agency, its problem and when it is
 * due.
 */
static const char sql_sync[] =
    "WITH c AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
    "  AS x(name text, kind text, url text, agency text, schedule int)),"
    " up AS (INSERT INTO feed_source AS f (name, kind, url, agency_id, schedule_seconds,"
    "   configured, problem)"
    "  SELECT c.name, c.kind, c.url, a.id, c.schedule, true,"
    "   CASE WHEN c.agency IS NOT NULL AND a.id IS NULL THEN 'agency ' || c.agency ||"
    "    ' is not known: add it with `ictmonctl agency add` and reload' END"
    "  FROM c LEFT JOIN agency a ON a.code = c.agency"
    "  ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, url = EXCLUDED.url,"
    "   agency_id = EXCLUDED.agency_id, schedule_seconds = EXCLUDED.schedule_seconds,"
    "   configured = true, problem = EXCLUDED.problem,"
    "   cursor = CASE WHEN (f.url, f.kind) = (EXCLUDED.url, EXCLUDED.kind)"
    "    THEN f.cursor END,"
    "   etag = CASE WHEN (f.url, f.kind) = (EXCLUDED.url, EXCLUDED.kind)"
    "    THEN f.etag END,"
    "   last_modified = CASE WHEN (f.url, f.kind) = (EXCLUDED.url, EXCLUDED.kind)"
    "    THEN f.last_modified END"
    "  RETURNING f.name, f.id, f.agency_id, f.problem, f.next_run_at),"
    " gone AS (UPDATE feed_source SET configured = false"
    "  WHERE $2::boolean AND configured AND name NOT IN (SELECT name FROM c))"
    " SELECT name, id, agency_id, problem,"
    "  greatest(0, ceil(extract(epoch FROM next_run_at - now())))::bigint"
    " FROM up";

static void
on_sync_retry(evutil_socket_t fd, short events, void *arg)
{
	sync_feeds(arg);
}

static void
sync_later(struct feeds *feeds)
{
	struct timeval tv = { feeds->sync_delay, 0 };

	evtimer_add(feeds->sync_retry, &tv);
	feeds->sync_delay = feeds->sync_delay * 2 > SYNC_RETRY_MAX ? SYNC_RETRY_MAX :
	    feeds->sync_delay * 2;
}

static void
on_sync(PGresult *res, const char *error, void *arg)
{
	struct feeds	*feeds = arg;
	struct feed	*f;
	long		 due;

	feeds->syncing = false;
	if (res == NULL || !db_result_ok(res)) {
		log_warn("feeds", "cannot record the configured feeds: %s; retrying in %lds",
		    db_result_error(res, error), feeds->sync_delay);
		sync_later(feeds);
		return;
	}
	feeds->sync_delay = SYNC_RETRY_MIN;
	if (feeds->resync) {
		feeds->resync = false;
		sync_feeds(feeds);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		if ((f = find_feed(feeds, PQgetvalue(res, i, 0))) == NULL)
			continue;
		f->id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		f->agency_id = PQgetisnull(res, i, 2) ? 0 :
		    strtoll(PQgetvalue(res, i, 2), NULL, 10);
		f->problem = !PQgetisnull(res, i, 3);
		if (f->problem) {
			log_warn("feeds", "feed %s cannot run: %s", f->name,
			    PQgetvalue(res, i, 3));
			continue;
		}
		due = PQgetisnull(res, i, 4) ? 0 : strtol(PQgetvalue(res, i, 4), NULL, 10);
		if (f->run == NULL)
			schedule_feed(f, due);
	}
	log_info("feeds", "%d feed%s configured", PQntuples(res),
	    PQntuples(res) == 1 ? "" : "s");
}

static void
sync_feeds(struct feeds *feeds)
{
	const struct config_section	*sections[256];
	json_t				*list = NULL, *row;
	char				*text = NULL;
	const char			*values[2];
	size_t				 n;

	if (feeds->syncing) {
		feeds->resync = true;
		return;
	}
	n = config_sections(feeds->cfg, "feed", sections, 256);
	if ((list = json_array()) == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const char *agency = section_str(sections[i], FEED_AGENCY);

		row = json_pack("{s:s, s:s, s:s, s:s?, s:I}",
		    "name", sections[i]->name,
		    "kind", section_str(sections[i], FEED_KIND),
		    "url", section_str(sections[i], FEED_URL),
		    "agency", agency != NULL && *agency != '\0' ? agency : NULL,
		    "schedule", (json_int_t)section_int(sections[i], FEED_SCHEDULE));
		if (row == NULL || json_array_append_new(list, row) == -1)
			goto nomem;
	}
	if ((text = json_dumps(list, JSON_COMPACT)) == NULL)
		goto nomem;
	values[0] = text;
	/*
	 * Only the daemon's configuration says which feeds exist: ictmonctl, which may
	 * be given another file, adds and updates but never retires a feed.
	 */
	values[1] = feeds->env.schedule ? "true" : "false";
	if (db_query(feeds->env.db, sql_sync, 2, values, on_sync, feeds) == DB_QUEUED)
		feeds->syncing = true;
	else {
		log_debug("feeds", "the database is not available yet: recording the "
		    "configured feeds in %lds", feeds->sync_delay);
		sync_later(feeds);
	}
	json_decref(list);
	free(text);
	return;
nomem:
	log_error("feeds", "out of memory recording the configured feeds");
	json_decref(list);
	sync_later(feeds);
}

/* --- The schedule ---------------------------------------------------------------- */

static void
on_due(evutil_socket_t fd, short events, void *arg)
{
	struct feed	*f = arg;
	struct feeds	*feeds = f->feeds;

	if (f->run != NULL || f->waiting || f->section == NULL || feeds->draining)
		return;
	if (feeds->running >= (unsigned)config_int(feeds->cfg, CFG_FEEDS_CONCURRENCY)) {
		f->waiting = true;
		TAILQ_INSERT_TAIL(&feeds->waiting, f, waiting_entry);
		return;
	}
	start_run(f, false, NULL, NULL, NULL);
}

static void
schedule_feed(struct feed *f, long seconds)
{
	struct timeval tv;

	if (!f->feeds->env.schedule || f->feeds->draining || f->section == NULL)
		return;
	tv.tv_sec = seconds > 0 ? seconds : 0;
	tv.tv_usec = 0;
	evtimer_add(f->timer, &tv);
}

static void
start_waiting(struct feeds *feeds)
{
	struct feed *f;

	while ((f = TAILQ_FIRST(&feeds->waiting)) != NULL && !feeds->draining &&
	    feeds->running < (unsigned)config_int(feeds->cfg, CFG_FEEDS_CONCURRENCY)) {
		TAILQ_REMOVE(&feeds->waiting, f, waiting_entry);
		f->waiting = false;
		if (f->run == NULL && f->section != NULL)
			start_run(f, false, NULL, NULL, NULL);
	}
}

/* --- Statements of a run --------------------------------------------------------- */

static void
run_query(struct run *run, const char *sql, int n, const char *const *values,
    db_result_cb cb)
{
	if (db_query(run->feeds->env.db, sql, n, values, cb, run) == DB_QUEUED) {
		run->db_pending++;
		return;
	}
	/* No database: the callback at once, as if the connection had gone. */
	run->db_pending++;
	cb(NULL, "the database is not available", run);
}

/*
 * Takes the feed's lease unless another process holds it (or, for a scheduled run,
 * the feed is not due: another process ran it meanwhile), closes a run left open by
 * a process that died, and opens this run. The row comes back either way, to say why
 * not.
 */
static const char sql_claim[] =
    "WITH claim AS (UPDATE feed_source SET lease_owner = $2,"
    "   lease_until = now() + make_interval(secs => $3::int)"
    "  WHERE id = $1::bigint AND configured AND problem IS NULL"
    "   AND (lease_until IS NULL OR lease_until < now())"
    "   AND ($4::boolean OR next_run_at IS NULL OR next_run_at <= now())"
    "  RETURNING id, cursor, etag, last_modified, consecutive_failures),"
    " closed AS (UPDATE feed_run SET"
    "   status = CASE WHEN records > 0 OR pages > 0 THEN 'partial' ELSE 'failed' END,"
    "   finished_at = greatest(now(), started_at),"
    "   message = 'interrupted: the process running it (' ||"
    "    coalesce(lease_owner, 'unknown') || ') stopped; the next run resumed'"
    "  WHERE feed_id IN (SELECT id FROM claim) AND status IS NULL),"
    " run AS (INSERT INTO feed_run (feed_id, lease_owner)"
    "  SELECT id, $2 FROM claim RETURNING id)"
    " SELECT (SELECT id FROM run), c.cursor, c.etag, c.last_modified,"
    "  c.consecutive_failures, f.lease_owner, f.lease_until > now(), f.problem,"
    "  f.configured,"
    "  greatest(0, ceil(extract(epoch FROM f.next_run_at - now())))::bigint"
    " FROM feed_source f LEFT JOIN claim c ON c.id = f.id WHERE f.id = $1::bigint";

static const char sql_heartbeat[] =
    "UPDATE feed_source SET lease_until = now() + make_interval(secs => $3::int)"
    " WHERE id = $1::bigint AND lease_owner = $2 RETURNING id";

/* A page is over: where the next one starts, and what the run fetched. */
static const char sql_page_done[] =
    "WITH f AS (UPDATE feed_source SET cursor = $2, etag = $3, last_modified = $4,"
    "   lease_until = now() + make_interval(secs => $6::int)"
    "  WHERE id = $1::bigint AND lease_owner = $5 RETURNING id)"
    " UPDATE feed_run SET pages = pages + 1, bytes = bytes + $8::bigint, url = $9,"
    "  http_status = $10::int"
    " WHERE id = $7::bigint AND feed_id IN (SELECT id FROM f) RETURNING id";

/*
 * The outcome. The feed's state changes only while the lease is ours; the lease is
 * given back. A stop for a shutdown is not the feed's failure and resumes at once.
 */
static const char sql_finish[] =
    "WITH r AS (UPDATE feed_run SET finished_at = now(), status = $3,"
    "   http_status = $4::int, message = $5, url = coalesce($6, url),"
    "   bytes = bytes + $10::bigint"
    "  WHERE id = $2::bigint)"
    " UPDATE feed_source SET lease_owner = NULL, lease_until = NULL,"
    "  consecutive_failures = CASE $8 WHEN 'ok' THEN 0 WHEN 'failed'"
    "   THEN consecutive_failures + 1 ELSE consecutive_failures END,"
    "  last_success_at = CASE $8 WHEN 'ok' THEN now() ELSE last_success_at END,"
    "  next_run_at = now() + make_interval(secs => $9::int)"
    " WHERE id = $1::bigint AND lease_owner = $7";

/* --- The run's end --------------------------------------------------------------- */

static void
run_free(struct run *run)
{
	if (run->fetch != NULL)
		fetch_cancel(run->fetch);
	collection_free(run->coll);
	if (run->wake != NULL)
		event_free(run->wake);
	if (run->heartbeat != NULL)
		event_free(run->heartbeat);
	free(run->url);
	free(run->header);
	free(run->agency);
	free(run->page_url);
	free(run->skip_etag);
	free(run->etag);
	free(run->last_modified);
	free(run->page_etag);
	free(run->page_last_modified);
	free(run->error);
	free(run);
}

static const char *
outcome_status(const struct run *run)
{
	if (run->error == NULL)
		return run->not_modified ? "not_modified" : "ok";
	return run->records > 0 || run->pages > 0 ? "partial" : "failed";
}

static void
count_run(struct run *run, const char *status)
{
	struct metrics	*m = run->feeds->env.metrics;
	char		 labels[160];

	if (m == NULL)
		return;
	snprintf(labels, sizeof(labels), "feed=\"%s\",status=\"%s\"", run->feed->name,
	    status);
	metrics_count(m, METRIC_RUNS, labels, 1);
	snprintf(labels, sizeof(labels), "feed=\"%s\"", run->feed->name);
	metrics_count(m, METRIC_RECORDS, labels, (double)run->records);
	metrics_count(m, METRIC_BYTES, labels, (double)run->bytes);
	metrics_observe(m, METRIC_RUN_SECONDS, labels, seconds_since(&run->began));
}

/* The run is over and recorded (or could not be): tell, reschedule, free. */
static void
run_end(struct run *run, long next_in)
{
	struct feeds		*feeds = run->feeds;
	struct feed		*f = run->feed;
	struct feed_outcome	 outcome;
	const char		*status = outcome_status(run);

	if (run->run_id != 0) {
		log_info("feeds", "feed %s run %lld: %s, %llu records in %u page%s, %llu "
		    "bytes, %.1fs%s%s", f->name, run->run_id, status, run->records,
		    run->pages, run->pages == 1 ? "" : "s", run->bytes,
		    seconds_since(&run->began), run->error != NULL ? ": " : "",
		    run->error != NULL ? run->error : "");
		count_run(run, status);
	}
	if (run->done != NULL) {
		memset(&outcome, 0, sizeof(outcome));
		outcome.feed = f->name;
		outcome.run_id = run->run_id;
		outcome.status = status;
		outcome.http_status = run->http_status;
		outcome.records = run->records;
		outcome.pages = run->pages;
		outcome.message = run->error;
		run->done(&outcome, run->arg);
	}
	f->run = NULL;
	feeds->running--;
	if (feeds->env.metrics != NULL)
		metrics_set(feeds->env.metrics, METRIC_RUNNING, "", feeds->running);
	run_free(run);
	schedule_feed(f, next_in);
	start_waiting(feeds);
	if (feeds->draining && feeds->running == 0 && feeds->drained != NULL) {
		void (*cb)(void *) = feeds->drained;

		feeds->drained = NULL;
		cb(feeds->drained_arg);
	}
}

static void
on_finished(PGresult *res, const char *error, void *arg)
{
	struct run *run = arg;

	run->db_pending--;
	if (res == NULL || !db_result_ok(res))
		log_warn("feeds", "feed %s run %lld: cannot record its end: %s (its lease "
		    "expires and the next run closes it)", run->feed->name, run->run_id,
		    db_result_error(res, error));
	run_end(run, run->next_in);
}

static void
finish(struct run *run)
{
	const char	*values[10], *status = outcome_status(run), *counted;
	char		 http_status[8], delay[24], bytes[24];

	run->state = RUN_FINISHING;
	evtimer_del(run->heartbeat);
	if (run->stopping) {
		counted = "stopped";
		run->next_in = 0;
	} else if (run->error == NULL) {
		counted = "ok";
		run->next_in = run->schedule;
	} else {
		counted = "failed";
		run->next_in = fetch_backoff(run->failures + 1, run->retry_base,
		    run->retry_max, run->retry_after, arc4random());
	}
	snprintf(http_status, sizeof(http_status), "%d", run->http_status);
	snprintf(delay, sizeof(delay), "%ld", run->next_in);
	/* The bytes of a page that ended the run before its end was recorded. */
	snprintf(bytes, sizeof(bytes), "%llu", run->page_bytes);
	run->bytes += run->page_bytes;
	run->page_bytes = 0;
	values[0] = run->feed_text;
	values[1] = run->run_text;
	values[2] = status;
	values[3] = run->http_status >= 100 && run->http_status <= 599 ? http_status : NULL;
	values[4] = run->error;
	values[5] = run->page_url;
	values[6] = run->feeds->owner;
	values[7] = counted;
	values[8] = delay;
	values[9] = bytes;
	run_query(run, sql_finish, 10, values, on_finished);
}

/* --- Pages and chunks ------------------------------------------------------------ */

static json_t *
cursor_json(const char *url, unsigned long long skip, const char *etag, bool complete)
{
	return json_pack("{s:s, s:I, s:s?, s:b}", "url", url, "skip", (json_int_t)skip,
	    "etag", etag, "complete", complete);
}

static const char *
record_noun(const struct run *run)
{
	switch (run->ops->ingest) {
	case INGEST_PROCUREMENT:
		return "records";	/* releases, or records of record packages */
	case INGEST_PROJECTS:
		return "projects";
	case INGEST_BUDGET:
		return "budget lines";
	}
	return "records";
}

/*
 * A problem's JSON pointer names a record of the chunk ("/releases/17/date"): the
 * same pointer into the page's document ("/releases/517/date").
 */
static void
document_pointer(const struct run *run, const char *pointer, char *out, size_t len)
{
	const char		*slash;
	char			*end;
	unsigned long long	 index;

	if (pointer[0] == '/' && (slash = strchr(pointer + 1, '/')) != NULL &&
	    slash[1] >= '0' && slash[1] <= '9') {
		index = strtoull(slash + 1, &end, 10);
		snprintf(out, len, "%.*s%llu%s", (int)(slash + 1 - pointer), pointer,
		    index + run->chunk.first, end);
		return;
	}
	snprintf(out, len, "%s", pointer);
}

/* The message of a refused chunk: the ingest's own, with the first problem. */
static void
fail_chunk(struct run *run, int status, json_t *reply)
{
	const char	*message = NULL, *pointer = NULL, *detail = NULL;
	json_t		*error, *first;
	char		 where[600], at[300] = "";

	error = json_object_get(reply, "error");
	message = json_string_value(json_object_get(error, "message"));
	first = json_array_get(json_object_get(error, "details"), 0);
	pointer = json_string_value(json_object_get(first, "pointer"));
	detail = json_string_value(json_object_get(first, "message"));
	if (pointer != NULL)
		document_pointer(run, pointer, at, sizeof(at));
	fail(run, "%s: %s %llu to %llu (from line %lu) refused with %d: %s%s%s%s%s",
	    page_name(run, where, sizeof(where)), record_noun(run), run->chunk.first,
	    run->chunk.first + run->chunk.records - 1, run->chunk.first_line, status,
	    message != NULL ? message : "no reason given",
	    pointer != NULL ? "; first: " : "", at, detail != NULL ? " " : "",
	    detail != NULL ? detail : "");
}

static void
on_chunk_written(int status, json_t *reply, unsigned flags, void *arg)
{
	struct run	*run = arg;
	json_t		*n;

	run->ingesting = false;
	if (status >= 300)
		fail_chunk(run, status, reply);
	else {
		n = json_object_get(reply, run->ops->ingest == INGEST_PROCUREMENT ?
		    "releases" : "records");
		run->records += (unsigned long long)json_integer_value(n);
		run->page_committed = run->chunk.first + run->chunk.records;
	}
	json_decref(reply);
	wake(run);
}

static bool
write_chunk(struct run *run)
{
	struct ingest_request	 req;
	struct ingest_feed	 feed;
	struct principal	 who;
	json_t			*cursor;
	char			*cursor_text, rid[17];

	/* The same page's ETag is what lets a resumed run skip what is written. */
	cursor = cursor_json(run->page_url, run->chunk.first + run->chunk.records,
	    run->page_etag, false);
	if (cursor == NULL || (cursor_text = json_dumps(cursor, JSON_COMPACT)) == NULL) {
		json_decref(cursor);
		fail(run, "out of memory");
		return false;
	}
	json_decref(cursor);

	memset(&who, 0, sizeof(who));
	if (run->agency != NULL) {
		who.role = ROLE_AGENCY;
		who.agency_id = run->agency_id;
		snprintf(who.agency_code, sizeof(who.agency_code), "%s", run->agency);
	} else
		who.role = ROLE_ANALYST;
	snprintf(who.name, sizeof(who.name), "feed %s", run->feed->name);

	memset(&feed, 0, sizeof(feed));
	feed.feed_id = run->feed->id;
	feed.run_id = run->run_id;
	feed.owner = run->feeds->owner;
	feed.lease = run->lease;
	feed.cursor = cursor_text;

	memset(&req, 0, sizeof(req));
	req.kind = run->ops->ingest;
	req.format = run->ops->format;
	req.body = run->chunk.body;
	req.len = run->chunk.len;
	req.csv_year = run->fiscal_year;
	req.csv_phase = run->phase;
	req.who = &who;
	req.default_agency = run->agency;
	snprintf(rid, sizeof(rid), "feedrun-%lld", run->run_id);
	req.request_id = rid;
	req.metrics = run->feeds->env.metrics;
	req.feed = &feed;

	run->ingesting = true;
	ingest_submit(run->feeds->env.db, run->feeds->cfg, &req, on_chunk_written, run);
	free(cursor_text);
	return true;
}

/* A 200 whose body is an error report, as ChileCompra's API sends on failures. */
static bool
error_body(const struct run *run, char *out, size_t len)
{
	json_error_t	 jerr;
	json_t		*doc, *status;
	bool		 is_error = false;

	if (run->head_len == 0 || run->head_len >= HEAD_MAX)
		return false;
	if ((doc = json_loadb(run->head, run->head_len, 0, &jerr)) == NULL)
		return false;
	status = json_object_get(doc, "status");
	if ((json_is_integer(status) && json_integer_value(status) >= 400) ||
	    json_object_get(doc, "error") != NULL || json_object_get(doc, "errors") != NULL)
		is_error = true;
	json_decref(doc);
	if (is_error)
		snprintf(out, len, "%.*s", (int)run->head_len, run->head);
	return is_error;
}

static void
fail_collection(struct run *run)
{
	char where[600], body[HEAD_MAX + 1];

	if (run->page_committed == 0 && error_body(run, body, sizeof(body)))
		fail(run, "%s: HTTP %d with an error in the body: %s",
		    page_name(run, where, sizeof(where)), run->http_status, body);
	else
		fail(run, "%s: %s", page_name(run, where, sizeof(where)),
		    collection_error(run->coll));
}

static void
on_page_recorded(PGresult *res, const char *error, void *arg)
{
	struct run	*run = arg;
	const char	*next;

	run->db_pending--;
	if (res == NULL || !db_result_ok(res)) {
		fail(run, "cannot record the end of page %u: %s", run->pages + 1,
		    db_result_error(res, error));
		return;
	}
	if (PQntuples(res) != 1) {
		fail(run, "this process no longer holds the feed's lease: another one took "
		    "the feed over");
		return;
	}
	run->pages++;
	run->bytes += run->page_bytes;
	run->page_bytes = 0;
	next = collection_next_url(run->coll);
	if (next == NULL) {
		wake(run);	/* the last page: the run is done */
		return;
	}
	if (run->pages >= PAGES_MAX) {
		fail(run, "more than %d pages: is links.next a loop?", PAGES_MAX);
		return;
	}
	replace(&run->page_url, next);
	collection_free(run->coll);
	run->coll = NULL;
	run->page_open = false;
	run->skip = 0;
	run->conditional = false;
	run->state = RUN_PAGE;
	wake(run);
}

static void
record_page(struct run *run)
{
	const char	*values[10], *next = collection_next_url(run->coll);
	json_t		*cursor;
	char		*cursor_text, bytes[24], http_status[8], lease[24];
	bool		 last = next == NULL;

	/*
	 * After the last page the cursor stays on it, with its validators: the next run
	 * asks for it again, conditionally, and follows links.next if one appeared.
	 */
	cursor = last ? cursor_json(run->page_url, 0, NULL, true) :
	    cursor_json(next, 0, NULL, false);
	if (cursor == NULL || (cursor_text = json_dumps(cursor, JSON_COMPACT)) == NULL) {
		json_decref(cursor);
		fail(run, "out of memory");
		return;
	}
	json_decref(cursor);
	snprintf(bytes, sizeof(bytes), "%llu", run->page_bytes);
	snprintf(http_status, sizeof(http_status), "%d", run->http_status);
	snprintf(lease, sizeof(lease), "%ld", run->lease);
	values[0] = run->feed_text;
	values[1] = cursor_text;
	values[2] = last ? run->page_etag : NULL;
	values[3] = last ? run->page_last_modified : NULL;
	values[4] = run->feeds->owner;
	values[5] = lease;
	values[6] = run->run_text;
	values[7] = bytes;
	values[8] = run->page_url;
	values[9] = http_status;
	run->state = RUN_PAGE_DONE;
	run_query(run, sql_page_done, 10, values, on_page_recorded);
	free(cursor_text);
}

/*
 * The page's reader, once its first bytes (or its end) arrived: records written by an
 * interrupted run are skipped only when the page is the one they came from, the same
 * ETag.
 */
static bool
open_collection(struct run *run, const char *etag)
{
	if (run->skip > 0 && (run->skip_etag == NULL || etag == NULL ||
	    strcmp(run->skip_etag, etag) != 0))
		run->skip = 0;
	replace(&run->page_etag, etag);
	if ((run->coll = collection_new(run->ops, &run->limits, run->page_url,
	    run->skip)) == NULL) {
		fail(run, "out of memory");
		return false;
	}
	return true;
}

static bool
on_body(const char *data, size_t len, void *arg)
{
	struct run	*run = arg;
	size_t		 keep;

	if (run->error != NULL || run->stopping)
		return false;
	if (run->coll == NULL && !open_collection(run, fetch_etag(run->fetch)))
		return false;
	if (run->head_len < HEAD_MAX) {
		keep = HEAD_MAX - run->head_len;
		if (keep > len)
			keep = len;
		memcpy(run->head + run->head_len, data, keep);
		run->head_len += keep;
	}
	run->page_bytes += len;
	if (!collection_write(run->coll, data, len)) {
		fail_collection(run);
		return false;
	}
	if (collection_buffered(run->coll) >= run->limits.chunk_bytes && !run->paused) {
		run->paused = true;
		fetch_pause(run->fetch);
	}
	wake(run);
	return true;
}

static void
on_page(const struct fetch_result *result, void *arg)
{
	struct run	*run = arg;
	char		 where[600];

	run->fetch = NULL;
	run->paused = false;
	run->http_status = result->http_status;
	if (result->retry_after >= 0)
		run->retry_after = result->retry_after;
	if (result->error != NULL) {
		fail(run, "%s: %s", page_name(run, where, sizeof(where)), result->error);
		return;
	}
	if (result->http_status == 304) {
		run->not_modified = true;
		wake(run);
		return;
	}
	/* An empty body still ends in a check that the document is whole. */
	if (run->coll == NULL && !open_collection(run, result->etag))
		return;
	replace(&run->page_etag, result->etag);
	replace(&run->page_last_modified, result->last_modified);
	run->page_complete = true;
	wake(run);
}

static void
start_page(struct run *run)
{
	struct fetch_request req;

	run->page_open = true;
	run->page_complete = false;
	run->page_committed = 0;
	run->head_len = 0;
	replace(&run->page_etag, NULL);
	replace(&run->page_last_modified, NULL);
	memset(&req, 0, sizeof(req));
	req.url = run->page_url;
	req.header = run->header;
	req.etag = run->conditional ? run->etag : NULL;
	req.last_modified = run->conditional ? run->last_modified : NULL;
	req.max_size = run->max_size;
	req.timeout = run->timeout;
	req.refuse_nul = true;
	if ((run->fetch = fetch_start(run->feeds->env.fetcher, &req, on_body, on_page,
	    run)) == NULL)
		fail(run, "cannot fetch %s: out of memory or a malformed request",
		    run->page_url);
}

/* Decides what comes next; runs from the loop, never inside another callback. */
static void
run_step(evutil_socket_t fd, short events, void *arg)
{
	struct run		*run = arg;
	enum collection_take	 rc;

	if (run->state == RUN_CLAIMING || run->state == RUN_FINISHING)
		return;
	if (run->stopping && run->error == NULL)
		fail(run, "stopped before its end (shutting down); the next run resumes here");
	if (run->error != NULL || run->not_modified) {
		if (run->fetch != NULL) {
			fetch_cancel(run->fetch);
			run->fetch = NULL;
		}
		if (!run->ingesting && run->db_pending == 0)
			finish(run);
		return;
	}
	if (run->state == RUN_PAGE_DONE) {
		if (run->db_pending == 0 && run->coll != NULL &&
		    collection_next_url(run->coll) == NULL)
			finish(run);
		return;
	}
	if (!run->page_open) {
		start_page(run);
		return;
	}
	if (run->coll == NULL)
		return;		/* no byte of the page yet */
	while (!run->ingesting && run->error == NULL) {
		rc = collection_take(run->coll, run->page_complete, &run->chunk);
		if (rc == COLLECTION_ERROR) {
			fail_collection(run);
			return;
		}
		if (rc == COLLECTION_NONE)
			break;
		if (!write_chunk(run))
			return;
	}
	if (run->ingesting || run->error != NULL)
		return;	/* the chunk's end, or the failure, wakes the run again */
	if (run->paused && run->fetch != NULL) {
		run->paused = false;
		fetch_resume(run->fetch);
	}
	if (run->page_complete)
		record_page(run);
}

/* --- Starting a run -------------------------------------------------------------- */

static void
on_heartbeat(PGresult *res, const char *error, void *arg)
{
	struct run *run = arg;

	run->db_pending--;
	if (res != NULL && db_result_ok(res) && PQntuples(res) == 0) {
		fail(run, "this process no longer holds the feed's lease: another one took "
		    "the feed over");
	} else if (res == NULL || !db_result_ok(res))
		log_warn("feeds", "feed %s: cannot renew its lease: %s", run->feed->name,
		    db_result_error(res, error));
	if (run->error != NULL)
		wake(run);
}

static void
on_heartbeat_due(evutil_socket_t fd, short events, void *arg)
{
	struct run	*run = arg;
	const char	*values[3];
	char		 lease[24];

	if (run->state == RUN_FINISHING || run->error != NULL || run->db_pending > 0)
		return;
	snprintf(lease, sizeof(lease), "%ld", run->lease);
	values[0] = run->feed_text;
	values[1] = run->feeds->owner;
	values[2] = lease;
	run_query(run, sql_heartbeat, 3, values, on_heartbeat);
}

/* The stored cursor: where an earlier run stopped, or the last page of the last one. */
static void
read_cursor(struct run *run, const char *text)
{
	json_error_t	 jerr;
	json_t		*c;
	const char	*url, *etag;

	replace(&run->page_url, run->url);
	run->conditional = true;
	if (text == NULL || (c = json_loads(text, 0, &jerr)) == NULL)
		return;
	url = json_string_value(json_object_get(c, "url"));
	etag = json_string_value(json_object_get(c, "etag"));
	if (url != NULL) {
		replace(&run->page_url, url);
		run->conditional = json_is_true(json_object_get(c, "complete"));
		if (!run->conditional) {
			run->skip = (unsigned long long)json_integer_value(
			    json_object_get(c, "skip"));
			replace(&run->skip_etag, etag);
		}
	}
	json_decref(c);
}

static void
on_claim(PGresult *res, const char *error, void *arg)
{
	struct run	*run = arg;
	struct feeds	*feeds = run->feeds;
	struct timeval	 tv;
	char		 message[300];
	long		 due_in;
	int		 status = 0;

	run->db_pending--;
	if (res == NULL || !db_result_ok(res) || PQntuples(res) != 1) {
		status = res == NULL || !db_result_ok(res) ? 503 : 404;
		snprintf(message, sizeof(message), status == 503 ?
		    "the database is not available: %s" : "no feed %s in the database",
		    status == 503 ? db_result_error(res, error) : run->feed->name);
	} else if (PQgetisnull(res, 0, 0)) {
		if (strcmp(PQgetvalue(res, 0, 8), "t") != 0) {
			status = 404;
			snprintf(message, sizeof(message), "feed %s is no longer configured",
			    run->feed->name);
		} else if (!PQgetisnull(res, 0, 7)) {
			status = 422;
			snprintf(message, sizeof(message), "feed %s cannot run: %s",
			    run->feed->name, PQgetvalue(res, 0, 7));
		} else if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
			status = 409;
			snprintf(message, sizeof(message), "feed %s is running already (in %s)",
			    run->feed->name, PQgetvalue(res, 0, 5));
		} else {
			/* Not due: another process ran it meanwhile. */
			status = 409;
			snprintf(message, sizeof(message), "feed %s is not due",
			    run->feed->name);
		}
	}
	if (status != 0) {
		due_in = res != NULL && db_result_ok(res) && PQntuples(res) == 1 &&
		    !PQgetisnull(res, 0, 9) ? strtol(PQgetvalue(res, 0, 9), NULL, 10) :
		    run->retry_base;
		if (status == 409 && due_in < run->lease)
			due_in = run->lease;	/* the holder may die: look again then */
		log_info("feeds", "feed %s not started: %s", run->feed->name, message);
		refuse_later(feeds, run->started, run->arg, status, message);
		run->done = NULL;
		run->run_id = 0;
		run->state = RUN_FINISHING;
		run_end(run, due_in);
		return;
	}
	run->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(run->run_text, sizeof(run->run_text), "%lld", run->run_id);
	run->failures = (unsigned)strtoul(PQgetvalue(res, 0, 4), NULL, 10);
	replace(&run->etag, PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2));
	replace(&run->last_modified, PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3));
	read_cursor(run, PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
	log_info("feeds", "feed %s run %lld started at %s%s", run->feed->name, run->run_id,
	    run->page_url, run->skip > 0 ? " (resuming)" : "");
	if (run->started != NULL)
		reply_later(feeds, run->started, run->arg, 202, json_pack("{s:s, s:I}",
		    "feed", run->feed->name, "run_id", (json_int_t)run->run_id));
	run->started = NULL;
	tv.tv_sec = run->lease / 3 > 0 ? run->lease / 3 : 1;
	tv.tv_usec = 0;
	event_add(run->heartbeat, &tv);
	run->state = RUN_PAGE;
	wake(run);
}

static bool
snapshot(struct run *run, const struct config_section *s, const struct config *cfg)
{
	const char	*agency = section_str(s, FEED_AGENCY);
	const char	*header = section_secret(s, FEED_AUTH_HEADER_FILE);
	struct tm	 tm;
	time_t		 now = time(NULL);

	run->ops = collector_find(section_str(s, FEED_KIND));
	run->url = strdup(section_str(s, FEED_URL));
	run->header = dup_or_null(header);
	if (run->header != NULL)
		run->header[strcspn(run->header, "\r\n")] = '\0';
	run->agency = agency != NULL && *agency != '\0' ? strdup(agency) : NULL;
	run->agency_id = run->feed->agency_id;
	run->timeout = (long)section_int(s, FEED_TIMEOUT);
	run->max_size = (size_t)section_int(s, FEED_MAX_SIZE);
	run->schedule = (long)section_int(s, FEED_SCHEDULE);
	run->fiscal_year = (int)section_int(s, FEED_FISCAL_YEAR);
	if (run->fiscal_year == 0 && gmtime_r(&now, &tm) != NULL)
		run->fiscal_year = tm.tm_year + 1900;
	snprintf(run->phase, sizeof(run->phase), "%s", section_str(s, FEED_PHASE));
	run->lease = (long)config_int(cfg, CFG_FEEDS_LEASE);
	run->retry_base = (long)config_int(cfg, CFG_FEEDS_RETRY_BASE);
	run->retry_max = (long)config_int(cfg, CFG_FEEDS_RETRY_MAX);
	run->limits.chunk_records = (size_t)config_int(cfg, CFG_FEEDS_CHUNK_RECORDS);
	run->limits.chunk_bytes = (size_t)config_int(cfg, CFG_FEEDS_CHUNK_BYTES);
	run->limits.record_max = (size_t)config_int(cfg, CFG_HTTP_MAX_BODY);
	run->retry_after = -1;
	return run->ops != NULL && run->url != NULL && (header == NULL ||
	    run->header != NULL) && (agency == NULL || *agency == '\0' || run->agency != NULL);
}

static void
start_run(struct feed *f, bool manual, feed_started_cb started, feed_done_cb done,
    void *arg)
{
	struct feeds	*feeds = f->feeds;
	struct run	*run;
	const char	*values[4];
	char		 lease[24];

	if ((run = calloc(1, sizeof(*run))) == NULL) {
		refuse_later(feeds, started, arg, 500, "out of memory");
		return;
	}
	run->feeds = feeds;
	run->feed = f;
	run->started = started;
	run->done = done;
	run->arg = arg;
	run->state = RUN_CLAIMING;
	clock_gettime(CLOCK_MONOTONIC, &run->began);
	snprintf(run->feed_text, sizeof(run->feed_text), "%lld", f->id);
	if (!snapshot(run, f->section, feeds->cfg) ||
	    (run->wake = event_new(feeds->env.base, -1, 0, run_step, run)) == NULL ||
	    (run->heartbeat = event_new(feeds->env.base, -1, EV_PERSIST, on_heartbeat_due,
	    run)) == NULL) {
		refuse_later(feeds, started, arg, 500, "out of memory");
		run_free(run);
		return;
	}
	f->run = run;
	feeds->running++;
	if (feeds->env.metrics != NULL)
		metrics_set(feeds->env.metrics, METRIC_RUNNING, "", feeds->running);
	snprintf(lease, sizeof(lease), "%ld", run->lease);
	values[0] = run->feed_text;
	values[1] = feeds->owner;
	values[2] = lease;
	values[3] = manual ? "true" : "false";
	run_query(run, sql_claim, 4, values, on_claim);
}

/* --- The interface --------------------------------------------------------------- */

static void
describe_metrics(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_describe(m, METRIC_RUNS, METRIC_COUNTER,
	    "Feed runs by feed and outcome (ok, not_modified, partial, failed).");
	metrics_describe(m, METRIC_RECORDS, METRIC_COUNTER,
	    "Records written from each feed.");
	metrics_describe(m, METRIC_BYTES, METRIC_COUNTER,
	    "Body bytes downloaded from each feed (after gzip).");
	metrics_describe(m, METRIC_RUN_SECONDS, METRIC_HISTOGRAM,
	    "How long feed runs take.");
	metrics_describe(m, METRIC_RUNNING, METRIC_GAUGE,
	    "Feed runs in progress in this process.");
}

struct feeds *
feeds_new(const struct feeds_env *env)
{
	struct feeds	*feeds;
	char		 host[64];

	if ((feeds = calloc(1, sizeof(*feeds))) == NULL)
		return NULL;
	feeds->env = *env;
	feeds->sync_delay = SYNC_RETRY_MIN;
	TAILQ_INIT(&feeds->list);
	TAILQ_INIT(&feeds->waiting);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	/* The random part tells apart two lives of one pid, as in a restarted container. */
	snprintf(feeds->owner, sizeof(feeds->owner), "%s:%ld:%08x", host, (long)getpid(),
	    arc4random());
	if ((feeds->sync_retry = evtimer_new(env->base, on_sync_retry, feeds)) == NULL) {
		free(feeds);
		return NULL;
	}
	describe_metrics(env->metrics);
	return feeds;
}

void
feeds_configure(struct feeds *feeds, const struct config *cfg)
{
	const struct config_section	*sections[256];
	struct feed			*f;
	size_t				 n;

	feeds->cfg = cfg;
	TAILQ_FOREACH(f, &feeds->list, entry) {
		f->section = NULL;
		evtimer_del(f->timer);
		if (f->waiting) {
			TAILQ_REMOVE(&feeds->waiting, f, waiting_entry);
			f->waiting = false;
		}
	}
	n = config_sections(cfg, "feed", sections, 256);
	for (size_t i = 0; i < n; i++) {
		if ((f = find_feed(feeds, sections[i]->name)) == NULL) {
			if ((f = calloc(1, sizeof(*f))) == NULL ||
			    (f->name = strdup(sections[i]->name)) == NULL ||
			    (f->timer = evtimer_new(feeds->env.base, on_due, f)) == NULL) {
				log_error("feeds", "out of memory configuring feed %s",
				    sections[i]->name);
				if (f != NULL)
					free(f->name);
				free(f);
				continue;
			}
			f->feeds = feeds;
			TAILQ_INSERT_TAIL(&feeds->list, f, entry);
		}
		f->section = sections[i];
	}
	sync_feeds(feeds);
}

void
feeds_run(struct feeds *feeds, const char *name, feed_started_cb started,
    feed_done_cb done, void *arg)
{
	struct feed *f = find_feed(feeds, name);

	if (f == NULL || f->section == NULL) {
		refuse_later(feeds, started, arg, 404, "no such feed in the configuration");
		return;
	}
	if (feeds->draining) {
		refuse_later(feeds, started, arg, 503, "the daemon is shutting down");
		return;
	}
	if (f->id == 0) {
		refuse_later(feeds, started, arg, 503, "the feeds are not recorded in the "
		    "database yet: retry");
		return;
	}
	if (f->problem) {
		refuse_later(feeds, started, arg, 422, "the feed cannot run as configured: "
		    "see GET /v1/feeds");
		return;
	}
	if (f->run != NULL) {
		refuse_later(feeds, started, arg, 409, "the feed is running already");
		return;
	}
	if (f->waiting) {
		TAILQ_REMOVE(&feeds->waiting, f, waiting_entry);
		f->waiting = false;
	}
	evtimer_del(f->timer);
	start_run(f, true, started, done, arg);
}

unsigned
feeds_running(const struct feeds *feeds)
{
	return feeds->running;
}

static void
on_drained_now(evutil_socket_t fd, short events, void *arg)
{
	struct feeds *feeds = arg;
	void (*cb)(void *) = feeds->drained;

	if (cb == NULL)
		return;
	feeds->drained = NULL;
	cb(feeds->drained_arg);
}

void
feeds_drain(struct feeds *feeds, void (*cb)(void *), void *arg)
{
	struct feed	*f;
	struct timeval	 now = { 0, 0 };

	feeds->draining = true;
	feeds->drained = cb;
	feeds->drained_arg = arg;
	evtimer_del(feeds->sync_retry);
	TAILQ_FOREACH(f, &feeds->list, entry) {
		evtimer_del(f->timer);
		if (f->run != NULL) {
			f->run->stopping = true;
			wake(f->run);
		}
	}
	while ((f = TAILQ_FIRST(&feeds->waiting)) != NULL) {
		TAILQ_REMOVE(&feeds->waiting, f, waiting_entry);
		f->waiting = false;
	}
	if (feeds->running == 0)
		event_base_once(feeds->env.base, -1, EV_TIMEOUT, on_drained_now, feeds,
		    &now);
}

void
feeds_free(struct feeds *feeds)
{
	struct feed *f;

	if (feeds == NULL)
		return;
	while ((f = TAILQ_FIRST(&feeds->list)) != NULL) {
		TAILQ_REMOVE(&feeds->list, f, entry);
		if (f->run != NULL) {
			f->run->feed = f;
			run_free(f->run);
		}
		event_free(f->timer);
		free(f->name);
		free(f);
	}
	event_free(feeds->sync_retry);
	free(feeds);
}
