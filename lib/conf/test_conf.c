/* Unit tests for conf/conf: main.conf parsing, diagnostics, expansion and
 * the typed getters. */
#include "conf/conf.h"
#include "conf/params.h"
#include "conf/postfix_hints.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Parse text as "main.conf" into a fresh conf; diags are kept in *diags. */
static struct conf *parse(const char *text, struct diag_list *diags, int *rc)
{
	struct conf *conf = conf_new("/etc/test");
	diag_list_init(diags);
	*rc = conf_parse_text(conf, "main.conf", text, strlen(text), diags);
	return conf;
}

/* True if diags hold exactly one entry with this severity and text. */
static bool has_diag(const struct diag_list *diags, enum diag_severity severity, const char *text)
{
	int found = 0;
	for (size_t i = 0; i < diags->count; i++)
		if (diags->items[i].severity == severity && strcmp(diags->items[i].text, text) == 0)
			found++;
	if (found != 1) {
		fprintf(stderr, "  wanted: %s\n", text);
		for (size_t i = 0; i < diags->count; i++)
			fprintf(stderr, "  have:   %s\n", diags->items[i].text);
	}
	return found == 1;
}

TEST(defaults)
{
	struct conf *conf = conf_new("/etc/test");
	CHECK_STR(conf_directory(conf), "/etc/test");
	CHECK_STR(conf_get(conf, "config_directory"), "/etc/test");
	CHECK(!conf_is_set(conf, "config_directory"));
	CHECK_STR(conf_get(conf, "queue_directory"), "/var/spool/postern");
	CHECK(conf_get_int(conf, "default_process_limit") == 100);
	CHECK(conf_get_time(conf, "max_idle") == 100);
	CHECK(conf_get_time(conf, "daemon_timeout") == 18000);
	CHECK(!conf_get_bool(conf, "smtpd_helo_required"));
	CHECK_STR(conf_get(conf, "maillog_file"), "");
	const char *host = conf_get(conf, "myhostname");
	CHECK(strchr(host, '.') != NULL);
	CHECK_STR(conf_get(conf, "mydomain"), strchr(host, '.') + 1);
	CHECK_STR(conf_get(conf, "myorigin"), host);
	CHECK_STR(conf_get_raw(conf, "myorigin"), "$myhostname");
	char *const *env = conf_get_list(conf, "import_environment");
	CHECK_STR(env[0], "TZ");
	CHECK_STR(env[1], "LANG=C");
	CHECK(env[2] == NULL);
	CHECK(conf_set_names(conf)[0] == NULL);
	const char *file = NULL;
	int line = -1;
	CHECK(!conf_origin(conf, "max_use", &file, &line));
	conf_free(conf);
}

TEST(good_file)
{
	struct diag_list diags;
	int rc;
	struct conf *conf = parse("# a comment\n"
	                          "\n"
	                          "   # an indented comment\n"
	                          "myhostname = mx.example.com\n"
	                          "max_use=7\n"
	                          "max_idle   =\t 2m  \t\n"
	                          "mydestination = $myhostname,\n"
	                          "    localhost.$mydomain\n"
	                          "# a comment between continuation lines\n"
	                          "\n"
	                          "\tother.example\n"
	                          "syslog_name = mail#1 # not a comment\n"
	                          "smtpd_helo_required = YES\r\n"
	                          "maillog_file =\n"
	                          "max_use = 8\n",
	                          &diags, &rc);
	CHECK(rc == 0);
	CHECK(diags.count == 0);
	CHECK_STR(conf_get(conf, "myhostname"), "mx.example.com");
	CHECK_STR(conf_get(conf, "mydomain"), "example.com"); /* follows myhostname */
	CHECK(!conf_is_set(conf, "mydomain"));
	CHECK(conf_get_int(conf, "max_use") == 8); /* the later setting wins */
	CHECK(conf_get_time(conf, "max_idle") == 120);
	CHECK_STR(conf_get_raw(conf, "max_idle"), "2m");
	CHECK_STR(conf_get_raw(conf, "mydestination"),
	          "$myhostname, localhost.$mydomain other.example");
	char *const *dest = conf_get_list(conf, "mydestination");
	CHECK_STR(dest[0], "mx.example.com");
	CHECK_STR(dest[1], "localhost.example.com");
	CHECK_STR(dest[2], "other.example");
	CHECK(dest[3] == NULL);
	CHECK_STR(conf_get(conf, "syslog_name"), "mail#1 # not a comment");
	CHECK(conf_get_bool(conf, "smtpd_helo_required"));
	CHECK_STR(conf_get(conf, "maillog_file"), "");
	CHECK(conf_is_set(conf, "maillog_file"));
	const char *file = NULL;
	int line = 0;
	CHECK(conf_origin(conf, "mydestination", &file, &line));
	CHECK_STR(file, "main.conf");
	CHECK(line == 7);
	CHECK(conf_origin(conf, "max_use", &file, &line) && line == 15);
	CHECK(conf_origin(conf, "smtpd_helo_required", &file, &line) && line == 13);
	const char *const *names = conf_set_names(conf);
	const char *want[] = {"myhostname",    "max_use",     "max_idle",
	                      "mydestination", "syslog_name", "smtpd_helo_required",
	                      "maillog_file",  NULL};
	for (int i = 0; want[i]; i++)
		CHECK_STR(names[i], want[i]);
	CHECK(names[7] == NULL);
	diag_list_free(&diags);
	conf_free(conf);
}

TEST(syntax_errors)
{
	struct diag_list diags;
	int rc;
	struct conf *conf = parse("  indented = first line\n"
	                          "max_use = 3\n"
	                          "this line has no equals sign\n"
	                          "bad-name = 1\n"
	                          "= 1\n"
	                          "no_such_parameter = 1\n"
	                          "max_idle = forever\n"
	                          "daemon_timeout = 5\n"
	                          "    x\n"
	                          "ipc_timeout = -5s\n",
	                          &diags, &rc);
	CHECK(rc == -1);
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:1: line starts with white space but there is no line to "
	               "continue"));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:3: expected \"name = value\", not \"this line has no equals "
	               "sign\""));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:4: bad parameter name \"bad-name\" (letters, digits and '_' "
	               "only)"));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:5: bad parameter name \"\" (letters, digits and '_' only)"));
	CHECK(has_diag(&diags, DIAG_WARNING, "main.conf:6: unknown parameter no_such_parameter"));
	CHECK(has_diag(&diags, DIAG_ERROR, "main.conf:7: max_idle: invalid time value 'forever'"));
	CHECK(
	    has_diag(&diags, DIAG_ERROR, "main.conf:8: daemon_timeout: invalid time value '5 x'"));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:10: ipc_timeout: invalid time value '-5s': negative"));
	CHECK(diags.count == 8);
	CHECK(diag_count(&diags, DIAG_WARNING) == 1);
	CHECK(diag_count(&diags, DIAG_ERROR) == 7);
	/* The unknown name is still stored and usable. */
	CHECK(conf_is_set(conf, "no_such_parameter"));
	CHECK_STR(conf_get(conf, "no_such_parameter"), "1");
	/* A bad setting is kept raw; typed getters fall back to the default. */
	CHECK_STR(conf_get_raw(conf, "max_idle"), "forever");
	CHECK(conf_get_time(conf, "max_idle") == 100);
	CHECK(conf_get_int(conf, "max_use") == 3);
	diag_list_free(&diags);
	conf_free(conf);
}

TEST(warnings_only)
{
	struct diag_list diags;
	int rc;
	struct conf *conf = parse("unknown_one = x\nunknown_two = $unknown_one\n", &diags, &rc);
	CHECK(rc == 0);
	CHECK(diag_count(&diags, DIAG_WARNING) == 2 && !diag_has_errors(&diags));
	CHECK(has_diag(&diags, DIAG_WARNING, "main.conf:2: unknown parameter unknown_two"));
	CHECK_STR(conf_get(conf, "unknown_two"), "x");
	diag_list_free(&diags);
	conf_free(conf);
	/* A Postfix parameter Postern lacks: what takes its place. */
	conf = parse("smtpd_recipient_restrictions = permit_mynetworks, reject_rbl_client x\n"
	             "biff = no\nsmtpd_use_tls = yes\n",
	             &diags, &rc);
	CHECK(rc == 0);
	CHECK(diags.count == 3);
	const char *first = diags.count > 0 ? diags.items[0].text : "";
	CHECK(strncmp(
	          first,
	          "main.conf:1: unknown parameter smtpd_recipient_restrictions (Postfix's: "
	          "Postern has no restriction lists",
	          strlen("main.conf:1: unknown parameter smtpd_recipient_restrictions (Postfix's: "
	                 "Postern has no restriction lists")) == 0);
	CHECK(strstr(first, "reject_rbl_client: smtpd_dnsbl_sites") != NULL);
	CHECK(has_diag(&diags, DIAG_WARNING,
	               "main.conf:2: unknown parameter biff (Postfix's: it has no effect in "
	               "Postern)"));
	CHECK(has_diag(&diags, DIAG_WARNING,
	               "main.conf:3: unknown parameter smtpd_use_tls "
	               "(Postfix's: use smtpd_tls_security_level = may)"));
	diag_list_free(&diags);
	conf_free(conf);
}

/* The hints are sorted (they are searched) and name real parameters. */
TEST(postfix_hints)
{
	CHECK(postfix_hint("smtpd_relay_restrictions") != NULL);
	CHECK(postfix_hint("append_dot_mydomain") != NULL);
	CHECK(postfix_hint("smtputf8_enable") != NULL);
	CHECK(postfix_hint("smtpd_tls_mandatory_ciphers") != NULL);
	/* A hint is for what Postern has not: never for one of its parameters. */
	for (size_t i = 0; i < param_table_count; i++)
		if (postfix_hint(param_table[i].name) != NULL) {
			fprintf(stderr, "hint for a parameter: %s\n", param_table[i].name);
			CHECK(false);
		}
	CHECK(postfix_hint("smtp_tls_mandatory_protocols") != NULL);
	CHECK(postfix_hint("smtpd_tls_mandatory_protocols") != NULL);
	/* Every entry is found: the list is in strcmp order. */
	static const char *const listed[] = {
	    "biff",
	    "default_recipient_limit",
	    "disable_dns_lookups",
	    "smtp_sasl_auth_enable",
	    "smtp_sasl_tls_security_options",
	    "smtpd_delay_reject",
	    "smtpd_tls_received_header",
	    "smtputf8_enable",
	};
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
		CHECK(postfix_hint(listed[i]) != NULL);
	CHECK(postfix_hint("myhostname") == NULL);
	CHECK(postfix_hint("smtp_tls_CApath") == NULL); /* supported now */
	CHECK(postfix_hint("") == NULL);
	static const char *const named[] = {"smtpd_dnsbl_sites",
	                                    "smtpd_sender_access_maps",
	                                    "smtpd_reject_unknown_sender_domain",
	                                    "smtpd_tls_security_level",
	                                    "smtp_tls_security_level",
	                                    "smtp_tls_CAfile",
	                                    "smtpd_tls_CAfile",
	                                    "message_size_limit"};
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		CHECK(param_find(named[i]) != NULL);
	/* master.cf programs; the table is searched, so every name is found. */
	static const char *const programs[] = {
	    "anvil",  "bounce",   "cleanup",         "discard",  "dnsblog", "error",  "flush",
	    "oqmgr",  "postlogd", "postscreen",      "proxymap", "retry",   "scache", "spawn",
	    "tlsmgr", "tlsproxy", "trivial-rewrite", "verify",   "virtual"};
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		CHECK(postfix_program_hint(programs[i]) != NULL);
	CHECK(postfix_program_hint("/usr/lib/postfix/sbin/cleanup") != NULL);
	CHECK(postfix_program_hint("smtpd") == NULL);
	CHECK(postfix_program_hint("local") == NULL);
	CHECK(postfix_program_hint("lmtp") == NULL);
}

TEST(per_transport_parameters)
{
	struct diag_list diags;
	int rc;
	/* Known without a warning, checked against their type. */
	struct conf *conf = parse("default_destination_concurrency_limit = 7\n"
	                          "slow_destination_concurrency_limit = 1\n"
	                          "relay_destination_recipient_limit = 2\n"
	                          "both = $slow_destination_concurrency_limit "
	                          "$fast_destination_concurrency_limit\n",
	                          &diags, &rc);
	CHECK(rc == 0);
	CHECK(diag_count(&diags, DIAG_WARNING) == 1); /* "both" only */
	CHECK(has_diag(&diags, DIAG_WARNING, "main.conf:4: unknown parameter both"));
	CHECK(conf_get_int(conf, "slow_destination_concurrency_limit") == 1);
	CHECK(conf_get_int(conf, "relay_destination_recipient_limit") == 2);
	/* Not set: the pattern's default, and still not set. */
	CHECK(!conf_is_set(conf, "fast_destination_concurrency_limit"));
	CHECK(conf_get_int(conf, "fast_destination_concurrency_limit") == 7);
	CHECK(conf_get_int(conf, "fast_destination_recipient_limit") == 50);
	CHECK_STR(conf_get_raw(conf, "fast_destination_concurrency_limit"),
	          "$default_destination_concurrency_limit");
	CHECK(!conf_is_set(conf, "fast_destination_concurrency_limit"));
	CHECK_STR(conf_get(conf, "both"), "1 7");
	const char *error;
	CHECK(conf_set(conf, "relay_destination_recipient_limit", "many", &error) != 0);
	CHECK(conf_set(conf, "relay_destination_recipient_limit", "3", &error) == 0);
	CHECK(conf_get_int(conf, "relay_destination_recipient_limit") == 3);
	diag_list_free(&diags);
	conf_free(conf);

	conf = parse("slow_destination_concurrency_limit = lots\n", &diags, &rc);
	CHECK(rc == -1);
	CHECK(diag_has_errors(&diags));
	diag_list_free(&diags);
	conf_free(conf);
}

TEST(nul_byte)
{
	struct conf *conf = conf_new("/etc/test");
	struct diag_list diags;
	diag_list_init(&diags);
	static const char text[] = "max_use = 5\nsyslog_name = a\0b\n    more\nmax_idle = 5s\n";
	CHECK(conf_parse_text(conf, "f", text, sizeof(text) - 1, &diags) == -1);
	CHECK(diags.count == 1);
	CHECK(has_diag(&diags, DIAG_ERROR, "f:2: NUL character in line"));
	CHECK(conf_get_time(conf, "max_idle") == 5);
	CHECK(!conf_is_set(conf, "syslog_name"));
	diag_list_free(&diags);
	conf_free(conf);
}

TEST(expansion_forms)
{
	struct diag_list diags;
	int rc;
	struct conf *conf = parse("myhostname = mx.example.com\n"
	                          "empty =\n"
	                          "full = yes\n"
	                          "a = <$myhostname>\n"
	                          "b = <${myhostname}x>\n"
	                          "c = ${full?on}${empty?off}\n"
	                          "d = ${full:on}${empty:off}\n"
	                          "e = ${undefined_name}|$undefined_name|${undefined_name:dflt}\n"
	                          "f = cost $$5 $ alone, ${full?$${a}}\n"
	                          "g = ${full?${empty:[${b}]}}\n"
	                          "h = $a$b\n",
	                          &diags, &rc);
	CHECK(rc == 0);
	CHECK_STR(conf_get(conf, "a"), "<mx.example.com>");
	CHECK_STR(conf_get(conf, "b"), "<mx.example.comx>");
	CHECK_STR(conf_get(conf, "c"), "on");
	CHECK_STR(conf_get(conf, "d"), "off");
	CHECK_STR(conf_get(conf, "e"), "||dflt");
	CHECK_STR(conf_get(conf, "f"), "cost $5 $ alone, ${a}");
	CHECK_STR(conf_get(conf, "g"), "[<mx.example.comx>]");
	CHECK_STR(conf_get(conf, "h"), "<mx.example.com><mx.example.comx>");
	char *s = conf_expand(conf, "$myorigin/${mydomain}/$nothing/$$/$");
	CHECK_STR(s, "mx.example.com/example.com//$/$");
	free(s);
	s = conf_expand(conf, "");
	CHECK_STR(s, "");
	free(s);
	diag_list_free(&diags);
	conf_free(conf);
}

TEST(expansion_errors)
{
	struct diag_list diags;
	int rc;
	struct conf *conf = parse("a = x$b\n"
	                          "b = $c\n"
	                          "c = ${a}\n"
	                          "self = $self\n"
	                          "unterminated = ${a\n"
	                          "badref = ${a-b}\n"
	                          "emptyref = ${?x}\n"
	                          "uses = [$self]\n"
	                          "max_use = ${cond?\n"
	                          "    12}\n"
	                          "cond = yes\n"
	                          "max_idle = ${cond?5s}\n"
	                          "master_stop_timeout = $number\n"
	                          "number = 5 days\n",
	                          &diags, &rc);
	CHECK(rc == -1);
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:1: a: recursive reference: $a -> $b -> $c -> $a"));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:2: b: recursive reference: $b -> $c -> $a -> $b"));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:3: c: recursive reference: $c -> $a -> $b -> $c"));
	CHECK(
	    has_diag(&diags, DIAG_ERROR, "main.conf:4: self: recursive reference: $self -> $self"));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:5: unterminated: unterminated '${' in \"${a\""));
	CHECK(has_diag(&diags, DIAG_ERROR, "main.conf:6: badref: bad reference \"${a-b}\""));
	CHECK(has_diag(&diags, DIAG_ERROR, "main.conf:7: emptyref: bad reference \"${?x}\""));
	CHECK(
	    has_diag(&diags, DIAG_ERROR, "main.conf:8: uses: recursive reference: $self -> $self"));
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:13: master_stop_timeout: invalid time value '5 days'"));
	/* The continuation line joins with a space, which an integer refuses. */
	CHECK(has_diag(&diags, DIAG_ERROR, "main.conf:9: max_use: invalid integer value ' 12'"));
	CHECK(diag_count(&diags, DIAG_ERROR) == 10);
	CHECK(diag_count(&diags, DIAG_WARNING) == 10);
	CHECK(conf_get_int(conf, "max_use") == 100);
	CHECK(conf_get_time(conf, "max_idle") == 5);
	CHECK(conf_get_time(conf, "master_stop_timeout") == 10); /* the default */
	/* Look-ups of recursive values end; the loop expands to nothing. */
	CHECK_STR(conf_get(conf, "a"), "x");
	CHECK_STR(conf_get(conf, "self"), "");
	diag_list_free(&diags);
	conf_free(conf);
}

TEST(expansion_limits)
{
	struct str text = STR_INIT;
	/* A chain 25 deep: too deep at the top, fine further down. */
	for (int i = 0; i < 25; i++)
		str_printf(&text, "p%d = $p%d\n", i, i + 1);
	str_printf(&text, "p25 = end\n");
	struct diag_list diags;
	int rc;
	struct conf *conf = parse(str_cstr(&text), &diags, &rc);
	CHECK(rc == -1);
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:1: p0: references nested more than 20 deep (at $p20)"));
	CHECK_STR(conf_get(conf, "p10"), "end");
	diag_list_free(&diags);
	conf_free(conf);

	/* Each level doubles: 2^30 copies is refused, not attempted. */
	str_clear(&text);
	str_printf(&text, "q0 = 0123456789\n");
	for (int i = 1; i <= 19; i++)
		str_printf(&text, "q%d = $q%d$q%d\n", i, i - 1, i - 1);
	conf = parse(str_cstr(&text), &diags, &rc);
	CHECK(rc == -1);
	CHECK(has_diag(&diags, DIAG_ERROR,
	               "main.conf:18: q17: expansion is too large (more than 1024 KiB of work)"));
	CHECK(strlen(conf_get(conf, "q10")) == 10240);
	CHECK(strlen(conf_get(conf, "q19")) < 1024 * 1024);
	diag_list_free(&diags);
	conf_free(conf);
	str_free(&text);
}

TEST(set_and_cache)
{
	struct conf *conf = conf_new("/etc/test");
	const char *error = NULL;
	CHECK(conf_set(conf, "myhostname", "a.example.org", &error) == 0);
	const char *old_origin = conf_get(conf, "myorigin");
	CHECK_STR(old_origin, "a.example.org");
	CHECK_STR(conf_get(conf, "mydomain"), "example.org");
	CHECK(conf_set(conf, "myhostname", "b.example.net", &error) == 0);
	CHECK_STR(conf_get(conf, "myorigin"), "b.example.net");
	CHECK_STR(conf_get(conf, "mydomain"), "example.net");
	CHECK_STR(old_origin, "a.example.org"); /* still valid */
	CHECK(conf_set(conf, "max_idle", "1h30m", &error) == 0);
	CHECK(conf_get_time(conf, "max_idle") == 5400);
	CHECK(conf_set(conf, "max_idle", "soon", &error) == -1);
	CHECK_STR(error, "invalid time value 'soon'");
	CHECK(conf_get_time(conf, "max_idle") == 5400); /* unchanged */
	CHECK(conf_set(conf, "max_use", "$max_use", &error) == -1);
	CHECK_STR(error, "recursive reference: $max_use -> $max_use");
	CHECK(conf_set(conf, "brand_new", "$brand_new", &error) == -1);
	CHECK(!conf_is_set(conf, "brand_new"));
	CHECK(conf_set(conf, "bad name", "1", &error) == -1);
	CHECK_STR(error, "bad parameter name \"bad name\" (letters, digits and '_' only)");
	CHECK(conf_set(conf, "", "1", &error) == -1);
	CHECK(conf_set(conf, "custom_thing", "17", &error) == 0);
	CHECK(conf_set(conf, "max_use", "$custom_thing", &error) == 0);
	CHECK(conf_get_int(conf, "max_use") == 17);
	CHECK(conf_set(conf, "default_process_limit", "${custom_thing}x", &error) == -1);
	CHECK_STR(error, "invalid integer value '17x'");
	const char *file = NULL;
	int line = -1;
	CHECK(conf_origin(conf, "max_use", &file, &line) && line == 0 && file != NULL);
	const char *const *names = conf_set_names(conf);
	CHECK_STR(names[0], "myhostname");
	CHECK_STR(names[1], "max_idle");
	CHECK_STR(names[2], "custom_thing");
	CHECK_STR(names[3], "max_use");
	CHECK(names[4] == NULL);
	CHECK(conf_set(conf, "mydomain", "fixed.test", &error) == 0);
	CHECK(conf_set(conf, "myhostname", "c.other.test", &error) == 0);
	CHECK_STR(conf_get(conf, "mydomain"), "fixed.test");
	conf_free(conf);
}

TEST(typed_getters)
{
	struct diag_list diags;
	int rc;
	struct conf *conf = parse("max_use = -3\n"
	                          "smtpd_helo_required = off\n"
	                          "daemon_timeout = 1w\n"
	                          "size_like = 10m\n"
	                          "inet_interfaces = ,127.0.0.1,, ::1\t, \n"
	                          "inet_protocols =\n"
	                          "header_checks = regexp:/a, inline:{ x=y, { k = v, w } },"
	                          "static:{t t} a{b c}\n"
	                          "body_checks = a{b c\n",
	                          &diags, &rc);
	CHECK(rc == 0);
	CHECK(conf_get_int(conf, "max_use") == -3);
	CHECK(!conf_get_bool(conf, "smtpd_helo_required"));
	CHECK(conf_get_time(conf, "daemon_timeout") == 604800);
	CHECK(conf_get_size(conf, "size_like") == 10 * 1024 * 1024);
	char *const *list = conf_get_list(conf, "inet_interfaces");
	CHECK_STR(list[0], "127.0.0.1");
	CHECK_STR(list[1], "::1");
	CHECK(list[2] == NULL);
	CHECK(conf_get_list(conf, "inet_interfaces") == list); /* cached */
	CHECK(conf_get_list(conf, "inet_protocols")[0] == NULL);
	/* Text in braces is one word with its separators (Postfix's lists). */
	list = conf_get_list(conf, "header_checks");
	CHECK_STR(list[0], "regexp:/a");
	CHECK_STR(list[1], "inline:{ x=y, { k = v, w } }");
	CHECK_STR(list[2], "static:{t t}");
	CHECK_STR(list[3], "a{b c}");
	CHECK(list[4] == NULL);
	/* A '{' without its '}' is an ordinary character. */
	list = conf_get_list(conf, "body_checks");
	CHECK_STR(list[0], "a{b");
	CHECK_STR(list[1], "c");
	CHECK(list[2] == NULL);
	diag_list_free(&diags);
	conf_free(conf);
}

static int child_status(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		fn();
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

static void get_unknown(void)
{
	struct conf *conf = conf_new("/etc/test");
	conf_get(conf, "no_such_parameter");
}

static void get_wrong_type(void)
{
	struct conf *conf = conf_new("/etc/test");
	conf_get_int(conf, "max_idle");
}

TEST(programming_errors_abort)
{
	int status = child_status(get_unknown);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	status = child_status(get_wrong_type);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

TEST(load_files)
{
	struct diag_list diags;
	diag_list_init(&diags);
	char dir[] = "/tmp/test_conf.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/main.conf", dir);

	/* A missing file is an error that names the path. */
	CHECK(conf_load(dir, &diags) == NULL);
	CHECK(diags.count == 1);
	char *want = xasprintf("%s: cannot open: No such file or directory", path);
	CHECK(has_diag(&diags, DIAG_ERROR, want));
	free(want);
	diag_list_free(&diags);

	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("queue_directory = /tmp/q\nmax_use = lots\n", f);
	fclose(f);
	CHECK(conf_load(dir, &diags) == NULL);
	want = xasprintf("%s:2: max_use: invalid integer value 'lots'", path);
	CHECK(has_diag(&diags, DIAG_ERROR, want));
	free(want);
	diag_list_free(&diags);

	f = fopen(path, "w");
	fputs("queue_directory = /tmp/q\nmy_own = 1\n", f);
	fclose(f);
	struct conf *conf = conf_load(dir, &diags);
	CHECK(conf != NULL);
	CHECK(diag_count(&diags, DIAG_WARNING) == 1);
	if (conf) {
		CHECK_STR(conf_get(conf, "queue_directory"), "/tmp/q");
		CHECK_STR(conf_get(conf, "config_directory"), dir);
		const char *file = NULL;
		int line = 0;
		CHECK(conf_origin(conf, "queue_directory", &file, &line));
		CHECK_STR(file, path);
		CHECK(line == 1);
	}
	conf_free(conf);
	diag_list_free(&diags);

	/* A directory is not a file. */
	conf = conf_new(dir);
	CHECK(conf_load_file(conf, dir, &diags) == -1);
	CHECK(diags.count == 1 && strstr(diags.items[0].text, dir) == diags.items[0].text);
	conf_free(conf);
	diag_list_free(&diags);

	unlink(path);
	rmdir(dir);
	free(path);
}

TEST(diag_list)
{
	struct diag_list diags;
	diag_list_init(&diags);
	CHECK(!diag_has_errors(&diags));
	diag_add(&diags, DIAG_WARNING, "f", 3, "w %d", 1);
	CHECK(!diag_has_errors(&diags));
	diag_add(&diags, DIAG_ERROR, "f", 0, "no line");
	diag_add(&diags, DIAG_ERROR, NULL, 9, "no file");
	for (int i = 0; i < 20; i++)
		diag_add(&diags, DIAG_WARNING, "g", i + 1, "%s", "many");
	CHECK(diag_has_errors(&diags));
	CHECK(diag_count(&diags, DIAG_ERROR) == 2);
	CHECK(diag_count(&diags, DIAG_WARNING) == 21);
	CHECK_STR(diags.items[0].text, "f:3: w 1");
	CHECK_STR(diags.items[1].text, "f: no line");
	CHECK_STR(diags.items[2].text, "no file");
	CHECK_STR(diags.items[22].text, "g:20: many");
	diag_list_free(&diags);
	CHECK(diags.count == 0 && diags.items == NULL);
}

int main(void)
{
	RUN(defaults);
	RUN(good_file);
	RUN(syntax_errors);
	RUN(warnings_only);
	RUN(postfix_hints);
	RUN(per_transport_parameters);
	RUN(nul_byte);
	RUN(expansion_forms);
	RUN(expansion_errors);
	RUN(expansion_limits);
	RUN(set_and_cache);
	RUN(typed_getters);
	RUN(programming_errors_abort);
	RUN(load_files);
	RUN(diag_list);
	return TESTING_DONE();
}
