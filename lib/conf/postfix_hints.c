/*
 * What to tell an admin who copied a Postfix main.cf or master.cf: for
 * Postfix parameters and programs that Postern does not have, what takes
 * their place (or that they have no effect here). The config loader adds
 * the hint to its "unknown parameter" warning, master and mailctl check
 * to their "command not found" error.
 */
#include "conf/postfix_hints.h"

#include <stdlib.h>
#include <string.h>

static const char restrictions[] =
    "Postern has no restriction lists: relay control is built in (mynetworks and "
    "authenticated clients relay), and each restriction is a parameter of its own "
    "(reject_rbl_client: smtpd_dnsbl_sites; reject_rhsbl_client, _reverse_client, _helo, "
    "_sender, _recipient: smtpd_rhsbl_client_sites, smtpd_rhsbl_reverse_client_sites, "
    "smtpd_rhsbl_helo_sites, smtpd_rhsbl_sender_sites, smtpd_rhsbl_recipient_sites; "
    "check_sender_access: "
    "smtpd_sender_access_maps; reject_unknown_sender_domain: "
    "smtpd_reject_unknown_sender_domain; reject_unverified_recipient: "
    "smtpd_reject_unverified_recipient; check_policy_service: smtpd_policy_services; "
    "permit_sasl_authenticated,reject on a submission "
    "service: smtpd_auth_required = yes ...; see \"Coming from Postfix\" in the README)";
static const char no_effect[] = "it has no effect in Postern";

struct hint {
	const char *name;
	const char *hint;
};

/* Sorted by name. */
static const struct hint hints[] = {
    {"append_dot_mydomain", no_effect},
    {"biff", no_effect},
    {"compatibility_level", no_effect},
    {"default_recipient_limit",
     "qmgr holds at most qmgr_message_recipient_limit recipients in memory"},
    {"disable_dns_lookups",
     "smtp always looks up MX and address records with libunbound (dns_forwarders, "
     "dns_hosts_file); use [host] next hops to skip MX look-ups"},
    {"html_directory", no_effect},
    {"local_recipient_maps",
     "local recipients are always checked against the system users, aliases and "
     "virtual tables, except that any local part is taken when luser_relay or "
     "fallback_transport is set"},
    {"mailbox_command_maps",
     "mailbox_command applies to every user; mailbox_transport_maps takes a transport per user"},
    {"mailbox_size_limit",
     "message_size_limit bounds each message; virtual users have quotas (mailctl user "
     "add --quota)"},
    {"manpage_directory", no_effect},
    {"readme_directory", no_effect},
    {"sample_directory", no_effect},
    {"smtp_dns_support_level",
     "smtp always uses DNS, and DNSSEC (for DANE) when dns_trust_anchor_file names a trust anchor"},
    {"smtp_host_lookup", "smtp looks names up in DNS and in dns_hosts_file (/etc/hosts)"},
    {"smtp_sasl_auth_enable", "smtp authenticates whenever smtp_sasl_password_maps has an entry "
                              "for the server (and only over TLS); it has no effect"},
    {"smtp_sasl_mechanism_filter",
     "smtp sends credentials with AUTH PLAIN or LOGIN, as the server offers; it has no effect"},
    {"smtp_sasl_security_options",
     "smtp sends credentials with AUTH PLAIN or LOGIN, only over TLS; it has no effect"},
    {"smtp_sasl_tls_security_options",
     "smtp sends credentials with AUTH PLAIN or LOGIN, only over TLS; it has no effect"},
    {"smtp_tls_exclude_ciphers", "write smtp_tls_ciphers without them"},
    {"smtp_tls_loglevel", "smtp logs the TLS outcome of every delivery; it has no effect"},
    {"smtp_tls_mandatory_ciphers", "smtp_tls_ciphers is the cipher list for every level"},
    {"smtp_tls_mandatory_protocols",
     "Postern has one protocol list for every level: smtp_tls_protocols, or protocols= in "
     "the TLS policy table"},
    {"smtp_tls_note_starttls_offer",
     "smtp logs the TLS outcome of every delivery; it has no effect"},
    {"smtp_use_tls", "use smtp_tls_security_level = may"},
    {"smtpd_client_restrictions", restrictions},
    {"smtpd_data_restrictions", restrictions},
    {"smtpd_delay_reject",
     "smtpd answers every refusal at RCPT (Postfix's default, yes); it has no effect"},
    {"smtpd_end_of_data_restrictions", restrictions},
    {"smtpd_etrn_restrictions", restrictions},
    {"smtpd_helo_restrictions", restrictions},
    {"smtpd_recipient_restrictions", restrictions},
    {"smtpd_relay_restrictions", restrictions},
    {"smtpd_sasl_local_domain", no_effect},
    {"smtpd_sender_restrictions", restrictions},
    {"smtpd_tls_exclude_ciphers", "write smtpd_tls_cipher_list without them"},
    {"smtpd_tls_loglevel",
     "smtpd logs the TLS protocol and cipher of every session; it has no effect"},
    {"smtpd_tls_mandatory_ciphers", "smtpd_tls_cipher_list is the cipher list for every level"},
    {"smtpd_tls_mandatory_protocols",
     "Postern has one protocol list for every level: smtpd_tls_protocols"},
    {"smtpd_tls_received_header",
     "smtpd always records the TLS protocol and cipher in its Received header; it has no effect"},
    {"smtpd_tls_session_cache_database",
     "smtpd resumes TLS sessions with tickets under keys master keeps in memory "
     "(smtpd_tls_session_cache_timeout); no cache database is needed"},
    {"smtpd_use_tls", "use smtpd_tls_security_level = may"},
    {"smtputf8_enable", "SMTPUTF8 is always offered; it has no effect"},
    {"tls_high_cipherlist", "name the ciphers in smtpd_tls_cipher_list and smtp_tls_ciphers"},
    {"tls_medium_cipherlist", "name the ciphers in smtpd_tls_cipher_list and smtp_tls_ciphers"},
    {"tls_preempt_cipherlist", no_effect},
    {"tls_ssl_options", no_effect},
    {"virtual_mailbox_limit", "message_size_limit bounds each message; virtual users have quotas "
                              "(mailctl user add --quota)"},
};

static const char built_in[] =
    "Postern does its work inside its own programs: remove this master.conf line";

/* Postfix's master.cf programs that Postern has not; sorted by name. */
static const struct hint programs[] = {
    {"anvil", built_in},
    {"bounce", built_in},
    {"cleanup", "smtpd and pickup write the queue file themselves: remove this line"},
    {"discard", "discard is a transport built into qmgr: remove this line"},
    {"dnsblog", "smtpd looks up DNS blocklists itself (smtpd_dnsbl_sites): remove this line"},
    {"error", "error is a transport built into qmgr: remove this line"},
    {"flush", built_in},
    {"oqmgr", "Postern's queue manager is qmgr"},
    {"postlogd", "master writes maillog_file itself: remove this line"},
    {"postscreen", "smtpd serves port 25 itself: name smtpd on this line"},
    {"proxymap", built_in},
    {"retry", "there is no retry transport"},
    {"scache", "smtp keeps its sessions for reuse itself: remove this line"},
    {"spawn", "run policy servers outside master (smtpd_policy_services names their "
              "sockets)"},
    {"tlsmgr", built_in},
    {"tlsproxy", built_in},
    {"trivial-rewrite", built_in},
    {"verify", "smtpd and qmgr verify addresses themselves (smtpd_reject_unverified_recipient): "
               "remove this line"},
    {"virtual", "local delivers virtual mailboxes: name local on this line, or remove it"},
};

static int compare_hint(const void *key, const void *item)
{
	return strcmp(key, ((const struct hint *)item)->name);
}

const char *postfix_hint(const char *name)
{
	const struct hint *found =
	    bsearch(name, hints, sizeof(hints) / sizeof(hints[0]), sizeof(hints[0]), compare_hint);
	return found ? found->hint : NULL;
}

const char *postfix_program_hint(const char *command)
{
	const char *name = strrchr(command, '/');
	name = name ? name + 1 : command;
	const struct hint *found = bsearch(name, programs, sizeof(programs) / sizeof(programs[0]),
	                                   sizeof(programs[0]), compare_hint);
	return found ? found->hint : NULL;
}
