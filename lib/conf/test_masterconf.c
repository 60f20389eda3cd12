/* Unit tests for conf/masterconf: master.conf parsing and its errors. */
#include "conf/masterconf.h"
#include "util/alloc.h"
#include "util/testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char example[] =
    "# service   type  private unpriv  chroot  wakeup  maxproc command + args\n"
    "smtp        inet  n       -       n       -       -       smtpd\n"
    "127.0.0.1:2587 inet n     -       n       -       -       smtpd\n"
    "    -o smtpd_tls_security_level=encrypt\n"
    "qmgr        unix  n       -       n       300     1       qmgr\n"
    "local       unix  -       n       n       -       -       local\n"
    "auth        unix  y       postern-auth  n  -      -       auth\n";

static bool has_diag(const struct diag_list *diags, const char *text)
{
	int found = 0;
	for (size_t i = 0; i < diags->count; i++)
		if (diags->items[i].severity == DIAG_ERROR &&
		    strcmp(diags->items[i].text, text) == 0)
			found++;
	if (found != 1) {
		fprintf(stderr, "  wanted: %s\n", text);
		for (size_t i = 0; i < diags->count; i++)
			fprintf(stderr, "  have:   %s\n", diags->items[i].text);
	}
	return found == 1;
}

/* Parse a one-service text that should fail with exactly this message. */
static bool line_error(const char *line, const char *message)
{
	struct service_list list;
	struct diag_list diags;
	service_list_init(&list);
	diag_list_init(&diags);
	char *text = xasprintf("# header\n%s\n", line);
	int rc = masterconf_parse_text("master.conf", text, strlen(text), &list, &diags);
	char *want = xasprintf("master.conf:2: %s", message);
	bool ok = rc == -1 && list.count == 0 && diags.count == 1 && has_diag(&diags, want);
	if (!ok)
		fprintf(stderr, "  line: %s\n", line);
	free(want);
	free(text);
	diag_list_free(&diags);
	service_list_free(&list);
	return ok;
}

TEST(example)
{
	struct service_list list;
	struct diag_list diags;
	service_list_init(&list);
	diag_list_init(&diags);
	CHECK(masterconf_parse_text("master.conf", example, strlen(example), &list, &diags) == 0);
	CHECK(diags.count == 0);
	CHECK(list.count == 5);
	if (list.count != 5)
		return;
	const struct service_def *s = &list.items[0];
	CHECK_STR(s->name, "smtp");
	CHECK(s->type == SERVICE_INET && !s->private_socket);
	CHECK(s->privilege == SERVICE_UNPRIV_DEFAULT && s->user_spec == NULL);
	CHECK(!s->chroot_queue && s->chroot_path == NULL);
	CHECK(s->wakeup == 0 && s->max_proc == -1);
	CHECK(s->argc == 1 && strcmp(s->argv[0], "smtpd") == 0 && s->argv[1] == NULL);
	CHECK_STR(s->file, "master.conf");
	CHECK(s->line == 2);

	s = &list.items[1];
	CHECK_STR(s->name, "127.0.0.1:2587");
	CHECK(s->line == 3);
	CHECK(s->argc == 3);
	CHECK_STR(s->argv[1], "-o");
	CHECK_STR(s->argv[2], "smtpd_tls_security_level=encrypt");
	CHECK(s->argv[3] == NULL);

	s = &list.items[2];
	CHECK_STR(s->name, "qmgr");
	CHECK(s->type == SERVICE_UNIX && !s->private_socket);
	CHECK(s->wakeup == 300 && s->max_proc == 1);
	CHECK(s->line == 5);

	s = &list.items[3];
	CHECK(s->private_socket); /* '-' is private for unix */
	CHECK(s->privilege == SERVICE_ROOT);

	s = &list.items[4];
	CHECK(s->private_socket);
	CHECK(s->privilege == SERVICE_USER);
	CHECK_STR(s->user_spec, "postern-auth");
	CHECK(s->line == 7);
	CHECK_STR(service_type_name(s->type), "unix");
	service_list_free(&list);
	CHECK(list.count == 0 && list.items == NULL);
	diag_list_free(&diags);
}

TEST(field_variants)
{
	static const char text[] = "\n"
	                           "  # indented comment\n"
	                           "a unix y postern:mail y 0 0 /usr/bin/prog arg1\n"
	                           "b pass n - /var/jail 10? 5 prog\n" /* Postfix's N? */
	                           "[::1]:25 inet - - n - - smtpd\n"
	                           "[fe80::1%eth0]:smtp inet n - n - - smtpd\n"
	                           "*:submission inet n - n - - smtpd\n"
	                           "mx.example.test:25 inet n - n - - smtpd\r\n"
	                           "a inet n - n - - x\n" /* "a" is a port name here */
	                           "c\tunix\tn\t-\tn\t-\t-\tprog\t-o\n"
	                           "\ta=b\n";
	struct service_list list;
	struct diag_list diags;
	service_list_init(&list);
	diag_list_init(&diags);
	CHECK(masterconf_parse_text("m", text, sizeof(text) - 1, &list, &diags) == 0);
	CHECK(diags.count == 0);
	CHECK(list.count == 8);
	if (list.count != 8)
		return;
	const struct service_def *s = &list.items[0];
	CHECK(s->privilege == SERVICE_USER && strcmp(s->user_spec, "postern:mail") == 0);
	CHECK(s->chroot_queue && s->chroot_path == NULL);
	CHECK(s->wakeup == 0 && s->max_proc == 0);
	CHECK(s->argc == 2 && strcmp(s->argv[0], "/usr/bin/prog") == 0);
	CHECK(s->line == 3);
	s = &list.items[1];
	CHECK(s->type == SERVICE_PASS && !s->private_socket);
	CHECK(!s->chroot_queue && strcmp(s->chroot_path, "/var/jail") == 0);
	CHECK(s->wakeup == 10 && s->max_proc == 5);
	CHECK_STR(list.items[2].name, "[::1]:25");
	CHECK_STR(list.items[5].name, "mx.example.test:25");
	CHECK_STR(list.items[5].argv[0], "smtpd");
	CHECK(list.items[6].type == SERVICE_INET && list.items[6].line == 9);
	s = &list.items[7];
	CHECK(s->argc == 3 && strcmp(s->argv[2], "a=b") == 0 && s->line == 10);
	service_list_free(&list);
	diag_list_free(&diags);
}

TEST(malformed_lines)
{
	CHECK(line_error("short inet n",
	                 "too few fields (3): expected name, type, private, unpriv, chroot, "
	                 "wakeup, maxproc and command"));
	CHECK(line_error("nocmd unix n - n - -",
	                 "too few fields (7): expected name, type, private, unpriv, chroot, "
	                 "wakeup, maxproc and command"));
	CHECK(line_error("bad flurb n - n - 1 prog",
	                 "service bad: unknown service type \"flurb\" (use inet, unix or pass)"));
	/* Postfix's own types: what to do with the line. */
	CHECK(line_error("postlog unix-dgram n - n - 1 postlogd",
	                 "service postlog: unknown service type \"unix-dgram\" (use inet, unix or "
	                 "pass) (Postfix's: master writes maillog_file itself: remove this line)"));
	CHECK(line_error("pickup fifo n - - 60 1 pickup",
	                 "service pickup: unknown service type \"fifo\" (use inet, unix or pass) "
	                 "(Postfix's: a fifo service is a unix service in Postern: write unix)"));
	CHECK(line_error("x unix q - n - - prog",
	                 "service x: private column must be y, n or -, not \"q\""));
	CHECK(line_error("x unix yes - n - - prog",
	                 "service x: private column must be y, n or -, not \"yes\""));
	CHECK(line_error("25 inet y - n - - smtpd",
	                 "service 25: an inet service cannot be private (use n or - in the "
	                 "private column)"));
	CHECK(line_error("x unix n user:gr:oup n - - prog",
	                 "service x: unpriv column must be y, n, - or user[:group], not "
	                 "\"user:gr:oup\""));
	CHECK(
	    line_error("x unix n user: n - - prog",
	               "service x: unpriv column must be y, n, - or user[:group], not \"user:\""));
	CHECK(line_error("x unix n :grp n - - prog",
	                 "service x: unpriv column must be y, n, - or user[:group], not \":grp\""));
	CHECK(line_error("x unix n -x n - - prog",
	                 "service x: unpriv column must be y, n, - or user[:group], not \"-x\""));
	CHECK(line_error("x unix n - jail - - prog",
	                 "service x: chroot column must be y, n, - or an absolute path, not "
	                 "\"jail\""));
	CHECK(line_error("x unix n - ./jail - - prog",
	                 "service x: chroot column must be y, n, - or an absolute path, not "
	                 "\"./jail\""));
	CHECK(line_error("x unix n - n soon - prog",
	                 "service x: wakeup \"soon\" must be a number or -"));
	CHECK(
	    line_error("x unix n - n -5 - prog", "service x: wakeup \"-5\" must not be negative"));
	CHECK(
	    line_error("x unix n - n 5s - prog", "service x: wakeup \"5s\" must be a number or -"));
	CHECK(line_error("x unix n - n 99999999999 - prog",
	                 "service x: wakeup \"99999999999\" is too large"));
	CHECK(line_error("x unix n - n ? - prog", "service x: wakeup \"?\" must be a number or -"));
	CHECK(line_error("x unix n - n 5?? - prog",
	                 "service x: wakeup \"5??\" must be a number or -"));
	CHECK(
	    line_error("x unix n - n - -1 prog", "service x: maxproc \"-1\" must not be negative"));
	CHECK(line_error("x unix n - n - many prog",
	                 "service x: maxproc \"many\" must be a number or -"));
	CHECK(line_error("x unix n - n - 2147483648 prog",
	                 "service x: maxproc \"2147483648\" is too large"));
	CHECK(line_error("a/b unix n - n - - prog",
	                 "service a/b: a unix service name is a socket name and must not contain "
	                 "'/'"));
	CHECK(line_error("/abs pass n - n - - prog",
	                 "service /abs: a pass service name is a socket name and must not contain "
	                 "'/'"));
	CHECK(line_error(".. unix n - n - - prog",
	                 "service ..: a unix service name is a socket name and must not contain "
	                 "'/'"));
	const char *bad_inet[] = {"::1:25",     "[::1]25",  "[::1]:",       "[]:25", "[zz::1]:25",
	                          "host:",      ":25",      "host:port:25", "0",     "65536",
	                          "host:99999", "ho/st:25", "[::1:25",      "smtp!", "[::1]:smtp!"};
	for (size_t i = 0; i < sizeof(bad_inet) / sizeof(bad_inet[0]); i++) {
		char *line = xasprintf("%s inet n - n - - smtpd", bad_inet[i]);
		char *msg = xasprintf("service %s: an inet service name must be port, host:port or "
		                      "[address]:port",
		                      bad_inet[i]);
		CHECK(line_error(line, msg));
		free(line);
		free(msg);
	}
	CHECK(line_error("x unix n - n - - prog -o",
	                 "service x: -o at the end of the command needs name=value"));
	CHECK(line_error("    x unix n - n - - prog",
	                 "line starts with white space but there is no line to continue"));
}

TEST(errors_keep_good_lines)
{
	static const char text[] = "# comment\n"
	                           "good unix n - n - 1 svc\n"
	                           "bad  flurb n - n - 1 svc\n"
	                           "missing unix n - n - 1 no_such_program\n"
	                           "short inet n\n"
	                           "good unix y - n - 2 other\n"
	                           "good inet n - n - - other\n" /* "good" as a port name: ok */
	                           "nul unix n - n - - p\0x\n"
	                           "   continued\n"
	                           "last unix n - n - - p\n";
	struct service_list list;
	struct diag_list diags;
	service_list_init(&list);
	diag_list_init(&diags);
	CHECK(masterconf_parse_text("/etc/m.conf", text, sizeof(text) - 1, &list, &diags) == -1);
	CHECK(diags.count == 4);
	CHECK(has_diag(&diags, "/etc/m.conf:3: service bad: unknown service type \"flurb\" (use "
	                       "inet, unix or pass)"));
	CHECK(has_diag(&diags, "/etc/m.conf:5: too few fields (3): expected name, type, private, "
	                       "unpriv, chroot, wakeup, maxproc and command"));
	CHECK(has_diag(&diags, "/etc/m.conf:6: service good/unix: duplicate (first defined at "
	                       "/etc/m.conf:2)"));
	CHECK(has_diag(&diags, "/etc/m.conf:8: NUL character in line"));
	CHECK(list.count == 4);
	if (list.count == 4) {
		CHECK_STR(list.items[0].name, "good");
		CHECK_STR(list.items[1].name, "missing");
		CHECK(list.items[2].type == SERVICE_INET);
		CHECK_STR(list.items[3].name, "last");
		CHECK(list.items[3].line == 10);
	}
	/* Duplicates are also found across calls (a second file). */
	static const char more[] = "missing unix n - n - 1 again\n";
	CHECK(masterconf_parse_text("two", more, sizeof(more) - 1, &list, &diags) == -1);
	CHECK(has_diag(&diags, "two:1: service missing/unix: duplicate (first defined at "
	                       "/etc/m.conf:4)"));
	service_list_free(&list);
	diag_list_free(&diags);
}

TEST(copy_equal_free)
{
	struct service_list list;
	struct diag_list diags;
	service_list_init(&list);
	diag_list_init(&diags);
	CHECK(masterconf_parse_text("master.conf", example, strlen(example), &list, &diags) == 0);
	CHECK(list.count == 5);
	struct service_def copy;
	service_def_copy(&copy, &list.items[4]);
	CHECK(copy.name != list.items[4].name && copy.argv != list.items[4].argv);
	CHECK(service_def_equal(&copy, &list.items[4]));
	copy.line = 99; /* place does not count */
	CHECK(service_def_equal(&copy, &list.items[4]));
	CHECK(!service_def_equal(&copy, &list.items[3]));
	free(copy.user_spec);
	copy.user_spec = xstrdup("other");
	CHECK(!service_def_equal(&copy, &list.items[4]));
	service_def_free(&copy);
	CHECK(copy.name == NULL && copy.argv == NULL);

	service_def_copy(&copy, &list.items[1]);
	CHECK(service_def_equal(&copy, &list.items[1]));
	free(copy.argv[2]);
	copy.argv[2] = xstrdup("smtpd_tls_security_level=may");
	CHECK(!service_def_equal(&copy, &list.items[1]));
	service_def_free(&copy);

	service_def_copy(&copy, &list.items[2]);
	copy.max_proc = 2;
	CHECK(!service_def_equal(&copy, &list.items[2]));
	service_def_free(&copy);
	CHECK_STR(service_type_name(SERVICE_INET), "inet");
	CHECK_STR(service_type_name(SERVICE_PASS), "pass");
	service_list_free(&list);
	diag_list_free(&diags);
}

TEST(load_file)
{
	struct service_list list;
	struct diag_list diags;
	service_list_init(&list);
	diag_list_init(&diags);
	char dir[] = "/tmp/test_masterconf.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/master.conf", dir);
	CHECK(masterconf_load_file(path, &list, &diags) == -1);
	char *want = xasprintf("%s: cannot open: No such file or directory", path);
	CHECK(diags.count == 1 && has_diag(&diags, want));
	free(want);
	diag_list_free(&diags);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs(example, f);
	fputs("broken line\n", f);
	fclose(f);
	CHECK(masterconf_load_file(path, &list, &diags) == -1);
	CHECK(list.count == 5);
	CHECK(list.count == 5 && strcmp(list.items[0].file, path) == 0);
	want = xasprintf("%s:8: too few fields (2): expected name, type, private, unpriv, chroot, "
	                 "wakeup, maxproc and command",
	                 path);
	CHECK(diags.count == 1 && has_diag(&diags, want));
	free(want);
	unlink(path);
	rmdir(dir);
	free(path);
	service_list_free(&list);
	diag_list_free(&diags);
}

int main(void)
{
	RUN(example);
	RUN(field_variants);
	RUN(malformed_lines);
	RUN(errors_keep_good_lines);
	RUN(copy_equal_free);
	RUN(load_file);
	return TESTING_DONE();
}
