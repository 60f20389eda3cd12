/*
 * pickup: moves mail that the local sendmail dropped into maildrop/ into
 * the queue. It runs unprivileged as mail_owner, one persistent process;
 * it scans maildrop/ at start and whenever someone (master's timer,
 * postdrop) sends a "wakeup" record to its socket, oldest file first.
 *
 * Drop files are untrusted input (any local user writes them through
 * postdrop): each is opened without following links, must be a regular
 * file with one link, is parsed strictly (lib/mail/dropfile.h) and must be
 * owned by the uid it names. A good one becomes a queue file in incoming/
 * with a Received header, exactly as smtpd would write it, and without
 * the Return-Path and Content-Length fields of its header section (as
 * Postfix's cleanup removes them: local delivery adds the only
 * Return-Path), and is then removed; a bad one is moved to corrupt/ with
 * a log line. If the queue cannot be written (disk full), the drop file
 * stays for the next scan.
 * With header_checks or body_checks the message is checked first
 * (content.c), then with non_smtpd_milters it goes through the filters
 * (pickup_milter.c). Canonical mapping and masquerading
 * (lib/mail/canonical.h) rewrite the envelope, and the address fields of
 * the header section (after header_checks, before the milters), as
 * Postfix's cleanup does. The queue file gets the recipients after that
 * and virtual alias expansion (lib/mail/virtual_alias.h); a recipient unknown in a
 * virtual alias domain is returned to the sender in a non-delivery
 * notification (bounce.c), one whose expansion loops is queued for qmgr
 * to defer until the table is fixed, and when a table cannot be read the
 * file stays in maildrop/ for a later try.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/bcc.h"
#include "mail/canonical.h"
#include "mail/drop_headers.h"
#include "mail/dropfile.h"
#include "mail/dsn.h"
#include "mail/hop_count.h"
#include "mail/queue.h"
#include "mail/queue_space.h"
#include "mail/receive_options.h"
#include "mail/virtual_alias.h"
#include "mail/wakeup.h"
#include "pickup/bounce.h"
#include "pickup/content.h"
#include "pickup/pickup_milter.h"
#include "server/server.h"
#include "util/alloc.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/no_replace.h"
#include "util/sock.h"

/* postdrop's temporary files; removed when a crash left them this old. */
#define TEMP_PREFIX "tmp."
#define STALE_TEMP_SECONDS (24 * 3600)
#define WAKEUP_READ_MS 200
/* Header sections longer than this are passed on as they are. */
#define HEADER_HOLD_LIMIT (256 * 1024)

struct pickup {
	const char *queue_dir;
	const char *hostname;
	char *maildrop;
	char *qmgr_socket;
	struct virtual_alias *virtual_alias;
	struct canonical *canonical; /* canonical_maps, masquerade_domains */
	bool rewriting_headers;      /* ... for the header section too */
	const char *header_domain;   /* $myorigin (append_at_myorigin), or NULL */
	struct bcc_config bcc;
	bool soft_bounce;
	const char *content_filter; /* "transport:nexthop" for every message, or "" */
	unsigned receive_options;   /* receive_override_options */
	long long hopcount_limit;   /* Received headers that mean a mail loop; 0: none */
	long long queue_minfree;    /* bytes to leave free in the queue (0: no check) */
};

static struct pickup settings;

/* One drop file on its way into the queue. */
struct transfer {
	struct queue_writer *writer; /* NULL while no recipient is left to queue */
	struct queue_envelope env;   /* as submitted; milters may edit it */
	bool buffered;               /* milters or bounces: content is held in memory */
	struct str content;
	struct str received; /* the Received header pickup adds */
	struct str head;     /* the header section, held until its end */
	bool in_body;        /* past it: content goes straight on */
	struct hop_count hops;
	struct stat st;
	char id[QUEUE_ID_LEN + 1];
};

/* QUEUED: to be committed; COMMITTED: already committed. */
enum outcome { QUEUED, COMMITTED, FILTERED, CORRUPT, RETRY, GONE };

static void format_date(char *buf, size_t len, time_t when)
{
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

static void fill_envelope(const struct drop_envelope *drop, struct queue_envelope *env)
{
	queue_envelope_init(env);
	time_t now = time(NULL);
	/* postdrop stamped the time; a clock that jumped cannot put it ahead. */
	env->arrival = drop->time > 0 && drop->time <= now ? drop->time : now;
	env->sender = xstrdup(drop->sender);
	env->envid = xstrdup(drop->envid);
	env->ret = xstrdup(drop->ret);
	env->body = xstrdup(drop->body);
	env->smtputf8 = drop->smtputf8;
	env->client_name = xstrdup("localhost");
	env->client_addr = xstrdup("");
	env->client_port = xstrdup("");
	env->helo = xstrdup("");
	env->protocol = xstrdup("local");
	env->tls = xstrdup("");
	env->auth_user = xstrdup("");
	env->origin = xstrdup("pickup");
	/* sendmail -bv: delivered to nobody, so neither filtered nor copied. */
	env->trace = drop->trace_report;
	if (drop->verify_report)
		env->verify = xstrdup(QUEUE_VERIFY_REPORT);
	else if (*settings.content_filter)
		env->filter = xstrdup(settings.content_filter);
	for (size_t i = 0; i < drop->rcpt_count; i++)
		queue_envelope_add_rcpt(env, drop->rcpts[i].address, drop->rcpts[i].orcpt,
		                        drop->rcpts[i].notify);
}

/* soft_bounce: recipients whose expansion failed are queued as they are,
 * their expansion to be done again by qmgr (which defers them, as
 * soft_bounce asks, while it fails), rather than returned. */
static void keep_failures(const struct queue_envelope *env, struct queue_envelope *queued,
                          struct virtual_alias_failure **failed_r, size_t *failed_count_r)
{
	for (size_t i = 0; i < *failed_count_r; i++) {
		const struct virtual_alias_failure *f = &(*failed_r)[i];
		log_info("%s: <%s>: %s; kept for a later try (soft_bounce)", env->id, f->address,
		         f->reason);
		queue_envelope_add_rcpt(queued, f->address, f->orcpt, f->notify);
		queued->rcpts[queued->rcpt_count - 1].valias_pending = true;
	}
	virtual_alias_failures_free(*failed_r, *failed_count_r);
	*failed_r = NULL;
	*failed_count_r = 0;
}

/* env with its addresses rewritten (canonical.h) and virtual aliases
 * expanded into queued, and the blind copies (bcc.h) added for the
 * rewritten addresses; failures are listed.
 * 0, or -1 with *why_r on a temporary failure. */
static int expand_envelope(const struct queue_envelope *env, struct queue_envelope *queued,
                           struct virtual_alias_failure **failed_r, size_t *failed_count_r,
                           const char **why_r)
{
	static char why[512];
	char *reason;
	if (settings.receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) {
		queue_envelope_copy(queued, env);
		*failed_r = NULL;
		*failed_count_r = 0;
		return 0;
	}
	struct queue_envelope mapped;
	bool rewritten = canonical_wanted(settings.canonical,
	                                  CANONICAL_ENVELOPE_SENDER | CANONICAL_ENVELOPE_RECIPIENT);
	const char *error = "";
	if (rewritten &&
	    canonical_rewrite_envelope(settings.canonical, env, &mapped, &error) != 0) {
		snprintf(why, sizeof(why), "address rewriting: %s", error);
		*why_r = why;
		return -1;
	}
	const struct queue_envelope *in = rewritten ? &mapped : env;
	int rc = -1;
	if (virtual_alias_rewrite_envelope(settings.virtual_alias, in, queued, failed_r,
	                                   failed_count_r, &reason) != 0) {
		snprintf(why, sizeof(why), "virtual alias expansion: %s", reason);
		free(reason);
		*why_r = why;
	} else {
		if (settings.soft_bounce)
			keep_failures(in, queued, failed_r, failed_count_r);
		if (!bcc_wanted(&settings.bcc) || queue_envelope_is_verify(in) ||
		    bcc_add(&settings.bcc, in, queued) == 0) {
			rc = 0;
		} else {
			virtual_alias_failures_free(*failed_r, *failed_count_r);
			queue_envelope_free(queued);
			*why_r = "a sender_bcc_maps or recipient_bcc_maps table cannot be read";
		}
	}
	if (rewritten)
		queue_envelope_free(&mapped);
	return rc;
}

/* The header section at the start of buf (its first header_len bytes,
 * or all of buf up to the empty line when header_len is buf->len) with
 * its addresses rewritten (canonical.h). 0, or -1 with *why_r. */
static int rewrite_header(struct str *buf, size_t header_len, const char **why_r)
{
	static char why[512];
	struct str out = STR_INIT;
	size_t used = 0;
	const char *error = "";
	/* no_address_mappings: completion only (see smtpd/message_headers.c). */
	struct canonical *tables =
	    (settings.receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) ? NULL : settings.canonical;
	int rc = canonical_rewrite_header(tables, settings.header_domain, buf->data, header_len,
	                                  true, &out, &used, &error);
	if (rc < 0) {
		snprintf(why, sizeof(why), "header address rewriting: %s", error);
		*why_r = why;
	} else if (rc == 1) {
		str_append(&out, buf->data + used, buf->len - used);
		str_free(buf);
		*buf = out;
		return 0;
	}
	str_free(&out);
	return rc < 0 ? -1 : 0;
}

/* The envelope is valid: open the queue file (unless no recipient is left
 * after expansion) and write the Received header. */
static int on_head(void *ctx, struct drop_envelope *drop, const char **error_r)
{
	struct transfer *t = ctx;
	struct queue_envelope *env = &t->env;
	fill_envelope(drop, env);
	struct queue_envelope queued;
	struct virtual_alias_failure *failed;
	size_t failed_count;
	if (expand_envelope(env, &queued, &failed, &failed_count, error_r) != 0)
		return -1;
	virtual_alias_failures_free(failed, failed_count);
	/* Checks and filters edit the message, failures are returned with
	 * it: keep it in memory. */
	t->buffered = pickup_content_enabled() || pickup_milter_enabled() || failed_count > 0;
	if (queued.rcpt_count > 0) {
		t->writer = queue_writer_open(settings.queue_dir, &queued, error_r);
		if (t->writer == NULL) {
			queue_envelope_free(&queued);
			return -1;
		}
		memcpy(t->id, queue_writer_id(t->writer), sizeof(t->id));
	} else {
		queue_id_new(t->id);
	}
	queue_envelope_free(&queued);
	memcpy(env->id, t->id, sizeof(env->id));
	char date[64];
	format_date(date, sizeof(date), (time_t)env->arrival);
	str_printf(&t->received, "Received: by %s (Postern, from userid %lld)\r\n\tid %s; %s\r\n",
	           settings.hostname, (long long)drop->uid, t->id, date);
	if (t->buffered) {
		str_append(&t->content, t->received.data, t->received.len);
		return 0;
	}
	return queue_writer_write(t->writer, t->received.data, t->received.len, error_r);
}

/* Content on its way into the queue: held in memory, or written. */
static int put(struct transfer *t, const void *data, size_t len, const char **error_r)
{
	if (t->buffered) {
		str_append(&t->content, data, len);
		return 0;
	}
	return queue_writer_write(t->writer, data, len, error_r);
}

/* Pass on the held header lines t->head[0..header_len) without the dropped
 * fields (and their continuation lines), their addresses rewritten (unless
 * header_checks are to see them first: finish_buffered rewrites them
 * then), then the rest held, which is body; from now on content goes
 * straight on. */
static int release_headers(struct transfer *t, size_t header_len, const char **error_r)
{
	header_len = drop_headers_remove(&t->head, header_len);
	t->in_body = true;
	if (settings.rewriting_headers && !(t->buffered && pickup_content_enabled()) &&
	    rewrite_header(&t->head, header_len, error_r) != 0) {
		str_free(&t->head);
		return -1;
	}
	int rc = put(t, t->head.data, t->head.len, error_r);
	str_free(&t->head);
	return rc;
}

/* The message's bytes: its header section is held until the empty line
 * that ends it (or HEADER_HOLD_LIMIT), the rest goes straight on. */
static int take_content(struct transfer *t, const void *data, size_t len, const char **error_r)
{
	if (t->in_body)
		return put(t, data, len, error_r);
	/* Look for the empty line from the start of the last incomplete line. */
	size_t at = t->head.len;
	while (at > 0 && t->head.data[at - 1] != '\n')
		at--;
	str_append(&t->head, data, len);
	const char *nl;
	while ((nl = memchr(t->head.data + at, '\n', t->head.len - at)) != NULL) {
		size_t next = (size_t)(nl - t->head.data) + 1;
		if (next - at == 1 || (next - at == 2 && t->head.data[at] == '\r'))
			return release_headers(t, at, error_r);
		at = next;
	}
	/* Too long: the complete lines are headers, the rest goes on as body. */
	return t->head.len > HEADER_HOLD_LIMIT ? release_headers(t, at, error_r) : 0;
}

/* At the end of the message: what is still held is all header. */
static int end_content(struct transfer *t, const char **error_r)
{
	return t->in_body ? 0 : release_headers(t, t->head.len, error_r);
}

static int on_content(void *ctx, const void *data, size_t len, const char **error_r)
{
	struct transfer *t = ctx;
	hop_count_feed(&t->hops, data, len);
	return take_content(t, data, len, error_r);
}

/* Return the recipients whose expansion failed to the sender (those that
 * asked for failure notices). */
static void bounce_failures(const struct transfer *t, const struct virtual_alias_failure *failed,
                            size_t count, const struct str *content)
{
	struct pickup_failed_rcpt *rcpts = xcalloc(count, sizeof(*rcpts));
	for (size_t i = 0; i < count; i++)
		rcpts[i] = (struct pickup_failed_rcpt){failed[i].address, failed[i].orcpt,
		                                       failed[i].notify, failed[i].status,
		                                       failed[i].reason};
	pickup_bounce_failed(settings.queue_dir, settings.hostname, settings.virtual_alias, &t->env,
	                     rcpts, count, content);
	free(rcpts);
}

static int open_drop_file(int dir_fd, const char *name, struct stat *st, const char **why_r);

/* Whether the message has been round too often (hopcount_limit). */
static bool looping(const struct transfer *t)
{
	return settings.hopcount_limit > 0 && t->hops.received >= settings.hopcount_limit;
}

static int reread_head(void *ctx, struct drop_envelope *drop, const char **error_r)
{
	(void)ctx;
	(void)drop;
	(void)error_r;
	return 0;
}

static int reread_content(void *ctx, const void *data, size_t len, const char **error_r)
{
	return take_content(ctx, data, len, error_r);
}

/* A looping message that was streamed into a queue file: drop that file
 * and read the message into memory again, to be returned or held. */
static int buffer_looping(int dir_fd, const char *name, struct transfer *t, const char **why_r)
{
	if (t->buffered)
		return 0;
	if (t->writer) {
		queue_writer_abort(t->writer);
		t->writer = NULL;
	}
	struct stat st;
	int fd = open_drop_file(dir_fd, name, &st, why_r);
	if (fd < 0)
		return -1;
	str_set(&t->content, "");
	str_append(&t->content, t->received.data, t->received.len);
	t->buffered = true;
	str_free(&t->head);
	t->in_body = false;
	static const struct drop_read_ops ops = {reread_head, reread_content};
	struct drop_envelope drop;
	int rc = drop_read_fd(fd, 0, &ops, t, &drop, why_r);
	close(fd);
	if (rc != DROP_READ_OK)
		return -1;
	drop_envelope_free(&drop);
	return end_content(t, why_r);
}

/* hopcount_limit reached: the message goes back to its sender for every
 * recipient (0), or with soft_bounce waits on hold (1). */
static int stop_loop(struct transfer *t, int64_t uid, const char **subdir_r)
{
	char reason[128];
	snprintf(reason, sizeof(reason),
	         "mail forwarding loop: too many hops (%d Received headers)", t->hops.received);
	log_info("%s: reject: %s; from=<%s> uid=%lld", t->id, reason, t->env.sender,
	         (long long)uid);
	if (settings.soft_bounce) {
		free(t->env.hold_reason);
		t->env.hold_reason = xasprintf("soft_bounce: 5.4.6 %s", reason);
		*subdir_r = "hold";
		log_info("%s: held instead of returned (soft_bounce)", t->id);
		return 1;
	}
	struct pickup_failed_rcpt *rcpts = xcalloc(t->env.rcpt_count, sizeof(*rcpts));
	for (size_t i = 0; i < t->env.rcpt_count; i++)
		rcpts[i] =
		    (struct pickup_failed_rcpt){t->env.rcpts[i].address, t->env.rcpts[i].orcpt,
		                                t->env.rcpts[i].notify, "5.4.6", reason};
	pickup_bounce_failed(settings.queue_dir, settings.hostname, settings.virtual_alias, &t->env,
	                     rcpts, t->env.rcpt_count, &t->content);
	free(rcpts);
	return 0;
}

/* A message held in memory (for content checks, milters, bounces or a
 * loop): check and filter it, expand its recipients, return the failures,
 * and write the rest. */
static enum outcome finish_buffered(struct transfer *t, int64_t uid, const char **subdir_r,
                                    const char **why_r)
{
	if (looping(t) && stop_loop(t, uid, subdir_r) == 0)
		return FILTERED;
	if (pickup_content_enabled()) {
		switch (pickup_content_run(&t->env, &t->content, subdir_r, why_r)) {
		case PICKUP_CONTENT_QUEUE:
			break;
		case PICKUP_CONTENT_DONE:
			return FILTERED;
		case PICKUP_CONTENT_RETRY:
			return RETRY;
		}
		/* Checked as it came: now its addresses are rewritten. */
		if (settings.rewriting_headers &&
		    rewrite_header(&t->content, t->content.len, why_r) != 0)
			return RETRY;
	}
	struct str filtered = STR_INIT;
	const struct str *content = &t->content;
	if (pickup_milter_enabled()) {
		switch (pickup_milter_run(&t->env, uid, &t->content, &filtered, subdir_r, why_r)) {
		case PICKUP_MILTER_QUEUE:
			content = &filtered;
			break;
		case PICKUP_MILTER_DONE:
			str_free(&filtered);
			return FILTERED;
		default:
			str_free(&filtered);
			return RETRY;
		}
	}
	struct queue_envelope queued;
	struct virtual_alias_failure *failed;
	size_t failed_count;
	if (expand_envelope(&t->env, &queued, &failed, &failed_count, why_r) != 0) {
		str_free(&filtered);
		return RETRY;
	}
	enum outcome result = QUEUED;
	if (queued.rcpt_count == 0) {
		result = FILTERED; /* nothing left to queue */
	} else if (t->writer == NULL &&
	           (t->writer = queue_writer_open(settings.queue_dir, &queued, why_r)) == NULL) {
		result = RETRY;
	} else if (queue_writer_replace_envelope(t->writer, &queued, why_r) != 0 ||
	           queue_writer_write(t->writer, content->data, content->len, why_r) != 0) {
		result = RETRY;
	}
	/* Only once the rest is safe (or there is no rest) is anything returned. */
	if (failed_count > 0 && result != RETRY) {
		if (result == QUEUED && queue_writer_commit(t->writer, *subdir_r, why_r) != 0)
			result = RETRY;
		else
			bounce_failures(t, failed, failed_count, content);
	}
	virtual_alias_failures_free(failed, failed_count);
	queue_envelope_free(&queued);
	str_free(&filtered);
	return result == QUEUED && failed_count > 0 ? COMMITTED : result;
}

/* Tell qmgr there is new mail; if it is not running, the mail waits. */
static void notify_qmgr(void)
{
	(void)mail_wakeup(settings.qmgr_socket, false, 100);
}

/* Move a bad file aside under its own name (or NAME.N if that is taken). */
static void move_to_corrupt(int dir_fd, const char *name, const char *reason)
{
	char *corrupt = xasprintf("%s/corrupt", settings.queue_dir);
	int corrupt_fd = open(corrupt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = -1;
	char *target = xstrdup(name);
	for (int n = 1; corrupt_fd >= 0 && n < 100; n++) {
		rc = rename_no_replace_at(dir_fd, name, corrupt_fd, target);
		if (rc == 0 || errno != EEXIST)
			break;
		free(target);
		target = xasprintf("%s.%d", name, n);
	}
	if (rc == 0) {
		fsync(corrupt_fd);
		log_warn("%s: corrupt drop file: %s (moved to corrupt/%s)", name, reason, target);
	} else {
		log_error("%s: corrupt drop file: %s; cannot move it to %s: %m", name, reason,
		          corrupt);
	}
	if (corrupt_fd >= 0)
		close(corrupt_fd);
	free(target);
	free(corrupt);
}

/* Open a drop file that is safe to read; -1 with *why_r if it is not,
 * -2 if it is gone (another pickup took it). */
static int open_drop_file(int dir_fd, const char *name, struct stat *st, const char **why_r)
{
	/* O_NONBLOCK: a FIFO planted here must not hang us. */
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*why_r = errno == ELOOP ? "a symbolic link" : strerror(errno);
		return errno == ENOENT ? -2 : -1;
	}
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		*why_r = "not a regular file";
	} else if (st->st_nlink != 1) {
		*why_r = "a file with more than one link";
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

static enum outcome transfer_file(int dir_fd, const char *name, const char **why_r)
{
	struct transfer t = {0};
	const char *subdir = "incoming";
	int fd = open_drop_file(dir_fd, name, &t.st, why_r);
	if (fd < 0)
		return fd == -2 ? GONE : CORRUPT;
	static const struct drop_read_ops ops = {on_head, on_content};
	struct drop_envelope drop;
	int rc = drop_read_fd(fd, 0, &ops, &t, &drop, why_r);
	close(fd);
	enum outcome result = QUEUED;
	if (rc == DROP_READ_BAD) {
		result = CORRUPT;
	} else if (rc != DROP_READ_OK) {
		result = RETRY;
	} else if ((int64_t)t.st.st_uid != drop.uid) {
		/* Only postdrop, running as the submitter, creates these files. */
		static char why[96];
		snprintf(why, sizeof(why), "owner uid %lu differs from the recorded uid %lld",
		         (unsigned long)t.st.st_uid, (long long)drop.uid);
		*why_r = why;
		result = CORRUPT;
	} else if (end_content(&t, why_r) != 0) {
		result = RETRY;
	} else if (looping(&t) && buffer_looping(dir_fd, name, &t, why_r) != 0) {
		result = RETRY;
	} else if (t.buffered &&
	           (result = finish_buffered(&t, drop.uid, &subdir, why_r)) != QUEUED &&
	           result != COMMITTED) {
		/* filtered out, or try again later */
	} else if (result == QUEUED && queue_writer_commit(t.writer, subdir, why_r) != 0) {
		result = RETRY;
	} else {
		log_info("%s: uid=%lld from=<%s>%s", t.id, (long long)drop.uid, drop.sender,
		         strcmp(subdir, "hold") == 0 ? " (on hold)" : "");
	}
	if (rc == DROP_READ_OK)
		drop_envelope_free(&drop);
	if (t.writer)
		queue_writer_abort(t.writer);
	queue_envelope_free(&t.env);
	str_free(&t.content);
	str_free(&t.received);
	str_free(&t.head);
	return result;
}

/* Process one file; false if the queue cannot take mail now. */
static bool pick_up(int dir_fd, const char *name)
{
	const char *why = NULL;
	switch (transfer_file(dir_fd, name, &why)) {
	case QUEUED:
	case COMMITTED:
	case FILTERED:
		if (unlinkat(dir_fd, name, 0) != 0)
			log_error("%s: queued, but cannot remove it from maildrop/: %m; it may be "
			          "delivered twice",
			          name);
		notify_qmgr();
		return true;
	case CORRUPT:
		move_to_corrupt(dir_fd, name, why ? why : "unknown error");
		return true;
	case RETRY:
		log_warn("%s: cannot queue it now (%s); it stays in maildrop/ for a later try",
		         name, why ? why : "unknown error");
		return false;
	case GONE:
		break;
	}
	return true;
}

struct entry {
	char *name;
	struct timespec mtime;
};

static int compare_entries(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* postdrop's leftovers: a temporary file that crashed mid-way. */
static void maybe_remove_stale(int dir_fd, const char *name, const struct stat *st)
{
	if (time(NULL) - st->st_mtime < STALE_TEMP_SECONDS)
		return;
	if (unlinkat(dir_fd, name, 0) == 0)
		log_warn("%s: removed an unfinished drop file older than a day", name);
}

/* The drop files in maildrop/, oldest first. */
static struct entry *list_maildrop(DIR *dir, size_t *count_r)
{
	struct entry *entries = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (strncmp(name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0) {
			maybe_remove_stale(dirfd(dir), name, &st);
			continue;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 32;
			entries = xreallocarray(entries, cap, sizeof(*entries));
		}
		entries[count].name = xstrdup(name);
		entries[count].mtime = st.st_mtim;
		count++;
	}
	if (count > 1)
		qsort(entries, count, sizeof(*entries), compare_entries);
	*count_r = count;
	return entries;
}

/* queue_minfree: room for the file at name (its size) in the queue and
 * the reserve besides; false (logged once per scan) when there is none:
 * the mail waits in maildrop/. */
static bool room_for(int dir_fd, const char *name, bool *warned)
{
	if (settings.queue_minfree <= 0)
		return true;
	struct stat st;
	long long free_bytes;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !queue_free_bytes(settings.queue_dir, &free_bytes))
		return true; /* queueing will tell */
	if (free_bytes - (long long)st.st_size >= settings.queue_minfree)
		return true;
	if (!*warned)
		log_warn("not enough free space in %s: %lld bytes free, %lld wanted "
		         "(queue_minfree) besides %s's %lld; mail waits in maildrop/",
		         settings.queue_dir, free_bytes, settings.queue_minfree, name,
		         (long long)st.st_size);
	*warned = true;
	return false;
}

static void scan(void)
{
	DIR *dir = opendir(settings.maildrop);
	if (dir == NULL) {
		log_error("cannot open %s: %m", settings.maildrop);
		return;
	}
	size_t count = 0;
	struct entry *entries = list_maildrop(dir, &count);
	bool go_on = true, warned = false;
	for (size_t i = 0; i < count; i++) {
		if (go_on)
			go_on = room_for(dirfd(dir), entries[i].name, &warned) &&
			        pick_up(dirfd(dir), entries[i].name);
		free(entries[i].name);
	}
	free(entries);
	closedir(dir);
}

static void on_start_timer(struct event_loop *loop, void *ctx)
{
	(void)loop;
	(void)ctx;
	scan();
}

static void init(struct server *srv)
{
	const struct conf *conf = server_conf(srv);
	settings.queue_dir = conf_get(conf, "queue_directory");
	settings.hostname = conf_get(conf, "myhostname");
	settings.maildrop = xasprintf("%s/maildrop", settings.queue_dir);
	settings.qmgr_socket = xasprintf("%s/public/qmgr", settings.queue_dir);
	settings.virtual_alias = virtual_alias_from_conf(conf);
	const char *error;
	settings.canonical = canonical_from_conf(conf, &error);
	if (settings.canonical == NULL)
		log_fatal("%s", error);
	bcc_config_from_conf(&settings.bcc, conf);
	settings.soft_bounce = conf_get_bool(conf, "soft_bounce");
	settings.hopcount_limit = conf_get_int(conf, "hopcount_limit");
	settings.queue_minfree = conf_get_size(conf, "queue_minfree");
	settings.bcc.lookup = pickup_table_lookup;
	settings.content_filter = conf_get(conf, "content_filter");
	if (*settings.content_filter && !content_filter_valid(settings.content_filter))
		log_fatal("content_filter: \"%s\" is not transport:destination",
		          settings.content_filter);
	const char *bad;
	if (receive_options_parse(conf_get_list(conf, "receive_override_options"),
	                          &settings.receive_options, &bad) != 0)
		log_fatal("receive_override_options: unknown option \"%s\"", bad);
	/* Mail from sendmail is local: its header section is rewritten, its
	 * addresses without a domain completed with $myorigin. */
	settings.header_domain =
	    conf_get_bool(conf, "append_at_myorigin") ? conf_get(conf, "myorigin") : NULL;
	settings.rewriting_headers =
	    settings.header_domain != NULL ||
	    (!(settings.receive_options & RECEIVE_NO_ADDRESS_MAPPINGS) &&
	     canonical_wanted(settings.canonical,
	                      CANONICAL_HEADER_SENDER | CANONICAL_HEADER_RECIPIENT));
	pickup_content_init(conf, settings.virtual_alias,
	                    !(settings.receive_options & RECEIVE_NO_HEADER_BODY_CHECKS));
	pickup_milter_init(conf, settings.virtual_alias,
	                   !(settings.receive_options & RECEIVE_NO_MILTERS));
	/* Mail dropped while the system was down goes out now. */
	event_add_timer(server_loop(srv), 0, on_start_timer, NULL);
}

/* Any connection is a wake-up: read its record if one comes, then scan. */
static void on_accept(struct server *srv, int fd)
{
	struct ipc_rec *rec = NULL;
	const char *error;
	if (ipc_read(fd, &rec, 4096, WAKEUP_READ_MS, &error) == 1 && !ipc_rec_is(rec, "wakeup"))
		log_warn("unexpected \"%s\" record on the pickup socket", rec->name);
	ipc_rec_free(rec);
	close(fd);
	server_conn_done(srv);
	scan();
}

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
	    .mode = SERVER_MULTI,
	    .persistent = true,
	    .max_connections = 0,
	    .init = init,
	    .accept = on_accept,
	};
	return server_main(argc, argv, &ops, NULL);
}
