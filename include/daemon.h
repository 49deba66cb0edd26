/*
 * The running daemon: what every module reaches through a request or a timer — the
 * loop, the current configuration, the database pool, the HTTP server, the metrics,
 * the feeds, the indicators, the mailer.
 */
#ifndef ICTMON_DAEMON_H
#define ICTMON_DAEMON_H

#include <time.h>

struct event_base;
struct config;
struct db_pool;
struct feeds;
struct fetcher;
struct http_server;
struct indicators;
struct mailer;
struct metrics;

struct ictmond {
	struct event_base	*base;
	struct config		*cfg;		/* replaced whole on a good reload */
	struct db_pool		*db;
	struct http_server	*http;
	struct metrics		*metrics;
	struct fetcher		*fetcher;	/* the curl multi handle: feeds and SMTP */
	struct feeds		*feeds;
	struct indicators	*indicators;	/* runs and schedules the indicators */
	struct mailer		*mailer;	/* sends the alert emails */
	time_t			 started;
	int			 draining;	/* SIGTERM received */
};

#endif
