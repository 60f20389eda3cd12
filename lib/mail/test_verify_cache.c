/* Unit tests for the address verification cache: entries round-trip
 * through their text form and the file, keys ignore case, a probe's
 * result keeps the time the probe was sent, the ages decide expiry and
 * when a probe is due (never twice within VERIFY_PROBE_TTL), pruning
 * removes what expired, and an entry that cannot be read counts as none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/verify_cache.h"
#include "table/cache_db.h"
#include "util/alloc.h"
#include "util/str.h"
#include "util/testing.h"

static const struct verify_times times = {
    .positive_expire = 31 * 86400,
    .positive_refresh = 7 * 86400,
    .negative_expire = 3 * 86400,
    .negative_refresh = 3 * 3600,
};

static char *temp_spec(char *dir)
{
	CHECK(mkdtemp(dir) != NULL);
	return xasprintf("lmdb:%s/verify", dir);
}

static void remove_dir(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
}

TEST(text_round_trip)
{
	struct verify_entry e = {.status = VERIFY_UNDELIVERABLE,
	                         .updated = 1700000000,
	                         .probed = 1699999990,
	                         .reason = "host mx[127.0.0.2] said: 550 5.1.1 no\r\nsuch user"};
	struct str text = STR_INIT;
	verify_entry_encode(&e, &text);
	CHECK_STR(str_cstr(&text), "1 U 1700000000 1699999990 host mx[127.0.0.2] said: 550 5.1.1 "
	                           "no  such user");
	struct verify_entry got;
	CHECK(verify_entry_parse(text.data, text.len, &got));
	CHECK(got.status == VERIFY_UNDELIVERABLE && got.updated == 1700000000 &&
	      got.probed == 1699999990);
	CHECK_STR(got.reason, "host mx[127.0.0.2] said: 550 5.1.1 no  such user");
	verify_entry_free(&got);
	static const char *const bad[] = {
	    "",           "1",           "1 X 1 2 r", "2 D 1 2 r",
	    "1 D 1 r",    "1 D -1 2 r",  "1 D 1 2",   "1 D 99999999999999999999 2 r",
	    "1 D  1 2 r", "1 D 1 2 a\tb"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!verify_entry_parse(bad[i], strlen(bad[i]), &got));
	/* An empty reason is fine. */
	CHECK(verify_entry_parse("1 P 0 5 ", 8, &got));
	CHECK(got.status == VERIFY_PENDING && *got.reason == '\0');
	verify_entry_free(&got);
	str_free(&text);
}

TEST(ages)
{
	int64_t now = 2000000000;
	CHECK(verify_entry_expired(&times, NULL, now));
	CHECK(verify_probe_due(&times, NULL, now));
	struct verify_entry e = {.status = VERIFY_DELIVERABLE,
	                         .updated = now - 86400,
	                         .probed = now - 86400,
	                         .reason = ""};
	CHECK(!verify_entry_expired(&times, &e, now) && !verify_probe_due(&times, &e, now));
	e.updated = e.probed = now - 8 * 86400; /* past the refresh time */
	CHECK(!verify_entry_expired(&times, &e, now) && verify_probe_due(&times, &e, now));
	e.probed = now - 10; /* ... but a probe went out just now */
	CHECK(!verify_probe_due(&times, &e, now));
	e.updated = e.probed = now - 32 * 86400;
	CHECK(verify_entry_expired(&times, &e, now) && verify_probe_due(&times, &e, now));
	e.status = VERIFY_UNDELIVERABLE;
	e.updated = e.probed = now - 3600;
	CHECK(!verify_entry_expired(&times, &e, now) && !verify_probe_due(&times, &e, now));
	e.updated = e.probed = now - 4 * 3600;
	CHECK(!verify_entry_expired(&times, &e, now) && verify_probe_due(&times, &e, now));
	e.updated = e.probed = now - 4 * 86400;
	CHECK(verify_entry_expired(&times, &e, now));
	/* Pending: believed (nothing known yet) while the probe may still
	 * answer, then expired and probed again. */
	e.status = VERIFY_PENDING;
	e.updated = 0;
	e.probed = now - 5;
	CHECK(!verify_entry_expired(&times, &e, now) && !verify_probe_due(&times, &e, now));
	e.probed = now - VERIFY_PROBE_TTL;
	CHECK(verify_entry_expired(&times, &e, now) && verify_probe_due(&times, &e, now));
	/* A clock set back. */
	e.status = VERIFY_DELIVERABLE;
	e.updated = e.probed = now + 3600;
	CHECK(verify_entry_expired(&times, &e, now) && verify_probe_due(&times, &e, now));
}

static bool count(const char *address, const struct verify_entry *entry, void *ctx)
{
	(void)address;
	(void)entry;
	(*(size_t *)ctx)++;
	return true;
}

TEST(file_round_trip)
{
	char dir[] = "/tmp/test_verify_cache.XXXXXX";
	char *spec = temp_spec(dir);
	const char *error = NULL;
	struct verify_cache *c = verify_cache_open(spec, &times, &error);
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", error);
		free(spec);
		return;
	}
	struct verify_entry e;
	CHECK(verify_cache_get(c, "Bob@Example.TEST", &e, &error) == 0);
	struct verify_entry pending = {.status = VERIFY_PENDING, .probed = 1000, .reason = ""};
	CHECK(verify_cache_put(c, "Bob@Example.TEST", &pending, &error) == 0);
	/* The result keeps the probe's time; the key has no case. */
	CHECK(verify_cache_record(c, "bob@example.test", VERIFY_DELIVERABLE, "250 ok", 1010,
	                          &error) == 0);
	CHECK(verify_cache_get(c, "BOB@example.test", &e, &error) == 1);
	CHECK(e.status == VERIFY_DELIVERABLE && e.updated == 1010 && e.probed == 1000);
	CHECK_STR(e.reason, "250 ok");
	verify_entry_free(&e);
	/* A result with no probe recorded (the entry was removed meanwhile). */
	CHECK(verify_cache_record(c, "carol@example.test", VERIFY_UNDELIVERABLE, "550 no", 1020,
	                          &error) == 0);
	CHECK(verify_cache_get(c, "carol@example.test", &e, &error) == 1);
	CHECK(e.status == VERIFY_UNDELIVERABLE && e.probed == 1020);
	verify_entry_free(&e);
	size_t seen = 0;
	CHECK(verify_cache_walk(c, count, &seen, &error) == 0);
	CHECK(seen == 2);
	/* At 1020 + 3 days carol expired, bob did not. */
	size_t removed = 0;
	CHECK(verify_cache_prune(c, 1020 + 3 * 86400, &removed, &error) == 0);
	CHECK(removed == 1);
	CHECK(verify_cache_get(c, "carol@example.test", &e, &error) == 0);
	CHECK(verify_cache_delete(c, "bob@example.test", &error) == 0);
	CHECK(verify_cache_get(c, "bob@example.test", &e, &error) == 0);
	verify_cache_close(c);
	/* An entry another version wrote (or garbage) is none, and removed. */
	char *path = cache_db_path(spec);
	struct cache_db *db = cache_db_open(path, 0, &error);
	CHECK(db != NULL);
	if (db != NULL) {
		CHECK(cache_db_put(db, "dave@example.test", "9 Z", 3, NULL, NULL, &error) == 0);
		cache_db_close(db);
	}
	c = verify_cache_open(spec, &times, &error);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(verify_cache_get(c, "dave@example.test", &e, &error) == 0);
		seen = 0;
		CHECK(verify_cache_walk(c, count, &seen, &error) == 0);
		CHECK(seen == 0);
		verify_cache_close(c);
	}
	free(path);
	/* A spec that is not a file. */
	CHECK(verify_cache_open("regexp:/etc/x", &times, &error) == NULL);
	CHECK(strstr(error, "address verification cache regexp:/etc/x") != NULL);
	free(spec);
	remove_dir(dir);
}

int main(void)
{
	RUN(text_round_trip);
	RUN(ages);
	RUN(file_round_trip);
	return TESTING_DONE();
}
