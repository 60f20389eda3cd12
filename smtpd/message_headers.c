/*
 * The header section of a message smtpd receives, and the header fields
 * it adds: the Received header, below the fields that access tables or
 * policy servers PREPENDed (they come first, as Postfix puts them). The
 * client's header section is held until its end (or until it grows too
 * large): to add a missing Message-ID or Date for submission, to count
 * hops, and to remove Return-Path and Content-Length fields. Then
 * header_checks see our fields and the client's, and the address fields
 * of the client's are rewritten by canonical mapping and masquerading
 * (for the clients local_header_rewrite_clients names, and for the others
 * too when remote_header_rewrite_domain is set, their addresses without
 * a domain getting that one), after header_checks, as Postfix's cleanup
 * does; the section is held anyway, so this costs nothing when neither
 * is configured.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/drop_headers.h"
#include "smtpd/message_sink.h"
#include "smtpd/smtpd.h"
#include "util/log.h"

static void format_date(char *buf, size_t len, time_t when)
{
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

void build_received(struct session *s, struct message_sink *k, struct str *out)
{
	char date[64];
	format_date(date, sizeof(date), time(NULL));
	str_append(out, s->prepend.data, s->prepend.len);
	str_printf(out, "Received: from %s (%s [%s])\r\n", s->helo ? s->helo : s->client_addr,
	           s->client_name, s->client_addr);
	if (s->tls)
		str_printf(out, "\t(using %s)\r\n", tls_session_summary(s->tls));
	char *subject = s->tls ? tls_session_peer_subject(s->tls) : NULL;
	if (subject != NULL) {
		/* As Postfix notes a client certificate (smtpd_tls_ask_ccert). */
		char *issuer = tls_session_peer_issuer(s->tls);
		for (char *c = subject; *c; c++)
			*c = *c == '"' || *c == '\\' ? '?' : *c;
		for (char *c = issuer; c && *c; c++)
			*c = *c == '"' || *c == '\\' ? '?' : *c;
		str_printf(out, "\t(Client CN \"%s\", Issuer \"%s\" (%s))\r\n", subject,
		           issuer ? issuer : "",
		           tls_session_peer_verified(s->tls) ? "verified OK" : "not verified");
		free(issuer);
		free(subject);
	}
	if (s->auth_user && s->cfg->auth_header)
		str_printf(out, "\t(Authenticated sender: %s)\r\n", s->auth_user);
	str_printf(out, "\tby %s (Postern) with %s id %s", s->cfg->hostname, session_protocol(s),
	           k->id);
	if (s->env.rcpt_count == 1)
		str_printf(out, "\r\n\tfor <%s>", s->env.rcpts[0].address);
	str_printf(out, "; %s\r\n", date);
}

/* The canonical maps and masquerading for the header section: none
 * with receive_override_options = no_address_mappings, which leaves the
 * completion of addresses without a domain (as in Postfix, where that is
 * trivial-rewrite's, not a mapping). */
static struct canonical *header_tables(const struct session *s)
{
	return (s->cfg->receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) ? NULL : s->cfg->canonical;
}

/* Whether the client is local to header rewriting: Postfix rewrites the
 * header sections of the clients local_header_rewrite_clients names. */
static bool is_local_client(const struct session *s)
{
	unsigned clients = s->cfg->header_rewrite_clients;
	const struct addr_set *own = canonical_own_addrs(s->cfg->canonical);
	return (clients & CANONICAL_CLIENTS_ALL) ||
	       ((clients & CANONICAL_CLIENTS_INET_INTERFACES) && own != NULL &&
	        addr_set_contains(own, s->client_addr)) ||
	       ((clients & CANONICAL_CLIENTS_MYNETWORKS) &&
	        cidr_list_match(s->cfg->mynetworks, s->client_addr)) ||
	       ((clients & CANONICAL_CLIENTS_SASL) && s->auth_user != NULL);
}

/* The client's header fields, buf[from..buf->len), with their addresses
 * rewritten (canonical_maps, masquerade_domains; a remote client's
 * incomplete addresses get @remote_header_rewrite_domain). */
static void rewrite_header_fields(struct session *s, struct message_sink *k, struct str *buf,
                                  size_t from)
{
	struct str out = STR_INIT;
	size_t used = 0;
	const char *error = "";
	const char *in = buf->data + from;
	size_t len = buf->len - from;
	const char *domain =
	    is_local_client(s) ? s->cfg->local_header_domain : s->cfg->remote_header_domain;
	int rc =
	    canonical_rewrite_header(header_tables(s), domain, in, len, true, &out, &used, &error);
	if (rc < 0) {
		log_warn("%s: header address rewriting: %s", k->id, error);
		k->rewrite_failed = true;
	} else if (rc == 1) {
		str_append(&out, buf->data + from + used, buf->len - from - used);
		str_truncate(buf, from);
		str_append(buf, out.data, out.len);
	}
	str_free(&out);
}

/* Called at the end of the header section (or when it grows too large):
 * the held bytes up to header_len are headers, those from body_from on
 * are body (between the two: the empty line that ends the headers). */
void sink_release_headers(struct session *s, struct message_sink *k, size_t header_len,
                          size_t body_from)
{
	size_t kept_len = drop_headers_remove(&k->headers, header_len);
	body_from -= header_len - kept_len;
	header_len = kept_len;
	struct str added = STR_INIT;
	bool add = s->cfg->add_missing_headers || s->auth_user != NULL;
	if (add && !k->has_date) {
		char date[64];
		format_date(date, sizeof(date), time(NULL));
		str_printf(&added, "Date: %s\r\n", date);
	}
	if (add && !k->has_message_id)
		str_printf(&added, "Message-ID: <%s@%s>\r\n", k->id, s->cfg->hostname);
	if (k->checking) {
		struct str out = STR_INIT;
		content_check_headers(&k->check, k->received.data, k->received.len, &out);
		str_append(&out, added.data, added.len);
		size_t client_from = out.len;
		content_check_headers(&k->check, k->headers.data, header_len, &out);
		if (k->rewriting)
			rewrite_header_fields(s, k, &out, client_from);
		str_append(&out, k->headers.data + header_len, body_from - header_len);
		sink_put(k, out.data, out.len);
		str_free(&out);
		sink_put_body(k, k->headers.data + body_from, k->headers.len - body_from);
	} else if (k->rewriting) {
		struct str out = STR_INIT;
		str_append(&out, added.data, added.len);
		str_append(&out, k->headers.data, header_len);
		rewrite_header_fields(s, k, &out, added.len);
		str_append(&out, k->headers.data + header_len, k->headers.len - header_len);
		sink_put(k, out.data, out.len);
		str_free(&out);
	} else {
		sink_put(k, added.data, added.len);
		sink_put(k, k->headers.data, k->headers.len);
	}
	str_free(&added);
	str_clear(&k->headers);
	k->in_headers = false;
}

static bool header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Look at the complete header lines held so far. */
void scan_header_lines(struct session *s, struct message_sink *k, size_t from)
{
	const char *p = k->headers.data + from;
	const char *end = k->headers.data + k->headers.len;
	while (k->in_headers && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0) {
			sink_release_headers(s, k, (size_t)(p - k->headers.data),
			                     (size_t)(nl + 1 - k->headers.data));
			return;
		}
		if (header_is(p, len, "Message-ID"))
			k->has_message_id = true;
		else if (header_is(p, len, "Date"))
			k->has_date = true;
		else if (header_is(p, len, "Received"))
			k->received_count++;
		p = nl + 1;
	}
}

/* Whether the client's header addresses are rewritten: a local client's
 * when a table or masquerading applies to header addresses, a remote
 * client's only when remote_header_rewrite_domain is set (then always,
 * to complete its addresses). */
bool rewrites_headers(const struct session *s)
{
	if (is_local_client(s))
		return s->cfg->local_header_domain != NULL ||
		       canonical_wanted(header_tables(s),
		                        CANONICAL_HEADER_SENDER | CANONICAL_HEADER_RECIPIENT);
	return s->cfg->remote_header_domain != NULL;
}
