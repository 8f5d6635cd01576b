/*
 * replay.c - main() for fuzz targets built without libFuzzer: runs
 * LLVMFuzzerTestOneInput over every file of the corpus directories (or
 * files) named on the command line, so the corpora run in ordinary CI.
 */
#ifndef FUZZING
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "usetrace/fsio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	unsigned char *d;
	size_t n;

	if (fsio_read_file(path, 64u << 20, &d, &n) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput(d, n);
	free(d);
	return 0;
}

int
main(int argc, char **argv)
{
	struct stat st;
	struct dirent *de;
	char path[4096];
	DIR *dir;
	int i, files = 0, bad = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "no such corpus: %s\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad += run_file(argv[i]);
			files++;
			continue;
		}
		if ((dir = opendir(argv[i])) == NULL)
			return 1;
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			bad += run_file(path);
			files++;
		}
		closedir(dir);
	}
	printf("replayed %d inputs\n", files);
	printf("%d passed, %d failed\n", files - bad, bad);
	return files == 0 || bad != 0;
}
#endif
