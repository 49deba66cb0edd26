/*
 * The mailer: renders waiting alert emails when their group's timing allows, claims
 * due ones FOR UPDATE SKIP LOCKED (safe with several processes on one database), sends
 * them over SMTP on the event loop's curl multi handle, and marks them sent, or
 * retries them with backoff, or gives up (dead). Email is at least once: a crash
 * between sending and marking sends that one again, nothing else.
 */
#ifndef ICTMON_MAILER_H
#define ICTMON_MAILER_H

#include <stdbool.h>
#include <time.h>

struct config;
struct db_pool;
struct event_base;
struct fetcher;
struct metrics;

/*
 * When emails go, in the manner of Prometheus Alertmanager: a group's first email
 * waits group_wait after its first alert; a later one goes no sooner than
 * group_interval after the group's previous email; a still firing alert is mailed
 * again after repeat_interval; a digest goes at the next digest_hour.
 */
struct mail_timing {
	long	group_wait;
	long	group_interval;
	long	repeat_interval;
	int	digest_hour;		/* local time, 0 to 23 */
};

enum mail_kind {
	MAIL_ALERT,		/* changes of one group */
	MAIL_REPEAT,		/* still firing after repeat_interval */
	MAIL_DIGEST,		/* one recipient's day */
};

/*
 * When a waiting email of `kind` may be rendered and sent: `created` is when its
 * first change arrived, `last_email` when the group's previous email was rendered
 * (0: never). Pure: times in seconds since the epoch, local time for the digest.
 */
time_t	mail_due(const struct mail_timing *t, enum mail_kind kind, time_t created,
	    time_t last_email);
/* Still firing alerts last mailed before this are mailed again. */
time_t	mail_repeat_cutoff(const struct mail_timing *t, time_t now);

struct mailer;

struct mailer_env {
	struct event_base	*base;
	struct db_pool		*db;
	struct fetcher		*fetcher;
	struct metrics		*metrics;	/* may be NULL */
	const char		*instance;	/* names this process in claims */
};

struct mailer	*mailer_new(const struct mailer_env *env);
/* Takes the configuration (kept until the next call); at start and after reloads. */
void		 mailer_configure(struct mailer *m, const struct config *cfg);
/* Looks for due emails now rather than at the next tick (after an indicator run). */
void		 mailer_kick(struct mailer *m);
/* Stops claiming; sends in flight finish (or fail and stay due); then `cb`. */
void		 mailer_drain(struct mailer *m, void (*cb)(void *), void *arg);
void		 mailer_free(struct mailer *m);

#endif
