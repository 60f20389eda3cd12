/*
 * The login child: the AUTHORIZATION state (RFC 1939 section 4) with CAPA,
 * STLS and AUTH PLAIN, run as pop3d_login_user. Credentials go to the
 * parent, which asks the auth service; after a good login the session is
 * handed over (see pop3d.h). Plain-text logins are refused before TLS
 * unless the client is in pop3d_tls_auth_only_exempt or a load balancer
 * in front said the client spoke TLS to it (upstream_proxy.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pop3/pop3_command.h"
#include "pop3d/pop3d.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/ipc.h"
#include "util/log.h"

#define CTL_TIMEOUT_MS 120000

struct preauth {
	const struct pop3d_settings *cfg;
	const struct pop3d_client *client;
	struct stream *stream;
	int fd, ctl, proxy;
	struct tls_session *tls;
	char *user; /* from USER */
	int errors;
	bool quit;
};

static bool login_allowed(const struct preauth *p)
{
	if (p->tls || *p->client->proxied_tls || !p->cfg->tls_auth_only)
		return true;
	return p->cfg->auth_exempt_networks != NULL &&
	       cidr_list_match(p->cfg->auth_exempt_networks, p->client->addr);
}

/* Count an error; true (and the session ends) past the hard limit. */
static bool error(struct preauth *p)
{
	if (++p->errors >= p->cfg->hard_error_limit) {
		pop3d_reply(p->stream, false, "Too many errors, closing connection");
		p->quit = true;
		return true;
	}
	return false;
}

static void refuse_plaintext(struct preauth *p)
{
	pop3d_reply(p->stream, false,
	            "[AUTH] Plain-text authentication is refused before TLS; use STLS first");
	error(p);
}

/* Hand the session over to the mailbox process and stop reading commands. */
static void handoff(struct preauth *p)
{
	struct ipc_rec *rec = ipc_rec_new("handoff");
	ipc_rec_add_int(rec, "tls", p->tls != NULL);
	if (p->tls == NULL) {
		/* Commands pipelined behind the login go to the mailbox process. */
		const char *data = "";
		size_t len = 0;
		if (stream_buffered(p->stream) > 0 &&
		    stream_peek(p->stream, &data, &len) != STREAM_OK)
			len = 0;
		ipc_rec_add_data(rec, "input", data, len);
	} else {
		ipc_rec_add_data(rec, "input", "", 0);
	}
	int rc = ipc_write(p->ctl, rec, CTL_TIMEOUT_MS);
	ipc_rec_free(rec);
	if (rc != 0)
		_exit(1);
	close(p->ctl);
	if (p->tls == NULL)
		_exit(0);
	/* With TLS this process stays as the proxy. */
	proxy_run(p->stream, p->proxy, p->cfg->timeout_ms + 60000);
	tls_session_close(p->tls);
	_exit(0);
}

/* Ask the parent; replies to the client unless the login succeeded. */
static void verify(struct preauth *p, const char *method, const char *user, size_t user_len,
                   const char *password, size_t password_len)
{
	struct ipc_rec *rec = ipc_rec_new("login");
	ipc_rec_add_data(rec, "user", user, user_len);
	ipc_rec_add_data(rec, "password", password, password_len);
	ipc_rec_add_str(rec, "method", method);
	ipc_rec_add_str(rec, "tls", p->tls ? tls_session_summary(p->tls) : p->client->proxied_tls);
	/* The client's queued replies go out before the wait. */
	stream_flush(p->stream);
	int rc = ipc_write(p->ctl, rec, CTL_TIMEOUT_MS);
	for (size_t i = 0; i < rec->count; i++)
		if (rec->attrs[i].value)
			explicit_bzero(rec->attrs[i].value, rec->attrs[i].value_len);
	ipc_rec_free(rec);
	struct ipc_rec *answer = NULL;
	const char *err = "";
	if (rc != 0 || ipc_read(p->ctl, &answer, 4096, CTL_TIMEOUT_MS, &err) != 1) {
		pop3d_reply(p->stream, false, "[SYS/TEMP] Internal error, try again later");
		p->quit = true;
		return;
	}
	if (ipc_rec_is(answer, "ok")) {
		ipc_rec_free(answer);
		handoff(p);
		return;
	}
	if (ipc_rec_is(answer, "tempfail")) {
		const char *reason = ipc_rec_get_str(answer, "reason");
		pop3d_reply(p->stream, false, "[SYS/TEMP] %s, try again later",
		            reason && *reason ? pop3d_log_safe(reason, strlen(reason))
		                              : "Temporary failure");
	} else if (ipc_rec_is(answer, "refused")) {
		pop3d_reply(p->stream, false, "[AUTH] Too many failed logins, closing connection");
		p->quit = true;
	} else {
		pop3d_reply(p->stream, false, "[AUTH] Authentication failed");
		error(p);
	}
	ipc_rec_free(answer);
}

static void cmd_user(struct preauth *p, const struct pop3_command *c)
{
	if (!login_allowed(p)) {
		refuse_plaintext(p);
		return;
	}
	free(p->user);
	p->user = xstrdup(c->arg);
	pop3d_reply(p->stream, true, "Send your password");
}

static void cmd_pass(struct preauth *p, const struct pop3_command *c)
{
	if (!login_allowed(p)) {
		refuse_plaintext(p);
		return;
	}
	if (p->user == NULL) {
		pop3d_reply(p->stream, false, "Send USER first");
		error(p);
		return;
	}
	char *user = p->user;
	p->user = NULL;
	verify(p, "USER", user, strlen(user), c->arg, strlen(c->arg));
	free(user);
}

/* AUTH PLAIN (RFC 4616) with or without an initial response. */
static void auth_plain(struct preauth *p, const char *initial)
{
	struct str line = STR_INIT, decoded = STR_INIT;
	const char *encoded = initial;
	if (encoded == NULL) {
		stream_puts(p->stream, "+ \r\n");
		enum stream_status st = pop3d_read_command(p->stream, &line);
		if (st != STREAM_OK) {
			p->quit = st != STREAM_TOO_LONG;
			if (st == STREAM_TOO_LONG)
				error(p);
			str_free(&line);
			return;
		}
		encoded = str_cstr(&line);
	}
	if (strcmp(encoded, "*") == 0) {
		pop3d_reply(p->stream, false, "[AUTH] Authentication aborted");
		error(p);
	} else if (strcmp(encoded, "=") != 0 &&
	           base64_decode(encoded, strlen(encoded), &decoded) != 0) {
		pop3d_reply(p->stream, false, "[AUTH] Invalid base64 data");
		error(p);
	} else {
		/* authzid NUL authcid NUL password */
		const char *d = decoded.data ? decoded.data : "";
		const char *nul1 = memchr(d, '\0', decoded.len);
		const char *nul2 =
		    nul1 ? memchr(nul1 + 1, '\0', decoded.len - (size_t)(nul1 + 1 - d)) : NULL;
		if (nul1 == NULL || nul2 == NULL ||
		    memchr(nul2 + 1, '\0', decoded.len - (size_t)(nul2 + 1 - d)) != NULL) {
			pop3d_reply(p->stream, false, "[AUTH] Malformed PLAIN response");
			error(p);
		} else {
			size_t authz_len = (size_t)(nul1 - d);
			size_t user_len = (size_t)(nul2 - nul1 - 1);
			size_t pass_len = decoded.len - (size_t)(nul2 + 1 - d);
			if (authz_len > 0 &&
			    (authz_len != user_len || memcmp(d, nul1 + 1, user_len) != 0)) {
				pop3d_reply(p->stream, false,
				            "[AUTH] Authorization identity differs from user name");
				error(p);
			} else if (user_len == 0 || pass_len == 0) {
				pop3d_reply(p->stream, false, "[AUTH] Authentication failed");
				error(p);
			} else {
				verify(p, "PLAIN", nul1 + 1, user_len, nul2 + 1, pass_len);
			}
		}
	}
	if (decoded.data)
		explicit_bzero(decoded.data, decoded.len);
	if (line.data)
		explicit_bzero(line.data, line.len);
	str_free(&decoded);
	str_free(&line);
}

static void cmd_auth(struct preauth *p, const struct pop3_command *c)
{
	if (!login_allowed(p)) {
		refuse_plaintext(p);
		return;
	}
	if (*c->arg == '\0') {
		/* The list of mechanisms (a common extension, used by clients to probe). */
		stream_puts(p->stream, "+OK\r\nPLAIN\r\n.\r\n");
		return;
	}
	if (strcasecmp(c->arg, "PLAIN") != 0) {
		pop3d_reply(p->stream, false, "Unsupported authentication mechanism");
		error(p);
		return;
	}
	auth_plain(p, c->initial);
}

/* As smtpd logs it: protocol, cipher, the SNI name sent, resumption. */
static void log_tls_established(const char *addr, const struct tls_session *tls)
{
	char *name = tls_session_server_name(tls);
	log_info("%s: TLS established: %s%s%s%s", addr, tls_session_summary(tls),
	         name != NULL ? ", sni=" : "", name != NULL ? name : "",
	         tls_session_reused(tls) ? " (resumed)" : "");
	free(name);
}
static void cmd_stls(struct preauth *p)
{
	if (p->tls || *p->client->proxied_tls) {
		pop3d_reply(p->stream, false, "TLS is already active");
		error(p);
		return;
	}
	if (p->cfg->tls == NULL) {
		pop3d_reply(p->stream, false, "TLS is not available");
		error(p);
		return;
	}
	pop3d_reply(p->stream, true, "Begin TLS negotiation");
	if (stream_flush(p->stream) != STREAM_OK) {
		p->quit = true;
		return;
	}
	/* Nothing sent before the handshake may count as sent over TLS. */
	stream_discard_input(p->stream);
	const char *err = "";
	p->tls = tls_accept(p->cfg->tls, p->fd, (int)p->cfg->timeout_ms, &err);
	if (p->tls == NULL) {
		log_info("%s: STLS handshake failed: %s", p->client->addr, err);
		p->quit = true;
		return;
	}
	tls_session_attach(p->tls, p->stream);
	log_tls_established(p->client->addr, p->tls);
	free(p->user);
	p->user = NULL;
}

static void command(struct preauth *p, const struct str *line)
{
	struct pop3_command c;
	const char *err = "";
	if (pop3_command_parse(line->data ? line->data : "", line->len, &c, &err) != 0) {
		pop3d_reply(p->stream, false, "%s", err);
		error(p);
		return;
	}
	switch (c.verb) {
	case POP3_CAPA:
		pop3d_capa(p->stream, true,
		           p->cfg->tls != NULL && p->tls == NULL && !*p->client->proxied_tls,
		           login_allowed(p));
		break;
	case POP3_USER:
		cmd_user(p, &c);
		break;
	case POP3_PASS:
		cmd_pass(p, &c);
		break;
	case POP3_AUTH:
		cmd_auth(p, &c);
		break;
	case POP3_STLS:
		cmd_stls(p);
		break;
	case POP3_QUIT:
		pop3d_reply(p->stream, true, "Bye");
		p->quit = true;
		break;
	case POP3_UNKNOWN:
		pop3d_reply(p->stream, false, "Unknown command");
		error(p);
		break;
	default:
		pop3d_reply(p->stream, false, "%s is not valid before login",
		            pop3_verb_name(c.verb));
		error(p);
		break;
	}
	pop3_command_free(&c);
}

void preauth_run(const struct pop3d_settings *cfg, const struct pop3d_client *client, int fd,
                 int ctl, int proxy)
{
	struct preauth p = {.cfg = cfg, .client = client, .fd = fd, .ctl = ctl, .proxy = proxy};
	p.stream = stream_new(fd, (int)cfg->timeout_ms);
	if (cfg->wrapper_mode) {
		const char *err = "";
		p.tls = tls_accept(cfg->tls, fd, (int)cfg->timeout_ms, &err);
		if (p.tls == NULL) {
			log_info("%s: TLS handshake failed: %s", client->addr, err);
			pop3d_lingering_close(fd);
			_exit(0);
		}
		tls_session_attach(p.tls, p.stream);
		log_tls_established(client->addr, p.tls);
	}
	pop3d_reply(p.stream, true, "%s POP3 server ready", cfg->hostname);
	struct str line = STR_INIT;
	while (!p.quit) {
		enum stream_status st = pop3d_read_command(p.stream, &line);
		if (st == STREAM_TOO_LONG) {
			error(&p);
			continue;
		}
		if (st == STREAM_TIMEOUT) {
			pop3d_reply(p.stream, false, "Disconnected for inactivity");
			log_info("%s: timeout before login", client->addr);
			break;
		}
		if (st != STREAM_OK)
			break;
		command(&p, &line);
	}
	stream_flush(p.stream);
	if (p.tls)
		tls_session_close(p.tls);
	pop3d_lingering_close(fd);
	_exit(0);
}
