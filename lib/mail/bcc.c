/*
 * Blind carbon copies (see bcc.h).
 */
#include "mail/bcc.h"

#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "util/alloc.h"

void bcc_config_from_conf(struct bcc_config *cfg, const struct conf *conf)
{
	cfg->always_bcc = conf_get(conf, "always_bcc");
	cfg->sender_maps = conf_get_list(conf, "sender_bcc_maps");
	cfg->recipient_maps = conf_get_list(conf, "recipient_bcc_maps");
}

bool bcc_wanted(const struct bcc_config *cfg)
{
	return (cfg->always_bcc && *cfg->always_bcc) || (cfg->sender_maps && cfg->sender_maps[0]) ||
	       (cfg->recipient_maps && cfg->recipient_maps[0]);
}

static void add(struct queue_envelope *env, const char *address)
{
	/* A value is one address; blanks and <> around it are dropped. */
	while (*address == ' ' || *address == '\t' || *address == '<')
		address++;
	size_t len = strcspn(address, " \t>");
	if (len == 0)
		return;
	char *copy = xstrndup(address, len);
	if (!queue_envelope_has_rcpt(env, copy))
		queue_envelope_add_rcpt(env, copy, "", "NEVER");
	free(copy);
}

/* The tables' address for address (user@domain, then @domain): 1 found
 * (value set), 0 not, -1 a table cannot be read. */
static int look_up(const struct bcc_config *cfg, char *const *maps, const char *address,
                   struct str *value)
{
	if (maps == NULL || *address == '\0')
		return 0;
	char *key = str_lower_dup(address);
	const char *at = strrchr(key, '@');
	const char *keys[] = {key, at && at[1] ? at : NULL};
	int rc = 0;
	for (size_t i = 0; maps[i] && rc == 0; i++)
		for (size_t k = 0; k < 2 && rc == 0; k++)
			if (keys[k] != NULL)
				rc = cfg->lookup(cfg->ctx, maps[i], keys[k], value);
	free(key);
	return rc;
}

int bcc_add(const struct bcc_config *cfg, const struct queue_envelope *received,
            struct queue_envelope *out)
{
	struct str value = STR_INIT;
	int rc = look_up(cfg, cfg->sender_maps, received->sender ? received->sender : "", &value);
	if (rc == 1)
		add(out, str_cstr(&value));
	for (size_t i = 0; i < received->rcpt_count && rc >= 0; i++) {
		rc = look_up(cfg, cfg->recipient_maps, received->rcpts[i].address, &value);
		if (rc == 1)
			add(out, str_cstr(&value));
	}
	if (rc >= 0 && cfg->always_bcc && *cfg->always_bcc)
		add(out, cfg->always_bcc);
	str_free(&value);
	return rc < 0 ? -1 : 0;
}
