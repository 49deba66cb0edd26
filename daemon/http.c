/*
 * The HTTP server: one evhttp generic callback routes every request through the route
 * table, authenticates it when its route needs a role, and runs the handler; every
 * reply goes out through here, with the house headers, an access log line and request
 * metrics. Handlers (api_*.c) decide what to answer, never how.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"

#define LOG_PATH_MAX		200

#define METRIC_REQUESTS		"ictmon_http_requests_total"
#define METRIC_DURATION		"ictmon_http_request_duration_seconds"
#define METRIC_IN_FLIGHT	"ictmon_http_requests_in_flight"

#define ALLOWED_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | \
	EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS)

/* What kind of resource a reply carries decides its caching and CSP headers. */
enum reply_kind {
	REPLY_API,
	REPLY_STATIC,
};

/* The server's side of a request: the handlers' struct request and our bookkeeping. */
struct http_request {
	struct request			 pub;
	struct http_server		*srv;
	TAILQ_ENTRY(http_request)	 entry;
	enum evhttp_cmd_type		 method;
	struct evkeyvalq		 query;
	int				 query_state;	/* 0 unparsed, 1 parsed, -1 malformed */
	char				 path[LOG_PATH_MAX + 1];	/* for the access log */
};

TAILQ_HEAD(http_request_list, http_request);

struct http_server {
	struct ictmond			*daemon;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound;
	const struct route		*routes;
	size_t				 nroutes;
	struct http_request_list	 requests;	/* routed, not yet replied */
	unsigned			 in_flight;
	uint32_t			 id_prefix;
	uint32_t			 id_counter;
	int				 draining;
	void				(*drained)(void *);
	void				*drained_arg;
	struct event			*drained_ev;
	struct ratelimit		*limits;	/* per token (api.rate_limit) */
};

static const struct {
	unsigned	 bit;
	const char	*name;
} method_names[] = {
	{ EVHTTP_REQ_GET, "GET" },
	{ EVHTTP_REQ_HEAD, "HEAD" },
	{ EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_PUT, "PUT" },
	{ EVHTTP_REQ_DELETE, "DELETE" },
	{ EVHTTP_REQ_PATCH, "PATCH" },
	{ EVHTTP_REQ_OPTIONS, "OPTIONS" },
	{ EVHTTP_REQ_TRACE, "TRACE" },
	{ EVHTTP_REQ_CONNECT, "CONNECT" },
};
#define NMETHODS	(sizeof(method_names) / sizeof(method_names[0]))

static struct http_request *
request_ctx(struct request *req)
{
	return (struct http_request *)((char *)req - offsetof(struct http_request, pub));
}

static double
monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
method_name(unsigned method)
{
	for (size_t i = 0; i < NMETHODS; i++) {
		if (method_names[i].bit == method)
			return method_names[i].name;
	}
	return "OTHER";
}

void
http_methods_text(unsigned methods, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < NMETHODS; i++) {
		int n;

		if ((methods & method_names[i].bit) == 0)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "",
		    method_names[i].name);
		if (n < 0 || (size_t)n >= len - used) {
			buf[used] = '\0';	/* never half a method name */
			return;
		}
		used += (size_t)n;
	}
}

/* --- Route matching ------------------------------------------------------------- */

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* See http.h: route parameters and query values here, query names in csvout.c. */
bool
http_percent_decode(const char *s, size_t len, char *out, size_t *outlen)
{
	size_t	n = 0;
	int	hi, lo;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return false;
		hi = hex_value(s[i + 1]);
		lo = hex_value(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return false;
		out[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[n] = '\0';
	*outlen = n;
	return true;
}

static bool
is_wildcard(const char *pattern)
{
	size_t len = strlen(pattern);

	return len >= 2 && strcmp(pattern + len - 2, "/*") == 0;
}

static unsigned
route_methods(const struct route *r)
{
	return r->methods & EVHTTP_REQ_GET ? r->methods | EVHTTP_REQ_HEAD : r->methods;
}

static bool
capture(struct route_params *params, const char *name, size_t namelen,
    const char *value, size_t len)
{
	char *copy;

	if (params->count == ROUTE_MAX_PARAMS || (copy = strndup(value, len)) == NULL)
		return false;
	params->param[params->count].name = name;
	params->param[params->count].namelen = namelen;
	params->param[params->count].value = copy;
	params->count++;
	return true;
}

/*
 * Whether path (starts with '/', at most ROUTE_MAX_PATH bytes) fits pattern; with
 * params, also captures. On failure params may hold partial captures.
 */
static bool
pattern_match(const char *pattern, const char *path, struct route_params *params)
{
	char		 decoded[ROUTE_MAX_PATH + 1];
	const char	*p = pattern + 1, *s = path + 1;
	size_t		 plen, slen, dlen;

	for (;;) {
		plen = strcspn(p, "/");
		slen = strcspn(s, "/");
		if (plen == 1 && p[0] == '*' && p[1] == '\0') {
			/* The wildcard takes the rest of the path, slashes included. */
			if (!http_percent_decode(s, strlen(s), decoded, &dlen))
				return false;
			return params == NULL || capture(params, p, 1, decoded, dlen);
		}
		if (!http_percent_decode(s, slen, decoded, &dlen))
			return false;
		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (dlen == 0 || memchr(decoded, '/', dlen) != NULL)
				return false;
			if (params != NULL &&
			    !capture(params, p + 1, plen - 2, decoded, dlen))
				return false;
		} else if (plen != dlen || memcmp(p, decoded, dlen) != 0)
			return false;
		p += plen;
		s += slen;
		if (*p == '\0' || *s == '\0')
			return *p == '\0' && *s == '\0';
		p++;
		s++;
	}
}

const struct route *
route_match(const struct route *routes, size_t nroutes, unsigned method,
    const char *path, struct route_params *params, unsigned *allowed)
{
	const struct route	*found = NULL;
	unsigned		 methods = 0;
	size_t			 best = 0;

	if (params != NULL)
		memset(params, 0, sizeof(*params));
	if (allowed != NULL)
		*allowed = 0;
	if (path == NULL || path[0] != '/' || strlen(path) > ROUTE_MAX_PATH)
		return NULL;

	for (size_t i = 0; i < nroutes; i++) {
		const struct route *r = &routes[i];

		if (is_wildcard(r->pattern) || !pattern_match(r->pattern, path, NULL))
			continue;
		methods |= route_methods(r);
		if (found == NULL && (route_methods(r) & method))
			found = r;
	}
	if (methods == 0) {
		/* Only the wildcards with the longest matching prefix have the path. */
		for (size_t i = 0; i < nroutes; i++) {
			const struct route	*r = &routes[i];
			size_t			 len = strlen(r->pattern);

			if (!is_wildcard(r->pattern) || len < best ||
			    !pattern_match(r->pattern, path, NULL))
				continue;
			if (len > best) {
				best = len;
				methods = 0;
				found = NULL;
			}
			methods |= route_methods(r);
			if (found == NULL && (route_methods(r) & method))
				found = r;
		}
	}
	if (found == NULL) {
		if (allowed != NULL)
			*allowed = methods;
		return NULL;
	}
	if (params != NULL && !pattern_match(found->pattern, path, params)) {
		route_params_clear(params);	/* out of memory: as if not found */
		return NULL;
	}
	return found;
}

void
route_params_clear(struct route_params *params)
{
	for (size_t i = 0; i < params->count; i++) {
		free(params->param[i].value);
		params->param[i].value = NULL;
	}
	params->count = 0;
}

/* --- Request accessors ---------------------------------------------------------- */

long long
request_scope(const struct request *req)
{
	if (req->route->role == ROLE_PUBLIC || req->route->rows == ROWS_ALL)
		return DB_SCOPE_ALL;
	return principal_scope(&req->who);
}

const char *
request_param(const struct request *req, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < req->params.count; i++) {
		if (req->params.param[i].namelen == len &&
		    memcmp(req->params.param[i].name, name, len) == 0)
			return req->params.param[i].value;
	}
	return NULL;
}

const char *
request_query(struct request *req, const char *name)
{
	struct http_request		*ctx = request_ctx(req);
	const struct evhttp_uri		*uri;
	const char			*query;

	if (ctx->query_state == 0) {
		TAILQ_INIT(&ctx->query);
		uri = evhttp_request_get_evhttp_uri(req->ev);
		query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
		ctx->query_state = 1;
		if (query != NULL && evhttp_parse_query_str(query, &ctx->query) == -1) {
			evhttp_clear_headers(&ctx->query);
			ctx->query_state = -1;
		}
	}
	if (ctx->query_state != 1)
		return NULL;
	return evhttp_find_header(&ctx->query, name);
}

const char *
request_header(const struct request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const char *
request_body(struct request *req, size_t *len)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req->ev);
	size_t		 n = in != NULL ? evbuffer_get_length(in) : 0;

	*len = 0;
	if (n == 0)
		return NULL;
	*len = n;
	return (const char *)evbuffer_pullup(in, -1);
}

/* --- Replies -------------------------------------------------------------------- */

const char *
http_status_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "payload_too_large";
	case 414: return "uri_too_long";
	case 415: return "unsupported_media_type";
	case 422: return "invalid_records";
	case 429: return "too_many_requests";
	case 500: return "internal_error";
	case 503: return "unavailable";
	default: return "error";
	}
}

/* libevent 2.1 knows no phrase past 417 ("Client Error" for a 422). */
static const char *
status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return NULL;	/* libevent's */
	}
}

json_t *
http_error_body(int status, const char *message, json_t *details)
{
	json_t *error = NULL, *root = NULL;

	if (details == NULL)
		details = json_array();
	if (message == NULL)
		message = status_reason(status) ? status_reason(status) : "error";
	if ((error = json_object()) == NULL || (root = json_object()) == NULL) {
		json_decref(details);
		goto fail;
	}
	if (json_object_set_new(error, "code", json_string(http_status_code(status))) ||
	    json_object_set_new(error, "message", json_string(message)) ||
	    json_object_set_new(error, "details", details))
		goto fail;
	if (json_object_set_new(root, "error", error)) {
		error = NULL;	/* set_new took it even though it failed */
		goto fail;
	}
	return root;
fail:
	json_decref(error);
	json_decref(root);
	return NULL;
}

static void
drain_check(struct http_server *srv)
{
	static const struct timeval now = { 0, 0 };

	/* Through the loop: done() may free the server, never under a handler's feet. */
	if (srv->draining && srv->in_flight == 0 && srv->drained != NULL &&
	    srv->drained_ev != NULL && !evtimer_pending(srv->drained_ev, NULL))
		evtimer_add(srv->drained_ev, &now);
}

static void
on_drained(evutil_socket_t fd, short events, void *arg)
{
	struct http_server	*srv = arg;
	void			(*done)(void *) = srv->drained;

	srv->drained = NULL;
	if (done != NULL)
		done(srv->drained_arg);
}

/* After the reply went to evhttp: the access line, metrics, and the request's end. */
static void
request_done(struct http_request *ctx, int status)
{
	struct http_server	*srv = ctx->srv;
	struct metrics		*m = srv->daemon != NULL ? srv->daemon->metrics : NULL;
	const char		*route, *method = method_name(ctx->method);
	char			 labels[512];
	double			 seconds = monotonic_now() - ctx->pub.started;

	log_info("http", "rid=%s %s %s %d %.1fms", ctx->pub.id, method, ctx->path, status,
	    seconds * 1000.0);
	if (m != NULL) {
		route = ctx->pub.route != NULL ? ctx->pub.route->pattern : "unmatched";
		snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",status=\"%d\"",
		    route, method, status);
		metrics_count(m, METRIC_REQUESTS, labels, 1);
		snprintf(labels, sizeof(labels), "route=\"%s\"", route);
		metrics_observe(m, METRIC_DURATION, labels, seconds);
	}
	TAILQ_REMOVE(&srv->requests, ctx, entry);
	srv->in_flight--;
	if (m != NULL)
		metrics_set(m, METRIC_IN_FLIGHT, "", srv->in_flight);
	route_params_clear(&ctx->pub.params);
	if (ctx->query_state == 1)
		evhttp_clear_headers(&ctx->query);
	free(ctx);
	drain_check(srv);
}

/*
 * Sends the reply and ends the request. evhttp may free the evhttp_request inside
 * evhttp_send_reply (when the client is gone it was detached from its connection), so
 * nothing here touches it afterwards.
 */
static void
reply_send(struct http_request *ctx, int status, const char *content_type,
    struct evbuffer *body, enum reply_kind kind)
{
	struct evkeyvalq	*headers = evhttp_request_get_output_headers(ctx->pub.ev);
	char			 length[32];

	evhttp_add_header(headers, "X-Request-Id", ctx->pub.id);
	evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(headers, "Referrer-Policy", "no-referrer");
	if (kind == REPLY_API)
		evhttp_add_header(headers, "Cache-Control", "no-store");
	else {
		evhttp_add_header(headers, "Content-Security-Policy",
		    "default-src 'self'; base-uri 'none'; form-action 'self'; "
		    "frame-ancestors 'none'");
		evhttp_add_header(headers, "X-Frame-Options", "DENY");
	}
	if (content_type != NULL)
		evhttp_add_header(headers, "Content-Type", content_type);
	if (ctx->srv->draining) {
		evhttp_remove_header(headers, "Connection");
		evhttp_add_header(headers, "Connection", "close");
	}
	/* libevent 2.1 writes a HEAD reply's body like any other: say its size, drop it. */
	if (ctx->method == EVHTTP_REQ_HEAD) {
		if (status != 204 && status != 304 &&
		    evhttp_find_header(headers, "Content-Length") == NULL) {
			snprintf(length, sizeof(length), "%zu",
			    body != NULL ? evbuffer_get_length(body) : (size_t)0);
			evhttp_add_header(headers, "Content-Length", length);
		}
		if (body != NULL)
			evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(ctx->pub.ev, status, status_reason(status), body);
	request_done(ctx, status);
}

/* When even an error body cannot be built, a fixed one still says what happened. */
static void
reply_fallback(struct http_request *ctx, int status)
{
	static const char text[] = "{\"error\":{\"code\":\"internal_error\","
	    "\"message\":\"out of memory\",\"details\":[]}}\n";
	struct evbuffer *body = evbuffer_new();

	if (body != NULL)
		evbuffer_add(body, text, sizeof(text) - 1);
	reply_send(ctx, status, "application/json; charset=utf-8", body, REPLY_API);
	if (body != NULL)
		evbuffer_free(body);
}

void
http_set_header(struct request *req, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

void
http_reply_json(struct request *req, int status, json_t *body)
{
	struct http_request	*ctx = request_ctx(req);
	struct evbuffer		*buf = NULL;
	char			*text = NULL;

	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL ||
	    (buf = evbuffer_new()) == NULL ||
	    evbuffer_add(buf, text, strlen(text)) == -1 || evbuffer_add(buf, "\n", 1) == -1) {
		log_error("http", "rid=%s cannot serialise a %d reply", req->id, status);
		reply_fallback(ctx, 500);
		goto out;
	}
	reply_send(ctx, status, "application/json; charset=utf-8", buf, REPLY_API);
out:
	if (buf != NULL)
		evbuffer_free(buf);
	free(text);
	json_decref(body);
}

void
http_reply_error(struct request *req, int status, const char *message, json_t *details)
{
	json_t *body;

	if ((body = http_error_body(status, message, details)) == NULL) {
		reply_fallback(request_ctx(req), 500);
		return;
	}
	http_reply_json(req, status, body);
}

void
http_reply_data(struct request *req, int status, const char *content_type,
    const void *data, size_t len)
{
	struct evbuffer *buf;

	if ((buf = evbuffer_new()) == NULL || evbuffer_add(buf, data, len) == -1) {
		if (buf != NULL)
			evbuffer_free(buf);
		reply_fallback(request_ctx(req), 500);
		return;
	}
	reply_send(request_ctx(req), status, content_type, buf, REPLY_API);
	evbuffer_free(buf);
}

void
http_reply_buffer(struct request *req, int status, const char *content_type,
    struct evbuffer *body)
{
	reply_send(request_ctx(req), status, content_type, body, REPLY_API);
}

void
http_reply_file(struct request *req, const char *content_type, int fd, size_t size)
{
	struct http_request		*ctx = request_ctx(req);
	struct evbuffer			*buf = NULL;
	struct evbuffer_file_segment	*seg = NULL;
	char				 length[32];

	if ((buf = evbuffer_new()) == NULL) {
		close(fd);
		goto fail;
	}
	if (ctx->method == EVHTTP_REQ_HEAD || size == 0) {
		snprintf(length, sizeof(length), "%zu", size);
		http_set_header(req, "Content-Length", length);
		close(fd);
	} else {
		/* The segment owns fd from here, whatever happens next. */
		if ((seg = evbuffer_file_segment_new(fd, 0, (ev_off_t)size,
		    EVBUF_FS_CLOSE_ON_FREE)) == NULL) {
			close(fd);
			goto fail;
		}
		if (evbuffer_add_file_segment(buf, seg, 0, (ev_off_t)size) == -1)
			goto fail;
		evbuffer_file_segment_free(seg);
		seg = NULL;
	}
	reply_send(ctx, 200, content_type, buf, REPLY_STATIC);
	evbuffer_free(buf);
	return;
fail:
	if (seg != NULL)
		evbuffer_file_segment_free(seg);
	if (buf != NULL)
		evbuffer_free(buf);
	log_error("http", "rid=%s cannot send a file", req->id);
	http_reply_error(req, 500, "cannot send the file", NULL);
}

/* --- Routing and authentication ------------------------------------------------- */

static void
reply_unauthorized(struct request *req, const char *message)
{
	http_set_header(req, "WWW-Authenticate", "Bearer");
	http_reply_error(req, 401, message, NULL);
}

void
http_reply_unavailable(struct request *req, const char *message)
{
	http_set_header(req, "Retry-After", HTTP_RETRY_AFTER);
	http_reply_error(req, 503, message, NULL);
}

/* The token's bucket (api.rate_limit, api.rate_burst); 429 when it is empty. */
static bool
rate_allowed(struct request *req, const struct principal *who)
{
	struct http_server	*srv = request_ctx(req)->srv;
	const struct config	*cfg = srv->daemon->cfg;
	unsigned		 wait;
	char			 text[16];

	wait = ratelimit_take(srv->limits, who->token_id,
	    (double)config_int(cfg, CFG_API_RATE_LIMIT),
	    (double)config_int(cfg, CFG_API_RATE_BURST), monotonic_now());
	if (wait == 0)
		return true;
	snprintf(text, sizeof(text), "%u", wait);
	http_set_header(req, "Retry-After", text);
	http_reply_error(req, 429, "too many requests with this token: retry later", NULL);
	return false;
}

static void
on_auth(int status, const struct principal *who, void *arg)
{
	struct request	*req = arg;
	char		 message[128];

	switch (status) {
	case 200:
		if (!role_allows(who->role, req->route->role)) {
			snprintf(message, sizeof(message), "a token of role %s cannot do this",
			    role_name(who->role));
			http_reply_error(req, 403, message, NULL);
			return;
		}
		if (!rate_allowed(req, who))
			return;
		req->who = *who;
		req->route->handler(req);
		return;
	case 401:
		reply_unauthorized(req, "unknown, revoked or expired token");
		return;
	case 503:
		http_reply_unavailable(req, "cannot check the token now");
		return;
	default:
		log_error("http", "rid=%s token lookup answered %d", req->id, status);
		http_reply_error(req, 500, "cannot check the token", NULL);
		return;
	}
}

/*
 * A path as sent, before decoding: printable ASCII (or UTF-8 bytes), every '%' the
 * start of an escape, no %00.
 */
static bool
path_acceptable(const char *path)
{
	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return false;
		if (*p == '%') {
			if (hex_value((char)p[1]) < 0 || hex_value((char)p[2]) < 0 ||
			    (p[1] == '0' && p[2] == '0'))
				return false;
			p += 2;
		}
	}
	return true;
}

/*
 * One Content-Length at most. libevent reads the first of several and ignores the rest;
 * a proxy in front may have read another, and the body's end would differ between them.
 */
static bool
framing_acceptable(struct evhttp_request *ev)
{
	struct evkeyvalq	*headers = evhttp_request_get_input_headers(ev);
	struct evkeyval		*h;
	int			 lengths = 0;

	TAILQ_FOREACH(h, headers, next)
		if (strcasecmp(h->key, "Content-Length") == 0)
			lengths++;
	return lengths <= 1;
}

/*
 * Replies go out as soon as they are written. With Nagle's algorithm on, the tail of a
 * reply larger than a segment waits for the client's ACK of the segment before it,
 * which the client delays (40 ms on Linux): every large page took 40 ms more.
 */
static void
reply_without_delay(struct evhttp_request *ev)
{
	struct evhttp_connection	*evcon = evhttp_request_get_connection(ev);
	struct bufferevent		*bev;
	evutil_socket_t			 fd;
	int				 on = 1;

	if (evcon != NULL && (bev = evhttp_connection_get_bufferevent(evcon)) != NULL &&
	    (fd = bufferevent_getfd(bev)) != -1)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* The path for the access log: capped, control bytes replaced. */
static void
copy_log_path(char *dst, const char *path)
{
	size_t i;

	for (i = 0; path != NULL && path[i] != '\0' && i < LOG_PATH_MAX; i++)
		dst[i] = (unsigned char)path[i] < 0x20 || path[i] == 0x7f ? '?' : path[i];
	dst[i] = '\0';
}

static void
on_request(struct evhttp_request *ev, void *arg)
{
	struct http_server	*srv = arg;
	struct http_request	*ctx;
	struct request		*req;
	const struct evhttp_uri	*uri;
	const char		*path, *header, *token;
	const struct route	*route;
	unsigned		 allowed;
	size_t			 toklen;
	char			 text[160], methods[64];

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		log_error("http", "out of memory for a request");
		evhttp_send_error(ev, 500, NULL);
		return;
	}
	req = &ctx->pub;
	req->ev = ev;
	req->daemon = srv->daemon;
	req->started = monotonic_now();
	snprintf(req->id, sizeof(req->id), "%08x%08x", (unsigned)srv->id_prefix,
	    (unsigned)++srv->id_counter);
	ctx->srv = srv;
	ctx->method = evhttp_request_get_command(ev);
	reply_without_delay(ev);
	TAILQ_INSERT_TAIL(&srv->requests, ctx, entry);
	srv->in_flight++;
	if (srv->daemon != NULL && srv->daemon->metrics != NULL)
		metrics_set(srv->daemon->metrics, METRIC_IN_FLIGHT, "", srv->in_flight);

	uri = evhttp_request_get_evhttp_uri(ev);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	copy_log_path(ctx->path, path);

	if (srv->draining) {
		http_reply_unavailable(req, "the server is shutting down");
		return;
	}
	if (path == NULL || path[0] != '/' || !path_acceptable(path)) {
		http_reply_error(req, 400, "malformed request path", NULL);
		return;
	}
	if (strlen(path) > ROUTE_MAX_PATH) {
		http_reply_error(req, 414, "request path too long", NULL);
		return;
	}
	if (!framing_acceptable(ev)) {
		http_reply_error(req, 400, "more than one Content-Length header", NULL);
		return;
	}
	route = route_match(srv->routes, srv->nroutes, ctx->method, path, &req->params,
	    &allowed);
	if (route == NULL) {
		if (allowed == 0) {
			http_reply_error(req, 404, "no such resource", NULL);
			return;
		}
		http_methods_text(allowed, methods, sizeof(methods));
		http_set_header(req, "Allow", methods);
		if (ctx->method == EVHTTP_REQ_OPTIONS) {
			http_reply_data(req, 204, NULL, "", 0);
			return;
		}
		snprintf(text, sizeof(text), "%s is not allowed here; allowed: %s",
		    method_name(ctx->method), methods);
		http_reply_error(req, 405, text, NULL);
		return;
	}
	req->route = route;
	if (route->role == ROLE_PUBLIC) {
		route->handler(req);
		return;
	}

	header = request_header(req, "Authorization");
	if ((token = auth_bearer_token(header, &toklen)) == NULL) {
		reply_unauthorized(req, header == NULL ? "this needs a bearer token" :
		    "malformed bearer token");
		return;
	}
	/* From here the lookup's callback owns the request. */
	if (!auth_lookup(srv->daemon->db, token, toklen, on_auth, req))
		http_reply_unavailable(req, "cannot check the token now");
}

/* --- The server ----------------------------------------------------------------- */

struct http_server *
http_server_new(struct ictmond *daemon, const struct route *routes, size_t nroutes)
{
	struct http_server *srv = NULL;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		goto fail;
	srv->daemon = daemon;
	srv->routes = routes;
	srv->nroutes = nroutes;
	TAILQ_INIT(&srv->requests);
	/* Request ids from two daemons on one database must not collide in the logs. */
	evutil_secure_rng_get_bytes(&srv->id_prefix, sizeof(srv->id_prefix));
	if ((srv->http = evhttp_new(daemon->base)) == NULL)
		goto fail;
	if ((srv->drained_ev = evtimer_new(daemon->base, on_drained, srv)) == NULL)
		goto fail;
	if ((srv->limits = ratelimit_new()) == NULL)
		goto fail;
	evhttp_set_gencb(srv->http, on_request, srv);
	/* Every reply names its own type; libevent's default is HTML. */
	evhttp_set_default_content_type(srv->http, NULL);
	/*
	 * Drain an oversized body before answering 413, so that a client that sends all
	 * of it before reading sees the answer rather than a reset connection.
	 */
	evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_allowed_methods(srv->http, ALLOWED_METHODS);

	if (daemon->metrics != NULL) {
		metrics_describe(daemon->metrics, METRIC_REQUESTS, METRIC_COUNTER,
		    "HTTP requests answered, by route pattern, method and status.");
		metrics_describe(daemon->metrics, METRIC_DURATION, METRIC_HISTOGRAM,
		    "Time from routing a request to its reply, by route pattern.");
		metrics_describe(daemon->metrics, METRIC_IN_FLIGHT, METRIC_GAUGE,
		    "HTTP requests routed and not yet answered.");
		metrics_set(daemon->metrics, METRIC_IN_FLIGHT, "", 0);
	}
	return srv;
fail:
	log_error("http", "cannot create the HTTP server");
	http_server_free(srv);
	return NULL;
}

bool
http_server_listen(struct http_server *srv, const char *addr)
{
	char		host[256];
	unsigned short	port;

	if (!config_split_addr(addr, host, sizeof(host), &port)) {
		log_error("http", "cannot listen on %s: not HOST:PORT", addr);
		return false;
	}
	if ((srv->bound = evhttp_bind_socket_with_handle(srv->http, host, port)) == NULL) {
		log_error("http", "cannot listen on %s: %s", addr, strerror(errno));
		return false;
	}
	return true;
}

void
http_server_configure(struct http_server *srv, const struct config *cfg)
{
	struct timeval timeout = { 0, 0 };

	/* New limits apply to connections accepted from now on. */
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)config_int(cfg, CFG_HTTP_MAX_BODY));
	evhttp_set_max_headers_size(srv->http,
	    (ev_ssize_t)config_int(cfg, CFG_HTTP_MAX_HEADERS));
	timeout.tv_sec = (time_t)config_int(cfg, CFG_HTTP_TIMEOUT);
	evhttp_set_timeout_tv(srv->http, &timeout);
	evhttp_set_allowed_methods(srv->http, ALLOWED_METHODS);
}

void
http_server_drain(struct http_server *srv, void (*done)(void *), void *arg)
{
	srv->draining = 1;
	srv->drained = done;
	srv->drained_arg = arg;
	if (srv->bound != NULL) {
		evhttp_del_accept_socket(srv->http, srv->bound);
		srv->bound = NULL;
	}
	drain_check(srv);
}

unsigned
http_server_in_flight(const struct http_server *srv)
{
	return srv->in_flight;
}

/*
 * Call once nothing can reply any more (the database pool is freed first): requests
 * still unanswered are dropped with their connections.
 */
void
http_server_free(struct http_server *srv)
{
	struct http_request *ctx;

	if (srv == NULL)
		return;
	if (srv->http != NULL)
		evhttp_free(srv->http);
	while ((ctx = TAILQ_FIRST(&srv->requests)) != NULL) {
		TAILQ_REMOVE(&srv->requests, ctx, entry);
		route_params_clear(&ctx->pub.params);
		if (ctx->query_state == 1)
			evhttp_clear_headers(&ctx->query);
		free(ctx);
	}
	if (srv->drained_ev != NULL)
		event_free(srv->drained_ev);
	ratelimit_free(srv->limits);
	free(srv);
}

/* Whether the Content-Type's media type (parameters aside) is `type`. */
bool
http_media_type_is(const char *header, const char *type)
{
	size_t len, n = strlen(type);

	if (header == NULL)
		return false;
	header += strspn(header, " \t");
	len = strcspn(header, ";");
	while (len > 0 && (header[len - 1] == ' ' || header[len - 1] == '\t'))
		len--;
	return len == n && strncasecmp(header, type, n) == 0;
}
