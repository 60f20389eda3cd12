/*
 * mailctl start, stop, reload, status and version: talk to master over its
 * control socket (see lib/server/master_proto.h), or start it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailctl/mailctl.h"
#include "server/master_proto.h"
#include "server/program.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/json.h"
#include "util/sock.h"

#define CONTROL_TIMEOUT_MS 30000

/* The pid of the running master, or 0 if none holds the lock. */
static long running_master(const struct conf *conf)
{
	char *path = xasprintf("%s/%s", conf_get(conf, "data_directory"), MASTER_LOCK_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	long pid = 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = fl.l_pid > 0 ? (long)fl.l_pid : -1;
	close(fd);
	return pid;
}

static int control_connect(const struct conf *conf)
{
	char *path = xasprintf("%s/%s", conf_get(conf, "queue_directory"), MASTER_CONTROL_SOCKET);
	const char *error;
	int fd = sock_connect_unix(path, 5000, &error);
	if (fd < 0)
		mailctl_error("master is not running (%s: %s)", path, error);
	free(path);
	return fd;
}

/* Send a request; returns the connected fd for reading replies, or -1. */
static int control_request(const struct conf *conf, const char *what)
{
	int fd = control_connect(conf);
	if (fd < 0)
		return -1;
	struct ipc_rec *req = ipc_rec_new("request");
	ipc_rec_add_str(req, "request", what);
	int rc = ipc_write(fd, req, CONTROL_TIMEOUT_MS);
	ipc_rec_free(req);
	if (rc != 0) {
		mailctl_error("sending %s request: %s", what, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct ipc_rec *control_reply(int fd)
{
	struct ipc_rec *rec = NULL;
	const char *error = "end of file";
	if (ipc_read(fd, &rec, 0, CONTROL_TIMEOUT_MS, &error) != 1) {
		mailctl_error("no reply from master: %s", error);
		return NULL;
	}
	return rec;
}

static int simple_request(struct mailctl *m, const char *what, struct ipc_rec **reply_r)
{
	struct conf *conf = program_load_conf(m->config_dir);
	int fd = control_request(conf, what);
	conf_free(conf);
	if (fd < 0)
		return 1;
	struct ipc_rec *rec = control_reply(fd);
	close(fd);
	if (rec == NULL)
		return 1;
	if (ipc_rec_is(rec, "error")) {
		const char *msg = ipc_rec_get_str(rec, "message");
		mailctl_error("%s failed:\n%s", what, msg ? msg : "unknown error");
		ipc_rec_free(rec);
		return 1;
	}
	if (reply_r)
		*reply_r = rec;
	else
		ipc_rec_free(rec);
	return 0;
}

int cmd_start(struct mailctl *m, int argc, char **argv)
{
	bool foreground = argc == 2 && strcmp(argv[1], "-f") == 0;
	if (argc > 2 || (argc == 2 && !foreground)) {
		mailctl_error("usage: mailctl start [-f]");
		return 2;
	}
	struct conf *conf = program_load_conf(m->config_dir);
	long pid = running_master(conf);
	if (pid != 0) {
		mailctl_error("master is already running (pid %ld)", pid);
		conf_free(conf);
		return 1;
	}
	char *program = xasprintf("%s/master", conf_get(conf, "daemon_directory"));
	char *args[] = {program, "-c", (char *)m->config_dir, foreground ? "-f" : NULL, NULL};
	fflush(NULL);
	execv(program, args);
	mailctl_error("exec %s: %s", program, strerror(errno));
	return 1;
}

int cmd_stop(struct mailctl *m, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		mailctl_error("usage: mailctl stop");
		return 2;
	}
	struct conf *conf = program_load_conf(m->config_dir);
	int rc = simple_request(m, "stop", NULL);
	if (rc == 0) {
		/* Wait for master to finish stopping its services and release the lock. */
		long long wait_ms = (conf_get_time(conf, "master_stop_timeout") + 10) * 1000;
		struct timespec pause = {0, 50 * 1000 * 1000};
		for (long long waited = 0; running_master(conf) != 0; waited += 50) {
			if (waited >= wait_ms) {
				mailctl_error("master did not stop within %lld s", wait_ms / 1000);
				rc = 1;
				break;
			}
			nanosleep(&pause, NULL);
		}
	}
	if (rc == 0)
		printf("postern stopped\n");
	conf_free(conf);
	return rc;
}

int cmd_reload(struct mailctl *m, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		mailctl_error("usage: mailctl reload");
		return 2;
	}
	int rc = simple_request(m, "reload", NULL);
	if (rc == 0)
		printf("postern reloaded\n");
	return rc;
}

int cmd_version(struct mailctl *m, int argc, char **argv)
{
	(void)m;
	(void)argc;
	(void)argv;
	if (m->json)
		printf("{\"version\":\"%s\"}\n", POSTERN_VERSION);
	else
		printf("postern %s\n", POSTERN_VERSION);
	return 0;
}

static int64_t rec_int(const struct ipc_rec *rec, const char *name)
{
	int64_t v = 0;
	ipc_rec_get_int(rec, name, &v);
	return v;
}

static void status_json_service(struct str *out, const struct ipc_rec *rec)
{
	static const char *const ints[] = {"max_proc", "processes", "busy",   "idle",     "spawned",
	                                   "crashes",  "restarts",  "uptime", "throttled"};
	str_append_cstr(out, "{\"name\":");
	json_append_cstr(out, ipc_rec_get_str(rec, "name"));
	str_append_cstr(out, ",\"type\":");
	json_append_cstr(out, ipc_rec_get_str(rec, "type"));
	str_append_cstr(out, ",\"command\":");
	json_append_cstr(out, ipc_rec_get_str(rec, "command"));
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		str_printf(out, ",\"%s\":%lld", ints[i], (long long)rec_int(rec, ints[i]));
	str_printf(out, ",\"removed\":%s,\"pids\":[", rec_int(rec, "removed") ? "true" : "false");
	const struct ipc_attr *pid, *state;
	for (size_t n = 0; (pid = ipc_rec_get_nth(rec, "pid", n)) != NULL; n++) {
		state = ipc_rec_get_nth(rec, "state", n);
		str_printf(out, "%s{\"pid\":%lld,\"state\":", n ? "," : "", (long long)pid->num);
		json_append_cstr(out, state && state->type == IPC_STR ? state->value : "");
		str_append_char(out, '}');
	}
	str_append_cstr(out, "]}");
}

int cmd_status(struct mailctl *m, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		mailctl_error("usage: mailctl status");
		return 2;
	}
	struct conf *conf = program_load_conf(m->config_dir);
	int fd = control_request(conf, "status");
	conf_free(conf);
	if (fd < 0)
		return 1;
	struct str out = STR_INIT, json = STR_INIT;
	str_printf(&out, "%-24s %-5s %-10s %5s %5s %4s %4s %7s %7s %8s %8s  %s\n", "SERVICE",
	           "TYPE", "COMMAND", "LIMIT", "PROCS", "BUSY", "IDLE", "SPAWNED", "CRASHES",
	           "RESTARTS", "UPTIME", "PIDS");
	str_append_cstr(&json, "{\"services\":[");
	int count = 0, rc = 1;
	struct ipc_rec *rec;
	while ((rec = control_reply(fd)) != NULL) {
		if (ipc_rec_is(rec, "end")) {
			str_printf(&json,
			           "],\"master\":{\"pid\":%lld,\"uptime\":%lld,"
			           "\"privilege_separation\":%s}}\n",
			           (long long)rec_int(rec, "pid"),
			           (long long)rec_int(rec, "uptime"),
			           rec_int(rec, "privileged") ? "true" : "false");
			printf("%s", m->json ? str_cstr(&json) : "");
			if (!m->json)
				printf("master: running, pid %lld, up %lld s, privilege separation "
				       "%s\n%s",
				       (long long)rec_int(rec, "pid"),
				       (long long)rec_int(rec, "uptime"),
				       rec_int(rec, "privileged") ? "on" : "off", str_cstr(&out));
			ipc_rec_free(rec);
			rc = 0;
			break;
		}
		if (!ipc_rec_is(rec, "service")) {
			ipc_rec_free(rec);
			continue;
		}
		if (count++)
			str_append_char(&json, ',');
		status_json_service(&json, rec);
		struct str pids = STR_INIT;
		const struct ipc_attr *pid;
		for (size_t n = 0; (pid = ipc_rec_get_nth(rec, "pid", n)) != NULL; n++)
			str_printf(&pids, "%s%lld", n ? "," : "", (long long)pid->num);
		int64_t limit = rec_int(rec, "max_proc");
		char limit_text[24];
		snprintf(limit_text, sizeof(limit_text), "%lld", (long long)limit);
		str_printf(
		    &out, "%-24s %-5s %-10s %5s %5lld %4lld %4lld %7lld %7lld %8lld %7llds  %s%s\n",
		    ipc_rec_get_str(rec, "name"), ipc_rec_get_str(rec, "type"),
		    ipc_rec_get_str(rec, "command"), limit ? limit_text : "-",
		    (long long)rec_int(rec, "processes"), (long long)rec_int(rec, "busy"),
		    (long long)rec_int(rec, "idle"), (long long)rec_int(rec, "spawned"),
		    (long long)rec_int(rec, "crashes"), (long long)rec_int(rec, "restarts"),
		    (long long)rec_int(rec, "uptime"), pids.len ? str_cstr(&pids) : "-",
		    rec_int(rec, "throttled") ? " (throttled)" : "");
		str_free(&pids);
		ipc_rec_free(rec);
	}
	close(fd);
	str_free(&out);
	str_free(&json);
	return rc;
}
