/*
 * The auth service protocol: how smtpd, pop3d and imapd ask the auth
 * service whether a user name and password are valid. The auth service is
 * the only program that reads password hashes.
 *
 * Transport: a UNIX stream socket at $queue_directory/private/auth,
 * carrying IPC records (util/ipc.h). A client may send several requests
 * on one connection, each answered before the next is read; either side
 * closes when done. A request larger than AUTH_MAX_RECORD or bytes that
 * are not a valid record make the service close the connection without
 * an answer (clients treat that as a temporary failure).
 *
 * Request:
 *   "auth"  user (s)         the name the client gave (any case)
 *           password (s)     the password, never logged
 *           service (s)      "smtp", "pop3" or "imap"
 *           client_addr (s)  the remote client's address, for the log
 *
 * Replies, one per request:
 *   "ok"        user (s)     the canonical user name: the lower-cased
 *                            address as kept in the user database
 *   "fail"      reason (s)   wrong user name or password, locked account;
 *                            the reason does not say which. The reply
 *                            comes after the failure delay (1 s), and an
 *                            unknown user takes as long as a wrong password
 *   "tempfail"  reason (s)   the service cannot decide now (user database
 *                            unreadable) or the request was incomplete
 */
#ifndef POSTERN_AUTH_AUTH_PROTO_H
#define POSTERN_AUTH_AUTH_PROTO_H

/* Relative to queue_directory. */
#define AUTH_SOCKET "private/auth"

/* Largest request record the service reads. */
#define AUTH_MAX_RECORD 8192

#define AUTH_REQUEST "auth"
#define AUTH_REPLY_OK "ok"
#define AUTH_REPLY_FAIL "fail"
#define AUTH_REPLY_TEMPFAIL "tempfail"

#endif
