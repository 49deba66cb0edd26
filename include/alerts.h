/*
 * Alert rules and what analysts do to alerts. The rules (built in, changed or added by
 * [alert.NAME] sections) go to PostgreSQL as JSON at the end of every indicator run,
 * where ictmon_alerts_apply (sql/009_alerts.sql) fires, updates and resolves alerts and
 * queues their emails. The statements here are shared by the API and ictmonctl, so
 * that an acknowledgement or a silence means the same from either.
 */
#ifndef ICTMON_ALERTS_H
#define ICTMON_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"

/* Rules, limits on what clients may write. */
#define ALERT_RULE_NAME_MAX	64
#define ALERT_TEXT_MAX		2000	/* an ack comment, a silence's reason */
#define ALERT_SILENCE_MAX_DAYS	365

/* One rule as it applies: built-in values under the section's. */
struct alert_rule {
	const char	*name;		/* "ovl-spend" */
	const char	*indicator;	/* "OVL-SPEND" */
	const char	*band;		/* least band: low, medium, high */
	const char	*threshold;	/* least value (decimal text), or NULL */
	const char	*severity;	/* band, low, medium, high */
	const char	*to;		/* comma list of addresses and roles, or NULL */
	bool		 notify_resolved;
	bool		 enabled;
};

/* The rules built into ictmon, for README, `ictmonctl config defaults` and tests. */
size_t		 alert_builtin_rules(const struct alert_rule **out);

/*
 * The rules in force (enabled ones), as the JSON array ictmon_alerts_apply takes:
 * [{"name", "indicator", "band", "threshold", "severity", "to": [...],
 * "notify_resolved"}]. NULL when out of memory.
 */
char		*alert_rules_json(const struct config *cfg);

/*
 * Everything about alerting a configuration can get wrong, each a sentence appended
 * to errors as config_load does: a new rule without its indicator, a threshold that
 * is not a decimal, an address in `to` that is not one, smtp.url that is not smtp://
 * or smtps://, smtp.starttls = none for a server that is not on loopback, smtp.from
 * not an address, public_url not http(s). Returns false when it found any.
 */
bool		 alerts_check_config(const struct config *cfg,
		    struct config_errors *errors);

/*
 * Statements shared by the API and ictmonctl (every value a parameter):
 * alert_ack_sql ($1 id, $2 who, $3 comment): acknowledges a firing alert, records the
 *   event; one row (id) when it did, none when there is no such firing alert or it is
 *   acknowledged already.
 * alert_unack_sql ($1 id, $2 who): the reverse.
 * silence_create_sql ($1 rule, $2 agency code, $3 fingerprint, $4 author, $5 reason,
 *   $6 ends_at, $7 starts_at or NULL for now): the new silence's id; an unknown agency
 *   code makes no row.
 * silence_expire_sql ($1 id, $2 who): ends an active silence now; one row when it did.
 */
extern const char	alert_ack_sql[];
extern const char	alert_unack_sql[];
extern const char	silence_create_sql[];
extern const char	silence_expire_sql[];

/*
 * What a client asks of a silence, checked the same way for the API and ictmonctl
 * (daemon/alert_actions.c). Members are NULL when not given.
 */
#define SILENCE_AUTHOR_MAX	128	/* characters */
#define SILENCE_TIME_TEXT	21	/* "2025-06-01T08:00:00Z" and its NUL */

struct silence_spec {
	const char	*rule;
	const char	*agency;	/* an agency code */
	const char	*fingerprint;
	const char	*author;
	const char	*reason;
	const char	*starts_at;	/* RFC 3339; NULL: now */
	const char	*ends_at;	/* RFC 3339, or else */
	const char	*duration;	/* "90m", "2h", "3d", from starts_at */
};

typedef void	(*silence_problem_cb)(const char *field, const char *message, void *arg);

/*
 * Checks a silence at time `now`: calls bad once per problem with the member's name
 * ("ends_at"), or "" for the silence as a whole (no matcher). On success writes its
 * end as RFC 3339 UTC into ends_at. Returns the number of problems. An agency code is
 * only checked for its shape: whether the agency exists is the database's to say.
 */
int		 silence_check(const struct silence_spec *s, time_t now,
		    char ends_at[SILENCE_TIME_TEXT], silence_problem_cb bad, void *arg);

/* An RFC 3339 date-time (2025-06-01T08:00:00.5+02:00) as seconds since the epoch. */
bool		 alert_time_parse(const char *text, time_t *out);
/* "45", "45s", "90m", "2h", "3d": more than zero seconds, at most a year's worth. */
bool		 alert_duration_parse(const char *text, long long *seconds);
/* An ack comment or a silence's reason: UTF-8 of at most ALERT_TEXT_MAX characters,
   no control characters but tab and newline. Empty is the caller's to refuse. */
bool		 alert_text_ok(const char *text);
/* A rule name as [alert.NAME] spells it: [a-z0-9_-], at most ALERT_RULE_NAME_MAX. */
bool		 alert_rule_name_ok(const char *name);

#endif
