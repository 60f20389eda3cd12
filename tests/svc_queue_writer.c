/*
 * Test helper (not a service): write one queue file with the library's
 * queue writer, so integration tests can fill a queue without a running
 * smtpd. Prints the new queue id.
 *
 * usage: svc_queue_writer [options] QUEUE_DIR
 *   -s SENDER       envelope sender (default "", the null sender)
 *   -r ADDRESS      a recipient (repeatable, at least one)
 *   -o ORCPT        ORCPT of the recipient given just before
 *   -n NOTIFY       NOTIFY of the recipient given just before
 *   -a SECONDS      arrival time (default now)
 *   -e NAME=VALUE   another envelope field: envid, ret, body, client_name,
 *                   client_addr, client_port, helo, protocol, tls,
 *                   auth_user, origin
 *   -u              SMTPUTF8
 *   -m TEXT         the message content (default: read stdin)
 *   -q QUEUE        subdirectory to commit into (default incoming)
 * QUEUE_DIR and its subdirectories are created if missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "util/alloc.h"
#include "util/str.h"

static void usage(void)
{
	fprintf(stderr, "usage: svc_queue_writer [-s SENDER] -r RCPT [-o ORCPT] [-n NOTIFY] "
	                "[-a TIME] [-e NAME=VALUE] [-u] [-m TEXT] [-q QUEUE] QUEUE_DIR\n");
	exit(2);
}

static void set_field(struct queue_envelope *env, const char *setting)
{
	const char *eq = strchr(setting, '=');
	if (eq == NULL)
		usage();
	size_t len = (size_t)(eq - setting);
	struct {
		const char *name;
		char **field;
	} fields[] = {
	    {"envid", &env->envid},
	    {"ret", &env->ret},
	    {"body", &env->body},
	    {"client_name", &env->client_name},
	    {"client_addr", &env->client_addr},
	    {"client_port", &env->client_port},
	    {"helo", &env->helo},
	    {"protocol", &env->protocol},
	    {"tls", &env->tls},
	    {"auth_user", &env->auth_user},
	    {"origin", &env->origin},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) == len && strncmp(fields[i].name, setting, len) == 0) {
			free(*fields[i].field);
			*fields[i].field = xstrdup(eq + 1);
			return;
		}
	}
	fprintf(stderr, "svc_queue_writer: unknown envelope field in %s\n", setting);
	exit(2);
}

static void set_last_rcpt(struct queue_envelope *env, bool orcpt, const char *value)
{
	if (env->rcpt_count == 0)
		usage();
	char **field = orcpt ? &env->rcpts[env->rcpt_count - 1].orcpt
	                     : &env->rcpts[env->rcpt_count - 1].notify;
	free(*field);
	*field = xstrdup(value);
}

static void read_stdin(struct str *out)
{
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		str_append(out, buf, n);
}

int main(int argc, char **argv)
{
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.arrival = time(NULL);
	env.sender = xstrdup("");
	const char *content = NULL, *queue = "incoming";
	int opt;
	while ((opt = getopt(argc, argv, "s:r:o:n:a:e:um:q:")) != -1) {
		switch (opt) {
		case 's':
			free(env.sender);
			env.sender = xstrdup(optarg);
			break;
		case 'r':
			queue_envelope_add_rcpt(&env, optarg, NULL, NULL);
			break;
		case 'o':
		case 'n':
			set_last_rcpt(&env, opt == 'o', optarg);
			break;
		case 'a':
			env.arrival = strtoll(optarg, NULL, 10);
			break;
		case 'e':
			set_field(&env, optarg);
			break;
		case 'u':
			env.smtputf8 = true;
			break;
		case 'm':
			content = optarg;
			break;
		case 'q':
			queue = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	const char *queue_dir = argv[optind];
	const char *error = NULL;
	if (mkdir(queue_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "svc_queue_writer: mkdir %s: %s\n", queue_dir, strerror(errno));
		return 1;
	}
	if (queue_make_dirs(queue_dir, (uid_t)-1, (gid_t)-1, &error) != 0) {
		fprintf(stderr, "svc_queue_writer: %s\n", error);
		return 1;
	}
	struct str body = STR_INIT;
	if (content)
		str_append_cstr(&body, content);
	else
		read_stdin(&body);
	struct queue_writer *w = queue_writer_open(queue_dir, &env, &error);
	if (w == NULL) {
		fprintf(stderr, "svc_queue_writer: %s\n", error);
		return 1;
	}
	int rc = 0;
	if (queue_writer_write(w, body.data ? body.data : "", body.len, &error) != 0 ||
	    queue_writer_commit(w, queue, &error) != 0) {
		fprintf(stderr, "svc_queue_writer: %s\n", error);
		rc = 1;
	} else {
		printf("%s\n", queue_writer_id(w));
	}
	queue_writer_abort(w);
	str_free(&body);
	queue_envelope_free(&env);
	return rc;
}
