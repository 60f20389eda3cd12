/* Unit tests for the policy delegation protocol: endpoints, requests,
 * replies, and a client against a small server in a child process. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "policy/policy_client.h"
#include "policy/policy_proto.h"
#include "util/event.h"
#include "util/sock.h"
#include "util/testing.h"

TEST(endpoints)
{
	struct policy_endpoint ep;
	const char *error = NULL;
	CHECK(policy_endpoint_parse("inet:127.0.0.1:10023", "/q", &ep, &error) == 0);
	CHECK(!ep.is_unix);
	CHECK_STR(ep.host, "127.0.0.1");
	CHECK_STR(ep.port, "10023");
	policy_endpoint_free(&ep);
	CHECK(policy_endpoint_parse("inet:[::1]:12525", "/q", &ep, &error) == 0);
	CHECK_STR(ep.host, "::1");
	CHECK_STR(ep.port, "12525");
	policy_endpoint_free(&ep);
	CHECK(policy_endpoint_parse("inet:localhost:policy", "/q", &ep, &error) == 0);
	CHECK_STR(ep.host, "localhost");
	policy_endpoint_free(&ep);
	CHECK(policy_endpoint_parse("unix:/run/policyd.sock", "/q", &ep, &error) == 0);
	CHECK(ep.is_unix);
	CHECK_STR(ep.path, "/run/policyd.sock");
	policy_endpoint_free(&ep);
	/* Relative to queue_directory, as Postfix's unix:private/policy. */
	CHECK(policy_endpoint_parse("unix:private/policy", "/var/spool/postern", &ep, &error) == 0);
	CHECK_STR(ep.path, "/var/spool/postern/private/policy");
	policy_endpoint_free(&ep);
	const char *bad[] = {"127.0.0.1:10023", "inet:", "inet:host", "inet::10023",
	                     "inet:host:",      "unix:", "tcp:a:1",   "inet:[::1:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK(policy_endpoint_parse(bad[i], "/q", &ep, &error) == -1);
		CHECK(error != NULL);
	}
}

TEST(requests)
{
	struct str req = STR_INIT;
	policy_request_add(&req, "request", "smtpd_access_policy");
	policy_request_add(&req, "helo_name", "evil\r\nrecipient=x\n");
	policy_request_add(&req, "sasl_username", NULL);
	policy_request_end(&req);
	CHECK_STR(str_cstr(&req), "request=smtpd_access_policy\n"
	                          "helo_name=evil??recipient=x?\n"
	                          "sasl_username=\n"
	                          "\n");
	str_free(&req);
}

static int parse(const char *text, struct str *action, size_t *used, const char **error)
{
	return policy_reply_parse(text, strlen(text), action, used, error);
}

TEST(replies)
{
	struct str action = STR_INIT;
	size_t used = 0;
	const char *error = NULL;
	CHECK(parse("action=DUNNO\n\n", &action, &used, &error) == 1);
	CHECK_STR(str_cstr(&action), "DUNNO");
	CHECK(used == 14);
	/* CRLF, other attributes, and what follows the reply. */
	const char *text = "foo=bar\r\naction=DEFER_IF_PERMIT 4.2.0 Greylisted\r\nx=\r\n\r\nnext";
	CHECK(parse(text, &action, &used, &error) == 1);
	CHECK_STR(str_cstr(&action), "DEFER_IF_PERMIT 4.2.0 Greylisted");
	CHECK(used == strlen(text) - 4);
	/* The first action counts. */
	CHECK(parse("action=OK\naction=REJECT\n\n", &action, &used, &error) == 1);
	CHECK_STR(str_cstr(&action), "OK");
	CHECK(parse("action=\n\n", &action, &used, &error) == 1);
	CHECK_STR(str_cstr(&action), "");
	/* Every prefix of a reply is incomplete. */
	const char *whole = "action=PREPEND X-Greylist: delayed\n\n";
	for (size_t n = 0; n < strlen(whole); n++)
		CHECK(policy_reply_parse(whole, n, &action, &used, &error) == 0);
	/* Garbage. */
	const char *bad[] = {
	    "\n",        "foo=bar\n\n", "hello world\n\n", "=DUNNO\n\n", "action=OK\nnoequals\n\n",
	    "<html>\n\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK(parse(bad[i], &action, &used, &error) == -1);
		CHECK(error != NULL);
	}
	CHECK(policy_reply_parse("action=O\0K\n\n", 12, &action, &used, &error) == -1);
	CHECK(policy_reply_parse("action=O\0K", 10, &action, &used, &error) == -1);
	str_free(&action);
}

TEST(reply_bounds)
{
	struct str action = STR_INIT, text = STR_INIT;
	size_t used;
	const char *error = NULL;
	/* The longest line allowed, with CRLF. */
	str_append_cstr(&text, "action=");
	while (text.len < POLICY_REPLY_LINE_MAX)
		str_append_char(&text, 'x');
	str_append_cstr(&text, "\r\n\r\n");
	CHECK(policy_reply_parse(text.data, text.len, &action, &used, &error) == 1);
	CHECK(action.len == POLICY_REPLY_LINE_MAX - 7);
	/* One byte more. */
	str_clear(&text);
	str_append_cstr(&text, "action=");
	while (text.len < POLICY_REPLY_LINE_MAX + 1)
		str_append_char(&text, 'x');
	CHECK(policy_reply_parse(text.data, text.len, &action, &used, &error) == 0);
	str_append_cstr(&text, "\n\n");
	CHECK(policy_reply_parse(text.data, text.len, &action, &used, &error) == -1);
	/* A line that never ends is refused once it is too long. */
	str_clear(&text);
	while (text.len < POLICY_REPLY_LINE_MAX + 2)
		str_append_char(&text, 'y');
	CHECK(policy_reply_parse(text.data, text.len, &action, &used, &error) == -1);
	/* Too many lines. */
	str_clear(&text);
	for (int i = 0; i < POLICY_REPLY_LINES_MAX; i++)
		str_append_cstr(&text, "a=b\n");
	str_append_cstr(&text, "action=OK\n\n");
	CHECK(policy_reply_parse(text.data, text.len, &action, &used, &error) == -1);
	str_free(&text);
	str_free(&action);
}

/* A policy server in a child: for each request on a connection, the next
 * of replies ("" closes the connection, "-" never answers). */
static pid_t serve(int listen_fd, const char *const *replies)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Never outlive the test (a failed check ends it early). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	size_t next = 0;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			_exit(1);
		char buf[8192];
		size_t have = 0;
		for (;;) {
			ssize_t n = read(fd, buf + have, sizeof(buf) - have - 1);
			if (n <= 0)
				break;
			have += (size_t)n;
			buf[have] = '\0';
			char *end = strstr(buf, "\n\n");
			if (end == NULL)
				continue;
			have = 0;
			const char *r = replies[next] ? replies[next++] : "action=DUNNO\n\n";
			if (strcmp(r, "-") == 0) {
				pause();
				_exit(0);
			}
			if (*r == '\0')
				break;
			if (write(fd, r, strlen(r)) < 0)
				break;
		}
		close(fd);
	}
}

static int ask(struct policy_client *c, const struct policy_limits *limits, struct str *action,
               const char **error)
{
	struct str req = STR_INIT;
	policy_request_add(&req, "request", "smtpd_access_policy");
	policy_request_end(&req);
	int rc = policy_client_ask(c, &req, limits, action, error);
	str_free(&req);
	return rc;
}

TEST(client)
{
	char path[] = "/tmp/postern-policy-test.XXXXXX";
	CHECK(mkdtemp(path) != NULL);
	char *sock = NULL;
	CHECK(asprintf(&sock, "%s/policy", path) > 0);
	const char *error = NULL;
	int listen_fd = sock_listen_unix(sock, 0600, 16, &error);
	CHECK(listen_fd >= 0);
	static const char *const replies[] = {
	    "action=DUNNO\n\n",
	    "action=REJECT no\n\n",
	    "",                           /* closes the connection */
	    "action=OK\n\naction=OK\n\n", /* more than asked for */
	    "garbage\n\n",
	    "action=HOLD\n\n",
	    "-",
	    NULL};
	pid_t pid = serve(listen_fd, replies);
	struct policy_endpoint ep;
	CHECK(policy_endpoint_parse("unix:policy", path, &ep, &error) == 0);
	struct policy_client *c = policy_client_new(&ep);
	policy_endpoint_free(&ep);
	struct policy_limits limits = {
	    .timeout_ms = 500, .max_idle_ms = 10000, .max_ttl_ms = 10000};
	struct str action = STR_INIT;
	CHECK(ask(c, &limits, &action, &error) == 0);
	CHECK_STR(str_cstr(&action), "DUNNO");
	CHECK(ask(c, &limits, &action, &error) == 0);
	CHECK_STR(str_cstr(&action), "REJECT no");
	/* The server closes the connection instead of answering. */
	CHECK(ask(c, &limits, &action, &error) == -1);
	CHECK(error != NULL);
	/* A new connection; two replies to one request: the first counts. */
	CHECK(ask(c, &limits, &action, &error) == 0);
	CHECK_STR(str_cstr(&action), "OK");
	CHECK(ask(c, &limits, &action, &error) == -1);
	CHECK(strstr(error, "malformed") != NULL);
	CHECK(ask(c, &limits, &action, &error) == 0);
	CHECK_STR(str_cstr(&action), "HOLD");
	/* A server that never answers costs the timeout. */
	int64_t start = event_now_ms();
	CHECK(ask(c, &limits, &action, &error) == -1);
	CHECK(strstr(error, "timeout") != NULL);
	int64_t took = event_now_ms() - start;
	CHECK(took >= 450 && took < 3000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(listen_fd);
	/* Nobody listens any more. */
	CHECK(ask(c, &limits, &action, &error) == -1);
	CHECK(error != NULL);
	policy_client_free(c);
	str_free(&action);
	unlink(sock);
	rmdir(path);
	free(sock);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(endpoints);
	RUN(requests);
	RUN(replies);
	RUN(reply_bounds);
	RUN(client);
	return TESTING_DONE();
}
