/*
 * HTTP GETs and SMTP sends on the daemon's event loop (include/fetch.h): libcurl's
 * multi handle tells us which sockets and which timeout to watch, libevent tells curl
 * when they fire.
 * curl forbids removing a transfer from inside its own callbacks, so a cancel made
 * while curl is running is only marked there and carried out once curl has returned.
 * A receiver that cannot keep up pauses its fetch; curl then holds what it has already
 * read and stops reading the socket until the fetch is resumed from the loop.
 * A mail send is a struct fetch too, an upload over curl's SMTP with its own options,
 * reply tracking and error sentences; the loop, the reaper and the ends are shared.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "fetch.h"
#include "log.h"

#ifndef ICTMON_VERSION
#define ICTMON_VERSION	"0"
#endif

#define MAX_REDIRECTS		5L
#define CONNECT_TIMEOUT		30L
#define LOW_SPEED_BYTES		1L
#define LOW_SPEED_TIME		60L
#define MAIL_TIMEOUT		60L
#define MAIL_RESPONSE_TIMEOUT	30L
/* Of a server's reply, what an error sentence quotes. */
#define SMTP_REPLY_MAX		160

enum fetch_abort {
	ABORT_NONE,
	ABORT_OVER_MAX,		/* body over max_size */
	ABORT_NUL,		/* NUL byte in a body that refuses them */
	ABORT_RECEIVER,		/* the body callback said stop */
	ABORT_NOMEM,
};

struct fetch {
	struct fetcher		*fetcher;
	CURL			*easy;
	struct curl_slist	*headers;
	fetch_body_cb		 on_body;
	fetch_done_cb		 on_done;
	void			*arg;
	TAILQ_ENTRY(fetch)	 link;

	size_t			 max_size;
	long			 timeout;
	long			 connect_timeout;
	long			 low_speed_bytes;
	long			 low_speed_time;
	bool			 refuse_nul;
	bool			 mail;		/* an SMTP send, not a GET */
	bool			 cancelled;
	bool			 curl_done;	/* curl reported it finished */
	bool			 finished;	/* its done callback is running */

	/*
	 * Backpressure. `paused` is the receiver's wish; `curl_paused` says that curl was
	 * told and holds bytes for us. Unpausing may hand them over at once, so it is done
	 * by `resume`, a zero timer, never inside fetch_resume.
	 */
	bool			 paused;
	bool			 curl_paused;
	struct event		 resume;

	/* Of the response being received; reset by each status line (redirects). */
	long			 retry_after;
	char			*etag;
	char			*last_modified;

	char			*body;		/* buffered body or error body */
	size_t			 len;
	size_t			 cap;
	size_t			 received;	/* decoded body bytes */

	/*
	 * A mail send. The message is the caller's; `transaction` says that MAIL went
	 * out, so that a refusal from then on is about this message, not the session.
	 * `sock` is the connection's socket as curl last asked us to watch it.
	 */
	struct curl_slist	*rcpt;
	const char		*message;
	size_t			 message_len;
	size_t			 message_sent;
	long			 response_timeout;
	bool			 transaction;
	curl_socket_t		 sock;
	char			 reply[SMTP_REPLY_MAX];	/* the last refusal, printable */

	enum fetch_abort	 abort;
	size_t			 nul_offset;
	char			 curl_error[CURL_ERROR_SIZE];
	char			 error[CURL_ERROR_SIZE + 64];
};

/* A socket curl asked us to watch. */
struct fetch_socket {
	struct fetcher		*fetcher;
	curl_socket_t		 fd;
	struct event		 ev;
	bool			 assigned;
	TAILQ_ENTRY(fetch_socket) link;
};

struct fetcher {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	TAILQ_HEAD(, fetch)	 fetches;	/* started, done not yet called */
	TAILQ_HEAD(, fetch_socket) sockets;
	unsigned		 active;	/* fetches not cancelled */
	int			 in_curl;	/* inside curl_multi_socket_action */
	bool			 closing;
};

static void	fetcher_drive(struct fetcher *, curl_socket_t, int);
static void	mail_socket_seen(CURL *, curl_socket_t);
static void	mail_socket_gone(struct fetcher *, curl_socket_t);

/* --- Retry delays ---------------------------------------------------------------- */

long
fetch_backoff(unsigned failures, long base, long cap, long retry_after, uint32_t jitter)
{
	long ceiling, delay;
	uint64_t span;
	unsigned i;

	if (failures == 0)
		return 0;
	if (base < 0)
		base = 0;
	if (cap < base)
		cap = base;
	/* Doubling until the cap, not shifting, so no count of failures overflows. */
	ceiling = base;
	for (i = 1; i < failures && ceiling > 0 && ceiling < cap; i++)
		ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
	/*
	 * A point in [0, ceiling], uniform in the jitter: jitter * span / 2^32, in two
	 * halves so that no product overflows 64 bits.
	 */
	span = (uint64_t)ceiling + 1;
	delay = (long)((span >> 32) * jitter + (((span & 0xffffffffu) * jitter) >> 32));
	if (retry_after > FETCH_RETRY_AFTER_MAX)
		retry_after = FETCH_RETRY_AFTER_MAX;
	if (retry_after > delay)
		delay = retry_after;
	return delay;
}

long
fetch_parse_retry_after(const char *value, time_t now)
{
	const char *p;
	long seconds = 0;
	time_t when;

	while (*value == ' ' || *value == '\t')
		value++;
	if (*value == '\0')
		return -1;
	for (p = value; isdigit((unsigned char)*p); p++) {
		if (seconds < FETCH_RETRY_AFTER_MAX)
			seconds = seconds * 10 + (*p - '0');
	}
	if (p != value) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0')
			return -1;
		return seconds > FETCH_RETRY_AFTER_MAX ? FETCH_RETRY_AFTER_MAX : seconds;
	}
	if ((when = curl_getdate(value, NULL)) == -1)
		return -1;
	if (when <= now)
		return 0;
	if (when - now > FETCH_RETRY_AFTER_MAX)
		return FETCH_RETRY_AFTER_MAX;
	return (long)(when - now);
}

/* --- Event loop glue --------------------------------------------------------------- */

static void
on_socket_ready(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *fr = arg;
	int action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	fetcher_drive(fr, fd, action);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	fetcher_drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void
socket_forget(struct fetch_socket *s)
{
	if (s->assigned)
		event_del(&s->ev);
	TAILQ_REMOVE(&s->fetcher->sockets, s, link);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl wants next, or stop watching it. */
static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
	struct fetcher *fr = arg;
	struct fetch_socket *s = socketp;
	short events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		mail_socket_gone(fr, fd);
		if (s != NULL)
			socket_forget(s);
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			log_error("fetch", "out of memory watching a socket");
			return -1;
		}
		s->fetcher = fr;
		s->fd = fd;
		TAILQ_INSERT_TAIL(&fr->sockets, s, link);
		if (curl_multi_assign(fr->multi, fd, s) != CURLM_OK) {
			socket_forget(s);
			return -1;
		}
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (s->assigned)
		event_del(&s->ev);
	if (event_assign(&s->ev, fr->base, fd, events, on_socket_ready, fr) == -1 ||
	    event_add(&s->ev, NULL) == -1) {
		s->assigned = false;
		log_error("fetch", "cannot watch socket %d", (int)fd);
		return -1;
	}
	s->assigned = true;
	mail_socket_seen(easy, fd);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: only (re)arms our timer; curl is driven from the loop. */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct fetcher *fr = arg;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(fr->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(fr->timer, &tv);
}

/* --- Responses -------------------------------------------------------------------- */

static char *
header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	return strndup(line, len);
}

/* CURLOPT_HEADERFUNCTION: one header line, CRLF included, of any response. */
static size_t
on_curl_header(char *line, size_t size, size_t count, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * count;
	char *value = NULL;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): forget the previous one's. */
		free(f->etag);
		free(f->last_modified);
		f->etag = f->last_modified = NULL;
		f->retry_after = -1;
	} else if ((value = header_value(line, len, "ETag")) != NULL) {
		free(f->etag);
		f->etag = value;
		value = NULL;
	} else if ((value = header_value(line, len, "Last-Modified")) != NULL) {
		free(f->last_modified);
		f->last_modified = value;
		value = NULL;
	} else if ((value = header_value(line, len, "Retry-After")) != NULL) {
		f->retry_after = fetch_parse_retry_after(value, time(NULL));
	}
	free(value);
	return len;
}

static bool
body_append(struct fetch *f, const char *data, size_t len)
{
	size_t cap;
	char *grown;

	if (f->cap - f->len <= len) {
		cap = f->cap ? f->cap : 16384;
		while (cap - f->len <= len)
			cap *= 2;
		if ((grown = realloc(f->body, cap)) == NULL)
			return false;
		f->body = grown;
		f->cap = cap;
	}
	memcpy(f->body + f->len, data, len);
	f->len += len;
	f->body[f->len] = '\0';
	return true;
}

/*
 * CURLOPT_WRITEFUNCTION: decoded body bytes of the final response. Returning less
 * than given makes curl end the transfer with CURLE_WRITE_ERROR; f->abort says why.
 */
static size_t
on_curl_body(char *data, size_t size, size_t count, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * count, keep;
	long status = 0;
	const char *nul;

	if (f->cancelled || f->abort != ABORT_NONE)
		return 0;
	if (len == 0)
		return 0;
	/*
	 * Paused before curl could be told (no connection yet), or more of a read that
	 * was already being handed over when the receiver paused: curl keeps these bytes
	 * and gives them again once unpaused.
	 */
	if (f->paused) {
		f->curl_paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (len > f->max_size - f->received) {
		f->abort = ABORT_OVER_MAX;
		return 0;
	}
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		/* Not for the receiver: keep the start of it for the log. */
		keep = FETCH_ERROR_BODY_MAX - f->len;
		if (keep > len)
			keep = len;
		if (keep > 0 && !body_append(f, data, keep)) {
			f->abort = ABORT_NOMEM;
			return 0;
		}
		f->received += len;
		return len;
	}
	if (f->refuse_nul && (nul = memchr(data, '\0', len)) != NULL) {
		f->abort = ABORT_NUL;
		f->nul_offset = f->received + (size_t)(nul - data);
		return 0;
	}
	f->received += len;
	if (f->on_body == NULL) {
		if (!body_append(f, data, len)) {
			f->abort = ABORT_NOMEM;
			return 0;
		}
		return len;
	}
	if (!f->on_body(data, len, f->arg)) {
		f->abort = ABORT_RECEIVER;
		return 0;
	}
	/* The receiver may have cancelled this very fetch. */
	return f->cancelled ? 0 : len;
}

static void
describe_timeout(struct fetch *f)
{
	curl_off_t total = 0, connect = 0;

	curl_easy_getinfo(f->easy, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(f->easy, CURLINFO_CONNECT_TIME_T, &connect);
	/* Microseconds; a timer firing a little early still counts as the timeout. */
	if (f->timeout > 0 && total + 100000 >= (curl_off_t)f->timeout * 1000000)
		snprintf(f->error, sizeof(f->error), "timed out after %ld s", f->timeout);
	else if (connect == 0)
		snprintf(f->error, sizeof(f->error), "connect timed out after %ld s",
		    f->connect_timeout);
	else
		snprintf(f->error, sizeof(f->error),
		    "too slow: under %ld bytes/s for %ld s", f->low_speed_bytes,
		    f->low_speed_time);
}

static void
describe_truncation(struct fetch *f)
{
	curl_off_t got = 0, expected = -1;

	curl_easy_getinfo(f->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
	curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
	if (expected >= 0)
		snprintf(f->error, sizeof(f->error),
		    "truncated: connection closed after %" CURL_FORMAT_CURL_OFF_T
		    " of %" CURL_FORMAT_CURL_OFF_T " bytes", got, expected);
	else
		snprintf(f->error, sizeof(f->error),
		    "truncated: connection closed after %" CURL_FORMAT_CURL_OFF_T
		    " bytes", got);
}

static void
describe_status(struct fetch *f, long status)
{
	if (f->retry_after >= 0)
		snprintf(f->error, sizeof(f->error), "HTTP %ld (retry after %ld s)",
		    status, f->retry_after);
	else
		snprintf(f->error, sizeof(f->error), "HTTP %ld", status);
}

static void
describe_curl_error(struct fetch *f, CURLcode code)
{
	const char *why = f->curl_error[0] ? f->curl_error : curl_easy_strerror(code);

	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		describe_timeout(f);
		break;
	case CURLE_PARTIAL_FILE:
		describe_truncation(f);
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(f->error, sizeof(f->error), "more than %ld redirects",
		    MAX_REDIRECTS);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(f->error, sizeof(f->error),
		    "refused: only http and https (%s)", why);
		break;
	default:
		snprintf(f->error, sizeof(f->error), "%s", why);
		break;
	}
}

/*
 * The message for feed_run, NULL on success. Our own reasons to stop come first,
 * then what the server said with its status, then what went wrong on the wire.
 */
static const char *
fetch_describe(struct fetch *f, CURLcode code, long status)
{
	switch (f->abort) {
	case ABORT_OVER_MAX:
		snprintf(f->error, sizeof(f->error), "body over max_size (%zu bytes)",
		    f->max_size);
		return f->error;
	case ABORT_NUL:
		snprintf(f->error, sizeof(f->error), "NUL byte in body at offset %zu",
		    f->nul_offset);
		return f->error;
	case ABORT_RECEIVER:
		return "stopped by the receiver";
	case ABORT_NOMEM:
		return "out of memory buffering the body";
	case ABORT_NONE:
		break;
	}
	if (status >= 400) {
		describe_status(f, status);
		return f->error;
	}
	if (code != CURLE_OK) {
		describe_curl_error(f, code);
		return f->error;
	}
	if ((status >= 200 && status <= 299) || status == 304)
		return NULL;
	describe_status(f, status);
	return f->error;
}

/* --- Mail ------------------------------------------------------------------------- */

/*
 * CURLOPT_HEADERFUNCTION of a mail send: curl hands over each line the server replies
 * with. The last refusal (4xx, 5xx) is kept for an error sentence, not a later 221 to
 * QUIT, as one line of printable ASCII: it ends up in the log and in a text column.
 */
static size_t
on_smtp_reply(char *line, size_t size, size_t count, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * count, n = len, i;
	unsigned char c;

	if (len < 3 || (line[0] != '4' && line[0] != '5'))
		return len;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n >= sizeof(f->reply))
		n = sizeof(f->reply) - 1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)line[i];
		f->reply[i] = c == '\t' ? ' ' : c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	f->reply[n] = '\0';
	return len;
}

/*
 * CURLOPT_DEBUGFUNCTION: sees the commands we send, AUTH included, and records only
 * that MAIL went out. Nothing of it is logged.
 */
static int
on_smtp_command(CURL *easy, curl_infotype type, char *data, size_t size, void *arg)
{
	struct fetch *f = arg;

	if (type == CURLINFO_HEADER_OUT && size >= 5 && strncasecmp(data, "MAIL ", 5) == 0)
		f->transaction = true;
	return 0;
}

/* CURLOPT_READFUNCTION: the message, as given; curl dot-stuffs and ends it. */
static size_t
on_mail_read(char *buf, size_t size, size_t count, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * count;

	if (f->cancelled)
		return CURL_READFUNC_ABORT;
	if (n > f->message_len - f->message_sent)
		n = f->message_len - f->message_sent;
	memcpy(buf, f->message + f->message_sent, n);
	f->message_sent += n;
	return n;
}

/* CURLOPT_SEEKFUNCTION: curl rewinds when a reused connection died under it. */
static int
on_mail_seek(void *arg, curl_off_t offset, int origin)
{
	struct fetch *f = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > f->message_len)
		return CURL_SEEKFUNC_CANTSEEK;
	f->message_sent = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* CURLOPT_WRITEFUNCTION: a send receives no body; nothing may reach stdout. */
static size_t
on_mail_discard(char *data, size_t size, size_t count, void *arg)
{
	return size * count;
}

/* The text of the last refusal when it is the one with `status`, else NULL. */
static const char *
smtp_reply_text(const struct fetch *f, long status)
{
	char code[8];
	const char *text;

	snprintf(code, sizeof(code), "%03ld", status);
	if (strncmp(f->reply, code, 3) != 0 || (f->reply[3] != ' ' && f->reply[3] != '-' &&
	    f->reply[3] != '\0'))
		return NULL;
	text = f->reply + 3;
	while (*text == ' ' || *text == '-')
		text++;
	return *text != '\0' ? text : NULL;
}

/* "SMTP 550: 5.1.1 Mailbox unavailable", after `prefix`. */
static void
describe_reply(struct fetch *f, const char *prefix, const char *suffix, long status)
{
	const char *text = smtp_reply_text(f, status);

	snprintf(f->error, sizeof(f->error), "%sSMTP %ld%s%s%s", prefix, status,
	    text != NULL ? ": " : "", text != NULL ? text : "", suffix);
}

static void
describe_mail_timeout(struct fetch *f)
{
	curl_off_t total = 0, connect = 0;

	curl_easy_getinfo(f->easy, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(f->easy, CURLINFO_CONNECT_TIME_T, &connect);
	/*
	 * Microseconds. curl's connect timeout also covers the greeting, STARTTLS and
	 * AUTH, so before MAIL a wait that long is the connect timeout.
	 */
	if (total + 100000 >= (curl_off_t)f->timeout * 1000000)
		snprintf(f->error, sizeof(f->error), "timed out after %ld s", f->timeout);
	else if (connect == 0 || (!f->transaction &&
	    total + 100000 >= (curl_off_t)f->connect_timeout * 1000000))
		snprintf(f->error, sizeof(f->error), "connect timed out after %ld s",
		    f->connect_timeout);
	else
		snprintf(f->error, sizeof(f->error),
		    "timed out after %ld s without a reply from the server",
		    f->response_timeout);
}

/* The sentence for the mailer, NULL when the server accepted the message. */
static const char *
mail_describe(struct fetch *f, CURLcode code, long status)
{
	const char *why = f->curl_error[0] ? f->curl_error : curl_easy_strerror(code);

	switch (code) {
	case CURLE_OK:
		return NULL;
	case CURLE_LOGIN_DENIED:
		if (status >= 400)
			describe_reply(f, "login denied (", ")", status);
		else
			snprintf(f->error, sizeof(f->error), "login denied (%s)", why);
		return f->error;
	case CURLE_USE_SSL_FAILED:
		if (status >= 400)
			describe_reply(f, "STARTTLS refused by the server (", ")", status);
		else
			snprintf(f->error, sizeof(f->error),
			    "STARTTLS required but not offered by the server");
		return f->error;
	case CURLE_OPERATION_TIMEDOUT:
		describe_mail_timeout(f);
		return f->error;
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(f->error, sizeof(f->error),
		    "refused: only smtp and smtps (%s)", why);
		return f->error;
	default:
		break;
	}
	if (status >= 400)
		describe_reply(f, "", "", status);
	else
		snprintf(f->error, sizeof(f->error), "%s", why);
	return f->error;
}

/*
 * Refused for good: a 5xx reply once the message's own transaction had begun. A 530
 * there says that the server wants AUTH (RFC 4954): the configuration lacks it.
 */
static bool
mail_permanent(const struct fetch *f, CURLcode code, long status)
{
	return code != CURLE_OK && f->transaction && status >= 500 && status <= 599 &&
	    status != 530;
}

static void
mail_socket_seen(CURL *easy, curl_socket_t fd)
{
	struct fetch *f;
	void *priv = NULL;

	/* curl's own handle for closing connections has no fetch. */
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	if ((f = priv) != NULL && f->mail)
		f->sock = fd;
}

/* curl is about to close fd, perhaps on behalf of another handle. */
static void
mail_socket_gone(struct fetcher *fr, curl_socket_t fd)
{
	struct fetch *f;

	TAILQ_FOREACH(f, &fr->fetches, link)
		if (f->mail && f->sock == fd)
			f->sock = CURL_SOCKET_BAD;
}

/*
 * A mail send taken away before curl finished it. Removed as it is, curl would run
 * its done phase as if all had gone well: end the message there with the final dot
 * and wait for the reply, delivering a cut message while the loop is held. A socket
 * shut down first makes that write fail at once, and the server drops the message.
 */
static void
mail_abort(struct fetch *f)
{
	if (f->mail && f->sock != CURL_SOCKET_BAD)
		shutdown(f->sock, SHUT_RDWR);
}

/* --- Ends ---------------------------------------------------------------------------- */

static void
fetch_free(struct fetch *f)
{
	event_del(&f->resume);
	curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	curl_slist_free_all(f->rcpt);
	free(f->etag);
	free(f->last_modified);
	free(f->body);
	free(f);
}

/* Takes f out of the multi handle and out of the fetcher's list. */
static void
fetch_detach(struct fetch *f)
{
	struct fetcher *fr = f->fetcher;

	if (!f->curl_done)
		mail_abort(f);
	curl_multi_remove_handle(fr->multi, f->easy);
	TAILQ_REMOVE(&fr->fetches, f, link);
	if (!f->cancelled)
		fr->active--;
}

/* Calls done once with what became of f, then frees it. `forced` overrides curl's word. */
static void
fetch_complete(struct fetch *f, CURLcode code, const char *forced)
{
	struct fetch_result r;
	long status = 0;
	char *url = NULL;

	fetch_detach(f);
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url);
	memset(&r, 0, sizeof(r));
	r.http_status = (int)status;
	r.retry_after = f->retry_after;
	r.etag = f->etag;
	r.last_modified = f->last_modified;
	r.url = url;
	r.body = f->body;
	r.len = f->len;
	r.received = f->received;
	if (forced != NULL)
		r.error = forced;
	else if (f->mail) {
		r.error = mail_describe(f, code, status);
		r.permanent = mail_permanent(f, code, status);
	} else
		r.error = fetch_describe(f, code, status);
	f->finished = true;
	f->on_done(&r, f->arg);
	fetch_free(f);
}

/* Hands finished transfers to their owners and drops those cancelled meanwhile. */
static void
fetcher_reap(struct fetcher *fr)
{
	struct fetch *f, *next;
	CURLMsg *msg;
	CURLcode code;
	void *priv;
	int left;

	while ((msg = curl_multi_info_read(fr->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		if ((f = priv) == NULL)
			continue;
		f->curl_done = true;
		if (f->cancelled) {
			fetch_detach(f);
			fetch_free(f);
		} else
			fetch_complete(f, code, NULL);
	}
	for (f = TAILQ_FIRST(&fr->fetches); f != NULL; f = next) {
		next = TAILQ_NEXT(f, link);
		if (f->cancelled) {
			fetch_detach(f);
			fetch_free(f);
		}
	}
}

static void
fetcher_drive(struct fetcher *fr, curl_socket_t fd, int action)
{
	CURLMcode mc;
	int running;

	fr->in_curl++;
	mc = curl_multi_socket_action(fr->multi, fd, action, &running);
	fr->in_curl--;
	if (mc != CURLM_OK && mc != CURLM_BAD_SOCKET)
		log_error("fetch", "curl multi: %s", curl_multi_strerror(mc));
	fetcher_reap(fr);
}

/*
 * The zero timer of fetch_resume. curl hands over what it held inside this call, to a
 * receiver that may pause, stop or cancel again meanwhile.
 */
static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	struct fetcher *fr = f->fetcher;
	CURLcode code;

	if (f->cancelled || f->paused || !f->curl_paused)
		return;
	f->curl_paused = false;
	fr->in_curl++;
	code = curl_easy_pause(f->easy, CURLPAUSE_CONT);
	fr->in_curl--;
	/*
	 * A receiver that stopped on held bytes is reported here, not by a message, and
	 * curl would go on with the transfer: it ends now. No connection means that curl
	 * was never paused, so it held nothing.
	 */
	if (code != CURLE_OK && code != CURLE_BAD_FUNCTION_ARGUMENT && !f->cancelled)
		fetch_complete(f, code, NULL);
	fetcher_reap(fr);
}

/* --- Fetcher and fetches --------------------------------------------------------------- */

struct fetcher *
fetcher_new(struct event_base *base)
{
	struct fetcher *fr = NULL;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	if ((fr = calloc(1, sizeof(*fr))) == NULL)
		goto fail;
	fr->base = base;
	TAILQ_INIT(&fr->fetches);
	TAILQ_INIT(&fr->sockets);
	if ((fr->timer = evtimer_new(base, on_timeout, fr)) == NULL ||
	    (fr->multi = curl_multi_init()) == NULL)
		goto fail;
	if (curl_multi_setopt(fr->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket)
	    != CURLM_OK ||
	    curl_multi_setopt(fr->multi, CURLMOPT_SOCKETDATA, fr) != CURLM_OK ||
	    curl_multi_setopt(fr->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer)
	    != CURLM_OK ||
	    curl_multi_setopt(fr->multi, CURLMOPT_TIMERDATA, fr) != CURLM_OK)
		goto fail;
	return fr;
fail:
	if (fr != NULL) {
		if (fr->multi != NULL)
			curl_multi_cleanup(fr->multi);
		if (fr->timer != NULL)
			event_free(fr->timer);
		free(fr);
	}
	curl_global_cleanup();
	return NULL;
}

void
fetcher_free(struct fetcher *fr)
{
	struct fetch *f;
	struct fetch_socket *s;

	if (fr == NULL)
		return;
	fr->closing = true;
	while ((f = TAILQ_FIRST(&fr->fetches)) != NULL) {
		if (f->cancelled) {
			fetch_detach(f);
			fetch_free(f);
		} else
			fetch_complete(f, CURLE_ABORTED_BY_CALLBACK,
			    "cancelled: the fetcher shut down");
	}
	curl_multi_cleanup(fr->multi);
	/* Sockets curl did not say goodbye to (its connection cache). */
	while ((s = TAILQ_FIRST(&fr->sockets)) != NULL)
		socket_forget(s);
	event_free(fr->timer);
	free(fr);
	curl_global_cleanup();
}

unsigned
fetcher_active(const struct fetcher *fr)
{
	return fr->active;
}

static bool
header_line_ok(const char *line)
{
	return strpbrk(line, "\r\n") == NULL;
}

static struct curl_slist *
header_add(struct curl_slist *list, bool *ok, const char *name, const char *value)
{
	struct curl_slist *grown;
	char *line = NULL;

	if (!*ok)
		return list;
	if (asprintf(&line, "%s%s", name, value) == -1) {
		*ok = false;
		return list;
	}
	if ((grown = curl_slist_append(list, line)) == NULL)
		*ok = false;
	else
		list = grown;
	explicit_bzero(line, strlen(line));
	free(line);
	return list;
}

/* The extra header as configured, without the newline a secret file usually ends with. */
static char *
secret_header(const char *header)
{
	size_t len = strlen(header);

	while (len > 0 && (header[len - 1] == '\n' || header[len - 1] == '\r'))
		len--;
	return strndup(header, len);
}

static void
secret_free(char *secret)
{
	if (secret != NULL) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
}

static bool
fetch_configure(struct fetch *f, const struct fetch_request *req)
{
	CURL *e = f->easy;
	const char *agent = req->user_agent ? req->user_agent : "ictmon/" ICTMON_VERSION;

	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, f) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->curl_error) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
#else
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS,
		(long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
		(long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRECTS) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, agent) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, f->timeout) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, f->connect_timeout) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, f->low_speed_bytes) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, f->low_speed_time) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_curl_header) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, f) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_curl_body) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, f) != CURLE_OK)
		return false;
	if (f->headers != NULL &&
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers) != CURLE_OK)
		return false;
	return true;
}

struct fetch *
fetch_start(struct fetcher *fr, const struct fetch_request *req, fetch_body_cb on_body,
    fetch_done_cb on_done, void *arg)
{
	struct fetch *f = NULL;
	char *secret = NULL;
	bool ok = true;

	if (fr->closing || on_done == NULL)
		return NULL;
	if (fr->in_curl > 0) {
		log_warn("fetch", "refusing a fetch started from inside a body callback");
		return NULL;
	}
	if (req->url == NULL || !header_line_ok(req->url)) {
		log_warn("fetch", "refusing a request without a URL or with a line break in it");
		return NULL;
	}
	if ((req->etag != NULL && !header_line_ok(req->etag)) ||
	    (req->last_modified != NULL && !header_line_ok(req->last_modified))) {
		log_warn("fetch", "refusing validators with a line break for %s", req->url);
		return NULL;
	}
	if (req->header != NULL) {
		if ((secret = secret_header(req->header)) == NULL)
			return NULL;
		/* Never echo the header: it is usually a credential. */
		if (!header_line_ok(secret) || strchr(secret, ':') == NULL) {
			log_warn("fetch", "refusing a malformed extra header for %s", req->url);
			goto fail;
		}
	}

	if ((f = calloc(1, sizeof(*f))) == NULL)
		goto fail;
	/* First, so that fetch_free may always delete it. */
	evtimer_assign(&f->resume, fr->base, on_resume, f);
	f->fetcher = fr;
	f->on_body = on_body;
	f->on_done = on_done;
	f->arg = arg;
	f->retry_after = -1;
	f->refuse_nul = req->refuse_nul;
	f->max_size = req->max_size ? req->max_size : SIZE_MAX;
	if (on_body == NULL && f->max_size > FETCH_BUFFERED_MAX)
		f->max_size = FETCH_BUFFERED_MAX;
	f->timeout = req->timeout > 0 ? req->timeout : 0;
	f->connect_timeout = req->connect_timeout > 0 ? req->connect_timeout :
	    CONNECT_TIMEOUT;
	f->low_speed_bytes = req->low_speed_bytes > 0 ? req->low_speed_bytes :
	    LOW_SPEED_BYTES;
	f->low_speed_time = req->low_speed_time > 0 ? req->low_speed_time :
	    LOW_SPEED_TIME;

	if (secret != NULL)
		f->headers = header_add(f->headers, &ok, "", secret);
	if (req->etag != NULL)
		f->headers = header_add(f->headers, &ok, "If-None-Match: ", req->etag);
	if (req->last_modified != NULL)
		f->headers = header_add(f->headers, &ok, "If-Modified-Since: ",
		    req->last_modified);
	if (!ok || (f->easy = curl_easy_init()) == NULL || !fetch_configure(f, req))
		goto fail;
	/* Only arms our timer: the transfer begins on the next turn of the loop. */
	if (curl_multi_add_handle(fr->multi, f->easy) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&fr->fetches, f, link);
	fr->active++;
	secret_free(secret);
	return f;
fail:
	secret_free(secret);
	if (f != NULL)
		fetch_free(f);
	return NULL;
}

static bool
mail_configure(struct fetch *f, const struct mail_send *req)
{
	CURL *e = f->easy;
	char *from = NULL;
	bool ok = false;

	if (asprintf(&from, "<%s>", req->from) == -1)
		return false;
	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, f) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->curl_error) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK ||
#else
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS,
		(long)(CURLPROTO_SMTP | CURLPROTO_SMTPS)) != CURLE_OK ||
#endif
	    curl_easy_setopt(e, CURLOPT_USE_SSL,
		(long)(req->starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE)) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, f->rcpt) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_mail_read) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_READDATA, f) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_mail_seek) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SEEKDATA, f) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		(curl_off_t)f->message_len) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, f->timeout) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, f->connect_timeout) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, f->response_timeout)
	    != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_smtp_reply) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, f) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_mail_discard) != CURLE_OK ||
	    /* The debug function is how we see MAIL go out; it replaces curl's stderr. */
	    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_smtp_command) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_DEBUGDATA, f) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L) != CURLE_OK)
		goto out;
	if (req->username != NULL && req->username[0] != '\0' &&
	    (curl_easy_setopt(e, CURLOPT_USERNAME, req->username) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PASSWORD,
		req->password != NULL ? req->password : "") != CURLE_OK))
		goto out;
	ok = true;
out:
	free(from);
	return ok;
}

struct fetch *
fetch_send_mail(struct fetcher *fr, const struct mail_send *req, fetch_done_cb on_done,
    void *arg)
{
	struct fetch *f = NULL;
	char *rcpt = NULL;

	if (fr->closing || on_done == NULL)
		return NULL;
	if (fr->in_curl > 0) {
		log_warn("fetch", "refusing a mail send started from inside a body callback");
		return NULL;
	}
	/* A line break would let an address or a name smuggle in an SMTP command. */
	if (req->url == NULL || req->from == NULL || req->to == NULL ||
	    req->message == NULL || !header_line_ok(req->url) ||
	    !header_line_ok(req->from) || !header_line_ok(req->to) ||
	    (req->username != NULL && !header_line_ok(req->username))) {
		log_warn("fetch", "refusing a mail without URL, sender, recipient or "
		    "message, or with a line break in one of them");
		return NULL;
	}

	if ((f = calloc(1, sizeof(*f))) == NULL)
		goto fail;
	evtimer_assign(&f->resume, fr->base, on_resume, f);
	f->fetcher = fr;
	f->on_done = on_done;
	f->arg = arg;
	f->mail = true;
	f->sock = CURL_SOCKET_BAD;
	f->retry_after = -1;
	f->message = req->message;
	f->message_len = req->len;
	f->timeout = req->timeout > 0 ? req->timeout : MAIL_TIMEOUT;
	f->connect_timeout = req->connect_timeout > 0 ? req->connect_timeout :
	    CONNECT_TIMEOUT;
	f->response_timeout = req->response_timeout > 0 ? req->response_timeout :
	    MAIL_RESPONSE_TIMEOUT;
	if (asprintf(&rcpt, "<%s>", req->to) == -1) {
		rcpt = NULL;
		goto fail;
	}
	if ((f->rcpt = curl_slist_append(NULL, rcpt)) == NULL ||
	    (f->easy = curl_easy_init()) == NULL || !mail_configure(f, req))
		goto fail;
	if (curl_multi_add_handle(fr->multi, f->easy) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&fr->fetches, f, link);
	fr->active++;
	free(rcpt);
	return f;
fail:
	free(rcpt);
	if (f != NULL)
		fetch_free(f);
	return NULL;
}

void
fetch_cancel(struct fetch *f)
{
	struct fetcher *fr;

	if (f == NULL || f->cancelled)
		return;
	fr = f->fetcher;
	f->cancelled = true;
	fr->active--;
	/* Inside curl the removal waits for fetcher_reap; outside it happens now. */
	if (fr->in_curl == 0) {
		fetch_detach(f);
		fetch_free(f);
	}
}

void
fetch_pause(struct fetch *f)
{
	/* A mail send has no body to hold back. */
	if (f == NULL || f->mail || f->cancelled || f->finished || f->paused)
		return;
	f->paused = true;
	/* A resume not yet carried out is void. */
	event_del(&f->resume);
	/*
	 * Told now rather than at the next write, curl stops reading the socket at once,
	 * and keeps a paused transfer out of its low-speed check (since curl 7.75; the
	 * check restarts on unpausing). Before there is a connection curl refuses, and
	 * the write callback pauses it when the first bytes come.
	 */
	if (curl_easy_pause(f->easy, CURLPAUSE_RECV) != CURLE_BAD_FUNCTION_ARGUMENT)
		f->curl_paused = true;
}

void
fetch_resume(struct fetch *f)
{
	static const struct timeval now = { 0, 0 };

	if (f == NULL || f->cancelled || f->finished || !f->paused)
		return;
	f->paused = false;
	/* A timer, not event_active, so that the loop polls its sockets first. */
	if (f->curl_paused && evtimer_add(&f->resume, &now) == -1)
		log_error("fetch", "cannot schedule the resumption of a transfer");
}

const char *
fetch_etag(const struct fetch *f)
{
	return f->etag;
}
