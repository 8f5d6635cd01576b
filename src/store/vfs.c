/*
 * vfs.c - "ut-fsio", the SQLite VFS through which the metadata store opens
 * its database: the default unix VFS, unchanged, except that every xWrite,
 * xTruncate and xSync of a main database or WAL file first asks the fsio
 * fault machinery (fsio_fault_hit()) whether to fail.  So a unit test's
 * fsio_fault_arm(), or UT_FSIO_FAULT=fsync:N:EIO in a real server, makes
 * SQLite see an I/O error there, and "crash" kills the process at that call,
 * exactly as for the spool's own files.
 *
 * Counting: xWrite and xTruncate count as FSIO_WRITE, xSync as FSIO_FSYNC.
 * Journals other than the WAL, temporary files and the -shm file (shared
 * memory, not durable) pass through uncounted.
 *
 * Invariant: the shim adds no state of its own beyond the wrapped file, so
 * with no fault armed SQLite behaves exactly as with the unix VFS.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "store_int.h"

struct shim_file {
	sqlite3_file base;      /* base.pMethods = &shim_io once open */
	sqlite3_file *real;     /* the unix file, right after this struct */
	int watched;            /* main database or WAL */
};

static sqlite3_vfs shim_vfs;
static sqlite3_vfs *real_vfs;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_rc;

#define REAL(f) (((struct shim_file *)(f))->real)

static int
fault(sqlite3_file *f, enum fsio_op op, int ioerr)
{
	int r;

	if (!((struct shim_file *)f)->watched)
		return SQLITE_OK;
	r = fsio_fault_hit(op);
	if (r == 0)
		return SQLITE_OK;
	return r == -ENOSPC ? SQLITE_FULL : ioerr;
}

static int
x_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
x_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int
x_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	int rc = fault(f, FSIO_WRITE, SQLITE_IOERR_WRITE);

	if (rc != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int
x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = fault(f, FSIO_WRITE, SQLITE_IOERR_TRUNCATE);

	if (rc != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
x_sync(sqlite3_file *f, int flags)
{
	int rc = fault(f, FSIO_FSYNC, SQLITE_IOERR_FSYNC);

	if (rc != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
x_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
x_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
x_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
x_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
x_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
x_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
x_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
x_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
x_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
x_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
x_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int
x_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int
x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_io = {
	.iVersion = 3,
	.xClose = x_close,
	.xRead = x_read,
	.xWrite = x_write,
	.xTruncate = x_truncate,
	.xSync = x_sync,
	.xFileSize = x_file_size,
	.xLock = x_lock,
	.xUnlock = x_unlock,
	.xCheckReservedLock = x_check_reserved,
	.xFileControl = x_file_control,
	.xSectorSize = x_sector_size,
	.xDeviceCharacteristics = x_device_chars,
	.xShmMap = x_shm_map,
	.xShmLock = x_shm_lock,
	.xShmBarrier = x_shm_barrier,
	.xShmUnmap = x_shm_unmap,
	.xFetch = x_fetch,
	.xUnfetch = x_unfetch,
};

static int
v_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags, int *oflags)
{
	struct shim_file *s = (struct shim_file *)f;
	int rc;

	(void)v;
	s->base.pMethods = NULL;
	s->real = (sqlite3_file *)(s + 1);
	s->watched = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
	rc = real_vfs->xOpen(real_vfs, name, s->real, flags, oflags);
	if (s->real->pMethods != NULL)
		s->base.pMethods = &shim_io;    /* so xClose runs even on failure */
	return rc;
}

static int
v_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int
v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int
v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *
v_dlopen(sqlite3_vfs *v, const char *name)
{
	return real_vfs->xDlOpen(real_vfs, name);
}

static void
v_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	real_vfs->xDlError(real_vfs, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	return real_vfs->xDlSym(real_vfs, h, sym);
}

static void
v_dlclose(sqlite3_vfs *v, void *h)
{
	real_vfs->xDlClose(real_vfs, h);
}

static int
v_randomness(sqlite3_vfs *v, int n, char *out)
{
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int
v_sleep(sqlite3_vfs *v, int us)
{
	return real_vfs->xSleep(real_vfs, us);
}

static int
v_current_time(sqlite3_vfs *v, double *out)
{
	return real_vfs->xCurrentTime(real_vfs, out);
}

static int
v_last_error(sqlite3_vfs *v, int n, char *out)
{
	return real_vfs->xGetLastError(real_vfs, n, out);
}

static int
v_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void
register_once(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL || real_vfs->iVersion < 2) {
		once_rc = UT_EINVAL;
		return;
	}
	shim_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile,
		.mxPathname = real_vfs->mxPathname,
		.zName = STORE_VFS_NAME,
		.xOpen = v_open,
		.xDelete = v_delete,
		.xAccess = v_access,
		.xFullPathname = v_full_pathname,
		.xDlOpen = v_dlopen,
		.xDlError = v_dlerror,
		.xDlSym = v_dlsym,
		.xDlClose = v_dlclose,
		.xRandomness = v_randomness,
		.xSleep = v_sleep,
		.xCurrentTime = v_current_time,
		.xGetLastError = v_last_error,
		.xCurrentTimeInt64 = v_current_time64,
	};
	once_rc = sqlite3_vfs_register(&shim_vfs, 0) == SQLITE_OK ? 0 : UT_EINVAL;
}

int
store__vfs_register(void)
{
	pthread_once(&once, register_once);
	return once_rc;
}
