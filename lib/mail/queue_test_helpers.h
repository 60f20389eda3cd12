/*
 * Helpers the queue module's unit tests (test_queue_*.c) share: a fresh
 * temporary queue directory and its removal, counting the entries and
 * free files of a queue subdirectory, reading and writing whole files, a
 * filled-in envelope and a small valid queue file. For tests only; each
 * is static inline, as util/testing.h's are.
 */
#ifndef POSTERN_MAIL_QUEUE_TEST_HELPERS_H
#define POSTERN_MAIL_QUEUE_TEST_HELPERS_H

#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mail/queue.h"
#include "util/alloc.h"
#include "util/str.h"

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static inline void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary queue directory with its subdirectories. */
static inline char *make_queue(void)
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

static inline void drop_queue(char *dir)
{
	remove_tree(dir);
	free(dir);
}

/* Number of entries (other than . and ..) in queue_dir/sub; -1 if unreadable. */
static inline int count_entries(const char *queue_dir, const char *sub)
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
static inline int count_free(const char *queue_dir)
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

static inline bool read_whole(const char *path, struct str *out)
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

static inline bool write_whole(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return false;
	bool ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static inline void fill_envelope(struct queue_envelope *env)
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
static inline char *write_small_file(const char *queue_dir, const char *content)
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

#endif
