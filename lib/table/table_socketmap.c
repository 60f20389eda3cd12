/*
 * socketmap: tables, as Postfix's socketmap_table(5): a look-up asks a
 * server over Sendmail's socket map protocol, as admins use for MTA-STS
 * (postfix-mta-sts-resolver's smtp_tls_policy_maps) or address look-ups
 * kept in another program. socketmap:inet:HOST:PORT:NAME or
 * socketmap:unix:PATH:NAME; each request is the netstring "NAME KEY" and
 * the reply one netstring "OK value", "NOTFOUND ", or "TEMP", "TIMEOUT"
 * or "PERM" with a reason (a look-up error).
 *
 * The connection is made at the first look-up and kept for the next ones
 * (look-ups from several threads take turns on it); one idle for longer
 * than SOCKETMAP_IDLE_SECONDS is closed first, as Postfix does, and a
 * look-up that fails on a kept connection (the server closed it) is tried
 * once more on a new one. Every connect, write and read has
 * SOCKETMAP_TIMEOUT_MS.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "table/socketmap_reply.h"
#include "table/table.h"
#include "table/table_private.h"
#include "util/alloc.h"
#include "util/sock.h"
#include "util/str.h"
#include "util/stream.h"

#define SOCKETMAP_TIMEOUT_MS 10000
#define SOCKETMAP_IDLE_SECONDS 10

struct table_socketmap {
	struct table base;
	char *host, *port; /* inet */
	char *path;        /* unix */
	char *name;        /* the map name sent before each key */
	pthread_mutex_t lock;
	int fd;
	struct stream *stream;
	time_t last_used;
};

static void disconnect(struct table_socketmap *m)
{
	if (m->stream != NULL)
		stream_free(m->stream);
	if (m->fd >= 0)
		close(m->fd);
	m->stream = NULL;
	m->fd = -1;
}

static int reconnect(struct table_socketmap *m, const char **why_r)
{
	disconnect(m);
	m->fd = m->path != NULL ? sock_connect_unix(m->path, SOCKETMAP_TIMEOUT_MS, why_r)
	                        : sock_connect_tcp(m->host, m->port, SOCKETMAP_TIMEOUT_MS, why_r);
	if (m->fd < 0)
		return -1;
	m->stream = stream_new(m->fd, SOCKETMAP_TIMEOUT_MS);
	return 0;
}

/* Read one netstring's data into out: 0, or with *why_r -2 (I/O failed,
 * or the server closed the connection) or -3 (not a netstring). */
static int read_netstring(struct stream *s, struct str *out, const char **why_r)
{
	char digits[8];
	size_t n = 0;
	for (;;) {
		const char *data;
		size_t len;
		enum stream_status st = stream_peek(s, &data, &len);
		if (st != STREAM_OK) {
			*why_r = st == STREAM_EOF ? "connection closed by the server"
			                          : stream_status_text(st);
			return -2;
		}
		const char *colon = memchr(data, ':', len);
		size_t take = colon != NULL ? (size_t)(colon - data) : len;
		if (n + take >= sizeof(digits)) {
			*why_r = "malformed reply (netstring length)";
			return -3;
		}
		memcpy(digits + n, data, take);
		n += take;
		stream_consume(s, take + (colon != NULL));
		if (colon != NULL)
			break;
	}
	long len = socketmap_netstring_length(digits, n);
	if (len < 0) {
		*why_r = "malformed reply (netstring length)";
		return -3;
	}
	str_clear(out);
	enum stream_status st = stream_read_exact(s, out, (size_t)len + 1);
	if (st != STREAM_OK) {
		*why_r =
		    st == STREAM_EOF ? "connection closed by the server" : stream_status_text(st);
		return -2;
	}
	if (out->data[len] != ',') {
		*why_r = "malformed reply (netstring end)";
		return -3;
	}
	str_truncate(out, (size_t)len);
	return 0;
}

/* One request and its reply on the open connection: 1 found, 0 not
 * found, -1 a reply that is an error (t->error set), -2 an I/O failure,
 * -3 a malformed reply (*why_r for both; the connection is unusable). */
static int exchange(struct table_socketmap *m, const char *key, size_t key_len, struct str *value,
                    const char **why_r)
{
	struct str request = STR_INIT, payload = STR_INIT, reply = STR_INIT;
	str_append_cstr(&payload, m->name);
	str_append_char(&payload, ' ');
	str_append(&payload, key, key_len);
	socketmap_netstring(&request, payload.data, payload.len);
	int rc = -2;
	enum stream_status st = stream_write(m->stream, request.data, request.len);
	if (st == STREAM_OK)
		st = stream_flush(m->stream);
	if (st != STREAM_OK) {
		*why_r = stream_status_text(st);
		goto out;
	}
	int got = read_netstring(m->stream, &reply, why_r);
	if (got < 0) {
		rc = got;
		goto out;
	}
	const char *text;
	size_t text_len;
	switch (socketmap_reply_parse(reply.data, reply.len, &text, &text_len)) {
	case SOCKETMAP_FOUND:
		str_clear(value);
		str_append(value, text, text_len);
		rc = 1;
		break;
	case SOCKETMAP_NOTFOUND:
		rc = 0;
		break;
	case SOCKETMAP_TEMP:
	case SOCKETMAP_PERM:
		rc = table_set_error(&m->base, "table \"%s\": the server said: %.*s", m->base.spec,
		                     (int)(reply.len > 200 ? 200 : reply.len), reply.data);
		break;
	case SOCKETMAP_INVALID:
		*why_r = "malformed reply (not OK, NOTFOUND, TEMP, TIMEOUT or PERM)";
		rc = -3;
		break;
	}
out:
	str_free(&request);
	str_free(&payload);
	str_free(&reply);
	return rc;
}

static int socketmap_lookup(struct table *t, const char *key, size_t key_len, struct str *value)
{
	struct table_socketmap *m = (struct table_socketmap *)t;
	pthread_mutex_lock(&m->lock);
	time_t now = time(NULL);
	if (m->stream != NULL && now - m->last_used > SOCKETMAP_IDLE_SECONDS)
		disconnect(m);
	int rc = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool kept = m->stream != NULL;
		const char *why = NULL;
		if (!kept && reconnect(m, &why) < 0) {
			rc = table_set_error(t, "table \"%s\": cannot connect: %s", t->spec, why);
			break;
		}
		rc = exchange(m, key, key_len, value, &why);
		if (rc >= -1)
			break;
		disconnect(m);
		if (rc == -3 || !kept) {
			rc = table_set_error(t, "table \"%s\": %s", t->spec, why);
			break;
		}
	}
	m->last_used = now;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static void socketmap_close(struct table *t)
{
	struct table_socketmap *m = (struct table_socketmap *)t;
	disconnect(m);
	pthread_mutex_destroy(&m->lock);
	free(m->host);
	free(m->port);
	free(m->path);
	free(m->name);
	free(m);
}

static const struct table_vfuncs socketmap_vfuncs = {
    .type = "socketmap",
    .lookup = socketmap_lookup,
    .close = socketmap_close,
};

struct table *table_socketmap_open(const char *arg, const char **error_r)
{
	static char error[512];
	const char *last = strrchr(arg, ':');
	bool is_unix = strncmp(arg, "unix:", 5) == 0, is_inet = strncmp(arg, "inet:", 5) == 0;
	if ((!is_unix && !is_inet) || last == NULL || last < arg + 5 || last[1] == '\0' ||
	    last == arg + 5) {
		snprintf(error, sizeof(error),
		         "socketmap:%s: expected socketmap:inet:HOST:PORT:NAME or "
		         "socketmap:unix:PATH:NAME",
		         arg);
		*error_r = error;
		return NULL;
	}
	char *endpoint = xstrndup(arg + 5, (size_t)(last - (arg + 5)));
	struct table_socketmap *m = xcalloc(1, sizeof(*m));
	m->fd = -1;
	if (is_unix) {
		m->path = endpoint;
	} else {
		const char *why;
		int rc = sock_split_hostport(endpoint, &m->host, &m->port, &why);
		free(endpoint);
		if (rc < 0 || m->host == NULL || *m->host == '\0' || m->port == NULL ||
		    *m->port == '\0') {
			snprintf(error, sizeof(error),
			         "socketmap:%s: expected inet:HOST:PORT:NAME%s%s", arg,
			         rc < 0 ? ": " : "", rc < 0 ? why : "");
			*error_r = error;
			free(m->host);
			free(m->port);
			free(m);
			return NULL;
		}
	}
	m->name = xstrdup(last + 1);
	pthread_mutex_init(&m->lock, NULL);
	m->base.v = &socketmap_vfuncs;
	return &m->base;
}
