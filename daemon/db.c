/*
 * The asynchronous PostgreSQL pool: connection slots driven by libevent, a FIFO of
 * requests waiting for an idle connection, connections lent for transactions, and
 * reconnection with backoff. Blocking connections for tools live in db_connect.c.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "log.h"

#define DB_BACKOFF_MIN_MS	100
#define DB_COPY_CHUNK		(64 * 1024)
#define DB_WHY_MAX		512

#define DB_ERR_LOST		"connection to the database lost"
#define DB_ERR_UNAVAILABLE	"database unavailable"
#define DB_ERR_SHUTDOWN		"shutting down"

static const char schema_version_sql[] =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";
/* Whether row-level security binds the role the connection logged in as. */
static const char check_role_sql[] =
    "SELECT rolsuper OR rolbypassrls, rolname FROM pg_roles WHERE rolname = current_user";
/* Whose rows the connection's statements see: sql/010_row_security.sql. */
static const char set_scope_sql[] =
    "SELECT set_config('ictmon.scope', $1, false)";
/* A connection whose scope is not known: the next statement sets it. */
#define SCOPE_UNSET		(-1LL)

enum req_kind {
	REQ_QUERY,
	REQ_EXECUTE,
	REQ_ACQUIRE,
	REQ_SIMPLE,		/* several statements in one text, no parameters */
};

/* A request waiting for an idle connection; its text and parameters are copies. */
struct db_request {
	TAILQ_ENTRY(db_request)	 entry;
	enum req_kind		 kind;
	long long		 scope;		/* DB_SCOPE_ALL or an agency's id */
	db_result_cb		 cb;
	db_conn_cb		 conn_cb;
	void			*arg;
	char			*text;		/* SQL, or the prepared statement's name */
	int			 nparams;
	char			*values[];	/* nparams, then the strings themselves */
};
TAILQ_HEAD(db_queue, db_request);

enum conn_state {
	CONN_DOWN,		/* no connection; the timer brings the next attempt */
	CONN_CONNECTING,	/* PQconnectPoll in progress */
	CONN_SECURING,		/* checking that row-level security binds the role */
	CONN_CHECKING,		/* reading schema_migrations */
	CONN_PREPARING,		/* preparing the registered statements */
	CONN_IDLE,
	CONN_SCOPING,		/* setting the scope of the request in `scoping` */
	CONN_RUNNING,		/* a queued statement */
	CONN_LENT,		/* to a caller until db_release; pg NULL once lost */
	CONN_RESETTING,		/* the ROLLBACK of a release */
};

/* Where the statement in flight is. */
enum op_phase {
	OP_NONE,
	OP_RESULTS,		/* reading results */
	OP_COPY_SEND,		/* sending COPY data */
	OP_COPY_OUT,		/* discarding an unexpected COPY TO STDOUT */
};

struct db_conn {
	struct db_pool		*pool;
	int			 id;		/* 1-based, for the log */
	enum conn_state		 state;
	PGconn			*pg;
	struct event		*ev_io;
	struct event		*ev_timer;	/* connect timeout, or the next attempt */
	evutil_socket_t		 io_fd;		/* what ev_io watches while persistent */
	short			 io_what;
	bool			 flushing;	/* PQflush has more to send */
	unsigned		 attempts;
	int			 backoff_ms;
	size_t			 prep_next;
	char			 fatal[256];	/* the server's last FATAL, why it left */
	long long		 scope;		/* its ictmon.scope, or SCOPE_UNSET */
	struct db_request	*scoping;	/* waiting for its scope to be set */

	/* the statement in flight */
	enum op_phase		 phase;
	bool			 op_copy;	/* db_conn_copy: expects COPY_IN */
	PGresult		*op_res;	/* the first error, else the latest */
	db_result_cb		 op_cb;
	void			*op_arg;
	struct evbuffer		*copy_buf;	/* the COPY data, drained as sent */

	bool			 release_pending;	/* released mid-statement */
};

struct db_statement {
	char	*name;
	char	*sql;
	bool	 failed;	/* logged once */
};

struct db_pool {
	struct event_base	*base;
	char			*conninfo;
	char			*password;
	char			*application_name;
	bool			 held_to_rls;	/* refuse a role that skips it */
	int			 size;
	int			 queue_max;
	int			 connect_timeout;
	int			 reconnect_max;
	int			 schema_version;

	struct db_conn		*conns;
	struct db_statement	*stmts;
	size_t			 nstmts;
	struct db_queue		 queue;
	int			 waiting;
	struct event		*ev_kick;	/* runs pool_dispatch from the loop */
	bool			 started;
	bool			 closing;
	bool			 warned_newer;
	uint64_t		 rng;

	unsigned long long	 statements;
	unsigned long long	 errors;
	unsigned long long	 reconnects;	/* attempts after a slot's first */
	char			 why[DB_WHY_MAX];
};

static void	conn_on_io(evutil_socket_t, short, void *);
static void	conn_on_timer(evutil_socket_t, short, void *);
static void	conn_lost(struct db_conn *);
static void	conn_fail(struct db_conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	pool_note(struct db_pool *, enum log_level, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	conn_release_now(struct db_conn *);
static void	conn_prepare_next(struct db_conn *);
static void	conn_check_schema(struct db_conn *);
static void	conn_take(struct db_conn *, struct db_request *);
static void	conn_set_scope(struct db_conn *, struct db_request *);
static void	conn_scoped(struct db_conn *, PGresult *);
static void	pool_dispatch(struct db_pool *);

static char *
xstrdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* The first line of a libpq message, without the severity libpq puts in front. */
static void
first_line(const char *msg, char *buf, size_t len)
{
	size_t	n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	if (strncmp(msg, "FATAL:", 6) == 0 || strncmp(msg, "ERROR:", 6) == 0)
		msg += 6;
	msg += strspn(msg, " ");
	n = strcspn(msg, "\n");
	snprintf(buf, len, "%.*s", (int)n, msg);
}

static uint64_t
pool_random(struct db_pool *pool)
{
	/* xorshift64: jitter needs spread, not secrecy */
	pool->rng ^= pool->rng << 13;
	pool->rng ^= pool->rng >> 7;
	pool->rng ^= pool->rng << 17;
	return pool->rng;
}

/* Remembers why the pool is not ready, logging each new reason once. */
static void
pool_note(struct db_pool *pool, enum log_level level, const char *fmt, ...)
{
	char	why[DB_WHY_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (strcmp(why, pool->why) == 0)
		return;
	memcpy(pool->why, why, sizeof(pool->why));
	log_msg(level, "db", "%s", why);
}

static bool
conn_is_up(const struct db_conn *c)
{
	switch (c->state) {
	case CONN_IDLE:
	case CONN_SCOPING:
	case CONN_RUNNING:
	case CONN_RESETTING:
		return true;
	case CONN_LENT:
		return c->pg != NULL;
	default:
		return false;
	}
}

static int
pool_up(const struct db_pool *pool)
{
	int	i, n = 0;

	for (i = 0; i < pool->size; i++)
		if (conn_is_up(&pool->conns[i]))
			n++;
	return n;
}

/* Dispatch from the loop rather than from inside a caller's call into the pool. */
static void
pool_kick(struct db_pool *pool)
{
	event_active(pool->ev_kick, EV_TIMEOUT, 0);
}

static void
pool_on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_dispatch(arg);
}

static struct db_request *
request_new(enum req_kind kind, const char *text, int nparams,
    const char *const *values)
{
	struct db_request	*r = NULL;
	size_t			 size, textlen, i;
	char			*p;

	if (nparams < 0)
		nparams = 0;
	textlen = text != NULL ? strlen(text) + 1 : 0;
	size = sizeof(*r) + (size_t)nparams * sizeof(char *) + textlen;
	for (i = 0; values != NULL && i < (size_t)nparams; i++)
		if (values[i] != NULL)
			size += strlen(values[i]) + 1;
	if ((r = calloc(1, size)) == NULL)
		return NULL;
	r->kind = kind;
	r->nparams = nparams;
	p = (char *)&r->values[nparams];
	if (text != NULL) {
		memcpy(p, text, textlen);
		r->text = p;
		p += textlen;
	}
	for (i = 0; i < (size_t)nparams; i++) {
		size_t	len;

		if (values == NULL || values[i] == NULL)
			continue;
		len = strlen(values[i]) + 1;
		memcpy(p, values[i], len);
		r->values[i] = p;
		p += len;
	}
	return r;
}

/* Fails every queued request; the callbacks may submit again (and be refused). */
static void
pool_fail_queue(struct db_pool *pool, const char *error)
{
	struct db_request	*r;

	while ((r = TAILQ_FIRST(&pool->queue)) != NULL) {
		TAILQ_REMOVE(&pool->queue, r, entry);
		pool->waiting--;
		if (r->kind == REQ_ACQUIRE)
			r->conn_cb(NULL, error, r->arg);
		else
			r->cb(NULL, error, r->arg);
		free(r);
	}
}

/*
 * Watches the socket of an established connection: always for reading (the server
 * may close it at any time), for writing while libpq has output left.
 */
static int
conn_watch(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;
	evutil_socket_t	 fd;
	short		 what;

	if (c->pg == NULL) {
		event_del(c->ev_io);
		c->io_fd = -1;
		return 0;
	}
	fd = PQsocket(c->pg);
	what = EV_READ | EV_PERSIST | (c->flushing ? EV_WRITE : 0);
	if (fd == c->io_fd && what == c->io_what)
		return 0;
	event_del(c->ev_io);
	c->io_fd = -1;
	if (fd < 0 ||
	    event_assign(c->ev_io, pool->base, fd, what, conn_on_io, c) == -1 ||
	    event_add(c->ev_io, NULL) == -1)
		return -1;
	c->io_fd = fd;
	c->io_what = what;
	return 0;
}

/*
 * While connecting, libpq may close its socket and open another (next host, SSL
 * fallback) that can get the same number: watch one event at a time, so that the
 * old registration is gone before libpq closes anything.
 */
static int
conn_watch_connect(struct db_conn *c, short what)
{
	evutil_socket_t	fd = PQsocket(c->pg);

	event_del(c->ev_io);
	c->io_fd = -1;
	if (fd < 0 ||
	    event_assign(c->ev_io, c->pool->base, fd, what, conn_on_io, c) == -1 ||
	    event_add(c->ev_io, NULL) == -1)
		return -1;
	return 0;
}

/* Sends what libpq has buffered: -1 when the connection is gone. */
static int
conn_flush(struct db_conn *c)
{
	switch (PQflush(c->pg)) {
	case 0:
		c->flushing = false;
		return 0;
	case 1:
		c->flushing = true;
		return 0;
	default:
		return -1;
	}
}

/* Drops the libpq connection and its events; the state is the caller's to set. */
static void
conn_close(struct db_conn *c)
{
	event_del(c->ev_io);
	c->io_fd = -1;
	c->io_what = 0;
	evtimer_del(c->ev_timer);
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	PQclear(c->op_res);
	c->op_res = NULL;
	c->phase = OP_NONE;
	c->op_copy = false;
	c->copy_buf = NULL;
	c->flushing = false;
	c->scope = SCOPE_UNSET;
}

static void
conn_schedule(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;
	struct timeval	 tv;
	int		 delay, cap = pool->reconnect_max * 1000;

	c->state = CONN_DOWN;
	delay = c->backoff_ms / 2 + (int)(pool_random(pool) % (uint64_t)(c->backoff_ms / 2 + 1));
	c->backoff_ms = c->backoff_ms > cap / 2 ? cap : c->backoff_ms * 2;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	if (evtimer_add(c->ev_timer, &tv) == -1)
		log_error("db", "connection %d: cannot arm the reconnect timer", c->id);
}

static void
conn_notice(void *arg, const char *message)
{
	struct db_conn	*c = arg;
	char		 line[256];

	first_line(message, line, sizeof(line));
	if (strncmp(message, "FATAL:", 6) == 0)
		snprintf(c->fatal, sizeof(c->fatal), "%s", line);
	log_debug("db", "connection %d: %s", c->id, line);
}

/* A failure before the connection was usable: note why, close, retry later. */
static void
conn_fail(struct db_conn *c, const char *fmt, ...)
{
	char	why[DB_WHY_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pool_note(c->pool, LOG_LEVEL_WARN, "%s", why);
	conn_close(c);
	conn_schedule(c);
}

static void
conn_connect_failed(struct db_conn *c)
{
	char	msg[256];

	first_line(c->fatal[0] != '\0' ? c->fatal : PQerrorMessage(c->pg), msg, sizeof(msg));
	conn_fail(c, "cannot connect to the database: %s", msg);
}

/* Sends one statement's text: -1 when libpq refused it (see PQerrorMessage). */
static int
conn_send(struct db_conn *c, enum req_kind kind, const char *text, int nparams,
    const char *const *values)
{
	int	ok;

	if (kind == REQ_EXECUTE)
		ok = PQsendQueryPrepared(c->pg, text, nparams, values, NULL, NULL, 0);
	else if (kind == REQ_SIMPLE)
		ok = PQsendQuery(c->pg, text);
	else
		ok = PQsendQueryParams(c->pg, text, nparams, NULL, values, NULL, NULL, 0);
	if (!ok)
		return -1;
	c->phase = OP_RESULTS;
	c->op_res = NULL;
	if (conn_flush(c) == -1 || conn_watch(c) == -1)
		return -1;
	return 0;
}

static void
conn_connect_start(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;
	const char	*keys[7], *values[7];
	char		 timeout[16];
	struct timeval	 tv;
	int		 n = 0;

	if (c->attempts++ > 0)
		pool->reconnects++;
	c->fatal[0] = '\0';
	/* dbname first: with expand_dbname it may be a whole conninfo string, and the
	   keywords after it override what it says. */
	keys[n] = "dbname";		values[n++] = pool->conninfo;
	if (pool->connect_timeout > 0) {
		snprintf(timeout, sizeof(timeout), "%d", pool->connect_timeout);
		keys[n] = "connect_timeout";	values[n++] = timeout;
	}
	keys[n] = "application_name";	values[n++] = pool->application_name;
	keys[n] = "client_encoding";	values[n++] = "UTF8";
	if (pool->password != NULL) {
		keys[n] = "password";	values[n++] = pool->password;
	}
	keys[n] = NULL;
	values[n] = NULL;

	if ((c->pg = PQconnectStartParams(keys, values, 1)) == NULL) {
		conn_fail(c, "cannot connect to the database: out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_connect_failed(c);
		return;
	}
	c->state = CONN_CONNECTING;
	PQsetNoticeProcessor(c->pg, conn_notice, c);
	/* libpq's connect_timeout only applies to its blocking calls */
	if (pool->connect_timeout > 0) {
		tv.tv_sec = pool->connect_timeout;
		tv.tv_usec = 0;
		evtimer_add(c->ev_timer, &tv);
	}
	/* as if PQconnectPoll had said PGRES_POLLING_WRITING */
	if (conn_watch_connect(c, EV_WRITE) == -1)
		conn_fail(c, "cannot connect to the database: cannot watch its socket");
}

static void
conn_connected(struct db_conn *c)
{
	if (PQsetnonblocking(c->pg, 1) != 0) {
		conn_connect_failed(c);
		return;
	}
	c->scope = SCOPE_UNSET;
	if (!c->pool->held_to_rls) {
		conn_check_schema(c);
		return;
	}
	c->state = CONN_SECURING;
	if (conn_send(c, REQ_QUERY, check_role_sql, 0, NULL) == -1)
		conn_connect_failed(c);
}

static void
conn_check_schema(struct db_conn *c)
{
	c->state = CONN_CHECKING;
	if (conn_send(c, REQ_QUERY, schema_version_sql, 0, NULL) == -1)
		conn_connect_failed(c);
}

/*
 * Row-level security keeps each agency's rows from another's, but superusers and
 * BYPASSRLS roles skip it: ictmond does not serve as one. Refused like an old schema,
 * retried with backoff, so that an administrator's fix is picked up without a restart.
 */
static void
conn_secured(struct db_conn *c, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		conn_fail(c, "cannot read the database role: %s", db_result_error(res, NULL));
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		pool_note(c->pool, LOG_LEVEL_ERROR, "the database role %s is a superuser or "
		    "bypasses row-level security: ictmond logs in as a role held to it, a "
		    "member of ictmon_daemon (README, Running)", PQgetvalue(res, 0, 1));
		conn_close(c);
		conn_schedule(c);
		return;
	}
	conn_check_schema(c);
}

static void
conn_connect_poll(struct db_conn *c)
{
	int	rc = 0;

	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		rc = conn_watch_connect(c, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		rc = conn_watch_connect(c, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		conn_connected(c);
		return;
	default:
		conn_connect_failed(c);
		return;
	}
	if (rc == -1)
		conn_fail(c, "cannot connect to the database: cannot watch its socket");
}

static void
conn_ready(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;

	evtimer_del(c->ev_timer);
	c->backoff_ms = DB_BACKOFF_MIN_MS;
	c->state = CONN_IDLE;
	if (pool_up(pool) == 1) {
		/* the next failure is news again */
		pool->why[0] = '\0';
		log_info("db", "database available");
	}
	log_info("db", "connection %d of %d ready", c->id, pool->size);
}

static void
conn_schema_checked(struct db_conn *c, PGresult *res)
{
	struct db_pool	*pool = c->pool;
	const char	*state;
	char		*end;
	long		 version;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		version = strtol(PQgetvalue(res, 0, 0), &end, 10);
		if (*end != '\0' || version < 0 || version > 1000000) {
			conn_fail(c, "cannot read the database schema version: \"%s\"",
			    PQgetvalue(res, 0, 0));
			return;
		}
	} else if ((state = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL &&
	    strcmp(state, "42P01") == 0) {
		/* undefined_table: nothing was ever migrated */
		version = 0;
	} else {
		conn_fail(c, "cannot read the database schema version: %s",
		    db_result_error(res, NULL));
		return;
	}

	if (version < pool->schema_version) {
		pool_note(pool, LOG_LEVEL_ERROR, "database schema is at version %ld, "
		    "ictmond needs %d: run `ictmonctl migrate`", version,
		    pool->schema_version);
		conn_close(c);
		conn_schedule(c);
		return;
	}
	if (version > pool->schema_version && !pool->warned_newer) {
		pool->warned_newer = true;
		log_warn("db", "database schema is at version %ld, newer than the %d this "
		    "ictmond was built for: upgrade ictmond", version, pool->schema_version);
	}
	c->state = CONN_PREPARING;
	c->prep_next = 0;
	conn_prepare_next(c);
}

static void
conn_prepare_next(struct db_conn *c)
{
	struct db_statement	*st;

	if (c->prep_next == c->pool->nstmts) {
		conn_ready(c);
		return;
	}
	st = &c->pool->stmts[c->prep_next];
	if (!PQsendPrepare(c->pg, st->name, st->sql, 0, NULL)) {
		conn_lost(c);
		return;
	}
	c->phase = OP_RESULTS;
	if (conn_flush(c) == -1 || conn_watch(c) == -1)
		conn_lost(c);
}

static void
conn_prepared(struct db_conn *c, PGresult *res)
{
	struct db_statement	*st = &c->pool->stmts[c->prep_next];

	/* A bad statement is a bug in ictmond, not in the database: keep serving the
	   rest; executing it will report the error to its caller. */
	if (!db_result_ok(res) && !st->failed) {
		st->failed = true;
		log_error("db", "cannot prepare statement %s: %s", st->name,
		    db_result_error(res, NULL));
	}
	c->prep_next++;
	conn_prepare_next(c);
}

static void
conn_reset_done(struct db_conn *c, PGresult *res)
{
	if (!db_result_ok(res) || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		log_warn("db", "connection %d: rollback on release failed: %s", c->id,
		    db_result_error(res, NULL));
		conn_close(c);
		conn_schedule(c);
		return;
	}
	c->state = CONN_IDLE;
}

/*
 * Hands a finished statement's result to whoever sent it. The connection's state is
 * settled before a caller's callback runs, because the callback may use the pool
 * (and this connection) again.
 */
static void
conn_complete(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;
	PGresult	*res = c->op_res;
	db_result_cb	 cb = c->op_cb;
	void		*arg = c->op_arg;

	c->op_res = NULL;
	c->phase = OP_NONE;
	c->op_copy = false;
	c->copy_buf = NULL;
	c->op_cb = NULL;
	c->op_arg = NULL;

	switch (c->state) {
	case CONN_SECURING:
		conn_secured(c, res);
		PQclear(res);
		return;
	case CONN_CHECKING:
		conn_schema_checked(c, res);
		PQclear(res);
		return;
	case CONN_SCOPING:
		conn_scoped(c, res);
		PQclear(res);
		return;
	case CONN_PREPARING:
		conn_prepared(c, res);
		PQclear(res);
		return;
	case CONN_RESETTING:
		conn_reset_done(c, res);
		PQclear(res);
		return;
	case CONN_RUNNING:
		c->state = CONN_IDLE;
		break;
	case CONN_LENT:
		break;
	default:
		PQclear(res);
		return;
	}
	pool->statements++;
	if (!db_result_ok(res))
		pool->errors++;
	if (cb != NULL)
		cb(res, res == NULL ? "no result from the database" : NULL, arg);
	PQclear(res);
	if (c->state == CONN_LENT && c->release_pending && c->phase == OP_NONE)
		conn_release_now(c);
}

static bool
result_is_error(const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_BAD_RESPONSE:
	case PGRES_NONFATAL_ERROR:
	case PGRES_FATAL_ERROR:
		return true;
	default:
		return false;
	}
}

static bool
copy_left(const struct db_conn *c)
{
	return c->copy_buf != NULL && evbuffer_get_length(c->copy_buf) > 0;
}

/* The next piece of COPY data, at most DB_COPY_CHUNK bytes, contiguous. */
static const char *
copy_next(struct db_conn *c, size_t *len)
{
	struct evbuffer_iovec	v;

	if (evbuffer_peek(c->copy_buf, -1, NULL, &v, 1) < 1)
		v.iov_len = 0;
	*len = v.iov_len < DB_COPY_CHUNK ? v.iov_len : DB_COPY_CHUNK;
	return v.iov_base;
}

/* Sends COPY data while the socket takes it, then the end of the COPY. */
static int
conn_copy_push(struct db_conn *c)
{
	size_t	n;
	int	rc;

	while (!c->flushing && copy_left(c)) {
		const char *data = copy_next(c, &n);

		rc = PQputCopyData(c->pg, data, (int)n);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			c->flushing = true;	/* retry when writable */
			return 0;
		}
		/* libpq has copied the bytes: the buffer's memory goes back as it is sent */
		evbuffer_drain(c->copy_buf, n);
		/* libpq would buffer everything: send before queueing more */
		if (conn_flush(c) == -1)
			return -1;
	}
	if (c->flushing)
		return 0;
	rc = PQputCopyEnd(c->pg, NULL);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		c->flushing = true;
		return 0;
	}
	c->phase = OP_RESULTS;
	return conn_flush(c);
}

/* Reads every complete result there is; the connection may be closed on return. */
static void
conn_drain(struct db_conn *c)
{
	PGresult	*res;
	char		*row;
	int		 rc;

	while (c->pg != NULL && c->phase != OP_NONE && c->phase != OP_COPY_SEND) {
		if (c->phase == OP_COPY_OUT) {
			while ((rc = PQgetCopyData(c->pg, &row, 1)) > 0)
				PQfreemem(row);
			if (rc == 0)
				return;		/* more rows to come */
			if (rc == -2) {
				conn_lost(c);
				return;
			}
			c->phase = OP_RESULTS;
		}
		if (PQisBusy(c->pg))
			return;
		if ((res = PQgetResult(c->pg)) == NULL) {
			conn_complete(c);
			continue;
		}
		switch (PQresultStatus(res)) {
		case PGRES_COPY_IN:
			PQclear(res);
			if (c->op_copy && c->op_res == NULL) {
				c->phase = OP_COPY_SEND;
				if (conn_copy_push(c) == -1)
					conn_lost(c);
				return;
			}
			/* COPY FROM STDIN without data to send: refuse it */
			if (PQputCopyEnd(c->pg, "COPY FROM STDIN needs db_conn_copy") == -1 ||
			    conn_flush(c) == -1) {
				conn_lost(c);
				return;
			}
			break;
		case PGRES_COPY_OUT:
			PQclear(res);
			c->phase = OP_COPY_OUT;
			break;
		default:
			if (c->op_res != NULL && result_is_error(c->op_res))
				PQclear(res);
			else {
				PQclear(c->op_res);
				c->op_res = res;
			}
			break;
		}
	}
}

static void
conn_io(struct db_conn *c, short what)
{
	if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
		conn_lost(c);
		return;
	}
	/* an idle connection's input is parsed only here: notices, the server's FATAL */
	if (c->phase == OP_NONE)
		(void)PQisBusy(c->pg);
	if ((c->flushing || (what & EV_WRITE)) && conn_flush(c) == -1) {
		conn_lost(c);
		return;
	}
	if (c->phase == OP_COPY_SEND && conn_copy_push(c) == -1) {
		conn_lost(c);
		return;
	}
	conn_drain(c);
	if (c->pg == NULL)
		return;
	if (PQstatus(c->pg) == CONNECTION_BAD || conn_watch(c) == -1)
		conn_lost(c);
}

static void
conn_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn	*c = arg;

	(void)fd;
	if (c->pg == NULL)
		return;
	if (c->state == CONN_CONNECTING)
		conn_connect_poll(c);
	else
		conn_io(c, what);
	pool_dispatch(c->pool);
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn	*c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_DOWN:
		conn_connect_start(c);
		break;
	case CONN_CONNECTING:
	case CONN_SECURING:
	case CONN_CHECKING:
	case CONN_PREPARING:
		conn_fail(c, "cannot connect to the database: no answer within %d seconds",
		    c->pool->connect_timeout);
		break;
	default:
		break;
	}
}

/*
 * The connection broke. A statement in flight fails; a lent connection stays lent
 * (broken) until its borrower releases it; any other slot reconnects after a pause.
 */
static void
conn_lost(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;
	db_result_cb	 cb = NULL;
	void		*arg = NULL;
	char		 why[256];

	/* parse what arrived with the end of the stream: often the server's FATAL */
	if (c->pg != NULL && c->phase == OP_NONE)
		(void)PQisBusy(c->pg);
	first_line(c->fatal[0] != '\0' ? c->fatal :
	    c->pg != NULL ? PQerrorMessage(c->pg) : NULL, why, sizeof(why));
	switch (c->state) {
	case CONN_CONNECTING:
	case CONN_SECURING:
	case CONN_CHECKING:
	case CONN_PREPARING:
		conn_fail(c, "cannot connect to the database: %s", why);
		return;
	case CONN_DOWN:
		return;
	default:
		break;
	}

	log_warn("db", "connection %d lost: %s", c->id, why);
	pool->errors++;
	if (c->scoping != NULL) {
		/* its statement was not sent: another connection may run it */
		TAILQ_INSERT_HEAD(&pool->queue, c->scoping, entry);
		pool->waiting++;
		c->scoping = NULL;
	}
	if (c->phase != OP_NONE) {
		cb = c->op_cb;
		arg = c->op_arg;
		c->op_cb = NULL;
		c->op_arg = NULL;
	}
	conn_close(c);
	if (c->state == CONN_LENT) {
		if (c->release_pending)
			conn_release_now(c);
	} else
		conn_schedule(c);
	if (pool_up(pool) == 0)
		pool_note(pool, LOG_LEVEL_ERROR, "connection to the database lost: %s", why);
	/* queued requests fail from the loop if this was the last connection */
	pool_kick(pool);
	if (cb != NULL)
		cb(NULL, DB_ERR_LOST, arg);
}

/* Starts a queued request on an idle connection. */
static void
conn_take(struct db_conn *c, struct db_request *r)
{
	struct db_pool	*pool = c->pool;

	if (r->scope != c->scope) {
		conn_set_scope(c, r);
		return;
	}
	if (r->kind == REQ_ACQUIRE) {
		c->state = CONN_LENT;
		c->release_pending = false;
		r->conn_cb(c, NULL, r->arg);
		free(r);
		return;
	}
	c->state = CONN_RUNNING;
	if (conn_send(c, r->kind, r->text, r->nparams,
	    (const char *const *)r->values) == 0) {
		c->op_cb = r->cb;
		c->op_arg = r->arg;
		free(r);
		return;
	}
	if (c->pg != NULL && PQstatus(c->pg) != CONNECTION_BAD && c->phase == OP_NONE) {
		/* libpq refused the request itself (too many parameters...) */
		char	msg[256];

		first_line(PQerrorMessage(c->pg), msg, sizeof(msg));
		c->state = CONN_IDLE;
		pool->errors++;
		r->cb(NULL, msg, r->arg);
		free(r);
		return;
	}
	/* not sent, so safe to give to another connection */
	TAILQ_INSERT_HEAD(&pool->queue, r, entry);
	pool->waiting++;
	c->phase = OP_NONE;
	conn_lost(c);
}

/*
 * Sets the session's ictmon.scope to the request's before the request runs: one more
 * round trip, only when the scope changes (an agency's request after another's work).
 */
static void
conn_set_scope(struct db_conn *c, struct db_request *r)
{
	char	scope[24];

	if (r->scope == DB_SCOPE_ALL)
		snprintf(scope, sizeof(scope), "all");
	else
		snprintf(scope, sizeof(scope), "%lld", r->scope);
	c->state = CONN_SCOPING;
	c->scoping = r;
	c->scope = SCOPE_UNSET;
	if (conn_send(c, REQ_QUERY, set_scope_sql, 1, (const char *[]){ scope }) == -1)
		conn_lost(c);
}

static void
conn_scoped(struct db_conn *c, PGresult *res)
{
	struct db_request	*r = c->scoping;
	char			 msg[256];

	c->scoping = NULL;
	c->state = CONN_IDLE;
	if (db_result_ok(res)) {
		c->scope = r->scope;
		conn_take(c, r);
		return;
	}
	/* never run a statement in a scope it did not ask for */
	snprintf(msg, sizeof(msg), "cannot set the row scope: %s",
	    db_result_error(res, NULL));
	log_error("db", "connection %d: %s", c->id, msg);
	c->pool->errors++;
	if (r->kind == REQ_ACQUIRE)
		r->conn_cb(NULL, msg, r->arg);
	else
		r->cb(NULL, msg, r->arg);
	free(r);
}

/* An idle connection for a request of `scope`: one already in that scope if any. */
static struct db_conn *
pool_idle(struct db_pool *pool, long long scope)
{
	struct db_conn	*any = NULL;
	int		 i;

	for (i = 0; i < pool->size; i++) {
		struct db_conn	*c = &pool->conns[i];

		if (c->state != CONN_IDLE)
			continue;
		if (c->scope == scope)
			return c;
		if (any == NULL)
			any = c;
	}
	return any;
}

/* Pairs idle connections with waiting requests, in order; fails them if none is up. */
static void
pool_dispatch(struct db_pool *pool)
{
	struct db_request	*r;
	struct db_conn		*c;

	if (pool->closing)
		return;
	while ((r = TAILQ_FIRST(&pool->queue)) != NULL &&
	    (c = pool_idle(pool, r->scope)) != NULL) {
		TAILQ_REMOVE(&pool->queue, r, entry);
		pool->waiting--;
		conn_take(c, r);
	}
	if (pool->waiting > 0 && pool_up(pool) == 0)
		pool_fail_queue(pool, DB_ERR_UNAVAILABLE);
}

struct db_pool *
db_pool_new(struct event_base *base, const struct db_pool_params *p)
{
	struct db_pool	*pool = NULL;
	int		 i;

	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		goto fail;
	pool->base = base;
	TAILQ_INIT(&pool->queue);
	pool->size = p->size > 0 ? p->size : 1;
	pool->queue_max = p->queue_max;
	pool->connect_timeout = p->connect_timeout;
	pool->reconnect_max = p->reconnect_max > 0 ? p->reconnect_max : 30;
	pool->schema_version = p->schema_version;
	pool->held_to_rls = p->held_to_rls;
	pool->rng = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 40) ^
	    (uint64_t)(uintptr_t)pool;
	if (pool->rng == 0)
		pool->rng = 0x9e3779b97f4a7c15ULL;
	snprintf(pool->why, sizeof(pool->why), "the database pool is not started");
	if ((pool->conninfo = xstrdup(p->conninfo)) == NULL ||
	    (pool->application_name = xstrdup(p->application_name != NULL ?
	    p->application_name : "ictmond")) == NULL ||
	    (p->password != NULL && (pool->password = strdup(p->password)) == NULL))
		goto fail;
	if ((pool->ev_kick = event_new(base, -1, 0, pool_on_kick, pool)) == NULL)
		goto fail;
	if ((pool->conns = calloc((size_t)pool->size, sizeof(*pool->conns))) == NULL)
		goto fail;
	for (i = 0; i < pool->size; i++) {
		struct db_conn	*c = &pool->conns[i];

		c->pool = pool;
		c->id = i + 1;
		c->io_fd = -1;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		if ((c->ev_io = event_new(base, -1, 0, conn_on_io, c)) == NULL ||
		    (c->ev_timer = evtimer_new(base, conn_on_timer, c)) == NULL)
			goto fail;
	}
	return pool;
fail:
	log_error("db", "cannot create the database pool: out of memory");
	db_pool_free(pool);
	return NULL;
}

/* Called after the loop, or from an event of its own: never from a pool callback. */
void
db_pool_free(struct db_pool *pool)
{
	size_t	i;
	int	j;

	if (pool == NULL)
		return;
	/* callbacks below may call into the pool: it refuses everything from now */
	pool->closing = true;
	for (j = 0; pool->conns != NULL && j < pool->size; j++) {
		struct db_conn	*c = &pool->conns[j];
		db_result_cb	 cb = c->phase != OP_NONE ? c->op_cb : NULL;
		void		*arg = c->op_arg;

		c->op_cb = NULL;
		c->op_arg = NULL;
		if (c->ev_io != NULL && c->ev_timer != NULL)
			conn_close(c);
		c->state = CONN_DOWN;
		if (cb != NULL)
			cb(NULL, DB_ERR_SHUTDOWN, arg);
		if (c->scoping != NULL) {
			TAILQ_INSERT_HEAD(&pool->queue, c->scoping, entry);
			pool->waiting++;
			c->scoping = NULL;
		}
	}
	pool_fail_queue(pool, DB_ERR_SHUTDOWN);
	for (j = 0; pool->conns != NULL && j < pool->size; j++) {
		if (pool->conns[j].ev_io != NULL)
			event_free(pool->conns[j].ev_io);
		if (pool->conns[j].ev_timer != NULL)
			event_free(pool->conns[j].ev_timer);
	}
	if (pool->ev_kick != NULL)
		event_free(pool->ev_kick);
	for (i = 0; i < pool->nstmts; i++) {
		free(pool->stmts[i].name);
		free(pool->stmts[i].sql);
	}
	free(pool->stmts);
	free(pool->conns);
	free(pool->conninfo);
	if (pool->password != NULL)
		explicit_bzero(pool->password, strlen(pool->password));
	free(pool->password);
	free(pool->application_name);
	free(pool);
}

void
db_pool_prepare(struct db_pool *pool, const char *name, const char *sql)
{
	struct db_statement	*stmts;

	if (pool->started)
		log_error("db", "statement %s registered after the pool started: "
		    "only new connections will have it", name);
	stmts = reallocarray(pool->stmts, pool->nstmts + 1, sizeof(*stmts));
	if (stmts == NULL)
		fatalx("db: out of memory");
	pool->stmts = stmts;
	stmts[pool->nstmts].failed = false;
	if ((stmts[pool->nstmts].name = strdup(name)) == NULL ||
	    (stmts[pool->nstmts].sql = strdup(sql)) == NULL)
		fatalx("db: out of memory");
	pool->nstmts++;
}

void
db_pool_start(struct db_pool *pool)
{
	int	i;

	if (pool->started)
		return;
	pool->started = true;
	snprintf(pool->why, sizeof(pool->why), "connecting to the database");
	for (i = 0; i < pool->size; i++)
		conn_connect_start(&pool->conns[i]);
}

static enum db_submit
pool_submit(struct db_pool *pool, long long scope, enum req_kind kind, const char *text,
    int nparams, const char *const *values, db_result_cb cb, db_conn_cb conn_cb,
    void *arg)
{
	struct db_request	*r;

	if (pool->closing || pool_up(pool) == 0)
		return DB_UNAVAILABLE;
	if (pool->queue_max > 0 && pool->waiting >= pool->queue_max)
		return DB_BUSY;
	if ((r = request_new(kind, text, nparams, values)) == NULL) {
		log_error("db", "cannot queue a request: out of memory");
		return DB_BUSY;
	}
	r->scope = scope;
	r->cb = cb;
	r->conn_cb = conn_cb;
	r->arg = arg;
	TAILQ_INSERT_TAIL(&pool->queue, r, entry);
	pool->waiting++;
	pool_kick(pool);
	return DB_QUEUED;
}

enum db_submit
db_query(struct db_pool *pool, const char *sql, int nparams, const char *const *values,
    db_result_cb cb, void *arg)
{
	return pool_submit(pool, DB_SCOPE_ALL, REQ_QUERY, sql, nparams, values, cb, NULL,
	    arg);
}

enum db_submit
db_query_scoped(struct db_pool *pool, long long scope, const char *sql, int nparams,
    const char *const *values, db_result_cb cb, void *arg)
{
	return pool_submit(pool, scope, REQ_QUERY, sql, nparams, values, cb, NULL, arg);
}

enum db_submit
db_execute(struct db_pool *pool, const char *stmt, int nparams,
    const char *const *values, db_result_cb cb, void *arg)
{
	return pool_submit(pool, DB_SCOPE_ALL, REQ_EXECUTE, stmt, nparams, values, cb, NULL,
	    arg);
}

enum db_submit
db_acquire(struct db_pool *pool, db_conn_cb cb, void *arg)
{
	return pool_submit(pool, DB_SCOPE_ALL, REQ_ACQUIRE, NULL, 0, NULL, NULL, cb, arg);
}

enum db_submit
db_acquire_scoped(struct db_pool *pool, long long scope, db_conn_cb cb, void *arg)
{
	return pool_submit(pool, scope, REQ_ACQUIRE, NULL, 0, NULL, NULL, cb, arg);
}

static bool
conn_can_run(const struct db_conn *c)
{
	return !c->pool->closing && c->state == CONN_LENT && c->pg != NULL &&
	    c->phase == OP_NONE && !c->release_pending;
}

/* One statement on a lent connection: 0 sent, -1 not (the callback won't run). */
static int
conn_start(struct db_conn *c, enum req_kind kind, const char *text, int nparams,
    const char *const *values, db_result_cb cb, void *arg)
{
	if (!conn_can_run(c))
		return -1;
	if (conn_send(c, kind, text, nparams, values) == -1) {
		c->phase = OP_NONE;
		if (PQstatus(c->pg) == CONNECTION_BAD)
			conn_lost(c);
		return -1;
	}
	c->op_cb = cb;
	c->op_arg = arg;
	return 0;
}

int
db_conn_query(struct db_conn *c, const char *sql, int nparams,
    const char *const *values, db_result_cb cb, void *arg)
{
	return conn_start(c, REQ_QUERY, sql, nparams, values, cb, arg);
}

int
db_conn_execute(struct db_conn *c, const char *stmt, int nparams,
    const char *const *values, db_result_cb cb, void *arg)
{
	return conn_start(c, REQ_EXECUTE, stmt, nparams, values, cb, arg);
}

int
db_conn_query_simple(struct db_conn *c, const char *sql, db_result_cb cb, void *arg)
{
	return conn_start(c, REQ_SIMPLE, sql, 0, NULL, cb, arg);
}

int
db_conn_copy(struct db_conn *c, const char *copy_sql, struct evbuffer *data,
    db_result_cb cb, void *arg)
{
	if (conn_start(c, REQ_QUERY, copy_sql, 0, NULL, cb, arg) == -1)
		return -1;
	c->op_copy = true;
	c->copy_buf = data;
	return 0;
}

/* Gives a lent connection back: rolled back if need be, reconnected if broken. */
static void
conn_release_now(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;

	c->release_pending = false;
	if (c->pg == NULL) {
		conn_schedule(c);
		goto out;
	}
	switch (PQtransactionStatus(c->pg)) {
	case PQTRANS_IDLE:
		c->state = CONN_IDLE;
		break;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		c->state = CONN_RESETTING;
		if (conn_send(c, REQ_QUERY, "ROLLBACK", 0, NULL) == -1) {
			c->phase = OP_NONE;
			conn_lost(c);
		}
		break;
	default:
		log_warn("db", "connection %d released in an unknown state: reconnecting",
		    c->id);
		conn_close(c);
		conn_schedule(c);
		break;
	}
out:
	pool_kick(pool);
}

void
db_release(struct db_conn *c)
{
	if (c == NULL || c->pool->closing || c->state != CONN_LENT || c->release_pending)
		return;
	if (c->phase != OP_NONE) {
		/* its callback still runs; the release follows the statement */
		c->release_pending = true;
		return;
	}
	conn_release_now(c);
}

void
db_pool_stats(const struct db_pool *pool, struct db_pool_stats *out)
{
	int	i;

	memset(out, 0, sizeof(*out));
	out->size = pool->size;
	for (i = 0; i < pool->size; i++) {
		const struct db_conn	*c = &pool->conns[i];

		if (conn_is_up(c))
			out->connected++;
		if (c->state == CONN_SCOPING || c->state == CONN_RUNNING ||
		    c->state == CONN_LENT || c->state == CONN_RESETTING)
			out->in_use++;
	}
	out->waiting = pool->waiting;
	out->statements = pool->statements;
	out->errors = pool->errors;
	out->reconnects = pool->reconnects;
}

bool
db_pool_ready(const struct db_pool *pool, const char **why)
{
	if (!pool->closing && pool_up(pool) > 0) {
		if (why != NULL)
			*why = NULL;
		return true;
	}
	if (why != NULL)
		*why = pool->closing ? DB_ERR_SHUTDOWN :
		    pool->why[0] != '\0' ? pool->why : "connecting to the database";
	return false;
}

bool
db_result_ok(const PGresult *res)
{
	ExecStatusType	st;

	if (res == NULL)
		return false;
	st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

bool
db_result_retryable(const PGresult *res)
{
	const char	*state;

	if (res == NULL)
		return true;
	if (db_result_ok(res) ||
	    (state = PQresultErrorField(res, PG_DIAG_SQLSTATE)) == NULL)
		return false;
	return strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
	    strcmp(state, "57P03") == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0;
}

const char *
db_result_error(const PGresult *res, const char *error)
{
	const char	*msg;

	if (res == NULL)
		return error != NULL ? error : "no result from the database";
	if (db_result_ok(res))
		return error;
	if ((msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) != NULL && *msg != '\0')
		return msg;
	if ((msg = PQresultErrorMessage(res)) != NULL && *msg != '\0')
		return msg;
	if (error != NULL)
		return error;
	return PQresStatus(PQresultStatus(res));
}
