/*
 * The one logging family of every Postern program. Lines go to syslog
 * (facility mail, ident "postern/PROGRAM") or, in an instance, to a file or
 * stderr as "Mon DD HH:MM:SS host postern/PROGRAM[pid]: level: text".
 * Formats take %m for strerror(errno).
 *
 * log_fatal() exits with status 1 (a clean, expected stop); log_panic()
 * aborts (an impossible state: a bug). Library code does not log; programs do.
 */
#ifndef POSTERN_UTIL_LOG_H
#define POSTERN_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
	LOG_TO_FILE,
};

/* Set the program name (e.g. "smtpd") used in every line; logs to stderr. */
void log_init(const char *program);
/* Send lines to syslog with the given ident prefix (default "postern"). */
void log_to_syslog(const char *syslog_name);
/* Append lines to path ("/dev/stderr" and "-" mean stderr); 0 or -1 with errno. */
int log_to_file(const char *path);
/* The descriptor of the log file when logging to a file, else -1 (master
 * hands it to its children, which log through it). */
int log_file_fd(void);
/* Also copy lines to stderr (for foreground programs run by a person). */
void log_also_stderr(bool on);
void log_set_verbose(bool on);
bool log_verbose_enabled(void);
const char *log_program(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The text of the last log_fatal() message ("" if none), for a fatal hook. */
const char *log_last_fatal(void);
/* Called just before log_fatal() exits (e.g. to remove a pid file). */
void log_set_fatal_hook(void (*hook)(void));

#endif
