/*
 * jsonw.h - minimal streaming JSON writer for program output.
 *
 * Writes to a stdio stream; strings are escaped per RFC 8259 and invalid
 * UTF-8 is replaced by U+FFFD so output always parses.  Parsing JSON input
 * is done with jansson, not here.
 */
#ifndef USETRACE_JSONW_H
#define USETRACE_JSONW_H

#include <stdint.h>
#include <stdio.h>

void jsonw_str(FILE *f, const char *s);
void jsonw_strn(FILE *f, const char *s, size_t n);
/* Writes `"key":` with a leading comma unless *first is set (then clears it). */
void jsonw_key(FILE *f, int *first, const char *key);

#endif
