/*
 * The milter chain (milter.h): negotiation, the events of a session in
 * order, the per-filter state machine, default actions on failure, and
 * applying end-of-message edits to the message and its envelope.
 */
#include "milter/milter.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter/milter_conn.h"
#include "milter/milter_edit.h"
#include "util/alloc.h"

enum filter_state {
	F_NEW,          /* not connected yet */
	F_READY,        /* connected and negotiated */
	F_FAILED,       /* broken: the default action answers for it */
	F_DONE,         /* accepted the whole session: no more events */
	F_CONN_VERDICT, /* rejected (or discarded) the session: repeat that */
};

enum msg_state { MSG_NONE, MSG_ENVELOPE, MSG_ACCEPTED };

struct filter {
	struct milter_spec spec;
	struct milter_conn conn;
	enum filter_state state;
	enum msg_state msg;
	uint32_t actions;
	uint32_t protocol;
	char *macros[MILTER_STAGE_COUNT]; /* names to send per stage */
	struct milter_verdict conn_verdict;
};

struct milter_chain {
	struct filter *filters;
	size_t count;
	milter_macro_fn *macro;
	milter_log_fn *log;
	void *ctx;
};

static const char *const stage_names[] = {"CONNECT", "HELO", "MAIL", "RCPT",
                                          "DATA",    "EOM",  "EOH",  "UNKNOWN"};

static void chain_log(struct milter_chain *c, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void chain_log(struct milter_chain *c, bool warning, const char *fmt, ...)
{
	if (c->log == NULL)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Replies may hold CRLF between lines: keep the log line one line. */
	for (char *p = line; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	c->log(c->ctx, warning, line);
}

void milter_verdict_clear(struct milter_verdict *v)
{
	free(v->reply);
	free(v->reason);
	memset(v, 0, sizeof(*v));
}

static void verdict_copy(struct milter_verdict *to, const struct milter_verdict *from)
{
	milter_verdict_clear(to);
	to->action = from->action;
	to->reply = from->reply ? xstrdup(from->reply) : NULL;
	to->reason = from->reason ? xstrdup(from->reason) : NULL;
	to->milter = from->milter;
}

struct milter_chain *milter_chain_new(const char *list, const struct milter_defaults *d,
                                      milter_macro_fn *macro, milter_log_fn *log, void *ctx,
                                      const char **error_r)
{
	struct milter_spec *specs;
	size_t count;
	if (milter_specs_parse(list, d, &specs, &count, error_r) != 0)
		return NULL;
	struct milter_chain *c = xcalloc(1, sizeof(*c));
	c->macro = macro;
	c->log = log;
	c->ctx = ctx;
	c->count = count;
	c->filters = xcalloc(count ? count : 1, sizeof(*c->filters));
	for (size_t i = 0; i < count; i++) {
		struct filter *f = &c->filters[i];
		f->spec = specs[i];
		f->conn.fd = -1;
		for (int s = 0; s < MILTER_STAGE_COUNT; s++)
			f->macros[s] = xstrdup(d->macros[s] ? d->macros[s] : "");
	}
	free(specs); /* the strings moved into the filters */
	return c;
}

bool milter_chain_empty(const struct milter_chain *c)
{
	return c == NULL || c->count == 0;
}

static void filter_close(struct filter *f)
{
	milter_conn_close(&f->conn);
}

void milter_chain_free(struct milter_chain *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->count; i++) {
		struct filter *f = &c->filters[i];
		if (f->conn.fd >= 0) {
			struct str q = STR_INIT;
			milter_packet_append(&q, SMFIC_QUIT, NULL, 0);
			const char *error;
			milter_conn_send(&f->conn, &q, 1000, &error);
			str_free(&q);
		}
		filter_close(f);
		free(f->spec.address);
		for (int s = 0; s < MILTER_STAGE_COUNT; s++)
			free(f->macros[s]);
		milter_verdict_clear(&f->conn_verdict);
	}
	free(c->filters);
	free(c);
}

/* The filter failed: drop it for the rest of the session. */
static void filter_fail(struct milter_chain *c, struct filter *f, const char *stage,
                        const char *why)
{
	static const char *const action_names[] = {"continue", "accept",     "reject",  "tempfail",
	                                           "discard",  "quarantine", "shutdown"};
	chain_log(c, true, "milter %s: %s: %s; default action %s", f->spec.address, stage, why,
	          action_names[f->spec.default_action]);
	filter_close(f);
	f->state = F_FAILED;
}

/* What a failed filter answers: its default action (accept and quarantine
 * let the event through; quarantine is applied at the end of message). */
static void failed_verdict(struct filter *f, struct milter_verdict *v)
{
	milter_verdict_clear(v);
	v->milter = f->spec.address;
	switch (f->spec.default_action) {
	case MILTER_REJECT:
		v->action = MILTER_REJECT;
		v->reply = xstrdup("550 5.7.1 Command rejected");
		break;
	case MILTER_TEMPFAIL:
		v->action = MILTER_TEMPFAIL;
		v->reply = xstrdup("451 4.7.1 Service unavailable - try again later");
		break;
	default:
		v->action = MILTER_CONTINUE;
		break;
	}
}

/* "{name}" and "name" are the same macro: the program is asked by the
 * bare name. */
static const char *macro_value(struct milter_chain *c, const char *name)
{
	if (c->macro == NULL)
		return NULL;
	char key[64];
	size_t n = strlen(name);
	if (n >= 2 && name[0] == '{' && name[n - 1] == '}')
		snprintf(key, sizeof(key), "%.*s", (int)(n - 2), name + 1);
	else
		snprintf(key, sizeof(key), "%s", name);
	return c->macro(c->ctx, key);
}

/* SMFIC_MACRO for a stage, if any of its macros has a value. */
static void add_macros(struct milter_chain *c, struct filter *f, enum milter_stage stage, char cmd,
                       struct str *out)
{
	struct str data = STR_INIT;
	str_append_char(&data, cmd);
	const char *p = f->macros[stage];
	bool any = false;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		const char *start = p;
		while (*p && *p != ' ' && *p != ',' && *p != '\t')
			p++;
		if (p == start)
			break;
		char *name = xstrndup(start, (size_t)(p - start));
		const char *value = macro_value(c, name);
		if (value) {
			str_append(&data, name, strlen(name) + 1);
			str_append(&data, value, strlen(value) + 1);
			any = true;
		}
		free(name);
	}
	if (any)
		milter_packet_append(out, SMFIC_MACRO, data.data, data.len);
	str_free(&data);
}

/* Open the connection and negotiate; false if the filter failed. */
static bool filter_start(struct milter_chain *c, struct filter *f)
{
	const char *error;
	if (milter_conn_open(&f->conn, f->spec.address, f->spec.connect_ms, &error) != 0) {
		filter_fail(c, f, "connect", error);
		return false;
	}
	uint32_t actions, protocol;
	milter_offer(f->spec.protocol, &actions, &protocol);
	unsigned char o[12];
	uint32_t vals[3] = {(uint32_t)f->spec.protocol, actions, protocol};
	for (int i = 0; i < 3; i++)
		for (int b = 0; b < 4; b++)
			o[i * 4 + b] = (unsigned char)(vals[i] >> (24 - 8 * b));
	struct str out = STR_INIT;
	milter_packet_append(&out, SMFIC_OPTNEG, o, sizeof(o));
	int rc = milter_conn_send(&f->conn, &out, f->spec.command_ms, &error);
	str_free(&out);
	struct milter_packet p;
	if (rc == 0)
		rc = milter_conn_read(&f->conn, &p, f->spec.command_ms, &error);
	if (rc != 0) {
		filter_fail(c, f, "negotiation", error);
		return false;
	}
	struct milter_optneg neg;
	if (milter_optneg_parse(&p, &neg, &error) != 0) {
		filter_fail(c, f, "negotiation", error);
		return false;
	}
	if (neg.version < 2) {
		milter_optneg_free(&neg);
		filter_fail(c, f, "negotiation", "protocol version below 2");
		return false;
	}
	if ((neg.actions & ~actions) != 0)
		chain_log(c, true, "milter %s: asks for actions 0x%x that are not offered (0x%x)",
		          f->spec.address, (unsigned)neg.actions, (unsigned)actions);
	f->actions = neg.actions & actions;
	f->protocol = neg.protocol & protocol;
	for (int s = 0; s < MILTER_STAGE_COUNT; s++)
		if (neg.symlist[s] && (f->actions & SMFIF_SETSYMLIST)) {
			free(f->macros[s]);
			f->macros[s] = xstrdup(neg.symlist[s]);
		}
	milter_optneg_free(&neg);
	f->state = F_READY;
	return true;
}

/* The reply to an event: 0 with *r (a continue if the filter sends no
 * reply to this event), or -1 (the filter failed). Progress replies
 * restart the wait. Modification replies are errors outside EOM. */
static int filter_event(struct milter_chain *c, struct filter *f, const char *stage_name,
                        const struct str *packets, bool no_reply, long long timeout_ms,
                        struct milter_reply *r)
{
	const char *error;
	memset(r, 0, sizeof(*r));
	if (milter_conn_send(&f->conn, packets, timeout_ms, &error) != 0) {
		filter_fail(c, f, stage_name, error);
		return -1;
	}
	if (no_reply) {
		r->cmd = SMFIR_CONTINUE;
		return 0;
	}
	for (;;) {
		struct milter_packet p;
		if (milter_conn_read(&f->conn, &p, timeout_ms, &error) != 0 ||
		    milter_reply_parse(&p, r, &error) != 0) {
			filter_fail(c, f, stage_name, error);
			return -1;
		}
		if (r->cmd == SMFIR_PROGRESS) {
			milter_reply_free(r);
			continue;
		}
		switch (r->cmd) {
		case SMFIR_ACCEPT:
		case SMFIR_CONTINUE:
		case SMFIR_DISCARD:
		case SMFIR_REJECT:
		case SMFIR_TEMPFAIL:
		case SMFIR_REPLYCODE:
		case SMFIR_SHUTDOWN:
		case SMFIR_CONN_FAIL:
			return 0;
		case SMFIR_SKIP:
			if (strcmp(stage_name, "BODY") == 0 && (f->protocol & SMFIP_SKIP))
				return 0;
			break;
		default:
			break;
		}
		char why[96];
		snprintf(why, sizeof(why), "unexpected reply '%s'", milter_reply_name(r->cmd));
		milter_reply_free(r);
		filter_fail(c, f, stage_name, why);
		return -1;
	}
}

/* Turn a final reply into a verdict; log anything but continue. */
static void reply_verdict(struct milter_chain *c, struct filter *f, const char *stage,
                          const struct milter_reply *r, struct milter_verdict *v)
{
	milter_verdict_clear(v);
	v->milter = f->spec.address;
	switch (r->cmd) {
	case SMFIR_CONTINUE:
	case SMFIR_SKIP:
		v->action = MILTER_CONTINUE;
		return;
	case SMFIR_ACCEPT:
		v->action = MILTER_ACCEPT;
		break;
	case SMFIR_DISCARD:
		v->action = MILTER_DISCARD;
		break;
	case SMFIR_REJECT:
		v->action = MILTER_REJECT;
		v->reply = xstrdup("550 5.7.1 Command rejected");
		break;
	case SMFIR_TEMPFAIL:
		v->action = MILTER_TEMPFAIL;
		v->reply = xstrdup("451 4.7.1 Service unavailable - try again later");
		break;
	case SMFIR_REPLYCODE:
		v->action = r->code >= 500 ? MILTER_REJECT : MILTER_TEMPFAIL;
		v->reply = xstrdup(r->text);
		break;
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		v->action = MILTER_SHUTDOWN;
		v->reply = xstrdup("421 4.7.0 Server closing connection");
		break;
	}
	chain_log(c, false, "milter %s: %s: %s%s%s", f->spec.address, stage,
	          milter_reply_name(r->cmd), v->reply ? ": " : "", v->reply ? v->reply : "");
}

/* Run one envelope-stage event through the chain. skip/noreply are the
 * protocol flags of the event; conn_level: a verdict here is about the
 * whole session (connect, helo); only_flag: only the filters that
 * negotiated it get the event, and their verdicts are dropped. */
static void run_event(struct milter_chain *c, enum milter_stage stage, char cmd, const void *data,
                      size_t len, uint32_t skip_flag, uint32_t nr_flag, bool conn_level,
                      uint32_t only_flag, struct milter_verdict *v)
{
	milter_verdict_clear(v);
	const char *name = stage_names[stage];
	for (size_t i = 0; i < c->count; i++) {
		struct filter *f = &c->filters[i];
		if (f->state == F_NEW && !filter_start(c, f)) {
			/* filter_start marked it failed */
		}
		if (only_flag &&
		    (f->state != F_READY || !(f->protocol & only_flag) || f->msg != MSG_ENVELOPE))
			continue;
		if (f->state == F_DONE)
			continue;
		if (f->state == F_CONN_VERDICT) {
			if (conn_level || stage == MILTER_STAGE_UNKNOWN)
				continue;
			verdict_copy(v, &f->conn_verdict);
			return;
		}
		if (f->state == F_FAILED) {
			failed_verdict(f, v);
			if (v->action != MILTER_CONTINUE)
				return;
			continue;
		}
		if (stage == MILTER_STAGE_MAIL)
			f->msg = MSG_ENVELOPE;
		else if (f->msg == MSG_ACCEPTED && !conn_level)
			continue;
		if (f->protocol & skip_flag)
			continue;
		/* Older protocols have no SMFIC_UNKNOWN (before 3) or SMFIC_DATA (4). */
		if ((cmd == SMFIC_UNKNOWN && f->spec.protocol < 3) ||
		    (cmd == SMFIC_DATA && f->spec.protocol < 4))
			continue;
		struct str out = STR_INIT;
		add_macros(c, f, stage, cmd, &out);
		milter_packet_append(&out, cmd, data, len);
		struct milter_reply r;
		int rc = filter_event(c, f, name, &out, (f->protocol & nr_flag) != 0,
		                      f->spec.command_ms, &r);
		str_free(&out);
		if (rc != 0) {
			if (only_flag)
				continue;
			failed_verdict(f, v);
			if (v->action != MILTER_CONTINUE)
				return;
			continue;
		}
		reply_verdict(c, f, name, &r, v);
		milter_reply_free(&r);
		if (only_flag) {
			milter_verdict_clear(v);
			continue;
		}
		switch (v->action) {
		case MILTER_CONTINUE:
			continue;
		case MILTER_ACCEPT:
			/* Accept at connect or helo: the whole session; later: the message
			 * (but RCPT accept only accepts the recipient). */
			if (conn_level)
				f->state = F_DONE;
			else if (stage != MILTER_STAGE_RCPT)
				f->msg = MSG_ACCEPTED;
			milter_verdict_clear(v);
			continue;
		case MILTER_REJECT:
		case MILTER_TEMPFAIL:
		case MILTER_DISCARD:
			/* A discarded message gets no more events from this filter. */
			if (v->action == MILTER_DISCARD && !conn_level)
				f->msg = MSG_ACCEPTED;
			if (stage == MILTER_STAGE_CONNECT) {
				/* Postfix's way: remember it and answer MAIL with it. */
				f->state = F_CONN_VERDICT;
				verdict_copy(&f->conn_verdict, v);
			}
			return;
		default:
			return;
		}
	}
}

static void put_u16(struct str *out, unsigned v)
{
	char b[2] = {(char)(v >> 8), (char)v};
	str_append(out, b, 2);
}

void milter_connect(struct milter_chain *c, const char *hostname, char family, const char *addr,
                    unsigned port, struct milter_verdict *v)
{
	struct str d = STR_INIT;
	str_append(&d, hostname, strlen(hostname) + 1);
	str_append_char(&d, family);
	if (family != 'U') {
		put_u16(&d, port);
		str_append(&d, addr, strlen(addr) + 1);
	}
	run_event(c, MILTER_STAGE_CONNECT, SMFIC_CONNECT, d.data, d.len, SMFIP_NOCONNECT,
	          SMFIP_NR_CONN, true, 0, v);
	str_free(&d);
}

void milter_helo(struct milter_chain *c, const char *helo, struct milter_verdict *v)
{
	run_event(c, MILTER_STAGE_HELO, SMFIC_HELO, helo, strlen(helo) + 1, SMFIP_NOHELO,
	          SMFIP_NR_HELO, true, 0, v);
}

static void join_args(char *const *argv, struct str *out)
{
	for (size_t i = 0; argv[i]; i++)
		str_append(out, argv[i], strlen(argv[i]) + 1);
}

void milter_mail(struct milter_chain *c, char *const *argv, struct milter_verdict *v)
{
	struct str d = STR_INIT;
	join_args(argv, &d);
	run_event(c, MILTER_STAGE_MAIL, SMFIC_MAIL, d.data, d.len, SMFIP_NOMAIL, SMFIP_NR_MAIL,
	          false, 0, v);
	str_free(&d);
}

void milter_rcpt(struct milter_chain *c, char *const *argv, struct milter_verdict *v)
{
	struct str d = STR_INIT;
	join_args(argv, &d);
	run_event(c, MILTER_STAGE_RCPT, SMFIC_RCPT, d.data, d.len, SMFIP_NORCPT, SMFIP_NR_RCPT,
	          false, 0, v);
	str_free(&d);
}

void milter_rcpt_rejected(struct milter_chain *c, char *const *argv)
{
	struct milter_verdict v = {0};
	struct str d = STR_INIT;
	join_args(argv, &d);
	run_event(c, MILTER_STAGE_RCPT, SMFIC_RCPT, d.data, d.len, SMFIP_NORCPT, SMFIP_NR_RCPT,
	          false, SMFIP_RCPT_REJ, &v);
	str_free(&d);
	milter_verdict_clear(&v);
}

void milter_data(struct milter_chain *c, struct milter_verdict *v)
{
	run_event(c, MILTER_STAGE_DATA, SMFIC_DATA, NULL, 0, SMFIP_NODATA, SMFIP_NR_DATA, false, 0,
	          v);
}

void milter_unknown(struct milter_chain *c, const char *line, struct milter_verdict *v)
{
	run_event(c, MILTER_STAGE_UNKNOWN, SMFIC_UNKNOWN, line, strlen(line) + 1, SMFIP_NOUNKNOWN,
	          SMFIP_NR_UNKN, false, 0, v);
}

void milter_abort(struct milter_chain *c)
{
	for (size_t i = 0; i < c->count; i++) {
		struct filter *f = &c->filters[i];
		if (f->state == F_READY && f->msg != MSG_NONE) {
			struct str out = STR_INIT;
			milter_packet_append(&out, SMFIC_ABORT, NULL, 0);
			const char *error;
			if (milter_conn_send(&f->conn, &out, f->spec.command_ms, &error) != 0)
				filter_fail(c, f, "ABORT", error);
			str_free(&out);
		}
		f->msg = MSG_NONE;
	}
}

/* Send one content event (header, EOH, body chunk); 1 go on, 0 the filter
 * is finished with this message (accept or a verdict in v), -1 failed. */
static int content_event(struct milter_chain *c, struct filter *f, const char *name,
                         enum milter_stage macro_stage, char cmd, const void *data, size_t len,
                         uint32_t nr_flag, bool *skip_r, struct milter_verdict *v)
{
	struct str out = STR_INIT;
	if (macro_stage != MILTER_STAGE_COUNT)
		add_macros(c, f, macro_stage, cmd, &out);
	milter_packet_append(&out, cmd, data, len);
	struct milter_reply r;
	int rc =
	    filter_event(c, f, name, &out, (f->protocol & nr_flag) != 0, f->spec.content_ms, &r);
	str_free(&out);
	if (rc != 0)
		return -1;
	if (r.cmd == SMFIR_SKIP && skip_r)
		*skip_r = true;
	reply_verdict(c, f, name, &r, v);
	milter_reply_free(&r);
	if (v->action == MILTER_CONTINUE)
		return 1;
	if (v->action == MILTER_ACCEPT) {
		f->msg = MSG_ACCEPTED;
		milter_verdict_clear(v);
	}
	return 0;
}

/* Headers, end of headers and body to one filter; 1 go on to EOM. */
static int send_content(struct milter_chain *c, struct filter *f, const struct milter_message *msg,
                        struct milter_verdict *v)
{
	bool leadspc = (f->protocol & SMFIP_HDR_LEADSPC) != 0;
	int rc = 1;
	if (!(f->protocol & SMFIP_NOHDRS)) {
		struct str d = STR_INIT;
		for (size_t i = 0; i < msg->count && rc == 1; i++) {
			str_clear(&d);
			str_append(&d, msg->headers[i].name, strlen(msg->headers[i].name) + 1);
			milter_header_value(&msg->headers[i], leadspc, &d);
			str_append_char(&d, '\0');
			rc = content_event(c, f, "HEADER", MILTER_STAGE_COUNT, SMFIC_HEADER, d.data,
			                   d.len, SMFIP_NR_HDR, NULL, v);
		}
		str_free(&d);
	}
	if (rc == 1 && !(f->protocol & SMFIP_NOEOH))
		rc = content_event(c, f, "EOH", MILTER_STAGE_EOH, SMFIC_EOH, NULL, 0, SMFIP_NR_EOH,
		                   NULL, v);
	if (rc == 1 && !(f->protocol & SMFIP_NOBODY)) {
		bool skip = false;
		for (size_t at = 0; at < msg->body_len && rc == 1 && !skip;
		     at += MILTER_CHUNK_SIZE) {
			size_t n = msg->body_len - at;
			if (n > MILTER_CHUNK_SIZE)
				n = MILTER_CHUNK_SIZE;
			rc = content_event(c, f, "BODY", MILTER_STAGE_COUNT, SMFIC_BODY,
			                   msg->body + at, n, SMFIP_NR_BODY, &skip, v);
		}
	}
	return rc;
}

/* End of message: collect the edits until the final reply, then apply
 * them if the filter let the message through. 0 done (verdict in v), -1
 * failed. */
static int end_of_message(struct milter_chain *c, struct filter *f, struct milter_message *msg,
                          struct queue_envelope *env, struct milter_verdict *v, char **quarantine_r)
{
	const char *error;
	struct str out = STR_INIT;
	add_macros(c, f, MILTER_STAGE_EOM, SMFIC_BODYEOB, &out);
	milter_packet_append(&out, SMFIC_BODYEOB, NULL, 0);
	int rc = milter_conn_send(&f->conn, &out, f->spec.content_ms, &error);
	str_free(&out);
	if (rc != 0) {
		filter_fail(c, f, "EOM", error);
		return -1;
	}
	struct milter_reply *edits = NULL;
	size_t count = 0, cap = 0;
	struct str body = STR_INIT;
	bool new_body = false;
	char *quarantine = NULL;
	struct milter_reply r;
	for (;;) {
		struct milter_packet p;
		if (milter_conn_read(&f->conn, &p, f->spec.content_ms, &error) != 0 ||
		    milter_reply_parse(&p, &r, &error) != 0)
			goto failed;
		if (r.cmd == SMFIR_PROGRESS) {
			milter_reply_free(&r);
			continue;
		}
		uint32_t need = milter_edit_action(r.cmd);
		if (need == 0)
			break; /* the final reply */
		if (!(f->actions & need)) {
			error = "a modification that was not negotiated";
			milter_reply_free(&r);
			goto failed;
		}
		if (r.cmd == SMFIR_REPLBODY) {
			str_append(&body, r.body, r.body_len);
			new_body = true;
			milter_reply_free(&r);
		} else if (r.cmd == SMFIR_QUARANTINE) {
			free(quarantine);
			quarantine = xstrdup(r.text);
			milter_reply_free(&r);
		} else {
			if (count == cap) {
				cap = cap ? cap * 2 : 8;
				edits = xreallocarray(edits, cap, sizeof(*edits));
			}
			edits[count++] = r;
		}
	}
	switch (r.cmd) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_DISCARD:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_REPLYCODE:
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		break;
	default:
		error = "unexpected reply at end of message";
		milter_reply_free(&r);
		goto failed;
	}
	char r_cmd = r.cmd;
	if (r.cmd != SMFIR_ACCEPT && r.cmd != SMFIR_CONTINUE)
		reply_verdict(c, f, "EOM", &r, v);
	else
		milter_verdict_clear(v); /* continue: logged below with the edits */
	milter_reply_free(&r);
	f->msg = MSG_NONE;
	if (v->action == MILTER_CONTINUE) {
		bool leadspc = (f->protocol & SMFIP_HDR_LEADSPC) != 0;
		for (size_t i = 0; i < count; i++) {
			const char *why;
			if (milter_edit_apply(&edits[i], leadspc, msg, env, &why) != 0)
				chain_log(c, true, "milter %s: EOM: %s ignored: %s",
				          f->spec.address, milter_reply_name(edits[i].cmd), why);
		}
		if (new_body)
			milter_message_set_body(msg, body.data, body.len);
		if (quarantine) {
			chain_log(c, false, "milter %s: EOM: quarantine: %s", f->spec.address,
			          quarantine);
			free(*quarantine_r);
			*quarantine_r = quarantine;
			quarantine = NULL;
		}
		/* One line per filter and message, even for a plain continue. */
		chain_log(c, false, "milter %s: EOM: %s, %zu edit%s%s", f->spec.address,
		          milter_reply_name(r_cmd), count, count == 1 ? "" : "s",
		          new_body ? ", body replaced" : "");
	}
	for (size_t i = 0; i < count; i++)
		milter_reply_free(&edits[i]);
	free(edits);
	free(quarantine);
	str_free(&body);
	return 0;
failed:
	for (size_t i = 0; i < count; i++)
		milter_reply_free(&edits[i]);
	free(edits);
	free(quarantine);
	str_free(&body);
	filter_fail(c, f, "EOM", error);
	return -1;
}

void milter_message(struct milter_chain *c, struct milter_message *msg, struct queue_envelope *env,
                    struct milter_verdict *v)
{
	milter_verdict_clear(v);
	char *quarantine = NULL;
	const char *quarantine_by = NULL;
	for (size_t i = 0; i < c->count; i++) {
		struct filter *f = &c->filters[i];
		if (f->state == F_FAILED) {
			failed_verdict(f, v);
			if (v->action != MILTER_CONTINUE)
				break;
			if (f->spec.default_action == MILTER_QUARANTINE && quarantine == NULL) {
				quarantine = xstrdup("milter failure");
				quarantine_by = f->spec.address;
			}
			continue;
		}
		if (f->state == F_CONN_VERDICT) {
			verdict_copy(v, &f->conn_verdict);
			break;
		}
		if (f->state != F_READY || f->msg != MSG_ENVELOPE)
			continue;
		int rc = send_content(c, f, msg, v);
		if (rc == 1) {
			char *q = NULL;
			rc = end_of_message(c, f, msg, env, v, &q);
			if (q) {
				free(quarantine);
				quarantine = q;
				quarantine_by = f->spec.address;
			}
		}
		if (rc < 0) {
			failed_verdict(f, v);
			if (f->spec.default_action == MILTER_QUARANTINE && quarantine == NULL) {
				quarantine = xstrdup("milter failure");
				quarantine_by = f->spec.address;
			}
		}
		if (v->action != MILTER_CONTINUE)
			break;
	}
	if (v->action == MILTER_CONTINUE && quarantine) {
		v->action = MILTER_QUARANTINE;
		v->reason = quarantine;
		v->milter = quarantine_by;
		quarantine = NULL;
	}
	free(quarantine);
}
