/*
 * SMTP command line parsing: the verb, and the arguments of MAIL, RCPT,
 * BDAT and AUTH with their ESMTP parameters. See smtp_command.h.
 */
#include "smtp/smtp_command.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/xtext.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/utf8.h"

#define PATH_MAX_OCTETS 256 /* RFC 5321 4.5.3.1.3, with the brackets */
#define ENVID_MAX 100       /* RFC 3461 4.4 */
#define ORCPT_MAX 500       /* RFC 3461 4.2 */
#define SASL_MECH_MAX 20    /* RFC 4422 3.1 */

static const char *const verb_names[] = {
    [SMTP_VERB_UNKNOWN] = "UNKNOWN", [SMTP_VERB_HELO] = "HELO",         [SMTP_VERB_EHLO] = "EHLO",
    [SMTP_VERB_MAIL] = "MAIL",       [SMTP_VERB_RCPT] = "RCPT",         [SMTP_VERB_DATA] = "DATA",
    [SMTP_VERB_BDAT] = "BDAT",       [SMTP_VERB_RSET] = "RSET",         [SMTP_VERB_NOOP] = "NOOP",
    [SMTP_VERB_QUIT] = "QUIT",       [SMTP_VERB_VRFY] = "VRFY",         [SMTP_VERB_EXPN] = "EXPN",
    [SMTP_VERB_HELP] = "HELP",       [SMTP_VERB_STARTTLS] = "STARTTLS", [SMTP_VERB_AUTH] = "AUTH",
    [SMTP_VERB_ETRN] = "ETRN",       [SMTP_VERB_XFORWARD] = "XFORWARD",
};
#define VERB_COUNT (sizeof(verb_names) / sizeof(verb_names[0]))

/* Replies shared by several parsers. */
#define SYNTAX_MAIL "Syntax: MAIL FROM:<address>"
#define SYNTAX_RCPT "Syntax: RCPT TO:<address>"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

static int fail(struct smtp_reply *reply, int code, const char *enhanced, const char *text,
                const char *detail)
{
	reply->code = code;
	reply->enhanced = enhanced;
	reply->text = text;
	reply->detail = detail;
	return -1;
}

enum smtp_verb smtp_command_parse(const char *line, const char **arg_r)
{
	size_t len = 0;
	while (line[len] != '\0' && !is_blank(line[len]))
		len++;
	*arg_r = skip_blanks(line + len);
	for (size_t v = 1; v < VERB_COUNT; v++)
		if (strlen(verb_names[v]) == len && strncasecmp(line, verb_names[v], len) == 0)
			return (enum smtp_verb)v;
	return SMTP_VERB_UNKNOWN;
}

const char *smtp_verb_name(enum smtp_verb verb)
{
	return (size_t)verb < VERB_COUNT ? verb_names[verb] : verb_names[SMTP_VERB_UNKNOWN];
}

void smtp_reply_format(const struct smtp_reply *reply, struct str *out)
{
	str_printf(out, "%d %s %s", reply->code, reply->enhanced, reply->text);
}

/* ---- paths ---- */

struct path {
	const char *mailbox; /* after any source route */
	size_t mailbox_len;
	bool had_route;
};

/* Drop a source route ("@a,@b:") from the inside of a path, checking its
 * domains. 0, or -1 with *error_r. */
static int strip_route(struct path *path, const char **error_r)
{
	const char *p = path->mailbox;
	size_t len = path->mailbox_len;
	if (len == 0 || p[0] != '@')
		return 0;
	const char *colon = memchr(p, ':', len);
	if (colon == NULL) {
		*error_r = "bad source route";
		return -1;
	}
	const char *q = p;
	while (q < colon) {
		if (*q != '@') {
			*error_r = "bad source route";
			return -1;
		}
		q++;
		const char *end = memchr(q, ',', (size_t)(colon - q));
		if (end == NULL)
			end = colon;
		if (address_check_domain(q, (size_t)(end - q), true, error_r) != 0)
			return -1;
		q = end < colon ? end + 1 : end;
	}
	if (colon[-1] == ',') {
		*error_r = "bad source route";
		return -1;
	}
	path->mailbox = colon + 1;
	path->mailbox_len = len - (size_t)(colon + 1 - p);
	path->had_route = true;
	if (path->mailbox_len == 0) {
		*error_r = "no address after source route";
		return -1;
	}
	return 0;
}

/* The "<...>" at *pp: on success *pp points after the '>'. Returns 0, -1
 * for a syntax error (no brackets, nothing but blanks may follow), or -2
 * for a bad path with *error_r. Not strict (Postfix's
 * strict_rfc821_envelopes = no), an address without the brackets is taken
 * too, up to the next blank. */
static int parse_path(const char **pp, struct path *path, bool strict, const char **error_r)
{
	const char *start = *pp;
	if (*start != '<' && !strict && *start != '\0') {
		const char *end = start;
		while (*end != '\0' && !is_blank(*end))
			end++;
		path->mailbox = start;
		path->mailbox_len = (size_t)(end - start);
		path->had_route = false;
		*pp = end;
		if (path->mailbox_len + 2 > PATH_MAX_OCTETS) {
			*error_r = "path too long";
			return -2;
		}
		return strip_route(path, error_r) == 0 ? 0 : -2;
	}
	if (*start != '<')
		return -1;
	const char *p = start + 1;
	bool quoted = false;
	for (; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '>')
			break;
	}
	if (*p != '>' || (p[1] != '\0' && !is_blank(p[1])))
		return -1;
	path->mailbox = start + 1;
	path->mailbox_len = (size_t)(p - start - 1);
	path->had_route = false;
	*pp = p + 1;
	if (path->mailbox_len + 2 > PATH_MAX_OCTETS) {
		*error_r = "path too long";
		return -2;
	}
	return strip_route(path, error_r) == 0 ? 0 : -2;
}

/* ---- ESMTP parameters ---- */

struct param {
	const char *key;
	size_t key_len;
	const char *value; /* NULL if there was no '=' */
	size_t value_len;
};

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* esmtp-keyword ["=" esmtp-value]; RFC 6531 lets the value hold UTF-8. */
static bool param_syntax_ok(const struct param *param)
{
	if (param->key_len == 0 || !is_alnum(param->key[0]))
		return false;
	for (size_t i = 1; i < param->key_len; i++)
		if (!is_alnum(param->key[i]) && param->key[i] != '-')
			return false;
	if (param->value == NULL)
		return true;
	if (param->value_len == 0)
		return false;
	for (size_t i = 0; i < param->value_len; i++) {
		unsigned char c = (unsigned char)param->value[i];
		if (c <= ' ' || c == '=' || c == 0x7F)
			return false;
	}
	return true;
}

/* The next parameter at *pp: 1 with *param, 0 at the end of the line,
 * -1 for a syntax error. */
static int next_param(const char **pp, struct param *param)
{
	const char *p = skip_blanks(*pp);
	if (*p == '\0')
		return 0;
	const char *end = p;
	while (*end != '\0' && !is_blank(*end))
		end++;
	const char *eq = memchr(p, '=', (size_t)(end - p));
	param->key = p;
	param->key_len = (size_t)((eq ? eq : end) - p);
	param->value = eq ? eq + 1 : NULL;
	param->value_len = eq ? (size_t)(end - eq - 1) : 0;
	*pp = end;
	return param_syntax_ok(param) ? 1 : -1;
}

static bool key_is(const struct param *param, const char *name)
{
	return strlen(name) == param->key_len && strncasecmp(param->key, name, param->key_len) == 0;
}

static bool value_is(const struct param *param, const char *name)
{
	return strlen(name) == param->value_len &&
	       strncasecmp(param->value, name, param->value_len) == 0;
}

static bool printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
			return false;
	return true;
}

/* Well-formed UTF-8 without control characters. */
static bool printable_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return false;
	return utf8_valid(s, len);
}

/* Decode an xtext value into a new string if it is non-empty and passes
 * the check; NULL otherwise. */
static char *decode_xtext(const struct param *param, bool utf8)
{
	struct str out = STR_INIT;
	const char *error;
	if (xtext_decode(param->value, param->value_len, &out, &error) != 0 || out.len == 0 ||
	    !(utf8 ? printable_utf8(out.data, out.len) : printable_ascii(out.data, out.len))) {
		str_free(&out);
		return NULL;
	}
	return str_steal(&out);
}

#define BAD_PARAM(reply, text) fail(reply, 501, "5.5.4", text, NULL)
#define DUPLICATE(reply, text) fail(reply, 501, "5.5.4", text, "parameter given twice")

/* ---- MAIL FROM ---- */

/* SIZE=1*20DIGIT (RFC 1870); larger values than long long are clamped. */
static int mail_size(const struct param *param, struct smtp_mail_params *p,
                     struct smtp_reply *reply)
{
	if (p->has_size)
		return DUPLICATE(reply, "Duplicate SIZE parameter");
	if (param->value == NULL || param->value_len > 20)
		return BAD_PARAM(reply, "Bad message size syntax");
	long long size = 0;
	for (size_t i = 0; i < param->value_len; i++) {
		char c = param->value[i];
		if (c < '0' || c > '9')
			return BAD_PARAM(reply, "Bad message size syntax");
		int digit = c - '0';
		size = size > (LLONG_MAX - digit) / 10 ? LLONG_MAX : size * 10 + digit;
	}
	p->has_size = true;
	p->size = size;
	return 0;
}

static int mail_body(const struct param *param, struct smtp_mail_params *p,
                     struct smtp_reply *reply)
{
	static const char *const types[] = {"7BIT", "8BITMIME", "BINARYMIME"};
	if (p->body != NULL)
		return DUPLICATE(reply, "Duplicate BODY parameter");
	for (size_t i = 0; param->value && i < sizeof(types) / sizeof(types[0]); i++) {
		if (value_is(param, types[i])) {
			p->body = types[i];
			return 0;
		}
	}
	return BAD_PARAM(reply, "Bad BODY parameter value");
}

static int mail_smtputf8(const struct param *param, struct smtp_mail_params *p,
                         struct smtp_reply *reply)
{
	if (p->smtputf8)
		return DUPLICATE(reply, "Duplicate SMTPUTF8 parameter");
	if (param->value != NULL)
		return BAD_PARAM(reply, "SMTPUTF8 takes no value");
	p->smtputf8 = true;
	return 0;
}

static int mail_ret(const struct param *param, struct smtp_mail_params *p, struct smtp_reply *reply)
{
	if (p->ret != NULL)
		return DUPLICATE(reply, "Duplicate RET parameter");
	if (param->value && value_is(param, "FULL"))
		p->ret = "FULL";
	else if (param->value && value_is(param, "HDRS"))
		p->ret = "HDRS";
	else
		return BAD_PARAM(reply, "Bad RET parameter value");
	return 0;
}

static int mail_envid(const struct param *param, struct smtp_mail_params *p,
                      struct smtp_reply *reply)
{
	if (p->envid != NULL)
		return DUPLICATE(reply, "Duplicate ENVID parameter");
	if (param->value == NULL || param->value_len > ENVID_MAX ||
	    (p->envid = decode_xtext(param, false)) == NULL)
		return BAD_PARAM(reply, "Bad ENVID parameter syntax");
	return 0;
}

static int mail_auth(const struct param *param, struct smtp_mail_params *p,
                     struct smtp_reply *reply)
{
	if (p->auth != NULL)
		return DUPLICATE(reply, "Duplicate AUTH parameter");
	if (param->value == NULL || (p->auth = decode_xtext(param, true)) == NULL)
		return BAD_PARAM(reply, "Bad AUTH parameter syntax");
	return 0;
}

static int mail_param(const struct param *param, struct smtp_mail_params *p,
                      struct smtp_reply *reply)
{
	if (key_is(param, "SIZE"))
		return mail_size(param, p, reply);
	if (key_is(param, "BODY"))
		return mail_body(param, p, reply);
	if (key_is(param, "SMTPUTF8"))
		return mail_smtputf8(param, p, reply);
	if (key_is(param, "RET"))
		return mail_ret(param, p, reply);
	if (key_is(param, "ENVID"))
		return mail_envid(param, p, reply);
	if (key_is(param, "AUTH"))
		return mail_auth(param, p, reply);
	return fail(reply, 555, "5.5.4", "Unsupported MAIL parameter", NULL);
}

/* The mailbox of a path, as address_parse has it; with an origin (a local
 * submission), a bare Local-part is completed with @origin first, as
 * Postfix's append_at_myorigin does. */
static int path_mailbox(const struct path *path, const char *origin, struct address *out,
                        const char **error_r)
{
	if (origin == NULL || address_has_at(path->mailbox, path->mailbox_len))
		return address_parse(path->mailbox, path->mailbox_len, true, out, error_r);
	struct str full = STR_INIT;
	str_append(&full, path->mailbox, path->mailbox_len);
	str_printf(&full, "@%s", origin);
	int rc = address_parse(full.data, full.len, true, out, error_r);
	str_free(&full);
	return rc;
}

/* The reverse-path, once the parameters are known. */
static int mail_address(const struct path *path, const char *origin, struct smtp_mail_params *p,
                        struct smtp_reply *reply)
{
	const char *error;
	if (path->mailbox_len == 0) {
		p->addr.local = xstrdup("");
		p->addr.domain = xstrdup("");
	} else if (path_mailbox(path, origin, &p->addr, &error) != 0) {
		return fail(reply, 501, "5.1.7", "Bad sender address syntax", error);
	} else if (!p->smtputf8 && !address_is_ascii(&p->addr)) {
		return fail(reply, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8",
		            "non-ASCII address without SMTPUTF8");
	}
	p->address = address_to_string(&p->addr);
	return 0;
}

static int parse_mail_from(const char *arg, bool strict, const char *origin,
                           struct smtp_mail_params *out, struct smtp_reply *reply)
{
	if (strncasecmp(arg, "FROM:", 5) != 0)
		return fail(reply, 501, "5.5.4", SYNTAX_MAIL, NULL);
	const char *p = skip_blanks(arg + 5), *error;
	struct path path;
	int rc = parse_path(&p, &path, strict, &error);
	if (rc == -1)
		return fail(reply, 501, "5.5.4", SYNTAX_MAIL, NULL);
	if (rc == -2)
		return fail(reply, 501, "5.1.7", "Bad sender address syntax", error);
	struct param param;
	while ((rc = next_param(&p, &param)) > 0)
		if (mail_param(&param, out, reply) != 0)
			return -1;
	if (rc < 0)
		return fail(reply, 501, "5.5.4", "Bad MAIL parameter syntax", NULL);
	return mail_address(&path, origin, out, reply);
}

int smtp_parse_mail_from(const char *arg, struct smtp_mail_params *out, struct smtp_reply *reply)
{
	return smtp_parse_mail_from_envelope(arg, true, out, reply);
}

static int mail_from(const char *arg, bool strict, const char *origin, struct smtp_mail_params *out,
                     struct smtp_reply *reply)
{
	memset(out, 0, sizeof(*out));
	if (parse_mail_from(arg, strict, origin, out, reply) != 0) {
		smtp_mail_params_free(out);
		return -1;
	}
	return 0;
}

int smtp_parse_mail_from_envelope(const char *arg, bool strict, struct smtp_mail_params *out,
                                  struct smtp_reply *reply)
{
	return mail_from(arg, strict, NULL, out, reply);
}

int smtp_parse_mail_from_local(const char *arg, const char *origin, struct smtp_mail_params *out,
                               struct smtp_reply *reply)
{
	return mail_from(arg, true, origin, out, reply);
}

void smtp_mail_params_free(struct smtp_mail_params *p)
{
	free(p->address);
	address_free(&p->addr);
	free(p->envid);
	free(p->auth);
	memset(p, 0, sizeof(*p));
}

bool smtp_mail_params_has_extensions(const struct smtp_mail_params *p)
{
	return p->has_size || p->body || p->smtputf8 || p->ret || p->envid || p->auth;
}

/* ---- RCPT TO ---- */

static const struct {
	const char *name;
	unsigned flag;
} notify_names[] = {
    {"NEVER", SMTP_NOTIFY_NEVER},
    {"SUCCESS", SMTP_NOTIFY_SUCCESS},
    {"FAILURE", SMTP_NOTIFY_FAILURE},
    {"DELAY", SMTP_NOTIFY_DELAY},
};
#define NOTIFY_COUNT (sizeof(notify_names) / sizeof(notify_names[0]))

/* One NOTIFY list item; 0 if unknown. */
static unsigned notify_flag(const char *item, size_t len)
{
	for (size_t i = 0; i < NOTIFY_COUNT; i++)
		if (strlen(notify_names[i].name) == len &&
		    strncasecmp(item, notify_names[i].name, len) == 0)
			return notify_names[i].flag;
	return 0;
}

/* NOTIFY=NEVER / NOTIFY=1#(SUCCESS / FAILURE / DELAY), each item once. */
static int rcpt_notify(const struct param *param, struct smtp_rcpt_params *p,
                       struct smtp_reply *reply)
{
	if (p->notify != NULL)
		return DUPLICATE(reply, "Duplicate NOTIFY parameter");
	if (param->value == NULL)
		return BAD_PARAM(reply, "Bad NOTIFY parameter syntax");
	unsigned flags = 0;
	const char *item = param->value, *end = param->value + param->value_len;
	while (item <= end) {
		const char *comma = memchr(item, ',', (size_t)(end - item));
		const char *item_end = comma ? comma : end;
		unsigned flag = notify_flag(item, (size_t)(item_end - item));
		if (flag == 0 || (flags & flag) != 0)
			return BAD_PARAM(reply, "Bad NOTIFY parameter syntax");
		flags |= flag;
		item = item_end + 1;
	}
	if ((flags & SMTP_NOTIFY_NEVER) && flags != SMTP_NOTIFY_NEVER)
		return BAD_PARAM(reply, "NOTIFY=NEVER must stand alone");
	struct str text = STR_INIT;
	for (size_t i = 0; i < NOTIFY_COUNT; i++) {
		if (flags & notify_names[i].flag) {
			if (text.len)
				str_append_char(&text, ',');
			str_append_cstr(&text, notify_names[i].name);
		}
	}
	p->notify_flags = flags;
	p->notify = str_steal(&text);
	return 0;
}

/* ORCPT=rfc822;xtext / ORCPT=utf-8;unitext, stored as "type;decoded". */
static int rcpt_orcpt(const struct param *param, struct smtp_rcpt_params *p,
                      struct smtp_reply *reply)
{
	if (p->orcpt != NULL)
		return DUPLICATE(reply, "Duplicate ORCPT parameter");
	const char *semi = param->value ? memchr(param->value, ';', param->value_len) : NULL;
	if (semi == NULL || param->value_len > ORCPT_MAX)
		return BAD_PARAM(reply, "Bad ORCPT parameter syntax");
	size_t type_len = (size_t)(semi - param->value);
	const char *addr = semi + 1;
	size_t addr_len = param->value_len - type_len - 1;
	bool utf8;
	if (type_len == 6 && strncasecmp(param->value, "rfc822", 6) == 0)
		utf8 = false;
	else if (type_len == 5 && strncasecmp(param->value, "utf-8", 5) == 0)
		utf8 = true;
	else
		return BAD_PARAM(reply, "Unsupported ORCPT address type");
	struct str out = STR_INIT;
	const char *error;
	str_append_cstr(&out, utf8 ? "utf-8;" : "rfc822;");
	size_t prefix = out.len;
	int rc = utf8 ? unitext_decode(addr, addr_len, &out, &error)
	              : xtext_decode(addr, addr_len, &out, &error);
	const char *decoded = out.data + prefix;
	size_t decoded_len = out.len - prefix;
	if (rc != 0 || decoded_len == 0 ||
	    !(utf8 ? printable_utf8(decoded, decoded_len)
	           : printable_ascii(decoded, decoded_len))) {
		str_free(&out);
		return BAD_PARAM(reply, "Bad ORCPT parameter syntax");
	}
	p->orcpt = str_steal(&out);
	return 0;
}

static int rcpt_param(const struct param *param, struct smtp_rcpt_params *p,
                      struct smtp_reply *reply)
{
	if (key_is(param, "NOTIFY"))
		return rcpt_notify(param, p, reply);
	if (key_is(param, "ORCPT"))
		return rcpt_orcpt(param, p, reply);
	return fail(reply, 555, "5.5.4", "Unsupported RCPT parameter", NULL);
}

static int rcpt_address(const struct path *path, const char *origin, struct smtp_rcpt_params *p,
                        struct smtp_reply *reply)
{
	const char *error = "empty address";
	if (!path->had_route && path->mailbox_len == 10 &&
	    strncasecmp(path->mailbox, "postmaster", 10) == 0) {
		p->postmaster = true;
		p->addr.local = xstrdup("postmaster");
		p->addr.domain = xstrdup("");
		p->address = xstrdup("postmaster");
		return 0;
	}
	if (path->mailbox_len == 0 || path_mailbox(path, origin, &p->addr, &error) != 0)
		return fail(reply, 501, "5.1.3", "Bad recipient address syntax", error);
	p->address = address_to_string(&p->addr);
	return 0;
}

static int parse_rcpt_to(const char *arg, bool strict, const char *origin,
                         struct smtp_rcpt_params *out, struct smtp_reply *reply)
{
	if (strncasecmp(arg, "TO:", 3) != 0)
		return fail(reply, 501, "5.5.4", SYNTAX_RCPT, NULL);
	const char *p = skip_blanks(arg + 3), *error;
	struct path path;
	int rc = parse_path(&p, &path, strict, &error);
	if (rc == -1)
		return fail(reply, 501, "5.5.4", SYNTAX_RCPT, NULL);
	if (rc == -2)
		return fail(reply, 501, "5.1.3", "Bad recipient address syntax", error);
	if (rcpt_address(&path, origin, out, reply) != 0)
		return -1;
	struct param param;
	while ((rc = next_param(&p, &param)) > 0)
		if (rcpt_param(&param, out, reply) != 0)
			return -1;
	if (rc < 0)
		return fail(reply, 501, "5.5.4", "Bad RCPT parameter syntax", NULL);
	return 0;
}

int smtp_parse_rcpt_to(const char *arg, struct smtp_rcpt_params *out, struct smtp_reply *reply)
{
	return smtp_parse_rcpt_to_envelope(arg, true, out, reply);
}

static int rcpt_to(const char *arg, bool strict, const char *origin, struct smtp_rcpt_params *out,
                   struct smtp_reply *reply)
{
	memset(out, 0, sizeof(*out));
	if (parse_rcpt_to(arg, strict, origin, out, reply) != 0) {
		smtp_rcpt_params_free(out);
		return -1;
	}
	return 0;
}

int smtp_parse_rcpt_to_envelope(const char *arg, bool strict, struct smtp_rcpt_params *out,
                                struct smtp_reply *reply)
{
	return rcpt_to(arg, strict, NULL, out, reply);
}

int smtp_parse_rcpt_to_local(const char *arg, const char *origin, struct smtp_rcpt_params *out,
                             struct smtp_reply *reply)
{
	return rcpt_to(arg, true, origin, out, reply);
}

void smtp_rcpt_params_free(struct smtp_rcpt_params *p)
{
	free(p->address);
	address_free(&p->addr);
	free(p->notify);
	free(p->orcpt);
	memset(p, 0, sizeof(*p));
}

/* ---- BDAT ---- */

int smtp_parse_bdat(const char *arg, unsigned long long *size_r, bool *last_r,
                    struct smtp_reply *reply)
{
	const char *p = arg;
	unsigned long long size = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		size = size * 10 + (unsigned long long)(*p - '0');
		if (size > SMTP_BDAT_SIZE_MAX)
			return fail(reply, 501, "5.5.4", "Syntax: BDAT size [LAST]",
			            "chunk size too large");
	}
	if (p == arg || (*p != '\0' && !is_blank(*p)))
		return fail(reply, 501, "5.5.4", "Syntax: BDAT size [LAST]", NULL);
	p = skip_blanks(p);
	bool last = false;
	if (strncasecmp(p, "LAST", 4) == 0 && (p[4] == '\0' || is_blank(p[4]))) {
		last = true;
		p = skip_blanks(p + 4);
	}
	if (*p != '\0')
		return fail(reply, 501, "5.5.4", "Syntax: BDAT size [LAST]", NULL);
	*size_r = size;
	*last_r = last;
	return 0;
}

/* ---- AUTH ---- */

static bool mechanism_ok(const char *mech, size_t len)
{
	if (len == 0 || len > SASL_MECH_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(mech[i]) && mech[i] != '-' && mech[i] != '_')
			return false;
	return true;
}

static bool base64_ok(const char *text, size_t len)
{
	struct str decoded = STR_INIT;
	int rc = base64_decode(text, len, &decoded);
	str_free(&decoded);
	return rc == 0;
}

int smtp_parse_auth(const char *arg, struct smtp_auth_params *out, struct smtp_reply *reply)
{
	memset(out, 0, sizeof(*out));
	const char *mech = arg;
	size_t mech_len = 0;
	while (mech[mech_len] != '\0' && !is_blank(mech[mech_len]))
		mech_len++;
	const char *resp = skip_blanks(mech + mech_len);
	size_t resp_len = 0;
	while (resp[resp_len] != '\0' && !is_blank(resp[resp_len]))
		resp_len++;
	if (!mechanism_ok(mech, mech_len) || *skip_blanks(resp + resp_len) != '\0')
		return fail(reply, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]", NULL);
	bool empty = resp_len == 1 && resp[0] == '=';
	if (resp_len > 0 && !empty && !base64_ok(resp, resp_len))
		return fail(reply, 501, "5.5.2", "Invalid base64 data in initial response", NULL);
	out->mechanism = xstrndup(mech, mech_len);
	for (char *c = out->mechanism; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	if (resp_len > 0)
		out->initial_response = empty ? xstrdup("") : xstrndup(resp, resp_len);
	return 0;
}

void smtp_auth_params_free(struct smtp_auth_params *p)
{
	free(p->mechanism);
	free(p->initial_response);
	memset(p, 0, sizeof(*p));
}
