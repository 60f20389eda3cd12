/*
 * Internal interface of the local delivery agent.
 *   local.c    the service: requests from qmgr, routing of each recipient
 *   expand.c   aliases, ~/.forward and :include: expansion of one recipient
 *              (its driver; the steps in expand_alias.c, expand_target.c,
 *              expand_forward.c and expand_mailbox.c, sharing expand.h)
 *   child.c    running work in a child with the owner's privileges
 *   worker.c   long-lived children per owner for Maildir deliveries
 *   maildir.c  delivery into a Maildir (with the virtual quota check)
 *   mbox.c     appending to an mbox file (mailboxes and /file targets)
 *   command.c  delivery to a |command (also the mailbox_command's)
 *   mailbox_command.c  a system user's mailbox_command, in place of the mailbox
 *   forward.c  a new queue file for addresses that are not delivered here
 *   pass.c     a recipient handed to another delivery agent (mailbox_transport,
 *              fallback_transport)
 *   luser.c    the luser_relay address of an unknown user; local's $name
 *              expansion (also forward_path's)
 *   message.c  reading the queue file's header section; the loop check
 *   verify.c   verify requests: what would be delivered, nothing written
 */
#ifndef POSTERN_LOCAL_LOCAL_H
#define POSTERN_LOCAL_LOCAL_H

#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "mail/queue.h"
#include "table/table.h"
#include "util/ipc.h"
#include "util/str.h"
#include "util/var_expand.h"

/* The most local reads of a .forward or :include: file. */
#define LOCAL_READ_MAX (1024 * 1024)
/* The largest report a child may send (a file's text, a command's output). */
#define LOCAL_CHILD_REPORT_MAX (LOCAL_READ_MAX + 65536)

/* The message as local reads it from the queue file. */
struct local_message {
	int fd;             /* the queue file, open for reading */
	int64_t offset;     /* where the content starts */
	int64_t size;       /* content bytes */
	const char *sender; /* envelope sender, "" for <> */
	const char *queue_id;
	const struct queue_envelope *env; /* the rest of the envelope */
	struct str headers;               /* the header section (for the loop check) */
	bool verify; /* a verify request: resolve, deliver nothing (verify.c) */
};

/* Whose privileges a delivery runs with. */
struct local_creds {
	uid_t uid;
	gid_t gid;
	const char *user; /* for initgroups (NULL: no supplementary groups) */
	gid_t extra_gid;  /* one more supplementary group, or (gid_t)-1 */
	bool allow_root;  /* only root's own mailbox and files are written as root */
};

/* The outcome of one delivery, as sent to qmgr. */
struct local_result {
	const char *state; /* "delivered" | "deferred" | "bounced" (static) */
	char status[12];   /* "2.0.0", "4.2.0", ... */
	char *reason;      /* malloc'd */
	bool expanded;     /* delivered: by alias or .forward to several destinations */
	/* From the delivery agent the recipient was passed to (pass.c), for
	 * qmgr's log line and DSN; NULL: none. */
	char *relay;
	char *tls;
	char *remote_mta;
	char *diagnostic;
	const char *dsn; /* static (rcpt_dsn_name) */
};

/* What the service keeps between requests. */
struct local_service {
	struct table *virtual_maps; /* opened on first use, kept open */
	struct table **alias_maps;  /* likewise, one per alias_maps entry */
	size_t alias_map_count;
	bool alias_maps_opened;
	struct table **mailbox_transport_maps; /* likewise */
	size_t mailbox_transport_map_count;
	bool mailbox_transport_maps_opened;
};

/* What is added in front of every delivered copy. */
struct local_headers {
	const char *return_path; /* envelope sender of this copy */
	const char *delivered_to;
};

/* ---- child.c ---- */

/* The work a child does; it must report once with local_child_report. */
typedef void local_child_fn(void *arg, int report_fd);

/* Set r's outcome (what came from another agent is dropped). */
void local_result_set(struct local_result *r, const char *state, const char *status,
                      const char *reason);
/* Free what r holds. */
void local_result_free(struct local_result *r);
/* Move what src has from another agent (relay, remote_mta...) to dst. */
void local_result_take_agent(struct local_result *dst, struct local_result *src);
/* Become creds for good (only when root; uid 0 only with allow_root). */
int local_become(const struct local_creds *creds, const char **error_r);
/* Why local_become refuses creds without trying ("refusing to deliver as
 * root"), or NULL. */
const char *local_creds_refused(const struct local_creds *creds);
/* Fork, become creds, run fn; the child's report, or NULL with *error_r
 * (also when it took longer than timeout_ms and was killed). */
struct ipc_rec *local_run_child(const struct local_creds *creds, long long timeout_ms,
                                local_child_fn *fn, void *arg, const char **error_r);
void local_child_report(int fd, const char *state, const char *status, const char *reason);
/* The qmgr connection of the current request (-1: none); children inherit it. */
void local_qmgr_set(int fd);
int local_qmgr_fd(void);
/* True if qmgr closed that connection (looked at without reading). */
bool local_qmgr_gone(void);
/* For a child just before its delivery becomes visible: if qmgr or the
 * parent (the reader of report_fd) is gone, report the delivery deferred
 * and return true (the caller then undoes what it wrote and stops). */
bool local_child_abandoned(int report_fd);
/* Fill result from a child's report (rec may be NULL: then error). */
void local_child_result(const struct ipc_rec *rec, const char *error, struct local_result *result);

/* ---- worker.c ---- */
/* Run job (a record local_worker dispatches by name) in the long-lived
 * child for creds, passing it msg_fd and the current qmgr connection; the
 * child's report, or NULL with *error_r (also after timeout_ms, when the
 * child is killed). */
struct ipc_rec *local_worker_run(const struct local_creds *creds, long long timeout_ms,
                                 const struct ipc_rec *job, int msg_fd, const char **error_r);
/* End every child (at exit). */
void local_workers_stop(void);

/* ---- message.c ---- */

/* The queue file's entry for recipient address (without case), or NULL. */
const struct queue_rcpt *local_message_rcpt(const struct local_message *msg, const char *address);
/* The original recipient of address: the address of its ORCPT (which
 * virtual alias expansion sets), else address as the queue file has it. */
const char *local_original_recipient(const struct local_message *msg, const char *address);

/* Read the header section of msg (up to the first empty line) into
 * msg->headers. 0 or -1 with *error_r. */
int local_read_headers(struct local_message *msg, const char **error_r);
/* True if the header section has a Delivered-To: header for address
 * (compared without case, ignoring surrounding space and angle brackets). */
bool local_has_delivered_to(const struct str *headers, const char *address);
/* Call out(arg, data, len) for the content, in pieces. 0, or -1 with
 * *error_r (a read error, or out's -1). */
int local_copy_content(const struct local_message *msg,
                       int (*out)(void *arg, const char *data, size_t len, const char **error_r),
                       void *arg, const char **error_r);

/* ---- maildir.c ---- */

/* Where a Maildir is. */
struct local_maildir {
	const char *base;    /* directory that must already exist */
	const char *subdirs; /* created below base if missing ("dom/user"), or "" */
	const char *path;    /* the Maildir: base/subdirs/NAME (mailbox_location) */
	long long quota;     /* bytes, -1 for none */
	bool quota_bounce;   /* over quota: bounce (5.2.2) rather than defer */
};

/* In a worker: run one "maildir" job (worker.c) on the queue file msg_fd. */
void local_maildir_job(const struct ipc_rec *rec, int msg_fd, int report_fd);
/* service_owner: creds are the virtual mailbox owner's (a service account),
 * so a long-lived child may do it (worker.c); else a child of its own. */
void local_deliver_maildir(const struct local_message *msg, const struct local_creds *creds,
                           const struct local_maildir *where, const struct local_headers *h,
                           bool service_owner, struct local_result *result);

/* ---- mbox.c ---- */

struct local_mbox {
	const char *path;
	bool mailbox;          /* a user's mailbox, not a /file target */
	bool dotlock_required; /* a mailbox: yes; a /file target: when possible */
	int lock_attempts;     /* deliver_lock_attempts */
	long long lock_delay_ms;
};

/* Append the message to an mbox file (created 0600 if missing) with a
 * From_ line, >From quoting, dotlock and fcntl locks; on a failed write the
 * file is truncated back to its old size. */
void local_deliver_mbox(const struct local_message *msg, const struct local_creds *creds,
                        const struct local_mbox *mbox, const struct local_headers *h,
                        struct local_result *result);

/* ---- command.c ---- */

/* A recipient of a local domain, as a command's environment tells it. */
struct local_recipient {
	const char *address;   /* lower-cased */
	const char *local;     /* its local part */
	const char *user;      /* the local part without its extension */
	const char *domain;    /* its domain (myhostname if none) */
	const char *extension; /* after the recipient_delimiter, or NULL */
	const char *original;  /* local_original_recipient */
};

/* A command and the environment it gets. The values of the environment
 * go through command_expansion_filter (filter); NULL ones, and an empty
 * extension or original recipient, are left out. */
struct local_command {
	const char *command; /* run directly, or with /bin/sh -c if it needs a shell */
	const char *home;    /* working directory ("/" if none or not usable), $HOME */
	const char *user;    /* $USER, $LOGNAME */
	const char *shell;   /* $SHELL */
	/* $RECIPIENT (address), $LOCAL, $DOMAIN, $EXTENSION, $ORIGINAL_RECIPIENT */
	const struct local_recipient *rcpt;
	const char *filter; /* characters kept in values; others become '_' */
	long long time_limit_ms;
};

/* Run the command with the message on its standard input: exit 0
 * delivered, EX_TEMPFAIL deferred, other exits bounced (status by
 * sysexits), killed by the time limit deferred; output goes into the
 * reason. The environment also has PATH, and CLIENT_ADDRESS,
 * CLIENT_HOSTNAME, CLIENT_HELO, CLIENT_PROTOCOL and SASL_USERNAME from the
 * queue file when it has them. */
void local_deliver_command(const struct local_message *msg, const struct local_creds *creds,
                           const struct local_command *cmd, const struct local_headers *h,
                           struct local_result *result);

/* ---- mailbox_command.c ---- */

/* Deliver to the mailbox_command (not empty) of the system user pw, which
 * the name name led to (the recipient's own name, or one an alias or a
 * .forward gave), as creds (pw, or default_privs for root). */
void local_deliver_mailbox_command(const struct conf *conf, const struct local_message *msg,
                                   const struct local_recipient *rcpt, const char *name,
                                   const struct passwd *pw, const struct local_creds *creds,
                                   const struct local_headers *h, struct local_result *result);

/* ---- forward.c ---- */

/* The DSN parameters (RFC 3461) of a forwarded copy; "" for none. */
struct local_forward_dsn {
	char *envid;  /* ENVID of the new message */
	char *ret;    /* RET of the new message */
	char *notify; /* NOTIFY of each of its recipients */
	char *orcpt;  /* ORCPT of each of its recipients */
};

/* The DSN parameters, as Postfix's local gives them, for what an alias,
 * .forward or :include: of recipient address of msg forwards: its NOTIFY
 * without SUCCESS (SUCCESS alone becomes NEVER: the recipient's own success
 * notice covers the expansion), its ORCPT (or "rfc822;ADDRESS" when it had
 * none), and msg's ENVID and RET. For owner_list (mail forwarded under an
 * owner- alias, a new submission by the list owner): none of them. Free
 * with local_forward_dsn_free. */
void local_forward_dsn_init(struct local_forward_dsn *dsn, const struct local_message *msg,
                            const char *address, bool owner_list);
void local_forward_dsn_free(struct local_forward_dsn *dsn);

/* Queue a copy of the message (with a Delivered-To: header for
 * delivered_to in front) from sender to rcpts[0..count-1] with the DSN
 * parameters dsn, written as mail_owner into incoming/, and wake qmgr.
 * Fills result. For a verify request: the recipients go through
 * virtual_alias_maps as for a delivery, and the result says where the copy
 * would go ("forwards to ADDRESS, ..."); nothing is queued. */
void local_forward(const struct conf *conf, const struct local_message *msg, const char *sender,
                   char *const *rcpts, size_t count, const char *delivered_to,
                   const struct local_forward_dsn *dsn, struct local_result *result);

/* ---- pass.c ---- */

/* The recipient as the queue file has it (delivery agents check it). */
struct local_pass_rcpt {
	const char *address;    /* the queue file's recipient, exactly */
	int64_t index;          /* its index in the queue file */
	const char *domain;     /* the next hop when value has none */
	const char *deliver_to; /* the address the agent delivers to, NULL: address */
};

/* The transport for the mailbox of user: its mailbox_transport_maps
 * entry, else mailbox_transport. 1 (*value_r a fresh string, *param_r
 * the parameter), 0 none, -1 a table failed (*error_r a fresh string). */
int local_mailbox_transport(struct local_service *svc, const struct conf *conf, const char *user,
                            char **value_r, const char **param_r, char **error_r);
/* Hand rcpt to the delivery agent that value ("transport[:nexthop]",
 * from the parameter param) names, and take its result (verify requests
 * are passed on as such). */
void local_pass(const struct conf *conf, const struct local_message *msg, const char *param,
                const char *value, const struct local_pass_rcpt *rcpt, struct local_result *result);

/* ---- luser.c ---- */

/* The attributes of a recipient that luser_relay may name. */
struct local_luser {
	const char *user;      /* $user: the local part without its extension */
	const char *local;     /* $local: the whole local part */
	const char *extension; /* $extension, or NULL */
	const char *domain;    /* $domain */
	const char *recipient; /* $recipient: local@domain */
	const char *delimiter; /* $recipient_delimiter: the one found, or NULL */
};

/* The luser_relay template with $user, $local, $extension, $domain,
 * $recipient and $recipient_delimiter (also as ${name}, ${name?text} and
 * ${name:text}, and $$ for a '$') replaced by attrs' values; any other
 * $name is main.conf's parameter. A fresh string. */
char *local_luser_expand(const struct conf *conf, const char *template,
                         const struct local_luser *attrs);

/* text, read without main.conf expansion, with the count names of vars
 * replaced by their values as they are and any other $name by main.conf's
 * parameter (util/var_expand syntax; a '$' that starts no good reference
 * is kept). A fresh string, empty if the expansion was too large. */
char *local_expand(const struct conf *conf, const char *text, const struct var_value *vars,
                   size_t count);

/* ---- verify.c ---- */

/* For a delivery primitive, before it starts its child: false for a real
 * delivery. For a verify request (msg->verify): fill result with what the
 * delivery would do (delivered, 2.0.0, the reason from fmt: "delivers to
 * mailbox"), or deferred as the child would report it when creds cannot
 * be taken, and return true; the caller then does nothing more. */
bool local_verify_stop(const struct local_message *msg, const struct local_creds *creds,
                       struct local_result *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fill result with delivered, 2.0.0 and the reason from fmt, made one line
 * of bounded length. */
void local_verify_delivered(struct local_result *result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Add item to a comma-separated list of destinations for a verify reason
 * (a list past the reason's length stops growing). */
void local_verify_list_add(struct str *list, const char *item);

/* ---- expand.c ---- */

/* Deliver to a recipient in a local domain (mydestination): aliases,
 * .forward, mailbox. Fills result (the worst outcome of all copies). */
/* rcpt: the recipient as qmgr sent it (for a pass to another agent). */
void local_deliver_local(struct local_service *svc, const struct conf *conf,
                         const struct local_message *msg, const char *local_part,
                         const char *address, const struct local_pass_rcpt *rcpt,
                         struct local_result *result);
/* Deliver to a virtual mailbox address (lower-cased). */
void local_deliver_virtual(struct local_service *svc, const struct conf *conf,
                           const struct local_message *msg, const char *address,
                           struct local_result *result);

/* ---- local.c ---- */

/* True if s has a control character (C0 or DEL). */
bool local_has_control_chars(const char *s);

#endif
