/*
 * audit_int.h - private to src/audit/: the checkpoint file's line format
 * (ckptfile.c), shared by the writer (audit.c) and the verifier (verify.c).
 */
#ifndef USETRACE_AUDIT_INT_H
#define USETRACE_AUDIT_INT_H

#include <stddef.h>

#include "usetrace/meta.h"

/* A formatted line is at most this long, newline included. */
#define CKPTFILE_LINE_MAX 256u

/* Formats c as one line ending in '\n' into line; returns its length. */
size_t audit__ckpt_format(const struct meta_audit_ckpt *c, char line[CKPTFILE_LINE_MAX]);

/*
 * Parses one line (len bytes, without its '\n').  Returns 0 and fills *c
 * (signature not checked) for a complete record, 1 for a torn record (the
 * line is a strict prefix of a valid one: a crash cut the append), and
 * UT_ECORRUPT for anything else.
 */
int audit__ckpt_parse(const char *line, size_t len, struct meta_audit_ckpt *c)
	__attribute__((warn_unused_result));

#endif
