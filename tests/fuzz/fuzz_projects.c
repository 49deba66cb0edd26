/*
 * The body of POST /v1/projects through project_read, as an agency token pushes it
 * (records of another agency are forbidden) and as an analyst does (any agency).
 */
#include <string.h>

#include "copy.h"
#include "fuzz.h"
#include "issues.h"
#include "project.h"
#include "sjson.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct project_scope scopes[] = {
		{ .agency = "05-62", .any_agency = false },
		{ .agency = NULL, .any_agency = true },
	};

	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		struct copy_rows		rows;
		struct issue_list		issues;
		struct sjson_error		err;
		struct project_read_result	result;

		memset(&issues, 0, sizeof(issues));
		if (copy_rows_init(&rows) == -1)
			return 0;
		(void)project_read((const char *)data, size, NULL, &scopes[i], &rows,
		    &issues, &err, &result);
		issues_clear(&issues);
		copy_rows_free(&rows);
	}
	return 0;
}
