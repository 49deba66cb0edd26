/*
 * Transfers on the daemon's event loop through libcurl's multi interface: HTTP GETs
 * for the collectors (many feeds at once) and SMTP for the mailer. Owns transfers,
 * conditional GET, size and time limits and the error messages; not what a body
 * means or what a message says.
 */
#ifndef ICTMON_FETCH_H
#define ICTMON_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct fetcher;
struct fetch;

/* A buffered body is never larger than this, whatever max_size says. */
#define FETCH_BUFFERED_MAX	((size_t)64 * 1024 * 1024)
/* A Retry-After is honoured up to a day: a broken server must not stop a feed for good. */
#define FETCH_RETRY_AFTER_MAX	86400L
/* How much of an HTTP error's body is kept for the log. */
#define FETCH_ERROR_BODY_MAX	512

/*
 * What to get. Strings are copied by fetch_start; the caller may free them when it
 * returns. Zero means the default for each number.
 */
struct fetch_request {
	const char	*url;		/* http or https; redirects (at most 5) too */
	const char	*header;	/* one extra "Name: value" line (a secret), or NULL */
	const char	*etag;		/* sent as If-None-Match, or NULL */
	const char	*last_modified;	/* sent as If-Modified-Since, or NULL */
	const char	*user_agent;	/* NULL: "ictmon/<version>" */
	size_t		 max_size;	/* decoded body bytes; 0: no limit when streaming */
	long		 timeout;	/* seconds for the whole transfer; 0: none */
	long		 connect_timeout; /* seconds; 0: 30 */
	long		 low_speed_bytes; /* abort below this many bytes/s ... (0: 1) */
	long		 low_speed_time;  /* ... for this many seconds (0: 60) */
	bool		 refuse_nul;	/* a NUL byte in the body fails the fetch */
};

/*
 * The outcome, valid only during the done callback. error is NULL on success: a 2xx
 * or a 304 (http_status says which; a 304 has no body). Otherwise it is a sentence
 * for feed_run, e.g. "timed out after 30 s", "HTTP 429 (retry after 5 s)",
 * "truncated: connection closed after 10 of 100 bytes". Headers are those of the
 * last response, after redirects; a 304 without validators leaves the caller's as
 * they were.
 */
struct fetch_result {
	int		 http_status;	/* 0 when no response arrived */
	long		 retry_after;	/* seconds from the Retry-After header, -1 none */
	const char	*etag;		/* NULL when absent */
	const char	*last_modified;	/* NULL when absent */
	const char	*url;		/* effective URL after redirects */
	/*
	 * The buffered body, NUL-terminated; for an HTTP error status its first
	 * FETCH_ERROR_BODY_MAX bytes (for the log) in either mode; else NULL.
	 */
	const char	*body;
	size_t		 len;
	size_t		 received;	/* decoded body bytes received, streamed or not */
	const char	*error;
	/*
	 * A mail send only: the server refused this message for good, with a 5xx reply
	 * to its MAIL, RCPT, DATA or end of data; sending it again will not help. Never
	 * for a refusal of the session (greeting, STARTTLS, AUTH, a 530 asking for AUTH:
	 * a configuration to fix, after which the message goes), never for HTTP.
	 */
	bool		 permanent;
};

/*
 * Receives the decoded body (gzip undone) chunk by chunk, only for a 2xx response.
 * Returning false stops the transfer; done then reports "stopped by the receiver".
 */
typedef bool	(*fetch_body_cb)(const char *data, size_t len, void *arg);
typedef void	(*fetch_done_cb)(const struct fetch_result *result, void *arg);

/* One curl multi handle on `base`; NULL when out of memory. */
struct fetcher	*fetcher_new(struct event_base *base);

/*
 * Ends every transfer still running, each with its done callback and an error, then
 * frees everything; no callback runs after it returns. Not from inside a callback.
 */
void		 fetcher_free(struct fetcher *fetcher);

/* Transfers started and not yet done. */
unsigned	 fetcher_active(const struct fetcher *fetcher);

/*
 * Starts a GET. With on_body NULL the body is buffered into the result, bounded by
 * max_size (and FETCH_BUFFERED_MAX). No callback runs inside fetch_start; on_done
 * runs exactly once, later, from the event loop, and the fetch is gone after it.
 * NULL when out of memory or the request is malformed (no URL, a header with a line
 * break): then no callback runs at all. Fine from a done callback (the next page);
 * refused (NULL) from inside a body callback, where curl is running.
 */
struct fetch	*fetch_start(struct fetcher *fetcher, const struct fetch_request *req,
		    fetch_body_cb on_body, fetch_done_cb on_done, void *arg);

/*
 * Sending one email over SMTP on the same multi handle: smtp:// with STARTTLS
 * required (or, for a loopback server only, none) or smtps://. The done callback's
 * result says http_status = the server's last reply code (250 when accepted), error
 * NULL when the message was accepted, else a sentence such as "SMTP 550: mailbox
 * unavailable", "STARTTLS required but not offered by the server", "login denied",
 * "connect timed out after 10 s". Strings are copied; the message is not (it must
 * stay valid until done runs).
 * libcurl waits for the reply to the end of the message (and to a QUIT) without
 * returning to the loop: a server slow to say 250 holds the loop for as long, up to
 * response_timeout (curl's known issue 8555).
 */
struct mail_send {
	const char	*url;		/* smtp://host:port or smtps://host:port */
	bool		 starttls;	/* smtp://: require STARTTLS (false: plain) */
	const char	*from;		/* envelope sender, addr-spec */
	const char	*to;		/* the one envelope recipient, addr-spec */
	const char	*username;	/* AUTH, or NULL for none */
	const char	*password;
	const char	*message;	/* the RFC 5322 message, CRLF line ends */
	size_t		 len;
	long		 timeout;	/* seconds for the whole exchange; 0: 60 */
	long		 connect_timeout; /* seconds; 0: 30 */
	long		 response_timeout; /* seconds to wait for each reply; 0: 30 */
};

/* As fetch_start: NULL when out of memory or malformed; done runs exactly once. */
struct fetch	*fetch_send_mail(struct fetcher *fetcher, const struct mail_send *req,
		    fetch_done_cb on_done, void *arg);

/*
 * Stops a transfer; none of its callbacks runs after this, not even done. Safe from
 * any callback, including its own body callback; not with a fetch already done.
 */
void		 fetch_cancel(struct fetch *fetch);

/*
 * Backpressure for a streamed body: after fetch_pause no more body arrives (the
 * bytes of the call that paused are delivered in full) until fetch_resume, and the
 * low-speed limit does not count the pause; the whole-transfer timeout still does.
 * fetch_resume delivers the held bytes later, from the event loop, never inside the
 * call. Both are safe from any callback of the fetch, and do nothing once it is done.
 */
void		 fetch_pause(struct fetch *fetch);
void		 fetch_resume(struct fetch *fetch);

/*
 * The ETag of the response whose body is arriving, or NULL: valid in body callbacks
 * (the headers are complete before the body starts) until the fetch is done.
 */
const char	*fetch_etag(const struct fetch *fetch);

/*
 * Seconds to wait before retry after `failures` consecutive failures (0: none yet,
 * so no wait): full jitter, a point chosen by `jitter` (a uniform random 32-bit
 * value) in [0, min(cap, base * 2^(failures - 1))]. A larger Retry-After from the
 * server (retry_after >= 0, bounded by FETCH_RETRY_AFTER_MAX) wins.
 */
long		 fetch_backoff(unsigned failures, long base, long cap, long retry_after,
		    uint32_t jitter);

/*
 * A Retry-After header value as seconds from `now`: delta-seconds or an HTTP-date
 * (a date in the past is 0). -1 when it is neither.
 */
long		 fetch_parse_retry_after(const char *value, time_t now);

#endif
