/*
 * Route matching: exact paths, captures and their percent-decoding, 404 against 405
 * and the Allow set, the wildcard route's lower priority, trailing slashes, path
 * length; the Allow header's text; and whose rows a request's statements see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/http.h>

#include "auth.h"
#include "db.h"
#include "http.h"

static void healthz(struct request *req) { (void)req; }
static void feed_run(struct request *req) { (void)req; }
static void feed_show(struct request *req) { (void)req; }
static void feed_delete(struct request *req) { (void)req; }
static void projects_post(struct request *req) { (void)req; }
static void statics(struct request *req) { (void)req; }
static void exports(struct request *req) { (void)req; }

/* The static route comes first on purpose: table order must not give it priority. */
static const struct route routes[] = {
	{ EVHTTP_REQ_GET, "/*", statics, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/healthz", healthz, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_POST, "/v1/feeds/{name}/run", feed_run, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/v1/feeds/{name}", feed_show, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_DELETE, "/v1/feeds/{name}", feed_delete, ROLE_ADMIN, ROWS_OWN },
	{ EVHTTP_REQ_POST | EVHTTP_REQ_PUT, "/v1/projects", projects_post, ROLE_AGENCY, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/v1/export/*", exports, ROLE_ANALYST, ROWS_OWN },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/* The same without a wildcard, where a path no pattern has is a 404. */
static const struct route exact_routes[] = {
	{ EVHTTP_REQ_GET, "/healthz", healthz, ROLE_PUBLIC, ROWS_OWN },
	{ EVHTTP_REQ_POST, "/v1/feeds/{name}/run", feed_run, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/v1/feeds/{name}", feed_show, ROLE_ANALYST, ROWS_OWN },
	{ EVHTTP_REQ_GET, "/", statics, ROLE_PUBLIC, ROWS_OWN },
};
#define NEXACT	(sizeof(exact_routes) / sizeof(exact_routes[0]))

static struct route_params	params;
static unsigned			allowed;

static int
clear_params(void **state)
{
	route_params_clear(&params);
	return 0;
}

static const struct route *
match(unsigned method, const char *path)
{
	route_params_clear(&params);
	return route_match(routes, NROUTES, method, path, &params, &allowed);
}

static const struct route *
match_exact(unsigned method, const char *path)
{
	route_params_clear(&params);
	return route_match(exact_routes, NEXACT, method, path, &params, &allowed);
}

static const char *
param(const char *name)
{
	for (size_t i = 0; i < params.count; i++) {
		if (params.param[i].namelen == strlen(name) &&
		    memcmp(params.param[i].name, name, strlen(name)) == 0)
			return params.param[i].value;
	}
	return NULL;
}

static void
test_exact_path_matches_its_route(void **state)
{
	const struct route *r = match(EVHTTP_REQ_GET, "/healthz");

	assert_non_null(r);
	assert_ptr_equal(r->handler, healthz);
	assert_int_equal(params.count, 0);
}

static void
test_capture_takes_the_segment(void **state)
{
	const struct route *r = match(EVHTTP_REQ_POST, "/v1/feeds/buyers/run");

	assert_non_null(r);
	assert_ptr_equal(r->handler, feed_run);
	assert_int_equal(params.count, 1);
	assert_string_equal(param("name"), "buyers");
}

static void
test_capture_is_percent_decoded(void **state)
{
	assert_non_null(match(EVHTTP_REQ_GET, "/v1/feeds/compras%20p%C3%BAblicas"));
	assert_string_equal(param("name"), "compras p\xc3\xba" "blicas");
	/* '+' is only a space in query strings */
	assert_non_null(match(EVHTTP_REQ_GET, "/v1/feeds/a+b"));
	assert_string_equal(param("name"), "a+b");
}

static void
test_literal_segment_compares_decoded(void **state)
{
	const struct route *r = match(EVHTTP_REQ_GET, "/heal%74hz");

	assert_non_null(r);
	assert_ptr_equal(r->handler, healthz);
}

static void
test_encoded_slash_never_splits_or_fills_a_capture(void **state)
{
	assert_null(match_exact(EVHTTP_REQ_GET, "/v1/feeds/a%2Fb"));
	assert_int_equal(allowed, 0);
	assert_null(match_exact(EVHTTP_REQ_POST, "/v1/feeds%2Fx/run"));
	assert_int_equal(allowed, 0);
}

static void
test_empty_capture_does_not_match(void **state)
{
	assert_null(match_exact(EVHTTP_REQ_POST, "/v1/feeds//run"));
	assert_int_equal(allowed, 0);
}

static void
test_malformed_escapes_match_nothing(void **state)
{
	assert_null(match_exact(EVHTTP_REQ_GET, "/v1/feeds/a%2"));
	assert_null(match_exact(EVHTTP_REQ_GET, "/v1/feeds/a%zz"));
	assert_null(match_exact(EVHTTP_REQ_GET, "/v1/feeds/a%00b"));
	assert_int_equal(allowed, 0);
	/* nor do they reach the wildcard */
	assert_null(match(EVHTTP_REQ_GET, "/a%00.html"));
	assert_null(match(EVHTTP_REQ_GET, "/a%"));
}

static void
test_unknown_path_is_404(void **state)
{
	assert_null(match_exact(EVHTTP_REQ_GET, "/nowhere"));
	assert_int_equal(allowed, 0);
	assert_null(match_exact(EVHTTP_REQ_GET, "/v1/feeds/x/run/now"));
	assert_int_equal(allowed, 0);
}

static void
test_known_path_other_method_is_405_with_allow_set(void **state)
{
	assert_null(match(EVHTTP_REQ_POST, "/healthz"));
	assert_int_equal(allowed, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	/* two routes share the path: the Allow set is their union */
	assert_null(match(EVHTTP_REQ_POST, "/v1/feeds/buyers"));
	assert_int_equal(allowed, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE);
	assert_null(match(EVHTTP_REQ_GET, "/v1/projects"));
	assert_int_equal(allowed, EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
}

static void
test_405_does_not_fall_back_to_the_wildcard(void **state)
{
	/* the wildcard would take it, but /v1/projects exists: the answer is 405 */
	assert_null(match(EVHTTP_REQ_GET, "/v1/projects"));
	assert_int_not_equal(allowed, 0);
}

static void
test_head_is_served_by_get_routes(void **state)
{
	const struct route *r = match(EVHTTP_REQ_HEAD, "/healthz");

	assert_non_null(r);
	assert_ptr_equal(r->handler, healthz);
	assert_null(match(EVHTTP_REQ_HEAD, "/v1/projects"));
	assert_int_equal(allowed, EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
}

static void
test_same_path_different_methods_pick_their_route(void **state)
{
	const struct route *r = match(EVHTTP_REQ_DELETE, "/v1/feeds/buyers");

	assert_non_null(r);
	assert_ptr_equal(r->handler, feed_delete);
	assert_string_equal(param("name"), "buyers");
}

static void
test_wildcard_is_tried_last(void **state)
{
	const struct route *r;

	r = match(EVHTTP_REQ_GET, "/app.js");
	assert_non_null(r);
	assert_ptr_equal(r->handler, statics);
	assert_string_equal(param("*"), "app.js");

	r = match(EVHTTP_REQ_GET, "/");
	assert_non_null(r);
	assert_ptr_equal(r->handler, statics);
	assert_string_equal(param("*"), "");

	/* the rest keeps its slashes and is decoded */
	r = match(EVHTTP_REQ_GET, "/img/logo%20big.png");
	assert_non_null(r);
	assert_string_equal(param("*"), "img/logo big.png");
}

static void
test_wildcard_method_mismatch_is_405(void **state)
{
	assert_null(match(EVHTTP_REQ_POST, "/index.html"));
	assert_int_equal(allowed, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
}

static void
test_longest_wildcard_prefix_wins(void **state)
{
	const struct route *r = match(EVHTTP_REQ_GET, "/v1/export/projects.csv");

	assert_non_null(r);
	assert_ptr_equal(r->handler, exports);
	assert_string_equal(param("*"), "projects.csv");

	/* the prefix itself, without the slash, is not below it */
	r = match(EVHTTP_REQ_GET, "/v1/export");
	assert_non_null(r);
	assert_ptr_equal(r->handler, statics);
	assert_string_equal(param("*"), "v1/export");

	r = match(EVHTTP_REQ_GET, "/v1/export/");
	assert_non_null(r);
	assert_ptr_equal(r->handler, exports);
	assert_string_equal(param("*"), "");
}

static void
test_trailing_slash_is_another_path(void **state)
{
	assert_null(match_exact(EVHTTP_REQ_GET, "/healthz/"));
	assert_int_equal(allowed, 0);
	assert_null(match_exact(EVHTTP_REQ_GET, "/v1/feeds/buyers/"));
	assert_int_equal(allowed, 0);
	/* "/" itself is a path of its own */
	assert_non_null(match_exact(EVHTTP_REQ_GET, "/"));
	assert_null(match_exact(EVHTTP_REQ_GET, "//"));
}

static void
test_overlong_path_matches_nothing(void **state)
{
	char path[ROUTE_MAX_PATH + 2];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[ROUTE_MAX_PATH + 1] = '\0';		/* one byte too long */
	assert_null(match(EVHTTP_REQ_GET, path));
	assert_int_equal(allowed, 0);

	path[ROUTE_MAX_PATH] = '\0';			/* exactly the limit */
	assert_non_null(match(EVHTTP_REQ_GET, path));
	assert_int_equal(strlen(param("*")), ROUTE_MAX_PATH - 1);
}

static void
test_path_must_be_absolute(void **state)
{
	assert_null(match(EVHTTP_REQ_GET, "healthz"));
	assert_null(match(EVHTTP_REQ_GET, ""));
	assert_null(match(EVHTTP_REQ_GET, NULL));
	assert_int_equal(allowed, 0);
}

static void
test_params_and_allowed_are_optional(void **state)
{
	const struct route *r;

	r = route_match(routes, NROUTES, EVHTTP_REQ_POST, "/v1/feeds/x/run", NULL, NULL);
	assert_non_null(r);
	assert_ptr_equal(r->handler, feed_run);
	assert_null(route_match(routes, NROUTES, EVHTTP_REQ_POST, "/healthz", NULL, NULL));
}

static void
test_too_many_captures_match_nothing(void **state)
{
	static const struct route greedy[] = {
		{ EVHTTP_REQ_GET, "/{a}/{b}/{c}/{d}/{e}", healthz, ROLE_PUBLIC, ROWS_OWN },
	};

	assert_null(route_match(greedy, 1, EVHTTP_REQ_GET, "/1/2/3/4/5", &params, &allowed));
	assert_int_equal(params.count, 0);
}

static void
test_methods_text_lists_in_a_fixed_order(void **state)
{
	char buf[64];

	http_methods_text(EVHTTP_REQ_POST | EVHTTP_REQ_GET, buf, sizeof(buf));
	assert_string_equal(buf, "GET, POST");
	http_methods_text(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE, buf,
	    sizeof(buf));
	assert_string_equal(buf, "GET, HEAD, DELETE");
	http_methods_text(EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH | EVHTTP_REQ_PUT, buf,
	    sizeof(buf));
	assert_string_equal(buf, "PUT, PATCH, OPTIONS");
	http_methods_text(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void
test_methods_text_never_cuts_a_name(void **state)
{
	char buf[10];

	http_methods_text(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE, buf,
	    sizeof(buf));
	assert_string_equal(buf, "GET, POST");
}

/* An agency token's statements see its own rows, but on a ROWS_ALL route; others all. */
static void
test_request_scope_follows_role_and_route(void **state)
{
	static const struct route own = { EVHTTP_REQ_GET, "/v1/projects", healthz,
	    ROLE_AGENCY, ROWS_OWN };
	static const struct route wide = { EVHTTP_REQ_GET, "/v1/portfolio", healthz,
	    ROLE_AGENCY, ROWS_ALL };
	static const struct route open = { EVHTTP_REQ_GET, "/healthz", healthz,
	    ROLE_PUBLIC, ROWS_OWN };
	struct request	req;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.who.role = ROLE_AGENCY;
	req.who.agency_id = 42;
	req.route = &own;
	assert_int_equal(request_scope(&req), 42);
	req.route = &wide;
	assert_int_equal(request_scope(&req), DB_SCOPE_ALL);
	req.route = &open;
	assert_int_equal(request_scope(&req), DB_SCOPE_ALL);

	req.route = &own;
	req.who.role = ROLE_ANALYST;
	req.who.agency_id = 0;
	assert_int_equal(request_scope(&req), DB_SCOPE_ALL);
	req.who.role = ROLE_ADMIN;
	assert_int_equal(request_scope(&req), DB_SCOPE_ALL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_exact_path_matches_its_route, clear_params),
		cmocka_unit_test_teardown(test_capture_takes_the_segment, clear_params),
		cmocka_unit_test_teardown(test_capture_is_percent_decoded, clear_params),
		cmocka_unit_test_teardown(test_literal_segment_compares_decoded, clear_params),
		cmocka_unit_test_teardown(test_encoded_slash_never_splits_or_fills_a_capture,
		    clear_params),
		cmocka_unit_test_teardown(test_empty_capture_does_not_match, clear_params),
		cmocka_unit_test_teardown(test_malformed_escapes_match_nothing, clear_params),
		cmocka_unit_test_teardown(test_unknown_path_is_404, clear_params),
		cmocka_unit_test_teardown(test_known_path_other_method_is_405_with_allow_set,
		    clear_params),
		cmocka_unit_test_teardown(test_405_does_not_fall_back_to_the_wildcard,
		    clear_params),
		cmocka_unit_test_teardown(test_head_is_served_by_get_routes, clear_params),
		cmocka_unit_test_teardown(test_same_path_different_methods_pick_their_route,
		    clear_params),
		cmocka_unit_test_teardown(test_wildcard_is_tried_last, clear_params),
		cmocka_unit_test_teardown(test_wildcard_method_mismatch_is_405, clear_params),
		cmocka_unit_test_teardown(test_longest_wildcard_prefix_wins, clear_params),
		cmocka_unit_test_teardown(test_trailing_slash_is_another_path, clear_params),
		cmocka_unit_test_teardown(test_overlong_path_matches_nothing, clear_params),
		cmocka_unit_test_teardown(test_path_must_be_absolute, clear_params),
		cmocka_unit_test_teardown(test_params_and_allowed_are_optional, clear_params),
		cmocka_unit_test_teardown(test_too_many_captures_match_nothing, clear_params),
		cmocka_unit_test(test_methods_text_lists_in_a_fixed_order),
		cmocka_unit_test(test_methods_text_never_cuts_a_name),
		cmocka_unit_test(test_request_scope_follows_role_and_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
