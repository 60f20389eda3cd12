/*
 * End-of-message edits on the message and the envelope (milter_edit.h).
 */
#include "milter/milter_edit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/xtext.h"
#include "util/alloc.h"

uint32_t milter_edit_action(char cmd)
{
	switch (cmd) {
	case SMFIR_ADDHEADER:
		return SMFIF_ADDHDRS;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		return SMFIF_CHGHDRS;
	case SMFIR_REPLBODY:
		return SMFIF_CHGBODY;
	case SMFIR_ADDRCPT:
		return SMFIF_ADDRCPT;
	case SMFIR_ADDRCPT_PAR:
		return SMFIF_ADDRCPT_PAR;
	case SMFIR_DELRCPT:
		return SMFIF_DELRCPT;
	case SMFIR_CHGFROM:
		return SMFIF_CHGFROM;
	case SMFIR_QUARANTINE:
		return SMFIF_QUARANTINE;
	default:
		return 0;
	}
}

char *milter_edit_strip_brackets(const char *address)
{
	size_t len = strlen(address);
	while (len > 0 && (*address == ' ' || *address == '\t')) {
		address++;
		len--;
	}
	while (len > 0 && (address[len - 1] == ' ' || address[len - 1] == '\t'))
		len--;
	if (len >= 2 && address[0] == '<' && address[len - 1] == '>')
		return xstrndup(address + 1, len - 2);
	return xstrndup(address, len);
}

static bool usable_address(const char *a)
{
	for (const unsigned char *u = (const unsigned char *)a; *u; u++)
		if (*u < ' ' || *u == 127 || *u == '<' || *u == '>')
			return false;
	return true;
}

/* The value of KEY= among space-separated ESMTP parameters (malloc'd). */
static char *esmtp_param(const char *args, const char *key)
{
	if (args == NULL)
		return NULL;
	size_t klen = strlen(key);
	const char *p = args;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *end = p + strcspn(p, " ");
		if ((size_t)(end - p) > klen && strncasecmp(p, key, klen) == 0 && p[klen] == '=')
			return xstrndup(p + klen + 1, (size_t)(end - p - klen - 1));
		p = end;
	}
	return NULL;
}

static int add_rcpt(const struct milter_reply *r, struct queue_envelope *env, const char **error_r)
{
	char *addr = milter_edit_strip_brackets(r->name);
	if (*addr == '\0' || !usable_address(addr)) {
		free(addr);
		*error_r = "unusable recipient address";
		return -1;
	}
	char *notify = esmtp_param(r->value, "NOTIFY");
	char *orcpt_x = esmtp_param(r->value, "ORCPT");
	char *orcpt = NULL;
	if (orcpt_x) {
		struct str dec = STR_INIT;
		const char *xerr;
		if (xtext_decode(orcpt_x, strlen(orcpt_x), &dec, &xerr) == 0)
			orcpt = str_steal(&dec);
		str_free(&dec);
	}
	queue_envelope_add_rcpt(env, addr, orcpt ? orcpt : "", notify ? notify : "");
	free(addr);
	free(notify);
	free(orcpt_x);
	free(orcpt);
	return 0;
}

static void delete_rcpt(const char *address, struct queue_envelope *env)
{
	char *addr = milter_edit_strip_brackets(address);
	size_t out = 0;
	for (size_t i = 0; i < env->rcpt_count; i++) {
		struct queue_rcpt *q = &env->rcpts[i];
		if (strcasecmp(q->address, addr) == 0) {
			free(q->address);
			free(q->orcpt);
			free(q->notify);
			continue;
		}
		env->rcpts[out++] = *q;
	}
	env->rcpt_count = out;
	free(addr);
}

static int change_sender(const struct milter_reply *r, struct queue_envelope *env,
                         const char **error_r)
{
	char *addr = milter_edit_strip_brackets(r->name);
	if (!usable_address(addr)) {
		free(addr);
		*error_r = "unusable sender address";
		return -1;
	}
	free(env->sender);
	env->sender = addr;
	char *ret = esmtp_param(r->value, "RET");
	if (ret) {
		free(env->ret);
		env->ret = ret;
	}
	char *body = esmtp_param(r->value, "BODY");
	if (body) {
		free(env->body);
		env->body = body;
	}
	char *envid_x = esmtp_param(r->value, "ENVID");
	if (envid_x) {
		struct str dec = STR_INIT;
		const char *xerr;
		if (xtext_decode(envid_x, strlen(envid_x), &dec, &xerr) == 0) {
			free(env->envid);
			env->envid = str_steal(&dec);
		}
		str_free(&dec);
		free(envid_x);
	}
	return 0;
}

int milter_edit_apply(const struct milter_reply *r, bool leadspc, struct milter_message *m,
                      struct queue_envelope *env, const char **error_r)
{
	switch (r->cmd) {
	case SMFIR_ADDHEADER:
		milter_message_add_header(m, r->name, r->value, leadspc);
		return 0;
	case SMFIR_INSHEADER:
		milter_message_insert_header(m, r->index, r->name, r->value, leadspc);
		return 0;
	case SMFIR_CHGHEADER:
		milter_message_change_header(m, r->index, r->name, r->value, leadspc);
		return 0;
	case SMFIR_ADDRCPT:
	case SMFIR_ADDRCPT_PAR:
		return add_rcpt(r, env, error_r);
	case SMFIR_DELRCPT:
		delete_rcpt(r->name, env);
		return 0;
	case SMFIR_CHGFROM:
		return change_sender(r, env, error_r);
	default:
		*error_r = "not an edit";
		return -1;
	}
}
