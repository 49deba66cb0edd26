/*
 * Runs a harness over files, as libFuzzer would run them once: every file named, and
 * every file in every directory named (a directory that does not exist is skipped, so
 * a harness without kept crashers needs none). Each input is copied into a buffer of
 * exactly its size, so that a read past its end is the sanitizers' to see.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
replay_file(const char *path)
{
	FILE		*f = NULL;
	uint8_t		*data = NULL;
	struct stat	 st;
	int		 rc = -1;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		goto out;
	}
	/* malloc(0) may return NULL: one byte more, never read */
	if ((data = malloc((size_t)st.st_size + 1)) == NULL ||
	    fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: cannot read it\n", path);
		goto out;
	}
	LLVMFuzzerTestOneInput(data, (size_t)st.st_size);
	rc = 0;
out:
	free(data);
	if (f != NULL)
		fclose(f);
	return rc;
}

static int
replay_dir(const char *dir, size_t *count)
{
	struct dirent	**names = NULL;
	char		  path[4096];
	int		  n, i, rc = 0;

	if ((n = scandir(dir, &names, NULL, alphasort)) == -1)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			if (replay_file(path) == -1)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat	 st;
	size_t		 count = 0;
	int		 i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) == -1)
				rc = 1;
		} else if (errno != ENOENT || stat(argv[i], &st) == 0) {
			if (replay_file(argv[i]) == -1)
				rc = 1;
			else
				count++;
		}
	}
	printf("replayed %zu inputs\n", count);
	return rc;
}
