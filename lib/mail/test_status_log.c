/* Unit tests for reading the per-message status log: the last record for a
 * recipient wins, indexes past the recipients are ignored, message records
 * and the delay warning are read, a torn tail ends the log, and reading
 * a file tells whether there was one (qmgr then need not remove it). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/status_log.h"
#include "util/ipc.h"
#include "util/str.h"
#include "util/testing.h"

static void add_rcpt(struct str *out, int64_t index, const char *state, const char *status,
                     const char *reason, bool notified)
{
	struct ipc_rec *rec = ipc_rec_new("rcpt_status");
	ipc_rec_add_int(rec, "index", index);
	ipc_rec_add_str(rec, "state", state);
	ipc_rec_add_str(rec, "status", status);
	ipc_rec_add_str(rec, "reason", reason);
	ipc_rec_add_int(rec, "time", 1000 + index);
	if (notified)
		ipc_rec_add_int(rec, "notified", 1);
	ipc_rec_encode(rec, out);
	ipc_rec_free(rec);
}

static void add_int_rec(struct str *out, const char *name, const char *k1, int64_t v1,
                        const char *k2, int64_t v2)
{
	struct ipc_rec *rec = ipc_rec_new(name);
	ipc_rec_add_int(rec, k1, v1);
	if (k2 != NULL)
		ipc_rec_add_int(rec, k2, v2);
	ipc_rec_encode(rec, out);
	ipc_rec_free(rec);
}

TEST(last_record_wins)
{
	struct str data = STR_INIT;
	add_rcpt(&data, 0, "deferred", "4.2.2", "mailbox full", false);
	add_rcpt(&data, 1, "bounced", "5.1.1", "user unknown", true);
	add_rcpt(&data, 0, "delivered", "2.0.0", "delivered to maildir", false);
	add_rcpt(&data, 7, "delivered", "2.0.0", "not a recipient of this message", false);
	add_int_rec(&data, "message_status", "attempts", 2, "next_attempt", 5000);
	add_int_rec(&data, "delay_warning", "time", 4000, NULL, 0);
	struct status_log log;
	status_log_init(&log, 3);
	CHECK(status_log_parse(data.data, data.len, &log) == data.len);
	CHECK(log.rcpts[0].state == RCPT_DELIVERED);
	CHECK_STR(log.rcpts[0].status, "2.0.0");
	CHECK(!log.rcpts[0].notified);
	CHECK(log.rcpts[1].state == RCPT_BOUNCED);
	CHECK_STR(log.rcpts[1].reason, "user unknown");
	CHECK(log.rcpts[1].notified);
	CHECK(log.rcpts[1].time == 1001);
	CHECK(log.rcpts[2].state == RCPT_PENDING);
	CHECK(log.rcpts[2].status == NULL);
	CHECK(log.attempts == 2 && log.next_attempt == 5000);
	CHECK(log.delay_warned == 4000);
	status_log_free(&log);
	str_free(&data);
}

TEST(window)
{
	struct str data = STR_INIT;
	add_rcpt(&data, 0, "delivered", "2.0.0", "zero", false);
	add_rcpt(&data, 5, "deferred", "4.2.2", "five", false);
	add_rcpt(&data, 6, "bounced", "5.1.1", "six", true);
	add_rcpt(&data, 8, "delivered", "2.0.0", "eight", false);
	add_int_rec(&data, "message_status", "attempts", 3, "next_attempt", 7000);
	struct status_log log;
	status_log_init(&log, 3);
	log.rcpt_first = 5; /* recipients 5, 6 and 7 */
	CHECK(status_log_parse(data.data, data.len, &log) == data.len);
	CHECK(log.rcpts[0].state == RCPT_DEFERRED);
	CHECK_STR(log.rcpts[0].reason, "five");
	CHECK(log.rcpts[1].state == RCPT_BOUNCED && log.rcpts[1].notified);
	CHECK(log.rcpts[2].state == RCPT_PENDING);
	CHECK(log.attempts == 3 && log.next_attempt == 7000);
	status_log_free(&log);
	str_free(&data);
}

TEST(torn_tail_ends_the_log)
{
	struct str data = STR_INIT;
	add_rcpt(&data, 0, "deferred", "4.2.2", "mailbox full", false);
	size_t whole = data.len;
	add_rcpt(&data, 0, "delivered", "2.0.0", "delivered", false);
	struct status_log log;
	status_log_init(&log, 1);
	CHECK(status_log_parse(data.data, data.len - 3, &log) == whole);
	CHECK(log.rcpts[0].state == RCPT_DEFERRED);
	status_log_free(&log);
	str_free(&data);
}

TEST(read_tells_whether_on_disk)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512], status[600], file[700];
	snprintf(dir, sizeof(dir), "%s/test_status_log.XXXXXX", tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(status, sizeof(status), "%s/status", dir);
	CHECK(mkdir(status, 0700) == 0);
	const char *error = NULL;
	struct status_log log;
	/* None: an empty log, and known absent. */
	CHECK(status_log_read(dir, "ID1", 2, true, &log, &error) == 0);
	CHECK(!log.on_disk && log.rcpt_count == 2 && log.rcpts[0].state == RCPT_PENDING);
	status_log_free(&log);
	/* One, even empty. */
	snprintf(file, sizeof(file), "%s/ID1", status);
	struct str data = STR_INIT;
	add_rcpt(&data, 1, "deferred", "4.2.2", "mailbox full", false);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, data.data, data.len) == (ssize_t)data.len);
	close(fd);
	CHECK(status_log_read_window(dir, "ID1", 1, 1, true, &log, &error) == 0);
	CHECK(log.on_disk && log.rcpts[0].state == RCPT_DEFERRED);
	status_log_free(&log);
	CHECK(truncate(file, 0) == 0);
	CHECK(status_log_read(dir, "ID1", 1, true, &log, &error) == 0);
	CHECK(log.on_disk && log.rcpts[0].state == RCPT_PENDING);
	status_log_free(&log);
	str_free(&data);
	unlink(file);
	rmdir(status);
	rmdir(dir);
}

TEST(remote_fields)
{
	struct str data = STR_INIT;
	struct ipc_rec *rec = ipc_rec_new("rcpt_status");
	ipc_rec_add_int(rec, "index", 0);
	ipc_rec_add_str(rec, "state", "bounced");
	ipc_rec_add_str(rec, "status", "5.1.1");
	ipc_rec_add_str(rec, "reason", "host mx[1.2.3.4] said: 550 5.1.1 no");
	ipc_rec_add_str(rec, "remote_mta", "mx.example");
	ipc_rec_add_str(rec, "diagnostic", "smtp; 550 5.1.1 no");
	ipc_rec_encode(rec, &data);
	ipc_rec_free(rec);
	rec = ipc_rec_new("rcpt_status");
	ipc_rec_add_int(rec, "index", 1);
	ipc_rec_add_str(rec, "state", "delivered");
	ipc_rec_add_str(rec, "status", "2.0.0");
	ipc_rec_add_str(rec, "dsn", "relayed");
	ipc_rec_encode(rec, &data);
	ipc_rec_free(rec);
	add_rcpt(&data, 2, "delivered", "2.0.0", "delivered to maildir", false);
	struct status_log log;
	status_log_init(&log, 3);
	CHECK(status_log_parse(data.data, data.len, &log) == data.len);
	CHECK_STR(log.rcpts[0].remote_mta, "mx.example");
	CHECK_STR(log.rcpts[0].diagnostic, "smtp; 550 5.1.1 no");
	CHECK(log.rcpts[1].dsn == RCPT_DSN_RELAYED);
	CHECK(log.rcpts[1].remote_mta == NULL && log.rcpts[1].diagnostic == NULL);
	CHECK(log.rcpts[2].dsn == RCPT_DSN_DELIVERED);
	/* A later outcome clears them; a copy keeps every field. */
	struct rcpt_result copy = {0};
	rcpt_result_copy(&copy, &log.rcpts[0]);
	CHECK_STR(copy.diagnostic, "smtp; 550 5.1.1 no");
	CHECK(copy.state == RCPT_BOUNCED);
	rcpt_result_set(&copy, RCPT_DEFERRED, "4.0.0", "later", 5);
	CHECK(copy.remote_mta == NULL && copy.diagnostic == NULL);
	rcpt_result_free(&copy);
	CHECK(rcpt_dsn_parse("passed") == RCPT_DSN_PASSED);
	CHECK(rcpt_dsn_parse("bogus") == RCPT_DSN_DELIVERED);
	CHECK_STR(rcpt_dsn_name(RCPT_DSN_RELAYED), "relayed");
	status_log_free(&log);
	str_free(&data);
}

TEST(state_names)
{
	CHECK(rcpt_state_parse("delivered") == RCPT_DELIVERED);
	CHECK(rcpt_state_parse("deferred") == RCPT_DEFERRED);
	CHECK(rcpt_state_parse("bounced") == RCPT_BOUNCED);
	CHECK(rcpt_state_parse("nonsense") == RCPT_PENDING);
	CHECK(rcpt_state_parse(NULL) == RCPT_PENDING);
	CHECK_STR(rcpt_state_name(RCPT_BOUNCED), "bounced");
	CHECK_STR(rcpt_state_name(RCPT_PENDING), "pending");
}

int main(void)
{
	RUN(last_record_wins);
	RUN(window);
	RUN(torn_tail_ends_the_log);
	RUN(read_tells_whether_on_disk);
	RUN(remote_fields);
	RUN(state_names);
	return TESTING_DONE();
}
