/*
 * Tokens without a database: roles and their order, token generation, hashing,
 * constant-time comparison, and reading the Authorization header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

#define GOOD_TOKEN	"ictm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define SHA256_ABC	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
test_role_names_round_trip(void **state)
{
	enum role r;

	assert_string_equal(role_name(ROLE_PUBLIC), "public");
	assert_string_equal(role_name(ROLE_AGENCY), "agency");
	assert_string_equal(role_name(ROLE_ANALYST), "analyst");
	assert_string_equal(role_name(ROLE_ADMIN), "admin");
	for (r = ROLE_AGENCY; r <= ROLE_ADMIN; r++) {
		enum role back = ROLE_PUBLIC;

		assert_true(role_parse(role_name(r), &back));
		assert_int_equal(back, r);
	}
}

static void
test_role_parse_refuses_other_names(void **state)
{
	enum role r = ROLE_ADMIN;

	assert_false(role_parse("public", &r));	/* no token has the public role */
	assert_false(role_parse("Admin", &r));
	assert_false(role_parse("admin ", &r));
	assert_false(role_parse("", &r));
	assert_false(role_parse(NULL, &r));
	assert_int_equal(r, ROLE_ADMIN);
}

static void
test_role_order_admin_analyst_agency_public(void **state)
{
	const enum role order[] = { ROLE_PUBLIC, ROLE_AGENCY, ROLE_ANALYST, ROLE_ADMIN };

	for (size_t have = 0; have < 4; have++)
		for (size_t need = 0; need < 4; need++)
			assert_int_equal(role_allows(order[have], order[need]), have >= need);
}

static void
test_hash_of_known_vectors(void **state)
{
	char hex[AUTH_HASH_HEX_LEN + 1];

	auth_token_hash("abc", 3, hex);
	assert_string_equal(hex, SHA256_ABC);
	auth_token_hash("", 0, hex);
	assert_string_equal(hex, SHA256_EMPTY);
	/* Only `len` bytes count. */
	auth_token_hash("abcdef", 3, hex);
	assert_string_equal(hex, SHA256_ABC);
}

static void
test_hash_equal_and_unequal(void **state)
{
	char other[] = SHA256_ABC;

	assert_true(auth_hash_equal(SHA256_ABC, SHA256_ABC));
	assert_false(auth_hash_equal(SHA256_ABC, SHA256_EMPTY));
	other[63] = 'e';
	assert_false(auth_hash_equal(SHA256_ABC, other));
	other[63] = 'd';
	other[0] = 'c';
	assert_false(auth_hash_equal(SHA256_ABC, other));
	/* Wrong lengths never match, even on a common prefix. */
	assert_false(auth_hash_equal(SHA256_ABC, ""));
	assert_false(auth_hash_equal("", ""));
	assert_false(auth_hash_equal(SHA256_ABC "0", SHA256_ABC "0"));
	assert_false(auth_hash_equal(SHA256_ABC, NULL));
}

static void
test_generated_tokens_have_the_shape_and_differ(void **state)
{
	enum { N = 200 };
	char	(*tokens)[AUTH_TOKEN_LEN + 1];
	char	header[128];
	size_t	len;

	assert_non_null(tokens = calloc(N, sizeof(*tokens)));
	for (size_t i = 0; i < N; i++) {
		assert_true(auth_token_generate(tokens[i], sizeof(tokens[i])));
		assert_int_equal(strlen(tokens[i]), AUTH_TOKEN_LEN);
		assert_int_equal(strlen(tokens[i]), 48);
		assert_memory_equal(tokens[i], "ictm_", 5);
		assert_int_equal(strspn(tokens[i] + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
		/* What we hand out, we accept. */
		snprintf(header, sizeof(header), "Bearer %s", tokens[i]);
		assert_ptr_equal(auth_bearer_token(header, &len), header + 7);
		assert_int_equal(len, AUTH_TOKEN_LEN);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(tokens[i], tokens[j]);
	}
	free(tokens);
}

static void
test_generate_refuses_a_short_buffer(void **state)
{
	char out[AUTH_TOKEN_LEN];

	memset(out, 'x', sizeof(out));
	assert_false(auth_token_generate(out, sizeof(out)));
	assert_int_equal(out[0], '\0');
}

static void
test_bearer_good_headers(void **state)
{
	const char	*h;
	size_t		 len = 0;

	h = "Bearer " GOOD_TOKEN;
	assert_ptr_equal(auth_bearer_token(h, &len), h + 7);
	assert_int_equal(len, AUTH_TOKEN_LEN);
	h = "bearer " GOOD_TOKEN;
	assert_ptr_equal(auth_bearer_token(h, &len), h + 7);
	h = "BEARER    " GOOD_TOKEN;
	assert_ptr_equal(auth_bearer_token(h, &len), h + 10);
	h = "Bearer ictm_-_9zZa0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAw";
	assert_ptr_equal(auth_bearer_token(h, NULL), h + 7);
}

static void
test_bearer_bad_headers(void **state)
{
	const char	*bad[] = {
		"",
		"Bearer",
		"Bearer ",
		GOOD_TOKEN,
		"Basic " GOOD_TOKEN,
		"Bearer\t" GOOD_TOKEN,
		"Bearer:" GOOD_TOKEN,
		"Bearerx " GOOD_TOKEN,
		" Bearer " GOOD_TOKEN,
		"Bearer " GOOD_TOKEN " ",
		"Bearer " GOOD_TOKEN "A",
		"Bearer " GOOD_TOKEN "=",
		"Bearer " GOOD_TOKEN "\r\n",
		"Bearer ictm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",	/* 42 */
		"Bearer ICTM_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"Bearer xxxx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"Bearer ictm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",	/* base64 */
		"Bearer ictm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
		"Bearer ictm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
		"Bearer ictm_AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA",
		/* 43 characters, but not the encoding of 32 bytes: stray low bits */
		"Bearer ictm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
		"Bearer ictm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_",
	};
	size_t		len = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (auth_bearer_token(bad[i], &len) != NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_null(auth_bearer_token(NULL, &len));
	assert_int_equal(len, 99);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_names_round_trip),
		cmocka_unit_test(test_role_parse_refuses_other_names),
		cmocka_unit_test(test_role_order_admin_analyst_agency_public),
		cmocka_unit_test(test_hash_of_known_vectors),
		cmocka_unit_test(test_hash_equal_and_unequal),
		cmocka_unit_test(test_generated_tokens_have_the_shape_and_differ),
		cmocka_unit_test(test_generate_refuses_a_short_buffer),
		cmocka_unit_test(test_bearer_good_headers),
		cmocka_unit_test(test_bearer_bad_headers),
	};

	return cmocka_run_group_tests(tests, 0, NULL);
}
