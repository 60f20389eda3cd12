/* Fuzz target: what a Dovecot auth server sends (dovecot_auth.h), as
 * smtpd reads it: handshake lines up to DONE, then answer lines; also the
 * bytes as smtpd_sasl_path and smtpd_sasl_type. The server may send
 * anything; none of it may crash smtpd, and what is accepted must keep
 * the promises smtpd relies on (a user name it can log and put in a
 * Received header, an error for everything refused). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dovecot_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A user name smtpd logs and puts in a Received header. */
static void check_user(const char *user)
{
	if (*user == '\0' || strlen(user) > 512)
		abort();
	for (const char *p = user; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

/* Data that goes to the SMTP client after "334 ". */
static void check_base64(const char *text)
{
	for (const char *p = text; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '/' && *p != '=')
			abort();
}

static void check_reply(const char *line, size_t len)
{
	struct dovecot_reply r;
	const char *error = NULL;
	if (dovecot_reply_parse(line, len, &r, &error) != 0) {
		if (error == NULL || r.user != NULL || r.reason != NULL)
			abort();
		return;
	}
	if (r.id == 0 || memchr(line, '\0', len) != NULL)
		abort();
	switch (r.kind) {
	case DOVECOT_REPLY_OK:
		if (r.user == NULL || r.temp || r.reason != NULL || len < 3 ||
		    memcmp(line, "OK\t", 3) != 0)
			abort();
		check_user(r.user);
		if (r.challenge != NULL) /* final data */
			check_base64(r.challenge);
		break;
	case DOVECOT_REPLY_FAIL:
		if (r.challenge != NULL || len < 5 || memcmp(line, "FAIL\t", 5) != 0)
			abort();
		if (r.user != NULL)
			check_user(r.user);
		if (r.reason != NULL) {
			if (strlen(r.reason) > 200)
				abort();
			for (const char *p = r.reason; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					abort();
		}
		break;
	case DOVECOT_REPLY_CONT:
		/* The challenge goes to the SMTP client after "334 ". */
		if (r.user != NULL || r.reason != NULL || r.temp || r.challenge == NULL)
			abort();
		check_base64(r.challenge);
		break;
	default:
		abort();
	}
	dovecot_reply_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	struct dovecot_endpoint ep;
	const char *error = NULL;
	if (dovecot_endpoint_parse(text, "/var/spool/postern", &ep, &error) == 0) {
		if (ep.path ? ep.host != NULL || ep.path[0] != '/'
		            : ep.host == NULL || ep.port == NULL)
			abort();
		dovecot_endpoint_free(&ep);
	} else if (error == NULL || ep.path || ep.host || ep.port) {
		abort();
	}
	bool dovecot;
	if (dovecot_auth_type_parse(text, &dovecot, &error) == 0 &&
	    strcmp(text, dovecot ? "dovecot" : "postern") != 0)
		abort();
	free(text);

	/* Lines as the client reads them: the handshake, then answers. */
	const char *p = (const char *)data, *end = p + size;
	struct dovecot_handshake h = {0};
	bool handshake = true;
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = lf ? (size_t)(lf - p) : (size_t)(end - p);
		if (handshake) {
			error = NULL;
			int rc = dovecot_handshake_line(&h, p, len, &error);
			if (rc < 0 && error == NULL)
				abort();
			if (rc > 0 && (!h.done || !h.version_seen))
				abort();
			if (rc == 0 && (h.done || !h.version_seen))
				abort();
			/* What EHLO may offer: SASL names, upper case, once each. */
			if (h.mech_count > DOVECOT_MECHS_MAX)
				abort();
			for (size_t k = 0; k < h.mech_count; k++) {
				const char *m = h.mechs[k].name;
				if (*m == '\0' || strlen(m) > DOVECOT_MECH_NAME_MAX ||
				    dovecot_mech_find(&h, m) != &h.mechs[k])
					abort();
				for (; *m; m++)
					if (!isupper((unsigned char)*m) &&
					    !isdigit((unsigned char)*m) && *m != '-' && *m != '_')
						abort();
			}
			if (rc != 0)
				handshake = false;
		} else {
			check_reply(p, len);
		}
		p += len + 1;
	}
	return 0;
}
