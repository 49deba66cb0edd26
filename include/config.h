/*
 * Configuration: one table of keys (CONFIG_KEYS) is the truth for the parser, the
 * validator, `ictmond -n` and the commented etc/ictmon.conf. The file is INI-style:
 * `[section]` then `key = value`, `#` comments; key `listen` under `[http]` is
 * `http.listen`, which is also how `-s http.listen=...` names it. Repeated sections of a
 * family (`[feed.NAME]`) hold one collector each and have their own key table.
 */
#ifndef ICTMON_CONFIG_H
#define ICTMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "collector.h"

enum cfg_type {
	CFG_STRING,
	CFG_INT,
	CFG_BOOL,		/* true|false|yes|no|on|off|1|0 */
	CFG_SECONDS,		/* integer with optional s|m|h|d suffix, stored in seconds */
	CFG_BYTES,		/* integer with optional K|M|G (1024-based) suffix */
	CFG_ADDR,		/* HOST:PORT or [V6]:PORT */
	CFG_PATH,
	CFG_URL,		/* http://, https://, smtp://, smtps:// */
	CFG_ENUM,		/* one of `choices`, separated by | */
	CFG_SECRET_FILE,	/* a path; the file's first line is the secret; the file
				   must not be readable by others */
	CFG_RATIO,		/* a decimal from 0 to 1 (0.45), at most 6 decimals; number
				   in millionths, like min and max */
	CFG_AMOUNT,		/* a non-negative decimal amount of money, kept only as
				   exact text (never a double); number unused */
	CFG_CURRENCY,		/* an ISO 4217 code: three capital letters */
};

#define CFG_RESTART	0x01	/* a change takes effect only after a restart */
#define CFG_REQUIRED	0x02	/* no default: must be set (section keys) */

struct cfg_key {
	const char	*name;
	enum cfg_type	 type;
	const char	*def;		/* NULL: unset unless given */
	long long	 min, max;	/* for INT, SECONDS, BYTES; both 0: unbounded */
	const char	*choices;	/* for ENUM */
	int		 flags;
	const char	*help;		/* one or more sentences, for etc/ictmon.conf */
};

/*
 * The indicators' keys (include/indicators.h): how often they run, what the SQL of
 * every indicator shares, then one [indicators.CODE] section per indicator (its code
 * in lower case, '_' for '-'), read by its SQL as ictmon_param('NAME').
 */
#define INDICATOR_KEYS(X) \
	X(IND_PERIOD, "indicators.period", CFG_SECONDS, "1h", 0, 2592000, NULL, 0, \
	  "Time between two runs of the whole catalogue, new data or not. 0: only " \
	  "after new data and when asked.") \
	X(IND_DEBOUNCE, "indicators.debounce", CFG_SECONDS, "60", 1, 86400, NULL, 0, \
	  "After new data arrives (a push, a feed), the indicators run once nothing " \
	  "more has arrived for this long.") \
	X(IND_CURRENCY, "indicators.currency", CFG_CURRENCY, "CLP", 0, 0, NULL, 0, \
	  "Base currency: amounts in others are converted with the exchange_rate " \
	  "table, or compared only among themselves.") \
	X(IND_ICT_UNSPSC, "indicators.ict_unspsc", CFG_STRING, "43,8111", 0, 0, NULL, 0, \
	  "Comma list of UNSPSC code prefixes that are ICT goods and services.") \
	X(IND_ICT_BUDGET, "indicators.ict_budget", CFG_STRING, \
	  "22.04.009,22.09.006,22.11.003,29.06,29.07", 0, 0, NULL, 0, \
	  "Comma list of budget classifications that are ICT spending, as subtitulo." \
	  "item (SS.II) or subtitulo.item.asignacion (SS.II.AAA).") \
	X(IND_CLASS_DIGITS, "indicators.class_digits", CFG_INT, "6", 2, 8, NULL, 0, \
	  "Leading digits of a UNSPSC code that make its class: awards in one class " \
	  "buy the same kind of thing.") \
	X(IND_CPV_DIGITS, "indicators.cpv_digits", CFG_INT, "3", 2, 8, NULL, 0, \
	  "Leading digits of a CPV code that make its group, as class_digits for UNSPSC.") \
	X(IND_FRAMEWORK_METHODS, "indicators.framework_methods", CFG_STRING, \
	  "convenio marco,framework agreement,acuerdo marco", 0, 0, NULL, 0, \
	  "Comma list: an award whose tender's procurement method details contain one " \
	  "of these (any case) was bought through a framework agreement.") \
	X(IND_DUP_PROJECT_MIN_SIMILARITY, "indicators.dup_project.min_similarity", \
	  CFG_RATIO, "0.45", 100000, 1000000, NULL, 0, \
	  "DUP-PROJECT: how alike the normalised title and description of two " \
	  "projects must be (trigram similarity) to be taken as duplicates.") \
	X(IND_DUP_PROJECT_STATUSES, "indicators.dup_project.statuses", CFG_STRING, \
	  "planned,in_progress", 0, 0, NULL, 0, \
	  "DUP-PROJECT: comma list of the project statuses compared.") \
	X(IND_DUP_PROJECT_REQUIRE_SHARED_CATEGORY, \
	  "indicators.dup_project.require_shared_category", CFG_BOOL, "true", 0, 0, \
	  NULL, 0, "DUP-PROJECT: whether two projects must also share their category " \
	  "or a capability tag.") \
	X(IND_OVL_SPEND_WINDOW_DAYS, "indicators.ovl_spend.window_days", CFG_INT, "180", \
	  1, 3650, NULL, 0, \
	  "OVL-SPEND: days within which awards of one class by different buyers " \
	  "overlap.") \
	X(IND_OVL_SPEND_MIN_BUYERS, "indicators.ovl_spend.min_buyers", CFG_INT, "3", 2, \
	  1000, NULL, 0, "OVL-SPEND: different buyers needed for an overlap.") \
	X(IND_OVL_SPEND_MIN_TOTAL, "indicators.ovl_spend.min_total", CFG_AMOUNT, \
	  "50000000", 0, 0, NULL, 0, \
	  "OVL-SPEND: least total of an overlap's awards, in the base currency.") \
	X(IND_OVL_SPEND_ICT_ONLY, "indicators.ovl_spend.ict_only", CFG_BOOL, "true", 0, \
	  0, NULL, 0, "OVL-SPEND: only awards classified as ICT (ict_unspsc).") \
	X(IND_OVL_TENDER_WINDOW_DAYS, "indicators.ovl_tender.window_days", CFG_INT, \
	  "365", 1, 3650, NULL, 0, \
	  "OVL-TENDER: an open tender overlaps other agencies' open tenders and their " \
	  "awards of the last this many days.") \
	X(IND_OVL_TENDER_MIN_AMOUNT, "indicators.ovl_tender.min_amount", CFG_AMOUNT, \
	  "10000000", 0, 0, NULL, 0, \
	  "OVL-TENDER: least amount of an open tender, in the base currency.") \
	X(IND_OVL_TENDER_ICT_ONLY, "indicators.ovl_tender.ict_only", CFG_BOOL, "true", 0, \
	  0, NULL, 0, "OVL-TENDER: only tenders classified as ICT (ict_unspsc).") \
	X(IND_OVL_PLATFORM_PLATFORMS, "indicators.ovl_platform.platforms", CFG_STRING, \
	  "digital_signature=FirmaGob;identity=ClaveÚnica;payments=PagoGob;" \
	  "document_management=DocDigital;interoperability=PISEE", 0, 0, NULL, 0, \
	  "OVL-PLATFORM: the shared platforms, as capability=Platform pairs separated " \
	  "by ';'. A project building a listed capability without reusing its " \
	  "platform is flagged.") \
	X(IND_SPLIT_THRESHOLD, "indicators.split.threshold", CFG_AMOUNT, "30000000", 0, \
	  0, NULL, 0, "SPLIT: the competitive threshold, in the base currency: awards " \
	  "each under it whose sum exceeds it are flagged.") \
	X(IND_SPLIT_WINDOW_DAYS, "indicators.split.window_days", CFG_INT, "90", 1, 3650, \
	  NULL, 0, "SPLIT: days within which the awards are added up.") \
	X(IND_SPLIT_METHODS, "indicators.split.methods", CFG_STRING, "direct,limited", 0, \
	  0, NULL, 0, "SPLIT: comma list of the procurement methods looked at.") \
	X(IND_SPLIT_MIN_AWARDS, "indicators.split.min_awards", CFG_INT, "2", 2, 1000, \
	  NULL, 0, "SPLIT: awards needed in a group.") \
	X(IND_REPEAT_DIRECT_MAX_AWARDS, "indicators.repeat_direct.max_awards", CFG_INT, \
	  "3", 1, 1000, NULL, 0, \
	  "REPEAT-DIRECT: direct awards by one buyer to one supplier allowed within the " \
	  "window; more are flagged.") \
	X(IND_REPEAT_DIRECT_WINDOW_DAYS, "indicators.repeat_direct.window_days", CFG_INT, \
	  "365", 1, 3650, NULL, 0, "REPEAT-DIRECT: the window, in days.") \
	X(IND_CONC_VENDOR_TOP_SHARE, "indicators.conc_vendor.top_share", CFG_RATIO, \
	  "0.5", 0, 1000000, NULL, 0, \
	  "CONC-VENDOR: an agency whose largest supplier has more than this share of " \
	  "its ICT spend is flagged.") \
	X(IND_CONC_VENDOR_HHI_HIGH, "indicators.conc_vendor.hhi_high", CFG_INT, "2500", 0, \
	  10000, NULL, 0, "CONC-VENDOR: Herfindahl index (0 to 10000) from which the " \
	  "concentration is high.") \
	X(IND_CONC_VENDOR_HHI_MEDIUM, "indicators.conc_vendor.hhi_medium", CFG_INT, \
	  "1500", 0, 10000, NULL, 0, \
	  "CONC-VENDOR: Herfindahl index from which the concentration is medium.") \
	X(IND_UNREVIEWED_SPEND_THRESHOLD, "indicators.unreviewed_spend.threshold", \
	  CFG_AMOUNT, "20000000", 0, 0, NULL, 0, \
	  "UNREVIEWED-SPEND: ICT procurement or budget lines above this amount (base " \
	  "currency) need a linked approved project.") \
	X(IND_CV_MEDIUM, "indicators.cv.medium", CFG_INT, "10", 0, 1000, NULL, 0, \
	  "CV: cost variance, in percent either way, from which it is medium.") \
	X(IND_CV_HIGH, "indicators.cv.high", CFG_INT, "30", 0, 1000, NULL, 0, \
	  "CV: cost variance, in percent either way, beyond which it is high.") \
	X(IND_CV_WINDOW_MONTHS, "indicators.cv.window_months", CFG_INT, "6", 1, 120, NULL, \
	  0, "CV: months over which the recent change is measured.") \
	X(IND_SV_MEDIUM, "indicators.sv.medium", CFG_INT, "10", 0, 1000, NULL, 0, \
	  "SV: schedule variance, in percent either way, from which it is medium.") \
	X(IND_SV_HIGH, "indicators.sv.high", CFG_INT, "30", 0, 1000, NULL, 0, \
	  "SV: schedule variance, in percent either way, beyond which it is high.") \
	X(IND_SV_WINDOW_MONTHS, "indicators.sv.window_months", CFG_INT, "6", 1, 120, NULL, \
	  0, "SV: months over which the recent change is measured.") \
	X(IND_BUDGET_EXEC_OVERRUN, "indicators.budget_exec.overrun", CFG_INT, "100", 0, \
	  1000, NULL, 0, "BUDGET-EXEC: execution, in percent of the budget, beyond " \
	  "which it is an overrun.") \
	X(IND_BUDGET_EXEC_UNDER, "indicators.budget_exec.under", CFG_INT, "50", 0, 100, \
	  NULL, 0, "BUDGET-EXEC: execution, in percent of the budget, below which it " \
	  "is under-execution.") \
	X(IND_COORD_INDEX_STALE_DAYS, "indicators.coord_index.stale_days", CFG_INT, "30", \
	  1, 3650, NULL, 0, "COORD-INDEX: an agency whose newest data is older than " \
	  "this many days loses its freshness part.") \
	X(IND_FEED_STALE_DAYS, "indicators.feed_stale.days", CFG_INT, "7", 1, 3650, NULL, \
	  0, "FEED-STALE: days without new data after which an agency or feed is stale.") \
	X(IND_FEED_STALE_FAILURES, "indicators.feed_stale.failures", CFG_INT, "3", 1, \
	  1000, NULL, 0, "FEED-STALE: failed pulls in a row after which a feed is flagged.")

/*
 * The global keys. X(ID, name, type, default, min, max, choices, flags, help)
 * Keys with a section go under [section] in the file; top-level keys have no dot.
 */
#define CONFIG_KEYS(X) \
	X(LOG_LEVEL, "log.level", CFG_ENUM, "info", 0, 0, "error|warn|info|debug", 0, \
	  "Least severe level written to stderr.") \
	X(HTTP_LISTEN, "http.listen", CFG_ADDR, "127.0.0.1:8080", 0, 0, NULL, CFG_RESTART, \
	  "Address and port of the HTTP API and dashboard.") \
	X(HTTP_MAX_BODY, "http.max_body", CFG_BYTES, "64M", 1024, 1073741824LL, NULL, 0, \
	  "Largest request body accepted; larger bodies get 413.") \
	X(HTTP_MAX_HEADERS, "http.max_headers", CFG_BYTES, "16K", 1024, 1048576, NULL, 0, \
	  "Largest total size of a request's headers.") \
	X(HTTP_TIMEOUT, "http.timeout", CFG_SECONDS, "30", 1, 3600, NULL, 0, \
	  "Seconds a connection may stay idle while reading a request or writing a reply.") \
	X(HTTP_DRAIN_TIMEOUT, "http.drain_timeout", CFG_SECONDS, "15", 0, 600, NULL, 0, \
	  "On SIGTERM, seconds to let requests in flight finish before exiting.") \
	X(HTTP_WEB_ROOT, "http.web_root", CFG_PATH, ICTMON_DATADIR "/web", 0, 0, NULL, 0, \
	  "Directory of the dashboard's static files, served at /.") \
	X(DB_CONNINFO, "db.conninfo", CFG_STRING, "", 0, 0, NULL, CFG_RESTART, \
	  "libpq connection string. Empty: libpq's PG* environment variables apply.") \
	X(DB_PASSWORD_FILE, "db.password_file", CFG_SECRET_FILE, NULL, 0, 0, NULL, CFG_RESTART, \
	  "File holding the database password (not readable by others).") \
	X(DB_POOL, "db.pool", CFG_INT, "4", 1, 64, NULL, CFG_RESTART, \
	  "Connections the daemon keeps open to PostgreSQL.") \
	X(DB_QUEUE_MAX, "db.queue_max", CFG_INT, "1024", 1, 1000000, NULL, 0, \
	  "Queries that may wait for a free connection; beyond this requests get 503.") \
	X(DB_CONNECT_TIMEOUT, "db.connect_timeout", CFG_SECONDS, "5", 1, 300, NULL, 0, \
	  "Seconds allowed for one connection attempt.") \
	X(DB_RECONNECT_MAX, "db.reconnect_max", CFG_SECONDS, "30", 1, 3600, NULL, 0, \
	  "Longest wait between reconnection attempts (the backoff doubles up to this).") \
	X(API_RATE_LIMIT, "api.rate_limit", CFG_INT, "50", 0, 1000000, NULL, 0, \
	  "Requests per second each API token may make on average; beyond, 429 with " \
	  "Retry-After. 0 turns the limit off.") \
	X(API_RATE_BURST, "api.rate_burst", CFG_INT, "100", 1, 1000000, NULL, 0, \
	  "Requests a token may make at once, above its average rate.") \
	X(API_PAGE_MAX, "api.page_max", CFG_INT, "1000", 1, 100000, NULL, 0, \
	  "Largest page (the limit parameter) of the read API's lists.") \
	X(INGEST_MAX_RECORDS, "ingest.max_records", CFG_INT, "1000000", 1, 100000000, \
	  NULL, 0, "Records (projects, OCDS releases, budget lines) one push may hold; " \
	  "a larger batch is refused with 422.") \
	X(INGEST_STALE_AFTER, "ingest.stale_after", CFG_SECONDS, "10m", 10, 86400, NULL, \
	  0, "A batch still running after this long is taken as abandoned: a request " \
	  "with its Idempotency-Key may take it over.") \
	X(FEEDS_CONCURRENCY, "feeds.concurrency", CFG_INT, "4", 1, 64, NULL, 0, \
	  "Feeds one daemon pulls at the same time; others wait for their turn.") \
	X(FEEDS_RETRY_BASE, "feeds.retry_base", CFG_SECONDS, "1m", 1, 86400, NULL, 0, \
	  "Wait before retrying a failed pull; it doubles with each failure in a row " \
	  "(with random jitter) up to feeds.retry_max, or the server's Retry-After.") \
	X(FEEDS_RETRY_MAX, "feeds.retry_max", CFG_SECONDS, "6h", 1, 2592000, NULL, 0, \
	  "Longest wait between retries of a failing feed.") \
	X(FEEDS_LEASE, "feeds.lease", CFG_SECONDS, "30", 2, 3600, NULL, 0, \
	  "A process running a feed renews its claim this often, at least; a claim not " \
	  "renewed for this long (the process died) lets another process take the feed.") \
	X(FEEDS_CHUNK_RECORDS, "feeds.chunk_records", CFG_INT, "5000", 1, 1000000, NULL, 0, \
	  "Records of a pulled document written in one transaction, with the feed's cursor.") \
	X(FEEDS_CHUNK_BYTES, "feeds.chunk_bytes", CFG_BYTES, "16M", 65536, 1073741824LL, \
	  NULL, 0, "A chunk is written once its records reach this size, whatever their " \
	  "number. One record may be as large as http.max_body.") \
	X(SMTP_URL, "smtp.url", CFG_URL, NULL, 0, 0, NULL, 0, \
	  "Mail server for alert emails: smtp://host:port (with STARTTLS, see " \
	  "smtp.starttls) or smtps://host:port. Unset: alerts are kept and their emails " \
	  "wait in the outbox until it is set.") \
	X(SMTP_STARTTLS, "smtp.starttls", CFG_ENUM, "required", 0, 0, "required|none", 0, \
	  "For smtp:// URLs: required refuses a server that does not offer STARTTLS; " \
	  "none sends in the clear and is accepted only for a loopback server.") \
	X(SMTP_FROM, "smtp.from", CFG_STRING, "ictmon@localhost", 0, 0, NULL, 0, \
	  "Sender address of alert emails (From and the envelope).") \
	X(SMTP_FROM_NAME, "smtp.from_name", CFG_STRING, "ictmon", 0, 0, NULL, 0, \
	  "Display name of the sender.") \
	X(SMTP_USERNAME, "smtp.username", CFG_STRING, NULL, 0, 0, NULL, 0, \
	  "User for SMTP AUTH; unset: no AUTH.") \
	X(SMTP_PASSWORD_FILE, "smtp.password_file", CFG_SECRET_FILE, NULL, 0, 0, NULL, 0, \
	  "File holding the SMTP password (not readable by others).") \
	X(SMTP_CONNECT_TIMEOUT, "smtp.connect_timeout", CFG_SECONDS, "10", 1, 600, NULL, \
	  0, "Seconds allowed to connect to the mail server.") \
	X(SMTP_RESPONSE_TIMEOUT, "smtp.response_timeout", CFG_SECONDS, "10", 1, 600, \
	  NULL, 0, "Seconds allowed for each reply of the mail server. libcurl waits " \
	  "for the reply to the end of a message without returning to the event loop, " \
	  "so this also bounds how long a slow server can pause the daemon.") \
	X(SMTP_TIMEOUT, "smtp.timeout", CFG_SECONDS, "120", 1, 3600, NULL, 0, \
	  "Seconds allowed for sending one email, from connecting to the last reply.") \
	X(SMTP_CONCURRENCY, "smtp.concurrency", CFG_INT, "4", 1, 64, NULL, 0, \
	  "Emails one daemon sends at the same time.") \
	X(SMTP_MAX_ATTEMPTS, "smtp.max_attempts", CFG_INT, "10", 1, 1000, NULL, 0, \
	  "Attempts to send one email before it is given up as dead (a permanent " \
	  "refusal, a 5xx reply, gives up at once).") \
	X(SMTP_RETRY_BASE, "smtp.retry_base", CFG_SECONDS, "30", 1, 86400, NULL, 0, \
	  "Wait before retrying a failed email; it doubles with each failure (with " \
	  "random jitter) up to smtp.retry_max.") \
	X(SMTP_RETRY_MAX, "smtp.retry_max", CFG_SECONDS, "1h", 1, 86400, NULL, 0, \
	  "Longest wait between two attempts of one email.") \
	X(ALERTS_GROUP_WAIT, "alerts.group_wait", CFG_SECONDS, "30", 0, 86400, NULL, 0, \
	  "Wait after the first alert of a group (a rule and an agency, per recipient) " \
	  "before its first email, so that alerts arriving together go together.") \
	X(ALERTS_GROUP_INTERVAL, "alerts.group_interval", CFG_SECONDS, "5m", 0, 604800, \
	  NULL, 0, "Least time between two emails of one group; new alerts in between " \
	  "wait for the next.") \
	X(ALERTS_REPEAT_INTERVAL, "alerts.repeat_interval", CFG_SECONDS, "1d", 60, \
	  31536000, NULL, 0, "A still firing, unacknowledged alert is mailed again after " \
	  "this long.") \
	X(ALERTS_MAX_PER_EMAIL, "alerts.max_per_email", CFG_INT, "20", 1, 1000, NULL, 0, \
	  "Alerts listed in one email; the rest are counted (\"and K more\") and linked.") \
	X(ALERTS_DIGEST_HOUR, "alerts.digest_hour", CFG_INT, "8", 0, 23, NULL, 0, \
	  "Hour of the day (the daemon's local time) when daily digests are sent.") \
	X(PUBLIC_URL, "public_url", CFG_URL, "http://127.0.0.1:8080", 0, 0, NULL, 0, \
	  "Address of the dashboard as readers of alert emails reach it; emails link " \
	  "to PUBLIC_URL/#/alerts/ID.") \
	INDICATOR_KEYS(X)

enum cfg_id {
#define CFG_ENUM_ID(id, ...) CFG_##id,
	CONFIG_KEYS(CFG_ENUM_ID)
#undef CFG_ENUM_ID
	CFG__COUNT
};

/* Keys of a [feed.NAME] section: one collector each (see collectors/). */
#define FEED_KEYS(X) \
	X(KIND, "kind", CFG_ENUM, NULL, 0, 0, COLLECTOR_CHOICES, CFG_REQUIRED, \
	  "What the feed publishes (see collectors/).") \
	X(URL, "url", CFG_URL, NULL, 0, 0, NULL, CFG_REQUIRED, \
	  "Where to fetch it (the first page of a paged API).") \
	X(AGENCY, "agency", CFG_STRING, NULL, 0, 0, NULL, 0, \
	  "Agency code the data belongs to; empty for multi-agency feeds such as OCDS.") \
	X(SCHEDULE, "schedule", CFG_SECONDS, "1h", 60, 2592000, NULL, 0, \
	  "Time between two pulls.") \
	X(AUTH_HEADER_FILE, "auth_header_file", CFG_SECRET_FILE, NULL, 0, 0, NULL, 0, \
	  "File holding one HTTP header line sent with each request, e.g. an API key.") \
	X(MAX_SIZE, "max_size", CFG_BYTES, "1G", 1024, 17179869184LL, NULL, 0, \
	  "Largest body accepted for one page.") \
	X(TIMEOUT, "timeout", CFG_SECONDS, "300", 1, 86400, NULL, 0, \
	  "Seconds allowed for one page, writing it included.") \
	X(FISCAL_YEAR, "fiscal_year", CFG_INT, "0", 0, 2200, NULL, 0, \
	  "budget_csv: the budget law's fiscal year; 0 is the year of the pull.") \
	X(PHASE, "phase", CFG_ENUM, "approved", 0, 0, \
	  "approved|modified|committed|accrued|paid", 0, \
	  "budget_csv: the budget phase the amounts are in.")

enum feed_key_id {
#define FEED_ENUM_ID(id, ...) FEED_##id,
	FEED_KEYS(FEED_ENUM_ID)
#undef FEED_ENUM_ID
	FEED__COUNT
};

/*
 * Keys of an [alert.NAME] section: one alert rule. Rules for the main indicators are
 * built in (include/alerts.h); a section with a built-in rule's name changes only the
 * keys it sets, any other name adds a rule and must name its indicator.
 */
#define ALERT_KEYS(X) \
	X(INDICATOR, "indicator", CFG_ENUM, NULL, 0, 0, INDICATOR_CHOICES, 0, \
	  "The indicator whose results fire this rule's alerts.") \
	X(BAND, "band", CFG_ENUM, NULL, 0, 0, "low|medium|high", 0, \
	  "Least band of a result that fires an alert.") \
	X(THRESHOLD, "threshold", CFG_STRING, NULL, 0, 0, NULL, 0, \
	  "Least value of a result that fires an alert (a decimal), besides the band.") \
	X(SEVERITY, "severity", CFG_ENUM, NULL, 0, 0, "band|low|medium|high", 0, \
	  "Severity of the alerts; band: the result's own band.") \
	X(TO, "to", CFG_STRING, NULL, 0, 0, NULL, 0, \
	  "Comma list of recipients' addresses or roles the rule's alerts go to; " \
	  "empty: every recipient whose agencies and severity match.") \
	X(NOTIFY_RESOLVED, "notify_resolved", CFG_BOOL, NULL, 0, 0, NULL, 0, \
	  "Whether recipients are mailed when an alert resolves.") \
	X(ENABLED, "enabled", CFG_BOOL, NULL, 0, 0, NULL, 0, \
	  "false turns a (built-in) rule off.")

#define INDICATOR_CHOICES "BUDGET-EXEC|CONC-VENDOR|COORD-INDEX|CV|DUP-PROJECT|" \
	"FEED-STALE|OVL-PLATFORM|OVL-SPEND|OVL-TENDER|REPEAT-DIRECT|SPLIT|SV|" \
	"UNREVIEWED-SPEND"

enum alert_key_id {
#define ALERT_ENUM_ID(id, ...) ALERT_##id,
	ALERT_KEYS(ALERT_ENUM_ID)
#undef ALERT_ENUM_ID
	ALERT__COUNT
};

/* A family of repeated sections, `[prefix.NAME]`, and its key table. */
struct cfg_family {
	const char		*prefix;	/* "feed" */
	const struct cfg_key	*keys;
	size_t			 nkeys;
	const char		*help;
};

struct cfg_value {
	char		*text;		/* normalised text; NULL when unset */
	long long	 number;	/* INT, SECONDS, BYTES; BOOL 0/1; ENUM choice index */
	char		*secret;	/* SECRET_FILE: the file's content; NULL when unset */
	int		 line;		/* where it was set: 0 default, -1 command line */
};

struct config_section {
	const struct cfg_family	*family;
	char			*name;		/* NAME of [prefix.NAME] */
	struct cfg_value	*values;	/* family->nkeys entries */
	int			 line;
};

struct config {
	char			*path;		/* NULL: built-in defaults only */
	struct cfg_value	 values[CFG__COUNT];
	struct config_section	*sections;
	size_t			 nsections;
};

/* Every error of one load, each a full sentence starting "FILE:LINE: ". */
struct config_errors {
	char	**lines;
	size_t	  count;
};

extern const struct cfg_key	config_keys[CFG__COUNT];
extern const struct cfg_family	config_families[];
extern const size_t		config_nfamilies;

/*
 * Loads `path` (NULL: defaults only), then applies `overrides` ("key=value", as given
 * to -s; section keys as "feed.NAME.url=..."). Returns NULL with every problem in
 * `errors`, or the config. The caller owns both.
 */
struct config	*config_load(const char *path, const char *const *overrides,
		    size_t noverrides, struct config_errors *errors);
/* The same from text in memory; `origin` names it in error messages. */
struct config	*config_load_text(const char *text, const char *origin,
		    const char *const *overrides, size_t noverrides,
		    struct config_errors *errors);
void		 config_free(struct config *cfg);
void		 config_errors_clear(struct config_errors *errors);
/* Adds one error to `errors`, for checks made beyond config_load (alerts.h). */
void		 config_error(struct config_errors *errors, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

const char	*config_str(const struct config *cfg, enum cfg_id id);
long long	 config_int(const struct config *cfg, enum cfg_id id);
bool		 config_bool(const struct config *cfg, enum cfg_id id);
const char	*config_secret(const struct config *cfg, enum cfg_id id);

/* Sections of one family, in file order; returns how many. */
size_t		 config_sections(const struct config *cfg, const char *prefix,
		    const struct config_section **out, size_t max);
const char	*section_str(const struct config_section *s, int key);
long long	 section_int(const struct config_section *s, int key);
const char	*section_secret(const struct config_section *s, int key);

/*
 * Names the CFG_RESTART keys whose value differs between `old` and `new` (a reload
 * keeps the old value of those); returns how many, writing up to `max` names.
 */
size_t		 config_restart_changes(const struct config *old,
		    const struct config *new, const char **names, size_t max);

/* Splits "host:port" or "[v6]:port". */
bool		 config_split_addr(const char *addr, char *host, size_t hostlen,
		    unsigned short *port);

/* The fully commented configuration file with every default: etc/ictmon.conf. */
void		 config_write_defaults(FILE *out);
/* The effective configuration, secrets shown as "(secret)". */
void		 config_write_effective(const struct config *cfg, FILE *out);

#endif
