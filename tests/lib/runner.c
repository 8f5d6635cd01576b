/*
 * runner.c - runs the cases of one unit-test program (see t.h).
 */
#include "t.h"

jmp_buf t_jmp;
int t_failed_here;

int
t_main(int argc, char **argv, const struct t_case *cases, size_t n)
{
	volatile size_t i;
	volatile int pass = 0, fail = 0;
	int j, selected;

	for (i = 0; i < n; i++) {
		selected = argc < 2;
		for (j = 1; j < argc; j++)
			if (strcmp(argv[j], cases[i].name) == 0)
				selected = 1;
		if (!selected)
			continue;
		t_failed_here = 0;
		if (setjmp(t_jmp) == 0)
			cases[i].fn();
		if (t_failed_here) {
			printf("FAIL %s\n", cases[i].name);
			fail++;
		} else {
			printf("ok   %s\n", cases[i].name);
			pass++;
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", pass, fail);
	return fail == 0 && pass > 0 ? 0 : 1;
}
