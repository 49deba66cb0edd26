/*
 * The HTTP server: evhttp on the daemon's loop, a route table (method, path pattern,
 * handler, role), authentication before a handler runs, limits, request ids, JSON
 * error bodies, access logs and request metrics. Handlers live in the api_*.c files.
 */
#ifndef ICTMON_HTTP_H
#define ICTMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "auth.h"

struct event_base;
struct evhttp_request;
struct config;
struct ictmond;
struct request;

#define ROUTE_MAX_PARAMS	4
#define ROUTE_MAX_PATH		2048	/* longer paths match nothing (414 from the server) */

typedef void	(*route_handler)(struct request *req);

/*
 * Whose rows an agency token's statements see in the database (row-level security,
 * db.h): its own agency's, or every agency's for the routes that answer with
 * portfolio-wide aggregates or show the other side of an overlap the agency is in.
 * Analysts' and the daemon's statements see every agency's.
 */
enum route_rows {
	ROWS_OWN,
	ROWS_ALL,
};

/* One row of the route table. `pattern` segments in braces capture: "/v1/feeds/{name}/run". */
struct route {
	unsigned	 methods;	/* EVHTTP_REQ_GET | ... */
	const char	*pattern;
	route_handler	 handler;
	enum role	 role;		/* least role needed */
	enum route_rows	 rows;
};

struct route_params {
	size_t		count;
	struct {
		const char	*name;		/* points into the pattern */
		size_t		 namelen;
		char		*value;		/* percent-decoded, owned */
	} param[ROUTE_MAX_PARAMS];
};

/*
 * Finds the route for method and path (no query string). When no route has that path
 * returns NULL with *allowed 0 (404); when routes have the path but not the method
 * returns NULL with *allowed the methods they take (405 with Allow).
 *
 * `path` is as received, still percent-encoded: each segment is decoded before it is
 * compared, so "%2F" inside a segment never splits it. A `{name}` capture is the
 * decoded segment, non-empty and without '/'. A pattern whose last segment is '*' (the
 * static files' route) matches any path below its prefix and is tried only when no
 * other pattern has the path (the longest such prefix wins); what the '*' covers,
 * decoded, is the parameter "*". A route that takes GET also takes HEAD. params and
 * allowed may be NULL.
 */
const struct route	*route_match(const struct route *routes, size_t nroutes,
			    unsigned method, const char *path, struct route_params *params,
			    unsigned *allowed);
void			 route_params_clear(struct route_params *params);
/* "GET, POST" for an Allow header; buf of at least 64 bytes. */
void			 http_methods_text(unsigned methods, char *buf, size_t len);

/* One API request while its handler runs; freed when the reply is sent. */
struct request {
	struct evhttp_request	*ev;
	struct ictmond		*daemon;
	const struct route	*route;
	struct route_params	 params;
	struct principal	 who;		/* set when route->role is not public */
	char			 id[17];	/* request id, in logs and X-Request-Id */
	double			 started;	/* monotonic seconds */
};

const char	*request_param(const struct request *req, const char *name);
/* The row scope of the request's statements (db.h): its agency's, or DB_SCOPE_ALL. */
long long	 request_scope(const struct request *req);
/* A query-string argument, decoded; NULL when absent. */
const char	*request_query(struct request *req, const char *name);
const char	*request_header(const struct request *req, const char *name);
/*
 * Percent-decodes len bytes of s into out (len + 1 bytes, NUL-terminated). Fails on a
 * malformed escape and on %00, which would cut the value short as a C string.
 */
bool		 http_percent_decode(const char *s, size_t len, char *out, size_t *outlen);
/* Whether a Content-Type's media type (parameters aside) is `type`, any case. */
bool		 http_media_type_is(const char *header, const char *type);
/* The body; NULL with *len 0 when empty. Points into the request's buffer. */
const char	*request_body(struct request *req, size_t *len);

/* Adds a response header (Location, Retry-After, ...); call before the reply. */
void		 http_set_header(struct request *req, const char *name, const char *value);

/* Replies (each ends the request: exactly one per request). json bodies are stolen. */
void		 http_reply_json(struct request *req, int status, json_t *body);
void		 http_reply_error(struct request *req, int status, const char *message,
		    json_t *details);
void		 http_reply_data(struct request *req, int status, const char *content_type,
		    const void *data, size_t len);
/* 503 with Retry-After: the database (or the server) cannot take it now; try again. */
#define HTTP_RETRY_AFTER	"5"	/* seconds, in every 503's Retry-After */
void		 http_reply_unavailable(struct request *req, const char *message);
/* The content of `body` is moved into the reply; the caller still frees the evbuffer. */
struct evbuffer;
void		 http_reply_buffer(struct request *req, int status,
		    const char *content_type, struct evbuffer *body);
/*
 * 200 with `size` bytes of the open file `fd`, which the reply takes (and closes). The
 * headers are those of a static file: a strict Content-Security-Policy, no no-store.
 */
void		 http_reply_file(struct request *req, const char *content_type, int fd,
		    size_t size);

/* {"error": {"code": ..., "message": ..., "details": [...]}}; details stolen, may be NULL. */
json_t		*http_error_body(int status, const char *message, json_t *details);
/* The error code word for a status: 404 "not_found", 422 "invalid_records", ... */
const char	*http_status_code(int status);

struct http_server;

struct http_server	*http_server_new(struct ictmond *daemon, const struct route *routes,
			    size_t nroutes);
bool			 http_server_listen(struct http_server *srv, const char *addr);
/* Limits from the config (body, headers, timeouts); called again on reload. */
void			 http_server_configure(struct http_server *srv,
			    const struct config *cfg);
/* Stops accepting, then calls done once no request is in flight. */
void			 http_server_drain(struct http_server *srv, void (*done)(void *),
			    void *arg);
unsigned		 http_server_in_flight(const struct http_server *srv);
void			 http_server_free(struct http_server *srv);

#endif
