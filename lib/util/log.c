/*
 * Logging: one line format for syslog, files and stderr. Each line is
 * written with a single write(2) on an O_APPEND descriptor, so lines from
 * many processes sharing one log file never interleave.
 */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/self_pid.h"
#include "util/str.h"

static char log_prog[64] = "postern";
static char log_ident[128] = "postern";
static enum log_target log_target = LOG_TO_STDERR;
static int log_fd = STDERR_FILENO;
static bool log_stderr_copy;
static bool log_verbose;
static void (*log_fatal_hook)(void);
static char log_last_fatal_text[512];

enum log_level { LVL_DEBUG, LVL_INFO, LVL_WARN, LVL_ERROR, LVL_FATAL, LVL_PANIC };

static const char *const level_names[] = {"debug", "info", "warning", "error", "fatal", "panic"};
static const int level_prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT};

static void update_ident(const char *syslog_name)
{
	snprintf(log_ident, sizeof(log_ident), "%s/%s", syslog_name, log_prog);
}

void log_init(const char *program)
{
	const char *slash = strrchr(program, '/');
	snprintf(log_prog, sizeof(log_prog), "%s", slash ? slash + 1 : program);
	update_ident("postern");
}

void log_to_syslog(const char *syslog_name)
{
	update_ident(syslog_name && *syslog_name ? syslog_name : "postern");
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_target = LOG_TO_SYSLOG;
}

int log_to_file(const char *path)
{
	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stderr") == 0) {
		log_target = LOG_TO_STDERR;
		log_fd = STDERR_FILENO;
		return 0;
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (log_fd > STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	log_target = LOG_TO_FILE;
	return 0;
}

int log_file_fd(void)
{
	return log_target == LOG_TO_FILE ? log_fd : -1;
}

void log_also_stderr(bool on)
{
	log_stderr_copy = on;
}

void log_set_verbose(bool on)
{
	log_verbose = on;
}

bool log_verbose_enabled(void)
{
	return log_verbose;
}

const char *log_program(void)
{
	return log_prog;
}

const char *log_last_fatal(void)
{
	return log_last_fatal_text;
}

void log_set_fatal_hook(void (*hook)(void))
{
	log_fatal_hook = hook;
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* The host name without its domain, looked up once. */
static void log_short_hostname(char *buf, size_t len)
{
	static char cached[64];
	if (cached[0] == '\0') {
		if (gethostname(cached, sizeof(cached)) != 0)
			snprintf(cached, sizeof(cached), "localhost");
		cached[sizeof(cached) - 1] = '\0';
		char *dot = strchr(cached, '.');
		if (dot)
			*dot = '\0';
	}
	snprintf(buf, len, "%s", cached);
}

static void log_emit(enum log_level level, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	struct str text = STR_INIT;
	errno = saved_errno; /* so %m names the caller's error */
	str_vprintf(&text, fmt, ap);
	/* One line per message: control characters from peers are made visible. */
	for (size_t i = 0; i < text.len; i++) {
		unsigned char c = (unsigned char)text.data[i];
		if (c < 0x20 || c == 0x7f)
			text.data[i] = '?';
	}
	const char *prefix = level == LVL_INFO ? "" : level_names[level];
	if (level == LVL_FATAL)
		snprintf(log_last_fatal_text, sizeof(log_last_fatal_text), "%s", str_cstr(&text));

	if (log_target == LOG_TO_SYSLOG)
		syslog(LOG_MAIL | level_prio[level], "%s%s%s", prefix, *prefix ? ": " : "",
		       str_cstr(&text));
	if (log_target != LOG_TO_SYSLOG || log_stderr_copy) {
		char stamp[32], host[64];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		log_short_hostname(host, sizeof(host));
		struct str line = STR_INIT;
		str_printf(&line, "%s %s %s[%ld]: %s%s%s\n", stamp, host, log_ident,
		           (long)self_pid(), prefix, *prefix ? ": " : "", str_cstr(&text));
		if (log_target != LOG_TO_SYSLOG)
			write_all(log_fd, line.data, line.len);
		if (log_stderr_copy && (log_target == LOG_TO_SYSLOG || log_fd != STDERR_FILENO))
			write_all(STDERR_FILENO, line.data, line.len);
		str_free(&line);
	}
	str_free(&text);
	errno = saved_errno;
}

#define LOG_BODY(level)                                                                            \
	va_list ap;                                                                                \
	va_start(ap, fmt);                                                                         \
	log_emit(level, fmt, ap);                                                                  \
	va_end(ap)

void log_debug(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	LOG_BODY(LVL_DEBUG);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LVL_INFO);
}

void log_warn(const char *fmt, ...)
{
	LOG_BODY(LVL_WARN);
}

void log_error(const char *fmt, ...)
{
	LOG_BODY(LVL_ERROR);
}

void log_fatal(const char *fmt, ...)
{
	LOG_BODY(LVL_FATAL);
	if (log_fatal_hook) {
		void (*hook)(void) = log_fatal_hook;
		log_fatal_hook = NULL;
		hook();
	}
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	LOG_BODY(LVL_PANIC);
	abort();
}
