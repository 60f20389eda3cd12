/*
 * postdrop: the only set-id program of Postern (set-gid postern-drop). It
 * copies one drop file from its standard input into maildrop/, which only
 * that group may write, and pokes pickup. It trusts nothing it is given:
 * the environment is cleared, a configuration directory other than the
 * built-in one is honoured only for root or when the program is not set-id,
 * the input is parsed strictly (lib/mail/dropfile.h) with a size bound, and
 * the submitter's uid, user name and the time are stamped here.
 *
 * A drop file is written as maildrop/tmp.ID (pickup ignores those), made
 * durable, then renamed to maildrop/ID; an error, or a signal that ends
 * postdrop before the rename (the submitter may send one), removes the
 * unfinished file. Its mode is 0644: maildrop/ itself
 * (mode 1730, owner mail_owner, group postern-drop) lets no one else in, so
 * the file is readable only by pickup, which runs as mail_owner (the
 * directory's owner, but neither the file's owner nor in its group).
 *
 * usage: postdrop [-c config_dir] [-q | -p]
 *   -q  ask qmgr to flush the queue (sendmail -q) instead of dropping mail
 *   -p  print the queue listing from the showq service (mailq for a user
 *       who may not read the queue: Postfix's postqueue -p)
 * Exit status: 0 once the file is durable in maildrop/; else a sysexits
 * code, with the reason on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "mail/dropfile.h"
#include "mail/queue.h"
#include "mail/showq_client.h"
#include "mail/wakeup.h"
#include "util/alloc.h"
#include "util/dir_sync.h"
#include "util/ipc.h"
#include "util/no_replace.h"
#include "util/sock.h"

#define POKE_TIMEOUT_MS 500
#define WRITE_BUFFER 65536

static void fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fatal(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("postdrop: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

/* The signals that may end us while a temporary file exists (the
 * submitter may send them: postdrop runs with the submitter's uid). */
static const int cleanup_signals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                      SIGALRM, SIGUSR1, SIGUSR2, SIGABRT};

/* The temporary file in maildrop/ while it exists, for on_signal. */
static volatile sig_atomic_t temp_armed;
static int temp_dir_fd = -1;
static char temp_name[QUEUE_ID_LEN + 5];

/* Remove the unfinished file, then die of the signal as we would have. */
static void on_signal(int sig)
{
	if (temp_armed)
		unlinkat(temp_dir_fd, temp_name, 0);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Hold the cleanup signals (block) or let them in again, so that the
 * file's creation or rename and temp_armed change together. */
static void hold_signals(bool block, sigset_t *saved)
{
	if (block) {
		sigset_t set;
		sigemptyset(&set);
		for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(*cleanup_signals); i++)
			sigaddset(&set, cleanup_signals[i]);
		sigprocmask(SIG_BLOCK, &set, saved);
	} else {
		sigprocmask(SIG_SETMASK, saved, NULL);
	}
}

/* Descriptors 0-2 open (a closed one would be reused by our files), a
 * clean environment, and no signal that could leave a half-done file:
 * those that end us remove it first. */
static void sanitize(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(EX_OSERR);
	}
	clearenv();
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* A small RLIMIT_FSIZE must fail a write, not kill us mid-file. */
	signal(SIGXFSZ, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(*cleanup_signals); i++)
		sigaddset(&sa.sa_mask, cleanup_signals[i]);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(*cleanup_signals); i++)
		sigaction(cleanup_signals[i], &sa, NULL);
	/* A mask inherited from the submitter must not hold them off. */
	sigset_t unblock;
	sigemptyset(&unblock);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(*cleanup_signals); i++)
		sigaddset(&unblock, cleanup_signals[i]);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
}

static bool set_id(void)
{
	return getuid() != geteuid() || getgid() != getegid();
}

static struct conf *load_config(const char *option, const char *env)
{
	const char *dir = POSTERN_CONFIG_DIR;
	bool trusted = getuid() == 0 || !set_id();
	if (option != NULL) {
		if (!trusted)
			fatal(EX_NOPERM, "-c is allowed only for root (this program is set-id)");
		dir = option;
	} else if (env != NULL && *env != '\0' && trusted) {
		dir = env;
	}
	struct diag_list diags;
	diag_list_init(&diags);
	struct conf *conf = conf_load(dir, &diags);
	bool failed = conf == NULL || diag_has_errors(&diags);
	for (size_t i = 0; i < diags.count && failed; i++)
		if (diags.items[i].severity != DIAG_WARNING)
			fprintf(stderr, "postdrop: %s\n", diags.items[i].text);
	diag_list_free(&diags);
	if (failed)
		fatal(EX_CONFIG, "cannot use the configuration in %s", dir);
	return conf;
}

/* Send one wakeup record to a daemon's public socket; false if unreachable. */
static bool poke(const char *queue_dir, const char *service, bool flush)
{
	char *path = xasprintf("%s/public/%s", queue_dir, service);
	bool ok = mail_wakeup(path, flush, POKE_TIMEOUT_MS);
	free(path);
	return ok;
}

/* The listing from public/showq on stdout; fatal (69 when the mail
 * system is down) without it. */
static int show_queue(const char *queue_dir)
{
	struct str listing = STR_INIT;
	int status;
	const char *error;
	if (showq_client_fetch(queue_dir, &listing, &status, &error) != 0)
		fatal(status, "%s", error);
	size_t off = 0;
	while (off < listing.len) {
		ssize_t n = write(STDOUT_FILENO, listing.data + off, listing.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal(EX_IOERR, "write the queue listing: %s", strerror(errno));
		off += (size_t)n;
	}
	str_free(&listing);
	return EX_OK;
}

/* ---- writing the drop file ---- */

struct drop_out {
	int dir_fd;
	int fd;
	char tmp_name[QUEUE_ID_LEN + 5];
	struct str buf;
	const char *error;
};

static int out_flush(struct drop_out *o, const char **error_r)
{
	const char *p = o->buf.data;
	size_t len = o->buf.len;
	while (len > 0) {
		ssize_t n = write(o->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("write maildrop/%s: %s", o->tmp_name, strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	str_clear(&o->buf);
	return 0;
}

/* The envelope is valid: stamp who and when, and write it out. */
static int on_head(void *ctx, struct drop_envelope *env, const char **error_r)
{
	struct drop_out *o = ctx;
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);
	env->uid = (int64_t)uid;
	env->time = (int64_t)time(NULL);
	drop_envelope_set(&env->user, pw ? pw->pw_name : "");
	/* A name the parser would refuse (odd characters) becomes the number. */
	const char *unused;
	if (drop_envelope_check(env, &unused) != 0) {
		char *name = xasprintf("%lu", (unsigned long)uid);
		drop_envelope_set(&env->user, name);
		free(name);
	}
	drop_encode_head(env, env->size, &o->buf);
	return out_flush(o, error_r);
}

static int on_content(void *ctx, const void *data, size_t len, const char **error_r)
{
	struct drop_out *o = ctx;
	str_append(&o->buf, data, len);
	return o->buf.len >= WRITE_BUFFER ? out_flush(o, error_r) : 0;
}

static void open_temp(struct drop_out *o, const char *maildrop)
{
	sigset_t saved;
	hold_signals(true, &saved);
	for (int attempt = 0; attempt < 10; attempt++) {
		char id[QUEUE_ID_LEN + 1];
		queue_id_new(id);
		snprintf(o->tmp_name, sizeof(o->tmp_name), "tmp.%s", id);
		o->fd = openat(o->dir_fd, o->tmp_name,
		               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (o->fd >= 0 || errno != EEXIST)
			break;
	}
	if (o->fd >= 0) {
		temp_dir_fd = o->dir_fd;
		memcpy(temp_name, o->tmp_name, sizeof(temp_name));
		temp_armed = 1;
	}
	hold_signals(false, &saved);
	if (o->fd < 0) {
		/* The usual cause for a user other than root: a postdrop that was
		 * built or copied but never given its group and mode. */
		int err = errno;
		fatal(EX_TEMPFAIL, "cannot create a file in %s: %s%s", maildrop, strerror(err),
		      err == EACCES && !set_id()
		          ? " (this postdrop is not set-gid; see sendmail(1))"
		          : "");
	}
}

/* The new name must not exist yet; never replace another drop file.
 * Once renamed, the file is no longer the signal handler's to remove. */
static int rename_final(struct drop_out *o, char *final)
{
	sigset_t saved;
	hold_signals(true, &saved);
	int rc = -1;
	for (int attempt = 0; attempt < 10 && rc != 0; attempt++) {
		queue_id_new(final);
		rc = rename_no_replace_at(o->dir_fd, o->tmp_name, o->dir_fd, final);
		if (rc == 0)
			temp_armed = 0;
		else if (errno != EEXIST)
			break;
	}
	int saved_errno = errno;
	hold_signals(false, &saved);
	errno = saved_errno;
	return rc;
}

/* Make the new directory entry durable. postern-drop may not read
 * maildrop/, so when it cannot be opened for fsync the file system is
 * synced instead. */
static int sync_dir(const char *maildrop, int file_fd)
{
	if (dir_sync(maildrop) == 0)
		return 0;
	return errno == EACCES ? syncfs(file_fd) : -1;
}

static void fail_and_remove(struct drop_out *o, int status, const char *what, const char *error)
{
	unlinkat(o->dir_fd, o->tmp_name, 0);
	fatal(status, "%s: %s", what, error);
}

static int drop(const char *queue_dir, long long size_limit)
{
	char *maildrop = xasprintf("%s/maildrop", queue_dir);
	struct drop_out o = {.fd = -1};
	/* O_PATH: the group may search and write maildrop/, not read it. */
	o.dir_fd = open(maildrop, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (o.dir_fd < 0)
		fatal(EX_TEMPFAIL,
		      "cannot open the maildrop directory %s: %s (the mail system creates it "
		      "when it starts for the first time)",
		      maildrop, strerror(errno));
	open_temp(&o, maildrop);
	static const struct drop_read_ops ops = {on_head, on_content};
	struct drop_envelope env;
	const char *error;
	int rc = drop_read_fd(STDIN_FILENO, size_limit, &ops, &o, &env, &error);
	if (rc == DROP_READ_BAD)
		fail_and_remove(&o, EX_DATAERR, "invalid input from sendmail", error);
	if (rc != DROP_READ_OK)
		fail_and_remove(&o, EX_TEMPFAIL, "cannot write the message", error);
	drop_encode_tail(env.crc, &o.buf);
	drop_envelope_free(&env);
	if (out_flush(&o, &error) != 0)
		fail_and_remove(&o, EX_TEMPFAIL, "cannot write the message", error);
	if (fchmod(o.fd, 0644) != 0 || fsync(o.fd) != 0)
		fail_and_remove(&o, EX_TEMPFAIL, "cannot write the message", strerror(errno));
	char final[QUEUE_ID_LEN + 1];
	if (rename_final(&o, final) != 0)
		fail_and_remove(&o, EX_TEMPFAIL, "rename in maildrop/", strerror(errno));
	if (sync_dir(maildrop, o.fd) != 0) {
		/* Not known to be durable: take it back rather than report success. */
		int saved = errno;
		unlinkat(o.dir_fd, final, 0);
		fatal(EX_TEMPFAIL, "fsync %s: %s", maildrop, strerror(saved));
	}
	close(o.fd);
	close(o.dir_fd);
	str_free(&o.buf);
	free(maildrop);
	poke(queue_dir, "pickup", false);
	return EX_OK;
}

/* LeakSanitizer cannot work in a set-gid process (it is not dumpable, so
 * the leak checker cannot attach to it): the sanitizer test build turns
 * leak checking off for postdrop alone. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "detect_leaks=0";
}
#endif
#endif

int main(int argc, char **argv)
{
	/* Read before the environment is cleared; used only when trusted. */
	const char *env_config = getenv("POSTERN_CONFIG");
	char *env_copy = env_config ? xstrdup(env_config) : NULL;
	sanitize();
	const char *config_option = NULL;
	bool flush = false, list = false;
	int opt;
	while ((opt = getopt(argc, argv, "c:pq")) != -1) {
		if (opt == 'c')
			config_option = optarg;
		else if (opt == 'q')
			flush = true;
		else if (opt == 'p')
			list = true;
		else
			fatal(EX_USAGE, "usage: postdrop [-c config_dir] [-q | -p]");
	}
	if (optind != argc || (flush && list))
		fatal(EX_USAGE, "usage: postdrop [-c config_dir] [-q | -p]");
	struct conf *conf = load_config(config_option, env_copy);
	free(env_copy);
	const char *queue_dir = conf_get(conf, "queue_directory");
	int status = EX_OK;
	if (list)
		status = show_queue(queue_dir);
	else if (!flush)
		status = drop(queue_dir, conf_get_size(conf, "message_size_limit"));
	else if (!poke(queue_dir, "qmgr", true))
		fprintf(stderr, "postdrop: the mail system is not running; the queue will be "
		                "flushed when it starts\n");
	conf_free(conf);
	return status;
}
