/*
 * The configuration module: parsing, validation, overrides, secret files, and the
 * commented etc/ictmon.conf. Secret and unreadable files are real temporary files:
 * reading them is this module's own I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* Every section a file may have, as errors list them. */
#define INDICATOR_SECTIONS \
	"indicators.dup_project, indicators.ovl_spend, indicators.ovl_tender, " \
	"indicators.ovl_platform, indicators.split, indicators.repeat_direct, " \
	"indicators.conc_vendor, indicators.unreviewed_spend, indicators.cv, " \
	"indicators.sv, indicators.budget_exec, indicators.coord_index, " \
	"indicators.feed_stale"
#define ALL_SECTIONS \
	"log, http, db, api, ingest, feeds, smtp, alerts, indicators, " \
	INDICATOR_SECTIONS ", feed.NAME, alert.NAME"

static struct config_errors	errors;

static int
clear_errors(void **state)
{
	config_errors_clear(&errors);
	return 0;
}

static struct config *
load(const char *text)
{
	return config_load_text(text, "test.conf", NULL, 0, &errors);
}

static struct config *
load_with(const char *text, const char *const *overrides, size_t n)
{
	return config_load_text(text, "test.conf", overrides, n, &errors);
}

/* Whether one of the errors of the last load is exactly `line`. */
static bool
has_error(const char *line)
{
	for (size_t i = 0; i < errors.count; i++)
		if (strcmp(errors.lines[i], line) == 0)
			return true;
	return false;
}

static void
print_errors(void)
{
	for (size_t i = 0; i < errors.count; i++)
		print_message("  error: %s\n", errors.lines[i]);
}

#define assert_error(line) do {						\
	if (!has_error(line)) {						\
		print_message("missing error: %s\n", line);		\
		print_errors();						\
		fail();							\
	}								\
} while (0)

/* A file with `content` and `mode`, under TMPDIR; returns its path (static). */
static const char *
temp_file(const char *content, size_t len, mode_t mode)
{
	static char	 path[4][64];
	static int	 next;
	char		*p = path[next++ % 4];
	const char	*dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int		 fd;

	snprintf(p, 64, "%.40s/ictmon-test-XXXXXX", dir);
	assert_int_not_equal(fd = mkstemp(p), -1);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return p;
}

static void
test_defaults_apply_when_file_empty(void **state)
{
	struct config *cfg;

	assert_non_null(cfg = load(""));
	assert_int_equal(errors.count, 0);
	assert_string_equal(config_str(cfg, CFG_LOG_LEVEL), "info");
	assert_string_equal(config_str(cfg, CFG_HTTP_LISTEN), "127.0.0.1:8080");
	assert_int_equal(config_int(cfg, CFG_HTTP_MAX_BODY), 64LL << 20);
	assert_int_equal(config_int(cfg, CFG_HTTP_MAX_HEADERS), 16 << 10);
	assert_int_equal(config_int(cfg, CFG_HTTP_TIMEOUT), 30);
	assert_int_equal(config_int(cfg, CFG_DB_POOL), 4);
	/* An empty default is still a value: libpq's environment applies. */
	assert_string_equal(config_str(cfg, CFG_DB_CONNINFO), "");
	assert_null(config_str(cfg, CFG_DB_PASSWORD_FILE));
	assert_null(config_secret(cfg, CFG_DB_PASSWORD_FILE));
	assert_int_equal(cfg->values[CFG_DB_POOL].line, 0);
	assert_int_equal(cfg->nsections, 0);
	config_free(cfg);
}

static void
test_every_key_with_a_default_has_text(void **state)
{
	struct config *cfg = config_load(NULL, NULL, 0, &errors);

	assert_non_null(cfg);
	assert_null(cfg->path);
	for (int i = 0; i < CFG__COUNT; i++)
		if (config_keys[i].def != NULL)
			assert_non_null(config_str(cfg, (enum cfg_id)i));
	config_free(cfg);
}

static void
test_file_values_replace_defaults(void **state)
{
	struct config *cfg;

	cfg = load("# the site's settings\n"
	    "\n"
	    "[log]\n"
	    "level = debug\n"
	    "[http]\n"
	    "   listen   =   0.0.0.0:9090\n"
	    "[db]\n"
	    "pool=8\n");
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, CFG_LOG_LEVEL), "debug");
	assert_int_equal(config_int(cfg, CFG_LOG_LEVEL), 3);	/* choice index */
	assert_string_equal(config_str(cfg, CFG_HTTP_LISTEN), "0.0.0.0:9090");
	assert_int_equal(cfg->values[CFG_HTTP_LISTEN].line, 6);
	assert_int_equal(config_int(cfg, CFG_DB_POOL), 8);
	config_free(cfg);
}

static void
test_override_beats_file(void **state)
{
	const char *const	 overrides[] = { "http.listen=127.0.0.1:9999", "db.pool=2" };
	struct config		*cfg;

	cfg = load_with("[http]\nlisten = 0.0.0.0:80\n[db]\npool = 10\n", overrides, 2);
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, CFG_HTTP_LISTEN), "127.0.0.1:9999");
	assert_int_equal(config_int(cfg, CFG_DB_POOL), 2);
	assert_int_equal(cfg->values[CFG_DB_POOL].line, -1);
	config_free(cfg);
}

static void
test_override_value_is_taken_verbatim(void **state)
{
	const char *const	 overrides[] = { "db.conninfo=host=db # port=6432" };
	struct config		*cfg;

	/* The shell already split the words: no comment or quote processing. */
	assert_non_null(cfg = load_with("", overrides, 1));
	assert_string_equal(config_str(cfg, CFG_DB_CONNINFO), "host=db # port=6432");
	config_free(cfg);
}

static void
test_bad_override_names_the_option(void **state)
{
	const char *const overrides[] = { "db.pool=0", "nonsense", "http.lisen=x",
	    "feed.a.kind=ocds_jsonl", "feed.a.colour=red", "feed.B.kind=ocds_jsonl" };

	assert_null(load_with("", overrides, 6));
	assert_error("command line: -s db.pool: '0' is out of range: 1 to 64");
	assert_error("command line: -s nonsense: expected key=value");
	assert_error("command line: -s http.lisen: unknown key (keys of [http]: listen, "
	    "max_body, max_headers, timeout, drain_timeout, web_root)");
	assert_error("command line: -s feed.a.colour: unknown key (keys of [feed.NAME]: "
	    "kind, url, agency, schedule, auth_header_file, max_size, timeout, "
	    "fiscal_year, phase)");
	assert_error("command line: -s feed.B.kind: feed name 'B': use 1 to 64 "
	    "characters among a-z, 0-9, _ and -");
	/* feed.a got a kind but never a url. */
	assert_error("command line: [feed.a] has no url, which is required");
	assert_int_equal(errors.count, 6);
}

static void
test_override_creates_feed_section(void **state)
{
	const char *const overrides[] = { "feed.extra.kind=budget_csv",
	    "feed.extra.url=https://example.org/budget.csv", "feed.main.schedule=30m" };
	const struct config_section	*feeds[4];
	struct config			*cfg;

	cfg = load_with("[feed.main]\nkind = ocds_jsonl\nurl = https://example.org/a\n",
	    overrides, 3);
	assert_non_null(cfg);
	assert_int_equal(config_sections(cfg, "feed", feeds, 4), 2);
	assert_string_equal(feeds[0]->name, "main");
	assert_int_equal(section_int(feeds[0], FEED_SCHEDULE), 1800);
	assert_string_equal(feeds[1]->name, "extra");
	assert_int_equal(feeds[1]->line, -1);
	assert_string_equal(section_str(feeds[1], FEED_KIND), "budget_csv");
	assert_int_equal(section_int(feeds[1], FEED_TIMEOUT), 300);
	config_free(cfg);
}

static void
test_duplicate_key_reports_both_lines(void **state)
{
	assert_null(load("[http]\nlisten = 127.0.0.1:1\n\nlisten = 127.0.0.1:2\n"));
	assert_error("test.conf:4: http.listen is already set at line 2");
	assert_int_equal(errors.count, 1);
}

static void
test_duplicate_key_across_repeated_global_section(void **state)
{
	assert_null(load("[db]\npool = 2\n[http]\n[db]\npool = 3\n"));
	assert_error("test.conf:5: db.pool is already set at line 2");
}

static void
test_duplicate_key_in_feed_section(void **state)
{
	assert_null(load("[feed.a]\nkind = ocds_jsonl\nurl = http://a/\n"
	    "url = http://b/\n"));
	assert_error("test.conf:4: feed.a.url is already set at line 3");
}

static void
test_all_errors_reported_in_one_load(void **state)
{
	assert_null(load(
	    "stray = 1\n"			/* 1 */
	    "[log]\n"
	    "level = loud\n"			/* 3 */
	    "[http]\n"
	    "max_body = lots\n"			/* 5 */
	    "timeout = 0\n"			/* 6 */
	    "listen 127.0.0.1:80\n"		/* 7 */
	    "[nosuch]\n"			/* 8 */
	    "ignored = 1\n"
	    "[db]\n"
	    "pool = 2\n"
	    "pool = 3\n"			/* 12 */
	    "queue_max = 1e3\n"));		/* 13 */
	assert_error("test.conf:1: unknown key 'stray' before any [section]");
	assert_error("test.conf:3: log.level: 'loud' is not one of: error, warn, info, "
	    "debug");
	assert_error("test.conf:5: http.max_body: 'lots' is not a size: bytes, or a "
	    "number with K, M or G");
	assert_error("test.conf:6: http.timeout: '0' is out of range: 1s to 1h");
	assert_error("test.conf:7: expected key = value, [section] or a # comment");
	assert_error("test.conf:8: unknown section 'nosuch' (sections: " ALL_SECTIONS
	    ")");
	assert_error("test.conf:12: db.pool is already set at line 11");
	assert_error("test.conf:13: db.queue_max: '1e3' is not a whole number");
	/* Keys of an unknown section are not reported one by one. */
	assert_int_equal(errors.count, 8);
}

static void
test_errors_accumulate_across_loads_until_cleared(void **state)
{
	assert_null(load("[db]\npool = x\n"));
	assert_null(load("[db]\npool = y\n"));
	assert_int_equal(errors.count, 2);
	config_errors_clear(&errors);
	assert_int_equal(errors.count, 0);
	assert_null(errors.lines);
}

static void
test_dotted_key_before_section_says_where_it_goes(void **state)
{
	assert_null(load("http.listen = 127.0.0.1:80\n"));
	assert_error("test.conf:1: unknown key 'http.listen': write it as listen under "
	    "[http]");
}

static void
test_unknown_key_lists_the_section_keys(void **state)
{
	assert_null(load("[db]\npoll = 3\n"));
	assert_error("test.conf:2: unknown key 'poll' in [db] (keys: conninfo, "
	    "password_file, pool, queue_max, connect_timeout, reconnect_max)");
}

static void
test_bytes_suffixes(void **state)
{
	static const struct {
		const char	*text;
		long long	 bytes;
	} ok[] = {
		{ "4096", 4096 }, { "1K", 1024 }, { "1k", 1024 }, { "16K", 16384 },
		{ "2M", 2LL << 20 }, { "1G", 1LL << 30 },
	};
	static const char *const bad[] = { "1KB", "1T", "-1K", "K", "1 K", "", "1.5M",
	    "99999999999999999999", "9999999999999G" };
	char		 text[128];
	struct config	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[http]\nmax_body = %s\n", ok[i].text);
		assert_non_null(cfg = load(text));
		assert_int_equal(config_int(cfg, CFG_HTTP_MAX_BODY), ok[i].bytes);
		/* Normalised to bytes, so a reload compares like with like. */
		snprintf(text, sizeof(text), "%lld", ok[i].bytes);
		assert_string_equal(config_str(cfg, CFG_HTTP_MAX_BODY), text);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[http]\nmax_body = %s\n", bad[i]);
		assert_null(load(text));
		assert_int_equal(errors.count, 1);
		config_errors_clear(&errors);
	}
}

static void
test_seconds_suffixes(void **state)
{
	static const struct {
		const char	*text;
		long long	 seconds;
	} ok[] = {
		{ "45", 45 }, { "45s", 45 }, { "2m", 120 }, { "1h", 3600 }, { "1d", 86400 },
	};
	static const char *const bad[] = { "1w", "1H", "m", "-5", "1h30m", "2.5h", "" };
	char		 text[128];
	struct config	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[feed.a]\nkind = ocds_jsonl\n"
		    "url = https://a.example/\ntimeout = %s\n", ok[i].text);
		assert_non_null(cfg = load(text));
		assert_int_equal(section_int(&cfg->sections[0], FEED_TIMEOUT),
		    ok[i].seconds);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[feed.a]\nkind = ocds_jsonl\n"
		    "url = https://a.example/\ntimeout = %s\n", bad[i]);
		assert_null(load(text));
		assert_int_equal(errors.count, 1);
		config_errors_clear(&errors);
	}
	/* 1d is a valid duration but over db.reconnect_max's 1h. */
	assert_null(load("[db]\nreconnect_max = 1d\n"));
	assert_error("test.conf:2: db.reconnect_max: '1d' is out of range: 1s to 1h");
}

static void
test_value_out_of_range_rejected(void **state)
{
	struct config *cfg;

	assert_non_null(cfg = load("[db]\npool = 1\n"));
	config_free(cfg);
	assert_non_null(cfg = load("[db]\npool = 64\n"));
	config_free(cfg);
	assert_null(load("[db]\npool = 0\n"));
	assert_error("test.conf:2: db.pool: '0' is out of range: 1 to 64");
	assert_null(load("[db]\npool = 65\n"));
	assert_error("test.conf:2: db.pool: '65' is out of range: 1 to 64");
	assert_null(load("[db]\npool = -3\n"));
	assert_error("test.conf:2: db.pool: '-3' is out of range: 1 to 64");
	assert_null(load("[http]\nmax_body = 1023\n"));
	assert_error("test.conf:2: http.max_body: '1023' is out of range: 1K to 1G");
}

static void
test_enum_lists_choices(void **state)
{
	assert_null(load("[feed.a]\nkind = ocds\nurl = https://a.example/\n"));
	assert_error("test.conf:2: feed.a.kind: 'ocds' is not one of: "
	    "ocds_release_packages, ocds_record_packages, ocds_jsonl, budget_csv, "
	    "projects_json");
	/* A bad kind is reported once, not again as missing. */
	assert_int_equal(errors.count, 1);
}

static void
test_addr_forms(void **state)
{
	static const char *const ok[] = { "127.0.0.1:8080", "localhost:1", "[::1]:65535",
	    "[fe80::1%eth0]:80", "0.0.0.0:443" };
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
	    "::1:8080", "[::1]8080", "[::1]:", ":8080", "[]:80", "host:80a",
	    "host:123456", "a b:80" };
	char		 text[128];
	struct config	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[http]\nlisten = %s\n", ok[i]);
		assert_non_null(cfg = load(text));
		assert_string_equal(config_str(cfg, CFG_HTTP_LISTEN), ok[i]);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[http]\nlisten = %s\n", bad[i]);
		assert_null(load(text));
		assert_int_equal(errors.count, 1);
		config_errors_clear(&errors);
	}
}

static void
test_split_addr_with_ipv6(void **state)
{
	char		host[64];
	unsigned short	port = 0;

	assert_true(config_split_addr("[2001:db8::7]:8443", host, sizeof(host), &port));
	assert_string_equal(host, "2001:db8::7");
	assert_int_equal(port, 8443);
	assert_true(config_split_addr("db.example.org:5432", host, sizeof(host), &port));
	assert_string_equal(host, "db.example.org");
	assert_int_equal(port, 5432);
	assert_false(config_split_addr("2001:db8::7:8443", host, sizeof(host), &port));
	assert_false(config_split_addr("[2001:db8::7]", host, sizeof(host), &port));
	/* The host must fit, terminator included. */
	assert_false(config_split_addr("abcdefgh:80", host, 8, &port));
	assert_true(config_split_addr("abcdefg:80", host, 8, &port));
}

static void
test_url_needs_scheme_and_host(void **state)
{
	static const char *const ok[] = { "http://a", "https://example.org/api?page=1",
	    "https://u:p@example.org:8443/x", "smtp://mail:25", "smtps://[::1]:465",
	    "HTTPS://Example.org/" };
	static const char *const bad[] = { "ftp://example.org/", "example.org",
	    "https://", "https:///path", "https://user@/x", "https://a b/", "http://[]/",
	    "" };
	char		 text[256];
	struct config	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[feed.a]\nkind = ocds_jsonl\nurl = %s\n",
		    ok[i]);
		assert_non_null(cfg = load(text));
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[feed.a]\nkind = ocds_jsonl\nurl = \"%s\"\n",
		    bad[i]);
		assert_null(load(text));
		assert_int_equal(errors.count, 1);
		config_errors_clear(&errors);
	}
}

static void
test_empty_path_rejected(void **state)
{
	assert_null(load("[http]\nweb_root =\n"));
	assert_error("test.conf:2: http.web_root: the path is empty");
}

static void
test_feed_section_missing_url_rejected(void **state)
{
	assert_null(load("[feed.portugal]\nkind = ocds_release_packages\n"
	    "schedule = 6h\n"));
	assert_error("test.conf:1: [feed.portugal] has no url, which is required");
	assert_int_equal(errors.count, 1);
}

static void
test_feed_sections_in_file_order(void **state)
{
	const struct config_section	*feeds[1];
	struct config			*cfg;

	cfg = load("[feed.zeta]\nkind = ocds_jsonl\nurl = https://z.example/\n"
	    "agency = 05-62\n"
	    "[feed.alpha]\nkind = budget_csv\nurl = https://a.example/\n");
	assert_non_null(cfg);
	/* Returns how many there are, writing only as many as fit. */
	assert_int_equal(config_sections(cfg, "feed", feeds, 1), 2);
	assert_string_equal(feeds[0]->name, "zeta");
	assert_int_equal(feeds[0]->line, 1);
	assert_string_equal(section_str(feeds[0], FEED_AGENCY), "05-62");
	assert_int_equal(section_int(feeds[0], FEED_KIND), 2);
	assert_int_equal(section_int(feeds[0], FEED_SCHEDULE), 3600);
	assert_int_equal(section_int(feeds[0], FEED_MAX_SIZE), 1LL << 30);
	assert_null(section_secret(feeds[0], FEED_AUTH_HEADER_FILE));
	assert_int_equal(config_sections(cfg, "other", feeds, 1), 0);
	config_free(cfg);
}

static void
test_repeated_feed_section_rejected(void **state)
{
	assert_null(load("[feed.mx]\nkind = ocds_jsonl\nurl = https://a.example/\n"
	    "[feed.mx]\nkind = budget_csv\n"));
	assert_error("test.conf:4: section [feed.mx] repeated (first at line 1)");
	/* The repeated section's keys are not also reported as duplicates. */
	assert_int_equal(errors.count, 1);
}

static void
test_feed_section_needs_a_valid_name(void **state)
{
	char	text[128];

	assert_null(load("[feed]\n"));
	assert_error("test.conf:1: section [feed] needs a name: [feed.NAME]");
	assert_null(load("[feed.Portugal]\n"));
	assert_error("test.conf:1: feed name 'Portugal': use 1 to 64 characters among "
	    "a-z, 0-9, _ and -");
	config_errors_clear(&errors);
	snprintf(text, sizeof(text), "[feed.%065d]\n", 0);
	assert_null(load(text));
	assert_int_equal(errors.count, 1);
}

static void
test_unknown_section_rejected(void **state)
{
	assert_null(load("[mail]\nhost = mail\n[http]\nlisten = 127.0.0.1:80\n"));
	assert_error("test.conf:1: unknown section 'mail' (sections: " ALL_SECTIONS ")");
	assert_int_equal(errors.count, 1);
}

static void
test_malformed_lines_rejected(void **state)
{
	assert_null(load("[http\n[]\n[http] x\n= 3\nlisten\nmax body = 1\n"));
	assert_error("test.conf:1: a section header needs a closing ]");
	assert_error("test.conf:2: empty section name");
	assert_error("test.conf:3: text after the section header");
	assert_error("test.conf:4: expected key = value, [section] or a # comment");
	assert_error("test.conf:5: expected key = value, [section] or a # comment");
	assert_error("test.conf:6: expected key = value, [section] or a # comment");
}

static void
test_quoted_values(void **state)
{
	struct config *cfg;

	cfg = load("[db]\nconninfo = \"host=db # not a comment\"   # a comment\n"
	    "[http]\nweb_root = \"/srv/a \\\"b\\\" \\\\c \"\n");
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, CFG_DB_CONNINFO), "host=db # not a comment");
	assert_string_equal(config_str(cfg, CFG_HTTP_WEB_ROOT), "/srv/a \"b\" \\c ");
	config_free(cfg);

	assert_non_null(cfg = load("[db]\nconninfo = \"\"\n"));
	assert_string_equal(config_str(cfg, CFG_DB_CONNINFO), "");
	config_free(cfg);

	assert_null(load("[db]\nconninfo = \"open\n"));
	assert_error("test.conf:2: the quoted value has no closing \"");
	assert_null(load("[db]\nconninfo = \"a\" b\n"));
	assert_error("test.conf:2: text after the closing quote");
	assert_null(load("[db]\nconninfo = \"a\\n\"\n"));
	assert_error("test.conf:2: in a quoted value only \\\" and \\\\ are escapes");
}

static void
test_trailing_comments(void **state)
{
	struct config *cfg;

	cfg = load("[http]   # the API\nlisten = 127.0.0.1:81 # local only\n"
	    "web_root = /srv/web#1\t# a # after a tab\n"
	    "[db]\nconninfo = # nothing\n");
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, CFG_HTTP_LISTEN), "127.0.0.1:81");
	/* A # inside a word is part of the value. */
	assert_string_equal(config_str(cfg, CFG_HTTP_WEB_ROOT), "/srv/web#1");
	assert_string_equal(config_str(cfg, CFG_DB_CONNINFO), "");
	config_free(cfg);
}

static void
test_crlf_and_bom_accepted(void **state)
{
	struct config *cfg;

	cfg = load("\xef\xbb\xbf[db]\r\npool = 7\r\n\r\n# done\r\n");
	assert_non_null(cfg);
	assert_int_equal(config_int(cfg, CFG_DB_POOL), 7);
	config_free(cfg);
}

static void
test_control_characters_in_values_rejected(void **state)
{
	assert_null(load("[db]\nconninfo = a\x1b[31mb\n"));
	assert_error("test.conf:2: db.conninfo: the value has a control character");
}

static void
test_nul_byte_and_long_line_rejected(void **state)
{
	static const char	 nul_line[] = "[db]\npool = 2\0 3\n[http]\nweb_root = /";
	static const char	 tail[] = "\n[db]\nqueue_max = 10\n";
	char			 text[6000], expect[256];
	const char		*path;
	size_t			 n = 0;

	memcpy(text, nul_line, sizeof(nul_line) - 1);	/* line 2 has the NUL */
	n += sizeof(nul_line) - 1;
	memset(text + n, 'x', 4100);			/* line 4 is too long */
	n += 4100;
	memcpy(text + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	path = temp_file(text, n, 0600);
	assert_null(config_load(path, NULL, 0, &errors));
	unlink(path);
	snprintf(expect, sizeof(expect), "%s:2: NUL byte in the line", path);
	assert_error(expect);
	snprintf(expect, sizeof(expect), "%s:4: line longer than 4096 bytes", path);
	assert_error(expect);
	assert_int_equal(errors.count, 2);
}

static void
test_unreadable_file_names_it_and_strerror(void **state)
{
	const char *const	 overrides[] = { "db.pool=0" };
	char			 expect[256];

	assert_null(config_load("/nonexistent/ictmon.conf", overrides, 1, &errors));
	snprintf(expect, sizeof(expect), "/nonexistent/ictmon.conf: cannot read: %s",
	    strerror(ENOENT));
	assert_error(expect);
	/* The overrides are still checked in the same run. */
	assert_error("command line: -s db.pool: '0' is out of range: 1 to 64");
	assert_int_equal(errors.count, 2);
}

static void
test_load_from_file(void **state)
{
	static const char	 text[] = "[http]\nlisten = 127.0.0.1:7000\n";
	const char		*path = temp_file(text, sizeof(text) - 1, 0644);
	struct config		*cfg;

	cfg = config_load(path, NULL, 0, &errors);
	unlink(path);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	assert_string_equal(config_str(cfg, CFG_HTTP_LISTEN), "127.0.0.1:7000");
	config_free(cfg);
}

static void
test_secret_file_first_line_read(void **state)
{
	static const char	 secret[] = "s3cret pass#word\r\nsecond line\n";
	const char		*path = temp_file(secret, sizeof(secret) - 1, 0640);
	char			 text[256];
	struct config		*cfg;

	snprintf(text, sizeof(text), "[db]\npassword_file = %s\n", path);
	cfg = load(text);
	unlink(path);
	assert_non_null(cfg);
	assert_string_equal(config_secret(cfg, CFG_DB_PASSWORD_FILE), "s3cret pass#word");
	assert_string_equal(config_str(cfg, CFG_DB_PASSWORD_FILE), path);
	config_free(cfg);
}

static void
test_secret_file_world_readable_refused(void **state)
{
	const char	*path = temp_file("pw\n", 3, 0644);
	char		 text[256], expect[256];

	snprintf(text, sizeof(text), "[db]\n\npassword_file = %s\n", path);
	assert_null(load(text));
	snprintf(expect, sizeof(expect), "test.conf:3: db.password_file: '%s' is "
	    "readable or writable by others: chmod 600/640 it", path);
	assert_error(expect);
	unlink(path);
}

static void
test_secret_file_problems_reported(void **state)
{
	const char *const	 overrides[] = { "feed.a.kind=ocds_jsonl",
	    "feed.a.url=https://a.example/", "feed.a.auth_header_file=/nonexistent/key" };
	const char		*empty = temp_file("\n", 1, 0600);
	char			 text[256], expect[256];

	snprintf(text, sizeof(text), "[db]\npassword_file = %s\n", empty);
	assert_null(load_with(text, overrides, 3));
	unlink(empty);
	snprintf(expect, sizeof(expect), "test.conf:2: db.password_file: '%s': the "
	    "first line is empty", empty);
	assert_error(expect);
	snprintf(expect, sizeof(expect), "command line: -s feed.a.auth_header_file: "
	    "'/nonexistent/key': %s", strerror(ENOENT));
	assert_error(expect);
	assert_int_equal(errors.count, 2);
}

static void
test_secret_file_replaced_by_override_is_not_read(void **state)
{
	const char	*readable = temp_file("pw\n", 3, 0644);
	const char	*good = temp_file("right\n", 6, 0600);
	char		 text[256], override[256];
	const char	*overrides[] = { override };
	struct config	*cfg;

	snprintf(text, sizeof(text), "[db]\npassword_file = %s\n", readable);
	snprintf(override, sizeof(override), "db.password_file=%s", good);
	cfg = load_with(text, overrides, 1);
	unlink(readable);
	unlink(good);
	assert_non_null(cfg);
	assert_string_equal(config_secret(cfg, CFG_DB_PASSWORD_FILE), "right");
	config_free(cfg);
}

static void
test_restart_changes_detected(void **state)
{
	const char	*names[CFG__COUNT];
	struct config	*old, *new;

	old = load("[http]\nlisten = 127.0.0.1:80\nmax_body = 1M\n[db]\npool = 4\n");
	/* Same values written differently are no change; max_body needs no restart. */
	new = load("[http]\nlisten = 127.0.0.1:80\nmax_body = 2M\n[db]\npool = 5\n"
	    "conninfo = \"\"\n");
	assert_non_null(old);
	assert_non_null(new);
	assert_int_equal(config_restart_changes(old, new, names, CFG__COUNT), 1);
	assert_string_equal(names[0], "db.pool");
	assert_int_equal(config_restart_changes(old, old, names, CFG__COUNT), 0);
	config_free(new);

	new = load("[http]\nlisten = 0.0.0.0:80\n[db]\npool = 5\nconninfo = host=x\n");
	assert_non_null(new);
	/* Counts them all, writes only what fits. */
	assert_int_equal(config_restart_changes(old, new, names, 1), 3);
	assert_string_equal(names[0], "http.listen");
	config_free(new);
	config_free(old);
}

static void
test_restart_changes_include_secret_content(void **state)
{
	const char	*path = temp_file("one\n", 4, 0600);
	const char	*names[CFG__COUNT];
	char		 text[256];
	struct config	*old, *new;
	FILE		*f;

	snprintf(text, sizeof(text), "[db]\npassword_file = %s\n", path);
	assert_non_null(old = load(text));
	assert_non_null(f = fopen(path, "w"));
	fputs("two\n", f);
	fclose(f);
	assert_non_null(new = load(text));
	unlink(path);
	assert_int_equal(config_restart_changes(old, new, names, CFG__COUNT), 1);
	assert_string_equal(names[0], "db.password_file");
	config_free(new);
	config_free(old);
}

static char *
captured(void (*writer)(const struct config *, FILE *), const struct config *cfg)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	assert_non_null(f = open_memstream(&buf, &len));
	if (writer != NULL)
		writer(cfg, f);
	else
		config_write_defaults(f);
	fclose(f);
	return buf;
}

static void
test_defaults_file_loads_to_the_defaults(void **state)
{
	char		*text = captured(NULL, NULL);
	struct config	*cfg;

	/* Every key is commented out, so the file means exactly the defaults. */
	cfg = load(text);
	if (cfg == NULL)
		print_errors();
	assert_non_null(cfg);
	assert_int_equal(cfg->nsections, 0);
	for (int i = 0; i < CFG__COUNT; i++)
		assert_int_equal(cfg->values[i].line, 0);
	assert_non_null(strstr(text, "\n#listen = 127.0.0.1:8080\n"));
	assert_non_null(strstr(text, "\n#conninfo = \"\"\n"));
	assert_non_null(strstr(text, "\n#password_file =\n"));
	assert_non_null(strstr(text, "\n#[feed.example]\n"));
	assert_non_null(strstr(text, "\n#schedule = 1h\n"));
	config_free(cfg);
	free(text);
}

static void
test_defaults_file_example_feed_is_valid_once_uncommented(void **state)
{
	const char *const	 overrides[] = { "feed.example.kind=ocds_jsonl",
	    "feed.example.url=https://a.example/" };
	const struct config_section	*feed;
	char			*text = captured(NULL, NULL), *line;
	struct config		*cfg;

	/*
	 * Uncomment the example's header and every key shown with a default; the
	 * required keys without one (shown "#key =") come from the command line.
	 */
	assert_non_null(line = strstr(text, "#[feed.example]"));
	for (; line != NULL; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t len = strcspn(line, "\n");

		if (line[0] == '#' && line[1] != ' ' && line[1] != '\n' &&
		    !(len >= 2 && line[len - 2] == ' ' && line[len - 1] == '='))
			line[0] = ' ';
	}
	cfg = load_with(text, overrides, 2);
	if (cfg == NULL)
		print_errors();
	assert_non_null(cfg);
	/* The alert family's example comes after, with nothing but its header set. */
	assert_int_equal(config_sections(cfg, "feed", &feed, 1), 1);
	assert_string_equal(feed->name, "example");
	assert_true(feed->line > 0);
	assert_true(feed->values[FEED_SCHEDULE].line > feed->line);
	assert_int_equal(section_int(feed, FEED_SCHEDULE), 3600);
	config_free(cfg);
	free(text);
}

static void
test_defaults_file_matches_etc(void **state)
{
	const char	*srcdir = getenv("ICTMON_SOURCE_DIR");
	char		 path[1024];
	char		*want = captured(NULL, NULL), *have = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	FILE		*f;

	if (srcdir == NULL) {
		free(want);
		skip();
	}
	/* etc/ictmon.conf is written for the default prefix's web_root. */
	if (strcmp(ICTMON_DATADIR, "/usr/local/share/ictmon") != 0) {
		free(want);
		skip();
	}
	snprintf(path, sizeof(path), "%s/etc/ictmon.conf", srcdir);
	assert_non_null(f = fopen(path, "r"));
	n = getdelim(&have, &cap, '\0', f);
	fclose(f);
	assert_true(n > 0);
	if (strcmp(want, have) != 0)
		print_message("etc/ictmon.conf differs from config_write_defaults(): "
		    "regenerate it from the key table\n");
	assert_string_equal(have, want);
	free(have);
	free(want);
}

static void
test_effective_output_reads_back_and_hides_secrets(void **state)
{
	const char	*pw = temp_file("hunter2\n", 8, 0600);
	char		 text[512];
	char		*out = NULL;
	struct config	*cfg, *again;

	snprintf(text, sizeof(text), "[db]\npassword_file = %s\n"
	    "conninfo = \"host=db # x\"\n[http]\nmax_body = 2M\n"
	    "[feed.a]\nkind = ocds_jsonl\nurl = https://a.example/x#y\n", pw);
	assert_non_null(cfg = load(text));
	out = captured(config_write_effective, cfg);
	assert_null(strstr(out, "hunter2"));
	assert_non_null(strstr(out, "(secret)"));
	assert_non_null(strstr(out, "\nmax_body = 2097152\n"));
	assert_non_null(strstr(out, "\n[feed.a]\n"));
	/* What it prints is a configuration file meaning the same. */
	assert_non_null(again = load(out));
	for (int i = 0; i < CFG__COUNT; i++) {
		if (cfg->values[i].text == NULL)
			assert_null(again->values[i].text);
		else
			assert_string_equal(cfg->values[i].text, again->values[i].text);
	}
	assert_string_equal(section_str(&again->sections[0], FEED_URL),
	    "https://a.example/x#y");
	assert_string_equal(config_secret(again, CFG_DB_PASSWORD_FILE), "hunter2");
	unlink(pw);
	config_free(again);
	config_free(cfg);
	free(out);
}

static void
test_ratio_values(void **state)
{
	static const struct {
		const char	*text, *normal;
		long long	 millionths;
	} ok[] = {
		{ "0.45", "0.45", 450000 }, { ".5", "0.5", 500000 }, { "1", "1", 1000000 },
		{ "1.000", "1", 1000000 }, { "0", "0", 0 }, { "00.250", "0.25", 250000 },
		{ "0.000001", "0.000001", 1 },
	};
	static const char *const bad[] = { "1.5", "-0.1", "0.1234567", "45%", "0,45",
	    "", ".", "1e-1", "2" };
	char		 text[128];
	struct config	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[indicators.conc_vendor]\ntop_share = %s\n",
		    ok[i].text);
		assert_non_null(cfg = load(text));
		assert_string_equal(config_str(cfg, CFG_IND_CONC_VENDOR_TOP_SHARE),
		    ok[i].normal);
		assert_int_equal(config_int(cfg, CFG_IND_CONC_VENDOR_TOP_SHARE),
		    ok[i].millionths);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[indicators.conc_vendor]\ntop_share = \"%s\"\n",
		    bad[i]);
		assert_null(load(text));
		assert_int_equal(errors.count, 1);
		config_errors_clear(&errors);
	}
	assert_null(load("[indicators.conc_vendor]\ntop_share = 1.5\n"));
	assert_error("test.conf:2: indicators.conc_vendor.top_share: '1.5' is not a "
	    "ratio: a decimal from 0 to 1 such as 0.45, with at most 6 decimals");
	/* A ratio's own range, written as ratios. */
	assert_null(load("[indicators.dup_project]\nmin_similarity = 0.05\n"));
	assert_error("test.conf:2: indicators.dup_project.min_similarity: '0.05' is out "
	    "of range: 0.1 to 1");
}

static void
test_amount_values_stay_exact_text(void **state)
{
	static const struct {
		const char	*text, *normal;
	} ok[] = {
		{ "50000000", "50000000" }, { "0050000000.500", "50000000.5" },
		{ ".5", "0.5" }, { "0", "0" }, { "123456789012345678901234.123456",
		  "123456789012345678901234.123456" },
	};
	static const char *const bad[] = { "-1", "1,000", "1 000", "1e6", "", ".",
	    "CLP 5", "1.1234567", "1234567890123456789012345" };
	char		 text[128];
	struct config	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[indicators.split]\nthreshold = %s\n",
		    ok[i].text);
		assert_non_null(cfg = load(text));
		assert_string_equal(config_str(cfg, CFG_IND_SPLIT_THRESHOLD), ok[i].normal);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[indicators.split]\nthreshold = \"%s\"\n",
		    bad[i]);
		assert_null(load(text));
		assert_int_equal(errors.count, 1);
		config_errors_clear(&errors);
	}
	assert_null(load("[indicators.split]\nthreshold = 1,000\n"));
	assert_error("test.conf:2: indicators.split.threshold: '1,000' is not an amount: "
	    "digits with an optional decimal point (at most 6 decimals), no sign or "
	    "separators");
}

static void
test_currency_is_three_capitals(void **state)
{
	struct config *cfg;

	assert_non_null(cfg = load("[indicators]\ncurrency = USD\n"));
	assert_string_equal(config_str(cfg, CFG_IND_CURRENCY), "USD");
	config_free(cfg);
	assert_null(load("[indicators]\ncurrency = usd\n"));
	assert_error("test.conf:2: indicators.currency: 'usd' is not a currency: an ISO "
	    "4217 code such as CLP, three capital letters");
}

static void
test_dotted_global_sections(void **state)
{
	const char *const	 overrides[] = { "indicators.split.window_days=10",
	    "indicators.cv.high=40" };
	const struct config_section	*feeds[2];
	struct config		*cfg;

	/* [indicators.ovl_spend] is a global section beside a [feed.NAME] family. */
	cfg = load_with("[indicators]\ndebounce = 5\n[indicators.ovl_spend]\n"
	    "window_days = 30\nmin_total = 1000.50\n[feed.a]\nkind = ocds_jsonl\n"
	    "url = https://a.example/\n[indicators.cv]\nhigh = 35\n", overrides, 2);
	if (cfg == NULL)
		print_errors();
	assert_non_null(cfg);
	assert_int_equal(config_int(cfg, CFG_IND_DEBOUNCE), 5);
	assert_int_equal(config_int(cfg, CFG_IND_OVL_SPEND_WINDOW_DAYS), 30);
	assert_string_equal(config_str(cfg, CFG_IND_OVL_SPEND_MIN_TOTAL), "1000.5");
	assert_int_equal(config_int(cfg, CFG_IND_SPLIT_WINDOW_DAYS), 10);
	assert_int_equal(config_int(cfg, CFG_IND_CV_HIGH), 40);
	assert_int_equal(cfg->values[CFG_IND_CV_HIGH].line, -1);
	assert_int_equal(config_sections(cfg, "feed", feeds, 2), 1);
	assert_int_equal(config_int(cfg, CFG_IND_SV_HIGH), 30);
	config_free(cfg);
}

static void
test_dotted_section_mistakes_name_the_siblings(void **state)
{
	const char *const overrides[] = { "indicators.nosuch.days=1",
	    "indicators.ovl_spend.days=1", "indicators.days=1" };

	assert_null(load_with("[indicators.ovl_spnd]\nwindow_days = 3\n[indicators]\n"
	    "window_days = 3\nindicators.cv.high = 3\n", overrides, 3));
	assert_error("test.conf:1: unknown section 'indicators.ovl_spnd' (sections: "
	    INDICATOR_SECTIONS ")");
	assert_error("test.conf:4: unknown key 'window_days' in [indicators] (keys: "
	    "period, debounce, currency, ict_unspsc, ict_budget, class_digits, "
	    "cpv_digits, framework_methods)");
	assert_error("test.conf:5: unknown key 'indicators.cv.high' in [indicators] "
	    "(keys: period, debounce, currency, ict_unspsc, ict_budget, class_digits, "
	    "cpv_digits, framework_methods)");
	assert_error("command line: -s indicators.nosuch.days: unknown key (sections: "
	    INDICATOR_SECTIONS ")");
	assert_error("command line: -s indicators.ovl_spend.days: unknown key (keys of "
	    "[indicators.ovl_spend]: window_days, min_buyers, min_total, ict_only)");
	assert_error("command line: -s indicators.days: unknown key (keys of "
	    "[indicators]: period, debounce, currency, ict_unspsc, ict_budget, "
	    "class_digits, cpv_digits, framework_methods)");
	assert_int_equal(errors.count, 6);
}

static void
test_dotted_key_before_any_section_names_its_section(void **state)
{
	assert_null(load("indicators.ovl_spend.window_days = 3\n"));
	assert_error("test.conf:1: unknown key 'indicators.ovl_spend.window_days': write "
	    "it as window_days under [indicators.ovl_spend]");
}

static void
test_defaults_file_has_the_indicator_sections(void **state)
{
	char *text = captured(NULL, NULL);

	assert_non_null(strstr(text, "\n[indicators]\n"));
	assert_non_null(strstr(text, "\n[indicators.ovl_spend]\n"));
	assert_non_null(strstr(text, "\n#min_similarity = 0.45\n"));
	assert_non_null(strstr(text, "A decimal from 0.1\n# to 1."));
	assert_non_null(strstr(text, "\n#min_total = 50000000\n"));
	free(text);
}

static void
test_effective_output_hides_inline_passwords(void **state)
{
	struct config	*cfg;
	char		*out;

	cfg = load("[db]\nconninfo = host=db password=hunter2\n"
	    "[feed.a]\nkind = ocds_jsonl\nurl = https://bot:hunter2@a.example/\n");
	assert_non_null(cfg);
	out = captured(config_write_effective, cfg);
	assert_null(strstr(out, "hunter2"));
	assert_non_null(strstr(out, "\nconninfo = (secret)\n"));
	config_free(cfg);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name)	cmocka_unit_test_teardown(name, clear_errors)
		T(test_defaults_apply_when_file_empty),
		T(test_every_key_with_a_default_has_text),
		T(test_file_values_replace_defaults),
		T(test_override_beats_file),
		T(test_override_value_is_taken_verbatim),
		T(test_bad_override_names_the_option),
		T(test_override_creates_feed_section),
		T(test_duplicate_key_reports_both_lines),
		T(test_duplicate_key_across_repeated_global_section),
		T(test_duplicate_key_in_feed_section),
		T(test_all_errors_reported_in_one_load),
		T(test_errors_accumulate_across_loads_until_cleared),
		T(test_dotted_key_before_section_says_where_it_goes),
		T(test_unknown_key_lists_the_section_keys),
		T(test_bytes_suffixes),
		T(test_seconds_suffixes),
		T(test_value_out_of_range_rejected),
		T(test_enum_lists_choices),
		T(test_addr_forms),
		T(test_split_addr_with_ipv6),
		T(test_url_needs_scheme_and_host),
		T(test_empty_path_rejected),
		T(test_feed_section_missing_url_rejected),
		T(test_feed_sections_in_file_order),
		T(test_repeated_feed_section_rejected),
		T(test_feed_section_needs_a_valid_name),
		T(test_unknown_section_rejected),
		T(test_malformed_lines_rejected),
		T(test_quoted_values),
		T(test_trailing_comments),
		T(test_crlf_and_bom_accepted),
		T(test_control_characters_in_values_rejected),
		T(test_nul_byte_and_long_line_rejected),
		T(test_unreadable_file_names_it_and_strerror),
		T(test_load_from_file),
		T(test_secret_file_first_line_read),
		T(test_secret_file_world_readable_refused),
		T(test_secret_file_problems_reported),
		T(test_secret_file_replaced_by_override_is_not_read),
		T(test_restart_changes_detected),
		T(test_restart_changes_include_secret_content),
		T(test_defaults_file_loads_to_the_defaults),
		T(test_defaults_file_example_feed_is_valid_once_uncommented),
		T(test_defaults_file_matches_etc),
		T(test_effective_output_reads_back_and_hides_secrets),
		T(test_effective_output_hides_inline_passwords),
		T(test_ratio_values),
		T(test_amount_values_stay_exact_text),
		T(test_currency_is_three_capitals),
		T(test_dotted_global_sections),
		T(test_dotted_section_mistakes_name_the_siblings),
		T(test_dotted_key_before_any_section_names_its_section),
		T(test_defaults_file_has_the_indicator_sections),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
