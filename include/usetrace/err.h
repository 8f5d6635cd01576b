/*
 * err.h - the one error convention of usetrace.
 *
 * Functions that can fail return int: 0 (or a non-negative count) on
 * success, a negative value on failure.  System failures are returned as
 * -errno unchanged; project codes live from -1000 downwards so the two never
 * collide.  ut_strerror() names either kind.  Error messages never carry
 * recorded content or secrets, only metadata.
 */
#ifndef USETRACE_ERR_H
#define USETRACE_ERR_H

/* X(name, value, message) */
#define UT_ERR_MAP(X)                                                    \
	X(EINVAL, -1001, "invalid argument")                             \
	X(ECORRUPT, -1002, "data is corrupt")                            \
	X(ETOOBIG, -1003, "size limit exceeded")                         \
	X(EDENIED, -1004, "permission denied")                           \
	X(EVERSION, -1005, "unsupported format version")                 \
	X(EX11, -1006, "X server connection failed or was lost")         \
	X(ENOEXT, -1007, "required X extension is missing")              \
	X(ESTATE, -1008, "operation not allowed in the current state")   \
	X(ECRYPTO, -1009, "cryptographic check failed")                  \
	X(ENOTFOUND, -1010, "not found")                                 \
	X(EPARSE, -1011, "malformed input")                              \
	X(EEMPTY, -1012, "no data")                                      \
	X(EFULL, -1013, "spool full")

enum ut_err {
#define UT_ERR_ENUM(name, val, msg) UT_##name = (val),
	UT_ERR_MAP(UT_ERR_ENUM)
#undef UT_ERR_ENUM
};

/*
 * Returns a static, human-readable message for a negative code (UT_E* or
 * -errno).  Never returns NULL.
 */
const char *ut_strerror(int err);

#endif
