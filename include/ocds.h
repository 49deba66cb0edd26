/*
 * OCDS 1.1 procurement data as agencies push it (release packages, record packages, or a
 * JSON array of packages as Kingfisher collection files hold them), read one release at a
 * time, and the merge rules that compile the releases of one contracting process.
 */
#ifndef ICTMON_OCDS_H
#define ICTMON_OCDS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct issue_list;
struct sjson_limits;
struct sjson_error;

/* Longest ocid, release id or buyer id accepted, in bytes: they are btree keys. */
#define OCDS_ID_MAX		1000
/* "2024-05-01T12:00:00.123456789Z" and its NUL. */
#define OCDS_DATE_UTC_SIZE	32

/*
 * One release as received. The strings live in one block owned by the batch; `source`
 * points into the body that was read, which must outlive the batch.
 */
struct ocds_release {
	long		 record;	/* the issue list's record index (see ocds_read) */
	const char	*ocid;
	const char	*id;
	const char	*date;		/* as published: the compiled release's id is built on it */
	char		 date_utc[OCDS_DATE_UTC_SIZE];	/* the same instant in UTC */
	const char	**tags;
	size_t		 ntags;
	/*
	 * release.buyer.id, else the id of the party whose roles hold "buyer", else
	 * "scheme-id" of release.buyer.identifier; NULL when the release names no buyer.
	 */
	const char	*buyer_id;
	const char	*buyer_name;	/* NULL when not given */
	const char	*source;	/* the release's exact bytes, to be stored as jsonb */
	size_t		 source_len;
	char		 hash[65];	/* hex SHA-256 of the source bytes */
	char		*block;		/* owns the strings above */
};

/* A record's compiledRelease: used as the compiled release of its ocid as published. */
struct ocds_compiled {
	long		 record;
	const char	*ocid;
	const char	*buyer_id;	/* found as for a release */
	const char	*buyer_name;
	const char	*source;
	size_t		 source_len;
	char		*block;
};

struct ocds_batch {
	struct ocds_release	*releases;	/* in the order of the body */
	size_t			 nreleases;
	size_t			 releases_cap;
	struct ocds_compiled	*compiled;
	size_t			 ncompiled;
	size_t			 compiled_cap;
	long			 records;	/* record indexes handed out */
};

enum ocds_read_status {
	OCDS_READ_OK,			/* read whole; look at the issue list for 422 */
	OCDS_READ_MALFORMED,		/* not JSON: err says where (400) */
	OCDS_READ_NOMEM,
};

/*
 * Reads a pushed body with the pull reader, never as one tree; `batch` is filled from
 * scratch. Each element of a package's "releases" or "records" array is one record of the
 * issue list, numbered in the order of the body; a record's embedded releases share its
 * index, problems with a package as a whole have -1. Problems go to `issues` with
 * pointers such as /releases/3/date (/0/releases/3/date in an array of packages,
 * /records/0/compiledRelease/ocid); releases with problems are not kept; linked releases
 * (a url and no id) are ignored. The batch is not deduplicated: the same release, or two
 * compiled releases of one ocid, may come twice. On any outcome call ocds_batch_free.
 */
enum ocds_read_status	ocds_read(const char *body, size_t len, const struct sjson_limits *limits,
			    struct ocds_batch *batch, struct issue_list *issues,
			    struct sjson_error *err);
void			ocds_batch_free(struct ocds_batch *batch);

/*
 * Compiles the releases of one ocid (trees from the strict reader) by the OCDS 1.1 merge
 * rules: releases in date order (ties keep their given order), objects merged key by key,
 * null removing a key, arrays of objects that all have an "id" merged by id (a number id
 * and a string id are different ids), other arrays and the schema's whole-list fields
 * replaced whole; the result's "tag" is ["compiled"], "date" the last release's date and
 * "id" "{ocid}-{date}". NULL when a release is not an object with that ocid and a valid
 * date, or on allocation failure. The result shares unchanged values with the releases:
 * treat both as read-only.
 */
json_t	*ocds_merge(json_t *const *releases, size_t n);

/*
 * An RFC 3339 date-time (ISO 8601 with seconds and a UTC offset): true and, when
 * `utc` is not NULL, the same instant written in UTC into OCDS_DATE_UTC_SIZE bytes.
 */
bool	ocds_date_valid(const char *text, char *utc);

#endif
