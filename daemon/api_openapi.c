/*
 * GET /v1/openapi.json: the API described for clients and code generators. The
 * document is daemon/openapi.json, written by hand and embedded at build time; that it
 * names every route of the table and nothing else is checked by tests/unit/test_openapi.c.
 */
#include "api.h"
#include "http.h"

void
api_get_openapi(struct request *req)
{
	http_reply_data(req, 200, "application/json; charset=utf-8", api_openapi_json,
	    api_openapi_json_len);
}
