/*
 * Dovecot's authentication protocol, client side (see dovecot_auth.h):
 * the parsers of the server's lines, and the connection: one PLAIN check,
 * or one exchange of another mechanism step by step, per connection,
 * every read and write bounded by a deadline.
 */
#include "auth/dovecot_auth.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/base64.h"
#include "util/event.h"
#include "util/sock.h"
#include "util/str.h"

/* The minor version sent: 2 tells Dovecot that an empty resp= is an
 * empty response (never sent here: PLAIN always has two NULs). */
#define CLIENT_MINOR_VERSION 2
/* The one request made on each connection. */
#define REQUEST_ID 1
/* Bounds on what is kept of a server's answer. */
#define USER_NAME_MAX 512
#define REASON_MAX 200

/* The fields of a line, split at TABs; an empty line has one empty field. */
struct fields {
	const char *p;
	const char *end;
	bool done;
};

static bool field_next(struct fields *f, const char **field_r, size_t *len_r)
{
	if (f->done)
		return false;
	const char *tab = memchr(f->p, '\t', (size_t)(f->end - f->p));
	*field_r = f->p;
	if (tab != NULL) {
		*len_r = (size_t)(tab - f->p);
		f->p = tab + 1;
	} else {
		*len_r = (size_t)(f->end - f->p);
		f->done = true;
	}
	return true;
}

static bool field_is(const char *field, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(field, word, len) == 0;
}

/* A decimal number without sign or leading junk, at most UINT_MAX. */
static bool parse_uint(const char *s, size_t len, unsigned *out)
{
	if (len == 0 || len > 10)
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > UINT_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

/* Undo Dovecot's tab-escaping into out (cleared first); -1 if an escape
 * is cut off at the end. An unknown escape stands for the character
 * after it, as Dovecot reads it. */
static int unescape(const char *s, size_t len, struct str *out)
{
	str_clear(out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\001') {
			str_append_char(out, s[i]);
			continue;
		}
		if (++i == len)
			return -1;
		switch (s[i]) {
		case '0':
			str_append_char(out, '\0');
			break;
		case '1':
			str_append_char(out, '\001');
			break;
		case 't':
			str_append_char(out, '\t');
			break;
		case 'r':
			str_append_char(out, '\r');
			break;
		case 'n':
			str_append_char(out, '\n');
			break;
		default:
			str_append_char(out, s[i]);
			break;
		}
	}
	return 0;
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* A SASL mechanism name (RFC 4422 section 3.1): 1 to 20 of A-Z, 0-9, -
 * and _ (lower case taken too, as names are compared without case). */
static bool sasl_name(const char *s, size_t len)
{
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

const struct dovecot_mech *dovecot_mech_find(const struct dovecot_handshake *h, const char *name)
{
	for (size_t i = 0; i < h->mech_count; i++)
		if (strcasecmp(h->mechs[i].name, name) == 0)
			return &h->mechs[i];
	return NULL;
}

/* The flag a MECH line's word names, or 0 (private is the caller's). */
static unsigned mech_flag(const char *word, size_t len)
{
	static const struct {
		const char *word;
		unsigned flag;
	} flags[] = {
	    {"anonymous", DOVECOT_MECH_ANONYMOUS},
	    {"plaintext", DOVECOT_MECH_PLAINTEXT},
	    {"dictionary", DOVECOT_MECH_DICTIONARY},
	    {"active", DOVECOT_MECH_ACTIVE},
	    {"forward-secrecy", DOVECOT_MECH_FORWARD_SECRECY},
	    {"mutual-auth", DOVECOT_MECH_MUTUAL_AUTH},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (field_is(word, len, flags[i].word))
			return flags[i].flag;
	return 0;
}

int dovecot_handshake_line(struct dovecot_handshake *h, const char *line, size_t len,
                           const char **error_r)
{
	if (h->done) {
		*error_r = "handshake line after DONE";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL byte in a handshake line";
		return -1;
	}
	struct fields f = {line, line + len, false};
	const char *cmd, *a, *b;
	size_t cmd_len, a_len, b_len;
	field_next(&f, &cmd, &cmd_len);
	if (!h->version_seen) {
		unsigned major, minor;
		if (!field_is(cmd, cmd_len, "VERSION")) {
			*error_r =
			    "the server did not begin with VERSION (not Dovecot's auth protocol)";
			return -1;
		}
		if (!field_next(&f, &a, &a_len) || !field_next(&f, &b, &b_len) ||
		    !parse_uint(a, a_len, &major) || !parse_uint(b, b_len, &minor)) {
			*error_r = "malformed VERSION line";
			return -1;
		}
		if (major != 1) {
			*error_r = "unsupported protocol version (not 1.x)";
			return -1;
		}
		h->version_seen = true;
		h->minor = minor;
		return 0;
	}
	if (field_is(cmd, cmd_len, "VERSION")) {
		*error_r = "VERSION line twice";
		return -1;
	}
	if (field_is(cmd, cmd_len, "MECH")) {
		if (!field_next(&f, &a, &a_len) || a_len == 0) {
			*error_r = "malformed MECH line";
			return -1;
		}
		if (a_len == 5 && strncasecmp(a, "PLAIN", 5) == 0)
			h->plain_offered = true;
		struct dovecot_mech m = {.flags = 0};
		bool usable = sasl_name(a, a_len);
		while (field_next(&f, &b, &b_len)) {
			if (field_is(b, b_len, "private"))
				usable = false;
			m.flags |= mech_flag(b, b_len);
		}
		if (usable) {
			for (size_t i = 0; i < a_len; i++)
				m.name[i] = (char)toupper((unsigned char)a[i]);
			m.name[a_len] = '\0';
		}
		if (usable && dovecot_mech_find(h, m.name) == NULL &&
		    h->mech_count < DOVECOT_MECHS_MAX)
			h->mechs[h->mech_count++] = m;
		return 0;
	}
	if (field_is(cmd, cmd_len, "DONE")) {
		h->done = true;
		return 1;
	}
	return 0; /* SPID, CUID, COOKIE, and what later versions add */
}

void dovecot_reply_free(struct dovecot_reply *r)
{
	free(r->user);
	free(r->reason);
	free(r->challenge);
	r->user = r->reason = r->challenge = NULL;
}

/* A CONT's challenge: base64 characters only (it goes to the client as
 * it is, after "334 "). */
static int take_challenge(struct dovecot_reply *r, const char *value, size_t len,
                          const char **error_r)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (!isalnum(c) && c != '+' && c != '/' && c != '=') {
			*error_r = "CONT answer whose challenge is not base64";
			return -1;
		}
	}
	r->challenge = xstrndup(value, len);
	return 0;
}

/* The user= of an OK: a name to log and to match logins against. */
static int take_user(struct dovecot_reply *r, const char *value, size_t len, const char **error_r)
{
	struct str name = STR_INIT;
	if (unescape(value, len, &name) != 0 || name.len == 0) {
		*error_r = "OK answer with an empty or malformed user name";
		str_free(&name);
		return -1;
	}
	if (name.len > USER_NAME_MAX) {
		*error_r = "OK answer with a user name that is too long";
		str_free(&name);
		return -1;
	}
	for (size_t i = 0; i < name.len; i++) {
		if (is_control((unsigned char)name.data[i])) {
			*error_r = "OK answer with control characters in the user name";
			str_free(&name);
			return -1;
		}
	}
	r->user = str_steal(&name);
	return 0;
}

/* The reason= of a FAIL, for the log: cut short, control characters as '?'. */
static void take_reason(struct dovecot_reply *r, const char *value, size_t len)
{
	struct str text = STR_INIT;
	if (unescape(value, len, &text) != 0)
		str_clear(&text);
	if (text.len > REASON_MAX)
		str_truncate(&text, REASON_MAX);
	for (size_t i = 0; i < text.len; i++)
		if (is_control((unsigned char)text.data[i]))
			text.data[i] = '?';
	r->reason = str_steal(&text);
}

int dovecot_reply_parse(const char *line, size_t len, struct dovecot_reply *r, const char **error_r)
{
	memset(r, 0, sizeof(*r));
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL byte in an answer";
		return -1;
	}
	struct fields f = {line, line + len, false};
	const char *field;
	size_t field_len;
	field_next(&f, &field, &field_len);
	if (field_is(field, field_len, "OK")) {
		r->kind = DOVECOT_REPLY_OK;
	} else if (field_is(field, field_len, "FAIL")) {
		r->kind = DOVECOT_REPLY_FAIL;
	} else if (field_is(field, field_len, "CONT")) {
		r->kind = DOVECOT_REPLY_CONT;
	} else {
		*error_r = "unexpected answer (not OK, FAIL or CONT)";
		return -1;
	}
	if (!field_next(&f, &field, &field_len) || !parse_uint(field, field_len, &r->id) ||
	    r->id == 0) {
		*error_r = "answer with a malformed request id";
		return -1;
	}
	if (r->kind == DOVECOT_REPLY_CONT) {
		if (!field_next(&f, &field, &field_len))
			field_len = 0; /* no challenge: an empty one */
		return take_challenge(r, field, field_len, error_r);
	}
	while (field_next(&f, &field, &field_len)) {
		const char *eq = memchr(field, '=', field_len);
		size_t name_len = eq ? (size_t)(eq - field) : field_len;
		const char *value = eq ? eq + 1 : "";
		size_t value_len = eq ? field_len - name_len - 1 : 0;
		if (r->kind == DOVECOT_REPLY_OK) {
			if (r->user == NULL && field_is(field, name_len, "user") && eq != NULL &&
			    take_user(r, value, value_len, error_r) != 0) {
				dovecot_reply_free(r);
				return -1;
			}
			if (r->challenge == NULL && field_is(field, name_len, "resp") &&
			    eq != NULL && take_challenge(r, value, value_len, error_r) != 0) {
				*error_r = "OK answer whose final data is not base64";
				dovecot_reply_free(r);
				return -1;
			}
		} else if (r->user == NULL && field_is(field, name_len, "user") && eq != NULL) {
			const char *ignored;
			(void)take_user(r, value, value_len, &ignored); /* for the log only */
		} else if (eq == NULL && field_is(field, name_len, "temp")) {
			r->temp = true;
		} else if (eq != NULL && field_is(field, name_len, "code")) {
			if (field_is(value, value_len, "temp_fail"))
				r->temp = true;
		} else if (eq != NULL && field_is(field, name_len, "reason") && r->reason == NULL) {
			take_reason(r, value, value_len);
		}
	}
	if (r->kind == DOVECOT_REPLY_OK && r->user == NULL) {
		*error_r = "OK answer without a user name";
		dovecot_reply_free(r);
		return -1;
	}
	return 0;
}

int dovecot_endpoint_parse(const char *spec, const char *queue_dir, struct dovecot_endpoint *ep,
                           const char **error_r)
{
	memset(ep, 0, sizeof(*ep));
	if (strncmp(spec, "inet:", 5) == 0) {
		if (sock_split_hostport(spec + 5, &ep->host, &ep->port, error_r) != 0)
			return -1;
		if (ep->host == NULL || *ep->port == '\0') {
			dovecot_endpoint_free(ep);
			*error_r = "inet: needs host:port";
			return -1;
		}
		return 0;
	}
	const char *path = strncmp(spec, "unix:", 5) == 0 ? spec + 5 : spec;
	if (*path == '\0') {
		*error_r = "no socket path";
		return -1;
	}
	ep->path = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", queue_dir, path);
	return 0;
}

void dovecot_endpoint_free(struct dovecot_endpoint *ep)
{
	free(ep->path);
	free(ep->host);
	free(ep->port);
	memset(ep, 0, sizeof(*ep));
}

int dovecot_auth_type_parse(const char *value, bool *dovecot_r, const char **error_r)
{
	if (strcmp(value, "postern") == 0 || strcmp(value, "dovecot") == 0) {
		*dovecot_r = strcmp(value, "dovecot") == 0;
		return 0;
	}
	*error_r = strcmp(value, "cyrus") == 0
	               ? "not postern or dovecot (Postern has no Cyrus SASL: postern is its own "
	                 "auth service)"
	               : "not postern or dovecot";
	return -1;
}

/* The client. Errors of the helpers below are static strings. */

static char dovecot_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dovecot_error, sizeof(dovecot_error), fmt, ap);
	va_end(ap);
	return dovecot_error;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - event_now_ms();
	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* Wait until fd is ready for events or the deadline passes: 0, or -1. */
static int wait_ready(int fd, short events, int64_t deadline, const char **error_r)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int ms = remaining_ms(deadline);
		int n = ms > 0 ? poll(&pfd, 1, ms) : 0;
		if (n > 0)
			return 0;
		if (n == 0) {
			*error_r = "timed out";
			return -1;
		}
		if (errno != EINTR) {
			*error_r = strerror(errno);
			return -1;
		}
	}
}

static int send_all(int fd, const char *data, size_t len, int64_t deadline, const char **error_r)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n == 0) {
			*error_r = "connection closed";
			return -1;
		} else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			*error_r = strerror(errno);
			return -1;
		} else if (errno != EINTR && wait_ready(fd, POLLOUT, deadline, error_r) != 0) {
			return -1;
		}
	}
	return 0;
}

/* Lines from the server, each bounded by the deadline. */
struct line_reader {
	int fd;
	int64_t deadline;
	struct str in; /* received, not yet taken */
};

/* The next line, without its LF, in line: 0, or -1. */
static int read_line(struct line_reader *r, struct str *line, const char **error_r)
{
	for (;;) {
		const char *lf = r->in.len ? memchr(r->in.data, '\n', r->in.len) : NULL;
		if (lf != NULL) {
			size_t n = (size_t)(lf - r->in.data);
			str_clear(line);
			str_append(line, r->in.data, n);
			str_consume(&r->in, n + 1);
			return 0;
		}
		if (r->in.len > DOVECOT_AUTH_MAX_LINE) {
			*error_r = "line too long";
			return -1;
		}
		if (wait_ready(r->fd, POLLIN, r->deadline, error_r) != 0)
			return -1;
		char buf[4096];
		ssize_t n = read(r->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		if (n == 0) {
			*error_r = "connection closed";
			return -1;
		}
		str_append(&r->in, buf, (size_t)n);
	}
}

/* Append "\tname=value" with value tab-escaped. */
static void add_param(struct str *req, const char *name, const char *value)
{
	str_printf(req, "\t%s=", name);
	for (const char *p = value; *p; p++) {
		switch (*p) {
		case '\001':
			str_append_cstr(req, "\0011");
			break;
		case '\t':
			str_append_cstr(req, "\001t");
			break;
		case '\r':
			str_append_cstr(req, "\001r");
			break;
		case '\n':
			str_append_cstr(req, "\001n");
			break;
		default:
			str_append_char(req, *p);
			break;
		}
	}
}

/* The AUTH line of an exchange of mech into req: the parameters, then
 * resp= (the last parameter, as Dovecot wants) with initial (base64)
 * when there is one. */
static void build_request(struct str *req, const char *mech, const struct dovecot_auth_info *info,
                          const char *initial)
{
	str_reserve(req, 256 + strlen(mech) + strlen(info->service) +
	                     (info->local_addr ? 2 * strlen(info->local_addr) : 0) +
	                     (info->remote_addr ? 2 * strlen(info->remote_addr) : 0) +
	                     (initial ? strlen(initial) : 0));
	str_printf(req, "AUTH\t%d\t%s", REQUEST_ID, mech);
	add_param(req, "service", info->service);
	str_append_cstr(req, "\tnologin"); /* as Postfix: no login follows */
	if (info->local_addr && *info->local_addr)
		add_param(req, "lip", info->local_addr);
	if (info->remote_addr && *info->remote_addr)
		add_param(req, "rip", info->remote_addr);
	if (info->secured)
		str_append_cstr(req, "\tsecured");
	if (initial != NULL) {
		str_append_cstr(req, "\tresp=");
		str_append_cstr(req, initial);
	}
	str_append_char(req, '\n');
}

static int connect_endpoint(const struct dovecot_endpoint *ep, int64_t deadline,
                            const char **error_r)
{
	if (ep->path != NULL)
		return sock_connect_unix(ep->path, remaining_ms(deadline), error_r);
	return sock_connect_tcp(ep->host, ep->port, remaining_ms(deadline), error_r);
}

/* Read the server's handshake up to DONE: 0, or -1 with *error_r. */
static int read_handshake(struct line_reader *r, struct dovecot_handshake *h, const char **error_r)
{
	struct str line = STR_INIT;
	int rc;
	do {
		rc = read_line(r, &line, error_r);
		if (rc == 0)
			rc = dovecot_handshake_line(h, line.data ? line.data : "", line.len,
			                            error_r);
	} while (rc == 0);
	str_free(&line);
	return rc < 0 ? -1 : 0;
}

struct dovecot_conn {
	struct line_reader r;
	struct dovecot_handshake h;
	char where[300]; /* the socket, for errors */
	bool started;    /* AUTH sent */
	bool ended;      /* OK or FAIL came, or the exchange broke */
	char *user;      /* what OK or FAIL said (user=) */
};

const char *dovecot_conn_user(const struct dovecot_conn *c)
{
	return c->user;
}

struct dovecot_conn *dovecot_connect(const struct dovecot_endpoint *ep, int timeout_ms,
                                     const char **error_r)
{
	struct dovecot_conn *c = xcalloc(1, sizeof(*c));
	if (ep->path != NULL)
		snprintf(c->where, sizeof(c->where), "%s", ep->path);
	else
		snprintf(c->where, sizeof(c->where), "inet:%s:%s", ep->host, ep->port);
	c->r.deadline = event_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	const char *why;
	char hello[64];
	snprintf(hello, sizeof(hello), "VERSION\t1\t%d\nCPID\t%ld\n", CLIENT_MINOR_VERSION,
	         (long)getpid());
	c->r.fd = connect_endpoint(ep, c->r.deadline, &why);
	if (c->r.fd < 0) {
		*error_r = set_error("Dovecot auth: %s", why); /* names the socket */
	} else if (send_all(c->r.fd, hello, strlen(hello), c->r.deadline, &why) != 0) {
		*error_r = set_error("send to Dovecot auth %s: %s", c->where, why);
	} else if (read_handshake(&c->r, &c->h, &why) != 0) {
		*error_r = set_error("Dovecot auth %s: handshake: %s", c->where, why);
	} else {
		return c;
	}
	dovecot_conn_close(c);
	return NULL;
}

const struct dovecot_handshake *dovecot_conn_handshake(const struct dovecot_conn *c)
{
	return &c->h;
}

void dovecot_conn_close(struct dovecot_conn *c)
{
	if (c == NULL)
		return;
	if (c->r.fd >= 0)
		close(c->r.fd);
	str_free(&c->r.in);
	free(c->user);
	free(c);
}

/* Send req (cleared afterwards: it may hold credentials) and read the
 * answer to it; a request Dovecot would drop as too long is a failure. */
static enum dovecot_step exchange(struct dovecot_conn *c, struct str *req, int timeout_ms,
                                  char **out_r, const char **error_r)
{
	*out_r = NULL;
	if (req->len > DOVECOT_AUTH_MAX_REQUEST) {
		explicit_bzero(req->data, req->len);
		str_free(req);
		c->ended = true;
		*error_r = "authentication response too long";
		return DOVECOT_STEP_FAIL;
	}
	c->r.deadline = event_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	const char *why;
	int sent = send_all(c->r.fd, req->data, req->len, c->r.deadline, &why);
	explicit_bzero(req->data, req->len);
	str_free(req);
	c->ended = true; /* unless a CONT comes */
	if (sent != 0) {
		*error_r = set_error("send to Dovecot auth %s: %s", c->where, why);
		return DOVECOT_STEP_TEMPFAIL;
	}
	struct str line = STR_INIT;
	if (read_line(&c->r, &line, &why) != 0) {
		str_free(&line);
		*error_r = set_error("read from Dovecot auth %s: %s", c->where, why);
		return DOVECOT_STEP_TEMPFAIL;
	}
	struct dovecot_reply reply;
	int rc = dovecot_reply_parse(line.data ? line.data : "", line.len, &reply, &why);
	str_free(&line);
	if (rc != 0) {
		*error_r = set_error("Dovecot auth %s: %s", c->where, why);
		return DOVECOT_STEP_TEMPFAIL;
	}
	enum dovecot_step step = DOVECOT_STEP_TEMPFAIL;
	if (reply.id != REQUEST_ID) {
		*error_r = set_error("Dovecot auth %s: answer to request %u, not %d", c->where,
		                     reply.id, REQUEST_ID);
	} else if (reply.kind == DOVECOT_REPLY_OK) {
		c->user = reply.user;
		reply.user = NULL;
		*out_r = reply.challenge; /* final data, or NULL */
		reply.challenge = NULL;
		step = DOVECOT_STEP_OK;
	} else if (reply.kind == DOVECOT_REPLY_CONT) {
		*out_r = reply.challenge;
		reply.challenge = NULL;
		c->ended = false;
		step = DOVECOT_STEP_CONT;
	} else if (reply.temp) {
		*error_r = set_error("Dovecot auth %s: temporary failure%s%s", c->where,
		                     reply.reason ? ": " : "", reply.reason ? reply.reason : "");
	} else {
		*error_r = set_error("%s", reply.reason ? reply.reason : "authentication failed");
		c->user = reply.user;
		reply.user = NULL;
		step = DOVECOT_STEP_FAIL;
	}
	dovecot_reply_free(&reply);
	return step;
}

enum dovecot_step dovecot_conn_auth(struct dovecot_conn *c, const char *mech,
                                    const struct dovecot_auth_info *info, const char *initial,
                                    int timeout_ms, char **out_r, const char **error_r)
{
	*out_r = NULL;
	if (c->started) {
		*error_r = "Dovecot auth: one exchange per connection";
		return DOVECOT_STEP_TEMPFAIL;
	}
	c->started = true;
	struct str req = STR_INIT;
	build_request(&req, mech, info, initial);
	return exchange(c, &req, timeout_ms, out_r, error_r);
}

enum dovecot_step dovecot_conn_cont(struct dovecot_conn *c, const char *response, int timeout_ms,
                                    char **out_r, const char **error_r)
{
	*out_r = NULL;
	if (!c->started || c->ended) {
		*error_r = "Dovecot auth: no exchange waiting for a response";
		return DOVECOT_STEP_TEMPFAIL;
	}
	struct str req = STR_INIT;
	str_reserve(&req, strlen(response) + 32);
	str_printf(&req, "CONT\t%d\t%s\n", REQUEST_ID, response);
	return exchange(c, &req, timeout_ms, out_r, error_r);
}

enum auth_result dovecot_auth_plain(const struct dovecot_endpoint *ep, const char *user,
                                    const char *password, const struct dovecot_auth_info *info,
                                    int timeout_ms, char **user_r, const char **error_r)
{
	*user_r = NULL;
	size_t user_len = strlen(user), password_len = strlen(password);
	if (user_len + password_len > DOVECOT_AUTH_MAX_REQUEST) {
		*error_r = "user name or password too long";
		return AUTH_FAIL;
	}
	struct dovecot_conn *c = dovecot_connect(ep, timeout_ms, error_r);
	if (c == NULL)
		return AUTH_TEMPFAIL;
	if (!c->h.plain_offered) {
		*error_r =
		    set_error("Dovecot auth %s does not offer PLAIN (auth_mechanisms)", c->where);
		dovecot_conn_close(c);
		return AUTH_TEMPFAIL;
	}
	/* NUL user NUL password, base64; room reserved up front, so that no
	 * copy of the password is left behind in memory growth gives back. */
	struct str plain = STR_INIT, encoded = STR_INIT;
	str_reserve(&plain, user_len + password_len + 2);
	str_reserve(&encoded, (user_len + password_len + 4) / 3 * 4 + 4);
	str_append_char(&plain, '\0');
	str_append(&plain, user, user_len);
	str_append_char(&plain, '\0');
	str_append(&plain, password, password_len);
	base64_encode(plain.data, plain.len, &encoded);
	explicit_bzero(plain.data, plain.len);
	str_free(&plain);
	char *out = NULL;
	/* The whole check within timeout_ms: what the handshake left. */
	int left = remaining_ms(c->r.deadline);
	enum dovecot_step step =
	    dovecot_conn_auth(c, "PLAIN", info, str_cstr(&encoded), left, &out, error_r);
	explicit_bzero(encoded.data, encoded.len);
	str_free(&encoded);
	enum auth_result result = AUTH_TEMPFAIL;
	if (step == DOVECOT_STEP_OK) {
		*user_r = xstrdup(dovecot_conn_user(c));
		result = AUTH_OK;
	} else if (step == DOVECOT_STEP_FAIL) {
		result = AUTH_FAIL;
	} else if (step == DOVECOT_STEP_CONT) {
		*error_r = set_error("Dovecot auth %s: asked to continue (CONT) after a complete "
		                     "PLAIN response",
		                     c->where);
	}
	free(out);
	dovecot_conn_close(c);
	return result;
}
