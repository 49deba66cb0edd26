/*
 * The read API's lists as CSV for a spreadsheet: whether a request's Accept asks for
 * it, a page's JSON items as one table, and the Link to the next page. Pure: no I/O.
 */
#ifndef ICTMON_CSVOUT_H
#define ICTMON_CSVOUT_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

/*
 * Whether an Accept header prefers text/csv to application/json (RFC 9110 12.5.1):
 * each type takes the q-value of the most specific range that matches it (the type
 * itself, then its type's wildcard, then the wildcard of all), and CSV is chosen only
 * when its q is strictly higher. NULL, empty, the wildcard of all or a tie mean JSON;
 * elements that cannot be read are skipped.
 */
bool	 csvout_wanted(const char *accept);

/*
 * Appends a page's items, each a JSON object as text, as an RFC 4180 table: a header
 * row and one row per item, comma-separated, every record ending in CRLF, UTF-8 as it
 * is (no byte order mark).
 * - Columns: the union of the items' member names in the order first seen over the
 *   page (the first item's members in their order, then any new member of the second,
 *   and so on); an item without a member has an empty cell there. The lists build
 *   every item with the same members, so pages agree on their columns.
 * - Cells: a string as it is; a number as its JSON text (never through a double);
 *   true, false; null and missing empty; an array of scalars its elements joined with
 *   "; "; any other array or object as compact JSON.
 * - Spreadsheet safety: a cell that starts with = + - @, TAB or CR is prefixed with
 *   a single quote, unless the whole cell is a number in JSON's syntax (-12.5, or a
 *   decimal string such as "-12.50"), which no spreadsheet reads as a formula. Header
 *   names are guarded the same way.
 * An empty page appends nothing: without an item there are no columns to name.
 * False when out of memory or an item is not a JSON object; `out` then holds part of
 * the table.
 */
bool	 csvout_table(struct evbuffer *out, const char *const *items, const size_t *lens,
	    size_t n);

/*
 * The Link header value of the next page: `<path?query&after=cursor>; rel="next"`,
 * the query as it was without its `after` arguments, bytes a URI may not hold
 * percent-encoded. query may be NULL. NULL when out of memory; the caller frees it.
 */
char	*csvout_next_link(const char *path, const char *query, const char *cursor);

#endif
