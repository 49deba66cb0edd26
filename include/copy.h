/*
 * Rows in PostgreSQL's COPY text format: fields escaped, tab-separated, \N for NULL,
 * one line per row. What every bulk write sends to a staging table.
 */
#ifndef ICTMON_COPY_H
#define ICTMON_COPY_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

struct copy_rows {
	struct evbuffer	*buf;		/* the COPY data */
	size_t		 rows;
	int		 fields;	/* in the row being written */
	bool		 failed;	/* out of memory, or a NUL byte given: do not send */
};

int	copy_rows_init(struct copy_rows *c);		/* -1 on allocation failure */
void	copy_rows_free(struct copy_rows *c);
void	copy_field(struct copy_rows *c, const char *text);	/* NULL writes \N */
void	copy_fieldn(struct copy_rows *c, const char *text, size_t len);
void	copy_fieldf(struct copy_rows *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	copy_null(struct copy_rows *c);
void	copy_end_row(struct copy_rows *c);

#endif
