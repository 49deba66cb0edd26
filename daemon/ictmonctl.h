/*
 * What ictmonctl's files share: a row of the command table, the state of one run, the
 * exit codes, and the helpers of daemon/ictmonctl.c that the commands of other files
 * (daemon/ictmonctl_alerts.c, ictmonctl_alias.c) use. Nothing here is part of the library.
 */
#ifndef ICTMON_ICTMONCTL_H
#define ICTMON_ICTMONCTL_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define MAX_OVERRIDES		256
#define MAX_ARGS		32	/* indicators run CODE... */
#define MAX_OPTIONS		8
#define MAX_REPEATS		32	/* values of a repeatable option */

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the command could not do its work */
	EXIT_USAGE = 2,		/* the command line is wrong */
	EXIT_BUSY = 3,		/* another process holds what the command needs */
};

/* What a command needs before it runs. */
enum needs {
	NEEDS_NOTHING,
	NEEDS_CONFIG,
	NEEDS_DB,		/* then a connection (db_open), any schema: migrate */
	NEEDS_SCHEMA,		/* then a connection to a database of this build's schema */
};

struct config;
struct ctl;

struct command {
	const char	*group;		/* "agency", or NULL for a one-word command */
	const char	*name;
	const char	*synopsis;	/* arguments and options, for the usage text */
	int		 min_args, max_args;
	/*
	 * --NAME VALUE options it takes. A name ending in "..." ("agency...") may be
	 * given again and again: each value is in ctl->repeated, in order (one such
	 * option per command).
	 */
	const char	*options[MAX_OPTIONS];
	enum needs	 needs;
	int		(*run)(struct ctl *);
	const char	*help;
};

struct ctl {
	const char		*config_path;
	const char		*overrides[MAX_OVERRIDES];
	size_t			 noverrides;
	const struct command	*cmd;
	const char		*args[MAX_ARGS];
	int			 nargs;
	const char		*option_values[MAX_OPTIONS];	/* by index in cmd->options */
	const char		*repeated[MAX_REPEATS];	/* the repeatable option's values */
	int			 nrepeated;
	struct config		*cfg;
	PGconn			*pg;
};

/* Everything but a command's output goes to stderr, so that stdout can be captured. */
void		 say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A mistake on the command line: says what, shows how; returns EXIT_USAGE. */
int		 usage_error(const struct command *c, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* The value of --name (the first, for a repeatable one), or NULL. */
const char	*option(const struct ctl *ctl, const char *name);
/* A whole number in [min, max], digits only. */
bool		 parse_count(const char *text, long long min, long long max,
		    long long *out);
/* Runs one parameterised statement; NULL after saying why when it failed. */
PGresult	*sql(struct ctl *ctl, const char *query, int nparams,
		    const char *const *params);
bool		 sql_run(struct ctl *ctl, const char *query, int nparams,
		    const char *const *params);
/* Characters on a terminal: UTF-8 continuation bytes take no column. */
size_t		 text_width(const char *s);
size_t		 text_width_n(const char *s, size_t len);
/* A result as aligned columns under its column names; SQL NULL shows as "-". */
void		 print_table(const PGresult *res);
/* Connects (and checks the schema for NEEDS_SCHEMA); EXIT_OK or EXIT_FAIL, said. */
int		 db_open(struct ctl *ctl);
/* The id of the agency with `code`, as text in id (24 bytes); false, said, if none. */
bool		 agency_id(struct ctl *ctl, const char *code, char *id);

/* ictmonctl_alias.c: an agency's names in other systems */
int	cmd_agency_alias(struct ctl *);

/* ictmonctl_alerts.c: recipients of alert emails, alerts and silences */
int	cmd_recipient_add(struct ctl *);
int	cmd_recipient_list(struct ctl *);
int	cmd_recipient_remove(struct ctl *);
int	cmd_alerts_list(struct ctl *);
int	cmd_alerts_ack(struct ctl *);
int	cmd_alerts_unack(struct ctl *);
int	cmd_alerts_silence(struct ctl *);
int	cmd_alerts_silences(struct ctl *);
int	cmd_alerts_unsilence(struct ctl *);

#endif
