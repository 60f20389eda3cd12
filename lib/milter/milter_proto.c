/*
 * Milter wire format: framing, option negotiation and reply decoding (see
 * milter_proto.h). Every length and terminator is checked: a filter is a
 * separate program and may be broken.
 */
#include "milter/milter_proto.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

bool milter_offer(int version, uint32_t *actions_r, uint32_t *protocol_r)
{
	uint32_t actions =
	    SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS;
	uint32_t protocol = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT |
	                    SMFIP_NOBODY | SMFIP_NOHDRS;
	switch (version) {
	case 2:
		break;
	case 3:
		protocol |= SMFIP_NOEOH;
		break;
	case 4:
		actions |= SMFIF_QUARANTINE;
		protocol |= SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_NODATA;
		break;
	case 6:
		actions |= SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST;
		/* Everything except the larger body chunk sizes. */
		protocol |= SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_NODATA |
		            SMFIP_SKIP | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
		            SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH |
		            SMFIP_NR_BODY | SMFIP_HDR_LEADSPC | SMFIP_RCPT_REJ;
		break;
	default:
		return false;
	}
	*actions_r = actions;
	*protocol_r = protocol;
	return true;
}

static uint32_t get_u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

int milter_packet_split(const void *buf, size_t len, size_t max_len, struct milter_packet *p,
                        size_t *used_r, const char **error_r)
{
	if (len < 4)
		return 0;
	uint32_t n = get_u32(buf);
	if (n == 0) {
		*error_r = "packet of length 0";
		return -1;
	}
	if (n > max_len) {
		*error_r = "packet too large";
		return -1;
	}
	if (len - 4 < n)
		return 0;
	const char *b = buf;
	p->cmd = b[4];
	p->data = b + 5;
	p->len = n - 1;
	*used_r = 4 + (size_t)n;
	return 1;
}

void milter_packet_append(struct str *out, char cmd, const void *data, size_t len)
{
	uint32_t n = (uint32_t)len + 1;
	char head[5] = {(char)(n >> 24), (char)(n >> 16), (char)(n >> 8), (char)n, cmd};
	str_append(out, head, sizeof(head));
	str_append(out, data, len);
}

int milter_optneg_parse(const struct milter_packet *p, struct milter_optneg *o,
                        const char **error_r)
{
	memset(o, 0, sizeof(*o));
	if (p->cmd != SMFIR_OPTNEG) {
		*error_r = "negotiation reply is not SMFIR_OPTNEG";
		return -1;
	}
	if (p->len < 12) {
		*error_r = "negotiation reply too short";
		return -1;
	}
	o->version = get_u32(p->data);
	o->actions = get_u32(p->data + 4);
	o->protocol = get_u32(p->data + 8);
	size_t at = 12;
	while (at < p->len) {
		if (p->len - at < 5) {
			*error_r = "truncated macro list in negotiation reply";
			goto fail;
		}
		uint32_t stage = get_u32(p->data + at);
		at += 4;
		const char *list = p->data + at;
		const char *nul = memchr(list, '\0', p->len - at);
		if (nul == NULL) {
			*error_r = "macro list without NUL in negotiation reply";
			goto fail;
		}
		if (stage >= MILTER_STAGE_UNKNOWN) {
			*error_r = "macro list for an unknown stage";
			goto fail;
		}
		free(o->symlist[stage]);
		o->symlist[stage] = xstrndup(list, (size_t)(nul - list));
		at += (size_t)(nul - list) + 1;
	}
	return 0;
fail:
	milter_optneg_free(o);
	return -1;
}

void milter_optneg_free(struct milter_optneg *o)
{
	for (int i = 0; i < MILTER_STAGE_COUNT; i++) {
		free(o->symlist[i]);
		o->symlist[i] = NULL;
	}
}

/* Take the next NUL-terminated string from data[*at..len). */
static const char *take_string(const char *data, size_t len, size_t *at)
{
	if (*at >= len)
		return NULL;
	const char *s = data + *at;
	const char *nul = memchr(s, '\0', len - *at);
	if (nul == NULL)
		return NULL;
	*at += (size_t)(nul - s) + 1;
	return s;
}

static bool valid_header_name(const char *name)
{
	if (*name == '\0')
		return false;
	for (const unsigned char *u = (const unsigned char *)name; *u; u++)
		if (*u <= ' ' || *u >= 127 || *u == ':')
			return false;
	return true;
}

/* "NNN text", "NNN-line\r\nNNN last": one 4xx/5xx code on every line. */
static int check_replycode(const char *text, int *code_r)
{
	const char *p = text;
	int code = -1;
	for (;;) {
		if (!(p[0] >= '4' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
		      p[2] <= '9'))
			return -1;
		int c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (code >= 0 && c != code)
			return -1;
		code = c;
		const char *eol = strstr(p, "\r\n");
		size_t line_len = eol ? (size_t)(eol - p) : strlen(p);
		for (size_t i = 0; i < line_len; i++)
			if ((unsigned char)p[i] < ' ' && p[i] != '\t')
				return -1;
		if (p[3] == ' ' || (p[3] == '\0' && eol == NULL)) {
			if (eol != NULL && eol[2] != '\0')
				return -1; /* a line after the last one */
			break;
		}
		if (p[3] != '-' || eol == NULL)
			return -1;
		p = eol + 2;
	}
	*code_r = code;
	return 0;
}

int milter_reply_parse(const struct milter_packet *p, struct milter_reply *r, const char **error_r)
{
	memset(r, 0, sizeof(*r));
	r->cmd = p->cmd;
	/* A private copy with a NUL after it, so strings may point into it. */
	r->copy_ = xmalloc(p->len + 1);
	memcpy(r->copy_, p->data, p->len);
	r->copy_[p->len] = '\0';
	const char *d = r->copy_;
	size_t len = p->len, at = 0;
	switch (p->cmd) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_DISCARD:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_SKIP:
	case SMFIR_PROGRESS:
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		return 0; /* any data is ignored, as Sendmail does */
	case SMFIR_REPLYCODE:
		r->text = take_string(d, len, &at);
		if (r->text == NULL || check_replycode(r->text, &r->code) != 0) {
			*error_r = "malformed SMFIR_REPLYCODE";
			goto fail;
		}
		return 0;
	case SMFIR_QUARANTINE:
		r->text = take_string(d, len, &at);
		if (r->text == NULL) {
			*error_r = "malformed SMFIR_QUARANTINE";
			goto fail;
		}
		return 0;
	case SMFIR_REPLBODY:
		r->body = d;
		r->body_len = len;
		return 0;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		r->name = take_string(d, len, &at);
		if (r->name == NULL || *r->name == '\0') {
			*error_r = "malformed address in a recipient or sender change";
			goto fail;
		}
		if (p->cmd == SMFIR_ADDRCPT_PAR || p->cmd == SMFIR_CHGFROM)
			r->value = take_string(d, len, &at); /* optional */
		return 0;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		if (len < 4) {
			*error_r = "header change without an index";
			goto fail;
		}
		r->index = get_u32(d);
		at = 4;
		/* fall through */
	case SMFIR_ADDHEADER:
		r->name = take_string(d, len, &at);
		r->value = take_string(d, len, &at);
		if (r->name == NULL || r->value == NULL || !valid_header_name(r->name)) {
			*error_r = "malformed header in a header change";
			goto fail;
		}
		return 0;
	default:
		*error_r = "unknown reply command";
		goto fail;
	}
fail:
	milter_reply_free(r);
	return -1;
}

void milter_reply_free(struct milter_reply *r)
{
	free(r->copy_);
	memset(r, 0, sizeof(*r));
}

const char *milter_reply_name(char cmd)
{
	switch (cmd) {
	case SMFIR_ADDRCPT:
		return "addrcpt";
	case SMFIR_DELRCPT:
		return "delrcpt";
	case SMFIR_ADDRCPT_PAR:
		return "addrcpt_par";
	case SMFIR_SHUTDOWN:
		return "shutdown";
	case SMFIR_ACCEPT:
		return "accept";
	case SMFIR_REPLBODY:
		return "replbody";
	case SMFIR_CONTINUE:
		return "continue";
	case SMFIR_DISCARD:
		return "discard";
	case SMFIR_CHGFROM:
		return "chgfrom";
	case SMFIR_CONN_FAIL:
		return "conn_fail";
	case SMFIR_ADDHEADER:
		return "addheader";
	case SMFIR_INSHEADER:
		return "insheader";
	case SMFIR_CHGHEADER:
		return "chgheader";
	case SMFIR_PROGRESS:
		return "progress";
	case SMFIR_QUARANTINE:
		return "quarantine";
	case SMFIR_REJECT:
		return "reject";
	case SMFIR_SKIP:
		return "skip";
	case SMFIR_TEMPFAIL:
		return "tempfail";
	case SMFIR_REPLYCODE:
		return "replycode";
	case SMFIR_OPTNEG:
		return "optneg";
	default:
		return "unknown";
	}
}
