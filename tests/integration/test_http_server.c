/*
 * The HTTP server end to end on loopback, without a database: a server thread runs
 * the event loop while the test speaks raw HTTP/1.1 to it. Covers the house headers,
 * HEAD, 400/404/405/414/413, auth refusals, static files and their guards, keep-alive
 * and pipelining, a client that leaves before a slow reply, drain, and the request
 * metrics. Run under ASan it also shows that no request is leaked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/http.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"

#define MAX_BODY	1024
#define REPLY_MAX	(256 * 1024)

static struct ictmond		 d;
static unsigned short		 port;
static pthread_t		 loop_thread;
static int			 stop_pipe[2];
static struct event		*stop_ev;
static char			 web_root[64];
static char			 tmpdir[] = "/tmp/ictmon-http-XXXXXX";

/* Written by the loop thread, read by the test after joining it. */
static int			 drained_calls;
static int			 drained_inside_handler;
static int			 in_handler;
static unsigned			 in_flight_at_stop;

/* --- Test handlers -------------------------------------------------------------- */

static void
fast(struct request *req)
{
	http_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void
slow_reply(evutil_socket_t fd, short events, void *arg)
{
	struct request *req = arg;

	http_reply_json(req, 200, json_pack("{s:s}", "slow", "done"));
}

/* Replies 300 ms later, from a timer, as a handler waiting on the database would. */
static void
slow(struct request *req)
{
	struct timeval tv = { 0, 300000 };

	event_base_once(d.base, -1, EV_TIMEOUT, slow_reply, req, &tv);
}

static void
item(struct request *req)
{
	const char *q = request_query(req, "q");

	http_reply_json(req, 200, json_pack("{s:s, s:s?}", "id", request_param(req, "id"),
	    "q", q));
}

static void
echo(struct request *req)
{
	size_t len;

	request_body(req, &len);
	http_set_header(req, "Location", "/echo/1");
	http_reply_json(req, 201, json_pack("{s:I}", "bytes", (json_int_t)len));
}

static void
on_drained(void *arg)
{
	drained_calls++;
	drained_inside_handler = in_handler;
}

static void
drain(struct request *req)
{
	in_handler = 1;
	http_server_drain(d.http, on_drained, NULL);
	http_reply_json(req, 200, json_pack("{s:s}", "status", "draining"));
	in_handler = 0;
}

static void
never(struct request *req)
{
	http_reply_error(req, 500, "an analyst-only handler ran without a token", NULL);
}

static const struct route test_routes[] = {
	{ EVHTTP_REQ_GET, "/healthz", api_healthz, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/readyz", api_readyz, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/metrics", api_metrics, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/fast", fast, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/slow", slow, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/items/{id}", item, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_POST, "/echo", echo, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_POST, "/drain", drain, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/secret", never, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/*", api_static, ROLE_PUBLIC, ROWS_OWN },
};

/* --- The server under test ------------------------------------------------------ */

static void
on_stop(evutil_socket_t fd, short events, void *arg)
{
	char byte;

	if (read(fd, &byte, 1) != 1)
		fail_msg("cannot read the stop pipe");
	in_flight_at_stop = http_server_in_flight(d.http);
	event_base_loopexit(d.base, NULL);
}

static void *
run_loop(void *arg)
{
	event_base_dispatch(d.base);
	return NULL;
}

static unsigned short
free_port(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void
write_file(const char *name, const char *content)
{
	char	 path[256];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(content, f);
	fclose(f);
}

static int
make_web_root(void)
{
	char target[256], link[256];

	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(web_root, sizeof(web_root), "%s/web", tmpdir);
	mkdir(web_root, 0755);
	snprintf(target, sizeof(target), "%s/web/docs", tmpdir);
	mkdir(target, 0755);
	snprintf(target, sizeof(target), "%s/web/empty", tmpdir);
	mkdir(target, 0755);
	write_file("web/index.html", "<!doctype html><title>ictmon</title>\n");
	write_file("web/app.js", "'use strict';\n");
	write_file("web/style.css", "body{}\n");
	write_file("web/docs/index.html", "docs\n");
	write_file("web/.hidden", "secret\n");
	write_file("outside.txt", "outside the root\n");
	snprintf(target, sizeof(target), "%s/outside.txt", tmpdir);
	snprintf(link, sizeof(link), "%s/web/escape.txt", tmpdir);
	if (symlink(target, link) == -1)
		return -1;
	snprintf(link, sizeof(link), "%s/web/alias.js", tmpdir);
	if (symlink("app.js", link) == -1)
		return -1;
	return 0;
}

static int
remove_web_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
server_start(void **state)
{
	struct config_errors	 errors = { 0 };
	char			 listen[64], root[128], body[64];
	const char		*overrides[2] = { root, body };

	snprintf(root, sizeof(root), "http.web_root=%s", web_root);
	snprintf(body, sizeof(body), "http.max_body=%d", MAX_BODY);
	memset(&d, 0, sizeof(d));
	drained_calls = drained_inside_handler = in_handler = 0;
	d.started = time(NULL);
	if ((d.cfg = config_load_text("", "test", overrides, 2, &errors)) == NULL) {
		for (size_t i = 0; i < errors.count; i++)
			print_message("%s\n", errors.lines[i]);
		config_errors_clear(&errors);
		return -1;
	}
	assert_non_null(d.base = event_base_new());
	assert_non_null(d.metrics = metrics_new());
	assert_non_null(d.http = http_server_new(&d, test_routes,
	    sizeof(test_routes) / sizeof(test_routes[0])));
	http_server_configure(d.http, d.cfg);
	port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	assert_true(http_server_listen(d.http, listen));
	assert_int_equal(pipe(stop_pipe), 0);
	assert_non_null(stop_ev = event_new(d.base, stop_pipe[0], EV_READ, on_stop, NULL));
	event_add(stop_ev, NULL);
	assert_int_equal(pthread_create(&loop_thread, NULL, run_loop, NULL), 0);
	return 0;
}

static void
server_join(void)
{
	if (write(stop_pipe[1], "x", 1) != 1)
		fail_msg("cannot stop the loop");
	pthread_join(loop_thread, NULL);
}

/* After server_join: run the loop again so that server_stop can end it. */
static void
server_resume(void)
{
	event_add(stop_ev, NULL);
	assert_int_equal(pthread_create(&loop_thread, NULL, run_loop, NULL), 0);
}

static int
server_stop(void **state)
{
	server_join();
	http_server_free(d.http);
	event_free(stop_ev);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	metrics_free(d.metrics);
	config_free(d.cfg);
	event_base_free(d.base);
	return 0;
}

/* --- A raw HTTP client ---------------------------------------------------------- */

struct reply {
	int	 status;
	char	 head[8192];	/* status line and headers */
	char	*body;
	size_t	 bodylen;
	char	 raw[REPLY_MAX];
	size_t	 rawlen;
};

static int
connect_server(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	struct timeval		tv = { 5, 0 };
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;		/* the server may have closed: the reply says */
		data += n;
		len -= (size_t)n;
	}
}

/* Reads until the server closes the connection. */
static void
read_all(int fd, struct reply *r)
{
	ssize_t n;

	r->rawlen = 0;
	while (r->rawlen < sizeof(r->raw) - 1 &&
	    (n = recv(fd, r->raw + r->rawlen, sizeof(r->raw) - 1 - r->rawlen, 0)) > 0)
		r->rawlen += (size_t)n;
	r->raw[r->rawlen] = '\0';
}

/* Splits the first response in r->raw into status, head and body. */
static void
parse(struct reply *r)
{
	char *end = strstr(r->raw, "\r\n\r\n");

	r->status = 0;
	assert_non_null(end);
	assert_true((size_t)(end - r->raw) < sizeof(r->head));
	memcpy(r->head, r->raw, (size_t)(end - r->raw) + 2);
	r->head[end - r->raw + 2] = '\0';
	r->body = end + 4;
	r->bodylen = r->rawlen - (size_t)(r->body - r->raw);
	assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d", &r->status), 1);
}

/* One request on its own connection ("Connection: close" is added). */
static struct reply *
request(const char *method, const char *path, const char *headers, const char *body)
{
	static struct reply	r;
	char			head[8192];
	int			fd;

	memset(&r, 0, sizeof(r));
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
	    "%s%s\r\n", method, path, headers ? headers : "",
	    body ? "Content-Type: application/json\r\n" : "");
	assert_true((fd = connect_server()) >= 0);
	if (body != NULL) {
		char length[64];

		snprintf(length, sizeof(length), "Content-Length: %zu\r\n\r\n", strlen(body));
		head[strlen(head) - 2] = '\0';
		strncat(head, length, sizeof(head) - strlen(head) - 1);
	}
	send_all(fd, head, strlen(head));
	if (body != NULL)
		send_all(fd, body, strlen(body));
	read_all(fd, &r);
	close(fd);
	parse(&r);
	return &r;
}

/* The value of header `name` in the head, or NULL. */
static const char *
header(const struct reply *r, const char *name)
{
	static char	 value[1024];
	char		 needle[128];
	const char	*p, *end;

	snprintf(needle, sizeof(needle), "\r\n%s: ", name);
	if ((p = strcasestr(r->head, needle)) == NULL)
		return NULL;
	p += strlen(needle);
	end = strstr(p, "\r\n");
	snprintf(value, sizeof(value), "%.*s", (int)(end - p), p);
	return value;
}

static void
assert_json_error(const struct reply *r, int status, const char *code)
{
	json_t		*root;
	json_error_t	 jerr;

	assert_int_equal(r->status, status);
	assert_string_equal(header(r, "Content-Type"), "application/json; charset=utf-8");
	assert_non_null(root = json_loadb(r->body, r->bodylen, 0, &jerr));
	assert_string_equal(json_string_value(json_object_get(json_object_get(root,
	    "error"), "code")), code);
	assert_true(json_is_array(json_object_get(json_object_get(root, "error"),
	    "details")));
	json_decref(root);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* --- Tests ---------------------------------------------------------------------- */

static void
test_json_reply_has_the_house_headers(void **state)
{
	struct reply	*r = request("GET", "/fast", NULL, NULL);
	const char	*id;

	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type"), "application/json; charset=utf-8");
	assert_string_equal(header(r, "X-Content-Type-Options"), "nosniff");
	assert_string_equal(header(r, "Cache-Control"), "no-store");
	assert_string_equal(header(r, "Referrer-Policy"), "no-referrer");
	assert_null(header(r, "Content-Security-Policy"));
	assert_non_null(id = header(r, "X-Request-Id"));
	assert_int_equal(strlen(id), 16);
	assert_int_equal(strspn(id, "0123456789abcdef"), 16);
	assert_string_equal(header(r, "Content-Length"), "12");
	assert_int_equal(r->bodylen, 12);
	assert_memory_equal(r->body, "{\"ok\":true}\n", 12);
}

static void
test_request_ids_differ(void **state)
{
	char first[17];

	snprintf(first, sizeof(first), "%s", header(request("GET", "/fast", NULL, NULL),
	    "X-Request-Id"));
	assert_string_not_equal(first, header(request("GET", "/fast", NULL, NULL),
	    "X-Request-Id"));
}

static void
test_head_has_length_and_no_body(void **state)
{
	struct reply *r = request("HEAD", "/fast", NULL, NULL);

	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Length"), "12");
	assert_int_equal(r->bodylen, 0);

	r = request("HEAD", "/nowhere.html", NULL, NULL);
	assert_int_equal(r->status, 404);
	assert_int_equal(r->bodylen, 0);
}

static void
test_unknown_path_is_json_404(void **state)
{
	assert_json_error(request("GET", "/no/such/thing", NULL, NULL), 404, "not_found");
}

static void
test_wrong_method_is_405_with_allow(void **state)
{
	struct reply *r = request("DELETE", "/fast", NULL, NULL);

	assert_json_error(r, 405, "method_not_allowed");
	assert_string_equal(header(r, "Allow"), "GET, HEAD");
	r = request("POST", "/index.html", NULL, "{}");
	assert_json_error(r, 405, "method_not_allowed");
	assert_string_equal(header(r, "Allow"), "GET, HEAD");
}

static void
test_options_lists_the_methods(void **state)
{
	struct reply *r = request("OPTIONS", "/echo", NULL, NULL);

	assert_int_equal(r->status, 204);
	assert_string_equal(header(r, "Allow"), "POST");
	assert_int_equal(r->bodylen, 0);
}

static void
test_malformed_paths_are_400(void **state)
{
	assert_json_error(request("GET", "/items/a%zz", NULL, NULL), 400, "bad_request");
	assert_json_error(request("GET", "/items/a%00b", NULL, NULL), 400, "bad_request");
	assert_json_error(request("GET", "/items/a%4", NULL, NULL), 400, "bad_request");
}

static void
test_overlong_path_is_414(void **state)
{
	char path[ROUTE_MAX_PATH + 100];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_json_error(request("GET", path, NULL, NULL), 414, "uri_too_long");
}

static void
test_captures_and_query_are_decoded(void **state)
{
	struct reply *r = request("GET", "/items/a%20b%C3%B1?q=x%2By&other=1", NULL, NULL);

	assert_int_equal(r->status, 200);
	assert_memory_equal(r->body, "{\"id\":\"a b\xc3\xb1\",\"q\":\"x+y\"}\n", r->bodylen);
	r = request("GET", "/items/7", NULL, NULL);
	assert_memory_equal(r->body, "{\"id\":\"7\",\"q\":null}\n", r->bodylen);
}

static void
test_body_and_extra_headers(void **state)
{
	struct reply *r = request("POST", "/echo", NULL, "{\"a\":1}");

	assert_int_equal(r->status, 201);
	assert_string_equal(header(r, "Location"), "/echo/1");
	assert_memory_equal(r->body, "{\"bytes\":7}\n", r->bodylen);
}

static void
test_oversized_body_is_413(void **state)
{
	char body[MAX_BODY * 4];

	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	/* libevent 2.1 answers this one itself, before any route runs */
	assert_int_equal(request("POST", "/echo", NULL, body)->status, 413);
}

static void
test_protected_route_needs_a_bearer_token(void **state)
{
	struct reply *r = request("GET", "/secret", NULL, NULL);

	assert_json_error(r, 401, "unauthorized");
	assert_string_equal(header(r, "WWW-Authenticate"), "Bearer");
	r = request("GET", "/secret", "Authorization: Basic dXNlcjpwYXNz\r\n", NULL);
	assert_json_error(r, 401, "unauthorized");
	assert_string_equal(header(r, "WWW-Authenticate"), "Bearer");
	r = request("GET", "/secret", "Authorization: Bearer not-a-token\r\n", NULL);
	assert_json_error(r, 401, "unauthorized");
}

static void
test_healthz_and_readyz_without_database(void **state)
{
	struct reply	*r = request("GET", "/healthz", NULL, NULL);
	json_t		*root;

	assert_int_equal(r->status, 200);
	assert_non_null(root = json_loadb(r->body, r->bodylen, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(root, "status")), "alive");
	assert_string_equal(json_string_value(json_object_get(root, "version")),
	    ICTMON_VERSION);
	assert_true(json_is_integer(json_object_get(root, "uptime_seconds")));
	json_decref(root);

	r = request("GET", "/readyz", NULL, NULL);
	assert_json_error(r, 503, "unavailable");
	assert_string_equal(header(r, "Retry-After"), "5");
}

static void
test_static_files_are_served_with_their_type(void **state)
{
	struct reply *r = request("GET", "/", NULL, NULL);

	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type"), "text/html; charset=utf-8");
	assert_non_null(strstr(header(r, "Content-Security-Policy"), "default-src 'self'"));
	assert_null(header(r, "Cache-Control"));
	assert_string_equal(header(r, "X-Content-Type-Options"), "nosniff");
	assert_memory_equal(r->body, "<!doctype html><title>ictmon</title>\n", r->bodylen);

	r = request("GET", "/app.js", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type"), "text/javascript; charset=utf-8");
	r = request("GET", "/style.css", NULL, NULL);
	assert_string_equal(header(r, "Content-Type"), "text/css; charset=utf-8");
	r = request("GET", "/docs/", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_memory_equal(r->body, "docs\n", r->bodylen);
	/* a link that stays inside the root is fine */
	assert_int_equal(request("GET", "/alias.js", NULL, NULL)->status, 200);

	r = request("HEAD", "/index.html", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Length"), "37");
	assert_int_equal(r->bodylen, 0);
}

static void
test_static_files_stay_inside_the_root(void **state)
{
	static const char *const refused[] = {
		"/../outside.txt",
		"/%2e%2e/outside.txt",
		"/docs/..%2F..%2Foutside.txt",
		"/..%5Coutside.txt",
		"/docs/../index.html",
		"/./index.html",
		"/.hidden",
		"/%2Ehidden",
		"/escape.txt",		/* a link out of the root */
		"/empty",		/* a directory */
		"/empty/",		/* without an index */
		"/docs//index.html",
		"/missing.png",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct reply *r = request("GET", refused[i], NULL, NULL);

		if (r->status != 404)
			print_message("%s answered %d\n", refused[i], r->status);
		assert_json_error(r, 404, "not_found");
	}
}

static void
test_keep_alive_and_pipelining_behind_a_slow_reply(void **state)
{
	static const char two[] =
	    "GET /slow HTTP/1.1\r\nHost: test\r\n\r\n"
	    "GET /fast HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
	struct reply	 r;
	char		*second;
	int		 fd;

	assert_true((fd = connect_server()) >= 0);
	send_all(fd, two, sizeof(two) - 1);
	read_all(fd, &r);
	close(fd);
	parse(&r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.raw, "{\"slow\":\"done\"}\n"));
	assert_non_null(second = strstr(r.raw, "{\"slow\":\"done\"}\nHTTP/1.1 200"));
	assert_non_null(strstr(second, "{\"ok\":true}\n"));
}

static void
test_client_gone_before_a_slow_reply(void **state)
{
	static const char slow_request[] = "GET /slow HTTP/1.1\r\nHost: test\r\n\r\n";
	int fd;

	for (int i = 0; i < 3; i++) {
		assert_true((fd = connect_server()) >= 0);
		send_all(fd, slow_request, sizeof(slow_request) - 1);
		sleep_ms(50);		/* the request is routed and waiting */
		close(fd);
	}
	sleep_ms(500);			/* the replies went to nobody */
	assert_int_equal(request("GET", "/fast", NULL, NULL)->status, 200);
	server_join();
	assert_int_equal(in_flight_at_stop, 0);
	server_resume();
}

static void
test_drain_finishes_requests_in_flight_then_calls_done(void **state)
{
	static const char slow_request[] = "GET /slow HTTP/1.1\r\nHost: test\r\n"
	    "Connection: keep-alive\r\n\r\n";
	struct reply	 slow_r;
	struct reply	*r;
	int		 fd;

	assert_true((fd = connect_server()) >= 0);
	send_all(fd, slow_request, sizeof(slow_request) - 1);
	sleep_ms(50);

	r = request("POST", "/drain", NULL, "{}");
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Connection"), "close");
	/* no new connections */
	assert_int_equal(connect_server(), -1);

	/* the slow request still gets its answer, and its connection is closed after */
	read_all(fd, &slow_r);
	close(fd);
	parse(&slow_r);
	assert_int_equal(slow_r.status, 200);
	assert_string_equal(header(&slow_r, "Connection"), "close");
	sleep_ms(50);
	server_join();
	assert_int_equal(drained_calls, 1);
	assert_int_equal(drained_inside_handler, 0);
	assert_int_equal(in_flight_at_stop, 0);
	server_resume();
}

static void
test_keep_alive_request_while_draining_gets_503(void **state)
{
	static const char first[] = "GET /fast HTTP/1.1\r\nHost: test\r\n\r\n";
	static const char second[] = "GET /fast HTTP/1.1\r\nHost: test\r\n\r\n";
	struct reply	 r;
	char		 buf[4096];
	ssize_t		 n;
	int		 fd;

	assert_true((fd = connect_server()) >= 0);
	send_all(fd, first, sizeof(first) - 1);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(strncmp(buf, "HTTP/1.1 200", 12), 0);

	assert_int_equal(request("POST", "/drain", NULL, "{}")->status, 200);
	send_all(fd, second, sizeof(second) - 1);
	read_all(fd, &r);
	close(fd);
	parse(&r);
	assert_json_error(&r, 503, "unavailable");
	assert_string_equal(header(&r, "Connection"), "close");
}

static void
test_metrics_count_requests_by_route_and_status(void **state)
{
	struct reply	*r;
	char		*body;

	request("GET", "/fast", NULL, NULL);
	request("GET", "/fast", NULL, NULL);
	request("GET", "/no/such/thing", NULL, NULL);
	request("DELETE", "/fast", NULL, NULL);
	r = request("GET", "/metrics", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type"),
	    "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(body = strndup(r->body, r->bodylen));
	assert_non_null(strstr(body, "# TYPE ictmon_http_requests_total counter\n"));
	assert_non_null(strstr(body,
	    "\nictmon_http_requests_total{route=\"/fast\",method=\"GET\",status=\"200\"} 2\n"));
	/* the wildcard took it and answered 404 */
	assert_non_null(strstr(body,
	    "\nictmon_http_requests_total{route=\"/*\",method=\"GET\",status=\"404\"} 1\n"));
	assert_non_null(strstr(body, "\nictmon_http_requests_total{route=\"unmatched\","
	    "method=\"DELETE\",status=\"405\"} 1\n"));
	assert_non_null(strstr(body,
	    "\nictmon_http_request_duration_seconds_count{route=\"/fast\"} 2\n"));
	assert_non_null(strstr(body, "\nictmon_build_info{version=\"" ICTMON_VERSION
	    "\"} 1\n"));
	assert_non_null(strstr(body, "\nictmon_db_pool_connections{state=\"connected\"} 0\n"));
	assert_non_null(strstr(body, "\nictmon_db_pool_waiting 0\n"));
	assert_non_null(strstr(body, "\nictmon_uptime_seconds "));
	/* the scrape itself is in flight while it renders */
	assert_non_null(strstr(body, "\nictmon_http_requests_in_flight 1\n"));
	/* one HELP per family however often it was scraped */
	free(body);
	r = request("GET", "/metrics", NULL, NULL);
	assert_non_null(body = strndup(r->body, r->bodylen));
	assert_non_null(strstr(body, "# HELP ictmon_db_pool_size"));
	assert_null(strstr(strstr(body, "# HELP ictmon_db_pool_size") + 1,
	    "# HELP ictmon_db_pool_size"));
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name)	cmocka_unit_test_setup_teardown(name, server_start, server_stop)
		T(test_json_reply_has_the_house_headers),
		T(test_request_ids_differ),
		T(test_head_has_length_and_no_body),
		T(test_unknown_path_is_json_404),
		T(test_wrong_method_is_405_with_allow),
		T(test_options_lists_the_methods),
		T(test_malformed_paths_are_400),
		T(test_overlong_path_is_414),
		T(test_captures_and_query_are_decoded),
		T(test_body_and_extra_headers),
		T(test_oversized_body_is_413),
		T(test_protected_route_needs_a_bearer_token),
		T(test_healthz_and_readyz_without_database),
		T(test_static_files_are_served_with_their_type),
		T(test_static_files_stay_inside_the_root),
		T(test_keep_alive_and_pipelining_behind_a_slow_reply),
		T(test_client_gone_before_a_slow_reply),
		T(test_drain_finishes_requests_in_flight_then_calls_done),
		T(test_keep_alive_request_while_draining_gets_503),
		T(test_metrics_count_requests_by_route_and_status),
#undef T
	};
	int failed;

	if (make_web_root() == -1) {
		fprintf(stderr, "cannot make a web root under /tmp\n");
		return 1;
	}
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	remove_web_root();
	return failed;
}
