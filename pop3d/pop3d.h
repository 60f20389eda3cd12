/*
 * pop3d: the POP3 server (RFC 1939, CAPA from RFC 2449, STLS from RFC
 * 2595, AUTH PLAIN from RFC 5034) on the mail store.
 *
 * Privilege separation. master starts pop3d as root (unpriv "n" in
 * master.conf). One pop3d process accepts many connections (a multi
 * server, main.c) and forks for each a session parent; a session then
 * has these processes:
 *
 *   session parent      never reads a byte from the client. It checks the
 *   (root)              credentials the login child hands it with the auth
 *                       service, counts failures and logs every login,
 *                       then starts the mailbox process and waits for it.
 *   login child         becomes pop3d_login_user (no right to any mailbox,
 *   (unprivileged)      not the queue owner) at once; reads the load
 *                       balancer's PROXY header if the service takes one
 *                       (upstream_proxy.c), then does TLS (implicit or
 *                       STLS) and the AUTHORIZATION state: CAPA, USER,
 *                       PASS, AUTH PLAIN, QUIT. After a good login it
 *                       hands over: without TLS it gives the parent the
 *                       input it had read ahead and exits; with TLS it
 *                       stays as a proxy between the TLS connection and a
 *                       socket pair to the mailbox process.
 *   mailbox process     forked by the parent after a good login; becomes
 *                       the mailbox owner (virtual_mailbox_owner for
 *                       virtual users, the system user otherwise), opens
 *                       and locks that one mailbox and serves the
 *                       TRANSACTION and UPDATE states.
 *
 * A compromised login child can neither read mail nor log in without a
 * valid password: the parent asks the auth service itself.
 *
 * Records between the login child and the parent (util/ipc.h) on a
 * socket pair:
 *   child -> parent  "client"   proxied (i 0/1), and when 1: addr, port,
 *                               local_addr, local_port (s): the first
 *                               record, only with
 *                               pop3d_upstream_proxy_protocol = haproxy
 *   child -> parent  "login"    user (d), password (d), method (s:
 *                               "USER" or "PLAIN"), tls (s: summary or "")
 *   parent -> child  "ok" | "fail" | "tempfail" | "refused", reason (s)
 *                    ("refused": too many failures, the session ends)
 *   child -> parent  "handoff"  input (d: plain-text bytes read ahead),
 *                               tls (i 0/1: the child proxies)
 *
 * Internal interfaces between the files:
 *   main.c         settings, TLS context, the service entry, a session
 *                  parent forked per connection
 *   login.c        the session parent: credentials, login log line,
 *                  mailbox owner
 *   preauth.c      the login child's AUTHORIZATION state
 *   upstream_proxy.c  a load balancer's PROXY header: read in the
 *                  login child, its addresses checked in the parent
 *   proxy.c        the login child's TLS proxy
 *   transaction.c  the mailbox process
 *   reply.c        replies and CAPA, shared by the two protocol processes
 */
#ifndef POSTERN_POP3D_POP3D_H
#define POSTERN_POP3D_POP3D_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "tls/tls.h"
#include "util/cidr.h"
#include "util/str.h"
#include "util/stream.h"

struct pop3d_settings {
	const struct conf *conf;
	const char *hostname;
	const char *queue_dir;
	const char *auth_socket;
	bool wrapper_mode;                      /* implicit TLS (port 995) */
	bool tls_auth_only;                     /* logins only over TLS ... */
	struct cidr_list *auth_exempt_networks; /* ... except from here */
	long long timeout_ms;
	long long auth_failure_limit;
	long long hard_error_limit;
	bool upstream_proxy; /* a PROXY protocol header comes first (upstream_proxy.c) */
	long long upstream_proxy_timeout_ms;
	/* pop3d_upstream_proxy_trusted_networks: the balancers' addresses
	 * (NULL: any) */
	struct cidr_list *upstream_proxy_trusted;
	struct tls_context *tls;
	/* Root: change users; else everything runs as the invoking user. */
	bool privileged;
	uid_t login_uid;
	gid_t login_gid;
};

/* The client, as seen by every process of a session: the socket's
 * peer and local end, or the ones a load balancer's PROXY header names. */
struct pop3d_client {
	char addr[64];
	char port[16];
	char local_addr[64];
	char local_port[16];
	/* Behind a load balancer that terminates TLS: its PROXY v2 SSL TLV
	 * said the client spoke TLS to it ("TLSv1.3 with cipher ... (upstream
	 * proxy)"); empty otherwise. Such a client counts as on TLS for
	 * pop3d_tls_auth_only and is not offered STLS. */
	char proxied_tls[128];
};

/* login.c: serve one connection (in the root parent). */
void login_serve(const struct pop3d_settings *cfg, int fd);
/* Get SIGTERM when the parent process ends (so sessions end with the
 * server: a mailbox process killed this way deletes nothing); exits if
 * parent is already gone. */
void pop3d_die_with_parent(pid_t parent);
/* Close every descriptor from 3 up except those listed (-1 entries are skipped). */
void pop3d_close_other_fds(const int *keep, size_t count);

/* preauth.c: the login child; does not return. */
void preauth_run(const struct pop3d_settings *cfg, const struct pop3d_client *client, int fd,
                 int ctl, int proxy) __attribute__((noreturn));

/* upstream_proxy.c: in the login child, read the PROXY header from fd
 * (exactly its bytes, within pop3d_upstream_proxy_timeout), take its
 * addresses into *client and send them to the parent on ctl. False
 * (logged) when there is no valid header: the connection is to be
 * closed without a reply. */
bool upstream_proxy_read(const struct pop3d_settings *cfg, struct pop3d_client *client, int fd,
                         int ctl);
/* In the session parent: the login child's "client" record, checked,
 * into *client. False when there is none (the child logged why) or it is
 * malformed (logged). */
bool upstream_proxy_client(const struct pop3d_settings *cfg, int ctl, struct pop3d_client *client);

/* proxy.c: copy between the TLS stream and the plain socket until either
 * side closes or nothing moves for timeout_ms. */
void proxy_run(struct stream *client, int inner, long long timeout_ms);

/* transaction.c: the mailbox process, already running as the mailbox
 * owner; serves the session on fd (input first takes the read-ahead
 * bytes) and does not return. */
struct mailbox_login {
	const char *user;    /* canonical user name */
	const char *maildir; /* the Maildir */
	const char *tls;     /* TLS summary or "" */
	const char *method;
};
void transaction_run(const struct pop3d_settings *cfg, const struct pop3d_client *client,
                     const struct mailbox_login *login, int fd, const void *input, size_t input_len)
    __attribute__((noreturn));

/* reply.c */
/* "+OK text" or "-ERR text", queued on the stream (flushed before the next read). */
void pop3d_reply(struct stream *s, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The CAPA response for the state the session is in. */
void pop3d_capa(struct stream *s, bool authorization, bool stls, bool user_login);
/* Client-supplied text made safe for one log line (static buffer). */
const char *pop3d_log_safe(const char *text, size_t len);
/* End the connection so that the last reply reaches the client: stop
 * sending, then read and drop what the client still sends (a close with
 * unread input would reset the connection and lose the reply), for at
 * most a second. */
void pop3d_lingering_close(int fd);
/* Read one command line; STREAM_OK, or the failure. Overlong lines are
 * answered here and reported as STREAM_TOO_LONG. */
enum stream_status pop3d_read_command(struct stream *s, struct str *line);

#endif
