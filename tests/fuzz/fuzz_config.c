/*
 * The configuration file's text through config_load_text: sections, keys, values of
 * every type, feeds and recipients, and the errors it reports with their lines.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors	 errors = { NULL, 0 };
	struct config		*cfg;
	char			*text;

	/* the loader reads a C string: a NUL byte ends the file for it */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if ((cfg = config_load_text(text, "fuzz.conf", NULL, 0, &errors)) != NULL)
		config_free(cfg);
	config_errors_clear(&errors);
	free(text);
	return 0;
}
