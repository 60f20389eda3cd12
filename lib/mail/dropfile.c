/*
 * The maildrop file (format in dropfile.h): the writer sendmail uses, and
 * the strict parser that postdrop and pickup run over what a less trusted
 * process wrote. Parsing is pure over bytes; drop_read_fd only adds the
 * reading loop around it, so a message of any size streams through a
 * bounded amount of memory.
 */
#include "mail/dropfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "smtp/address.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/utf8.h"

/* The end record is 27 bytes; anything much longer after the content is junk. */
#define DROP_MAX_TAIL 64
#define READ_CHUNK 65536

static char drop_error[512];

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(drop_error, sizeof(drop_error), fmt, ap);
	va_end(ap);
	return drop_error;
}

/* ---- the envelope ---- */

void drop_envelope_init(struct drop_envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->user = xstrdup("");
	env->sender = xstrdup("");
	env->full_name = xstrdup("");
	env->ret = xstrdup("");
	env->envid = xstrdup("");
	env->body = xstrdup("");
}

void drop_envelope_free(struct drop_envelope *env)
{
	free(env->user);
	free(env->sender);
	free(env->full_name);
	free(env->ret);
	free(env->envid);
	free(env->body);
	for (size_t i = 0; i < env->rcpt_count; i++) {
		free(env->rcpts[i].address);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].notify);
	}
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

void drop_envelope_set(char **field, const char *value)
{
	char *copy = xstrdup(value ? value : "");
	free(*field);
	*field = copy;
}

void drop_envelope_add_rcpt(struct drop_envelope *env, const char *address, const char *orcpt,
                            const char *notify)
{
	if (env->rcpt_count == env->rcpt_cap) {
		env->rcpt_cap = env->rcpt_cap ? env->rcpt_cap * 2 : 4;
		env->rcpts = xreallocarray(env->rcpts, env->rcpt_cap, sizeof(*env->rcpts));
	}
	struct drop_rcpt *r = &env->rcpts[env->rcpt_count++];
	r->address = xstrdup(address ? address : "");
	r->orcpt = xstrdup(orcpt ? orcpt : "");
	r->notify = xstrdup(notify ? notify : "");
}

/* UTF-8 text of at most max bytes without control characters; with
 * no_space, without spaces either. */
static bool plain_text(const char *s, size_t max, bool no_space)
{
	size_t len = strlen(s);
	if (len > max || !utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (no_space && c == ' '))
			return false;
	}
	return true;
}

/* A qualified address in canonical form ("" only if null_ok). */
static int check_address(const char *text, bool smtputf8, bool null_ok, const char **why_r)
{
	if (*text == '\0') {
		*why_r = "empty address";
		return null_ok ? 0 : -1;
	}
	struct address a;
	if (address_parse(text, strlen(text), smtputf8, &a, why_r) != 0)
		return -1;
	int rc = 0;
	if (address_is_null(&a) || a.domain[0] == '\0') {
		*why_r = "address without a domain";
		rc = -1;
	} else {
		char *canon = address_to_string(&a);
		if (strcmp(canon, text) != 0) {
			*why_r = "address not in canonical form";
			rc = -1;
		}
		free(canon);
	}
	address_free(&a);
	return rc;
}

/* "", "NEVER", or a comma list of SUCCESS, FAILURE, DELAY without repeats. */
static bool notify_ok(const char *s)
{
	if (*s == '\0' || strcmp(s, "NEVER") == 0)
		return true;
	static const char *const words[] = {"SUCCESS", "FAILURE", "DELAY"};
	unsigned seen = 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		size_t i = 0;
		while (i < 3 && !(strlen(words[i]) == len && strncmp(s, words[i], len) == 0))
			i++;
		if (i == 3 || (seen & (1u << i)))
			return false;
		seen |= 1u << i;
		if (s[len] == '\0')
			return true;
		s += len + 1;
	}
}

/* "" or "addr-type;value" as decoded from ORCPT. */
static bool orcpt_ok(const char *s)
{
	if (*s == '\0')
		return true;
	const char *semi = strchr(s, ';');
	return semi != NULL && semi != s && semi[1] != '\0' && plain_text(s, DROP_MAX_ORCPT, true);
}

static bool envid_ok(const char *s)
{
	size_t len = strlen(s);
	if (len > DROP_MAX_ENVID)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static bool one_of(const char *s, const char *a, const char *b)
{
	return *s == '\0' || strcmp(s, a) == 0 || strcmp(s, b) == 0;
}

int drop_envelope_check(const struct drop_envelope *env, const char **error_r)
{
	const char *why = NULL;
	if (env->uid < 0 || env->uid > 0xFFFFFFFELL)
		*error_r = "uid out of range";
	else if (env->user == NULL || *env->user == '\0' ||
	         !plain_text(env->user, DROP_MAX_USER, true))
		*error_r = "bad user name";
	else if (env->time < 0 || env->time > 100000000000LL)
		*error_r = "time out of range";
	else if (env->sender == NULL || check_address(env->sender, env->smtputf8, true, &why) != 0)
		*error_r = set_error("bad sender address: %s", why);
	else if (env->full_name == NULL || !plain_text(env->full_name, DROP_MAX_FULL_NAME, false))
		*error_r = "bad full name";
	else if (env->ret == NULL || !one_of(env->ret, "FULL", "HDRS"))
		*error_r = "bad ret (not FULL or HDRS)";
	else if (env->envid == NULL || !envid_ok(env->envid))
		*error_r = "bad envid";
	else if (env->body == NULL || !one_of(env->body, "7BIT", "8BITMIME"))
		*error_r = "bad body type (not 7BIT or 8BITMIME)";
	else if (env->rcpt_count == 0)
		*error_r = "no recipients";
	else if (env->rcpt_count > DROP_MAX_RCPTS)
		*error_r = "too many recipients";
	else
		*error_r = NULL;
	if (*error_r != NULL)
		return -1;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		const struct drop_rcpt *r = &env->rcpts[i];
		if (check_address(r->address, env->smtputf8, false, &why) != 0)
			*error_r = set_error("recipient %zu: bad address: %s", i + 1, why);
		else if (!orcpt_ok(r->orcpt))
			*error_r = set_error("recipient %zu: bad orcpt", i + 1);
		else if (!notify_ok(r->notify))
			*error_r = set_error("recipient %zu: bad notify", i + 1);
		if (*error_r != NULL)
			return -1;
	}
	return 0;
}

/* ---- writing ---- */

void drop_encode_head(const struct drop_envelope *env, int64_t size, struct str *out)
{
	str_append_cstr(out, DROP_MAGIC);
	struct ipc_rec *rec = ipc_rec_new("drop");
	ipc_rec_add_int(rec, "uid", env->uid);
	ipc_rec_add_str(rec, "user", env->user ? env->user : "");
	ipc_rec_add_int(rec, "time", env->time);
	ipc_rec_add_str(rec, "sender", env->sender ? env->sender : "");
	ipc_rec_add_str(rec, "full_name", env->full_name ? env->full_name : "");
	ipc_rec_add_str(rec, "ret", env->ret ? env->ret : "");
	ipc_rec_add_str(rec, "envid", env->envid ? env->envid : "");
	ipc_rec_add_str(rec, "body", env->body ? env->body : "");
	ipc_rec_add_int(rec, "smtputf8", env->smtputf8 ? 1 : 0);
	if (env->verify_report)
		ipc_rec_add_int(rec, "verify_report", 1);
	if (env->trace_report)
		ipc_rec_add_int(rec, "trace_report", 1);
	ipc_rec_encode(rec, out);
	ipc_rec_free(rec);
	for (size_t i = 0; i < env->rcpt_count; i++) {
		rec = ipc_rec_new("rcpt");
		ipc_rec_add_str(rec, "address", env->rcpts[i].address);
		ipc_rec_add_str(rec, "orcpt", env->rcpts[i].orcpt);
		ipc_rec_add_str(rec, "notify", env->rcpts[i].notify);
		ipc_rec_encode(rec, out);
		ipc_rec_free(rec);
	}
	rec = ipc_rec_new("content");
	ipc_rec_add_int(rec, "size", size);
	ipc_rec_encode(rec, out);
	ipc_rec_free(rec);
}

void drop_encode_tail(uint32_t crc, struct str *out)
{
	struct ipc_rec *rec = ipc_rec_new("end");
	ipc_rec_add_int(rec, "crc32", (int64_t)crc);
	ipc_rec_encode(rec, out);
	ipc_rec_free(rec);
}

void drop_encode(const struct drop_envelope *env, const void *content, size_t len, struct str *out)
{
	drop_encode_head(env, (int64_t)len, out);
	str_append(out, content, len);
	drop_encode_tail((uint32_t)crc32_z(crc32(0L, Z_NULL, 0), content, len), out);
}

/* ---- parsing ---- */

struct attr_spec {
	const char *name;
	enum ipc_attr_type type;
};

/* Exactly the attributes in spec, each once, with its type; the last
 * optional ones of them at most once. */
static int check_attrs_optional(const struct ipc_rec *rec, const struct attr_spec *spec, size_t n,
                                size_t optional, const char **error_r)
{
	unsigned seen = 0;
	for (size_t i = 0; i < rec->count; i++) {
		const struct ipc_attr *a = &rec->attrs[i];
		size_t k = 0;
		while (k < n && strcmp(spec[k].name, a->name) != 0)
			k++;
		if (k == n) {
			*error_r =
			    set_error("unknown attribute \"%s\" in %s record", a->name, rec->name);
			return -1;
		}
		if (a->type != spec[k].type) {
			*error_r = set_error("attribute %s of the %s record has the wrong type",
			                     a->name, rec->name);
			return -1;
		}
		if (seen & (1u << k)) {
			*error_r =
			    set_error("repeated attribute %s in %s record", a->name, rec->name);
			return -1;
		}
		seen |= 1u << k;
	}
	for (size_t k = 0; k < n; k++) {
		if (!(seen & (1u << k)) && k < n - optional) {
			*error_r =
			    set_error("%s record lacks attribute %s", rec->name, spec[k].name);
			return -1;
		}
	}
	return 0;
}

static int check_attrs(const struct ipc_rec *rec, const struct attr_spec *spec, size_t n,
                       const char **error_r)
{
	return check_attrs_optional(rec, spec, n, 0, error_r);
}

static const struct attr_spec drop_attrs[] = {
    {"uid", IPC_INT},
    {"user", IPC_STR},
    {"time", IPC_INT},
    {"sender", IPC_STR},
    {"full_name", IPC_STR},
    {"ret", IPC_STR},
    {"envid", IPC_STR},
    {"body", IPC_STR},
    {"smtputf8", IPC_INT},
    /* optional, the last DROP_OPTIONAL_ATTRS: */
    {"verify_report", IPC_INT},
    {"trace_report", IPC_INT},
};
#define DROP_OPTIONAL_ATTRS 2
static const struct attr_spec rcpt_attrs[] = {
    {"address", IPC_STR}, {"orcpt", IPC_STR}, {"notify", IPC_STR}};
static const struct attr_spec content_attrs[] = {{"size", IPC_INT}};
static const struct attr_spec end_attrs[] = {{"crc32", IPC_INT}};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int load_drop_record(const struct ipc_rec *rec, struct drop_envelope *env,
                            const char **error_r)
{
	if (check_attrs_optional(rec, drop_attrs, COUNT(drop_attrs), DROP_OPTIONAL_ATTRS,
	                         error_r) != 0)
		return -1;
	int64_t smtputf8 = 0;
	ipc_rec_get_int(rec, "uid", &env->uid);
	ipc_rec_get_int(rec, "time", &env->time);
	ipc_rec_get_int(rec, "smtputf8", &smtputf8);
	if (smtputf8 != 0 && smtputf8 != 1) {
		*error_r = "smtputf8 is not 0 or 1";
		return -1;
	}
	env->smtputf8 = smtputf8 == 1;
	int64_t verify_report = 0;
	ipc_rec_get_int(rec, "verify_report", &verify_report);
	if (verify_report != 0 && verify_report != 1) {
		*error_r = "verify_report is not 0 or 1";
		return -1;
	}
	env->verify_report = verify_report == 1;
	int64_t trace_report = 0;
	ipc_rec_get_int(rec, "trace_report", &trace_report);
	if (trace_report != 0 && trace_report != 1) {
		*error_r = "trace_report is not 0 or 1";
		return -1;
	}
	env->trace_report = trace_report == 1;
	drop_envelope_set(&env->user, ipc_rec_get_str(rec, "user"));
	drop_envelope_set(&env->sender, ipc_rec_get_str(rec, "sender"));
	drop_envelope_set(&env->full_name, ipc_rec_get_str(rec, "full_name"));
	drop_envelope_set(&env->ret, ipc_rec_get_str(rec, "ret"));
	drop_envelope_set(&env->envid, ipc_rec_get_str(rec, "envid"));
	drop_envelope_set(&env->body, ipc_rec_get_str(rec, "body"));
	return 0;
}

/* One record of the head. 1: the content record was reached; 0: go on; -1: bad. */
static int take_head_record(const struct ipc_rec *rec, bool *have_drop, struct drop_envelope *env,
                            const char **error_r)
{
	if (!*have_drop) {
		if (!ipc_rec_is(rec, "drop")) {
			*error_r = "the first record is not a drop record";
			return -1;
		}
		*have_drop = true;
		return load_drop_record(rec, env, error_r);
	}
	if (ipc_rec_is(rec, "rcpt")) {
		if (check_attrs(rec, rcpt_attrs, COUNT(rcpt_attrs), error_r) != 0)
			return -1;
		if (env->rcpt_count >= DROP_MAX_RCPTS) {
			*error_r = "too many recipients";
			return -1;
		}
		drop_envelope_add_rcpt(env, ipc_rec_get_str(rec, "address"),
		                       ipc_rec_get_str(rec, "orcpt"),
		                       ipc_rec_get_str(rec, "notify"));
		return 0;
	}
	if (ipc_rec_is(rec, "content")) {
		if (check_attrs(rec, content_attrs, COUNT(content_attrs), error_r) != 0)
			return -1;
		ipc_rec_get_int(rec, "size", &env->size);
		if (env->size < 0) {
			*error_r = "negative content size";
			return -1;
		}
		return drop_envelope_check(env, error_r) == 0 ? 1 : -1;
	}
	*error_r = set_error("unexpected %s record in the envelope", rec->name);
	return -1;
}

int drop_parse_head(const void *data, size_t len, struct drop_envelope *env,
                    size_t *content_offset_r, const char **error_r)
{
	const char *p = data;
	size_t magic_len = strlen(DROP_MAGIC);
	if (len == 0)
		return 0;
	if (len < magic_len) {
		if (memcmp(p, DROP_MAGIC, len) == 0)
			return 0;
		*error_r = "not a drop file";
		return -1;
	}
	if (memcmp(p, DROP_MAGIC, magic_len) != 0) {
		*error_r = "not a drop file (bad magic or version)";
		return -1;
	}
	drop_envelope_init(env);
	size_t pos = magic_len;
	bool have_drop = false;
	for (;;) {
		struct ipc_rec *rec;
		size_t used;
		int rc =
		    ipc_rec_decode(p + pos, len - pos, DROP_MAX_ENVELOPE, &rec, &used, error_r);
		if (rc == 0 && len - magic_len > DROP_MAX_ENVELOPE) {
			*error_r = "envelope too large";
			rc = -1;
		}
		if (rc <= 0) {
			drop_envelope_free(env);
			return rc;
		}
		pos += used;
		rc = take_head_record(rec, &have_drop, env, error_r);
		ipc_rec_free(rec);
		if (rc == 0 && pos - magic_len > DROP_MAX_ENVELOPE) {
			*error_r = "envelope too large";
			rc = -1;
		}
		if (rc < 0) {
			drop_envelope_free(env);
			return -1;
		}
		if (rc == 1) {
			if (pos - magic_len > DROP_MAX_ENVELOPE) {
				*error_r = "envelope too large";
				drop_envelope_free(env);
				return -1;
			}
			*content_offset_r = pos;
			return 1;
		}
	}
}

void drop_content_check_init(struct drop_content_check *c)
{
	memset(c, 0, sizeof(*c));
	c->crc = (uint32_t)crc32(0L, Z_NULL, 0);
	c->line_start = true;
}

int drop_content_check_feed(struct drop_content_check *c, const void *data, size_t len,
                            const char **error_r)
{
	if (c->bad) {
		*error_r = "content already found bad";
		return -1;
	}
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if (c->after_cr && ch != '\n') {
			*error_r = "bare CR in the content";
			c->bad = true;
			return -1;
		}
		if (ch == '\n' && !c->after_cr) {
			*error_r = "bare LF in the content";
			c->bad = true;
			return -1;
		}
		c->line_start = ch == '\n';
		c->after_cr = ch == '\r';
	}
	c->crc = (uint32_t)crc32_z(c->crc, p, len);
	c->seen += (int64_t)len;
	return 0;
}

int drop_content_check_finish(struct drop_content_check *c, const char **error_r)
{
	if (c->bad) {
		*error_r = "content already found bad";
		return -1;
	}
	if (!c->line_start) {
		*error_r = c->after_cr ? "bare CR at the end of the content"
		                       : "content does not end with CRLF";
		c->bad = true;
		return -1;
	}
	return 0;
}

int drop_parse_tail(const void *data, size_t len, uint32_t crc, const char **error_r)
{
	if (len == 0) {
		*error_r = "no end record (truncated file)";
		return -1;
	}
	struct ipc_rec *rec = NULL;
	size_t used = 0;
	int rc = ipc_rec_decode(data, len, DROP_MAX_TAIL, &rec, &used, error_r);
	if (rc == 0) {
		*error_r = "incomplete end record (truncated file)";
		return -1;
	}
	if (rc < 0)
		return -1;
	int64_t stored = -1;
	rc = -1;
	if (!ipc_rec_is(rec, "end"))
		*error_r = set_error("unexpected %s record after the content", rec->name);
	else if (check_attrs(rec, end_attrs, COUNT(end_attrs), error_r) != 0)
		;
	else if (used != len)
		*error_r = "data after the end record";
	else if (!ipc_rec_get_int(rec, "crc32", &stored) || stored != (int64_t)crc)
		*error_r = "content checksum mismatch";
	else
		rc = 0;
	ipc_rec_free(rec);
	return rc;
}

int drop_parse(const void *data, size_t len, struct drop_envelope *env, size_t *content_offset_r,
               const char **error_r)
{
	const char *p = data;
	size_t offset = 0;
	int rc = drop_parse_head(data, len, env, &offset, error_r);
	if (rc == 0)
		*error_r = "truncated in the envelope";
	if (rc != 1)
		return -1;
	struct drop_content_check check;
	drop_content_check_init(&check);
	if ((uint64_t)env->size > (uint64_t)(len - offset)) {
		*error_r = "truncated in the content";
	} else if (drop_content_check_feed(&check, p + offset, (size_t)env->size, error_r) == 0 &&
	           drop_content_check_finish(&check, error_r) == 0 &&
	           drop_parse_tail(p + offset + env->size, len - offset - (size_t)env->size,
	                           check.crc, error_r) == 0) {
		env->crc = check.crc;
		*content_offset_r = offset;
		return 0;
	}
	drop_envelope_free(env);
	return -1;
}

/* ---- reading from a descriptor ---- */

/* Append up to max bytes read from fd: bytes read, 0 at EOF, -1 on error. */
static ssize_t read_some(int fd, struct str *buf, size_t max)
{
	str_reserve(buf, max);
	for (;;) {
		ssize_t n = read(fd, buf->data + buf->len, max);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			buf->len += (size_t)n;
			buf->data[buf->len] = '\0';
		}
		return n;
	}
}

static int read_failed(const char **error_r)
{
	*error_r = set_error("read error: %s", strerror(errno));
	return DROP_READ_FAILED;
}

/* Read until the head parses: 1, or a drop_read_result (< 0). */
static int read_head(int fd, struct str *buf, struct drop_envelope *env, size_t *offset_r,
                     const char **error_r)
{
	for (;;) {
		int rc = drop_parse_head(buf->data, buf->len, env, offset_r, error_r);
		if (rc == 1)
			return 1;
		if (rc < 0)
			return DROP_READ_BAD;
		ssize_t n = read_some(fd, buf, READ_CHUNK);
		if (n < 0)
			return read_failed(error_r);
		if (n == 0) {
			*error_r = buf->len == 0 ? "empty input" : "truncated in the envelope";
			return DROP_READ_BAD;
		}
	}
}

/* Check and hand on content bytes; a drop_read_result. */
static int take_content(struct drop_content_check *check, const struct drop_read_ops *ops,
                        void *ctx, const char *data, size_t len, const char **error_r)
{
	if (len == 0)
		return DROP_READ_OK;
	if (drop_content_check_feed(check, data, len, error_r) != 0)
		return DROP_READ_BAD;
	if (ops->content != NULL && ops->content(ctx, data, len, error_r) != 0)
		return DROP_READ_FAILED;
	return DROP_READ_OK;
}

/* After the head: the content, then the tail to EOF. buf holds what was
 * read past the head. A drop_read_result. */
static int read_rest(int fd, struct str *buf, const struct drop_envelope *env,
                     const struct drop_read_ops *ops, void *ctx, uint32_t *crc_r,
                     const char **error_r)
{
	struct drop_content_check check;
	drop_content_check_init(&check);
	uint64_t left = (uint64_t)env->size;
	int rc = DROP_READ_OK;
	for (;;) {
		size_t take = buf->len < left ? buf->len : (size_t)left;
		rc = take_content(&check, ops, ctx, buf->data, take, error_r);
		if (rc != DROP_READ_OK)
			return rc;
		str_consume(buf, take);
		left -= take;
		if (left == 0)
			break;
		ssize_t n = read_some(fd, buf, READ_CHUNK);
		if (n < 0)
			return read_failed(error_r);
		if (n == 0) {
			*error_r = "truncated in the content";
			return DROP_READ_BAD;
		}
	}
	if (drop_content_check_finish(&check, error_r) != 0)
		return DROP_READ_BAD;
	/* The end record, then nothing. */
	for (;;) {
		if (buf->len > DROP_MAX_TAIL) {
			*error_r = "data after the end record";
			return DROP_READ_BAD;
		}
		ssize_t n = read_some(fd, buf, DROP_MAX_TAIL + 1);
		if (n < 0)
			return read_failed(error_r);
		if (n == 0)
			break;
	}
	if (drop_parse_tail(buf->data, buf->len, check.crc, error_r) != 0)
		return DROP_READ_BAD;
	*crc_r = check.crc;
	return DROP_READ_OK;
}

int drop_read_fd(int fd, int64_t max_size, const struct drop_read_ops *ops, void *ctx,
                 struct drop_envelope *env, const char **error_r)
{
	struct str buf = STR_INIT;
	size_t offset = 0;
	int rc = read_head(fd, &buf, env, &offset, error_r);
	if (rc != 1) {
		str_free(&buf);
		return rc;
	}
	str_consume(&buf, offset);
	if (max_size > 0 && env->size > max_size) {
		*error_r = set_error("message of %lld bytes exceeds the size limit of %lld",
		                     (long long)env->size, (long long)max_size);
		rc = DROP_READ_BAD;
	} else if (ops->head != NULL && ops->head(ctx, env, error_r) != 0) {
		rc = DROP_READ_FAILED;
	} else {
		rc = read_rest(fd, &buf, env, ops, ctx, &env->crc, error_r);
	}
	str_free(&buf);
	if (rc != DROP_READ_OK)
		drop_envelope_free(env);
	return rc;
}
