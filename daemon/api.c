/*
 * The API's route table: every method, path and role the server answers, and whose rows
 * an agency token's statements see (include/http.h, enum route_rows). Handlers are in
 * the api_*.c files; routing, authentication and replies are http.c's.
 */
#include <event2/http.h>

#include "api.h"

const struct route api_routes[] = {
	/* methods		pattern		handler		role, rows */
	{ EVHTTP_REQ_GET,	"/healthz",	api_healthz,	ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/readyz",	api_readyz,	ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/metrics",	api_metrics,	ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/openapi.json", api_get_openapi,
	  ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_POST,	"/v1/projects",	api_post_projects,
	  ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/projects",	api_get_projects,
	  ROLE_AGENCY, ROWS_OWN },
	/* Agency role: an agency token reads its own agency's projects. */
	{ EVHTTP_REQ_GET,	"/v1/projects/{agency}/{id}", api_get_project,
	  ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_POST,	"/v1/procurement", api_post_procurement,
	  ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/awards",	api_get_awards,	ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_POST,	"/v1/budget",	api_post_budget,
	  ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/budget",	api_get_budget,	ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/feeds",	api_get_feeds,	ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/feeds/{name}", api_get_feed, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_POST,	"/v1/feeds/{name}/run", api_post_feed_run,
	  ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/indicators", api_get_indicators,
	  ROLE_AGENCY, ROWS_OWN },
	/* Agency role: an agency may read how it is measured. */
	{ EVHTTP_REQ_GET,	"/v1/indicators/catalogue", api_get_catalogue,
	  ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/indicators/runs", api_get_indicator_runs,
	  ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/overlaps",	api_get_overlaps, ROLE_AGENCY, ROWS_OWN },
	/* Agency role: an agency token reads the overlaps involving its agency. */
	{ EVHTTP_REQ_GET,	"/v1/overlaps/{id}", api_get_overlap,
	  ROLE_AGENCY, ROWS_ALL },
	/* Agency role: the aggregates are portfolio-wide, the rest scoped to it. */
	{ EVHTTP_REQ_GET,	"/v1/session",	api_get_session, ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/portfolio", api_get_portfolio, ROLE_AGENCY, ROWS_ALL },
	{ EVHTTP_REQ_GET,	"/v1/agencies",	api_get_agencies, ROLE_AGENCY, ROWS_ALL },
	{ EVHTTP_REQ_GET,	"/v1/agencies/{code}/scorecard", api_get_scorecard,
	  ROLE_AGENCY, ROWS_ALL },
	/* Agency role: an agency token sees the alerts involving its agency. */
	{ EVHTTP_REQ_GET,	"/v1/alerts",	api_get_alerts,	ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/alerts/{id}", api_get_alert, ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_POST,	"/v1/alerts/{id}/ack", api_post_alert_ack,
	  ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_POST,	"/v1/alerts/{id}/unack", api_post_alert_unack,
	  ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/silences",	api_get_silences, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_POST,	"/v1/silences",	api_post_silence, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/silences/{id}", api_get_silence,
	  ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_DELETE,	"/v1/silences/{id}", api_delete_silence,
	  ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET,	"/v1/outbox",	api_get_outbox,	ROLE_ANALYST, ROWS_OWN },
	/* The dashboard: tried only when no other route has the path. */
	{ EVHTTP_REQ_GET,	"/*",		api_static,	ROLE_PUBLIC, ROWS_OWN },
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
