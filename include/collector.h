/*
 * What each kind of published feed holds and how its bytes become ingest batches: a
 * collection reads one downloaded document as it streams in, cuts it into chunks of
 * whole records (each a body the ingest path reads, include/ingest.h) and, once the
 * document is complete, says where its next page is. One kind per file in collectors/,
 * one row in COLLECTOR_KINDS.
 */
#ifndef ICTMON_COLLECTOR_H
#define ICTMON_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "ingest.h"

/*
 * Every kind, as `kind` is written in a [feed.NAME] section. Adding one: a file in
 * collectors/ defining `const struct collector_ops collector_NAME`, and a row here.
 */
#define COLLECTOR_KINDS(X) \
	X(ocds_release_packages) \
	X(ocds_record_packages) \
	X(ocds_jsonl) \
	X(budget_csv) \
	X(projects_json)

/*
 * The same as the config's choice list, "ocds_release_packages|...": every name
 * preceded by "|", the first one skipped.
 */
#define COLLECTOR_CHOICE(kind)	"|" #kind
#define COLLECTOR_CHOICES	(COLLECTOR_KINDS(COLLECTOR_CHOICE) + 1)

struct collection;

/* A limit of 0 is none. */
struct collector_limits {
	size_t	chunk_records;	/* a chunk holds at most this many records */
	size_t	chunk_bytes;	/* ... and is cut once its records reach this size */
	size_t	record_max;	/* one record (or JSON line) larger than this fails */
};

/* A body for ingest_submit holding whole records of the document. */
struct collector_chunk {
	const char		*body;		/* owned by the collection: see collection_take */
	size_t			 len;
	unsigned long long	 first;		/* document index of its first record, from 0 */
	size_t			 records;
	unsigned long		 first_line;	/* document line where that record starts */
};

/*
 * A kind. The function pointers are the kind's own; callers use the collection_*
 * functions below, which hold what every kind shares.
 */
struct collector_ops {
	const char		*kind;		/* "ocds_jsonl" */
	enum ingest_kind	 ingest;	/* what its chunks are */
	enum ingest_format	 format;
	bool			 paged;		/* follows links.next */
	const char		*help;		/* one sentence for the README and GET /v1/feeds */
	/*
	 * `skip` records at the start of the document are counted but left out of
	 * chunks: the kind must know it before the first byte, as records are laid
	 * into chunks while they stream in. NULL when out of memory.
	 */
	void			*(*open)(const struct collector_limits *limits,
				    unsigned long long skip);
	/* Bytes of the document, in order; false with a message on an error. */
	bool			 (*write)(void *state, const char *data, size_t len,
				    char *error, size_t errlen);
	/*
	 * The next chunk when one is full or, with `end` (the document is complete),
	 * the last one. Returns 1 with a chunk, 0 with none, -1 with a message.
	 */
	int			 (*take)(void *state, bool end, struct collector_chunk *out,
				    char *error, size_t errlen);
	/* links.next as written in the document, once complete; NULL when none. */
	const char		*(*next)(void *state);
	unsigned long long	 (*records)(void *state);	/* seen so far, skipped too */
	size_t			 (*buffered)(void *state);	/* bytes held */
	void			 (*close)(void *state);
};

#define COLLECTOR_DECLARE(kind)	extern const struct collector_ops collector_##kind;
COLLECTOR_KINDS(COLLECTOR_DECLARE)
#undef COLLECTOR_DECLARE

/* The kind named `kind`, or NULL. */
const struct collector_ops	*collector_find(const char *kind);
/* Every kind, in COLLECTOR_KINDS order; returns how many. */
size_t				 collector_all(const struct collector_ops *const **out);

/*
 * Starts reading one document (a page) of `ops`'s kind from `url` (for resolving a
 * relative links.next). The first `skip` records were committed by an earlier,
 * interrupted pull of this same page: they are read and dropped. NULL when out of
 * memory.
 */
struct collection	*collection_new(const struct collector_ops *ops,
			    const struct collector_limits *limits, const char *url,
			    unsigned long long skip);
void			 collection_free(struct collection *c);

/*
 * Feeds the next bytes of the document. False on an error, which collection_error
 * then describes with the document's line and column ("line 3, column 17: expected
 * ',' or ']'"); the collection takes nothing more after an error.
 */
bool			 collection_write(struct collection *c, const char *data, size_t len);

enum collection_take {
	COLLECTION_NONE,	/* no full chunk yet (or, at the end, nothing left) */
	COLLECTION_CHUNK,	/* *out holds one */
	COLLECTION_ERROR,	/* collection_error says what */
};

/*
 * The next chunk: a full one, or with `end` true (every byte was written) whatever
 * remains, after checking that the document ended where it should. The chunk stays
 * valid until the next collection_take or collection_free; collection_write leaves
 * it alone, so the download can go on while the chunk is being ingested.
 */
enum collection_take	 collection_take(struct collection *c, bool end,
			    struct collector_chunk *out);

const char		*collection_error(const struct collection *c);
/*
 * The absolute http(s) URL of the next page once the document is complete and
 * names one (links.next, resolved against the page's URL); NULL otherwise. A
 * links.next that is not http(s), or equal to the page's own URL, is an error of
 * collection_take(end).
 */
const char		*collection_next_url(const struct collection *c);
unsigned long long	 collection_records(const struct collection *c);
/* Bytes held but not yet in a chunk: the caller pauses the download above a bound. */
size_t			 collection_buffered(const struct collection *c);

#endif
