/*
 * Tests of the auth client against a scripted fake service (a child
 * process on a UNIX socket): each kind of answer, and every way an answer
 * can fail to arrive, which must be a temporary failure and never a "no"
 * or a "yes".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "auth/auth_proto.h"
#include "util/ipc.h"
#include "util/sock.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-authc-XXXXXX";
static char socket_path[256];

/* What the fake service does with each connection, in order. */
enum fake_action {
	FAKE_OK,
	FAKE_FAIL,
	FAKE_TEMPFAIL,
	FAKE_CLOSE,
	FAKE_ODD_NAME,
	FAKE_OK_NO_USER,
	FAKE_GARBAGE,
	FAKE_SILENT,
};

static const enum fake_action script[] = {
    FAKE_OK,       FAKE_FAIL,       FAKE_TEMPFAIL, FAKE_CLOSE,
    FAKE_ODD_NAME, FAKE_OK_NO_USER, FAKE_GARBAGE,  FAKE_SILENT,
};
#define SCRIPT_LEN (sizeof(script) / sizeof(script[0]))

/* The request must carry exactly what the client was given. */
static bool request_ok(const struct ipc_rec *req)
{
	const char *user = ipc_rec_get_str(req, "user");
	const char *password = ipc_rec_get_str(req, "password");
	const char *service = ipc_rec_get_str(req, "service");
	const char *addr = ipc_rec_get_str(req, "client_addr");
	return ipc_rec_is(req, AUTH_REQUEST) && user && strcmp(user, "Alice@Example.org") == 0 &&
	       password && strcmp(password, "pass word") == 0 && service &&
	       strcmp(service, "imap") == 0 && addr && strcmp(addr, "192.0.2.1") == 0;
}

static void answer(int fd, enum fake_action action)
{
	struct ipc_rec *reply = NULL;
	switch (action) {
	case FAKE_OK:
		reply = ipc_rec_new(AUTH_REPLY_OK);
		ipc_rec_add_str(reply, "user", "alice@example.org");
		break;
	case FAKE_FAIL:
		reply = ipc_rec_new(AUTH_REPLY_FAIL);
		ipc_rec_add_str(reply, "reason", "authentication failed");
		break;
	case FAKE_TEMPFAIL:
		reply = ipc_rec_new(AUTH_REPLY_TEMPFAIL);
		ipc_rec_add_str(reply, "reason", "user database unavailable");
		break;
	case FAKE_ODD_NAME:
		reply = ipc_rec_new("maybe");
		break;
	case FAKE_OK_NO_USER:
		reply = ipc_rec_new(AUTH_REPLY_OK);
		break;
	case FAKE_GARBAGE:
		(void)!write(fd, "\xff\xff\xff\xffnot a record", 16);
		return;
	case FAKE_SILENT:
		sleep(2);
		return;
	case FAKE_CLOSE:
		return;
	}
	ipc_write(fd, reply, 2000);
	ipc_rec_free(reply);
}

/* The fake service: exit status 0 if every request was well-formed. */
static void fake_service(int listen_fd)
{
	int bad = 0;
	for (size_t i = 0; i < SCRIPT_LEN; i++) {
		int fd = sock_accept(listen_fd);
		if (fd < 0)
			_exit(2);
		sock_set_nonblock(fd, false);
		struct ipc_rec *req;
		const char *error;
		if (ipc_read(fd, &req, AUTH_MAX_RECORD, 5000, &error) != 1) {
			bad++;
		} else {
			if (!request_ok(req))
				bad++;
			ipc_rec_free(req);
		}
		answer(fd, script[i]);
		close(fd);
	}
	_exit(bad ? 1 : 0);
}

static enum auth_result ask(char **canonical, const char **error, int timeout_ms)
{
	return auth_client_verify(socket_path, "Alice@Example.org", "pass word", "imap",
	                          "192.0.2.1", timeout_ms, canonical, error);
}

TEST(scripted_answers)
{
	const char *error = NULL;
	int listen_fd = sock_listen_unix(socket_path, 0600, 5, &error);
	CHECK(listen_fd >= 0);
	if (listen_fd < 0)
		return;
	sock_set_nonblock(listen_fd, false);
	pid_t pid = fork();
	if (pid == 0)
		fake_service(listen_fd);
	close(listen_fd);

	char *canonical = NULL;
	CHECK(ask(&canonical, &error, 5000) == AUTH_OK);
	CHECK_STR(canonical, "alice@example.org");
	free(canonical);

	CHECK(ask(&canonical, &error, 5000) == AUTH_FAIL);
	CHECK(canonical == NULL);
	CHECK_STR(error, "authentication failed");

	CHECK(ask(&canonical, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "user database unavailable") != NULL);

	CHECK(ask(&canonical, &error, 5000) == AUTH_TEMPFAIL); /* closed */
	CHECK(strstr(error, "without an answer") != NULL);

	CHECK(ask(&canonical, &error, 5000) == AUTH_TEMPFAIL); /* odd name */
	CHECK(strstr(error, "unexpected reply \"maybe\"") != NULL);

	CHECK(ask(&canonical, &error, 5000) == AUTH_TEMPFAIL); /* ok without user */
	CHECK(canonical == NULL);

	CHECK(ask(&canonical, &error, 5000) == AUTH_TEMPFAIL); /* garbage */

	CHECK(ask(&canonical, &error, 300) == AUTH_TEMPFAIL); /* no answer in time */
	CHECK(strstr(error, "timed out") != NULL);

	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(socket_path);
}

TEST(no_service)
{
	char *canonical = NULL;
	const char *error = NULL;
	CHECK(ask(&canonical, &error, 1000) == AUTH_TEMPFAIL);
	CHECK(canonical == NULL);
	CHECK(strstr(error, "connect to auth service") != NULL);
}

TEST(oversized_request_is_a_failure)
{
	char *canonical = NULL;
	const char *error = NULL;
	char *big = calloc(AUTH_MAX_RECORD + 1, 1);
	memset(big, 'p', AUTH_MAX_RECORD);
	CHECK(auth_client_verify(socket_path, "a@example.org", big, "smtp", "", 1000, &canonical,
	                         &error) == AUTH_FAIL);
	CHECK_STR(error, "user name or password too long");
	free(big);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(socket_path, sizeof(socket_path), "%s/auth", tmpdir);
	RUN(scripted_answers);
	RUN(no_service);
	RUN(oversized_request_is_a_failure);
	rmdir(tmpdir);
	return TESTING_DONE();
}
