/*
 * sendmail: the sendmail(8) command line, as Postfix accepts it. Reads a
 * message on stdin and hands it to postdrop; -bs speaks SMTP on
 * stdin/stdout; -bp (mailq) lists the queue and -bi (newaliases) rebuilds
 * the aliases through mailctl; -q does what it can today. Called as "mailq" or
 * "newaliases" it acts as -bp or -bi. Historic options that mean nothing
 * here are accepted and ignored, as Postfix does.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sendmail/sendmail.h"
#include "server/program.h"
#include "smtp/address.h"
#include "util/alloc.h"
#include "util/log.h"

enum mode {
	MODE_ENQUEUE,    /* -bm, the default */
	MODE_SMTP,       /* -bs */
	MODE_MAILQ,      /* -bp, mailq */
	MODE_NEWALIASES, /* -bi, -I, newaliases */
	MODE_FLUSH,      /* -q */
	MODE_DAEMON,     /* -bd, -bl: start the mail system */
	MODE_IGNORE,     /* -bh, -bH: nothing to do */
};

struct options {
	enum mode mode;
	bool extract;          /* -t */
	bool dot_ends;         /* cleared by -i and -oi */
	const char *sender;    /* -f, -r */
	const char *full_name; /* -F */
	const char *notify;    /* -N, canonical */
	const char *ret;       /* -R */
	const char *envid;     /* -V */
	const char *body;      /* -B */
	const char *config;    /* -C */
	bool verbose;
	bool verify; /* -bv: a report of what would happen, nothing delivered */
};

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	fprintf(stderr,
	        "usage: sendmail [-t] [-i] [-f sender] [-F name] [-N dsn] [-R ret] "
	        "[-V envid] [-B type] [-C config] [-bm|-bs|-bp|-bi|-bv] [-q] [recipient ...]\n");
	exit(EX_USAGE);
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* -N: "never" or a list of success, failure, delay (any case). */
static const char *parse_notify(const char *arg)
{
	static char canon[32];
	unsigned flags = 0;
	bool never = false;
	char *copy = xstrdup(arg);
	for (char *save = NULL, *w = strtok_r(copy, ", ", &save); w;
	     w = strtok_r(NULL, ", ", &save)) {
		if (strcasecmp(w, "never") == 0)
			never = true;
		else if (strcasecmp(w, "success") == 0)
			flags |= 1;
		else if (strcasecmp(w, "failure") == 0)
			flags |= 2;
		else if (strcasecmp(w, "delay") == 0)
			flags |= 4;
		else
			sendmail_fatal(EX_USAGE,
			               "-N: bad notification \"%s\" (never, success, "
			               "failure, delay)",
			               w);
	}
	free(copy);
	if (never && flags)
		sendmail_fatal(EX_USAGE, "-N: \"never\" cannot be combined with other values");
	if (!never && !flags)
		sendmail_fatal(EX_USAGE, "-N: no notification given");
	if (never)
		return "NEVER";
	snprintf(canon, sizeof(canon), "%s%s%s%s%s", flags & 1 ? "SUCCESS" : "",
	         (flags & 1) && (flags & 6) ? "," : "", flags & 2 ? "FAILURE" : "",
	         (flags & 2) && (flags & 4) ? "," : "", flags & 4 ? "DELAY" : "");
	return canon;
}

static bool envid_ok(const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return len > 0 && len <= DROP_MAX_ENVID;
}

static void set_mode(struct options *o, enum mode mode)
{
	/* -q together with -bd is the daemon's queue interval: ignored. */
	if (mode == MODE_FLUSH && o->mode == MODE_DAEMON)
		return;
	o->mode = mode;
}

static void parse_b(struct options *o, const char *arg)
{
	switch (arg[0]) {
	case 'm':
		set_mode(o, MODE_ENQUEUE);
		break;
	case 's':
		set_mode(o, MODE_SMTP);
		break;
	case 'p':
		set_mode(o, MODE_MAILQ);
		break;
	case 'i':
		set_mode(o, MODE_NEWALIASES);
		break;
	case 'd':
	case 'l':
		o->mode = MODE_DAEMON;
		break;
	case 'h':
	case 'H':
		set_mode(o, MODE_IGNORE);
		break;
	case 'v':
		set_mode(o, MODE_ENQUEUE);
		o->verify = true;
		break;
	default:
		sendmail_fatal(EX_USAGE, "unsupported: -b%s", arg);
	}
}

static void parse_o(struct options *o, const char *arg)
{
	/* -oi is the only -o option with a meaning here; -oem, -oep, -odb,
	 * -odi, -om, -o7, -o8, -oQ... are historic and ignored. */
	if (arg[0] == 'i')
		o->dot_ends = false;
	else if (o->verbose)
		fprintf(stderr, "sendmail: -o%s ignored\n", arg);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int c;
	opterr = 0;
	while ((c = getopt(argc, argv, "+A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx")) != -1) {
		switch (c) {
		case 'B':
			if (strcasecmp(optarg, "8BITMIME") == 0)
				o->body = "8BITMIME";
			else if (strcasecmp(optarg, "7BIT") == 0)
				o->body = "7BIT";
			else
				sendmail_fatal(EX_USAGE, "-B needs 8BITMIME or 7BIT");
			break;
		case 'C':
			o->config = optarg;
			break;
		case 'F':
			o->full_name = optarg;
			break;
		case 'I':
			set_mode(o, MODE_NEWALIASES);
			break;
		case 'N':
			o->notify = parse_notify(optarg);
			break;
		case 'R':
			if (strcasecmp(optarg, "full") == 0)
				o->ret = "FULL";
			else if (strcasecmp(optarg, "hdrs") == 0)
				o->ret = "HDRS";
			else
				sendmail_fatal(EX_USAGE, "-R needs full or hdrs");
			break;
		case 'V':
			if (!envid_ok(optarg))
				sendmail_fatal(EX_USAGE,
				               "-V: the envelope id must be printable ASCII "
				               "of at most %d characters",
				               DROP_MAX_ENVID);
			o->envid = optarg;
			break;
		case 'b':
			parse_b(o, optarg);
			break;
		case 'f':
		case 'r':
			o->sender = optarg;
			break;
		case 'i':
			o->dot_ends = false;
			break;
		case 'n':
			sendmail_fatal(EX_USAGE, "-n option not supported");
		case 'o':
			parse_o(o, optarg);
			break;
		case 'q':
			set_mode(o, MODE_FLUSH);
			break;
		case 't':
			o->extract = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case '?':
			if (optopt)
				fprintf(stderr, "sendmail: %s: -%c\n",
				        strchr("ABCFLNORVXbefhopr", optopt) ? "option needs a value"
				                                            : "unknown option",
				        optopt);
			usage();
		default:
			/* -A -G -L -O -U -X -c -e -h -m -p -x: historic, ignored. */
			if (o->verbose)
				fprintf(stderr, "sendmail: -%c ignored\n", c);
			break;
		}
	}
}

/* The full name: -F, else $NAME, else the password file's GECOS field
 * (up to the first comma, '&' replaced by the capitalised login). Control
 * characters become spaces. */
static char *full_name_of(const char *option, const struct passwd *pw)
{
	struct str name = STR_INIT;
	const char *env = getenv("NAME");
	if (option)
		str_append_cstr(&name, option);
	else if (env && *env)
		str_append_cstr(&name, env);
	else if (pw && pw->pw_gecos) {
		for (const char *p = pw->pw_gecos; *p && *p != ','; p++) {
			if (*p != '&') {
				str_append_char(&name, *p);
				continue;
			}
			for (const char *l = pw->pw_name; *l; l++)
				str_append_char(&name, l == pw->pw_name
				                           ? (char)toupper((unsigned char)*l)
				                           : *l);
		}
	}
	for (size_t i = 0; i < name.len; i++)
		if ((unsigned char)name.data[i] < 0x20 || name.data[i] == 0x7f)
			name.data[i] = ' ';
	if (name.len > DROP_MAX_FULL_NAME)
		str_truncate(&name, DROP_MAX_FULL_NAME);
	return str_steal(&name);
}

/* -C names the configuration directory, or main.conf in it. */
static char *config_dir_of(const char *option)
{
	struct stat st;
	if (option && stat(option, &st) == 0 && S_ISREG(st.st_mode)) {
		const char *slash = strrchr(option, '/');
		return slash ? xstrndup(option, (size_t)(slash - option)) : xstrdup(".");
	}
	return xstrdup(program_config_dir(option));
}

static void setup(struct sendmail *sm, const struct options *o, const char *argv0)
{
	memset(sm, 0, sizeof(*sm));
	sm->argv0 = argv0;
	sm->config_dir = config_dir_of(o->config);
	sm->config_is_default = strcmp(sm->config_dir, POSTERN_CONFIG_DIR) == 0;
	sm->conf = program_load_conf(sm->config_dir);
	sm->myorigin = conf_get(sm->conf, "myorigin");
	sm->myhostname = conf_get(sm->conf, "myhostname");
	sm->size_limit = conf_get_size(sm->conf, "message_size_limit");
	sm->verbose = o->verbose;
	sm->uid = getuid();
	struct passwd *pw = getpwuid(sm->uid);
	sm->login = pw ? xstrdup(pw->pw_name) : xasprintf("%lu", (unsigned long)sm->uid);
	sm->full_name = full_name_of(o->full_name, pw);
}

static void teardown(struct sendmail *sm)
{
	conf_free(sm->conf);
	free(sm->config_dir);
	free(sm->login);
	free(sm->full_name);
}

void sendmail_envelope_init(const struct sendmail *sm, struct drop_envelope *env)
{
	drop_envelope_init(env);
	env->uid = (int64_t)sm->uid;
	env->time = (int64_t)time(NULL);
	drop_envelope_set(&env->user, sm->login);
	drop_envelope_set(&env->full_name, sm->full_name);
}

/* Qualify an address for the envelope, or exit naming what was wrong. */
static char *envelope_address(const struct sendmail *sm, const char *spec, const char *what,
                              bool *utf8)
{
	char *canon;
	bool non_ascii = false;
	const char *error;
	if (address_qualify(spec, sm->myorigin, &canon, &non_ascii, &error) != 0)
		sendmail_fatal(EX_DATAERR, "bad %s address \"%s\": %s", what, spec, error);
	if (non_ascii)
		*utf8 = true;
	return canon;
}

/* -f: an address, "<address>", "Name <address>" or "" / "<>" for none. */
static char *sender_of(const struct sendmail *sm, const struct options *o, bool *utf8)
{
	if (o->sender == NULL) {
		struct str def = STR_INIT;
		address_quote_local(sm->login, strlen(sm->login), &def);
		str_printf(&def, "@%s", sm->myorigin);
		char *canon = envelope_address(sm, str_cstr(&def), "sender", utf8);
		str_free(&def);
		return canon;
	}
	struct addrlist list = {0};
	const char *error = NULL;
	if (addrlist_parse(o->sender, strlen(o->sender), &list, &error) != 0 || list.count > 1)
		sendmail_fatal(EX_USAGE, "bad sender address \"%s\"%s%s", o->sender,
		               error ? ": " : "", error ? error : "");
	char *canon = envelope_address(sm, list.count ? list.items[0] : "", "sender", utf8);
	addrlist_free(&list);
	return canon;
}

static void add_recipient(struct drop_envelope *env, const char *canon, const char *notify)
{
	for (size_t i = 0; i < env->rcpt_count; i++)
		if (strcmp(env->rcpts[i].address, canon) == 0)
			return;
	drop_envelope_add_rcpt(env, canon, "", notify);
}

static void add_recipients(const struct sendmail *sm, struct drop_envelope *env,
                           const struct addrlist *list, const char *notify)
{
	for (size_t i = 0; i < list->count; i++) {
		if (*list->items[i] == '\0')
			continue; /* <> is no recipient */
		char *canon = envelope_address(sm, list->items[i], "recipient", &env->smtputf8);
		add_recipient(env, canon, notify);
		free(canon);
	}
}

static int enqueue(const struct sendmail *sm, const struct options *o, int argc, char **argv)
{
	struct drop_envelope env;
	sendmail_envelope_init(sm, &env);
	char *sender = sender_of(sm, o, &env.smtputf8);
	drop_envelope_set(&env.sender, sender);
	drop_envelope_set(&env.ret, o->ret);
	drop_envelope_set(&env.body, o->body);
	drop_envelope_set(&env.envid, o->envid);
	env.verify_report = o->verify;
	env.trace_report = o->verbose && !o->verify;
	struct addrlist args = {0};
	for (int i = 0; i < argc; i++) {
		const char *error;
		if (addrlist_parse(argv[i], strlen(argv[i]), &args, &error) != 0)
			sendmail_fatal(EX_DATAERR, "bad recipient \"%s\": %s", argv[i], error);
	}
	add_recipients(sm, &env, &args, o->notify);
	addrlist_free(&args);

	struct str msg = STR_INIT;
	const char *error;
	if (message_read(STDIN_FILENO, o->dot_ends, sm->size_limit, &msg, &error) != 0)
		sendmail_fatal(EX_DATAERR, "%s", error);
	struct message_options mo = {o->extract, true, sender, sm->full_name, sm->myhostname};
	struct addrlist extracted = {0};
	if (message_finish(&msg, &mo, &extracted, &error) != 0)
		sendmail_fatal(EX_DATAERR, "%s", error);
	add_recipients(sm, &env, &extracted, o->notify);
	addrlist_free(&extracted);
	if (env.rcpt_count == 0)
		sendmail_fatal(EX_USAGE, "no recipients specified");
	if (sm->size_limit > 0 && (long long)msg.len > sm->size_limit)
		sendmail_fatal(EX_DATAERR, "message too large (message_size_limit)");
	if (sm->verbose)
		for (size_t i = 0; i < env.rcpt_count; i++)
			fprintf(stderr, "sendmail: recipient <%s>\n", env.rcpts[i].address);
	int status = submit_message(sm, &env, &msg);
	/* As Postfix says it; the report comes from the queue manager. */
	if (status == EX_OK && (o->verify || o->verbose))
		printf("Mail Delivery Status Report will be mailed to <%s>.\n", sender);
	str_free(&msg);
	free(sender);
	drop_envelope_free(&env);
	return status;
}

/* Replace this process with mailctl (mailq, -bd). */
static void run_mailctl(const struct sendmail *sm, const char *const *args)
    __attribute__((noreturn));

static void run_mailctl(const struct sendmail *sm, const char *const *args)
{
	char *path = find_program(sm->argv0, "mailctl", conf_get(sm->conf, "command_directory"));
	if (path == NULL)
		sendmail_fatal(EX_UNAVAILABLE, "cannot find mailctl (looked next to %s and in %s)",
		               sm->argv0, conf_get(sm->conf, "command_directory"));
	char *argv[8];
	int argc = 0;
	argv[argc++] = "mailctl";
	argv[argc++] = "-c";
	argv[argc++] = (char *)sm->config_dir;
	for (; *args && argc < 7; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	fflush(NULL);
	execv(path, argv);
	sendmail_fatal(EX_UNAVAILABLE, "exec %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	log_init("sendmail");
	const char *argv0 = argv[0];
	const char *name = basename_of(argv[0]);
	struct options o = {0};
	o.dot_ends = true;
	if (strcmp(name, "mailq") == 0)
		o.mode = MODE_MAILQ;
	else if (strcmp(name, "newaliases") == 0)
		o.mode = MODE_NEWALIASES;
	parse_options(argc, argv, &o);
	argc -= optind;
	argv += optind;

	struct sendmail sm;
	setup(&sm, &o, argv0);
	int status = EX_OK;
	switch (o.mode) {
	case MODE_MAILQ: {
		static const char *const args[] = {"queue", "list", "--mailq", NULL};
		run_mailctl(&sm, args);
	}
	case MODE_NEWALIASES: {
		static const char *const args[] = {"alias", "rebuild", NULL};
		run_mailctl(&sm, args);
	}
	case MODE_DAEMON: {
		static const char *const args[] = {"start", NULL};
		run_mailctl(&sm, args);
	}
	case MODE_FLUSH:
		status = submit_flush(&sm);
		break;
	case MODE_IGNORE:
		break;
	case MODE_SMTP:
		status = smtp_session_run(&sm);
		break;
	case MODE_ENQUEUE:
		status = enqueue(&sm, &o, argc, argv);
		break;
	}
	teardown(&sm);
	return status;
}
