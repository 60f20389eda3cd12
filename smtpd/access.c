/*
 * smtpd's access tables, as Postfix's check_client_access,
 * check_helo_access, check_sender_access and check_recipient_access
 * (access(5)): the client's address and name, the HELO name, the sender
 * and the recipient are looked up, in that order, at each RCPT (as
 * Postfix with smtpd_delay_reject), once the recipient itself was
 * accepted. The first table entry that decides ends the checks:
 *
 *   OK, or a number 2NN   accept (also skips the DNS blocklists and the
 *                         policy servers)
 *   REJECT [text]         access_map_reject_code 5.7.1
 *   DEFER [text]          access_map_defer_code 4.7.1
 *   4NN/5NN [X.Y.Z] text  that reply
 *   DISCARD [text]        accept, then drop the message after DATA
 *   DUNNO                 no decision: the next check goes on
 *
 * HOLD [text] puts the message on hold, PREPEND adds a header field, WARN
 * logs, and the checks go on. DEFER_IF_PERMIT defers the recipient if no
 * later check refuses it; DEFER_IF_REJECT makes a later 5NN refusal a
 * deferral. FILTER transport:destination sends the message to that content
 * filter instead of its recipients' destinations (the last FILTER wins,
 * over content_filter). REDIRECT address sends the message to that
 * address instead of all its recipients (and past any FILTER), BCC address
 * sends a copy there too (the last of each in a transaction counts); at
 * the end of DATA (an end-of-data policy server) the queue file is written
 * again with the new envelope. A table that cannot be read
 * answers 451 4.3.0, an action that is not one of these 451 4.3.5, and nothing is lost either way.
 *
 * The same actions come from policy servers (policy_service.c): access_act
 * is the one place that carries them out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/extension.h"
#include "smtp/access_action.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

/* What is checked: the settings' tables and the words of the replies. */
struct access_check {
	char *const *maps;
	const char *what; /* "Client host", "Helo command", ... */
};

/* The PREPENDed header fields of one message stop growing here. */
#define PREPEND_LIMIT (64 * 1024)

static void add_key(char ***keys, size_t *count, char *key)
{
	*keys = xrealloc(*keys, (*count + 2) * sizeof(**keys));
	(*keys)[(*count)++] = key;
	(*keys)[*count] = NULL;
}

/* name, then each parent domain (example.com for mail.example.com) and
 * the same with a leading dot (subdomains only). */
static void add_domain_keys(char ***keys, size_t *count, const char *name)
{
	char *lower = str_lower_dup(name);
	add_key(keys, count, lower);
	for (const char *dot = strchr(lower, '.'); dot && dot[1]; dot = strchr(dot + 1, '.')) {
		add_key(keys, count, xstrdup(dot));
		add_key(keys, count, xstrdup(dot + 1));
	}
}

/* The client: its address, then its shorter prefixes (192.0.2, 192.0,
 * 192; 2001:db8:1, 2001:db8, 2001), then its verified name. */
static char **client_keys(const struct session *s)
{
	char **keys = NULL;
	size_t count = 0;
	char *addr = str_lower_dup(s->client_addr);
	add_key(&keys, &count, addr);
	char sep = strchr(addr, ':') ? ':' : '.';
	char *prefix = xstrdup(addr);
	char *cut;
	while ((cut = strrchr(prefix, sep)) != NULL) {
		*cut = '\0';
		while (cut > prefix && cut[-1] == sep) /* "2001:db8::" */
			*--cut = '\0';
		if (*prefix == '\0')
			break;
		add_key(&keys, &count, xstrdup(prefix));
	}
	free(prefix);
	if (strcmp(s->client_name, "unknown") != 0 && s->client_name[0] != '\0')
		add_domain_keys(&keys, &count, s->client_name);
	return keys;
}

static char **helo_keys(const struct session *s)
{
	char **keys = NULL;
	size_t count = 0;
	if (s->helo && *s->helo)
		add_domain_keys(&keys, &count, s->helo);
	return keys;
}

/* An address: whole, without its extension, its domain and the parents,
 * then "local@". The null sender is "<>". */
static char **address_keys(const struct smtpd_settings *cfg, const char *address)
{
	char **keys = NULL;
	size_t count = 0;
	if (*address == '\0') {
		add_key(&keys, &count, xstrdup("<>"));
		return keys;
	}
	char *lower = str_lower_dup(address);
	add_key(&keys, &count, lower);
	char *base = extension_strip(lower, cfg->recipient_delimiter);
	if (base)
		add_key(&keys, &count, base);
	const char *at = strrchr(lower, '@');
	if (at && at[1])
		add_domain_keys(&keys, &count, at + 1);
	if (at)
		add_key(&keys, &count, xstrndup(lower, (size_t)(at - lower) + 1));
	return keys;
}

static void free_keys(char **keys)
{
	for (size_t i = 0; keys && keys[i]; i++)
		free(keys[i]);
	free(keys);
}

/* A copy of text (len bytes) fit for a reply or a log line: a control
 * character or a byte outside ASCII becomes '?'. */
static char *printable(const char *text, size_t len)
{
	char *copy = xstrndup(text, len);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	return copy;
}

/* "<subject>: Sender address rejected: text" */
static char *refusal_text(const struct access_source *src, const char *text)
{
	/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets. */
	return xasprintf("<%.254s>: %s rejected: %.200s", src->subject, src->what, text);
}

/* "<subject>: Sender address triggers HOLD action[: text]", for the log. */
static char *trigger(const struct access_source *src, const char *action, const char *text)
{
	return xasprintf("<%s>: %s triggers %s action%s%s", src->subject, src->what, action,
	                 *text ? ": " : "", text);
}

/* HOLD, DISCARD and WARN are logged when they are triggered, in Postfix's
 * form (log summarisers count them there). */
static void log_action(struct session *s, const struct access_source *src, const char *action,
                       const char *why)
{
	struct str line = STR_INIT;
	str_printf(&line, "%s: %s: %s from %s: %s; from=<%s>",
	           s->queue_id[0] ? s->queue_id : "NOQUEUE", action, src->stage, session_client(s),
	           why, s->env.sender ? s->env.sender : "");
	if (src->rcpt)
		str_printf(&line, " to=<%s>", src->rcpt);
	str_printf(&line, " proto=%s helo=<%s>", session_protocol(s), s->helo ? s->helo : "");
	log_info("%s", str_cstr(&line));
	str_free(&line);
}

static void deferral_set(struct access_deferral *d, const struct access_action *a, char *text)
{
	free(d->text);
	d->code = a->code;
	snprintf(d->enhanced, sizeof(d->enhanced), "%s", a->enhanced);
	d->text = text;
}

void access_deferrals_clear(struct session *s)
{
	struct access_deferral *both[] = {&s->defer_if_permit, &s->defer_if_reject};
	for (size_t i = 0; i < 2; i++) {
		free(both[i]->text);
		memset(both[i], 0, sizeof(*both[i]));
	}
}

int access_deferral_due(struct session *s)
{
	const struct access_deferral *d = &s->defer_if_permit;
	if (d->code == 0)
		return 0;
	reply(s, d->code, d->enhanced, "%s", d->text);
	return -1;
}

/* header: a valid header field (access_header_valid). */
static void prepend(struct session *s, const struct access_source *src, const char *header)
{
	if (src->after_headers) {
		log_warn("%s: PREPEND is not possible at %s; ignored", src->origin, src->stage);
		return;
	}
	if (s->prepend.len + strlen(header) > PREPEND_LIMIT) {
		log_warn("%s: PREPEND: too many header fields for one message; ignored",
		         src->origin);
		return;
	}
	str_append_cstr(&s->prepend, header);
	str_append(&s->prepend, "\r\n", 2);
}

enum access_verdict access_act(struct session *s, const struct access_source *src,
                               const char *value)
{
	const struct smtpd_settings *cfg = s->cfg;
	struct access_action a;
	access_action_parse(value, (int)cfg->access_reject_code, (int)cfg->access_defer_code, &a);
	char *text =
	    a.kind == ACCESS_PREPEND ? xstrndup(a.text, a.text_len) : printable(a.text, a.text_len);
	enum access_verdict v = ACCESS_GO_ON;
	switch (a.kind) {
	case ACCESS_OK:
		v = ACCESS_ACCEPT;
		break;
	case ACCESS_DUNNO:
		break;
	case ACCESS_REFUSE: {
		char *why = refusal_text(src, text);
		reply(s, a.code, a.enhanced, "%s", why);
		free(why);
		v = ACCESS_REFUSED;
		break;
	}
	case ACCESS_DEFER_IF_PERMIT:
		deferral_set(&s->defer_if_permit, &a, refusal_text(src, text));
		break;
	case ACCESS_DEFER_IF_REJECT:
		deferral_set(&s->defer_if_reject, &a, refusal_text(src, text));
		break;
	case ACCESS_DISCARD:
		free(s->access_discard);
		s->access_discard = trigger(src, "DISCARD", text);
		log_action(s, src, "discard", s->access_discard);
		v = ACCESS_DISCARDED;
		break;
	case ACCESS_HOLD:
		free(s->env.hold_reason);
		s->env.hold_reason = trigger(src, "HOLD", text);
		log_action(s, src, "hold", s->env.hold_reason);
		break;
	case ACCESS_PREPEND:
		prepend(s, src, text);
		break;
	case ACCESS_FILTER:
		free(s->env.filter);
		s->env.filter = xstrndup(a.text, a.text_len);
		char *why = trigger(src, "FILTER", s->env.filter);
		log_action(s, src, "filter", why);
		free(why);
		break;
	case ACCESS_REDIRECT:
	case ACCESS_BCC: {
		bool redirect = a.kind == ACCESS_REDIRECT;
		/* At the end of DATA the envelope is in the queue file already:
		 * data.c writes the file again. */
		if (src->after_headers)
			s->envelope_stale = true;
		char **slot = redirect ? &s->access_redirect : &s->access_bcc;
		free(*slot);
		*slot = xstrndup(a.text, a.text_len);
		char *triggered = trigger(src, redirect ? "REDIRECT" : "BCC", *slot);
		log_action(s, src, redirect ? "redirect" : "bcc", triggered);
		free(triggered);
		break;
	}
	case ACCESS_WARN:
		log_action(s, src, "warn", text);
		break;
	case ACCESS_IGNORED:
		log_warn("%s: %.*s: %s; ignored", src->origin, (int)a.word_len, a.word, a.error);
		break;
	case ACCESS_INVALID: {
		char *shown = printable(value, strlen(value));
		log_warn("%s: unknown action \"%s\"", src->origin, shown);
		free(shown);
		reply(s, 451, "4.3.5", "<%.254s>: %s rejected: Server configuration error",
		      src->subject, src->what);
		v = ACCESS_REFUSED;
		break;
	}
	}
	free(text);
	return v;
}

/* Look the keys up in each table of the check, in order. */
static enum access_verdict run_check(struct session *s, const struct access_check *c, char **keys,
                                     const char *subject, const char *rcpt)
{
	enum access_verdict v = ACCESS_GO_ON;
	for (size_t t = 0; c->maps && c->maps[t] && v == ACCESS_GO_ON; t++) {
		struct str value = STR_INIT;
		for (size_t k = 0; keys && keys[k]; k++) {
			int rc = policy_table_value(c->maps[t], keys[k], &value);
			if (rc < 0) {
				reply(s, 451, "4.3.0",
				      "<%.254s>: %s rejected: Temporary lookup failure", subject,
				      c->what);
				v = ACCESS_REFUSED;
				break;
			}
			if (rc == 1) {
				char *origin =
				    xasprintf("access table %s: %s", c->maps[t], keys[k]);
				const struct access_source src = {
				    .what = c->what,
				    .subject = subject,
				    .stage = "RCPT",
				    .rcpt = rcpt,
				    .origin = origin,
				};
				v = access_act(s, &src, str_cstr(&value));
				free(origin);
				break; /* a table's first entry decides for it, even DUNNO */
			}
		}
		str_free(&value);
	}
	return v;
}

static bool no_tables(char *const *maps)
{
	return maps == NULL || maps[0] == NULL;
}

int access_check_rcpt(struct session *s, const char *address, bool *ok_r)
{
	const struct smtpd_settings *cfg = s->cfg;
	*ok_r = false;
	if (no_tables(cfg->client_access_maps) && no_tables(cfg->helo_access_maps) &&
	    no_tables(cfg->sender_access_maps) && no_tables(cfg->recipient_access_maps))
		return 0; /* none configured: nothing to look up for each RCPT */
	/* A copy: session_client's buffer is reused by the log lines. */
	char client[400];
	snprintf(client, sizeof(client), "%s", session_client(s));
	const struct {
		struct access_check check;
		char **keys;
		const char *subject;
	} checks[] = {
	    {{cfg->client_access_maps, "Client host"}, NULL, client},
	    {{cfg->helo_access_maps, "Helo command"}, NULL, s->helo ? s->helo : ""},
	    {{cfg->sender_access_maps, "Sender address"}, NULL, s->env.sender},
	    {{cfg->recipient_access_maps, "Recipient address"}, NULL, address},
	};
	enum access_verdict v = ACCESS_GO_ON;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]) && v == ACCESS_GO_ON; i++) {
		const struct access_check *c = &checks[i].check;
		if (no_tables(c->maps))
			continue;
		char **keys = i == 0   ? client_keys(s)
		              : i == 1 ? helo_keys(s)
		                       : address_keys(cfg, checks[i].subject);
		v = run_check(s, c, keys, checks[i].subject, address);
		free_keys(keys);
	}
	*ok_r = v == ACCESS_ACCEPT || v == ACCESS_DISCARDED;
	return v == ACCESS_REFUSED ? -1 : 0;
}
