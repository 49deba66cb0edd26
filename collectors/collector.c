/*
 * The table of collector kinds and the collection: one document of a kind read as it
 * streams in, its errors kept, and its links.next resolved and checked once the
 * document is complete. What a kind's bytes mean is the kind's own file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "collector.h"

#define COLLECTOR_ROW(kind)	&collector_##kind,
static const struct collector_ops *const kinds[] = {
	COLLECTOR_KINDS(COLLECTOR_ROW)
};
#undef COLLECTOR_ROW

struct collection {
	const struct collector_ops	*ops;
	void				*state;
	char				*url;		/* the page's, as asked for */
	char				*next_url;	/* resolved, once checked */
	bool				 failed;
	bool				 ended;		/* take(end) passed its checks */
	char				 error[512];
};

const struct collector_ops *
collector_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i]->kind, kind) == 0)
			return kinds[i];
	return NULL;
}

size_t
collector_all(const struct collector_ops *const **out)
{
	*out = kinds;
	return sizeof(kinds) / sizeof(kinds[0]);
}

struct collection *
collection_new(const struct collector_ops *ops, const struct collector_limits *limits,
    const char *url, unsigned long long skip)
{
	struct collection *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->ops = ops;
	if ((url != NULL && (c->url = strdup(url)) == NULL) ||
	    (c->state = ops->open(limits, skip)) == NULL) {
		collection_free(c);
		return NULL;
	}
	return c;
}

void
collection_free(struct collection *c)
{
	if (c == NULL)
		return;
	if (c->state != NULL)
		c->ops->close(c->state);
	free(c->url);
	free(c->next_url);
	free(c);
}

bool
collection_write(struct collection *c, const char *data, size_t len)
{
	if (c->failed)
		return false;
	if (c->ended) {
		snprintf(c->error, sizeof(c->error), "bytes after the end of the document");
		c->failed = true;
		return false;
	}
	if (!c->ops->write(c->state, data, len, c->error, sizeof(c->error))) {
		c->failed = true;
		return false;
	}
	return true;
}

/*
 * A parsed URL written back the way two spellings of one URL compare equal: libcurl's
 * normal form, the host in lower case, no default port. NULL when out of memory.
 */
static char *
url_text(CURLU *u)
{
	char	*host = NULL, *text = NULL, *copy;

	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		for (char *p = host; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p += 'a' - 'A';
		(void)curl_url_set(u, CURLUPART_HOST, host, 0);
	}
	curl_free(host);
	if (curl_url_get(u, CURLUPART_URL, &text, CURLU_NO_DEFAULT_PORT) != CURLUE_OK)
		return NULL;
	copy = strdup(text);
	curl_free(text);
	return copy;
}

/* The page's own URL in that form. */
static char *
page_text(const char *url)
{
	CURLU	*u;
	char	*text = NULL;

	if ((u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK)
		text = url_text(u);
	curl_url_cleanup(u);
	return text;
}

/*
 * links.next against the page's URL: an absolute http(s) URL that is not the page
 * itself (a feed naming itself as its next page would be pulled for ever).
 */
static bool
resolve_next(struct collection *c, const char *next)
{
	CURLU		*u = NULL;
	CURLUcode	 uc;
	char		*scheme = NULL, *resolved = NULL, *page = NULL;
	bool		 ok = false;

	if ((u = curl_url()) == NULL) {
		snprintf(c->error, sizeof(c->error), "out of memory");
		goto out;
	}
	/* A relative links.next is read against the page; without one it must be whole. */
	if (c->url != NULL &&
	    curl_url_set(u, CURLUPART_URL, c->url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		snprintf(c->error, sizeof(c->error), "the page's URL \"%.200s\" is not a URL",
		    c->url);
		goto out;
	}
	if ((uc = curl_url_set(u, CURLUPART_URL, next, CURLU_NON_SUPPORT_SCHEME)) !=
	    CURLUE_OK) {
		snprintf(c->error, sizeof(c->error), "links.next \"%.200s\" is not a URL: %s",
		    next, curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		snprintf(c->error, sizeof(c->error), "links.next \"%.200s\" is not an http or "
		    "https URL", next);
		goto out;
	}
	if ((resolved = url_text(u)) == NULL) {
		snprintf(c->error, sizeof(c->error), "links.next \"%.200s\" is not a URL",
		    next);
		goto out;
	}
	if (c->url != NULL && (page = page_text(c->url)) != NULL &&
	    strcmp(page, resolved) == 0) {
		snprintf(c->error, sizeof(c->error), "links.next \"%.200s\" is this page's own "
		    "URL: the pages would loop", next);
		goto out;
	}
	c->next_url = resolved;
	resolved = NULL;
	ok = true;
out:
	free(page);
	free(resolved);
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

enum collection_take
collection_take(struct collection *c, bool end, struct collector_chunk *out)
{
	const char	*next;
	int		 rc;

	if (c->failed)
		return COLLECTION_ERROR;
	rc = c->ops->take(c->state, end, out, c->error, sizeof(c->error));
	if (rc == -1) {
		c->failed = true;
		return COLLECTION_ERROR;
	}
	/*
	 * The first take at the end checks links.next before the page's last chunk goes
	 * out, so that a page whose next is wrong is never recorded as done.
	 */
	if (end && !c->ended) {
		if (c->ops->paged && (next = c->ops->next(c->state)) != NULL &&
		    !resolve_next(c, next)) {
			c->failed = true;
			return COLLECTION_ERROR;
		}
		c->ended = true;
	}
	return rc == 1 ? COLLECTION_CHUNK : COLLECTION_NONE;
}

const char *
collection_error(const struct collection *c)
{
	return c->error;
}

const char *
collection_next_url(const struct collection *c)
{
	return c->ended ? c->next_url : NULL;
}

unsigned long long
collection_records(const struct collection *c)
{
	return c->ops->records(c->state);
}

size_t
collection_buffered(const struct collection *c)
{
	return c->ops->buffered(c->state);
}
