/* The body of POST /v1/budget (JSON lines) through budget_read_json, for both scopes. */
#include <string.h>

#include "budget.h"
#include "copy.h"
#include "fuzz.h"
#include "issues.h"
#include "sjson.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct budget_scope scopes[] = {
		{ .agency = "05-62", .any_agency = false },
		{ .agency = NULL, .any_agency = true },
	};

	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		struct copy_rows		rows;
		struct issue_list		issues;
		struct sjson_error		err;
		struct budget_read_result	result;

		memset(&issues, 0, sizeof(issues));
		if (copy_rows_init(&rows) == -1)
			return 0;
		(void)budget_read_json((const char *)data, size, NULL, &scopes[i], &rows,
		    &issues, &err, &result);
		issues_clear(&issues);
		copy_rows_free(&rows);
	}
	return 0;
}
