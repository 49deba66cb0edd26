/*
 * The chunk builder (collectors/kinds.h): whole records laid into framed bodies as they
 * stream in, full chunks kept until taken. It knows nothing of what a record is.
 */
#include <stdlib.h>
#include <string.h>

#include "kinds.h"

void
chunk_builder_init(struct chunk_builder *b, const struct collector_limits *limits)
{
	memset(b, 0, sizeof(*b));
	b->limits = *limits;
	b->separator = "";
	b->suffix = "";
}

void
chunk_builder_free(struct chunk_builder *b)
{
	free(b->fill);
	free(b->taken);
	free(b->closed);
	free(b->prefix);
	memset(b, 0, sizeof(*b));
}

/* Room for `more` bytes in `fill`, and one for the NUL a taken chunk ends with. */
static bool
fill_reserve(struct chunk_builder *b, size_t more)
{
	size_t	 size;
	char	*grown;

	if (more < b->fill_size - b->fill_len)
		return true;
	if (more > (size_t)-1 / 2 - b->fill_len)
		return false;
	size = b->fill_size ? b->fill_size : 4096;
	while (size <= b->fill_len + more)
		size *= 2;
	if ((grown = realloc(b->fill, size)) == NULL)
		return false;
	b->fill = grown;
	b->fill_size = size;
	return true;
}

static bool
fill_add(struct chunk_builder *b, const char *data, size_t len)
{
	if (len == 0)
		return true;
	if (!fill_reserve(b, len))
		return false;
	memcpy(b->fill + b->fill_len, data, len);
	b->fill_len += len;
	return true;
}

bool
chunk_frame(struct chunk_builder *b, const char *prefix, size_t prefix_len,
    const char *separator, const char *suffix)
{
	char *copy;

	if ((copy = malloc(prefix_len + 1)) == NULL)
		return false;
	memcpy(copy, prefix, prefix_len);
	copy[prefix_len] = '\0';
	free(b->prefix);
	b->prefix = copy;
	b->prefix_len = prefix_len;
	b->separator = separator;
	b->suffix = suffix;
	return true;
}

bool
chunk_record_begin(struct chunk_builder *b, unsigned long long index, unsigned long line)
{
	if (b->open)
		return fill_add(b, b->separator, strlen(b->separator));
	b->open = true;
	b->open_start = b->fill_len;
	b->open_first = index;
	b->open_records = 0;
	b->open_line = line;
	return fill_add(b, b->prefix, b->prefix_len);
}

bool
chunk_record_add(struct chunk_builder *b, const char *data, size_t len)
{
	return fill_add(b, data, len);
}

bool
chunk_close(struct chunk_builder *b)
{
	struct closed_chunk	*grown;
	size_t			 size;

	if (!b->open)
		return true;
	if (!fill_add(b, b->suffix, strlen(b->suffix)))
		return false;
	if (b->nclosed == b->closed_size) {
		size = b->closed_size ? b->closed_size * 2 : 4;
		if ((grown = reallocarray(b->closed, size, sizeof(*grown))) == NULL)
			return false;
		b->closed = grown;
		b->closed_size = size;
	}
	b->closed[b->nclosed++] = (struct closed_chunk){
		.len = b->fill_len - b->open_start,
		.first = b->open_first,
		.records = b->open_records,
		.first_line = b->open_line,
	};
	b->open = false;
	b->open_start = b->fill_len;
	return true;
}

bool
chunk_record_end(struct chunk_builder *b)
{
	size_t	bytes;

	b->open_records++;
	bytes = b->fill_len - b->open_start + strlen(b->suffix);
	if ((b->limits.chunk_records > 0 && b->open_records >= b->limits.chunk_records) ||
	    (b->limits.chunk_bytes > 0 && bytes >= b->limits.chunk_bytes))
		return chunk_close(b);
	return true;
}

int
chunk_take(struct chunk_builder *b, struct collector_chunk *out)
{
	struct closed_chunk	 chunk;
	char			*spare;
	size_t			 spare_size, rest;

	if (b->nclosed == 0)
		return 0;
	chunk = b->closed[0];
	memmove(b->closed, b->closed + 1, (b->nclosed - 1) * sizeof(*b->closed));
	b->nclosed--;

	/*
	 * The chunk is at the front of `fill`: that buffer becomes `taken` as it is, and
	 * only what follows the chunk moves, into the buffer taken last time.
	 */
	rest = b->fill_len - chunk.len;
	spare = b->taken;
	spare_size = b->taken_size;
	if (spare_size <= rest) {
		free(spare);
		spare_size = b->fill_size;
		if ((spare = malloc(spare_size)) == NULL) {
			b->taken = NULL;
			b->taken_size = 0;
			return -1;
		}
	}
	memcpy(spare, b->fill + chunk.len, rest);
	b->taken = b->fill;
	b->taken_size = b->fill_size;
	b->taken[chunk.len] = '\0';
	b->fill = spare;
	b->fill_size = spare_size;
	b->fill_len = rest;
	b->open_start -= chunk.len;

	out->body = b->taken;
	out->len = chunk.len;
	out->first = chunk.first;
	out->records = chunk.records;
	out->first_line = chunk.first_line;
	return 1;
}

size_t
chunk_buffered(const struct chunk_builder *b)
{
	return b->fill_len;
}
