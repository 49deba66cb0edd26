/*
 * The fetcher against a real HTTP server on loopback (feedserver.py, started here):
 * whole and streamed bodies, gzip, conditional GET, 429/500, timeouts, truncation,
 * size limits, NUL refusal, redirects, paging from the done callback, many fetches
 * at once, pausing and resuming a streamed body, and every way of ending a fetch
 * early. The event loop runs until the expected callbacks have come; nothing waits on
 * a sleep, and no assertion is about how long something took.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "fetch.h"

#define BIG_SIZE	(1024 * 1024 + 17)	/* not a multiple of any buffer */
#define GUARD_SECONDS	20

static pid_t		 server_pid = -1;
static int		 server_lifeline = -1;	/* its stdin: closing it ends it */
static int		 server_stdout = -1;
static unsigned		 port;
static char		 root[] = "/tmp/ictmon-fetch-XXXXXX";
static char		*big;			/* content of big.json */
static const char	 small[] = "{\"releases\":[{\"ocid\":\"ocds-1\"}]}\n";

struct env {
	struct event_base	*base;
	struct fetcher		*fetcher;
	struct event		*guard;
	int			 pending;	/* done callbacks still expected */
	int			 guard_fired;
};

/* What one fetch's callbacks saw, copied out of the result. */
struct outcome {
	struct env	*env;
	struct fetch	*fetch;
	int		 done;
	int		 status;
	long		 retry_after;
	char		*etag;
	char		*last_modified;
	char		*url;
	char		*body;
	size_t		 len;
	size_t		 received;
	char		*error;
	char		*stream;	/* streamed chunks, concatenated */
	size_t		 stream_len;
	unsigned	 chunks;
	unsigned	 cancel_at;	/* cancel in the body callback of this chunk */
	unsigned	 stop_at;	/* return false from this chunk's callback */

	/* Backpressure: pause after each of the first `pause_chunks` chunks. */
	unsigned	 pause_chunks;
	long		 resume_ms;	/* then resume that much later ... */
	bool		 cancel_paused;	/* ... or cancel instead */
	bool		 cancel_resumed; /* ... or resume and cancel at once */
	bool		 paused;
	bool		 in_resume;	/* inside fetch_resume */
	unsigned	 resumes;
	bool		 cancelled;
	bool		 pause_in_done;	/* try both from the done callback */
	char		*body_etag;	/* fetch_etag in the first body callback */
};

/* --- The server ------------------------------------------------------------------ */

static void
write_file(const char *name, const char *data, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(data, 1, len, fp) != len ||
	    fclose(fp) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* JSON-ish text that compresses well but is never the same twice in a row. */
static char *
make_big(size_t len)
{
	char *p;
	uint32_t x = 2463534242u;
	size_t i;

	if ((p = malloc(len + 1)) == NULL)
		exit(1);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = "{\"ocid\":ocds-0123456789,}\n"[x % 26];
	}
	p[len] = '\0';
	return p;
}

static void
feedserver_path(char *out, size_t size)
{
	const char *src = getenv("ICTMON_SOURCE_DIR");
	char here[PATH_MAX];

	if (src != NULL) {
		snprintf(out, size, "%s/tests/integration/feedserver.py", src);
		return;
	}
	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(out, size, "%s/feedserver.py", dirname(here));
}

static int
server_start(void **state)
{
	char script[PATH_MAX], line[32];
	int to_child[2], from_child[2];
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;

	if (mkdtemp(root) == NULL)
		return -1;
	big = make_big(BIG_SIZE);
	write_file("small.json", small, strlen(small));
	write_file("big.json", big, BIG_SIZE);
	feedserver_path(script, sizeof(script));

	if (pipe2(to_child, O_CLOEXEC) == -1 || pipe2(from_child, O_CLOEXEC) == -1)
		return -1;
	if ((server_pid = fork()) == -1)
		return -1;
	if (server_pid == 0) {
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		execl("/usr/bin/python3", "python3", "-B", script, "--root", root,
		    "--until-eof", (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	server_lifeline = to_child[1];
	server_stdout = from_child[0];

	/* The server prints its port once it listens. */
	pfd.fd = server_stdout;
	pfd.events = POLLIN;
	while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL) {
		if (poll(&pfd, 1, 15000) != 1)
			return -1;
		if ((n = read(server_stdout, line + got, sizeof(line) - 1 - got)) <= 0)
			return -1;
		got += (size_t)n;
	}
	line[got] = '\0';
	port = (unsigned)strtoul(line, NULL, 10);
	return port > 0 ? 0 : -1;
}

static int
server_stop(void **state)
{
	char path[PATH_MAX];

	if (server_lifeline != -1)
		close(server_lifeline);
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	if (server_stdout != -1)
		close(server_stdout);
	snprintf(path, sizeof(path), "%s/small.json", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/big.json", root);
	unlink(path);
	rmdir(root);
	free(big);
	return 0;
}

/* --- Loop and callbacks -------------------------------------------------------------- */

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct env *env = arg;

	env->guard_fired = 1;
}

static int
env_setup(void **state)
{
	struct env *env;
	struct timeval tv = { GUARD_SECONDS, 0 };

	if ((env = calloc(1, sizeof(*env))) == NULL ||
	    (env->base = event_base_new()) == NULL ||
	    (env->fetcher = fetcher_new(env->base)) == NULL ||
	    (env->guard = evtimer_new(env->base, on_guard, env)) == NULL ||
	    evtimer_add(env->guard, &tv) == -1)
		return -1;
	*state = env;
	return 0;
}

static int
env_teardown(void **state)
{
	struct env *env = *state;

	fetcher_free(env->fetcher);
	event_free(env->guard);
	event_base_free(env->base);
	free(env);
	return 0;
}

/* Runs the loop until every expected done callback has come. */
static void
run(struct env *env)
{
	while (env->pending > 0 && !env->guard_fired)
		event_base_loop(env->base, EVLOOP_ONCE);
	assert_false(env->guard_fired);
}

static void
on_flag(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Runs the loop for `ms` milliseconds, whatever happens meanwhile. */
static void
run_for(struct env *env, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int expired = 0;

	event_base_once(env->base, -1, EV_TIMEOUT, on_flag, &expired, &tv);
	while (!expired)
		event_base_loop(env->base, EVLOOP_ONCE);
}

static char *
copy(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct fetch_request
request(const char *path)
{
	static char url[512];
	struct fetch_request req;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.timeout = 10;
	req.connect_timeout = 5;
	return req;
}

static void	on_done(const struct fetch_result *, void *);
static void	on_resume_timer(evutil_socket_t, short, void *);

static bool
on_body(const char *data, size_t len, void *arg)
{
	struct outcome *o = arg;
	struct timeval tv;
	char *grown;

	assert_non_null(data);
	assert_true(len > 0);
	/* Nothing while paused, and never from inside fetch_resume. */
	assert_false(o->paused);
	assert_false(o->in_resume);
	assert_false(o->cancelled);
	grown = realloc(o->stream, o->stream_len + len + 1);
	assert_non_null(grown);
	o->stream = grown;
	memcpy(o->stream + o->stream_len, data, len);
	o->stream_len += len;
	o->stream[o->stream_len] = '\0';
	o->chunks++;
	if (o->chunks == 1)
		o->body_etag = copy(fetch_etag(o->fetch));
	if (o->chunks == o->cancel_at) {
		struct fetch_request req = request("/files/small.json");

		/* curl is running: no new transfer from here. */
		assert_null(fetch_start(o->env->fetcher, &req, NULL, on_done, o));
		fetch_cancel(o->fetch);
		o->cancelled = true;
		return true;
	}
	if (o->chunks == o->stop_at)
		return false;
	if (o->chunks <= o->pause_chunks) {
		fetch_pause(o->fetch);
		o->paused = true;
		if (o->resume_ms > 0) {
			tv.tv_sec = o->resume_ms / 1000;
			tv.tv_usec = (o->resume_ms % 1000) * 1000;
			assert_int_equal(event_base_once(o->env->base, -1, EV_TIMEOUT,
			    on_resume_timer, o, &tv), 0);
		}
	}
	return true;
}

static void
on_resume_timer(evutil_socket_t fd, short what, void *arg)
{
	struct outcome *o = arg;

	assert_true(o->paused);
	if (o->cancel_paused) {
		fetch_cancel(o->fetch);
		o->cancelled = true;
		o->env->pending--;
		return;
	}
	o->paused = false;
	o->resumes++;
	o->in_resume = true;
	fetch_resume(o->fetch);
	o->in_resume = false;
	if (o->cancel_resumed) {
		/* The held bytes are on their way, from the loop: they must not come. */
		fetch_cancel(o->fetch);
		o->cancelled = true;
		o->env->pending--;
	}
}

static void
on_done(const struct fetch_result *r, void *arg)
{
	struct outcome *o = arg;

	if (o->pause_in_done) {
		/* The fetch is done: both do nothing, and nothing comes later. */
		fetch_pause(o->fetch);
		fetch_resume(o->fetch);
	}
	o->done++;
	o->status = r->http_status;
	o->retry_after = r->retry_after;
	o->etag = copy(r->etag);
	o->last_modified = copy(r->last_modified);
	o->url = copy(r->url);
	o->error = copy(r->error);
	o->len = r->len;
	o->received = r->received;
	if (r->body != NULL) {
		assert_int_equal(r->body[r->len], '\0');
		o->body = malloc(r->len + 1);
		assert_non_null(o->body);
		memcpy(o->body, r->body, r->len + 1);
	}
	o->env->pending--;
}

static void
outcome_clear(struct outcome *o)
{
	free(o->etag);
	free(o->last_modified);
	free(o->url);
	free(o->body);
	free(o->error);
	free(o->stream);
	free(o->body_etag);
	memset(o, 0, sizeof(*o));
}

/* Starts req, streamed or buffered, expecting one done callback. */
static struct fetch *
start(struct env *env, struct outcome *o, const struct fetch_request *req, bool streamed)
{
	o->env = env;
	o->fetch = fetch_start(env->fetcher, req, streamed ? on_body : NULL, on_done, o);
	assert_non_null(o->fetch);
	assert_int_equal(o->done, 0);	/* never from inside fetch_start */
	env->pending++;
	return o->fetch;
}

/* Starts req whose done callback must never come: the test ends it first. */
static struct fetch *
start_never_done(struct env *env, struct outcome *o, const struct fetch_request *req)
{
	start(env, o, req, true);
	env->pending--;
	return o->fetch;
}

/* Fetches req and runs the loop until its one done callback. */
static void
fetch_one(struct env *env, struct outcome *o, const struct fetch_request *req,
    bool streamed)
{
	start(env, o, req, streamed);
	run(env);
	assert_int_equal(o->done, 1);
}

static void
get(struct env *env, struct outcome *o, const char *path, bool streamed)
{
	struct fetch_request req = request(path);

	fetch_one(env, o, &req, streamed);
}

/* A conditional GET of path with these validators (NULL: not sent). */
static void
get_if(struct env *env, struct outcome *o, const char *path, const char *etag,
    const char *last_modified, bool streamed)
{
	struct fetch_request req = request(path);

	req.etag = etag;
	req.last_modified = last_modified;
	fetch_one(env, o, &req, streamed);
}

/* No error, and all of big.json, once and in order, streamed or in the body. */
static void
assert_big(const struct outcome *o, bool streamed)
{
	assert_null(o->error);
	if (streamed) {
		assert_int_equal(o->stream_len, BIG_SIZE);
		assert_memory_equal(o->stream, big, BIG_SIZE);
	} else {
		assert_int_equal(o->len, BIG_SIZE);
		assert_memory_equal(o->body, big, BIG_SIZE);
	}
}

/* --- Bodies ------------------------------------------------------------------------------ */

static void
test_whole_body_buffered(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };

	get(env, &o, "/files/small.json", false);
	assert_null(o.error);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.len, strlen(small));
	assert_string_equal(o.body, small);
	assert_int_equal(o.received, strlen(small));
	assert_non_null(o.etag);
	assert_non_null(o.last_modified);
	assert_int_equal(o.retry_after, -1);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	outcome_clear(&o);

	get(env, &o, "/files/big.json", false);
	assert_big(&o, false);
	outcome_clear(&o);
}

static void
test_streamed_body_in_chunks(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };

	/* As stored: the server compresses unless told not to. */
	get(env, &o, "/files/big.json?gzip=0", true);
	assert_big(&o, true);
	assert_int_equal(o.status, 200);
	assert_null(o.body);			/* the receiver had it all */
	assert_true(o.chunks > 1);
	assert_int_equal(o.received, BIG_SIZE);
	/* The validators are known before the first byte of the body. */
	assert_non_null(o.body_etag);
	assert_string_equal(o.body_etag, o.etag);
	outcome_clear(&o);

	/* Chunked transfer encoding, no Content-Length. */
	get(env, &o, "/files/big.json?gzip=0&chunked=1", true);
	assert_big(&o, true);
	outcome_clear(&o);
}

static void
test_gzip_decoded(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };

	/* The server compresses only for a client that says it accepts gzip, as we do. */
	get(env, &o, "/echo", false);
	assert_null(o.error);
	assert_non_null(strstr(o.body, "\"Accept-Encoding\": \""));
	assert_non_null(strstr(o.body, "gzip"));
	outcome_clear(&o);

	get(env, &o, "/files/big.json?gzip=1", true);
	assert_big(&o, true);
	outcome_clear(&o);

	get(env, &o, "/files/big.json?gzip=1&chunked=1", false);
	assert_big(&o, false);
	outcome_clear(&o);
}

/* --- Conditional GET ------------------------------------------------------------------ */

static void
test_not_modified_with_etag_sent(void **state)
{
	struct env *env = *state;
	struct outcome first = { 0 }, o = { 0 };

	get(env, &first, "/files/big.json", false);
	assert_null(first.error);
	assert_non_null(first.etag);

	get_if(env, &o, "/files/big.json", first.etag, NULL, true);
	assert_null(o.error);
	assert_int_equal(o.status, 304);
	assert_int_equal(o.chunks, 0);
	assert_int_equal(o.received, 0);
	assert_null(o.body);
	assert_string_equal(o.etag, first.etag);
	outcome_clear(&o);

	get_if(env, &o, "/files/big.json", NULL, first.last_modified, false);
	assert_null(o.error);
	assert_int_equal(o.status, 304);
	outcome_clear(&o);

	/* A validator the server no longer has: the whole body again. */
	get_if(env, &o, "/files/big.json", "\"stale\"", NULL, false);
	assert_big(&o, false);
	assert_int_equal(o.status, 200);
	outcome_clear(&o);
	outcome_clear(&first);
}

static void
test_changing_etag_is_reported(void **state)
{
	struct env *env = *state;
	struct outcome a = { 0 }, b = { 0 };

	get(env, &a, "/changing?key=fetch", false);
	assert_null(a.error);
	assert_non_null(a.etag);
	get_if(env, &b, "/changing?key=fetch", a.etag, NULL, false);
	assert_null(b.error);
	assert_int_equal(b.status, 200);
	assert_non_null(b.etag);
	assert_string_not_equal(a.etag, b.etag);
	outcome_clear(&a);
	outcome_clear(&b);
}

/* --- Server errors ------------------------------------------------------------------- */

static void
test_429_retry_after_parsed(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	char path[128], date[64];
	time_t later = time(NULL) + 120;
	struct tm tm;

	get(env, &o, "/status/429?retry_after=5", true);
	assert_int_equal(o.status, 429);
	assert_int_equal(o.retry_after, 5);
	assert_string_equal(o.error, "HTTP 429 (retry after 5 s)");
	assert_int_equal(o.chunks, 0);		/* an error body is not the feed */
	assert_non_null(o.body);		/* but its start is kept for the log */
	assert_non_null(strstr(o.body, "on purpose"));
	outcome_clear(&o);

	/* The HTTP-date form. */
	gmtime_r(&later, &tm);
	strftime(date, sizeof(date), "%a,%%20%d%%20%b%%20%Y%%20%H:%M:%S%%20GMT", &tm);
	snprintf(path, sizeof(path), "/status/503?retry_after=%s", date);
	get(env, &o, path, false);
	assert_int_equal(o.status, 503);
	assert_true(o.retry_after >= 110 && o.retry_after <= 120);
	assert_non_null(strstr(o.error, "HTTP 503 (retry after "));
	outcome_clear(&o);
}

static void
test_500_is_an_error(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };

	get(env, &o, "/status/500", false);
	assert_int_equal(o.status, 500);
	assert_string_equal(o.error, "HTTP 500");
	assert_int_equal(o.retry_after, -1);
	assert_true(o.len <= FETCH_ERROR_BODY_MAX);
	outcome_clear(&o);

	get(env, &o, "/status/404", false);
	assert_string_equal(o.error, "HTTP 404");
	outcome_clear(&o);
}

static void
test_slow_server_times_out(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct fetch_request req = request("/slow?size=100&interval=200");

	/* The body would take 20 s: it is the whole-transfer limit that ends it. */
	req.timeout = 1;
	fetch_one(env, &o, &req, true);
	assert_string_equal(o.error, "timed out after 1 s");
	assert_int_equal(o.status, 200);
	assert_true(o.stream_len < 100);
	assert_int_equal(o.received, o.stream_len);
	outcome_clear(&o);
}

static void
test_low_speed_limit(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct fetch_request req = request("/slow?size=100&interval=300");

	/* Four bytes a second is under 1000 bytes/s for a whole second. */
	req.low_speed_bytes = 1000;
	req.low_speed_time = 1;
	fetch_one(env, &o, &req, false);
	assert_string_equal(o.error, "too slow: under 1000 bytes/s for 1 s");
	outcome_clear(&o);
}

static void
test_truncated_body_is_an_error(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };

	get(env, &o, "/truncated?length=1000&send=100", true);
	assert_string_equal(o.error,
	    "truncated: connection closed after 100 of 1000 bytes");
	assert_int_equal(o.stream_len, 100);
	outcome_clear(&o);
}

/* --- Limits on the body ------------------------------------------------------------------ */

static void
test_max_size_aborts_transfer(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct fetch_request req;

	req = request("/files/big.json");
	req.max_size = 100000;
	fetch_one(env, &o, &req, false);
	assert_string_equal(o.error, "body over max_size (100000 bytes)");
	assert_true(o.len <= 100000);
	outcome_clear(&o);

	/* Streamed and chunked: nothing announced the size beforehand. */
	req = request("/files/big.json?chunked=1");
	req.max_size = 100000;
	fetch_one(env, &o, &req, true);
	assert_string_equal(o.error, "body over max_size (100000 bytes)");
	assert_true(o.stream_len <= 100000);
	assert_memory_equal(o.stream, big, o.stream_len);
	outcome_clear(&o);

	/*
	 * Aborted, not drained: the server would drip for 20 s, the guard would fire
	 * first, and what arrived stays far below the announced size.
	 */
	req = request("/slow?size=2000&interval=10");
	req.max_size = 20;
	req.timeout = 30;
	fetch_one(env, &o, &req, true);
	assert_string_equal(o.error, "body over max_size (20 bytes)");
	assert_int_equal(o.status, 200);
	assert_true(o.stream_len <= 20);
	assert_int_equal(o.received, o.stream_len);
	assert_true(o.received < 2000 / 10);
	outcome_clear(&o);
}

static void
test_nul_byte_refused(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct fetch_request req = request("/nul?size=100&offset=42");

	req.refuse_nul = true;
	fetch_one(env, &o, &req, true);
	assert_string_equal(o.error, "NUL byte in body at offset 42");
	assert_int_equal(o.stream_len, 0);
	outcome_clear(&o);

	/* Unless asked, a NUL is just a byte. */
	get(env, &o, "/nul?size=100&offset=42", false);
	assert_null(o.error);
	assert_int_equal(o.len, 100);
	assert_int_equal(o.body[42], '\0');
	outcome_clear(&o);
}

/* --- Redirects, headers, refusals ------------------------------------------------------- */

static void
test_redirects_followed_up_to_five(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	char path[128];

	/* n counts down to 0, which redirects once more: five in all. */
	get(env, &o, "/redirect?n=4&to=/files/small.json", false);
	assert_null(o.error);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.body, small);
	assert_non_null(strstr(o.url, "/files/small.json"));
	assert_non_null(o.etag);
	outcome_clear(&o);

	get(env, &o, "/redirect?n=5&to=/files/small.json", false);
	assert_string_equal(o.error, "more than 5 redirects");
	outcome_clear(&o);

	snprintf(path, sizeof(path), "/redirect?n=1&to=ftp://127.0.0.1:%u/x", port);
	get(env, &o, path, false);
	assert_non_null(o.error);
	assert_non_null(strstr(o.error, "refused: only http and https"));
	outcome_clear(&o);
}

static void
test_extra_header_and_user_agent_sent(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct fetch_request req = request("/echo");

	/* As read from a secret file, newline included. */
	req.header = "X-Api-Key: s3cret-token\n";
	fetch_one(env, &o, &req, false);
	assert_null(o.error);
	assert_non_null(strstr(o.body, "\"X-Api-Key\": \"s3cret-token\""));
	assert_non_null(strstr(o.body, "\"User-Agent\": \"ictmon/"));
	outcome_clear(&o);

	req.header = "no colon here";
	assert_null(fetch_start(env->fetcher, &req, NULL, on_done, &o));
	req.header = "X-A: 1\r\nX-Injected: 2";
	assert_null(fetch_start(env->fetcher, &req, NULL, on_done, &o));
	req.header = NULL;
	req.url = NULL;
	assert_null(fetch_start(env->fetcher, &req, NULL, on_done, &o));
	assert_int_equal(o.done, 0);
	assert_int_equal(fetcher_active(env->fetcher), 0);
}

static void
test_refusals_come_later_not_inside_start(void **state)
{
	struct env *env = *state;
	struct outcome refused = { 0 }, ftp = { 0 };
	struct fetch_request req;

	/* Port 1 on loopback: nobody listens. */
	req = request("/");
	req.url = "http://127.0.0.1:1/";
	start(env, &refused, &req, false);
	req.url = "ftp://127.0.0.1/feed.json";
	start(env, &ftp, &req, false);
	run(env);
	assert_int_equal(refused.done, 1);
	assert_non_null(refused.error);
	assert_int_equal(refused.status, 0);
	assert_int_equal(ftp.done, 1);
	assert_non_null(strstr(ftp.error, "refused: only http and https"));
	outcome_clear(&refused);
	outcome_clear(&ftp);
}

/* Follows links.next from each done callback, as a paged collector does. */
struct pager {
	struct env	*env;
	struct outcome	 page;
	unsigned	 pages;
	size_t		 releases;
};

static void
on_page_done(const struct fetch_result *r, void *arg)
{
	struct pager *p = arg;
	struct fetch_request req;
	json_t *doc, *next;

	assert_null(r->error);
	assert_non_null(doc = json_loadb(r->body, r->len, 0, NULL));
	p->pages++;
	p->releases += json_array_size(json_object_get(doc, "releases"));
	next = json_object_get(json_object_get(doc, "links"), "next");
	if (json_is_string(next)) {
		req = request("/");
		req.url = json_string_value(next);
		assert_non_null(fetch_start(p->env->fetcher, &req, NULL, on_page_done, p));
	} else
		p->env->pending--;
	json_decref(doc);
}

static void
test_next_page_started_from_done(void **state)
{
	struct env *env = *state;
	struct pager p = { .env = env };
	struct fetch_request req = request("/pages?total=25&per_page=10");

	assert_non_null(fetch_start(env->fetcher, &req, NULL, on_page_done, &p));
	env->pending++;
	run(env);
	assert_int_equal(p.pages, 3);
	assert_int_equal(p.releases, 25);
	assert_int_equal(fetcher_active(env->fetcher), 0);
}

/* --- Many at once, and ending early ------------------------------------------------------- */

static void
test_ten_concurrent_fetches_finish(void **state)
{
	struct env *env = *state;
	struct outcome o[10];
	struct fetch_request req;
	int i, first_done;

	memset(o, 0, sizeof(o));
	/* Nine slow bodies, a byte every 100 ms, and a big one. */
	for (i = 0; i < 10; i++) {
		req = request(i == 9 ? "/files/big.json?gzip=1" :
		    "/slow?size=5&interval=100");
		start(env, &o[i], &req, i % 2 == 0);
	}
	assert_int_equal(fetcher_active(env->fetcher), 10);

	/*
	 * Until the first slow body is complete. Had the fetches run one after another,
	 * the other slow ones would not have a byte yet; run together, each streamed
	 * one has had its first byte long before.
	 */
	for (first_done = -1; first_done == -1 && !env->guard_fired; ) {
		event_base_loop(env->base, EVLOOP_ONCE);
		for (i = 0; i < 9 && first_done == -1; i++)
			if (o[i].done)
				first_done = i;
	}
	assert_false(env->guard_fired);
	for (i = 0; i < 9; i += 2)
		if (i != first_done)
			assert_true(o[i].chunks > 0);

	run(env);
	for (i = 0; i < 10; i++) {
		assert_int_equal(o[i].done, 1);
		assert_null(o[i].error);
		assert_int_equal(o[i].received, i == 9 ? BIG_SIZE : 5);
		outcome_clear(&o[i]);
	}
	assert_int_equal(fetcher_active(env->fetcher), 0);
}

static void
test_cancel_means_no_callback(void **state)
{
	struct env *env = *state;
	struct outcome early = { 0 }, midway = { 0 }, other = { 0 };
	struct fetch_request req;

	/* Cancelled before the loop ever ran it. */
	req = request("/files/big.json");
	start_never_done(env, &early, &req);
	fetch_cancel(early.fetch);

	/* Cancelled while the server drips. */
	req = request("/slow?size=50&interval=100");
	start_never_done(env, &midway, &req);
	req = request("/files/small.json");
	start(env, &other, &req, false);
	while ((other.done == 0 || midway.chunks == 0) && !env->guard_fired)
		event_base_loop(env->base, EVLOOP_ONCE);
	assert_int_equal(other.done, 1);
	assert_true(midway.chunks > 0);
	fetch_cancel(midway.fetch);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	run_for(env, 300);
	assert_int_equal(early.done, 0);
	assert_int_equal(early.chunks, 0);
	assert_int_equal(midway.done, 0);
	outcome_clear(&early);
	outcome_clear(&midway);
	outcome_clear(&other);
}

static void
test_cancel_from_own_body_callback(void **state)
{
	struct env *env = *state;
	struct outcome self = { .cancel_at = 1 }, other = { 0 };
	struct fetch_request req;

	req = request("/files/big.json");
	start_never_done(env, &self, &req);
	req = request("/slow?size=3&interval=100");
	start(env, &other, &req, false);
	run(env);
	assert_int_equal(other.done, 1);
	assert_int_equal(self.chunks, 1);	/* nothing after the cancel */
	assert_int_equal(self.done, 0);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	outcome_clear(&self);
	outcome_clear(&other);
}

static void
on_done_cancel_other(const struct fetch_result *r, void *arg)
{
	struct outcome *o = arg;

	fetch_cancel(o->fetch);		/* o is the other fetch */
	o->env->pending--;
}

static void
test_cancel_other_from_done(void **state)
{
	struct env *env = *state;
	struct outcome slow = { 0 };
	struct fetch_request req;

	req = request("/slow?size=50&interval=100");
	start(env, &slow, &req, false);
	req = request("/files/small.json");
	assert_non_null(fetch_start(env->fetcher, &req, NULL, on_done_cancel_other,
	    &slow));
	run(env);
	assert_int_equal(slow.done, 0);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	outcome_clear(&slow);
}

static void
test_receiver_stops_transfer(void **state)
{
	struct env *env = *state;
	struct outcome o = { .stop_at = 1 };
	struct fetch_request req = request("/files/big.json");

	fetch_one(env, &o, &req, true);
	assert_string_equal(o.error, "stopped by the receiver");
	assert_int_equal(o.chunks, 1);
	outcome_clear(&o);
}

static void
test_fetcher_free_ends_transfers_with_error(void **state)
{
	struct env *env = *state;
	struct outcome a = { 0 }, b = { 0 };
	struct fetch_request req = request("/slow?size=50&interval=100");

	start(env, &a, &req, true);
	start(env, &b, &req, false);
	run_for(env, 250);
	fetcher_free(env->fetcher);
	env->fetcher = NULL;
	assert_int_equal(a.done, 1);
	assert_int_equal(b.done, 1);
	assert_string_equal(a.error, "cancelled: the fetcher shut down");
	assert_string_equal(b.error, "cancelled: the fetcher shut down");
	/* Nothing of the fetcher is left on the loop. */
	run_for(env, 100);
	assert_int_equal(a.done, 1);
	outcome_clear(&a);
	outcome_clear(&b);
}

/* --- Backpressure ------------------------------------------------------------------------ */

/* Streams `path`, pausing after each of its first `pauses` chunks for 300 ms. */
static void
paused_stream(struct env *env, const char *path, unsigned pauses)
{
	struct outcome o = { .pause_chunks = pauses, .resume_ms = 300,
	    .pause_in_done = true };
	struct fetch_request req = request(path);

	fetch_one(env, &o, &req, true);
	assert_big(&o, true);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.resumes, pauses);
	assert_true(o.chunks > pauses);
	assert_int_equal(o.received, BIG_SIZE);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	outcome_clear(&o);
	run_for(env, 50);
}

static void
test_pause_resume_streamed(void **state)
{
	paused_stream(*state, "/files/big.json?gzip=0", 4);
	paused_stream(*state, "/files/big.json?gzip=0&chunked=1", 3);
}

static void
test_pause_resume_gzip(void **state)
{
	/* curl holds decoded bytes: one compressed read gives several chunks. */
	paused_stream(*state, "/files/big.json?gzip=1", 4);
	paused_stream(*state, "/files/big.json?gzip=1&chunked=1", 3);
}

static void
test_pause_before_the_first_byte(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct fetch_request req = request("/files/big.json");
	struct timeval tv = { 0, 300000 };

	/* No connection yet: the first bytes wait for the resume. */
	start(env, &o, &req, true);
	fetch_pause(o.fetch);
	o.paused = true;
	assert_int_equal(event_base_once(env->base, -1, EV_TIMEOUT, on_resume_timer, &o,
	    &tv), 0);
	run(env);
	assert_big(&o, true);
	assert_int_equal(o.resumes, 1);
	outcome_clear(&o);
}

static void
test_done_waits_for_resume(void **state)
{
	struct env *env = *state;
	struct outcome o = { .pause_chunks = 1, .resume_ms = 300 };
	struct fetch_request req = request("/files/small.json");

	/*
	 * Paused on its only chunk: curl keeps the transfer open, so the receiver, done
	 * with those bytes only after the resume, hears of the end after that too.
	 */
	start(env, &o, &req, true);
	while (o.resumes == 0 && o.done == 0 && !env->guard_fired)
		event_base_loop(env->base, EVLOOP_ONCE);
	assert_int_equal(o.done, 0);
	run(env);
	assert_null(o.error);
	assert_int_equal(o.chunks, 1);
	assert_string_equal(o.stream, small);
	outcome_clear(&o);
}

static void
test_pause_then_cancel(void **state)
{
	struct env *env = *state;
	/* Each paused after its first chunk for 300 ms. */
	struct outcome paused = { .pause_chunks = 1, .resume_ms = 300,
	    .cancel_paused = true };
	struct outcome resumed = { .pause_chunks = 1, .resume_ms = 300,
	    .cancel_resumed = true };
	struct outcome held = { .pause_chunks = 1, .resume_ms = 300, .cancel_at = 2 };
	struct outcome other = { 0 };
	struct fetch_request req;

	/* Cancelled while paused, from a timer. */
	req = request("/files/big.json?gzip=0");
	start(env, &paused, &req, true);

	/* Resumed and cancelled in one go: what curl held must not come. */
	req = request("/files/big.json?gzip=1");
	start(env, &resumed, &req, true);

	/* Cancelled from its own body callback while curl hands over held bytes. */
	req = request("/files/big.json?gzip=1");
	start_never_done(env, &held, &req);

	/* A second of dripping outlasts the three. */
	req = request("/slow?size=10&interval=100");
	start(env, &other, &req, false);
	run(env);
	run_for(env, 300);
	assert_int_equal(other.done, 1);
	assert_null(other.error);
	assert_int_equal(paused.chunks, 1);
	assert_int_equal(paused.done, 0);
	assert_int_equal(resumed.chunks, 1);
	assert_int_equal(resumed.done, 0);
	assert_int_equal(held.chunks, 2);
	assert_int_equal(held.done, 0);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	outcome_clear(&paused);
	outcome_clear(&resumed);
	outcome_clear(&held);
	outcome_clear(&other);
}

static void
test_receiver_stops_on_held_bytes(void **state)
{
	struct env *env = *state;
	struct outcome o = { .pause_chunks = 1, .resume_ms = 300, .stop_at = 2 };
	struct fetch_request req = request("/files/big.json?gzip=1");

	fetch_one(env, &o, &req, true);
	assert_string_equal(o.error, "stopped by the receiver");
	assert_int_equal(o.chunks, 2);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	outcome_clear(&o);
}

static void
test_pause_outlasts_low_speed_limit(void **state)
{
	struct env *env = *state;
	struct outcome o = { .pause_chunks = 1, .resume_ms = 2000 };
	struct fetch_request req = request("/files/big.json");

	/* Nothing moves for two seconds, twice the low-speed time: not the server's fault. */
	req.low_speed_bytes = 1000;
	req.low_speed_time = 1;
	fetch_one(env, &o, &req, true);
	assert_big(&o, true);
	assert_int_equal(o.resumes, 1);
	outcome_clear(&o);
}

static void
test_paused_transfer_still_times_out(void **state)
{
	struct env *env = *state;
	struct outcome o = { .pause_chunks = 1 };
	struct fetch_request req = request("/files/big.json");

	/* Paused for good: the whole-transfer limit still ends it. */
	req.timeout = 1;
	fetch_one(env, &o, &req, true);
	assert_string_equal(o.error, "timed out after 1 s");
	assert_int_equal(o.chunks, 1);
	assert_true(o.paused);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	outcome_clear(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name)	cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)
		T(test_whole_body_buffered),
		T(test_streamed_body_in_chunks),
		T(test_gzip_decoded),
		T(test_not_modified_with_etag_sent),
		T(test_changing_etag_is_reported),
		T(test_429_retry_after_parsed),
		T(test_500_is_an_error),
		T(test_slow_server_times_out),
		T(test_low_speed_limit),
		T(test_truncated_body_is_an_error),
		T(test_max_size_aborts_transfer),
		T(test_nul_byte_refused),
		T(test_redirects_followed_up_to_five),
		T(test_extra_header_and_user_agent_sent),
		T(test_refusals_come_later_not_inside_start),
		T(test_next_page_started_from_done),
		T(test_ten_concurrent_fetches_finish),
		T(test_cancel_means_no_callback),
		T(test_cancel_from_own_body_callback),
		T(test_cancel_other_from_done),
		T(test_receiver_stops_transfer),
		T(test_fetcher_free_ends_transfers_with_error),
		T(test_pause_resume_streamed),
		T(test_pause_resume_gzip),
		T(test_pause_before_the_first_byte),
		T(test_done_waits_for_resume),
		T(test_pause_then_cancel),
		T(test_receiver_stops_on_held_bytes),
		T(test_pause_outlasts_low_speed_limit),
		T(test_paused_transfer_still_times_out),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, server_start, server_stop);
}
