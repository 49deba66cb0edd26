/*
 * The indicators' catalogue, the parameters each indicator's SQL reads, and when the
 * scheduler runs them. Runs themselves need PostgreSQL: see
 * tests/integration/test_indicators_driver.py.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "indicators.h"

#define NCODES	13

static const char *const codes[NCODES] = {
	"DUP-PROJECT", "OVL-SPEND", "OVL-TENDER", "OVL-PLATFORM", "SPLIT", "REPEAT-DIRECT",
	"CONC-VENDOR", "UNREVIEWED-SPEND", "CV", "SV", "BUDGET-EXEC", "COORD-INDEX",
	"FEED-STALE",
};

/* "OVL-SPEND" → "ovl_spend": its file's name and its config section's. */
static void
lower_name(const char *code, char *out, size_t len)
{
	size_t i;

	for (i = 0; code[i] != '\0' && i + 1 < len; i++)
		out[i] = code[i] == '-' ? '_' : (char)tolower((unsigned char)code[i]);
	out[i] = '\0';
}

static struct config *
defaults(const char *const *overrides, size_t n)
{
	struct config_errors	 errors = { 0 };
	struct config		*cfg = config_load(NULL, overrides, n, &errors);

	for (size_t i = 0; i < errors.count; i++)
		print_message("config: %s\n", errors.lines[i]);
	config_errors_clear(&errors);
	assert_non_null(cfg);
	return cfg;
}

/* The parameters of `code` as its SQL gets them, keys sorted. */
static char *
params_text(const char *code, const struct config *cfg)
{
	const struct indicator	*ind = indicator_find(code);
	json_t			*params;
	char			*text;

	assert_non_null(ind);
	assert_non_null(params = indicator_params(ind, cfg));
	text = json_dumps(params, INDICATOR_JSON_FLAGS | JSON_SORT_KEYS);
	json_decref(params);
	assert_non_null(text);
	return text;
}

static void
test_catalogue_has_every_code_of_the_design(void **state)
{
	const struct indicator *const	*all;
	size_t				 n = indicator_all(&all);

	assert_int_equal(n, NCODES);
	for (size_t i = 0; i < NCODES; i++) {
		const struct indicator *ind = indicator_find(codes[i]);

		if (ind == NULL)
			print_message("no indicator %s\n", codes[i]);
		assert_non_null(ind);
		assert_string_equal(ind->code, codes[i]);
	}
}

static void
test_every_indicator_explains_itself(void **state)
{
	const struct indicator *const	*all;
	size_t				 n = indicator_all(&all);

	for (size_t i = 0; i < n; i++) {
		const struct indicator *ind = all[i];

		assert_true(strlen(ind->title) > 3);
		assert_true(strlen(ind->subject) > 3);
		/* One or two sentences for a finance official, no more. */
		assert_true(strlen(ind->definition) > 60);
		assert_true(strlen(ind->definition) < 600);
		assert_int_equal(ind->definition[strlen(ind->definition) - 1], '.');
		assert_non_null(ind->sql);
		assert_true(strlen(ind->sql) > 0);
	}
}

static void
test_find_ignores_case(void **state)
{
	assert_string_equal(indicator_find("ovl-spend")->code, "OVL-SPEND");
	assert_string_equal(indicator_find("Cv")->code, "CV");
	assert_null(indicator_find("OVL_SPEND"));
	assert_null(indicator_find(""));
	assert_null(indicator_find("NOPE"));
}

/* Every indicators.CODE.NAME key belongs to CODE's entry, and the entry to its keys. */
static void
test_params_are_the_keys_of_their_section(void **state)
{
	const struct indicator *const	*all;
	size_t				 n = indicator_all(&all);
	char				 name[64], prefix[96];

	for (size_t i = 0; i < n; i++) {
		size_t found = 0;

		lower_name(all[i]->code, name, sizeof(name));
		snprintf(prefix, sizeof(prefix), "indicators.%s.", name);
		for (size_t p = 0; p < all[i]->nparams; p++)
			assert_memory_equal(config_keys[all[i]->params[p]].name, prefix,
			    strlen(prefix));
		for (int k = 0; k < CFG__COUNT; k++)
			if (strncmp(config_keys[k].name, prefix, strlen(prefix)) == 0)
				found++;
		if (found != all[i]->nparams)
			print_message("%s: %zu keys under [indicators.%s], %zu params\n",
			    all[i]->code, found, name, all[i]->nparams);
		assert_int_equal(found, all[i]->nparams);
		assert_true(all[i]->nparams > 0);
	}
}

/* The SQL files the build embeds are the tree's, one per code. */
static void
test_every_code_has_its_sql_file(void **state)
{
	const char *srcdir = getenv("ICTMON_SOURCE_DIR");
	char	    name[64], path[1024];
	bool	    missing = false;

	if (srcdir == NULL)
		skip();
	for (size_t i = 0; i < NCODES; i++) {
		lower_name(codes[i], name, sizeof(name));
		snprintf(path, sizeof(path), "%s/sql/indicators/%s.sql", srcdir, name);
		if (access(path, R_OK) != 0) {
			print_message("%s: no %s\n", codes[i], path);
			missing = true;
		}
	}
	assert_false(missing);
}

/*
 * A run is one transaction: an indicator's SQL that committed or rolled back on its
 * own would publish half a run, or lose the others' results.
 */
static void
test_no_indicator_ends_the_transaction(void **state)
{
	static const char *const words[] = { "COMMIT", "ROLLBACK;", "ROLLBACK\n",
	    "BEGIN;", "BEGIN TRANSACTION", "BEGIN WORK", "START TRANSACTION", "END;",
	    "ABORT" };
	const struct indicator *const	*all;
	size_t				 n = indicator_all(&all);

	for (size_t i = 0; i < n; i++) {
		const char *line = all[i]->sql;

		for (; line != NULL && *line != '\0';
		    line = strchr(line, '\n') != NULL ? strchr(line, '\n') + 1 : NULL) {
			const char *word = line + strspn(line, " \t");

			for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
				if (strncasecmp(word, words[w], strlen(words[w])) != 0)
					continue;
				print_message("%s: a line starts with %s\n", all[i]->code,
				    words[w]);
				fail();
			}
		}
	}
}

static void
test_params_hold_general_and_own_keys(void **state)
{
	struct config	*cfg = defaults(NULL, 0);
	char		*text = params_text("OVL-SPEND", cfg);

	assert_string_equal(text, "{\"class_digits\":6,\"cpv_digits\":3,"
	    "\"currency\":\"CLP\",\"framework_methods\":\"convenio marco,framework "
	    "agreement,acuerdo marco\",\"ict_budget\":\"22.04.009,22.09.006,22.11.003,"
	    "29.06,29.07\",\"ict_only\":true,\"ict_unspsc\":\"43,8111\","
	    "\"min_buyers\":3,\"min_total\":\"50000000\",\"window_days\":180}");
	free(text);
	config_free(cfg);
}

/* Ratios reach the SQL as the number written: never 0.45000000000000001. */
static void
test_ratios_are_exact_numbers(void **state)
{
	const char *const	 overrides[] = {
	    "indicators.dup_project.min_similarity=0.333333",
	    "indicators.conc_vendor.top_share=1" };
	struct config		*cfg = defaults(NULL, 0);
	char			*text;

	text = params_text("DUP-PROJECT", cfg);
	assert_non_null(strstr(text, "\"min_similarity\":0.45,"));
	assert_non_null(strstr(text, "\"require_shared_category\":true,"));
	assert_non_null(strstr(text, "\"statuses\":\"planned,in_progress\""));
	free(text);
	text = params_text("CONC-VENDOR", cfg);
	assert_non_null(strstr(text, "\"top_share\":0.5}"));
	assert_non_null(strstr(text, "\"hhi_high\":2500,"));
	free(text);
	config_free(cfg);

	cfg = defaults(overrides, 2);
	text = params_text("DUP-PROJECT", cfg);
	assert_non_null(strstr(text, "\"min_similarity\":0.333333,"));
	free(text);
	text = params_text("CONC-VENDOR", cfg);
	assert_non_null(strstr(text, "\"top_share\":1.0}"));
	free(text);
	config_free(cfg);
}

/* Amounts reach the SQL as strings of digits, read with #>> '{}' then ::numeric. */
static void
test_amounts_are_strings(void **state)
{
	const char *const	 overrides[] = { "indicators.split.threshold=30000000.50",
	    "indicators.currency=USD", "indicators.ovl_platform.platforms=a=B" };
	struct config		*cfg = defaults(overrides, 3);
	char			*text;

	text = params_text("SPLIT", cfg);
	assert_non_null(strstr(text, "\"threshold\":\"30000000.5\","));
	assert_non_null(strstr(text, "\"methods\":\"direct,limited\","));
	assert_non_null(strstr(text, "\"min_awards\":2,"));
	assert_non_null(strstr(text, "\"currency\":\"USD\","));
	free(text);
	text = params_text("OVL-PLATFORM", cfg);
	assert_non_null(strstr(text, "\"platforms\":\"a=B\""));
	free(text);
	config_free(cfg);
}

static void
test_every_indicator_gets_the_general_keys(void **state)
{
	const struct indicator *const	*all;
	size_t				 n = indicator_all(&all);
	struct config			*cfg = defaults(NULL, 0);

	for (size_t i = 0; i < n; i++) {
		json_t *params = indicator_params(all[i], cfg);

		assert_non_null(params);
		assert_int_equal(json_object_size(params),
		    indicator_ngeneral_params + all[i]->nparams);
		assert_string_equal(json_string_value(json_object_get(params, "currency")),
		    "CLP");
		assert_int_equal(json_integer_value(json_object_get(params,
		    "class_digits")), 6);
		json_decref(params);
	}
	config_free(cfg);
}

/* --- When to run ----------------------------------------------------------------- */

#define NOW	1700000000.0

static enum indicators_trigger
due(double last_ingest, double last_run, double since, long period, long debounce)
{
	struct indicators_clock c = {
		.now = NOW, .last_ingest = last_ingest, .last_run = last_run,
		.since = since, .period = period, .debounce = debounce,
	};

	return indicators_due(&c);
}

static void
test_nothing_new_nothing_due(void **state)
{
	assert_int_equal(due(0, 0, NOW - 10, 3600, 60), TRIGGER_NONE);
	assert_int_equal(due(NOW - 500, NOW - 400, NOW - 1000, 3600, 60), TRIGGER_NONE);
}

static void
test_new_data_waits_for_the_debounce(void **state)
{
	/* Data 59 s ago: more may be coming. */
	assert_int_equal(due(NOW - 59, NOW - 500, NOW - 1000, 3600, 60), TRIGGER_NONE);
	/* Exactly the debounce: it has settled. */
	assert_int_equal(due(NOW - 60, NOW - 500, NOW - 1000, 3600, 60), TRIGGER_INGEST);
	assert_int_equal(due(NOW - 61, 0, NOW - 1000, 3600, 60), TRIGGER_INGEST);
	assert_int_equal(due(NOW - 1.5, NOW - 500, NOW - 1000, 3600, 1), TRIGGER_INGEST);
}

static void
test_data_the_last_run_saw_is_not_new(void **state)
{
	/* It arrived before the last run started, or as it started. */
	assert_int_equal(due(NOW - 600, NOW - 500, NOW - 1000, 3600, 60), TRIGGER_NONE);
	assert_int_equal(due(NOW - 500, NOW - 500, NOW - 1000, 3600, 60), TRIGGER_NONE);
	/* It arrived during the last run: that run may not have seen it. */
	assert_int_equal(due(NOW - 499, NOW - 500, NOW - 1000, 3600, 60), TRIGGER_INGEST);
}

static void
test_period_counts_from_the_last_run_or_the_start(void **state)
{
	assert_int_equal(due(0, NOW - 3599, NOW - 9000, 3600, 60), TRIGGER_NONE);
	assert_int_equal(due(0, NOW - 3600, NOW - 9000, 3600, 60), TRIGGER_PERIOD);
	/* Never a run: a period after this scheduler started, not at once. */
	assert_int_equal(due(0, 0, NOW - 10, 3600, 60), TRIGGER_NONE);
	assert_int_equal(due(0, 0, NOW - 3600, 3600, 60), TRIGGER_PERIOD);
	/* A run long ago, but the scheduler just started: the run counts. */
	assert_int_equal(due(0, NOW - 7200, NOW - 1, 3600, 60), TRIGGER_PERIOD);
}

static void
test_period_zero_never_runs_on_time(void **state)
{
	assert_int_equal(due(0, NOW - 1e6, NOW - 1e6, 0, 60), TRIGGER_NONE);
	assert_int_equal(due(NOW - 100, NOW - 1e6, NOW - 1e6, 0, 60), TRIGGER_INGEST);
}

static void
test_new_data_wins_over_the_period(void **state)
{
	assert_int_equal(due(NOW - 100, NOW - 7200, NOW - 9000, 3600, 60), TRIGGER_INGEST);
	/* Still settling: the period does not wait for it. */
	assert_int_equal(due(NOW - 10, NOW - 7200, NOW - 9000, 3600, 60), TRIGGER_PERIOD);
}

static void
test_trigger_names_are_the_column_values(void **state)
{
	assert_string_equal(indicators_trigger_name(TRIGGER_NONE), "manual");
	assert_string_equal(indicators_trigger_name(TRIGGER_INGEST), "ingest");
	assert_string_equal(indicators_trigger_name(TRIGGER_PERIOD), "period");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalogue_has_every_code_of_the_design),
		cmocka_unit_test(test_every_indicator_explains_itself),
		cmocka_unit_test(test_find_ignores_case),
		cmocka_unit_test(test_params_are_the_keys_of_their_section),
		cmocka_unit_test(test_every_code_has_its_sql_file),
		cmocka_unit_test(test_no_indicator_ends_the_transaction),
		cmocka_unit_test(test_params_hold_general_and_own_keys),
		cmocka_unit_test(test_ratios_are_exact_numbers),
		cmocka_unit_test(test_amounts_are_strings),
		cmocka_unit_test(test_every_indicator_gets_the_general_keys),
		cmocka_unit_test(test_nothing_new_nothing_due),
		cmocka_unit_test(test_new_data_waits_for_the_debounce),
		cmocka_unit_test(test_data_the_last_run_saw_is_not_new),
		cmocka_unit_test(test_period_counts_from_the_last_run_or_the_start),
		cmocka_unit_test(test_period_zero_never_runs_on_time),
		cmocka_unit_test(test_new_data_wins_over_the_period),
		cmocka_unit_test(test_trigger_names_are_the_column_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
