/*
 * Routes whose reply is one JSON object PostgreSQL builds in one statement (a project,
 * an overlap, a scorecard, the portfolio): queuing the statement for the request and
 * turning its first row into the reply, 404, 403, 500 or 503.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "daemon.h"
#include "db.h"
#include "log.h"

struct object_query {
	struct request			*req;
	const struct api_object		*kind;
};

static void
on_object(PGresult *res, const char *error, void *arg)
{
	struct object_query	*q = arg;
	struct request		*req = q->req;
	const struct api_object	*kind = q->kind;
	int			 col = kind->refusal != NULL ? 1 : 0;
	char			 msg[128];

	free(q);
	snprintf(msg, sizeof(msg), "cannot read the %s", kind->what);
	if (!api_result_usable(req, res, error, msg))
		return;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, col)) {
		snprintf(msg, sizeof(msg), "no such %s", kind->what);
		http_reply_error(req, 404, msg, NULL);
		return;
	}
	if (col == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		http_reply_error(req, 403, kind->refusal, NULL);
		return;
	}
	http_reply_data(req, 200, "application/json; charset=utf-8", PQgetvalue(res, 0, col),
	    (size_t)PQgetlength(res, 0, col));
}

void
api_object_query(struct request *req, const struct api_object *kind, const char *sql,
    int n, const char *const *values)
{
	struct object_query *q;

	if ((q = malloc(sizeof(*q))) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		return;
	}
	q->req = req;
	q->kind = kind;
	switch (db_query_scoped(req->daemon->db, request_scope(req), sql, n, values,
	    on_object, q)) {
	case DB_QUEUED:
		return;
	case DB_UNAVAILABLE:
	case DB_BUSY:
		free(q);
		http_reply_unavailable(req, "the database is not available");
		return;
	}
}
