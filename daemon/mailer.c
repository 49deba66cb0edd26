/*
 * The mailer (include/mailer.h). Every tick, one transaction on a borrowed connection
 * queues reminders, renders the waiting emails whose group timing has come, and claims
 * due emails (FOR UPDATE SKIP LOCKED, then a lease in claimed_until); after the
 * commit each claimed email goes to the SMTP server on the curl multi handle and its
 * row is marked sent, retried later or dead. A process that dies mid-send leaves a
 * lease that runs out: another process, or this one restarted, sends it again.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "alert_mail.h"
#include "alerts.h"
#include "config.h"
#include "db.h"
#include "fetch.h"
#include "indicators.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "metrics.h"
#include "sjson.h"

#define TICK_SECONDS		2
/*
 * Waiting emails looked at in one cycle. Few, so that sends start soon: a cycle that
 * found a full batch runs again at once rather than at the next tick.
 */
#define WAITING_BATCH		10
#define STR(x)			#x
#define NUMBER(x)		STR(x)
#define REPEAT_SWEEP_SECONDS	60
/* A claim outlives the longest send by this much before another process may retry. */
#define LEASE_MARGIN		10

#define METRIC_EMAILS		"ictmon_emails_total"
#define METRIC_SEND_SECONDS	"ictmon_email_send_seconds"
#define METRIC_OUTBOX		"ictmon_outbox_emails"

/* --- Timing ---------------------------------------------------------------------- */

/* The first time at or after `t` when the local clock shows hour:00. */
static time_t
next_hour_of_day(time_t t, int hour)
{
	struct tm	 tm;
	time_t		 at;

	if (localtime_r(&t, &tm) == NULL)
		return t;
	tm.tm_hour = hour;
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if ((at = mktime(&tm)) < t) {
		tm.tm_mday++;
		tm.tm_hour = hour;
		tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		at = mktime(&tm);
	}
	return at;
}

time_t
mail_due(const struct mail_timing *t, enum mail_kind kind, time_t created,
    time_t last_email)
{
	time_t due;

	switch (kind) {
	case MAIL_DIGEST:
		/* One a day: the next digest hour after the change, never twice a day. */
		due = next_hour_of_day(created, t->digest_hour);
		if (last_email > 0 && due < last_email + 3600)
			due = next_hour_of_day(last_email + 3600, t->digest_hour);
		return due;
	case MAIL_REPEAT:
	case MAIL_ALERT:
	default:
		if (last_email == 0)
			return kind == MAIL_ALERT ? created + t->group_wait : created;
		due = last_email + t->group_interval;
		return due > created ? due : created;
	}
}

time_t
mail_repeat_cutoff(const struct mail_timing *t, time_t now)
{
	return now - t->repeat_interval;
}

static enum mail_kind
kind_parse(const char *kind)
{
	if (strcmp(kind, "digest") == 0)
		return MAIL_DIGEST;
	if (strcmp(kind, "repeat") == 0)
		return MAIL_REPEAT;
	return MAIL_ALERT;
}

/* --- The mailer ------------------------------------------------------------------ */

enum cycle_state {
	CYCLE_IDLE,
	CYCLE_ACQUIRING,
	CYCLE_BEGIN,
	CYCLE_REPEAT,		/* reminders queued; the database's clock read */
	CYCLE_WAITING,		/* waiting emails locked, their timing decided here */
	CYCLE_ITEMS,		/* the alerts of the emails to render */
	CYCLE_STORE,		/* rendered emails written back */
	CYCLE_CLAIM,
	CYCLE_COMMIT,
};

/* An email claimed for sending: its row and the bytes of its message. */
struct send {
	struct mailer	*mailer;
	char		 id[24];
	char		*to;
	char		*message;
	int		 attempts;
	struct timespec	 began;
	struct fetch	*fetch;		/* while in flight */
	struct send	*next;		/* in claimed, then in sending */
};

/* What one rendering pass builds before it writes it back in one statement. */
struct render_batch {
	json_t		*emails;	/* [{id, message_id, refs, subject, message,
					   alerts}] */
	json_t		*listed;	/* [{outbox_id, alert_id, change}] */
	json_t		*dropped;	/* [id]: nothing left to say */
	json_t		*postponed;	/* [{id, due}] */
};

struct mailer {
	struct mailer_env	 env;
	const struct config	*cfg;
	char			*rules;		/* alert_rules_json of cfg */
	struct mail_timing	 timing;

	struct event		*tick;
	enum cycle_state	 state;
	bool			 again;		/* kicked while a cycle ran */
	struct db_conn		*conn;
	double			 now;		/* the database's clock this cycle */
	time_t			 last_sweep;
	struct render_batch	 batch;
	struct send		*claimed;	/* claimed this cycle, sent after commit */

	struct send		*sending;	/* in flight, for mailer_free */
	unsigned		 in_flight;
	bool			 warned_unset;
	bool			 draining;
	void			 (*drained)(void *);
	void			*drained_arg;
};

static void	cycle_step(struct mailer *, PGresult *, const char *);

static void
batch_clear(struct render_batch *b)
{
	json_decref(b->emails);
	json_decref(b->listed);
	json_decref(b->dropped);
	json_decref(b->postponed);
	memset(b, 0, sizeof(*b));
}

static bool
batch_init(struct render_batch *b)
{
	batch_clear(b);
	b->emails = json_array();
	b->listed = json_array();
	b->dropped = json_array();
	b->postponed = json_array();
	return b->emails && b->listed && b->dropped && b->postponed;
}

static void
send_free(struct send *s)
{
	free(s->to);
	free(s->message);
	free(s);
}

static void
tick_later(struct mailer *m, long seconds)
{
	struct timeval tv = { seconds, 0 };

	if (!m->draining)
		evtimer_add(m->tick, &tv);
}

static void
maybe_drained(struct mailer *m)
{
	if (m->draining && m->state == CYCLE_IDLE && m->in_flight == 0 &&
	    m->drained != NULL) {
		void (*cb)(void *) = m->drained;

		m->drained = NULL;
		cb(m->drained_arg);
	}
}

static void
on_cycle_result(PGresult *res, const char *error, void *arg)
{
	cycle_step(arg, res, error);
}

static void
run(struct mailer *m, enum cycle_state state, const char *sql, int n,
    const char *const *values)
{
	m->state = state;
	if (db_conn_query(m->conn, sql, n, values, on_cycle_result, m) == -1)
		cycle_step(m, NULL, "connection to the database lost");
}

/* Ends the cycle (releasing a connection inside the transaction rolls it back). */
static void
cycle_end(struct mailer *m)
{
	struct send *s, *next;

	if (m->conn != NULL) {
		db_release(m->conn);
		m->conn = NULL;
	}
	batch_clear(&m->batch);
	for (s = m->claimed; s != NULL; s = next) {
		next = s->next;
		send_free(s);
	}
	m->claimed = NULL;
	m->state = CYCLE_IDLE;
	if (m->again) {
		m->again = false;
		tick_later(m, 0);
	} else
		tick_later(m, TICK_SECONDS);
	maybe_drained(m);
}

static void	cycle_fail(struct mailer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
cycle_fail(struct mailer *m, const char *fmt, ...)
{
	char	message[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	log_warn("mailer", "%s", message);
	cycle_end(m);
}

/* --- Sending --------------------------------------------------------------------- */

static void
on_marked(PGresult *res, const char *error, void *arg)
{
	struct mailer *m = arg;

	if (!db_result_ok(res))
		log_error("mailer", "cannot record what became of an email: %s",
		    db_result_error(res, error));
	m->in_flight--;
	/* A free slot: claim the next due email now rather than at the next tick. */
	if (!m->draining)
		mailer_kick(m);
	maybe_drained(m);
}

static void
sending_forget(struct mailer *m, struct send *s)
{
	for (struct send **p = &m->sending; *p != NULL; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			return;
		}
}

static void
on_sent(const struct fetch_result *r, void *arg)
{
	static const char sent_sql[] =
	    "UPDATE outbox SET state = 'sent', sent_at = now(), last_error = NULL,"
	    " claimed_until = NULL WHERE id = $1 AND claimed_by = $2 AND state = 'pending'";
	static const char failed_sql[] =
	    "UPDATE outbox SET last_error = $3, claimed_until = NULL,"
	    " state = CASE WHEN $5::boolean OR attempts >= $6::integer THEN 'dead'"
	    "  ELSE 'pending' END,"
	    " next_attempt_at = now() + make_interval(secs => $4::integer)"
	    " WHERE id = $1 AND claimed_by = $2 AND state = 'pending'";
	struct send	*s = arg;
	struct mailer	*m = s->mailer;
	const char	*values[6];
	char		 wait[24], max[24], labels[64];
	struct timespec	 now;
	double		 seconds;

	sending_forget(m, s);
	clock_gettime(CLOCK_MONOTONIC, &now);
	seconds = (double)(now.tv_sec - s->began.tv_sec) +
	    (double)(now.tv_nsec - s->began.tv_nsec) / 1e9;
	values[0] = s->id;
	values[1] = m->env.instance;
	if (r->error == NULL) {
		log_info("mailer", "email %s sent to %s", s->id, s->to);
		snprintf(labels, sizeof(labels), "result=\"sent\"");
		if (db_query(m->env.db, sent_sql, 2, values, on_marked, m) != DB_QUEUED)
			goto unmarked;
	} else {
		long	max_attempts = (long)config_int(m->cfg, CFG_SMTP_MAX_ATTEMPTS);
		bool	dead = r->permanent || s->attempts >= max_attempts;

		snprintf(wait, sizeof(wait), "%ld", fetch_backoff((unsigned)s->attempts,
		    (long)config_int(m->cfg, CFG_SMTP_RETRY_BASE),
		    (long)config_int(m->cfg, CFG_SMTP_RETRY_MAX), -1, arc4random()));
		snprintf(max, sizeof(max), "%ld", max_attempts);
		values[2] = r->error;
		values[3] = wait;
		values[4] = r->permanent ? "true" : "false";
		values[5] = max;
		if (dead)
			log_error("mailer", "email %s to %s is dead after %d attempts: %s",
			    s->id, s->to, s->attempts, r->error);
		else
			log_warn("mailer", "email %s to %s failed (attempt %d), retrying in "
			    "%s s: %s", s->id, s->to, s->attempts, wait, r->error);
		snprintf(labels, sizeof(labels), "result=\"%s\"", dead ? "dead" : "failed");
		if (db_query(m->env.db, failed_sql, 6, values, on_marked, m) != DB_QUEUED)
			goto unmarked;
	}
	metrics_count(m->env.metrics, METRIC_EMAILS, labels, 1);
	metrics_observe(m->env.metrics, METRIC_SEND_SECONDS, "", seconds);
	send_free(s);
	return;
unmarked:
	/* The lease runs out and the email goes again: at least once, as promised. */
	log_error("mailer", "cannot record the outcome of email %s: the database is not "
	    "available", s->id);
	m->in_flight--;
	send_free(s);
	maybe_drained(m);
}

static void
send_claimed(struct mailer *m)
{
	struct send *s, *next;

	for (s = m->claimed; s != NULL; s = next) {
		struct mail_send req;

		next = s->next;
		memset(&req, 0, sizeof(req));
		req.url = config_str(m->cfg, CFG_SMTP_URL);
		req.starttls = strcmp(config_str(m->cfg, CFG_SMTP_STARTTLS), "none") != 0;
		req.from = config_str(m->cfg, CFG_SMTP_FROM);
		req.to = s->to;
		req.username = config_str(m->cfg, CFG_SMTP_USERNAME);
		req.password = config_secret(m->cfg, CFG_SMTP_PASSWORD_FILE);
		req.message = s->message;
		req.len = strlen(s->message);
		req.timeout = (long)config_int(m->cfg, CFG_SMTP_TIMEOUT);
		req.connect_timeout = (long)config_int(m->cfg, CFG_SMTP_CONNECT_TIMEOUT);
		req.response_timeout = (long)config_int(m->cfg, CFG_SMTP_RESPONSE_TIMEOUT);
		s->mailer = m;
		clock_gettime(CLOCK_MONOTONIC, &s->began);
		if ((s->fetch = fetch_send_mail(m->env.fetcher, &req, on_sent, s)) == NULL) {
			/* Left claimed: the lease runs out and a later tick tries again. */
			log_error("mailer", "cannot start sending email %s", s->id);
			send_free(s);
			continue;
		}
		s->next = m->sending;
		m->sending = s;
		m->in_flight++;
	}
	m->claimed = NULL;
}

/* --- Rendering ------------------------------------------------------------------- */

/* "<ictmon.42.9f3a...@example.gov>": the domain of the sender, for uniqueness. */
static void
message_id(struct mailer *m, const char *id, char *buf, size_t len)
{
	const char *from = config_str(m->cfg, CFG_SMTP_FROM);
	const char *at = strrchr(from, '@');

	snprintf(buf, len, "<ictmon.%s.%08x%08x@%s>", id, arc4random(), arc4random(),
	    at ? at + 1 : "localhost");
}

static const char *
column(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static enum alert_change
change_parse(const char *change)
{
	if (strcmp(change, "new") == 0)
		return ALERT_NEW;
	if (strcmp(change, "resolved") == 0)
		return ALERT_RESOLVED;
	return ALERT_OPEN;
}

/* The columns of items_sql. */
enum item_column {
	IC_OUTBOX, IC_CHANGE, IC_ALERT, IC_RULE, IC_INDICATOR, IC_SEVERITY, IC_AGENCY,
	IC_SUMMARY, IC_AMOUNT, IC_CURRENCY, IC_EVIDENCE, IC_FIRST_SEEN, IC_EMAIL, IC_NAME,
	IC_THREAD, IC_KIND, IC_TODAY,
};

/*
 * Renders the email of rows [first, end) of the items result (one outbox row, its
 * alerts in order) and adds it to the batch.
 */
static bool
render_one(struct mailer *m, const PGresult *res, int first, int end)
{
	size_t			 cap = (size_t)config_int(m->cfg, CFG_ALERTS_MAX_PER_EMAIL);
	size_t			 n = (size_t)(end - first), shown = n < cap ? n : cap;
	struct alert_item	*items = NULL;
	json_t			**evidence = NULL;
	struct alert_email	 e;
	struct alert_email_text	 t = { NULL, NULL, NULL };
	struct mail_message	 msg;
	char			 mid[160], group[200], *message = NULL;
	const char		*id = PQgetvalue(res, first, IC_OUTBOX);
	const char		*thread = column(res, first, IC_THREAD);
	const char		*kind = PQgetvalue(res, first, IC_KIND);
	size_t			 len;
	bool			 ok = false;
	json_t			*email;

	if ((items = calloc(shown, sizeof(*items))) == NULL ||
	    (evidence = calloc(shown, sizeof(*evidence))) == NULL)
		goto out;
	for (int r = first; r < end; r++) {
		json_t *listed = json_pack("{s:s, s:s, s:s}", "outbox_id", id, "alert_id",
		    PQgetvalue(res, r, IC_ALERT), "change", PQgetvalue(res, r, IC_CHANGE));

		if (listed == NULL || json_array_append_new(m->batch.listed, listed) == -1)
			goto out;
	}
	for (size_t i = 0; i < shown; i++) {
		int			 r = first + (int)i;
		struct alert_item	*it = &items[i];
		const struct indicator	*ind = indicator_find(PQgetvalue(res, r,
					    IC_INDICATOR));
		const char		*ev = PQgetvalue(res, r, IC_EVIDENCE);

		it->id = strtoll(PQgetvalue(res, r, IC_ALERT), NULL, 10);
		it->change = change_parse(PQgetvalue(res, r, IC_CHANGE));
		it->rule = PQgetvalue(res, r, IC_RULE);
		it->code = PQgetvalue(res, r, IC_INDICATOR);
		it->title = ind ? ind->title : it->code;
		it->severity = PQgetvalue(res, r, IC_SEVERITY);
		it->agency = column(res, r, IC_AGENCY);
		it->summary = PQgetvalue(res, r, IC_SUMMARY);
		it->amount = column(res, r, IC_AMOUNT);
		it->currency = column(res, r, IC_CURRENCY);
		/* The strict reader keeps amounts as their exact text, never doubles. */
		evidence[i] = sjson_parse(ev, strlen(ev), NULL, NULL);
		it->evidence = evidence[i];
		it->first_seen = PQgetvalue(res, r, IC_FIRST_SEEN);
	}
	if (strcmp(kind, "digest") == 0)
		snprintf(group, sizeof(group), "Daily digest, %s",
		    PQgetvalue(res, first, IC_TODAY));
	else
		snprintf(group, sizeof(group), "%s, %s", items[0].title,
		    items[0].agency ? items[0].agency : "several agencies");
	memset(&e, 0, sizeof(e));
	e.public_url = config_str(m->cfg, CFG_PUBLIC_URL);
	e.recipient_name = column(res, first, IC_NAME);
	e.group = group;
	e.digest = strcmp(kind, "digest") == 0;
	e.items = items;
	e.nitems = shown;
	e.more = n - shown;
	for (int r = first + (int)shown; r < end; r++)
		e.more_by_change[change_parse(PQgetvalue(res, r, IC_CHANGE))]++;
	if (!alert_email_compose(&e, &t))
		goto out;

	message_id(m, id, mid, sizeof(mid));
	memset(&msg, 0, sizeof(msg));
	msg.from.name = config_str(m->cfg, CFG_SMTP_FROM_NAME);
	msg.from.addr = config_str(m->cfg, CFG_SMTP_FROM);
	msg.to.name = e.recipient_name;
	msg.to.addr = PQgetvalue(res, first, IC_EMAIL);
	msg.subject = t.subject;
	msg.date = (time_t)m->now;
	msg.message_id = mid;
	msg.in_reply_to = thread;
	msg.references = thread;
	msg.text = t.text;
	msg.html = t.html;
	msg.boundary_seed = mid;
	if ((message = mail_format(&msg, &len)) == NULL) {
		log_error("mailer", "cannot format email %s to %s", id, msg.to.addr);
		goto out;
	}
	email = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I}", "id", id, "message_id",
	    mid, "refs", thread, "subject", t.subject, "message", message, "alerts",
	    (json_int_t)n);
	ok = email != NULL && json_array_append_new(m->batch.emails, email) == 0;
out:
	for (size_t i = 0; evidence != NULL && i < shown; i++)
		json_decref(evidence[i]);
	free(evidence);
	free(items);
	free(message);
	alert_email_text_free(&t);
	return ok;
}

/*
 * The alerts each email to render lists: the changes attached to it, then the other
 * alerts of its group still firing for that recipient; evidence only for the first
 * $3 of each (those the email shows). A change that no longer matters is left out
 * (fired then resolved unseen, acknowledged or silenced since, a resolution of an
 * alert the recipient never heard of).
 */
static const char items_sql[] =
    "WITH w AS MATERIALIZED ("
    "  SELECT o.id, o.recipient_id, o.group_key, o.kind FROM outbox o"
    "  WHERE o.id = ANY ($1::bigint[])),"
    " firing AS MATERIALIZED (SELECT * FROM ictmon_alert_routable($2::jsonb, NULL)),"
    " listed AS ("
    "  SELECT w.id, oa.alert_id, oa.change FROM w"
    "  JOIN outbox_alert oa ON oa.outbox_id = w.id"
    "  UNION ALL"
    "  SELECT w.id, f.id, 'open' FROM w"
    "  JOIN recipient r ON r.id = w.recipient_id"
    "  JOIN firing f"
    "   ON ictmon_alert_group_key(f.rule, f.agency_code, r.delivery) = w.group_key"
    "  WHERE ictmon_alert_routed(f.severity, f.involved, r, f.rule_to)"
    "   AND NOT EXISTS (SELECT 1 FROM outbox_alert x"
    "    WHERE x.outbox_id = w.id AND x.alert_id = f.id)),"
    " kept AS ("
    "  SELECT l.*, row_number() OVER (PARTITION BY l.id ORDER BY"
    "   CASE l.change WHEN 'new' THEN 0 WHEN 'open' THEN 1 ELSE 2 END,"
    "   ictmon_severity_rank(a.severity) DESC, a.id) AS n"
    "  FROM listed l JOIN w ON w.id = l.id JOIN alert a ON a.id = l.alert_id"
    "  WHERE CASE l.change"
    "   WHEN 'new' THEN a.state = 'firing' AND NOT ictmon_alert_suppressed(a)"
    "   WHEN 'resolved' THEN a.state = 'resolved' AND EXISTS (SELECT 1"
    "    FROM alert_notice n WHERE n.recipient_id = w.recipient_id"
    "     AND n.alert_id = a.id)"
    "   ELSE true END)"
    " SELECT k.id, k.change, a.id, a.rule, a.indicator, a.severity, g.code,"
    "  a.summary, a.amount, a.currency,"
    "  CASE WHEN k.n <= $3::integer THEN a.evidence END,"
    "  to_char(a.first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'),"
    "  r.email, r.name, ag.thread_id, w.kind, to_char(now(), 'YYYY-MM-DD')"
    " FROM kept k JOIN w ON w.id = k.id"
    " JOIN recipient r ON r.id = w.recipient_id"
    " JOIN alert a ON a.id = k.alert_id"
    " LEFT JOIN agency g ON g.id = a.agency_id"
    " LEFT JOIN alert_group ag ON ag.recipient_id = w.recipient_id"
    "  AND ag.group_key = w.group_key"
    " ORDER BY k.id, k.n";

/*
 * Writes the batch back: rendered emails (due at once), the alerts they list, when
 * each recipient last heard of each alert, the groups' last email and thread, rows
 * dropped and rows postponed.
 */
static const char store_sql[] =
    "WITH e AS ("
    "  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, message_id text,"
    "   refs text, subject text, message text, alerts integer)),"
    " l AS ("
    "  SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(outbox_id bigint,"
    "   alert_id bigint, change text)),"
    " rendered AS ("
    "  UPDATE outbox o SET message = e.message, message_id = e.message_id,"
    "   references_ids = e.refs, subject = e.subject, alerts = e.alerts,"
    "   rendered_at = now(),"
    "   next_attempt_at = now()"
    "  FROM e WHERE o.id = e.id RETURNING o.id, o.recipient_id, o.group_key,"
    "   o.message_id),"
    " listed AS ("
    "  INSERT INTO outbox_alert (outbox_id, alert_id, change)"
    "  SELECT l.outbox_id, l.alert_id, l.change FROM l"
    "  JOIN rendered o ON o.id = l.outbox_id"
    "  ON CONFLICT (outbox_id, alert_id) DO NOTHING),"
    " noticed AS ("
    "  INSERT INTO alert_notice (recipient_id, alert_id, mailed_at)"
    "  SELECT DISTINCT ON (o.recipient_id, l.alert_id) o.recipient_id, l.alert_id, now()"
    "  FROM l JOIN rendered o ON o.id = l.outbox_id"
    "  ON CONFLICT (recipient_id, alert_id) DO UPDATE SET mailed_at = now()),"
    " grouped AS ("
    "  INSERT INTO alert_group (recipient_id, group_key, last_email_at, thread_id)"
    "  SELECT recipient_id, group_key, now(), message_id FROM rendered"
    "  ON CONFLICT (recipient_id, group_key) DO UPDATE SET last_email_at = now()),"
    " dropped AS ("
    "  UPDATE outbox SET state = 'dropped', last_error = 'nothing left to say:"
    " its alerts were acknowledged, silenced or resolved before it went'"
    "  WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text($3::jsonb)))"
    " UPDATE outbox o SET next_attempt_at = to_timestamp(p.due)"
    " FROM jsonb_to_recordset($4::jsonb) AS p(id bigint, due double precision)"
    " WHERE o.id = p.id";

static void
store(struct mailer *m)
{
	char *values[4];

	values[0] = json_dumps(m->batch.emails, JSON_COMPACT);
	values[1] = json_dumps(m->batch.listed, JSON_COMPACT);
	values[2] = json_dumps(m->batch.dropped, JSON_COMPACT);
	values[3] = json_dumps(m->batch.postponed, JSON_COMPACT);
	if (values[0] && values[1] && values[2] && values[3])
		run(m, CYCLE_STORE, store_sql, 4, (const char *const *)values);
	else
		cycle_fail(m, "out of memory storing rendered emails");
	for (int k = 0; k < 4; k++)
		free(values[k]);
}

/* Renders every email of the items result; those with nothing left stay dropped. */
static void
render_all(struct mailer *m, const PGresult *res)
{
	int rows = PQntuples(res), first = 0;

	while (first < rows) {
		const char	*id = PQgetvalue(res, first, IC_OUTBOX);
		int		 end = first + 1;
		size_t		 i;
		json_t		*d;

		while (end < rows && strcmp(PQgetvalue(res, end, IC_OUTBOX), id) == 0)
			end++;
		json_array_foreach(m->batch.dropped, i, d) {
			if (strcmp(json_string_value(d), id) == 0) {
				json_array_remove(m->batch.dropped, i);
				break;
			}
		}
		/* One that cannot be rendered stays waiting: the next tick tries again. */
		if (!render_one(m, res, first, end))
			log_error("mailer", "cannot render email %s", id);
		first = end;
	}
	store(m);
}

/* Decides, for every waiting email locked, whether its time has come. */
static void
decide_waiting(struct mailer *m, const PGresult *res)
{
	json_t		*render = json_array();
	char		*ids = NULL;
	const char	*values[3];
	char		 cap[24];

	if (render == NULL || !batch_init(&m->batch)) {
		json_decref(render);
		cycle_fail(m, "out of memory");
		return;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		const char	*id = PQgetvalue(res, r, 0);
		enum mail_kind	 kind = kind_parse(PQgetvalue(res, r, 1));
		time_t		 created = (time_t)strtod(PQgetvalue(res, r, 2), NULL);
		time_t		 last = PQgetisnull(res, r, 3) ? 0 :
				    (time_t)strtod(PQgetvalue(res, r, 3), NULL);
		time_t		 due = mail_due(&m->timing, kind, created, last);

		if ((double)due > m->now)
			json_array_append_new(m->batch.postponed, json_pack("{s:s, s:I}",
			    "id", id, "due", (json_int_t)due));
		else {
			/* Dropped unless rendering finds something to say. */
			json_array_append_new(render, json_integer(strtoll(id, NULL, 10)));
			json_array_append_new(m->batch.dropped, json_string(id));
		}
	}
	if (json_array_size(render) == 0) {
		json_decref(render);
		store(m);
		return;
	}
	ids = json_dumps(render, JSON_COMPACT);
	json_decref(render);
	if (ids == NULL) {
		cycle_fail(m, "out of memory");
		return;
	}
	/* [1,2,3] is a bigint[] literal once its brackets are braces. */
	ids[0] = '{';
	ids[strlen(ids) - 1] = '}';
	snprintf(cap, sizeof(cap), "%lld", config_int(m->cfg, CFG_ALERTS_MAX_PER_EMAIL));
	values[0] = ids;
	values[1] = m->rules;
	values[2] = cap;
	run(m, CYCLE_ITEMS, items_sql, 3, values);
	free(ids);
}

/* --- The cycle ------------------------------------------------------------------- */

static const char waiting_sql[] =
    "SELECT o.id, o.kind, extract(epoch FROM o.created_at),"
    " extract(epoch FROM g.last_email_at)"
    " FROM outbox o LEFT JOIN alert_group g ON g.recipient_id = o.recipient_id"
    "  AND g.group_key = o.group_key"
    " WHERE o.state = 'pending' AND o.message IS NULL AND o.next_attempt_at <= now()"
    " ORDER BY o.next_attempt_at, o.id LIMIT " NUMBER(WAITING_BATCH)
    " FOR UPDATE OF o SKIP LOCKED";

static const char claim_sql[] =
    "UPDATE outbox o SET claimed_until = now() + make_interval(secs => $1::integer),"
    " claimed_by = $2, attempts = o.attempts + 1"
    " FROM (SELECT id FROM outbox WHERE state = 'pending' AND message IS NOT NULL"
    "  AND next_attempt_at <= now()"
    "  AND (claimed_until IS NULL OR claimed_until < now())"
    "  ORDER BY next_attempt_at, id LIMIT $3::integer FOR UPDATE SKIP LOCKED) c,"
    " recipient r"
    " WHERE o.id = c.id AND r.id = o.recipient_id"
    " RETURNING o.id, r.email, o.message, o.attempts";

static void
claim(struct mailer *m)
{
	long		 concurrency = (long)config_int(m->cfg, CFG_SMTP_CONCURRENCY);
	char		 lease[24], limit[24];
	const char	*values[3];

	if ((long)m->in_flight >= concurrency || m->draining) {
		run(m, CYCLE_COMMIT, "COMMIT", 0, NULL);
		return;
	}
	snprintf(lease, sizeof(lease), "%lld",
	    config_int(m->cfg, CFG_SMTP_TIMEOUT) + LEASE_MARGIN);
	snprintf(limit, sizeof(limit), "%ld", concurrency - (long)m->in_flight);
	values[0] = lease;
	values[1] = m->env.instance;
	values[2] = limit;
	run(m, CYCLE_CLAIM, claim_sql, 3, values);
}

static void
take_claims(struct mailer *m, const PGresult *res)
{
	for (int r = 0; r < PQntuples(res); r++) {
		struct send *s = calloc(1, sizeof(*s));

		if (s == NULL || (s->to = strdup(PQgetvalue(res, r, 1))) == NULL ||
		    (s->message = strdup(PQgetvalue(res, r, 2))) == NULL) {
			if (s != NULL)
				send_free(s);
			continue;	/* the lease runs out; sent later */
		}
		snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(res, r, 0));
		s->attempts = atoi(PQgetvalue(res, r, 3));
		s->next = m->claimed;
		m->claimed = s;
	}
}

/* Reminders first, so that this very cycle renders them when they are due. */
static void
sweep(struct mailer *m)
{
	/* Reminders need no more precision than the group interval gives them. */
	long		 every = m->timing.group_interval < REPEAT_SWEEP_SECONDS ?
			    m->timing.group_interval : REPEAT_SWEEP_SECONDS;
	time_t		 wall = time(NULL);
	char		 secs[24];
	const char	*values[2] = { secs, m->rules };

	if (wall - m->last_sweep < every) {
		run(m, CYCLE_REPEAT, "SELECT extract(epoch FROM now()), 0, NULL, NULL", 0,
		    NULL);
		return;
	}
	/* With the reminders, the outbox's gauges: what waits and what is dead. */
	m->last_sweep = wall;
	snprintf(secs, sizeof(secs), "%ld", m->timing.repeat_interval);
	run(m, CYCLE_REPEAT, "SELECT extract(epoch FROM now()), ictmon_alerts_repeat("
	    "now() - make_interval(secs => $1::integer), $2::jsonb),"
	    " (SELECT count(*) FROM outbox WHERE state = 'pending'),"
	    " (SELECT count(*) FROM outbox WHERE state = 'dead')", 2, values);
}

static void
cycle_step(struct mailer *m, PGresult *res, const char *error)
{
	if (res == NULL || !db_result_ok(res)) {
		cycle_fail(m, "mail cycle failed: %s", db_result_error(res, error));
		return;
	}
	switch (m->state) {
	case CYCLE_BEGIN:
		sweep(m);
		return;
	case CYCLE_REPEAT:
		m->now = strtod(PQgetvalue(res, 0, 0), NULL);
		if (atoi(PQgetvalue(res, 0, 1)) > 0)
			log_info("mailer", "%s reminders of still firing alerts queued",
			    PQgetvalue(res, 0, 1));
		if (!PQgetisnull(res, 0, 2)) {
			metrics_set(m->env.metrics, METRIC_OUTBOX, "state=\"pending\"",
			    strtod(PQgetvalue(res, 0, 2), NULL));
			metrics_set(m->env.metrics, METRIC_OUTBOX, "state=\"dead\"",
			    strtod(PQgetvalue(res, 0, 3), NULL));
		}
		run(m, CYCLE_WAITING, waiting_sql, 0, NULL);
		return;
	case CYCLE_WAITING:
		if (PQntuples(res) == WAITING_BATCH)
			m->again = true;
		decide_waiting(m, res);
		return;
	case CYCLE_ITEMS:
		render_all(m, res);
		return;
	case CYCLE_STORE:
		claim(m);
		return;
	case CYCLE_CLAIM:
		take_claims(m, res);
		run(m, CYCLE_COMMIT, "COMMIT", 0, NULL);
		return;
	case CYCLE_COMMIT:
		/* Sent only once the claims are committed: others skip them from now. */
		db_release(m->conn);
		m->conn = NULL;
		send_claimed(m);
		cycle_end(m);
		return;
	default:
		cycle_fail(m, "mail cycle in an unexpected state");
		return;
	}
}

static void
on_connection(struct db_conn *conn, const char *error, void *arg)
{
	struct mailer *m = arg;

	if (conn == NULL) {
		cycle_fail(m, "no database connection: %s", error ? error : "unknown");
		return;
	}
	m->conn = conn;
	run(m, CYCLE_BEGIN, "BEGIN", 0, NULL);
}

static void
on_tick(evutil_socket_t fd, short events, void *arg)
{
	struct mailer *m = arg;

	if (m->draining || m->cfg == NULL)
		return;
	if (m->state != CYCLE_IDLE) {
		m->again = true;
		return;
	}
	if (config_str(m->cfg, CFG_SMTP_URL) == NULL) {
		if (!m->warned_unset)
			log_warn("mailer", "smtp.url is not set: alert emails wait in the "
			    "outbox until it is");
		m->warned_unset = true;
		tick_later(m, TICK_SECONDS);
		return;
	}
	m->state = CYCLE_ACQUIRING;
	if (db_acquire(m->env.db, on_connection, m) != DB_QUEUED) {
		m->state = CYCLE_IDLE;
		tick_later(m, TICK_SECONDS);
	}
}

struct mailer *
mailer_new(const struct mailer_env *env)
{
	struct mailer *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->env = *env;
	if ((m->tick = evtimer_new(env->base, on_tick, m)) == NULL) {
		free(m);
		return NULL;
	}
	if (env->metrics != NULL) {
		metrics_describe(env->metrics, METRIC_EMAILS, METRIC_COUNTER,
		    "Alert email attempts by outcome: sent, failed (to be retried), "
		    "dead (given up).");
		metrics_describe(env->metrics, METRIC_SEND_SECONDS, METRIC_HISTOGRAM,
		    "Time to send one alert email, from connecting to the last reply.");
		metrics_describe(env->metrics, METRIC_OUTBOX, METRIC_GAUGE,
		    "Emails in the outbox (every process's): pending (waiting, due or "
		    "being retried) and dead (given up), as of the last look.");
	}
	return m;
}

void
mailer_configure(struct mailer *m, const struct config *cfg)
{
	char *rules = alert_rules_json(cfg);

	if (rules == NULL) {
		log_error("mailer", "out of memory: keeping the previous configuration");
		return;
	}
	free(m->rules);
	m->rules = rules;
	m->cfg = cfg;
	m->timing.group_wait = (long)config_int(cfg, CFG_ALERTS_GROUP_WAIT);
	m->timing.group_interval = (long)config_int(cfg, CFG_ALERTS_GROUP_INTERVAL);
	m->timing.repeat_interval = (long)config_int(cfg, CFG_ALERTS_REPEAT_INTERVAL);
	m->timing.digest_hour = (int)config_int(cfg, CFG_ALERTS_DIGEST_HOUR);
	m->warned_unset = false;
	if (m->state == CYCLE_IDLE && !evtimer_pending(m->tick, NULL))
		tick_later(m, 0);
}

void
mailer_kick(struct mailer *m)
{
	if (m->state != CYCLE_IDLE)
		m->again = true;
	else if (!m->draining) {
		evtimer_del(m->tick);
		tick_later(m, 0);
	}
}

void
mailer_drain(struct mailer *m, void (*cb)(void *), void *arg)
{
	m->draining = true;
	m->drained = cb;
	m->drained_arg = arg;
	evtimer_del(m->tick);
	maybe_drained(m);
}

void
mailer_free(struct mailer *m)
{
	if (m == NULL)
		return;
	/* Sends cut short keep their claim: the lease runs out and they go again. */
	while (m->sending != NULL) {
		struct send *s = m->sending;

		m->sending = s->next;
		fetch_cancel(s->fetch);
		send_free(s);
	}
	if (m->conn != NULL)
		db_release(m->conn);
	batch_clear(&m->batch);
	event_free(m->tick);
	free(m->rules);
	free(m);
}
