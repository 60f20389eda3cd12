/*
 * master: the Postern supervisor. Reads main.conf and master.conf, binds
 * every listener, starts service processes on demand, restarts crashed ones
 * with a throttle, reloads on SIGHUP, stops gracefully on SIGTERM/SIGINT,
 * and answers mailctl on its control socket. One master runs per
 * configuration (a lock in data_directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/master.h"
#include "server/program.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/privs.h"

struct master master = {.control_fd = -1};

static int lock_fd = -1;
static int ready_fd = -1; /* to the waiting parent when detaching */
static struct event_timer *kill_timer;

static void usage(void)
{
	fprintf(stderr, "usage: master [-c config_dir] [-f] [-v]\n"
	                "  -c DIR  configuration directory (default " POSTERN_CONFIG_DIR ")\n"
	                "  -f      stay in the foreground\n"
	                "  -v      verbose logging\n");
	exit(2);
}

/* Tell the parent that started us (mailctl start) how start-up went. */
static void report_ready(const char *error)
{
	if (ready_fd < 0)
		return;
	const char *msg = error ? error : "ok";
	(void)!write(ready_fd, msg, strlen(msg));
	close(ready_fd);
	ready_fd = -1;
}

static void fatal_hook(void)
{
	report_ready(*log_last_fatal() ? log_last_fatal() : "start-up failed; see the log");
}

/* Fork; the parent waits until the child is ready and exits with its verdict. */
static void detach(void)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		log_fatal("pipe: %m");
	pid_t pid = fork();
	if (pid < 0)
		log_fatal("fork: %m");
	if (pid > 0) {
		close(pipefd[1]);
		char buf[512];
		ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
		if (n > 0 && (size_t)n == 2 && memcmp(buf, "ok", 2) == 0)
			_exit(0);
		buf[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "master: %s\n", n > 0 ? buf : "start-up failed; see the log");
		/* Return only once the failed master is gone (and its lock with it),
		 * so that the next start does not find it still running. */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		_exit(1);
	}
	close(pipefd[0]);
	ready_fd = pipefd[1];
	fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
	setsid();
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
}

static void make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		log_fatal("mkdir %s: %m", path);
}

static void take_lock(void)
{
	const char *dir = conf_get(master.conf, "data_directory");
	make_dir(dir, 0755);
	/* Services keep state here too (smtpd's per-client counters). */
	uid_t owner;
	gid_t group;
	const char *error;
	if (master.privileged &&
	    privs_lookup(conf_get(master.conf, "mail_owner"), &owner, &group, &error) == 0 &&
	    chown(dir, owner, group) != 0)
		log_fatal("chown %s: %m", dir);
	char *path = xasprintf("%s/%s", dir, MASTER_LOCK_FILE);
	/* data_directory belongs to mail_owner: never follow a link planted there,
	 * and only use a lock file that master itself owns. */
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (lock_fd < 0)
		log_fatal("open %s: %m", path);
	struct stat st;
	if (fstat(lock_fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1)
		log_fatal("%s is not a regular file owned by uid %ld; remove it", path,
		          (long)geteuid());
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(lock_fd, F_SETLK, &fl) != 0) {
		char buf[32] = "";
		ssize_t n = pread(lock_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_fatal("another master (pid %s) is already running for %s (lock %s)",
		          *buf ? buf : "?", master.config_dir, path);
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(lock_fd, 0) != 0 || pwrite(lock_fd, pid, (size_t)len, 0) != len)
		log_fatal("write %s: %m", path);
	free(path);
}

/* The environment every service starts with: import_environment only. */
static void build_child_env(void)
{
	char *const *names = conf_get_list(master.conf, "import_environment");
	static const char *const always[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};
	size_t n = 0, cap = 8; /* always room for one more and the NULL */
	char **env = xcalloc(cap, sizeof(char *));
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; pass == 0 ? names[i] != NULL : always[i] != NULL; i++) {
			const char *item = pass == 0 ? names[i] : always[i];
			char *entry;
			if (strchr(item, '=')) {
				entry = xstrdup(item);
			} else {
				const char *value = getenv(item);
				if (value == NULL)
					continue;
				entry = xasprintf("%s=%s", item, value);
			}
			if (n + 3 > cap) {
				cap *= 2;
				env = xreallocarray(env, cap, sizeof(char *));
			}
			env[n++] = entry;
		}
	}
	if (*conf_get(master.conf, "maillog_file"))
		env[n++] = xstrdup("POSTERN_LOG_STDERR=1");
	env[n] = NULL;
	if (master.child_env)
		for (char **e = master.child_env; *e; e++)
			free(*e);
	free(master.child_env);
	master.child_env = env;
}

int master_reload(struct str *errors)
{
	if (master.stopping)
		return 0;
	log_info("reloading configuration from %s", master.config_dir);
	if (service_configure(false, errors) != 0) {
		log_warn("reload failed; the previous configuration stays in force");
		return -1;
	}
	build_child_env();
	tickets_configure();
	return 0;
}

static void on_kill_timer(struct event_loop *loop, void *ctx)
{
	(void)loop;
	(void)ctx;
	kill_timer = NULL;
	log_warn("%d processes did not stop in time; killing them", child_count());
	child_signal_all(SIGKILL);
}

void master_request_stop(void)
{
	if (master.stopping)
		return;
	master.stopping = true;
	log_info("stopping");
	control_close();
	for (struct service *svc = master.services; svc; svc = svc->next) {
		service_close_listeners(svc);
		service_update_listening(svc);
	}
	child_signal_all(SIGTERM);
	kill_timer =
	    event_add_timer(master.loop, conf_get_time(master.conf, "master_stop_timeout") * 1000,
	                    on_kill_timer, NULL);
}

static void on_signal(struct event_loop *loop, int fd, int events, void *ctx)
{
	(void)loop;
	(void)events;
	(void)ctx;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			child_on_sigchld();
			break;
		case SIGHUP:
			master_reload(NULL);
			break;
		case SIGTERM:
		case SIGINT:
			master_request_stop();
			break;
		default:
			break;
		}
	}
}

static void setup_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		log_fatal("sigprocmask: %m");
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		log_fatal("signalfd: %m");
	event_add_fd(master.loop, fd, EVENT_READ, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	log_init("master");
	const char *config_option = NULL;
	bool foreground = false;
	int opt;
	while ((opt = getopt(argc, argv, "c:fv")) != -1) {
		switch (opt) {
		case 'c':
			config_option = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			log_set_verbose(true);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	const char *dir = program_config_dir(config_option);
	master.config_dir = dir[0] == '/' ? xstrdup(dir) : realpath(dir, NULL);
	if (master.config_dir == NULL)
		log_fatal("config directory %s: %m", dir);
	master.privileged = privs_are_root();
	master.conf = program_load_conf(master.config_dir);
	program_setup_logging(master.conf, foreground);
	if (!foreground)
		detach();
	log_set_fatal_hook(fatal_hook);
	take_lock();
	if (!master.privileged) {
		struct passwd *pw = getpwuid(getuid());
		log_info("running as %s (uid %ld), not root: privilege separation is off, every "
		         "service runs as this user",
		         pw ? pw->pw_name : "?", (long)getuid());
	}
	master.loop = event_loop_new();
	master.started_ms = event_now_ms();
	setup_signals();
	tickets_configure();
	if (service_configure(true, NULL) != 0)
		log_fatal("configuration errors in %s; nothing started", master.config_dir);
	build_child_env();
	const char *error;
	if (control_open(&error) != 0)
		log_fatal("control socket: %s", error);
	log_info("started (version %s, config %s)", POSTERN_VERSION, master.config_dir);
	report_ready(NULL);
	while (!master.stopping || child_count() > 0) {
		if (event_loop_once(master.loop, -1) < 0)
			log_fatal("event loop: %m");
	}
	if (kill_timer)
		event_cancel_timer(master.loop, kill_timer);
	log_info("stopped");
	return 0;
}
