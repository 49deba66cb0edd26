/*
 * The ingest write path (include/ingest.h): a body is read and validated on the loop in
 * one pass, its Idempotency-Key claimed in a short transaction of its own, then the data
 * written in one transaction on one borrowed connection: COPY into staging tables,
 * set-based SQL, the batch row set done with its response, COMMIT, and only then the
 * reply. Each transaction is a list of steps run one statement at a time; any failure
 * rolls back and, for a claimed key, marks the batch failed so the key may be retried.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "budget.h"
#include "config.h"
#include "copy.h"
#include "db.h"
#include "digest.h"
#include "http.h"
#include "ingest.h"
#include "issues.h"
#include "log.h"
#include "metrics.h"
#include "ocds.h"
#include "ocds_flat.h"
#include "project.h"
#include "sjson.h"

#define METRIC_RECORDS		"ictmon_ingest_records_total"
#define METRIC_BATCHES		"ictmon_ingest_batches_total"
#define METRIC_SECONDS		"ictmon_ingest_seconds"

/* Problems listed in a 403's details: enough to fix a feed, never a huge reply. */
#define FORBIDDEN_LISTED	100
/* Unknown agencies or duplicate lines found in SQL and listed in a 422. */
#define SQL_ISSUES_LISTED	"1000"

/* Staging tables at least this big are analysed before they are joined. */
#define ANALYZE_MIN_ROWS	1000

struct ingest;

enum step_rc {
	STEP_SENT,		/* a statement is running; its result comes to on_result */
	STEP_SKIP,		/* nothing to run here: go on */
	STEP_FAILED,		/* stop: ing->status says why */
};

/*
 * One statement of a transaction. `send` runs it (or skips); `recv`, when set, reads
 * its result and returns false to stop with ing->status set (a 403 found in SQL, or a
 * decision of the idempotency claim).
 */
struct step {
	const char	*name;
	enum step_rc	(*send)(struct ingest *);
	bool		(*recv)(struct ingest *, PGresult *);
};

enum phase {
	PHASE_CLAIM,		/* the Idempotency-Key's own transaction */
	PHASE_DATA,		/* the data transaction */
	PHASE_UNDO,		/* ROLLBACK, then the claimed batch marked failed */
};

struct ingest {
	struct db_pool		*pool;
	struct db_conn		*conn;
	ingest_done_cb		 cb;
	void			*arg;
	struct metrics		*metrics;

	enum ingest_kind	 kind;
	enum ingest_format	 format;
	const char		*body;
	size_t			 len;
	int			 csv_year;
	char			*csv_phase;
	struct principal	 who;
	char			*default_agency;
	char			*key;
	/* A feed's chunk: its state saved with the data (include/ingest.h). */
	bool			 from_feed;
	char			 feed_id[24], run_id[24], lease[24];
	char			*feed_owner, *feed_cursor, *feed_etag, *feed_last_modified;
	char			 rid[17];
	char			 hash[65];
	long long		 max_records;
	long long		 stale_after;
	struct timespec		 started;
	struct timespec		 step_started;	/* for the debug log of slow steps */

	enum phase		 phase;
	const struct step	*steps;
	size_t			 nsteps;
	size_t			 at;
	bool			 claimed;	/* a keyed batch row is committed */
	bool			 retake;	/* a failed or abandoned batch's key */
	bool			 lost;		/* the connection went away */
	long long		 batch_id;
	char			 batch_text[24];

	/* The outcome. */
	int			 status;
	json_t			*reply;
	unsigned		 flags;

	/* What the batch did, for the reply and the log. */
	long long		 records;
	long long		 inserted, updated, unchanged;
	long long		 ocids_compiled, awards, agencies_created;
	size_t			 staged_compiled;	/* rows of stage_compiled */

	struct issue_list	 issues;
	struct copy_rows	 rows;		/* the kind's main staging rows */
	struct copy_rows	 extra;		/* procurement: given compiled releases */
	struct copy_rows	 compiled;	/* procurement: compiled here */
	struct ocds_flat	 flat;		/* procurement: the flat rows of both */
	bool			 flat_ready;	/* flat initialised */
	struct ocds_batch	 ocds;
};

static void	advance(struct ingest *);
static void	undo(struct ingest *);
static void	finish(struct ingest *);

/* --- Small helpers --------------------------------------------------------------- */

const char *
ingest_kind_name(enum ingest_kind kind)
{
	switch (kind) {
	case INGEST_PROJECTS:		return "projects";
	case INGEST_PROCUREMENT:	return "procurement";
	case INGEST_BUDGET:		return "budget";
	}
	return "unknown";
}

bool
ingest_key_valid(const char *key)
{
	size_t len = 0;

	if (key == NULL)
		return false;
	for (; key[len] != '\0'; len++) {
		if ((unsigned char)key[len] < 0x20 || (unsigned char)key[len] > 0x7e)
			return false;
	}
	return len >= 1 && len <= INGEST_KEY_MAX;
}

static const char *
format_name(enum ingest_format format)
{
	return format == INGEST_CSV ? "text/csv" : "application/json";
}

void
ingest_request_hash(const struct ingest_request *req, char *hex)
{
	char			 query[64] = "";
	const char		*kind = ingest_kind_name(req->kind);
	const char		*format = format_name(req->format);

	if (req->format == INGEST_CSV)
		snprintf(query, sizeof(query), "year=%d&phase=%s", req->csv_year,
		    req->csv_phase != NULL ? req->csv_phase : "");
	/* The parts are separated by a NUL, which only the body may hold. */
	struct digest_part parts[] = {
		{ kind, strlen(kind) + 1 },
		{ format, strlen(format) + 1 },
		{ query, strlen(query) + 1 },
		{ req->body, req->len },
	};
	(void)sha256_hex_parts(parts, sizeof(parts) / sizeof(parts[0]), hex);
}

void
ingest_metrics_describe(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_describe(m, METRIC_RECORDS, METRIC_COUNTER,
	    "Records written by ingest batches, by kind and what happened to them.");
	metrics_describe(m, METRIC_BATCHES, METRIC_COUNTER,
	    "Ingest batches answered, by kind and HTTP status.");
	metrics_describe(m, METRIC_SECONDS, METRIC_HISTOGRAM,
	    "How long ingest batches took from the body read to the answer, by kind.");
}

static double
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1000.0 +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/*
 * The outcome as an error reply; details stolen. The first error wins; an error after
 * a success reply was made (a failed COMMIT) replaces it, since nothing was written.
 */
static void
set_error(struct ingest *ing, int status, const char *message, json_t *details)
{
	if (ing->reply != NULL && ing->status >= 400) {
		json_decref(details);
		return;
	}
	json_decref(ing->reply);
	ing->reply = NULL;
	ing->status = status;
	if ((ing->reply = http_error_body(status, message, details)) == NULL)
		ing->status = 500;
}

static void
set_errorf(struct ingest *ing, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_errorf(struct ingest *ing, int status, const char *fmt, ...)
{
	char	message[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	set_error(ing, status, message, NULL);
}

static void
set_nomem(struct ingest *ing)
{
	set_error(ing, 500, "out of memory", NULL);
}

/* 400 for a body that is not JSON: where and why, as the issue asks. */
static void
set_malformed(struct ingest *ing, const struct sjson_error *err)
{
	json_t	*details = json_array(), *d;
	char	 message[256];

	snprintf(message, sizeof(message), "malformed JSON at line %d, column %d: %s",
	    err->line, err->column, err->message);
	if (details != NULL && (d = json_pack("{s:i, s:i, s:s}", "line", err->line,
	    "column", err->column, "message", err->message)) != NULL)
		json_array_append_new(details, d);
	set_error(ing, 400, message, details);
}

static void
set_invalid(struct ingest *ing)
{
	char message[128];

	snprintf(message, sizeof(message), "%zu problem%s in the batch: nothing was written",
	    ing->issues.total, ing->issues.total == 1 ? "" : "s");
	set_error(ing, 422, message, issues_to_json(&ing->issues));
}

static bool
copy_ok(struct ingest *ing, const struct copy_rows *rows)
{
	if (rows->failed) {
		set_nomem(ing);
		return false;
	}
	return true;
}

static long long
result_count(const PGresult *res, int row, int col)
{
	if (PQntuples(res) <= row || PQnfields(res) <= col || PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static long long
affected(const PGresult *res)
{
	const char *n = PQcmdTuples((PGresult *)res);

	return n != NULL && *n != '\0' ? strtoll(n, NULL, 10) : 0;
}

/* --- Running statements ---------------------------------------------------------- */

static void
on_result(PGresult *res, const char *error, void *arg)
{
	struct ingest		*ing = arg;
	const struct step	*step = &ing->steps[ing->at];
	const char		*state;

	if (ing->phase == PHASE_UNDO) {
		/* Undoing keeps the outcome it undoes; a failure here is only logged. */
		if (res == NULL || !db_result_ok(res)) {
			log_warn("ingest", "rid=%s %s: %s", ing->rid, step->name,
			    res == NULL ? (error != NULL ? error : "no result") :
			    db_result_error(res, error));
			ing->lost = ing->lost || res == NULL;
		}
		ing->at++;
		advance(ing);
		return;
	}
	if (res == NULL) {
		log_error("ingest", "rid=%s %s: %s", ing->rid, step->name,
		    error != NULL ? error : "no result");
		ing->lost = true;
		set_error(ing, 503, "the database connection was lost: nothing was written",
		    NULL);
		undo(ing);
		return;
	}
	if (!db_result_ok(res)) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "55P03") == 0) {
			/* FOR UPDATE NOWAIT: the batch row is held by its own request. */
			set_error(ing, 409, "a request with this Idempotency-Key is still "
			    "running", NULL);
		} else if (state != NULL && strncmp(state, "53", 2) == 0) {
			/* disk full, out of memory: no half of the batch was kept */
			log_error("ingest", "rid=%s %s: %s", ing->rid, step->name,
			    db_result_error(res, error));
			set_error(ing, 503, "the database is out of disk space or memory: "
			    "nothing was written; retry later", NULL);
		} else if (db_result_retryable(res) ||
		    (state != NULL && strcmp(state, "57014") == 0)) {
			log_warn("ingest", "rid=%s %s: %s", ing->rid, step->name,
			    db_result_error(res, error));
			set_error(ing, 503, "the database could not finish the batch now; "
			    "retry", NULL);
		} else {
			log_error("ingest", "rid=%s %s: %s", ing->rid, step->name,
			    db_result_error(res, error));
			set_error(ing, 500, "the database refused the batch: nothing was "
			    "written", NULL);
		}
		undo(ing);
		return;
	}
	log_debug("ingest", "rid=%s %s: %.1fms", ing->rid, step->name,
	    elapsed_ms(&ing->step_started));
	if (step->recv != NULL && !step->recv(ing, res)) {
		if (ing->status == 0)
			set_nomem(ing);
		undo(ing);
		return;
	}
	ing->at++;
	advance(ing);
}

static enum step_rc
query(struct ingest *ing, const char *sql, int nparams, const char *const *values)
{
	if (db_conn_query(ing->conn, sql, nparams, values, on_result, ing) == -1) {
		ing->lost = true;
		if (ing->phase != PHASE_UNDO)
			set_error(ing, 503, "the database connection was lost: nothing "
			    "was written", NULL);
		return STEP_FAILED;
	}
	return STEP_SENT;
}

static enum step_rc
copy_in(struct ingest *ing, const char *sql, struct copy_rows *rows)
{
	/* Sent in pieces, each let go once sent: the rows are never held twice. */
	if (db_conn_copy(ing->conn, sql, rows->buf, on_result, ing) == -1) {
		ing->lost = true;
		set_error(ing, 503, "the database connection was lost: nothing was written",
		    NULL);
		return STEP_FAILED;
	}
	return STEP_SENT;
}

static void
run_steps(struct ingest *ing, enum phase phase, const struct step *steps, size_t n)
{
	ing->phase = phase;
	ing->steps = steps;
	ing->nsteps = n;
	ing->at = 0;
	advance(ing);
}

/* --- Common steps ---------------------------------------------------------------- */

static const char sql_batch_insert[] =
    "INSERT INTO ingest_batch (token_id, token_role, agency_id, kind, idempotency_key,"
    "  request_hash, feed_id)"
    " VALUES ($1::bigint, $2, coalesce($3::bigint,"
    "  (SELECT id FROM agency WHERE code = $4)), $5, $6, $7, $8::bigint)"
    " ON CONFLICT (idempotency_scope, idempotency_key) DO NOTHING"
    " RETURNING id";

static const char sql_batch_claimed[] =
    "SELECT id, status, request_hash = $3 AS same_request, response_status,"
    "  response, created_at < now() - make_interval(secs => $4::int) AS stale"
    " FROM ingest_batch WHERE idempotency_scope = $1 AND idempotency_key = $2"
    " FOR UPDATE NOWAIT";

static const char sql_batch_retake[] =
    "UPDATE ingest_batch SET status = 'running', finished_at = NULL,"
    "  created_at = now(), request_hash = $2, token_id = $3::bigint, counts = '{}',"
    "  response_status = NULL, response = NULL"
    " WHERE id = $1::bigint";

/*
 * A feed's cursor and validators move with its data, and only while this process
 * still holds the feed's lease: a process that lost it (stalled past lease_until,
 * another one took over) must not write behind the new holder's back.
 */
static const char sql_feed_state[] =
    "WITH f AS (UPDATE feed_source SET cursor = $2, etag = $3, last_modified = $4,"
    "   lease_until = now() + make_interval(secs => $6::int)"
    "  WHERE id = $1::bigint AND lease_owner = $5 RETURNING id),"
    " r AS (UPDATE feed_run SET records = records + $8::int"
    "  WHERE id = $7::bigint AND feed_id IN (SELECT id FROM f) RETURNING id)"
    " SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM r)";

static const char sql_batch_done[] =
    "UPDATE ingest_batch SET status = 'done', finished_at = now(),"
    "  counts = $2::jsonb, response_status = $3::int, response = $4"
    " WHERE id = $1::bigint";

static const char sql_batch_failed[] =
    "UPDATE ingest_batch SET status = 'failed', finished_at = now(),"
    "  response_status = $2::int, response = $3"
    " WHERE id = $1::bigint AND status = 'running'";

static enum step_rc
send_begin(struct ingest *ing)
{
	return query(ing, "BEGIN", 0, NULL);
}

static enum step_rc
send_commit(struct ingest *ing)
{
	return query(ing, "COMMIT", 0, NULL);
}

static enum step_rc
send_rollback(struct ingest *ing)
{
	if (ing->lost)
		return STEP_SKIP;
	return query(ing, "ROLLBACK", 0, NULL);
}

/*
 * Instants without an offset in published data are read as UTC. JIT compiling costs
 * more than it saves on these statements, whose estimates (temporary tables) are wild.
 */
static enum step_rc
send_session(struct ingest *ing)
{
	return query(ing, "SELECT set_config('TimeZone', 'UTC', true),"
	    " set_config('jit', 'off', true)", 0, NULL);
}

static void
scope_text(const struct ingest *ing, char *buf, size_t len)
{
	if (ing->who.role == ROLE_AGENCY)
		snprintf(buf, len, "agency:%lld", ing->who.agency_id);
	else
		snprintf(buf, len, "token:%lld", ing->who.token_id);
}

static enum step_rc
send_batch_insert(struct ingest *ing)
{
	char		 token_id[24], agency_id[24];
	const char	*values[8];

	if (ing->batch_id != 0)
		return STEP_SKIP;	/* claimed with its key */
	snprintf(token_id, sizeof(token_id), "%lld", ing->who.token_id);
	snprintf(agency_id, sizeof(agency_id), "%lld", ing->who.agency_id);
	values[0] = ing->who.token_id > 0 ? token_id : NULL;
	values[1] = ing->who.token_id > 0 ? role_name(ing->who.role) : NULL;
	values[2] = ing->who.role == ROLE_AGENCY ? agency_id : NULL;
	values[3] = ing->who.role == ROLE_AGENCY ? NULL : ing->default_agency;
	values[4] = ingest_kind_name(ing->kind);
	values[5] = ing->key;
	values[6] = ing->key != NULL ? ing->hash : NULL;
	values[7] = ing->from_feed ? ing->feed_id : NULL;
	return query(ing, sql_batch_insert, 8, values);
}

static bool
recv_batch_insert(struct ingest *ing, PGresult *res)
{
	if (PQntuples(res) == 1) {
		ing->batch_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(ing->batch_text, sizeof(ing->batch_text), "%lld", ing->batch_id);
		if (ing->phase == PHASE_CLAIM)
			ing->claimed = true;	/* once committed */
	}
	if (ing->batch_id == 0 && ing->phase == PHASE_DATA) {
		set_error(ing, 500, "cannot record the batch", NULL);
		return false;
	}
	return true;
}

static enum step_rc
send_batch_claimed(struct ingest *ing)
{
	char		 scope[48], stale[24];
	const char	*values[4];

	if (ing->batch_id != 0)
		return STEP_SKIP;
	scope_text(ing, scope, sizeof(scope));
	snprintf(stale, sizeof(stale), "%lld", ing->stale_after);
	values[0] = scope;
	values[1] = ing->key;
	values[2] = ing->hash;
	values[3] = stale;
	return query(ing, sql_batch_claimed, 4, values);
}

/* The key was taken before: replay, refuse, or take over an abandoned batch. */
static bool
recv_batch_claimed(struct ingest *ing, PGresult *res)
{
	const char	*status, *stored;
	json_error_t	 jerr;
	bool		 same, stale;

	if (PQntuples(res) != 1) {
		/* Taken and gone between our two statements: a retry settles it. */
		set_error(ing, 409, "a request with this Idempotency-Key is still running",
		    NULL);
		return false;
	}
	status = PQgetvalue(res, 0, 1);
	same = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	stale = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	if (!same) {
		set_error(ing, 422, "this Idempotency-Key was used for a different request",
		    NULL);
		return false;
	}
	if (strcmp(status, "done") == 0) {
		stored = PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4);
		/* The stored response is our own JSON, not ingested data. */
		if (stored == NULL || (ing->reply = json_loads(stored, 0, &jerr)) == NULL) {
			set_error(ing, 500, "the stored response cannot be read", NULL);
			return false;
		}
		ing->status = (int)result_count(res, 0, 3);
		ing->flags |= INGEST_REPLAYED;
		return false;
	}
	if (strcmp(status, "running") == 0 && !stale) {
		set_error(ing, 409, "a request with this Idempotency-Key is still running",
		    NULL);
		return false;
	}
	/* failed, or running so long that its request is gone: ours now */
	ing->batch_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(ing->batch_text, sizeof(ing->batch_text), "%lld", ing->batch_id);
	ing->claimed = true;
	ing->retake = true;
	return true;
}

static enum step_rc
send_batch_retake(struct ingest *ing)
{
	char		 token_id[24];
	const char	*values[3];

	if (!ing->retake)
		return STEP_SKIP;
	snprintf(token_id, sizeof(token_id), "%lld", ing->who.token_id);
	values[0] = ing->batch_text;
	values[1] = ing->hash;
	values[2] = ing->who.token_id > 0 ? token_id : NULL;
	return query(ing, sql_batch_retake, 3, values);
}

static enum step_rc
send_feed_state(struct ingest *ing)
{
	char		 records[24];
	const char	*values[8];

	if (!ing->from_feed)
		return STEP_SKIP;
	snprintf(records, sizeof(records), "%lld", ing->records);
	values[0] = ing->feed_id;
	values[1] = ing->feed_cursor;
	values[2] = ing->feed_etag;
	values[3] = ing->feed_last_modified;
	values[4] = ing->feed_owner;
	values[5] = ing->lease;
	values[6] = ing->run_id;
	values[7] = records;
	return query(ing, sql_feed_state, 8, values);
}

static bool
recv_feed_state(struct ingest *ing, PGresult *res)
{
	if (PQntuples(res) != 1 || result_count(res, 0, 0) != 1) {
		set_error(ing, 409, "this process no longer holds the feed's lease: another "
		    "one took the feed over; nothing was written", NULL);
		return false;
	}
	return true;
}

static json_t *
counts_json(const struct ingest *ing)
{
	json_t *c;

	if (ing->kind == INGEST_PROCUREMENT)
		c = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "releases", (json_int_t)ing->records,
		    "inserted", (json_int_t)ing->inserted,
		    "updated", (json_int_t)ing->updated,
		    "unchanged", (json_int_t)ing->unchanged,
		    "ocids_compiled", (json_int_t)ing->ocids_compiled,
		    "awards", (json_int_t)ing->awards,
		    "agencies_created", (json_int_t)ing->agencies_created);
	else
		c = json_pack("{s:I, s:I, s:I, s:I}",
		    "records", (json_int_t)ing->records,
		    "inserted", (json_int_t)ing->inserted,
		    "updated", (json_int_t)ing->updated,
		    "unchanged", (json_int_t)ing->unchanged);
	return c;
}

/* The success reply: 201 when the batch inserted anything, else 200. */
static enum step_rc
send_batch_done(struct ingest *ing)
{
	json_t		*counts = NULL;
	char		*counts_text = NULL, *reply_text = NULL, status[8];
	const char	*values[4];
	enum step_rc	 rc = STEP_FAILED;

	if ((counts = counts_json(ing)) == NULL ||
	    (ing->reply = json_deep_copy(counts)) == NULL ||
	    json_object_set_new(ing->reply, "batch_id", json_integer(ing->batch_id)) ||
	    json_object_set_new(ing->reply, "kind",
	    json_string(ingest_kind_name(ing->kind)))) {
		set_nomem(ing);
		goto out;
	}
	ing->status = ing->inserted > 0 || ing->ocids_compiled > 0 ? 201 : 200;
	if ((counts_text = json_dumps(counts, JSON_COMPACT)) == NULL ||
	    (reply_text = json_dumps(ing->reply, JSON_COMPACT)) == NULL) {
		set_nomem(ing);
		goto out;
	}
	snprintf(status, sizeof(status), "%d", ing->status);
	values[0] = ing->batch_text;
	values[1] = counts_text;
	values[2] = status;
	values[3] = reply_text;
	rc = query(ing, sql_batch_done, 4, values);
out:
	if (rc == STEP_FAILED && ing->status < 400)
		set_nomem(ing);
	json_decref(counts);
	free(counts_text);
	free(reply_text);
	return rc;
}

static enum step_rc
send_batch_failed(struct ingest *ing)
{
	char		*reply_text = NULL, status[8];
	const char	*values[3];
	enum step_rc	 rc;

	if (!ing->claimed || ing->lost)
		return STEP_SKIP;
	snprintf(status, sizeof(status), "%d", ing->status);
	reply_text = ing->reply != NULL ? json_dumps(ing->reply, JSON_COMPACT) : NULL;
	values[0] = ing->batch_text;
	values[1] = status;
	values[2] = reply_text;
	rc = query(ing, sql_batch_failed, 3, values);
	free(reply_text);
	return rc;
}

static const struct step claim_steps[] = {
	{ "claim begin", send_begin, NULL },
	{ "claim key", send_batch_insert, recv_batch_insert },
	{ "claimed before", send_batch_claimed, recv_batch_claimed },
	{ "claim retake", send_batch_retake, NULL },
	{ "claim commit", send_commit, NULL },
};

static const struct step undo_steps[] = {
	{ "rollback", send_rollback, NULL },
	{ "batch failed", send_batch_failed, NULL },
};

/* --- Projects and budget lines ------------------------------------------------------ */

static const char sql_stage_project[] =
    "CREATE TEMP TABLE stage_project (" PROJECT_STAGING_COLUMNS ") ON COMMIT DROP";

static const char sql_copy_project[] =
    "COPY stage_project FROM STDIN";

static const char sql_unknown_project_agencies[] =
    "SELECT s.record, s.agency_pointer, s.agency FROM stage_project s"
    " WHERE NOT EXISTS (SELECT 1 FROM agency a WHERE a.code = s.agency)"
    " ORDER BY s.record LIMIT " SQL_ISSUES_LISTED;

/*
 * One statement for the whole batch: new projects inserted, changed ones updated (a
 * record whose content hash is the stored one is left alone), and a version of each
 * inserted or updated project with the record as accepted.
 */
static const char sql_upsert_projects[] =
    "WITH s AS ("
    "  SELECT s.*, a.id AS agency_id FROM stage_project s"
    "  JOIN agency a ON a.code = s.agency),"
    " up AS ("
    "  INSERT INTO project AS p (agency_id, external_id, title, description, category,"
    "   capabilities, status, planned_start, planned_end, projected_end, actual_start,"
    "   actual_end, planned_cost, projected_cost, actual_cost, currency, review_status,"
    "   cio_rating, shared_platforms, budget_lines, ocids, funding_source,"
    "   funding_program, content_hash)"
    "  SELECT agency_id, external_id, title, description, category, capabilities,"
    "   status, planned_start, planned_end, projected_end, actual_start, actual_end,"
    "   planned_cost, projected_cost, actual_cost, currency, review_status, cio_rating,"
    "   shared_platforms, budget_lines, ocids, funding_source, funding_program,"
    "   content_hash"
    "  FROM s ORDER BY agency_id, external_id"
    "  ON CONFLICT (agency_id, external_id) DO UPDATE SET"
    "   title = EXCLUDED.title, description = EXCLUDED.description,"
    "   category = EXCLUDED.category, capabilities = EXCLUDED.capabilities,"
    "   status = EXCLUDED.status, planned_start = EXCLUDED.planned_start,"
    "   planned_end = EXCLUDED.planned_end, projected_end = EXCLUDED.projected_end,"
    "   actual_start = EXCLUDED.actual_start, actual_end = EXCLUDED.actual_end,"
    "   planned_cost = EXCLUDED.planned_cost, projected_cost = EXCLUDED.projected_cost,"
    "   actual_cost = EXCLUDED.actual_cost, currency = EXCLUDED.currency,"
    "   review_status = EXCLUDED.review_status, cio_rating = EXCLUDED.cio_rating,"
    "   shared_platforms = EXCLUDED.shared_platforms,"
    "   budget_lines = EXCLUDED.budget_lines, ocids = EXCLUDED.ocids,"
    "   funding_source = EXCLUDED.funding_source,"
    "   funding_program = EXCLUDED.funding_program,"
    "   content_hash = EXCLUDED.content_hash, version = p.version + 1,"
    "   updated_at = now()"
    "  WHERE p.content_hash <> EXCLUDED.content_hash"
    "  RETURNING p.id, p.version, p.agency_id, p.external_id, p.xmax = 0 AS inserted),"
    " versions AS ("
    "  INSERT INTO project_version (project_id, version, data, batch_id)"
    "  SELECT up.id, up.version, s.data, $1::bigint FROM up"
    "  JOIN s ON s.agency_id = up.agency_id AND s.external_id = up.external_id"
    "  RETURNING 1)"
    " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
    "  (SELECT count(*) FROM s), (SELECT count(*) FROM versions) FROM up";

static const char sql_stage_budget[] =
    "CREATE TEMP TABLE stage_budget (" BUDGET_STAGING_COLUMNS ") ON COMMIT DROP";

static const char sql_copy_budget[] =
    "COPY stage_budget FROM STDIN";

/* A budget line names its agency by code or by its budget alias (Partida-Capítulo). */
#define BUDGET_AGENCY_ID \
    "coalesce((SELECT a.id FROM agency a WHERE a.code = s.agency)," \
    " (SELECT x.agency_id FROM agency_alias x" \
    "  WHERE x.scheme = 'budget' AND x.identifier = s.agency))"

static const char sql_unknown_budget_agencies[] =
    "SELECT s.record, s.agency_pointer, s.agency FROM stage_budget s"
    " WHERE " BUDGET_AGENCY_ID " IS NULL"
    " ORDER BY s.record LIMIT " SQL_ISSUES_LISTED;

/* Two lines that name one agency differently (code, alias) but are the same line. */
static const char sql_duplicate_budget_lines[] =
    "SELECT max(s.record), (array_agg(s.agency_pointer ORDER BY s.record DESC))[1],"
    "  min(s.record) FROM ("
    "  SELECT s.*, " BUDGET_AGENCY_ID " AS agency_id FROM stage_budget s) s"
    " GROUP BY agency_id, fiscal_year, program, subtitulo, item, asignacion, phase,"
    "  period, currency"
    " HAVING count(*) > 1 ORDER BY 1 LIMIT " SQL_ISSUES_LISTED;

static const char sql_upsert_budget[] =
    "WITH s AS ("
    "  SELECT s.*, " BUDGET_AGENCY_ID " AS agency_id FROM stage_budget s),"
    " up AS ("
    "  INSERT INTO budget_line AS b (agency_id, fiscal_year, program, subtitulo, item,"
    "   asignacion, denomination, phase, period, amount, currency, batch_id)"
    "  SELECT agency_id, fiscal_year, program, subtitulo, item, asignacion,"
    "   denomination, phase, period, amount, currency, $1::bigint FROM s"
    "  ON CONFLICT (agency_id, fiscal_year, program, subtitulo, item, asignacion,"
    "   phase, period, currency) DO UPDATE SET amount = EXCLUDED.amount,"
    "   denomination = EXCLUDED.denomination, batch_id = EXCLUDED.batch_id,"
    "   updated_at = now()"
    "  WHERE (b.amount, b.denomination) IS DISTINCT FROM"
    "   (EXCLUDED.amount, EXCLUDED.denomination)"
    "  RETURNING b.xmax = 0 AS inserted)"
    " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
    "  (SELECT count(*) FROM s) FROM up";

/* A record of another agency than an agency token's: 403, nothing written. */
static void
set_forbidden(struct ingest *ing, size_t forbidden, long record, const char *pointer)
{
	json_t	*details = json_array();
	char	 message[256];

	snprintf(message, sizeof(message), "%zu record%s of another agency than %s: an "
	    "agency token writes only its own agency's data; nothing was written",
	    forbidden, forbidden == 1 ? "" : "s", ing->who.agency_code);
	if (details != NULL)
		json_array_append_new(details, json_pack("{s:I, s:s, s:s}", "record",
		    (json_int_t)record, "pointer", pointer, "message",
		    "names another agency than the token's"));
	set_error(ing, 403, message, details);
}

static bool
projects_read(struct ingest *ing)
{
	struct project_scope		scope;
	struct project_read_result	result;
	struct sjson_error		err;
	enum project_read_status	st;

	memset(&result, 0, sizeof(result));
	memset(&err, 0, sizeof(err));
	scope.any_agency = ing->who.role != ROLE_AGENCY;
	scope.agency = scope.any_agency ? ing->default_agency : ing->who.agency_code;
	if (copy_rows_init(&ing->rows) == -1) {
		set_nomem(ing);
		return false;
	}
	st = project_read(ing->body, ing->len, NULL, &scope, &ing->rows, &ing->issues,
	    &err, &result);
	ing->records = (long long)result.records;
	if (st == PROJECT_READ_MALFORMED) {
		set_malformed(ing, &err);
		return false;
	}
	if (st == PROJECT_READ_NOMEM) {
		set_nomem(ing);
		return false;
	}
	if (result.forbidden > 0) {
		set_forbidden(ing, result.forbidden, result.forbidden_record,
		    result.forbidden_pointer);
		return false;
	}
	if (ing->issues.total > 0) {
		set_invalid(ing);
		return false;
	}
	if (ing->records > ing->max_records) {
		set_errorf(ing, 422, "%lld projects in one batch; at most %lld "
		    "(ingest.max_records)", ing->records, ing->max_records);
		return false;
	}
	return copy_ok(ing, &ing->rows);
}

static bool
budget_read(struct ingest *ing)
{
	struct budget_scope		scope;
	struct budget_read_result	result;
	struct budget_csv_params	params;
	struct sjson_error		err;
	enum budget_read_status		st;

	memset(&result, 0, sizeof(result));
	memset(&err, 0, sizeof(err));
	memset(&params, 0, sizeof(params));
	scope.any_agency = ing->who.role != ROLE_AGENCY;
	scope.agency = scope.any_agency ? ing->default_agency : ing->who.agency_code;
	if (copy_rows_init(&ing->rows) == -1) {
		set_nomem(ing);
		return false;
	}
	if (ing->format == INGEST_CSV) {
		params.fiscal_year = ing->csv_year;
		snprintf(params.phase, sizeof(params.phase), "%s",
		    ing->csv_phase != NULL ? ing->csv_phase : "");
		st = budget_read_csv(ing->body, ing->len, &params, &scope, &ing->rows,
		    &ing->issues, &err, &result);
	} else
		st = budget_read_json(ing->body, ing->len, NULL, &scope, &ing->rows,
		    &ing->issues, &err, &result);
	ing->records = (long long)ing->rows.rows;
	if (st == BUDGET_READ_MALFORMED) {
		if (ing->format == INGEST_CSV) {
			char message[256];

			snprintf(message, sizeof(message), "malformed CSV at line %d: %s",
			    err.line, err.message);
			set_error(ing, 400, message, json_pack("[{s:i, s:s}]", "line",
			    err.line, "message", err.message));
		} else
			set_malformed(ing, &err);
		return false;
	}
	if (st == BUDGET_READ_NOMEM) {
		set_nomem(ing);
		return false;
	}
	if (result.forbidden > 0) {
		set_forbidden(ing, result.forbidden, result.forbidden_record,
		    result.forbidden_pointer);
		return false;
	}
	if (ing->issues.total > 0) {
		set_invalid(ing);
		return false;
	}
	if ((long long)result.records > ing->max_records) {
		set_errorf(ing, 422, "%zu budget lines in one batch; at most %lld "
		    "(ingest.max_records)", result.records, ing->max_records);
		return false;
	}
	return copy_ok(ing, &ing->rows);
}

static enum step_rc
send_stage_project(struct ingest *ing)
{
	return query(ing, sql_stage_project, 0, NULL);
}

static enum step_rc
send_copy_project(struct ingest *ing)
{
	return ing->rows.rows > 0 ? copy_in(ing, sql_copy_project, &ing->rows) : STEP_SKIP;
}

static bool
recv_copy_rows(struct ingest *ing, PGresult *res)
{
	copy_rows_free(&ing->rows);
	return true;
}

static enum step_rc
send_unknown_project_agencies(struct ingest *ing)
{
	return query(ing, sql_unknown_project_agencies, 0, NULL);
}

/* Rows of (record, pointer, agency code): one 422 issue each. */
static bool
recv_unknown_agencies(struct ingest *ing, PGresult *res)
{
	int n = PQntuples(res);

	if (n == 0)
		return true;
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 2))
			issues_add(&ing->issues, (long)result_count(res, i, 0),
			    PQgetvalue(res, i, 1), "names no agency (give \"agency\")");
		else
			issues_add(&ing->issues, (long)result_count(res, i, 0),
			    PQgetvalue(res, i, 1), "no agency with code \"%.64s\"",
			    PQgetvalue(res, i, 2));
	}
	set_invalid(ing);
	return false;
}

static enum step_rc
send_upsert_projects(struct ingest *ing)
{
	const char *values[1] = { ing->batch_text };

	return query(ing, sql_upsert_projects, 1, values);
}

static bool
recv_upsert(struct ingest *ing, PGresult *res)
{
	long long total = result_count(res, 0, 2);

	ing->inserted = result_count(res, 0, 0);
	ing->updated = result_count(res, 0, 1);
	ing->unchanged = total - ing->inserted - ing->updated;
	return true;
}

static enum step_rc
send_stage_budget(struct ingest *ing)
{
	return query(ing, sql_stage_budget, 0, NULL);
}

static enum step_rc
send_copy_budget(struct ingest *ing)
{
	return ing->rows.rows > 0 ? copy_in(ing, sql_copy_budget, &ing->rows) : STEP_SKIP;
}

static enum step_rc
send_unknown_budget_agencies(struct ingest *ing)
{
	return query(ing, sql_unknown_budget_agencies, 0, NULL);
}

static enum step_rc
send_duplicate_budget_lines(struct ingest *ing)
{
	return query(ing, sql_duplicate_budget_lines, 0, NULL);
}

static bool
recv_duplicate_budget_lines(struct ingest *ing, PGresult *res)
{
	int n = PQntuples(res);

	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
		issues_add(&ing->issues, (long)result_count(res, i, 0),
		    PQgetvalue(res, i, 1), "repeats the line of record %lld (the same "
		    "agency, year, program, classification, phase, period and currency)",
		    result_count(res, i, 2));
	set_invalid(ing);
	return false;
}

static enum step_rc
send_upsert_budget(struct ingest *ing)
{
	const char *values[1] = { ing->batch_text };

	return query(ing, sql_upsert_budget, 1, values);
}

/* --- Procurement ----------------------------------------------------------------- */

static const char sql_stage_release[] =
    "CREATE TEMP TABLE stage_release (record int NOT NULL, ocid text NOT NULL,"
    "  release_id text NOT NULL, release_date timestamptz NOT NULL, buyer_id text,"
    "  buyer_name text, content_hash text NOT NULL, data jsonb NOT NULL)"
    " ON COMMIT DROP";

static const char sql_stage_given[] =
    "CREATE TEMP TABLE stage_given (record int NOT NULL, ocid text NOT NULL,"
    "  buyer_id text, buyer_name text, data jsonb NOT NULL) ON COMMIT DROP";

/* The ocids that got a new release, and whether they had releases before. */
static const char sql_stage_touched[] =
    "CREATE TEMP TABLE stage_touched (ocid text PRIMARY KEY, existed boolean NOT NULL,"
    "  given boolean NOT NULL) ON COMMIT DROP";

static const char sql_stage_compiled[] =
    "CREATE TEMP TABLE stage_compiled (ocid text PRIMARY KEY, data jsonb NOT NULL)"
    " ON COMMIT DROP";

static const char sql_copy_release[] =
    "COPY stage_release (record, ocid, release_id, release_date, buyer_id, buyer_name,"
    "  content_hash, data) FROM STDIN";

static const char sql_copy_given[] =
    "COPY stage_given (record, ocid, buyer_id, buyer_name, data) FROM STDIN";

static const char sql_copy_compiled[] =
    "COPY stage_compiled (ocid, data) FROM STDIN";

/*
 * Two batches compiling one ocid at once would each miss the other's releases: each
 * batch claims the rows of its ocids in ocds_ocid, in order (no deadlock), and holds
 * them to COMMIT. DO UPDATE ... WHERE false locks an existing row without writing it;
 * a new ocid's insert makes a second inserter wait on the unique index. Batches with
 * no ocid in common run side by side. The statements after this one (READ COMMITTED)
 * see the releases a batch that held a claim committed.
 */
static const char sql_claim_ocids[] =
    "INSERT INTO ocds_ocid (ocid)"
    " SELECT DISTINCT ocid FROM ("
    "  SELECT ocid FROM stage_release UNION ALL SELECT ocid FROM stage_given) o"
    " ORDER BY ocid"
    " ON CONFLICT (ocid) DO UPDATE SET ocid = EXCLUDED.ocid WHERE false";

/*
 * An agency token writes only releases whose buyer is its agency. A release that names
 * no buyer (an update that does not repeat it) passes when its contracting process is
 * the agency's: another release of the batch says so, or the stored compiled release.
 * A contracting process already stored as another agency's is refused whatever buyer
 * the new release names: an agency cannot take over another's process.
 */
static const char sql_foreign_buyers[] =
    "WITH batch AS ("
    "  SELECT record, ocid, buyer_id FROM stage_release"
    "  UNION ALL SELECT record, ocid, buyer_id FROM stage_given),"
    " mapped AS ("
    "  SELECT b.record, b.ocid, b.buyer_id, a.agency_id FROM batch b"
    "  LEFT JOIN agency_alias a ON a.scheme = 'ocds-buyer' AND a.identifier = b.buyer_id)"
    " SELECT m.record, m.buyer_id FROM mapped m"
    " WHERE CASE WHEN m.buyer_id IS NOT NULL THEN m.agency_id IS DISTINCT FROM $1::bigint"
    "  ELSE NOT EXISTS (SELECT 1 FROM mapped o"
    "    WHERE o.ocid = m.ocid AND o.agency_id = $1::bigint)"
    "   AND NOT EXISTS (SELECT 1 FROM ocds_compiled c"
    "    WHERE c.ocid = m.ocid AND c.buyer_agency_id = $1::bigint) END"
    "  OR EXISTS (SELECT 1 FROM ocds_compiled c"
    "    WHERE c.ocid = m.ocid AND c.buyer_agency_id IS DISTINCT FROM $1::bigint)"
    " ORDER BY m.record LIMIT " "100";

/* An analyst's unknown buyers become unmapped agencies, so that no award is dropped. */
static const char sql_unmapped_buyers[] =
    "WITH buyers AS ("
    "  SELECT DISTINCT ON (buyer_id) buyer_id, buyer_name FROM ("
    "   SELECT record, buyer_id, buyer_name FROM stage_release"
    "   UNION ALL SELECT record, buyer_id, buyer_name FROM stage_given) b"
    "  WHERE buyer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM agency_alias a"
    "   WHERE a.scheme = 'ocds-buyer' AND a.identifier = b.buyer_id)"
    "  ORDER BY buyer_id, buyer_name IS NULL OR buyer_name = '', record),"
    " created AS ("
    "  INSERT INTO agency (code, name, kind)"
    "  SELECT ocds_unmapped_code(buyer_id),"
    "   coalesce(nullif(btrim(buyer_name), ''), buyer_id), 'unmapped'"
    "  FROM buyers ORDER BY 1"
    "  ON CONFLICT (code) DO UPDATE SET name = agency.name"
    "  RETURNING id, code)"
    " INSERT INTO agency_alias (scheme, identifier, agency_id)"
    " SELECT 'ocds-buyer', b.buyer_id, c.id FROM buyers b"
    " JOIN created c ON c.code = ocds_unmapped_code(b.buyer_id)"
    " ON CONFLICT (scheme, identifier) DO NOTHING";

/*
 * Releases as received, once each (a release pushed twice, even in one batch, is one
 * row). The EXISTS runs on the statement's snapshot, which does not hold the rows the
 * INSERT adds: it tells whether the ocid had releases before this batch.
 */
static const char sql_insert_releases[] =
    "WITH ins AS ("
    "  INSERT INTO ocds_release (ocid, release_id, release_date, tags, data,"
    "   content_hash, batch_id)"
    "  SELECT DISTINCT ON (ocid, release_id, content_hash) ocid, release_id,"
    "   release_date, ARRAY(SELECT jsonb_array_elements_text(ingest_array(data -> 'tag'))),"
    "   data, content_hash, $1::bigint"
    "  FROM stage_release ORDER BY ocid, release_id, content_hash, record"
    "  ON CONFLICT (ocid, release_id, content_hash) DO NOTHING"
    "  RETURNING ocid),"
    " touched AS ("
    "  INSERT INTO stage_touched (ocid, existed, given)"
    "  SELECT ocid, EXISTS (SELECT 1 FROM ocds_release r WHERE r.ocid = ins.ocid),"
    "   EXISTS (SELECT 1 FROM stage_given g WHERE g.ocid = ins.ocid)"
    "  FROM ins GROUP BY ocid"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM touched),"
    "  (SELECT count(*) FROM (SELECT DISTINCT ocid, release_id, content_hash"
    "   FROM stage_release) d)";

static const char sql_fresh_ocids[] =
    "SELECT ocid FROM stage_touched WHERE NOT existed AND NOT given";

/* Every release of the ocids that had some before, in the order the merge wants. */
static const char sql_stored_releases[] =
    "SELECT r.ocid, r.data::text FROM ocds_release r"
    " JOIN stage_touched t ON t.ocid = r.ocid AND t.existed AND NOT t.given"
    " ORDER BY r.ocid, r.release_date, r.id";

/* A record's compiledRelease is the compiled release as published (the last wins). */
static const char sql_given_compiled[] =
    "INSERT INTO stage_compiled (ocid, data)"
    " SELECT DISTINCT ON (ocid) ocid, data FROM stage_given ORDER BY ocid, record DESC"
    " ON CONFLICT (ocid) DO NOTHING";

static const char sql_same_compiled[] =
    "DELETE FROM stage_compiled s USING ocds_compiled c"
    " WHERE c.ocid = s.ocid AND c.data = s.data";

/* Deleting the compiled release takes its flat rows with it (ON DELETE CASCADE). */
static const char sql_drop_compiled[] =
    "DELETE FROM ocds_compiled c USING stage_compiled s WHERE c.ocid = s.ocid";

static const char sql_insert_compiled[] =
    "INSERT INTO ocds_compiled (ocid, data, buyer_agency_id)"
    " SELECT s.ocid, s.data, a.agency_id FROM stage_compiled s"
    " LEFT JOIN agency_alias a ON a.scheme = 'ocds-buyer'"
    "  AND a.identifier = ocds_buyer_id(s.data)";

/*
 * The flat rows are made in C from each compiled release (include/ocds_flat.h) and
 * staged; only the ocids whose compiled release changed (those left in stage_compiled)
 * reach the flat tables, whose old rows went with their compiled release. The buyer's
 * agency comes from the compiled release's row, mapped in SQL.
 */
static const char sql_stage_flat_tender[] =
    "CREATE TEMP TABLE stage_tender ON COMMIT DROP AS SELECT ocid, tender_id, title,"
    "  status, method, method_details, value_amount, currency, period_start, period_end"
    " FROM tender WITH NO DATA";

static const char sql_stage_flat_award[] =
    "CREATE TEMP TABLE stage_award ON COMMIT DROP AS SELECT ocid, award_id, title,"
    "  status, date, value_amount, currency FROM award WITH NO DATA";

static const char sql_stage_flat_award_supplier[] =
    "CREATE TEMP TABLE stage_award_supplier (ocid text, award_id text, supplier_id text,"
    "  name text, scheme text, identifier text) ON COMMIT DROP";

static const char sql_stage_flat_contract[] =
    "CREATE TEMP TABLE stage_contract ON COMMIT DROP AS SELECT ocid, contract_id,"
    "  award_id, title, status, value_amount, currency, date_signed, period_start,"
    "  period_end FROM contract WITH NO DATA";

static const char sql_stage_flat_item[] =
    "CREATE TEMP TABLE stage_item ON COMMIT DROP AS SELECT ocid, parent_kind, parent_id,"
    "  item_id, description, classification_scheme, classification_id, quantity,"
    "  unit_amount, currency FROM item WITH NO DATA";

static const char sql_stage_flat_transaction[] =
    "CREATE TEMP TABLE stage_transaction ON COMMIT DROP AS SELECT ocid, contract_id,"
    "  transaction_id, date, value_amount, currency, payer_id, payer_name, payee_id,"
    "  payee_name FROM transaction WITH NO DATA";

/* The staged flat rows, in the order of struct ocds_flat. */
static const struct flat_table {
	const char	*stage;
	const char	*copy;
	size_t		 rows;		/* offset in struct ocds_flat */
} flat_tables[] = {
	{ sql_stage_flat_tender, "COPY stage_tender FROM STDIN",
	    offsetof(struct ocds_flat, tender) },
	{ sql_stage_flat_award, "COPY stage_award FROM STDIN",
	    offsetof(struct ocds_flat, award) },
	{ sql_stage_flat_award_supplier, "COPY stage_award_supplier FROM STDIN",
	    offsetof(struct ocds_flat, award_supplier) },
	{ sql_stage_flat_contract, "COPY stage_contract FROM STDIN",
	    offsetof(struct ocds_flat, contract) },
	{ sql_stage_flat_item, "COPY stage_item FROM STDIN",
	    offsetof(struct ocds_flat, item) },
	{ sql_stage_flat_transaction, "COPY stage_transaction FROM STDIN",
	    offsetof(struct ocds_flat, transaction) },
};

static const char sql_flat_tender[] =
    "INSERT INTO tender (ocid, tender_id, title, status, method, method_details,"
    "  value_amount, currency, period_start, period_end, buyer_agency_id)"
    " SELECT t.ocid, t.tender_id, t.title, t.status, t.method, t.method_details,"
    "  t.value_amount, t.currency, t.period_start, t.period_end, c.buyer_agency_id"
    " FROM stage_tender t JOIN stage_compiled s ON s.ocid = t.ocid"
    " JOIN ocds_compiled c ON c.ocid = t.ocid";

static const char sql_flat_award[] =
    "INSERT INTO award (ocid, award_id, title, status, date, value_amount, currency,"
    "  buyer_agency_id)"
    " SELECT a.ocid, a.award_id, a.title, a.status, a.date, a.value_amount, a.currency,"
    "  c.buyer_agency_id"
    " FROM stage_award a JOIN stage_compiled s ON s.ocid = a.ocid"
    " JOIN ocds_compiled c ON c.ocid = a.ocid"
    " ON CONFLICT DO NOTHING";

static const char sql_flat_supplier[] =
    "INSERT INTO supplier AS x (id, name, identifier_scheme, identifier_id)"
    " SELECT DISTINCT ON (supplier_id) supplier_id, name, scheme, identifier"
    " FROM stage_award_supplier a JOIN stage_compiled s ON s.ocid = a.ocid"
    " ORDER BY supplier_id, name IS NULL, scheme IS NULL"
    " ON CONFLICT (id) DO UPDATE SET name = coalesce(EXCLUDED.name, x.name),"
    "  identifier_scheme = coalesce(EXCLUDED.identifier_scheme, x.identifier_scheme),"
    "  identifier_id = coalesce(EXCLUDED.identifier_id, x.identifier_id),"
    "  updated_at = now()"
    " WHERE (x.name, x.identifier_scheme, x.identifier_id) IS DISTINCT FROM"
    "  (coalesce(EXCLUDED.name, x.name),"
    "   coalesce(EXCLUDED.identifier_scheme, x.identifier_scheme),"
    "   coalesce(EXCLUDED.identifier_id, x.identifier_id))";

static const char sql_flat_award_supplier[] =
    "INSERT INTO award_supplier (ocid, award_id, supplier_id)"
    " SELECT DISTINCT a.ocid, a.award_id, a.supplier_id FROM stage_award_supplier a"
    " JOIN stage_compiled s ON s.ocid = a.ocid"
    " ON CONFLICT DO NOTHING";

static const char sql_flat_contract[] =
    "INSERT INTO contract (ocid, contract_id, award_id, title, status, value_amount,"
    "  currency, date_signed, period_start, period_end)"
    " SELECT k.* FROM stage_contract k JOIN stage_compiled s ON s.ocid = k.ocid"
    " ON CONFLICT DO NOTHING";

static const char sql_flat_item[] =
    "INSERT INTO item (ocid, parent_kind, parent_id, item_id, description,"
    "  classification_scheme, classification_id, quantity, unit_amount, currency)"
    " SELECT i.* FROM stage_item i JOIN stage_compiled s ON s.ocid = i.ocid"
    " ON CONFLICT DO NOTHING";

static const char sql_flat_transaction[] =
    "INSERT INTO transaction (ocid, contract_id, transaction_id, date, value_amount,"
    "  currency, payer_id, payer_name, payee_id, payee_name)"
    " SELECT t.* FROM stage_transaction t JOIN stage_compiled s ON s.ocid = t.ocid"
    " ON CONFLICT DO NOTHING";

static int
compiled_by_ocid(const void *a, const void *b)
{
	const struct ocds_compiled *ca = *(const struct ocds_compiled *const *)a;
	const struct ocds_compiled *cb = *(const struct ocds_compiled *const *)b;
	int c = strcmp(ca->ocid, cb->ocid);

	if (c != 0)
		return c;
	return ca < cb ? -1 : ca > cb;
}

/*
 * The flat rows of the records' compiled releases: of an ocid given twice, the last
 * (as sql_given_compiled keeps it).
 */
static bool
flatten_given(struct ingest *ing)
{
	struct ocds_compiled	**sorted = NULL;
	struct sjson_error	  err;
	size_t			  n = ing->ocds.ncompiled;
	bool			  ok = false;

	if (n == 0)
		return true;
	if ((sorted = calloc(n, sizeof(*sorted))) == NULL) {
		set_nomem(ing);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &ing->ocds.compiled[i];
	qsort(sorted, n, sizeof(*sorted), compiled_by_ocid);
	for (size_t i = 0; i < n; i++) {
		json_t	*tree;
		bool	 added;

		if (i + 1 < n && strcmp(sorted[i]->ocid, sorted[i + 1]->ocid) == 0)
			continue;
		if ((tree = sjson_parse(sorted[i]->source, sorted[i]->source_len, NULL,
		    &err)) == NULL) {
			set_nomem(ing);
			goto out;
		}
		added = ocds_flat_add(&ing->flat, sorted[i]->ocid, tree);
		json_decref(tree);
		if (!added) {
			set_nomem(ing);
			goto out;
		}
	}
	ok = true;
out:
	free(sorted);
	return ok;
}

/* Reads the body into releases and staging rows; false with the outcome set. */
static bool
procurement_read(struct ingest *ing)
{
	struct sjson_error	err;
	enum ocds_read_status	st;

	memset(&err, 0, sizeof(err));
	st = ocds_read(ing->body, ing->len, NULL, &ing->ocds, &ing->issues, &err);
	if (st == OCDS_READ_MALFORMED) {
		set_malformed(ing, &err);
		return false;
	}
	if (st == OCDS_READ_NOMEM) {
		set_nomem(ing);
		return false;
	}
	if (ing->issues.total > 0) {
		set_invalid(ing);
		return false;
	}
	ing->records = (long long)(ing->ocds.nreleases + ing->ocds.ncompiled);
	if (ing->records > ing->max_records) {
		set_errorf(ing, 422, "%lld releases and compiled releases in one batch; at "
		    "most %lld (ingest.max_records)", ing->records, ing->max_records);
		return false;
	}
	if (copy_rows_init(&ing->rows) == -1 || copy_rows_init(&ing->extra) == -1 ||
	    copy_rows_init(&ing->compiled) == -1) {
		set_nomem(ing);
		return false;
	}
	if (ocds_flat_init(&ing->flat) == -1) {
		set_nomem(ing);
		return false;
	}
	ing->flat_ready = true;
	if (!flatten_given(ing))
		return false;
	for (size_t i = 0; i < ing->ocds.nreleases; i++) {
		const struct ocds_release *r = &ing->ocds.releases[i];

		copy_fieldf(&ing->rows, "%ld", r->record);
		copy_field(&ing->rows, r->ocid);
		copy_field(&ing->rows, r->id);
		copy_field(&ing->rows, r->date_utc);
		copy_field(&ing->rows, r->buyer_id);
		copy_field(&ing->rows, r->buyer_name);
		copy_field(&ing->rows, r->hash);
		copy_fieldn(&ing->rows, r->source, r->source_len);
		copy_end_row(&ing->rows);
	}
	for (size_t i = 0; i < ing->ocds.ncompiled; i++) {
		const struct ocds_compiled *c = &ing->ocds.compiled[i];

		copy_fieldf(&ing->extra, "%ld", c->record);
		copy_field(&ing->extra, c->ocid);
		copy_field(&ing->extra, c->buyer_id);
		copy_field(&ing->extra, c->buyer_name);
		copy_fieldn(&ing->extra, c->source, c->source_len);
		copy_end_row(&ing->extra);
	}
	return copy_ok(ing, &ing->rows) && copy_ok(ing, &ing->extra);
}

static enum step_rc
send_stage_release(struct ingest *ing)
{
	return query(ing, sql_stage_release, 0, NULL);
}

static enum step_rc
send_stage_given(struct ingest *ing)
{
	return query(ing, sql_stage_given, 0, NULL);
}

static enum step_rc
send_stage_touched(struct ingest *ing)
{
	return query(ing, sql_stage_touched, 0, NULL);
}

static enum step_rc
send_stage_compiled(struct ingest *ing)
{
	return query(ing, sql_stage_compiled, 0, NULL);
}

static struct copy_rows *
flat_rows(struct ingest *ing, size_t table)
{
	return (struct copy_rows *)((char *)&ing->flat + flat_tables[table].rows);
}

static enum step_rc
flat_stage(struct ingest *ing, size_t table)
{
	return query(ing, flat_tables[table].stage, 0, NULL);
}

static enum step_rc
flat_copy(struct ingest *ing, size_t table)
{
	struct copy_rows *rows = flat_rows(ing, table);

	if (rows->rows == 0)
		return STEP_SKIP;
	if (!copy_ok(ing, rows))
		return STEP_FAILED;
	return copy_in(ing, flat_tables[table].copy, rows);
}

/* Each set of flat rows is let go once PostgreSQL has it. */
static bool
flat_copied(struct ingest *ing, size_t table)
{
	copy_rows_free(flat_rows(ing, table));
	return true;
}

#define FLAT_STEP_FUNCTIONS(i)						\
static enum step_rc								\
send_flat_stage_##i(struct ingest *ing)						\
{										\
	return flat_stage(ing, i);						\
}										\
static enum step_rc								\
send_flat_copy_##i(struct ingest *ing)						\
{										\
	return flat_copy(ing, i);						\
}										\
static bool									\
recv_flat_copy_##i(struct ingest *ing, PGresult *res)				\
{										\
	(void)res;								\
	return flat_copied(ing, i);						\
}
FLAT_STEP_FUNCTIONS(0)
FLAT_STEP_FUNCTIONS(1)
FLAT_STEP_FUNCTIONS(2)
FLAT_STEP_FUNCTIONS(3)
FLAT_STEP_FUNCTIONS(4)
FLAT_STEP_FUNCTIONS(5)

static enum step_rc
send_copy_release(struct ingest *ing)
{
	if (ing->rows.rows == 0)
		return STEP_SKIP;
	return copy_in(ing, sql_copy_release, &ing->rows);
}

/* The staged text is in PostgreSQL now: give its memory back before compiling. */
static bool
recv_copy_release(struct ingest *ing, PGresult *res)
{
	copy_rows_free(&ing->rows);
	return true;
}

static enum step_rc
send_copy_given(struct ingest *ing)
{
	if (ing->extra.rows == 0)
		return STEP_SKIP;
	return copy_in(ing, sql_copy_given, &ing->extra);
}

static bool
recv_copy_given(struct ingest *ing, PGresult *res)
{
	copy_rows_free(&ing->extra);
	return true;
}

static enum step_rc
send_claim_ocids(struct ingest *ing)
{
	return query(ing, sql_claim_ocids, 0, NULL);
}

static enum step_rc
send_buyers(struct ingest *ing)
{
	char		 agency_id[24];
	const char	*values[1] = { agency_id };

	if (ing->who.role != ROLE_AGENCY)
		return query(ing, sql_unmapped_buyers, 0, NULL);
	snprintf(agency_id, sizeof(agency_id), "%lld", ing->who.agency_id);
	return query(ing, sql_foreign_buyers, 1, values);
}

static bool
recv_buyers(struct ingest *ing, PGresult *res)
{
	json_t	*details;
	int	 n = PQntuples(res);

	if (ing->who.role != ROLE_AGENCY) {
		ing->agencies_created = affected(res);
		return true;
	}
	if (n == 0)
		return true;
	if ((details = json_array()) == NULL)
		return false;
	for (int i = 0; i < n && i < FORBIDDEN_LISTED; i++) {
		char		 message[300];
		const char	*buyer = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);

		if (buyer != NULL)
			snprintf(message, sizeof(message), "buyer \"%.200s\" is not agency %s",
			    buyer, ing->who.agency_code);
		else
			snprintf(message, sizeof(message), "the release names no buyer and "
			    "its contracting process is not agency %s's", ing->who.agency_code);
		json_array_append_new(details, json_pack("{s:I, s:s, s:s}", "record",
		    (json_int_t)result_count(res, i, 0), "pointer", "", "message", message));
	}
	set_error(ing, 403, "an agency token writes only releases whose buyer is its "
	    "agency: nothing was written", details);
	return false;
}

static enum step_rc
send_insert_releases(struct ingest *ing)
{
	const char *values[1] = { ing->batch_text };

	return query(ing, sql_insert_releases, 1, values);
}

static bool
recv_insert_releases(struct ingest *ing, PGresult *res)
{
	long long distinct = result_count(res, 0, 2);

	ing->inserted = result_count(res, 0, 0);
	ing->unchanged = distinct - ing->inserted;
	return true;
}

static int
release_by_ocid(const void *a, const void *b)
{
	const struct ocds_release *ra = *(const struct ocds_release *const *)a;
	const struct ocds_release *rb = *(const struct ocds_release *const *)b;
	int c = strcmp(ra->ocid, rb->ocid);

	if (c != 0)
		return c;
	/* The releases array is in body order: keep it among one ocid's releases. */
	return ra < rb ? -1 : ra > rb;
}

/* Merges trees of one ocid into a COPY row of stage_compiled; false on failure. */
static bool
compile_ocid(struct ingest *ing, const char *ocid, json_t **trees, size_t n)
{
	json_t	*merged;
	char	*text;

	if ((merged = ocds_merge(trees, n)) == NULL) {
		log_error("ingest", "rid=%s cannot compile ocid %s", ing->rid, ocid);
		set_error(ing, 500, "cannot compile a contracting process", NULL);
		return false;
	}
	if (!ocds_flat_add(&ing->flat, ocid, merged)) {
		json_decref(merged);
		set_nomem(ing);
		return false;
	}
	text = sjson_dumps(merged);
	json_decref(merged);
	if (text == NULL) {
		set_nomem(ing);
		return false;
	}
	copy_field(&ing->compiled, ocid);
	copy_field(&ing->compiled, text);
	copy_end_row(&ing->compiled);
	free(text);
	return copy_ok(ing, &ing->compiled);
}

static void
free_trees(json_t **trees, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(trees[i]);
}

static enum step_rc
send_fresh_ocids(struct ingest *ing)
{
	return query(ing, sql_fresh_ocids, 0, NULL);
}

/* New contracting processes are compiled from the batch itself, never read back. */
static bool
recv_fresh_ocids(struct ingest *ing, PGresult *res)
{
	struct sjson_error	  err;
	struct ocds_release	**sorted;
	json_t			**trees = NULL;
	size_t			  n = ing->ocds.nreleases, lo, hi, mid, count;
	int			  rows = PQntuples(res);
	bool			  ok = false;

	if (rows == 0)
		return true;
	if ((sorted = calloc(n, sizeof(*sorted))) == NULL ||
	    (trees = calloc(n, sizeof(*trees))) == NULL) {
		set_nomem(ing);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &ing->ocds.releases[i];
	qsort(sorted, n, sizeof(*sorted), release_by_ocid);

	for (int row = 0; row < rows; row++) {
		const char *ocid = PQgetvalue(res, row, 0);

		lo = 0;
		hi = n;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (strcmp(sorted[mid]->ocid, ocid) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		count = 0;
		for (size_t i = lo; i < n && strcmp(sorted[i]->ocid, ocid) == 0; i++) {
			bool seen = false;

			/* The same release twice in one body is merged once. */
			for (size_t j = lo; j < i && !seen; j++)
				seen = strcmp(sorted[j]->id, sorted[i]->id) == 0 &&
				    strcmp(sorted[j]->hash, sorted[i]->hash) == 0;
			if (seen)
				continue;
			if ((trees[count] = sjson_parse(sorted[i]->source,
			    sorted[i]->source_len, NULL, &err)) == NULL) {
				free_trees(trees, count);
				set_nomem(ing);
				goto out;
			}
			count++;
		}
		if (count == 0)
			continue;
		ok = compile_ocid(ing, ocid, trees, count);
		free_trees(trees, count);
		if (!ok)
			goto out;
		ing->ocids_compiled++;
	}
	ok = true;
out:
	free(sorted);
	free(trees);
	return ok;
}

static enum step_rc
send_stored_releases(struct ingest *ing)
{
	return query(ing, sql_stored_releases, 0, NULL);
}

/* Processes seen before are compiled again from every stored release. */
static bool
recv_stored_releases(struct ingest *ing, PGresult *res)
{
	struct sjson_error	  err;
	json_t			**trees = NULL;
	int			  rows = PQntuples(res), first = 0;
	bool			  ok = false;

	if (rows == 0)
		return true;
	if ((trees = calloc((size_t)rows, sizeof(*trees))) == NULL) {
		set_nomem(ing);
		return false;
	}
	while (first < rows) {
		const char	*ocid = PQgetvalue(res, first, 0);
		int		 end = first;

		while (end < rows && strcmp(PQgetvalue(res, end, 0), ocid) == 0) {
			const char *text = PQgetvalue(res, end, 1);

			if ((trees[end - first] = sjson_parse(text,
			    (size_t)PQgetlength(res, end, 1), NULL, &err)) == NULL) {
				log_error("ingest", "rid=%s stored release of %s unreadable: "
				    "%s", ing->rid, ocid, err.message);
				free_trees(trees, (size_t)(end - first));
				set_error(ing, 500, "a stored release cannot be read", NULL);
				goto out;
			}
			end++;
		}
		ok = compile_ocid(ing, ocid, trees, (size_t)(end - first));
		free_trees(trees, (size_t)(end - first));
		if (!ok)
			goto out;
		ing->ocids_compiled++;
		first = end;
	}
	ok = true;
out:
	free(trees);
	return ok;
}

static enum step_rc
send_copy_compiled(struct ingest *ing)
{
	if (ing->compiled.rows == 0)
		return STEP_SKIP;
	return copy_in(ing, sql_copy_compiled, &ing->compiled);
}

static bool
recv_copy_compiled(struct ingest *ing, PGresult *res)
{
	ing->staged_compiled = ing->compiled.rows;
	copy_rows_free(&ing->compiled);
	return true;
}

/* A big stage_compiled gets statistics, or the joins that read it plan blind. */
static enum step_rc
send_analyze_compiled(struct ingest *ing)
{
	if (ing->staged_compiled + ing->ocds.ncompiled < ANALYZE_MIN_ROWS)
		return STEP_SKIP;
	return query(ing, "ANALYZE stage_compiled", 0, NULL);
}

static enum step_rc
send_given_compiled(struct ingest *ing)
{
	if (ing->ocds.ncompiled == 0)
		return STEP_SKIP;
	return query(ing, sql_given_compiled, 0, NULL);
}

static enum step_rc
send_same_compiled(struct ingest *ing)
{
	return query(ing, sql_same_compiled, 0, NULL);
}

static enum step_rc
send_drop_compiled(struct ingest *ing)
{
	return query(ing, sql_drop_compiled, 0, NULL);
}

static enum step_rc
send_insert_compiled(struct ingest *ing)
{
	return query(ing, sql_insert_compiled, 0, NULL);
}

static bool
recv_insert_compiled(struct ingest *ing, PGresult *res)
{
	ing->ocids_compiled = affected(res);
	return true;
}

static enum step_rc
send_flat_tender(struct ingest *ing)
{
	return ing->ocids_compiled > 0 ? query(ing, sql_flat_tender, 0, NULL) : STEP_SKIP;
}

static enum step_rc
send_flat_award(struct ingest *ing)
{
	return ing->ocids_compiled > 0 ? query(ing, sql_flat_award, 0, NULL) : STEP_SKIP;
}

static bool
recv_flat_award(struct ingest *ing, PGresult *res)
{
	ing->awards = affected(res);
	return true;
}

static enum step_rc
send_flat_supplier(struct ingest *ing)
{
	return ing->ocids_compiled > 0 ? query(ing, sql_flat_supplier, 0, NULL) : STEP_SKIP;
}

static enum step_rc
send_flat_award_supplier(struct ingest *ing)
{
	return ing->ocids_compiled > 0 ?
	    query(ing, sql_flat_award_supplier, 0, NULL) : STEP_SKIP;
}

static enum step_rc
send_flat_contract(struct ingest *ing)
{
	return ing->ocids_compiled > 0 ? query(ing, sql_flat_contract, 0, NULL) : STEP_SKIP;
}

static enum step_rc
send_flat_item(struct ingest *ing)
{
	return ing->ocids_compiled > 0 ? query(ing, sql_flat_item, 0, NULL) : STEP_SKIP;
}

static enum step_rc
send_flat_transaction(struct ingest *ing)
{
	return ing->ocids_compiled > 0 ?
	    query(ing, sql_flat_transaction, 0, NULL) : STEP_SKIP;
}

#define DATA_BEGIN_STEPS \
	{ "begin", send_begin, NULL }, \
	{ "session", send_session, NULL }, \
	{ "batch", send_batch_insert, recv_batch_insert }
#define DATA_END_STEPS \
	{ "feed state", send_feed_state, recv_feed_state }, \
	{ "batch done", send_batch_done, NULL }, \
	{ "commit", send_commit, NULL }

static const struct step project_steps[] = {
	DATA_BEGIN_STEPS,
	{ "stage projects", send_stage_project, NULL },
	{ "copy projects", send_copy_project, recv_copy_rows },
	{ "project agencies", send_unknown_project_agencies, recv_unknown_agencies },
	{ "upsert projects", send_upsert_projects, recv_upsert },
	DATA_END_STEPS,
};

static const struct step budget_steps[] = {
	DATA_BEGIN_STEPS,
	{ "stage budget", send_stage_budget, NULL },
	{ "copy budget", send_copy_budget, recv_copy_rows },
	{ "budget agencies", send_unknown_budget_agencies, recv_unknown_agencies },
	{ "budget duplicates", send_duplicate_budget_lines, recv_duplicate_budget_lines },
	{ "upsert budget", send_upsert_budget, recv_upsert },
	DATA_END_STEPS,
};

static const struct step procurement_steps[] = {
	DATA_BEGIN_STEPS,
	{ "stage releases", send_stage_release, NULL },
	{ "stage given", send_stage_given, NULL },
	{ "stage touched", send_stage_touched, NULL },
	{ "stage compiled", send_stage_compiled, NULL },
	{ "stage tenders", send_flat_stage_0, NULL },
	{ "stage awards", send_flat_stage_1, NULL },
	{ "stage award suppliers", send_flat_stage_2, NULL },
	{ "stage contracts", send_flat_stage_3, NULL },
	{ "stage items", send_flat_stage_4, NULL },
	{ "stage transactions", send_flat_stage_5, NULL },
	{ "copy releases", send_copy_release, recv_copy_release },
	{ "copy given", send_copy_given, recv_copy_given },
	{ "claim ocids", send_claim_ocids, NULL },
	{ "buyers", send_buyers, recv_buyers },
	{ "insert releases", send_insert_releases, recv_insert_releases },
	{ "fresh ocids", send_fresh_ocids, recv_fresh_ocids },
	{ "stored releases", send_stored_releases, recv_stored_releases },
	{ "copy compiled", send_copy_compiled, recv_copy_compiled },
	{ "copy tenders", send_flat_copy_0, recv_flat_copy_0 },
	{ "copy awards", send_flat_copy_1, recv_flat_copy_1 },
	{ "copy award suppliers", send_flat_copy_2, recv_flat_copy_2 },
	{ "copy contracts", send_flat_copy_3, recv_flat_copy_3 },
	{ "copy items", send_flat_copy_4, recv_flat_copy_4 },
	{ "copy transactions", send_flat_copy_5, recv_flat_copy_5 },
	{ "given compiled", send_given_compiled, NULL },
	{ "analyze compiled", send_analyze_compiled, NULL },
	{ "same compiled", send_same_compiled, NULL },
	{ "drop compiled", send_drop_compiled, NULL },
	{ "insert compiled", send_insert_compiled, recv_insert_compiled },
	{ "tender", send_flat_tender, NULL },
	{ "award", send_flat_award, recv_flat_award },
	{ "supplier", send_flat_supplier, NULL },
	{ "award supplier", send_flat_award_supplier, NULL },
	{ "contract", send_flat_contract, NULL },
	{ "item", send_flat_item, NULL },
	{ "transaction", send_flat_transaction, NULL },
	DATA_END_STEPS,
};

/* --- The kinds ------------------------------------------------------------------- */

struct kind_ops {
	bool			 (*read)(struct ingest *);
	const struct step	*steps;
	size_t			 nsteps;
};

#define NSTEPS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct kind_ops kinds[] = {
	[INGEST_PROJECTS] = { projects_read, project_steps, NSTEPS(project_steps) },
	[INGEST_PROCUREMENT] = { procurement_read, procurement_steps,
	    NSTEPS(procurement_steps) },
	[INGEST_BUDGET] = { budget_read, budget_steps, NSTEPS(budget_steps) },
};

/* --- The flow -------------------------------------------------------------------- */

static void
advance(struct ingest *ing)
{
	enum step_rc rc;

	while (ing->at < ing->nsteps) {
		clock_gettime(CLOCK_MONOTONIC, &ing->step_started);
		rc = ing->steps[ing->at].send(ing);
		if (rc == STEP_SENT)
			return;
		if (rc == STEP_FAILED) {
			if (ing->phase == PHASE_UNDO) {
				ing->at++;
				continue;
			}
			undo(ing);
			return;
		}
		ing->at++;
	}
	switch (ing->phase) {
	case PHASE_CLAIM:
		/* The key is ours (committed): now the data. */
		run_steps(ing, PHASE_DATA, kinds[ing->kind].steps, kinds[ing->kind].nsteps);
		return;
	case PHASE_DATA:
	case PHASE_UNDO:
		finish(ing);
		return;
	}
}

static void
undo(struct ingest *ing)
{
	if (ing->phase == PHASE_UNDO || ing->conn == NULL) {
		finish(ing);
		return;
	}
	run_steps(ing, PHASE_UNDO, undo_steps, NSTEPS(undo_steps));
}

static void
on_conn(struct db_conn *conn, const char *error, void *arg)
{
	struct ingest *ing = arg;

	if (conn == NULL) {
		log_warn("ingest", "rid=%s no database connection: %s", ing->rid,
		    error != NULL ? error : "unknown");
		set_error(ing, 503, "the database is not available: nothing was written",
		    NULL);
		finish(ing);
		return;
	}
	ing->conn = conn;
	if (ing->key != NULL)
		run_steps(ing, PHASE_CLAIM, claim_steps, NSTEPS(claim_steps));
	else
		run_steps(ing, PHASE_DATA, kinds[ing->kind].steps, kinds[ing->kind].nsteps);
}

static void
count_records(struct ingest *ing, const char *result, long long n)
{
	char labels[96];

	if (ing->metrics == NULL || n <= 0)
		return;
	snprintf(labels, sizeof(labels), "kind=\"%s\",result=\"%s\"",
	    ingest_kind_name(ing->kind), result);
	metrics_count(ing->metrics, METRIC_RECORDS, labels, (double)n);
}

static void
ingest_free(struct ingest *ing)
{
	issues_clear(&ing->issues);
	copy_rows_free(&ing->rows);
	copy_rows_free(&ing->extra);
	copy_rows_free(&ing->compiled);
	if (ing->flat_ready)
		ocds_flat_free(&ing->flat);
	ocds_batch_free(&ing->ocds);
	free(ing->csv_phase);
	free(ing->default_agency);
	free(ing->key);
	free(ing->feed_owner);
	free(ing->feed_cursor);
	free(ing->feed_etag);
	free(ing->feed_last_modified);
	json_decref(ing->reply);
	free(ing);
}

static void
finish(struct ingest *ing)
{
	char	labels[96];
	bool	ok = ing->status > 0 && ing->status < 300 &&
		    (ing->flags & INGEST_REPLAYED) == 0;
	json_t	*reply;

	if (ing->conn != NULL) {
		db_release(ing->conn);
		ing->conn = NULL;
	}
	if (ing->status == 0)
		set_error(ing, 500, "the batch ended without an answer", NULL);
	if (ok) {
		count_records(ing, "inserted", ing->inserted);
		count_records(ing, "updated", ing->updated);
		count_records(ing, "unchanged", ing->unchanged);
	}
	if (ing->metrics != NULL) {
		snprintf(labels, sizeof(labels), "kind=\"%s\",status=\"%d\"",
		    ingest_kind_name(ing->kind), ing->status);
		metrics_count(ing->metrics, METRIC_BATCHES, labels, 1);
		snprintf(labels, sizeof(labels), "kind=\"%s\"", ingest_kind_name(ing->kind));
		metrics_observe(ing->metrics, METRIC_SECONDS, labels,
		    elapsed_ms(&ing->started) / 1000.0);
	}
	log_info("ingest", "rid=%s kind=%s agency=%s status=%d%s batch=%lld records=%lld "
	    "inserted=%lld updated=%lld unchanged=%lld compiled=%lld awards=%lld "
	    "%.1fms", ing->rid, ingest_kind_name(ing->kind),
	    ing->who.role == ROLE_AGENCY ? ing->who.agency_code :
	    ing->default_agency != NULL ? ing->default_agency : "-", ing->status,
	    ing->flags & INGEST_REPLAYED ? " replayed" : "", ing->batch_id, ing->records,
	    ing->inserted, ing->updated, ing->unchanged, ing->ocids_compiled, ing->awards,
	    elapsed_ms(&ing->started));
	reply = ing->reply;
	ing->reply = NULL;
	ing->cb(ing->status, reply, ing->flags, ing->arg);
	ingest_free(ing);
}

static char *
dup_or_null(const char *s, bool *failed)
{
	char *copy;

	if (s == NULL)
		return NULL;
	if ((copy = strdup(s)) == NULL)
		*failed = true;
	return copy;
}

void
ingest_submit(struct db_pool *pool, const struct config *cfg,
    const struct ingest_request *req, ingest_done_cb cb, void *arg)
{
	struct ingest	*ing;
	bool		 failed = false;

	if ((ing = calloc(1, sizeof(*ing))) == NULL) {
		cb(500, http_error_body(500, "out of memory", NULL), 0, arg);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ing->started);
	ing->pool = pool;
	ing->cb = cb;
	ing->arg = arg;
	ing->metrics = req->metrics;
	ing->kind = req->kind;
	ing->format = req->format;
	ing->body = req->body;
	ing->len = req->len;
	ing->csv_year = req->csv_year;
	ing->who = *req->who;
	ing->csv_phase = dup_or_null(req->csv_phase, &failed);
	ing->default_agency = dup_or_null(req->default_agency, &failed);
	ing->key = dup_or_null(req->idempotency_key, &failed);
	if (req->feed != NULL) {
		ing->from_feed = true;
		snprintf(ing->feed_id, sizeof(ing->feed_id), "%lld", req->feed->feed_id);
		snprintf(ing->run_id, sizeof(ing->run_id), "%lld", req->feed->run_id);
		snprintf(ing->lease, sizeof(ing->lease), "%ld", req->feed->lease);
		ing->feed_owner = dup_or_null(req->feed->owner, &failed);
		ing->feed_cursor = dup_or_null(req->feed->cursor, &failed);
		ing->feed_etag = dup_or_null(req->feed->etag, &failed);
		ing->feed_last_modified = dup_or_null(req->feed->last_modified, &failed);
	}
	snprintf(ing->rid, sizeof(ing->rid), "%s", req->request_id != NULL ?
	    req->request_id : "-");
	ing->max_records = config_int(cfg, CFG_INGEST_MAX_RECORDS);
	ing->stale_after = config_int(cfg, CFG_INGEST_STALE_AFTER);
	ingest_metrics_describe(ing->metrics);
	if (failed) {
		set_nomem(ing);
		finish(ing);
		return;
	}
	if (ing->key != NULL)
		ingest_request_hash(req, ing->hash);

	/* All of the body is read and checked before the database is asked anything. */
	if (!kinds[ing->kind].read(ing)) {
		finish(ing);
		return;
	}
	switch (db_acquire_scoped(pool, principal_scope(&ing->who), on_conn, ing)) {
	case DB_QUEUED:
		return;
	case DB_UNAVAILABLE:
		set_error(ing, 503, "the database is not available: nothing was written",
		    NULL);
		break;
	case DB_BUSY:
		set_error(ing, 503, "too many requests wait for the database: retry", NULL);
		break;
	}
	finish(ing);
}
