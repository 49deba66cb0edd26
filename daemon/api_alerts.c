/*
 * The alerts as the API shows them and what analysts do to them: GET /v1/alerts and
 * /v1/alerts/{id}, POST /v1/alerts/{id}/ack and /unack, the silences (GET, POST
 * /v1/silences, GET and DELETE /v1/silences/{id}) and the outbox (GET /v1/outbox),
 * where emails that could not be sent are found. Items are built by PostgreSQL;
 * alerts fire and resolve in sql/009_alerts.sql, the statements analysts run are
 * alert_actions.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "alerts.h"
#include "api.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "issues.h"
#include "listing.h"
#include "log.h"

#define ID_TEXT		24	/* a bigint as text */
#define WHO_TEXT	96	/* a token's name, or "token ID" */
/* A 409's message: room for a name of SILENCE_AUTHOR_MAX characters of UTF-8 whole,
   as a name cut in the middle of a character is no JSON string. */
#define MESSAGE_MAX	(4 * SILENCE_AUTHOR_MAX + 256)

#define UTC_TEXT(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Whether alert `a` involves the agency of code `code`: its own, or among its agencies. */
#define INVOLVES_AGENCY(a, code) \
    "EXISTS (SELECT 1 FROM agency g WHERE g.code = " code \
    " AND (" a ".agency_id = g.id OR " a ".agencies @> ARRAY[g.id]))"

/*
 * One alert as the API shows it (the arguments of a json_build_object): `a` an alert,
 * `url` the parameter holding public_url. Decimals are exact strings.
 */
#define ALERT_FIELDS(a, url) \
    "'id', " a ".id, 'rule', " a ".rule, 'indicator', " a ".indicator," \
    " 'fingerprint', " a ".fingerprint, 'severity', " a ".severity," \
    " 'state', " a ".state," \
    " 'agency', (SELECT g.code FROM agency g WHERE g.id = " a ".agency_id)," \
    " 'agencies', coalesce((SELECT json_agg(g.code ORDER BY g.code) FROM agency g" \
    "  WHERE g.id = ANY (" a ".agencies)), '[]')," \
    " 'subject', " a ".subject, 'summary', " a ".summary," \
    " 'value', " a ".value::text, 'band', " a ".band," \
    " 'amount', " a ".amount::text, 'currency', " a ".currency," \
    " 'first_seen', " UTC_TEXT(a ".first_seen") "," \
    " 'last_seen', " UTC_TEXT(a ".last_seen") "," \
    " 'fired_at', " UTC_TEXT(a ".fired_at") "," \
    " 'resolved_at', " UTC_TEXT(a ".resolved_at") "," \
    " 'last_change', " a ".last_change," \
    " 'acked', CASE WHEN " a ".acked_at IS NOT NULL THEN json_build_object(" \
    "  'by', " a ".acked_by, 'at', " UTC_TEXT(a ".acked_at") "," \
    "  'comment', " a ".ack_comment) END," \
    " 'suppressed', ictmon_alert_suppressed(" a ")," \
    " 'link', rtrim(" url "::text, '/') || '/#/alerts/' || " a ".id"

/*
 * Newest first. $1 state, $2 severity, $3 agency code, $4 rule, $5 acked (each NULL:
 * any), $6 public_url, $7 the previous page's last id, $8 rows wanted.
 */
static const char sql_alerts[] =
    "SELECT a.id, json_build_object(" ALERT_FIELDS("a", "$6") ")::text"
    " FROM alert a"
    " WHERE ($1::text IS NULL OR a.state = $1) AND ($2::text IS NULL OR a.severity = $2)"
    "  AND ($3::text IS NULL OR " INVOLVES_AGENCY("a", "$3") ")"
    "  AND ($4::text IS NULL OR a.rule = $4)"
    "  AND ($5::boolean IS NULL OR (a.acked_at IS NOT NULL) = $5)"
    "  AND ($7::bigint IS NULL OR a.id < $7)"
    " ORDER BY a.id DESC LIMIT $8::int";

#define ALERT_EVENTS(a) \
    "(SELECT coalesce(json_agg(json_build_object('at', " UTC_TEXT("e.at") "," \
    "  'kind', e.kind, 'actor', e.actor, 'detail', e.detail) ORDER BY e.at, e.id)," \
    "  '[]') FROM alert_event e WHERE e.alert_id = " a ".id)"

/* The emails that listed the alert: who they went to is for analysts only. */
#define ALERT_EMAILS(a) \
    ", 'emails', (SELECT coalesce(json_agg(json_build_object('id', o.id," \
    "  'recipient', r.email, 'kind', o.kind, 'change', x.change, 'state', o.state," \
    "  'attempts', o.attempts, 'created_at', " UTC_TEXT("o.created_at") "," \
    "  'sent_at', " UTC_TEXT("o.sent_at") ", 'last_error', o.last_error)" \
    "  ORDER BY o.id), '[]')" \
    " FROM outbox_alert x JOIN outbox o ON o.id = x.outbox_id" \
    " JOIN recipient r ON r.id = o.recipient_id WHERE x.alert_id = " a ".id)"

/*
 * One alert with its evidence and history, and its state for explaining a refused
 * acknowledgement. $1 id, $2 the agency code of an agency token (NULL: any alert),
 * $3 public_url.
 */
#define ALERT_DETAIL(emails) \
    "SELECT json_build_object(" ALERT_FIELDS("a", "$3") ", 'evidence', a.evidence," \
    "  'events', " ALERT_EVENTS("a") emails ")::text," \
    " a.state, a.acked_by, " UTC_TEXT("a.acked_at") \
    " FROM alert a WHERE a.id = $1::bigint" \
    "  AND ($2::text IS NULL OR " INVOLVES_AGENCY("a", "$2") ")"

static const char sql_alert_analyst[] = ALERT_DETAIL(ALERT_EMAILS("a"));
static const char sql_alert_agency[] = ALERT_DETAIL("");

/* Whether silence `s` matches alert `a`: every matcher it has. */
#define SILENCE_MATCHES(s, a) \
    "(" s ".rule IS NULL OR " s ".rule = " a ".rule)" \
    " AND (" s ".agency_id IS NULL OR " s ".agency_id = " a ".agency_id" \
    "  OR " s ".agency_id = ANY (" a ".agencies))" \
    " AND (" s ".fingerprint IS NULL OR " s ".fingerprint = " a ".fingerprint)"

#define SILENCE_OBJECT(s) \
    "json_build_object('id', " s ".id, 'rule', " s ".rule," \
    " 'agency', (SELECT g.code FROM agency g WHERE g.id = " s ".agency_id)," \
    " 'fingerprint', " s ".fingerprint, 'author', " s ".author," \
    " 'reason', " s ".reason, 'starts_at', " UTC_TEXT(s ".starts_at") "," \
    " 'ends_at', " UTC_TEXT(s ".ends_at") "," \
    " 'created_at', " UTC_TEXT(s ".created_at") ", 'ended_by', " s ".ended_by," \
    " 'active', " s ".starts_at <= now() AND " s ".ends_at > now()," \
    " 'state', CASE WHEN " s ".ends_at <= now() THEN 'expired'" \
    "  WHEN " s ".starts_at > now() THEN 'pending' ELSE 'active' END," \
    " 'matching', (SELECT count(*) FROM alert a WHERE a.state = 'firing'" \
    "  AND " SILENCE_MATCHES(s, "a") "))"

/* Newest first. $1 active (NULL: all), $2 the previous page's last id, $3 rows. */
static const char sql_silences[] =
    "SELECT s.id, " SILENCE_OBJECT("s") "::text FROM silence s"
    " WHERE ($1::boolean IS NULL"
    "  OR (s.starts_at <= now() AND s.ends_at > now()) = $1)"
    "  AND ($2::bigint IS NULL OR s.id < $2)"
    " ORDER BY s.id DESC LIMIT $3::int";

static const char sql_silence[] =
    "SELECT " SILENCE_OBJECT("s") "::text, " UTC_TEXT("s.ends_at") ", s.ended_by"
    " FROM silence s WHERE s.id = $1::bigint";

/* Newest first. $1 state (NULL: all), $2 the previous page's last id, $3 rows. */
static const char sql_outbox[] =
    "SELECT o.id, json_build_object('id', o.id, 'recipient', r.email,"
    "  'group_key', o.group_key, 'kind', o.kind, 'subject', o.subject,"
    "  'state', o.state, 'attempts', o.attempts,"
    "  'next_attempt_at', " UTC_TEXT("o.next_attempt_at") ","
    "  'last_error', o.last_error, 'alerts', o.alerts,"
    "  'alert_ids', (SELECT coalesce(json_agg(x.alert_id ORDER BY x.alert_id), '[]')"
    "   FROM outbox_alert x WHERE x.outbox_id = o.id),"
    "  'created_at', " UTC_TEXT("o.created_at") ","
    "  'rendered_at', " UTC_TEXT("o.rendered_at") ","
    "  'sent_at', " UTC_TEXT("o.sent_at") ")::text"
    " FROM outbox o JOIN recipient r ON r.id = o.recipient_id"
    " WHERE ($1::text IS NULL OR o.state = $1)"
    "  AND ($2::bigint IS NULL OR o.id < $2)"
    " ORDER BY o.id DESC LIMIT $3::int";

/* A request that runs an analyst's statement, then reads what it left. */
struct action {
	struct request	*req;
	bool		 ack;		/* an acknowledgement, or its withdrawal */
	bool		 done;		/* the statement changed something */
	char		 id[ID_TEXT];	/* the alert's or the silence's */
};

static void
reply_unavailable(struct request *req)
{
	http_reply_unavailable(req, "the database is not available");
}

/* Queues a statement for req; false after replying 503. */
static bool
submit(struct request *req, const char *sql, int n, const char *const *values,
    db_result_cb cb, void *arg)
{
	switch (db_query_scoped(req->daemon->db, request_scope(req), sql, n, values, cb,
	    arg)) {
	case DB_QUEUED:
		return true;
	case DB_UNAVAILABLE:
	case DB_BUSY:
		break;
	}
	reply_unavailable(req);
	return false;
}

/* Whether a result can be read; else replies 503 or 500 (logged). */
static bool
result_usable(struct request *req, PGresult *res, const char *error)
{
	return api_result_usable(req, res, error, "the database failed the request");
}

/* Row ids as PostgreSQL writes them: what a path's {id} must be. */
static bool
id_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strspn(s, "0123456789");
	return n > 0 && n <= 18 && s[n] == '\0' && s[0] != '0';
}

/* A query argument that must be one of `choices`; false after replying 400. */
static bool
read_choice(struct request *req, const char *name, const char *const *choices,
    const char **out)
{
	char	message[160];
	size_t	o;

	if ((*out = request_query(req, name)) == NULL)
		return true;
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(*out, choices[i]) == 0)
			return true;
	o = (size_t)snprintf(message, sizeof(message), "%s: must be ", name);
	for (size_t i = 0; choices[i] != NULL && o < sizeof(message); i++)
		o += (size_t)snprintf(message + o, sizeof(message) - o, "%s%s",
		    i == 0 ? "" : choices[i + 1] == NULL ? " or " : ", ", choices[i]);
	http_reply_error(req, 400, message, NULL);
	return false;
}

/* Who did it, for the alert's history: the token's name, or which token. */
static void
actor(const struct request *req, char *who, size_t len)
{
	if (req->who.name[0] != '\0')
		snprintf(who, len, "%s", req->who.name);
	else
		snprintf(who, len, "token %lld", req->who.token_id);
}

/*
 * The body as a JSON object; an empty body is an empty object. NULL after replying:
 * 415 without the JSON media type, 400 when it is not JSON or not an object.
 */
static json_t *
read_object(struct request *req)
{
	json_error_t	 jerr;
	json_t		*root, *details;
	const char	*body;
	size_t		 len;
	char		 message[256];

	if ((body = request_body(req, &len)) == NULL || len == 0) {
		if ((root = json_object()) == NULL)
			http_reply_error(req, 500, "out of memory", NULL);
		return root;
	}
	if (!http_media_type_is(request_header(req, "Content-Type"),
	    "application/json")) {
		http_reply_error(req, 415, "Content-Type must be application/json", NULL);
		return NULL;
	}
	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(message, sizeof(message), "malformed JSON at line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		details = json_pack("[{s:i, s:i, s:s}]", "line", jerr.line, "column",
		    jerr.column, "message", jerr.text);
		http_reply_error(req, 400, message, details);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		http_reply_error(req, 400, "the body must be a JSON object", NULL);
		return NULL;
	}
	return root;
}

/*
 * The string member `key` of the body (NULL when absent or null); a member of another
 * type is an issue at its pointer.
 */
static const char *
member_string(json_t *body, const char *key, struct issue_list *issues)
{
	json_t	*v = json_object_get(body, key);
	char	 pointer[64];

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		snprintf(pointer, sizeof(pointer), "/%s", key);
		issues_add(issues, -1, pointer, "must be a string");
		return NULL;
	}
	return json_string_value(v);
}

/* 422 with every issue; takes nothing, clears nothing. */
static void
reply_invalid(struct request *req, const char *what, const struct issue_list *issues)
{
	char message[160];

	snprintf(message, sizeof(message), "%zu problem%s in the %s: nothing was written",
	    issues->total, issues->total == 1 ? "" : "s", what);
	http_reply_error(req, 422, message, issues_to_json(issues));
}

/* Unknown members of the body, each an issue. */
static void
unknown_members(json_t *body, const char *const *known, struct issue_list *issues)
{
	const char	*key;
	json_t		*v;

	json_object_foreach(body, key, v) {
		size_t i;

		for (i = 0; known[i] != NULL && strcmp(known[i], key) != 0; i++)
			;
		if (known[i] == NULL)
			issues_unknown_field(issues, -1, "", key);
	}
}

/* --- Alerts ---------------------------------------------------------------------- */

void
api_get_alerts(struct request *req)
{
	static const char *const states[] = { "firing", "resolved", NULL };
	static const char *const severities[] = { "low", "medium", "high", NULL };
	static const char *const booleans[] = { "true", "false", NULL };
	struct listing	*page;
	const char	*state, *severity, *agency, *rule, *acked, *values[8];

	if (!read_choice(req, "state", states, &state) ||
	    !read_choice(req, "severity", severities, &severity) ||
	    !read_choice(req, "acked", booleans, &acked) ||
	    !listing_agency(req, &agency))
		return;
	if ((rule = request_query(req, "rule")) != NULL && !alert_rule_name_ok(rule)) {
		http_reply_error(req, 400, "rule: not a rule name (a-z, 0-9, _ and -)", NULL);
		return;
	}
	if ((page = listing_new(req, 'A', "i")) == NULL)
		return;
	values[0] = state;
	values[1] = severity;
	values[2] = agency;
	values[3] = rule;
	values[4] = acked;
	values[5] = config_str(req->daemon->cfg, CFG_PUBLIC_URL);
	values[6] = page->after[0];
	values[7] = page->limit_plus;
	listing_query(page, sql_alerts, 8, values);
}

static void
on_alert(PGresult *res, const char *error, void *arg)
{
	struct request *req = arg;

	if (!result_usable(req, res, error))
		return;
	if (PQntuples(res) == 0) {
		http_reply_error(req, 404, "no such alert", NULL);
		return;
	}
	http_reply_data(req, 200, "application/json; charset=utf-8",
	    PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void
api_get_alert(struct request *req)
{
	const char	*id = request_param(req, "id");
	const char	*values[3];
	bool		 agency = req->who.role == ROLE_AGENCY;

	if (!id_ok(id)) {
		http_reply_error(req, 404, "no such alert", NULL);
		return;
	}
	values[0] = id;
	values[1] = agency ? req->who.agency_code : NULL;
	values[2] = config_str(req->daemon->cfg, CFG_PUBLIC_URL);
	submit(req, agency ? sql_alert_agency : sql_alert_analyst, 3, values, on_alert,
	    req);
}

/* The alert after the statement: the reply, or why the statement did nothing. */
static void
on_alert_after(PGresult *res, const char *error, void *arg)
{
	struct action	*act = arg;
	struct request	*req = act->req;
	const char	*state, *acked_by;
	char		 message[MESSAGE_MAX];

	if (!result_usable(req, res, error))
		goto out;
	if (PQntuples(res) == 0) {
		http_reply_error(req, 404, "no such alert", NULL);
		goto out;
	}
	if (act->done) {
		log_info("api", "rid=%s alert %s %s by token %lld", req->id, act->id,
		    act->ack ? "acknowledged" : "unacknowledged", req->who.token_id);
		http_reply_data(req, 200, "application/json; charset=utf-8",
		    PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
		goto out;
	}
	state = PQgetvalue(res, 0, 1);
	acked_by = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
	if (strcmp(state, "firing") != 0)
		snprintf(message, sizeof(message), "alert %s is %s: only a firing alert is "
		    "%s", act->id, state, act->ack ? "acknowledged" : "unacknowledged");
	else if (act->ack && acked_by != NULL)
		snprintf(message, sizeof(message), "alert %s is already acknowledged, by "
		    "%s at %s", act->id, acked_by, PQgetvalue(res, 0, 3));
	else if (!act->ack && acked_by == NULL)
		snprintf(message, sizeof(message), "alert %s is not acknowledged", act->id);
	else
		snprintf(message, sizeof(message), "alert %s changed meanwhile: read it "
		    "and try again", act->id);
	http_reply_error(req, 409, message, NULL);
out:
	free(act);
}

static void
on_ack(PGresult *res, const char *error, void *arg)
{
	struct action	*act = arg;
	struct request	*req = act->req;
	const char	*values[3];

	if (!result_usable(req, res, error))
		goto fail;
	act->done = PQntuples(res) == 1;
	values[0] = act->id;
	values[1] = NULL;
	values[2] = config_str(req->daemon->cfg, CFG_PUBLIC_URL);
	if (!submit(req, sql_alert_analyst, 3, values, on_alert_after, act))
		goto fail;
	return;
fail:
	free(act);
}

static void
acknowledge(struct request *req, bool ack)
{
	static const char *const known[] = { "comment", NULL };
	static const char *const none[] = { NULL };
	struct issue_list	 issues = { 0 };
	struct action		*act = NULL;
	const char		*id = request_param(req, "id");
	const char		*comment = NULL, *values[3];
	json_t			*body = NULL, *v;
	char			 who[WHO_TEXT];

	if (!id_ok(id)) {
		http_reply_error(req, 404, "no such alert", NULL);
		goto out;
	}
	if ((body = read_object(req)) == NULL)
		goto out;
	unknown_members(body, ack ? known : none, &issues);
	if (ack && (v = json_object_get(body, "comment")) != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			issues_add(&issues, -1, "/comment", "must be a string");
		else if (!alert_text_ok(comment = json_string_value(v)))
			issues_add(&issues, -1, "/comment", "text of at most %d characters",
			    ALERT_TEXT_MAX);
	}
	if (issues.total > 0) {
		reply_invalid(req, "request", &issues);
		goto out;
	}
	if ((act = calloc(1, sizeof(*act))) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		goto out;
	}
	act->req = req;
	act->ack = ack;
	snprintf(act->id, sizeof(act->id), "%s", id);
	actor(req, who, sizeof(who));
	values[0] = id;
	values[1] = who;
	values[2] = comment;
	/* The pool copies the values: the body may go. */
	if (submit(req, ack ? alert_ack_sql : alert_unack_sql, ack ? 3 : 2, values,
	    on_ack, act))
		act = NULL;
out:
	free(act);
	json_decref(body);
	issues_clear(&issues);
}

void
api_post_alert_ack(struct request *req)
{
	acknowledge(req, true);
}

void
api_post_alert_unack(struct request *req)
{
	acknowledge(req, false);
}

/* --- Silences -------------------------------------------------------------------- */

void
api_get_silences(struct request *req)
{
	static const char *const booleans[] = { "true", "false", NULL };
	struct listing	*page;
	const char	*active, *values[3];

	if (!read_choice(req, "active", booleans, &active) ||
	    (page = listing_new(req, 'S', "i")) == NULL)
		return;
	values[0] = active;
	values[1] = page->after[0];
	values[2] = page->limit_plus;
	listing_query(page, sql_silences, 3, values);
}

static void
on_silence(PGresult *res, const char *error, void *arg)
{
	struct request *req = arg;

	if (!result_usable(req, res, error))
		return;
	if (PQntuples(res) == 0) {
		http_reply_error(req, 404, "no such silence", NULL);
		return;
	}
	http_reply_data(req, 200, "application/json; charset=utf-8",
	    PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void
api_get_silence(struct request *req)
{
	const char *values[1] = { request_param(req, "id") };

	if (!id_ok(values[0])) {
		http_reply_error(req, 404, "no such silence", NULL);
		return;
	}
	submit(req, sql_silence, 1, values, on_silence, req);
}

static void
on_silence_created_read(PGresult *res, const char *error, void *arg)
{
	struct action	*act = arg;
	struct request	*req = act->req;
	char		 location[64];

	if (!result_usable(req, res, error))
		goto out;
	if (PQntuples(res) == 0) {
		/* Ended and gone between two statements: only a race could do it. */
		http_reply_error(req, 404, "the new silence is gone", NULL);
		goto out;
	}
	log_info("api", "rid=%s silence %s created by token %lld", req->id, act->id,
	    req->who.token_id);
	snprintf(location, sizeof(location), "/v1/silences/%s", act->id);
	http_set_header(req, "Location", location);
	http_reply_data(req, 201, "application/json; charset=utf-8",
	    PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
out:
	free(act);
}

static void
on_silence_created(PGresult *res, const char *error, void *arg)
{
	struct action		*act = arg;
	struct request		*req = act->req;
	struct issue_list	 issues = { 0 };
	const char		*values[1];

	if (!result_usable(req, res, error))
		goto fail;
	if (PQntuples(res) == 0) {
		issues_add(&issues, -1, "/agency", "no agency with this code");
		reply_invalid(req, "silence", &issues);
		issues_clear(&issues);
		goto fail;
	}
	snprintf(act->id, sizeof(act->id), "%s", PQgetvalue(res, 0, 0));
	values[0] = act->id;
	if (!submit(req, sql_silence, 1, values, on_silence_created_read, act))
		goto fail;
	return;
fail:
	free(act);
}

struct silence_problems {
	json_t			*body;
	struct issue_list	*issues;
};

/* A problem silence_check found, at its member's pointer; a member that is not even a
   string was reported already. */
static void
silence_problem(const char *field, const char *message, void *arg)
{
	static const char *const matchers[] = { "rule", "agency", "fingerprint" };
	struct silence_problems	*sp = arg;
	json_t			*v;
	char			 pointer[64];

	if (field[0] != '\0' && (v = json_object_get(sp->body, field)) != NULL &&
	    !json_is_null(v) && !json_is_string(v))
		return;
	/* "No matcher" when one was given, but not as a string: that was said. */
	for (size_t i = 0; field[0] == '\0' && i < sizeof(matchers) / sizeof(matchers[0]);
	    i++)
		if ((v = json_object_get(sp->body, matchers[i])) != NULL && !json_is_null(v))
			return;
	snprintf(pointer, sizeof(pointer), "%s%s", field[0] != '\0' ? "/" : "", field);
	issues_add(sp->issues, -1, pointer, "%s", message);
}

void
api_post_silence(struct request *req)
{
	static const char *const known[] = { "rule", "agency", "fingerprint", "author",
	    "reason", "starts_at", "ends_at", "duration", NULL };
	struct silence_spec	 spec;
	struct silence_problems	 problems;
	struct issue_list	 issues = { 0 };
	struct action		*act = NULL;
	const char		*values[7];
	json_t			*body = NULL;
	char			 who[WHO_TEXT], ends_at[SILENCE_TIME_TEXT];

	if ((body = read_object(req)) == NULL)
		goto out;
	unknown_members(body, known, &issues);
	memset(&spec, 0, sizeof(spec));
	spec.rule = member_string(body, "rule", &issues);
	spec.agency = member_string(body, "agency", &issues);
	spec.fingerprint = member_string(body, "fingerprint", &issues);
	spec.author = member_string(body, "author", &issues);
	spec.reason = member_string(body, "reason", &issues);
	spec.starts_at = member_string(body, "starts_at", &issues);
	spec.ends_at = member_string(body, "ends_at", &issues);
	spec.duration = member_string(body, "duration", &issues);
	if (spec.author == NULL) {
		actor(req, who, sizeof(who));
		spec.author = who;
	}
	problems.body = body;
	problems.issues = &issues;
	silence_check(&spec, time(NULL), ends_at, silence_problem, &problems);
	if (issues.total > 0) {
		reply_invalid(req, "silence", &issues);
		goto out;
	}
	if ((act = calloc(1, sizeof(*act))) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		goto out;
	}
	act->req = req;
	values[0] = spec.rule;
	values[1] = spec.agency;
	values[2] = spec.fingerprint;
	values[3] = spec.author;
	values[4] = spec.reason;
	values[5] = ends_at;
	values[6] = spec.starts_at;
	if (submit(req, silence_create_sql, 7, values, on_silence_created, act))
		act = NULL;
out:
	free(act);
	json_decref(body);
	issues_clear(&issues);
}

static void
on_unsilence_after(PGresult *res, const char *error, void *arg)
{
	struct action	*act = arg;
	struct request	*req = act->req;
	char		 message[MESSAGE_MAX];

	if (!result_usable(req, res, error))
		goto out;
	if (PQntuples(res) == 0) {
		http_reply_error(req, 404, "no such silence", NULL);
		goto out;
	}
	snprintf(message, sizeof(message), "silence %s already ended, at %s%s%s",
	    act->id, PQgetvalue(res, 0, 1), PQgetisnull(res, 0, 2) ? "" : ", by ",
	    PQgetvalue(res, 0, 2));
	http_reply_error(req, 409, message, NULL);
out:
	free(act);
}

static void
on_unsilence(PGresult *res, const char *error, void *arg)
{
	struct action	*act = arg;
	struct request	*req = act->req;
	const char	*values[1];

	if (!result_usable(req, res, error))
		goto fail;
	if (PQntuples(res) == 1) {
		log_info("api", "rid=%s silence %s ended by token %lld", req->id, act->id,
		    req->who.token_id);
		http_reply_data(req, 204, NULL, "", 0);
		goto fail;
	}
	values[0] = act->id;
	if (!submit(req, sql_silence, 1, values, on_unsilence_after, act))
		goto fail;
	return;
fail:
	free(act);
}

void
api_delete_silence(struct request *req)
{
	struct action	*act;
	const char	*id = request_param(req, "id");
	const char	*values[2];
	char		 who[WHO_TEXT];

	if (!id_ok(id)) {
		http_reply_error(req, 404, "no such silence", NULL);
		return;
	}
	if ((act = calloc(1, sizeof(*act))) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		return;
	}
	act->req = req;
	snprintf(act->id, sizeof(act->id), "%s", id);
	actor(req, who, sizeof(who));
	values[0] = id;
	values[1] = who;
	if (!submit(req, silence_expire_sql, 2, values, on_unsilence, act))
		free(act);
}

/* --- Outbox ---------------------------------------------------------------------- */

void
api_get_outbox(struct request *req)
{
	static const char *const states[] = { "pending", "sent", "dead", "dropped", NULL };
	struct listing	*page;
	const char	*state, *values[3];

	if (!read_choice(req, "state", states, &state) ||
	    (page = listing_new(req, 'M', "i")) == NULL)
		return;
	values[0] = state;
	values[1] = page->after[0];
	values[2] = page->limit_plus;
	listing_query(page, sql_outbox, 3, values);
}
