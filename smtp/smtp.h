/*
 * smtp: the remote delivery agent. Internal interface between its files:
 * smtp.c (the service: qmgr's request, results back), deliver.c (one
 * request: next hop, routing, trying the servers in order), session.c (one
 * SMTP connection: greeting, EHLO, STARTTLS or implicit TLS, AUTH, one
 * transaction per message, reuse), tls_policy.c (the TLS level per
 * destination), tls_cache.c (TLS sessions saved for resumption) and
 * generic.c (smtp_generic_maps: the envelope and header addresses as
 * they go out).
 *
 * The same sources build lmtp, the LMTP client (RFC 2033), as Postfix's
 * lmtp(8) is its smtp(8) under another name: smtp_cfg.lmtp is set, the
 * next hop is an LMTP one (nexthop_parse_lmtp: a UNIX-domain socket or a
 * host without MX look-up), LHLO replaces EHLO, there is no mail loop
 * check, and after the content each accepted recipient gets its own
 * reply. The lmtp program reads lmtp_X in place of smtp_X where the
 * parameter table has lmtp_X (smtp.c, client_param).
 */
#ifndef POSTERN_SMTP_SMTP_H
#define POSTERN_SMTP_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "dns/dns_route.h"
#include "mail/generic_map.h"
#include "mail/queue.h"
#include "smtp/nexthop.h"
#include "smtp/smtp_resp.h"
#include "smtp/tls_policy.h"
#include "table/table.h"
#include "tls/tls.h"
#include "util/addr_set.h"
#include "util/event.h"
#include "util/str.h"

struct smtp_config {
	bool lmtp; /* this is the lmtp program: LMTP, not SMTP */
	const char *queue_dir;
	const char *helo_name;
	const char *myhostname;
	const char *default_port; /* smtp_tcp_port */
	const char *bind_address; /* "" for any */
	enum dns_family_pref family;
	int connect_timeout_ms, helo_timeout_ms, starttls_timeout_ms, mail_timeout_ms,
	    rcpt_timeout_ms, data_init_timeout_ms, data_xfer_timeout_ms, data_done_timeout_ms,
	    quit_timeout_ms, rset_timeout_ms, dns_timeout_ms;
	size_t max_targets; /* smtp_mx_address_limit (per next hop and per fallback relay) */
	/* smtp_fallback_relay: next hops tried, in order, for the recipients
	 * the next hop left open (NULL-terminated, may be NULL) */
	char *const *fallback_relays;
	/* relayhost: hard routing errors for it are a configuration problem
	 * (deferred 4.3.5), as Postfix has it; "" when unset */
	const char *relayhost;
	size_t line_length_limit; /* smtp_line_length_limit; 0: none */
	/* disable_mime_output_conversion: 8-bit mail to a server without
	 * 8BITMIME bounces instead of being converted */
	bool disable_mime_output_conversion;
	enum tls_level tls_level;
	const char *tls_policy_maps;
	const char *verify_match; /* smtp_tls_verify_cert_match */
	const char *secure_match; /* smtp_tls_secure_cert_match */
	const char *sasl_password_maps;
	/* smtp_generic_maps (NULL when it names no table) */
	struct generic_map *generic;
	/* smtp_header_checks, smtp_mime_header_checks,
	 * smtp_nested_header_checks, smtp_body_checks (header_checks.c; NULL
	 * or empty: none) and body_checks_size_limit */
	char *const *header_checks;
	char *const *mime_header_checks;
	char *const *nested_header_checks;
	char *const *body_checks;
	long long body_checks_size_limit;
	/* smtp_sender_dependent_authentication */
	bool sender_dependent_auth;
	bool tls_wrappermode; /* smtp_tls_wrappermode: TLS at connect, no STARTTLS */
	/* smtp_send_xforward_command: XFORWARD the message's original client
	 * (its envelope) to a server that offers it (transaction.c) */
	bool send_xforward;
	/* smtp_tls_session_cache_database ("": none) and
	 * smtp_tls_session_cache_timeout (seconds; 0: none) */
	const char *tls_cache_database;
	int64_t tls_cache_timeout_s;
	/* what the TLS client context was made from, for the cache key */
	char *tls_cache_context;
	int64_t cache_time_ms; /* idle session kept this long for reuse */
	int64_t reuse_time_ms; /* a session is not reused after this age */
	/* This host's addresses (inet_interfaces, or the interfaces' with
	 * "all"; proxy_interfaces): an MX host with one of them is this host */
	struct addr_set *own_addrs;
	struct dns_resolver *resolver;
	struct tls_context *tls;
	struct table *tls_policy;     /* opened on first use */
	struct table *sasl_passwords; /* opened on first use */
	struct event_loop *loop;
};

extern struct smtp_config smtp_cfg;

/* One recipient of the request, and its outcome. */
enum rcpt_outcome { OUT_PENDING, OUT_DELIVERED, OUT_DEFERRED, OUT_BOUNCED };

struct smtp_rcpt {
	int64_t index;
	const char *address;
	const char *orcpt;  /* "rfc822;addr" or "", from the queue file */
	const char *notify; /* "" or "SUCCESS,DELAY" ... */
	enum rcpt_outcome outcome;
	char status[16];
	char *reason;
	char *relay;      /* "host[addr]:port" of the last server tried */
	char *tls;        /* TLS summary of that session, or "none" */
	char *remote_mta; /* that server's name, once it answered; else NULL */
	char *diagnostic; /* "smtp; <reply>" when its reply decided; else NULL */
	/* RCPT TO's address when smtp_generic_maps rewrote address, else
	 * NULL (reports, logs and ORCPT keep the original) */
	char *generic_address;
	bool dsn_passed; /* delivered to a server that took the DSN request */
	bool sent;       /* RCPT was sent in the current transaction */
	bool accepted;   /* RCPT got 2xx in the current transaction */
	/* Decided before any session (the queue file could not be read, the
	 * request does not match it): never sent, whatever its outcome. */
	bool held;
};

void rcpt_set(struct smtp_rcpt *r, enum rcpt_outcome outcome, const char *status,
              const char *reason);
/* Still to be tried: not held, neither delivered nor bounced. */
static inline bool rcpt_open(const struct smtp_rcpt *r)
{
	return !r->held && r->outcome != OUT_DELIVERED && r->outcome != OUT_BOUNCED;
}

/* The message being delivered. */
struct smtp_message {
	int fd;
	int64_t offset;
	int64_t size;
	const struct queue_envelope *env;
	bool has_8bit; /* content has bytes >= 0x80 */
	/* An address verification probe (the request's verify = 1): the
	 * session goes as far as the RCPT replies, which decide each
	 * recipient; no content is sent (transaction.c). */
	bool verify;
	/* smtp_generic_maps (generic.c): MAIL FROM's address when it
	 * rewrote the sender, else NULL; and when it rewrote header
	 * addresses, the header section sent in place of the content's first
	 * head_used bytes (head_used 0: the content goes as it is). */
	char *generic_sender;
	struct str head;
	int64_t head_used;
};

/* generic.c */
/* Rewrite msg's envelope sender, its pending recipients and the
 * addresses in its header section (not for a probe, msg->verify: it
 * sends none) with smtp_generic_maps (nothing when it is empty). 0, or -1 when a table cannot be
 * read or has a value that is not an address: every pending recipient is then deferred (4.3.0,
 * logged with queue_id) and the message is not to be sent. Undo with generic_release. */
int generic_apply(const char *queue_id, struct smtp_message *msg, struct smtp_rcpt *rcpts,
                  size_t count);
void generic_release(struct smtp_message *msg, struct smtp_rcpt *rcpts, size_t count);

/* The first bytes of msg's content (at most max) appended to out, read
 * from the queue file. 0, or -1 with *error_r (static text). */
int smtp_message_read_start(const struct smtp_message *msg, size_t max, struct str *out,
                            const char **error_r);

/* header_checks.c: apply smtp_header_checks to msg's top-level header
 * section as it is to be sent (after generic_apply; the result replaces
 * msg->head, freed by generic_release). When smtp_mime_header_checks,
 * smtp_nested_header_checks or smtp_body_checks name a table, the whole
 * content as it is to be sent is checked instead, into an unnamed
 * temporary file that becomes msg->fd (offset 0, size, no head; the
 * queue file's descriptor is closed). 0, or -1 when a table cannot be
 * read (or the content cannot be read or written): every pending
 * recipient is then deferred. */
int header_checks_apply(const char *queue_id, struct smtp_message *msg, struct smtp_rcpt *rcpts,
                        size_t count);

/* tls_policy.c (the value parser is lib/smtp/tls_policy.c) */
/* The policy for a next hop (table entry for the next hop as written,
 * e.g. "[host]:port", then the host or domain, then a parent domain as
 * ".parent"; else smtp_tls_security_level). -1 with
 * *error_r (malloc'd, naming the table and key) when the table cannot be
 * read or the entry is bad: the caller defers. Free p in both cases. */
int tls_policy_lookup(const char *nexthop_text, const char *nexthop_host, struct tls_policy *p,
                      char **error_r);

/* session.c */
struct smtp_session;

/* Where to connect, and what is required of the server. */
struct smtp_target {
	const char *host;    /* name for logs, SNI and certificate checks */
	const char *address; /* IP address to connect to */
	const char *port;    /* "" for a UNIX-domain socket */
	/* LMTP "unix:" next hop: the socket to connect to (address is its
	 * path as written, for the logs); else NULL */
	const char *unix_path;
	enum tls_level level;
	const struct tls_policy *policy; /* match, protocols, ciphers */
	const char *nexthop;             /* the next hop's host, for match= */
	struct tls_tlsa *tlsa;           /* DANE records when level is DANE and usable */
	const char *dane_base;           /* their base domain (host, or host after CNAMEs) */
	const char *dane_alias;          /* the other of the two names, or NULL */
	size_t tlsa_count;
	const char *sasl_credentials; /* "user:password" for AUTH (deliver.c found it), or NULL */
	/* The next hop as qmgr sent it when mail loops are looked for (port
	 * 25): a server that answers EHLO with myhostname is this host. Else
	 * NULL. */
	const char *loop_nexthop;
	bool best_mx; /* the server has the best preference of the route */
};

/* Connect, read the greeting, EHLO/HELO, STARTTLS as the policy says
 * (with smtp_tls_wrappermode: the TLS handshake right after connect,
 * then the greeting), AUTH if credentials exist. NULL on failure with
 * *reason_r (malloc'd) and *status_r ("4.4.1", ...); *tls_failed_r when
 * the TLS handshake failed; *bounce_r when the failure is final for the
 * recipients (the best MX is this host: a mail loop, 5.4.6), so that no
 * other server is tried. */
struct smtp_session *session_open(const struct smtp_target *t, bool allow_tls, char **reason_r,
                                  const char **status_r, bool *tls_failed_r, bool *bounce_r);
/* One message to the recipients whose outcome is pending; sets the
 * outcome of each (for msg->verify from the RCPT replies, with no
 * content sent: the transaction is left open, for RSET before reuse or
 * QUIT). Returns false if the session can no longer be used. */
bool session_deliver(struct smtp_session *s, const struct smtp_message *msg,
                     struct smtp_rcpt *rcpts, size_t count);
/* Check a kept session with RSET; false if it is gone (and closed). */
bool session_reset(struct smtp_session *s);
/* QUIT (best effort) and free. */
void session_close(struct smtp_session *s, bool quit);
const char *session_relay(const struct smtp_session *s);
const char *session_tls(const struct smtp_session *s);
const char *session_host(const struct smtp_session *s);
int64_t session_started_ms(const struct smtp_session *s);

/* tls_cache.c: close the TLS session cache (at shutdown). */
void smtp_tls_cache_close(void);

/* deliver.c: parse a next hop of this client's kind (nexthop_parse, or
 * nexthop_parse_lmtp in the lmtp program) with smtp_cfg.default_port. */
int client_nexthop_parse(const char *text, struct nexthop *nh, const char **error_r);
/* deliver.c: deliver msg to rcpts via nexthop (text as qmgr sent it),
 * then via smtp_fallback_relay for the recipients it left open. */
void deliver_message(const char *nexthop, const struct smtp_message *msg, struct smtp_rcpt *rcpts,
                     size_t count);
/* Drop the kept session (at shutdown or when it idled out). */
void deliver_drop_cached(void);

#endif
