/*
 * The real public data next to the repository (../shared/data) as unit tests read it:
 * a file's path and its whole content. A test skips when the data is absent.
 */
#ifndef ICTMON_TEST_SHARED_DATA_H
#define ICTMON_TEST_SHARED_DATA_H

#include <stdio.h>
#include <stdlib.h>

/* "ocds/x.json" under ../shared/data of ICTMON_SOURCE_DIR (ctest sets it); malloc'd. */
static inline char *
shared_data_path(const char *relpath)
{
	const char	*src = getenv("ICTMON_SOURCE_DIR");
	char		*path;

	if (asprintf(&path, "%s/../shared/data/%s", src != NULL ? src : ".", relpath) == -1)
		return NULL;
	return path;
}

/* The whole file, NUL-terminated, malloc'd; NULL when it cannot be read. */
static inline char *
shared_data_read(const char *relpath, size_t *len)
{
	char	*path = shared_data_path(relpath), *buf = NULL;
	FILE	*fp = NULL;
	long	 size;

	*len = 0;
	if (path == NULL || (fp = fopen(path, "rb")) == NULL)
		goto out;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL &&
	    fread(buf, 1, (size_t)size, fp) == (size_t)size) {
		buf[size] = '\0';
		*len = (size_t)size;
	} else {
		free(buf);
		buf = NULL;
	}
out:
	if (fp != NULL)
		fclose(fp);
	free(path);
	return buf;
}

#endif
