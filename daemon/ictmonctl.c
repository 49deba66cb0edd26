/*
 * ictmonctl, the admin tool: migrations, agencies, API tokens, configuration checks,
 * feeds and indicators, talking to PostgreSQL with blocking libpq (imports, feed runs
 * and indicator runs use the daemon's own code on a loop of their own). One table of
 * commands drives parsing, dispatch and the usage text. Nothing here runs inside the
 * daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <event2/event.h>

#include "agency.h"
#include "alerts.h"
#include "auth.h"
#include "budget.h"
#include "config.h"
#include "db.h"
#include "feeds.h"
#include "fetch.h"
#include "indicators.h"
#include "ictmonctl.h"
#include "ingest.h"
#include "log.h"
#include "migrate.h"

#define DEFAULT_CONFIG		ICTMON_SYSCONFDIR "/ictmon.conf"
#define IMPORT_MAX_BYTES	(16 * 1024 * 1024)	/* agency lists */
#define EXPIRES_MAX_DAYS	36500

static int	cmd_migrate(struct ctl *);
static int	cmd_agency_add(struct ctl *);
static int	cmd_agency_import(struct ctl *);
static int	cmd_agency_list(struct ctl *);
static int	cmd_token_create(struct ctl *);
static int	cmd_token_list(struct ctl *);
static int	cmd_token_revoke(struct ctl *);
static int	cmd_config_check(struct ctl *);
static int	cmd_config_defaults(struct ctl *);
static int	cmd_config_show(struct ctl *);
static int	cmd_import(struct ctl *);
static int	cmd_feed_list(struct ctl *);
static int	cmd_feed_run(struct ctl *);
static int	cmd_indicators_list(struct ctl *);
static int	cmd_indicators_run(struct ctl *);

static const struct command commands[] = {
	{ NULL, "migrate", "", 0, 0, { NULL }, NEEDS_DB, cmd_migrate,
	  "apply the pending schema migrations" },
	{ "agency", "add", "CODE NAME [--parent CODE]", 2, 2, { "parent" }, NEEDS_SCHEMA,
	  cmd_agency_add, "add an agency, or rename it (and move it with --parent)" },
	{ "agency", "import", "FILE", 1, 1, { NULL }, NEEDS_SCHEMA, cmd_agency_import,
	  "import Chile's institutions.csv (Partida;Capítulo;Programa;Name)" },
	{ "agency", "list", "", 0, 0, { NULL }, NEEDS_SCHEMA, cmd_agency_list,
	  "list the agencies" },
	{ "agency", "alias", "CODE IDENTIFIER [--scheme ocds-buyer]", 2, 2, { "scheme" },
	  NEEDS_SCHEMA, cmd_agency_alias, "map another system's name of an agency to it "
	  "(an OCDS buyer id: its stored processes move to the agency)" },
	{ "token", "create", "--role agency|analyst|admin [--agency CODE] [--name TEXT] "
	  "[--expires-in DAYS]", 0, 0, { "role", "agency", "name", "expires-in" },
	  NEEDS_SCHEMA, cmd_token_create,
	  "create an API token and print it, alone, on stdout" },
	{ "token", "list", "", 0, 0, { NULL }, NEEDS_SCHEMA, cmd_token_list,
	  "list the API tokens (never the tokens or their hashes)" },
	{ "token", "revoke", "ID", 1, 1, { NULL }, NEEDS_SCHEMA, cmd_token_revoke,
	  "revoke an API token" },
	{ "config", "check", "", 0, 0, { NULL }, NEEDS_NOTHING, cmd_config_check,
	  "check the configuration: \"configuration OK\" or every error" },
	{ "config", "defaults", "", 0, 0, { NULL }, NEEDS_NOTHING, cmd_config_defaults,
	  "print the commented configuration file with every default" },
	{ "config", "show", "", 0, 0, { NULL }, NEEDS_CONFIG, cmd_config_show,
	  "print the effective configuration (secrets hidden)" },
	{ NULL, "import", "projects|procurement|budget FILE [--agency CODE] "
	  "[--year YEAR --phase PHASE]", 2, 2, { "agency", "year", "phase" }, NEEDS_SCHEMA,
	  cmd_import, "push a file as the API would, with analyst rights (a budget "
	  "*.csv in the budget law layout needs --year and --phase)" },
	{ "feed", "list", "", 0, 0, { NULL }, NEEDS_SCHEMA, cmd_feed_list,
	  "list the feeds with their last run, failures in a row and next run" },
	{ "feed", "run", "NAME", 1, 1, { NULL }, NEEDS_SCHEMA, cmd_feed_run,
	  "run a configured feed now, as the daemon would, and wait for its end" },
	{ "indicators", "list", "", 0, 0, { NULL }, NEEDS_CONFIG, cmd_indicators_list,
	  "print the catalogue: what each indicator means, its parameters' values" },
	{ "indicators", "run", "[CODE...]", 0, MAX_ARGS, { NULL }, NEEDS_SCHEMA,
	  cmd_indicators_run, "compute the indicators (all, or the CODEs) now, as the "
	  "daemon would, and print a summary; exit 3 when another run holds the lock" },
	{ "recipient", "add", "EMAIL [--name TEXT] [--agency CODE]... [--role NAME] "
	  "[--min-severity low|medium|high] [--digest daily]", 1, 1, { "name",
	  "agency...", "role", "min-severity", "digest" }, NEEDS_SCHEMA, cmd_recipient_add,
	  "add a recipient of alert emails (of the agencies given, or of all)" },
	{ "recipient", "list", "", 0, 0, { NULL }, NEEDS_SCHEMA, cmd_recipient_list,
	  "list the recipients of alert emails" },
	{ "recipient", "remove", "ID", 1, 1, { NULL }, NEEDS_SCHEMA, cmd_recipient_remove,
	  "remove a recipient (and the emails waiting for them)" },
	{ "alerts", "list", "[--state firing|resolved|all] [--severity low|medium|high] "
	  "[--agency CODE] [--rule NAME]", 0, 0, { "state", "severity", "agency", "rule" },
	  NEEDS_SCHEMA, cmd_alerts_list, "list alerts, newest first (firing ones unless "
	  "--state says otherwise)" },
	{ "alerts", "ack", "ID [--comment TEXT] [--by NAME]", 1, 1, { "comment", "by" },
	  NEEDS_SCHEMA, cmd_alerts_ack, "acknowledge a firing alert (by $USER unless "
	  "--by): its emails stop" },
	{ "alerts", "unack", "ID [--by NAME]", 1, 1, { "by" }, NEEDS_SCHEMA,
	  cmd_alerts_unack, "withdraw an alert's acknowledgement" },
	{ "alerts", "silence", "[--rule NAME] [--agency CODE] [--fingerprint TEXT] "
	  "--reason TEXT (--for DURATION | --until TIME) [--author NAME]", 0, 0, { "rule",
	  "agency", "fingerprint", "reason", "for", "until", "author" }, NEEDS_SCHEMA,
	  cmd_alerts_silence, "mute the emails of the alerts matching every matcher "
	  "given, for a DURATION (90m, 2h, 3d) or until an RFC 3339 TIME; print its id" },
	{ "alerts", "silences", "", 0, 0, { NULL }, NEEDS_SCHEMA, cmd_alerts_silences,
	  "list the silences in force or to come" },
	{ "alerts", "unsilence", "ID [--by NAME]", 1, 1, { "by" }, NEEDS_SCHEMA,
	  cmd_alerts_unsilence, "end a silence now" },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

/* Everything but a command's output goes to stderr, so that stdout can be captured. */
void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("ictmonctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
command_line(const struct command *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", c->group ? c->group : "", c->group ? " " : "",
	    c->name, c->synopsis[0] ? " " : "", c->synopsis);
}

static void
usage(FILE *out)
{
	char line[256];

	fputs("usage: ictmonctl [-c FILE] [-s key=value]... COMMAND [ARGS]\n"
	    "  -c FILE       configuration file (default " DEFAULT_CONFIG " when it exists)\n"
	    "  -s key=value  set a configuration key, over the file\n"
	    "commands:\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		command_line(&commands[i], line, sizeof(line));
		fprintf(out, "  %s\n      %s\n", line, commands[i].help);
	}
}

/* A mistake on the command line: says what, shows how, exits 2. */
int
usage_error(const struct command *c, const char *fmt, ...)
{
	va_list	ap;
	char	line[256];

	fputs("ictmonctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c == NULL) {
		usage(stderr);
	} else {
		command_line(c, line, sizeof(line));
		fprintf(stderr, "usage: ictmonctl [-c FILE] [-s key=value]... %s\n", line);
	}
	return EXIT_USAGE;
}

/* The command named by the first one or two words; *used says how many. */
static const struct command *
find_command(int argc, char **argv, int *used)
{
	bool group_known = false;

	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];

		if (c->group == NULL && strcmp(argv[0], c->name) == 0) {
			*used = 1;
			return c;
		}
		if (c->group != NULL && strcmp(argv[0], c->group) == 0) {
			group_known = true;
			if (argc > 1 && strcmp(argv[1], c->name) == 0) {
				*used = 2;
				return c;
			}
		}
	}
	if (group_known && argc > 1)
		usage_error(NULL, "unknown command \"%s %s\"", argv[0], argv[1]);
	else if (group_known)
		usage_error(NULL, "\"%s\" needs a subcommand", argv[0]);
	else
		usage_error(NULL, "unknown command \"%s\"", argv[0]);
	return NULL;
}

/* An option's name without the "..." that lets it repeat. */
static size_t
option_name_len(const char *name)
{
	size_t len = strlen(name);

	return len > 3 && strcmp(name + len - 3, "...") == 0 ? len - 3 : len;
}

/* Positional arguments and --name VALUE (or --name=VALUE) options, in any order. */
static int
parse_command_args(struct ctl *ctl, int argc, char **argv)
{
	const struct command	*c = ctl->cmd;
	bool			 only_args = false;

	for (int i = 0; i < argc; i++) {
		const char	*arg = argv[i], *value, *eq;
		size_t		 namelen;
		int		 k;

		if (only_args || strncmp(arg, "--", 2) != 0) {
			if (ctl->nargs == c->max_args)
				return usage_error(c, "unexpected argument \"%s\"", arg);
			ctl->args[ctl->nargs++] = arg;
			continue;
		}
		if (arg[2] == '\0') {
			only_args = true;
			continue;
		}
		eq = strchr(arg + 2, '=');
		namelen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		for (k = 0; k < MAX_OPTIONS && c->options[k] != NULL; k++) {
			if (option_name_len(c->options[k]) == namelen &&
			    strncmp(c->options[k], arg + 2, namelen) == 0)
				break;
		}
		if (k == MAX_OPTIONS || c->options[k] == NULL)
			return usage_error(c, "unknown option \"%.*s\"", (int)namelen + 2, arg);
		if (eq != NULL)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return usage_error(c, "--%.*s needs a value", (int)namelen, arg + 2);
		if (option_name_len(c->options[k]) != strlen(c->options[k])) {
			if (ctl->nrepeated == MAX_REPEATS)
				return usage_error(c, "--%.*s given more than %d times",
				    (int)namelen, arg + 2, MAX_REPEATS);
			ctl->repeated[ctl->nrepeated++] = value;
		} else if (ctl->option_values[k] != NULL)
			return usage_error(c, "--%s given twice", c->options[k]);
		if (ctl->option_values[k] == NULL)
			ctl->option_values[k] = value;
	}
	if (ctl->nargs < c->min_args)
		return usage_error(c, "missing arguments");
	return EXIT_OK;
}

const char *
option(const struct ctl *ctl, const char *name)
{
	for (int k = 0; k < MAX_OPTIONS && ctl->cmd->options[k] != NULL; k++) {
		if (option_name_len(ctl->cmd->options[k]) == strlen(name) &&
		    strncmp(ctl->cmd->options[k], name, strlen(name)) == 0)
			return ctl->option_values[k];
	}
	return NULL;
}

/* A whole number in [min, max], digits only. */
bool
parse_count(const char *text, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static struct config *
load_config(const struct ctl *ctl)
{
	struct config_errors	 errors = { 0 };
	struct config		*cfg;

	cfg = config_load(ctl->config_path, ctl->overrides, ctl->noverrides, &errors);
	if (cfg != NULL && !alerts_check_config(cfg, &errors)) {
		config_free(cfg);
		cfg = NULL;
	}
	for (size_t i = 0; i < errors.count; i++)
		say("%s", errors.lines[i]);
	config_errors_clear(&errors);
	return cfg;
}

/* libpq's message, first line only: its hints and context lines are for psql. */
static const char *
first_line(const char *msg, int *len)
{
	*len = (int)strcspn(msg, "\n");
	return msg;
}

/* Runs one parameterised statement; NULL after saying why when it failed. */
PGresult *
sql(struct ctl *ctl, const char *query, int nparams, const char *const *params)
{
	PGresult	*res;
	const char	*msg, *detail;
	int		 len;

	res = PQexecParams(ctl->pg, query, nparams, NULL, params, NULL, NULL, 0);
	if (res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK))
		return res;
	if (res != NULL &&
	    (msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) != NULL) {
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		say("database: %s%s%s%s", msg, detail ? " (" : "", detail ? detail : "",
		    detail ? ")" : "");
	} else {
		msg = first_line(PQerrorMessage(ctl->pg), &len);
		say("database: %.*s", len, msg);
	}
	PQclear(res);
	return NULL;
}

/* A statement whose result is not needed. */
bool
sql_run(struct ctl *ctl, const char *query, int nparams, const char *const *params)
{
	PGresult *res;

	if ((res = sql(ctl, query, nparams, params)) == NULL)
		return false;
	PQclear(res);
	return true;
}

/* Characters on a terminal: UTF-8 continuation bytes take no column. */
size_t
text_width_n(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && s[i] != '\0'; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

size_t
text_width(const char *s)
{
	return text_width_n(s, strlen(s));
}

/* A result as aligned columns under its column names; SQL NULL shows as "-". */
void
print_table(const PGresult *res)
{
	int	 ncols = PQnfields(res), nrows = PQntuples(res);
	size_t	*width;

	if ((width = calloc((size_t)ncols, sizeof(*width))) == NULL)
		return;
	for (int c = 0; c < ncols; c++) {
		width[c] = text_width(PQfname(res, c));
		for (int r = 0; r < nrows; r++) {
			size_t w = PQgetisnull(res, r, c) ? 1 :
			    text_width(PQgetvalue(res, r, c));

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int r = -1; r < nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *v = r < 0 ? PQfname(res, c) :
			    PQgetisnull(res, r, c) ? "-" : PQgetvalue(res, r, c);

			if (c + 1 == ncols)
				printf("%s\n", v);
			else
				printf("%s%*s  ", v, (int)(width[c] - text_width(v)), "");
		}
	}
	free(width);
}

/*
 * Connects, once the command line has been checked: a usage error should not wait
 * for a database. Commands other than migrate also need the schema of this build.
 */
int
db_open(struct ctl *ctl)
{
	char	err[512];
	int	version;

	if ((ctl->pg = db_connect_blocking(ctl->cfg, "ictmonctl", err,
	    sizeof(err))) == NULL) {
		say("%s", err);
		return EXIT_FAIL;
	}
	if (ctl->cmd->needs != NEEDS_SCHEMA)
		return EXIT_OK;
	if ((version = migrate_schema_version(ctl->pg, err, sizeof(err))) < 0) {
		say("%s", err);
		return EXIT_FAIL;
	}
	if (version < migrations_latest()) {
		say("the database schema is at version %d, this ictmonctl needs %d: run "
		    "`ictmonctl migrate`", version, migrations_latest());
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int
cmd_migrate(struct ctl *ctl)
{
	char	err[512];
	int	applied, version;

	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((applied = migrate_apply(ctl->pg, stdout, err, sizeof(err))) < 0) {
		say("migration failed: %s", err);
		return EXIT_FAIL;
	}
	if ((version = migrate_schema_version(ctl->pg, err, sizeof(err))) < 0) {
		say("%s", err);
		return EXIT_FAIL;
	}
	if (applied == 0)
		printf("schema is current at version %d\n", version);
	else
		printf("schema is now at version %d (%d migration%s applied)\n", version,
		    applied, applied == 1 ? "" : "s");
	return EXIT_OK;
}

/* The id of the agency with `code`, as text in id (24 bytes); false if none. */
bool
agency_id(struct ctl *ctl, const char *code, char *id)
{
	const char	*params[1] = { code };
	PGresult	*res;
	bool		 found;

	if ((res = sql(ctl, "SELECT id FROM agency WHERE code = $1", 1, params)) == NULL)
		return false;
	if ((found = PQntuples(res) == 1))
		snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
	else
		say("no agency with code \"%s\"", code);
	PQclear(res);
	return found;
}

static int
cmd_agency_add(struct ctl *ctl)
{
	static const char	 upsert[] =
	    "INSERT INTO agency (code, name, parent_id, kind)"
	    " VALUES ($1, $2, $3::bigint,"
	    "  CASE WHEN $3::bigint IS NULL THEN 'ministry' ELSE 'service' END)"
	    " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
	    "  parent_id = COALESCE(EXCLUDED.parent_id, agency.parent_id),"
	    "  kind = CASE WHEN EXCLUDED.parent_id IS NULL THEN agency.kind"
	    "   ELSE 'service' END"
	    " RETURNING xmax = 0";
	/* Would the new parent sit under the agency itself? */
	static const char	 cycle[] =
	    "WITH RECURSIVE up (id, parent_id, code) AS ("
	    "  SELECT id, parent_id, code FROM agency WHERE code = $1"
	    "  UNION SELECT a.id, a.parent_id, a.code FROM agency a"
	    "  JOIN up ON a.id = up.parent_id)"
	    " SELECT 1 FROM up WHERE code = $2";
	const char		*code = ctl->args[0], *name = ctl->args[1];
	const char		*parent = option(ctl, "parent");
	const char		*params[3];
	char			 parent_id[24];
	PGresult		*res = NULL;
	int			 rc = EXIT_FAIL;
	bool			 inserted;

	if (!agency_code_valid(code))
		return usage_error(ctl->cmd, "\"%s\" is not an agency code (letters, "
		    "digits, . _ -; at most %d)", code, AGENCY_CODE_MAX);
	if (name[strspn(name, " \t")] == '\0')
		return usage_error(ctl->cmd, "the name is empty");
	if (parent != NULL && !agency_code_valid(parent))
		return usage_error(ctl->cmd, "\"%s\" is not an agency code", parent);
	if (parent != NULL && strcmp(parent, code) == 0)
		return usage_error(ctl->cmd, "an agency cannot be its own parent");

	if (db_open(ctl) != EXIT_OK)
		goto out;
	if (!sql_run(ctl, "BEGIN", 0, NULL))
		goto out;
	if (parent != NULL) {
		if (!agency_id(ctl, parent, parent_id))
			goto out;
		params[0] = parent;
		params[1] = code;
		if ((res = sql(ctl, cycle, 2, params)) == NULL)
			goto out;
		if (PQntuples(res) > 0) {
			say("%s is under %s: making it %s's parent would close a loop",
			    parent, code, code);
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	params[0] = code;
	params[1] = name;
	params[2] = parent != NULL ? parent_id : NULL;
	if ((res = sql(ctl, upsert, 3, params)) == NULL)
		goto out;
	inserted = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (!sql_run(ctl, "COMMIT", 0, NULL))
		goto out;
	printf("agency %s %s\n", code, inserted ? "added" : "updated");
	rc = EXIT_OK;
out:
	PQclear(res);
	return rc;
}

/* The whole of a regular file, NUL-terminated, of at most `max` bytes. */
static char *
read_file(const char *path, size_t max, size_t *len)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		say("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		say("%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > max) {
		say("%s: not a regular file of at most %zu bytes", path, max);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		say("out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			say("%s: %s", path, strerror(errno));
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
out:
	close(fd);
	return buf;
}

static int
cmd_agency_import(struct ctl *ctl)
{
	/* Re-importing a newer file renames and re-parents; agencies gone from the file
	   stay, as data may point at them. */
	static const char	 upsert[] =
	    "INSERT INTO agency (code, name, parent_id, kind)"
	    " VALUES ($1, $2, (SELECT id FROM agency WHERE code = $3), $4)"
	    " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
	    "  parent_id = EXCLUDED.parent_id, kind = EXCLUDED.kind"
	    " RETURNING id";
	/* Budget lines name agencies by Partida-Capítulo: the alias ingest looks up. */
	static const char	 alias[] =
	    "INSERT INTO agency_alias (scheme, identifier, agency_id)"
	    " VALUES ('budget', $1, $2::bigint)"
	    " ON CONFLICT (scheme, identifier) DO UPDATE SET agency_id = EXCLUDED.agency_id";
	const char		*path = ctl->args[0];
	struct agency_list	 list = { 0 };
	PGresult		*res = NULL;
	char			*buf = NULL, err[256], id[24];
	const char		*params[4];
	size_t			 len;
	int			 rc = EXIT_FAIL;

	if ((buf = read_file(path, IMPORT_MAX_BYTES, &len)) == NULL)
		goto out;
	if (!agency_parse_institutions(buf, len, &list, err, sizeof(err))) {
		say("%s: %s", path, err);
		goto out;
	}
	if (db_open(ctl) != EXIT_OK)
		goto out;
	if (!sql_run(ctl, "BEGIN", 0, NULL))
		goto out;
	/* list has the ministries first: a service's parent is in place before it. */
	for (size_t i = 0; i < list.count; i++) {
		const struct agency_entry *e = &list.entries[i];

		params[0] = e->code;
		params[1] = e->name;
		params[2] = e->parent[0] ? e->parent : NULL;
		params[3] = agency_kind_name(e->kind);
		if ((res = sql(ctl, upsert, 4, params)) == NULL) {
			say("%s: line %lu: agency %s not imported", path, e->line, e->code);
			goto out;
		}
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
		params[1] = id;
		if (!sql_run(ctl, alias, 2, params))
			goto out;
	}
	if (!sql_run(ctl, "COMMIT", 0, NULL))
		goto out;
	printf("%zu ministries, %zu agencies imported (%zu programs skipped)\n",
	    list.ministries, list.services, list.programs);
	rc = EXIT_OK;
out:
	PQclear(res);
	agency_list_free(&list);
	free(buf);
	return rc;
}

static int
cmd_agency_list(struct ctl *ctl)
{
	PGresult *res;

	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((res = sql(ctl, "SELECT a.code, a.kind, p.code AS parent, a.name"
	    " FROM agency a LEFT JOIN agency p ON p.id = a.parent_id"
	    " ORDER BY a.code COLLATE \"C\"", 0, NULL)) == NULL)
		return EXIT_FAIL;
	print_table(res);
	PQclear(res);
	return EXIT_OK;
}

static int
cmd_token_create(struct ctl *ctl)
{
	static const char	 insert[] =
	    "INSERT INTO api_token (token_hash, name, role, agency_id, expires_at)"
	    " VALUES ($1, $2, $3, $4::bigint, now() + $5::integer * interval '1 day')"
	    " RETURNING id, to_char(expires_at AT TIME ZONE 'UTC',"
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
	const char		*role_text = option(ctl, "role");
	const char		*agency = option(ctl, "agency");
	const char		*name = option(ctl, "name");
	const char		*expires = option(ctl, "expires-in");
	const char		*params[5];
	char			 token[AUTH_TOKEN_LEN + 1] = "";
	char			 hash[AUTH_HASH_HEX_LEN + 1], agency_ident[24];
	PGresult		*res = NULL;
	enum role		 role;
	long long		 days;
	int			 rc = EXIT_FAIL;

	if (role_text == NULL)
		return usage_error(ctl->cmd, "--role is required");
	if (!role_parse(role_text, &role))
		return usage_error(ctl->cmd, "unknown role \"%s\" (agency, analyst or "
		    "admin)", role_text);
	if (role == ROLE_AGENCY && agency == NULL)
		return usage_error(ctl->cmd, "an agency token needs --agency CODE");
	if (role != ROLE_AGENCY && agency != NULL)
		return usage_error(ctl->cmd, "only an agency token belongs to an agency; "
		    "an %s token reads and writes for all", role_text);
	if (agency != NULL && !agency_code_valid(agency))
		return usage_error(ctl->cmd, "\"%s\" is not an agency code", agency);
	if (expires != NULL && !parse_count(expires, 1, EXPIRES_MAX_DAYS, &days))
		return usage_error(ctl->cmd, "--expires-in takes a number of days from 1 to "
		    "%d", EXPIRES_MAX_DAYS);

	if (!auth_token_generate(token, sizeof(token))) {
		say("the system's random source failed: %s", strerror(errno));
		goto out;
	}
	auth_token_hash(token, strlen(token), hash);
	if (db_open(ctl) != EXIT_OK)
		goto out;
	if (!sql_run(ctl, "BEGIN", 0, NULL))
		goto out;
	if (agency != NULL && !agency_id(ctl, agency, agency_ident))
		goto out;
	params[0] = hash;
	params[1] = name;
	params[2] = role_name(role);
	params[3] = agency != NULL ? agency_ident : NULL;
	params[4] = expires;
	if ((res = sql(ctl, insert, 5, params)) == NULL)
		goto out;
	/* Deliver before committing: a token that could not be shown is never stored. */
	if (printf("%s\n", token) < 0 || fflush(stdout) == EOF) {
		say("cannot write the token to stdout: %s; nothing stored", strerror(errno));
		goto out;
	}
	if (!sql_run(ctl, "COMMIT", 0, NULL)) {
		say("the token printed was NOT stored: do not use it");
		goto out;
	}
	say("token %s created: role %s%s%s, %s%s", PQgetvalue(res, 0, 0), role_name(role),
	    agency ? ", agency " : "", agency ? agency : "",
	    expires ? "expires " : "never expires",
	    expires ? PQgetvalue(res, 0, 1) : "");
	rc = EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	PQclear(res);
	return rc;
}

static int
cmd_token_list(struct ctl *ctl)
{
	PGresult *res;

	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
#define UTC_TIME(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	if ((res = sql(ctl, "SELECT t.id, t.name, t.role, a.code AS agency,"
	    " " UTC_TIME("t.created_at") " AS created,"
	    " " UTC_TIME("t.expires_at") " AS expires,"
	    " " UTC_TIME("t.revoked_at") " AS revoked,"
	    " " UTC_TIME("t.last_used_at") " AS last_used"
	    " FROM api_token t LEFT JOIN agency a ON a.id = t.agency_id"
	    " ORDER BY t.id", 0, NULL)) == NULL)
		return EXIT_FAIL;
#undef UTC_TIME
	print_table(res);
	PQclear(res);
	return EXIT_OK;
}

static int
cmd_token_revoke(struct ctl *ctl)
{
	const char	*params[1] = { ctl->args[0] };
	PGresult	*res = NULL;
	long long	 id;
	int		 rc = EXIT_FAIL;

	if (!parse_count(ctl->args[0], 1, LLONG_MAX, &id))
		return usage_error(ctl->cmd, "\"%s\" is not a token id", ctl->args[0]);
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((res = sql(ctl, "UPDATE api_token SET revoked_at = now()"
	    " WHERE id = $1::bigint AND revoked_at IS NULL RETURNING id", 1,
	    params)) == NULL)
		goto out;
	if (PQntuples(res) == 1) {
		printf("token %lld revoked\n", id);
		rc = EXIT_OK;
		goto out;
	}
	PQclear(res);
	if ((res = sql(ctl, "SELECT to_char(revoked_at AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM api_token WHERE id = $1::bigint",
	    1, params)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		say("no token with id %lld", id);
		goto out;
	}
	/* Revoking twice asks for a state that holds: not a failure. */
	printf("token %lld was already revoked at %s\n", id, PQgetvalue(res, 0, 0));
	rc = EXIT_OK;
out:
	PQclear(res);
	return rc;
}

static int
cmd_config_check(struct ctl *ctl)
{
	struct config *cfg;

	if ((cfg = load_config(ctl)) == NULL)
		return EXIT_FAIL;
	config_free(cfg);
	printf("configuration OK\n");
	return EXIT_OK;
}

static int
cmd_config_defaults(struct ctl *ctl)
{
	(void)ctl;
	config_write_defaults(stdout);
	return EXIT_OK;
}

static int
cmd_config_show(struct ctl *ctl)
{
	config_write_effective(ctl->cfg, stdout);
	return EXIT_OK;
}

/* --- a loop of our own: the daemon's modules run by a command -------------------- */

#define LOOP_TICK_MS		100

/*
 * A command that runs one of the daemon's modules (the ingest path, a feed, the
 * indicators) on an event loop of its own, with a pool on the configured database.
 * `start` is called once the pool has a connection, and again after loop_retry();
 * the database is waited for up to twice db.connect_timeout. With `stop` set, the
 * first SIGINT or SIGTERM calls it (the module's drain then ends the loop with
 * loop_end) and a second one ends the loop at once. A command embeds it first.
 */
struct loop {
	struct event_base	*base;
	struct db_pool		*pool;
	const struct config	*cfg;
	struct event		*tick, *ev_int, *ev_term;
	long			 waited_ms;
	bool			 stopping;	/* a signal: the module is being stopped */
	int			 rc;
	void			(*start)(struct loop *);
	void			(*stop)(struct loop *, int sig);
};

static void
loop_end(void *arg)
{
	struct loop *l = arg;

	event_base_loopbreak(l->base);
}

/* Calls `start` again a tick later; false when the database was waited for too long. */
static bool
loop_retry(struct loop *l)
{
	struct timeval tv = { 0, LOOP_TICK_MS * 1000 };

	l->waited_ms += LOOP_TICK_MS;
	if (l->waited_ms > config_int(l->cfg, CFG_DB_CONNECT_TIMEOUT) * 2000)
		return false;
	evtimer_add(l->tick, &tv);
	return true;
}

static void
loop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct loop	*l = arg;
	const char	*why = NULL;

	if (l->stopping)
		return;
	if (db_pool_ready(l->pool, &why)) {
		l->start(l);
		return;
	}
	if (!loop_retry(l)) {
		say("cannot reach the database: %s", why != NULL ? why : "unknown");
		event_base_loopbreak(l->base);
	}
}

static void
loop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct loop *l = arg;

	l->rc = EXIT_FAIL;
	if (l->stopping) {
		say("second signal: exiting now");
		event_base_loopbreak(l->base);
		return;
	}
	l->stopping = true;
	evtimer_del(l->tick);
	l->stop(l, (int)sig);
}

/* The asynchronous pool of a command that runs the daemon's code on its own loop. */
static void
pool_params(const struct ctl *ctl, int size, int queue_max, struct db_pool_params *p)
{
	memset(p, 0, sizeof(*p));
	p->conninfo = config_str(ctl->cfg, CFG_DB_CONNINFO);
	p->password = config_secret(ctl->cfg, CFG_DB_PASSWORD_FILE);
	p->size = size;
	p->queue_max = queue_max;
	p->connect_timeout = (int)config_int(ctl->cfg, CFG_DB_CONNECT_TIMEOUT);
	p->reconnect_max = (int)config_int(ctl->cfg, CFG_DB_RECONNECT_MAX);
	p->schema_version = migrations_latest();
	p->application_name = "ictmonctl";
}

/* The loop, its tick, its signals (with `stop`) and a pool of `size` connections. */
static bool
loop_open(struct loop *l, const struct ctl *ctl, int size, int queue_max)
{
	struct db_pool_params p;

	l->cfg = ctl->cfg;
	l->rc = EXIT_FAIL;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		say("cannot ignore SIGPIPE: %s", strerror(errno));
		return false;
	}
	pool_params(ctl, size, queue_max, &p);
	if ((l->base = event_base_new()) == NULL ||
	    (l->tick = evtimer_new(l->base, loop_tick, l)) == NULL ||
	    (l->stop != NULL &&
	    ((l->ev_int = evsignal_new(l->base, SIGINT, loop_signal, l)) == NULL ||
	    (l->ev_term = evsignal_new(l->base, SIGTERM, loop_signal, l)) == NULL ||
	    evsignal_add(l->ev_int, NULL) == -1 ||
	    evsignal_add(l->ev_term, NULL) == -1)) ||
	    (l->pool = db_pool_new(l->base, &p)) == NULL) {
		say("cannot set up the event loop");
		return false;
	}
	return true;
}

static void
loop_run(struct loop *l)
{
	struct timeval now = { 0, 0 };

	db_pool_start(l->pool);
	evtimer_add(l->tick, &now);
	event_base_dispatch(l->base);
}

/*
 * As in ictmond, the pool goes first (its last callbacks reach the module), then the
 * module (`free_module`), then the loop.
 */
static void
loop_close(struct loop *l, void (*free_module)(struct loop *))
{
	if (l->pool != NULL)
		db_pool_free(l->pool);
	free_module(l);
	if (l->ev_int != NULL)
		event_free(l->ev_int);
	if (l->ev_term != NULL)
		event_free(l->ev_term);
	if (l->tick != NULL)
		event_free(l->tick);
	if (l->base != NULL)
		event_base_free(l->base);
}

/* --- import: the API's ingest path, on a loop of our own ------------------------- */

struct import_cmd {
	struct loop		 loop;
	struct ingest_request	*req;
	int			 status;	/* 0 until the ingest answered */
};

static void
import_done(int status, json_t *reply, unsigned flags, void *arg)
{
	struct import_cmd	*cmd = arg;
	json_t			*error, *details, *d;
	char			*text;
	size_t			 i;

	cmd->status = status;
	if (status < 300 && (text = json_dumps(reply, JSON_COMPACT)) != NULL) {
		printf("%s\n", text);
		free(text);
	} else if ((error = json_object_get(reply, "error")) != NULL) {
		say("%d: %s", status, json_string_value(json_object_get(error, "message")));
		details = json_object_get(error, "details");
		json_array_foreach(details, i, d) {
			const char *pointer = json_string_value(json_object_get(d, "pointer"));

			say("  %s%s%s", pointer != NULL ? pointer : "",
			    pointer != NULL && *pointer != '\0' ? ": " : "",
			    json_string_value(json_object_get(d, "message")));
		}
	} else
		say("the import ended with status %d", status);
	json_decref(reply);
	event_base_loopbreak(cmd->loop.base);
}

static void
import_start(struct loop *l)
{
	struct import_cmd *cmd = (struct import_cmd *)l;

	ingest_submit(l->pool, l->cfg, cmd->req, import_done, cmd);
}

static void
import_free(struct loop *l)
{
}

static int
cmd_import(struct ctl *ctl)
{
	static const char *const kinds[] = { "projects", "procurement", "budget" };
	struct import_cmd		 cmd = { 0 };
	struct ingest_request		 req = { 0 };
	struct principal		 who = { 0 };
	struct budget_csv_params	 params;
	const char			*path = ctl->args[1], *agency = option(ctl, "agency");
	const char			*dot;
	char				*buf = NULL, err[160];
	size_t				 len, k;
	int				 rc = EXIT_FAIL;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(ctl->args[0], kinds[k]) == 0)
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		return usage_error(ctl->cmd, "unknown kind \"%s\" (projects, procurement or "
		    "budget)", ctl->args[0]);
	req.kind = (enum ingest_kind)k;
	dot = strrchr(path, '.');
	req.format = req.kind == INGEST_BUDGET && dot != NULL && strcasecmp(dot, ".csv") == 0 ?
	    INGEST_CSV : INGEST_JSON;
	if (agency != NULL && !agency_code_valid(agency))
		return usage_error(ctl->cmd, "\"%s\" is not an agency code", agency);
	if (req.format == INGEST_CSV) {
		if (!budget_csv_params_parse(option(ctl, "year"), option(ctl, "phase"),
		    &params, err, sizeof(err)))
			return usage_error(ctl->cmd, "--%s", err);
		req.csv_year = params.fiscal_year;
		req.csv_phase = params.phase;
	} else if (option(ctl, "year") != NULL || option(ctl, "phase") != NULL)
		return usage_error(ctl->cmd, "--year and --phase are for a budget law *.csv");

	/* The same limit as a push over HTTP. */
	if ((buf = read_file(path, (size_t)config_int(ctl->cfg, CFG_HTTP_MAX_BODY),
	    &len)) == NULL)
		goto out;
	if (db_open(ctl) != EXIT_OK)
		goto out;
	/* ictmonctl has no token: it acts as an analyst, and its batches name no token. */
	who.role = ROLE_ANALYST;
	snprintf(who.name, sizeof(who.name), "ictmonctl");
	req.body = buf;
	req.len = len;
	req.who = &who;
	req.default_agency = agency;
	req.request_id = "ictmonctl";

	cmd.req = &req;
	cmd.loop.start = import_start;
	if (loop_open(&cmd.loop, ctl, 1, 1))
		loop_run(&cmd.loop);
	if (cmd.status > 0 && cmd.status < 300)
		rc = EXIT_OK;
	loop_close(&cmd.loop, import_free);
out:
	free(buf);
	return rc;
}

/* --- feed: the feeds' state, and a run on a loop of our own ---------------------- */

static int
cmd_feed_list(struct ctl *ctl)
{
	/* An open run under an expired lease was left by a process that died. */
	static const char	 list[] =
	    "SELECT f.name, f.kind, a.code AS agency,"
	    " CASE WHEN lr.id IS NOT NULL AND lr.status IS NULL THEN"
	    "  CASE WHEN f.lease_until > now() THEN 'running' ELSE 'interrupted' END"
	    "  ELSE lr.status END AS last_run,"
	    " lr.records, f.consecutive_failures AS failures,"
	    " to_char(f.next_run_at AT TIME ZONE 'UTC',"
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS next_run,"
	    " CASE WHEN NOT f.configured THEN 'no longer configured' ELSE f.problem END"
	    "  AS problem"
	    " FROM feed_source f LEFT JOIN agency a ON a.id = f.agency_id"
	    " LEFT JOIN LATERAL (SELECT r.id, r.status, r.records FROM feed_run r"
	    "  WHERE r.feed_id = f.id ORDER BY r.started_at DESC, r.id DESC LIMIT 1) lr"
	    "  ON true"
	    " ORDER BY f.configured DESC, f.name COLLATE \"C\"";
	PGresult		*res;

	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;
	if ((res = sql(ctl, list, 0, NULL)) == NULL)
		return EXIT_FAIL;
	print_table(res);
	PQclear(res);
	return EXIT_OK;
}

struct feed_cmd {
	struct loop		 loop;
	struct fetcher		*fetcher;
	struct feeds		*feeds;
	const char		*name;
	bool			 configured;	/* feeds_configure was called */
	int			 refused;	/* the status of a run not started */
};

static void
feed_cmd_done(const struct feed_outcome *o, void *arg)
{
	struct feed_cmd *cmd = arg;

	printf("feed %s: %s, %llu record%s in %u page%s (run %lld)%s%s\n", o->feed,
	    o->status, o->records, o->records == 1 ? "" : "s", o->pages,
	    o->pages == 1 ? "" : "s", o->run_id, o->message != NULL ? ": " : "",
	    o->message != NULL ? o->message : "");
	fflush(stdout);
	if (!cmd->loop.stopping && (strcmp(o->status, "ok") == 0 ||
	    strcmp(o->status, "not_modified") == 0))
		cmd->loop.rc = EXIT_OK;
	/* After a signal, the drain's callback ends the loop. */
	if (!cmd->loop.stopping)
		event_base_loopbreak(cmd->loop.base);
}

static void
feed_cmd_started(int status, json_t *reply, void *arg)
{
	struct feed_cmd	*cmd = arg;
	const char	*message;

	if (status == 202)
		goto out;
	/* The feed's row is being written, or the database comes back: ask again. */
	if (status == 503 && !cmd->loop.stopping && loop_retry(&cmd->loop))
		goto out;
	message = json_string_value(json_object_get(json_object_get(reply, "error"),
	    "message"));
	say("feed %s not started (%d): %s", cmd->name, status,
	    message != NULL ? message : "no reason given");
	cmd->refused = status;
	cmd->loop.rc = EXIT_FAIL;
	if (!cmd->loop.stopping)
		event_base_loopbreak(cmd->loop.base);
out:
	json_decref(reply);
}

static void
feed_cmd_start(struct loop *l)
{
	struct feed_cmd *cmd = (struct feed_cmd *)l;

	/* Writes the configured feeds' rows, as the daemon does at start. */
	if (!cmd->configured) {
		feeds_configure(cmd->feeds, l->cfg);
		cmd->configured = true;
	}
	feeds_run(cmd->feeds, cmd->name, feed_cmd_started, feed_cmd_done, cmd);
}

static void
feed_cmd_stop(struct loop *l, int sig)
{
	struct feed_cmd *cmd = (struct feed_cmd *)l;

	say("signal %d: stopping feed %s (the next run resumes where it stopped)", sig,
	    cmd->name);
	feeds_drain(cmd->feeds, loop_end, l);
}

static void
feed_cmd_free(struct loop *l)
{
	struct feed_cmd *cmd = (struct feed_cmd *)l;

	feeds_free(cmd->feeds);
	if (cmd->fetcher != NULL)
		fetcher_free(cmd->fetcher);
}

/* The API's 422 points at GET /v1/feeds; here the reason itself is at hand. */
static void
say_feed_problem(struct ctl *ctl, const char *name)
{
	const char	*params[1] = { name };
	PGresult	*res;

	if ((res = sql(ctl, "SELECT problem FROM feed_source WHERE name = $1"
	    " AND problem IS NOT NULL", 1, params)) == NULL)
		return;
	if (PQntuples(res) == 1)
		say("feed %s: %s", name, PQgetvalue(res, 0, 0));
	PQclear(res);
}

static int
cmd_feed_run(struct ctl *ctl)
{
	const struct config_section	*sections[256];
	struct feed_cmd			 cmd = { 0 };
	struct feeds_env		 env = { 0 };
	size_t				 n, i;

	cmd.name = ctl->args[0];
	n = config_sections(ctl->cfg, "feed", sections, 256);
	for (i = 0; i < n; i++)
		if (strcmp(sections[i]->name, cmd.name) == 0)
			break;
	if (i == n) {
		say("no feed %s: the configuration (%s) has no [feed.%s] section", cmd.name,
		    ctl->config_path != NULL ? ctl->config_path : "built-in defaults",
		    cmd.name);
		return EXIT_FAIL;
	}
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;

	cmd.loop.start = feed_cmd_start;
	cmd.loop.stop = feed_cmd_stop;
	/* A chunk's transaction, the lease's renewal and the page's end may overlap. */
	if (!loop_open(&cmd.loop, ctl, 2, (int)config_int(ctl->cfg, CFG_DB_QUEUE_MAX)))
		goto out;
	env.base = cmd.loop.base;
	env.db = cmd.loop.pool;
	env.schedule = false;
	if ((env.fetcher = cmd.fetcher = fetcher_new(cmd.loop.base)) == NULL ||
	    (cmd.feeds = feeds_new(&env)) == NULL) {
		say("cannot set up the feed's run");
		goto out;
	}
	loop_run(&cmd.loop);
	if (cmd.refused == 422)
		say_feed_problem(ctl, cmd.name);
out:
	loop_close(&cmd.loop, feed_cmd_free);
	return cmd.loop.rc;
}

/* --- indicators: the catalogue, and a run on a loop of our own ------------------- */

#define TEXT_WIDTH		78

/* `text` after `indent` spaces, wrapped at word boundaries. */
static void
print_wrapped(const char *text, int indent)
{
	const char	*word = text;
	size_t		 col = 0;

	while (*word != '\0') {
		size_t len;

		while (*word == ' ')
			word++;
		if (*word == '\0')
			break;
		len = strcspn(word, " ");
		if (col > 0 && col + 1 + text_width_n(word, len) > TEXT_WIDTH) {
			putchar('\n');
			col = 0;
		}
		if (col == 0)
			col = (size_t)printf("%*s", indent, "");
		else
			col += (size_t)printf(" ");
		printf("%.*s", (int)len, word);
		col += text_width_n(word, len);
		word += len;
	}
	if (col > 0)
		putchar('\n');
}

/* "    indicators.cv.medium = 10": keys as an operator sets them, with their values. */
static void
print_params(const struct config *cfg, const enum cfg_id *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *value = config_str(cfg, ids[i]);

		printf("    %s = %s\n", config_keys[ids[i]].name,
		    value != NULL ? value : "(unset)");
	}
}

static int
cmd_indicators_list(struct ctl *ctl)
{
	const struct indicator *const	*all;
	size_t				 n = indicator_all(&all);

	printf("Every indicator reads:\n");
	print_params(ctl->cfg, indicator_general_params, indicator_ngeneral_params);
	for (size_t i = 0; i < n; i++) {
		printf("\n%s  %s (%s)\n", all[i]->code, all[i]->title, all[i]->subject);
		print_wrapped(all[i]->definition, 4);
		print_params(ctl->cfg, all[i]->params, all[i]->nparams);
	}
	return EXIT_OK;
}

struct indicators_cmd {
	struct loop		 loop;
	struct indicators	*ind;
	const char *const	*codes;
	size_t			 ncodes;
};

static void
indicators_cmd_done(const struct indicators_outcome *o, void *arg)
{
	struct indicators_cmd	*cmd = arg;
	long long		 results = 0;

	switch (o->status) {
	case 200:
		printf("%-16s %8s %8s %8s %8s %8s\n", "code", "results", "high", "medium",
		    "low", "seconds");
		for (size_t i = 0; i < o->ntallies; i++) {
			const struct indicator_tally *t = &o->tallies[i];

			printf("%-16s %8lld %8lld %8lld %8lld %8.3f\n", t->code, t->results,
			    t->by_band[2], t->by_band[1], t->by_band[0], t->seconds);
			results += t->results;
		}
		printf("run %lld done: %lld result%s in %.1f s\n", o->run_id, results,
		    results == 1 ? "" : "s", o->seconds);
		cmd->loop.rc = EXIT_OK;
		break;
	case 409:
		say("not run: %s", o->message);
		cmd->loop.rc = EXIT_BUSY;
		break;
	default:
		if (o->run_id > 0)
			say("run %lld failed: %s", o->run_id, o->message);
		else
			say("not run (%d): %s", o->status, o->message);
		cmd->loop.rc = EXIT_FAIL;
		break;
	}
	fflush(stdout);
	/* After a signal, the drain's callback ends the loop. */
	if (!cmd->loop.stopping)
		event_base_loopbreak(cmd->loop.base);
}

static void
indicators_cmd_start(struct loop *l)
{
	struct indicators_cmd *cmd = (struct indicators_cmd *)l;

	indicators_run(cmd->ind, cmd->codes, cmd->ncodes, indicators_cmd_done, cmd);
}

static void
indicators_cmd_stop(struct loop *l, int sig)
{
	struct indicators_cmd *cmd = (struct indicators_cmd *)l;

	say("signal %d: stopping the run (nothing of it is kept)", sig);
	indicators_drain(cmd->ind, loop_end, l);
}

static void
indicators_cmd_free(struct loop *l)
{
	indicators_free(((struct indicators_cmd *)l)->ind);
}

static int
cmd_indicators_run(struct ctl *ctl)
{
	struct indicators_cmd	 cmd = { 0 };
	struct indicators_env	 env = { 0 };

	for (int i = 0; i < ctl->nargs; i++)
		if (indicator_find(ctl->args[i]) == NULL)
			return usage_error(ctl->cmd, "unknown indicator \"%s\" (see "
			    "`ictmonctl indicators list`)", ctl->args[i]);
	if (db_open(ctl) != EXIT_OK)
		return EXIT_FAIL;

	cmd.codes = ctl->args;
	cmd.ncodes = (size_t)ctl->nargs;
	cmd.loop.start = indicators_cmd_start;
	cmd.loop.stop = indicators_cmd_stop;
	/* A run is one transaction on one connection; the other cancels it at Ctrl-C. */
	if (!loop_open(&cmd.loop, ctl, 2, 4))
		goto out;
	env.base = cmd.loop.base;
	env.db = cmd.loop.pool;
	env.schedule = false;
	if ((cmd.ind = indicators_new(&env)) == NULL) {
		say("out of memory");
		goto out;
	}
	indicators_configure(cmd.ind, ctl->cfg);
	loop_run(&cmd.loop);
out:
	loop_close(&cmd.loop, indicators_cmd_free);
	return cmd.loop.rc;
}

/* Loads the configuration when the command needs one. */
static int
prepare(struct ctl *ctl)
{
	enum log_level level;

	if (ctl->cmd->needs == NEEDS_NOTHING)
		return EXIT_OK;
	if ((ctl->cfg = load_config(ctl)) == NULL) {
		say("the configuration has errors (%s)",
		    ctl->config_path ? ctl->config_path : "built-in defaults");
		return EXIT_FAIL;
	}
	if (log_level_parse(config_str(ctl->cfg, CFG_LOG_LEVEL), &level))
		log_set_level(level);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct ctl	ctl = { 0 };
	int		ch, used, rc;

	/* '+': options end at the command; its own options are parsed after it. */
	while ((ch = getopt(argc, argv, "+c:s:h")) != -1) {
		switch (ch) {
		case 'c':
			ctl.config_path = optarg;
			break;
		case 's':
			if (ctl.noverrides == MAX_OVERRIDES)
				return usage_error(NULL, "too many -s options (at most %d)",
				    MAX_OVERRIDES);
			ctl.overrides[ctl.noverrides++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc)
		return usage_error(NULL, "no command given");
	if ((ctl.cmd = find_command(argc - optind, argv + optind, &used)) == NULL)
		return EXIT_USAGE;
	if ((rc = parse_command_args(&ctl, argc - optind - used,
	    argv + optind + used)) != EXIT_OK)
		return rc;
	if (ctl.config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		ctl.config_path = DEFAULT_CONFIG;

	if ((rc = prepare(&ctl)) == EXIT_OK)
		rc = ctl.cmd->run(&ctl);
	/* A command that failed halfway leaves its transaction open: undo it. */
	if (ctl.pg != NULL && PQtransactionStatus(ctl.pg) != PQTRANS_IDLE)
		PQclear(PQexecParams(ctl.pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
	if ((fflush(stdout) == EOF || ferror(stdout)) && rc == EXIT_OK) {
		say("cannot write to stdout");
		rc = EXIT_FAIL;
	}
	if (ctl.pg != NULL)
		PQfinish(ctl.pg);
	config_free(ctl.cfg);
	return rc;
}
