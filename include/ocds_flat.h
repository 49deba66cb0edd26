/*
 * The flat rows of a compiled OCDS release (tender, awards, their suppliers, contracts,
 * items, transactions) as COPY text, read from the release's tree in C so that amounts
 * keep their exact text. This is the one place that decides which published values can
 * be read: an amount that is not a plain decimal or a date that is not a real ISO 8601
 * instant becomes NULL, never an error. It does not map buyers to agencies (SQL does).
 */
#ifndef ICTMON_OCDS_FLAT_H
#define ICTMON_OCDS_FLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "copy.h"

/*
 * One COPY data set per table; the columns, in order:
 *  tender		ocid, tender_id, title, status, method, method_details, value_amount,
 *			currency, period_start, period_end
 *  award		ocid, award_id, title, status, date, value_amount, currency
 *  award_supplier	ocid, award_id, supplier_id, name, scheme, identifier
 *  contract		ocid, contract_id, award_id, title, status, value_amount, currency,
 *			date_signed, period_start, period_end
 *  item		ocid, parent_kind, parent_id, item_id, description,
 *			classification_scheme, classification_id, quantity, unit_amount,
 *			currency
 *  transaction		ocid, contract_id, transaction_id, date, value_amount, currency,
 *			payer_id, payer_name, payee_id, payee_name
 * Keys are unique within each set (the first of a repeated id wins) but for
 * award_supplier, which may repeat a pair and name a supplier several times.
 */
struct ocds_flat {
	struct copy_rows	tender;
	struct copy_rows	award;
	struct copy_rows	award_supplier;
	struct copy_rows	contract;
	struct copy_rows	item;
	struct copy_rows	transaction;
};

int	ocds_flat_init(struct ocds_flat *f);	/* -1 on allocation failure */
void	ocds_flat_free(struct ocds_flat *f);
/* Adds the rows of one compiled release; false on allocation failure. */
bool	ocds_flat_add(struct ocds_flat *f, const char *ocid, const json_t *compiled);

/* The readers, exported for their tests: NULL when the value cannot be read. */
const char	*ocds_flat_id(const json_t *v);		/* a string or number, not "" */
const char	*ocds_flat_text(const json_t *v);	/* a string, number or boolean */
/* A number, or a string holding a plain decimal: its text without the string's
   surrounding white space, `len` bytes long. */
const char	*ocds_flat_amount(const json_t *v, size_t *len);
bool		 ocds_flat_instant_valid(const char *text);	/* ISO 8601 date[-time] */

#endif
