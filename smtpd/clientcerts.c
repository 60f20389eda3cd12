/*
 * Relaying by TLS client certificate, as Postfix's permit_tls_clientcerts
 * (relay_clientcerts) and permit_tls_all_clientcerts
 * (smtpd_relay_all_clientcerts). After each TLS handshake of a service
 * that asks for client certificates (smtpd_tls_ask_ccert), the client's
 * certificate decides once for the session whether the client is trusted
 * as one in mynetworks or an authenticated one (policy_client_trusted):
 *
 *   - smtpd_relay_all_clientcerts: any certificate that verified against
 *     smtpd_tls_CAfile;
 *   - relay_clientcerts: the certificate's fingerprint, then its public
 *     key's (smtpd_tls_fingerprint_digest, in Postfix's form "AB:01:..."),
 *     is a key of one of the tables (values are not used). The
 *     fingerprint pins the certificate: it need not verify, as in Postfix.
 *
 * A trusted client is logged once, at the handshake. A table that cannot
 * be read (or a fingerprint that cannot be made) leaves the session
 * "unknown" (ccert_trust -1): relaying is deferred with 451 4.3.0 rather
 * than refused, as Postfix does.
 */
#include <stdlib.h>

#include "smtpd/smtpd.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

void clientcerts_setup(struct smtpd_settings *c, const struct conf *conf)
{
	c->ask_ccert = conf_get_bool(conf, "smtpd_tls_ask_ccert");
	c->relay_clientcerts = conf_get_list(conf, "relay_clientcerts");
	c->relay_all_clientcerts = conf_get_bool(conf, "smtpd_relay_all_clientcerts");
}

/* Whether fingerprint is a key of a relay_clientcerts table, as written
 * (Postfix's upper case) or in lower case: 1 yes, 0 no, -1 a table could
 * not be read (logged). */
static int fingerprint_listed(const struct session *s, char *const *tables, const char *fingerprint)
{
	char *lower = str_lower_dup(fingerprint);
	const char *keys[] = {fingerprint, lower};
	struct str value = STR_INIT;
	int rc = 0;
	const char *error;
	for (size_t i = 0; tables[i] && rc == 0; i++)
		for (size_t k = 0; k < 2 && rc == 0; k++)
			rc = table_cache_lookup(tables[i], keys[k], false, &value, &error);
	if (rc < 0)
		log_warn("%s: relay_clientcerts: %s", session_client(s), error);
	str_free(&value);
	free(lower);
	return rc;
}

/* relay_clientcerts for the certificate the client presented: as
 * fingerprint_listed; the fingerprint that matched is logged. */
static int certificate_listed(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	char *cert, *pkey;
	const char *error;
	int rc = tls_session_peer_fingerprints(s->tls, cfg->tls_fingerprint_digest, &cert, &pkey,
	                                       &error);
	if (rc <= 0) {
		if (rc < 0)
			log_warn("%s: client certificate fingerprint: %s", session_client(s),
			         error);
		return rc;
	}
	rc = fingerprint_listed(s, cfg->relay_clientcerts, cert);
	if (rc == 1) {
		log_info("%s: client certificate fingerprint %s trusted (relay_clientcerts)",
		         session_client(s), cert);
	} else if (rc == 0) {
		rc = fingerprint_listed(s, cfg->relay_clientcerts, pkey);
		if (rc == 1)
			log_info("%s: client public key fingerprint %s trusted (relay_clientcerts)",
			         session_client(s), pkey);
	}
	free(cert);
	free(pkey);
	return rc;
}

void clientcerts_session_start(struct session *s)
{
	const struct smtpd_settings *cfg = s->cfg;
	s->ccert_trust = 0;
	if (s->tls == NULL || !cfg->ask_ccert)
		return;
	if (cfg->relay_all_clientcerts && tls_session_peer_verified(s->tls)) {
		char *subject = tls_session_peer_subject(s->tls);
		log_info("%s: client certificate CN=\"%s\" verified: trusted "
		         "(smtpd_relay_all_clientcerts)",
		         session_client(s), subject ? subject : "");
		free(subject);
		s->ccert_trust = 1;
		return;
	}
	if (cfg->relay_clientcerts != NULL && cfg->relay_clientcerts[0] != NULL)
		s->ccert_trust = certificate_listed(s);
}
