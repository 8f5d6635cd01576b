/*
 * alert.c - where alerts go: an audit entry with outcome "alert" (so
 * `usetrace audit alerts` lists it), a line "ALERT: ..." on the server's
 * stderr, and a run of the config's alert_command with the alert as JSON
 * (no content: what the audit entry holds).  Used by canary reads
 * (canary.c) and by other bytes uploaded under a stored id (ingest.c).
 */
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "usetrace/log.h"
#include "server_int.h"

extern char **environ;

static void *
reap(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;

	(void)waitpid(pid, NULL, 0);
	return NULL;
}

/*
 * Runs cfg.alert_command ALERT_JSON, not waiting for it (a thread reaps it).
 * The JSON holds what the audit entry holds: no content.
 */
static void
run_alert_command(struct server *s, const char *json)
{
	char *argv[3];
	pthread_attr_t at;
	pthread_t t;
	pid_t pid;

	if (s->cfg.alert_command[0] == '\0')
		return;
	argv[0] = s->cfg.alert_command;
	argv[1] = (char *)json;
	argv[2] = NULL;
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
		log_error("serve: cannot run the alert command %s", argv[0]);
		return;
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, reap, (void *)(intptr_t)pid) != 0)
		(void)waitpid(pid, NULL, WNOHANG);
	pthread_attr_destroy(&at);
}

int
srv_alert(struct srv_req *q, const char *action, const char *detail)
{
	int r = srv_audit_now(q, action, "alert", detail);

	srv_alert_notify(q, action, detail);
	return r;
}

void
srv_alert_notify(struct srv_req *q, const char *action, const char *detail)
{
	json_t *j;
	char *text;

	log_warn("serve: ALERT: %s by %s on %s: %s", action, q->a_principal,
	    q->a_object, detail);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "action", action,
	    "principal", q->a_principal, "subject", q->a_subject, "object",
	    q->a_object, "detail", detail, "time_ns", (json_int_t)q->now_ns);
	if (j != NULL && (text = json_dumps(j, JSON_COMPACT)) != NULL) {
		run_alert_command(q->srv, text);
		free(text);
	}
	json_decref(j);
}
