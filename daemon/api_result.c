/*
 * How a handler answers a statement that failed: 503 with Retry-After when trying again
 * later may work (the database went away, ran out of disk, a deadlock), 500 otherwise;
 * the cause goes to the log under the request's id, never to the client.
 */
#include "api.h"
#include "db.h"
#include "log.h"

bool
api_result_usable(struct request *req, const PGresult *res, const char *error,
    const char *refusal)
{
	if (db_result_retryable(res)) {
		if (res != NULL)
			log_warn("api", "rid=%s %s", req->id, db_result_error(res, error));
		http_reply_unavailable(req, "the database is not available");
		return false;
	}
	if (!db_result_ok(res)) {
		log_error("api", "rid=%s %s", req->id, db_result_error(res, error));
		http_reply_error(req, 500, refusal, NULL);
		return false;
	}
	return true;
}
