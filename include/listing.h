/*
 * Keyset pages of the read API's lists: `limit` and `after` read from the query, the
 * reply {"items": [...], "next": cursor or null}, and the cursor, which holds the sort
 * key of a page's last row. A cursor is base64url of the list's tag, ':' and the key's
 * parts joined by NUL bytes, so one list's cursor is refused by another; it is opaque
 * to clients. A request whose Accept prefers text/csv gets the page as CSV instead
 * (csvout.h), the next page's cursor in a Link header, and a Content-Disposition that
 * names the file after the route's last path word ("ictmon-projects.csv").
 */
#ifndef ICTMON_LISTING_H
#define ICTMON_LISTING_H

#include <stdbool.h>

#include <libpq-fe.h>

struct request;

#define LISTING_LIMIT_DEFAULT	100
#define LISTING_KEY_MAX		2048	/* bytes of a decoded cursor */
#define LISTING_PARTS_MAX	2

/*
 * A list's query returns, per row, the sort key's parts (columns 0 .. parts - 1, in
 * the cursor's order) and then the item's JSON text; it is asked for limit + 1 rows
 * so that the reply knows whether a page follows.
 */
struct listing {
	struct request	*req;
	char		 tag;
	int		 parts;
	long		 limit;
	bool		 csv;		/* the reply is CSV (Accept prefers text/csv) */
	char		 limit_plus[24];	/* limit + 1 as text: the query's LIMIT */
	/* The key of ?after= (each part NULL without a cursor or when it was empty). */
	const char	*after[LISTING_PARTS_MAX];
	unsigned char	 key[LISTING_KEY_MAX];
};

/*
 * Reads ?limit= (1 to api.page_max), ?after= and the Accept header for the list `tag`
 * whose key has the shape `shape`, one letter a part: 'i' a row id, 'd' a decimal or
 * nothing, 't' a text that is not empty, in UTF-8. NULL after replying (400 or 500);
 * else the caller passes it to listing_query().
 */
struct listing	*listing_new(struct request *req, char tag, const char *shape);
/*
 * Splits a cursor (?after=) into l->after, checking it against l->tag, l->parts and
 * `shape` as listing_new does; false when it is not a cursor of this list.
 */
bool		 listing_cursor_read(struct listing *l, const char *cursor,
		    const char *shape);

/*
 * ?agency= as the request may read it: an agency token reads its own agency (asking
 * for another is 403), an analyst the one asked for, or NULL for all. False after
 * replying (400, 403).
 */
bool		 listing_agency(struct request *req, const char **agency);
/* The same for the agency named by the query argument `name` (?buyer= of awards). */
bool		 listing_agency_named(struct request *req, const char *name,
		    const char **agency);

/* A decimal as PostgreSQL writes numeric: [-]digits[.digits] (what 'd' keys hold). */
bool		 listing_is_decimal(const char *s);
/* A real calendar date written YYYY-MM-DD (years 0001 to 9999). */
bool		 listing_is_date(const char *s);

/* Queues the page's query; its result becomes the reply. Takes the listing. */
void		 listing_query(struct listing *listing, const char *sql, int n,
		    const char *const *values);

#endif
