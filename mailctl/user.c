/*
 * mailctl user: the virtual user database ($config_directory/users, format
 * in auth/userdb.h).
 *   mailctl user add ADDRESS [--quota SIZE]   add a user; asks for a password
 *   mailctl user passwd ADDRESS               set a new password
 *   mailctl user del ADDRESS                  remove a user
 *   mailctl user list [--json]                users and quotas (never hashes)
 *   mailctl user rebuild                      recompile after editing by hand
 * Passwords come from the terminal (without echo, asked twice) or, when
 * stdin is not a terminal, as one line from stdin; never from the command
 * line. Every change rewrites the source atomically (comments and other
 * lines kept) and recompiles users.lmdb and vmailbox.lmdb. A source with
 * errors is never changed or compiled: the errors are listed instead.
 * Concurrent mailctl runs are serialized with a lock on the directory.
 */
#include "mailctl/user.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/userdb.h"
#include "conf/params.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/str.h"

#define PASSWORD_MAX 1024

struct user_paths {
	char *source;
	char *users;
	char *vmailbox;
};

static int usage(void)
{
	fprintf(stderr, "usage: mailctl user add ADDRESS [--quota SIZE]\n"
	                "       mailctl user passwd ADDRESS\n"
	                "       mailctl user del ADDRESS\n"
	                "       mailctl user list [--json]\n"
	                "       mailctl user rebuild\n");
	return 2;
}

/* ---- reading a password ---- */

static struct termios saved_termios;
static volatile sig_atomic_t echo_off;

static void restore_echo(void)
{
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
		echo_off = 0;
	}
}

/* Ctrl-C while echo is off must not leave the terminal silent. */
static void on_signal(int sig)
{
	restore_echo();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line from stdin, without its line end: 0 ok, -1 error (said). */
static int read_line(struct str *line)
{
	str_clear(line);
	int c;
	while ((c = getchar()) != EOF && c != '\n') {
		if (c == '\0') {
			mailctl_error("the password contains a NUL byte");
			return -1;
		}
		if (line->len >= PASSWORD_MAX) {
			mailctl_error("the password is longer than %d bytes", PASSWORD_MAX);
			return -1;
		}
		str_append_char(line, (char)c);
	}
	if (c == EOF && line->len == 0) {
		mailctl_error("no password given on stdin");
		return -1;
	}
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		str_truncate(line, line->len - 1);
	return 0;
}

static int prompt_no_echo(const char *prompt, struct str *line)
{
	fputs(prompt, stderr);
	fflush(stderr);
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &saved_termios) != 0) {
		mailctl_error("terminal: %s", strerror(errno));
		return -1;
	}
	t = saved_termios;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_lflag |= ECHONL;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	echo_off = 1;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	int rc = read_line(line);
	restore_echo();
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	return rc;
}

static void forget(struct str *s)
{
	if (s->data)
		explicit_bzero(s->data, s->cap);
	str_free(s);
}

/* The new password's hash (malloc'd), or NULL after saying why. */
static char *ask_password_hash(void)
{
	struct str first = STR_INIT, second = STR_INIT;
	int rc;
	if (isatty(STDIN_FILENO)) {
		rc = prompt_no_echo("New password: ", &first);
		if (rc == 0)
			rc = prompt_no_echo("Retype new password: ", &second);
		if (rc == 0 && (first.len != second.len ||
		                memcmp(str_cstr(&first), str_cstr(&second), first.len) != 0)) {
			mailctl_error("the passwords do not match");
			rc = -1;
		}
	} else {
		rc = read_line(&first);
	}
	if (rc == 0 && first.len == 0) {
		mailctl_error("empty password");
		rc = -1;
	}
	char *hash = NULL;
	if (rc == 0) {
		const char *error;
		hash = password_hash(str_cstr(&first), &error);
		if (hash == NULL)
			mailctl_error("%s", error);
	}
	forget(&first);
	forget(&second);
	return hash;
}

/* ---- the database ---- */

static void paths_init(struct user_paths *p, const char *config_dir)
{
	p->source = xasprintf("%s/%s", config_dir, USERDB_SOURCE);
	p->users = xasprintf("%s/%s", config_dir, USERDB_TABLE);
	p->vmailbox = xasprintf("%s/%s", config_dir, USERDB_VMAILBOX_TABLE);
}

static void paths_free(struct user_paths *p)
{
	free(p->source);
	free(p->users);
	free(p->vmailbox);
}

/* Serialize changes: an exclusive lock on the configuration directory,
 * held until exit. Returns 0 or -1 (said). */
static int lock_config_dir(const char *config_dir)
{
	int fd = open(config_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		mailctl_error("lock %s: %s", config_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0; /* the descriptor stays open: the lock lasts until exit */
}

/* Load the source; on errors list them and return NULL. */
static struct userdb *load(const struct user_paths *p)
{
	struct diag_list diags;
	diag_list_init(&diags);
	struct userdb *db = userdb_new();
	int rc = userdb_load(db, p->source, &diags);
	for (size_t i = 0; i < diags.count; i++)
		mailctl_error("%s%s", diags.items[i].severity == DIAG_WARNING ? "warning: " : "",
		              diags.items[i].text);
	diag_list_free(&diags);
	if (rc != 0) {
		mailctl_error("%s has errors: fix them first; nothing was changed", p->source);
		userdb_free(db);
		return NULL;
	}
	return db;
}

static int compile(const struct userdb *db, const struct user_paths *p)
{
	const char *error;
	if (userdb_compile(db, p->users, p->vmailbox, &error) != 0) {
		mailctl_error("%s (the source %s is saved; run `mailctl user rebuild` once the "
		              "problem is fixed)",
		              error, p->source);
		return 1;
	}
	return 0;
}

/* Write the source, then the compiled tables. */
static int save_and_compile(const struct userdb *db, const struct user_paths *p)
{
	const char *error;
	if (userdb_save(db, p->source, &error) != 0) {
		mailctl_error("%s; nothing was changed", error);
		return 1;
	}
	return compile(db, p);
}

/* ---- subcommands ---- */

static int user_add(struct userdb *db, const struct user_paths *p, const char *address,
                    const char *quota)
{
	const char *error;
	char *normalized;
	long long bytes;
	if (userdb_normalize_address(address, &normalized, &error) != 0) {
		mailctl_error("%s: %s", address, error);
		return 1;
	}
	int rc = 1;
	if (userdb_find(db, normalized) != NULL) {
		mailctl_error("user %s already exists", normalized);
	} else if (quota != NULL && param_parse_size(quota, &bytes, &error) != 0) {
		mailctl_error("--quota %s: %s", quota, error);
	} else {
		char *hash = ask_password_hash();
		if (hash != NULL && userdb_add(db, normalized, hash, quota, &error) != 0)
			mailctl_error("%s", error);
		else if (hash != NULL && (rc = save_and_compile(db, p)) == 0)
			printf("user %s added\n", normalized);
		if (hash)
			explicit_bzero(hash, strlen(hash));
		free(hash);
	}
	free(normalized);
	return rc;
}

static int user_passwd(struct userdb *db, const struct user_paths *p, const char *address)
{
	const struct userdb_user *u = userdb_find(db, address);
	if (u == NULL) {
		mailctl_error("no user %s", address);
		return 1;
	}
	char *canonical = xstrdup(u->address);
	char *hash = ask_password_hash();
	const char *error;
	int rc = 1;
	if (hash != NULL && userdb_set_hash(db, canonical, hash, &error) != 0)
		mailctl_error("%s", error);
	else if (hash != NULL && (rc = save_and_compile(db, p)) == 0)
		printf("password of %s changed\n", canonical);
	if (hash)
		explicit_bzero(hash, strlen(hash));
	free(hash);
	free(canonical);
	return rc;
}

static int user_del(struct userdb *db, const struct user_paths *p, const char *address)
{
	const char *error;
	char *canonical = NULL;
	const struct userdb_user *u = userdb_find(db, address);
	if (u != NULL)
		canonical = xstrdup(u->address);
	if (userdb_remove(db, address, &error) != 0) {
		mailctl_error("%s", error);
		return 1;
	}
	int rc = save_and_compile(db, p);
	if (rc == 0)
		printf("user %s removed\n", canonical);
	free(canonical);
	return rc;
}

static int user_list(const struct mailctl *m, const struct userdb *db)
{
	struct str out = STR_INIT;
	size_t pos = 0;
	const struct userdb_user *u;
	if (m->json)
		str_append_cstr(&out, "{\"users\":[");
	for (size_t n = 0; (u = userdb_next(db, &pos)) != NULL; n++) {
		bool locked = !password_hash_usable(u->hash);
		if (m->json) {
			str_append_cstr(&out, n ? ",{\"address\":" : "{\"address\":");
			json_append_cstr(&out, u->address);
			if (u->quota >= 0)
				str_printf(&out, ",\"quota\":%lld", u->quota);
			else
				str_append_cstr(&out, ",\"quota\":null");
			str_printf(&out, ",\"locked\":%s}", locked ? "true" : "false");
		} else {
			str_append_cstr(&out, u->address);
			if (u->quota_text)
				str_printf(&out, " quota=%s", u->quota_text);
			if (locked)
				str_append_cstr(&out, " locked");
			str_append_char(&out, '\n');
		}
	}
	if (m->json)
		str_append_cstr(&out, "]}\n");
	fwrite(str_cstr(&out), 1, out.len, stdout);
	str_free(&out);
	return 0;
}

/* Parse "ADDRESS [--quota SIZE]" after "add". */
static int parse_add_args(int argc, char **argv, const char **address_r, const char **quota_r)
{
	*address_r = NULL;
	*quota_r = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc && *quota_r == NULL)
			*quota_r = argv[++i];
		else if (strncmp(argv[i], "--quota=", 8) == 0 && *quota_r == NULL)
			*quota_r = argv[i] + 8;
		else if (argv[i][0] != '-' && *address_r == NULL)
			*address_r = argv[i];
		else
			return -1;
	}
	return *address_r != NULL ? 0 : -1;
}

int cmd_user(struct mailctl *m, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *sub = argv[1];
	const char *address = NULL, *quota = NULL;
	bool changes = true;
	if (strcmp(sub, "add") == 0) {
		if (parse_add_args(argc, argv, &address, &quota) != 0)
			return usage();
	} else if (strcmp(sub, "passwd") == 0 || strcmp(sub, "del") == 0) {
		if (argc != 3)
			return usage();
		address = argv[2];
	} else if (strcmp(sub, "list") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--json") != 0)
				return usage();
			m->json = true;
		}
		changes = false;
	} else if (strcmp(sub, "rebuild") != 0 || argc != 2) {
		return usage();
	}
	struct user_paths p;
	paths_init(&p, m->config_dir);
	int rc = 1;
	struct userdb *db = NULL;
	if ((!changes || lock_config_dir(m->config_dir) == 0) && (db = load(&p)) != NULL) {
		if (strcmp(sub, "add") == 0)
			rc = user_add(db, &p, address, quota);
		else if (strcmp(sub, "passwd") == 0)
			rc = user_passwd(db, &p, address);
		else if (strcmp(sub, "del") == 0)
			rc = user_del(db, &p, address);
		else if (strcmp(sub, "list") == 0)
			rc = user_list(m, db);
		else if ((rc = compile(db, &p)) == 0)
			printf("%s and %s rebuilt: %zu users\n", p.users, p.vmailbox,
			       userdb_count(db));
	}
	userdb_free(db);
	paths_free(&p);
	return rc;
}
