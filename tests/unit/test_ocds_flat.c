/*
 * The flat rows of a compiled release (daemon/ocds_flat.c): the CDMX fixture's tender,
 * award, supplier, contract, items and OCDS 1.0 transactions with their exact amounts,
 * the readers' rules for amounts and dates, and the first of a repeated id winning.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "ocds_flat.h"
#include "sjson.h"
#include "shared_data.h"

static json_t *
parse(const char *text, size_t len)
{
	struct sjson_error	 err;
	json_t			*j;

	if ((j = sjson_parse(text, len, NULL, &err)) == NULL)
		fail_msg("bad test JSON at %d:%d: %s", err.line, err.column, err.message);
	return j;
}

/* A tree from JSON written with single quotes, which read better in C strings. */
static json_t *
tree(const char *text)
{
	char	*json;
	json_t	*j;

	assert_non_null(json = strdup(text));
	for (char *p = json; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	j = parse(json, strlen(json));
	free(json);
	return j;
}

static json_t *
load_fixture(const char *name)
{
	char	 path[256], *text;
	size_t	 len;
	json_t	*j;

	snprintf(path, sizeof(path), "ocds/%s", name);
	if ((text = shared_data_read(path, &len)) == NULL)
		return NULL;
	j = parse(text, len);
	free(text);
	return j;
}

/* Field `field` of row `row` of the COPY data, "\\N" for NULL; caller frees. */
static char *
field(const struct copy_rows *c, size_t row, int field)
{
	size_t		 len = evbuffer_get_length(c->buf);
	const char	*data = (const char *)evbuffer_pullup(c->buf, -1);
	const char	*p = data, *end = data + len, *stop;

	for (size_t r = 0; r < row; r++) {
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			fail_msg("no row %zu", row);
		p++;
	}
	for (int f = 0; f < field; f++) {
		while (p < end && *p != '\t' && *p != '\n')
			p++;
		if (p >= end || *p != '\t')
			fail_msg("no field %d in row %zu", field, row);
		p++;
	}
	for (stop = p; stop < end && *stop != '\t' && *stop != '\n'; stop++)
		;
	return strndup(p, (size_t)(stop - p));
}

static void
assert_field(const struct copy_rows *c, size_t row, int f, const char *want)
{
	char *got = field(c, row, f);

	assert_string_equal(got, want);
	free(got);
}

static void
test_cdmx_compiled_release_gives_its_flat_rows(void **state)
{
	struct ocds_flat	 flat;
	json_t			*compiled;
	const char		*ocid = "OCDS-87SD3T-AD-SF-DRM-063-2015";

	(void)state;
	if ((compiled = load_fixture("cdmx-compiled-release-1.json")) == NULL)
		skip();
	assert_int_equal(ocds_flat_init(&flat), 0);
	assert_true(ocds_flat_add(&flat, ocid, compiled));

	assert_int_equal(flat.tender.rows, 1);
	assert_field(&flat.tender, 0, 0, ocid);
	assert_field(&flat.tender, 0, 4, "selective");
	assert_field(&flat.tender, 0, 5, "\\N");
	assert_field(&flat.tender, 0, 6, "1311264.0");	/* the text as published */
	assert_field(&flat.tender, 0, 7, "MXN");

	assert_int_equal(flat.award.rows, 1);
	assert_field(&flat.award, 0, 1, "1");
	assert_field(&flat.award, 0, 3, "active");
	assert_field(&flat.award, 0, 4, "2015-12-30T00:00:00-06:00");
	assert_field(&flat.award, 0, 5, "1311264.0");

	/* No party list and no scheme: the supplier is known by its identifier's id. */
	assert_int_equal(flat.award_supplier.rows, 1);
	assert_field(&flat.award_supplier, 0, 2, "C&C021030KX2");
	assert_field(&flat.award_supplier, 0, 3, "COMUNIC@RTE & CONSULTING SA DE C");
	assert_field(&flat.award_supplier, 0, 4, "\\N");
	assert_field(&flat.award_supplier, 0, 5, "C&C021030KX2");

	assert_int_equal(flat.contract.rows, 1);
	assert_field(&flat.contract, 0, 2, "1");
	assert_field(&flat.contract, 0, 7, "2015-12-30T00:00:00-06:00");
	assert_field(&flat.contract, 0, 9, "2016-12-31T00:00:00-06:00");

	/* The tender's item, the award's and the contract's. */
	assert_int_equal(flat.item.rows, 3);
	assert_field(&flat.item, 0, 1, "tender");
	assert_field(&flat.item, 0, 2, "\\N");
	assert_field(&flat.item, 0, 7, "471");
	assert_field(&flat.item, 1, 1, "award");
	assert_field(&flat.item, 1, 2, "1");
	assert_field(&flat.item, 2, 1, "contract");
	assert_field(&flat.item, 2, 2, "1");

	/* OCDS 1.0 transactions: amount, providerOrganization, receiverOrganization. */
	assert_int_equal(flat.transaction.rows, 11);
	assert_field(&flat.transaction, 0, 1, "1");
	assert_field(&flat.transaction, 0, 2, "CLC0010000009-2016");
	assert_field(&flat.transaction, 0, 4, "109272");
	assert_field(&flat.transaction, 0, 5, "MXN");
	assert_field(&flat.transaction, 0, 6, "0901");
	assert_field(&flat.transaction, 0, 9, "COMUNIC@RTE & CONSULTING SA DE CV");

	ocds_flat_free(&flat);
	json_decref(compiled);
}

static void
test_amounts_are_plain_decimals_or_null(void **state)
{
	static const struct {
		const char	*json;
		const char	*want;		/* NULL: not an amount */
	} cases[] = {
		{ "12.50", "12.50" },
		{ "-3e2", "-3e2" },
		{ "'  1311264.00 '", "1311264.00" },
		{ "'+.5'", "+.5" },
		{ "'7.'", "7." },
		{ "'1e999'", "1e999" },
		{ "'1e1000'", NULL },
		{ "'1,000'", NULL },
		{ "''", NULL },
		{ "'.'", NULL },
		{ "'12 MXN'", NULL },
		{ "true", NULL },
		{ "{'amount': 1}", NULL },
	};
	char	doc[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t		*j;
		const char	*got;
		size_t		 len = 0;

		snprintf(doc, sizeof(doc), "[%s]", cases[i].json);
		j = tree(doc);
		got = ocds_flat_amount(json_array_get(j, 0), &len);
		if (cases[i].want == NULL) {
			if (got != NULL)
				fail_msg("%s read as an amount", cases[i].json);
		} else {
			assert_non_null(got);
			assert_int_equal(len, strlen(cases[i].want));
			assert_memory_equal(got, cases[i].want, len);
		}
		json_decref(j);
	}
}

static void
test_instants_are_real_iso_8601(void **state)
{
	(void)state;
	assert_true(ocds_flat_instant_valid("2024-02-29"));
	assert_true(ocds_flat_instant_valid("2024-02-29T23:59:59.123456789+05:30"));
	assert_true(ocds_flat_instant_valid("2017-06-05T00:00:00-06:00"));
	assert_true(ocds_flat_instant_valid("2017-06-05 10:30Z"));
	assert_true(ocds_flat_instant_valid("2017-06-05T10:30:00+0100"));
	assert_true(ocds_flat_instant_valid("2017-06-05T10:30:00-03"));
	assert_false(ocds_flat_instant_valid("2023-02-29"));
	assert_false(ocds_flat_instant_valid("2024-13-01"));
	assert_false(ocds_flat_instant_valid("0000-01-01"));
	assert_false(ocds_flat_instant_valid("2024-01-01T24:00"));
	assert_false(ocds_flat_instant_valid("2024-01-01T10:60"));
	assert_false(ocds_flat_instant_valid("2024-01-01T10"));
	assert_false(ocds_flat_instant_valid("2024-01-01T10:00:00."));
	assert_false(ocds_flat_instant_valid("2024-01-01T10:00:00+16:00"));
	assert_false(ocds_flat_instant_valid("2024-1-01"));
	assert_false(ocds_flat_instant_valid("01/02/2024"));
	assert_false(ocds_flat_instant_valid(""));
	assert_false(ocds_flat_instant_valid(NULL));
}

static void
test_first_of_a_repeated_id_wins_and_odd_values_are_null(void **state)
{
	struct ocds_flat	 flat;
	json_t			*compiled;

	(void)state;
	compiled = tree("{'ocid': 'o-1', 'tender': 'not an object',"
	    " 'parties': [{'id': 'S1', 'name': 'Party name',"
	    "   'identifier': {'scheme': 'CL-RUT', 'id': '76.1'}}],"
	    " 'awards': ["
	    "  {'id': 'A', 'value': {'amount': 'ten'}, 'date': '2024-02-30',"
	    "   'suppliers': [{'id': 'S1'}], 'items': [{'description': 'x'}, 7,"
	    "   {'description': 'y'}]},"
	    "  {'id': 'A', 'title': 'again', 'suppliers': [{'identifier':"
	    "   {'scheme': 'CL-RUT', 'id': '99'}}]},"
	    "  {'title': 'no id'}, 'not an award'],"
	    " 'contracts': [{'id': 7, 'implementation': {'transactions': ["
	    "  {'value': {'amount': null}, 'amount': {'amount': 5}},"
	    "  {'id': '1', 'value': {'amount': '6.00', 'currency': 'CLP'}}]}}]}");
	assert_int_equal(ocds_flat_init(&flat), 0);
	assert_true(ocds_flat_add(&flat, "o-1", compiled));

	assert_int_equal(flat.tender.rows, 0);
	assert_int_equal(flat.award.rows, 1);
	assert_field(&flat.award, 0, 2, "\\N");
	assert_field(&flat.award, 0, 4, "\\N");
	assert_field(&flat.award, 0, 5, "\\N");

	/* Both awards' suppliers go to award A; the party fills in the first. */
	assert_int_equal(flat.award_supplier.rows, 2);
	assert_field(&flat.award_supplier, 0, 2, "S1");
	assert_field(&flat.award_supplier, 0, 3, "Party name");
	assert_field(&flat.award_supplier, 0, 4, "CL-RUT");
	assert_field(&flat.award_supplier, 0, 5, "76.1");
	assert_field(&flat.award_supplier, 1, 1, "A");
	assert_field(&flat.award_supplier, 1, 2, "CL-RUT-99");

	/* Items without id are known by their place in the list. */
	assert_int_equal(flat.item.rows, 2);
	assert_field(&flat.item, 0, 3, "1");
	assert_field(&flat.item, 1, 3, "3");

	/* A number id is its text; an explicit null value hides OCDS 1.0's amount; the
	   second transaction's id "1" repeats the first one's place. */
	assert_int_equal(flat.contract.rows, 1);
	assert_field(&flat.contract, 0, 1, "7");
	assert_int_equal(flat.transaction.rows, 1);
	assert_field(&flat.transaction, 0, 2, "1");
	assert_field(&flat.transaction, 0, 4, "\\N");

	ocds_flat_free(&flat);
	json_decref(compiled);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cdmx_compiled_release_gives_its_flat_rows),
		cmocka_unit_test(test_amounts_are_plain_decimals_or_null),
		cmocka_unit_test(test_instants_are_real_iso_8601),
		cmocka_unit_test(test_first_of_a_repeated_id_wins_and_odd_values_are_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
