/*
 * smtpd: the ESMTP server (RFC 5321) on the MX, submission and
 * submissions ports. One process serves one connection at a time on the
 * service skeleton. Internal interfaces between its files:
 *   main.c     settings from main.conf, TLS context, the service entry
 *   session.c  the connection, the command loop and the dispatch of commands
 *   reply.c    replies, the session's log lines, the error count
 *   ehlo.c     HELO and EHLO: the extensions offered
 *   starttls.c STARTTLS, and the log line of a TLS session
 *   transaction.c  MAIL, RCPT, VRFY, and the transaction's reset
 *   data.c     DATA and BDAT: reading the message (message_sink.h is the
 *              interface of the files that queue it: message_sink.c,
 *              message_headers.c, queued_envelope.c, end_of_data.c)
 *   policy.c   who may send to whom: local, virtual and relay checks
 *   auth.c     AUTH PLAIN and LOGIN through the auth service (or Dovecot's)
 *   client_limit.c  concurrent connections per client address
 *   client_rate.c   connection, message and recipient rates per client address
 *   milter.c   the smtpd_milters chain: events, macros, verdict replies
 *   dnsbl.c    the DNS blocklists (smtpd_dnsbl_sites), and what the blocklists share
 *   rhsbl.c    the domain blocklists (smtpd_rhsbl_*_sites)
 *   rbl_reply.c  the blocklists' replies (rbl_reply_maps, default_rbl_reply)
 *   resolver.c the DNS resolver that dnsbl.c and address_domain.c share
 *   address_domain.c  the HELO name, sender and recipient domains must exist in the DNS
 *   sender_login.c   who may use which sender (smtpd_sender_login_maps)
 *   fqdn.c     the forms of the HELO name and the addresses (reject_non_fqdn_...)
 *   content.c  header_checks and body_checks: their look-ups and log lines
 *   policy_service.c  Postfix's SMTPD policy servers (smtpd_policy_services)
 *   xforward.c  XFORWARD from smtpd_authorized_xforward_hosts: the original client
 *   proxy_filter.c  smtpd_proxy_filter: the transaction proxied to a before-queue filter
 *   clientcerts.c   relaying by TLS client certificate (relay_clientcerts)
 *   notice.c   the session's transcript and the postmaster notice of its errors
 */
#ifndef POSTERN_SMTPD_SMTPD_H
#define POSTERN_SMTPD_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/sasl_security.h"
#include "conf/conf.h"
#include "mail/bcc.h"
#include "mail/canonical.h"
#include "mail/content_check.h"
#include "mail/queue.h"
#include "mail/receive_options.h"
#include "mail/verify_cache.h"
#include "mail/virtual_alias.h"
#include "milter/milter.h"
#include "policy/policy_client.h"
#include "smtp/sender_login_mode.h"
#include "smtp/xforward.h"
#include "tls/tls.h"
#include "util/cidr.h"
#include "util/str.h"
#include "util/stream.h"

enum tls_level { TLS_NONE, TLS_MAY, TLS_ENCRYPT };

/* verify.c: reject_unverified_recipient or _sender. */
struct verify_kind {
	bool enabled;
	long long reject_code;
	long long defer_code;
	const char *reject_reason; /* "" for the probe's reply */
	bool tempfail_accepts;     /* tempfail_action dunno/permit */
};

struct smtpd_verify_settings {
	struct verify_kind recipient;
	struct verify_kind sender;
	const char *map; /* address_verify_map */
	bool negative_cache;
	struct verify_times times;
	long long poll_count;
	long long poll_delay_s;
	char *probe_sender;         /* "" for <> */
	long long probe_sender_ttl; /* address_verify_sender_ttl (seconds; 0: none) */
};
enum bare_newline_policy { BARE_REJECT, BARE_NORMALIZE, BARE_ALLOW };

struct smtpd_settings {
	const struct conf *conf;
	const char *hostname;
	const char *banner;
	const char *reject_footer; /* smtpd_reject_footer, "" for none */
	/* policy.c: local's fallback_transport or luser_relay takes every
	 * local part; fallback_transport_maps lists the names it routes */
	bool any_local_part;
	char *const *fallback_maps;
	const char *queue_dir;
	const char *data_dir;
	const char *service_name; /* master.conf's, for the log */
	long long connection_count_limit;
	/* client_limit.c, client_rate.c (0: no limit) */
	struct cidr_list *event_limit_exceptions;
	long long rate_time_unit; /* seconds */
	long long connection_rate_limit;
	long long message_rate_limit;
	long long recipient_rate_limit;
	long long auth_rate_limit;
	long long newtls_rate_limit; /* smtpd_client_new_tls_session_rate_limit */
	enum tls_level tls_level;
	bool wrapper_mode;   /* implicit TLS (port 465) */
	bool upstream_proxy; /* a PROXY protocol header comes first (proxy.c) */
	long long upstream_proxy_timeout_ms;
	bool auth_enable;         /* offer AUTH */
	bool auth_header;         /* the login name in Received (smtpd_sasl_authenticated_header) */
	bool auth_required;       /* MAIL needs AUTH first (submission) */
	bool tls_auth_only;       /* AUTH only over TLS */
	bool add_missing_headers; /* Message-ID and Date, for submission */
	bool vrfy_disabled;
	bool helo_required;
	bool peername_lookup;
	enum bare_newline_policy bare_newline;
	long long message_size_limit;
	long long queue_minfree; /* bytes the queue's file system keeps free (queue_space.c) */
	long long recipient_limit;
	long long recipient_overshoot_limit; /* 452s in a transaction before each is an error */
	long long line_length_limit;         /* of a command line, without CRLF */
	long long hard_error_limit;
	long long soft_error_limit;
	long long error_sleep_ms;
	long long junk_command_limit;
	long long auth_failure_limit;
	long long timeout_ms;
	long long starttls_timeout_ms;
	long long greet_pause_ms;
	struct cidr_list *mynetworks;
	struct cidr_list *auth_exempt_networks; /* AUTH allowed without TLS from here */
	struct cidr_list *xforward_hosts;       /* smtpd_authorized_xforward_hosts */
	char *const *mydestination;
	char *const *virtual_domains;
	char *const *relay_domains;
	char *const *relay_recipient_maps;
	struct bcc_config bcc;      /* always_bcc, sender_bcc_maps, recipient_bcc_maps */
	bool soft_bounce;           /* every 5NN reply goes out as 4NN */
	bool strict_envelopes;      /* strict_rfc821_envelopes: MAIL/RCPT need <...> */
	const char *content_filter; /* "transport:nexthop" for every message, or "" */
	unsigned receive_options;   /* receive_override_options (mail/receive_options.h) */
	char *const *discard_ehlo_keywords;
	long long hopcount_limit; /* Received headers that mean a mail loop */
	const char *virtual_maps;
	char *const *alias_maps; /* local names that exist besides system users */
	const char *recipient_delimiter;
	struct virtual_alias *virtual_alias; /* virtual_alias_maps */
	/* canonical_maps and masquerade_domains (data.c), and the clients
	 * whose header sections they rewrite (local_header_rewrite_clients) */
	struct canonical *canonical;
	unsigned header_rewrite_clients;
	/* remote_header_rewrite_domain: NULL (empty) leaves other clients'
	 * header sections alone, else they are rewritten too, with this domain
	 * for addresses without one; $myorigin for the local clients'
	 * (append_at_myorigin), or NULL */
	const char *remote_header_domain;
	const char *local_header_domain;
	const char *auth_socket;
	/* smtpd_sasl_type = dovecot: where Dovecot's auth listens (smtpd_sasl_path);
	 * NULL: the auth service at auth_socket checks passwords (auth.c) */
	struct dovecot_endpoint *dovecot_auth;
	/* smtpd_sasl_security_options, smtpd_sasl_tls_security_options */
	struct sasl_policy sasl_policy, sasl_tls_policy;
	const char *qmgr_socket;
	struct tls_context *tls;
	struct milter_defaults milter_defaults;
	const char *milter_daemon_name;
	const char *milter_macro_v;
	/* access.c: the access tables and their reply codes */
	char *const *client_access_maps;
	char *const *helo_access_maps;
	char *const *sender_access_maps;
	char *const *recipient_access_maps;
	long long access_reject_code;
	long long access_defer_code;
	/* dnsbl.c: the DNS blocklists */
	char *const *dnsbl_sites;
	long long dnsbl_timeout_ms; /* for all sites together */
	long long dnsbl_reply_code; /* for the domain blocklists too */
	/* rhsbl.c: the domain blocklists, by the name they look up */
	char *const *rhsbl_client_sites;
	char *const *rhsbl_reverse_client_sites;
	char *const *rhsbl_helo_sites;
	char *const *rhsbl_sender_sites;
	char *const *rhsbl_recipient_sites;
	/* fqdn.c */
	bool reject_invalid_helo;
	bool reject_non_fqdn_helo;
	bool reject_non_fqdn_sender;
	bool reject_non_fqdn_recipient;
	long long invalid_hostname_reject_code;
	long long non_fqdn_reject_code;
	/* sender_login.c */
	char *const *sender_login_maps;
	enum sender_login_mode sender_login_mode;
	/* verify.c */
	struct smtpd_verify_settings verify;
	/* address_domain.c */
	bool reject_unknown_sender_domain;
	bool reject_unknown_recipient_domain;
	bool reject_unknown_helo;
	long long unknown_hostname_reject_code;
	bool reject_unknown_client;         /* smtpd_reject_unknown_client_hostname */
	bool reject_unknown_reverse_client; /* smtpd_reject_unknown_reverse_client_hostname */
	long long unknown_client_reject_code;
	const char *dns_hosts_file;
	long long unknown_address_reject_code;
	long long dns_timeout_ms; /* per query */
	/* content.c: header_checks, body_checks (ctx: the session) */
	struct content_check_config content_checks;
	/* policy_service.c: the policy servers and how they are asked */
	char *const *policy_services;     /* at RCPT */
	char *const *eod_policy_services; /* at the end of DATA */
	/* smtpd_policy_service_trusted_clients: ask about mail from
	 * mynetworks and authenticated clients too */
	bool policy_trusted_clients;
	struct policy_limits policy_limits;
	long long policy_try_limit;
	long long policy_retry_delay_ms;
	const char *policy_default_action;
	const char *policy_context;
	const char *tls_fingerprint_digest; /* of ccert_fingerprint for policy servers */
	/* clientcerts.c: clients trusted by their TLS certificate */
	bool ask_ccert;                 /* smtpd_tls_ask_ccert */
	char *const *relay_clientcerts; /* tables of fingerprints */
	bool relay_all_clientcerts;     /* smtpd_relay_all_clientcerts: any verified one */
	/* proxy_filter.c: smtpd_proxy_filter ("": none), smtpd_proxy_ehlo,
	 * smtpd_proxy_timeout, smtpd_proxy_options speed_adjust */
	const char *proxy_filter;
	const char *proxy_ehlo;
	long long proxy_timeout_ms;
	bool proxy_speed_adjust;
	/* notice.c: notify_classes (mail/notify_classes.h), and where the
	 * notices go (error_notice_recipient, with @$myorigin if it has no
	 * domain) */
	unsigned notify_classes;
	const char *error_notice_recipient;
};

enum client_name_status {
	CLIENT_NAME_NOT_LOOKED_UP, /* smtpd_peername_lookup = no */
	CLIENT_NAME_OK,            /* a PTR name that resolves back to the address */
	CLIENT_NAME_NO_PTR,        /* no PTR record */
	CLIENT_NAME_MISMATCH,      /* PTR names, none resolving back to the address */
	CLIENT_NAME_TEMPFAIL,      /* DNS trouble */
};

enum session_state { STATE_INIT, STATE_MAIL, STATE_RCPT, STATE_DATA };

/* A DEFER_IF_PERMIT or DEFER_IF_REJECT waiting for the outcome of the
 * checks (access.c): the reply it would give; code 0 if none. */
struct access_deferral {
	int code;
	char enhanced[16];
	char *text;
};

/* dnsbl.c, rhsbl.c: a blocklist's listing of the client or a name: the
 * site's domain ("" if no site lists it), what the reply says was looked
 * up, and in which words ($rbl_what, $rbl_class), and the TXT reason. The
 * reply is made of it at each refusal (rbl_reply.c), as it may name the
 * sender and the recipient. */
#define SMTPD_BLOCKLIST_REASON_MAX 160
struct blocklist_listing {
	const char *class; /* "Client host", ... (static) */
	char domain[256];
	char what[512];
	char reason[SMTPD_BLOCKLIST_REASON_MAX + 1];
};

/* rhsbl.c: a domain blocklist's verdict on a name, kept for the session
 * or the transaction: whether it was looked up, and the listing. */
struct rhsbl_verdict {
	bool checked;
	struct blocklist_listing listing;
};

struct session {
	const struct smtpd_settings *cfg;
	struct stream *stream;
	int fd;
	char client_addr[64];
	char client_port[16];
	/* The address the client connected to, from a PROXY header (proxy.c);
	 * empty without one: the socket's own. */
	char server_addr[64];
	char server_port[16];
	char client_name[256];  /* verified (client_name.c), else "unknown" */
	char reverse_name[256]; /* the PTR name, verified or not, else "unknown" */
	enum client_name_status client_name_status;
	char *helo;
	const char *where; /* the command being served ("MAIL"), "CONNECT" before one */
	bool esmtp;
	bool quit;
	struct tls_session *tls;
	/* clientcerts.c: the client certificate makes the client trusted (1),
	 * does not (0), or relay_clientcerts could not be read (-1) */
	int ccert_trust;
	char *auth_user;
	char *auth_method;
	int errors;
	int junk; /* HELO, EHLO, NOOP, RSET, VRFY and HELP since the last message */
	int auth_failures;
	/* Per-command counters for the disconnect log line. */
	unsigned counts[16];
	unsigned total_commands;
	/* The transaction. */
	bool in_transaction;
	struct queue_envelope env;
	long long declared_size;
	unsigned rejected_rcpts;
	unsigned rcpt_overshoot; /* RCPTs answered 452 4.5.3 (too many recipients) */
	/* BDAT in progress. */
	struct message_sink *bdat;
	/* Milters (NULL without smtpd_milters). */
	struct milter_chain *milters;
	bool milter_discard;            /* a milter said discard: accept and drop the message */
	bool milter_shutdown;           /* a milter said shutdown at connect */
	const char *milter_rcpt;        /* the recipient during the RCPT event */
	const char *milter_rcpt_reject; /* its reject reply, for SMFIP_RCPT_REJ filters */
	char *mail_auth;                /* MAIL FROM AUTH= ({auth_author}), NULL if absent */
	char *access_discard;           /* an access table or policy server said DISCARD: why */
	char *access_redirect;          /* ... said REDIRECT: the one recipient to queue */
	char *access_bcc;               /* ... said BCC: a recipient to add */
	bool envelope_stale;            /* ... said either at END-OF-MESSAGE */
	bool dnsbl_checked;             /* the DNS blocklists were looked up */
	int sender_domain_verdict;      /* address_domain.c, for the transaction; 0: not yet */
	/* verify.c, for the transaction: 0 not yet, 1 found sender_verify_status,
	 * -1 the cache could not tell */
	int sender_verify_found;
	enum verify_status sender_verify_status;
	char *sender_verify_reason;
	int helo_verdict; /* address_domain.c, for the HELO name; 0: not yet */
	struct blocklist_listing dnsbl_listing; /* their verdict */
	/* rhsbl.c: the domain blocklists' verdicts on the client's names and
	 * the HELO name (for the session) and the sender (the transaction) */
	struct rhsbl_verdict rhsbl_client;
	struct rhsbl_verdict rhsbl_reverse_client;
	struct rhsbl_verdict rhsbl_helo;
	struct rhsbl_verdict rhsbl_sender;
	char last_reply[512];            /* the last reply line sent, without CRLF */
	char queue_id[QUEUE_ID_LEN + 1]; /* of the message being received */

	/* access.c and policy_service.c: header fields PREPENDed by access
	 * tables or policy servers (each with CRLF), for the message; the
	 * DEFER_IF_PERMIT and DEFER_IF_REJECT of the RCPT or end of DATA
	 * being checked; the message's "instance" for policy servers, or "". */
	struct str prepend;
	struct access_deferral defer_if_permit;
	struct access_deferral defer_if_reject;
	char policy_instance[64];

	/* xforward.c: whether the client may use XFORWARD; what it forwarded
	 * for this transaction, and the log text made of it (or NULL). */
	bool xforward_allowed;
	struct xforward_attrs xforward;
	char *xforward_log;

	/* proxy_filter.c: the connection to the before-queue filter for this
	 * transaction, or NULL. */
	struct proxy_filter *proxy;

	/* notice.c: the session's transcript ("In:  ..." and "Out: ..."
	 * lines, bounded), the notify_classes its error replies fell in, and
	 * the class the next final reply is given by the code sending it (0:
	 * classified by its status code). */
	struct str transcript;
	unsigned transcript_lines;
	bool transcript_full;
	unsigned error_classes;
	unsigned reply_class;
};

/* session.c */
void session_run(const struct smtpd_settings *cfg, int fd);

/* ehlo.c: HELO (extended false) or EHLO. */
void cmd_ehlo(struct session *s, const char *arg, bool extended);

/* starttls.c: STARTTLS; and the log line of the TLS session just
 * established (STARTTLS, or wrapper mode at connect). */
void cmd_starttls(struct session *s, const char *arg);
void log_tls(struct session *s);

/* transaction.c: MAIL, RCPT, VRFY. */
void cmd_mail(struct session *s, const char *arg);
void cmd_rcpt(struct session *s, const char *arg);
void cmd_vrfy(struct session *s, const char *arg);
/* Forget the transaction and what came with it, XFORWARD's attributes too. */
void session_reset_transaction(struct session *s);

/* reply.c: queue a reply line; the last line of a multi-line reply has
 * more=false. Replies are flushed before the next command is read
 * (pipelining). While a DEFER_IF_REJECT waits (s->defer_if_reject), a
 * one-line 5NN reply is sent as that deferral instead, as Postfix's
 * defer_if_reject does. */
void reply(struct session *s, int code, const char *enhanced, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void reply_more(struct session *s, int code, const char *enhanced, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Count an error reply; sleeps past the soft limit; true if the hard limit
 * was reached and the session must end. */
bool session_error(struct session *s);
const char *session_protocol(const struct session *s);
/* Log the refusal just sent (s->last_reply) in Postfix's form, which log
 * watchers (fail2ban, pflogsumm) know:
 *   NOQUEUE: reject: WHERE from name[addr]: REPLY; from=<sender> to=<rcpt>
 *   proto=ESMTP helo=<name>
 * with the queue id instead of NOQUEUE once there is one; from=<> only in a
 * transaction, to=<> only with a recipient (may be NULL); detail (may be
 * NULL) is added in parentheses at the end. where: "MAIL", "RCPT"... */
void session_log_reject(const struct session *s, const char *where, const char *recipient,
                        const char *detail);
/* The same form with another action than "reject" ("proxy-reject") and
 * the reply given (not necessarily s->last_reply). */
void session_log_event(const struct session *s, const char *action, const char *where,
                       const char *reply_text, const char *recipient, const char *detail);
/* "name[addr]" for logs. */
const char *session_client(const struct session *s);

/* content.c: header_checks, body_checks and body_checks_size_limit. */
void content_checks_setup(struct smtpd_settings *c, const struct conf *conf);

/* data.c: DATA, BDAT; drop a message that BDAT was receiving. */
void cmd_data(struct session *s);
void cmd_bdat(struct session *s, unsigned long long size, bool last);
void data_abort_bdat(struct session *s);

/* access.c: the access tables for this recipient (after policy_check_rcpt
 * accepted it): 0 go on (*ok_r: an entry said OK, or DISCARD), or -1
 * having sent the reject reply. */
int access_check_rcpt(struct session *s, const char *address, bool *ok_r);
/* Act on an access(5) action (smtp/access_action.h): a table's value or a
 * policy server's reply. The replies say "<subject>: what rejected: text";
 * HOLD, DISCARD and WARN are logged as Postfix logs them, at stage
 * ("RCPT") with to=<rcpt> (rcpt may be NULL); origin names the table and
 * key or the server in warnings; after_headers: PREPEND is too late. */
struct access_source {
	const char *what;    /* "Client host", "Recipient address", "End-of-data" */
	const char *subject; /* the client, HELO name or address looked up */
	const char *stage;   /* "RCPT", "END-OF-MESSAGE" */
	const char *rcpt;
	const char *origin;
	bool after_headers;
};
enum access_verdict {
	ACCESS_GO_ON,     /* no decision: the next check goes on */
	ACCESS_ACCEPT,    /* OK: no later check */
	ACCESS_REFUSED,   /* the reply is sent */
	ACCESS_DISCARDED, /* accepted, to be dropped after DATA (s->access_discard) */
};
enum access_verdict access_act(struct session *s, const struct access_source *src,
                               const char *value);
/* A waiting DEFER_IF_PERMIT, now that nothing refused: -1 having sent its
 * reply, or 0 if there is none. */
int access_deferral_due(struct session *s);
/* Forget waiting DEFER_IF_PERMIT and DEFER_IF_REJECT actions. */
void access_deferrals_clear(struct session *s);

/* policy_service.c: the smtpd_policy_service_* settings (fatal if wrong). */
void policy_service_setup(struct smtpd_settings *c, const struct conf *conf);
/* The policy servers of smtpd_policy_services for this recipient (after
 * every other check, unless an access table said OK): 0 go on, or -1
 * having sent the reply. */
int policy_service_check_rcpt(struct session *s, const char *address);
/* Those of smtpd_end_of_data_policy_services for the message received
 * (size bytes): 0 go on (HOLD or DISCARD may be set), or -1 having sent
 * the reply and logged it. */
int policy_service_check_eod(struct session *s, long long size);

/* resolver.c: the process's DNS resolver, made at the first call; NULL
 * with *error_r (why) if it cannot be. */
struct dns_resolver;
struct dns_resolver *smtpd_resolver(const struct smtpd_settings *cfg, const char **error_r);
/* The hosts file (dns_hosts_file) of the process, read at the first call. */
struct dns_hosts;
const struct dns_hosts *smtpd_hosts(const struct smtpd_settings *cfg);

/* dnsbl.c: the DNS blocklists for this recipient (after the access
 * tables, unless they said OK): the client is looked up once per session
 * (s->dnsbl_listing); 0 go on, or -1 having sent the refusal, whose reply
 * may name the recipient address. */
int dnsbl_check_rcpt(struct session *s, const char *address);

/* dnsbl.c: what the address and domain blocklists share. A list of sites
 * (lib/dns/dnsbl.h) from one parameter, parsed at its first use; a bad
 * entry is logged, naming param, and left out. */
struct dnsbl_site;
struct smtpd_blocklist {
	const char *param;
	bool loaded;
	struct dnsbl_site *sites;
	size_t count;
};
/* The list's sites from entries (parsed at the first call): how many. */
size_t smtpd_blocklist_load(struct smtpd_blocklist *list, char *const *entries);
/* One name to look up in one site (its A record): listed is set when an
 * answer passes the site's filter. */
struct smtpd_blocklist_query {
	const struct dnsbl_site *site;
	char *name;
	bool listed;
};
/* smtpd's resolver, or NULL having warned that each query's site is not
 * checked (and why). */
struct dns_resolver *smtpd_blocklist_resolver(struct session *s,
                                              const struct smtpd_blocklist_query *queries,
                                              size_t count);
/* Ask all queries at once, waiting until deadline (event_now_ms()) at
 * most. DNS trouble never lists: it is logged, naming the site. */
void smtpd_blocklist_lookup(struct session *s, struct dns_resolver *resolver,
                            struct smtpd_blocklist_query *queries, size_t count, int64_t deadline);
/* The first TXT text of name (a listing's reason) fit for a reply line,
 * at most SMTPD_BLOCKLIST_REASON_MAX characters, if it comes before
 * deadline; else "". */
void smtpd_blocklist_reason(struct dns_resolver *resolver, const char *name, int64_t deadline,
                            char out[SMTPD_BLOCKLIST_REASON_MAX + 1]);

/* rbl_reply.c: refuse the recipient (address) for a listing, with the
 * reply of rbl_reply_maps for the listing's domain, else of
 * default_rbl_reply (Postfix's templates); a template that fails is
 * logged and the next one used. Returns -1. */
int smtpd_blocklist_refuse(struct session *s, const struct blocklist_listing *listing,
                           const char *recipient);

/* rhsbl.c: the domain blocklists (RFC 5782), as Postfix's reject_rhsbl_*,
 * for this recipient (after dnsbl_check_rcpt, unless an access table said OK): the
 * client's verified and unverified names, the HELO name, the sender's
 * domain, then the recipient's (address, domain): 0 go on, or -1 having
 * sent the reply. */
int rhsbl_check_rcpt(struct session *s, const char *address, const char *domain);

/* address_domain.c: the sender's domain, then the recipient's, must
 * exist, for this recipient (after the access tables, unless they said
 * OK): 0 go on, or -1 having sent the reply. */
int sender_domain_check_rcpt(struct session *s);
int recipient_domain_check_rcpt(struct session *s, const char *address, const char *domain);
/* Whether mail for domain ends on this host (local, virtual mailbox or
 * virtual alias domain): 1 yes, 0 no, -1 the virtual alias table cannot
 * be read. */
int smtpd_final_destination(const struct smtpd_settings *cfg, const char *domain);

/* verify.c: address verification of the recipient, then of the sender
 * (at RCPT, after the other checks): 0 go on, or -1 having sent the
 * reply. verify_setup reads the settings; verify_shutdown closes the
 * cache. */
void verify_setup(struct smtpd_settings *c, const struct conf *conf);
int verify_check_rcpt(struct session *s, const char *address);
int verify_check_sender(struct session *s);
void verify_shutdown(void);
int helo_domain_check_rcpt(struct session *s);

/* client_name.c: the client's name from the DNS, at connect; and whether
 * an unknown one is refused, for this recipient (after the access tables,
 * unless they said OK): 0 go on, or -1 having sent the reply. */
void client_name_lookup(struct session *s);
int client_name_check_rcpt(struct session *s);

/* sender_login.c: the sender's owner, for this recipient (the first check
 * at RCPT): 0 go on, or -1 having sent the reply. */
int sender_login_check_rcpt(struct session *s);

/* fqdn.c: the HELO name's and the addresses' forms, for this recipient:
 * 0 go on, or -1 having sent the reply. */
struct smtp_rcpt_params;
int fqdn_check_rcpt(struct session *s, const struct smtp_rcpt_params *p);

/* policy.c: 0 accept, or -1 having sent the reject reply. */
int policy_check_rcpt(struct session *s, const char *address, const char *local,
                      const char *domain);
bool policy_is_local_domain(const struct smtpd_settings *cfg, const char *domain);
/* A client in mynetworks, an authenticated one, or one trusted by its
 * TLS certificate (clientcerts.c). */
bool policy_client_trusted(const struct session *s);
/* The value of key in a table: 1 found, 0 not, -1 lookup failure. */
int policy_table_value(const char *spec, const char *key, struct str *value);

/* clientcerts.c: relay_clientcerts and smtpd_relay_all_clientcerts
 * (Postfix's permit_tls_clientcerts and permit_tls_all_clientcerts) on a
 * service with smtpd_tls_ask_ccert. clientcerts_session_start, after each
 * TLS handshake, sets s->ccert_trust from the client's certificate and
 * logs a client it trusts. */
void clientcerts_setup(struct smtpd_settings *c, const struct conf *conf);
void clientcerts_session_start(struct session *s);

/* client_limit.c: false if the client already has its limit of connections. */
bool client_limit_take(const struct smtpd_settings *cfg, const char *addr);
void client_limit_release(void);

/* client_rate.c: count one event of the client's; its count in this
 * anvil_rate_time_unit, or 0 if it is exempt or cannot be counted. */
enum client_event {
	CLIENT_EVENT_CONNECT,
	CLIENT_EVENT_MESSAGE,
	CLIENT_EVENT_RECIPIENT,
	CLIENT_EVENT_AUTH,
	CLIENT_EVENT_NEWTLS, /* a TLS session that is not resumed */
};
#define CLIENT_EVENT_KINDS 5
long long client_rate_count(const struct smtpd_settings *cfg, const char *addr,
                            enum client_event event);
/* Count a MAIL, RCPT or AUTH of the client's; true once it is over limit
 * (0: none) in this anvil_rate_time_unit, having replied 450 4.7.1 and
 * logged a warning in Postfix's words. */
bool client_rate_refused(struct session *s, enum client_event event, long long limit);
/* The client's count of event in this anvil_rate_time_unit, not counting
 * one (0 if it is exempt or cannot be counted). */
long long client_rate_peek(const struct smtpd_settings *cfg, const char *addr,
                           enum client_event event);
/* smtpd_client_new_tls_session_rate_limit: before a TLS handshake, true
 * if the client has had its new sessions (having logged a warning); after
 * one, newtls_handshake_done counts it unless it was resumed. */
bool newtls_rate_exceeded(struct session *s);
void newtls_handshake_done(struct session *s);

/* milter.c: each event returns true if a milter refused it (the reply
 * is sent, or the session ends after a 421); discard sets milter_discard. */
void smtpd_milter_connect(struct session *s);
bool smtpd_milter_helo(struct session *s);
bool smtpd_milter_mail(struct session *s, const char *arg);
bool smtpd_milter_rcpt(struct session *s, const char *address, const char *arg);
/* A recipient smtpd rejected (the reply in s->last_reply): shown to the
 * filters that asked for SMFIP_RCPT_REJ; their answers change nothing. */
void smtpd_milter_rcpt_rejected(struct session *s, const char *address, const char *arg);
bool smtpd_milter_data(struct session *s);
bool smtpd_milter_unknown(struct session *s, const char *line);
/* Act on a verdict (and clear it): true if refused, reply sent. */
bool smtpd_milter_refused(struct session *s, struct milter_verdict *v);
void smtpd_milter_abort(struct session *s);
void smtpd_milter_end(struct session *s);

/* auth.c */
/* smtpd_sasl_type and smtpd_sasl_path into c (fatal if wrong) */
void auth_setup(struct smtpd_settings *c, const struct conf *conf);
void cmd_auth(struct session *s, const char *arg);
bool auth_offered(const struct session *s);
/* The EHLO line that offers AUTH: "AUTH PLAIN LOGIN", with Dovecot the
 * mechanisms it offers; NULL when there are none. */
const char *auth_keyword(struct session *s);

/* queue_space.c: the free space MAIL FROM needs in the queue's file
 * system (queue_minfree or 1.5 times message_size_limit, the larger), and
 * whether it refuses this MAIL FROM for want of it (replied 452 4.3.1 and
 * logged); declared_size is the SIZE parameter, or 0. */
long long queue_space_reserve(const struct smtpd_settings *cfg);
bool queue_space_refused(struct session *s, long long declared_size);

/* proxy.c: behind a load balancer (smtpd_upstream_proxy_protocol =
 * haproxy), read its PROXY header, version 1 or 2, before anything else:
 * exactly its bytes, within smtpd_upstream_proxy_timeout; the client's
 * and server's addresses become the ones it names. False (logged) for a
 * connection without a valid one: it is closed without a word. */
bool smtpd_read_proxy_header(struct session *s);
/* The address and port the client connected to: the PROXY header's, or
 * the socket's. 0, or -1 if neither is known. */
int session_server_address(const struct session *s, char *addr, size_t addr_len, char *port,
                           size_t port_len);

/* xforward.c: at connect, whether the client is an authorized one; the
 * XFORWARD command; forget what was forwarded (the transaction ended);
 * put it into the envelope about to be queued (after data.c filled in
 * the real client); and ", orig_queue_id=..., orig_client=..." for the
 * "client=" log line ("" when nothing was forwarded). */
void xforward_session_start(struct session *s);
void cmd_xforward(struct session *s, const char *arg);
void xforward_reset(struct session *s);
void xforward_apply_envelope(const struct session *s, struct queue_envelope *env);
const char *xforward_log_suffix(const struct session *s);

/* proxy_filter.c: smtpd_proxy_filter, Postfix's before-queue content
 * filter (SMTPD_PROXY_README). Nothing is queued here: the transaction
 * goes on, live, to the filter's SMTP server, and the filter's replies
 * are the client's. Without speed_adjust the filter is connected when
 * smtpd accepts MAIL, and MAIL and each RCPT go to it as they come;
 * with it, the filter sees nothing until the message is complete. What
 * smtpd would queue (its Received header, header_checks' and milters'
 * edits) is what the filter gets. A filter that cannot be reached,
 * times out or breaks the protocol gets the client "451 4.3.0 Error:
 * queue file write error". */
struct proxy_filter;
void proxy_filter_setup(struct smtpd_settings *c, const struct conf *conf);
bool proxy_filter_enabled(const struct smtpd_settings *cfg);
/* MAIL, then each RCPT, once smtpd accepted them: 1 the filter accepted
 * it too (its reply is sent), 0 nothing was asked (speed_adjust, or no
 * filter: the caller replies), or -1 refused (the filter's reply, or the
 * 451, is sent and logged). */
int proxy_filter_mail(struct session *s);
int proxy_filter_rcpt(struct session *s, const char *address, const char *orcpt,
                      const char *notify);
/* At DATA or the first BDAT, when the content can go to the filter as it
 * arrives (no speed_adjust, no milters): DATA to the filter. 1 with the
 * connection to write the content to in *proxy_r; 0 when the content is
 * to be held for proxy_filter_end instead (*proxy_r NULL); or -1 having
 * replied (the filter refused DATA, or failed). */
int proxy_filter_data(struct session *s, struct proxy_filter **proxy_r);
/* Content bytes as smtpd would queue them (dot-stuffed here). */
void proxy_filter_put(struct proxy_filter *p, const char *data, size_t len);
/* The end of the message, which nothing in smtpd refused: the content
 * held so far (head, then body; both empty when it was streamed), the
 * transaction first when it was not sent yet (speed_adjust), then ".";
 * the filter's reply goes to the client verbatim, and is logged. */
void proxy_filter_end(struct session *s, const char *head, size_t head_len, const char *body,
                      size_t body_len);
/* The transaction is over: QUIT to the filter, or, in the middle of the
 * content, only a close (the filter then drops the message). */
void proxy_filter_close(struct session *s);

/* notice.c: Postfix's smtpd postmaster notices (notify_classes policy,
 * protocol, resource, software). Each final reply smtpd sends falls in
 * one of these classes or none: s->reply_class if its sender set it,
 * else by its status code (notice_reply_class). At the end of a session
 * that had a reply in a class of notify_classes, one notice with the
 * session's transcript goes to error_notice_recipient from the null
 * sender, queued here (never through SMTP). */
unsigned notice_reply_class(const char *line);
/* A command line from the client (never message content, never a SASL
 * response: an AUTH initial response is shown as "*"). */
void notice_record_in(struct session *s, const char *line, size_t len);
/* A reply line sent (without CRLF), and for the last line of a reply
 * its class (0: none). */
void notice_record_out(struct session *s, const char *line, size_t len, unsigned error_class);
/* The session ended: queue the notice if one is due; forget the transcript. */
void notice_session_end(struct session *s);

#endif
