/*
 * The API's route table and its handlers, one api_*.c file per resource.
 */
#ifndef ICTMON_API_H
#define ICTMON_API_H

#include <stddef.h>

#include <libpq-fe.h>

#include "http.h"

extern const struct route	api_routes[];
extern const size_t		api_nroutes;

/*
 * api_result.c: true when a statement's result is usable; else it has replied, 503
 * with Retry-After when the failure may pass (db_result_retryable: `res` NULL
 * included), 500 with `refusal` ("cannot read the list") otherwise.
 */
bool	api_result_usable(struct request *req, const PGresult *res, const char *error,
	    const char *refusal);

/*
 * api_object.c: routes whose reply is one JSON object PostgreSQL builds in one
 * statement. The first row's column 0 is the object; with a `refusal`, column 0 says
 * whether the token may read it ('t', else 403 with the refusal) and column 1 is the
 * object. No row, or a NULL object, is 404 "no such WHAT".
 */
struct api_object {
	const char	*what;		/* "project": the 404's and the 500's noun */
	const char	*refusal;	/* NULL, or the 403's message */
};
void	api_object_query(struct request *req, const struct api_object *kind,
	    const char *sql, int n, const char *const *values);

/* api_health.c */
void	api_healthz(struct request *req);
void	api_readyz(struct request *req);
void	api_metrics(struct request *req);

/*
 * api_openapi.c: the OpenAPI 3.0 document of the route table, daemon/openapi.json
 * as it was at build time (NUL-terminated; _len bytes without the NUL).
 */
extern const char	api_openapi_json[];
extern const size_t	api_openapi_json_len;
void	api_get_openapi(struct request *req);

/* api_static.c: the dashboard's files under http.web_root */
void	api_static(struct request *req);

/* api_ingest.c: agencies push their data (include/ingest.h) */
void	api_post_projects(struct request *req);
void	api_post_procurement(struct request *req);
void	api_post_budget(struct request *req);

/* api_read.c: what was stored, a page at a time */
void	api_get_projects(struct request *req);
void	api_get_awards(struct request *req);
void	api_get_budget(struct request *req);

/* api_project.c: one project, its versions, awards, budget lines and duplicates */
void	api_get_project(struct request *req);

/* api_feeds.c: the feeds ictmon pulls (include/feeds.h), and a run now */
void	api_get_feeds(struct request *req);
void	api_get_feed(struct request *req);
void	api_post_feed_run(struct request *req);

/* api_indicators.c: what the indicators found (include/indicators.h) */
void	api_get_indicators(struct request *req);
void	api_get_catalogue(struct request *req);
void	api_get_indicator_runs(struct request *req);
void	api_get_overlaps(struct request *req);
void	api_get_scorecard(struct request *req);
/* One current overlap, its evidence made readable (awards, projects) and its alerts. */
void	api_get_overlap(struct request *req);

/* api_portfolio.c: who the token is, the portfolio's overview, every agency */
void	api_get_session(struct request *req);
void	api_get_portfolio(struct request *req);
void	api_get_agencies(struct request *req);

/* api_alerts.c: alerts, acknowledgements, silences and the outbox (include/alerts.h) */
void	api_get_alerts(struct request *req);
void	api_get_alert(struct request *req);
void	api_post_alert_ack(struct request *req);
void	api_post_alert_unack(struct request *req);
void	api_get_silences(struct request *req);
void	api_post_silence(struct request *req);
void	api_get_silence(struct request *req);
void	api_delete_silence(struct request *req);
void	api_get_outbox(struct request *req);

#endif
