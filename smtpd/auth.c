/*
 * smtpd AUTH (RFC 4954): PLAIN and LOGIN, checked by the auth service over
 * its UNIX socket, or with smtpd_sasl_type = dovecot by Dovecot's auth
 * server (as PLAIN, LOGIN converted), which also brings its other
 * mechanisms (CRAM-MD5, SCRAM-SHA-256 ...): those are offered as Dovecot
 * lists them (asked at most once a minute per process; not anonymous,
 * private or EXTERNAL ones) and relayed step by step, each challenge from
 * Dovecot to the client and each response back, as Postfix does. Offered
 * only over TLS unless the client is in smtpd_tls_auth_only_exempt
 * networks (loopback in an instance). Failures are delayed and counted;
 * too many end the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "auth/dovecot_auth.h"
#include "auth/sasl_security.h"
#include "smtpd/smtpd.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/event.h"
#include "util/log.h"

/* A SASL response may be longer than a command line (Postfix's
 * smtpd_sasl_response_limit is 12288), never shorter. */
#define SASL_RESPONSE_MIN 12288
#define AUTH_TIMEOUT_MS 30000
/* Dovecot's mechanism list is asked for again after this long, and the
 * asking (at EHLO) waits at most DOVECOT_LIST_TIMEOUT_MS. */
#define DOVECOT_LIST_TTL_MS 60000
#define DOVECOT_LIST_TIMEOUT_MS 5000

/* With smtpd_sasl_type = dovecot: what Dovecot offered when last asked. */
static struct {
	bool asked; /* and answered, at */
	int64_t at;
	int64_t warned; /* when it last could not be asked (logged) */
	bool plain;     /* PLAIN (so PLAIN and LOGIN are offered) */
	/* the mechanisms relayed as they are (not PLAIN, LOGIN or EXTERNAL) */
	struct dovecot_mech other[DOVECOT_MECHS_MAX];
	size_t other_count;
} dovecot_list = {.plain = true};

/* PLAIN and LOGIN, as Dovecot flags them: the password goes in the clear. */
#define OWN_MECH_FLAGS DOVECOT_MECH_PLAINTEXT

/* smtpd_sasl_security_options / smtpd_sasl_tls_security_options into
 * *p; exits on an unknown word. */
static void parse_security(const struct conf *conf, const char *name, struct sasl_policy *p)
{
	const char *bad = "";
	if (sasl_policy_parse(conf_get_list(conf, name), p, &bad) != 0)
		log_fatal("%s: unknown option \"%s\" (%s)", name, bad, sasl_policy_words);
}

/* May a mechanism with these flags be offered and used in this session
 * (smtpd_sasl_tls_security_options under TLS, else
 * smtpd_sasl_security_options)? */
static bool mech_allowed(const struct session *s, unsigned flags)
{
	return sasl_policy_allows(s->tls ? &s->cfg->sasl_tls_policy : &s->cfg->sasl_policy, flags);
}

static size_t sasl_line_limit(const struct session *s)
{
	long long limit = s->cfg->line_length_limit;
	return limit > SASL_RESPONSE_MIN ? (size_t)limit : SASL_RESPONSE_MIN;
}

bool auth_offered(const struct session *s)
{
	if (!s->cfg->auth_enable)
		return false;
	if (s->tls || !s->cfg->tls_auth_only)
		return true;
	return s->cfg->auth_exempt_networks != NULL &&
	       cidr_list_match(s->cfg->auth_exempt_networks, s->client_addr);
}

/* Ask Dovecot for its mechanisms unless it answered lately. When it
 * cannot be asked the last answer stands (at first: PLAIN and LOGIN, and
 * AUTH then fails as temporary), and it is asked again next time (the
 * warning is logged once a minute). */
static void dovecot_refresh(const struct session *s)
{
	int64_t now = event_now_ms();
	if (dovecot_list.asked && now - dovecot_list.at < DOVECOT_LIST_TTL_MS)
		return;
	const char *error = "";
	struct dovecot_conn *c =
	    dovecot_connect(s->cfg->dovecot_auth, DOVECOT_LIST_TIMEOUT_MS, &error);
	if (c == NULL) {
		if (dovecot_list.warned == 0 || now - dovecot_list.warned >= DOVECOT_LIST_TTL_MS) {
			log_warn("SASL mechanisms of Dovecot unknown: %s", error);
			dovecot_list.warned = now;
		}
		return;
	}
	dovecot_list.asked = true;
	dovecot_list.at = now;
	const struct dovecot_handshake *h = dovecot_conn_handshake(c);
	dovecot_list.plain = h->plain_offered;
	dovecot_list.other_count = 0;
	for (size_t i = 0; i < h->mech_count; i++) {
		const char *name = h->mechs[i].name;
		if (strcmp(name, "PLAIN") != 0 && strcmp(name, "LOGIN") != 0 &&
		    strcmp(name, "EXTERNAL") != 0)
			dovecot_list.other[dovecot_list.other_count++] = h->mechs[i];
	}
	dovecot_conn_close(c);
}

/* Whether PLAIN and LOGIN are offered: the auth service has them, Dovecot
 * when it lists PLAIN; and the security options allow them. */
static bool own_mechs_offered(struct session *s)
{
	if (s->cfg->dovecot_auth != NULL) {
		dovecot_refresh(s);
		if (!dovecot_list.plain)
			return false;
	}
	return mech_allowed(s, OWN_MECH_FLAGS);
}

const char *auth_keyword(struct session *s)
{
	static struct str keyword = STR_INIT;
	str_clear(&keyword);
	str_append_cstr(&keyword, "AUTH");
	if (own_mechs_offered(s))
		str_append_cstr(&keyword, " PLAIN LOGIN");
	if (s->cfg->dovecot_auth != NULL)
		for (size_t i = 0; i < dovecot_list.other_count; i++)
			if (mech_allowed(s, dovecot_list.other[i].flags))
				str_printf(&keyword, " %s", dovecot_list.other[i].name);
	return keyword.len > 4 ? str_cstr(&keyword) : NULL;
}

/* The upper-case name of mechanism mech (compared without case) if it
 * is one of Dovecot's relayed ones allowed in this session, else NULL. */
static const char *relayed_mech(struct session *s, const char *mech)
{
	if (s->cfg->dovecot_auth == NULL)
		return NULL;
	dovecot_refresh(s);
	for (size_t i = 0; i < dovecot_list.other_count; i++)
		if (strcasecmp(dovecot_list.other[i].name, mech) == 0)
			return mech_allowed(s, dovecot_list.other[i].flags)
			           ? dovecot_list.other[i].name
			           : NULL;
	return NULL;
}

/* Send a 334 challenge and read the client's answer (base64, or "*"). */
static int challenge(struct session *s, const char *prompt, struct str *answer)
{
	reply(s, 334, NULL, "%s", prompt);
	if (stream_flush(s->stream) != STREAM_OK)
		return -1;
	enum stream_status st = stream_read_line(s->stream, answer, sasl_line_limit(s), NULL);
	if (st == STREAM_TOO_LONG) {
		reply(s, 500, "5.5.6", "Error: authentication exchange line is too long");
		return 1;
	}
	return st == STREAM_OK ? 0 : -1;
}

/* Decode a client response; 0 ok, 1 replied with an error, -1 connection lost. */
static int response(struct session *s, const char *encoded, struct str *decoded)
{
	if (strcmp(encoded, "*") == 0) {
		reply(s, 501, "5.7.0", "Authentication aborted");
		return 1;
	}
	if (strcmp(encoded, "=") == 0)
		return 0;
	if (base64_decode(encoded, strlen(encoded), decoded) != 0) {
		reply(s, 501, "5.5.2", "Error: invalid base64 data in authentication exchange");
		return 1;
	}
	return 0;
}

static int read_response(struct session *s, const char *prompt, struct str *decoded)
{
	struct str line = STR_INIT;
	int rc = challenge(s, prompt, &line);
	if (rc == 0)
		rc = response(s, str_cstr(&line), decoded);
	str_free(&line);
	return rc;
}

void auth_setup(struct smtpd_settings *c, const struct conf *conf)
{
	const char *type = conf_get(conf, "smtpd_sasl_type");
	const char *error;
	bool dovecot;
	if (dovecot_auth_type_parse(type, &dovecot, &error) != 0)
		log_fatal("smtpd_sasl_type: \"%s\": %s", type, error);
	parse_security(conf, "smtpd_sasl_security_options", &c->sasl_policy);
	parse_security(conf, "smtpd_sasl_tls_security_options", &c->sasl_tls_policy);
	c->dovecot_auth = NULL;
	if (!dovecot)
		return;
	const char *path = conf_get(conf, "smtpd_sasl_path");
	struct dovecot_endpoint *ep = xmalloc(sizeof(*ep));
	if (dovecot_endpoint_parse(path, c->queue_dir, ep, &error) != 0)
		log_fatal("smtpd_sasl_path: \"%s\": %s", path, error);
	c->dovecot_auth = ep;
}

/* What Dovecot is told of the session: the addresses (local into
 * local, of size 64) and whether TLS protects it. */
static struct dovecot_auth_info dovecot_info(const struct session *s, char *local)
{
	char port[16];
	local[0] = '\0';
	if (session_server_address(s, local, 64, port, sizeof(port)) != 0)
		local[0] = '\0';
	return (struct dovecot_auth_info){
	    .service = "smtp",
	    .local_addr = local,
	    .remote_addr = s->client_addr,
	    .secured = s->tls != NULL,
	};
}

/* Ask Dovecot with PLAIN; its answer is the auth service's. */
static enum auth_result ask_dovecot(struct session *s, const char *user, const char *password,
                                    char **canonical_r, const char **error_r)
{
	char local[64];
	struct dovecot_auth_info info = dovecot_info(s, local);
	return dovecot_auth_plain(s->cfg->dovecot_auth, user, password, &info, AUTH_TIMEOUT_MS,
	                          canonical_r, error_r);
}

/* The outcome of an authentication with method: the reply, the log line
 * and the session's state. canonical (taken) is the authenticated name
 * for AUTH_OK; user the name to log for a failure (NULL: not known). */
static void auth_outcome(struct session *s, const char *method, enum auth_result r, char *canonical,
                         const char *user, const char *error)
{
	if (r == AUTH_OK) {
		s->auth_user = canonical;
		s->auth_method = xstrdup(method);
		s->auth_failures = 0;
		reply(s, 235, "2.7.0", "Authentication successful");
		log_info("%s: sasl_method=%s, sasl_username=%s", session_client(s), method,
		         s->auth_user);
		return;
	}
	free(canonical);
	if (r == AUTH_TEMPFAIL) {
		log_warn("%s: SASL %s authentication unavailable: %s", session_client(s), method,
		         error);
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	s->auth_failures++;
	/* Postfix's form, which log watchers (fail2ban's postfix filter) know. */
	log_warn("%s: SASL %s authentication failed: authentication failure%s%s", session_client(s),
	         method, user ? ", sasl_username=" : "", user ? user : "");
	/* The auth service (or Dovecot) already delayed its answer; the error
	 * counter adds more. */
	reply(s, 535, "5.7.8", "Error: authentication failed");
	if (session_error(s))
		return; /* ended: 421 sent */
	if (s->auth_failures >= s->cfg->auth_failure_limit) {
		reply(s, 421, "4.7.0", "%s Error: too many failed authentications",
		      s->cfg->hostname);
		s->quit = true;
	}
}

static void verify(struct session *s, const char *method, const char *user, const char *password)
{
	char *canonical = NULL;
	const char *error = "";
	enum auth_result r =
	    s->cfg->dovecot_auth
	        ? ask_dovecot(s, user, password, &canonical, &error)
	        : auth_client_verify(s->cfg->auth_socket, user, password, "smtp", s->client_addr,
	                             AUTH_TIMEOUT_MS, &canonical, &error);
	auth_outcome(s, method, r, canonical, user, error);
}

/* True if text is base64 (RFC 4648 alphabet and padding; may be empty). */
static bool is_base64(const char *text)
{
	struct str scratch = STR_INIT;
	bool ok = base64_decode(text, strlen(text), &scratch) == 0;
	if (scratch.data)
		explicit_bzero(scratch.data, scratch.len);
	str_free(&scratch);
	return ok;
}

/* Send challenge as 334 and take the client's answer: 0 with it in
 * *answer (base64, maybe empty); 1 when a reply has been sent (aborted,
 * not base64, too long); -1 when the connection is gone. */
static int relay_challenge(struct session *s, const char *challenge_b64, struct str *answer)
{
	int rc = challenge(s, challenge_b64, answer);
	if (rc != 0)
		return rc;
	if (strcmp(str_cstr(answer), "*") == 0) {
		reply(s, 501, "5.7.0", "Authentication aborted");
		return 1;
	}
	if (!is_base64(str_cstr(answer))) {
		reply(s, 501, "5.5.2", "Error: invalid base64 data in authentication exchange");
		return 1;
	}
	return 0;
}

/* A mechanism of Dovecot's, relayed: each CONT's challenge goes to the
 * client as 334, each answer back to Dovecot, until it says OK or FAIL.
 * Final data with an OK (SCRAM's server signature) goes as a last 334,
 * which the client answers with an empty line (RFC 4954 section 4). */
static void auth_relayed(struct session *s, const char *mech, const char *initial)
{
	if (initial != NULL && strcmp(initial, "=") == 0) {
		initial = ""; /* an empty initial response (RFC 4954) */
	} else if (initial != NULL && !is_base64(initial)) {
		reply(s, 501, "5.5.2", "Error: invalid base64 data in authentication exchange");
		session_error(s);
		return;
	}
	const char *error = "";
	struct dovecot_conn *c = dovecot_connect(s->cfg->dovecot_auth, AUTH_TIMEOUT_MS, &error);
	if (c == NULL) {
		auth_outcome(s, mech, AUTH_TEMPFAIL, NULL, NULL, error);
		return;
	}
	char local[64];
	struct dovecot_auth_info info = dovecot_info(s, local);
	char *out = NULL;
	int rc = 0;
	enum dovecot_step step =
	    dovecot_conn_auth(c, mech, &info, initial, AUTH_TIMEOUT_MS, &out, &error);
	while (rc == 0 && (step == DOVECOT_STEP_CONT || (step == DOVECOT_STEP_OK && out))) {
		struct str answer = STR_INIT;
		rc = relay_challenge(s, out, &answer);
		free(out);
		out = NULL;
		if (rc == 0 && step == DOVECOT_STEP_CONT) {
			step =
			    dovecot_conn_cont(c, str_cstr(&answer), AUTH_TIMEOUT_MS, &out, &error);
		} else if (rc == 0 && answer.len > 0) {
			reply(s, 501, "5.5.2", "Error: a response to the final data must be empty");
			rc = 1;
		}
		if (answer.data)
			explicit_bzero(answer.data, answer.len);
		str_free(&answer);
	}
	free(out);
	if (rc < 0)
		s->quit = true;
	else if (rc > 0)
		session_error(s);
	else if (step == DOVECOT_STEP_OK)
		auth_outcome(s, mech, AUTH_OK, xstrdup(dovecot_conn_user(c)), NULL, error);
	else if (step == DOVECOT_STEP_FAIL)
		auth_outcome(s, mech, AUTH_FAIL, NULL, dovecot_conn_user(c), error);
	else
		auth_outcome(s, mech, AUTH_TEMPFAIL, NULL, NULL, error);
	dovecot_conn_close(c);
}

static void auth_plain(struct session *s, const char *initial)
{
	struct str decoded = STR_INIT;
	int rc = initial ? response(s, initial, &decoded) : read_response(s, "", &decoded);
	if (rc != 0) {
		if (rc < 0)
			s->quit = true;
		else
			session_error(s);
		str_free(&decoded);
		return;
	}
	/* authzid NUL authcid NUL password */
	const char *p = decoded.data ? decoded.data : "";
	const char *nul1 = memchr(p, '\0', decoded.len);
	const char *nul2 =
	    nul1 ? memchr(nul1 + 1, '\0', decoded.len - (size_t)(nul1 + 1 - p)) : NULL;
	if (nul1 == NULL || nul2 == NULL ||
	    memchr(nul2 + 1, '\0', decoded.len - (size_t)(nul2 + 1 - p))) {
		reply(s, 501, "5.5.2", "Error: malformed PLAIN authentication response");
		session_error(s);
		str_free(&decoded);
		return;
	}
	const char *authzid = p, *authcid = nul1 + 1, *password = nul2 + 1;
	if (*authzid && strcmp(authzid, authcid) != 0 && s->cfg->dovecot_auth) {
		/* A master user logging in as authzid: Dovecot decides (its
		 * master passdb), from the response as the client sent it. */
		struct str encoded = STR_INIT;
		base64_encode(decoded.data, decoded.len, &encoded);
		auth_relayed(s, "PLAIN", str_cstr(&encoded));
		explicit_bzero(encoded.data, encoded.len);
		str_free(&encoded);
	} else if (*authzid && strcmp(authzid, authcid) != 0) {
		reply(s, 535, "5.7.8", "Error: authorization identity differs from user name");
		session_error(s);
	} else {
		verify(s, "PLAIN", authcid, password);
	}
	explicit_bzero(decoded.data, decoded.len);
	str_free(&decoded);
}

static void auth_login(struct session *s, const char *initial)
{
	struct str user = STR_INIT, password = STR_INIT;
	int rc = initial ? response(s, initial, &user) : read_response(s, "VXNlcm5hbWU6", &user);
	if (rc == 0)
		rc = read_response(s, "UGFzc3dvcmQ6", &password);
	if (rc == 0 && (memchr(str_cstr(&user), '\0', user.len) ||
	                memchr(str_cstr(&password), '\0', password.len))) {
		reply(s, 501, "5.5.2", "Error: malformed LOGIN authentication response");
		rc = 1;
	}
	if (rc == 0)
		verify(s, "LOGIN", str_cstr(&user), str_cstr(&password));
	else if (rc < 0)
		s->quit = true;
	else
		session_error(s);
	if (password.data)
		explicit_bzero(password.data, password.len);
	str_free(&user);
	str_free(&password);
}

void cmd_auth(struct session *s, const char *arg)
{
	if (!auth_offered(s)) {
		if (s->cfg->auth_enable && !s->tls) {
			reply(s, 538, "5.7.11",
			      "Error: authentication requires TLS; send STARTTLS first");
			session_log_reject(s, "AUTH", NULL, NULL);
		} else {
			reply(s, 503, "5.5.1", "Error: authentication not enabled");
		}
		session_error(s);
		return;
	}
	/* As Postfix, each refusal counts as an error (so does an aborted
	 * or malformed exchange, below). */
	if (!s->esmtp) {
		reply(s, 503, "5.5.1", "Error: send EHLO first");
		session_error(s);
		return;
	}
	if (s->auth_user) {
		reply(s, 503, "5.5.1", "Error: already authenticated");
		session_error(s);
		return;
	}
	if (s->in_transaction) {
		reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		session_error(s);
		return;
	}
	if (client_rate_refused(s, CLIENT_EVENT_AUTH, s->cfg->auth_rate_limit))
		return;
	char *mech = xstrdup(arg);
	char *initial = strchr(mech, ' ');
	if (initial) {
		*initial++ = '\0';
		while (*initial == ' ')
			initial++;
		if (*initial == '\0')
			initial = NULL;
	}
	bool own = strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0;
	if (own && !mech_allowed(s, OWN_MECH_FLAGS)) {
		reply(s, 504, "5.5.4", "Error: unsupported authentication mechanism");
		session_error(s);
	} else if (strcasecmp(mech, "PLAIN") == 0) {
		auth_plain(s, initial);
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		auth_login(s, initial);
	} else if (*mech != '\0' && relayed_mech(s, mech) != NULL) {
		auth_relayed(s, relayed_mech(s, mech), initial);
	} else if (*mech == '\0') {
		reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		session_error(s);
	} else {
		reply(s, 504, "5.5.4", "Error: unsupported authentication mechanism");
		session_error(s);
	}
	free(mech);
}
