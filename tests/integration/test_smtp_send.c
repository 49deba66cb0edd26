/*
 * Mail sends on the fetcher against a real SMTP server on loopback (smtpserver.py,
 * Debian's python3-aiosmtpd, started here with the misbehaviour each test wants): the
 * message and envelope as sent, AUTH, STARTTLS required, refused recipients, a server
 * that is down or slow, a large message, many sends at once and sends ended early.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
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

#define GUARD_SECONDS	60
#define FROM		"ictmon@example.gov"
#define BIG_MESSAGE	(10 * 1024 * 1024)
#define MANY		20

/* One smtpserver.py, its directory and the pipe whose closing ends it. */
struct server {
	pid_t		 pid;
	int		 lifeline;
	unsigned	 port;
	char		 dir[64];
	char		 mail[96];	/* where it keeps what it accepted */
	char		 url[64];
};

struct env {
	struct event_base	*base;
	struct fetcher		*fetcher;
	struct event		*guard;
	struct event		*tick;
	int			 pending;	/* done callbacks still expected */
	int			 guard_fired;
	struct timespec		 last_tick;
	double			 longest_stall;	/* seconds between two ticks of the loop */
};

/* What one send's done callback saw. */
struct outcome {
	struct env	*env;
	struct fetch	*fetch;
	int		 done;
	int		 status;
	bool		 permanent;
	char		*error;
};

/* One message the server kept. */
struct received {
	char		*mail_from;
	char		*rcpt;		/* the first, and in these tests only, recipient */
	size_t		 nrcpt;
	char		*auth_login;
	char		*data;
	size_t		 len;
};

/* --- The server ---------------------------------------------------------------------- */

static unsigned
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	/* The kernel picks a free one; the server binds it a moment later. */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return 0;
	}
	close(fd);
	return ntohs(sin.sin_port);
}

static void
script_path(char *out, size_t size)
{
	const char *src = getenv("ICTMON_SOURCE_DIR");
	char here[PATH_MAX];

	if (src != NULL) {
		snprintf(out, size, "%s/tests/integration/smtpserver.py", src);
		return;
	}
	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(out, size, "%s/smtpserver.py", dirname(here));
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Starts smtpserver.py with these extra arguments (NULL-terminated) and waits for it. */
static void
server_start(struct server *s, ...)
{
	char script[PATH_MAX], port[16], ready[128];
	const char *argv[32];
	const char *arg;
	int lifeline[2], n = 0, tries;
	va_list ap;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/ictmon-smtp-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->mail, sizeof(s->mail), "%s/mail", s->dir);
	snprintf(ready, sizeof(ready), "%s/ready", s->dir);
	assert_true((s->port = free_port()) > 0);
	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(s->url, sizeof(s->url), "smtp://127.0.0.1:%u", s->port);
	script_path(script, sizeof(script));

	argv[n++] = "python3";
	argv[n++] = "-B";
	argv[n++] = script;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--dir";
	argv[n++] = s->mail;
	argv[n++] = "--ready-file";
	argv[n++] = ready;
	argv[n++] = "--until-eof";
	va_start(ap, s);
	while ((arg = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;

	assert_int_equal(pipe2(lifeline, O_CLOEXEC), 0);
	assert_true((s->pid = fork()) != -1);
	if (s->pid == 0) {
		dup2(lifeline[0], 0);
		execv("/usr/bin/python3", (char *const *)argv);
		_exit(127);
	}
	close(lifeline[0]);
	s->lifeline = lifeline[1];
	for (tries = 0; tries < 300 && access(ready, F_OK) == -1; tries++) {
		assert_int_equal(waitpid(s->pid, NULL, WNOHANG), 0);
		sleep_ms(50);
	}
	assert_int_equal(access(ready, F_OK), 0);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
server_stop(struct server *s)
{
	if (s->lifeline > 0)
		close(s->lifeline);
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	memset(s, 0, sizeof(*s));
}

static int
json_name(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 5 && strcmp(d->d_name + len - 5, ".json") == 0;
}

static char *
read_whole(const char *path, size_t *len)
{
	struct stat st;
	char *data;
	FILE *fp;

	assert_non_null(fp = fopen(path, "rb"));
	assert_int_equal(fstat(fileno(fp), &st), 0);
	assert_non_null(data = malloc((size_t)st.st_size + 1));
	assert_int_equal(fread(data, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
	data[st.st_size] = '\0';
	fclose(fp);
	*len = (size_t)st.st_size;
	return data;
}

static char *
meta_string(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v != NULL ? strdup(v) : NULL;
}

/* Every message the server kept, oldest first; returns how many. */
static size_t
mailbox(const struct server *s, struct received **out)
{
	struct dirent **names = NULL;
	struct received *r = NULL;
	char path[PATH_MAX * 2];
	json_error_t jerr;
	json_t *meta, *rcpts;
	int n, i;

	*out = NULL;
	if ((n = scandir(s->mail, &names, json_name, alphasort)) <= 0) {
		free(names);
		return 0;
	}
	assert_non_null(r = calloc((size_t)n, sizeof(*r)));
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->mail, names[i]->d_name);
		meta = json_load_file(path, 0, &jerr);
		assert_non_null(meta);
		r[i].mail_from = meta_string(meta, "mail_from");
		r[i].auth_login = meta_string(meta, "auth_login");
		rcpts = json_object_get(meta, "rcpt_tos");
		r[i].nrcpt = json_array_size(rcpts);
		if (r[i].nrcpt > 0)
			r[i].rcpt = strdup(json_string_value(json_array_get(rcpts, 0)));
		snprintf(path, sizeof(path), "%s/%s", s->mail,
		    json_string_value(json_object_get(meta, "data_file")));
		r[i].data = read_whole(path, &r[i].len);
		json_decref(meta);
		free(names[i]);
	}
	free(names);
	*out = r;
	return (size_t)n;
}

static void
mailbox_free(struct received *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].mail_from);
		free(r[i].rcpt);
		free(r[i].auth_login);
		free(r[i].data);
	}
	free(r);
}

static size_t
mailbox_count(const struct server *s)
{
	struct received *r;
	size_t n = mailbox(s, &r);

	mailbox_free(r, n);
	return n;
}

/* --- Loop and callbacks ------------------------------------------------------------ */

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct env *env = arg;

	env->guard_fired = 1;
}

/* Every 10 ms while the loop turns: how long the loop was held measures curl's blocks. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct env *env = arg;
	struct timespec now;
	double gap;

	clock_gettime(CLOCK_MONOTONIC, &now);
	gap = elapsed(&env->last_tick, &now);
	if (gap > env->longest_stall)
		env->longest_stall = gap;
	env->last_tick = now;
}

static int
env_setup(void **state)
{
	struct env *env;
	struct timeval guard = { GUARD_SECONDS, 0 }, tick = { 0, 10000 };

	if ((env = calloc(1, sizeof(*env))) == NULL ||
	    (env->base = event_base_new()) == NULL ||
	    (env->fetcher = fetcher_new(env->base)) == NULL ||
	    (env->guard = evtimer_new(env->base, on_guard, env)) == NULL ||
	    evtimer_add(env->guard, &guard) == -1 ||
	    (env->tick = event_new(env->base, -1, EV_PERSIST, on_tick, env)) == NULL ||
	    event_add(env->tick, &tick) == -1)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &env->last_tick);
	*state = env;
	return 0;
}

static int
env_teardown(void **state)
{
	struct env *env = *state;

	fetcher_free(env->fetcher);
	event_free(env->tick);
	event_free(env->guard);
	event_base_free(env->base);
	free(env);
	return 0;
}

/* Runs the loop until every expected done callback has come. */
static void
run(struct env *env)
{
	clock_gettime(CLOCK_MONOTONIC, &env->last_tick);
	env->longest_stall = 0;
	while (env->pending > 0 && !env->guard_fired)
		event_base_loop(env->base, EVLOOP_ONCE);
	/* The last stretch too: the loop may have been held until the end. */
	on_tick(-1, 0, env);
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

static void
on_done(const struct fetch_result *r, void *arg)
{
	struct outcome *o = arg;

	o->done++;
	o->status = r->http_status;
	o->permanent = r->permanent;
	o->error = r->error != NULL ? strdup(r->error) : NULL;
	/* Nothing of HTTP in a mail's result. */
	assert_null(r->body);
	assert_null(r->etag);
	assert_int_equal(r->retry_after, -1);
	o->env->pending--;
}

static void
outcome_clear(struct outcome *o)
{
	free(o->error);
	memset(o, 0, sizeof(*o));
}

static struct mail_send
mail(const struct server *s, const char *to, const char *message)
{
	struct mail_send req;

	memset(&req, 0, sizeof(req));
	req.url = s->url;
	req.from = FROM;
	req.to = to;
	req.message = message;
	req.len = strlen(message);
	req.timeout = 30;
	req.connect_timeout = 5;
	req.response_timeout = 10;
	return req;
}

static void
start(struct env *env, struct outcome *o, const struct mail_send *req)
{
	o->env = env;
	o->fetch = fetch_send_mail(env->fetcher, req, on_done, o);
	assert_non_null(o->fetch);
	assert_int_equal(o->done, 0);	/* never from inside fetch_send_mail */
	env->pending++;
}

static void
send_one(struct env *env, struct outcome *o, const struct mail_send *req)
{
	start(env, o, req);
	run(env);
	assert_int_equal(o->done, 1);
	assert_int_equal(fetcher_active(env->fetcher), 0);
}

/* Failed, with an error that begins with `prefix`. */
static void
assert_error(const struct outcome *o, const char *prefix)
{
	assert_non_null(o->error);
	if (strncmp(o->error, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not begin with \"%s\"", o->error, prefix);
}

/* An alert-like message: CRLF, a folded header, and lines a naive sender would break. */
static const char sample[] =
    "From: ictmon <" FROM ">\r\n"
    "To: finance@hacienda.example\r\n"
    "Subject: Spending overlap: 4 agencies bought UNSPSC 432332 software,\r\n"
    " CLP 812,400,000 in 90 days\r\n"
    "Message-ID: <ictmon.1.abc@example.gov>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    ".a line that begins with a dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "a lone dot above, not the end\r\n"
    "Jos\xc3\xa9 P\xc3\xa9rez, agencies AA, AB\r\n"
    "\r\n"
    "-- \r\n"
    "ictmon\r\n";

/* --- Delivery ---------------------------------------------------------------------- */

static void
test_accepted_message_arrives_intact(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct received *r;
	struct mail_send req;

	server_start(&s, (char *)NULL);
	req = mail(&s, "finance@hacienda.example", sample);
	send_one(env, &o, &req);
	assert_null(o.error);
	assert_int_equal(o.status, 250);
	assert_false(o.permanent);
	assert_int_equal(mailbox(&s, &r), 1);
	assert_string_equal(r[0].mail_from, FROM);
	assert_int_equal(r[0].nrcpt, 1);
	assert_string_equal(r[0].rcpt, "finance@hacienda.example");
	assert_null(r[0].auth_login);
	assert_int_equal(r[0].len, strlen(sample));
	assert_memory_equal(r[0].data, sample, strlen(sample));
	mailbox_free(r, 1);
	outcome_clear(&o);
	server_stop(&s);
}

/* Lines of 76 characters, every seventh one beginning with a dot. */
static char *
make_big_message(size_t size)
{
	static const char head[] = "Subject: big\r\n\r\n";
	size_t at = sizeof(head) - 1, line = 0, col;
	char *m;

	assert_non_null(m = malloc(size + 1));
	memcpy(m, head, at);
	while (at + 78 <= size) {
		for (col = 0; col < 76; col++)
			m[at + col] = (char)('a' + (line + col) % 26);
		if (line % 7 == 0)
			m[at] = '.';
		m[at + 76] = '\r';
		m[at + 77] = '\n';
		at += 78;
		line++;
	}
	while (at + 2 < size)
		m[at++] = 'z';
	m[at++] = '\r';
	m[at++] = '\n';
	m[at] = '\0';
	return m;
}

static void
test_ten_megabyte_message(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct received *r;
	struct mail_send req;
	char *big = make_big_message(BIG_MESSAGE);

	server_start(&s, (char *)NULL);
	req = mail(&s, "big@hacienda.example", big);
	assert_int_equal(req.len, BIG_MESSAGE);
	req.timeout = 50;
	send_one(env, &o, &req);
	assert_null(o.error);
	assert_int_equal(o.status, 250);
	assert_int_equal(mailbox(&s, &r), 1);
	assert_int_equal(r[0].len, BIG_MESSAGE);
	assert_memory_equal(r[0].data, big, BIG_MESSAGE);
	mailbox_free(r, 1);
	outcome_clear(&o);
	server_stop(&s);
	free(big);
}

static void
test_twenty_sends_at_once(void **state)
{
	struct env *env = *state;
	struct outcome o[MANY];
	struct server s;
	struct received *r;
	struct mail_send req;
	char to[MANY][64], message[MANY][128];
	bool seen[MANY] = { false };
	size_t n, i;
	int k;

	server_start(&s, (char *)NULL);
	memset(o, 0, sizeof(o));
	for (k = 0; k < MANY; k++) {
		snprintf(to[k], sizeof(to[k]), "r%02d@hacienda.example", k);
		snprintf(message[k], sizeof(message[k]),
		    "Subject: number %d\r\n\r\nfor %s\r\n", k, to[k]);
		req = mail(&s, to[k], message[k]);
		start(env, &o[k], &req);
	}
	assert_int_equal(fetcher_active(env->fetcher), MANY);
	run(env);
	for (k = 0; k < MANY; k++) {
		assert_int_equal(o[k].done, 1);
		assert_null(o[k].error);
		assert_int_equal(o[k].status, 250);
		outcome_clear(&o[k]);
	}
	/* Each once, to its own recipient, with its own text. */
	assert_int_equal(n = mailbox(&s, &r), MANY);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(r[i].rcpt, "r%d@", &k), 1);
		assert_true(k >= 0 && k < MANY);
		assert_false(seen[k]);
		seen[k] = true;
		assert_string_equal(r[i].data, message[k]);
	}
	mailbox_free(r, n);
	server_stop(&s);
}

/* --- AUTH and STARTTLS ------------------------------------------------------------- */

static void
test_auth_plain(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct received *r;
	struct mail_send req;

	server_start(&s, "--auth", "alice:s3cret pass", (char *)NULL);
	req = mail(&s, "finance@hacienda.example", sample);
	req.username = "alice";
	req.password = "s3cret pass";
	send_one(env, &o, &req);
	assert_null(o.error);
	assert_int_equal(o.status, 250);
	assert_int_equal(mailbox(&s, &r), 1);
	assert_string_equal(r[0].auth_login, "alice");
	mailbox_free(r, 1);
	outcome_clear(&o);

	/* A wrong password: the session is refused, not the message. */
	req.password = "guess";
	send_one(env, &o, &req);
	assert_error(&o, "login denied");
	assert_int_equal(o.status, 535);
	assert_false(o.permanent);
	assert_non_null(strstr(o.error, "535"));
	assert_null(strstr(o.error, "guess"));
	assert_int_equal(mailbox_count(&s), 1);
	outcome_clear(&o);

	/* No credentials where the server wants them: 530 to MAIL, still not for good. */
	req.username = NULL;
	req.password = NULL;
	send_one(env, &o, &req);
	assert_error(&o, "SMTP 530");
	assert_int_equal(o.status, 530);
	assert_false(o.permanent);
	assert_int_equal(mailbox_count(&s), 1);
	outcome_clear(&o);
	server_stop(&s);
}

static void
test_starttls_required_but_not_offered(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	server_start(&s, (char *)NULL);
	req = mail(&s, "finance@hacienda.example", sample);
	req.starttls = true;
	send_one(env, &o, &req);
	assert_non_null(o.error);
	assert_string_equal(o.error, "STARTTLS required but not offered by the server");
	assert_false(o.permanent);
	assert_int_equal(mailbox_count(&s), 0);
	outcome_clear(&o);
	server_stop(&s);
}

/* --- Refusals and failures --------------------------------------------------------- */

static void
test_rcpt_550_is_permanent(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	server_start(&s, "--reject-rcpt", "550", (char *)NULL);
	req = mail(&s, "nobody@hacienda.example", sample);
	send_one(env, &o, &req);
	assert_non_null(o.error);
	assert_string_equal(o.error, "SMTP 550: 5.1.1 Mailbox unavailable");
	assert_int_equal(o.status, 550);
	assert_true(o.permanent);
	assert_int_equal(mailbox_count(&s), 0);
	outcome_clear(&o);
	server_stop(&s);
}

static void
test_rcpt_451_is_not_permanent(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	server_start(&s, "--reject-rcpt", "451", (char *)NULL);
	req = mail(&s, "busy@hacienda.example", sample);
	send_one(env, &o, &req);
	assert_error(&o, "SMTP 451: 4.3.0 ");
	assert_int_equal(o.status, 451);
	assert_false(o.permanent);
	assert_int_equal(mailbox_count(&s), 0);
	outcome_clear(&o);
	server_stop(&s);
}

static void
test_server_down(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	/* A port nobody listens on. */
	memset(&s, 0, sizeof(s));
	assert_true((s.port = free_port()) > 0);
	snprintf(s.url, sizeof(s.url), "smtp://127.0.0.1:%u", s.port);
	req = mail(&s, "finance@hacienda.example", sample);
	send_one(env, &o, &req);
	assert_non_null(o.error);
	assert_non_null(strcasestr(o.error, "connect"));
	assert_int_equal(o.status, 0);
	assert_false(o.permanent);
	outcome_clear(&o);
}

/*
 * The server sits on its answer to the end of the message. curl waits for that
 * answer without returning to the loop (curl's issue 8555), so the loop is held, but
 * for the response timeout, not for as long as the server likes.
 */
static void
test_response_timeout_at_end_of_data(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	server_start(&s, "--delay", "5", (char *)NULL);
	req = mail(&s, "slow@hacienda.example", sample);
	req.response_timeout = 1;
	send_one(env, &o, &req);
	assert_error(&o, "timed out after 1 s without a reply");
	assert_false(o.permanent);
	print_message("loop held for up to %.2f s waiting for the end-of-data reply\n",
	    env->longest_stall);
	assert_true(env->longest_stall < 4.0);
	outcome_clear(&o);
	server_stop(&s);
}

/* A slow answer to RCPT comes while the loop goes on. */
static void
test_response_timeout_at_rcpt(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	server_start(&s, "--delay", "5", "--delay-on", "rcpt", (char *)NULL);
	req = mail(&s, "slow@hacienda.example", sample);
	req.response_timeout = 1;
	send_one(env, &o, &req);
	assert_error(&o, "timed out after 1 s without a reply");
	assert_false(o.permanent);
	print_message("loop held for up to %.2f s waiting for the RCPT reply\n",
	    env->longest_stall);
	assert_int_equal(mailbox_count(&s), 0);
	outcome_clear(&o);
	server_stop(&s);
}

static void
test_whole_timeout(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	server_start(&s, "--delay", "5", "--delay-on", "rcpt", (char *)NULL);
	req = mail(&s, "slow@hacienda.example", sample);
	req.timeout = 1;
	send_one(env, &o, &req);
	assert_non_null(o.error);
	assert_string_equal(o.error, "timed out after 1 s");
	outcome_clear(&o);
	server_stop(&s);
}

/* --- Refused before they start ------------------------------------------------------ */

static void
test_malformed_sends_refused(void **state)
{
	struct env *env = *state;
	struct outcome o = { .env = env };
	struct server s;
	struct mail_send req;

	memset(&s, 0, sizeof(s));
	snprintf(s.url, sizeof(s.url), "smtp://127.0.0.1:25");
	req = mail(&s, "a@b.example", sample);
	req.from = "x@y.example>\r\nRCPT TO:<victim@z.example";
	assert_null(fetch_send_mail(env->fetcher, &req, on_done, &o));
	req = mail(&s, "a@b.example\r\nDATA", sample);
	assert_null(fetch_send_mail(env->fetcher, &req, on_done, &o));
	req = mail(&s, "a@b.example", sample);
	req.username = "alice\nQUIT";
	assert_null(fetch_send_mail(env->fetcher, &req, on_done, &o));
	req = mail(&s, "a@b.example", sample);
	req.url = "smtp://127.0.0.1:25/\r\nx";
	assert_null(fetch_send_mail(env->fetcher, &req, on_done, &o));
	req = mail(&s, "a@b.example", sample);
	req.message = NULL;
	assert_null(fetch_send_mail(env->fetcher, &req, on_done, &o));
	req = mail(&s, NULL, sample);
	assert_null(fetch_send_mail(env->fetcher, &req, on_done, &o));
	assert_int_equal(fetcher_active(env->fetcher), 0);
	run_for(env, 50);
	assert_int_equal(o.done, 0);
}

static void
test_only_smtp_urls(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;

	memset(&s, 0, sizeof(s));
	snprintf(s.url, sizeof(s.url), "http://127.0.0.1:%u/", free_port());
	req = mail(&s, "a@b.example", sample);
	send_one(env, &o, &req);
	assert_error(&o, "refused: only smtp and smtps");
	assert_false(o.permanent);
	outcome_clear(&o);
}

/* --- Ended early ------------------------------------------------------------------- */

static void
test_cancel_mid_send(void **state)
{
	struct env *env = *state;
	struct outcome waiting = { 0 }, uploading = { 0 };
	struct server s;
	struct mail_send req;
	struct timespec before, after;
	char *big = make_big_message(BIG_MESSAGE);

	/*
	 * One waits for the answer to RCPT. The cancel must not make curl end the
	 * message and wait for that answer.
	 */
	server_start(&s, "--delay", "3", "--delay-on", "rcpt", (char *)NULL);
	req = mail(&s, "wait@hacienda.example", sample);
	start(env, &waiting, &req);
	env->pending--;
	run_for(env, 500);
	clock_gettime(CLOCK_MONOTONIC, &before);
	fetch_cancel(waiting.fetch);
	clock_gettime(CLOCK_MONOTONIC, &after);
	assert_true(elapsed(&before, &after) < 1.0);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	server_stop(&s);

	/*
	 * The other is in the middle of its message (curl left alone would end it
	 * there with the final dot: a cut message delivered).
	 */
	server_start(&s, (char *)NULL);
	req = mail(&s, "big@hacienda.example", big);
	start(env, &uploading, &req);
	env->pending--;
	run_for(env, 40);
	fetch_cancel(uploading.fetch);
	assert_int_equal(fetcher_active(env->fetcher), 0);
	run_for(env, 300);
	assert_int_equal(waiting.done, 0);
	assert_int_equal(uploading.done, 0);
	assert_int_equal(mailbox_count(&s), 0);
	server_stop(&s);
	free(big);
}

static void
test_fetcher_free_ends_sends(void **state)
{
	struct env *env = *state;
	struct outcome o = { 0 };
	struct server s;
	struct mail_send req;
	struct timespec before, after;

	server_start(&s, "--delay", "3", "--delay-on", "rcpt", (char *)NULL);
	req = mail(&s, "wait@hacienda.example", sample);
	start(env, &o, &req);
	run_for(env, 300);
	clock_gettime(CLOCK_MONOTONIC, &before);
	fetcher_free(env->fetcher);
	clock_gettime(CLOCK_MONOTONIC, &after);
	env->fetcher = NULL;
	assert_true(elapsed(&before, &after) < 1.0);
	assert_int_equal(o.done, 1);
	assert_string_equal(o.error, "cancelled: the fetcher shut down");
	assert_false(o.permanent);
	outcome_clear(&o);
	server_stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name)	cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)
		T(test_accepted_message_arrives_intact),
		T(test_ten_megabyte_message),
		T(test_twenty_sends_at_once),
		T(test_auth_plain),
		T(test_starttls_required_but_not_offered),
		T(test_rcpt_550_is_permanent),
		T(test_rcpt_451_is_not_permanent),
		T(test_server_down),
		T(test_response_timeout_at_end_of_data),
		T(test_response_timeout_at_rcpt),
		T(test_whole_timeout),
		T(test_malformed_sends_refused),
		T(test_only_smtp_urls),
		T(test_cancel_mid_send),
		T(test_fetcher_free_ends_sends),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
