/*
 * The mailbox process: the TRANSACTION and UPDATE states (RFC 1939
 * sections 5 and 6), running as the mailbox owner on one mailbox.
 *
 * At login the mailbox is locked against other POP3 sessions
 * (store_lock_session; delivery and IMAP go on) and synced once; the
 * session works on that snapshot, so messages delivered meanwhile are
 * neither listed nor deleted and appear in the next session. Deletions
 * are only marks until QUIT; a dropped connection, a timeout or too many
 * errors end the session without touching the mailbox. Message numbers
 * are positions in the snapshot; UIDLs are UIDVALIDITY and UID from the
 * store's index, the identity IMAP uses, stable across sessions.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pop3/pop3_command.h"
#include "pop3/pop3_message.h"
#include "pop3d/pop3d.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/log.h"

#define READ_CHUNK 65536

struct message {
	uint32_t uid;
	int64_t size;
	bool deleted;
};

struct transaction {
	const struct pop3d_settings *cfg;
	const struct pop3d_client *client;
	const struct mailbox_login *login;
	struct stream *stream;
	struct store *store;
	struct message *msgs;
	size_t count;
	uint32_t uidvalidity;
	int errors;
	bool quit;
	const char *end_reason;
	/* For the session-end log line. */
	unsigned long retrieved, expunged;
	unsigned long long bytes_sent;
};

static void error(struct transaction *t)
{
	if (++t->errors >= t->cfg->hard_error_limit) {
		pop3d_reply(t->stream, false, "Too many errors, closing connection");
		t->quit = true;
		t->end_reason = "too many errors";
	}
}

/* The message numbered n, or NULL having replied -ERR. */
static struct message *message(struct transaction *t, unsigned long n)
{
	if (n == 0 || n > t->count) {
		pop3d_reply(t->stream, false, "No such message");
		error(t);
		return NULL;
	}
	struct message *m = &t->msgs[n - 1];
	if (m->deleted) {
		pop3d_reply(t->stream, false, "Message %lu is deleted", n);
		error(t);
		return NULL;
	}
	return m;
}

static void cmd_stat(struct transaction *t)
{
	unsigned long n = 0;
	long long octets = 0;
	for (size_t i = 0; i < t->count; i++)
		if (!t->msgs[i].deleted) {
			n++;
			octets += t->msgs[i].size;
		}
	pop3d_reply(t->stream, true, "%lu %lld", n, octets);
}

static void cmd_list(struct transaction *t, const struct pop3_command *c, bool uidl)
{
	if (c->has_msg) {
		struct message *m = message(t, c->msg);
		if (m == NULL)
			return;
		if (uidl)
			pop3d_reply(t->stream, true, "%lu %08x%08x", c->msg, t->uidvalidity,
			            m->uid);
		else
			pop3d_reply(t->stream, true, "%lu %lld", c->msg, (long long)m->size);
		return;
	}
	stream_puts(t->stream,
	            uidl ? "+OK Unique-ID listing follows\r\n" : "+OK Scan listing follows\r\n");
	char line[64];
	for (size_t i = 0; i < t->count; i++) {
		const struct message *m = &t->msgs[i];
		if (m->deleted)
			continue;
		int n =
		    uidl ? snprintf(line, sizeof(line), "%zu %08x%08x\r\n", i + 1, t->uidvalidity,
		                    m->uid)
		         : snprintf(line, sizeof(line), "%zu %lld\r\n", i + 1, (long long)m->size);
		stream_write(t->stream, line, (size_t)n);
	}
	stream_puts(t->stream, ".\r\n");
}

/* RETR (body_lines < 0) and TOP. */
static void cmd_retr(struct transaction *t, unsigned long n, long body_lines)
{
	struct message *m = message(t, n);
	if (m == NULL)
		return;
	int fd = -1;
	const char *err = "";
	int rc = store_open_message(t->store, m->uid, &fd, &err);
	if (rc <= 0) {
		if (rc < 0)
			log_warn("user=%s: %s", t->login->user, err);
		pop3d_reply(t->stream, false,
		            rc == 0 ? "Message %lu was removed by another program"
		                    : "[SYS/TEMP] Message %lu cannot be read",
		            n);
		return;
	}
	if (body_lines < 0)
		pop3d_reply(t->stream, true, "%lld octets", (long long)m->size);
	else
		pop3d_reply(t->stream, true, "Top of message %lu follows", n);
	struct pop3_encoder enc;
	pop3_encoder_init(&enc, body_lines);
	struct str out = STR_INIT;
	char *buf = xmalloc(READ_CHUNK);
	for (;;) {
		ssize_t got = read(fd, buf, READ_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			/* Half a message has gone out: only closing is honest now. */
			log_warn("user=%s: reading message uid %u: %m", t->login->user, m->uid);
			t->quit = true;
			t->end_reason = "read error";
			break;
		}
		if (got == 0)
			break;
		str_clear(&out);
		bool more = pop3_encoder_feed(&enc, buf, (size_t)got, &out);
		t->bytes_sent += out.len;
		if (stream_write(t->stream, out.data, out.len) != STREAM_OK) {
			t->quit = true;
			t->end_reason = "disconnected";
			break;
		}
		if (!more)
			break;
	}
	close(fd);
	free(buf);
	if (!t->quit) {
		str_clear(&out);
		pop3_encoder_finish(&enc, &out);
		stream_write(t->stream, out.data, out.len);
		if (body_lines < 0)
			t->retrieved++;
	}
	str_free(&out);
}

static void cmd_dele(struct transaction *t, unsigned long n)
{
	struct message *m = message(t, n);
	if (m == NULL)
		return;
	m->deleted = true;
	pop3d_reply(t->stream, true, "Message %lu deleted", n);
}

static void cmd_rset(struct transaction *t)
{
	for (size_t i = 0; i < t->count; i++)
		t->msgs[i].deleted = false;
	pop3d_reply(t->stream, true, "%zu messages", t->count);
}

/* The UPDATE state: remove what was marked, in one index transaction. */
static void cmd_quit(struct transaction *t)
{
	uint32_t *uids = xcalloc(t->count + 1, sizeof(*uids));
	size_t n = 0, removed = 0;
	for (size_t i = 0; i < t->count; i++)
		if (t->msgs[i].deleted)
			uids[n++] = t->msgs[i].uid;
	const char *err = "";
	if (store_expunge_uids(t->store, uids, n, &removed, &err) != 0) {
		log_warn("user=%s: removing deleted messages: %s", t->login->user, err);
		removed = 0;
	}
	free(uids);
	t->expunged = removed;
	if (removed < n)
		pop3d_reply(t->stream, false,
		            "[SYS/TEMP] %zu of the deleted messages could not be removed",
		            n - removed);
	else
		pop3d_reply(t->stream, true, "Bye, %zu messages deleted", removed);
	t->quit = true;
	t->end_reason = "quit";
}

static void command(struct transaction *t, const struct str *line)
{
	struct pop3_command c;
	const char *err = "";
	if (pop3_command_parse(line->data ? line->data : "", line->len, &c, &err) != 0) {
		pop3d_reply(t->stream, false, "%s", err);
		error(t);
		return;
	}
	switch (c.verb) {
	case POP3_STAT:
		cmd_stat(t);
		break;
	case POP3_LIST:
		cmd_list(t, &c, false);
		break;
	case POP3_UIDL:
		cmd_list(t, &c, true);
		break;
	case POP3_RETR:
		cmd_retr(t, c.msg, -1);
		break;
	case POP3_TOP:
		cmd_retr(t, c.msg, c.lines > (unsigned long)LONG_MAX ? LONG_MAX : (long)c.lines);
		break;
	case POP3_DELE:
		cmd_dele(t, c.msg);
		break;
	case POP3_RSET:
		cmd_rset(t);
		break;
	case POP3_NOOP:
		stream_puts(t->stream, "+OK\r\n");
		break;
	case POP3_QUIT:
		cmd_quit(t);
		break;
	case POP3_CAPA:
		pop3d_capa(t->stream, false, false, false);
		break;
	case POP3_UNKNOWN:
		pop3d_reply(t->stream, false, "Unknown command");
		error(t);
		break;
	default:
		pop3d_reply(t->stream, false, "%s is not valid after login",
		            pop3_verb_name(c.verb));
		error(t);
		break;
	}
	pop3_command_free(&c);
}

/* Open, lock and snapshot the mailbox; replies and returns -1 on failure. */
static int open_mailbox(struct transaction *t)
{
	const char *err = "";
	t->store = store_open(t->login->maildir, &err);
	int locked = t->store ? store_lock_session(t->store, &err) : -1;
	if (locked == 0) {
		pop3d_reply(t->stream, false, "[IN-USE] Mailbox is locked by another POP3 session");
		t->end_reason = "mailbox in use";
		return -1;
	}
	if (locked < 0 || store_sync(t->store, &err) != 0) {
		log_warn("user=%s: mailbox %s: %s", t->login->user, t->login->maildir, err);
		pop3d_reply(t->stream, false, "[SYS/TEMP] The mailbox cannot be opened");
		t->end_reason = "mailbox error";
		return -1;
	}
	size_t n;
	const struct store_message *all = store_messages(t->store, &n);
	t->msgs = xcalloc(n + 1, sizeof(*t->msgs));
	t->count = n;
	for (size_t i = 0; i < n; i++) {
		t->msgs[i].uid = all[i].uid;
		/* The size as sent, with CRLF line ends. */
		if (store_crlf_size(t->store, all[i].uid, &t->msgs[i].size, &err) != 1)
			t->msgs[i].size = all[i].size;
	}
	t->uidvalidity = store_uidvalidity(t->store);
	return 0;
}

void transaction_run(const struct pop3d_settings *cfg, const struct pop3d_client *client,
                     const struct mailbox_login *login, int fd, const void *input, size_t input_len)
{
	struct transaction t = {.cfg = cfg, .client = client, .login = login};
	t.stream = stream_new(fd, (int)cfg->timeout_ms);
	stream_push_input(t.stream, input, input_len);
	t.end_reason = "disconnected";
	if (open_mailbox(&t) == 0) {
		long long octets = 0;
		for (size_t i = 0; i < t.count; i++)
			octets += t.msgs[i].size;
		pop3d_reply(t.stream, true, "Logged in, %zu messages (%lld octets)", t.count,
		            octets);
		struct str line = STR_INIT;
		while (!t.quit) {
			enum stream_status st = pop3d_read_command(t.stream, &line);
			if (st == STREAM_TOO_LONG) {
				error(&t);
				continue;
			}
			if (st == STREAM_TIMEOUT) {
				pop3d_reply(t.stream, false, "Disconnected for inactivity");
				t.end_reason = "timeout";
				break;
			}
			if (st != STREAM_OK) {
				t.end_reason = "disconnected";
				break;
			}
			command(&t, &line);
		}
		str_free(&line);
	}
	stream_flush(t.stream);
	log_info("session end: user=%s, client=%s, reason=%s, retrieved=%lu, bytes=%llu, "
	         "deleted=%lu, left=%zu",
	         login->user, client->addr, t.end_reason, t.retrieved, t.bytes_sent, t.expunged,
	         t.count - t.expunged);
	/* The lock goes before the wait for the client to close. */
	store_close(t.store);
	pop3d_lingering_close(fd);
	_exit(0);
}
