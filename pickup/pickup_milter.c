/*
 * non_smtpd_milters for pickup (pickup_milter.h).
 */
#include "pickup/pickup_milter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/dsn.h"
#include "mail/route.h"
#include "milter/milter_conf.h"
#include "pickup/bounce.h"
#include "table/table_cache.h"
#include "util/alloc.h"
#include "util/log.h"

static struct {
	const char *list;
	const char *hostname;
	const char *daemon_name;
	const char *macro_v;
	const char *queue_dir;
	struct milter_defaults defaults;
	struct virtual_alias *virtual_alias;
	struct mail_route_settings route;
	bool soft_bounce;
} pm;

struct run {
	const struct queue_envelope *env;
	const char *rcpt;
	int64_t uid;
};

/* transport_maps for the {mail_mailer}... macros. */
static int transport_lookup(const char *spec, const char *key, struct str *value)
{
	const char *error;
	int rc = table_cache_lookup(spec, key, false, value, &error);
	if (rc < 0)
		log_warn("%s", error);
	return rc;
}

/* The transport (want_host false) or next hop of address. */
static const char *routed(const char *address, bool want_host)
{
	static char buf[512];
	struct str transport = STR_INIT, nexthop = STR_INIT;
	mail_route(&pm.route, address, &transport, &nexthop);
	snprintf(buf, sizeof(buf), "%s", str_cstr(want_host ? &nexthop : &transport));
	str_free(&transport);
	str_free(&nexthop);
	return buf;
}

void pickup_milter_init(const struct conf *conf, struct virtual_alias *va, bool enabled)
{
	pm.virtual_alias = va;
	const char *error;
	pm.list = enabled ? conf_get(conf, "non_smtpd_milters") : "";
	pm.hostname = conf_get(conf, "myhostname");
	pm.daemon_name = conf_get(conf, "milter_macro_daemon_name");
	pm.macro_v = conf_get(conf, "milter_macro_v");
	pm.queue_dir = conf_get(conf, "queue_directory");
	pm.soft_bounce = conf_get_bool(conf, "soft_bounce");
	pm.route = (struct mail_route_settings){
	    .mydestination = conf_get_list(conf, "mydestination"),
	    .virtual_domains = conf_get_list(conf, "virtual_mailbox_domains"),
	    .relay_domains = conf_get_list(conf, "relay_domains"),
	    .relayhost = conf_get(conf, "relayhost"),
	    .myhostname = pm.hostname,
	    .transport_maps = conf_get(conf, "transport_maps"),
	    .local_transport = conf_get(conf, "local_transport"),
	    .virtual_transport = conf_get(conf, "virtual_transport"),
	    .relay_transport = conf_get(conf, "relay_transport"),
	    .default_transport = conf_get(conf, "default_transport"),
	    .lookup = transport_lookup,
	};
	if (milter_defaults_from_conf(conf, &pm.defaults, &error) != 0)
		log_fatal("%s", error);
	struct milter_chain *check =
	    milter_chain_new(pm.list, &pm.defaults, NULL, NULL, NULL, &error);
	if (check == NULL)
		log_fatal("non_smtpd_milters: %s", error);
	milter_chain_free(check);
}

bool pickup_milter_enabled(void)
{
	return pm.list && *pm.list;
}

static const char *macro(void *ctx, const char *name)
{
	struct run *r = ctx;
	static char buf[64];
	const char *key = name;
	if (strcmp(key, "j") == 0)
		return pm.hostname;
	if (strcmp(key, "daemon_name") == 0)
		return pm.daemon_name;
	if (strcmp(key, "v") == 0)
		return pm.macro_v;
	if (strcmp(key, "_") == 0) {
		snprintf(buf, sizeof(buf), "localhost [127.0.0.1] (uid %lld)", (long long)r->uid);
		return buf;
	}
	if (strcmp(key, "client_addr") == 0)
		return "127.0.0.1";
	if (strcmp(key, "client_name") == 0 || strcmp(key, "client_ptr") == 0)
		return "localhost";
	if (strcmp(key, "i") == 0)
		return r->env->id;
	if (strcmp(key, "mail_addr") == 0)
		return r->env->sender;
	if (strcmp(key, "mail_mailer") == 0 || strcmp(key, "mail_host") == 0)
		return routed(r->env->sender, key[5] == 'h');
	if (strcmp(key, "rcpt_addr") == 0)
		return r->rcpt;
	if (strcmp(key, "rcpt_mailer") == 0 || strcmp(key, "rcpt_host") == 0)
		return r->rcpt ? routed(r->rcpt, key[5] == 'h') : NULL;
	return NULL;
}

static void log_line(void *ctx, bool warning, const char *line)
{
	struct run *r = ctx;
	if (warning)
		log_warn("%s: %s", r->env->id, line);
	else
		log_info("%s: %s", r->env->id, line);
}

/* "5.7.1" from "550 5.7.1 text", or a default for the code class. */
static void reply_status(const char *reply, char *buf, size_t len)
{
	const char *p = reply + 4;
	size_t n = strspn(p, "0123456789.");
	if (strlen(reply) > 4 && (*p == '4' || *p == '5') && n >= 5 && n < len && p[1] == '.') {
		memcpy(buf, p, n);
		buf[n] = '\0';
		buf[0] = '5'; /* returned to the sender: permanent */
	} else {
		snprintf(buf, len, "5.7.1");
	}
}

/* Recipients a filter refused, with its reply for each. */
struct refused {
	struct queue_envelope list; /* only rcpts is used */
	char **replies;
};

static void refused_add(struct refused *r, const struct queue_rcpt *rcpt, const char *reply)
{
	queue_envelope_add_rcpt(&r->list, rcpt->address, rcpt->orcpt, rcpt->notify);
	r->replies = xreallocarray(r->replies, r->list.rcpt_count, sizeof(*r->replies));
	r->replies[r->list.rcpt_count - 1] = xstrdup(reply ? reply : "550 5.7.1 Command rejected");
}

static void refused_free(struct refused *r)
{
	for (size_t i = 0; i < r->list.rcpt_count; i++)
		free(r->replies[i]);
	free(r->replies);
	queue_envelope_free(&r->list);
}

/* Return the message to its sender for the refused recipients whose DSN
 * NOTIFY asks for failures, each with the filter's reply. */
static void bounce(const struct queue_envelope *env, const struct refused *gone,
                   const struct str *content)
{
	size_t n = gone->list.rcpt_count;
	struct pickup_failed_rcpt *failed = xcalloc(n, sizeof(*failed));
	char **reasons = xcalloc(n, sizeof(*reasons));
	char(*status)[32] = xcalloc(n, sizeof(*status));
	for (size_t i = 0; i < n; i++) {
		const struct queue_rcpt *q = &gone->list.rcpts[i];
		reply_status(gone->replies[i], status[i], sizeof(status[i]));
		reasons[i] = xasprintf("rejected by a mail filter: %s", gone->replies[i]);
		for (char *c = reasons[i]; *c; c++)
			if (*c == '\r' || *c == '\n')
				*c = ' ';
		failed[i] = (struct pickup_failed_rcpt){
		    .address = q->address,
		    .orcpt = q->orcpt,
		    .notify = q->notify,
		    .status = status[i],
		    .reason = reasons[i],
		};
	}
	pickup_bounce_failed(pm.queue_dir, pm.hostname, pm.virtual_alias, env, failed, n, content);
	for (size_t i = 0; i < n; i++)
		free(reasons[i]);
	free(reasons);
	free(status);
	free(failed);
}

static void free_args(char **argv)
{
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
}

/* The envelope events; false with the verdict in v if the message is
 * refused. Recipients a filter rejects go to gone and out of env. */
static bool envelope_events(struct milter_chain *c, struct run *r, struct queue_envelope *env,
                            struct refused *gone, struct milter_verdict *v)
{
	milter_connect(c, "localhost", '4', "127.0.0.1", 0, v);
	if (v->action != MILTER_CONTINUE && v->action != MILTER_ACCEPT)
		return false;
	milter_helo(c, "localhost", v);
	if (v->action != MILTER_CONTINUE && v->action != MILTER_ACCEPT)
		return false;
	char *argv[4] = {xasprintf("<%s>", env->sender), NULL, NULL, NULL};
	if (env->body && *env->body)
		argv[1] = xasprintf("BODY=%s", env->body);
	milter_mail(c, argv, v);
	free_args(argv);
	if (v->action != MILTER_CONTINUE && v->action != MILTER_ACCEPT)
		return false;
	size_t kept = 0;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		struct queue_rcpt *q = &env->rcpts[i];
		char *rargv[3] = {xasprintf("<%s>", q->address), NULL, NULL};
		if (q->notify[0])
			rargv[1] = xasprintf("NOTIFY=%s", q->notify);
		r->rcpt = q->address;
		milter_rcpt(c, rargv, v);
		r->rcpt = NULL;
		free_args(rargv);
		if (v->action == MILTER_REJECT) {
			refused_add(gone, q, v->reply);
			milter_verdict_clear(v);
			free(q->address);
			free(q->orcpt);
			free(q->notify);
			continue;
		}
		if (v->action == MILTER_DISCARD || v->action == MILTER_TEMPFAIL ||
		    v->action == MILTER_SHUTDOWN) {
			/* Keep the envelope whole: the file is tried again later. */
			for (size_t j = i; j < env->rcpt_count; j++)
				env->rcpts[kept++] = env->rcpts[j];
			env->rcpt_count = kept;
			return false;
		}
		env->rcpts[kept++] = *q;
	}
	env->rcpt_count = kept;
	if (kept == 0) {
		v->action = MILTER_REJECT;
		return false;
	}
	milter_data(c, v);
	return v->action == MILTER_CONTINUE || v->action == MILTER_ACCEPT;
}

enum pickup_milter_result pickup_milter_run(struct queue_envelope *env, int64_t uid,
                                            const struct str *content, struct str *out,
                                            const char **subdir_r, const char **why_r)
{
	struct run r = {.env = env, .uid = uid};
	const char *error;
	struct milter_chain *c =
	    milter_chain_new(pm.list, &pm.defaults, macro, log_line, &r, &error);
	if (c == NULL) {
		*why_r = error;
		return PICKUP_MILTER_RETRY;
	}
	struct milter_verdict v = {0};
	struct milter_message msg;
	struct refused gone = {0};
	milter_message_parse(&msg, content->data, content->len);
	if (envelope_events(c, &r, env, &gone, &v))
		milter_message(c, &msg, env, &v);
	enum pickup_milter_result result = PICKUP_MILTER_QUEUE;
	if (v.action == MILTER_CONTINUE && env->rcpt_count == 0) {
		log_info("%s: milter-discard: all recipients deleted; from=<%s>", env->id,
		         env->sender);
		v.action = MILTER_DISCARD;
	}
	switch (v.action) {
	case MILTER_TEMPFAIL:
	case MILTER_SHUTDOWN:
		log_info("%s: milter-tempfail: %s; from=<%s>; the message stays in maildrop/",
		         env->id, v.reply ? v.reply : "", env->sender);
		*why_r = "a mail filter said try again later";
		result = PICKUP_MILTER_RETRY;
		break;
	case MILTER_REJECT:
		log_info("%s: milter-reject: %s; from=<%s>", env->id,
		         v.reply ? v.reply : "all recipients", env->sender);
		/* Every recipient not refused one by one is refused now. */
		for (size_t i = 0; i < env->rcpt_count; i++)
			refused_add(&gone, &env->rcpts[i], v.reply);
		result = PICKUP_MILTER_DONE;
		break;
	case MILTER_DISCARD:
		log_info("%s: milter-discard: from=<%s>", env->id, env->sender);
		result = PICKUP_MILTER_DONE;
		break;
	case MILTER_QUARANTINE:
		log_info("%s: milter-hold: %s; from=<%s>", env->id, v.reason ? v.reason : "",
		         env->sender);
		*subdir_r = "hold";
		free(env->hold_reason);
		env->hold_reason =
		    xasprintf("milter %s: %s", v.milter ? v.milter : "", v.reason ? v.reason : "");
		break;
	default:
		break;
	}
	if (pm.soft_bounce && gone.list.rcpt_count > 0 && result != PICKUP_MILTER_RETRY) {
		/* Nothing goes back: the message waits on hold for everyone. */
		for (size_t i = 0; i < gone.list.rcpt_count; i++) {
			const struct queue_rcpt *q = &gone.list.rcpts[i];
			if (!queue_envelope_has_rcpt(env, q->address))
				queue_envelope_add_rcpt(env, q->address, q->orcpt, q->notify);
		}
		free(env->hold_reason);
		env->hold_reason =
		    xasprintf("soft_bounce: a mail filter refused: %s", gone.replies[0]);
		*subdir_r = "hold";
		log_info("%s: held instead of returned (soft_bounce): %s", env->id,
		         env->hold_reason);
		refused_free(&gone);
		memset(&gone, 0, sizeof(gone));
		result = PICKUP_MILTER_QUEUE;
	}
	if (result == PICKUP_MILTER_QUEUE)
		milter_message_write(&msg, out);
	/* Refused recipients are returned when the rest is queued or refused,
	 * never when the file stays for a later try. */
	if (gone.list.rcpt_count > 0 && result != PICKUP_MILTER_RETRY) {
		for (size_t i = 0; i < gone.list.rcpt_count; i++)
			log_info("%s: milter-reject: to=<%s>: %s", env->id,
			         gone.list.rcpts[i].address, gone.replies[i]);
		bounce(env, &gone, content);
	}
	refused_free(&gone);
	milter_verdict_clear(&v);
	milter_chain_free(c); /* after the verdict: v.milter points into it */
	milter_message_free(&msg);
	return result;
}
