/*
 * Client of the auth service: connect to its socket, send one "auth"
 * request, read the answer (protocol in auth_proto.h). Everything that
 * keeps an answer from arriving is a temporary failure, never a "no".
 */
#include "auth/auth_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_proto.h"
#include "util/alloc.h"
#include "util/event.h"
#include "util/ipc.h"
#include "util/sock.h"

/* Room for the attribute headers and names of a request. */
#define AUTH_REQUEST_OVERHEAD 256

static char auth_client_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(auth_client_error, sizeof(auth_client_error), fmt, ap);
	va_end(ap);
	return auth_client_error;
}

static int remaining_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - event_now_ms();
	return left > 0 ? (int)left : 0;
}

/* Send the request; the copy of the password in the record is cleared. */
static int send_request(int fd, const char *user, const char *password, const char *service,
                        const char *client_addr, int timeout_ms)
{
	struct ipc_rec *rec = ipc_rec_new(AUTH_REQUEST);
	ipc_rec_add_str(rec, "user", user);
	ipc_rec_add_str(rec, "password", password);
	ipc_rec_add_str(rec, "service", service);
	ipc_rec_add_str(rec, "client_addr", client_addr ? client_addr : "");
	int rc = ipc_write(fd, rec, timeout_ms);
	int saved = errno;
	for (size_t i = 0; i < rec->count; i++)
		if (strcmp(rec->attrs[i].name, "password") == 0)
			explicit_bzero(rec->attrs[i].value, rec->attrs[i].value_len);
	ipc_rec_free(rec);
	errno = saved;
	return rc;
}

/* Interpret the service's answer. */
static enum auth_result read_reply(const struct ipc_rec *reply, char **canonical_r,
                                   const char **error_r)
{
	const char *reason = ipc_rec_get_str(reply, "reason");
	if (ipc_rec_is(reply, AUTH_REPLY_OK)) {
		const char *user = ipc_rec_get_str(reply, "user");
		if (user == NULL || *user == '\0') {
			*error_r = "auth service: \"ok\" reply without a user";
			return AUTH_TEMPFAIL;
		}
		*canonical_r = xstrdup(user);
		return AUTH_OK;
	}
	if (ipc_rec_is(reply, AUTH_REPLY_FAIL)) {
		*error_r = set_error("%s", reason ? reason : "authentication failed");
		return AUTH_FAIL;
	}
	if (ipc_rec_is(reply, AUTH_REPLY_TEMPFAIL)) {
		*error_r = set_error("auth service: %s", reason ? reason : "temporary failure");
		return AUTH_TEMPFAIL;
	}
	*error_r = set_error("auth service: unexpected reply \"%s\"", reply->name);
	return AUTH_TEMPFAIL;
}

enum auth_result auth_client_verify(const char *socket_path, const char *user, const char *password,
                                    const char *service, const char *client_addr, int timeout_ms,
                                    char **canonical_r, const char **error_r)
{
	*canonical_r = NULL;
	if (strlen(user) + strlen(password) + strlen(service) +
	        (client_addr ? strlen(client_addr) : 0) + AUTH_REQUEST_OVERHEAD >
	    AUTH_MAX_RECORD) {
		*error_r = "user name or password too long";
		return AUTH_FAIL;
	}
	int64_t deadline = timeout_ms >= 0 ? event_now_ms() + timeout_ms : -1;
	const char *error;
	int fd = sock_connect_unix(socket_path, timeout_ms, &error);
	if (fd < 0) {
		*error_r = set_error("connect to auth service %s: %s", socket_path, error);
		return AUTH_TEMPFAIL;
	}
	if (send_request(fd, user, password, service, client_addr, remaining_ms(deadline)) != 0) {
		*error_r = set_error("send to auth service %s: %s", socket_path, strerror(errno));
		close(fd);
		return AUTH_TEMPFAIL;
	}
	struct ipc_rec *reply = NULL;
	int rc = ipc_read(fd, &reply, 0, remaining_ms(deadline), &error);
	close(fd);
	if (rc != 1) {
		*error_r = set_error("read from auth service %s: %s", socket_path,
		                     rc == 0 ? "connection closed without an answer" : error);
		return AUTH_TEMPFAIL;
	}
	enum auth_result result = read_reply(reply, canonical_r, error_r);
	ipc_rec_free(reply);
	return result;
}
