/*
 * t.h - a small unit-test harness.
 *
 * A test file defines test functions and a table:
 *
 *     static void test_buf_grows(void) { T_ASSERT(...); }
 *     T_LIST(T_CASE(test_buf_grows), ...);
 *
 * and gets a main() that runs each case (or the ones named on the command
 * line), printing "ok"/"FAIL" per case and "N passed, N failed" at the end;
 * exit status 0 only if every case passed.  An assertion failure ends the
 * case (longjmp) and the next one runs.
 */
#ifndef USETRACE_T_H
#define USETRACE_T_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct t_case {
	const char *name;
	void (*fn)(void);
};

extern jmp_buf t_jmp;
extern int t_failed_here;

#define T_FAIL(...)                                                       \
	do {                                                              \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);         \
		fprintf(stderr, __VA_ARGS__);                             \
		fputc('\n', stderr);                                      \
		t_failed_here = 1;                                        \
		longjmp(t_jmp, 1);                                        \
	} while (0)

#define T_ASSERT(c)                                                       \
	do {                                                              \
		if (!(c))                                                 \
			T_FAIL("assertion failed: %s", #c);               \
	} while (0)

#define T_ASSERT_EQ(a, b)                                                 \
	do {                                                              \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);   \
		if (t_a_ != t_b_)                                         \
			T_FAIL("%s == %s: %lld != %lld", #a, #b, t_a_, t_b_); \
	} while (0)

#define T_ASSERT_STREQ(a, b)                                              \
	do {                                                              \
		const char *t_a_ = (a), *t_b_ = (b);                      \
		if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) \
			T_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,      \
			    t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); \
	} while (0)

#define T_CASE(fn) { #fn, fn }

int t_main(int argc, char **argv, const struct t_case *cases, size_t n);

#define T_LIST(...)                                                       \
	static const struct t_case t_cases_[] = { __VA_ARGS__ };          \
	int main(int argc, char **argv)                                   \
	{                                                                 \
		return t_main(argc, argv, t_cases_,                       \
		    sizeof(t_cases_) / sizeof(t_cases_[0]));              \
	}

#endif
