/*
 * Metrics in the Prometheus text format: counters, gauges and latency histograms,
 * each a family with a help text and series told apart by a label string. Modules
 * record; /metrics renders. Single-threaded, like the daemon.
 */
#ifndef ICTMON_METRICS_H
#define ICTMON_METRICS_H

struct evbuffer;
struct metrics;

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,	/* seconds, buckets from 1 ms to 30 s */
};

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *m);

/*
 * Declares a family; describing it again with the same type does nothing. Recording
 * into an undeclared family is a programming error (logged, ignored). A family keeps
 * at most 1000 series; new label sets beyond that are dropped.
 */
void		 metrics_describe(struct metrics *m, const char *family,
		    enum metric_type type, const char *help);
/*
 * `labels` is the inside of the braces, e.g. `route="/healthz",status="200"`, or "" for
 * none; callers write only values they control (route patterns, status numbers).
 */
void		 metrics_count(struct metrics *m, const char *family, const char *labels,
		    double delta);
void		 metrics_set(struct metrics *m, const char *family, const char *labels,
		    double value);
void		 metrics_observe(struct metrics *m, const char *family,
		    const char *labels, double seconds);

/* Appends every family, in the order described, to out. */
void		 metrics_render(const struct metrics *m, struct evbuffer *out);

#endif
