/*
 * Selection of queued messages for mailctl queue commands (see
 * queue_select.h). Addresses compare without regard to case; "@domain"
 * matches every address in that domain; "<>" is the null sender.
 */
#include "mailctl/queue_select.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/params.h"
#include "mailctl/mailctl.h"
#include "util/alloc.h"

static bool address_matches(const char *pattern, const char *address)
{
	if (pattern[0] == '@') {
		const char *at = strrchr(address, '@');
		return at != NULL && strcasecmp(at, pattern) == 0;
	}
	return strcasecmp(pattern, address) == 0;
}

static int add_id(struct queue_select *sel, const char *arg)
{
	char *id = xstrdup(arg);
	for (char *p = id; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!queue_id_valid(id)) {
		mailctl_error("%s: not a queue id (16 hexadecimal digits)", arg);
		free(id);
		return -1;
	}
	sel->ids = xreallocarray(sel->ids, sel->id_count + 2, sizeof(*sel->ids));
	sel->ids[sel->id_count++] = id;
	sel->ids[sel->id_count] = NULL;
	return 0;
}

int queue_select_parse(struct queue_select *sel, int argc, char **argv, int first)
{
	memset(sel, 0, sizeof(*sel));
	sel->older_than = -1;
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i];
		bool takes_value = strcmp(arg, "--sender") == 0 ||
		                   strcmp(arg, "--recipient") == 0 ||
		                   strcmp(arg, "--older-than") == 0;
		if (takes_value && i + 1 >= argc) {
			mailctl_error("%s needs a value", arg);
			return -1;
		}
		if (strcmp(arg, "--sender") == 0) {
			sel->sender = argv[++i];
		} else if (strcmp(arg, "--recipient") == 0) {
			sel->recipient = argv[++i];
			if (sel->recipient[0] == '\0') {
				mailctl_error("--recipient needs an address or @domain");
				return -1;
			}
		} else if (strcmp(arg, "--older-than") == 0) {
			long long seconds;
			const char *error;
			if (param_parse_time(argv[++i], &seconds, &error) != 0 || seconds < 0) {
				mailctl_error("--older-than %s: %s (a duration such as 90s, "
				              "30m, 2h, 5d or 1w)",
				              argv[i], seconds < 0 ? "negative" : error);
				return -1;
			}
			sel->older_than = seconds;
		} else if (strcmp(arg, "ALL") == 0) {
			sel->all = true;
		} else if (arg[0] == '-') {
			mailctl_error("unknown option %s", arg);
			return -1;
		} else if (add_id(sel, arg) != 0) {
			return -1;
		}
	}
	if (sel->all && sel->id_count > 0) {
		mailctl_error("ALL and queue ids cannot be combined");
		return -1;
	}
	return 0;
}

void queue_select_free(struct queue_select *sel)
{
	for (size_t i = 0; i < sel->id_count; i++)
		free(sel->ids[i]);
	free(sel->ids);
	memset(sel, 0, sizeof(*sel));
}

bool queue_select_given(const struct queue_select *sel)
{
	return sel->all || sel->id_count > 0 || sel->sender != NULL || sel->recipient != NULL ||
	       sel->older_than >= 0;
}

bool queue_select_match(const struct queue_select *sel, const char *name,
                        const struct queue_envelope *env, int64_t now)
{
	if (sel->id_count > 0) {
		bool found = false;
		for (size_t i = 0; i < sel->id_count && !found; i++)
			found = strcmp(sel->ids[i], name) == 0;
		if (!found)
			return false;
	}
	bool by_content = sel->sender != NULL || sel->recipient != NULL || sel->older_than >= 0;
	if (env == NULL)
		return !by_content;
	if (sel->sender != NULL) {
		bool null_pattern = strcmp(sel->sender, "<>") == 0 || sel->sender[0] == '\0';
		if (null_pattern ? env->sender[0] != '\0'
		                 : !address_matches(sel->sender, env->sender))
			return false;
	}
	if (sel->recipient != NULL) {
		bool found = false;
		for (size_t i = 0; i < env->rcpt_count && !found; i++)
			found = address_matches(sel->recipient, env->rcpts[i].address);
		if (!found)
			return false;
	}
	if (sel->older_than >= 0 && now - env->arrival < sel->older_than)
		return false;
	return true;
}
