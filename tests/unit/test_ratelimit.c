/*
 * The per-token token buckets of include/ratelimit.h: bursts, refill, Retry-After
 * rounding, tokens kept apart, and many tokens over time (the table is pruned).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

static void
test_burst_then_429_with_retry_after_rounded_up(void **state)
{
	struct ratelimit *rl = ratelimit_new();

	(void)state;
	assert_non_null(rl);
	/* 2 per second, burst 3: three at once, the fourth waits half a second → 1 s */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(rl, 7, 2, 3, 100.0), 0);
	assert_int_equal(ratelimit_take(rl, 7, 2, 3, 100.0), 1);
	/* one token back after 0.5 s */
	assert_int_equal(ratelimit_take(rl, 7, 2, 3, 100.5), 0);
	assert_int_equal(ratelimit_take(rl, 7, 2, 3, 100.5), 1);
	ratelimit_free(rl);
}

static void
test_slow_rate_retry_after_is_whole_seconds(void **state)
{
	struct ratelimit *rl = ratelimit_new();

	(void)state;
	/* one every 8 s (exact in binary, like every step below) */
	assert_int_equal(ratelimit_take(rl, 1, 0.125, 1, 50.0), 0);
	assert_int_equal(ratelimit_take(rl, 1, 0.125, 1, 50.0), 8);
	assert_int_equal(ratelimit_take(rl, 1, 0.125, 1, 54.0), 4);
	assert_int_equal(ratelimit_take(rl, 1, 0.125, 1, 57.5), 1);
	assert_int_equal(ratelimit_take(rl, 1, 0.125, 1, 58.0), 0);
	ratelimit_free(rl);
}

static void
test_tokens_have_their_own_buckets(void **state)
{
	struct ratelimit *rl = ratelimit_new();

	(void)state;
	assert_int_equal(ratelimit_take(rl, 1, 1, 1, 0.0), 0);
	assert_int_not_equal(ratelimit_take(rl, 1, 1, 1, 0.0), 0);
	assert_int_equal(ratelimit_take(rl, 2, 1, 1, 0.0), 0);
	ratelimit_free(rl);
}

static void
test_rate_zero_means_no_limit(void **state)
{
	struct ratelimit *rl = ratelimit_new();

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ratelimit_take(rl, 3, 0, 1, 0.0), 0);
	ratelimit_free(rl);
}

static void
test_refill_stops_at_the_burst(void **state)
{
	struct ratelimit *rl = ratelimit_new();

	(void)state;
	assert_int_equal(ratelimit_take(rl, 9, 10, 2, 0.0), 0);
	/* an hour idle gives back 2, not 36000 */
	assert_int_equal(ratelimit_take(rl, 9, 10, 2, 3600.0), 0);
	assert_int_equal(ratelimit_take(rl, 9, 10, 2, 3600.0), 0);
	assert_int_not_equal(ratelimit_take(rl, 9, 10, 2, 3600.0), 0);
	ratelimit_free(rl);
}

static void
test_many_tokens_over_time_stay_limited(void **state)
{
	struct ratelimit *rl = ratelimit_new();

	(void)state;
	/* 100000 tokens, each seen once a second apart: full buckets are dropped, and
	   the live ones still limit */
	for (long long k = 1; k <= 100000; k++)
		assert_int_equal(ratelimit_take(rl, k, 1, 1, (double)k), 0);
	assert_int_not_equal(ratelimit_take(rl, 100000, 1, 1, 100000.0), 0);
	assert_int_equal(ratelimit_take(rl, 5, 1, 1, 100000.0), 0);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_429_with_retry_after_rounded_up),
		cmocka_unit_test(test_slow_rate_retry_after_is_whole_seconds),
		cmocka_unit_test(test_tokens_have_their_own_buckets),
		cmocka_unit_test(test_rate_zero_means_no_limit),
		cmocka_unit_test(test_refill_stops_at_the_burst),
		cmocka_unit_test(test_many_tokens_over_time_stay_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
