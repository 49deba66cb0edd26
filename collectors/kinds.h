/*
 * What the collector kinds share and nobody else calls: the chunk builder that lays
 * whole records into bodies for the ingest path, and the reader of documents that are
 * an object holding one array of records ({"releases": [...]}, {"projects": [...]}).
 */
#ifndef ICTMON_COLLECTORS_KINDS_H
#define ICTMON_COLLECTORS_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include "collector.h"

/* A chunk that is full and waits to be taken. */
struct closed_chunk {
	size_t			 len;
	unsigned long long	 first;
	size_t			 records;
	unsigned long		 first_line;
};

/*
 * Records are copied into `fill` as they arrive, each chunk framed by a prefix, a
 * separator between records and a suffix ({"releases":[ , ]}); full chunks wait at the
 * front of `fill` until taken. A taken chunk moves to `taken`, which nothing else
 * touches until the next take, so the download goes on while it is being ingested.
 */
struct chunk_builder {
	struct collector_limits	 limits;
	char			*fill;
	size_t			 fill_len;
	size_t			 fill_size;
	char			*taken;
	size_t			 taken_size;
	struct closed_chunk	*closed;
	size_t			 nclosed;
	size_t			 closed_size;
	/* The chunk being filled, from fill + open_start. */
	bool			 open;
	size_t			 open_start;
	unsigned long long	 open_first;
	size_t			 open_records;
	unsigned long		 open_line;
	char			*prefix;
	size_t			 prefix_len;
	const char		*separator;
	const char		*suffix;
};

/* A limit of 0 is no limit. */
void	chunk_builder_init(struct chunk_builder *b, const struct collector_limits *limits);
void	chunk_builder_free(struct chunk_builder *b);
/*
 * How chunks from now on are framed: the prefix is copied, the separator and suffix
 * must outlive the builder. Close the open chunk first. False when out of memory.
 */
bool	chunk_frame(struct chunk_builder *b, const char *prefix, size_t prefix_len,
	    const char *separator, const char *suffix);
/* A record with document index `index`, starting at line `line`, begins. */
bool	chunk_record_begin(struct chunk_builder *b, unsigned long long index,
	    unsigned long line);
bool	chunk_record_add(struct chunk_builder *b, const char *data, size_t len);
/* The record is whole; the chunk closes once full. */
bool	chunk_record_end(struct chunk_builder *b);
/* Closes the open chunk, if it holds a record, so that it can be taken. */
bool	chunk_close(struct chunk_builder *b);
/* The oldest closed chunk into *out: 1, or 0 when none. */
int	chunk_take(struct chunk_builder *b, struct collector_chunk *out);
/* Bytes in `fill`: records not yet taken, and the one being read. */
size_t	chunk_buffered(const struct chunk_builder *b);

/*
 * A document that is an object with an array member `member` ("releases") whose
 * elements are the records, called `word` in messages ("release 17"); `links.next`
 * names the next page. Other members are checked for syntax and dropped.
 */
struct array_document_kind {
	const char	*member;
	const char	*word;
};

void		*array_document_open(const struct array_document_kind *kind,
		    const struct collector_limits *limits, unsigned long long skip);
bool		 array_document_write(void *state, const char *data, size_t len,
		    char *error, size_t errlen);
int		 array_document_take(void *state, bool end, struct collector_chunk *out,
		    char *error, size_t errlen);
const char	*array_document_next(void *state);
unsigned long long array_document_records(void *state);
size_t		 array_document_buffered(void *state);
void		 array_document_close(void *state);

#endif
