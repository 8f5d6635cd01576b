/*
 * cli_files.c - private output files of the CLI: decrypted frames and the
 * like are written 0600 (also over an existing file, never through a
 * symlink) into a directory of the user's own, mode 0700.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "cli_int.h"

int
cli_private_dir(const char *cmd, const char *d)
{
	struct stat st;

	if (mkdir(d, 0700) < 0 && errno != EEXIST) {
		log_error("%s: cannot create %s: %s", cmd, d, strerror(errno));
		return -1;
	}
	if (lstat(d, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || chmod(d, 0700) < 0) {
		log_error("%s: %s is not a directory of yours", cmd, d);
		return -1;
	}
	return 0;
}

int
cli_write_private(const char *cmd, const char *path, const void *data,
    size_t len)
{
	int fd, r;

	fd = fsio_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_error("%s: cannot write %s: %s", cmd, path, ut_strerror(fd));
		return -1;
	}
	r = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (r == 0)
		r = fsio_write_all(fd, data, len);
	if (fsio_close(fd) < 0 && r == 0)
		r = -EIO;
	if (r < 0)
		log_error("%s: cannot write %s: %s", cmd, path, ut_strerror(r));
	return r < 0 ? -1 : 0;
}
