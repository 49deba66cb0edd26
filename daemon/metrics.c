/*
 * The metrics registry: families of counters, gauges and histograms kept in memory and
 * rendered in the Prometheus text format (version 0.0.4). It does not know what the
 * daemon measures; modules describe their families and record into them.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "metrics.h"

/* Bounds memory whatever label values a caller lets through. */
#define METRICS_MAX_SERIES	1000

/* Upper bounds in seconds; +Inf is implicit (the series' count). */
static const double histogram_bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};
#define NBUCKETS	(sizeof(histogram_bounds) / sizeof(histogram_bounds[0]))

struct series {
	char		*labels;
	double		 value;			/* counter, gauge */
	uint64_t	 buckets[NBUCKETS];	/* histogram, not cumulative */
	uint64_t	 count;
	double		 sum;
};

struct family {
	char		*name;
	char		*help;
	enum metric_type type;
	struct series	*series;
	size_t		 nseries, cap;
	bool		 overflow_logged;
};

struct metrics {
	struct family	*families;
	size_t		 nfamilies, cap;
};

static const char *const type_names[] = {
	[METRIC_COUNTER] = "counter",
	[METRIC_GAUGE] = "gauge",
	[METRIC_HISTOGRAM] = "histogram",
};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nfamilies; i++) {
		struct family *f = &m->families[i];

		for (size_t j = 0; j < f->nseries; j++)
			free(f->series[j].labels);
		free(f->series);
		free(f->name);
		free(f->help);
	}
	free(m->families);
	free(m);
}

static struct family *
family_find(const struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->nfamilies; i++) {
		if (strcmp(m->families[i].name, name) == 0)
			return &m->families[i];
	}
	return NULL;
}

void
metrics_describe(struct metrics *m, const char *name, enum metric_type type,
    const char *help)
{
	struct family	*f, *grown;
	size_t		 cap;

	if ((f = family_find(m, name)) != NULL) {
		if (f->type != type)
			log_error("metrics", "%s described again as a %s, was a %s", name,
			    type_names[type], type_names[f->type]);
		return;
	}
	if (m->nfamilies == m->cap) {
		cap = m->cap ? m->cap * 2 : 16;
		if ((grown = reallocarray(m->families, cap, sizeof(*grown))) == NULL)
			goto nomem;
		m->families = grown;
		m->cap = cap;
	}
	f = &m->families[m->nfamilies];
	memset(f, 0, sizeof(*f));
	f->type = type;
	if ((f->name = strdup(name)) == NULL || (f->help = strdup(help)) == NULL) {
		free(f->name);
		goto nomem;
	}
	m->nfamilies++;
	return;
nomem:
	log_error("metrics", "out of memory describing %s", name);
}

/* The series of `labels` in family `name`, created on first use; NULL if it cannot be. */
static struct series *
series_get(struct metrics *m, const char *name, const char *labels,
    enum metric_type want)
{
	struct family	*f;
	struct series	*s, *grown;
	size_t		 cap;

	if ((f = family_find(m, name)) == NULL) {
		log_error("metrics", "recording into undeclared family %s", name);
		return NULL;
	}
	if ((want == METRIC_HISTOGRAM) != (f->type == METRIC_HISTOGRAM)) {
		log_error("metrics", "%s is a %s", name, type_names[f->type]);
		return NULL;
	}
	for (size_t i = 0; i < f->nseries; i++) {
		if (strcmp(f->series[i].labels, labels) == 0)
			return &f->series[i];
	}
	if (f->nseries == METRICS_MAX_SERIES) {
		if (!f->overflow_logged)
			log_warn("metrics", "%s has %d series: new ones are dropped", name,
			    METRICS_MAX_SERIES);
		f->overflow_logged = true;
		return NULL;
	}
	if (f->nseries == f->cap) {
		cap = f->cap ? f->cap * 2 : 8;
		if ((grown = reallocarray(f->series, cap, sizeof(*grown))) == NULL)
			return NULL;
		f->series = grown;
		f->cap = cap;
	}
	s = &f->series[f->nseries];
	memset(s, 0, sizeof(*s));
	if ((s->labels = strdup(labels)) == NULL)
		return NULL;
	f->nseries++;
	return s;
}

void
metrics_count(struct metrics *m, const char *family, const char *labels, double delta)
{
	struct series *s;

	/* A counter that went down would read as a restart to Prometheus. */
	if (delta < 0 || isnan(delta))
		return;
	if ((s = series_get(m, family, labels, METRIC_COUNTER)) != NULL)
		s->value += delta;
}

void
metrics_set(struct metrics *m, const char *family, const char *labels, double value)
{
	struct series *s;

	if ((s = series_get(m, family, labels, METRIC_GAUGE)) != NULL)
		s->value = value;
}

void
metrics_observe(struct metrics *m, const char *family, const char *labels,
    double seconds)
{
	struct series *s;

	if (isnan(seconds))
		return;
	if ((s = series_get(m, family, labels, METRIC_HISTOGRAM)) == NULL)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		if (seconds <= histogram_bounds[i]) {
			s->buckets[i]++;
			break;
		}
	}
	s->count++;
	s->sum += seconds;
}

/*
 * A sample value as Prometheus reads it: integers without exponent or decimals, other
 * values in the shortest form that reads back to the same double.
 */
static void
format_value(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == trunc(v) && fabs(v) < 1e18)
		snprintf(buf, len, "%.0f", v);
	else {
		snprintf(buf, len, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, len, "%.17g", v);
	}
}

/* HELP text escapes backslash and newline. */
static void
render_help(struct evbuffer *out, const struct family *f)
{
	evbuffer_add_printf(out, "# HELP %s ", f->name);
	for (const char *p = f->help; *p != '\0'; p++) {
		if (*p == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*p == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, p, 1);
	}
	evbuffer_add_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
}

static void
render_sample(struct evbuffer *out, const char *name, const char *suffix,
    const char *labels, const char *extra, double value)
{
	char	 text[64];
	bool	 braces = labels[0] != '\0' || extra != NULL;

	format_value(value, text, sizeof(text));
	evbuffer_add_printf(out, "%s%s%s%s%s%s%s %s\n", name, suffix,
	    braces ? "{" : "", labels,
	    labels[0] != '\0' && extra != NULL ? "," : "",
	    extra != NULL ? extra : "", braces ? "}" : "", text);
}

static void
render_histogram(struct evbuffer *out, const struct family *f, const struct series *s)
{
	char		le[32], bound[24];
	uint64_t	cumulative = 0;

	for (size_t i = 0; i < NBUCKETS; i++) {
		cumulative += s->buckets[i];
		format_value(histogram_bounds[i], bound, sizeof(bound));
		snprintf(le, sizeof(le), "le=\"%s\"", bound);
		render_sample(out, f->name, "_bucket", s->labels, le, (double)cumulative);
	}
	render_sample(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
	render_sample(out, f->name, "_sum", s->labels, NULL, s->sum);
	render_sample(out, f->name, "_count", s->labels, NULL, (double)s->count);
}

void
metrics_render(const struct metrics *m, struct evbuffer *out)
{
	for (size_t i = 0; i < m->nfamilies; i++) {
		const struct family *f = &m->families[i];

		render_help(out, f);
		for (size_t j = 0; j < f->nseries; j++) {
			if (f->type == METRIC_HISTOGRAM)
				render_histogram(out, f, &f->series[j]);
			else
				render_sample(out, f->name, "", f->series[j].labels, NULL,
				    f->series[j].value);
		}
	}
}
