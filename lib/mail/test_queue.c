/*
 * Unit tests for the queue module: ids, directories, writing a queue file
 * and reading it back, and rejection of damaged, truncated and malformed
 * files (including a write onto a full filesystem when run as root).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mail/queue.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/str.h"
#include "util/testing.h"

/* ---- helpers ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary queue directory with its subdirectories. */
static char *make_queue(void)
{
	char *dir = xstrdup("/tmp/postern-test-queue-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	const char *error = NULL;
	if (queue_make_dirs(dir, (uid_t)-1, (gid_t)-1, &error) != 0) {
		fprintf(stderr, "queue_make_dirs: %s\n", error);
		exit(1);
	}
	return dir;
}

static void drop_queue(char *dir)
{
	remove_tree(dir);
	free(dir);
}

/* Number of entries (other than . and ..) in queue_dir/sub; -1 if unreadable. */
static int count_entries(const char *queue_dir, const char *sub)
{
	char *path = xasprintf("%s/%s", queue_dir, sub);
	DIR *d = opendir(path);
	free(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Entries of queue_dir/tmp that are emptied free files (free.NNN, size 0). */
static int count_free(const char *queue_dir)
{
	char *path = xasprintf("%s/tmp", queue_dir);
	DIR *d = opendir(path);
	if (d == NULL) {
		free(path);
		return -1;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strncmp(e->d_name, "free.", 5) == 0 &&
		    fstatat(dirfd(d), e->d_name, &st, 0) == 0 && st.st_size == 0)
			n++;
	}
	closedir(d);
	free(path);
	return n;
}

static bool read_whole(const char *path, struct str *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	char buf[4096];
	size_t n;
	str_clear(out);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		str_append(out, buf, n);
	fclose(f);
	return true;
}

static bool write_whole(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return false;
	bool ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static void fill_envelope(struct queue_envelope *env)
{
	queue_envelope_init(env);
	env->arrival = 1700000000;
	env->sender = xstrdup("alice@example.org");
	env->envid = xstrdup("ENV-1234");
	env->ret = xstrdup("HDRS");
	env->body = xstrdup("8BITMIME");
	env->smtputf8 = true;
	env->client_name = xstrdup("mail.example.org");
	env->client_addr = xstrdup("192.0.2.7");
	env->client_port = xstrdup("40123");
	env->helo = xstrdup("mail.example.org");
	env->protocol = xstrdup("ESMTPSA");
	env->tls = xstrdup("TLSv1.3 TLS_AES_256_GCM_SHA384");
	env->auth_user = xstrdup("alice");
	env->origin = xstrdup("smtp");
	queue_envelope_add_rcpt(env, "bob@example.net", "rfc822;bob@example.net",
	                        "SUCCESS,FAILURE");
	queue_envelope_add_rcpt(env, "carol@example.net", NULL, NULL);
	env->rcpts[env->rcpt_count - 1].valias_pending = true;
	queue_envelope_add_rcpt(env, "dave@example.com", "", "NEVER");
}

/* Write a small valid queue file into queue_dir/incoming; returns its path. */
static char *write_small_file(const char *queue_dir, const char *content)
{
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.arrival = 1700000001;
	env.sender = xstrdup("");
	queue_envelope_add_rcpt(&env, "x@example.net", NULL, NULL);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(queue_dir, &env, &error);
	if (w == NULL) {
		fprintf(stderr, "queue_writer_open: %s\n", error);
		exit(1);
	}
	if (queue_writer_write(w, content, strlen(content), &error) != 0 ||
	    queue_writer_commit(w, "incoming", &error) != 0) {
		fprintf(stderr, "write small file: %s\n", error);
		exit(1);
	}
	char *path = xasprintf("%s/incoming/%s", queue_dir, queue_writer_id(w));
	queue_writer_abort(w);
	queue_envelope_free(&env);
	return path;
}

/* queue_file_read on these bytes (written to a scratch file) must fail. */
static bool file_rejected(const char *queue_dir, const void *data, size_t len)
{
	char *path = xasprintf("%s/corrupt/scratch", queue_dir);
	if (!write_whole(path, data, len)) {
		free(path);
		return false;
	}
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	int rc = queue_file_read(path, &env, &offset, &error);
	unlink(path);
	free(path);
	if (rc == 0) {
		queue_envelope_free(&env);
		return false;
	}
	return error != NULL && *error != '\0';
}

/* ---- ids ---- */

static int compare_ids(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

TEST(envelope_copy)
{
	struct queue_envelope env, copy;
	fill_envelope(&env);
	env.filter = xstrdup("scan:[127.0.0.1]:10024");
	queue_envelope_copy(&copy, &env);
	CHECK_STR(copy.sender, "alice@example.org");
	CHECK_STR(copy.ret, "HDRS");
	CHECK_STR(copy.filter, "scan:[127.0.0.1]:10024");
	CHECK(copy.rcpt_count == 3);
	CHECK_STR(copy.rcpts[0].orcpt, "rfc822;bob@example.net");
	CHECK_STR(copy.rcpts[0].notify, "SUCCESS,FAILURE");
	CHECK(copy.rcpts[1].valias_pending && !copy.rcpts[0].valias_pending);
	CHECK(copy.rcpts[0].address != env.rcpts[0].address);
	queue_envelope_free(&env);
	CHECK_STR(copy.rcpts[2].address, "dave@example.com");
	queue_envelope_free(&copy);
}

TEST(ids_unique_and_ordered)
{
	enum { N = 10000 };
	char(*ids)[QUEUE_ID_LEN + 1] = xcalloc(N, sizeof(*ids));
	bool all_valid = true, increasing = true;
	for (int i = 0; i < N; i++) {
		queue_id_new(ids[i]);
		if (!queue_id_valid(ids[i]) || strlen(ids[i]) != QUEUE_ID_LEN)
			all_valid = false;
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			increasing = false;
	}
	CHECK(all_valid);
	CHECK(increasing);
	qsort(ids, N, sizeof(*ids), compare_ids);
	bool unique = true;
	for (int i = 1; i < N; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			unique = false;
	CHECK(unique);
	free(ids);
}

TEST(ids_sort_by_time)
{
	char a[QUEUE_ID_LEN + 1], b[QUEUE_ID_LEN + 1];
	struct timeval before;
	gettimeofday(&before, NULL);
	queue_id_new(a);
	struct timespec pause = {0, 3 * 1000 * 1000};
	nanosleep(&pause, NULL);
	queue_id_new(b);
	CHECK(strcmp(a, b) < 0);
	/* The leading digits are the time in microseconds: close to now. */
	char time_part[14];
	memcpy(time_part, a, 13);
	time_part[13] = '\0';
	unsigned long long usec = strtoull(time_part, NULL, 16);
	unsigned long long now =
	    (unsigned long long)before.tv_sec * 1000000ull + (unsigned long long)before.tv_usec;
	CHECK(usec + 1000000ull > now && usec < now + 10000000ull);
	/* Same pid, same tail. */
	CHECK(strcmp(a + 13, b + 13) == 0);
}

TEST(id_valid_cases)
{
	CHECK(queue_id_valid("0123456789ABCDEF"));
	CHECK(queue_id_valid("0000000000000000"));
	CHECK(!queue_id_valid("0123456789abcdef"));
	CHECK(!queue_id_valid("0123456789ABCDE"));
	CHECK(!queue_id_valid("0123456789ABCDEF0"));
	CHECK(!queue_id_valid("0123456789ABCDEG"));
	CHECK(!queue_id_valid("0123456789ABCDE "));
	CHECK(!queue_id_valid("../../etc/passwd"));
	CHECK(!queue_id_valid("0123456789ABCD/F"));
	CHECK(!queue_id_valid(""));
	CHECK(!queue_id_valid(NULL));
}

/* ---- directories ---- */

TEST(make_dirs)
{
	char *dir = xstrdup("/tmp/postern-test-dirs-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	const char *error = NULL;
	CHECK(queue_make_dirs(dir, (uid_t)-1, (gid_t)-1, &error) == 0);
	size_t n = 0;
	for (size_t i = 0; queue_dir_names[i]; i++, n++) {
		char *path = xasprintf("%s/%s", dir, queue_dir_names[i]);
		struct stat st;
		CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
		mode_t want = strcmp(queue_dir_names[i], "maildrop") == 0 ? 01730 : 0700;
		CHECK((st.st_mode & 07777) == want);
		free(path);
	}
	CHECK(n == 8);
	/* Again: existing directories are fine. */
	CHECK(queue_make_dirs(dir, (uid_t)-1, (gid_t)-1, &error) == 0);
	/* A file where a directory belongs is an error. */
	char *hold = xasprintf("%s/hold", dir);
	CHECK(rmdir(hold) == 0);
	CHECK(write_whole(hold, "x", 1));
	error = NULL;
	CHECK(queue_make_dirs(dir, (uid_t)-1, (gid_t)-1, &error) == -1);
	CHECK(error != NULL && strstr(error, "hold") != NULL);
	free(hold);
	/* A missing parent is an error. */
	char *missing = xasprintf("%s/no/such/dir", dir);
	error = NULL;
	CHECK(queue_make_dirs(missing, (uid_t)-1, (gid_t)-1, &error) == -1);
	CHECK(error != NULL);
	free(missing);
	remove_tree(dir);
	free(dir);
}

/* ---- writing and reading ---- */

static void check_same_envelope(const struct queue_envelope *a, const struct queue_envelope *b)
{
	CHECK_STR(a->id, b->id);
	CHECK(a->arrival == b->arrival);
	CHECK_STR(a->sender, b->sender);
	CHECK_STR(a->envid, b->envid);
	CHECK_STR(a->ret, b->ret);
	CHECK_STR(a->body, b->body);
	CHECK(a->smtputf8 == b->smtputf8);
	CHECK_STR(a->client_name, b->client_name);
	CHECK_STR(a->client_addr, b->client_addr);
	CHECK_STR(a->client_port, b->client_port);
	CHECK_STR(a->helo, b->helo);
	CHECK_STR(a->protocol, b->protocol);
	CHECK_STR(a->tls, b->tls);
	CHECK_STR(a->auth_user, b->auth_user);
	CHECK_STR(a->origin, b->origin);
	CHECK(a->rcpt_count == b->rcpt_count);
	for (size_t i = 0; i < a->rcpt_count && i < b->rcpt_count; i++) {
		CHECK_STR(a->rcpts[i].address, b->rcpts[i].address);
		CHECK_STR(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		CHECK_STR(a->rcpts[i].notify, b->rcpts[i].notify);
		CHECK(a->rcpts[i].valias_pending == b->rcpts[i].valias_pending);
	}
}

TEST(write_commit_read_back)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w == NULL) {
		fprintf(stderr, "open: %s\n", error);
		queue_envelope_free(&env);
		drop_queue(dir);
		return;
	}
	CHECK(queue_id_valid(queue_writer_id(w)));
	CHECK_STR(env.id, queue_writer_id(w));
	CHECK(count_entries(dir, "tmp") == 1);

	/* Content in several chunks: text, an empty one, binary bytes, and one
	 * large enough to make the writer flush to disk in the middle. */
	struct str expect = STR_INIT;
	const char *head = "From: alice@example.org\r\nSubject: test\r\n\r\n";
	const char binary[] = {'\0', '\r', '\n', (char)0xff, '.', '\r', '\n'};
	struct str big = STR_INIT;
	for (int i = 0; i < 100000; i++)
		str_append_char(&big, (char)('a' + i % 26));
	struct {
		const void *data;
		size_t len;
	} chunks[] = {{head, strlen(head)},
	              {"", 0},
	              {binary, sizeof(binary)},
	              {big.data, big.len},
	              {"tail\r\n", 6}};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		CHECK(queue_writer_write(w, chunks[i].data, chunks[i].len, &error) == 0);
		str_append(&expect, chunks[i].data, chunks[i].len);
	}
	CHECK(queue_writer_size(w) == (int64_t)expect.len);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char id[QUEUE_ID_LEN + 1];
	memcpy(id, queue_writer_id(w), sizeof(id));
	queue_writer_abort(w); /* frees; removes nothing once committed */
	CHECK(count_entries(dir, "tmp") == 0);
	CHECK(count_entries(dir, "incoming") == 1);

	char *path = xasprintf("%s/incoming/%s", dir, id);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	struct queue_envelope got;
	size_t offset = 0;
	CHECK(queue_file_read(path, &got, &offset, &error) == 0);
	check_same_envelope(&env, &got);
	CHECK(got.size == (int64_t)expect.len);

	/* A window of the recipients: the rest are counted, not kept. */
	struct queue_envelope window;
	size_t window_offset = 0;
	CHECK(queue_file_read_window(path, 1, 1, &window, &window_offset, &error) == 0);
	CHECK(window_offset == offset && window.rcpt_first == 1);
	CHECK(window.rcpt_count == 1 && window.rcpt_total == env.rcpt_count);
	if (window.rcpt_count == 1) {
		CHECK_STR(window.rcpts[0].address, env.rcpts[1].address);
		CHECK(window.rcpts[0].valias_pending == env.rcpts[1].valias_pending);
	}
	queue_envelope_free(&window);
	CHECK(queue_file_read_window(path, 0, 0, &window, &window_offset, &error) == 0);
	CHECK(window.rcpt_count == 0 && window.rcpt_total == env.rcpt_count);
	queue_envelope_free(&window);
	CHECK(queue_file_read_window(path, 2, 100, &window, &window_offset, &error) == 0);
	CHECK(window.rcpt_count == env.rcpt_count - 2);
	queue_envelope_free(&window);

	/* Another queue file with the same content, copied from this one. */
	struct queue_writer *copy = queue_writer_open(dir, &got, &error);
	CHECK(copy != NULL && queue_writer_rcpt_count(copy) == env.rcpt_count);
	CHECK(copy != NULL &&
	      queue_writer_copy_content(copy, path, offset, got.size, &error) == 0 &&
	      queue_writer_size(copy) == (int64_t)expect.len &&
	      queue_writer_commit(copy, "deferred", &error) == 0);
	if (copy != NULL) {
		char *copy_path = xasprintf("%s/deferred/%s", dir, queue_writer_id(copy));
		struct queue_envelope copied;
		size_t copied_offset;
		struct str copied_file = STR_INIT;
		CHECK(queue_file_read(copy_path, &copied, &copied_offset, &error) == 0);
		CHECK(read_whole(copy_path, &copied_file));
		CHECK(copied_offset + expect.len <= copied_file.len &&
		      memcmp(copied_file.data + copied_offset, expect.data, expect.len) == 0);
		queue_envelope_free(&copied);
		str_free(&copied_file);
		free(copy_path);
		queue_writer_abort(copy);
	}

	struct str file = STR_INIT;
	CHECK(read_whole(path, &file));
	CHECK(memcmp(file.data, QUEUE_MAGIC, strlen(QUEUE_MAGIC)) == 0);
	CHECK(offset + expect.len < file.len);
	CHECK(offset + expect.len <= file.len &&
	      memcmp(file.data + offset, expect.data, expect.len) == 0);

	/* The pure parser agrees with the file reader. */
	struct queue_envelope parsed;
	size_t parsed_offset = 0;
	CHECK(queue_file_parse_envelope(file.data, file.len, &parsed, &parsed_offset, &error) == 1);
	CHECK(parsed_offset == offset);
	check_same_envelope(&env, &parsed);
	queue_envelope_free(&parsed);

	queue_envelope_free(&got);
	queue_envelope_free(&env);
	str_free(&file);
	str_free(&expect);
	str_free(&big);
	free(path);
	drop_queue(dir);
}

TEST(empty_content_and_hold)
{
	char *dir = make_queue();
	struct queue_envelope env;
	queue_envelope_init(&env);
	queue_envelope_add_rcpt(&env, "a@example.net", NULL, NULL);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		CHECK(queue_writer_commit(w, "hold", &error) == 0);
		char *path = xasprintf("%s/hold/%s", dir, queue_writer_id(w));
		queue_writer_abort(w);
		struct queue_envelope got;
		size_t offset;
		CHECK(queue_file_read(path, &got, &offset, &error) == 0);
		CHECK(got.size == 0);
		CHECK_STR(got.sender, ""); /* NULL sender is written as <> */
		CHECK_STR(got.origin, "");
		queue_envelope_free(&got);
		free(path);
	}
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(verify_mode_round_trip)
{
	char *dir = make_queue();
	struct queue_envelope env;
	queue_envelope_init(&env);
	queue_envelope_add_rcpt(&env, "a@example.net", NULL, NULL);
	env.verify = xstrdup(QUEUE_VERIFY_PROBE);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		CHECK(queue_writer_commit(w, "incoming", &error) == 0);
		char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
		queue_writer_abort(w);
		struct queue_envelope got;
		size_t offset;
		CHECK(queue_file_read(path, &got, &offset, &error) == 0);
		CHECK_STR(got.verify, "probe");
		CHECK(queue_envelope_is_verify(&got));
		queue_envelope_free(&got);
		free(path);
	}
	/* A message: no verify attribute, read back as "". */
	free(env.verify);
	env.verify = NULL;
	CHECK(!queue_envelope_is_verify(&env));
	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		CHECK(queue_writer_commit(w, "incoming", &error) == 0);
		char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
		queue_writer_abort(w);
		struct queue_envelope got;
		size_t offset;
		CHECK(queue_file_read(path, &got, &offset, &error) == 0);
		CHECK_STR(got.verify, "");
		CHECK(!queue_envelope_is_verify(&got));
		queue_envelope_free(&got);
		free(path);
	}
	CHECK(queue_verify_mode_valid("report") && !queue_verify_mode_valid("probe2") &&
	      !queue_verify_mode_valid(""));
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(abort_leaves_nothing)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(count_entries(dir, "tmp") == 1);
	queue_writer_abort(w);
	/* Nothing but the file, emptied and kept for the next message. */
	CHECK(count_entries(dir, "tmp") == 1);
	CHECK(count_free(dir) == 1);

	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	char big[70000];
	memset(big, 'x', sizeof(big));
	CHECK(queue_writer_write(w, big, sizeof(big), &error) == 0);
	CHECK(queue_writer_write(w, "more", 4, &error) == 0);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == 1); /* the same free file again */
	CHECK(count_free(dir) == 1);
	CHECK(count_entries(dir, "incoming") == 0);
	queue_writer_abort(NULL);
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(prepared_file_used_and_swept)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	queue_writer_prepare(dir);
	CHECK(count_entries(dir, "tmp") == 1);
	queue_writer_prepare(dir); /* one spare at most */
	CHECK(count_entries(dir, "tmp") == 1);
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(count_entries(dir, "tmp") == 1); /* the spare became the file */
	CHECK(queue_writer_write(w, "Subject: x\r\n\r\nbody\r\n", 20, &error) == 0);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == 0);
	CHECK(count_entries(dir, "incoming") == 1);
	struct queue_envelope got;
	size_t offset;
	CHECK(queue_file_read(path, &got, &offset, &error) == 0);
	CHECK(got.size == 20);
	queue_envelope_free(&got);
	free(path);

	/* A spare for another queue is replaced, not used there: it goes back
	 * to its own queue's free files. */
	char *other = make_queue();
	queue_writer_prepare(dir);
	queue_writer_prepare(other);
	CHECK(count_entries(dir, "tmp") == 1);
	CHECK(count_free(dir) == 1);
	CHECK(count_entries(other, "tmp") == 1);
	/* Leftovers are swept by age; names that are not queue ids stay. */
	CHECK(queue_sweep_tmp(other, 3600) == 0);
	char *stray = xasprintf("%s/tmp/not-an-id", other);
	CHECK(write_whole(stray, "x", 1));
	CHECK(queue_sweep_tmp(other, 0) == 1);
	CHECK(count_entries(other, "tmp") == 1);
	unlink(stray);
	free(stray);
	queue_writer_prepare(dir); /* leaves other's spare swept, no error */
	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == count_free(dir));
	queue_envelope_free(&env);
	drop_queue(other);
	drop_queue(dir);
}

TEST(recycled_file_reused)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "Subject: one\r\n\r\n", 16, &error) == 0);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char *path = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	queue_writer_abort(w);
	struct stat before;
	CHECK(stat(path, &before) == 0);
	CHECK(queue_file_recycle(dir, path) == 0);
	CHECK(access(path, F_OK) != 0);
	CHECK(count_entries(dir, "incoming") == 0);
	CHECK(count_entries(dir, "tmp") == 1);     /* emptied, waiting */
	CHECK(queue_file_recycle(dir, path) == 0); /* already gone: fine */

	/* The next file is that inode, holding only the new message. */
	w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "Subject: two\r\n\r\n", 16, &error) == 0);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	char *second = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	queue_writer_abort(w);
	struct stat after;
	CHECK(stat(second, &after) == 0);
	CHECK(after.st_ino == before.st_ino);
	CHECK(count_entries(dir, "tmp") == 0);
	struct queue_envelope got;
	size_t offset;
	CHECK(queue_file_read(second, &got, &offset, &error) == 0);
	CHECK(got.size == 16);
	queue_envelope_free(&got);
	/* Free files survive the start-up sweep; they hold no mail. */
	CHECK(queue_file_recycle(dir, second) == 0);
	CHECK(queue_sweep_tmp(dir, 0) == 0);
	CHECK(count_entries(dir, "tmp") == 1);
	free(second);
	free(path);
	queue_envelope_free(&env);
	drop_queue(dir);
}

/* A taker that found the pool empty skips reading tmp/ for a moment (it
 * still tries a few random slots), then finds a file another process
 * recycled; a file this process recycles is found at once. */
TEST(free_file_after_empty_pool)
{
	char *dir = make_queue();
	char *path = xasprintf("%s/tmp/taken", dir);
	CHECK(queue_take_free_file(dir, path, O_WRONLY) == -1); /* empty: remembered */
	/* "Another process" recycles a file into a slot. */
	char *slot = xasprintf("%s/tmp/free.123", dir);
	int fd = open(slot, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);
	fd = queue_take_free_file(dir, path, O_WRONLY);
	if (fd < 0) {
		/* Not probed by chance: found by reading tmp/ once the moment ends. */
		CHECK(access(slot, F_OK) == 0);
		sleep(2);
		fd = queue_take_free_file(dir, path, O_WRONLY);
	}
	CHECK(fd >= 0);
	close(fd);
	CHECK(access(slot, F_OK) != 0 && access(path, F_OK) == 0);
	CHECK(queue_take_free_file(dir, path, O_WRONLY) == -1); /* empty again */
	/* Recycled here: the memory of an empty pool is dropped. */
	CHECK(queue_file_recycle(dir, path) == 0);
	fd = queue_take_free_file(dir, path, O_WRONLY);
	CHECK(fd >= 0);
	close(fd);
	CHECK(count_entries(dir, "tmp") == 1);
	free(slot);
	free(path);
	drop_queue(dir);
}

/* A file given back to a full pool is removed, and for a moment after
 * that files are removed at once (not offered to slots that are all
 * taken); after the moment they go to the pool again. */
TEST(full_pool_removes_files)
{
	char *dir = make_queue();
	for (int n = 0; n < 256; n++) { /* QUEUE_FREE_SLOTS */
		char *slot = xasprintf("%s/tmp/free.%03d", dir, n);
		int fd = open(slot, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0);
		close(fd);
		free(slot);
	}
	char *path = xasprintf("%s/incoming/done", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "mail", 4) == 4);
	close(fd);
	CHECK(queue_file_recycle(dir, path) == 0);
	time_t seen_full = time(NULL);
	CHECK(access(path, F_OK) != 0);
	CHECK(count_free(dir) == 256 && count_entries(dir, "tmp") == 256);

	/* Slots free up, but the pool was just seen full (the moment lasts
	 * at least the rest of that second: on a machine so busy that the
	 * next second has begun, the file may go to the pool instead). */
	for (int n = 0; n < 250; n++) {
		char *slot = xasprintf("%s/tmp/free.%03d", dir, n);
		CHECK(unlink(slot) == 0);
		free(slot);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "mail", 4) == 4);
	close(fd);
	bool in_moment = time(NULL) == seen_full;
	CHECK(queue_file_recycle(dir, path) == 0);
	CHECK(access(path, F_OK) != 0);
	if (in_moment)
		CHECK(count_entries(dir, "tmp") == 6);
	else
		CHECK(count_entries(dir, "tmp") == 6 || count_entries(dir, "tmp") == 7);

	sleep(2); /* the moment is over */
	int before = count_entries(dir, "tmp");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "mail", 4) == 4);
	close(fd);
	CHECK(queue_file_recycle(dir, path) == 0);
	CHECK(access(path, F_OK) != 0);
	/* emptied, waiting */
	CHECK(count_free(dir) == before + 1 && count_entries(dir, "tmp") == before + 1);
	free(path);
	drop_queue(dir);
}

TEST(writer_refuses_unreadable_envelope)
{
	char *dir = make_queue();
	struct queue_envelope env;
	queue_envelope_init(&env);
	env.sender = xstrdup("a@example.org");
	const char *error = NULL;
	/* No recipients: the reader would reject the file, so no file at all. */
	CHECK(queue_writer_open(dir, &env, &error) == NULL);
	CHECK(error != NULL && strstr(error, "recipient") != NULL);
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	/* An envelope larger than a reader looks at. */
	struct str huge = STR_INIT;
	for (int i = 0; i < 1100 * 1024; i++)
		str_append_char(&huge, 'h');
	queue_envelope_add_rcpt(&env, "a@example.net", NULL, NULL);
	free(env.helo);
	env.helo = str_steal(&huge);
	error = NULL;
	CHECK(queue_writer_open(dir, &env, &error) == NULL);
	CHECK(error != NULL);
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(commit_missing_dir)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "hello\r\n", 7, &error) == 0);
	error = NULL;
	CHECK(queue_writer_commit(w, "nonexistent", &error) == -1);
	CHECK(error != NULL && strstr(error, "nonexistent") != NULL);
	/* Further use after a failure keeps failing. */
	CHECK(queue_writer_write(w, "x", 1, &error) == -1);
	CHECK(queue_writer_commit(w, "incoming", &error) == -1);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	CHECK(count_entries(dir, "incoming") == 0);
	CHECK(count_entries(dir, "nonexistent") == -1);
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(commit_never_replaces)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(w != NULL);
	char *taken = xasprintf("%s/incoming/%s", dir, queue_writer_id(w));
	CHECK(write_whole(taken, "older", 5));
	CHECK(queue_writer_commit(w, "incoming", &error) == -1);
	queue_writer_abort(w);
	struct str data = STR_INIT;
	CHECK(read_whole(taken, &data) && str_equal_cstr(&data, "older"));
	CHECK(count_entries(dir, "tmp") == count_free(dir)); /* no partial file */
	str_free(&data);
	free(taken);
	queue_envelope_free(&env);
	drop_queue(dir);
}

TEST(commit_twice)
{
	char *dir = make_queue();
	struct queue_envelope env;
	fill_envelope(&env);
	const char *error = NULL;
	struct queue_writer *w = queue_writer_open(dir, &env, &error);
	CHECK(queue_writer_commit(w, "incoming", &error) == 0);
	CHECK(queue_writer_write(w, "x", 1, &error) == -1);
	CHECK(queue_writer_commit(w, "hold", &error) == -1);
	queue_writer_abort(w);
	CHECK(count_entries(dir, "incoming") == 1);
	CHECK(count_entries(dir, "hold") == 0);
	queue_envelope_free(&env);
	drop_queue(dir);
}

/* ---- damaged files ---- */

TEST(truncated_every_prefix)
{
	char *dir = make_queue();
	char *path = write_small_file(dir, "Subject: hi\r\n\r\nbody\r\n");
	struct str file = STR_INIT;
	CHECK(read_whole(path, &file));
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	CHECK(queue_file_read(path, &env, &offset, &error) == 0);
	queue_envelope_free(&env);
	size_t content_offset = offset;
	bool all_rejected = true, parse_ok = true;
	for (size_t len = 0; len < file.len; len++) {
		if (!file_rejected(dir, file.data, len)) {
			fprintf(stderr, "prefix of %zu bytes accepted\n", len);
			all_rejected = false;
		}
		/* A prefix of a valid file needs more bytes until the content. */
		int want = len < content_offset ? 0 : 1;
		int rc = queue_file_parse_envelope(file.data, len, &env, &offset, &error);
		if (rc == 1)
			queue_envelope_free(&env);
		if (rc != want) {
			fprintf(stderr, "parse of %zu-byte prefix returned %d\n", len, rc);
			parse_ok = false;
		}
	}
	CHECK(all_rejected);
	CHECK(parse_ok);
	str_free(&file);
	free(path);
	drop_queue(dir);
}

TEST(damaged_content)
{
	char *dir = make_queue();
	const char *content = "Subject: hi\r\n\r\nmessage text\r\n";
	char *path = write_small_file(dir, content);
	struct str file = STR_INIT;
	CHECK(read_whole(path, &file));
	char *found = memmem(file.data, file.len, "message text", 12);
	CHECK(found != NULL);
	if (found != NULL) {
		*found ^= 0x01; /* crc mismatch */
		CHECK(file_rejected(dir, file.data, file.len));
		*found ^= 0x01;
	}
	CHECK(!file_rejected(dir, file.data, file.len));
	/* Bad magic. */
	char saved = file.data[8];
	file.data[8] = 'X';
	CHECK(file_rejected(dir, file.data, file.len));
	file.data[8] = saved;
	CHECK(!file_rejected(dir, file.data, file.len));
	/* Missing end record: cut right after the content. */
	struct queue_envelope env;
	size_t offset = 0;
	const char *error = NULL;
	CHECK(queue_file_read(path, &env, &offset, &error) == 0);
	size_t content_end = offset + strlen(content);
	queue_envelope_free(&env);
	CHECK(file_rejected(dir, file.data, content_end));
	/* Garbage after the end record. */
	struct str longer = STR_INIT;
	str_append(&longer, file.data, file.len);
	str_append(&longer, "junk", 4);
	CHECK(file_rejected(dir, longer.data, longer.len));
	/* A wrong crc in an otherwise good end record. */
	str_truncate(&longer, content_end);
	struct ipc_rec *rec = ipc_rec_new("end");
	ipc_rec_add_int(rec, "crc32", 12345);
	ipc_rec_encode(rec, &longer);
	ipc_rec_free(rec);
	CHECK(file_rejected(dir, longer.data, longer.len));
	/* Another record where the end record belongs. */
	str_truncate(&longer, content_end);
	rec = ipc_rec_new("rcpt");
	ipc_rec_add_str(rec, "address", "z@example.net");
	ipc_rec_encode(rec, &longer);
	ipc_rec_free(rec);
	CHECK(file_rejected(dir, longer.data, longer.len));
	str_free(&longer);
	str_free(&file);
	free(path);
	drop_queue(dir);
}

TEST(garbage_and_odd_files)
{
	char *dir = make_queue();
	CHECK(file_rejected(dir, "", 0));
	CHECK(file_rejected(dir, "hello world\n", 12));
	CHECK(file_rejected(dir, "POSTERN-QUEUE 2\n", 16));
	CHECK(file_rejected(dir, QUEUE_MAGIC, strlen(QUEUE_MAGIC)));
	unsigned char noise[4096];
	unsigned state = 12345;
	bool all_rejected = true;
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)(round * 37 % (int)sizeof(noise));
		for (size_t i = 0; i < len; i++) {
			state = state * 1103515245u + 12345u;
			noise[i] = (unsigned char)(state >> 16);
		}
		/* Half of them look like queue files until the records start. */
		if (round % 2 == 0 && len >= strlen(QUEUE_MAGIC))
			memcpy(noise, QUEUE_MAGIC, strlen(QUEUE_MAGIC));
		if (!file_rejected(dir, noise, len))
			all_rejected = false;
		struct queue_envelope env;
		size_t offset;
		const char *error = NULL;
		if (queue_file_parse_envelope(noise, len, &env, &offset, &error) == 1) {
			queue_envelope_free(&env);
			all_rejected = false;
		}
	}
	CHECK(all_rejected);

	struct queue_envelope env;
	size_t offset;
	const char *error = NULL;
	/* Missing file, a directory, a FIFO (must not block), a symlink. */
	char *missing = xasprintf("%s/incoming/0000000000000000", dir);
	CHECK(queue_file_read(missing, &env, &offset, &error) == -1);
	char *incoming = xasprintf("%s/incoming", dir);
	CHECK(queue_file_read(incoming, &env, &offset, &error) == -1);
	char *fifo = xasprintf("%s/hold/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(queue_file_read(fifo, &env, &offset, &error) == -1);
	char *good = write_small_file(dir, "x\r\n");
	char *link = xasprintf("%s/hold/link", dir);
	CHECK(symlink(good, link) == 0);
	CHECK(queue_file_read(link, &env, &offset, &error) == -1);
	CHECK(queue_file_read(good, &env, &offset, &error) == 0);
	/* The same through a descriptor: the same envelope and offset; a
	 * directory's or a FIFO's descriptor is refused. */
	struct queue_envelope by_fd;
	size_t fd_offset = 0;
	int fd = open(good, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && queue_file_read_fd(fd, &by_fd, &fd_offset, &error) == 0);
	CHECK(fd_offset == offset && by_fd.size == env.size && by_fd.rcpt_count == env.rcpt_count);
	CHECK_STR(by_fd.sender, env.sender);
	queue_envelope_free(&by_fd);
	close(fd);
	fd = open(incoming, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0 && queue_file_read_fd(fd, &by_fd, &fd_offset, &error) == -1);
	close(fd);
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0 && queue_file_read_fd(fd, &by_fd, &fd_offset, &error) == -1);
	close(fd);
	queue_envelope_free(&env);
	free(missing);
	free(incoming);
	free(fifo);
	free(good);
	free(link);
	drop_queue(dir);
}

/* Envelope-level semantic errors, built record by record. */
static int parse_records(const char *const *names, size_t count)
{
	struct str buf = STR_INIT;
	str_append_cstr(&buf, QUEUE_MAGIC);
	for (size_t i = 0; i < count; i++) {
		struct ipc_rec *rec = NULL;
		const char *n = names[i];
		if (strcmp(n, "envelope") == 0 || strcmp(n, "envelope-badid") == 0 ||
		    strcmp(n, "envelope-noid") == 0 || strcmp(n, "envelope-nosender") == 0) {
			rec = ipc_rec_new("envelope");
			if (strcmp(n, "envelope-noid") != 0)
				ipc_rec_add_str(rec, "id",
				                strcmp(n, "envelope-badid") == 0
				                    ? "../../etc/passwd"
				                    : "0123456789ABCDEF");
			ipc_rec_add_int(rec, "arrival", 1);
			if (strcmp(n, "envelope-nosender") != 0)
				ipc_rec_add_str(rec, "sender", "");
		} else if (strcmp(n, "envelope-intsender") == 0) {
			rec = ipc_rec_new("envelope");
			ipc_rec_add_str(rec, "id", "0123456789ABCDEF");
			ipc_rec_add_int(rec, "arrival", 1);
			ipc_rec_add_int(rec, "sender", 7);
		} else if (strcmp(n, "rcpt") == 0) {
			rec = ipc_rec_new("rcpt");
			ipc_rec_add_str(rec, "address", "r@example.net");
		} else if (strcmp(n, "rcpt-empty") == 0) {
			rec = ipc_rec_new("rcpt");
			ipc_rec_add_str(rec, "address", "");
		} else if (strcmp(n, "content") == 0 || strcmp(n, "content-negative") == 0) {
			rec = ipc_rec_new("content");
			ipc_rec_add_int(rec, "size", strcmp(n, "content") == 0 ? 0 : -5);
		} else if (strcmp(n, "content-nosize") == 0) {
			rec = ipc_rec_new("content");
		} else {
			rec = ipc_rec_new(n);
		}
		ipc_rec_encode(rec, &buf);
		ipc_rec_free(rec);
	}
	struct queue_envelope env;
	size_t offset;
	const char *error = NULL;
	int rc = queue_file_parse_envelope(buf.data, buf.len, &env, &offset, &error);
	if (rc == 1)
		queue_envelope_free(&env);
	if (rc == -1 && error == NULL)
		rc = -2; /* an error must say why */
	str_free(&buf);
	return rc;
}

#define PARSE(...)                                                                                 \
	parse_records((const char *const[]){__VA_ARGS__},                                          \
	              sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

TEST(envelope_semantics)
{
	CHECK(PARSE("envelope", "rcpt", "content") == 1);
	CHECK(PARSE("envelope", "rcpt", "rcpt", "content") == 1);
	CHECK(PARSE("envelope", "rcpt") == 0);
	CHECK(PARSE("envelope", "content") == -1);
	CHECK(PARSE("rcpt", "envelope", "content") == -1);
	CHECK(PARSE("content") == -1);
	CHECK(PARSE("envelope", "envelope", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-badid", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-noid", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-nosender", "rcpt", "content") == -1);
	CHECK(PARSE("envelope-intsender", "rcpt", "content") == -1);
	CHECK(PARSE("envelope", "rcpt-empty", "content") == -1);
	CHECK(PARSE("envelope", "rcpt", "content-negative") == -1);
	CHECK(PARSE("envelope", "rcpt", "content-nosize") == -1);
	CHECK(PARSE("envelope", "rcpt", "unknown", "content") == -1);
	CHECK(PARSE("envelope", "rcpt", "end") == -1);
}

/* ---- a full filesystem ---- */

TEST(full_filesystem)
{
	if (geteuid() != 0) {
		printf("skip full_filesystem: not root\n");
		return;
	}
	char *mnt = xstrdup("/tmp/postern-test-tmpfs-XXXXXX");
	CHECK(mkdtemp(mnt) != NULL);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
		printf("skip full_filesystem: mount tmpfs: %s\n", strerror(errno));
		rmdir(mnt);
		free(mnt);
		return;
	}
	const char *error = NULL;
	CHECK(queue_make_dirs(mnt, (uid_t)-1, (gid_t)-1, &error) == 0);
	struct queue_envelope env;
	fill_envelope(&env);
	struct queue_writer *w = queue_writer_open(mnt, &env, &error);
	CHECK(w != NULL);
	if (w != NULL) {
		char chunk[8192];
		memset(chunk, 'm', sizeof(chunk));
		int failed = 0;
		for (int i = 0; i < 64 && !failed; i++) /* 512 KiB into 64 KiB */
			if (queue_writer_write(w, chunk, sizeof(chunk), &error) != 0)
				failed = 1;
		if (!failed && queue_writer_commit(w, "incoming", &error) != 0)
			failed = 1;
		CHECK(failed);
		CHECK(error != NULL && strstr(error, "No space") != NULL);
		queue_writer_abort(w);
	}
	CHECK(count_entries(mnt, "tmp") == count_free(mnt)); /* no partial file */
	CHECK(count_entries(mnt, "incoming") == 0);
	/* The filesystem is usable again afterwards: a small file fits. */
	char *path = write_small_file(mnt, "small\r\n");
	struct queue_envelope got;
	size_t offset;
	CHECK(queue_file_read(path, &got, &offset, &error) == 0);
	queue_envelope_free(&got);
	free(path);
	queue_envelope_free(&env);
	CHECK(umount(mnt) == 0);
	CHECK(rmdir(mnt) == 0);
	free(mnt);
}

int main(void)
{
	RUN(envelope_copy);
	RUN(ids_unique_and_ordered);
	RUN(ids_sort_by_time);
	RUN(id_valid_cases);
	RUN(make_dirs);
	RUN(write_commit_read_back);
	RUN(empty_content_and_hold);
	RUN(verify_mode_round_trip);
	RUN(abort_leaves_nothing);
	RUN(prepared_file_used_and_swept);
	RUN(recycled_file_reused);
	RUN(full_pool_removes_files);
	RUN(free_file_after_empty_pool);
	RUN(writer_refuses_unreadable_envelope);
	RUN(commit_missing_dir);
	RUN(commit_never_replaces);
	RUN(commit_twice);
	RUN(truncated_every_prefix);
	RUN(damaged_content);
	RUN(garbage_and_odd_files);
	RUN(envelope_semantics);
	RUN(full_filesystem);
	return TESTING_DONE();
}
