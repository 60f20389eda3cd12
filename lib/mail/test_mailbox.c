/* Unit tests for mailbox locations: domain kinds, virtual users (with the
 * virtual_mailbox_maps lookup and address extensions), system users under
 * each form of home_mailbox, the readers' lookup, and making the
 * directories below a base. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/mailbox.h"
#include "util/alloc.h"
#include "util/testing.h"

static char tmpdir[] = "/tmp/postern-test-mailbox-XXXXXX";

static struct conf *make_conf(const char *home_mailbox)
{
	struct conf *conf = conf_new(tmpdir);
	const char *error = "";
	char *base = xasprintf("%s/vhosts", tmpdir);
	char *spool = xasprintf("%s/spool", tmpdir);
	CHECK(conf_set(conf, "virtual_mailbox_domains", "virt.test, Other.Virt.test", &error) == 0);
	CHECK(conf_set(conf, "mydestination", "local.test", &error) == 0);
	CHECK(conf_set(conf, "virtual_mailbox_base", base, &error) == 0);
	CHECK(conf_set(conf, "mail_spool_directory", spool, &error) == 0);
	CHECK(conf_set(conf, "home_mailbox", home_mailbox, &error) == 0);
	free(base);
	free(spool);
	return conf;
}

static struct passwd user(const char *name, const char *dir)
{
	struct passwd pw = {0};
	pw.pw_name = (char *)name;
	pw.pw_dir = (char *)dir;
	pw.pw_uid = 1234;
	pw.pw_gid = 5678;
	return pw;
}

TEST(domain_kind)
{
	struct conf *conf = make_conf("Maildir/");
	CHECK(mailbox_domain_kind(conf, "virt.test") == MAILBOX_DOMAIN_VIRTUAL);
	CHECK(mailbox_domain_kind(conf, "other.virt.TEST") == MAILBOX_DOMAIN_VIRTUAL);
	CHECK(mailbox_domain_kind(conf, "Local.Test") == MAILBOX_DOMAIN_LOCAL);
	CHECK(mailbox_domain_kind(conf, NULL) == MAILBOX_DOMAIN_LOCAL);
	CHECK(mailbox_domain_kind(conf, "elsewhere.test") == MAILBOX_DOMAIN_OTHER);
	conf_free(conf);
}

TEST(safe_component)
{
	CHECK(mailbox_safe_component("alice"));
	CHECK(mailbox_safe_component("a.b"));
	CHECK(!mailbox_safe_component(""));
	CHECK(!mailbox_safe_component(".."));
	CHECK(!mailbox_safe_component(".hidden"));
	CHECK(!mailbox_safe_component("a/b"));
}

TEST(virtual_location)
{
	struct conf *conf = make_conf("Maildir/");
	struct mailbox_location loc;
	const char *why = "";
	CHECK(mailbox_virtual(conf, "alice", "virt.test", false, &loc, &why) == 0);
	CHECK(loc.format == MAILBOX_MAILDIR);
	CHECK(loc.uid == getuid() && loc.gid == getgid());
	char *want_base = xasprintf("%s/vhosts", tmpdir);
	char *want_path = xasprintf("%s/vhosts/virt.test/alice/Maildir", tmpdir);
	CHECK_STR(loc.base, want_base);
	CHECK_STR(loc.subdirs, "virt.test/alice");
	CHECK_STR(loc.maildir, "Maildir");
	CHECK_STR(loc.path, want_path);
	CHECK(loc.spool == NULL);
	mailbox_location_free(&loc);
	free(want_base);
	free(want_path);
	conf_free(conf);
}

/* The owner's look-up (privileged): by name, remembered per name; a
 * failed one is not remembered and fails again. */
TEST(virtual_owner)
{
	struct conf *conf = make_conf("Maildir/");
	struct mailbox_location loc;
	const char *why = "";
	const char *error = "";
	CHECK(conf_set(conf, "virtual_mailbox_owner", "root", &error) == 0);
	CHECK(mailbox_virtual(conf, "alice", "virt.test", true, &loc, &why) == 0);
	CHECK(loc.uid == 0 && loc.gid == 0);
	mailbox_location_free(&loc);
	CHECK(mailbox_virtual(conf, "bob", "virt.test", true, &loc, &why) == 0);
	CHECK(loc.uid == 0 && loc.gid == 0);
	mailbox_location_free(&loc);
	/* Another name is looked up, not answered from the first one. */
	CHECK(conf_set(conf, "virtual_mailbox_owner", "54321:54322", &error) == 0);
	CHECK(mailbox_virtual(conf, "alice", "virt.test", true, &loc, &why) == 0);
	CHECK(loc.uid == 54321 && loc.gid == 54322);
	mailbox_location_free(&loc);
	CHECK(conf_set(conf, "virtual_mailbox_owner", "no-such-user-postern-test", &error) == 0);
	CHECK(mailbox_virtual(conf, "alice", "virt.test", true, &loc, &why) == -1);
	CHECK(why != NULL && strstr(why, "no-such-user-postern-test") != NULL);
	CHECK(mailbox_virtual(conf, "alice", "virt.test", true, &loc, &why) == -1);
	CHECK(conf_set(conf, "virtual_mailbox_owner", "root", &error) == 0);
	CHECK(mailbox_virtual(conf, "alice", "virt.test", true, &loc, &why) == 0);
	CHECK(loc.uid == 0);
	mailbox_location_free(&loc);
	conf_free(conf);
}

TEST(virtual_lookup)
{
	static const struct table_entry entries[] = {
	    {"alice@virt.test", "quota=1000"},
	    {"bob+special@virt.test", ""},
	    {"bob@virt.test", "quota=5"},
	};
	char *path = xasprintf("%s/vmailbox.lmdb", tmpdir);
	const char *error = "";
	CHECK(table_build_lmdb(path, entries, 3, 0600, (gid_t)-1, &error) == 0);
	char *spec = xasprintf("lmdb:%s", path);
	struct table *maps = table_open(spec, &error);
	CHECK(maps != NULL);
	if (maps == NULL) {
		fprintf(stderr, "table_open %s: %s\n", spec, error);
		free(spec);
		free(path);
		return;
	}
	struct str value = STR_INIT;
	char *local = NULL;
	CHECK(mailbox_virtual_lookup(maps, "+", "alice@virt.test", &value, &local, &error) == 1);
	CHECK_STR(local, "alice");
	CHECK_STR(str_cstr(&value), "quota=1000");
	free(local);
	/* the extension goes to the base's mailbox */
	CHECK(mailbox_virtual_lookup(maps, "+", "alice+list@virt.test", &value, &local, &error) ==
	      1);
	CHECK_STR(local, "alice");
	free(local);
	/* unless the address with extension has an entry of its own */
	CHECK(mailbox_virtual_lookup(maps, "+", "bob+special@virt.test", &value, &local, &error) ==
	      1);
	CHECK_STR(local, "bob+special");
	CHECK_STR(str_cstr(&value), "");
	free(local);
	CHECK(mailbox_virtual_lookup(maps, "+", "bob+other@virt.test", &value, &local, &error) ==
	      1);
	CHECK_STR(local, "bob");
	CHECK_STR(str_cstr(&value), "quota=5");
	free(local);
	/* no delimiter: no extensions */
	CHECK(mailbox_virtual_lookup(maps, "", "alice+list@virt.test", &value, &local, &error) ==
	      0);
	CHECK(local == NULL);
	CHECK(mailbox_virtual_lookup(maps, "+", "carol@virt.test", &value, &local, &error) == 0);
	CHECK(local == NULL);
	CHECK(mailbox_virtual_lookup(maps, "+", "carol+x@virt.test", &value, &local, &error) == 0);
	CHECK(local == NULL);
	str_free(&value);
	table_close(maps);
	free(spec);
	free(path);
}

TEST(system_maildir)
{
	struct conf *conf = make_conf("Mail/box/");
	struct passwd pw = user("alice", "/home/alice");
	struct mailbox_location loc;
	const char *why = "";
	CHECK(mailbox_system(conf, &pw, &loc, &why) == 0);
	CHECK(loc.format == MAILBOX_MAILDIR);
	CHECK(loc.uid == 1234 && loc.gid == 5678);
	CHECK_STR(loc.base, "/home/alice");
	CHECK_STR(loc.subdirs, "");
	CHECK_STR(loc.maildir, "Mail/box");
	CHECK_STR(loc.path, "/home/alice/Mail/box");
	mailbox_location_free(&loc);
	/* a home directory is needed */
	struct passwd nohome = user("bob", "relative");
	CHECK(mailbox_system(conf, &nohome, &loc, &why) == -1);
	CHECK_STR(why, "user has no usable home directory");
	conf_free(conf);
}

TEST(system_mbox)
{
	struct conf *conf = make_conf("mbox");
	struct passwd pw = user("alice", "/home/alice");
	struct mailbox_location loc;
	const char *why = "";
	CHECK(mailbox_system(conf, &pw, &loc, &why) == 0);
	CHECK(loc.format == MAILBOX_MBOX);
	CHECK_STR(loc.path, "/home/alice/mbox");
	CHECK(loc.base == NULL && loc.spool == NULL);
	mailbox_location_free(&loc);
	conf_free(conf);

	/* empty home_mailbox: the spool, no home needed */
	conf = make_conf("");
	struct passwd nohome = user("bob", "");
	CHECK(mailbox_system(conf, &nohome, &loc, &why) == 0);
	CHECK(loc.format == MAILBOX_MBOX);
	char *spool = xasprintf("%s/spool", tmpdir);
	char *want = xasprintf("%s/spool/bob", tmpdir);
	CHECK_STR(loc.spool, spool);
	CHECK_STR(loc.path, want);
	mailbox_location_free(&loc);
	free(spool);
	free(want);
	conf_free(conf);
}

TEST(find)
{
	struct conf *conf = make_conf("Maildir/");
	struct mailbox_location loc;
	const char *why = "";
	CHECK(mailbox_find(conf, "alice@virt.test", false, &loc, &why) == 0);
	CHECK(loc.format == MAILBOX_MAILDIR);
	CHECK_STR(loc.subdirs, "virt.test/alice");
	mailbox_location_free(&loc);
	CHECK(mailbox_find(conf, "../x@virt.test", false, &loc, &why) == -1);
	CHECK_STR(why, "unsafe mailbox name");
	CHECK(mailbox_find(conf, "alice@..", false, &loc, &why) == -1);
	CHECK_STR(why, "unsafe mailbox name");
	CHECK(mailbox_find(conf, "alice@elsewhere.test", false, &loc, &why) == -1);
	CHECK_STR(why, "the user's domain is not delivered here");
	CHECK(mailbox_find(conf, "no-such-user-postern-test", false, &loc, &why) == -1);
	CHECK_STR(why, "no such system user");
	/* root exists everywhere: found unprivileged, refused when privileged */
	CHECK(mailbox_find(conf, "root@local.test", false, &loc, &why) == 0);
	CHECK(loc.uid == 0);
	CHECK(loc.path != NULL && strstr(loc.path, "/Maildir") != NULL);
	mailbox_location_free(&loc);
	CHECK(mailbox_find(conf, "root", true, &loc, &why) == -1);
	CHECK_STR(why, "mailboxes owned by root are not served");
	CHECK(loc.path == NULL);
	conf_free(conf);
	/* readers serve Maildirs only */
	conf = make_conf("");
	CHECK(mailbox_find(conf, "root", false, &loc, &why) == -1);
	CHECK(strstr(why, "mbox") != NULL);
	conf_free(conf);
}

TEST(make_dirs)
{
	struct str path = STR_INIT;
	const char *error = "";
	char *base = xasprintf("%s/base", tmpdir);
	CHECK(mailbox_make_dirs(base, "dom/user", &path, &error) == -1); /* base missing */
	CHECK(mkdir(base, 0700) == 0);
	CHECK(mailbox_make_dirs(base, "dom/user", &path, &error) == 0);
	char *want = xasprintf("%s/dom/user", base);
	CHECK_STR(str_cstr(&path), want);
	struct stat st;
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	/* again: already there */
	CHECK(mailbox_make_dirs(base, "dom/user", &path, &error) == 0);
	CHECK(mailbox_make_dirs(base, "", &path, &error) == 0);
	CHECK_STR(str_cstr(&path), base);
	rmdir(want);
	free(want);
	want = xasprintf("%s/dom", base);
	rmdir(want);
	rmdir(base);
	free(want);
	free(base);
	str_free(&path);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(domain_kind);
	RUN(safe_component);
	RUN(virtual_location);
	RUN(virtual_owner);
	RUN(virtual_lookup);
	RUN(system_maildir);
	RUN(system_mbox);
	RUN(find);
	RUN(make_dirs);
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
	return TESTING_DONE();
}
