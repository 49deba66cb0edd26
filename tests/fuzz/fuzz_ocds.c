/*
 * The body of POST /v1/procurement (OCDS release and record packages, or an array of
 * them) through ocds_read, then the merge of each ocid's releases as ingest compiles
 * them.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "issues.h"
#include "ocds.h"
#include "sjson.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocds_batch	batch;
	struct issue_list	issues;
	struct sjson_error	err;
	json_t			**trees = NULL;
	json_t			*compiled;
	size_t			 n = 0;

	memset(&batch, 0, sizeof(batch));
	memset(&issues, 0, sizeof(issues));
	if (ocds_read((const char *)data, size, NULL, &batch, &issues, &err) != OCDS_READ_OK ||
	    batch.nreleases == 0 ||
	    (trees = calloc(batch.nreleases, sizeof(*trees))) == NULL)
		goto out;
	/* every kept release as if they were one ocid's, as ingest reads them back */
	for (size_t i = 0; i < batch.nreleases; i++) {
		const struct ocds_release *r = &batch.releases[i];

		if ((trees[n] = sjson_parse(r->source, r->source_len, NULL, &err)) != NULL)
			n++;
	}
	if (n > 0 && (compiled = ocds_merge(trees, n)) != NULL)
		json_decref(compiled);
	for (size_t i = 0; i < n; i++)
		json_decref(trees[i]);
out:
	free(trees);
	ocds_batch_free(&batch);
	issues_clear(&issues);
	return 0;
}
