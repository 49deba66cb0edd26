/*
 * A published feed's document as the collectors stream it in (collectors/: the JSON
 * scanner, release and record packages, JSON lines, the budget CSV, projects): cut
 * into pieces of any size, chunks taken between pieces as feeds.c does, links.next
 * resolved at the end.
 */
#include <stdbool.h>
#include <string.h>

#include "collector.h"
#include "fuzz.h"

/*
 * The first two bytes choose, the rest is the document: byte 0 the kind (low 3 bits),
 * how many records to skip (next 2) and whether chunks are cut small (top bit); byte 1
 * the piece size (0: the whole document at once), so that every boundary gets crossed.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct collector_ops *const *kinds;
	const struct collector_ops	*ops;
	struct collection		*c = NULL;
	struct collector_limits		 limits;
	struct collector_chunk		 chunk;
	enum collection_take		 rc = COLLECTION_NONE;
	size_t				 nkinds, piece, at, len;
	unsigned long long		 skip;
	bool				 ok = true;

	if (size < 2)
		return 0;
	nkinds = collector_all(&kinds);
	ops = kinds[(data[0] & 7) % nkinds];
	skip = (data[0] >> 3) & 3;
	if (data[0] & 0x80)
		limits = (struct collector_limits){ 2, 256, 4096 };
	else
		limits = (struct collector_limits){ 500, 1 << 20, 1 << 20 };
	piece = data[1];
	data += 2;
	size -= 2;
	if (piece == 0)
		piece = size > 0 ? size : 1;

	if ((c = collection_new(ops, &limits, "https://feed.example/page?p=1", skip)) ==
	    NULL)
		return 0;
	for (at = 0; ok && at < size; at += len) {
		len = size - at < piece ? size - at : piece;
		if (!collection_write(c, (const char *)data + at, len))
			ok = false;
		while (ok && (rc = collection_take(c, false, &chunk)) == COLLECTION_CHUNK)
			;
		if (ok && rc == COLLECTION_ERROR)
			ok = false;
	}
	while (ok && (rc = collection_take(c, true, &chunk)) == COLLECTION_CHUNK)
		;
	(void)collection_next_url(c);
	(void)collection_records(c);
	(void)collection_buffered(c);
	(void)collection_error(c);
	collection_free(c);
	return 0;
}
