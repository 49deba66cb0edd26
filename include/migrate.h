/*
 * Schema migrations: sql/NNN_name.sql, compiled into the binaries, applied in order,
 * each in its own transaction, recorded in schema_migrations. The pure functions
 * (ordering, what is pending) are separate from the ones that talk to PostgreSQL.
 */
#ifndef ICTMON_MIGRATE_H
#define ICTMON_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <libpq-fe.h>

struct migration {
	const char	*name;		/* "001_init.sql" */
	const char	*sql;
};

/* The migrations of this build, in file-name order (generated from sql/). */
extern const struct migration	migrations_embedded[];
extern const size_t		migrations_embedded_count;

/* The version number in "NNN_name.sql", or -1 when the name is not of that form. */
int		 migration_version(const char *name);
/*
 * Checks a list: every name well-formed, versions strictly increasing from 1 with no
 * gap and no duplicate. On failure writes why into err.
 */
bool		 migrations_check(const struct migration *list, size_t n, char *err,
		    size_t errlen);
/*
 * Which of `list` are not in `applied` (any order), as indexes into list in order.
 * Fails when `applied` has a version `list` does not know (the database is newer than
 * this binary). Returns the number pending, or -1 with err.
 */
int		 migrations_pending(const struct migration *list, size_t n,
		    const int *applied, size_t napplied, size_t *pending, char *err,
		    size_t errlen);
/* The highest version this build knows: the schema the daemon needs. */
int		 migrations_latest(void);

/* Blocking (ictmonctl, and the daemon before its loop starts). */
/* The database's version: highest applied, 0 on an empty database, -1 with err. */
int		 migrate_schema_version(PGconn *pg, char *err, size_t errlen);
/*
 * Applies every pending embedded migration under an advisory lock, printing one line
 * each to `progress` (may be NULL). Returns how many were applied, or -1 with err;
 * a failed migration leaves the database at the previous one.
 */
int		 migrate_apply(PGconn *pg, FILE *progress, char *err, size_t errlen);

#endif
