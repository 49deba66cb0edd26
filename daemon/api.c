/*
 * The API's route table: every method, path and role the server answers. Handlers are
 * in the api_*.c files; routing, authentication and replies are http.c's.
 */
#include <event2/http.h>

#include "api.h"

const struct route api_routes[] = {
	/* methods		pattern		handler		role */
	{ EVHTTP_REQ_GET,	"/healthz",	api_healthz,	ROLE_PUBLIC },
	{ EVHTTP_REQ_GET,	"/readyz",	api_readyz,	ROLE_PUBLIC },
	{ EVHTTP_REQ_GET,	"/metrics",	api_metrics,	ROLE_PUBLIC },
	/* The dashboard: tried only when no other route has the path. */
	{ EVHTTP_REQ_GET,	"/*",		api_static,	ROLE_PUBLIC },
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
