/*
 * The client's name from the DNS, and Postfix's
 * reject_unknown_reverse_client_hostname and reject_unknown_client_hostname.
 *
 * At connect (smtpd_peername_lookup = yes), through smtpd's resolver
 * (lib/dns: dns_hosts_file, then dns_forwarders or /etc/resolv.conf): the
 * hosts file's name for the address, else its PTR records, give the
 * reverse name; the first of them
 * whose A (or AAAA) records include the address is the verified name, used
 * in logs, the Received header, access tables and milter macros. A client
 * without one is "unknown", and why is kept:
 *   no PTR record (or no such reverse name)    CLIENT_NAME_NO_PTR
 *   PTR names, none resolving back              CLIENT_NAME_MISMATCH
 *   DNS trouble (SERVFAIL, time-out)            CLIENT_NAME_TEMPFAIL
 *
 * At RCPT (after the access tables, unless one said OK; trusted clients
 * are never checked):
 *   smtpd_reject_unknown_reverse_client_hostname: no PTR name
 *       unknown_client_reject_code 4.7.25 "cannot find your reverse hostname"
 *   smtpd_reject_unknown_client_hostname: no verified name
 *       the same, or "cannot find your hostname" when the PTR name does
 *       not resolve back to the address
 *   DNS trouble: 450 4.7.25 whatever the code (never a permanent refusal).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/log.h"

/* At most this many PTR names are tried for one that resolves back. */
#define CLIENT_NAME_MAX_PTR 4

/* Whether the printable address a (from a DNS answer) is the client's. */
static bool same_address(const char *a, const char *client)
{
	unsigned char x[16], y[16];
	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, client, y) == 1 && memcmp(x, y, 4) == 0;
	return inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, client, y) == 1 &&
	       memcmp(x, y, 16) == 0;
}

/* The name's A (or AAAA) records include the client address: 1 yes, 0
 * no, -1 the lookup failed for now. */
static int resolves_back(struct dns_resolver *r, const struct session *s, const char *name)
{
	int type = strchr(s->client_addr, ':') ? DNS_TYPE_AAAA : DNS_TYPE_A;
	struct dns_answer a;
	dns_lookup(r, name, type, (int)s->cfg->dns_timeout_ms, &a);
	int rc = a.status == DNS_TEMPFAIL ? -1 : 0;
	for (size_t i = 0; a.status == DNS_FOUND && i < a.count && rc == 0; i++)
		if (a.rrs[i].text && same_address(a.rrs[i].text, s->client_addr))
			rc = 1;
	dns_answer_free(&a);
	return rc;
}

static void copy_name(char *dst, size_t size, const char *name)
{
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		len--;
	snprintf(dst, size, "%.*s", (int)(len < 255 ? len : 255), name);
}

void client_name_lookup(struct session *s)
{
	snprintf(s->client_name, sizeof(s->client_name), "unknown");
	snprintf(s->reverse_name, sizeof(s->reverse_name), "unknown");
	s->client_name_status = CLIENT_NAME_NOT_LOOKED_UP;
	if (!s->cfg->peername_lookup)
		return;
	s->client_name_status = CLIENT_NAME_TEMPFAIL;
	const char *error;
	struct dns_resolver *r = smtpd_resolver(s->cfg, &error);
	char *reverse = dns_reverse_name(s->client_addr);
	if (r == NULL || reverse == NULL) {
		free(reverse);
		return;
	}
	struct dns_answer ptr;
	/* The hosts file first, as the system resolver: its name stands for
	 * the PTR record (libunbound gives none from it). */
	const char *listed = dns_hosts_name(smtpd_hosts(s->cfg), s->client_addr);
	if (listed != NULL) {
		struct dns_rr *rr = xcalloc(1, sizeof(*rr));
		rr->type = DNS_TYPE_PTR;
		rr->name = xstrdup(listed);
		ptr = (struct dns_answer){.status = DNS_FOUND, .rrs = rr, .count = 1};
	} else {
		dns_lookup(r, reverse, DNS_TYPE_PTR, (int)s->cfg->dns_timeout_ms, &ptr);
	}
	if (ptr.status == DNS_TEMPFAIL)
		log_warn("[%s]: reverse lookup of %s failed: %s", s->client_addr, reverse,
		         ptr.error ? ptr.error : "temporary failure");
	else if (ptr.status != DNS_FOUND || ptr.count == 0)
		s->client_name_status = CLIENT_NAME_NO_PTR;
	if (ptr.status == DNS_FOUND && ptr.count > 0) {
		copy_name(s->reverse_name, sizeof(s->reverse_name), ptr.rrs[0].name);
		bool failed = false;
		for (size_t i = 0; i < ptr.count && i < CLIENT_NAME_MAX_PTR; i++) {
			const char *name = ptr.rrs[i].name;
			if (name == NULL || strcmp(name, ".") == 0)
				continue;
			int rc = resolves_back(r, s, name);
			if (rc == 1) {
				copy_name(s->client_name, sizeof(s->client_name), name);
				s->client_name_status = CLIENT_NAME_OK;
				break;
			}
			failed |= rc < 0;
		}
		if (s->client_name_status != CLIENT_NAME_OK) {
			s->client_name_status =
			    failed ? CLIENT_NAME_TEMPFAIL : CLIENT_NAME_MISMATCH;
			log_warn("[%s]: hostname %s %s", s->client_addr, s->reverse_name,
			         failed ? "cannot be resolved now"
			                : "does not resolve to this address");
		}
	}
	dns_answer_free(&ptr);
	free(reverse);
}

int client_name_check_rcpt(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	bool reverse_only = !cfg->reject_unknown_client && cfg->reject_unknown_reverse_client;
	if ((!cfg->reject_unknown_client && !cfg->reject_unknown_reverse_client) ||
	    s->client_name_status == CLIENT_NAME_OK ||
	    s->client_name_status == CLIENT_NAME_NOT_LOOKED_UP || policy_client_trusted(s))
		return 0;
	if (reverse_only && strcmp(s->reverse_name, "unknown") != 0)
		return 0; /* it has a reverse name: that is all this asks */
	int code = s->client_name_status == CLIENT_NAME_TEMPFAIL
	               ? 450
	               : (int)cfg->unknown_client_reject_code;
	/* With a reverse name, what failed is the way back from it. */
	const char *what =
	    strcmp(s->reverse_name, "unknown") != 0 ? "hostname" : "reverse hostname";
	reply(s, code, code >= 500 ? "5.7.25" : "4.7.25",
	      "Client host rejected: cannot find your %s, [%s]", what, s->client_addr);
	return -1;
}
