/*
 * Client of Dovecot's authentication protocol (version 1, the one
 * Postfix's smtpd_sasl_type = dovecot speaks), for smtpd when
 * smtpd_sasl_type = dovecot: Dovecot checks the password and names the
 * user. One connection per check.
 *
 * The exchange: lines of tab-separated fields ending in LF; values are
 * tab-escaped (\001 then 1, t, r, n or 0 for \001, TAB, CR, LF, NUL).
 *   client: VERSION 1 <minor>, CPID <pid>
 *   server: VERSION 1 <minor>, MECH <name> [<flag>...] (one per
 *           mechanism), SPID, CUID, COOKIE, then DONE; unknown lines are
 *           ignored, but VERSION comes first and its major must be 1
 *   client: AUTH <id> PLAIN service=smtp nologin [lip=..] [rip=..]
 *           [secured] resp=<base64 of NUL user NUL password>
 *   server: OK <id> user=<name> [...]        the password is right
 *           FAIL <id> [reason=..] [temp | code=temp_fail] [user=..] [...]
 *           CONT <id> <base64 challenge>     more wanted (not for PLAIN)
 * A FAIL is a "no", unless it says temp (older Dovecot) or
 * code=temp_fail (2.3 and later): then Dovecot could not decide. A CONT,
 * a malformed line, a server without PLAIN, a closed connection or a
 * timeout are temporary failures, never a "no" or a "yes".
 *
 * The line parsers are pure functions over bytes (untrusted input; see
 * fuzz_dovecot_auth.c); dovecot_auth_plain() does the I/O.
 */
#ifndef POSTERN_AUTH_DOVECOT_AUTH_H
#define POSTERN_AUTH_DOVECOT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth_client.h"

/* Longest line read from the server (Dovecot's own limit is 16384). */
#define DOVECOT_AUTH_MAX_LINE 65536
/* Longest AUTH request sent (Dovecot drops a client sending longer lines). */
#define DOVECOT_AUTH_MAX_REQUEST 16384

/* The server's handshake as read so far. */
struct dovecot_handshake {
	bool version_seen;  /* VERSION 1 <minor> came (first) */
	unsigned minor;     /* its minor version */
	bool plain_offered; /* a MECH PLAIN line came */
	bool done;          /* DONE came: the handshake is over */
};

/* Take one handshake line (without its LF; may hold any bytes). 0: more
 * lines to come; 1: it was DONE; -1 with *error_r (static): the line is
 * malformed, does not start with VERSION, or the major version is not
 * 1. */
int dovecot_handshake_line(struct dovecot_handshake *h, const char *line, size_t len,
                           const char **error_r);

enum dovecot_reply_kind {
	DOVECOT_REPLY_OK,
	DOVECOT_REPLY_FAIL,
	DOVECOT_REPLY_CONT,
};

/* An answer to an AUTH request. */
struct dovecot_reply {
	enum dovecot_reply_kind kind;
	unsigned id;
	bool temp;    /* FAIL: temp or code=temp_fail */
	char *user;   /* OK: user=, unescaped: not empty, no control characters */
	char *reason; /* FAIL: reason=, unescaped, control characters as '?'; or NULL */
};

/* Parse an answer line (without its LF; may hold any bytes). 0 with *r
 * filled (free it with dovecot_reply_free), or -1 with *error_r (static)
 * and nothing to free: not OK, FAIL or CONT, a bad id, an OK without a
 * usable user name. */
int dovecot_reply_parse(const char *line, size_t len, struct dovecot_reply *r,
                        const char **error_r);
void dovecot_reply_free(struct dovecot_reply *r);

/* Where Dovecot listens: smtpd_sasl_path. */
struct dovecot_endpoint {
	char *path; /* a UNIX-domain socket, or NULL */
	char *host; /* inet:host:port; NULL for a socket */
	char *port;
};

/* Parse "inet:host:port" ("[v6]:port" too), "unix:PATH" or a plain PATH;
 * a relative path is taken relative to queue_dir. 0, or -1 with *error_r
 * (static). */
int dovecot_endpoint_parse(const char *spec, const char *queue_dir, struct dovecot_endpoint *ep,
                           const char **error_r);
void dovecot_endpoint_free(struct dovecot_endpoint *ep);

/* smtpd_sasl_type: "postern" (*dovecot_r false) or "dovecot" (true); -1
 * with *error_r (static) for anything else. */
int dovecot_auth_type_parse(const char *value, bool *dovecot_r, const char **error_r);

/* What Dovecot is told about the login besides the credentials. */
struct dovecot_auth_info {
	const char *service;     /* "smtp" */
	const char *local_addr;  /* lip: the address the client connected to, or NULL */
	const char *remote_addr; /* rip: the client's address, or NULL */
	bool secured;            /* the client's connection is encrypted (TLS) */
};

/* Ask the Dovecot at ep whether user/password are valid, as PLAIN,
 * waiting at most timeout_ms in all (every read and write is bounded).
 * On AUTH_OK *user_r is the malloc'd name Dovecot gave (user=), else
 * NULL. On AUTH_FAIL and AUTH_TEMPFAIL *error_r says why (static; valid
 * until the next call). Copies of the password are cleared. */
enum auth_result dovecot_auth_plain(const struct dovecot_endpoint *ep, const char *user,
                                    const char *password, const struct dovecot_auth_info *info,
                                    int timeout_ms, char **user_r, const char **error_r);

#endif
