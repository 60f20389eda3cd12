/*
 * smtpd's access tables, as Postfix's check_client_access,
 * check_helo_access, check_sender_access and check_recipient_access
 * (access(5)): the client's address and name, the HELO name, the sender
 * and the recipient are looked up, in that order, at each RCPT (as
 * Postfix with smtpd_delay_reject), once the recipient itself was
 * accepted. The first table entry that decides ends the checks:
 *
 *   OK, or a number 2NN   accept (also skips the DNS blocklists)
 *   REJECT [text]         access_map_reject_code 5.7.1
 *   DEFER [text]          access_map_defer_code 4.7.1
 *   4NN/5NN [X.Y.Z] text  that reply
 *   DISCARD [text]        accept, then drop the message after DATA
 *   DUNNO                 no decision: the next check goes on
 *
 * HOLD [text] puts the message on hold and the checks go on. A table
 * that cannot be read answers 451 4.3.0, an action that is not one of
 * these 451 4.3.5, and nothing is lost either way.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/extension.h"
#include "smtp/smtp_resp.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

/* What is checked: the settings' tables and the words of the replies. */
struct access_check {
	char *const *maps;
	const char *what; /* "Client host", "Helo command", ... */
};

enum verdict { V_NONE, V_OK, V_REFUSED, V_DISCARD };

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

/* The text after an action word, or the default. */
static const char *action_text(const char *rest)
{
	while (*rest == ' ' || *rest == '\t')
		rest++;
	return *rest ? rest : "Access denied";
}

static bool word_is(const char *value, const char *word, const char **rest_r)
{
	size_t n = strlen(word);
	if (strncasecmp(value, word, n) != 0 ||
	    (value[n] != '\0' && value[n] != ' ' && value[n] != '\t'))
		return false;
	*rest_r = value + n;
	return true;
}

/* "X.Y.Z " at the start of text whose class digit matches code's. */
static size_t enhanced_len(const char *text, int code)
{
	size_t len = smtp_status_code_len(text, strlen(text));
	return len > 0 && text[0] == '0' + code / 100 ? len : 0;
}

static void refuse(struct session *s, int code, const char *enhanced, const struct access_check *c,
                   const char *subject, const char *text)
{
	/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets. */
	reply(s, code, enhanced, "<%.254s>: %s rejected: %.200s", subject, c->what, text);
}

/* "<subject>: Sender address triggers HOLD action[: text]", for the log. */
static char *trigger(const struct access_check *c, const char *subject, const char *action,
                     const char *rest)
{
	while (*rest == ' ' || *rest == '\t')
		rest++;
	return xasprintf("<%s>: %s triggers %s action%s%s", subject, c->what, action,
	                 *rest ? ": " : "", rest);
}

/* HOLD and DISCARD are logged when they are triggered, in Postfix's form
 * (log summarisers count them there). */
static void log_action(struct session *s, const char *action, const char *why, const char *rcpt)
{
	log_info("%s: %s: RCPT from %s: %s; from=<%s> to=<%s> proto=%s helo=<%s>",
	         s->queue_id[0] ? s->queue_id : "NOQUEUE", action, session_client(s), why,
	         s->env.sender, rcpt, session_protocol(s), s->helo ? s->helo : "");
}

/* Act on one table value for the recipient rcpt; V_NONE to go on with the
 * next check. */
static enum verdict act(struct session *s, const struct access_check *c, const char *table,
                        const char *key, const char *subject, const char *value, const char *rcpt)
{
	const struct smtpd_settings *cfg = s->cfg;
	const char *rest;
	if (word_is(value, "OK", &rest))
		return V_OK;
	if (word_is(value, "DUNNO", &rest))
		return V_NONE;
	if (word_is(value, "REJECT", &rest)) {
		refuse(s, (int)cfg->access_reject_code, "5.7.1", c, subject, action_text(rest));
		return V_REFUSED;
	}
	if (word_is(value, "DEFER", &rest)) {
		refuse(s, (int)cfg->access_defer_code, "4.7.1", c, subject, action_text(rest));
		return V_REFUSED;
	}
	if (word_is(value, "DISCARD", &rest)) {
		free(s->access_discard);
		s->access_discard = trigger(c, subject, "DISCARD", rest);
		log_action(s, "discard", s->access_discard, rcpt);
		return V_DISCARD;
	}
	if (word_is(value, "HOLD", &rest)) {
		free(s->env.hold_reason);
		s->env.hold_reason = trigger(c, subject, "HOLD", rest);
		log_action(s, "hold", s->env.hold_reason, rcpt);
		return V_NONE;
	}
	if (isdigit((unsigned char)value[0]) && isdigit((unsigned char)value[1]) &&
	    isdigit((unsigned char)value[2]) && (value[3] == '\0' || value[3] == ' ')) {
		int code = atoi(value);
		const char *text = value + 3;
		while (*text == ' ')
			text++;
		if (code >= 200 && code < 300)
			return V_OK;
		if (code >= 400 && code < 600) {
			size_t elen = enhanced_len(text, code);
			char enhanced[16];
			if (elen > 0 && elen < sizeof(enhanced)) {
				memcpy(enhanced, text, elen);
				enhanced[elen] = '\0';
				text += elen;
			} else
				snprintf(enhanced, sizeof(enhanced), "%d.7.1", code / 100);
			refuse(s, code, enhanced, c, subject, action_text(text));
			return V_REFUSED;
		}
	}
	log_warn("access table %s: %s: unknown action \"%s\"", table, key, value);
	reply(s, 451, "4.3.5", "<%.254s>: %s rejected: Server configuration error", subject,
	      c->what);
	return V_REFUSED;
}

/* Look the keys up in each table of the check, in order. */
static enum verdict run_check(struct session *s, const struct access_check *c, char **keys,
                              const char *subject, const char *rcpt)
{
	enum verdict v = V_NONE;
	for (size_t t = 0; c->maps && c->maps[t] && v == V_NONE; t++) {
		struct str value = STR_INIT;
		for (size_t k = 0; keys && keys[k]; k++) {
			int rc = policy_table_value(c->maps[t], keys[k], &value);
			if (rc < 0) {
				reply(s, 451, "4.3.0",
				      "<%.254s>: %s rejected: Temporary lookup failure", subject,
				      c->what);
				v = V_REFUSED;
				break;
			}
			if (rc == 1) {
				v = act(s, c, c->maps[t], keys[k], subject, str_cstr(&value), rcpt);
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
	enum verdict v = V_NONE;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]) && v == V_NONE; i++) {
		const struct access_check *c = &checks[i].check;
		if (no_tables(c->maps))
			continue;
		char **keys = i == 0   ? client_keys(s)
		              : i == 1 ? helo_keys(s)
		                       : address_keys(cfg, checks[i].subject);
		v = run_check(s, c, keys, checks[i].subject, address);
		free_keys(keys);
	}
	*ok_r = v == V_OK || v == V_DISCARD;
	return v == V_REFUSED ? -1 : 0;
}
