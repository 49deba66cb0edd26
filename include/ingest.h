/*
 * The ingest write path, whatever brought the data (an HTTP push, `ictmonctl import`):
 * read and validate a body, claim its Idempotency-Key, then write it in one transaction
 * (COPY into staging tables, set-based upserts) and answer with what happened. The
 * reply is decided only after COMMIT succeeded.
 */
#ifndef ICTMON_INGEST_H
#define ICTMON_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "auth.h"

struct config;
struct db_pool;
struct metrics;

enum ingest_kind {
	INGEST_PROJECTS,
	INGEST_PROCUREMENT,
	INGEST_BUDGET,
};

enum ingest_format {
	INGEST_JSON,
	INGEST_CSV,		/* budget only: Chile's budget law layout */
};

#define INGEST_KEY_MAX		255	/* bytes of an Idempotency-Key */

/*
 * A chunk of a feed's page (include/feeds.h). Its batch names the feed, and the feed's
 * state moves in the same transaction as the data: a restart resumes after the last
 * committed chunk, never before or after it.
 */
struct ingest_feed {
	long long	 feed_id;
	long long	 run_id;	/* feed_run counts the chunk's records */
	const char	*owner;		/* the lease holder: a lost lease fails the batch (409) */
	long		 lease;		/* seconds the lease is extended by */
	const char	*cursor;	/* feed_source.cursor after this chunk */
	const char	*etag;		/* feed_source.etag and .last_modified after it */
	const char	*last_modified;
};

struct ingest_request {
	enum ingest_kind	 kind;
	enum ingest_format	 format;
	const char		*body;		/* valid until the callback */
	size_t			 len;
	int			 csv_year;	/* INGEST_CSV: the budget's fiscal year */
	const char		*csv_phase;	/* INGEST_CSV: approved|modified|... */
	const struct principal	*who;		/* copied */
	/* Records that name no agency are for this one (ictmonctl --agency); NULL: none. */
	const char		*default_agency;
	const char		*idempotency_key;	/* NULL: none; else checked already */
	const char		*request_id;	/* for the log line; may be NULL */
	const struct ingest_feed *feed;		/* a feed's chunk; NULL for a push */
	struct metrics		*metrics;	/* may be NULL */
};

#define INGEST_REPLAYED		0x01	/* the reply is a stored one (Idempotency-Key) */

/*
 * The outcome: an HTTP status and its JSON body (stolen by the callee), which is an
 * error body (http_error_body) for statuses >= 400. Success is 201 when the batch
 * inserted anything, else 200.
 */
typedef void	(*ingest_done_cb)(int status, json_t *reply, unsigned flags, void *arg);

/*
 * Starts an ingest. The callback runs exactly once, possibly before ingest_submit
 * returns (a body refused before any database work), and never after the pool is
 * freed without being called (the pool fails pending work, which answers 503).
 */
void		 ingest_submit(struct db_pool *pool, const struct config *cfg,
		    const struct ingest_request *req, ingest_done_cb cb, void *arg);

const char	*ingest_kind_name(enum ingest_kind kind);	/* "projects", ... */
/*
 * An Idempotency-Key header as the API takes it: 1 to INGEST_KEY_MAX printable ASCII
 * characters.
 */
bool		 ingest_key_valid(const char *key);
/*
 * The request hash stored with a key: hex SHA-256 over the kind, the format, the
 * query that changes the meaning of the body (CSV year and phase) and the body; hex
 * holds 65 bytes.
 */
void		 ingest_request_hash(const struct ingest_request *req, char *hex);

/* Declares the ingest metric families (call once, before the first ingest). */
void		 ingest_metrics_describe(struct metrics *m);

#endif
