/*
 * smtpd_reject_sender_login_mismatch: which clients must own the sender
 * address they use (smtpd's sender_login.c applies it; mailctl check
 * reads it too).
 */
#ifndef POSTERN_SMTP_SENDER_LOGIN_MODE_H
#define POSTERN_SMTP_SENDER_LOGIN_MODE_H

#include <stdbool.h>

enum sender_login_mode {
	SENDER_LOGIN_OFF,             /* "no" (or empty) */
	SENDER_LOGIN_AUTHENTICATED,   /* a logged-in client must own the sender */
	SENDER_LOGIN_UNAUTHENTICATED, /* a client not logged in may not use an owned one */
	SENDER_LOGIN_BOTH,            /* "yes": both */
	SENDER_LOGIN_KNOWN,           /* a logged-in client may not use one owned by others */
};

/* The mode named by value (case ignored); false if it names none. */
bool sender_login_mode_parse(const char *value, enum sender_login_mode *mode_r);

/* The words sender_login_mode_parse knows, for messages. */
#define SENDER_LOGIN_MODE_WORDS "no, yes, authenticated, unauthenticated or known"

#endif
