/*
 * An indicator result's evidence rows (evidence.rows, objects with a "kind") as tables,
 * one per kind, written as aligned plain text and as HTML for an alert email.
 */
#ifndef ICTMON_EVIDENCE_TABLE_H
#define ICTMON_EVIDENCE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "textout.h"

/*
 * The evidence object's rows as tables, one per kind in the order the kinds first come,
 * titled from the kind ("budget_line" → "Budget lines", no kind → "Rows"): the usual
 * columns first (agency, ocid, award id, ..., amount, currency), then every other key
 * that holds a value; amounts formatted as money_format() does and aligned right. At
 * most 20 rows, then "… and K more rows" (K from evidence.rows_total when it says
 * more). Plain text goes to text (a blank line before each table, lines well under
 * SMTP's 998 octets), HTML to html; nothing when there are no rows. A failure is
 * remembered in the writers: check both when closing them.
 */
void	evidence_tables_write(struct out *text, struct out *html, const json_t *evidence);

/*
 * An exact decimal ("-1234567.5") as SQL's ictmon_money() writes it in the summaries:
 * "," between thousands, "." before the cents ("-1,234,567.50"); a fraction of zeros
 * says nothing and is dropped, one digit gets its second, more are kept as given.
 * False when the text is not a plain decimal or does not fit in len octets.
 */
bool	money_format(const char *dec, char *out, size_t len);

#endif
