/*
 * fuzz_segment_read.c - the spool reader (segment header, frame lengths,
 * checksums, zstd, record decoding) on an arbitrary segment file.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usetrace/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	char path[128];
	struct spool_reader *rd;
	struct ut_event ev;
	int fd, r, guard = 0;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/ut-fuzz-seg-%d", (int)getpid());
		if (mkdir(dir, 0700) < 0 && access(dir, W_OK) < 0)
			abort();
	}
	snprintf(path, sizeof(path), "%s/seg-00000001.uts.open", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (spool_reader_open(dir, &rd) == 0) {
		while ((r = spool_reader_next(rd, &ev)) != 0 && guard++ < 1000000)
			;
		spool_reader_close(rd);
	}
	unlink(path);
	return 0;
}
