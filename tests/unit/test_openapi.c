/*
 * The OpenAPI document against the route table: every route's methods are operations
 * of its path and every operation is a route, with the route's role; each operation
 * is complete (operationId, summary, responses, security as its role asks), its path
 * parameters are declared, and every $ref leads somewhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/http.h>
#include <jansson.h>

#include "api.h"
#include "auth.h"
#include "http.h"

static const struct {
	unsigned	 bit;
	const char	*name;		/* the path item's field */
} methods[] = {
	{ EVHTTP_REQ_GET, "get" },
	{ EVHTTP_REQ_PUT, "put" },
	{ EVHTTP_REQ_POST, "post" },
	{ EVHTTP_REQ_DELETE, "delete" },
	{ EVHTTP_REQ_OPTIONS, "options" },
	{ EVHTTP_REQ_HEAD, "head" },
	{ EVHTTP_REQ_PATCH, "patch" },
	{ EVHTTP_REQ_TRACE, "trace" },
};
#define NMETHODS	(sizeof(methods) / sizeof(methods[0]))

static json_t *doc;

static int
load_document(void **state)
{
	json_error_t err;

	if ((doc = json_loadb(api_openapi_json, api_openapi_json_len,
	    JSON_REJECT_DUPLICATES, &err)) == NULL) {
		fprintf(stderr, "daemon/openapi.json:%d:%d: %s\n", err.line, err.column,
		    err.text);
		return -1;
	}
	return 0;
}

static int
free_document(void **state)
{
	json_decref(doc);
	return 0;
}

static unsigned
method_bit(const char *field)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if (strcmp(field, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

/* The route pattern a path item documents: its key, or its x-ictmon-pattern. */
static const char *
item_pattern(const char *key, json_t *item)
{
	json_t *pattern = json_object_get(item, "x-ictmon-pattern");

	return pattern != NULL ? json_string_value(pattern) : key;
}

static json_t *
item_of_pattern(const char *pattern)
{
	const char	*key;
	json_t		*item;

	json_object_foreach(json_object_get(doc, "paths"), key, item) {
		const char *p = item_pattern(key, item);

		if (p != NULL && strcmp(p, pattern) == 0)
			return item;
	}
	return NULL;
}

/* A local $ref ("#/components/schemas/Alert"), or NULL when it leads nowhere. */
static json_t *
resolve(const char *ref)
{
	json_t		*at = doc;
	const char	*p;
	char		 token[256];

	if (strncmp(ref, "#/", 2) != 0)
		return NULL;
	for (p = ref + 2; at != NULL && *p != '\0';) {
		size_t len = strcspn(p, "/"), o = 0;

		for (size_t i = 0; i < len && o + 1 < sizeof(token); i++) {
			if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1'))
				token[o++] = p[++i] == '0' ? '~' : '/';
			else
				token[o++] = p[i];
		}
		token[o] = '\0';
		at = json_is_array(at) ? json_array_get(at, strtoul(token, NULL, 10)) :
		    json_object_get(at, token);
		p += len;
		if (*p == '/')
			p++;
	}
	return at;
}

/* A parameter object, through its $ref when it is one. */
static json_t *
parameter(json_t *p)
{
	json_t *ref = json_object_get(p, "$ref");

	return ref != NULL ? resolve(json_string_value(ref)) : p;
}

/* Whether `params` (an array, may be NULL) declares the path parameter `name`. */
static bool
declares(json_t *params, const char *name, size_t len)
{
	size_t	 i;
	json_t	*p;

	json_array_foreach(params, i, p) {
		json_t		*q = parameter(p);
		const char	*n = json_string_value(json_object_get(q, "name"));
		const char	*in = json_string_value(json_object_get(q, "in"));

		if (n != NULL && in != NULL && strcmp(in, "path") == 0 &&
		    strlen(n) == len && strncmp(n, name, len) == 0) {
			assert_true(json_is_true(json_object_get(q, "required")));
			return true;
		}
	}
	return false;
}

static void
test_document_is_openapi_3_of_this_version(void **state)
{
	assert_int_equal(strlen(api_openapi_json), api_openapi_json_len);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "info"),
	    "version")), ICTMON_VERSION);
	assert_true(json_is_object(json_object_get(doc, "paths")));
	assert_non_null(resolve("#/components/securitySchemes/bearer"));
}

static void
test_every_route_is_an_operation_with_its_role(void **state)
{
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct route	*r = &api_routes[i];
		json_t			*item = item_of_pattern(r->pattern);
		unsigned		 seen = 0;

		if (item == NULL)
			fail_msg("route %s is not in the document's paths", r->pattern);
		for (size_t m = 0; m < NMETHODS; m++) {
			json_t		*op;
			const char	*role;

			if ((r->methods & methods[m].bit) == 0)
				continue;
			seen |= methods[m].bit;
			if ((op = json_object_get(item, methods[m].name)) == NULL)
				fail_msg("%s %s is not in the document", methods[m].name,
				    r->pattern);
			role = json_string_value(json_object_get(op, "x-ictmon-role"));
			if (role == NULL || strcmp(role, role_name(r->role)) != 0)
				fail_msg("%s %s: x-ictmon-role is %s, the route's role %s",
				    methods[m].name, r->pattern, role ? role : "absent",
				    role_name(r->role));
		}
		assert_int_equal(seen, r->methods);
	}
}

static void
test_every_operation_is_a_route(void **state)
{
	const char	*key, *field;
	json_t		*item, *value;

	json_object_foreach(json_object_get(doc, "paths"), key, item) {
		const char *pattern = item_pattern(key, item);

		assert_non_null(pattern);
		json_object_foreach(item, field, value) {
			unsigned	bit = method_bit(field);
			bool		found = false;

			if (bit == 0) {
				/* Anything else a path item may hold; a misspelt method is not. */
				if (strncmp(field, "x-", 2) != 0 &&
				    strcmp(field, "parameters") != 0 &&
				    strcmp(field, "summary") != 0 &&
				    strcmp(field, "description") != 0)
					fail_msg("%s: unexpected field %s", key, field);
				continue;
			}
			for (size_t i = 0; i < api_nroutes && !found; i++)
				found = strcmp(api_routes[i].pattern, pattern) == 0 &&
				    (api_routes[i].methods & bit) != 0;
			if (!found)
				fail_msg("%s %s is no route of api_routes", field, key);
		}
	}
}

static void
test_each_operation_is_complete(void **state)
{
	const char	*key, *field, *status;
	json_t		*item, *op, *ids, *security, *response;

	assert_non_null(ids = json_object());
	json_object_foreach(json_object_get(doc, "paths"), key, item) {
		json_object_foreach(item, field, op) {
			const char	*id, *summary, *role;

			if (method_bit(field) == 0)
				continue;
			id = json_string_value(json_object_get(op, "operationId"));
			summary = json_string_value(json_object_get(op, "summary"));
			role = json_string_value(json_object_get(op, "x-ictmon-role"));
			if (id == NULL || *id == '\0' || summary == NULL || *summary == '\0')
				fail_msg("%s %s: no operationId or summary", field, key);
			if (json_object_get(ids, id) != NULL)
				fail_msg("%s %s: operationId %s is used twice", field, key, id);
			json_object_set_new(ids, id, json_true());
			if (json_object_size(json_object_get(op, "responses")) == 0)
				fail_msg("%s %s: no responses", field, key);
			json_object_foreach(json_object_get(op, "responses"), status, response) {
				json_t *ref = json_object_get(response, "$ref");

				if (strcmp(status, "default") != 0 && (strlen(status) != 3 ||
				    strspn(status, "0123456789") != 3))
					fail_msg("%s %s: response %s", field, key, status);
				if (ref != NULL)
					response = resolve(json_string_value(ref));
				if (!json_is_string(json_object_get(response, "description")))
					fail_msg("%s %s: response %s has no description", field,
					    key, status);
			}
			/* Public operations need no token; every other the global bearer. */
			assert_non_null(role);
			security = json_object_get(op, "security");
			if (strcmp(role, "public") == 0 ? !json_is_array(security) ||
			    json_array_size(security) != 0 :
			    security != NULL && json_array_size(security) == 0)
				fail_msg("%s %s: security does not fit role %s", field, key, role);
		}
	}
	json_decref(ids);
}

static void
test_path_parameters_are_declared(void **state)
{
	const char	*key, *field;
	json_t		*item, *op;

	json_object_foreach(json_object_get(doc, "paths"), key, item) {
		json_t *shared = json_object_get(item, "parameters");

		json_object_foreach(item, field, op) {
			json_t		*own = json_object_get(op, "parameters"), *p;
			const char	*brace;
			size_t		 i;

			if (method_bit(field) == 0)
				continue;
			for (brace = strchr(key, '{'); brace != NULL;
			    brace = strchr(brace + 1, '{')) {
				size_t len = strcspn(brace + 1, "}");

				if (!declares(own, brace + 1, len) &&
				    !declares(shared, brace + 1, len))
					fail_msg("%s %s: {%.*s} is not declared", field, key,
					    (int)len, brace + 1);
			}
			/* And no path parameter the path does not have. */
			for (int pass = 0; pass < 2; pass++) {
				json_array_foreach(pass == 0 ? own : shared, i, p) {
					json_t		*q = parameter(p);
					const char	*in, *name;
					char		 wanted[128];

					assert_non_null(q);
					in = json_string_value(json_object_get(q, "in"));
					name = json_string_value(json_object_get(q, "name"));
					assert_non_null(in);
					assert_non_null(name);
					if (strcmp(in, "path") != 0)
						continue;
					snprintf(wanted, sizeof(wanted), "{%s}", name);
					if (strstr(key, wanted) == NULL)
						fail_msg("%s %s: path parameter %s is not in the "
						    "path", field, key, name);
				}
			}
		}
	}
}

/* Every $ref under `at` resolves. */
static void
check_refs(json_t *at)
{
	const char	*key;
	json_t		*value;
	size_t		 i;

	if (json_is_array(at)) {
		json_array_foreach(at, i, value)
			check_refs(value);
		return;
	}
	json_object_foreach(at, key, value) {
		if (strcmp(key, "$ref") == 0) {
			const char *ref = json_string_value(value);

			if (ref == NULL || resolve(ref) == NULL)
				fail_msg("$ref %s leads nowhere", ref ? ref : "(not a string)");
			continue;
		}
		check_refs(value);
	}
}

static void
test_every_ref_resolves(void **state)
{
	check_refs(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_is_openapi_3_of_this_version),
		cmocka_unit_test(test_every_route_is_an_operation_with_its_role),
		cmocka_unit_test(test_every_operation_is_a_route),
		cmocka_unit_test(test_each_operation_is_complete),
		cmocka_unit_test(test_path_parameters_are_declared),
		cmocka_unit_test(test_every_ref_resolves),
	};

	return cmocka_run_group_tests(tests, load_document, free_document);
}
