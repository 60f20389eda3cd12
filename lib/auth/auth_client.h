/*
 * Client side of the auth service protocol (auth_proto.h), for smtpd,
 * pop3d and imapd: one blocking call per user/password check.
 */
#ifndef POSTERN_AUTH_AUTH_CLIENT_H
#define POSTERN_AUTH_AUTH_CLIENT_H

enum auth_result {
	AUTH_OK,       /* valid; *canonical_r is the canonical user name */
	AUTH_FAIL,     /* wrong user name or password */
	AUTH_TEMPFAIL, /* the service could not be asked or could not decide */
};

/* Ask the auth service at socket_path whether user/password are valid for
 * service ("smtp", "pop3", "imap"), waiting at most timeout_ms in all.
 * On AUTH_OK *canonical_r is a malloc'd user name (else NULL). On
 * AUTH_FAIL and AUTH_TEMPFAIL *error_r says why (static; valid until the
 * next call). Connection problems and malformed replies are AUTH_TEMPFAIL. */
enum auth_result auth_client_verify(const char *socket_path, const char *user, const char *password,
                                    const char *service, const char *client_addr, int timeout_ms,
                                    char **canonical_r, const char **error_r);

#endif
