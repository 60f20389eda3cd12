/* Unit tests for util/ipc: the wire format, the strict decoder, blocking
 * I/O over socket pairs and pipes (EOF, truncation, timeouts), and the
 * incremental reader. */
#include "util/ipc.h"
#include "util/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A byte-string literal with its length (it may hold NUL bytes). */
#define BYTES(lit) lit, sizeof(lit) - 1

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void append_u32(struct str *s, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	str_append(s, b, 4);
}

/* Put the 4-byte length header in front of body. */
static void frame(struct str *out, const void *body, size_t len)
{
	append_u32(out, (uint32_t)len);
	str_append(out, body, len);
}

/* Decode a framed body; on success checks that all of it was used. */
static int decode_body(const void *body, size_t len, const char **error_r)
{
	struct str buf = STR_INIT;
	frame(&buf, body, len);
	struct ipc_rec *rec = NULL;
	size_t used = 0;
	*error_r = NULL;
	int rc = ipc_rec_decode(buf.data, buf.len, 0, &rec, &used, error_r);
	if (rc == 1) {
		CHECK(used == buf.len);
		ipc_rec_free(rec);
	}
	str_free(&buf);
	return rc;
}

static struct ipc_rec *sample_record(void)
{
	static const char binary[] = {'\0', 'a', '\0', '\xff', '\n', '\0'};
	struct ipc_rec *rec = ipc_rec_new("sample.rec-1_x");
	ipc_rec_add_int(rec, "zero", 0);
	ipc_rec_add_int(rec, "neg", -1);
	ipc_rec_add_int(rec, "min", INT64_MIN);
	ipc_rec_add_int(rec, "max", INT64_MAX);
	ipc_rec_add_str(rec, "empty", "");
	ipc_rec_add_str(rec, "text", "h\xc3\xa9llo world");
	ipc_rec_add_data(rec, "bin", binary, sizeof(binary));
	ipc_rec_add_data(rec, "nodata", "", 0);
	ipc_rec_add_str(rec, "item", "first");
	ipc_rec_add_int(rec, "item", 2);
	ipc_rec_add_str(rec, "item", "third");
	return rec;
}

static void check_sample(const struct ipc_rec *rec)
{
	int64_t v = 1;
	size_t len = 99;
	CHECK(ipc_rec_is(rec, "sample.rec-1_x"));
	CHECK(!ipc_rec_is(rec, "sample"));
	CHECK(rec->count == 11);
	CHECK(ipc_rec_get_int(rec, "zero", &v) && v == 0);
	CHECK(ipc_rec_get_int(rec, "neg", &v) && v == -1);
	CHECK(ipc_rec_get_int(rec, "min", &v) && v == INT64_MIN);
	CHECK(ipc_rec_get_int(rec, "max", &v) && v == INT64_MAX);
	CHECK_STR(ipc_rec_get_str(rec, "empty"), "");
	CHECK_STR(ipc_rec_get_str(rec, "text"), "h\xc3\xa9llo world");
	const char *bin = ipc_rec_get_data(rec, "bin", &len);
	CHECK(bin != NULL && len == 6 && memcmp(bin, "\0a\0\xff\n\0", 6) == 0);
	const char *nodata = ipc_rec_get_data(rec, "nodata", &len);
	CHECK(nodata != NULL && len == 0 && nodata[0] == '\0');
	/* Look-ups by type: the first of that name and type. */
	CHECK(ipc_rec_get_str(rec, "zero") == NULL);
	CHECK(!ipc_rec_get_int(rec, "text", &v));
	CHECK(ipc_rec_get_data(rec, "text", &len) == NULL);
	CHECK(ipc_rec_get_int(rec, "item", &v) && v == 2);
	CHECK_STR(ipc_rec_get_str(rec, "item"), "first");
	CHECK(ipc_rec_get_str(rec, "absent") == NULL);
	CHECK(!ipc_rec_get_int(rec, "absent", &v));
	/* Lists: repeated names in order, any type. */
	const struct ipc_attr *a = ipc_rec_get_nth(rec, "item", 0);
	CHECK(a != NULL && a->type == IPC_STR && strcmp(a->value, "first") == 0);
	a = ipc_rec_get_nth(rec, "item", 1);
	CHECK(a != NULL && a->type == IPC_INT && a->num == 2);
	a = ipc_rec_get_nth(rec, "item", 2);
	CHECK(a != NULL && a->type == IPC_STR && strcmp(a->value, "third") == 0);
	CHECK(ipc_rec_get_nth(rec, "item", 3) == NULL);
	CHECK(ipc_rec_get_nth(rec, "absent", 0) == NULL);
	a = ipc_rec_find(rec, "item");
	CHECK(a != NULL && a == ipc_rec_get_nth(rec, "item", 0));
	CHECK(ipc_rec_find(rec, "absent") == NULL);
}

TEST(round_trip)
{
	struct ipc_rec *rec = sample_record();
	check_sample(rec);
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	struct ipc_rec *out = NULL;
	size_t used = 0;
	const char *error = NULL;
	CHECK(ipc_rec_decode(buf.data, buf.len, 0, &out, &used, &error) == 1);
	CHECK(used == buf.len);
	if (out) {
		check_sample(out);
		ipc_rec_free(out);
	}
	ipc_rec_free(rec);
	str_free(&buf);
}

TEST(wire_format)
{
	struct ipc_rec *rec = ipc_rec_new("r");
	ipc_rec_add_int(rec, "n", -2);
	ipc_rec_add_str(rec, "s", "ab");
	ipc_rec_add_data(rec, "d", "\0", 1);
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	static const char expect[] = "\0\0\0\x22"
	                             "\x01"
	                             "r"
	                             "i\x01"
	                             "n\0\0\0\x08\xff\xff\xff\xff\xff\xff\xff\xfe"
	                             "s\x01"
	                             "s\0\0\0\x02"
	                             "ab"
	                             "d\x01"
	                             "d\0\0\0\x01\0";
	CHECK(buf.len == sizeof(expect) - 1);
	CHECK(buf.len == sizeof(expect) - 1 && memcmp(buf.data, expect, buf.len) == 0);
	/* Encoding appends to what the buffer holds. */
	ipc_rec_encode(rec, &buf);
	CHECK(buf.len == 2 * (sizeof(expect) - 1));
	CHECK(memcmp(buf.data + sizeof(expect) - 1, expect, sizeof(expect) - 1) == 0);
	ipc_rec_free(rec);
	str_free(&buf);
}

TEST(every_prefix_needs_more)
{
	struct ipc_rec *rec = sample_record();
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	ipc_rec_free(rec);
	int wrong = 0;
	for (size_t i = 0; i < buf.len; i++) {
		struct ipc_rec *out = NULL;
		size_t used = 0;
		const char *error = NULL;
		if (ipc_rec_decode(buf.data, i, 0, &out, &used, &error) != 0 || out != NULL)
			wrong++;
	}
	CHECK(wrong == 0);
	CHECK(ipc_rec_decode(NULL, 0, 0, &rec, NULL, NULL) == 0);
	str_free(&buf);
}

TEST(back_to_back)
{
	struct ipc_rec *a = ipc_rec_new("first");
	ipc_rec_add_str(a, "x", "1");
	struct ipc_rec *b = ipc_rec_new("second");
	ipc_rec_add_int(b, "y", 2);
	struct str buf = STR_INIT;
	ipc_rec_encode(a, &buf);
	size_t first_len = buf.len;
	ipc_rec_encode(b, &buf);
	str_append(&buf, "\0\0", 2); /* the start of a third record */
	ipc_rec_free(a);
	ipc_rec_free(b);

	struct ipc_rec *out = NULL;
	size_t used = 0;
	int64_t v = 0;
	const char *error = NULL;
	CHECK(ipc_rec_decode(buf.data, buf.len, 0, &out, &used, &error) == 1);
	CHECK(used == first_len);
	CHECK(out && ipc_rec_is(out, "first") && out->count == 1);
	CHECK_STR(out ? ipc_rec_get_str(out, "x") : NULL, "1");
	ipc_rec_free(out);
	size_t off = used;
	out = NULL;
	CHECK(ipc_rec_decode(buf.data + off, buf.len - off, 0, &out, &used, &error) == 1);
	CHECK(out && ipc_rec_is(out, "second") && ipc_rec_get_int(out, "y", &v) && v == 2);
	ipc_rec_free(out);
	off += used;
	CHECK(buf.len - off == 2);
	CHECK(ipc_rec_decode(buf.data + off, buf.len - off, 0, &out, &used, &error) == 0);
	str_free(&buf);
}

TEST(malformed)
{
	static const struct {
		const char *body;
		size_t len;
		const char *error;
	} cases[] = {
	    {BYTES(""), "record has no name"},
	    {BYTES("\x00"), "bad record name length"},
	    {BYTES("\x41"
	           "a"),
	     "bad record name length"},
	    {BYTES("\x05"
	           "ab"),
	     "record name overruns the record"},
	    {BYTES("\x02"
	           "a "),
	     "bad character in record name"},
	    {BYTES("\x02"
	           "a\0"),
	     "bad character in record name"},
	    {BYTES("\x02"
	           "a\x80"),
	     "bad character in record name"},
	    {BYTES("\x02"
	           "a/"),
	     "bad character in record name"},
	    {BYTES("\x01"
	           "rx\x01"
	           "n\0\0\0\0"),
	     "bad attribute type"},
	    {BYTES("\x01"
	           "r\0\x01"
	           "n\0\0\0\0"),
	     "bad attribute type"},
	    {BYTES("\x01"
	           "rI\x01"
	           "n\0\0\0\x08\0\0\0\0\0\0\0\0"),
	     "bad attribute type"},
	    {BYTES("\x01"
	           "rs"),
	     "truncated attribute"},
	    {BYTES("\x01"
	           "rs\x00\0\0\0\0"),
	     "bad attribute name length"},
	    {BYTES("\x01"
	           "rs\x41"
	           "aaaa"),
	     "bad attribute name length"},
	    {BYTES("\x01"
	           "rs\x05"
	           "ab"),
	     "attribute name overruns the record"},
	    {BYTES("\x01"
	           "rs\x02"
	           "a=\0\0\0\0"),
	     "bad character in attribute name"},
	    {BYTES("\x01"
	           "rs\x02"
	           "a\0\0\0\0\0"),
	     "bad character in attribute name"},
	    {BYTES("\x01"
	           "rs\x01"
	           "n\0\0"),
	     "truncated attribute"},
	    {BYTES("\x01"
	           "rs\x01"
	           "n\0\0\0\x05"
	           "abc"),
	     "attribute value overruns the record"},
	    {BYTES("\x01"
	           "rd\x01"
	           "n\xff\xff\xff\xff"
	           "abc"),
	     "attribute value overruns the record"},
	    {BYTES("\x01"
	           "ri\x01"
	           "n\0\0\0\x04\0\0\0\x01"),
	     "integer attribute is not 8 bytes"},
	    {BYTES("\x01"
	           "ri\x01"
	           "n\0\0\0\x09\0\0\0\0\0\0\0\0\x01"),
	     "integer attribute is not 8 bytes"},
	    {BYTES("\x01"
	           "ri\x01"
	           "n\0\0\0\0"),
	     "integer attribute is not 8 bytes"},
	    {BYTES("\x01"
	           "rs\x01"
	           "n\0\0\0\x03"
	           "a\0b"),
	     "NUL byte in a string attribute"},
	    {BYTES("\x01"
	           "rs\x01"
	           "n\0\0\0\x01\0"),
	     "NUL byte in a string attribute"},
	    /* A valid attribute, then a stray byte. */
	    {BYTES("\x01"
	           "rs\x01"
	           "n\0\0\0\x01"
	           "as"),
	     "truncated attribute"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *error = NULL;
		int rc = decode_body(cases[i].body, cases[i].len, &error);
		if (rc != -1 || error == NULL || strcmp(error, cases[i].error) != 0)
			fprintf(stderr, "malformed case %zu: rc %d, error %s\n", i, rc,
			        error ? error : "(none)");
		CHECK(rc == -1);
		CHECK_STR(error, cases[i].error);
	}
}

TEST(names)
{
	char name64[65], name65[66];
	memset(name64, 'n', 64);
	name64[64] = '\0';
	memset(name65, 'n', 65);
	name65[65] = '\0';
	const char *error;

	struct ipc_rec *rec = ipc_rec_new(name64);
	ipc_rec_add_str(rec, name64, "v");
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	ipc_rec_free(rec);
	CHECK(decode_body(buf.data + 4, buf.len - 4, &error) == 1);
	str_free(&buf);

	/* The same with 65-character names, built by hand. */
	str_append_char(&buf, 65);
	str_append_cstr(&buf, name65);
	CHECK(decode_body(buf.data, buf.len, &error) == -1);
	CHECK_STR(error, "bad record name length");
	str_clear(&buf);
	str_append(&buf, BYTES("\x01"
	                       "rs"));
	str_append_char(&buf, 65);
	str_append_cstr(&buf, name65);
	str_append(&buf, BYTES("\0\0\0\0"));
	CHECK(decode_body(buf.data, buf.len, &error) == -1);
	CHECK_STR(error, "bad attribute name length");
	str_free(&buf);

	/* Every character of the allowed set, in both kinds of name. */
	const char *all = "ABCXYZabcxyz0189_.-";
	rec = ipc_rec_new(all);
	ipc_rec_add_int(rec, all, 5);
	ipc_rec_encode(rec, &buf);
	ipc_rec_free(rec);
	CHECK(decode_body(buf.data + 4, buf.len - 4, &error) == 1);
	str_free(&buf);
}

TEST(size_limit)
{
	struct ipc_rec *out = NULL;
	size_t used = 0;
	const char *error = NULL;
	/* The header alone is enough to refuse an oversized record. */
	CHECK(ipc_rec_decode(BYTES("\0\0\0\x65"), 100, &out, &used, &error) == -1);
	CHECK_STR(error, "record too large");
	error = NULL;
	CHECK(ipc_rec_decode(BYTES("\0\0\0\x64"), 100, &out, &used, &error) == 0);
	CHECK(ipc_rec_decode(BYTES("\x01\0\0\x01"), 0, &out, &used, &error) == -1);
	CHECK_STR(error, "record too large");
	error = NULL;
	CHECK(ipc_rec_decode(BYTES("\xff\xff\xff\xff"), 0, &out, &used, &error) == -1);
	CHECK_STR(error, "record too large");
	CHECK(ipc_rec_decode(BYTES("\x01\0\0\0"), 0, &out, &used, &error) == 0);
	/* A limit above IPC_MAX_RECORD is capped. */
	CHECK(ipc_rec_decode(BYTES("\x01\0\0\x01"), SIZE_MAX, &out, &used, &error) == -1);
	CHECK(out == NULL);

	/* A record of exactly max_len bytes is accepted. */
	struct ipc_rec *rec = ipc_rec_new("r");
	ipc_rec_add_str(rec, "s", "abcdef");
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	ipc_rec_free(rec);
	CHECK(ipc_rec_decode(buf.data, buf.len, buf.len - 4, &out, &used, &error) == 1);
	ipc_rec_free(out);
	CHECK(ipc_rec_decode(buf.data, buf.len, buf.len - 5, &out, &used, &error) == -1);
	str_free(&buf);
}

/* A record with a data attribute of size bytes, each byte set from its index. */
static struct ipc_rec *big_record(size_t size)
{
	char *data = malloc(size);
	for (size_t i = 0; i < size; i++)
		data[i] = (char)(i * 7 + i / 251);
	struct ipc_rec *rec = ipc_rec_new("big");
	ipc_rec_add_data(rec, "payload", data, size);
	ipc_rec_add_int(rec, "size", (int64_t)size);
	free(data);
	return rec;
}

static bool is_big_record(const struct ipc_rec *rec, size_t size)
{
	size_t len = 0;
	int64_t n = 0;
	const char *data = ipc_rec_get_data(rec, "payload", &len);
	if (!ipc_rec_is(rec, "big") || data == NULL || len != size ||
	    !ipc_rec_get_int(rec, "size", &n) || n != (int64_t)size)
		return false;
	for (size_t i = 0; i < size; i++)
		if (data[i] != (char)(i * 7 + i / 251))
			return false;
	return true;
}

/* Write two records over fds[1] and read them back from fds[0]; a large one
 * is written by a child so that reader and writer run at once. */
static void check_transfer(int fds[2])
{
	struct ipc_rec *rec = sample_record(), *out = NULL;
	const char *error = NULL;
	CHECK(ipc_write(fds[1], rec, 1000) == 0);
	CHECK(ipc_write(fds[1], rec, 1000) == 0);
	ipc_rec_free(rec);
	for (int i = 0; i < 2; i++) {
		out = NULL;
		CHECK(ipc_read(fds[0], &out, 0, 1000, &error) == 1);
		if (out)
			check_sample(out);
		ipc_rec_free(out);
	}

	const size_t size = 3 * 1024 * 1024 + 17;
	pid_t pid = fork();
	if (pid == 0) {
		struct ipc_rec *big = big_record(size);
		_exit(ipc_write(fds[1], big, 10000) == 0 ? 0 : 1);
	}
	out = NULL;
	CHECK(ipc_read(fds[0], &out, 0, 10000, &error) == 1);
	CHECK(out != NULL && is_big_record(out, size));
	ipc_rec_free(out);
	int status = -1;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* End of file: clean between records, truncated inside one. */
static void check_eof(int fds[2], const void *partial, size_t partial_len)
{
	struct ipc_rec *out = NULL;
	const char *error = NULL;
	if (partial_len)
		CHECK(write(fds[1], partial, partial_len) == (ssize_t)partial_len);
	close(fds[1]);
	int rc = ipc_read(fds[0], &out, 0, 1000, &error);
	if (partial_len == 0) {
		CHECK(rc == 0);
	} else {
		CHECK(rc == -1);
		CHECK_STR(error, "truncated record");
	}
	CHECK(out == NULL);
	close(fds[0]);
}

static void make_pair(int fds[2], bool socket)
{
	int rc = socket ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds);
	if (rc != 0) {
		perror("socketpair/pipe");
		exit(1);
	}
}

TEST(socketpair_and_pipe)
{
	for (int kind = 0; kind < 2; kind++) {
		bool socket = kind == 0;
		int fds[2];
		make_pair(fds, socket);
		check_transfer(fds);
		check_eof(fds, NULL, 0);
		make_pair(fds, socket);
		check_eof(fds, BYTES("\0\0"));
		make_pair(fds, socket);
		check_eof(fds, BYTES("\0\0\0\x10\x01"
		                     "r"));
	}
}

TEST(read_errors)
{
	int fds[2];
	make_pair(fds, true);
	/* An oversized header is refused at once, without waiting for the body. */
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK(write(fds[1], BYTES("\0\0\x10\0")) == 4);
	struct ipc_rec *out = NULL;
	const char *error = NULL;
	CHECK(ipc_read(fds[0], &out, 100, 5000, &error) == -1);
	CHECK_STR(error, "record too large");
	CHECK(elapsed_ms(&start) < 1000);
	close(fds[0]);
	close(fds[1]);

	/* A malformed body. */
	make_pair(fds, false);
	CHECK(write(fds[1], BYTES("\0\0\0\x01\0")) == 5);
	error = NULL;
	CHECK(ipc_read(fds[0], &out, 0, 1000, &error) == -1);
	CHECK_STR(error, "bad record name length");
	close(fds[0]);
	close(fds[1]);

	/* Not a descriptor. */
	error = NULL;
	CHECK(ipc_read(fds[0], &out, 0, 1000, &error) == -1);
	CHECK(error != NULL);
}

static void check_read_timeout(int fd, const char *what)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	struct ipc_rec *out = NULL;
	const char *error = NULL;
	errno = 0;
	int rc = ipc_read(fd, &out, 0, 100, &error);
	long ms = elapsed_ms(&start);
	if (rc != -1 || errno != ETIMEDOUT || ms < 90 || ms > 1000)
		fprintf(stderr, "read timeout (%s): rc %d errno %d after %ld ms\n", what, rc, errno,
		        ms);
	CHECK(rc == -1);
	CHECK(errno == ETIMEDOUT);
	CHECK(ms >= 90 && ms <= 1000);
	CHECK_STR(error, "timed out");
}

/* Fill the pipe or socket buffer of fd so that a write would block. */
static void fill_up(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	char chunk[4096] = {0};
	while (write(fd, chunk, sizeof(chunk)) > 0)
		;
	while (write(fd, chunk, 1) > 0)
		;
	fcntl(fd, F_SETFL, flags);
}

static void check_write_timeout(int fd, const char *what)
{
	struct ipc_rec *rec = ipc_rec_new("w");
	ipc_rec_add_str(rec, "s", "blocked");
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	errno = 0;
	int rc = ipc_write(fd, rec, 100);
	long ms = elapsed_ms(&start);
	if (rc != -1 || errno != ETIMEDOUT || ms < 90 || ms > 1000)
		fprintf(stderr, "write timeout (%s): rc %d errno %d after %ld ms\n", what, rc,
		        errno, ms);
	CHECK(rc == -1);
	CHECK(errno == ETIMEDOUT);
	CHECK(ms >= 90 && ms <= 1000);
	ipc_rec_free(rec);
}

TEST(timeouts)
{
	for (int kind = 0; kind < 2; kind++) {
		const char *what = kind == 0 ? "socket" : "pipe";
		int fds[2];
		make_pair(fds, kind == 0);
		check_read_timeout(fds[0], what);
		/* The timeout covers the whole record, not each read. */
		CHECK(write(fds[1], BYTES("\0\0\0\x10\x05")) == 5);
		check_read_timeout(fds[0], what);
		/* Both ends stay in blocking mode: the timeout must still hold. */
		fill_up(fds[1]);
		check_write_timeout(fds[1], what);
		close(fds[0]);
		close(fds[1]);
	}
}

TEST(write_errors)
{
	int fds[2];
	make_pair(fds, true);
	close(fds[0]);
	struct ipc_rec *rec = ipc_rec_new("w");
	/* A socket whose peer is gone: EPIPE, and no SIGPIPE kills us. */
	errno = 0;
	CHECK(ipc_write(fds[1], rec, 1000) == -1);
	CHECK(errno == EPIPE);
	close(fds[1]);
	errno = 0;
	CHECK(ipc_write(fds[1], rec, 1000) == -1);
	CHECK(errno == EBADF);
	/* Too large to send: refused before writing anything. */
	ipc_rec_free(rec);
	make_pair(fds, true);
	rec = big_record(IPC_MAX_RECORD);
	errno = 0;
	CHECK(ipc_write(fds[1], rec, 1000) == -1);
	CHECK(errno == EMSGSIZE);
	ipc_rec_free(rec);
	close(fds[0]);
	close(fds[1]);
}

TEST(reader_byte_by_byte)
{
	int fds[2];
	make_pair(fds, true);
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	struct ipc_rec *rec = sample_record();
	struct str buf = STR_INIT;
	ipc_rec_encode(rec, &buf);
	size_t first_len = buf.len;
	ipc_rec_encode(rec, &buf);
	ipc_rec_free(rec);

	struct ipc_reader reader;
	ipc_reader_init(&reader, 0);
	errno = 0;
	CHECK(ipc_reader_fill(&reader, fds[0]) == -1 && errno == EAGAIN);
	int got = 0, early = 0, fills = 0;
	for (size_t i = 0; i < buf.len; i++) {
		if (write(fds[1], buf.data + i, 1) != 1)
			break;
		if (ipc_reader_fill(&reader, fds[0]) == 1)
			fills++;
		struct ipc_rec *out = NULL;
		const char *error = NULL;
		int rc = ipc_reader_next(&reader, &out, &error);
		bool at_end = i + 1 == first_len || i + 1 == buf.len;
		if (rc == 1 && at_end) {
			check_sample(out);
			ipc_rec_free(out);
			got++;
		} else if (rc != 0) {
			early++;
		}
	}
	CHECK(fills == (int)buf.len);
	CHECK(got == 2);
	CHECK(early == 0);
	CHECK(reader.buf.len == 0);

	/* A malformed record, then end of file. */
	CHECK(write(fds[1], BYTES("\0\0\0\x02\x01"
	                          "/")) == 6);
	CHECK(ipc_reader_fill(&reader, fds[0]) == 1);
	struct ipc_rec *out = NULL;
	const char *error = NULL;
	CHECK(ipc_reader_next(&reader, &out, &error) == -1);
	CHECK_STR(error, "bad character in record name");
	close(fds[1]);
	CHECK(ipc_reader_fill(&reader, fds[0]) == 0);
	ipc_reader_free(&reader);
	close(fds[0]);
	str_free(&buf);
}

TEST(reader_limit_and_batches)
{
	int fds[2];
	make_pair(fds, false);
	struct ipc_reader reader;
	ipc_reader_init(&reader, 64);
	struct str buf = STR_INIT;
	for (int i = 0; i < 3; i++) {
		struct ipc_rec *rec = ipc_rec_new("n");
		ipc_rec_add_int(rec, "i", i);
		ipc_rec_encode(rec, &buf);
		ipc_rec_free(rec);
	}
	append_u32(&buf, 65); /* over the reader's limit */
	CHECK(write(fds[1], buf.data, buf.len) == (ssize_t)buf.len);
	CHECK(ipc_reader_fill(&reader, fds[0]) == 1);
	struct ipc_rec *out;
	const char *error = NULL;
	for (int i = 0; i < 3; i++) {
		int64_t v = -1;
		out = NULL;
		CHECK(ipc_reader_next(&reader, &out, &error) == 1);
		CHECK(out != NULL && ipc_rec_get_int(out, "i", &v) && v == i);
		ipc_rec_free(out);
	}
	CHECK(ipc_reader_next(&reader, &out, &error) == -1);
	CHECK_STR(error, "record too large");
	ipc_reader_free(&reader);
	str_free(&buf);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the pipe tests may write to a closed pipe */
	RUN(round_trip);
	RUN(wire_format);
	RUN(every_prefix_needs_more);
	RUN(back_to_back);
	RUN(malformed);
	RUN(names);
	RUN(size_limit);
	RUN(socketpair_and_pipe);
	RUN(read_errors);
	RUN(timeouts);
	RUN(write_errors);
	RUN(reader_byte_by_byte);
	RUN(reader_limit_and_batches);
	return TESTING_DONE();
}
