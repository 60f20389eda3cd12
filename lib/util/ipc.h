/*
 * The IPC protocol between Postern programs: typed name/value records.
 *
 * Wire format of one record (all integers big-endian):
 *   u32  body length (bytes after this field; at most IPC_MAX_RECORD)
 *   u8   record-name length N (1..64), then N bytes: the record's type name
 *   then attributes until the body ends, each:
 *     u8   attribute type: 'i' (signed 64-bit integer), 's' (string: UTF-8
 *          text without NUL), 'd' (data: any bytes)
 *     u8   attribute-name length M (1..64), then M bytes [A-Za-z0-9_.-]
 *     u32  value length V ('i': always 8), then V bytes
 * A name may repeat (lists: ipc_rec_get_nth). The decoder checks every
 * length, type and name and rejects anything malformed or oversized.
 *
 * Every exchange between programs (master and its children, mailctl and
 * master, and later the mail programs) is a sequence of such records.
 */
#ifndef POSTERN_UTIL_IPC_H
#define POSTERN_UTIL_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

#define IPC_MAX_RECORD (16u * 1024 * 1024)
#define IPC_MAX_NAME 64

enum ipc_attr_type { IPC_INT = 'i', IPC_STR = 's', IPC_DATA = 'd' };

struct ipc_attr {
	enum ipc_attr_type type;
	char *name;
	int64_t num;      /* IPC_INT */
	char *value;      /* IPC_STR and IPC_DATA: NUL-terminated copy */
	size_t value_len; /* IPC_STR and IPC_DATA */
};

struct ipc_rec {
	char *name;
	struct ipc_attr *attrs;
	size_t count;
	size_t cap;
};

struct ipc_rec *ipc_rec_new(const char *name);
void ipc_rec_free(struct ipc_rec *rec);

void ipc_rec_add_int(struct ipc_rec *rec, const char *name, int64_t value);
void ipc_rec_add_str(struct ipc_rec *rec, const char *name, const char *value);
void ipc_rec_add_data(struct ipc_rec *rec, const char *name, const void *data, size_t len);

/* Look-ups return the first attribute of that name and type. */
const struct ipc_attr *ipc_rec_find(const struct ipc_rec *rec, const char *name);
const char *ipc_rec_get_str(const struct ipc_rec *rec, const char *name); /* NULL if absent */
/* Returns false if absent or not an integer. */
bool ipc_rec_get_int(const struct ipc_rec *rec, const char *name, int64_t *value_r);
const char *ipc_rec_get_data(const struct ipc_rec *rec, const char *name, size_t *len_r);
/* The nth (0-based) attribute called name, any type; NULL past the last. */
const struct ipc_attr *ipc_rec_get_nth(const struct ipc_rec *rec, const char *name, size_t n);
bool ipc_rec_is(const struct ipc_rec *rec, const char *name);

/* Append the wire form of rec to out. */
void ipc_rec_encode(const struct ipc_rec *rec, struct str *out);

/* Decode one record from the front of buf.
 * Returns 1 and sets *rec_r and *used_r when a whole valid record is there,
 * 0 when more bytes are needed, -1 with *error_r when the input is malformed
 * or a record would exceed max_len (0 means IPC_MAX_RECORD). Pure: no I/O. */
int ipc_rec_decode(const void *buf, size_t len, size_t max_len, struct ipc_rec **rec_r,
                   size_t *used_r, const char **error_r);

/* Blocking helpers on a stream socket or pipe, with a timeout in ms (-1 none).
 * ipc_write: 0 or -1 with errno. ipc_read: 1 record read, 0 clean EOF before
 * any byte, -1 error (*error_r set; errno ETIMEDOUT on timeout). */
int ipc_write(int fd, const struct ipc_rec *rec, int timeout_ms);
int ipc_read(int fd, struct ipc_rec **rec_r, size_t max_len, int timeout_ms, const char **error_r);

/* Incremental reader for non-blocking descriptors in an event loop. */
struct ipc_reader {
	struct str buf;
	size_t max_len;
};
void ipc_reader_init(struct ipc_reader *r, size_t max_len);
void ipc_reader_free(struct ipc_reader *r);
/* Read what is available from fd into the buffer: 1 data read, 0 EOF,
 * -1 error (errno; EAGAIN when nothing to read). */
int ipc_reader_fill(struct ipc_reader *r, int fd);
/* Take the next whole record: 1 got one, 0 need more, -1 malformed. */
int ipc_reader_next(struct ipc_reader *r, struct ipc_rec **rec_r, const char **error_r);

#endif
