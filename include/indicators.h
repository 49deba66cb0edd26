/*
 * The coordination and duplication indicators: their catalogue (what each means, its
 * parameters) and the runs that compute them inside PostgreSQL — one run at a time
 * across every process on a database, after ingest (debounced) and on a period, all
 * of a run's results committed together.
 */
#ifndef ICTMON_INDICATORS_H
#define ICTMON_INDICATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "config.h"

struct db_pool;
struct event_base;
struct metrics;

/*
 * One indicator. Its SQL (sql/indicators/CODE.sql, code in lower case with '_' for
 * '-', compiled into the binaries) runs inside the run's transaction with the run's
 * id and the indicator's parameters available to it as ictmon_run_id() and
 * ictmon_param('name') (sql/006_indicators.sql), and inserts its rows into
 * indicator_result.
 */
struct indicator {
	const char		*code;		/* "OVL-SPEND" */
	const char		*title;		/* "Spending overlap" */
	const char		*subject;	/* "group of awards" */
	const char		*definition;	/* for a finance official, README and the API */
	const char		*sql;
	const enum cfg_id	*params;	/* its indicators.<code>.<name> keys */
	size_t			 nparams;
};

const struct indicator	*indicator_find(const char *code);	/* case-insensitive */
size_t			 indicator_all(const struct indicator *const **out);

/* The parameters as the SQL reads them: {"window_days": 180, ...}; NULL on ENOMEM. */
json_t			*indicator_params(const struct indicator *ind,
			    const struct config *cfg);
/* The same as the text set_config('ictmon.params', ...) takes; NULL on ENOMEM. */
char			*indicator_params_text(const struct indicator *ind,
			    const struct config *cfg);
/*
 * The keys every indicator's parameters hold besides its own (indicators.currency,
 * ...), and how to dump parameters to text: ratios are JSON reals, written with
 * enough digits to read back exactly as configured (0.45, never 0.45000000000000001).
 */
extern const enum cfg_id	 indicator_general_params[];
extern const size_t		 indicator_ngeneral_params;
#define INDICATOR_JSON_FLAGS	(JSON_COMPACT | JSON_REAL_PRECISION(10))

/*
 * When the scheduler runs the catalogue: a pure function of times in seconds (the
 * database's clock), so that it can be tested.
 */
enum indicators_trigger {
	TRIGGER_NONE,
	TRIGGER_INGEST,		/* new data, and none for indicators.debounce */
	TRIGGER_PERIOD,		/* indicators.period since the last run */
};

struct indicators_clock {
	double	now;
	double	last_ingest;	/* the newest finished ingest batch; 0: none */
	double	last_run;	/* the start of the newest whole-catalogue run; 0: none */
	double	since;		/* when this scheduler started: the period's start
				   while no run ever happened */
	long	period;		/* 0: no periodic runs */
	long	debounce;
};

enum indicators_trigger	 indicators_due(const struct indicators_clock *clock);
const char		*indicators_trigger_name(enum indicators_trigger trigger);

struct indicators;

struct indicators_env {
	struct event_base	*base;
	struct db_pool		*db;
	struct metrics		*metrics;	/* may be NULL */
	/* Run after ingest and on indicators.period (ictmond); false: only when asked. */
	bool			 schedule;
	/* After every done run, scheduled or asked for (ictmond: the mailer's kick). */
	void			 (*on_done)(void *arg);
	void			*on_done_arg;
};

/* One indicator's share of a run, for summaries. */
struct indicator_tally {
	const char	*code;
	long long	 results;		/* subjects with a result */
	long long	 by_band[3];		/* low, medium, high */
	double		 seconds;
};

/* What a run did to the alerts (ictmon_alerts_apply). */
struct indicator_alerts {
	long long	fired;		/* new, or back after resolving */
	long long	grew;		/* more agencies involved */
	long long	resolved;
	long long	notices;	/* changes queued for recipients' emails */
};

struct indicators_outcome {
	long long			 run_id;	/* 0 when none started */
	int				 status;	/* 200 done, 409 another run holds
							   the lock, 422 unknown code,
							   503 no database, 500 failed */
	const char			*message;	/* NULL when done */
	const struct indicator_tally	*tallies;
	size_t				 ntallies;
	struct indicator_alerts		 alerts;
	double				 seconds;
};

typedef void	(*indicators_done_cb)(const struct indicators_outcome *outcome, void *arg);

struct indicators	*indicators_new(const struct indicators_env *env);
/* Takes the configuration (kept until the next call); at start and after reloads. */
void			 indicators_configure(struct indicators *ind, const struct config *cfg);
/*
 * Runs `codes` (n of them; 0: the whole catalogue) now. `done` runs once, never
 * inside this call.
 */
void			 indicators_run(struct indicators *ind, const char *const *codes,
			    size_t n, indicators_done_cb done, void *arg);
/* Runs in progress in this process: 0 or 1. */
unsigned		 indicators_running(const struct indicators *ind);
/* Stops scheduling; a run in progress finishes or rolls back; then `cb`. */
void			 indicators_drain(struct indicators *ind, void (*cb)(void *),
			    void *arg);
void			 indicators_free(struct indicators *ind);

#endif
