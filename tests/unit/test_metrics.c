/*
 * The metrics registry's Prometheus text: HELP and TYPE once per family in the order
 * described, counters and gauges by label set, histogram buckets (cumulative), sum and
 * count, and numbers printed the way Prometheus reads them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "metrics.h"

static struct metrics *m;

static int
setup(void **state)
{
	m = metrics_new();
	return m == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	metrics_free(m);
	m = NULL;
	return 0;
}

/* The whole rendering as one string, for exact comparison. */
static char *
render(void)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 len;
	char		*text;

	assert_non_null(out);
	metrics_render(m, out);
	len = evbuffer_get_length(out);
	text = calloc(1, len + 1);
	assert_non_null(text);
	evbuffer_remove(out, text, len);
	evbuffer_free(out);
	return text;
}

#define assert_render(expected) do {					\
	char *text_ = render();						\
	assert_string_equal(text_, expected);				\
	free(text_);							\
} while (0)

static void
test_counter_series_by_labels(void **state)
{
	metrics_describe(m, "ictmon_http_requests_total", METRIC_COUNTER,
	    "HTTP requests answered.");
	metrics_count(m, "ictmon_http_requests_total",
	    "route=\"/healthz\",method=\"GET\",status=\"200\"", 1);
	metrics_count(m, "ictmon_http_requests_total",
	    "route=\"unmatched\",method=\"GET\",status=\"404\"", 1);
	metrics_count(m, "ictmon_http_requests_total",
	    "route=\"/healthz\",method=\"GET\",status=\"200\"", 2);
	assert_render(
	    "# HELP ictmon_http_requests_total HTTP requests answered.\n"
	    "# TYPE ictmon_http_requests_total counter\n"
	    "ictmon_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 3\n"
	    "ictmon_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n");
}

static void
test_counter_never_goes_down(void **state)
{
	metrics_describe(m, "jobs_total", METRIC_COUNTER, "Jobs.");
	metrics_count(m, "jobs_total", "", 5);
	metrics_count(m, "jobs_total", "", -2);
	assert_render(
	    "# HELP jobs_total Jobs.\n"
	    "# TYPE jobs_total counter\n"
	    "jobs_total 5\n");
}

static void
test_gauge_set_replaces_and_integers_have_no_exponent(void **state)
{
	metrics_describe(m, "ictmon_uptime_seconds", METRIC_GAUGE, "Seconds since start.");
	metrics_describe(m, "big", METRIC_GAUGE, "Large values.");
	metrics_describe(m, "ratio", METRIC_GAUGE, "Fractions.");
	metrics_set(m, "ictmon_uptime_seconds", "", 10);
	metrics_set(m, "ictmon_uptime_seconds", "", 86400);
	metrics_set(m, "big", "", 12345678901234.0);
	metrics_set(m, "big", "kind=\"negative\"", -3);
	metrics_set(m, "ratio", "", 0.1);
	metrics_set(m, "ratio", "x=\"third\"", 1.0 / 3.0);
	assert_render(
	    "# HELP ictmon_uptime_seconds Seconds since start.\n"
	    "# TYPE ictmon_uptime_seconds gauge\n"
	    "ictmon_uptime_seconds 86400\n"
	    "# HELP big Large values.\n"
	    "# TYPE big gauge\n"
	    "big 12345678901234\n"
	    "big{kind=\"negative\"} -3\n"
	    "# HELP ratio Fractions.\n"
	    "# TYPE ratio gauge\n"
	    "ratio 0.1\n"
	    "ratio{x=\"third\"} 0.33333333333333331\n");
}

static void
test_histogram_buckets_are_cumulative_with_sum_and_count(void **state)
{
	metrics_describe(m, "lat_seconds", METRIC_HISTOGRAM, "Latency.");
	metrics_observe(m, "lat_seconds", "route=\"/readyz\"", 0.001);	/* on a bound */
	metrics_observe(m, "lat_seconds", "route=\"/readyz\"", 0.02);
	metrics_observe(m, "lat_seconds", "route=\"/readyz\"", 0.5);
	metrics_observe(m, "lat_seconds", "route=\"/readyz\"", 45);		/* past 30 s */
	assert_render(
	    "# HELP lat_seconds Latency.\n"
	    "# TYPE lat_seconds histogram\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.001\"} 1\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.0025\"} 1\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.005\"} 1\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.01\"} 1\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.025\"} 2\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.05\"} 2\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.1\"} 2\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.25\"} 2\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"0.5\"} 3\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"1\"} 3\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"2.5\"} 3\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"5\"} 3\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"10\"} 3\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"30\"} 3\n"
	    "lat_seconds_bucket{route=\"/readyz\",le=\"+Inf\"} 4\n"
	    "lat_seconds_sum{route=\"/readyz\"} 45.521\n"
	    "lat_seconds_count{route=\"/readyz\"} 4\n");
}

static void
test_histogram_without_labels(void **state)
{
	char *text;

	metrics_describe(m, "tick_seconds", METRIC_HISTOGRAM, "Ticks.");
	metrics_observe(m, "tick_seconds", "", 2);
	text = render();
	assert_non_null(strstr(text, "\ntick_seconds_bucket{le=\"1\"} 0\n"));
	assert_non_null(strstr(text, "\ntick_seconds_bucket{le=\"2.5\"} 1\n"));
	assert_non_null(strstr(text, "\ntick_seconds_sum 2\n"));
	assert_non_null(strstr(text, "\ntick_seconds_count 1\n"));
	free(text);
}

static void
test_families_render_in_declaration_order_with_help_once(void **state)
{
	metrics_describe(m, "b_total", METRIC_COUNTER, "B.");
	metrics_describe(m, "a", METRIC_GAUGE, "A.");
	metrics_describe(m, "b_total", METRIC_COUNTER, "B again (ignored).");
	metrics_set(m, "a", "", 1);
	metrics_count(m, "b_total", "x=\"1\"", 1);
	metrics_count(m, "b_total", "x=\"2\"", 1);
	assert_render(
	    "# HELP b_total B.\n"
	    "# TYPE b_total counter\n"
	    "b_total{x=\"1\"} 1\n"
	    "b_total{x=\"2\"} 1\n"
	    "# HELP a A.\n"
	    "# TYPE a gauge\n"
	    "a 1\n");
}

static void
test_help_text_is_escaped(void **state)
{
	metrics_describe(m, "odd", METRIC_GAUGE, "Back\\slash and\nnewline.");
	assert_render(
	    "# HELP odd Back\\\\slash and\\nnewline.\n"
	    "# TYPE odd gauge\n");
}

static void
test_undeclared_family_and_wrong_kind_are_ignored(void **state)
{
	metrics_describe(m, "g", METRIC_GAUGE, "G.");
	metrics_count(m, "nobody_described_me", "", 1);
	metrics_observe(m, "g", "", 0.1);	/* a gauge is not a histogram */
	assert_render(
	    "# HELP g G.\n"
	    "# TYPE g gauge\n");
}

static void
test_series_per_family_are_capped(void **state)
{
	char	 labels[32], *text;
	size_t	 lines = 0;

	metrics_describe(m, "many_total", METRIC_COUNTER, "Many.");
	for (int i = 0; i < 1500; i++) {
		snprintf(labels, sizeof(labels), "id=\"%d\"", i);
		metrics_count(m, "many_total", labels, 1);
	}
	/* existing series still count */
	metrics_count(m, "many_total", "id=\"0\"", 1);
	text = render();
	for (char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, 2 + 1000);
	assert_non_null(strstr(text, "\nmany_total{id=\"0\"} 2\n"));
	assert_null(strstr(text, "id=\"1000\""));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counter_series_by_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter_never_goes_down, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_gauge_set_replaces_and_integers_have_no_exponent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_histogram_buckets_are_cumulative_with_sum_and_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histogram_without_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_families_render_in_declaration_order_with_help_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_text_is_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_undeclared_family_and_wrong_kind_are_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series_per_family_are_capped, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
