/*
 * ictmonctl's commands about alert email: the recipients, and what analysts do from a
 * shell that the API also lets them do — list, acknowledge and silence alerts — with
 * the statements of include/alerts.h, so that both mean the same. Blocking libpq, as
 * the other admin commands.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "agency.h"
#include "alerts.h"
#include "ictmonctl.h"
#include "mail.h"
#include "utf8.h"

#define ID_TEXT			24
#define RECIPIENT_NAME_MAX	128	/* characters of a display name */
#define ROLE_NAME_MAX		32
#define CUT_MIN			16	/* a cut column keeps at least this many */
#define ELLIPSIS		"\xe2\x80\xa6"

#define UTC_TIME(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The agencies of alert or recipient `x` as "A,B", by code. */
#define AGENCY_CODES(x) \
    "(SELECT string_agg(g.code, ',' ORDER BY g.code) FROM agency g" \
    " WHERE g.id = ANY (" x ".agencies))"

/* Columns the terminal has for stdout; 0 when it is no terminal and COLUMNS is unset. */
static size_t
terminal_columns(void)
{
	struct winsize	 ws;
	const char	*env;
	long long	 n;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		return ws.ws_col;
	if ((env = getenv("COLUMNS")) != NULL && parse_count(env, 1, 10000, &n))
		return (size_t)n;
	return 0;
}

/*
 * A result as print_table shows it, but with its last column (a summary, a reason)
 * cut so that lines fit the terminal; line breaks in it become spaces.
 */
static void
print_table_cut(const PGresult *res)
{
	int	 ncols = PQnfields(res), nrows = PQntuples(res);
	size_t	*width, used = 0, room = 0, columns = terminal_columns();

	if ((width = calloc((size_t)ncols, sizeof(*width))) == NULL)
		return;
	for (int c = 0; c + 1 < ncols; c++) {
		width[c] = text_width(PQfname(res, c));
		for (int r = 0; r < nrows; r++) {
			size_t w = PQgetisnull(res, r, c) ? 1 :
			    text_width(PQgetvalue(res, r, c));

			if (w > width[c])
				width[c] = w;
		}
		used += width[c] + 2;
	}
	if (columns > 0)
		room = columns > used + CUT_MIN ? columns - used : CUT_MIN;
	for (int r = -1; r < nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *v = r < 0 ? PQfname(res, c) :
			    PQgetisnull(res, r, c) ? "-" : PQgetvalue(res, r, c);

			if (c + 1 < ncols) {
				printf("%s%*s  ", v, (int)(width[c] - text_width(v)), "");
				continue;
			}
			if (room > 0 && text_width(v) > room) {
				size_t n = utf8_prefix(v, room - 1);

				for (size_t i = 0; i < n; i++)
					putchar(v[i] == '\n' || v[i] == '\r' ? ' ' : v[i]);
				printf(ELLIPSIS "\n");
			} else {
				for (; *v != '\0'; v++)
					putchar(*v == '\n' || *v == '\r' ? ' ' : *v);
				putchar('\n');
			}
		}
	}
	free(width);
}

/* --by or --author, else the user running the command. */
static const char *
who(const struct ctl *ctl, const char *option_name)
{
	const struct passwd	*pw;
	const char		*name;

	if ((name = option(ctl, option_name)) != NULL)
		return name;
	if ((name = getenv("USER")) != NULL && name[0] != '\0')
		return name;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_name[0] != '\0')
		return pw->pw_name;
	return "ictmonctl";
}

/* One line of at most `max` characters, for a name or an author. */
static bool
one_line_ok(const char *text, size_t max)
{
	return text[0] != '\0' && alert_text_ok(text) && strchr(text, '\n') == NULL &&
	    strchr(text, '\t') == NULL && text_width(text) <= max;
}

static bool
severity_ok(const char *s)
{
	return strcmp(s, "low") == 0 || strcmp(s, "medium") == 0 || strcmp(s, "high") == 0;
}

/* The role as recipient.role spells it. */
static bool
role_ok(const char *role)
{
	size_t len = strlen(role);

	return len > 0 && len <= ROLE_NAME_MAX && role[0] >= 'a' && role[0] <= 'z' &&
	    strspn(role, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* --- recipients ------------------------------------------------------------------- */

int
cmd_recipient_add(struct ctl *ctl)
{
	/* Unset options take what the table would (role finance, severity medium). */
	static const char	 insert[] =
	    "INSERT INTO recipient (email, name, agencies, role, min_severity, delivery)"
	    " VALUES ($1, $2, $3::bigint[], coalesce($4, 'finance'),"
	    "  coalesce($5, 'medium'), $6)"
	    " ON CONFLICT (lower(email)) DO NOTHING RETURNING id";
	const char		*email = ctl->args[0];
	const char		*name = option(ctl, "name");
	const char		*role = option(ctl, "role");
	const char		*severity = option(ctl, "min-severity");
	const char		*digest = option(ctl, "digest");
	const char		*params[6];
	char			*agencies = NULL, id[ID_TEXT];
	PGresult		*res = NULL;
	size_t			 len = 0;
	int			 rc = EXIT_FAIL;

	if (!mail_address_ok(email))
		return usage_error(ctl->cmd, "\"%s\" is not an email address", email);
	if (name != NULL && !one_line_ok(name, RECIPIENT_NAME_MAX))
		return usage_error(ctl->cmd, "--name takes one line of at most %d "
		    "characters", RECIPIENT_NAME_MAX);
	if (role != NULL && !role_ok(role))
		return usage_error(ctl->cmd, "\"%s\" is not a role name (a-z, then a-z, "
		    "0-9, _ and -; at most %d)", role, ROLE_NAME_MAX);
	if (severity != NULL && !severity_ok(severity))
		return usage_error(ctl->cmd, "--min-severity is low, medium or high");
	if (digest != NULL && strcmp(digest, "daily") != 0)
		return usage_error(ctl->cmd, "--digest takes \"daily\" (without it, each "
		    "alert is mailed at once)");
	for (int i = 0; i < ctl->nrepeated; i++)
		if (!agency_code_valid(ctl->repeated[i]))
			return usage_error(ctl->cmd, "\"%s\" is not an agency code",
			    ctl->repeated[i]);

	if (db_open(ctl) != EXIT_OK)
		goto out;
	if (!sql_run(ctl, "BEGIN", 0, NULL))
		goto out;
	/* {id,id,...}: every --agency must exist; a repeated one counts once. */
	if ((agencies = malloc((size_t)ctl->nrepeated * ID_TEXT + 3)) == NULL) {
		say("out of memory");
		goto out;
	}
	agencies[len++] = '{';
	for (int i = 0; i < ctl->nrepeated; i++) {
		bool seen = false;

		for (int k = 0; k < i; k++)
			seen = seen || strcmp(ctl->repeated[k], ctl->repeated[i]) == 0;
		if (seen)
			continue;
		if (!agency_id(ctl, ctl->repeated[i], id))
			goto out;
		len += (size_t)sprintf(agencies + len, "%s%s", len > 1 ? "," : "", id);
	}
	strcpy(agencies + len, "}");
	params[0] = email;
	params[1] = name;
	params[2] = agencies;
	params[3] = role;
	params[4] = severity;
	params[5] = digest != NULL ? "daily" : "immediate";
	if ((res = sql(ctl, insert, 6, params)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		if ((res = sql(ctl, "SELECT id FROM recipient WHERE lower(email) = lower($1)",
		    1, params)) == NULL)
			goto out;
		say("%s is already a recipient (id %s)", email, PQntuples(res) == 1 ?
		    PQgetvalue(res, 0, 0) : "?");
		goto out;
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	if (!sql_run(ctl, "COMMIT", 0, NULL))
		goto out;
	printf("%s\n", id);
	rc = EXIT_OK;
out:
	PQclear(res);
	free(agencies);
	return rc;
}

int
cmd_recipient_list(struct ctl *ctl)
{
	PGresult *res;

	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((res = sql(ctl, "SELECT r.id, r.email, r.name, r.role,"
	    " CASE WHEN cardinality(r.agencies) = 0 THEN 'all'"
	    "  ELSE " AGENCY_CODES("r") " END AS agencies,"
	    " r.min_severity, r.delivery"
	    " FROM recipient r ORDER BY r.id", 0, NULL)) == NULL)
		return EXIT_FAIL;
	print_table(res);
	PQclear(res);
	return EXIT_OK;
}

int
cmd_recipient_remove(struct ctl *ctl)
{
	const char	*params[1] = { ctl->args[0] };
	PGresult	*res;
	long long	 id;
	int		 rc = EXIT_FAIL;

	if (!parse_count(ctl->args[0], 1, LLONG_MAX, &id))
		return usage_error(ctl->cmd, "\"%s\" is not a recipient id", ctl->args[0]);
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((res = sql(ctl, "DELETE FROM recipient WHERE id = $1::bigint RETURNING email",
	    1, params)) == NULL)
		return EXIT_FAIL;
	if (PQntuples(res) == 1) {
		printf("recipient %lld (%s) removed\n", id, PQgetvalue(res, 0, 0));
		rc = EXIT_OK;
	} else
		say("no recipient with id %lld", id);
	PQclear(res);
	return rc;
}

/* --- alerts ----------------------------------------------------------------------- */

int
cmd_alerts_list(struct ctl *ctl)
{
	/* The agency column: the alert's own, or else every agency involved. */
	static const char	 list[] =
	    "SELECT a.id, a.severity, a.state, a.rule,"
	    " coalesce(g.code, " AGENCY_CODES("a") ") AS agency,"
	    " a.acked_by AS acked, a.summary"
	    " FROM alert a LEFT JOIN agency g ON g.id = a.agency_id"
	    " WHERE ($1::text IS NULL OR a.state = $1)"
	    "  AND ($2::text IS NULL OR a.severity = $2)"
	    "  AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM agency x WHERE x.code = $3"
	    "   AND (a.agency_id = x.id OR a.agencies @> ARRAY[x.id])))"
	    "  AND ($4::text IS NULL OR a.rule = $4)"
	    " ORDER BY a.id DESC";
	const char		*state = option(ctl, "state");
	const char		*severity = option(ctl, "severity");
	const char		*agency = option(ctl, "agency");
	const char		*rule = option(ctl, "rule");
	const char		*params[4];
	PGresult		*res;

	if (state == NULL)
		state = "firing";
	if (strcmp(state, "firing") != 0 && strcmp(state, "resolved") != 0 &&
	    strcmp(state, "all") != 0)
		return usage_error(ctl->cmd, "--state is firing, resolved or all");
	if (severity != NULL && !severity_ok(severity))
		return usage_error(ctl->cmd, "--severity is low, medium or high");
	if (agency != NULL && !agency_code_valid(agency))
		return usage_error(ctl->cmd, "\"%s\" is not an agency code", agency);
	if (rule != NULL && !alert_rule_name_ok(rule))
		return usage_error(ctl->cmd, "\"%s\" is not a rule name", rule);
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	params[0] = strcmp(state, "all") != 0 ? state : NULL;
	params[1] = severity;
	params[2] = agency;
	params[3] = rule;
	if ((res = sql(ctl, list, 4, params)) == NULL)
		return EXIT_FAIL;
	print_table_cut(res);
	PQclear(res);
	return EXIT_OK;
}

/* Says why an acknowledgement (or its withdrawal) of alert `id` did nothing. */
static void
explain_refusal(struct ctl *ctl, const char *id, bool ack)
{
	const char	*params[1] = { id };
	PGresult	*res;

	if ((res = sql(ctl, "SELECT state, acked_by, " UTC_TIME("acked_at")
	    " FROM alert WHERE id = $1::bigint", 1, params)) == NULL)
		return;
	if (PQntuples(res) == 0)
		say("no alert with id %s", id);
	else if (strcmp(PQgetvalue(res, 0, 0), "firing") != 0)
		say("alert %s is %s: only a firing alert is %s", id, PQgetvalue(res, 0, 0),
		    ack ? "acknowledged" : "unacknowledged");
	else if (ack && !PQgetisnull(res, 0, 1))
		say("alert %s is already acknowledged, by %s at %s", id,
		    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	else if (!ack && PQgetisnull(res, 0, 1))
		say("alert %s is not acknowledged", id);
	else
		say("alert %s changed meanwhile: look again", id);
	PQclear(res);
}

static int
acknowledge(struct ctl *ctl, bool ack)
{
	const char	*comment = ack ? option(ctl, "comment") : NULL;
	const char	*by = who(ctl, "by");
	const char	*params[3];
	PGresult	*res;
	long long	 id;
	int		 rc = EXIT_FAIL;

	if (!parse_count(ctl->args[0], 1, LLONG_MAX, &id))
		return usage_error(ctl->cmd, "\"%s\" is not an alert id", ctl->args[0]);
	if (comment != NULL && !alert_text_ok(comment))
		return usage_error(ctl->cmd, "--comment takes text of at most %d "
		    "characters", ALERT_TEXT_MAX);
	if (!one_line_ok(by, SILENCE_AUTHOR_MAX))
		return usage_error(ctl->cmd, "--by takes one line of at most %d "
		    "characters", SILENCE_AUTHOR_MAX);
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	params[0] = ctl->args[0];
	params[1] = by;
	params[2] = comment;
	if ((res = sql(ctl, ack ? alert_ack_sql : alert_unack_sql, ack ? 3 : 2,
	    params)) == NULL)
		return EXIT_FAIL;
	if (PQntuples(res) == 1) {
		printf("alert %lld %s by %s\n", id, ack ? "acknowledged" :
		    "no longer acknowledged", by);
		rc = EXIT_OK;
	} else
		explain_refusal(ctl, ctl->args[0], ack);
	PQclear(res);
	return rc;
}

int
cmd_alerts_ack(struct ctl *ctl)
{
	return acknowledge(ctl, true);
}

int
cmd_alerts_unack(struct ctl *ctl)
{
	return acknowledge(ctl, false);
}

/* --- silences --------------------------------------------------------------------- */

struct silence_usage {
	int	problems;
};

/* A problem of the silence, named by the option that set it. */
static void
silence_problem(const char *field, const char *message, void *arg)
{
	static const struct {
		const char	*field;
		const char	*option;
	} options[] = {
		{ "ends_at", "--until" },
		{ "duration", "--for" },
		{ "rule", "--rule" },
		{ "agency", "--agency" },
		{ "fingerprint", "--fingerprint" },
		{ "author", "--author" },
		{ "reason", "--reason" },
	};
	struct silence_usage	*u = arg;
	const char		*name = field;

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(options[i].field, field) == 0)
			name = options[i].option;
	if (field[0] == '\0')
		say("%s", message);
	else
		say("%s: %s", name, message);
	u->problems++;
}

int
cmd_alerts_silence(struct ctl *ctl)
{
	struct silence_spec	 spec;
	struct silence_usage	 usage = { 0 };
	const char		*params[7];
	char			 ends_at[SILENCE_TIME_TEXT];
	PGresult		*res;
	int			 rc = EXIT_FAIL;

	memset(&spec, 0, sizeof(spec));
	spec.rule = option(ctl, "rule");
	spec.agency = option(ctl, "agency");
	spec.fingerprint = option(ctl, "fingerprint");
	spec.author = who(ctl, "author");
	spec.reason = option(ctl, "reason");
	spec.ends_at = option(ctl, "until");
	spec.duration = option(ctl, "for");
	if (silence_check(&spec, time(NULL), ends_at, silence_problem, &usage) > 0)
		return usage_error(ctl->cmd, "%d problem%s with the silence: nothing was "
		    "written", usage.problems, usage.problems == 1 ? "" : "s");
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	params[0] = spec.rule;
	params[1] = spec.agency;
	params[2] = spec.fingerprint;
	params[3] = spec.author;
	params[4] = spec.reason;
	params[5] = ends_at;
	params[6] = NULL;
	if ((res = sql(ctl, silence_create_sql, 7, params)) == NULL)
		return EXIT_FAIL;
	if (PQntuples(res) == 1) {
		printf("%s\n", PQgetvalue(res, 0, 0));
		say("silence %s until %s", PQgetvalue(res, 0, 0), ends_at);
		rc = EXIT_OK;
	} else
		say("no agency with code \"%s\"", spec.agency);
	PQclear(res);
	return rc;
}

int
cmd_alerts_silences(struct ctl *ctl)
{
	PGresult *res;

	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((res = sql(ctl, "SELECT s.id,"
	    " CASE WHEN s.starts_at > now() THEN 'pending' ELSE 'active' END AS state,"
	    " s.rule, g.code AS agency, s.fingerprint, s.author,"
	    " " UTC_TIME("s.starts_at") " AS starts, " UTC_TIME("s.ends_at") " AS ends,"
	    " (SELECT count(*) FROM alert a WHERE a.state = 'firing'"
	    "  AND (s.rule IS NULL OR s.rule = a.rule)"
	    "  AND (s.agency_id IS NULL OR s.agency_id = a.agency_id"
	    "   OR s.agency_id = ANY (a.agencies))"
	    "  AND (s.fingerprint IS NULL OR s.fingerprint = a.fingerprint)) AS matching,"
	    " s.reason"
	    " FROM silence s LEFT JOIN agency g ON g.id = s.agency_id"
	    " WHERE s.ends_at > now() ORDER BY s.id", 0, NULL)) == NULL)
		return EXIT_FAIL;
	print_table_cut(res);
	PQclear(res);
	return EXIT_OK;
}

int
cmd_alerts_unsilence(struct ctl *ctl)
{
	const char	*by = who(ctl, "by");
	const char	*params[2] = { ctl->args[0], by };
	PGresult	*res;
	long long	 id;
	int		 rc = EXIT_FAIL;

	if (!parse_count(ctl->args[0], 1, LLONG_MAX, &id))
		return usage_error(ctl->cmd, "\"%s\" is not a silence id", ctl->args[0]);
	if (!one_line_ok(by, SILENCE_AUTHOR_MAX))
		return usage_error(ctl->cmd, "--by takes one line of at most %d "
		    "characters", SILENCE_AUTHOR_MAX);
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((res = sql(ctl, silence_expire_sql, 2, params)) == NULL)
		return EXIT_FAIL;
	if (PQntuples(res) == 1) {
		printf("silence %lld ended\n", id);
		rc = EXIT_OK;
		goto out;
	}
	PQclear(res);
	if ((res = sql(ctl, "SELECT " UTC_TIME("ends_at") ", ended_by FROM silence"
	    " WHERE id = $1::bigint", 1, params)) == NULL)
		return EXIT_FAIL;
	if (PQntuples(res) == 0)
		say("no silence with id %lld", id);
	else
		say("silence %lld already ended, at %s%s%s", id, PQgetvalue(res, 0, 0),
		    PQgetisnull(res, 0, 1) ? "" : ", by ", PQgetvalue(res, 0, 1));
out:
	PQclear(res);
	return rc;
}
