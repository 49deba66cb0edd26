/*
 * GET /v1/projects, /v1/awards and /v1/budget: what was stored, read back a page at a
 * time in key order (keyset pagination: `limit`, and `after`, an opaque cursor holding
 * the last key of the previous page). Each item's JSON is built by PostgreSQL, amounts
 * as numeric::text strings, so no amount passes through a C double on the way out either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "agency.h"
#include "api.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "log.h"

#define PAGE_DEFAULT		100
#define CURSOR_MAX		2048	/* bytes of a decoded cursor */
#define RETRY_AFTER_SECONDS	"5"

#define UTC_TEXT(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Parameters: $1 agency code or NULL, $2 (and $3) the key after which to start, then
   the number of rows, one more than the page so that we know whether one follows. */
static const char sql_projects[] =
    "SELECT p.id, json_build_object("
    "  'id', p.external_id, 'agency', a.code, 'title', p.title,"
    "  'description', p.description, 'category', p.category,"
    "  'capabilities', p.capabilities, 'status', p.status,"
    "  'planned_start', p.planned_start, 'planned_end', p.planned_end,"
    "  'projected_end', p.projected_end, 'actual_start', p.actual_start,"
    "  'actual_end', p.actual_end, 'planned_cost', p.planned_cost::text,"
    "  'projected_cost', p.projected_cost::text, 'actual_cost', p.actual_cost::text,"
    "  'currency', p.currency, 'review_status', p.review_status,"
    "  'cio_rating', p.cio_rating, 'shared_platforms', p.shared_platforms,"
    "  'budget_lines', p.budget_lines, 'ocids', p.ocids,"
    "  'funding_source', p.funding_source, 'funding_program', p.funding_program,"
    "  'version', p.version, 'updated_at', " UTC_TEXT("p.updated_at") ")::text"
    " FROM project p JOIN agency a ON a.id = p.agency_id"
    " WHERE ($1::text IS NULL OR a.code = $1) AND ($2::bigint IS NULL OR p.id > $2)"
    " ORDER BY p.id LIMIT $3::int";

/*
 * An award's classifications are its items'; an award without items has its tender's.
 * Its method is the tender's procurementMethod.
 */
static const char sql_awards[] =
    "SELECT w.ocid, w.award_id, json_build_object("
    "  'ocid', w.ocid, 'award_id', w.award_id, 'buyer', g.code, 'title', w.title,"
    "  'suppliers', coalesce((SELECT json_agg(json_build_object('id', s.id,"
    "    'name', s.name) ORDER BY s.id) FROM award_supplier x"
    "    JOIN supplier s ON s.id = x.supplier_id"
    "    WHERE x.ocid = w.ocid AND x.award_id = w.award_id), '[]'),"
    "  'amount', w.value_amount::text, 'currency', w.currency,"
    "  'date', " UTC_TEXT("w.date") ", 'status', w.status, 'method', t.method,"
    "  'classifications', coalesce((SELECT json_agg(c ORDER BY c ->> 'scheme',"
    "    c ->> 'id') FROM (SELECT DISTINCT jsonb_build_object("
    "     'scheme', i.classification_scheme, 'id', i.classification_id) AS c"
    "    FROM item i WHERE i.ocid = w.ocid AND i.classification_id IS NOT NULL"
    "     AND ((i.parent_kind = 'award' AND i.parent_id = w.award_id)"
    "      OR (i.parent_kind = 'tender' AND NOT EXISTS (SELECT 1 FROM item j"
    "       WHERE j.ocid = w.ocid AND j.parent_kind = 'award' AND j.classification_id IS NOT NULL"
    "        AND j.parent_id = w.award_id)))) x), '[]'))::text"
    " FROM award w LEFT JOIN agency g ON g.id = w.buyer_agency_id"
    " LEFT JOIN tender t ON t.ocid = w.ocid"
    " WHERE ($1::text IS NULL OR g.code = $1)"
    "  AND ($2::text IS NULL OR (w.ocid, w.award_id) > ($2, $3))"
    " ORDER BY w.ocid, w.award_id LIMIT $4::int";

static const char sql_budget[] =
    "SELECT b.id, json_build_object("
    "  'id', b.id, 'agency', a.code, 'fiscal_year', b.fiscal_year,"
    "  'program', b.program, 'subtitulo', b.subtitulo, 'item', b.item,"
    "  'asignacion', b.asignacion, 'denomination', b.denomination,"
    "  'phase', b.phase, 'period', b.period, 'amount', b.amount::text,"
    "  'currency', b.currency, 'updated_at', " UTC_TEXT("b.updated_at") ")::text"
    " FROM budget_line b JOIN agency a ON a.id = b.agency_id"
    " WHERE ($1::text IS NULL OR a.code = $1) AND ($2::bigint IS NULL OR b.id > $2)"
    " ORDER BY b.id LIMIT $3::int";

enum listing {
	LIST_PROJECTS,
	LIST_AWARDS,
	LIST_BUDGET,
};

/* A cursor names its listing, so one list's cursor is refused by another. */
static const char cursor_tag[] = { 'p', 'a', 'b' };

struct page {
	struct request	*req;
	enum listing	 listing;
	long		 limit;
};

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding into out (4 * ceil(len / 3) + 1 bytes). */
static void
base64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64url[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

/* Decodes into out (at most outsize - 1 bytes, NUL-terminated); -1 if malformed. */
static long
base64url_decode(const char *in, unsigned char *out, size_t outsize)
{
	size_t		 len = strlen(in), o = 0;
	unsigned	 v = 0;
	int		 bits = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(b64url, in[i]);

		if (in[i] == '\0' || p == NULL)
			return -1;
		v = v << 6 | (unsigned)(p - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outsize)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	if (v != 0)	/* the unused bits of a canonical encoding are zero */
		return -1;
	out[o] = '\0';
	return (long)o;
}

/* The cursor of a key: tag ':' key (two parts of an award key joined by a NUL). */
static char *
cursor_make(enum listing listing, const char *k1, const char *k2)
{
	size_t		 l1 = strlen(k1), l2 = k2 != NULL ? strlen(k2) : 0;
	size_t		 len = 2 + l1 + (k2 != NULL ? 1 + l2 : 0);
	unsigned char	*raw;
	char		*out;

	if ((raw = malloc(len)) == NULL)
		return NULL;
	raw[0] = (unsigned char)cursor_tag[listing];
	raw[1] = ':';
	memcpy(raw + 2, k1, l1);
	if (k2 != NULL) {
		raw[2 + l1] = '\0';
		memcpy(raw + 3 + l1, k2, l2);
	}
	if ((out = malloc(4 * ((len + 2) / 3) + 1)) != NULL)
		base64url_encode(raw, len, out);
	free(raw);
	return out;
}

static bool
is_id(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n <= 18 && s[n] == '\0' && s[0] != '0';
}

/* Splits a cursor into its key parts (pointing into buf); false when it is not one. */
static bool
cursor_read(enum listing listing, const char *cursor, unsigned char *buf, size_t size,
    const char **k1, const char **k2)
{
	long	len;
	size_t	l1;

	if ((len = base64url_decode(cursor, buf, size)) < 3 ||
	    buf[0] != (unsigned char)cursor_tag[listing] || buf[1] != ':')
		return false;
	*k1 = (const char *)buf + 2;
	l1 = strlen(*k1);
	if (listing != LIST_AWARDS)
		return (long)l1 == len - 2 && is_id(*k1);
	if ((long)l1 + 2 >= len)
		return false;
	*k2 = *k1 + l1 + 1;
	return (long)(l1 + 3 + strlen(*k2)) == len && l1 > 0 && **k2 != '\0';
}

static void
on_page(PGresult *res, const char *error, void *arg)
{
	struct page	*page = arg;
	struct request	*req = page->req;
	struct evbuffer	*out = NULL;
	char		*cursor = NULL;
	int		 rows, keys = page->listing == LIST_AWARDS ? 2 : 1, shown;

	if (res == NULL) {
		http_set_header(req, "Retry-After", RETRY_AFTER_SECONDS);
		http_reply_error(req, 503, "the database is not available", NULL);
		goto out;
	}
	if (!db_result_ok(res)) {
		log_error("api", "rid=%s %s", req->id, db_result_error(res, error));
		http_reply_error(req, 500, "cannot read the list", NULL);
		goto out;
	}
	rows = PQntuples(res);
	shown = rows > page->limit ? (int)page->limit : rows;
	if ((out = evbuffer_new()) == NULL || evbuffer_add(out, "{\"items\":[", 10) == -1)
		goto nomem;
	for (int i = 0; i < shown; i++) {
		if ((i > 0 && evbuffer_add(out, ",", 1) == -1) ||
		    evbuffer_add(out, PQgetvalue(res, i, keys),
		    (size_t)PQgetlength(res, i, keys)) == -1)
			goto nomem;
	}
	if (rows > page->limit) {
		if ((cursor = cursor_make(page->listing, PQgetvalue(res, shown - 1, 0),
		    keys == 2 ? PQgetvalue(res, shown - 1, 1) : NULL)) == NULL ||
		    evbuffer_add_printf(out, "],\"next\":\"%s\"}\n", cursor) == -1)
			goto nomem;
	} else if (evbuffer_add(out, "],\"next\":null}\n", 15) == -1)
		goto nomem;
	http_reply_buffer(req, 200, "application/json; charset=utf-8", out);
	goto out;
nomem:
	http_reply_error(req, 500, "out of memory", NULL);
out:
	if (out != NULL)
		evbuffer_free(out);
	free(cursor);
	free(page);
}

static void
list(struct request *req, enum listing listing)
{
	static const char	*const sql[] = { sql_projects, sql_awards, sql_budget };
	struct page		*page = NULL;
	const char		*agency = request_query(req, "agency");
	const char		*limit_text = request_query(req, "limit");
	const char		*after = request_query(req, "after");
	const char		*values[4] = { NULL, NULL, NULL, NULL };
	const char		*k1 = NULL, *k2 = NULL;
	unsigned char		 key[CURSOR_MAX];
	char			 limit_plus[24], message[128], *end;
	long			 page_max = (long)config_int(req->daemon->cfg, CFG_API_PAGE_MAX);
	long			 limit = PAGE_DEFAULT < page_max ? PAGE_DEFAULT : page_max;
	int			 n = 0;

	if (agency != NULL && !agency_code_valid(agency)) {
		http_reply_error(req, 400, "agency: must be an agency code", NULL);
		return;
	}
	if (limit_text != NULL) {
		limit = strtol(limit_text, &end, 10);
		if (limit_text[0] < '0' || limit_text[0] > '9' || *end != '\0' ||
		    limit < 1 || limit > page_max) {
			snprintf(message, sizeof(message), "limit: must be a whole number "
			    "from 1 to %ld", page_max);
			http_reply_error(req, 400, message, NULL);
			return;
		}
	}
	if (after != NULL && !cursor_read(listing, after, key, sizeof(key), &k1, &k2)) {
		http_reply_error(req, 400, "after: not a cursor of this list (use the "
		    "\"next\" of the previous page)", NULL);
		return;
	}
	/* An agency token reads only its own agency's data. */
	if (req->who.role == ROLE_AGENCY) {
		if (agency != NULL && strcmp(agency, req->who.agency_code) != 0) {
			http_reply_error(req, 403, "an agency token reads only its own "
			    "agency's data", NULL);
			return;
		}
		agency = req->who.agency_code;
	}
	if ((page = calloc(1, sizeof(*page))) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		return;
	}
	page->req = req;
	page->listing = listing;
	page->limit = limit;
	snprintf(limit_plus, sizeof(limit_plus), "%ld", limit + 1);
	values[n++] = agency;
	values[n++] = k1;
	if (listing == LIST_AWARDS)
		values[n++] = k2;
	values[n++] = limit_plus;
	switch (db_query(req->daemon->db, sql[listing], n, values, on_page, page)) {
	case DB_QUEUED:
		return;
	case DB_UNAVAILABLE:
	case DB_BUSY:
		free(page);
		http_set_header(req, "Retry-After", RETRY_AFTER_SECONDS);
		http_reply_error(req, 503, "the database is not available", NULL);
		return;
	}
}

void
api_get_projects(struct request *req)
{
	list(req, LIST_PROJECTS);
}

void
api_get_awards(struct request *req)
{
	list(req, LIST_AWARDS);
}

void
api_get_budget(struct request *req)
{
	list(req, LIST_BUDGET);
}
