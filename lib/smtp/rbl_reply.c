/*
 * Blocklist reply templates (see rbl_reply.h): Postfix's names, their
 * expansion and the reply line made of it.
 */
#include "smtp/rbl_reply.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "smtp/smtp_resp.h"
#include "util/var_expand.h"

static const char *const names[RBL_REPLY_VARS] = {
    [RBL_CLIENT] = "client",
    [RBL_CLIENT_ADDRESS] = "client_address",
    [RBL_CLIENT_NAME] = "client_name",
    [RBL_REVERSE_CLIENT_NAME] = "reverse_client_name",
    [RBL_HELO_NAME] = "helo_name",
    [RBL_CLASS] = "rbl_class",
    [RBL_CODE] = "rbl_code",
    [RBL_DOMAIN] = "rbl_domain",
    [RBL_REASON] = "rbl_reason",
    [RBL_TXT] = "rbl_txt",
    [RBL_WHAT] = "rbl_what",
    [RBL_RECIPIENT] = "recipient",
    [RBL_RECIPIENT_DOMAIN] = "recipient_domain",
    [RBL_RECIPIENT_NAME] = "recipient_name",
    [RBL_SENDER] = "sender",
    [RBL_SENDER_DOMAIN] = "sender_domain",
    [RBL_SENDER_NAME] = "sender_name",
};

/* "NNN [X.Y.Z] text" into r: 0, or -1 with *why if line is no 4NN or
 * 5NN reply. */
static int parse_reply(const char *line, struct rbl_reply *r, const char **why)
{
	if ((line[0] != '4' && line[0] != '5') || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || line[3] != ' ') {
		*why = "the reply does not start with a 4NN or 5NN code and a space";
		return -1;
	}
	for (const char *p = line; *p; p++) {
		if (*p == '\r' || *p == '\n') {
			*why = "the reply has a line break";
			return -1;
		}
	}
	r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	const char *text = line + 4 + strspn(line + 4, " ");
	size_t elen = smtp_status_code_len(text, strlen(text));
	if (elen > 0 && elen < sizeof(r->enhanced)) {
		memcpy(r->enhanced, text, elen);
		r->enhanced[elen] = '\0';
		text += elen + strspn(text + elen, " ");
	} else {
		snprintf(r->enhanced, sizeof(r->enhanced), "X.7.1");
	}
	r->enhanced[0] = line[0];
	snprintf(r->text, sizeof(r->text), "%s", *text ? text : "Service unavailable");
	for (char *p = r->text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return 0;
}

int rbl_reply_expand(const char *template, const char *const values[RBL_REPLY_VARS],
                     struct rbl_reply *r, struct str *error)
{
	struct var_value vars[RBL_REPLY_VARS];
	for (size_t i = 0; i < RBL_REPLY_VARS; i++)
		vars[i] = (struct var_value){names[i], values[i] ? values[i] : ""};
	struct str line = STR_INIT;
	int rc = var_expand_values(template, vars, RBL_REPLY_VARS, &line, error);
	const char *why = NULL;
	if (rc == 0 && parse_reply(str_cstr(&line), r, &why) != 0) {
		str_clear(error);
		str_append_cstr(error, why);
		rc = -1;
	}
	str_free(&line);
	return rc;
}

int rbl_reply_check(const char *template, struct str *error)
{
	const char *values[RBL_REPLY_VARS];
	for (size_t i = 0; i < RBL_REPLY_VARS; i++)
		values[i] = "x";
	values[RBL_CODE] = "554";
	struct rbl_reply r;
	return rbl_reply_expand(template, values, &r, error);
}
