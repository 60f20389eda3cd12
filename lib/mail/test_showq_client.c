/* Unit tests for mail/showq_client: a whole listing in several records,
 * and every way the answer can fail, each with postqueue's exit status
 * (a scripted showq in a child process plays the server). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail/showq_client.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/sock.h"
#include "util/testing.h"

struct fake {
	char dir[64];
	char *public_dir;
	char *path;
};

static void fake_init(struct fake *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/postern-showq-XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	f->public_dir = xasprintf("%s/public", f->dir);
	f->path = xasprintf("%s/%s", f->public_dir, SHOWQ_SERVICE);
	CHECK(mkdir(f->public_dir, 0700) == 0);
}

static void fake_done(struct fake *f)
{
	unlink(f->path);
	rmdir(f->public_dir);
	rmdir(f->dir);
	free(f->path);
	free(f->public_dir);
}

/* Serve one connection with the bytes in wire, in a child; its pid. */
static pid_t serve_once(struct fake *f, const struct str *wire)
{
	const char *error;
	int lfd = sock_listen_unix(f->path, 0666, 4, &error);
	CHECK(lfd >= 0);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = sock_accept(lfd);
		if (fd >= 0 && wire->len > 0 && write(fd, wire->data, wire->len) < 0)
			_exit(1);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void add_record(struct str *wire, const char *name, const char *attr, const char *value)
{
	struct ipc_rec *rec = ipc_rec_new(name);
	if (attr != NULL && strcmp(attr, "data") == 0)
		ipc_rec_add_data(rec, attr, value, strlen(value));
	else if (attr != NULL)
		ipc_rec_add_str(rec, attr, value);
	ipc_rec_encode(rec, wire);
	ipc_rec_free(rec);
}

/* Run the client against a server that sends wire: its result. */
static int fetch(struct fake *f, const struct str *wire, struct str *out, int *status,
                 const char **error)
{
	pid_t pid = serve_once(f, wire);
	int rc = showq_client_fetch(f->dir, out, status, error);
	int wstatus;
	CHECK(waitpid(pid, &wstatus, 0) == pid && WIFEXITED(wstatus));
	unlink(f->path);
	return rc;
}

TEST(whole_listing)
{
	struct fake f;
	fake_init(&f);
	struct str wire = STR_INIT, out = STR_INIT;
	add_record(&wire, SHOWQ_TEXT, "data", "-Queue ID- ...\n");
	add_record(&wire, SHOWQ_TEXT, "data", "-- 1 Kbytes in 1 Request.\n");
	add_record(&wire, SHOWQ_END, NULL, NULL);
	int status = -1;
	const char *error = NULL;
	CHECK(fetch(&f, &wire, &out, &status, &error) == 0);
	CHECK_STR(str_cstr(&out), "-Queue ID- ...\n-- 1 Kbytes in 1 Request.\n");
	str_free(&wire);
	str_free(&out);
	fake_done(&f);
}

TEST(mail_system_down)
{
	struct fake f;
	fake_init(&f);
	struct str out = STR_INIT;
	int status = -1;
	const char *error = NULL;
	/* No socket at all, then one nobody listens on. */
	CHECK(showq_client_fetch(f.dir, &out, &status, &error) == -1);
	CHECK(status == EX_UNAVAILABLE);
	CHECK_STR(error, "Queue report unavailable - mail system is down (Connect to the Postern "
	                 "showq service: No such file or directory)");
	const char *sock_error;
	int lfd = sock_listen_unix(f.path, 0666, 4, &sock_error);
	CHECK(lfd >= 0);
	close(lfd);
	CHECK(showq_client_fetch(f.dir, &out, &status, &error) == -1);
	CHECK(status == EX_UNAVAILABLE);
	CHECK(strstr(error, "mail system is down (Connect to the Postern showq service: "
	                    "Connection refused)") != NULL);
	CHECK(out.len == 0);
	str_free(&out);
	fake_done(&f);
}

TEST(no_permission_is_not_down)
{
	if (geteuid() == 0)
		return; /* root enters any directory */
	struct fake f;
	fake_init(&f);
	const char *sock_error;
	int lfd = sock_listen_unix(f.path, 0666, 4, &sock_error);
	CHECK(lfd >= 0);
	CHECK(chmod(f.public_dir, 0) == 0);
	struct str out = STR_INIT;
	int status = -1;
	const char *error = NULL;
	CHECK(showq_client_fetch(f.dir, &out, &status, &error) == -1);
	CHECK(status == EX_SOFTWARE);
	CHECK_STR(error, "Connect to the Postern showq service: Permission denied");
	CHECK(chmod(f.public_dir, 0700) == 0);
	close(lfd);
	str_free(&out);
	fake_done(&f);
}

TEST(failed_answers)
{
	static const struct {
		const char *name, *attr, *value; /* a record after one "text" */
		bool garbage;                    /* or bytes that are no record */
		const char *error;
	} cases[] = {
	    {NULL, NULL, NULL, false, "showq service: the listing ended early"},
	    {SHOWQ_ERROR, "reason", "cannot read the mail queue", false,
	     "showq service: cannot read the mail queue"},
	    {"auth_reply", "user", "x", false, "showq service: unexpected record \"auth_reply\""},
	    {SHOWQ_TEXT, NULL, NULL, false, "showq service: unexpected record \"text\""},
	    {SHOWQ_ERROR, NULL, NULL, false, "showq service: unexpected record \"error\""},
	    {NULL, NULL, NULL, true, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f;
		fake_init(&f);
		struct str wire = STR_INIT, out = STR_INIT;
		add_record(&wire, SHOWQ_TEXT, "data", "part of a listing\n");
		if (cases[i].name)
			add_record(&wire, cases[i].name, cases[i].attr, cases[i].value);
		if (cases[i].garbage)
			str_append_cstr(&wire, "\xff\xff\xff\xff not a record");
		int status = -1;
		const char *error = NULL;
		CHECK(fetch(&f, &wire, &out, &status, &error) == -1);
		CHECK(status == EX_SOFTWARE);
		if (cases[i].error)
			CHECK_STR(error, cases[i].error);
		else
			CHECK(error != NULL && strncmp(error, "showq service: ", 15) == 0);
		str_free(&wire);
		str_free(&out);
		fake_done(&f);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(whole_listing);
	RUN(mail_system_down);
	RUN(no_permission_is_not_down);
	RUN(failed_answers);
	return TESTING_DONE();
}
