/*
 * The indicators (include/indicators.h): the catalogue, each entry's parameters as
 * its SQL reads them, the runs that compute them inside PostgreSQL on one borrowed
 * connection under an advisory lock, and the scheduler that starts runs after new
 * data settles and on a period. What each indicator computes is its SQL's
 * (sql/indicators/); this file only orders, times and records.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "config.h"
#include "db.h"
#include "indicators.h"
#include "log.h"
#include "metrics.h"

/*
 * One run at a time across every process on a database: a session advisory lock,
 * apart from the migrations' 0x6963746d6f6e0001 ("ictmon" then 1).
 */
#define RUN_LOCK_KEY		"7594041410046525442"	/* 0x6963746d6f6e0002 */

#define POLL_MAX_SECONDS	5	/* how old the scheduler's view of new data gets */
#define MESSAGE_MAX		1024

#define METRIC_RUNS		"ictmon_indicator_runs_total"
#define METRIC_RUN_SECONDS	"ictmon_indicator_run_seconds"
#define METRIC_ALERTS		"ictmon_alerts_total"
#define METRIC_NOTICES		"ictmon_alert_notices_total"
#define METRIC_SECONDS		"ictmon_indicator_seconds"
#define METRIC_RESULTS		"ictmon_indicator_results"

/* The SQL of each indicator, compiled in by cmake/embed_indicators.cmake. */
extern const char indicator_sql_dup_project[], indicator_sql_ovl_spend[],
    indicator_sql_ovl_tender[], indicator_sql_ovl_platform[], indicator_sql_split[],
    indicator_sql_repeat_direct[], indicator_sql_conc_vendor[],
    indicator_sql_unreviewed_spend[], indicator_sql_cv[], indicator_sql_sv[],
    indicator_sql_budget_exec[], indicator_sql_coord_index[], indicator_sql_feed_stale[];

const enum cfg_id indicator_general_params[] = {
	CFG_IND_CURRENCY, CFG_IND_ICT_UNSPSC, CFG_IND_ICT_BUDGET, CFG_IND_CLASS_DIGITS,
	CFG_IND_CPV_DIGITS, CFG_IND_FRAMEWORK_METHODS,
};
const size_t indicator_ngeneral_params =
    sizeof(indicator_general_params) / sizeof(indicator_general_params[0]);

static const enum cfg_id dup_project_params[] = {
	CFG_IND_DUP_PROJECT_MIN_SIMILARITY, CFG_IND_DUP_PROJECT_STATUSES,
	CFG_IND_DUP_PROJECT_REQUIRE_SHARED_CATEGORY,
};
static const enum cfg_id ovl_spend_params[] = {
	CFG_IND_OVL_SPEND_WINDOW_DAYS, CFG_IND_OVL_SPEND_MIN_BUYERS,
	CFG_IND_OVL_SPEND_MIN_TOTAL, CFG_IND_OVL_SPEND_ICT_ONLY,
};
static const enum cfg_id ovl_tender_params[] = {
	CFG_IND_OVL_TENDER_WINDOW_DAYS, CFG_IND_OVL_TENDER_MIN_AMOUNT,
	CFG_IND_OVL_TENDER_ICT_ONLY,
};
static const enum cfg_id ovl_platform_params[] = {
	CFG_IND_OVL_PLATFORM_PLATFORMS,
};
static const enum cfg_id split_params[] = {
	CFG_IND_SPLIT_THRESHOLD, CFG_IND_SPLIT_WINDOW_DAYS, CFG_IND_SPLIT_METHODS,
	CFG_IND_SPLIT_MIN_AWARDS,
};
static const enum cfg_id repeat_direct_params[] = {
	CFG_IND_REPEAT_DIRECT_MAX_AWARDS, CFG_IND_REPEAT_DIRECT_WINDOW_DAYS,
};
static const enum cfg_id conc_vendor_params[] = {
	CFG_IND_CONC_VENDOR_TOP_SHARE, CFG_IND_CONC_VENDOR_HHI_HIGH,
	CFG_IND_CONC_VENDOR_HHI_MEDIUM,
};
static const enum cfg_id unreviewed_spend_params[] = {
	CFG_IND_UNREVIEWED_SPEND_THRESHOLD,
};
static const enum cfg_id cv_params[] = {
	CFG_IND_CV_MEDIUM, CFG_IND_CV_HIGH, CFG_IND_CV_WINDOW_MONTHS,
};
static const enum cfg_id sv_params[] = {
	CFG_IND_SV_MEDIUM, CFG_IND_SV_HIGH, CFG_IND_SV_WINDOW_MONTHS,
};
static const enum cfg_id budget_exec_params[] = {
	CFG_IND_BUDGET_EXEC_OVERRUN, CFG_IND_BUDGET_EXEC_UNDER,
};
static const enum cfg_id coord_index_params[] = {
	CFG_IND_COORD_INDEX_STALE_DAYS,
};
static const enum cfg_id feed_stale_params[] = {
	CFG_IND_FEED_STALE_DAYS, CFG_IND_FEED_STALE_FAILURES,
};

#define PARAMS(a)	a, sizeof(a) / sizeof(a[0])

/* The catalogue, in the order runs compute it (COORD-INDEX aside: it goes last). */
static const struct indicator catalogue[] = {
	{ "DUP-PROJECT", "Duplicate projects", "cluster of projects",
	  "Active projects of different agencies whose titles and descriptions say much "
	  "the same thing (ignoring case, accents, punctuation and common words), that "
	  "share a category or capability and run at overlapping times. Projects linked "
	  "in pairs form a cluster; its potential saving is the combined cost minus the "
	  "largest project's.",
	  indicator_sql_dup_project, PARAMS(dup_project_params) },
	{ "OVL-SPEND", "Spending overlap", "group of awards",
	  "Several agencies (3 by default) bought the same class of goods or services "
	  "(UNSPSC class or CPV group) within a few months (180 days by default), "
	  "outside framework agreements, for a combined amount above the threshold: one "
	  "joint purchase could have cost less.",
	  indicator_sql_ovl_spend, PARAMS(ovl_spend_params) },
	{ "OVL-TENDER", "Tender overlap", "open tender",
	  "An agency's open tender, not yet awarded, is for the same class of goods or "
	  "services as another agency's open tender or recent award (of the last 365 "
	  "days by default), above a minimum amount. It is caught before the money is "
	  "committed, while a joint purchase or a shared platform is still possible.",
	  indicator_sql_ovl_tender, PARAMS(ovl_tender_params) },
	{ "OVL-PLATFORM", "Shared platform not reused", "project",
	  "A project builds a capability that a government shared platform already "
	  "provides (digital signature with FirmaGob, identity with ClaveÚnica, ...) "
	  "instead of reusing that platform.",
	  indicator_sql_ovl_platform, PARAMS(ovl_platform_params) },
	{ "SPLIT", "Split purchase", "buyer and supplier, or buyer and class",
	  "Two or more direct or limited-competition awards, each under the threshold "
	  "that requires an open tender, whose sum within a short time (90 days by "
	  "default) exceeds it: a purchase may have been split to avoid a tender.",
	  indicator_sql_split, PARAMS(split_params) },
	{ "REPEAT-DIRECT", "Repeated direct awards", "buyer and supplier",
	  "An agency gave one supplier more direct awards, without competition, than "
	  "allowed in a year (more than 3 within 365 days by default).",
	  indicator_sql_repeat_direct, PARAMS(repeat_direct_params) },
	{ "CONC-VENDOR", "Supplier concentration", "agency",
	  "How concentrated an agency's ICT spending is among its suppliers: the "
	  "Herfindahl index (0 to 10,000; by default high from 2,500, medium from "
	  "1,500) and the share of its largest supplier (flagged above one half by "
	  "default).",
	  indicator_sql_conc_vendor, PARAMS(conc_vendor_params) },
	{ "UNREVIEWED-SPEND", "Spending outside review", "agency",
	  "ICT purchases (UNSPSC 43 and 8111) or ICT budget lines above the review "
	  "threshold that are not linked to any project the digital government unit "
	  "approved. High from five times the threshold.",
	  indicator_sql_unreviewed_spend, PARAMS(unreviewed_spend_params) },
	{ "CV", "Cost variance", "project",
	  "How far a project's projected (or final) cost is from its planned cost, as the "
	  "US IT Dashboard measures it: CV = planned cost - projected cost, CV% = CV / "
	  "planned cost x 100. By default within 10% either way is low, 10 to 30% "
	  "medium, beyond 30% high; the change over the last six months and the number "
	  "of rebaselines (changes of the planned values) come with it.",
	  indicator_sql_cv, PARAMS(cv_params) },
	{ "SV", "Schedule variance", "project",
	  "How far a project's projected (or actual) end is from its planned end, as the "
	  "US IT Dashboard measures it: SV days = planned end - projected end, SV% = SV "
	  "days / planned duration x 100, banded like CV.",
	  indicator_sql_sv, PARAMS(sv_params) },
	{ "BUDGET-EXEC", "Budget execution", "agency and fiscal year",
	  "How much of an agency's ICT budget for a year it has spent: accrued / approved "
	  "(the modified budget where there is one). By default over 100% is an "
	  "overrun (high); under 50% is under-execution (medium) once it is late in the "
	  "year: after September, or for a past year. A year with no spending reported "
	  "at all is missing data, not 0%: it is not banded.",
	  indicator_sql_budget_exec, PARAMS(budget_exec_params) },
	{ "COORD-INDEX", "Coordination index", "agency",
	  "One score of how well an agency coordinates its ICT with the rest of "
	  "government, 0 to 100: the mean of the share of its projects reviewed, the "
	  "share of its ICT spending through framework agreements, its reuse of shared "
	  "platforms, and how fresh and how complete its data is. Below 40 is high "
	  "(poorly coordinated), 40 to 70 medium.",
	  indicator_sql_coord_index, PARAMS(coord_index_params) },
	{ "FEED-STALE", "Stale data", "agency or feed",
	  "No new data about an agency has arrived for a week (7 days by default), or a "
	  "feed is not delivering: it has failed several times in a row (3 by default) "
	  "or not succeeded for that week. What the other indicators say about that "
	  "agency may be out of date.",
	  indicator_sql_feed_stale, PARAMS(feed_stale_params) },
};

#define NINDICATORS	(sizeof(catalogue) / sizeof(catalogue[0]))
#define INDICATOR_WORK_MEM	"256MB"
/* It reads the results of the run's other indicators, so it runs after them. */
#define RUNS_LAST	"COORD-INDEX"

static const struct indicator *const catalogue_refs[] = {
	&catalogue[0], &catalogue[1], &catalogue[2], &catalogue[3], &catalogue[4],
	&catalogue[5], &catalogue[6], &catalogue[7], &catalogue[8], &catalogue[9],
	&catalogue[10], &catalogue[11], &catalogue[12],
};
_Static_assert(sizeof(catalogue_refs) / sizeof(catalogue_refs[0]) == NINDICATORS,
    "catalogue_refs lists every indicator");

const struct indicator *
indicator_find(const char *code)
{
	for (size_t i = 0; i < NINDICATORS; i++)
		if (strcasecmp(catalogue[i].code, code) == 0)
			return &catalogue[i];
	return NULL;
}

size_t
indicator_all(const struct indicator *const **out)
{
	*out = catalogue_refs;
	return NINDICATORS;
}

/* "indicators.ovl_spend.window_days" → "window_days": the name its SQL reads. */
static const char *
param_name(enum cfg_id id)
{
	const char *dot = strrchr(config_keys[id].name, '.');

	return dot != NULL ? dot + 1 : config_keys[id].name;
}

/* A value as its SQL reads it; amounts stay text so that no double touches them. */
static json_t *
param_json(const struct config *cfg, enum cfg_id id)
{
	const struct cfg_value *v = &cfg->values[id];

	if (v->text == NULL)
		return json_null();
	switch (config_keys[id].type) {
	case CFG_INT:
	case CFG_SECONDS:
	case CFG_BYTES:
		return json_integer(v->number);
	case CFG_BOOL:
		return json_boolean(v->number != 0);
	case CFG_RATIO:
		return json_real((double)v->number / 1e6);
	default:
		return json_string(v->text);
	}
}

static int
params_add(json_t *obj, const struct config *cfg, const enum cfg_id *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (json_object_set_new(obj, param_name(ids[i]),
		    param_json(cfg, ids[i])) == -1)
			return -1;
	return 0;
}

json_t *
indicator_params(const struct indicator *ind, const struct config *cfg)
{
	json_t *params;

	if ((params = json_object()) == NULL)
		return NULL;
	if (params_add(params, cfg, indicator_general_params,
	    indicator_ngeneral_params) == -1 ||
	    params_add(params, cfg, ind->params, ind->nparams) == -1) {
		json_decref(params);
		return NULL;
	}
	return params;
}

char *
indicator_params_text(const struct indicator *ind, const struct config *cfg)
{
	json_t	*params = indicator_params(ind, cfg);
	char	*text = NULL;

	if (params != NULL)
		text = json_dumps(params, INDICATOR_JSON_FLAGS);
	json_decref(params);
	return text;
}

/* --- When to run ----------------------------------------------------------------- */

enum indicators_trigger
indicators_due(const struct indicators_clock *c)
{
	/* A restart does not put the period off: only with no run ever does it count. */
	double since = c->last_run > 0 ? c->last_run : c->since;

	/* New data since the last run started, and it has stopped coming. */
	if (c->last_ingest > 0 && c->last_ingest > c->last_run &&
	    c->now - c->last_ingest >= (double)c->debounce)
		return TRIGGER_INGEST;
	if (c->period > 0 && c->now - since >= (double)c->period)
		return TRIGGER_PERIOD;
	return TRIGGER_NONE;
}

const char *
indicators_trigger_name(enum indicators_trigger trigger)
{
	switch (trigger) {
	case TRIGGER_INGEST:
		return "ingest";
	case TRIGGER_PERIOD:
		return "period";
	default:
		return "manual";
	}
}

/* --- Runs ------------------------------------------------------------------------ */

enum run_state {
	RUN_ACQUIRING,		/* waiting for a connection */
	RUN_LOCKING,		/* pg_try_advisory_lock */
	RUN_BEGIN,		/* from here to RUN_UPDATE: inside the transaction */
	RUN_INSERT,		/* the indicator_run row */
	RUN_SET_CONFIG,		/* the next indicator's run id and parameters */
	RUN_INDICATOR,		/* its SQL */
	RUN_TALLY,
	RUN_ALERTS,		/* the alert rules over the run's results */
	RUN_UPDATE,		/* the run's row: done, tallies */
	RUN_COMMIT,
	RUN_ROLLBACK,
	RUN_RECORD_FAILED,	/* a failed run's own row, after the rollback */
	RUN_UNLOCK,
};

struct run {
	struct indicators		*ind;
	struct db_conn			*conn;
	enum run_state			 state;
	enum indicators_trigger		 trigger;
	indicators_done_cb		 done;
	void				*arg;

	/* What it computes, in order, with each one's parameters as the SQL reads them. */
	const struct indicator		*list[NINDICATORS];
	char				*params[NINDICATORS];
	struct indicator_tally		 tallies[NINDICATORS];
	size_t				 n, next;
	char				*codes;		/* text[] literal of the codes */
	char				*rules;		/* the alert rules, JSON */
	struct indicator_alerts		 alerts;

	long long			 run_id;
	char				 run_text[24];
	bool				 locked;	/* holds RUN_LOCK_KEY */
	char				 backend_pid[16];	/* its connection's */
	struct timespec			 began, indicator_began;

	int				 status;	/* 0 until decided */
	char				*message;
};

struct indicators {
	struct indicators_env	 env;
	const struct config	*cfg;
	struct run		*run;		/* the one in progress here */
	char			*all_codes;	/* text[] literal of the catalogue */

	struct event		*poll_timer;
	bool			 polling;	/* its statement is out */
	double			 since;		/* the database's clock at the first poll */
	bool			 draining;
	void			 (*drained)(void *);
	void			*drained_arg;
};

static void	run_step(struct run *, PGresult *, const char *);
static void	poll_later(struct indicators *, long);
static long	poll_interval(const struct indicators *);

static double
seconds_since(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* {A,B}: a text[] literal of codes, which are [A-Z0-9-] and need no quoting. */
static char *
codes_literal(const struct indicator *const *list, size_t n)
{
	size_t	 len = 3, o = 0;
	char	*text;

	for (size_t i = 0; i < n; i++)
		len += strlen(list[i]->code) + 1;
	if ((text = malloc(len)) == NULL)
		return NULL;
	text[o++] = '{';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, len - o, "%s%s", i > 0 ? "," : "",
		    list[i]->code);
	snprintf(text + o, len - o, "}");
	return text;
}

/* The outcome of a run that never started, handed over from the loop. */
struct refusal {
	indicators_done_cb	 done;
	void			*arg;
	int			 status;
	char			 message[MESSAGE_MAX];
};

static void
on_refusal(evutil_socket_t fd, short events, void *arg)
{
	struct refusal			*r = arg;
	struct indicators_outcome	 o;

	memset(&o, 0, sizeof(o));
	o.status = r->status;
	o.message = r->message;
	r->done(&o, r->arg);
	free(r);
}

static void	refuse(struct indicators *, indicators_done_cb, void *, int, const char *,
		    ...) __attribute__((format(printf, 5, 6)));

static void
refuse(struct indicators *ind, indicators_done_cb done, void *arg, int status,
    const char *fmt, ...)
{
	struct refusal	*r;
	struct timeval	 now = { 0, 0 };
	va_list		 ap;

	if (done == NULL)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_error("indicators", "out of memory: a refused run is not reported");
		return;
	}
	r->done = done;
	r->arg = arg;
	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	if (event_base_once(ind->env.base, -1, EV_TIMEOUT, on_refusal, r, &now) == -1) {
		log_error("indicators", "cannot schedule a reply: a refused run is not "
		    "reported");
		free(r);
	}
}

static void
count_run(struct indicators *ind, const struct run *run, const char *status)
{
	char labels[96];

	if (ind->env.metrics == NULL)
		return;
	snprintf(labels, sizeof(labels), "trigger=\"%s\",status=\"%s\"",
	    indicators_trigger_name(run->trigger), status);
	metrics_count(ind->env.metrics, METRIC_RUNS, labels, 1);
}

static void
run_free(struct run *run)
{
	if (run == NULL)
		return;
	for (size_t i = 0; i < run->n; i++)
		free(run->params[i]);
	free(run->codes);
	free(run->rules);
	free(run->message);
	free(run);
}

static void
set_results_gauges(struct indicators *ind, const struct run *run)
{
	static const char *const bands[] = { "low", "medium", "high" };
	char labels[96];

	if (ind->env.metrics == NULL)
		return;
	for (size_t i = 0; i < run->n; i++) {
		for (size_t b = 0; b < 3; b++) {
			snprintf(labels, sizeof(labels), "code=\"%s\",band=\"%s\"",
			    run->tallies[i].code, bands[b]);
			metrics_set(ind->env.metrics, METRIC_RESULTS, labels,
			    (double)run->tallies[i].by_band[b]);
		}
	}
}

static void
drained_now(evutil_socket_t fd, short events, void *arg)
{
	struct indicators	*ind = arg;
	void			 (*cb)(void *) = ind->drained;

	if (cb == NULL)
		return;
	ind->drained = NULL;
	cb(ind->drained_arg);
}

/* What the run's alert rules changed (committed with the run). */
static void
count_alerts(struct indicators *ind, const struct run *run)
{
	metrics_count(ind->env.metrics, METRIC_ALERTS, "change=\"fired\"",
	    (double)run->alerts.fired);
	metrics_count(ind->env.metrics, METRIC_ALERTS, "change=\"grew\"",
	    (double)run->alerts.grew);
	metrics_count(ind->env.metrics, METRIC_ALERTS, "change=\"resolved\"",
	    (double)run->alerts.resolved);
	metrics_count(ind->env.metrics, METRIC_NOTICES, "", (double)run->alerts.notices);
}

/* The run is over, its connection given back: report, then forget it. */
static void
run_end(struct run *run)
{
	struct indicators		*ind = run->ind;
	struct indicators_outcome	 o;
	struct timeval			 now = { 0, 0 };
	double				 seconds = seconds_since(&run->began);

	ind->run = NULL;
	if (run->status == 200) {
		count_run(ind, run, "done");
		set_results_gauges(ind, run);
		if (ind->env.metrics != NULL) {
			metrics_observe(ind->env.metrics, METRIC_RUN_SECONDS, "", seconds);
			count_alerts(ind, run);
		}
	} else
		count_run(ind, run, run->status == 409 ? "busy" :
		    run->status == 503 ? "unavailable" : "failed");

	memset(&o, 0, sizeof(o));
	o.run_id = run->run_id;
	o.status = run->status;
	o.message = run->message;
	o.tallies = run->tallies;
	o.alerts = run->alerts;
	o.ntallies = run->status == 200 ? run->n : 0;
	o.seconds = seconds;
	if (run->done != NULL)
		run->done(&o, run->arg);
	if (run->status == 200 && ind->env.on_done != NULL)
		ind->env.on_done(ind->env.on_done_arg);
	run_free(run);

	if (ind->draining && ind->drained != NULL)
		event_base_once(ind->env.base, -1, EV_TIMEOUT, drained_now, ind, &now);
	else if (!ind->draining && ind->env.schedule)
		poll_later(ind, poll_interval(ind));
}

static void
on_statement(PGresult *res, const char *error, void *arg)
{
	run_step(arg, res, error);
}

/* Sends the run's next statement; a refusal of libpq is a lost connection. */
static void
run_query(struct run *run, enum run_state state, const char *sql, int n,
    const char *const *values)
{
	run->state = state;
	if (db_conn_query(run->conn, sql, n, values, on_statement, run) == -1)
		run_step(run, NULL, "connection to the database lost");
}

static void
run_fail(struct run *run, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Remembers why the run failed (the first reason counts). */
static void
run_fail(struct run *run, int status, const char *fmt, ...)
{
	va_list	ap;
	char	message[MESSAGE_MAX];

	if (run->status != 0 && run->status != 200)
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	free(run->message);
	run->message = strdup(message);
	run->status = status;
}

static void
run_release(struct run *run)
{
	db_release(run->conn);
	run->conn = NULL;
	run_end(run);
}

static void
run_unlock(struct run *run)
{
	static const char	 sql[] = "SELECT pg_advisory_unlock(" RUN_LOCK_KEY ")";

	if (!run->locked) {
		run_release(run);
		return;
	}
	run_query(run, RUN_UNLOCK, sql, 0, NULL);
}

/* After an error inside the transaction: undo everything, then say so in a row. */
static void
run_rollback(struct run *run)
{
	run_query(run, RUN_ROLLBACK, "ROLLBACK", 0, NULL);
}

static void
run_record_failed(struct run *run)
{
	/* Its own row: the one the transaction inserted is gone with the rollback. */
	static const char	 sql[] =
	    "INSERT INTO indicator_run (trigger, codes, status, started_at, finished_at,"
	    " message) VALUES ($1, $2::text[], 'failed',"
	    " clock_timestamp() - $3::double precision * interval '1 second',"
	    " clock_timestamp(), $4) RETURNING id";
	const char		*values[4];
	char			 seconds[32];

	snprintf(seconds, sizeof(seconds), "%.3f", seconds_since(&run->began));
	values[0] = indicators_trigger_name(run->trigger);
	values[1] = run->codes;
	values[2] = seconds;
	values[3] = run->message != NULL ? run->message : "failed";
	run->run_id = 0;
	run_query(run, RUN_RECORD_FAILED, sql, 4, values);
}

static void
run_next_indicator(struct run *run)
{
	/*
	 * Every indicator sorts and hashes over whole tables: with the memory for it
	 * (given afresh to each, so that none inherits another's settings) they stay
	 * in memory rather than spill to disk in batches.
	 */
	static const char	 sql[] =
	    "SELECT set_config('ictmon.run_id', $1, true),"
	    " set_config('ictmon.params', $2, true),"
	    " set_config('work_mem', '" INDICATOR_WORK_MEM "', true)";
	const char		*values[2];

	if (run->ind->draining) {
		run_fail(run, 503, "stopped: the daemon is shutting down");
		run_rollback(run);
		return;
	}
	if (run->next == run->n) {
		static const char tally[] =
		    "SELECT code, count(*), count(*) FILTER (WHERE band = 'low'),"
		    " count(*) FILTER (WHERE band = 'medium'),"
		    " count(*) FILTER (WHERE band = 'high')"
		    " FROM indicator_result WHERE run_id = $1 GROUP BY code";

		values[0] = run->run_text;
		run_query(run, RUN_TALLY, tally, 1, values);
		return;
	}
	values[0] = run->run_text;
	values[1] = run->params[run->next];
	run_query(run, RUN_SET_CONFIG, sql, 2, values);
}

static void
run_indicator_sql(struct run *run)
{
	const struct indicator *i = run->list[run->next];

	run->state = RUN_INDICATOR;
	clock_gettime(CLOCK_MONOTONIC, &run->indicator_began);
	log_debug("indicators", "run %lld: %s", run->run_id, i->code);
	if (db_conn_query_simple(run->conn, i->sql, on_statement, run) == -1)
		run_step(run, NULL, "connection to the database lost");
}

static void
run_indicator_done(struct run *run)
{
	struct indicator_tally	*t = &run->tallies[run->next];
	char			 labels[64];

	t->seconds = seconds_since(&run->indicator_began);
	if (run->ind->env.metrics != NULL) {
		snprintf(labels, sizeof(labels), "code=\"%s\"", t->code);
		metrics_observe(run->ind->env.metrics, METRIC_SECONDS, labels, t->seconds);
	}
	run->next++;
	run_next_indicator(run);
}

static void
run_read_tallies(struct run *run, const PGresult *res)
{
	for (int r = 0; r < PQntuples(res); r++) {
		const char *code = PQgetvalue(res, r, 0);

		for (size_t i = 0; i < run->n; i++) {
			struct indicator_tally *t = &run->tallies[i];

			if (strcmp(t->code, code) != 0)
				continue;
			t->results = strtoll(PQgetvalue(res, r, 1), NULL, 10);
			for (int b = 0; b < 3; b++)
				t->by_band[b] = strtoll(PQgetvalue(res, r, 2 + b), NULL,
				    10);
		}
	}
}

/* {"CV": {"results": 12, "low": 3, "medium": 2, "high": 1, "seconds": 0.042}, ...} */
static char *
tallies_json(const struct run *run)
{
	json_t	*all, *one;
	char	*text = NULL;

	if ((all = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < run->n; i++) {
		const struct indicator_tally *t = &run->tallies[i];

		one = json_pack("{s:I, s:I, s:I, s:I, s:f}", "results",
		    (json_int_t)t->results, "low", (json_int_t)t->by_band[0], "medium",
		    (json_int_t)t->by_band[1], "high", (json_int_t)t->by_band[2],
		    "seconds", round(t->seconds * 1000) / 1000);
		if (one == NULL || json_object_set_new(all, t->code, one) == -1)
			goto out;
	}
	text = json_dumps(all, INDICATOR_JSON_FLAGS);
out:
	json_decref(all);
	return text;
}

static void
run_finish_tx(struct run *run)
{
	static const char	 sql[] =
	    "UPDATE indicator_run SET status = 'done', finished_at = clock_timestamp(),"
	    " tallies = $2::jsonb WHERE id = $1";
	const char		*values[2];
	char			*tallies;

	if ((tallies = tallies_json(run)) == NULL) {
		run_fail(run, 500, "out of memory");
		run_rollback(run);
		return;
	}
	values[0] = run->run_text;
	values[1] = tallies;
	run_query(run, RUN_UPDATE, sql, 2, values);
	free(tallies);
}

/*
 * Where the run goes after a statement. Every state that can fail inside the
 * transaction rolls back; a lost connection ends the run at once (the server rolls
 * back and lets go of the lock with the session).
 */
static void
run_step(struct run *run, PGresult *res, const char *error)
{
	const struct indicator	*current = run->next < run->n ? run->list[run->next] : NULL;
	const char		*why = db_result_error(res, error);

	if (res == NULL) {
		if (run->state == RUN_INDICATOR)
			run_fail(run, 500, "%s: %s", current->code, why);
		else
			run_fail(run, 500, "%s", why);
		run->locked = false;
		run_release(run);
		return;
	}
	if (!db_result_ok(res)) {
		switch (run->state) {
		case RUN_LOCKING:
			run_fail(run, 500, "cannot take the indicators' lock: %s", why);
			run_release(run);
			return;
		case RUN_SET_CONFIG:
		case RUN_INDICATOR:
			run_fail(run, 500, "%s: %s", current->code, why);
			run_rollback(run);
			return;
		case RUN_BEGIN:
		case RUN_INSERT:
		case RUN_TALLY:
		case RUN_ALERTS:
		case RUN_UPDATE:
		case RUN_COMMIT:
			run_fail(run, 500, "%s", why);
			run_rollback(run);
			return;
		case RUN_ROLLBACK:
		case RUN_RECORD_FAILED:
			log_error("indicators", "cannot record the failed run: %s", why);
			run_unlock(run);
			return;
		case RUN_UNLOCK:
		default:
			log_error("indicators", "cannot let go of the indicators' lock: %s",
			    why);
			run_release(run);
			return;
		}
	}

	switch (run->state) {
	case RUN_LOCKING:
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			run_fail(run, 409, "another run is in progress");
			run_release(run);
			return;
		}
		run->locked = true;
		snprintf(run->backend_pid, sizeof(run->backend_pid), "%s",
		    PQgetvalue(res, 0, 1));
		run_query(run, RUN_BEGIN, "BEGIN", 0, NULL);
		return;
	case RUN_BEGIN: {
		static const char sql[] = "INSERT INTO indicator_run (trigger, codes)"
		    " VALUES ($1, $2::text[]) RETURNING id";
		const char *values[2];

		values[0] = indicators_trigger_name(run->trigger);
		values[1] = run->codes;
		run_query(run, RUN_INSERT, sql, 2, values);
		return;
	}
	case RUN_INSERT:
		run->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(run->run_text, sizeof(run->run_text), "%lld", run->run_id);
		run_next_indicator(run);
		return;
	case RUN_SET_CONFIG:
		run_indicator_sql(run);
		return;
	case RUN_INDICATOR:
		run_indicator_done(run);
		return;
	case RUN_TALLY: {
		/* Alerts change with the results they come from, in one transaction. */
		static const char sql[] = "SELECT fired, grew, resolved, notices"
		    " FROM ictmon_alerts_apply($1, $2::jsonb)";
		const char *values[2];

		run_read_tallies(run, res);
		values[0] = run->run_text;
		values[1] = run->rules;
		run_query(run, RUN_ALERTS, sql, 2, values);
		return;
	}
	case RUN_ALERTS:
		run->alerts.fired = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		run->alerts.grew = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		run->alerts.resolved = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		run->alerts.notices = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		run_finish_tx(run);
		return;
	case RUN_UPDATE:
		run_query(run, RUN_COMMIT, "COMMIT", 0, NULL);
		return;
	case RUN_COMMIT:
		/* Done after all, even when a shutdown came too late to stop it. */
		run->status = 200;
		free(run->message);
		run->message = NULL;
		run_unlock(run);
		return;
	case RUN_ROLLBACK:
		run_record_failed(run);
		return;
	case RUN_RECORD_FAILED:
		if (PQntuples(res) == 1)
			run->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		run_unlock(run);
		return;
	case RUN_UNLOCK:
		run->locked = false;
		run_release(run);
		return;
	default:
		return;
	}
}

static void
on_connection(struct db_conn *conn, const char *error, void *arg)
{
	struct run		*run = arg;
	static const char	 sql[] = "SELECT pg_try_advisory_lock(" RUN_LOCK_KEY "),"
	    " pg_backend_pid()";

	if (conn == NULL) {
		run_fail(run, 503, "the database is not available: %s",
		    error != NULL ? error : "unknown");
		run_end(run);
		return;
	}
	run->conn = conn;
	if (run->ind->draining) {
		run_fail(run, 503, "the daemon is shutting down");
		run_release(run);
		return;
	}
	run_query(run, RUN_LOCKING, sql, 0, NULL);
}

/*
 * The run's indicators in catalogue order, each once, RUNS_LAST at the end; false
 * with the code when one is unknown.
 */
static bool
run_choose(struct run *run, const char *const *codes, size_t n, const char **unknown)
{
	bool	chosen[NINDICATORS] = { false };
	size_t	last = NINDICATORS;

	for (size_t i = 0; i < n; i++) {
		const struct indicator *found = indicator_find(codes[i]);

		if (found == NULL) {
			*unknown = codes[i];
			return false;
		}
		chosen[found - catalogue] = true;
	}
	for (size_t i = 0; i < NINDICATORS; i++) {
		if (n > 0 && !chosen[i])
			continue;
		if (strcmp(catalogue[i].code, RUNS_LAST) == 0) {
			last = i;
			continue;
		}
		run->list[run->n++] = &catalogue[i];
	}
	if (last < NINDICATORS)
		run->list[run->n++] = &catalogue[last];
	return true;
}

/* Every parameter is fixed at the start: a reload during the run changes nothing. */
static bool
run_snapshot(struct run *run, const struct config *cfg)
{
	for (size_t i = 0; i < run->n; i++) {
		if ((run->params[i] = indicator_params_text(run->list[i], cfg)) == NULL)
			return false;
		run->tallies[i].code = run->list[i]->code;
	}
	if ((run->rules = alert_rules_json(cfg)) == NULL)
		return false;
	return (run->codes = codes_literal(run->list, run->n)) != NULL;
}

static void
start(struct indicators *ind, enum indicators_trigger trigger, const char *const *codes,
    size_t n, indicators_done_cb done, void *arg)
{
	struct run	*run = NULL;
	const char	*unknown = NULL;

	if (ind->cfg == NULL) {
		refuse(ind, done, arg, 503, "the indicators are not configured yet");
		return;
	}
	if (ind->draining) {
		refuse(ind, done, arg, 503, "the daemon is shutting down");
		return;
	}
	if ((run = calloc(1, sizeof(*run))) == NULL) {
		refuse(ind, done, arg, 500, "out of memory");
		return;
	}
	if (!run_choose(run, codes, n, &unknown)) {
		refuse(ind, done, arg, 422, "unknown indicator %s", unknown);
		goto fail;
	}
	if (ind->run != NULL) {
		refuse(ind, done, arg, 409, "another run is in progress");
		goto fail;
	}
	if (!run_snapshot(run, ind->cfg)) {
		refuse(ind, done, arg, 500, "out of memory");
		goto fail;
	}
	run->ind = ind;
	run->trigger = trigger;
	run->done = done;
	run->arg = arg;
	run->state = RUN_ACQUIRING;
	clock_gettime(CLOCK_MONOTONIC, &run->began);
	switch (db_acquire(ind->env.db, on_connection, run)) {
	case DB_QUEUED:
		ind->run = run;
		return;
	case DB_UNAVAILABLE:
		refuse(ind, done, arg, 503, "the database is not available");
		break;
	case DB_BUSY:
		refuse(ind, done, arg, 503, "the database is busy");
		break;
	}
fail:
	run_free(run);
}

void
indicators_run(struct indicators *ind, const char *const *codes, size_t n,
    indicators_done_cb done, void *arg)
{
	start(ind, TRIGGER_NONE, codes, n, done, arg);
}

/* --- The scheduler --------------------------------------------------------------- */

/* Seconds between polls: quick enough for the debounce, cheap enough to never matter. */
static long
poll_interval(const struct indicators *ind)
{
	long debounce = (long)config_int(ind->cfg, CFG_IND_DEBOUNCE);

	return debounce < POLL_MAX_SECONDS ? (debounce > 0 ? debounce : 1) :
	    POLL_MAX_SECONDS;
}

static void
poll_later(struct indicators *ind, long seconds)
{
	struct timeval tv = { seconds, 0 };

	if (ind->env.schedule && !ind->draining && ind->cfg != NULL &&
	    evtimer_add(ind->poll_timer, &tv) == -1)
		log_error("indicators", "cannot arm the scheduler's timer");
}

static void
on_scheduled_done(const struct indicators_outcome *o, void *arg)
{
	struct indicators *ind = arg;

	(void)ind;
	switch (o->status) {
	case 200: {
		long long results = 0;

		for (size_t i = 0; i < o->ntallies; i++)
			results += o->tallies[i].results;
		log_info("indicators", "run %lld done: %lld results in %.1f s; alerts: "
		    "%lld fired, %lld grew, %lld resolved, %lld notices", o->run_id,
		    results, o->seconds, o->alerts.fired, o->alerts.grew,
		    o->alerts.resolved, o->alerts.notices);
		break;
	}
	case 409:
		log_debug("indicators", "not run: %s", o->message);
		break;
	default:
		log_warn("indicators", "run %lld failed: %s", o->run_id,
		    o->message != NULL ? o->message : "unknown");
		break;
	}
}

static double
epoch_value(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? 0 : strtod(PQgetvalue(res, 0, col), NULL);
}

static void
on_poll(PGresult *res, const char *error, void *arg)
{
	struct indicators	*ind = arg;
	struct indicators_clock	 c;
	enum indicators_trigger	 trigger;

	ind->polling = false;
	if (ind->draining || ind->cfg == NULL)
		return;
	if (!db_result_ok(res) || PQntuples(res) != 1) {
		log_debug("indicators", "cannot tell whether a run is due: %s",
		    db_result_error(res, error));
		poll_later(ind, poll_interval(ind));
		return;
	}
	memset(&c, 0, sizeof(c));
	c.now = epoch_value(res, 0);
	c.last_ingest = epoch_value(res, 1);
	c.last_run = epoch_value(res, 2);
	if (ind->since == 0)
		ind->since = c.now;
	c.since = ind->since;
	c.period = (long)config_int(ind->cfg, CFG_IND_PERIOD);
	c.debounce = (long)config_int(ind->cfg, CFG_IND_DEBOUNCE);
	if ((trigger = indicators_due(&c)) == TRIGGER_NONE || ind->run != NULL) {
		poll_later(ind, poll_interval(ind));
		return;
	}
	log_debug("indicators", "a run is due (%s)", indicators_trigger_name(trigger));
	/* The next poll follows the run's end. */
	start(ind, trigger, NULL, 0, on_scheduled_done, ind);
	if (ind->run == NULL)
		poll_later(ind, poll_interval(ind));
}

/*
 * The database's clock, when data last arrived, and when the last run of the whole
 * catalogue (by any process) started: data that came after it is not in its results.
 */
static void
on_poll_due(evutil_socket_t fd, short events, void *arg)
{
	struct indicators	*ind = arg;
	static const char	 sql[] =
	    "SELECT extract(epoch FROM now()),"
	    " (SELECT extract(epoch FROM max(finished_at)) FROM ingest_batch"
	    "  WHERE status = 'done'),"
	    " (SELECT extract(epoch FROM max(started_at)) FROM indicator_run"
	    "  WHERE codes @> $1::text[])";
	const char		*values[1] = { ind->all_codes };

	if (ind->draining || ind->polling || ind->cfg == NULL)
		return;
	if (ind->run != NULL) {
		poll_later(ind, poll_interval(ind));
		return;
	}
	if (db_query(ind->env.db, sql, 1, values, on_poll, ind) == DB_QUEUED)
		ind->polling = true;
	else
		poll_later(ind, poll_interval(ind));
}

/* --- The interface --------------------------------------------------------------- */

static void
describe_metrics(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_describe(m, METRIC_RUNS, METRIC_COUNTER,
	    "Indicator runs by trigger (manual, ingest, period) and outcome (done, "
	    "failed, busy: another run held the lock, unavailable).");
	metrics_describe(m, METRIC_RUN_SECONDS, METRIC_HISTOGRAM,
	    "How long the indicator runs that ended done took.");
	metrics_describe(m, METRIC_SECONDS, METRIC_HISTOGRAM,
	    "How long each indicator's SQL took in a run.");
	metrics_describe(m, METRIC_RESULTS, METRIC_GAUGE,
	    "Results of each indicator by band in this process's last done run.");
	metrics_describe(m, METRIC_ALERTS, METRIC_COUNTER,
	    "Alerts changed by this process's indicator runs: fired, grew (more "
	    "agencies or money), resolved.");
	metrics_describe(m, METRIC_NOTICES, METRIC_COUNTER,
	    "Changes a recipient must hear about, queued for email by this process's runs.");
}

struct indicators *
indicators_new(const struct indicators_env *env)
{
	struct indicators *ind;

	if ((ind = calloc(1, sizeof(*ind))) == NULL)
		return NULL;
	ind->env = *env;
	if ((ind->all_codes = codes_literal(catalogue_refs, NINDICATORS)) == NULL ||
	    (ind->poll_timer = evtimer_new(env->base, on_poll_due, ind)) == NULL) {
		free(ind->all_codes);
		free(ind);
		return NULL;
	}
	describe_metrics(env->metrics);
	return ind;
}

void
indicators_configure(struct indicators *ind, const struct config *cfg)
{
	ind->cfg = cfg;
	/* A new debounce applies from the next poll, which comes at once. */
	if (!ind->polling && ind->run == NULL)
		poll_later(ind, 0);
}

unsigned
indicators_running(const struct indicators *ind)
{
	return ind->run != NULL;
}

static void
on_cancelled(PGresult *res, const char *error, void *arg)
{
	if (!db_result_ok(res))
		log_debug("indicators", "cannot cancel the run's statement: %s",
		    db_result_error(res, error));
}

/*
 * A run inside its transaction is stopped in its statement rather than waited for:
 * an indicator can take a minute, or wait on a lock, and a rollback loses nothing
 * the next run does not compute again. The cancel goes through another connection
 * of the pool (libpq's own cancel blocks); the statement fails, the run rolls back.
 */
static void
run_cancel(struct indicators *ind, struct run *run)
{
	/*
	 * Only while that backend still holds the run's lock: by the time this runs the
	 * run may be over and its connection serving someone else's query.
	 */
	static const char	 sql[] =
	    "SELECT pg_cancel_backend(l.pid) FROM pg_locks l"
	    " WHERE l.pid = $1::int AND l.locktype = 'advisory' AND l.granted"
	    "  AND l.objsubid = 1"
	    "  AND ((l.classid::bigint << 32) | l.objid::bigint) = " RUN_LOCK_KEY;
	const char		*values[1] = { run->backend_pid };

	if (run->backend_pid[0] == '\0' || run->state < RUN_BEGIN ||
	    run->state > RUN_UPDATE)
		return;
	run_fail(run, 503, "stopped: the daemon is shutting down");
	if (db_query(ind->env.db, sql, 1, values, on_cancelled, NULL) != DB_QUEUED)
		log_debug("indicators", "cannot cancel the run's statement");
}

void
indicators_drain(struct indicators *ind, void (*cb)(void *), void *arg)
{
	struct timeval now = { 0, 0 };

	ind->draining = true;
	ind->drained = cb;
	ind->drained_arg = arg;
	evtimer_del(ind->poll_timer);
	/* A run in progress rolls back; run_end calls. */
	if (ind->run != NULL)
		run_cancel(ind, ind->run);
	else
		event_base_once(ind->env.base, -1, EV_TIMEOUT, drained_now, ind, &now);
}

void
indicators_free(struct indicators *ind)
{
	if (ind == NULL)
		return;
	/* The pool is freed first: a run still here had its callbacks already. */
	if (ind->run != NULL) {
		ind->run->done = NULL;
		run_free(ind->run);
	}
	event_free(ind->poll_timer);
	free(ind->all_codes);
	free(ind);
}
