/*
 * Checks shared by the validators of pushed records (projects, budget lines): exact
 * decimal amounts kept as text, calendar dates, currency codes, small integers, string
 * lengths in characters, and the keys of a batch, to find a record given twice.
 */
#ifndef ICTMON_FIELDCHECK_H
#define ICTMON_FIELDCHECK_H

#include <stdbool.h>
#include <stddef.h>

struct issue_list;

/* An amount's bounds: numeric(24,6) holds any amount accepted. */
#define AMOUNT_INT_DIGITS_MAX	18
#define AMOUNT_FRAC_DIGITS_MAX	6

enum amount_fault {
	AMOUNT_OK,
	AMOUNT_NOT_DECIMAL,		/* not -?(0|[1-9][0-9]*)(\.[0-9]+)? */
	AMOUNT_EXPONENT,		/* 1e3: refused, a reader could not see its size */
	AMOUNT_NEGATIVE,
	AMOUNT_TOO_LARGE,		/* more than AMOUNT_INT_DIGITS_MAX integer digits */
	AMOUNT_TOO_PRECISE,		/* more than AMOUNT_FRAC_DIGITS_MAX fraction digits */
};

/*
 * An amount's text as JSON writes a number without an exponent ("1311264.00",
 * "-12.5", "0"): no sign but '-', no leading zeros, no white space. Negative amounts
 * only when `negative_ok`.
 */
enum amount_fault	 fieldcheck_amount(const char *text, bool negative_ok);
/* What a field with that fault must be: "must be a decimal amount ...". */
const char		*fieldcheck_amount_message(enum amount_fault fault);

/* A real calendar date written YYYY-MM-DD, years FIELDCHECK_YEAR_MIN to _MAX. */
#define FIELDCHECK_YEAR_MIN	1900
#define FIELDCHECK_YEAR_MAX	2200
bool	fieldcheck_date(const char *text);
/* ISO 4217's shape: three capital letters. Whether the code exists is not checked. */
bool	fieldcheck_currency(const char *text);
/*
 * An integer written in decimal digits with an optional '-' (no '+', no fraction, no
 * exponent, no white space), between min and max.
 */
bool	fieldcheck_integer(const char *text, long min, long max, long *value);

/*
 * The keys of a batch's records, to report a record that repeats an earlier one. Keys
 * are collected while reading and compared once at the end by sorting, so the time
 * stays n log n whatever keys a client chooses.
 */
struct batch_key;

struct batch_keys {
	struct batch_key	**keys;
	size_t			  count;
	size_t			  cap;
	bool			  failed;	/* out of memory */
};

/*
 * Adds a record's key (len bytes, may hold NUL). `where` is the pointer its issue
 * goes to if it repeats an earlier key, `label` how it is named as the earlier one.
 */
void	batch_keys_add(struct batch_keys *k, const void *key, size_t len, long record,
	    const char *where, const char *label);
/*
 * One issue per record whose key an earlier record had: "duplicates /projects/2
 * (`why`)". Returns how many.
 */
size_t	batch_keys_report(struct batch_keys *k, struct issue_list *issues,
	    const char *why);
void	batch_keys_free(struct batch_keys *k);

#endif
