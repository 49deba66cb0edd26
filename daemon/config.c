/*
 * The configuration: key tables built from config.h's X-macros, and everything that
 * follows them: the INI parser and validator, -s overrides, secret files, and the
 * commented etc/ictmon.conf. What a key means belongs to the module that reads it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define LINE_MAX_BYTES		4096
#define SECRET_MAX_BYTES	4096
#define FILE_MAX_BYTES		(4 * 1024 * 1024)
#define SECTION_NAME_MAX	64
#define QUOTED_VALUE_MAX	64	/* of a bad value echoed in an error */
#define COMMENT_WIDTH		78	/* etc/ictmon.conf stays readable in a terminal */
#define SECTIONS_TEXT_MAX	1024	/* "log, http, ..., feed.NAME" */
#define RATIO_SCALE		1000000LL	/* a ratio's number is in millionths */
#define RATIO_DECIMALS		6
#define AMOUNT_DIGITS		24	/* of the whole part: more than any budget */
#define AMOUNT_DECIMALS		6

#ifndef ICTMON_SYSCONFDIR
#define ICTMON_SYSCONFDIR	"/etc/ictmon"
#endif

const struct cfg_key config_keys[CFG__COUNT] = {
#define CFG_KEY_ROW(id, name, type, def, min, max, choices, flags, help) \
	{ name, type, def, min, max, choices, flags, help },
	CONFIG_KEYS(CFG_KEY_ROW)
};

static const struct cfg_key feed_keys[FEED__COUNT] = {
	FEED_KEYS(CFG_KEY_ROW)
};

static const struct cfg_key alert_keys[ALERT__COUNT] = {
	ALERT_KEYS(CFG_KEY_ROW)
#undef CFG_KEY_ROW
};

const struct cfg_family config_families[] = {
	{ "feed", feed_keys, FEED__COUNT,
	  "One [feed.NAME] section per published feed ictmon pulls." },
	{ "alert", alert_keys, ALERT__COUNT,
	  "Alert rules. Built in: ovl-tender, ovl-spend, split, dup-project (every "
	  "result, severity its band), cv-high, sv-high, budget-overrun (high band, "
	  "severity high), unreviewed-spend (medium band and up) and feed-stale "
	  "(severity medium; while it fires for an agency, that agency's other alerts "
	  "are not mailed). An [alert.NAME] section with one of these names changes the "
	  "keys it sets; another name adds a rule." },
};
const size_t config_nfamilies = sizeof(config_families) / sizeof(config_families[0]);

/* One load in progress: where its errors go and how many it added. */
struct loader {
	struct config		*cfg;
	struct config_errors	*errors;
	size_t			 failed;
	const char		*origin;	/* the file's name in messages */
};

/* Where a value is being set from, for messages and cfg_value.line. */
struct where {
	int		 line;	/* > 0 file line; 0 no line (file or default); -1 command line */
	const char	*key;	/* with -1: the KEY of `-s KEY=...`, or NULL */
};

/* Where the parser is in the file: which section the next keys belong to. */
enum section_kind {
	IN_TOP,		/* before any [section] */
	IN_GLOBAL,	/* a section of config_keys, name in `global` */
	IN_FAMILY,	/* a [prefix.NAME] section, at `family_index` of cfg->sections */
	IN_SKIP,	/* a section already reported as wrong: its keys are not checked */
};

struct parse_state {
	enum section_kind	 kind;
	char			 global[LINE_MAX_BYTES + 1];
	size_t			 family_index;
};

static void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n, size)) == NULL)
		fatalx("out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatalx("out of memory");
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		fatalx("out of memory");
	return p;
}

static void
errors_add(struct config_errors *errors, char *line)
{
	char **lines;

	if ((lines = reallocarray(errors->lines, errors->count + 1,
	    sizeof(*lines))) == NULL)
		fatalx("out of memory");
	lines[errors->count++] = line;
	errors->lines = lines;
}

void
config_error(struct config_errors *errors, const char *fmt, ...)
{
	char	*line = NULL;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatalx("out of memory");
	errors_add(errors, line);
}

static void	load_error(struct loader *, const struct where *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
load_error(struct loader *ld, const struct where *w, const char *fmt, ...)
{
	char	 message[1024];
	char	*line = NULL;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (w->line > 0)
		n = asprintf(&line, "%s:%d: %s", ld->origin, w->line, message);
	else if (w->line == 0)
		n = asprintf(&line, "%s: %s", ld->origin, message);
	else if (w->key != NULL)
		n = asprintf(&line, "command line: -s %s: %s", w->key, message);
	else
		n = asprintf(&line, "command line: %s", message);
	if (n == -1)
		fatalx("out of memory");
	errors_add(ld->errors, line);
	ld->failed++;
}

/*
 * A value as it may appear in an error message: quoted, cut short, control bytes
 * shown as '?' so that a hostile file cannot forge log lines.
 */
static const char *
quote_value(const char *raw, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[n++] = '\'';
	for (i = 0; raw[i] != '\0' && n + 5 < len && i < QUOTED_VALUE_MAX; i++) {
		unsigned char c = (unsigned char)raw[i];

		buf[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (raw[i] != '\0') {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

static char *
trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	return s;
}

/* Length of the section part of a full key name, up to its last dot; 0 at top level. */
static size_t
section_len(const char *fullname)
{
	const char *dot = strrchr(fullname, '.');

	return dot == NULL ? 0 : (size_t)(dot - fullname);
}

static const char *
key_part(const char *fullname)
{
	const char *dot = strrchr(fullname, '.');

	return dot == NULL ? fullname : dot + 1;
}

static int
key_index(const char *fullname)
{
	for (int i = 0; i < CFG__COUNT; i++)
		if (strcmp(config_keys[i].name, fullname) == 0)
			return i;
	return -1;
}

static int
family_key_index(const struct cfg_family *f, const char *name)
{
	for (size_t i = 0; i < f->nkeys; i++)
		if (strcmp(f->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool
global_section_known(const char *name, size_t len)
{
	for (int i = 0; i < CFG__COUNT; i++)
		if (section_len(config_keys[i].name) == len &&
		    strncmp(config_keys[i].name, name, len) == 0)
			return true;
	return false;
}

static const struct cfg_family *
family_find(const char *prefix, size_t len)
{
	for (size_t i = 0; i < config_nfamilies; i++)
		if (strlen(config_families[i].prefix) == len &&
		    strncmp(config_families[i].prefix, prefix, len) == 0)
			return &config_families[i];
	return NULL;
}

static bool
section_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SECTION_NAME_MAX)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* "listen, max_body, ..." : the keys of one global section, for "unknown key". */
static void
section_keys_text(const char *section, size_t len, char *buf, size_t buflen)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < CFG__COUNT && n < buflen; i++) {
		if (section_len(config_keys[i].name) != len ||
		    strncmp(config_keys[i].name, section, len) != 0)
			continue;
		n += snprintf(buf + n, buflen - n, "%s%s", n ? ", " : "",
		    key_part(config_keys[i].name));
	}
}

static void
family_keys_text(const struct cfg_family *f, char *buf, size_t buflen)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < f->nkeys && n < buflen; i++)
		n += snprintf(buf + n, buflen - n, "%s%s", n ? ", " : "", f->keys[i].name);
}

/* "log, http, db, feed.NAME": every section a file may have, in table order. */
/* Whether key i is the first of its [section] in the table (top-level keys are not). */
static bool
opens_section(int i)
{
	const char	*name = config_keys[i].name;
	size_t		 len = section_len(name);

	if (len == 0)
		return false;
	for (int j = 0; j < i; j++)
		if (section_len(config_keys[j].name) == len &&
		    strncmp(config_keys[j].name, name, len) == 0)
			return false;
	return true;
}

static void
sections_text(char *buf, size_t buflen)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < CFG__COUNT && n < buflen; i++) {
		const char	*name = config_keys[i].name;
		size_t		 len = section_len(name);

		if (!opens_section(i))
			continue;
		n += snprintf(buf + n, buflen - n, "%s%.*s", n ? ", " : "", (int)len, name);
	}
	for (size_t i = 0; i < config_nfamilies && n < buflen; i++)
		n += snprintf(buf + n, buflen - n, "%s%s.NAME", n ? ", " : "",
		    config_families[i].prefix);
}

/*
 * For a wrong [parent.child] whose parent has sections of its own
 * ([indicators.ovl_spend]): "parent.a, parent.b", the names that were probably
 * meant. False when `section` has no such parent, so the whole list is due.
 */
static bool
sibling_sections_text(const char *section, size_t len, char *buf, size_t buflen)
{
	size_t	parent, n = 0;

	buf[0] = '\0';
	for (parent = len; parent > 0 && section[parent - 1] != '.'; parent--)
		;
	if (parent-- == 0)
		return false;
	for (int i = 0; i < CFG__COUNT && n < buflen; i++) {
		const char	*name = config_keys[i].name;
		size_t		 slen = section_len(name);

		if (!opens_section(i) || slen <= parent || name[parent] != '.' ||
		    strncmp(name, section, parent) != 0)
			continue;
		n += snprintf(buf + n, buflen - n, "%s%.*s", n ? ", " : "", (int)slen, name);
	}
	return n > 0;
}

static void
choices_text(const char *choices, char *buf, size_t buflen)
{
	size_t n = 0;

	for (const char *c = choices; *c != '\0' && n + 3 < buflen; c++) {
		if (*c == '|') {
			buf[n++] = ',';
			buf[n++] = ' ';
		} else
			buf[n++] = *c;
	}
	buf[n] = '\0';
}

/* 3600 → "1h", 1048576 → "1M": a limit as an operator would write it. */
static void
scaled_text(enum cfg_type type, long long n, char *buf, size_t len)
{
	static const struct {
		char		suffix;
		long long	factor;
	} seconds[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 } },
	  bytes[] = { { 'G', 1LL << 30 }, { 'M', 1LL << 20 }, { 'K', 1LL << 10 } };

	for (size_t i = 0; i < 3 && n != 0; i++) {
		if (type == CFG_SECONDS && n % seconds[i].factor == 0) {
			snprintf(buf, len, "%lld%c", n / seconds[i].factor, seconds[i].suffix);
			return;
		}
		if (type == CFG_BYTES && n % bytes[i].factor == 0) {
			snprintf(buf, len, "%lld%c", n / bytes[i].factor, bytes[i].suffix);
			return;
		}
	}
	snprintf(buf, len, type == CFG_SECONDS ? "%llds" : "%lld", n);
}

/* 450000 → "0.45": a ratio's millionths as written in the file. */
static void
ratio_text(long long millionths, char *buf, size_t len)
{
	char	fraction[8];
	int	n;

	n = snprintf(fraction, sizeof(fraction), "%06lld", millionths % RATIO_SCALE);
	while (n > 0 && fraction[n - 1] == '0')
		fraction[--n] = '\0';
	snprintf(buf, len, "%lld%s%s", millionths / RATIO_SCALE, n > 0 ? "." : "",
	    fraction);
}

/*
 * A whole number with an optional suffix from `suffixes`, multiplied by the matching
 * entry of `factors`. No sign: durations and sizes are never negative.
 */
static bool
parse_scaled(const char *s, const char *suffixes, const long long *factors,
    long long *out)
{
	const char	*digits_end = s;
	const char	*suffix;
	long long	 n = 0;

	while (*digits_end >= '0' && *digits_end <= '9') {
		if (n > (LLONG_MAX - (*digits_end - '0')) / 10)
			return false;
		n = n * 10 + (*digits_end - '0');
		digits_end++;
	}
	if (digits_end == s)
		return false;
	if (*digits_end == '\0') {
		*out = n;
		return true;
	}
	if (digits_end[1] != '\0' || (suffix = strchr(suffixes, *digits_end)) == NULL)
		return false;
	if (n > LLONG_MAX / factors[suffix - suffixes])
		return false;
	*out = n * factors[suffix - suffixes];
	return true;
}

static bool
parse_int(const char *s, long long *out)
{
	char		*end = NULL;
	long long	 n;

	if (*s == '\0' || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = n;
	return true;
}

static bool
host_chars_ok(const char *host, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= 0x20 || c == 0x7f || c == '[' || c == ']' || c == '/' || c == '@')
			return false;
	}
	return len > 0;
}

bool
config_split_addr(const char *addr, char *host, size_t hostlen, unsigned short *port)
{
	const char	*h, *colon;
	size_t		 len;
	long		 p = 0;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return false;
		h = addr + 1;
		len = (size_t)(close - h);
		colon = close + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return false;
		h = addr;
		len = (size_t)(colon - addr);
		/* An IPv6 address without brackets cannot be told from its port. */
		if (memchr(h, ':', len) != NULL)
			return false;
	}
	if (!host_chars_ok(h, len) || len >= hostlen)
		return false;
	if (colon[1] == '\0' || strlen(colon + 1) > 5)
		return false;
	for (const char *d = colon + 1; *d != '\0'; d++) {
		if (*d < '0' || *d > '9')
			return false;
		p = p * 10 + (*d - '0');
	}
	if (p < 1 || p > 65535)
		return false;
	memcpy(host, h, len);
	host[len] = '\0';
	*port = (unsigned short)p;
	return true;
}

static bool
url_ok(const char *url)
{
	static const char *const schemes[] = { "http://", "https://", "smtp://", "smtps://" };
	const char	*authority = NULL, *end, *at, *host_end;
	size_t		 i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
			authority = url + strlen(schemes[i]);
	if (authority == NULL)
		return false;
	for (const char *c = url; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return false;
	end = authority + strcspn(authority, "/?#");
	/* user:password@host: the host is after the last @ of the authority. */
	for (at = end; at > authority && at[-1] != '@'; at--)
		;
	if (at > authority)
		authority = at;
	if (*authority == '[') {
		if ((host_end = memchr(authority, ']', (size_t)(end - authority))) == NULL)
			return false;
		return host_end > authority + 1;
	}
	host_end = memchr(authority, ':', (size_t)(end - authority));
	if (host_end == NULL)
		host_end = end;
	return host_end > authority;
}

/*
 * A plain decimal, digits with at most one '.': no sign, exponent or separators, so
 * that what an operator wrote is what the SQL compares. The normalised text has no
 * leading zeros in its whole part, no trailing zeros in its fraction, no bare '.'.
 */
static bool
parse_decimal(const char *raw, size_t whole_max, size_t fraction_max, char *out,
    size_t outlen)
{
	const char	*whole = raw, *fraction = NULL;
	size_t		 nwhole, nfraction = 0;

	nwhole = strspn(whole, "0123456789");
	if (whole[nwhole] == '.') {
		fraction = whole + nwhole + 1;
		nfraction = strspn(fraction, "0123456789");
		if (fraction[nfraction] != '\0')
			return false;
	} else if (whole[nwhole] != '\0')
		return false;
	if (nwhole + nfraction == 0)
		return false;
	while (nwhole > 1 && *whole == '0') {
		whole++;
		nwhole--;
	}
	while (nfraction > 0 && fraction[nfraction - 1] == '0')
		nfraction--;
	if (nwhole > whole_max || nfraction > fraction_max ||
	    nwhole + nfraction + 3 > outlen)
		return false;
	if (nwhole == 0)
		snprintf(out, outlen, "0");
	else
		snprintf(out, outlen, "%.*s", (int)nwhole, whole);
	if (nfraction > 0)
		snprintf(out + strlen(out), outlen - strlen(out), ".%.*s", (int)nfraction,
		    fraction);
	return true;
}

/* "0.45" → 450000: a ratio's text in millionths (parse_decimal checked its shape). */
static long long
ratio_millionths(const char *text)
{
	const char	*dot = strchr(text, '.');
	long long	 n = (long long)(text[0] - '0') * RATIO_SCALE, unit = RATIO_SCALE / 10;

	for (const char *d = dot != NULL ? dot + 1 : ""; *d != '\0'; d++, unit /= 10)
		n += (long long)(*d - '0') * unit;
	return n;
}

/*
 * Parses `raw` as a value of `k`: the normalised text (owned by the caller) and the
 * number. On failure writes why into err, without the key's name.
 */
static bool
value_parse(const struct cfg_key *k, const char *raw, char **text, long long *number,
    char *err, size_t errlen)
{
	static const long long	 second_factors[] = { 1, 60, 3600, 86400 };
	static const long long	 byte_factors[] = { 1LL << 10, 1LL << 20, 1LL << 30,
				    1LL << 10, 1LL << 20, 1LL << 30 };
	char			 quoted[QUOTED_VALUE_MAX + 8], lo[32], hi[32];
	char			 choices[512], host[256], decimal[64];
	long long		 n = 0;
	unsigned short		 port;
	bool			 ranged = false;

	for (const char *c = raw; *c != '\0'; c++) {
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			snprintf(err, errlen, "the value has a control character");
			return false;
		}
	}
	quote_value(raw, quoted, sizeof(quoted));

	switch (k->type) {
	case CFG_STRING:
		break;
	case CFG_INT:
		if (!parse_int(raw, &n)) {
			snprintf(err, errlen, "%s is not a whole number", quoted);
			return false;
		}
		ranged = true;
		break;
	case CFG_BOOL:
		if (strcasecmp(raw, "true") == 0 || strcasecmp(raw, "yes") == 0 ||
		    strcasecmp(raw, "on") == 0 || strcmp(raw, "1") == 0)
			n = 1;
		else if (strcasecmp(raw, "false") == 0 || strcasecmp(raw, "no") == 0 ||
		    strcasecmp(raw, "off") == 0 || strcmp(raw, "0") == 0)
			n = 0;
		else {
			snprintf(err, errlen, "%s is not one of: true, false, yes, no, "
			    "on, off, 1, 0", quoted);
			return false;
		}
		*text = xstrdup(n ? "true" : "false");
		*number = n;
		return true;
	case CFG_SECONDS:
		if (!parse_scaled(raw, "smhd", second_factors, &n)) {
			snprintf(err, errlen, "%s is not a duration: seconds, or a number "
			    "with s, m, h or d", quoted);
			return false;
		}
		ranged = true;
		break;
	case CFG_BYTES:
		if (!parse_scaled(raw, "KMGkmg", byte_factors, &n)) {
			snprintf(err, errlen, "%s is not a size: bytes, or a number with "
			    "K, M or G", quoted);
			return false;
		}
		ranged = true;
		break;
	case CFG_ADDR:
		if (!config_split_addr(raw, host, sizeof(host), &port)) {
			snprintf(err, errlen, "%s is not an address: HOST:PORT or "
			    "[IPV6]:PORT, with a port from 1 to 65535", quoted);
			return false;
		}
		break;
	case CFG_PATH:
	case CFG_SECRET_FILE:
		if (*raw == '\0') {
			snprintf(err, errlen, "the path is empty");
			return false;
		}
		break;
	case CFG_URL:
		if (!url_ok(raw)) {
			snprintf(err, errlen, "%s is not a URL: http://, https://, smtp:// "
			    "or smtps://, then a host", quoted);
			return false;
		}
		break;
	case CFG_RATIO:
		if (!parse_decimal(raw, 1, RATIO_DECIMALS, decimal, sizeof(decimal)) ||
		    (n = ratio_millionths(decimal)) > RATIO_SCALE) {
			snprintf(err, errlen, "%s is not a ratio: a decimal from 0 to 1 "
			    "such as 0.45, with at most %d decimals", quoted,
			    RATIO_DECIMALS);
			return false;
		}
		if ((k->min != 0 || k->max != 0) && (n < k->min || n > k->max)) {
			ratio_text(k->min, lo, sizeof(lo));
			ratio_text(k->max, hi, sizeof(hi));
			snprintf(err, errlen, "%s is out of range: %s to %s", quoted, lo, hi);
			return false;
		}
		*text = xstrdup(decimal);
		*number = n;
		return true;
	case CFG_AMOUNT:
		if (!parse_decimal(raw, AMOUNT_DIGITS, AMOUNT_DECIMALS, decimal,
		    sizeof(decimal))) {
			snprintf(err, errlen, "%s is not an amount: digits with an optional "
			    "decimal point (at most %d decimals), no sign or separators",
			    quoted, AMOUNT_DECIMALS);
			return false;
		}
		*text = xstrdup(decimal);
		*number = 0;
		return true;
	case CFG_CURRENCY:
		if (strlen(raw) != 3 || strspn(raw, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
			snprintf(err, errlen, "%s is not a currency: an ISO 4217 code such "
			    "as CLP, three capital letters", quoted);
			return false;
		}
		break;
	case CFG_ENUM: {
		const char	*c = k->choices;
		size_t		 len = strlen(raw);

		for (n = 0; c != NULL; n++) {
			size_t clen = strcspn(c, "|");

			if (clen == len && strncmp(c, raw, len) == 0)
				break;
			c = c[clen] == '|' ? c + clen + 1 : NULL;
		}
		if (c == NULL || len == 0) {
			choices_text(k->choices, choices, sizeof(choices));
			snprintf(err, errlen, "%s is not one of: %s", quoted, choices);
			return false;
		}
		break;
	}
	}

	if (ranged && (k->min != 0 || k->max != 0) && (n < k->min || n > k->max)) {
		scaled_text(k->type, k->min, lo, sizeof(lo));
		scaled_text(k->type, k->max, hi, sizeof(hi));
		snprintf(err, errlen, "%s is out of range: %s to %s", quoted, lo, hi);
		return false;
	}
	if (ranged) {
		char digits[24];

		snprintf(digits, sizeof(digits), "%lld", n);
		*text = xstrdup(digits);
	} else
		*text = xstrdup(raw);
	*number = n;
	return true;
}

static void
value_clear(struct cfg_value *v)
{
	free(v->text);
	if (v->secret != NULL) {
		explicit_bzero(v->secret, strlen(v->secret));
		free(v->secret);
	}
	memset(v, 0, sizeof(*v));
}

static bool
value_set(struct loader *ld, const struct where *w, const char *fullname,
    const struct cfg_key *k, const char *raw, struct cfg_value *v)
{
	char		 err[1024];
	char		*text = NULL;
	long long	 number = 0;

	if (!value_parse(k, raw, &text, &number, err, sizeof(err))) {
		if (w->line < 0)
			load_error(ld, w, "%s", err);
		else
			load_error(ld, w, "%s: %s", fullname, err);
		/* Reported once: a required key with a bad value is not also missing. */
		if (v->text == NULL)
			v->line = w->line;
		return false;
	}
	value_clear(v);
	v->text = text;
	v->number = number;
	v->line = w->line;
	return true;
}

static void
apply_defaults(struct loader *ld, const struct cfg_key *keys, size_t nkeys,
    struct cfg_value *values)
{
	const struct where	 w = { 0, NULL };
	const char		*origin = ld->origin;

	ld->origin = "built-in default";
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].def != NULL)
			value_set(ld, &w, keys[i].name, &keys[i], keys[i].def, &values[i]);
	ld->origin = origin;
}

static struct config_section *
section_find(struct config *cfg, const struct cfg_family *f, const char *name)
{
	for (size_t i = 0; i < cfg->nsections; i++)
		if (cfg->sections[i].family == f && strcmp(cfg->sections[i].name, name) == 0)
			return &cfg->sections[i];
	return NULL;
}

/* Adds a section with its family's defaults; pointers to earlier sections move. */
static size_t
section_add(struct loader *ld, const struct cfg_family *f, const char *name, int line)
{
	struct config		*cfg = ld->cfg;
	struct config_section	*sections, *s;

	if ((sections = reallocarray(cfg->sections, cfg->nsections + 1,
	    sizeof(*sections))) == NULL)
		fatalx("out of memory");
	cfg->sections = sections;
	s = &sections[cfg->nsections];
	s->family = f;
	s->name = xstrdup(name);
	s->values = xcalloc(f->nkeys, sizeof(*s->values));
	s->line = line;
	apply_defaults(ld, f->keys, f->nkeys, s->values);
	return cfg->nsections++;
}

static void
parse_section_header(struct loader *ld, struct parse_state *st, char *s, int lineno)
{
	const struct where		 w = { lineno, NULL };
	const struct cfg_family		*f;
	const struct config_section	*first;
	char				*close, *rest, *name, *dot;
	char				 list[SECTIONS_TEXT_MAX];
	char				 quoted[QUOTED_VALUE_MAX + 8];

	st->kind = IN_SKIP;
	if ((close = strchr(s, ']')) == NULL) {
		load_error(ld, &w, "a section header needs a closing ]");
		return;
	}
	*close = '\0';
	rest = trim(close + 1);
	if (*rest != '\0' && *rest != '#') {
		load_error(ld, &w, "text after the section header");
		return;
	}
	name = trim(s + 1);
	if (*name == '\0') {
		load_error(ld, &w, "empty section name");
		return;
	}
	if (global_section_known(name, strlen(name))) {
		st->kind = IN_GLOBAL;
		snprintf(st->global, sizeof(st->global), "%s", name);
		return;
	}
	dot = strchr(name, '.');
	if ((f = family_find(name, dot ? (size_t)(dot - name) : strlen(name))) == NULL) {
		if (!sibling_sections_text(name, strlen(name), list, sizeof(list)))
			sections_text(list, sizeof(list));
		load_error(ld, &w, "unknown section %s (sections: %s)",
		    quote_value(name, quoted, sizeof(quoted)), list);
		return;
	}
	if (dot == NULL) {
		load_error(ld, &w, "section [%s] needs a name: [%s.NAME]", f->prefix,
		    f->prefix);
		return;
	}
	if (!section_name_ok(dot + 1)) {
		load_error(ld, &w, "%s name %s: use 1 to %d characters among a-z, 0-9, "
		    "_ and -", f->prefix, quote_value(dot + 1, quoted, sizeof(quoted)),
		    SECTION_NAME_MAX);
		return;
	}
	if ((first = section_find(ld->cfg, f, dot + 1)) != NULL) {
		load_error(ld, &w, "section [%s] repeated (first at line %d)", name,
		    first->line);
		return;
	}
	st->kind = IN_FAMILY;
	st->family_index = section_add(ld, f, dot + 1, lineno);
}

/*
 * Splits "key = value" in place. A value in double quotes keeps # and spaces, with
 * \" and \\ as its only escapes; an unquoted one ends at a # that starts a word.
 */
static bool
split_assignment(char *s, char **key, char **value, const char **why)
{
	char *eq, *v, *r, *w;

	if ((eq = strchr(s, '=')) == NULL) {
		*why = "expected key = value, [section] or a # comment";
		return false;
	}
	*eq = '\0';
	*key = trim(s);
	if (**key == '\0' || strpbrk(*key, " \t") != NULL) {
		*why = "expected key = value, [section] or a # comment";
		return false;
	}
	v = eq + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '"') {
		for (r = v + 1, w = v; *r != '"'; r++) {
			if (*r == '\0') {
				*why = "the quoted value has no closing \"";
				return false;
			}
			if (*r == '\\' && r[1] != '"' && r[1] != '\\') {
				*why = "in a quoted value only \\\" and \\\\ are escapes";
				return false;
			}
			if (*r == '\\')
				r++;
			*w++ = *r;
		}
		*w = '\0';
		r = trim(r + 1);
		if (*r != '\0' && *r != '#') {
			*why = "text after the closing quote";
			return false;
		}
		*value = v;
		return true;
	}
	for (r = v; *r != '\0'; r++) {
		if (*r == '#' && (r == v || r[-1] == ' ' || r[-1] == '\t')) {
			*r = '\0';
			break;
		}
	}
	*value = trim(v);
	return true;
}

static void
parse_assignment(struct loader *ld, struct parse_state *st, char *s, int lineno)
{
	const struct where	 w = { lineno, NULL };
	struct config		*cfg = ld->cfg;
	struct cfg_value	*v = NULL;
	const struct cfg_key	*k = NULL;
	const char		*why = NULL;
	char			*key = NULL, *value = NULL;
	char			 full[2 * LINE_MAX_BYTES + 2], list[SECTIONS_TEXT_MAX];
	char			 quoted[QUOTED_VALUE_MAX + 8];
	int			 i = -1;

	if (!split_assignment(s, &key, &value, &why)) {
		load_error(ld, &w, "%s", why);
		return;
	}
	quote_value(key, quoted, sizeof(quoted));

	switch (st->kind) {
	case IN_SKIP:
		return;
	case IN_FAMILY: {
		struct config_section	*sec = &cfg->sections[st->family_index];
		const struct cfg_family	*f = sec->family;

		snprintf(full, sizeof(full), "%s.%s.%s", f->prefix, sec->name, key);
		if ((i = family_key_index(f, key)) == -1) {
			family_keys_text(f, list, sizeof(list));
			load_error(ld, &w, "unknown key %s in [%s.%s] (keys: %s)", quoted,
			    f->prefix, sec->name, list);
			return;
		}
		k = &f->keys[i];
		v = &sec->values[i];
		break;
	}
	case IN_GLOBAL:
	case IN_TOP:
		if (st->kind == IN_GLOBAL)
			snprintf(full, sizeof(full), "%s.%s", st->global, key);
		else
			snprintf(full, sizeof(full), "%s", key);
		if (strchr(key, '.') != NULL || (i = key_index(full)) == -1) {
			if (st->kind == IN_TOP && key_index(key) != -1)
				load_error(ld, &w, "unknown key %s: write it as %s under "
				    "[%.*s]", quoted, key_part(key),
				    (int)section_len(key), key);
			else if (st->kind == IN_TOP)
				load_error(ld, &w, "unknown key %s before any [section]",
				    quoted);
			else {
				section_keys_text(st->global, strlen(st->global), list,
				    sizeof(list));
				load_error(ld, &w, "unknown key %s in [%s] (keys: %s)",
				    quoted, st->global, list);
			}
			return;
		}
		k = &config_keys[i];
		v = &cfg->values[i];
		break;
	}
	if (v->line > 0) {
		load_error(ld, &w, "%s is already set at line %d", full, v->line);
		return;
	}
	value_set(ld, &w, full, k, value, v);
}

static void
parse_line(struct loader *ld, struct parse_state *st, char *line, int lineno)
{
	char *s = trim(line);

	if (*s == '\0' || *s == '#')
		return;
	if (*s == '[')
		parse_section_header(ld, st, s, lineno);
	else
		parse_assignment(ld, st, s, lineno);
}

static void
load_text(struct loader *ld, const char *text, size_t len)
{
	struct parse_state	*st = NULL;
	const char		*p = text, *end = text + len, *nl;
	char			 line[LINE_MAX_BYTES + 1];
	size_t			 n;
	int			 lineno = 0;

	st = xcalloc(1, sizeof(*st));
	st->kind = IN_TOP;
	for (; p < end; p = nl == NULL ? end : nl + 1) {
		const struct where w = { ++lineno, NULL };

		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl == NULL ? end : nl) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			n -= 3;
		}
		if (n > LINE_MAX_BYTES) {
			load_error(ld, &w, "line longer than %d bytes", LINE_MAX_BYTES);
			continue;
		}
		if (memchr(p, '\0', n) != NULL) {
			load_error(ld, &w, "NUL byte in the line");
			continue;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		parse_line(ld, st, line, lineno);
	}
	free(st);
}

/* Reads a whole configuration file; on failure returns false with why. */
static bool
read_file(const char *path, char **text, size_t *len, char *why, size_t whylen)
{
	struct stat	 sb;
	char		*buf = NULL;
	size_t		 have = 0;
	ssize_t		 n;
	int		 fd = -1;
	bool		 ok = false;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &sb) == -1) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		snprintf(why, whylen, "cannot read: %s", strerror(EISDIR));
		goto out;
	}
	buf = xcalloc(1, FILE_MAX_BYTES + 1);
	while (have <= FILE_MAX_BYTES) {
		if ((n = read(fd, buf + have, FILE_MAX_BYTES + 1 - have)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > FILE_MAX_BYTES) {
		snprintf(why, whylen, "larger than %d MiB", FILE_MAX_BYTES >> 20);
		goto out;
	}
	*text = buf;
	*len = have;
	buf = NULL;
	ok = true;
out:
	free(buf);
	if (fd != -1)
		close(fd);
	return ok;
}

/* Reads the secret named by a SECRET_FILE value: the first line of the file. */
static void
read_secret(struct loader *ld, const char *fullname, struct cfg_value *v)
{
	const struct where	 w = { v->line, fullname };
	struct stat		 sb;
	char			 buf[SECRET_MAX_BYTES + 2];
	char			 quoted[QUOTED_VALUE_MAX + 8], subject[512];
	size_t			 have = 0, len;
	ssize_t			 n;
	int			 fd = -1;
	char			*nl;

	/* On the command line the key is already in the message's "-s KEY". */
	quote_value(v->text, quoted, sizeof(quoted));
	if (w.line < 0)
		snprintf(subject, sizeof(subject), "%s", quoted);
	else
		snprintf(subject, sizeof(subject), "%s: %s", fullname, quoted);
	/* Not blocking on a FIFO someone put in place of the file. */
	if ((fd = open(v->text, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1 ||
	    fstat(fd, &sb) == -1) {
		load_error(ld, &w, "%s: %s", subject, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		load_error(ld, &w, "%s is not a regular file", subject);
		goto out;
	}
	if (sb.st_mode & (S_IROTH | S_IWOTH)) {
		load_error(ld, &w, "%s is readable or writable by others: chmod 600/640 it",
		    subject);
		goto out;
	}
	while (have < sizeof(buf) - 1) {
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) == -1) {
			if (errno == EINTR)
				continue;
			load_error(ld, &w, "%s: %s", subject, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (memchr(buf, '\n', have) != NULL)
			break;
	}
	buf[have] = '\0';
	if ((nl = memchr(buf, '\n', have)) != NULL)
		len = (size_t)(nl - buf);
	else
		len = have;
	while (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > SECRET_MAX_BYTES)
		load_error(ld, &w, "%s: the first line is longer than %d bytes", subject,
		    SECRET_MAX_BYTES);
	else if (len == 0)
		load_error(ld, &w, "%s: the first line is empty", subject);
	else if (memchr(buf, '\0', len) != NULL)
		load_error(ld, &w, "%s: the first line has a NUL byte", subject);
	else
		v->secret = xstrndup(buf, len);
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
}

static void
apply_override(struct loader *ld, const char *arg)
{
	struct where		 w = { -1, NULL };
	struct config		*cfg = ld->cfg;
	const struct cfg_family	*f = NULL;
	struct config_section	*sec;
	const char		*eq, *rest, *dot;
	char			*key = NULL, *name = NULL;
	char			 list[SECTIONS_TEXT_MAX], quoted[QUOTED_VALUE_MAX + 8];
	int			 i;

	if ((eq = strchr(arg, '=')) == NULL) {
		w.key = arg;
		load_error(ld, &w, "expected key=value");
		goto out;
	}
	key = xstrndup(arg, (size_t)(eq - arg));
	w.key = key;
	if ((i = key_index(key)) != -1) {
		value_set(ld, &w, key, &config_keys[i], eq + 1, &cfg->values[i]);
		goto out;
	}
	dot = strchr(key, '.');
	if (dot == NULL || (f = family_find(key, (size_t)(dot - key))) == NULL) {
		size_t len = section_len(key);

		if (len > 0 && global_section_known(key, len)) {
			section_keys_text(key, len, list, sizeof(list));
			load_error(ld, &w, "unknown key (keys of [%.*s]: %s)", (int)len,
			    key, list);
		} else {
			if (len == 0 || !sibling_sections_text(key, len, list, sizeof(list)))
				sections_text(list, sizeof(list));
			load_error(ld, &w, "unknown key (sections: %s)", list);
		}
		goto out;
	}
	rest = dot + 1;
	if ((dot = strchr(rest, '.')) == NULL) {
		load_error(ld, &w, "expected %s.NAME.KEY=value", f->prefix);
		goto out;
	}
	name = xstrndup(rest, (size_t)(dot - rest));
	if (!section_name_ok(name)) {
		load_error(ld, &w, "%s name %s: use 1 to %d characters among a-z, 0-9, "
		    "_ and -", f->prefix, quote_value(name, quoted, sizeof(quoted)),
		    SECTION_NAME_MAX);
		goto out;
	}
	if ((i = family_key_index(f, dot + 1)) == -1) {
		family_keys_text(f, list, sizeof(list));
		load_error(ld, &w, "unknown key (keys of [%s.NAME]: %s)", f->prefix, list);
		goto out;
	}
	if ((sec = section_find(cfg, f, name)) == NULL) {
		size_t added = section_add(ld, f, name, -1);	/* moves cfg->sections */

		sec = &cfg->sections[added];
	}
	value_set(ld, &w, key, &f->keys[i], eq + 1, &sec->values[i]);
out:
	free(name);
	free(key);
}

static void
check_sections(struct loader *ld)
{
	struct config	*cfg = ld->cfg;
	char		 full[256];

	for (size_t i = 0; i < cfg->nsections; i++) {
		struct config_section	*s = &cfg->sections[i];
		const struct cfg_family	*f = s->family;
		const struct where	 w = { s->line, NULL };

		for (size_t k = 0; k < f->nkeys; k++) {
			snprintf(full, sizeof(full), "%s.%s.%s", f->prefix, s->name,
			    f->keys[k].name);
			if ((f->keys[k].flags & CFG_REQUIRED) &&
			    s->values[k].text == NULL && s->values[k].line == 0)
				load_error(ld, &w, "[%s.%s] has no %s, which is required",
				    f->prefix, s->name, f->keys[k].name);
			else if (f->keys[k].type == CFG_SECRET_FILE &&
			    s->values[k].text != NULL)
				read_secret(ld, full, &s->values[k]);
		}
	}
}

static struct config *
load_begin(struct loader *ld, const char *path, const char *origin,
    struct config_errors *errors)
{
	ld->cfg = xcalloc(1, sizeof(*ld->cfg));
	ld->errors = errors;
	ld->failed = 0;
	ld->origin = origin;
	if (path != NULL)
		ld->cfg->path = xstrdup(path);
	apply_defaults(ld, config_keys, CFG__COUNT, ld->cfg->values);
	return ld->cfg;
}

static struct config *
load_finish(struct loader *ld, const char *const *overrides, size_t noverrides)
{
	struct config *cfg = ld->cfg;

	for (size_t i = 0; i < noverrides; i++)
		apply_override(ld, overrides[i]);
	/* Secrets are read last, so that a file an override replaced is never opened. */
	for (int i = 0; i < CFG__COUNT; i++)
		if (config_keys[i].type == CFG_SECRET_FILE && cfg->values[i].text != NULL)
			read_secret(ld, config_keys[i].name, &cfg->values[i]);
	check_sections(ld);
	if (ld->failed > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_load(const char *path, const char *const *overrides, size_t noverrides,
    struct config_errors *errors)
{
	struct loader	 ld;
	char		*text = NULL;
	size_t		 len = 0;
	char		 why[256];

	load_begin(&ld, path, path ? path : "(no file)", errors);
	if (path != NULL) {
		const struct where w = { 0, NULL };

		if (read_file(path, &text, &len, why, sizeof(why)))
			load_text(&ld, text, len);
		else
			load_error(&ld, &w, "%s", why);
	}
	free(text);
	return load_finish(&ld, overrides, noverrides);
}

struct config *
config_load_text(const char *text, const char *origin, const char *const *overrides,
    size_t noverrides, struct config_errors *errors)
{
	struct loader ld;

	load_begin(&ld, origin, origin, errors);
	load_text(&ld, text, strlen(text));
	return load_finish(&ld, overrides, noverrides);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (int i = 0; i < CFG__COUNT; i++)
		value_clear(&cfg->values[i]);
	for (size_t i = 0; i < cfg->nsections; i++) {
		struct config_section *s = &cfg->sections[i];

		for (size_t k = 0; k < s->family->nkeys; k++)
			value_clear(&s->values[k]);
		free(s->values);
		free(s->name);
	}
	free(cfg->sections);
	free(cfg->path);
	free(cfg);
}

void
config_errors_clear(struct config_errors *errors)
{
	for (size_t i = 0; i < errors->count; i++)
		free(errors->lines[i]);
	free(errors->lines);
	errors->lines = NULL;
	errors->count = 0;
}

const char *
config_str(const struct config *cfg, enum cfg_id id)
{
	return cfg->values[id].text;
}

long long
config_int(const struct config *cfg, enum cfg_id id)
{
	return cfg->values[id].number;
}

bool
config_bool(const struct config *cfg, enum cfg_id id)
{
	return cfg->values[id].number != 0;
}

const char *
config_secret(const struct config *cfg, enum cfg_id id)
{
	return cfg->values[id].secret;
}

size_t
config_sections(const struct config *cfg, const char *prefix,
    const struct config_section **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nsections; i++) {
		if (strcmp(cfg->sections[i].family->prefix, prefix) != 0)
			continue;
		if (n < max)
			out[n] = &cfg->sections[i];
		n++;
	}
	return n;
}

const char *
section_str(const struct config_section *s, int key)
{
	return s->values[key].text;
}

long long
section_int(const struct config_section *s, int key)
{
	return s->values[key].number;
}

const char *
section_secret(const struct config_section *s, int key)
{
	return s->values[key].secret;
}

static bool
same_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

size_t
config_restart_changes(const struct config *old, const struct config *new,
    const char **names, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < CFG__COUNT; i++) {
		if (!(config_keys[i].flags & CFG_RESTART))
			continue;
		if (same_text(old->values[i].text, new->values[i].text) &&
		    same_text(old->values[i].secret, new->values[i].secret))
			continue;
		if (n < max)
			names[n] = config_keys[i].name;
		n++;
	}
	return n;
}

/* Writes `text` as "# " comment lines no wider than COMMENT_WIDTH. */
static void
write_comment(FILE *out, const char *text)
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
		if (col > 0 && col + 1 + len > COMMENT_WIDTH) {
			fputc('\n', out);
			col = 0;
		}
		if (col == 0) {
			fputs("#", out);
			col = 1;
		}
		fprintf(out, " %.*s", (int)len, word);
		col += 1 + len;
		word += len;
	}
	if (col > 0)
		fputc('\n', out);
}

/* A key's help, then what the table says about its values, as one paragraph. */
static void
write_key_help(FILE *out, const struct cfg_key *k)
{
	char	 text[1024], choices[512], lo[32], hi[32];
	size_t	 n;

	n = (size_t)snprintf(text, sizeof(text), "%s", k->help);
	if (k->type == CFG_ENUM && n < sizeof(text)) {
		choices_text(k->choices, choices, sizeof(choices));
		n += (size_t)snprintf(text + n, sizeof(text) - n, " One of: %s.", choices);
	}
	if (k->type == CFG_BOOL && n < sizeof(text))
		n += (size_t)snprintf(text + n, sizeof(text) - n, " true or false.");
	if (k->type == CFG_RATIO && n < sizeof(text)) {
		ratio_text(k->min, lo, sizeof(lo));
		ratio_text(k->max != 0 ? k->max : RATIO_SCALE, hi, sizeof(hi));
		n += (size_t)snprintf(text + n, sizeof(text) - n, " A decimal from %s to %s.",
		    lo, hi);
	}
	if (k->type == CFG_AMOUNT && n < sizeof(text))
		n += (size_t)snprintf(text + n, sizeof(text) - n, " Digits, with an optional "
		    "decimal point; no thousands separators.");
	if ((k->type == CFG_INT || k->type == CFG_SECONDS || k->type == CFG_BYTES) &&
	    (k->min != 0 || k->max != 0) && n < sizeof(text)) {
		scaled_text(k->type, k->min, lo, sizeof(lo));
		scaled_text(k->type, k->max, hi, sizeof(hi));
		n += (size_t)snprintf(text + n, sizeof(text) - n, " From %s to %s.", lo, hi);
	}
	if ((k->flags & CFG_REQUIRED) && n < sizeof(text))
		n += (size_t)snprintf(text + n, sizeof(text) - n, " Required.");
	if ((k->flags & CFG_RESTART) && n < sizeof(text))
		snprintf(text + n, sizeof(text) - n, " Takes effect only after a restart.");
	write_comment(out, text);
}

/*
 * Calls `each` for the keys of every section in table order: top-level keys first,
 * then each section under its [name] header the first time it appears.
 */
static void
write_sections(FILE *out, void (*each)(FILE *, int, const void *), const void *arg)
{
	for (int i = 0; i < CFG__COUNT; i++)
		if (section_len(config_keys[i].name) == 0)
			each(out, i, arg);
	for (int i = 0; i < CFG__COUNT; i++) {
		const char	*name = config_keys[i].name;
		size_t		 len = section_len(name);

		if (!opens_section(i))
			continue;
		fprintf(out, "\n[%.*s]\n", (int)len, name);
		for (int j = i; j < CFG__COUNT; j++)
			if (section_len(config_keys[j].name) == len &&
			    strncmp(config_keys[j].name, name, len) == 0)
				each(out, j, arg);
	}
}

/* "#key = default"; an empty default is shown as "" so it reads as set, not unset. */
static void
write_default_line(FILE *out, const char *key, const char *def)
{
	if (def == NULL)
		fprintf(out, "#%s =\n", key);
	else
		fprintf(out, "#%s = %s\n", key, *def == '\0' ? "\"\"" : def);
}

static void
write_default_key(FILE *out, int i, const void *arg)
{
	const struct cfg_key *k = &config_keys[i];

	(void)arg;
	fputc('\n', out);
	write_key_help(out, k);
	write_default_line(out, key_part(k->name), k->def);
}

void
config_write_defaults(FILE *out)
{
	fputs(
	    "# ictmon configuration: read by ictmond and ictmonctl (-c FILE; by default\n"
	    "# " ICTMON_SYSCONFDIR "/ictmon.conf).\n"
	    "#\n"
	    "# [section] headers, then \"key = value\" lines. The key listen under [http] is\n"
	    "# named http.listen. A # starts a comment, at the start of a line or after a\n"
	    "# space; in a value between double quotes # is kept, and \\\" and \\\\ stand for\n"
	    "# a quote and a backslash. Durations are seconds, or take a suffix s, m, h or\n"
	    "# d (90s, 5m, 1h, 2d); sizes are bytes, or take K, M or G (1024-based).\n"
	    "#\n"
	    "# Any key can also be set on the command line, over this file:\n"
	    "#   ictmond -s http.listen=0.0.0.0:8080 -s feed.NAME.schedule=30m\n"
	    "# `ictmond -n` checks the file and reports every error with its line.\n"
	    "#\n"
	    "# Every key is shown below with its default, commented out: remove the # in\n"
	    "# front of a key to change it.\n", out);
	write_sections(out, write_default_key, NULL);

	for (size_t i = 0; i < config_nfamilies; i++) {
		const struct cfg_family	*f = &config_families[i];
		char			 text[512];

		snprintf(text, sizeof(text), "%s NAME is 1 to %d characters among a-z, "
		    "0-9, _ and -. An example, commented out:", f->help, SECTION_NAME_MAX);
		fputc('\n', out);
		write_comment(out, text);
		fprintf(out, "\n#[%s.example]\n", f->prefix);
		for (size_t k = 0; k < f->nkeys; k++) {
			fputc('\n', out);
			write_key_help(out, &f->keys[k]);
			write_default_line(out, f->keys[k].name, f->keys[k].def);
		}
	}
}

/*
 * Whether a plain value carries a password anyway: a libpq "password=" or the
 * user:password@ of a URL. The effective configuration must not print it.
 */
static bool
looks_secret(const char *t)
{
	const char *scheme, *end, *colon, *at;

	if (strcasestr(t, "password") != NULL)
		return true;
	if ((scheme = strstr(t, "://")) == NULL)
		return false;
	scheme += 3;
	end = scheme + strcspn(scheme, "/?#");
	colon = memchr(scheme, ':', (size_t)(end - scheme));
	at = memchr(scheme, '@', (size_t)(end - scheme));
	return colon != NULL && at != NULL && colon < at;
}

/* A value as the parser reads it back: quoted when # or spaces would be lost. */
static void
write_value(FILE *out, const char *name, const struct cfg_key *k,
    const struct cfg_value *v)
{
	const char *t = v->text;

	if (t == NULL) {
		fprintf(out, "#%s =\n", name);
		return;
	}
	if ((k->type == CFG_STRING || k->type == CFG_URL) && looks_secret(t)) {
		fprintf(out, "%s = (secret)\n", name);
		return;
	}
	fprintf(out, "%s = ", name);
	if (strchr(t, '#') != NULL || *t == '"' || *t == ' ' || *t == '\t' ||
	    (*t != '\0' && (t[strlen(t) - 1] == ' ' || t[strlen(t) - 1] == '\t'))) {
		fputc('"', out);
		for (; *t != '\0'; t++) {
			if (*t == '"' || *t == '\\')
				fputc('\\', out);
			fputc(*t, out);
		}
		fputc('"', out);
	} else
		fputs(t, out);
	if (k->type == CFG_SECRET_FILE)
		fputs("  # content: (secret)", out);
	fputc('\n', out);
}

static void
write_effective_key(FILE *out, int i, const void *arg)
{
	const struct config *cfg = arg;

	write_value(out, key_part(config_keys[i].name), &config_keys[i], &cfg->values[i]);
}

void
config_write_effective(const struct config *cfg, FILE *out)
{
	fprintf(out, "# ictmon effective configuration (%s)\n",
	    cfg->path ? cfg->path : "built-in defaults");
	write_sections(out, write_effective_key, cfg);
	for (size_t i = 0; i < cfg->nsections; i++) {
		const struct config_section *s = &cfg->sections[i];

		fprintf(out, "\n[%s.%s]\n", s->family->prefix, s->name);
		for (size_t k = 0; k < s->family->nkeys; k++)
			write_value(out, s->family->keys[k].name, &s->family->keys[k],
			    &s->values[k]);
	}
}
