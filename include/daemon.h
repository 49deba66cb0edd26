/*
 * The running daemon: what every module reaches through a request or a timer — the
 * loop, the current configuration, the database pool, the HTTP server, the metrics.
 */
#ifndef ICTMON_DAEMON_H
#define ICTMON_DAEMON_H

#include <time.h>

struct event_base;
struct config;
struct db_pool;
struct http_server;
struct metrics;

struct ictmond {
	struct event_base	*base;
	struct config		*cfg;		/* replaced whole on a good reload */
	struct db_pool		*db;
	struct http_server	*http;
	struct metrics		*metrics;
	time_t			 started;
	int			 draining;	/* SIGTERM received */
};

#endif
