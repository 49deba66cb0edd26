/*
 * DIPRES's budget law CSV (Partida;Capítulo;Programa;...) through budget_read_csv, as
 * POST /v1/budget with text/csv and the budget feed read it; and the bare CSV reader
 * over the same bytes with both separators.
 */
#include <string.h>

#include "budget.h"
#include "copy.h"
#include "csv.h"
#include "fuzz.h"
#include "issues.h"
#include "sjson.h"

static void
read_records(const uint8_t *data, size_t size, char sep)
{
	struct csv_reader	r;
	struct csv_record	rec;

	csv_reader_init(&r, (const char *)data, size, sep);
	while (csv_next(&r, &rec) > 0)
		;
	csv_reader_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct budget_csv_params	params = { .fiscal_year = 2026, .phase = "approved" };
	struct budget_scope		scope = { .agency = NULL, .any_agency = true };
	struct copy_rows		rows;
	struct issue_list		issues;
	struct sjson_error		err;
	struct budget_read_result	result;

	memset(&issues, 0, sizeof(issues));
	if (copy_rows_init(&rows) == -1)
		return 0;
	(void)budget_read_csv((const char *)data, size, &params, &scope, &rows, &issues,
	    &err, &result);
	issues_clear(&issues);
	copy_rows_free(&rows);

	read_records(data, size, ';');
	read_records(data, size, ',');
	return 0;
}
