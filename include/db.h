/*
 * The PostgreSQL pool: a few libpq connections in non-blocking mode, driven by the
 * daemon's event loop. Callers queue statements with a callback; no call blocks. The
 * pool reconnects with backoff when the server goes away, checks on every connection
 * that the schema is the one this binary needs, and prepares the registered statements.
 */
#ifndef ICTMON_DB_H
#define ICTMON_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

struct event_base;
struct evbuffer;
struct db_pool;
struct db_conn;		/* one connection lent to one caller (a transaction) */

struct db_pool_params {
	const char	*conninfo;	/* "" : libpq's PG* environment */
	const char	*password;	/* NULL: from conninfo / environment */
	int		 size;		/* connections */
	int		 queue_max;	/* waiting requests before DB_BUSY */
	int		 connect_timeout;	/* seconds */
	int		 reconnect_max;	/* seconds, backoff cap */
	int		 schema_version;	/* the schema_migrations version required */
	const char	*application_name;
	/*
	 * Refuse to work as a login role that is a superuser or bypasses row-level
	 * security (the daemon); false for the admin tool, which runs as the schema's
	 * owner and sees every agency's rows.
	 */
	bool		 held_to_rls;
};

enum db_submit {
	DB_QUEUED = 0,		/* the callback will be called exactly once */
	DB_UNAVAILABLE,		/* no connection to the database: 503 */
	DB_BUSY,		/* queue full: 503 */
};

/*
 * Called once per statement. `res` is the statement's result (check its status: it
 * may be an SQL error), or NULL when the connection was lost or the pool shut down,
 * with `error` saying why. The pool clears `res` after the callback returns.
 */
typedef void	(*db_result_cb)(PGresult *res, const char *error, void *arg);
/* Called when a connection is lent (conn set) or cannot be (conn NULL, error set). */
typedef void	(*db_conn_cb)(struct db_conn *conn, const char *error, void *arg);

struct db_pool	*db_pool_new(struct event_base *base, const struct db_pool_params *p);
/* Fails every queued request (callbacks with an error) and closes all connections. */
void		 db_pool_free(struct db_pool *pool);

/*
 * Registers a statement prepared on every connection as it connects, then run by name
 * with db_execute. Register before db_pool_start.
 */
void		 db_pool_prepare(struct db_pool *pool, const char *name, const char *sql);
void		 db_pool_start(struct db_pool *pool);

/*
 * Whose rows a statement sees and writes. The agency-owned tables have row-level
 * security reading the session's ictmon.scope (sql/010_row_security.sql); the pool sets
 * it on a connection before a statement of another scope. DB_SCOPE_ALL: every agency
 * (the daemon's own work, analysts); an agency's id: that agency's rows only. db_query,
 * db_execute and db_acquire run in DB_SCOPE_ALL.
 */
#define DB_SCOPE_ALL	0LL

/* One statement on any connection, outside an explicit transaction. Text parameters,
   NULL for SQL NULL; the pool copies them. */
enum db_submit	 db_query(struct db_pool *pool, const char *sql, int nparams,
		    const char *const *values, db_result_cb cb, void *arg);
enum db_submit	 db_query_scoped(struct db_pool *pool, long long scope, const char *sql,
		    int nparams, const char *const *values, db_result_cb cb, void *arg);
enum db_submit	 db_execute(struct db_pool *pool, const char *stmt, int nparams,
		    const char *const *values, db_result_cb cb, void *arg);

/*
 * Borrows a connection for a sequence of statements (BEGIN ... COMMIT). The caller
 * runs statements on it one at a time and must db_release it; a connection released
 * inside a transaction is rolled back first. If the connection is lost, the pending
 * statement's callback gets res NULL and the caller must still release it.
 */
enum db_submit	 db_acquire(struct db_pool *pool, db_conn_cb cb, void *arg);
enum db_submit	 db_acquire_scoped(struct db_pool *pool, long long scope, db_conn_cb cb,
		    void *arg);
int		 db_conn_query(struct db_conn *conn, const char *sql, int nparams,
		    const char *const *values, db_result_cb cb, void *arg);
int		 db_conn_execute(struct db_conn *conn, const char *stmt, int nparams,
		    const char *const *values, db_result_cb cb, void *arg);
/*
 * A text of several statements separated by ';' in PostgreSQL's simple protocol (no
 * parameters: never put a value in it). The callback runs once, after the last
 * statement, with the first error or else the last statement's result.
 */
int		 db_conn_query_simple(struct db_conn *conn, const char *sql,
		    db_result_cb cb, void *arg);
/*
 * COPY ... FROM STDIN with the COPY text data in an evbuffer, sent without blocking in
 * pieces and drained as libpq takes them, so big data is never made contiguous nor held
 * twice. The buffer must stay valid until the callback, which gets the COPY's final
 * result; it is empty after a COPY that succeeded.
 */
int		 db_conn_copy(struct db_conn *conn, const char *copy_sql,
		    struct evbuffer *data, db_result_cb cb, void *arg);
void		 db_release(struct db_conn *conn);

struct db_pool_stats {
	int			size;
	int			connected;	/* connections up, schema checked */
	int			in_use;		/* running a statement or lent */
	int			waiting;	/* requests queued for a connection */
	unsigned long long	statements;
	unsigned long long	errors;		/* SQL errors and lost connections */
	unsigned long long	reconnects;
};

void		 db_pool_stats(const struct db_pool *pool, struct db_pool_stats *out);
/* True when at least one connection is up with a current schema; else `why` says. */
bool		 db_pool_ready(const struct db_pool *pool, const char **why);

/*
 * A blocking connection from the configuration (db.conninfo, db.password_file,
 * db.connect_timeout): for ictmonctl, and for the daemon's check before its loop
 * starts. NULL with err on failure.
 */
struct config;
PGconn		*db_connect_blocking(const struct config *cfg, const char *application_name,
		    char *err, size_t errlen);

/* Helpers for reading results. */
bool		 db_result_ok(const PGresult *res);	/* COMMAND_OK or TUPLES_OK */
const char	*db_result_error(const PGresult *res, const char *error);
/*
 * Whether a failed statement may succeed if tried again later: the connection or the
 * server went away (SQLSTATE 08, 57P01-57P03), the server ran out of disk, memory or
 * connections (53), a serialization failure or deadlock (40001, 40P01). The API
 * answers these 503 with Retry-After rather than 500. NULL (the connection lost) too.
 */
bool		 db_result_retryable(const PGresult *res);

#endif
