/*
 * Keyset pages: reading `limit` and `after`, making and reading cursors, and turning a
 * page's rows into the reply. The items are the JSON texts PostgreSQL built; they are
 * copied as they are, or become the rows of a CSV table (csvout.c) when the client
 * asked for one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "agency.h"
#include "api.h"
#include "config.h"
#include "csvout.h"
#include "daemon.h"
#include "db.h"
#include "http.h"
#include "listing.h"
#include "log.h"
#include "utf8.h"

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

		if (p == NULL)
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

static bool
is_id(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n <= 18 && s[n] == '\0' && s[0] != '0';
}

bool
listing_is_decimal(const char *s)
{
	size_t n;

	if (*s == '-')
		s++;
	if ((n = strspn(s, "0123456789")) == 0)
		return false;
	s += n;
	if (*s == '.') {
		if ((n = strspn(++s, "0123456789")) == 0)
			return false;
		s += n;
	}
	return *s == '\0';
}

bool
listing_is_date(const char *s)
{
	static const int	 days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int			 y, m, d;

	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : s[i] < '0' || s[i] > '9')
			return false;
	if (s[10] != '\0')
		return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return d <= 29;
	return d <= days[m - 1];
}

/* The cursor after row `row`: tag ':' and its key parts joined by NUL bytes. */
static char *
cursor_make(const struct listing *l, PGresult *res, int row)
{
	unsigned char	 raw[LISTING_KEY_MAX];
	size_t		 len = 0;
	char		*out;

	raw[len++] = (unsigned char)l->tag;
	raw[len++] = ':';
	for (int i = 0; i < l->parts; i++) {
		size_t n = (size_t)PQgetlength(res, row, i);

		if (len + 1 + n > sizeof(raw))
			return NULL;
		if (i > 0)
			raw[len++] = '\0';
		memcpy(raw + len, PQgetvalue(res, row, i), n);
		len += n;
	}
	if ((out = malloc(4 * ((len + 2) / 3) + 1)) != NULL)
		base64url_encode(raw, len, out);
	return out;
}

bool
listing_cursor_read(struct listing *l, const char *cursor, const char *shape)
{
	long		 len;
	const char	*p, *end;

	if ((len = base64url_decode(cursor, l->key, sizeof(l->key))) < 2 ||
	    l->key[0] != (unsigned char)l->tag || l->key[1] != ':')
		return false;
	p = (const char *)l->key + 2;
	end = (const char *)l->key + len;
	for (int i = 0; i < l->parts; i++) {
		if (p > end || (i == l->parts - 1) != (p + strlen(p) == end))
			return false;
		switch (shape[i]) {
		case 'i':
			if (!is_id(p))
				return false;
			break;
		case 'd':
			if (*p != '\0' && !listing_is_decimal(p))
				return false;
			break;
		default:
			/* The database would refuse malformed UTF-8: a 400, not a 500. */
			if (*p == '\0' || !utf8_valid(p, strlen(p)))
				return false;
			break;
		}
		l->after[i] = *p != '\0' ? p : NULL;
		p += strlen(p) + 1;
	}
	return true;
}

struct listing *
listing_new(struct request *req, char tag, const char *shape)
{
	struct listing	*l;
	const char	*text = request_query(req, "limit");
	const char	*after = request_query(req, "after");
	long		 page_max = (long)config_int(req->daemon->cfg, CFG_API_PAGE_MAX);
	char		 message[128], *end;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		return NULL;
	}
	l->req = req;
	l->tag = tag;
	l->parts = (int)strlen(shape);
	l->limit = LISTING_LIMIT_DEFAULT < page_max ? LISTING_LIMIT_DEFAULT : page_max;
	if (text != NULL) {
		l->limit = strtol(text, &end, 10);
		if (text[0] < '0' || text[0] > '9' || *end != '\0' || l->limit < 1 ||
		    l->limit > page_max) {
			snprintf(message, sizeof(message), "limit: must be a whole number "
			    "from 1 to %ld", page_max);
			http_reply_error(req, 400, message, NULL);
			free(l);
			return NULL;
		}
	}
	if (after != NULL && !listing_cursor_read(l, after, shape)) {
		http_reply_error(req, 400, "after: not a cursor of this list (use the "
		    "\"next\" of the previous page)", NULL);
		free(l);
		return NULL;
	}
	l->csv = csvout_wanted(request_header(req, "Accept"));
	snprintf(l->limit_plus, sizeof(l->limit_plus), "%ld", l->limit + 1);
	return l;
}

bool
listing_agency(struct request *req, const char **agency)
{
	return listing_agency_named(req, "agency", agency);
}

bool
listing_agency_named(struct request *req, const char *name, const char **agency)
{
	char message[96];

	*agency = request_query(req, name);
	if (*agency != NULL && !agency_code_valid(*agency)) {
		snprintf(message, sizeof(message), "%s: must be an agency code", name);
		http_reply_error(req, 400, message, NULL);
		return false;
	}
	if (req->who.role == ROLE_AGENCY) {
		if (*agency != NULL && strcmp(*agency, req->who.agency_code) != 0) {
			http_reply_error(req, 403, "an agency token reads only what "
			    "involves its own agency", NULL);
			return false;
		}
		*agency = req->who.agency_code;
	}
	return true;
}

/* The page as {"items", "next"}: the items' JSON texts copied as they are. */
static bool
page_json(struct listing *l, PGresult *res, int shown, const char *cursor,
    struct evbuffer *out)
{
	if (evbuffer_add(out, "{\"items\":[", 10) == -1)
		return false;
	for (int i = 0; i < shown; i++) {
		if ((i > 0 && evbuffer_add(out, ",", 1) == -1) ||
		    evbuffer_add(out, PQgetvalue(res, i, l->parts),
		    (size_t)PQgetlength(res, i, l->parts)) == -1)
			return false;
	}
	if (cursor != NULL)
		return evbuffer_add_printf(out, "],\"next\":\"%s\"}\n", cursor) != -1;
	return evbuffer_add(out, "],\"next\":null}\n", 15) == 0;
}

/*
 * A spreadsheet saves the table under the list's name: the route pattern's last word
 * ("/v1/projects" gives ictmon-projects.csv), never the client's path, so the header
 * holds no text from the request.
 */
static void
content_disposition(struct request *req)
{
	const char	*pattern = req->route != NULL ? req->route->pattern : "",
			*word = strrchr(pattern, '/');
	char		 value[128];
	size_t		 n;

	word = word != NULL ? word + 1 : pattern;
	n = strspn(word, "abcdefghijklmnopqrstuvwxyz0123456789_-");
	if (n == 0 || word[n] != '\0' || n > 64) {
		word = "list";
		n = 4;
	}
	snprintf(value, sizeof(value), "attachment; filename=\"ictmon-%.*s.csv\"", (int)n,
	    word);
	http_set_header(req, "Content-Disposition", value);
}

/*
 * The page as a CSV table, and the next page's address in a Link header: the request's
 * own path and query with the new cursor as `after`.
 */
static bool
page_csv(struct listing *l, PGresult *res, int shown, const char *cursor,
    struct evbuffer *out)
{
	const struct evhttp_uri	 *uri = evhttp_request_get_evhttp_uri(l->req->ev);
	const char		**items = NULL, *path;
	size_t			 *lens = NULL;
	char			 *link = NULL;
	bool			  ok = false;

	if ((items = calloc((size_t)shown + 1, sizeof(*items))) == NULL ||
	    (lens = calloc((size_t)shown + 1, sizeof(*lens))) == NULL)
		goto out;
	for (int i = 0; i < shown; i++) {
		items[i] = PQgetvalue(res, i, l->parts);
		lens[i] = (size_t)PQgetlength(res, i, l->parts);
	}
	if (!csvout_table(out, items, lens, (size_t)shown)) {
		log_error("api", "rid=%s cannot write the page as CSV", l->req->id);
		goto out;
	}
	content_disposition(l->req);
	if (cursor != NULL) {
		path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
		if ((link = csvout_next_link(path != NULL ? path : "",
		    uri != NULL ? evhttp_uri_get_query(uri) : NULL, cursor)) == NULL)
			goto out;
		http_set_header(l->req, "Link", link);
	}
	ok = true;
out:
	free(items);
	free(lens);
	free(link);
	return ok;
}

static void
on_page(PGresult *res, const char *error, void *arg)
{
	struct listing	*l = arg;
	struct request	*req = l->req;
	struct evbuffer	*out = NULL;
	char		*cursor = NULL;
	int		 rows, shown;

	if (!api_result_usable(req, res, error, "cannot read the list"))
		goto out;
	rows = PQntuples(res);
	shown = rows > l->limit ? (int)l->limit : rows;
	if ((out = evbuffer_new()) == NULL ||
	    (rows > l->limit && (cursor = cursor_make(l, res, shown - 1)) == NULL))
		goto fail;
	if (l->csv ? !page_csv(l, res, shown, cursor, out) :
	    !page_json(l, res, shown, cursor, out))
		goto fail;
	/* The same address has two representations. */
	http_set_header(req, "Vary", "Accept");
	http_reply_buffer(req, 200, l->csv ? "text/csv; charset=utf-8" :
	    "application/json; charset=utf-8", out);
	goto out;
fail:
	http_reply_error(req, 500, "cannot write the page", NULL);
out:
	if (out != NULL)
		evbuffer_free(out);
	free(cursor);
	free(l);
}

void
listing_query(struct listing *l, const char *sql, int n, const char *const *values)
{
	switch (db_query_scoped(l->req->daemon->db, request_scope(l->req), sql, n, values,
	    on_page, l)) {
	case DB_QUEUED:
		return;
	case DB_UNAVAILABLE:
	case DB_BUSY:
		http_reply_unavailable(l->req, "the database is not available");
		free(l);
		return;
	}
}
