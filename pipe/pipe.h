/*
 * pipe: the delivery agent that hands mail to an external command, as
 * Postfix's pipe(8). pipe.c serves qmgr's requests; deliver.c runs the
 * command for one request's recipients.
 */
#ifndef POSTERN_PIPE_PIPE_H
#define POSTERN_PIPE_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "mail/pipe_args.h"
#include "mail/queue.h"

/* The service's settings, from its master.conf arguments and main.conf. */
struct pipe_service {
	const char *name;        /* the master.conf service */
	struct pipe_args args;   /* valid when problem is NULL */
	char *problem;           /* why its arguments are no good, or NULL */
	long long time_limit_ms; /* SERVICE_time_limit */
	const char *delimiter;   /* recipient_delimiter */
	const char *mail_owner;
	const char *queue_dir;
};

/* The outcome of one recipient. */
struct pipe_result {
	const char *state; /* "delivered", "deferred", "bounced" */
	char status[16];
	char *reason;
	const char *dsn; /* for delivered: "delivered" or "relayed" */
};

/* The message of a request: its envelope and where its content starts. */
struct pipe_message {
	int fd;
	int64_t offset;
	const struct queue_envelope *env;
	const char *nexthop;
};

/* Deliver the message to the recipients (addresses and their indexes into
 * env->rcpts) with one command; sets results[0..count). */
void pipe_deliver(const struct pipe_service *svc, const struct pipe_message *msg,
                  const char *const *rcpts, const int64_t *indexes, size_t count,
                  struct pipe_result *results);

void pipe_result_set(struct pipe_result *r, const char *state, const char *status,
                     const char *reason);

/* The command's standard input: the lines the flags add, then the
 * content with the flags' quoting and the eol line ends. 0 or -1 with
 * *error_r. */
int pipe_message_input(const struct pipe_service *svc, const struct pipe_message *msg,
                       const char *recipient, const char *original, struct str *out,
                       const char **error_r);

#endif
