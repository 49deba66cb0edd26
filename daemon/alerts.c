/*
 * Alert rules: the built-in ones, merged with the [alert.NAME] sections of the
 * configuration, handed to PostgreSQL as JSON; and the checks of every alerting key
 * that config_load cannot make alone (they need the rules, or several keys at once).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "alerts.h"
#include "config.h"
#include "mail.h"

/*
 * What ships: a rule for each indicator a finance official acts on. Overlaps fire on
 * every result and take the result's band as their severity, so a recipient's
 * min_severity chooses how much they hear; variances and overruns only when high.
 */
static const struct alert_rule builtin[] = {
	{ "ovl-tender", "OVL-TENDER", "low", NULL, "band", NULL, true, true },
	{ "ovl-spend", "OVL-SPEND", "low", NULL, "band", NULL, true, true },
	{ "split", "SPLIT", "low", NULL, "band", NULL, true, true },
	{ "dup-project", "DUP-PROJECT", "low", NULL, "band", NULL, true, true },
	{ "cv-high", "CV", "high", NULL, "high", NULL, true, true },
	{ "sv-high", "SV", "high", NULL, "high", NULL, true, true },
	{ "budget-overrun", "BUDGET-EXEC", "high", NULL, "high", NULL, true, true },
	{ "unreviewed-spend", "UNREVIEWED-SPEND", "medium", NULL, "band", NULL, true, true },
	{ "feed-stale", "FEED-STALE", "medium", NULL, "medium", NULL, true, true },
};
#define NBUILTIN	(sizeof(builtin) / sizeof(builtin[0]))

size_t
alert_builtin_rules(const struct alert_rule **out)
{
	*out = builtin;
	return NBUILTIN;
}

static const struct alert_rule *
builtin_find(const char *name)
{
	for (size_t i = 0; i < NBUILTIN; i++)
		if (strcmp(builtin[i].name, name) == 0)
			return &builtin[i];
	return NULL;
}

/* A rule with a section's keys over the built-in values (or none). */
static void
rule_merge(struct alert_rule *r, const struct alert_rule *base,
    const struct config_section *s)
{
	static const struct alert_rule blank = { NULL, NULL, "low", NULL, "band", NULL,
	    true, true };
	const char *v;

	*r = base ? *base : blank;
	if (s == NULL)
		return;
	r->name = s->name;
	if ((v = section_str(s, ALERT_INDICATOR)) != NULL)
		r->indicator = v;
	if ((v = section_str(s, ALERT_BAND)) != NULL)
		r->band = v;
	if ((v = section_str(s, ALERT_THRESHOLD)) != NULL)
		r->threshold = *v ? v : NULL;
	if ((v = section_str(s, ALERT_SEVERITY)) != NULL)
		r->severity = v;
	if ((v = section_str(s, ALERT_TO)) != NULL)
		r->to = *v ? v : NULL;
	if (section_str(s, ALERT_NOTIFY_RESOLVED) != NULL)
		r->notify_resolved = section_int(s, ALERT_NOTIFY_RESOLVED) != 0;
	if (section_str(s, ALERT_ENABLED) != NULL)
		r->enabled = section_int(s, ALERT_ENABLED) != 0;
}

/* Calls fn for every rule in force or not: built-ins (maybe changed), then new ones. */
static void
rules_each(const struct config *cfg, void (*fn)(const struct alert_rule *, void *),
    void *arg)
{
	const struct config_section	*sections[256];
	size_t				 n;
	struct alert_rule		 r;

	n = config_sections(cfg, "alert", sections, 256);
	if (n > 256)
		n = 256;
	for (size_t i = 0; i < NBUILTIN; i++) {
		const struct config_section *s = NULL;

		for (size_t k = 0; k < n; k++)
			if (strcmp(sections[k]->name, builtin[i].name) == 0)
				s = sections[k];
		rule_merge(&r, &builtin[i], s);
		fn(&r, arg);
	}
	for (size_t k = 0; k < n; k++) {
		if (builtin_find(sections[k]->name) != NULL)
			continue;
		rule_merge(&r, NULL, sections[k]);
		fn(&r, arg);
	}
}

/* Splits a comma list into a JSON array of trimmed, lower-case entries. */
static json_t *
to_list(const char *to)
{
	json_t		*list;
	const char	*p = to, *end;

	if ((list = json_array()) == NULL)
		return NULL;
	while (p != NULL && *p != '\0') {
		char	 entry[256];
		size_t	 len;

		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len > 0 && len < sizeof(entry)) {
			for (size_t i = 0; i < len; i++)
				entry[i] = (char)tolower((unsigned char)p[i]);
			entry[len] = '\0';
			if (json_array_append_new(list, json_string(entry)) == -1) {
				json_decref(list);
				return NULL;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return list;
}

struct rules_json {
	json_t	*array;
	bool	 failed;
};

static void
add_rule_json(const struct alert_rule *r, void *arg)
{
	struct rules_json	*rj = arg;
	json_t			*o;

	if (!r->enabled || r->indicator == NULL)
		return;
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:o, s:b}", "name", r->name,
	    "indicator", r->indicator, "band", r->band, "threshold", r->threshold,
	    "severity", r->severity, "to", to_list(r->to), "notify_resolved",
	    r->notify_resolved);
	if (o == NULL || json_array_append_new(rj->array, o) == -1)
		rj->failed = true;
}

char *
alert_rules_json(const struct config *cfg)
{
	struct rules_json	 rj = { json_array(), false };
	char			*text = NULL;

	if (rj.array == NULL)
		return NULL;
	rules_each(cfg, add_rule_json, &rj);
	if (!rj.failed)
		text = json_dumps(rj.array, JSON_COMPACT);
	json_decref(rj.array);
	return text;
}

/* --- Checks ---------------------------------------------------------------------- */

/* An optional sign, digits, an optional fraction: what PostgreSQL's numeric reads. */
static bool
decimal_ok(const char *s)
{
	size_t digits = 0;

	if (*s == '-' || *s == '+')
		s++;
	for (; isdigit((unsigned char)*s); s++)
		digits++;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			digits++;
	return digits > 0 && digits <= 40 && *s == '\0';
}

/* An entry of `to`: an address, or a role as recipient.role spells it. */
static bool
to_entry_ok(const char *entry)
{
	if (strchr(entry, '@') != NULL)
		return mail_address_ok(entry);
	if (!islower((unsigned char)entry[0]) || strlen(entry) > 32)
		return false;
	for (const char *p = entry; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_' && *p != '-')
			return false;
	return true;
}

struct rule_check {
	struct config_errors	*errors;
	size_t			 before;
};

static void
check_rule(const struct alert_rule *r, void *arg)
{
	struct rule_check	*rc = arg;
	json_t			*to, *v;
	size_t			 i;

	if (strlen(r->name) > ALERT_RULE_NAME_MAX)
		config_error(rc->errors, "[alert.%s]: a rule's name has at most %d "
		    "characters", r->name, ALERT_RULE_NAME_MAX);
	if (r->indicator == NULL)
		config_error(rc->errors, "[alert.%s] is not a built-in rule: it needs "
		    "indicator = CODE", r->name);
	if (r->threshold != NULL && !decimal_ok(r->threshold))
		config_error(rc->errors, "[alert.%s] threshold '%s' is not a decimal "
		    "number such as 1000000 or 12.5", r->name, r->threshold);
	if ((to = to_list(r->to)) == NULL)
		return;
	json_array_foreach(to, i, v) {
		if (!to_entry_ok(json_string_value(v)))
			config_error(rc->errors, "[alert.%s] to: '%s' is neither an email "
			    "address nor a role (lower-case letters, digits, - and _)",
			    r->name, json_string_value(v));
	}
	json_decref(to);
}

/* The host of scheme://[user@]host[:port][/...], brackets of IPv6 removed. */
static void
url_host(const char *url, char *host, size_t len)
{
	const char	*p = strstr(url, "://"), *end, *at;
	size_t		 n;

	host[0] = '\0';
	if (p == NULL)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	if ((at = memchr(p, '@', (size_t)(end - p))) != NULL)
		p = at + 1;
	if (*p == '[') {
		p++;
		n = strcspn(p, "]");
	} else
		n = strcspn(p, ":/?#");
	if (n >= len)
		n = len - 1;
	memcpy(host, p, n);
	host[n] = '\0';
}

static bool
loopback(const char *host)
{
	return strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	    strcmp(host, "::1") == 0;
}

bool
alerts_check_config(const struct config *cfg, struct config_errors *errors)
{
	struct rule_check	 rc = { errors, errors->count };
	const char		*url = config_str(cfg, CFG_SMTP_URL);
	const char		*public_url = config_str(cfg, CFG_PUBLIC_URL);
	char			 host[256];

	rules_each(cfg, check_rule, &rc);
	if (url != NULL) {
		if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0)
			config_error(errors, "smtp.url '%s' is not smtp://HOST:PORT or "
			    "smtps://HOST:PORT", url);
		url_host(url, host, sizeof(host));
		if (strncmp(url, "smtp://", 7) == 0 &&
		    strcmp(config_str(cfg, CFG_SMTP_STARTTLS), "none") == 0 &&
		    !loopback(host))
			config_error(errors, "smtp.starttls = none sends alert emails in "
			    "the clear: it is allowed only for a server on loopback, not "
			    "'%s'", host);
	}
	if (!mail_address_ok(config_str(cfg, CFG_SMTP_FROM)))
		config_error(errors, "smtp.from '%s' is not an email address",
		    config_str(cfg, CFG_SMTP_FROM));
	if (config_str(cfg, CFG_SMTP_USERNAME) != NULL &&
	    config_secret(cfg, CFG_SMTP_PASSWORD_FILE) == NULL)
		config_error(errors, "smtp.username is set but smtp.password_file is not");
	if (public_url != NULL && strncmp(public_url, "http://", 7) != 0 &&
	    strncmp(public_url, "https://", 8) != 0)
		config_error(errors, "public_url '%s' is not an http:// or https:// "
		    "address", public_url);
	return errors->count == rc.before;
}
