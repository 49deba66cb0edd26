/*
 * ictmond's main: reads the configuration, checks the database schema, sets up the
 * event loop (signals, database pool, HTTP server) and runs it until a SIGTERM has
 * drained the requests in flight. Everything after start-up happens on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "alerts.h"
#include "api.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "feeds.h"
#include "fetch.h"
#include "http.h"
#include "indicators.h"
#include "log.h"
#include "mailer.h"
#include "metrics.h"
#include "migrate.h"
#include "notify.h"

#define DEFAULT_CONFIG	ICTMON_SYSCONFDIR "/ictmon.conf"
#define MAX_OVERRIDES	256

struct options {
	const char	*config_path;
	const char	*overrides[MAX_OVERRIDES];
	size_t		 noverrides;
	bool		 check_only;
	bool		 foreground;
};

static struct options	 opts;
static struct event	*ev_hup, *ev_term, *ev_int, *ev_drain_timeout;

static noreturn void
usage(void)
{
	fprintf(stderr, "usage: ictmond [-c FILE] [-s key=value]... [-n] [-f]\n"
	    "  -c FILE       configuration file (default %s when it exists)\n"
	    "  -s key=value  set a configuration key, over the file\n"
	    "  -n            check the configuration and exit\n"
	    "  -f            stay in the foreground\n", DEFAULT_CONFIG);
	exit(2);
}

static void
parse_options(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "c:s:nfh")) != -1) {
		switch (ch) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 's':
			if (opts.noverrides == MAX_OVERRIDES)
				fatalx("too many -s options (at most %d)", MAX_OVERRIDES);
			opts.overrides[opts.noverrides++] = optarg;
			break;
		case 'n':
			opts.check_only = true;
			break;
		case 'f':
			opts.foreground = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (opts.config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		opts.config_path = DEFAULT_CONFIG;
}

/* Loads the configuration; on failure logs every error and returns NULL. */
static struct config *
load_config(void)
{
	struct config_errors	 errors = { 0 };
	struct config		*cfg;

	cfg = config_load(opts.config_path, opts.overrides, opts.noverrides, &errors);
	if (cfg != NULL && !alerts_check_config(cfg, &errors)) {
		config_free(cfg);
		cfg = NULL;
	}
	for (size_t i = 0; i < errors.count; i++)
		log_error("config", "%s", errors.lines[i]);
	config_errors_clear(&errors);
	return cfg;
}

static void
apply_log_level(const struct config *cfg)
{
	enum log_level level;

	if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level))
		log_set_level(level);
}

/*
 * Before the loop starts: a database we can reach must have the schema we need, or we
 * refuse to start. One we cannot reach is not fatal: the pool keeps trying and /readyz
 * says why it is not ready.
 */
static void
check_schema(const struct config *cfg)
{
	char	 err[512];
	PGconn	*pg;
	int	 version;

	if ((pg = db_connect_blocking(cfg, "ictmond", err, sizeof(err))) == NULL) {
		log_warn("db", "%s; starting anyway, not ready until it is reachable", err);
		return;
	}
	version = migrate_schema_version(pg, err, sizeof(err));
	PQfinish(pg);
	if (version < 0)
		fatalx("cannot read the schema version: %s", err);
	if (version < migrations_latest())
		fatalx("database schema is at version %d, ictmond needs %d: run `ictmonctl "
		    "migrate`", version, migrations_latest());
	if (version > migrations_latest())
		log_warn("db", "database schema is at version %d, newer than this ictmond "
		    "(%d): upgrade ictmond", version, migrations_latest());
}

/* Leaves the terminal: stdin and stdout to /dev/null, stderr kept for the log. */
static void
daemonize(void)
{
	int fd;

	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* SIGHUP: a good new configuration replaces the old; a bad one is logged and ignored. */
static void
on_reload(evutil_socket_t sig, short events, void *arg)
{
	struct ictmond	*d = arg;
	struct config	*next;
	const char	*changed[CFG__COUNT];
	size_t		 nchanged;

	notify_systemd("RELOADING=1");
	log_info("main", "reloading configuration from %s",
	    opts.config_path ? opts.config_path : "(built-in defaults)");
	if ((next = load_config()) == NULL) {
		log_error("main", "reload failed: keeping the current configuration");
		notify_systemd("READY=1");
		return;
	}
	nchanged = config_restart_changes(d->cfg, next, changed, CFG__COUNT);
	for (size_t i = 0; i < nchanged; i++)
		log_warn("main", "%s changed: it takes effect after a restart", changed[i]);
	/* Keys that need a restart keep their running value until then. */
	for (size_t i = 0; i < CFG__COUNT; i++) {
		if (config_keys[i].flags & CFG_RESTART) {
			struct cfg_value running = d->cfg->values[i];

			d->cfg->values[i] = next->values[i];
			next->values[i] = running;
		}
	}
	/* The feeds and the indicators let go of the old configuration before it goes. */
	feeds_configure(d->feeds, next);
	indicators_configure(d->indicators, next);
	mailer_configure(d->mailer, next);
	config_free(d->cfg);
	d->cfg = next;
	apply_log_level(d->cfg);
	http_server_configure(d->http, d->cfg);
	log_info("main", "configuration reloaded");
	notify_systemd("READY=1");
}

/*
 * Requests in flight, feed runs, an indicator run and emails being sent drain side
 * by side; the last to finish exits.
 */
static int	draining_parts;

static void
on_drained(void *arg)
{
	struct ictmond *d = arg;

	if (--draining_parts > 0)
		return;
	log_info("main", "no request in flight, no feed or indicator running: exiting");
	event_base_loopexit(d->base, NULL);
}

static void
on_drain_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct ictmond *d = arg;

	log_warn("main", "%u requests, %u feed runs and %u indicator runs still in "
	    "flight after %llds: exiting", http_server_in_flight(d->http),
	    feeds_running(d->feeds), indicators_running(d->indicators),
	    config_int(d->cfg, CFG_HTTP_DRAIN_TIMEOUT));
	event_base_loopexit(d->base, NULL);
}

/* SIGTERM, SIGINT: stop accepting, let requests in flight finish, then exit 0. */
static void
on_terminate(evutil_socket_t sig, short events, void *arg)
{
	struct ictmond	*d = arg;
	struct timeval	 tv = { 0, 0 };

	if (d->draining) {
		log_warn("main", "second signal %d: exiting now", (int)sig);
		event_base_loopbreak(d->base);
		return;
	}
	d->draining = 1;
	notify_systemd("STOPPING=1");
	log_info("main", "signal %d: draining %u requests in flight, %u feed runs and %u "
	    "indicator runs", (int)sig, http_server_in_flight(d->http),
	    feeds_running(d->feeds), indicators_running(d->indicators));
	tv.tv_sec = config_int(d->cfg, CFG_HTTP_DRAIN_TIMEOUT);
	if ((ev_drain_timeout = evtimer_new(d->base, on_drain_timeout, d)) == NULL ||
	    evtimer_add(ev_drain_timeout, &tv) == -1)
		fatalx("cannot arm the drain timer");
	draining_parts = 4;
	http_server_drain(d->http, on_drained, d);
	feeds_drain(d->feeds, on_drained, d);
	indicators_drain(d->indicators, on_drained, d);
	mailer_drain(d->mailer, on_drained, d);
}

static void
install_signals(struct ictmond *d)
{
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("ignoring SIGPIPE");
	if ((ev_hup = evsignal_new(d->base, SIGHUP, on_reload, d)) == NULL ||
	    evsignal_add(ev_hup, NULL) == -1)
		fatalx("cannot install SIGHUP");
	if ((ev_term = evsignal_new(d->base, SIGTERM, on_terminate, d)) == NULL ||
	    evsignal_add(ev_term, NULL) == -1)
		fatalx("cannot install SIGTERM");
	if ((ev_int = evsignal_new(d->base, SIGINT, on_terminate, d)) == NULL ||
	    evsignal_add(ev_int, NULL) == -1)
		fatalx("cannot install SIGINT");
}

static void
start_database(struct ictmond *d)
{
	struct db_pool_params p = {
		.conninfo = config_str(d->cfg, CFG_DB_CONNINFO),
		.password = config_secret(d->cfg, CFG_DB_PASSWORD_FILE),
		.size = (int)config_int(d->cfg, CFG_DB_POOL),
		.queue_max = (int)config_int(d->cfg, CFG_DB_QUEUE_MAX),
		.connect_timeout = (int)config_int(d->cfg, CFG_DB_CONNECT_TIMEOUT),
		.reconnect_max = (int)config_int(d->cfg, CFG_DB_RECONNECT_MAX),
		.schema_version = migrations_latest(),
		.application_name = "ictmond",
		.held_to_rls = true,
	};

	if ((d->db = db_pool_new(d->base, &p)) == NULL)
		fatalx("cannot create the database pool");
	db_pool_start(d->db);
}

static void
start_feeds(struct ictmond *d)
{
	struct feeds_env env;

	if ((d->fetcher = fetcher_new(d->base)) == NULL)
		fatalx("cannot create the feed fetcher");
	memset(&env, 0, sizeof(env));
	env.base = d->base;
	env.db = d->db;
	env.fetcher = d->fetcher;
	env.metrics = d->metrics;
	env.schedule = true;
	if ((d->feeds = feeds_new(&env)) == NULL)
		fatalx("cannot create the feeds");
	feeds_configure(d->feeds, d->cfg);
}

static void	on_indicators_done(void *);

static void
start_indicators(struct ictmond *d)
{
	struct indicators_env env;

	memset(&env, 0, sizeof(env));
	env.base = d->base;
	env.db = d->db;
	env.metrics = d->metrics;
	env.schedule = true;
	env.on_done = on_indicators_done;
	env.on_done_arg = d;
	if ((d->indicators = indicators_new(&env)) == NULL)
		fatalx("cannot create the indicators' scheduler");
	indicators_configure(d->indicators, d->cfg);
}

/* The mailer sends what the alerts of a run queued without waiting for its tick. */
static void
on_indicators_done(void *arg)
{
	struct ictmond *d = arg;

	if (d->mailer != NULL)
		mailer_kick(d->mailer);
}

static void
start_mailer(struct ictmond *d)
{
	static char		instance[300];
	char			host[256];
	struct mailer_env	env;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(instance, sizeof(instance), "%s:%ld", host, (long)getpid());
	memset(&env, 0, sizeof(env));
	env.base = d->base;
	env.db = d->db;
	env.fetcher = d->fetcher;
	env.metrics = d->metrics;
	env.instance = instance;
	if ((d->mailer = mailer_new(&env)) == NULL)
		fatalx("cannot create the mailer");
	mailer_configure(d->mailer, d->cfg);
}

int
main(int argc, char **argv)
{
	struct ictmond d = { 0 };

	parse_options(argc, argv);
	if ((d.cfg = load_config()) == NULL) {
		if (opts.check_only)
			fprintf(stderr, "configuration has errors\n");
		return 1;
	}
	if (opts.check_only) {
		printf("configuration OK\n");
		config_free(d.cfg);
		return 0;
	}
	apply_log_level(d.cfg);
	check_schema(d.cfg);
	if (!opts.foreground)
		daemonize();

	d.started = time(NULL);
	if ((d.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((d.metrics = metrics_new()) == NULL)
		fatalx("cannot create the metrics registry");
	install_signals(&d);
	start_database(&d);
	start_feeds(&d);
	start_indicators(&d);
	start_mailer(&d);
	if ((d.http = http_server_new(&d, api_routes, api_nroutes)) == NULL)
		fatalx("cannot create the HTTP server");
	http_server_configure(d.http, d.cfg);
	if (!http_server_listen(d.http, config_str(d.cfg, CFG_HTTP_LISTEN)))
		fatalx("cannot listen on %s", config_str(d.cfg, CFG_HTTP_LISTEN));

	log_info("main", "ictmond %s listening on %s", ICTMON_VERSION,
	    config_str(d.cfg, CFG_HTTP_LISTEN));
	notify_systemd("READY=1");
	if (event_base_dispatch(d.base) == -1)
		fatalx("event loop failed");

	/*
	 * The pool fails what is still queued; handlers may reply through the server,
	 * feed and indicator runs hear of their statements, so all are freed after it.
	 */
	db_pool_free(d.db);
	feeds_free(d.feeds);
	indicators_free(d.indicators);
	mailer_free(d.mailer);
	fetcher_free(d.fetcher);
	http_server_free(d.http);
	if (ev_drain_timeout != NULL)
		event_free(ev_drain_timeout);
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	metrics_free(d.metrics);
	config_free(d.cfg);
	event_base_free(d.base);
	libevent_global_shutdown();
	log_info("main", "stopped");
	return 0;
}
