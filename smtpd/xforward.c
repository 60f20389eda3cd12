/*
 * XFORWARD (Postfix's XFORWARD_README; the parser is lib/smtp/xforward.c):
 * a client in smtpd_authorized_xforward_hosts -- an after-queue content
 * filter giving mail back -- sees XFORWARD in the EHLO reply and may send
 * one or more XFORWARD commands before MAIL, naming the ORIGINAL client.
 *
 * As in Postfix, the forwarded attributes are for the record, not for
 * policy. They go into
 *   - the queue file's envelope: client_name, client_addr, client_port,
 *     helo, protocol and auth_user (LOGIN) all describe the original
 *     client once any of NAME, ADDR, PORT, PROTO, HELO or LOGIN is
 *     forwarded (the others as unknown: name and protocol "unknown", the
 *     rest empty); SOURCE=LOCAL makes the origin "pickup" (mail that was
 *     submitted on the up-stream host), REMOTE "smtp". tls stays the
 *     session's own;
 *   - the "ID: client=" log line, which names the real client and adds
 *     ", orig_queue_id=IDENT" and ", orig_client=name[addr]".
 * Everything that decides -- access tables, DNS blocklists, rate limits,
 * policy services, milters -- and the Received header see the real client
 * (the filter), as Postfix's do.
 *
 * The attributes last until the transaction ends (end of DATA or BDAT
 * LAST, RSET, HELO/EHLO, STARTTLS), as Postfix's mail_reset() has it.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/alloc.h"

void xforward_session_start(struct session *s)
{
	s->xforward_allowed = s->cfg->xforward_hosts != NULL &&
	                      cidr_list_match(s->cfg->xforward_hosts, s->client_addr);
}

void xforward_reset(struct session *s)
{
	xforward_attrs_free(&s->xforward);
	free(s->xforward_log);
	s->xforward_log = NULL;
}

/* The ", orig_queue_id=..., orig_client=..." that the client= line gets. */
static void update_log(struct session *s)
{
	const struct xforward_attrs *x = &s->xforward;
	struct str text = STR_INIT;
	const char *ident = xforward_attrs_get(x, XFORWARD_IDENT);
	if (ident != NULL && *ident != '\0')
		str_printf(&text, ", orig_queue_id=%s", ident);
	if (x->given & XFORWARD_CLIENT_ATTRS) {
		const char *name = xforward_attrs_get(x, XFORWARD_NAME);
		const char *addr = xforward_attrs_get(x, XFORWARD_ADDR);
		str_printf(&text, ", orig_client=%s", name && *name ? name : "unknown");
		if (addr != NULL && *addr != '\0')
			str_printf(&text, "[%s]", addr);
	}
	free(s->xforward_log);
	s->xforward_log = text.len > 0 ? str_steal(&text) : NULL;
	str_free(&text);
}

void cmd_xforward(struct session *s, const char *arg)
{
	if (s->in_transaction) {
		reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		session_error(s);
		return;
	}
	if (*arg == '\0') {
		reply(s, 501, "5.5.4", "Syntax: XFORWARD attribute=value...");
		session_error(s);
		return;
	}
	if (!s->xforward_allowed) {
		reply(s, 550, "5.7.0", "Error: insufficient authorization");
		session_error(s);
		return;
	}
	struct xforward_attrs update;
	char *error;
	if (xforward_parse(arg, &update, &error) != 0) {
		reply(s, 501, "5.5.4", "%s", error);
		free(error);
		session_error(s);
		return;
	}
	xforward_attrs_merge(&s->xforward, &update);
	update_log(s);
	reply(s, 250, "2.0.0", "Ok");
}

/* Replace *field with value (or dflt when value is "" or NULL). */
static void set_field(char **field, const char *value, const char *dflt)
{
	free(*field);
	*field = xstrdup(value != NULL && *value != '\0' ? value : dflt);
}

void xforward_apply_envelope(const struct session *s, struct queue_envelope *env)
{
	const struct xforward_attrs *x = &s->xforward;
	if (x->given & XFORWARD_CLIENT_ATTRS) {
		set_field(&env->client_name, xforward_attrs_get(x, XFORWARD_NAME), "unknown");
		set_field(&env->client_addr, xforward_attrs_get(x, XFORWARD_ADDR), "");
		set_field(&env->client_port, xforward_attrs_get(x, XFORWARD_PORT), "");
		set_field(&env->helo, xforward_attrs_get(x, XFORWARD_HELO), "");
		set_field(&env->protocol, xforward_attrs_get(x, XFORWARD_PROTO), "unknown");
		set_field(&env->auth_user, xforward_attrs_get(x, XFORWARD_LOGIN), "");
	}
	const char *source = xforward_attrs_get(x, XFORWARD_SOURCE);
	if (source != NULL)
		set_field(&env->origin, strcmp(source, "LOCAL") == 0 ? "pickup" : "smtp", "");
}

const char *xforward_log_suffix(const struct session *s)
{
	return s->xforward_log ? s->xforward_log : "";
}
