/*
 * Client of Dovecot's authentication protocol (version 1, the one
 * Postfix's smtpd_sasl_type = dovecot speaks), for smtpd when
 * smtpd_sasl_type = dovecot: Dovecot checks the password and names the
 * user. One connection per check: a PLAIN check in one call
 * (dovecot_auth_plain), or an exchange of any mechanism Dovecot offers
 * (CRAM-MD5, SCRAM-SHA-256 ...) relayed step by step between the client
 * and Dovecot (dovecot_connect, dovecot_conn_auth, dovecot_conn_cont).
 *
 * The exchange: lines of tab-separated fields ending in LF; values are
 * tab-escaped (\001 then 1, t, r, n or 0 for \001, TAB, CR, LF, NUL).
 *   client: VERSION 1 <minor>, CPID <pid>
 *   server: VERSION 1 <minor>, MECH <name> [<flag>...] (one per
 *           mechanism), SPID, CUID, COOKIE, then DONE; unknown lines are
 *           ignored, but VERSION comes first and its major must be 1
 *   client: AUTH <id> <mech> service=smtp nologin [lip=..] [rip=..]
 *           [secured] [resp=<base64 initial response>]
 *           (PLAIN: resp=<base64 of NUL user NUL password>)
 *   server: OK <id> user=<name> [resp=<base64 final data>] [...]
 *                                            the client is authenticated
 *           FAIL <id> [reason=..] [temp | code=temp_fail] [user=..] [...]
 *           CONT <id> <base64 challenge>     the next step of the mechanism
 *   client: CONT <id> <base64 response>      (the client's answer to it)
 * A FAIL is a "no", unless it says temp (older Dovecot) or
 * code=temp_fail (2.3 and later): then Dovecot could not decide. A
 * malformed line, a server without the mechanism, a closed connection or
 * a timeout are temporary failures, never a "no" or a "yes"; so is a
 * CONT to a complete PLAIN response.
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

/* A mechanism as Dovecot's MECH line describes it: its name and what
 * its flags say of it (the words of Postfix's and Cyrus SASL's security
 * properties: anonymous, plaintext, dictionary, active, forward-secrecy,
 * mutual-auth). */
#define DOVECOT_MECH_NAME_MAX 20
enum dovecot_mech_flag {
	DOVECOT_MECH_ANONYMOUS = 1 << 0,
	DOVECOT_MECH_PLAINTEXT = 1 << 1,
	DOVECOT_MECH_DICTIONARY = 1 << 2,
	DOVECOT_MECH_ACTIVE = 1 << 3,
	DOVECOT_MECH_FORWARD_SECRECY = 1 << 4,
	DOVECOT_MECH_MUTUAL_AUTH = 1 << 5,
};
struct dovecot_mech {
	char name[DOVECOT_MECH_NAME_MAX + 1]; /* upper case */
	unsigned flags;                       /* enum dovecot_mech_flag */
};
/* The most mechanisms kept from a handshake. */
#define DOVECOT_MECHS_MAX 24

/* The server's handshake as read so far. */
struct dovecot_handshake {
	bool version_seen;  /* VERSION 1 <minor> came (first) */
	unsigned minor;     /* its minor version */
	bool plain_offered; /* a MECH PLAIN line came */
	bool done;          /* DONE came: the handshake is over */
	/* The mechanisms a client may be offered, in Dovecot's order: every
	 * MECH with a valid SASL name (RFC 4422: A-Z, 0-9, - and _, at most
	 * 20), once, that is not flagged private; past DOVECOT_MECHS_MAX
	 * they are left out. */
	struct dovecot_mech mechs[DOVECOT_MECHS_MAX];
	size_t mech_count;
};

/* The handshake's mechanism of that name (without case), or NULL. */
const struct dovecot_mech *dovecot_mech_find(const struct dovecot_handshake *h, const char *name);

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
	bool temp;       /* FAIL: temp or code=temp_fail */
	char *user;      /* OK: user=, unescaped: not empty, no control characters;
	                    FAIL: the same when given and valid, else NULL */
	char *reason;    /* FAIL: reason=, unescaped, control characters as '?'; or NULL */
	char *challenge; /* CONT: the base64 challenge; OK: resp=, the mechanism's
	                    final data for the client (SCRAM's server signature), or
	                    NULL; base64 characters only, maybe empty */
};

/* Parse an answer line (without its LF; may hold any bytes). 0 with *r
 * filled (free it with dovecot_reply_free), or -1 with *error_r (static)
 * and nothing to free: not OK, FAIL or CONT, a bad id, an OK without a
 * usable user name, a CONT whose challenge is not base64. */
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

/* A connection to Dovecot's auth server, past its handshake, for one
 * authentication exchange of any mechanism it offers. */
struct dovecot_conn;

/* Connect to ep and read the handshake, within timeout_ms: the
 * connection, or NULL with *error_r (static; names the socket). */
struct dovecot_conn *dovecot_connect(const struct dovecot_endpoint *ep, int timeout_ms,
                                     const char **error_r);
const struct dovecot_handshake *dovecot_conn_handshake(const struct dovecot_conn *c);

/* The outcome of one step of an exchange. */
enum dovecot_step {
	DOVECOT_STEP_OK,       /* authenticated as dovecot_conn_user(); *out_r is the
	                          mechanism's final data for the client (base64), or NULL */
	DOVECOT_STEP_FAIL,     /* refused (*error_r: Dovecot's reason); dovecot_conn_user()
	                          is the name if Dovecot said it */
	DOVECOT_STEP_TEMPFAIL, /* Dovecot could not be asked or could not decide (*error_r) */
	DOVECOT_STEP_CONT,     /* *out_r is the base64 challenge for the client, whose
	                          answer goes to dovecot_conn_cont */
};

/* Begin an exchange: mech (one of the handshake's), initial the client's
 * initial response in base64 ("" for an empty one) or NULL for none.
 * *out_r is malloc'd or NULL; *error_r static. Each step waits at most
 * timeout_ms for Dovecot. */
enum dovecot_step dovecot_conn_auth(struct dovecot_conn *c, const char *mech,
                                    const struct dovecot_auth_info *info, const char *initial,
                                    int timeout_ms, char **out_r, const char **error_r);
/* Go on with the client's base64 response to the last challenge. */
enum dovecot_step dovecot_conn_cont(struct dovecot_conn *c, const char *response, int timeout_ms,
                                    char **out_r, const char **error_r);
/* After DOVECOT_STEP_OK: the user name Dovecot gave (not empty, no control
 * characters); after DOVECOT_STEP_FAIL: the one it named, or NULL. Valid
 * until dovecot_conn_close. */
const char *dovecot_conn_user(const struct dovecot_conn *c);
void dovecot_conn_close(struct dovecot_conn *c);

#endif
