/*
 * Token buckets per API token (include/ratelimit.h), in an open-addressing table keyed
 * by token id. Buckets that have refilled completely carry no information and are
 * dropped when the table grows, so memory follows the tokens active recently.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ratelimit.h"

#define TABLE_MIN	64

struct bucket {
	long long	key;
	double		tokens;
	double		last;		/* when tokens was computed */
	double		full_at;	/* from then on the bucket is full again */
	int		used;
};

struct ratelimit {
	struct bucket	*table;
	size_t		 size;		/* a power of two */
	size_t		 count;
};

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if ((rl->table = calloc(TABLE_MIN, sizeof(*rl->table))) == NULL) {
		free(rl);
		return NULL;
	}
	rl->size = TABLE_MIN;
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->table);
	free(rl);
}

static size_t
slot_of(long long key, size_t size)
{
	uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (size - 1);
}

static struct bucket *
find(struct bucket *table, size_t size, long long key)
{
	size_t i = slot_of(key, size);

	while (table[i].used && table[i].key != key)
		i = (i + 1) & (size - 1);
	return &table[i];
}

/*
 * Rebuilds the table without the buckets that are full by now, doubling it when what
 * is left would still fill it more than half.
 */
static int
rebuild(struct ratelimit *rl, double now)
{
	struct bucket	*table;
	size_t		 live = 0, size = rl->size;

	for (size_t i = 0; i < rl->size; i++)
		live += rl->table[i].used && rl->table[i].full_at > now;
	while ((live + 1) * 2 > size)
		size *= 2;
	if ((table = calloc(size, sizeof(*table))) == NULL)
		return -1;
	for (size_t i = 0; i < rl->size; i++) {
		if (rl->table[i].used && rl->table[i].full_at > now)
			*find(table, size, rl->table[i].key) = rl->table[i];
	}
	free(rl->table);
	rl->table = table;
	rl->size = size;
	rl->count = live;
	return 0;
}

unsigned
ratelimit_take(struct ratelimit *rl, long long key, double rate, double burst,
    double now)
{
	struct bucket	*b;
	double		 wait;

	if (rl == NULL || rate <= 0)
		return 0;
	if (burst < 1)
		burst = 1;
	b = find(rl->table, rl->size, key);
	if (!b->used) {
		if ((rl->count + 1) * 2 > rl->size) {
			if (rebuild(rl, now) == -1)
				return 0;
			b = find(rl->table, rl->size, key);
		}
		b->used = 1;
		b->key = key;
		b->tokens = burst;
		b->last = now;
		rl->count++;
	}
	if (now > b->last) {
		b->tokens += (now - b->last) * rate;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last = now;
	}
	if (b->tokens >= 1) {
		b->tokens -= 1;
		b->full_at = now + (burst - b->tokens) / rate;
		return 0;
	}
	wait = ceil((1 - b->tokens) / rate);
	return wait < 1 ? 1 : wait > 86400 ? 86400 : (unsigned)wait;
}
