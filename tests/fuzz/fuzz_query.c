/*
 * A request target as a client sends it: libevent's URI parser, the route table's
 * matching (percent-decoding each path segment), the query string's arguments, their
 * percent-decoding, and a list's ?after= cursor for each key shape.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "fuzz.h"
#include "http.h"
#include "listing.h"

static void
read_cursor(const char *value)
{
	static const char *const shapes[] = { "i", "ti", "di", "t" };

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct listing	l;

		memset(&l, 0, sizeof(l));
		l.tag = 'p';
		l.parts = (int)strlen(shapes[i]);
		(void)listing_cursor_read(&l, value, shapes[i]);
	}
}

static void
read_query(const char *query)
{
	struct evkeyvalq	 args;
	struct evkeyval		*kv;
	char			*decoded;
	size_t			 len;

	TAILQ_INIT(&args);
	if (evhttp_parse_query_str(query, &args) == 0) {
		TAILQ_FOREACH(kv, &args, next) {
			len = strlen(kv->value);
			if ((decoded = malloc(len + 1)) != NULL) {
				(void)http_percent_decode(kv->value, len, decoded, &len);
				free(decoded);
			}
			if (strcmp(kv->key, "after") == 0)
				read_cursor(kv->value);
		}
	}
	evhttp_clear_headers(&args);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned	 methods[] = { EVHTTP_REQ_GET, EVHTTP_REQ_POST,
	    EVHTTP_REQ_DELETE, EVHTTP_REQ_PUT };
	struct evhttp_uri	*uri = NULL;
	struct route_params	 params;
	const char		*path, *query;
	unsigned		 allowed;
	char			*target;

	if ((target = malloc(size + 1)) == NULL)
		return 0;
	memcpy(target, data, size);
	target[size] = '\0';
	if ((uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT)) == NULL)
		goto out;
	if ((path = evhttp_uri_get_path(uri)) != NULL && path[0] != '\0') {
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			memset(&params, 0, sizeof(params));
			(void)route_match(api_routes, api_nroutes, methods[i], path, &params,
			    &allowed);
			route_params_clear(&params);
		}
	}
	if ((query = evhttp_uri_get_query(uri)) != NULL)
		read_query(query);
	/* the cursor reader on the raw bytes too, not only on what a query lets through */
	read_cursor(target);
out:
	if (uri != NULL)
		evhttp_uri_free(uri);
	free(target);
	return 0;
}
