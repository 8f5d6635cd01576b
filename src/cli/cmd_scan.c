/*
 * cmd_scan.c - placeholder until the detectors land (issue 4).
 */
#include "usetrace/log.h"
#include "cli_int.h"

int
cmd_scan(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_error("scan: not built yet");
	return 1;
}
