/*
 * The feeds ictmon pulls ([feed.NAME] sections): their rows in feed_source, a timer
 * each, and their runs — page after page, each streamed through its collector
 * (include/collector.h) into the ingest path, every chunk committed with the feed's
 * cursor — with backoff after failures and a lease so that one process at a time runs
 * a feed, however many share the database.
 */
#ifndef ICTMON_FEEDS_H
#define ICTMON_FEEDS_H

#include <stdbool.h>
#include <jansson.h>

struct config;
struct db_pool;
struct event_base;
struct fetcher;
struct metrics;

struct feeds;

struct feeds_env {
	struct event_base	*base;
	struct db_pool		*db;
	struct fetcher		*fetcher;
	struct metrics		*metrics;	/* may be NULL */
	/* Timers run feeds when due (ictmond); false runs only what is asked (ictmonctl). */
	bool			 schedule;
};

/* How a run ended; valid during the callback. */
struct feed_outcome {
	const char		*feed;
	long long		 run_id;
	const char		*status;	/* ok|failed|partial|not_modified */
	int			 http_status;	/* of the last response; 0 none */
	unsigned long long	 records;	/* committed by this run */
	unsigned		 pages;
	const char		*message;	/* NULL when ok */
};

/*
 * A run asked for: 202 with {"feed", "run_id"} once it started, or an error body
 * (http_error_body) with 404 (no such feed), 409 (running here or elsewhere), 422
 * (the feed is misconfigured, e.g. its agency is unknown), 503 (no database). The
 * reply is the callee's to free.
 */
typedef void	(*feed_started_cb)(int status, json_t *reply, void *arg);
typedef void	(*feed_done_cb)(const struct feed_outcome *outcome, void *arg);

/* NULL when out of memory. Nothing runs before feeds_configure. */
struct feeds	*feeds_new(const struct feeds_env *env);

/*
 * Takes the feed sections of `cfg` (kept; the caller keeps it alive until the next
 * call or feeds_free): new feeds are added to feed_source, changed ones updated,
 * removed ones marked unconfigured (their history stays), then each is scheduled at
 * its next_run_at. Called at start and after each reload; runs in progress finish
 * with the configuration they started with.
 */
void		 feeds_configure(struct feeds *feeds, const struct config *cfg);

/*
 * Runs feed `name` now, whatever its schedule. `started` runs once, never inside
 * this call; `done`, when not NULL, once more when a started run ends.
 */
void		 feeds_run(struct feeds *feeds, const char *name, feed_started_cb started,
		    feed_done_cb done, void *arg);

/* Runs in progress in this process. */
unsigned	 feeds_running(const struct feeds *feeds);

/*
 * Stops scheduling and ends the runs in progress: their transfers are cancelled,
 * chunks being written finish or roll back, and each run is recorded as stopped
 * (a later run resumes from its cursor). `cb` runs once all are over, never inside
 * this call.
 */
void		 feeds_drain(struct feeds *feeds, void (*cb)(void *), void *arg);

/* After feeds_drain's callback, or with nothing running. */
void		 feeds_free(struct feeds *feeds);

#endif
