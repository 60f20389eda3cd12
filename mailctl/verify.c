/*
 * mailctl verify: the address verification cache (address_verify_map,
 * lib/mail/verify_cache.h) that smtpd's smtpd_reject_unverified_recipient
 * and _sender fill through probes.
 *   list [--json]        every entry: address, status, when it was
 *                        learned, when the last probe went out, the reply
 *   delete ADDRESS...    forget addresses (a result the admin knows to be
 *                        wrong): the next RCPT for them sends a new probe
 * A cache that does not exist yet is empty; mailctl never creates it (it
 * belongs to mail_owner, who makes it at the first probe).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mail/verify_cache.h"
#include "mailctl/verify.h"
#include "server/program.h"
#include "table/cache_db.h"
#include "util/alloc.h"
#include "util/json.h"

static int usage(void)
{
	mailctl_error("usage: mailctl verify list | delete ADDRESS...");
	return 2;
}

static void format_time(int64_t t, char *buf, size_t size)
{
	if (t <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

struct listing {
	bool json;
	size_t count;
	struct str out;
};

static bool list_one(const char *address, const struct verify_entry *e, void *ctx)
{
	struct listing *l = ctx;
	if (l->json) {
		str_append_cstr(&l->out, l->count ? ",{\"address\":" : "{\"address\":");
		json_append_cstr(&l->out, address);
		str_printf(
		    &l->out, ",\"status\":\"%s\",\"updated\":%lld,\"probed\":%lld,\"reason\":",
		    verify_status_name(e->status), (long long)e->updated, (long long)e->probed);
		json_append_cstr(&l->out, e->reason);
		str_append_char(&l->out, '}');
	} else {
		char updated[32], probed[32];
		format_time(e->updated, updated, sizeof(updated));
		format_time(e->probed, probed, sizeof(probed));
		str_printf(&l->out, "%s %s updated %s probed %s%s%s\n", address,
		           verify_status_name(e->status), updated, probed, *e->reason ? ": " : "",
		           e->reason);
	}
	l->count++;
	return true;
}

int cmd_verify(struct mailctl *m, int argc, char **argv)
{
	bool list = argc == 2 && strcmp(argv[1], "list") == 0;
	bool del = argc >= 3 && strcmp(argv[1], "delete") == 0;
	if (!list && !del)
		return usage();
	struct conf *conf = program_load_conf(m->config_dir);
	const char *spec = conf_get(conf, "address_verify_map");
	char *path = cache_db_path(spec);
	int rc = 0;
	struct stat st;
	if (path == NULL) {
		mailctl_error("address_verify_map = %s: not lmdb:/path, hash:/path, btree:/path or "
		              "/path",
		              spec);
		rc = 1;
	} else if (stat(path, &st) != 0) {
		/* Nothing verified yet. */
		if (list)
			fputs(m->json ? "[]\n" : "", stdout);
		else
			for (int i = 2; i < argc; i++)
				printf("%s: not in the cache\n", argv[i]);
	} else {
		struct verify_times times = {0};
		const char *error;
		struct verify_cache *c = verify_cache_open(spec, &times, &error);
		if (c == NULL) {
			mailctl_error("%s", error);
			rc = 1;
		} else if (list) {
			struct listing l = {.json = m->json, .out = STR_INIT};
			if (m->json)
				str_append_char(&l.out, '[');
			if (verify_cache_walk(c, list_one, &l, &error) != 0) {
				mailctl_error("%s", error);
				rc = 1;
			} else {
				if (m->json)
					str_append_cstr(&l.out, "]\n");
				fputs(str_cstr(&l.out), stdout);
			}
			str_free(&l.out);
		} else {
			for (int i = 2; i < argc; i++) {
				struct verify_entry e;
				int found = verify_cache_get(c, argv[i], &e, &error);
				if (found == 1) {
					verify_entry_free(&e);
					found =
					    verify_cache_delete(c, argv[i], &error) == 0 ? 1 : -1;
				}
				if (found < 0) {
					mailctl_error("%s", error);
					rc = 1;
				} else {
					printf("%s: %s\n", argv[i],
					       found ? "removed" : "not in the cache");
				}
			}
		}
		verify_cache_close(c);
	}
	free(path);
	conf_free(conf);
	return rc;
}
