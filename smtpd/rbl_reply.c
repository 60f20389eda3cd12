/*
 * The replies of smtpd's blocklists (dnsbl.c, rhsbl.c), as Postfix makes
 * them: a template, from rbl_reply_maps (keyed by the site's domain, as
 * written in the site list without its =FILTER) or else default_rbl_reply,
 *
 *   $rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using
 *   $rbl_domain${rbl_reason?; $rbl_reason}
 *
 * expanded with one level of $name substitution (util/var_expand.h) of
 * Postfix's names only: $client, $client_address, $client_name,
 * $reverse_client_name, $helo_name, $rbl_class, $rbl_code
 * (smtpd_dnsbl_reply_code), $rbl_domain, $rbl_reason, $rbl_txt,
 * $rbl_what, $recipient, $recipient_domain, $recipient_name, $sender,
 * $sender_domain, $sender_name. The result is "4NN text" or "5NN text",
 * the text starting with an enhanced status code or not (4.7.1/5.7.1 are
 * used then; a code of the other class is given the reply's).
 *
 * A table's template that does not give such a reply (an unknown name, a
 * bad reference, another code, a CR or LF in the result), or a table that
 * cannot be read, is logged, naming the table and key, and
 * default_rbl_reply is used; a bad default_rbl_reply is logged too, and
 * the reply of Postfix's default template, built in, is sent. The client
 * is refused whatever goes wrong, and never with a malformed reply: the
 * text is cut to fit one 512-byte reply line, and other control
 * characters than CR and LF (from the client) become '?'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/rbl_reply.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

/* An address and its parts as Postfix's templates show them: "<>" for
 * the null address and its local part. */
struct address_parts {
	const char *address;
	char *name;
	const char *domain;
};

static void address_parts(const char *address, struct address_parts *p)
{
	if (address == NULL)
		address = "";
	const char *at = strrchr(address, '@');
	p->address = *address ? address : "<>";
	p->name = *address ? xstrndup(address, at ? (size_t)(at - address) : strlen(address))
	                   : xstrdup("<>");
	p->domain = at ? at + 1 : "";
}

/* Control characters (a client's, in its HELO name, say) become '?'. */
static void printable(char *text)
{
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* Expand template into r: 0, or -1 having logged why, naming origin and
 * what is used instead (next). */
static int expand(const char *origin, const char *next, const char *template,
                  const char *const values[RBL_REPLY_VARS], struct rbl_reply *r)
{
	struct str error = STR_INIT;
	int rc = rbl_reply_expand(template, values, r, &error);
	if (rc != 0)
		log_warn("%s: bad RBL reply template \"%s\": %s; %s is used", origin, template,
		         str_cstr(&error), next);
	str_free(&error);
	return rc;
}

/* The template of rbl_reply_maps for domain into value, and the table
 * that gave it (or failed) into *table_r: 1, 0 if no table has one, or
 * -1 if a table could not be read (logged). */
static int table_template(const struct session *s, const char *domain, struct str *value,
                          const char **table_r)
{
	char *const *maps = conf_get_list(s->cfg->conf, "rbl_reply_maps");
	for (size_t i = 0; maps[i] != NULL; i++) {
		*table_r = maps[i];
		int rc = policy_table_value(maps[i], domain, value);
		if (rc < 0)
			log_warn(
			    "rbl_reply_maps %s: lookup of %s failed; default_rbl_reply is used",
			    maps[i], domain);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Postfix's default template, built in, for when default_rbl_reply fails
 * too. */
static void builtin_reply(const struct session *s, const struct blocklist_listing *l,
                          struct rbl_reply *r)
{
	long long code = s->cfg->dnsbl_reply_code;
	r->code = code >= 400 && code <= 599 ? (int)code : 450;
	snprintf(r->enhanced, sizeof(r->enhanced), "%d.7.1", r->code / 100);
	struct str text = STR_INIT;
	str_printf(&text, "Service unavailable; %s [%s] blocked using %s%s%s", l->class, l->what,
	           l->domain, l->reason[0] ? "; " : "", l->reason);
	snprintf(r->text, sizeof(r->text), "%s", str_cstr(&text));
	str_free(&text);
	printable(r->text);
}

int smtpd_blocklist_refuse(struct session *s, const struct blocklist_listing *l,
                           const char *recipient)
{
	char client[400], code[16];
	snprintf(client, sizeof(client), "%s", session_client(s));
	snprintf(code, sizeof(code), "%lld", s->cfg->dnsbl_reply_code);
	struct address_parts sender, rcpt;
	address_parts(s->env.sender, &sender);
	address_parts(recipient, &rcpt);
	const char *values[RBL_REPLY_VARS] = {
	    [RBL_CLIENT] = client,
	    [RBL_CLIENT_ADDRESS] = s->client_addr,
	    [RBL_CLIENT_NAME] = s->client_name,
	    [RBL_REVERSE_CLIENT_NAME] = s->reverse_name,
	    [RBL_HELO_NAME] = s->helo ? s->helo : "",
	    [RBL_CLASS] = l->class,
	    [RBL_CODE] = code,
	    [RBL_DOMAIN] = l->domain,
	    [RBL_REASON] = l->reason,
	    [RBL_TXT] = l->reason,
	    [RBL_WHAT] = l->what,
	    [RBL_RECIPIENT] = rcpt.address,
	    [RBL_RECIPIENT_DOMAIN] = rcpt.domain,
	    [RBL_RECIPIENT_NAME] = rcpt.name,
	    [RBL_SENDER] = sender.address,
	    [RBL_SENDER_DOMAIN] = sender.domain,
	    [RBL_SENDER_NAME] = sender.name,
	};

	struct rbl_reply r;
	struct str template = STR_INIT;
	const char *table = NULL;
	bool done = false;
	if (table_template(s, l->domain, &template, &table) == 1) {
		char *origin = xasprintf("rbl_reply_maps %s: %s", table, l->domain);
		done = expand(origin, "default_rbl_reply", str_cstr(&template), values, &r) == 0;
		free(origin);
	}
	if (!done)
		done = expand("default_rbl_reply", "the built-in reply",
		              conf_get_raw(s->cfg->conf, "default_rbl_reply"), values, &r) == 0;
	if (!done)
		builtin_reply(s, l, &r);
	reply(s, r.code, r.enhanced, "%s", r.text);
	str_free(&template);
	free(sender.name);
	free(rcpt.name);
	return -1;
}
