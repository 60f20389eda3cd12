/*
 * Tests of the Dovecot auth protocol client: the handshake and answer
 * parsers line by line, smtpd_sasl_path and smtpd_sasl_type, and whole
 * checks against a scripted fake Dovecot (a child process on a UNIX
 * socket) for each answer and each way an answer can fail to come, which
 * must be a temporary failure and never a "no" or a "yes".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/dovecot_auth.h"
#include "util/base64.h"
#include "util/sock.h"
#include "util/str.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-dovecot-XXXXXX";
static char socket_path[256];

/* Feed text (lines separated by LF) to a fresh handshake; the last result. */
static int handshake(const char *text, struct dovecot_handshake *h, const char **error)
{
	memset(h, 0, sizeof(*h));
	int rc = 0;
	const char *p = text;
	while (*p) {
		const char *lf = strchr(p, '\n');
		size_t len = lf ? (size_t)(lf - p) : strlen(p);
		rc = dovecot_handshake_line(h, p, len, error);
		if (rc < 0)
			return rc;
		p += len + (lf ? 1 : 0);
	}
	return rc;
}

TEST(handshake_of_dovecot_2_3)
{
	struct dovecot_handshake h;
	const char *error = NULL;
	CHECK(handshake("VERSION\t1\t2\n"
	                "MECH\tPLAIN\tplaintext\n"
	                "MECH\tLOGIN\tplaintext\n"
	                "SPID\t4242\n"
	                "CUID\t7\n"
	                "COOKIE\t0123456789abcdef0123456789abcdef\n"
	                "DONE",
	                &h, &error) == 1);
	CHECK(h.version_seen && h.minor == 2 && h.plain_offered && h.done);
	CHECK(h.mech_count == 2);
	CHECK_STR(h.mechs[0].name, "PLAIN");
	CHECK(h.mechs[0].flags == DOVECOT_MECH_PLAINTEXT);
	CHECK_STR(h.mechs[1].name, "LOGIN");
	/* The mechanisms kept: upper case, once each, with their flags; not
	 * private ones, nor names that are not SASL names. */
	CHECK(
	    handshake("VERSION\t1\t2\nMECH\tplain\tplaintext\nMECH\tCRAM-MD5\tdictionary\tactive\n"
	              "MECH\tANONYMOUS\tanonymous\nMECH\tSCRAM-SHA-256\tmutual-auth\tfuture\n"
	              "MECH\tsecret\tprivate\nMECH\tCRAM-MD5\nMECH\tBAD NAME\n"
	              "MECH\tTOO-LONG-A-NAME-FOR-SASL\nMECH\tX_OK-2\tforward-secrecy\nDONE",
	              &h, &error) == 1);
	CHECK(h.mech_count == 5);
	const char *names[] = {"PLAIN", "CRAM-MD5", "ANONYMOUS", "SCRAM-SHA-256", "X_OK-2"};
	unsigned flags[] = {DOVECOT_MECH_PLAINTEXT, DOVECOT_MECH_DICTIONARY | DOVECOT_MECH_ACTIVE,
	                    DOVECOT_MECH_ANONYMOUS, DOVECOT_MECH_MUTUAL_AUTH,
	                    DOVECOT_MECH_FORWARD_SECRECY};
	for (size_t i = 0; i < 5 && i < h.mech_count; i++) {
		CHECK_STR(h.mechs[i].name, names[i]);
		CHECK(h.mechs[i].flags == flags[i]);
	}
	CHECK(dovecot_mech_find(&h, "cram-md5") == &h.mechs[1]);
	CHECK(dovecot_mech_find(&h, "X_OK-2") != NULL);
	CHECK(dovecot_mech_find(&h, "CRAM") == NULL && dovecot_mech_find(&h, "SECRET") == NULL &&
	      dovecot_mech_find(&h, "") == NULL);
	/* Past DOVECOT_MECHS_MAX mechanisms are left out, the handshake goes on. */
	char many[4096] = "VERSION\t1\t2\n";
	for (int i = 0; i < DOVECOT_MECHS_MAX + 5; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "MECH\tMECHANISM-%02d\n",
		         i);
	strcat(many, "MECH\tPLAIN\nDONE");
	CHECK(handshake(many, &h, &error) == 1);
	CHECK(h.plain_offered && h.mech_count == DOVECOT_MECHS_MAX &&
	      dovecot_mech_find(&h, "MECHANISM-00") != NULL &&
	      dovecot_mech_find(&h, "PLAIN") == NULL);
	/* A later minor version, unknown lines, a lower-case mechanism name. */
	CHECK(handshake("VERSION\t1\t9\nFEATURE\tx\nMECH\tplain\nDONE", &h, &error) == 1);
	CHECK(h.minor == 9 && h.plain_offered);
	/* No PLAIN: complete, but not offered. */
	CHECK(handshake("VERSION\t1\t2\nMECH\tLOGIN\tplaintext\nMECH\tPLAINX\nMECH\tCRAM-MD5\nDONE",
	                &h, &error) == 1);
	CHECK(h.done && !h.plain_offered);
	/* Not finished yet. */
	CHECK(handshake("VERSION\t1\t0\nMECH\tPLAIN", &h, &error) == 0);
	CHECK(!h.done && h.plain_offered);
}

TEST(handshake_errors)
{
	struct dovecot_handshake h;
	const char *error = NULL;
	CHECK(handshake("MECH\tPLAIN\nVERSION\t1\t2\nDONE", &h, &error) == -1);
	CHECK(strstr(error, "VERSION") != NULL);
	CHECK(handshake("\xff\xfe garbage", &h, &error) == -1);
	CHECK(handshake("", &h, &error) == 0); /* no line at all yet */
	static const char *const bad[] = {
	    "VERSION\t2\t0",
	    "VERSION\t1",
	    "VERSION\t1\tx",
	    "VERSION\t\t1",
	    "VERSION\t-1\t0",
	    "VERSION 1 2",
	    "version\t1\t2",
	    "VERSION\t01x\t2",
	    "VERSION\t1\t2\nVERSION\t1\t2",
	    "VERSION\t1\t2\nMECH",
	    "VERSION\t1\t2\nMECH\t\tplaintext",
	    "VERSION\t1\t2\nDONE\nMECH\tPLAIN",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		int rc = handshake(bad[i], &h, &error);
		CHECK(rc == -1 && error != NULL);
		if (rc != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
	}
	/* A NUL byte inside a line. */
	memset(&h, 0, sizeof(h));
	CHECK(dovecot_handshake_line(&h, "VERSION\t1\0\t2", 12, &error) == -1);
	CHECK(dovecot_handshake_line(&h, "VERSION\t1\t2", 11, &error) == 0);
	CHECK(dovecot_handshake_line(&h, "MECH\tPL\0AIN", 11, &error) == -1);
}

static int reply(const char *line, struct dovecot_reply *r, const char **error)
{
	return dovecot_reply_parse(line, strlen(line), r, error);
}

TEST(ok_answers)
{
	struct dovecot_reply r;
	const char *error = NULL;
	CHECK(reply("OK\t1\tuser=alice@example.org", &r, &error) == 0);
	CHECK(r.kind == DOVECOT_REPLY_OK && r.id == 1);
	CHECK_STR(r.user, "alice@example.org");
	dovecot_reply_free(&r);
	/* Extra fields, the first user= wins, an escape for a plain character. */
	CHECK(reply("OK\t4294967295\toriginal_user=Alice\tuser=al\001ice\tuser=bob\tnologin", &r,
	            &error) == 0);
	CHECK(r.id == 4294967295u);
	CHECK_STR(r.user, "alice");
	dovecot_reply_free(&r);
	/* 8-bit names are names. */
	CHECK(reply("OK\t2\tuser=j\xc3\xbcrgen", &r, &error) == 0);
	CHECK_STR(r.user, "j\xc3\xbcrgen");
	dovecot_reply_free(&r);
	/* Unusable user names: an OK without one is no answer. */
	static const char *const bad[] = {
	    "OK\t1",
	    "OK\t1\tuser=",
	    "OK\t1\tuser",
	    "OK\t1\tusername=alice",
	    "OK\t1\tuser=a\001tb",    /* a TAB */
	    "OK\t1\tuser=a\001nb",    /* a LF */
	    "OK\t1\tuser=a\0010b",    /* a NUL */
	    "OK\t1\tuser=a\0011b",    /* \001 itself */
	    "OK\t1\tuser=a\rb",       /* a raw CR */
	    "OK\t1\tuser=alice\001",  /* an escape cut off */
	    "OK\t1\tuser=a\x7f",      /* DEL */
	    "OK\t0\tuser=alice",      /* ids start at 1 */
	    "OK\t4294967296\tuser=a", /* too big */
	    "OK\t+1\tuser=a",
	    "OK\t\tuser=a",
	    "OK\t1x\tuser=a",
	    "OK",
	    "ok\t1\tuser=a",
	    "OK 1 user=a",
	    "",
	    "NOTFOUND\t1",
	    "\xff\xfe\xfd",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		int rc = reply(bad[i], &r, &error);
		CHECK(rc == -1 && error != NULL && r.user == NULL);
		if (rc != -1) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			dovecot_reply_free(&r);
		}
	}
	char long_name[600 + 16];
	snprintf(long_name, sizeof(long_name), "OK\t1\tuser=%0600d", 0);
	CHECK(reply(long_name, &r, &error) == -1);
	CHECK(dovecot_reply_parse("OK\t1\tuser=a\0b", 13, &r, &error) == -1);
}

TEST(fail_and_cont_answers)
{
	struct dovecot_reply r;
	const char *error = NULL;
	CHECK(reply("FAIL\t1", &r, &error) == 0);
	CHECK(r.kind == DOVECOT_REPLY_FAIL && r.id == 1 && !r.temp && r.reason == NULL &&
	      r.user == NULL);
	dovecot_reply_free(&r);
	/* Dovecot 2.3's form; its user= is kept for the log. */
	CHECK(reply("FAIL\t3\tuser=alice@example.org\treason=Password\001tmismatch\tnodelay", &r,
	            &error) == 0);
	CHECK(r.id == 3 && !r.temp);
	CHECK_STR(r.user, "alice@example.org");
	CHECK_STR(r.reason, "Password?mismatch");
	dovecot_reply_free(&r);
	/* A FAIL's unusable user= is dropped, the FAIL stays. */
	CHECK(reply("FAIL\t3\tuser=\tuser=a\001", &r, &error) == 0);
	CHECK(r.user == NULL);
	dovecot_reply_free(&r);
	CHECK(reply("FAIL\t1\tuser=alice\ttemp", &r, &error) == 0);
	CHECK(r.temp);
	dovecot_reply_free(&r);
	CHECK(reply("FAIL\t1\tcode=temp_fail\treason=LDAP down", &r, &error) == 0);
	CHECK(r.temp);
	CHECK_STR(r.reason, "LDAP down");
	dovecot_reply_free(&r);
	static const char *const permanent[] = {"FAIL\t1\tcode=authz_fail",
	                                        "FAIL\t1\tcode=user_disabled",
	                                        "FAIL\t1\ttemp=no",
	                                        "FAIL\t1\tcode=temp_failx",
	                                        "FAIL\t1\tcode=",
	                                        "FAIL\t1\treason=temp",
	                                        "FAIL\t1\t\t\t"};
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++) {
		CHECK(reply(permanent[i], &r, &error) == 0);
		CHECK(r.kind == DOVECOT_REPLY_FAIL && !r.temp);
		dovecot_reply_free(&r);
	}
	/* A reason is kept short and free of control characters. */
	char line[1200];
	snprintf(line, sizeof(line), "FAIL\t1\treason=\r\x1b%01000d", 0);
	CHECK(reply(line, &r, &error) == 0);
	CHECK(r.reason != NULL && strlen(r.reason) == 200 && r.reason[0] == '?' &&
	      r.reason[1] == '?');
	dovecot_reply_free(&r);
	CHECK(reply("FAIL\t1\treason=cut\001", &r, &error) == 0);
	CHECK_STR(r.reason, "");
	dovecot_reply_free(&r);
	CHECK(reply("FAIL", &r, &error) == -1);
	CHECK(reply("FAIL\tx", &r, &error) == -1);

	CHECK(reply("CONT\t1\tVXNlcm5hbWU6", &r, &error) == 0);
	CHECK(r.kind == DOVECOT_REPLY_CONT && r.id == 1);
	CHECK_STR(r.challenge, "VXNlcm5hbWU6");
	dovecot_reply_free(&r);
	CHECK(reply("CONT\t1", &r, &error) == 0);
	CHECK_STR(r.challenge, "");
	dovecot_reply_free(&r);
	/* A challenge goes to the client after "334 ": base64 only. */
	CHECK(reply("CONT\t1\tabc def", &r, &error) == -1);
	CHECK(r.challenge == NULL);
	CHECK(reply("CONT\t1\tab\r\n250 ok", &r, &error) == -1);
	CHECK(reply("CONT\t0\t", &r, &error) == -1);
}

TEST(endpoints)
{
	struct dovecot_endpoint ep;
	const char *error = NULL;
	CHECK(dovecot_endpoint_parse("private/auth", "/var/spool/postern", &ep, &error) == 0);
	CHECK_STR(ep.path, "/var/spool/postern/private/auth");
	CHECK(ep.host == NULL);
	dovecot_endpoint_free(&ep);
	CHECK(dovecot_endpoint_parse("/run/dovecot/auth-client", "/q", &ep, &error) == 0);
	CHECK_STR(ep.path, "/run/dovecot/auth-client");
	dovecot_endpoint_free(&ep);
	CHECK(dovecot_endpoint_parse("unix:private/dovecot-auth", "/q", &ep, &error) == 0);
	CHECK_STR(ep.path, "/q/private/dovecot-auth");
	dovecot_endpoint_free(&ep);
	CHECK(dovecot_endpoint_parse("inet:127.0.0.1:12345", "/q", &ep, &error) == 0);
	CHECK(ep.path == NULL);
	CHECK_STR(ep.host, "127.0.0.1");
	CHECK_STR(ep.port, "12345");
	dovecot_endpoint_free(&ep);
	CHECK(dovecot_endpoint_parse("inet:[::1]:12345", "/q", &ep, &error) == 0);
	CHECK_STR(ep.host, "::1");
	dovecot_endpoint_free(&ep);
	static const char *const bad[] = {
	    "", "unix:", "inet:", "inet:12345", "inet:*:12345", "inet:host:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK(dovecot_endpoint_parse(bad[i], "/q", &ep, &error) == -1 && error != NULL);
		CHECK(ep.path == NULL && ep.host == NULL && ep.port == NULL);
	}
}

TEST(types)
{
	bool dovecot = true;
	const char *error = NULL;
	CHECK(dovecot_auth_type_parse("postern", &dovecot, &error) == 0 && !dovecot);
	CHECK(dovecot_auth_type_parse("dovecot", &dovecot, &error) == 0 && dovecot);
	CHECK(dovecot_auth_type_parse("cyrus", &dovecot, &error) == -1);
	CHECK(strstr(error, "Cyrus") != NULL);
	CHECK(dovecot_auth_type_parse("Dovecot", &dovecot, &error) == -1);
	CHECK(dovecot_auth_type_parse("", &dovecot, &error) == -1);
}

/* The fake Dovecot: what it does with each connection, in order. */
enum fake_action {
	FAKE_OK,
	FAKE_FAIL,
	FAKE_FAIL_TEMP,
	FAKE_CONT,
	FAKE_NO_PLAIN,
	FAKE_GARBAGE,
	FAKE_VERSION_2,
	FAKE_CLOSE_AFTER_HANDSHAKE,
	FAKE_OTHER_ID,
	FAKE_SILENT,
	FAKE_SLOW_HANDSHAKE,
};

static const enum fake_action script[] = {
    FAKE_OK,       FAKE_FAIL,    FAKE_FAIL_TEMP,      FAKE_CONT,
    FAKE_NO_PLAIN, FAKE_GARBAGE, FAKE_VERSION_2,      FAKE_CLOSE_AFTER_HANDSHAKE,
    FAKE_OTHER_ID, FAKE_SILENT,  FAKE_SLOW_HANDSHAKE,
};
#define SCRIPT_LEN (sizeof(script) / sizeof(script[0]))

static const char handshake_text[] = "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\t"
                                     "plaintext\nSPID\t1\nCUID\t1\nCOOKIE\tabcdef\nDONE\n";

/* Read one line (without LF) from fd into buf; false on EOF or error. */
static bool fake_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	while (n + 1 < size) {
		char c;
		if (read(fd, &c, 1) != 1)
			return false;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return true;
}

static void fake_write(int fd, const char *text)
{
	(void)!write(fd, text, strlen(text));
}

/* The AUTH line must carry exactly what the client was given. */
static bool request_ok(const char *line)
{
	struct str plain = STR_INIT;
	const char *prefix = "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=192.0.2.25\t"
	                     "rip=198.51.100.7\tsecured\tresp=";
	bool ok = strncmp(line, prefix, strlen(prefix)) == 0;
	if (ok) {
		const char *resp = line + strlen(prefix);
		ok = base64_decode(resp, strlen(resp), &plain) == 0 && plain.len == 28 &&
		     memcmp(plain.data, "\0Alice@Example.org\0pass word", 28) == 0;
	}
	str_free(&plain);
	return ok;
}

/* Exit status 0 if every client said hello properly and every request
 * was well-formed. */
static void fake_dovecot(int listen_fd)
{
	int bad = 0;
	char line[4096];
	for (size_t i = 0; i < SCRIPT_LEN; i++) {
		int fd = sock_accept(listen_fd);
		if (fd < 0)
			_exit(2);
		sock_set_nonblock(fd, false);
		enum fake_action action = script[i];
		if (!fake_read_line(fd, line, sizeof(line)) || strcmp(line, "VERSION\t1\t2") != 0)
			bad++;
		if (!fake_read_line(fd, line, sizeof(line)) || strncmp(line, "CPID\t", 5) != 0 ||
		    atol(line + 5) != (long)getppid())
			bad++;
		switch (action) {
		case FAKE_NO_PLAIN:
			fake_write(fd, "VERSION\t1\t2\nMECH\tLOGIN\tplaintext\nDONE\n");
			break;
		case FAKE_GARBAGE:
			fake_write(fd, "* OK IMAP4rev1 ready\r\n");
			break;
		case FAKE_VERSION_2:
			fake_write(fd, "VERSION\t2\t0\nMECH\tPLAIN\nDONE\n");
			break;
		case FAKE_SLOW_HANDSHAKE:
			/* Each line in time for a per-read timeout, never all of it. */
			for (int k = 0; k < 8; k++) {
				fake_write(fd, k == 0 ? "VERSION\t1\t2\n" : "SPID\t1\n");
				usleep(100000);
			}
			break;
		default:
			fake_write(fd, handshake_text);
			break;
		}
		bool auth_expected = action != FAKE_NO_PLAIN && action != FAKE_GARBAGE &&
		                     action != FAKE_VERSION_2 && action != FAKE_SLOW_HANDSHAKE;
		if (auth_expected && (!fake_read_line(fd, line, sizeof(line)) || !request_ok(line)))
			bad++;
		switch (action) {
		case FAKE_OK:
			fake_write(
			    fd, "OK\t1\tuser=alice@example.org\toriginal_user=Alice@Example.org\n");
			break;
		case FAKE_FAIL:
			fake_write(fd, "FAIL\t1\tuser=alice@example.org\n");
			break;
		case FAKE_FAIL_TEMP:
			fake_write(
			    fd,
			    "FAIL\t1\tuser=alice@example.org\tcode=temp_fail\treason=db down\n");
			break;
		case FAKE_CONT:
			fake_write(fd, "CONT\t1\t\n");
			break;
		case FAKE_OTHER_ID:
			fake_write(fd, "OK\t2\tuser=mallory\n");
			break;
		case FAKE_SILENT: {
			char c;
			while (read(fd, &c, 1) > 0) /* until the client gives up */
				;
			break;
		}
		default:
			break;
		}
		close(fd);
	}
	_exit(bad ? 1 : 0);
}

static enum auth_result ask(const struct dovecot_endpoint *ep, char **user, const char **error,
                            int timeout_ms)
{
	static const struct dovecot_auth_info info = {
	    .service = "smtp",
	    .local_addr = "192.0.2.25",
	    .remote_addr = "198.51.100.7",
	    .secured = true,
	};
	return dovecot_auth_plain(ep, "Alice@Example.org", "pass word", &info, timeout_ms, user,
	                          error);
}

TEST(scripted_dovecot)
{
	const char *error = NULL;
	int listen_fd = sock_listen_unix(socket_path, 0600, 5, &error);
	CHECK(listen_fd >= 0);
	if (listen_fd < 0)
		return;
	sock_set_nonblock(listen_fd, false);
	pid_t pid = fork();
	if (pid == 0)
		fake_dovecot(listen_fd);
	close(listen_fd);
	struct dovecot_endpoint ep;
	CHECK(dovecot_endpoint_parse(socket_path, "/nonexistent", &ep, &error) == 0);

	char *user = NULL;
	CHECK(ask(&ep, &user, &error, 5000) == AUTH_OK);
	CHECK_STR(user, "alice@example.org");
	free(user);

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_FAIL);
	CHECK(user == NULL);
	CHECK_STR(error, "authentication failed");

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "temporary failure: db down") != NULL);

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "CONT") != NULL);

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "does not offer PLAIN") != NULL);

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "did not begin with VERSION") != NULL);

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "version") != NULL);

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "connection closed") != NULL);

	CHECK(ask(&ep, &user, &error, 5000) == AUTH_TEMPFAIL);
	CHECK(user == NULL);
	CHECK(strstr(error, "request 2") != NULL);

	CHECK(ask(&ep, &user, &error, 300) == AUTH_TEMPFAIL); /* no answer in time */
	CHECK(strstr(error, "timed out") != NULL);

	/* The whole exchange is bounded, not each read. */
	CHECK(ask(&ep, &user, &error, 350) == AUTH_TEMPFAIL);
	CHECK(strstr(error, "timed out") != NULL);

	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(socket_path);

	/* Nobody listening. */
	CHECK(ask(&ep, &user, &error, 1000) == AUTH_TEMPFAIL);
	CHECK(strstr(error, socket_path) != NULL);
	dovecot_endpoint_free(&ep);
}

TEST(oversized_request_is_a_failure)
{
	struct dovecot_endpoint ep;
	const char *error = NULL;
	char *user = NULL;
	CHECK(dovecot_endpoint_parse(socket_path, "/nonexistent", &ep, &error) == 0);
	char *big = calloc(DOVECOT_AUTH_MAX_REQUEST, 1);
	memset(big, 'p', DOVECOT_AUTH_MAX_REQUEST - 1);
	struct dovecot_auth_info info = {.service = "smtp"};
	CHECK(dovecot_auth_plain(&ep, "a@example.org", big, &info, 1000, &user, &error) ==
	      AUTH_FAIL);
	CHECK_STR(error, "user name or password too long");
	free(big);
	dovecot_endpoint_free(&ep);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(socket_path, sizeof(socket_path), "%s/auth", tmpdir);
	RUN(handshake_of_dovecot_2_3);
	RUN(handshake_errors);
	RUN(ok_answers);
	RUN(fail_and_cont_answers);
	RUN(endpoints);
	RUN(types);
	RUN(scripted_dovecot);
	RUN(oversized_request_is_a_failure);
	rmdir(tmpdir);
	return TESTING_DONE();
}
