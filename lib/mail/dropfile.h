/*
 * The maildrop file: what the local sendmail hands to postdrop over a pipe
 * and what postdrop leaves in maildrop/ for pickup. Both readers (postdrop
 * and pickup) treat it as untrusted input and parse it strictly.
 *
 * Format, version 1: the line "POSTERN-DROP 1\n", then IPC records
 * (util/ipc.h):
 *   "drop"     uid (i), user (s), time (i: unix seconds), sender (s:
 *              canonical address, "" for <>), full_name (s), ret (s:
 *              "FULL"|"HDRS"|""), envid (s: decoded, printable ASCII, ""
 *              if none), body (s: "7BIT"|"8BITMIME"|""), smtputf8 (i: 0|1),
 *              and optionally verify_report (i: 0|1; 1 from sendmail -bv:
 *              deliver nothing, mail the sender a report of what would
 *              happen to each recipient) and trace_report (i: 0|1; 1 from
 *              sendmail -v: deliver, and mail the sender a report of the
 *              first attempt)
 *   "rcpt"     one per recipient (1..DROP_MAX_RCPTS), in order: address (s:
 *              canonical), orcpt (s: "" or "type;value"), notify (s: "",
 *              "NEVER", or a comma list of SUCCESS, FAILURE, DELAY)
 *   "content"  size (i); then exactly size raw bytes of the message: lines
 *              that end in CRLF, no other CR or LF, ending in CRLF unless
 *              empty
 *   "end"      crc32 (i: zlib crc32 of the content bytes)
 * and nothing after. Every attribute listed is required, exactly once,
 * with its type (verify_report and trace_report at most once); no other attribute or
 * record is allowed. Addresses must
 * be in the canonical form of smtp/address.h (so they are qualified), and
 * non-ASCII ones need smtputf8. The records before the content take at
 * most DROP_MAX_ENVELOPE bytes, so an accepted envelope always fits in a
 * queue file.
 *
 * uid, user and time are what postdrop stamps (the real uid of the
 * submitter); what sendmail put there is overwritten.
 */
#ifndef POSTERN_MAIL_DROPFILE_H
#define POSTERN_MAIL_DROPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

#define DROP_MAGIC "POSTERN-DROP 1\n"
#define DROP_MAX_ENVELOPE (256 * 1024)
#define DROP_MAX_RCPTS 10000
#define DROP_MAX_USER 256
#define DROP_MAX_FULL_NAME 256
#define DROP_MAX_ENVID 100
#define DROP_MAX_ORCPT 1000

struct drop_rcpt {
	char *address;
	char *orcpt;
	char *notify;
};

struct drop_envelope {
	int64_t uid;
	char *user;
	int64_t time;
	char *sender;
	char *full_name;
	char *ret;
	char *envid;
	char *body;
	bool smtputf8;
	bool verify_report; /* sendmail -bv */
	bool trace_report;  /* sendmail -v */
	struct drop_rcpt *rcpts;
	size_t rcpt_count;
	size_t rcpt_cap;
	/* Filled by the parsers: content bytes and their crc32. */
	int64_t size;
	uint32_t crc;
};

/* An empty envelope: every string "" (never NULL), no recipients. */
void drop_envelope_init(struct drop_envelope *env);
void drop_envelope_free(struct drop_envelope *env);
/* Replace one string field (e.g. &env->sender) with a copy of value. */
void drop_envelope_set(char **field, const char *value);
void drop_envelope_add_rcpt(struct drop_envelope *env, const char *address, const char *orcpt,
                            const char *notify);
/* The checks the parser applies to an envelope: 0, or -1 with *error_r. */
int drop_envelope_check(const struct drop_envelope *env, const char **error_r);

/* Writing: the magic line and records up to and including the content
 * record's header for size content bytes; then the content; then the end
 * record. drop_encode does all three for content held in memory. */
void drop_encode_head(const struct drop_envelope *env, int64_t size, struct str *out);
void drop_encode_tail(uint32_t crc, struct str *out);
void drop_encode(const struct drop_envelope *env, const void *content, size_t len, struct str *out);

/* Reading, pure over bytes. drop_parse_head: 1 with env filled (size set)
 * and *content_offset_r at the first content byte; 0 if more bytes are
 * needed (never once len exceeds DROP_MAX_ENVELOPE plus the magic line);
 * -1 with *error_r if the data is not a valid drop file. env needs no
 * initialisation and holds nothing to free unless 1 is returned. */
int drop_parse_head(const void *data, size_t len, struct drop_envelope *env,
                    size_t *content_offset_r, const char **error_r);

/* The content checker: line ends and crc32, fed in pieces of any size. */
struct drop_content_check {
	uint32_t crc;
	int64_t seen;
	bool after_cr;   /* the last byte seen was a CR */
	bool line_start; /* nothing seen yet, or the last byte was the LF of a CRLF */
	bool bad;
};
void drop_content_check_init(struct drop_content_check *c);
/* 0, or -1 with *error_r at a bare CR or LF (and every call after). */
int drop_content_check_feed(struct drop_content_check *c, const void *data, size_t len,
                            const char **error_r);
/* After the last content byte: 0 if it all ended with CRLF (or was empty). */
int drop_content_check_finish(struct drop_content_check *c, const char **error_r);

/* The bytes after the content, to the end of the input: exactly one end
 * record whose crc32 is crc. 0 or -1 with *error_r. */
int drop_parse_tail(const void *data, size_t len, uint32_t crc, const char **error_r);

/* A whole drop file in memory: 0 with env filled (size and crc set) and
 * *content_offset_r, or -1 with *error_r and nothing to free. */
int drop_parse(const void *data, size_t len, struct drop_envelope *env, size_t *content_offset_r,
               const char **error_r);

/* Reading from a descriptor (a pipe or an open drop file), streaming: the
 * envelope is parsed and handed to ops->head (which may change it: postdrop
 * stamps the submitter), then the content in pieces to ops->content, then
 * the end record is checked to the end of input. Callbacks return 0, or -1
 * with *error_r to stop. max_size (0: none) bounds the content. */
struct drop_read_ops {
	int (*head)(void *ctx, struct drop_envelope *env, const char **error_r);
	int (*content)(void *ctx, const void *data, size_t len, const char **error_r);
};

enum drop_read_result {
	DROP_READ_OK = 0,
	DROP_READ_BAD = -1,    /* the data is not a valid drop file (or too large) */
	DROP_READ_FAILED = -2, /* a read error, or a callback returned -1 */
};

/* Returns a drop_read_result; on DROP_READ_OK env is filled (free it), else
 * *error_r says why and env holds nothing to free. A caller that has seen
 * ops->content must still treat the data as unusable unless OK returns. */
int drop_read_fd(int fd, int64_t max_size, const struct drop_read_ops *ops, void *ctx,
                 struct drop_envelope *env, const char **error_r);

#endif
