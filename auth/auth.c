/*
 * auth: the only program that reads password hashes. smtpd, pop3d and
 * imapd ask it over its UNIX socket whether a user name and password are
 * valid (protocol in auth/auth_proto.h); it looks the user up in
 * $config_directory/users.lmdb (built by `mailctl user`, noticed when
 * rebuilt) and verifies the password with crypt(3).
 *
 * One connection at a time per process (master starts more as needed),
 * several requests per connection. A failed check is answered only after
 * the failure delay (auth_failure_delay, default 1 s), and an unknown or
 * locked user is verified against a dummy hash so that it takes as long as
 * a wrong password. Passwords are never logged. Bytes that are not a valid
 * request record end the connection; the process goes on serving.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_proto.h"
#include "auth/password.h"
#include "auth/userdb.h"
#include "conf/params.h"
#include "server/server.h"
#include "table/table.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/str.h"

/* How long a connection may sit idle between requests. */
#define AUTH_IDLE_TIMEOUT_MS 30000
#define AUTH_WRITE_TIMEOUT_MS 10000
#define AUTH_DEFAULT_FAILURE_DELAY_MS 1000
/* How much of a client-supplied name goes into a log line. */
#define AUTH_LOG_NAME_MAX 100

struct auth_service {
	char *users_path;
	struct table *users; /* NULL until it could be opened */
	char *dummy_hash;
	long long failure_delay_ms;
};

static struct auth_service service;

/* The outcome of one request. */
struct verdict {
	const char *reply;  /* AUTH_REPLY_* */
	const char *reason; /* for the client (fail, tempfail) */
	const char *why;    /* for the log only */
	char *canonical;    /* on ok */
};

/* Client-supplied text made safe for one log line. */
static void log_safe(struct str *out, const char *text)
{
	str_clear(out);
	size_t i = 0;
	for (; i < AUTH_LOG_NAME_MAX && text[i] != '\0'; i++) {
		unsigned char c = (unsigned char)text[i];
		str_append_char(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	if (text[i] != '\0')
		str_append_cstr(out, "...");
}

static void sleep_ms(long long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The users table, opened on first use (and again after a failure). */
static struct table *users_table(const char **error_r)
{
	if (service.users == NULL) {
		char *spec = xasprintf("lmdb:%s", service.users_path);
		service.users = table_open(spec, error_r);
		free(spec);
	}
	return service.users;
}

static bool known_service(const char *name)
{
	return strcmp(name, "smtp") == 0 || strcmp(name, "pop3") == 0 || strcmp(name, "imap") == 0;
}

/* Decide on a well-formed "auth" request. */
static void check_password(const char *user, const char *password, struct verdict *v)
{
	char *canonical = NULL;
	const char *error = NULL;
	struct str hash = STR_INIT;
	int found = 0;
	if (userdb_normalize_address(user, &canonical, &error) == 0) {
		struct table *users = users_table(&error);
		if (users == NULL) {
			log_warn("user database %s: %s", service.users_path, error);
			v->reply = AUTH_REPLY_TEMPFAIL;
			v->reason = "user database unavailable";
			v->why = "user database unavailable";
			free(canonical);
			return;
		}
		found = userdb_lookup_hash(users, canonical, &hash, &error);
		if (found < 0) {
			log_warn("user database look-up: %s", error);
			v->reply = AUTH_REPLY_TEMPFAIL;
			v->reason = "user database unavailable";
			v->why = "look-up error";
			free(canonical);
			str_free(&hash);
			return;
		}
	}
	bool usable = found == 1 && password_hash_usable(str_cstr(&hash));
	/* The same work whether or not the user exists. */
	bool match = password_verify(password, usable ? str_cstr(&hash) : service.dummy_hash);
	if (usable && match) {
		v->reply = AUTH_REPLY_OK;
		v->canonical = canonical;
		canonical = NULL;
	} else {
		v->reply = AUTH_REPLY_FAIL;
		v->reason = "authentication failed";
		v->why = canonical == NULL ? "invalid user name"
		         : found == 0      ? "unknown user"
		         : !usable         ? "account locked"
		                           : "wrong password";
	}
	if (hash.data)
		explicit_bzero(hash.data, hash.cap);
	str_free(&hash);
	free(canonical);
}

/* Answer one request record; returns the reply record. */
static struct ipc_rec *handle_request(const struct ipc_rec *req)
{
	struct verdict v = {0};
	const char *user = ipc_rec_get_str(req, "user");
	const char *password = ipc_rec_get_str(req, "password");
	const char *svc = ipc_rec_get_str(req, "service");
	const char *client = ipc_rec_get_str(req, "client_addr");
	if (!ipc_rec_is(req, AUTH_REQUEST)) {
		v.reply = AUTH_REPLY_TEMPFAIL;
		v.reason = v.why = "unknown request";
	} else if (user == NULL || password == NULL || svc == NULL) {
		v.reply = AUTH_REPLY_TEMPFAIL;
		v.reason = v.why = "incomplete request (user, password and service are required)";
	} else if (!known_service(svc)) {
		v.reply = AUTH_REPLY_TEMPFAIL;
		v.reason = v.why = "unknown service (expected smtp, pop3 or imap)";
	} else {
		check_password(user, password, &v);
	}
	struct str log_user = STR_INIT, log_client = STR_INIT, log_svc = STR_INIT;
	log_safe(&log_user, user ? user : "");
	log_safe(&log_client, client ? client : "");
	log_safe(&log_svc, svc ? svc : "");
	const char *result = strcmp(v.reply, AUTH_REPLY_OK) == 0     ? "ok"
	                     : strcmp(v.reply, AUTH_REPLY_FAIL) == 0 ? "fail"
	                                                             : "tempfail";
	if (v.why)
		log_info("auth: user=%s service=%s client=%s result=%s (%s)", str_cstr(&log_user),
		         str_cstr(&log_svc), str_cstr(&log_client), result, v.why);
	else
		log_info("auth: user=%s service=%s client=%s result=%s", str_cstr(&log_user),
		         str_cstr(&log_svc), str_cstr(&log_client), result);
	str_free(&log_user);
	str_free(&log_client);
	str_free(&log_svc);

	if (strcmp(v.reply, AUTH_REPLY_FAIL) == 0)
		sleep_ms(service.failure_delay_ms);
	struct ipc_rec *reply = ipc_rec_new(v.reply);
	if (v.canonical != NULL)
		ipc_rec_add_str(reply, "user", v.canonical);
	else
		ipc_rec_add_str(reply, "reason", v.reason);
	free(v.canonical);
	return reply;
}

/* Clear the password in a request before it is freed. */
static void forget_request(struct ipc_rec *req)
{
	for (size_t i = 0; i < req->count; i++)
		if (req->attrs[i].value != NULL)
			explicit_bzero(req->attrs[i].value, req->attrs[i].value_len);
	ipc_rec_free(req);
}

static void serve(struct server *srv, int fd)
{
	(void)srv;
	for (;;) {
		struct ipc_rec *req = NULL;
		const char *error = NULL;
		int rc = ipc_read(fd, &req, AUTH_MAX_RECORD, AUTH_IDLE_TIMEOUT_MS, &error);
		if (rc == 0)
			return;
		if (rc < 0) {
			if (errno != ETIMEDOUT)
				log_warn("bad request from client: %s; closing the connection",
				         error);
			return;
		}
		struct ipc_rec *reply = handle_request(req);
		forget_request(req);
		rc = ipc_write(fd, reply, AUTH_WRITE_TIMEOUT_MS);
		ipc_rec_free(reply);
		if (rc != 0)
			return;
	}
}

static long long failure_delay_ms(const struct conf *conf)
{
	if (!conf_is_set(conf, "auth_failure_delay"))
		return AUTH_DEFAULT_FAILURE_DELAY_MS;
	long long seconds;
	const char *error;
	if (param_parse_time(conf_get(conf, "auth_failure_delay"), &seconds, &error) != 0)
		log_fatal("auth_failure_delay: %s", error);
	return seconds * 1000;
}

/* A hash of a random password, of the same kind as new users get. */
static char *make_dummy_hash(void)
{
	unsigned char bytes[16];
	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
		log_fatal("getrandom: %m");
	struct str plain = STR_INIT;
	for (size_t i = 0; i < sizeof(bytes); i++)
		str_printf(&plain, "%02x", bytes[i]);
	const char *error;
	char *hash = password_hash(str_cstr(&plain), &error);
	if (hash == NULL)
		log_fatal("cannot make a password hash: %s", error);
	explicit_bzero(plain.data, plain.cap);
	str_free(&plain);
	return hash;
}

static void init(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	service.users_path = xasprintf("%s/%s", conf_get(conf, "config_directory"), USERDB_TABLE);
	service.failure_delay_ms = failure_delay_ms(conf);
	service.dummy_hash = make_dummy_hash();
	const char *error;
	if (users_table(&error) == NULL)
		log_warn("user database %s: %s (every login fails temporarily until `mailctl user "
		         "add` creates it)",
		         service.users_path, error);
}

static void shutdown_service(struct server *srv)
{
	(void)srv;
	table_close(service.users);
	service.users = NULL;
}

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
	    .mode = SERVER_SINGLE,
	    .init = init,
	    .serve = serve,
	    .shutdown = shutdown_service,
	};
	return server_main(argc, argv, &ops, NULL);
}
