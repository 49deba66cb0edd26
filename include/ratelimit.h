/*
 * Per-token request rate limits: a token bucket per API token, refilled at a steady
 * rate up to a burst. Pure bookkeeping in memory (one daemon's view); the caller says
 * what time it is, so tests need no clock.
 */
#ifndef ICTMON_RATELIMIT_H
#define ICTMON_RATELIMIT_H

struct ratelimit;

struct ratelimit	*ratelimit_new(void);
void			 ratelimit_free(struct ratelimit *rl);

/*
 * Takes one request of token `key` at `now` (monotonic seconds) from a bucket that
 * refills `rate` requests per second up to `burst`. Returns 0 when the request may
 * go on, else the whole seconds until it could (at least 1), for Retry-After. A rate
 * of 0 means no limit; so does running out of memory (the limit protects the
 * service, it must not take it down).
 */
unsigned		 ratelimit_take(struct ratelimit *rl, long long key, double rate,
			    double burst, double now);

#endif
