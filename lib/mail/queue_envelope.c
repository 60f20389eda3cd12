/*
 * The queue file envelope in memory (struct queue_envelope, queue.h):
 * making, copying and freeing one and its recipients. Writing and reading
 * it are queue_writer.c and queue_read.c.
 */
#include "mail/queue.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

void queue_envelope_init(struct queue_envelope *env)
{
	memset(env, 0, sizeof(*env));
}

bool queue_verify_mode_valid(const char *value)
{
	return strcmp(value, QUEUE_VERIFY_PROBE) == 0 || strcmp(value, QUEUE_VERIFY_REPORT) == 0;
}

bool queue_envelope_is_verify(const struct queue_envelope *env)
{
	return env->verify != NULL && *env->verify != '\0';
}

static void free_rcpt(struct queue_rcpt *r)
{
	free(r->address);
	free(r->orcpt);
	free(r->notify);
}

void queue_envelope_free(struct queue_envelope *env)
{
	char **strings[] = {&env->sender,      &env->envid,       &env->ret,         &env->body,
	                    &env->client_name, &env->client_addr, &env->client_port, &env->helo,
	                    &env->protocol,    &env->tls,         &env->auth_user,   &env->origin,
	                    &env->hold_reason, &env->filter,      &env->verify};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		free(*strings[i]);
	for (size_t i = 0; i < env->rcpt_count; i++)
		free_rcpt(&env->rcpts[i]);
	free(env->rcpts);
	queue_envelope_init(env);
}

void queue_envelope_add_rcpt(struct queue_envelope *env, const char *address, const char *orcpt,
                             const char *notify)
{
	if (env->rcpt_count == env->rcpt_cap) {
		env->rcpt_cap = env->rcpt_cap ? env->rcpt_cap * 2 : 4;
		env->rcpts = xreallocarray(env->rcpts, env->rcpt_cap, sizeof(*env->rcpts));
	}
	struct queue_rcpt *r = &env->rcpts[env->rcpt_count++];
	r->address = xstrdup(address);
	r->orcpt = xstrdup(orcpt ? orcpt : "");
	r->notify = xstrdup(notify ? notify : "");
	r->valias_pending = false;
}

bool queue_envelope_has_rcpt(const struct queue_envelope *env, const char *address)
{
	for (size_t i = 0; i < env->rcpt_count; i++)
		if (strcasecmp(env->rcpts[i].address, address) == 0)
			return true;
	return false;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void queue_envelope_copy_fields(struct queue_envelope *dst, const struct queue_envelope *src)
{
	queue_envelope_init(dst);
	memcpy(dst->id, src->id, sizeof(dst->id));
	dst->arrival = src->arrival;
	dst->smtputf8 = src->smtputf8;
	dst->size = src->size;
	dst->sender = dup_or_null(src->sender);
	dst->envid = dup_or_null(src->envid);
	dst->ret = dup_or_null(src->ret);
	dst->body = dup_or_null(src->body);
	dst->client_name = dup_or_null(src->client_name);
	dst->client_addr = dup_or_null(src->client_addr);
	dst->client_port = dup_or_null(src->client_port);
	dst->helo = dup_or_null(src->helo);
	dst->protocol = dup_or_null(src->protocol);
	dst->tls = dup_or_null(src->tls);
	dst->auth_user = dup_or_null(src->auth_user);
	dst->origin = dup_or_null(src->origin);
	dst->hold_reason = dup_or_null(src->hold_reason);
	dst->filter = dup_or_null(src->filter);
	dst->verify = dup_or_null(src->verify);
	dst->trace = src->trace;
}

void queue_envelope_copy(struct queue_envelope *dst, const struct queue_envelope *src)
{
	queue_envelope_copy_fields(dst, src);
	for (size_t i = 0; i < src->rcpt_count; i++) {
		const struct queue_rcpt *r = &src->rcpts[i];
		queue_envelope_add_rcpt(dst, r->address, r->orcpt, r->notify);
		dst->rcpts[dst->rcpt_count - 1].valias_pending = r->valias_pending;
	}
}
